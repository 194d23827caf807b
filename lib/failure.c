/* SPDX-License-Identifier: MIT */
/*
 * The volume side of the failure pipeline (docs/failure-model.md):
 * classifying a failed region range once (the fixed layout and one rmap
 * read, under the volume lock, into a vector of pieces the daemon then
 * revokes leases by and hands back), marking the data pieces lost, the
 * shutdown state, the fault hook, the health note and the bad-list
 * report.  The inodes
 * whose kernel cache a shutdown must drop are listed by holders.c, the
 * paths of affected files found by namei_path.c.  The daemon side (event
 * sources, revocation, invalidation) is fs/failure.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "badlist_i.h"
#include "blocks_i.h"
#include "extent_i.h"
#include "failure_i.h"
#include "grow.h"
#include "health_i.h"
#include "holders_i.h"
#include "inode_i.h"
#include "journal_i.h"
#include "region.h"
#include "rmap_i.h"
#include "vol.h"
#include "vol_i.h"

#define BLK ((uint64_t)HFS_BLOCK_SIZE)

void hfs_vol_set_fault_hook(struct hfs_vol *vol,
			    void (*fn)(void *ctx, const struct hfs_fault *f),
			    void *ctx)
{
	pthread_mutex_lock(&vol->lock);
	vol->fault_hook = fn;
	vol->fault_ctx = ctx;
	pthread_mutex_unlock(&vol->lock);
}

void hfs_vol_fault(struct hfs_vol *vol, const struct hfs_fault *f)
{
	/* read without the lock: set once before concurrent use */
	void (*fn)(void *, const struct hfs_fault *) = vol->fault_hook;

	if (fn && f->si_code)
		fn(vol->fault_ctx, f);
}

void hfs_vol_shutdown(struct hfs_vol *vol)
{
	pthread_mutex_lock(&vol->lock);
	vol->shutdown = true;
	vol->failed = true;
	hfs_tx_abort(&vol->tx);
	pthread_mutex_unlock(&vol->lock);
}

bool hfs_vol_is_shutdown(struct hfs_vol *vol)
{
	bool s;

	pthread_mutex_lock(&vol->lock);
	s = vol->shutdown;
	pthread_mutex_unlock(&vol->lock);
	return s;
}

uint64_t hfs_vol_fs_size(struct hfs_vol *vol)
{
	return vol->sb.s_region_size;
}

/* ------------------------------------------------------- classify */

struct fixed_area {
	uint64_t off, len;
	const char *name;
};

#define NFIXED 6

/* The fixed metadata areas, in region order (docs/format.md); anything
 * else before the pool (alignment padding) is unused. */
static void fixed_areas(const struct hfs_super *sb,
			struct fixed_area a[NFIXED])
{
	a[0] = (struct fixed_area){ 0, BLK, "superblock" };
	a[1] = (struct fixed_area){ sb->s_health_off,
				    sb->s_health_blocks * BLK, "health log" };
	a[2] = (struct fixed_area){ sb->s_badlist_off,
				    sb->s_badlist_blocks * BLK,
				    "bad-extent list" };
	a[3] = (struct fixed_area){ sb->s_journal_off,
				    sb->s_journal_blocks * BLK, "journal" };
	a[4] = (struct fixed_area){ sb->s_itable_off,
				    sb->s_inode_count * HFS_INODE_SIZE,
				    "inode table" };
	a[5] = (struct fixed_area){ sb->s_backup_off, BLK,
				    "backup superblock" };
}

/* The name a failure report gives a metadata block of an inode. */
static const char *kind_what(enum hfs_kind k)
{
	switch (k) {
	case HFS_KIND_DATA:
		return "data";
	case HFS_KIND_DIR:
		return "directory";
	case HFS_KIND_CHAIN:
		return "extent chain";
	case HFS_KIND_XATTR:
		return "xattr";
	case HFS_KIND_FIXED:
		break;
	}
	return "unknown";
}

struct classify_walk {
	struct hfs_fail_class *fc;
	size_t cap;          /* of fc->v */
	uint64_t next;       /* first pool block not covered by a piece yet */
	const char *fixed;   /* name of the first fixed area hit */
	const char *meta;    /* name of the first inode metadata block hit */
};

static int push_piece(struct classify_walk *w, const struct hfs_fail_piece *p)
{
	struct hfs_fail_class *fc = w->fc;

	if (hfs_grow(&fc->v, &w->cap, fc->n + 1, sizeof(*fc->v)))
		return -ENOMEM;
	fc->v[fc->n++] = *p;
	return 0;
}

/* The fixed areas starting in [lo, hi) that region bytes [off, end)
 * overlap, as pieces of whole blocks. */
