/* SPDX-License-Identifier: MIT */
/*
 * Inodes: the inode table on media and the in-memory inode objects.
 *
 * ip->d is the DRAM image of the 256-byte slot; changing an inode means
 * editing ip->d and staging it (hfs_inode_stage) in the running
 * transaction.  The extent map lives in ip->em and is written back as five
 * inline extents plus a chain of overflow blocks (hfs_inode_stage_extents),
 * staging only the blocks whose bytes changed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blocks_i.h"
#include "dir_i.h"
#include "dslot_i.h"
#include "extent_i.h"
#include "holders_i.h"
#include "inode_i.h"
#include "vol_heal_i.h"
#include "journal_i.h"
#include "media.h"
#include "members.h"
#include "region.h"
#include "vol.h"
#include "vol_i.h"
#include "xattr_i.h"

void hfs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static void set_time(uint64_t *sec, uint32_t *nsec, const struct timespec *t)
{
	*sec = (uint64_t)t->tv_sec;
	*nsec = (uint32_t)t->tv_nsec;
}

void hfs_inode_touch(struct hfs_inode *ip, bool m, bool c)
{
	struct timespec now;

	hfs_now(&now);
	if (m)
		set_time(&ip->d.i_mtime, &ip->d.i_mtime_ns, &now);
	if (c)
		set_time(&ip->d.i_ctime, &ip->d.i_ctime_ns, &now);
}

struct hfs_inode *hfs_iget(struct hfs_vol *vol, uint64_t ino)
{
	if (ino == 0 || ino >= vol->sb.s_inode_count)
		return NULL;
	return vol->itab[ino];
}

int hfs_inode_stage(struct hfs_vol *vol, struct hfs_inode *ip)
{
	ip->d.i_crc = hfs_crc_struct(&ip->d, sizeof(ip->d),
				     offsetof(struct hfs_inode_disk, i_crc));
	ip->dirty_times = false;
	return hfs_tx_add(&vol->tx, hfs_inode_off(vol, ip->ino), &ip->d,
			  sizeof(ip->d));
}

static int ts_cmp(uint64_t s1, uint32_t ns1, uint64_t s2, uint32_t ns2)
{
	if (s1 != s2)
		return s1 < s2 ? -1 : 1;
	return ns1 < ns2 ? -1 : ns1 > ns2;
}

/* The kernel's relatime rule (fs/inode.c relatime_need_update): update
 * when atime is not after mtime or ctime, or is at least a day old. */
static bool relatime_due(const struct hfs_inode_disk *d,
			 const struct timespec *now)
{
	if (ts_cmp(d->i_mtime, d->i_mtime_ns, d->i_atime, d->i_atime_ns) >= 0 ||
	    ts_cmp(d->i_ctime, d->i_ctime_ns, d->i_atime, d->i_atime_ns) >= 0)
		return true;
	return (int64_t)now->tv_sec - (int64_t)d->i_atime >= 24 * 60 * 60;
}

void hfs_inode_accessed_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	enum hfs_atime pol = __atomic_load_n(&vol->atime, __ATOMIC_RELAXED);
	struct timespec now;

	if (vol->readonly || pol == HFS_ATIME_NEVER ||
	    (__atomic_load_n(&vol->nodiratime, __ATOMIC_RELAXED) &&
	     S_ISDIR(ip->d.i_mode)))
		return;
	hfs_now(&now);
	if (pol == HFS_ATIME_RELATIME && !relatime_due(&ip->d, &now))
		return;
	if (ip->d.i_atime == (uint64_t)now.tv_sec &&
	    ip->d.i_atime_ns == (uint32_t)now.tv_nsec)
		return;
	set_time(&ip->d.i_atime, &ip->d.i_atime_ns, &now);
	ip->dirty_times = true;
}

int hfs_inode_flush_times_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	int ret;

	if (!ip->dirty_times || vol->readonly)
		return 0;
	ret = hfs_inode_stage(vol, ip);
	return ret ? ret : hfs_tx_commit(vol, &vol->tx);
}

static void ts_of(struct timespec *t, uint64_t s, uint32_t ns)
{
	t->tv_sec = (time_t)s;
	t->tv_nsec = ns;
}

void hfs_inode_to_attr(const struct hfs_vol *vol, const struct hfs_inode *ip,
		       struct hfs_attr *a)
{
	const struct hfs_inode_disk *d = &ip->d;

