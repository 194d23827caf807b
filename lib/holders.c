/* SPDX-License-Identifier: MIT */
/*
 * Who holds: the half of "who holds this range" that starts at an inode.
 *
 * The rmap (rmap.c) answers "which inode owns region block b" in
 * O(log n + k).  What holds that inode lives here:
 *  - open handles (nopen, hfs_inode_open_get/put_locked) and kernel
 *    references (nlookup, counted by namei.c);
 *  - the kernel-readable list: inodes whose cached pages the kernel can
 *    still read without asking us, the ones a shutdown must invalidate
 *    (hfs_vol_kernel_readable);
 *  - hfs_vol_owners, rmap pieces of a region range together with the
 *    holders of each owning inode (holdfsctl holders).
 * DAX leases, the third kind of holder, are the daemon's: fs/lease.c
 * indexes them by inode (docs/architecture.md, "The DAX path").
 * The _locked functions run under vol->lock; the hfs_vol_ ones take it.
 */
#include <errno.h>
#include <stdlib.h>

#include "holders_i.h"
#include "inode_i.h"
#include "rmap_i.h"
#include "vol.h"
#include "vol_i.h"

/* ------------------------------------------- kernel-readable inodes */

/*
 * Which inodes can the kernel still read cached pages of without sending
 * us a request?  A shutdown must invalidate exactly those (fs/failure.c,
 * docs/failure-model.md, "Whole-device loss"):
 *  - inodes with an open handle: read(2) through it, or a page-cache
 *    mmap, which keeps its file open (RELEASE only after munmap);
 *  - symlinks whose target we handed out since their last forget: with
 *    FUSE_CAP_CACHE_SYMLINKS the kernel keeps it in the page cache and
 *    readlink (even through an O_PATH descriptor) never asks again.
 * Any other cached page is unreachable once the volume is shut down:
 * reaching it needs an OPEN, which fails with EIO (and the kernel drops
 * the page cache on every successful open anyway, as holdfs never sets
 * keep_cache).  A list kept at the 0 <-> 1 transitions makes listing
 * them O(such inodes) instead of a walk of every inode.
 */
static bool kread_wanted(const struct hfs_inode *ip)
{
	return ip->nopen > 0 || (ip->link_cached && ip->nlookup > 0);
}

void hfs_inode_kread_update_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	bool want = kread_wanted(ip);

	if (want == ip->on_kread)
		return;
	if (want) {
		ip->kread_prev = NULL;
		ip->kread_next = vol->kread;
		if (vol->kread)
			vol->kread->kread_prev = ip;
		vol->kread = ip;
		vol->nkread++;
	} else {
		if (ip->kread_prev)
			ip->kread_prev->kread_next = ip->kread_next;
		else
			vol->kread = ip->kread_next;
		if (ip->kread_next)
			ip->kread_next->kread_prev = ip->kread_prev;
		ip->kread_prev = ip->kread_next = NULL;
		vol->nkread--;
	}
	ip->on_kread = want;
}

void hfs_inode_open_get_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	ip->nopen++;
	hfs_inode_kread_update_locked(vol, ip);
}

void hfs_inode_open_put_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	if (ip->nopen)
		ip->nopen--;
	hfs_inode_kread_update_locked(vol, ip);
}

int hfs_vol_kernel_readable(struct hfs_vol *vol, uint64_t **inos, size_t *n)
{
	uint64_t *v;
	size_t i = 0;

	*inos = NULL;
	*n = 0;
	pthread_mutex_lock(&vol->lock);
	/* one allocation under the lock: the list cannot change meanwhile */
	v = malloc((vol->nkread ? vol->nkread : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&vol->lock);
		return -ENOMEM;
	}
	for (const struct hfs_inode *ip = vol->kread; ip; ip = ip->kread_next)
		v[i++] = ip->ino;
	pthread_mutex_unlock(&vol->lock);
	*inos = v;
	*n = i;
	return 0;
}

/* ------------------------------------------------------ owners */

enum hfs_kind hfs_owner_kind(enum hfs_rmap_kind k)
{
	switch (k) {
	case HFS_RMAP_DATA:
		return HFS_KIND_DATA;
	case HFS_RMAP_DIR:
		return HFS_KIND_DIR;
	case HFS_RMAP_CHAIN:
		return HFS_KIND_CHAIN;
	case HFS_RMAP_XATTR:
		return HFS_KIND_XATTR;
	}
	return HFS_KIND_XATTR; /* not reached: every rmap kind is above */
}

const char *hfs_kind_name(enum hfs_kind k)
{
	switch (k) {
	case HFS_KIND_DATA:
		return "data";
	case HFS_KIND_DIR:
		return "dir";
	case HFS_KIND_CHAIN:
		return "extent-chain";
	case HFS_KIND_XATTR:
		return "xattr";
	case HFS_KIND_FIXED:
		return "fixed";
	}
	return "unknown";
}

struct owners_walk {
	struct hfs_vol *vol;
	int (*cb)(void *ctx, const struct hfs_owner *o);
	void *ctx;
};

static int owner_piece(void *ctx, const struct hfs_rmap_piece *p)
{
	struct owners_walk *w = ctx;
	struct hfs_inode *ip = hfs_iget(w->vol, p->ino);
	struct hfs_owner o = {
		.region_off = p->pblk * HFS_BLOCK_SIZE,
		.len = p->len * HFS_BLOCK_SIZE,
		.ino = p->ino,
		.file_off = p->lblk * HFS_BLOCK_SIZE,
		.kind = hfs_owner_kind(p->kind),
		.nopen = ip ? ip->nopen : 0,
		.nlookup = ip ? ip->nlookup : 0,
	};

	return w->cb(w->ctx, &o);
}

int hfs_vol_owners(struct hfs_vol *vol, uint64_t off, uint64_t len,
		   int (*cb)(void *ctx, const struct hfs_owner *o), void *ctx)
{
	struct owners_walk w = { vol, cb, ctx };
	uint64_t first = off / HFS_BLOCK_SIZE;
	uint64_t last = len ? (off + len - 1) / HFS_BLOCK_SIZE : first;
	int ret;

	if (len == 0 || off + len < off)
		return -EINVAL;
	pthread_mutex_lock(&vol->lock);
	ret = hfs_rmap_query(vol->rmap, first, last - first + 1, owner_piece,
			     &w);
	pthread_mutex_unlock(&vol->lock);
	return ret;
}