static int add_fixed(struct classify_walk *w, const struct fixed_area *a,
		     uint64_t off, uint64_t end, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < NFIXED; i++) {
		uint64_t ae = a[i].off + a[i].len;
		struct hfs_fail_piece p = { .kind = HFS_KIND_FIXED };
		uint64_t pe = ae < end ? ae : end;
		int r;

		if (!a[i].len || a[i].off < lo || a[i].off >= hi ||
		    !(off < ae && a[i].off < end))
			continue;
		p.region_off = a[i].off > off ? a[i].off : off & ~(BLK - 1);
		p.len = (pe + BLK - 1) / BLK * BLK - p.region_off;
		if (!w->fixed)
			w->fixed = a[i].name;
		if ((r = push_piece(w, &p)))
			return r;
	}
	return 0;
}

static int classify_piece(void *ctx, const struct hfs_rmap_piece *rp)
{
	struct classify_walk *w = ctx;
	struct hfs_fail_piece p = {
		.region_off = rp->pblk * BLK,
		.len = rp->len * BLK,
		.ino = rp->ino,
		.file_off = rp->lblk * BLK,
		.kind = hfs_owner_kind(rp->kind),
	};

	struct hfs_fail_piece *last = w->fc->n ? &w->fc->v[w->fc->n - 1] : NULL;

	if (rp->pblk > w->next)
		w->fc->free_blocks += rp->pblk - w->next;
	w->next = rp->pblk + rp->len;
	/* The rmap keeps each allocation apart; a file written block by
	 * block is one run on the media and one piece here, so losing a
	 * whole device costs a piece per run, not per block. */
	if (last && last->kind == p.kind && last->ino == p.ino &&
	    p.kind == HFS_KIND_DATA &&
	    last->region_off + last->len == p.region_off &&
	    last->file_off + last->len == p.file_off) {
		last->len += p.len;
		return 0;
	}
	if (p.kind == HFS_KIND_DATA)
		w->fc->data_pieces++;
	else if (!w->meta)
		w->meta = kind_what(p.kind);
	return push_piece(w, &p);
}

/* Caller holds vol->lock.  The rmap walk is clipped to the pool; fixed
 * areas before it come first, the backup superblock after it. */
static int classify_locked(struct hfs_vol *vol, struct hfs_fail_class *fc)
{
	uint64_t end = fc->off + fc->len < fc->off ? UINT64_MAX
						     : fc->off + fc->len;
	uint64_t ps = vol->alloc.pool_start, pe = vol->alloc.pool_end;
	uint64_t s = fc->off / BLK, e = (end + BLK - 1) / BLK;
	uint64_t ws = s > ps ? s : ps, we = e < pe ? e : pe;
	struct classify_walk w = { .fc = fc, .next = ws };
	struct fixed_area a[NFIXED];
	int r;

	fixed_areas(&vol->sb, a);
	r = add_fixed(&w, a, fc->off, end, 0, ps * BLK);
	if (!r && ws < we) {
		r = hfs_rmap_query(vol->rmap, ws, we - ws, classify_piece, &w);
		if (w.next < we)
			fc->free_blocks += we - w.next;
	}
	if (!r)
		r = add_fixed(&w, a, fc->off, end, ps * BLK, UINT64_MAX);
	fc->metadata = w.fixed || w.meta;
	fc->what = w.fixed ? w.fixed : w.meta ? w.meta
		 : fc->data_pieces ? "data"
		 : fc->free_blocks ? "free space" : "unused";
	return r;
}

int hfs_vol_classify_failure(struct hfs_vol *vol, uint64_t off, uint64_t len,
			     struct hfs_fail_class *out)
{
	int r;

	*out = (struct hfs_fail_class){ .off = off, .len = len };
	pthread_mutex_lock(&vol->lock);
	r = classify_locked(vol, out);
	pthread_mutex_unlock(&vol->lock);
	if (r < 0) {
		hfs_fail_class_free(out);
		*out = (struct hfs_fail_class){ .off = off, .len = len };
	}
	return r;
}

void hfs_fail_class_free(struct hfs_fail_class *fc)
{
	free(fc->v);
	fc->v = NULL;
	fc->n = 0;
}

/* ------------------------------------------------------ mark lost */

static void no_put(void *ctx, uint64_t pblk, uint64_t n)
{
	(void)ctx;
	(void)pblk;
	(void)n;
}

/* Flag [lblk, lblk+n) of ip lost if it is still backed by pblk...
 * (caller holds the inode's I/O lock and vol->lock).  Returns 1 if
 * changed, 0 if the piece moved meanwhile, -errno. */
