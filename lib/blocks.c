/* SPDX-License-Identifier: MIT */
/*
 * Pool blocks of a mounted volume: the one place that keeps the
 * free-space index (alloc.c), the rmap (rmap.c) and the bad-extent list
 * (badlist.c) in step.
 *
 *  - allocation: blocks taken from the free index are recorded in the
 *    rmap with their owner (hfs_vol_alloc);
 *  - release: blocks leaving an inode leave the rmap and go back to the
 *    free index, except blocks on the bad-extent list, which never do
 *    (docs/failure-model.md), and blocks the DAX release hook keeps
 *    until every lease mapping them is revoked (hfs_vol_free_blocks then
 *    returns them);
 *  - mount: free space is derived, not stored (docs/format.md): every
 *    block a loaded inode names is claimed, every bad range reserved.
 *
 * Caller holds vol->lock (or is mounting), except hfs_vol_free_blocks.
 */
#include <errno.h>

#include "alloc.h"
#include "badlist_i.h"
#include "blocks_i.h"
#include "inode_i.h"
#include "placement_i.h"
#include "rmap_i.h"
#include "vol.h"
#include "vol_i.h"

/*
 * The reserve for root (s_root_blocks, s_root_inodes; mkfs -m): blocks
 * and inodes a caller that is not privileged may not take, so that a
 * user who fills the filesystem leaves root room to work, as in ext4.
 * The volume learns who it works for per thread, as the kernel asks the
 * current task: the daemon says so for each request that may allocate
 * (fs/reply.c); tools and tests, which never set it, are privileged.
 */
static __thread bool caller_unprivileged;

void hfs_vol_set_caller(bool privileged)
{
	caller_unprivileged = !privileged;
}

uint64_t hfs_vol_blocks_avail(const struct hfs_vol *vol)
{
	uint64_t free = vol->alloc.free_blocks, keep = vol->sb.s_root_blocks;

	if (!caller_unprivileged)
		return free;
	return free > keep ? free - keep : 0;
}