	memset(a, 0, sizeof(*a));
	a->ino = ip->ino;
	a->generation = d->i_generation;
	a->mode = d->i_mode;
	a->uid = d->i_uid;
	a->gid = d->i_gid;
	a->nlink = d->i_nlink;
	a->size = d->i_size;
	a->blocks = hfs_emap_blocks(&ip->em) * (HFS_BLOCK_SIZE / 512);
	a->rdev = d->i_rdev;
	a->flags = d->i_flags & HFS_IF_USER;
	ts_of(&a->atime, d->i_atime, d->i_atime_ns);
	ts_of(&a->mtime, d->i_mtime, d->i_mtime_ns);
	ts_of(&a->ctime, d->i_ctime, d->i_ctime_ns);
	ts_of(&a->btime, d->i_btime, d->i_btime_ns);
	/* what direct writers published since (docs/data-path.md) */
	hfs_dslot_overlay(vol, ip, a);
}

/* ------------------------------------------------- extent chain on media */

static uint32_t chain_needed(uint32_t n)
{
	if (n <= HFS_INLINE_EXTENTS)
		return 0;
	return (uint32_t)((n - HFS_INLINE_EXTENTS + HFS_EXTENTS_PER_BLOCK - 1) /
			  HFS_EXTENTS_PER_BLOCK);
}

uint32_t hfs_inode_chain_more(const struct hfs_inode *ip, uint64_t extra)
{
	uint64_t n = ip->em.n + extra;
	uint32_t need = chain_needed(n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);

	return need > ip->em.nchain ? need - ip->em.nchain : 0;
}

/* Grow or shrink ip->em.chain to hold the current extent count.  New
 * blocks are allocated before anything is staged, so -ENOSPC leaves the
 * on-media state untouched. */