static int mark_piece_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			     uint64_t lblk, uint64_t pblk, uint64_t n)
{
	uint32_t i = hfs_emap_find(&ip->em, lblk);
	const struct hfs_extent *e;
	int r;

	if (i == ip->em.n)
		return 0;
	e = &ip->em.v[i];
	if (e->e_lblk > lblk || e->e_lblk + e->e_len < lblk + n ||
	    e->e_pblk + (lblk - e->e_lblk) != pblk)
		return 0; /* changed since the classification */
	if (e->e_flags & HFS_EXT_LOST)
		return 0;
	r = hfs_emap_remove(&ip->em, lblk, n, no_put, NULL);
	if (!r)
		r = hfs_emap_insert(&ip->em, lblk, pblk, (uint32_t)n,
				    HFS_EXT_LOST);
	if (r)
		return hfs_vol_fail(vol, r);
	ip->d.i_flags |= HFS_IF_LOSTDATA;
	r = hfs_inode_stage_extents(vol, ip);
	if (!r)
		r = hfs_tx_commit(vol, &vol->tx);
	else
		r = hfs_vol_fail(vol, r);
	return r ? r : 1;
}

/* Mark one data piece lost, if its inode still exists and the piece did
 * not move: 1 marked, 0 not, -errno. */
static int mark_piece(struct hfs_vol *vol, const struct hfs_fail_piece *p)
{
	struct hfs_inode *ip;
	int r;

	/* pin it (an open reference) so it cannot go away while we take
	 * its I/O lock; lock order: inode before volume */
	if ((r = hfs_vol_lock(vol, true)))
		return r;
	ip = hfs_iget(vol, p->ino);
	if (ip)
		hfs_inode_open_get_locked(vol, ip);
	hfs_vol_unlock(vol);
	if (!ip)
		return 0;
	pthread_rwlock_wrlock(&ip->iolock);
	r = hfs_vol_lock(vol, true);
	if (!r) {
		r = mark_piece_locked(vol, ip, p->file_off / BLK,
				      p->region_off / BLK, p->len / BLK);
		hfs_vol_unlock(vol);
	}
	pthread_rwlock_unlock(&ip->iolock);
	hfs_release(vol, p->ino);
	return r;
}

/* The range onto the bad-extent list, its free blocks out of the free
 * index; one transaction (caller holds vol->lock). */
static int add_bad_range_locked(struct hfs_vol *vol, uint64_t off,
				uint64_t end)
{
	int r = hfs_badlist_add_locked(vol, off & ~(BLK - 1),
				       end - (off & ~(BLK - 1)));

	if (!r) {
		hfs_vol_reserve_range(vol, off / BLK, (end + BLK - 1) / BLK);
		r = hfs_tx_commit(vol, &vol->tx);
	} else {
		hfs_tx_abort(&vol->tx);
	}
	return r;
}

int hfs_vol_mark_lost(struct hfs_vol *vol, const struct hfs_fail_class *fc,
		      int (*cb)(void *ctx, const struct hfs_fail_piece *p),
		      void *ctx)
{
	uint64_t end = fc->off + fc->len < fc->off ? UINT64_MAX
						     : fc->off + fc->len;
	char msg[64];
	int r;

	for (size_t i = 0; i < fc->n; i++) {
		const struct hfs_fail_piece *p = &fc->v[i];

		if (p->kind != HFS_KIND_DATA)
			continue;
		if ((r = mark_piece(vol, p)) < 0)
			return r;
		if (r == 0)
			continue;
		snprintf(msg, sizeof(msg), "lost data at file offset %" PRIu64,
			 p->file_off);
		hfs_health_log(vol, HFS_HEALTH_LOST_DATA, p->region_off, p->len,
			       p->ino, msg);
		if (cb)
			cb(ctx, p);
	}
	if ((r = hfs_vol_lock(vol, true)))
		return r;
	r = add_bad_range_locked(vol, fc->off, end);
	hfs_vol_unlock(vol);
	snprintf(msg, sizeof(msg), "range failure (%s)", fc->what);
	hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, fc->off, fc->len, 0, msg);
	return r;
}

/* ---------------------------------------------------------- reports */

int hfs_vol_health_note(struct hfs_vol *vol, bool whole, uint64_t off,
			uint64_t len, const char *msg)
{
	/* guarded write: a lost device gives -EIO, not a crash */
	return hfs_health_log(vol, whole ? HFS_HEALTH_DEVICE_LOSS
					 : HFS_HEALTH_CORRUPTION,
			      off, len, 0, msg);
}

int hfs_vol_health_offline(struct hfs_vol *vol, const char *msg)
{
	return hfs_health_log(vol, HFS_HEALTH_OFFLINE, 0, 0, 0, msg);
}

int hfs_vol_badlist(struct hfs_vol *vol,
		    int (*cb)(void *ctx, uint64_t off, uint64_t len),
		    void *ctx)
{
	int r = 0;

	pthread_mutex_lock(&vol->lock);
	for (uint32_t i = 0; i < vol->nbad && !r; i++)
		r = cb(ctx, vol->bad[i].bx_off, vol->bad[i].bx_len);
	pthread_mutex_unlock(&vol->lock);
	return r;
}
