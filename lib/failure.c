/* SPDX-License-Identifier: MIT */
/*
 * The volume side of the failure pipeline (docs/failure-model.md):
 * classifying a failed region range (metadata or file data, through the
 * fixed layout and the rmap), marking file data lost, the shutdown state,
 * the fault hook, the health note and the bad-list report.  The inodes
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
			    void (*fn)(void *ctx, uint64_t off, int si_code),
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
	void (*fn)(void *, uint64_t, int) = vol->fault_hook;

	if (fn && f->si_code)
		fn(vol->fault_ctx, f->off, f->si_code);
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

/* Name of the fixed metadata area [off, off+len) overlaps, or NULL. */
static const char *fixed_area(const struct hfs_super *sb, uint64_t off,
			      uint64_t len)
{
	const struct {
		uint64_t off, len;
		const char *name;
	} a[] = {
		{ 0, BLK, "superblock" },
		{ sb->s_health_off, sb->s_health_blocks * BLK, "health log" },
		{ sb->s_badlist_off, sb->s_badlist_blocks * BLK,
		  "bad-extent list" },
		{ sb->s_journal_off, sb->s_journal_blocks * BLK, "journal" },
		{ sb->s_itable_off, sb->s_inode_count * HFS_INODE_SIZE,
		  "inode table" },
		{ sb->s_backup_off, BLK, "backup superblock" },
	};
	uint64_t end = off + len < off ? UINT64_MAX : off + len;

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (a[i].len && off < a[i].off + a[i].len && a[i].off < end)
			return a[i].name;
	/* anything else before the pool (alignment padding) is unused */
	return NULL;
}

static const char *kind_name(enum hfs_rmap_kind k)
{
	switch (k) {
	case HFS_RMAP_DATA:
		return "data";
	case HFS_RMAP_DIR:
		return "directory";
	case HFS_RMAP_CHAIN:
		return "extent chain";
	case HFS_RMAP_XATTR:
		return "xattr";
	}
	return "unknown";
}

struct classify_walk {
	struct hfs_fail_class *out;
	uint64_t next;  /* first block not covered by a piece yet */
	int (*cb)(void *ctx, const struct hfs_fail_piece *p);
	void *ctx;
};

static int classify_piece(void *ctx, const struct hfs_rmap_piece *p)
{
	struct classify_walk *w = ctx;
	struct hfs_fail_piece fp;

	if (p->pblk > w->next)
		w->out->free_blocks += p->pblk - w->next;
	w->next = p->pblk + p->len;
	if (p->kind != HFS_RMAP_DATA) {
		if (!w->out->metadata) {
			w->out->metadata = true;
			w->out->what = kind_name(p->kind);
		}
		return 0;
	}
	w->out->data_pieces++;
	if (!w->out->metadata && !w->out->what)
		w->out->what = "data";
	if (!w->cb)
		return 0;
	fp.region_off = p->pblk * BLK;
	fp.len = p->len * BLK;
	fp.ino = p->ino;
	fp.file_off = p->lblk * BLK;
	return w->cb(w->ctx, &fp);
}

/* Caller holds vol->lock.  Clips to the pool for the rmap walk. */
static int classify_locked(struct hfs_vol *vol, uint64_t off, uint64_t len,
			   struct hfs_fail_class *out,
			   int (*cb)(void *ctx, const struct hfs_fail_piece *p),
			   void *ctx)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	uint64_t ps = vol->alloc.pool_start, pe = vol->alloc.pool_end;
	uint64_t s = off / BLK, e = (end + BLK - 1) / BLK;
	struct classify_walk w = { out, 0, cb, ctx };
	const char *fixed;
	int r = 0;

	memset(out, 0, sizeof(*out));
	fixed = fixed_area(&vol->sb, off, len);
	if (fixed) {
		out->metadata = true;
		out->what = fixed;
	}
	if (s < ps)
		s = ps;
	if (e > pe)
		e = pe;
	if (s < e) {
		w.next = s;
		r = hfs_rmap_query(vol->rmap, s, e - s, classify_piece, &w);
		if (w.next < e)
			out->free_blocks += e - w.next;
	}
	if (!out->what)
		out->what = out->free_blocks ? "free space" : "unused";
	return r;
}

int hfs_vol_classify_failure(struct hfs_vol *vol, uint64_t off, uint64_t len,
			     struct hfs_fail_class *out,
			     int (*cb)(void *ctx, const struct hfs_fail_piece *p),
			     void *ctx)
{
	int r;

	pthread_mutex_lock(&vol->lock);
	r = classify_locked(vol, off, len, out, cb, ctx);
	pthread_mutex_unlock(&vol->lock);
	return r;
}

/* ------------------------------------------------------ mark lost */

struct piece_vec {
	struct hfs_fail_piece *v;
	size_t n, cap;
};

static int collect_piece(void *ctx, const struct hfs_fail_piece *p)
{
	struct piece_vec *pv = ctx;

	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 8;
		struct hfs_fail_piece *v = realloc(pv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = *p;
	return 0;
}

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
		return 0; /* changed since the rmap walk */
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

int hfs_vol_mark_lost(struct hfs_vol *vol, uint64_t off, uint64_t len,
		      int (*cb)(void *ctx, const struct hfs_fail_piece *p),
		      void *ctx)
{
	struct piece_vec pv = { 0 };
	struct hfs_fail_class fc;
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	char msg[64];
	int r;

	if ((r = hfs_vol_lock(vol, true)))
		return r;
	r = classify_locked(vol, off, len, &fc, collect_piece, &pv);
	hfs_vol_unlock(vol);
	if (r) {
		free(pv.v);
		return r;
	}
	for (size_t i = 0; i < pv.n; i++) {
		struct hfs_fail_piece *p = &pv.v[i];
		struct hfs_inode *ip;

		/* pin it (an open reference) so it cannot go away while we
		 * take its I/O lock; lock order: inode before volume */
		if ((r = hfs_vol_lock(vol, true)))
			break;
		ip = hfs_iget(vol, p->ino);
		if (ip)
			hfs_inode_open_get_locked(vol, ip);
		hfs_vol_unlock(vol);
		if (!ip)
			continue;
		pthread_rwlock_wrlock(&ip->iolock);
		r = hfs_vol_lock(vol, true);
		if (!r) {
			r = mark_piece_locked(vol, ip, p->file_off / BLK,
					      p->region_off / BLK,
					      p->len / BLK);
			hfs_vol_unlock(vol);
		}
		pthread_rwlock_unlock(&ip->iolock);
		hfs_release(vol, p->ino);
		if (r < 0)
			break;
		if (r == 1) {
			snprintf(msg, sizeof(msg), "lost data at file offset %"
				 PRIu64, p->file_off);
			hfs_health_log(vol, HFS_HEALTH_LOST_DATA, p->region_off,
				       p->len, p->ino, msg);
			if (cb)
				cb(ctx, p);
		}
		r = 0;
	}
	free(pv.v);
	if (r)
		return r;
	if ((r = hfs_vol_lock(vol, true)))
		return r;
	r = hfs_badlist_add_locked(vol, off & ~(BLK - 1), end - (off & ~(BLK - 1)));
	if (!r) {
		hfs_vol_reserve_range(vol, off / BLK, (end + BLK - 1) / BLK);
		r = hfs_tx_commit(vol, &vol->tx);
	} else {
		hfs_tx_abort(&vol->tx);
	}
	hfs_vol_unlock(vol);
	snprintf(msg, sizeof(msg), "range failure (%s)", fc.what);
	hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, off, len, 0, msg);
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