static uint64_t at_most(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t hfs_vol_meta_avail(const struct hfs_vol *vol)
{
	uint64_t a = hfs_vol_blocks_avail(vol);

	return vol->devtab.t_count ? at_most(a, hfs_place_meta_free(vol)) : a;
}

uint64_t hfs_vol_data_avail(const struct hfs_vol *vol)
{
	uint64_t a = hfs_vol_blocks_avail(vol);

	return vol->devtab.t_count ? at_most(a, hfs_place_data_free(vol)) : a;
}

bool hfs_vol_inode_avail(const struct hfs_vol *vol)
{
	uint64_t left = vol->sb.s_inode_count - 1 - vol->used_inodes;

	return caller_unprivileged ? left > vol->sb.s_root_inodes : left > 0;
}

/* Blocks on the bad-extent list never return to the free index
 * (docs/failure-model.md): put [pblk, pblk+n) minus the bad ranges. */
static void put_good(struct hfs_vol *vol, uint64_t pblk, uint64_t n)
{
	uint64_t b = pblk, end = pblk + n;

	if (!vol->nbad || !hfs_badlist_overlaps(vol, pblk * HFS_BLOCK_SIZE,
						 n * HFS_BLOCK_SIZE)) {
		hfs_alloc_put(&vol->alloc, pblk, n);
		return;
	}
	while (b < end) {
		uint64_t s = b;

		while (b < end && !hfs_badlist_overlaps(vol, b * HFS_BLOCK_SIZE,
							HFS_BLOCK_SIZE))
			b++;
		if (b > s)
			hfs_alloc_put(&vol->alloc, s, b - s);
		while (b < end && hfs_badlist_overlaps(vol, b * HFS_BLOCK_SIZE,
						       HFS_BLOCK_SIZE))
			b++;
	}
}

struct release_walk {
	struct hfs_vol *vol;
	uint64_t next;  /* first block not yet handled */
};

static int release_piece(void *ctx, const struct hfs_rmap_piece *p)
{
	struct release_walk *w = ctx;
	struct hfs_vol *vol = w->vol;

	if (p->pblk > w->next) /* not in the rmap: nobody can map it */
		put_good(vol, w->next, p->pblk - w->next);
	if (!vol->hooks.release(vol->hooks.ctx, p->pblk, p->len, p->ino,
				p->lblk, p->kind == HFS_RMAP_DATA))
		put_good(vol, p->pblk, p->len);
	w->next = p->pblk + p->len;
	return 0;
}

void hfs_vol_release_blocks(struct hfs_vol *vol, uint64_t pblk, uint64_t n)
{
	if (vol->hooks.release) {
		/* DAX: blocks a lease may map wait for revocation (hook) */
		struct release_walk w = { vol, pblk };

		hfs_rmap_query(vol->rmap, pblk, n, release_piece, &w);
		if (w.next < pblk + n)
			put_good(vol, w.next, pblk + n - w.next);
		hfs_rmap_remove(vol->rmap, pblk, n);
		return;
	}
	/* the rmap split can only fail for lack of memory; the stale piece
	 * then names a free block, which the next mount forgets */
	hfs_rmap_remove(vol->rmap, pblk, n);
	put_good(vol, pblk, n);
}

void hfs_vol_free_blocks(struct hfs_vol *vol, uint64_t pblk, uint64_t n)
{
	pthread_mutex_lock(&vol->lock);
	put_good(vol, pblk, n);
	pthread_mutex_unlock(&vol->lock);
}

static int64_t vol_alloc(struct hfs_vol *vol, uint64_t ino,
			 enum hfs_rmap_kind kind, uint64_t lblk, uint64_t want,
			 uint64_t min, uint64_t align, uint64_t hint, int pref,
			 uint64_t *got)
{
	int64_t b = hfs_place_alloc(vol, kind, want, min, align, hint, pref,
				    got);
	struct hfs_rmap_piece p;

	if (b < 0)
		return b;
	p = (struct hfs_rmap_piece){ (uint64_t)b, *got, ino, lblk, kind };
	if (hfs_rmap_add(vol->rmap, &p)) {
		hfs_alloc_put(&vol->alloc, (uint64_t)b, *got);
		return -ENOMEM; /* a free block is never in the rmap */
	}
	return b;
}

int64_t hfs_vol_alloc(struct hfs_vol *vol, uint64_t ino,
		      enum hfs_rmap_kind kind, uint64_t lblk, uint64_t want,
		      uint64_t min, uint64_t align, uint64_t hint,
		      uint64_t *got)
{
	return vol_alloc(vol, ino, kind, lblk, want, min, align, hint, -1,
			 got);
}

int64_t hfs_vol_alloc_data(struct hfs_vol *vol, uint64_t ino, uint64_t lblk,
			   uint64_t want, uint64_t min, uint64_t align,
			   uint64_t hint, int pref, uint64_t *got)
{
	return vol_alloc(vol, ino, HFS_RMAP_DATA, lblk, want, min, align, hint,
			 pref, got);
}

void hfs_vol_reserve_range(struct hfs_vol *vol, uint64_t s, uint64_t e)
{
	hfs_alloc_take_range(&vol->alloc, s, e);
}

/* ------------------------------------------------------------ mount */

/* Take a loaded block range out of free space and record its owner.
 * A block named twice marks errors (fsck resolves it); the first owner
 * keeps it in the rmap. */
static int claim(struct hfs_vol *vol, const struct hfs_rmap_piece *p)
{
	int ret = hfs_rmap_add(vol->rmap, p);

	if (ret == -ENOMEM)
		return ret;
	if (ret || hfs_alloc_reserve(&vol->alloc, p->pblk, p->len))
		vol->errors++;
	return 0;
}

int hfs_vol_claim_blocks(struct hfs_vol *vol, struct hfs_inode *ip)
{
	enum hfs_rmap_kind k = S_ISDIR(ip->d.i_mode) ? HFS_RMAP_DIR
						     : HFS_RMAP_DATA;
	int ret = 0;

	for (uint32_t i = 0; i < ip->em.n && !ret; i++) {
		const struct hfs_extent *e = &ip->em.v[i];

		ret = claim(vol, &(struct hfs_rmap_piece){
			e->e_pblk, e->e_len, ip->ino, e->e_lblk, k });
	}
	for (uint32_t i = 0; i < ip->em.nchain && !ret; i++)
		ret = claim(vol, &(struct hfs_rmap_piece){
			ip->em.chain[i], 1, ip->ino, 0, HFS_RMAP_CHAIN });
	return ret;
}

int hfs_vol_claim_range(struct hfs_vol *vol, uint64_t pblk, uint64_t len,
			uint64_t ino, enum hfs_rmap_kind kind)
{
	return claim(vol, &(struct hfs_rmap_piece){ pblk, len, ino, 0, kind });
}

void hfs_vol_reserve_bad(struct hfs_vol *vol)
{
	for (uint32_t i = 0; i < vol->nbad; i++)
		hfs_vol_reserve_range(vol, vol->bad[i].bx_off / HFS_BLOCK_SIZE,
				      (vol->bad[i].bx_off + vol->bad[i].bx_len +
				       HFS_BLOCK_SIZE - 1) / HFS_BLOCK_SIZE);
}