static int chain_resize(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct hfs_emap *m = &ip->em;
	uint32_t need = chain_needed(m->n);
	uint64_t *nc;

	while (m->nchain > need)
		hfs_vol_release_blocks(vol, m->chain[--m->nchain], 1);
	if (m->nchain == need)
		return 0;
	nc = realloc(m->chain, need * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	m->chain = nc;
	while (m->nchain < need) {
		uint64_t got;
		int64_t b = hfs_vol_alloc(vol, ip->ino, HFS_RMAP_CHAIN, 0,
					   1, 1, 1, 0, &got);

		if (b < 0)
			return (int)b;
		m->chain[m->nchain++] = (uint64_t)b;
	}
	return 0;
}

static void chain_block_build(struct hfs_inode *ip, uint32_t k, uint8_t *blk)
{
	struct hfs_emap *m = &ip->em;
	struct hfs_blkhdr *h = (struct hfs_blkhdr *)blk;
	uint32_t first = HFS_INLINE_EXTENTS + k * HFS_EXTENTS_PER_BLOCK;
	uint32_t cnt = m->n - first;

	if (cnt > HFS_EXTENTS_PER_BLOCK)
		cnt = HFS_EXTENTS_PER_BLOCK;
	memset(blk, 0, HFS_BLOCK_SIZE);
	h->b_magic = HFS_EXTBLK_MAGIC;
	h->b_owner = ip->ino;
	h->b_next = k + 1 < m->nchain ? m->chain[k + 1] : 0;
	h->b_count = cnt;
	memcpy(blk + sizeof(*h), &m->v[first], cnt * sizeof(struct hfs_extent));
	h->b_crc = hfs_crc_struct(blk, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
}

int hfs_inode_stage_extents(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct hfs_emap *m = &ip->em;
	uint8_t *blk, *cur;
	uint32_t inl = m->n < HFS_INLINE_EXTENTS ? m->n : HFS_INLINE_EXTENTS;
	int ret = chain_resize(vol, ip);

	if (ret)
		return ret;
	blk = malloc(2 * HFS_BLOCK_SIZE);
	if (!blk)
		return -ENOMEM;
	cur = blk + HFS_BLOCK_SIZE;
	for (uint32_t k = 0; k < m->nchain && !ret; k++) {
		uint64_t off = m->chain[k] * HFS_BLOCK_SIZE;

		chain_block_build(ip, k, blk);
		/* Stage only what changed: appending an extent to a large
		 * file rewrites one block, not the whole chain. */
		if (hfs_region_read(vol->rg, off, cur, HFS_BLOCK_SIZE, NULL) ||
		    memcmp(blk, cur, HFS_BLOCK_SIZE))
			ret = hfs_tx_add(&vol->tx, off, blk, HFS_BLOCK_SIZE);
	}
	free(blk);
	if (ret)
		return ret;
	if (!(ip->d.i_flags & HFS_IF_INLINE_DATA)) {
		memset(ip->d.i_extents, 0, sizeof(ip->d.i_extents));
		if (inl)
			memcpy(ip->d.i_extents, m->v,
			       inl * sizeof(struct hfs_extent));
	}
	ip->d.i_nextents = m->n;
	ip->d.i_ext_blk = m->nchain ? m->chain[0] : 0;
	return hfs_inode_stage(vol, ip);
}

/* ------------------------------------------------------ load at mount */

/* Read overflow block b of inode ino's extent chain into blk and check
 * it: inside the pool [ps, pe), magic, owner, count (non-zero, at most
 * left, fits the block), crc.  0, -EIO (unreadable) or -EUCLEAN. */
static int chain_block_read(struct hfs_region *rg, uint64_t b, uint64_t ps,
			    uint64_t pe, uint64_t ino, uint32_t left,
			    uint8_t *blk)
{
	const struct hfs_blkhdr *h = (const struct hfs_blkhdr *)blk;

	if (b < ps || b >= pe)
		return -EUCLEAN;
	if (hfs_region_read(rg, b * HFS_BLOCK_SIZE, blk, HFS_BLOCK_SIZE, NULL))
		return -EIO;
	if (h->b_magic != HFS_EXTBLK_MAGIC || h->b_owner != ino ||
	    h->b_count == 0 || h->b_count > HFS_EXTENTS_PER_BLOCK ||
	    h->b_count > left ||
	    h->b_crc != hfs_crc_struct(blk, HFS_BLOCK_SIZE,
				       offsetof(struct hfs_blkhdr, b_crc)))
		return -EUCLEAN;
	return 0;
}

/* Read the overflow chain of ip into ip->em.  Validates every block. */
static int chain_load(struct hfs_vol *vol, struct hfs_inode *ip,
		      uint8_t *blk)
{
	struct hfs_emap *m = &ip->em;
	uint64_t b = ip->d.i_ext_blk;
	uint32_t left = ip->d.i_nextents - m->n;

	while (left) {
		struct hfs_blkhdr *h = (struct hfs_blkhdr *)blk;
		uint64_t *nc;
		int ret;

		if (m->nchain >= chain_needed(ip->d.i_nextents))
			return -EUCLEAN;
		hfs_vol_meta_check(vol, b); /* a mirrored volume */
		ret = chain_block_read(vol->rg, b, vol->alloc.pool_start,
				       vol->alloc.pool_end, ip->ino, left, blk);
		if (ret)
			return ret;
		nc = realloc(m->chain, (m->nchain + 1) * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		m->chain = nc;
		m->chain[m->nchain++] = b;
		memcpy(&m->v[m->n], blk + sizeof(*h),
		       h->b_count * sizeof(struct hfs_extent));
		m->n += h->b_count;
		left -= h->b_count;
		b = h->b_next;
	}
	return 0;
}

/* Extents must be sorted, non-overlapping, inside the pool. */
static int emap_check(const struct hfs_vol *vol, const struct hfs_emap *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct hfs_extent *e = &m->v[i];

		if (e->e_len == 0 || e->e_pblk < vol->alloc.pool_start ||
		    e->e_pblk + e->e_len > vol->alloc.pool_end ||
		    e->e_pblk + e->e_len < e->e_pblk ||
		    e->e_lblk >= HFS_MAX_FILE_BLOCKS ||
		    e->e_len > HFS_MAX_FILE_BLOCKS - e->e_lblk ||
		    !hfs_devtab_range_ok(&vol->devtab, e->e_pblk, e->e_len))
			return -EUCLEAN;
		if (i && m->v[i - 1].e_lblk + m->v[i - 1].e_len > e->e_lblk)
			return -EUCLEAN;
	}
	return 0;
}

int hfs_inode_load(struct hfs_vol *vol, uint64_t ino,
		   const struct hfs_inode_disk *d, struct hfs_inode **out)
{
	struct hfs_inode *ip;
	uint8_t *blk = NULL;
	uint32_t inl;
	int ret;

	if (d->i_crc != hfs_crc_struct(d, sizeof(*d),
				       offsetof(struct hfs_inode_disk, i_crc)))
		return -EUCLEAN;
	/* Every extent maps at least one pool block: a larger count is
	 * damage, and must not size the allocation below (found by
	 * fuzz_mount: a 13 GB calloc). */
	if (d->i_nextents > vol->sb.s_pool_blocks)
		return -EUCLEAN;
	/* An inline target is at most the 120 bytes of the slot; readlink
	 * copies i_size bytes from it (found by fuzz_mount: a heap overflow
	 * in hfs_readlink). */
	if ((d->i_flags & HFS_IF_INLINE_DATA) &&
	    (!S_ISLNK(d->i_mode) || d->i_size > HFS_INLINE_SYMLINK))
		return -EUCLEAN;
	ip = hfs_inode_alloc_mem(ino);
	if (!ip)
		return -ENOMEM;
	ip->d = *d;
	if (!(d->i_flags & HFS_IF_INLINE_DATA) && d->i_nextents) {
		ret = -ENOMEM;
		inl = d->i_nextents < HFS_INLINE_EXTENTS ? d->i_nextents
							 : HFS_INLINE_EXTENTS;
		ip->em.v = calloc(d->i_nextents, sizeof(struct hfs_extent));
		blk = malloc(HFS_BLOCK_SIZE);
		if (!ip->em.v || !blk)
			goto fail;
		ip->em.cap = d->i_nextents;
		memcpy(ip->em.v, d->i_extents, inl * sizeof(struct hfs_extent));
		ip->em.n = inl;
		ret = chain_load(vol, ip, blk);
		if (!ret)
			ret = emap_check(vol, &ip->em);
		if (ret)
			goto fail;
	}
	free(blk);
	*out = ip;
	return 0;
fail:
	free(blk);
	hfs_inode_free_mem(ip);
	return ret;
}

/* ---------------------------------------- extents straight from media */

/* One extent read from media, checked before anyone writes through it:
 * only pool blocks, no overflow (a crc-valid but wrong slot must not
 * make replay zero the journal or the inode table). */
static int media_extent(uint64_t ps, uint64_t pe, const struct hfs_extent *e,
			int (*cb)(void *ctx, const struct hfs_extent *e),
			void *ctx)
{
	if (e->e_len == 0 || e->e_pblk < ps || e->e_pblk + e->e_len > pe ||
	    e->e_pblk + e->e_len < e->e_pblk ||
	    e->e_lblk >= HFS_MAX_FILE_BLOCKS ||
	    e->e_len > HFS_MAX_FILE_BLOCKS - e->e_lblk)
		return -EUCLEAN;
	return cb(ctx, e);
}

int hfs_inode_media_extents(struct hfs_region *rg, const struct hfs_super *sb,
			    uint64_t ino, const struct hfs_inode_disk *d,
			    int (*cb)(void *ctx, const struct hfs_extent *e),
			    void *ctx)
{
	uint64_t ps, pe, b = d->i_ext_blk;
	uint32_t inl, left, hops = 0;
	uint8_t *blk;
	int ret = 0;

	hfs_super_pool_range(sb, &ps, &pe);
	if (d->i_crc != hfs_crc_struct(d, sizeof(*d),
				       offsetof(struct hfs_inode_disk, i_crc)))
		return -EUCLEAN;
	if ((d->i_flags & HFS_IF_INLINE_DATA) || d->i_nextents == 0)
		return 0;
	if (d->i_nextents > sb->s_pool_blocks)
		return -EUCLEAN;
	inl = d->i_nextents < HFS_INLINE_EXTENTS ? d->i_nextents
						 : HFS_INLINE_EXTENTS;
	for (uint32_t i = 0; i < inl && !ret; i++)
		ret = media_extent(ps, pe, &d->i_extents[i], cb, ctx);
	left = d->i_nextents - inl;
	if (ret || !left)
		return ret < 0 ? ret : 0;
	blk = malloc(HFS_BLOCK_SIZE);
	if (!blk)
		return -ENOMEM;
	while (left && !ret) {
		const struct hfs_blkhdr *h = (const struct hfs_blkhdr *)blk;
		const struct hfs_extent *v = (const void *)(blk + sizeof(*h));

		/* a loop in a damaged chain must end */
		if (++hops > chain_needed(d->i_nextents)) {
			ret = -EUCLEAN;
			break;
		}
		ret = chain_block_read(rg, b, ps, pe, ino, left, blk);
		for (uint32_t i = 0; !ret && i < h->b_count; i++)
			ret = media_extent(ps, pe, &v[i], cb, ctx);
		left -= ret ? 0 : h->b_count;
		b = h->b_next;
	}
	free(blk);
	return ret < 0 ? ret : 0;
}

/* ------------------------------------------------ allocation of slots */

struct hfs_inode *hfs_inode_alloc_mem(uint64_t ino)
{
	struct hfs_inode *ip = calloc(1, sizeof(*ip));

	if (!ip)
		return NULL;
	ip->ino = ino;
	pthread_rwlock_init(&ip->iolock, NULL);
	return ip;
}

void hfs_inode_free_mem(struct hfs_inode *ip)
{
	if (!ip)
		return;
	hfs_emap_destroy(&ip->em);
	hfs_dir_destroy(ip->dir);
	hfs_xattr_free(ip->xattr);
	pthread_rwlock_destroy(&ip->iolock);
	free(ip);
}

int hfs_inode_new_locked(struct hfs_vol *vol, uint32_t mode,
			 const struct hfs_cred *cred, uint32_t gid,
			 struct hfs_inode **out)
{
	struct hfs_inode *ip;
	struct timespec now;
	uint64_t ino;
	bool bump = false;

	if (!hfs_vol_inode_avail(vol))
		return -ENOSPC; /* the last ones are root's (mkfs -m) */
	if (vol->nifree) {
		ino = vol->ifree[vol->nifree - 1];
	} else if (vol->sb.s_inode_hwm < vol->sb.s_inode_count) {
		ino = vol->sb.s_inode_hwm;
		bump = true;
	} else {
		return -ENOSPC;
	}
	ip = hfs_inode_alloc_mem(ino);
	if (!ip)
		return -ENOMEM;
	if (bump) {
		vol->sb.s_inode_hwm++;
		hfs_super_set_crc(&vol->sb);
		if (hfs_tx_add(&vol->tx, 0, &vol->sb, sizeof(vol->sb))) {
			vol->sb.s_inode_hwm--;
			hfs_inode_free_mem(ip);
			return -ENOMEM;
		}
	} else {
		vol->nifree--;
	}
	hfs_now(&now);
	ip->d.i_mode = mode;
	ip->d.i_uid = cred->uid;
	ip->d.i_gid = gid;
	ip->d.i_nlink = S_ISDIR(mode) ? 2 : 1;
	ip->d.i_generation = ++vol->last_gen;
	set_time(&ip->d.i_atime, &ip->d.i_atime_ns, &now);
	set_time(&ip->d.i_mtime, &ip->d.i_mtime_ns, &now);
	set_time(&ip->d.i_ctime, &ip->d.i_ctime_ns, &now);
	set_time(&ip->d.i_btime, &ip->d.i_btime_ns, &now);
	vol->itab[ino] = ip;
	vol->used_inodes++;
	*out = ip;
	return 0;
}

static void put_blocks(void *ctx, uint64_t pblk, uint64_t n)
{
	hfs_vol_release_blocks(ctx, pblk, n);
}

int hfs_inode_delete_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct hfs_inode_disk freed;
	int ret;

	hfs_dslot_inode_gone_locked(vol, ip);
	hfs_emap_remove(&ip->em, 0, UINT64_MAX, put_blocks, vol);
	while (ip->em.nchain)
		hfs_vol_release_blocks(vol, ip->em.chain[--ip->em.nchain], 1);
	hfs_xattr_drop_locked(vol, ip);
	/* A free slot keeps only its generation, so a reused slot gets a
	 * new one (NFS-style handles and FUSE generations stay unique). */
	memset(&freed, 0, sizeof(freed));
	freed.i_generation = ip->d.i_generation;
	ret = hfs_tx_add(&vol->tx, hfs_inode_off(vol, ip->ino), &freed,
			 sizeof(freed));
	/* normally off the list already (no opens, no kernel references) */
	ip->nopen = 0;
	ip->link_cached = false;
	hfs_inode_kread_update_locked(vol, ip);
	vol->itab[ip->ino] = NULL;
	vol->ifree[vol->nifree++] = ip->ino;
	vol->used_inodes--;
	hfs_inode_free_mem(ip);
	return ret;
}
