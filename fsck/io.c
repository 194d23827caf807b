/* SPDX-License-Identifier: MIT */
/*
 * fsck's access to the region, and the writers every pass shares.
 *
 * Reads: every read goes through hfs_region_read, so a poisoned or
 * vanished range is an -EIO the pass reports, never a crash.  In NO mode
 * a committed journal transaction cannot be replayed; instead its records
 * are laid over every read (the overlay), so -n checks the filesystem as
 * the next mount will see it.
 *
 * Writes: hfs_region_write (persisted).  The first write of a run clears
 * the journal (an old transaction must never be replayed over a repair)
 * and writes the primary superblock with CLEAN off and ERRORS on, so a
 * repair cut short is neither trusted nor skipped next time.
 *
 * Allocation: fsck derives the free space exactly as mount does (the pool
 * minus every claim and bad range; pass 1b builds it) and takes blocks
 * from it with lib/alloc.c.  Nothing records an allocation but the
 * metadata that names the block, so a block fsck stops naming is free.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"
#include "grow.h"

#define JPAD(n) (((n) + 7u) & ~(size_t)7u)

/* Lay the overlay's records over buf = region [off, off+len). */
static void overlay_apply(const struct fsck_overlay *ov, uint64_t off,
			  uint8_t *buf, size_t len)
{
	size_t pos = 0;

	while (pos + sizeof(struct hfs_jrecord) <= ov->len) {
		struct hfs_jrecord r;
		uint64_t s, e;

		memcpy(&r, ov->recs + pos, sizeof(r));
		pos += sizeof(r);
		s = r.r_off > off ? r.r_off : off;
		e = r.r_off + r.r_len < off + len ? r.r_off + r.r_len
						  : off + len;
		if (s < e)
			memcpy(buf + (s - off), ov->recs + pos + (s - r.r_off),
			       e - s);
		pos += JPAD(r.r_len);
	}
}

int fsck_read(struct fsck *f, uint64_t off, void *buf, size_t len)
{
	int ret = hfs_region_read(f->rg, off, buf, len, &f->fault);

	if (ret == -ERANGE)
		f->fault.off = off;
	if (!ret && f->ov.len)
		overlay_apply(&f->ov, off, buf, len);
	return ret;
}

int fsck_read_shifted(struct fsck *f, uint64_t off, uint64_t at, void *buf,
		      size_t len)
{
	int ret = hfs_region_read(f->rg, off, buf, len, &f->fault);

	if (ret == -ERANGE)
		f->fault.off = off;
	if (!ret && f->ov.len)
		overlay_apply(&f->ov, at, buf, len);
	return ret;
}

int fsck_begin_write(struct fsck *f)
{
	struct hfs_super s;
	int ret;

	if (f->write_started)
		return 0;
	if (!f->writable)
		return -EROFS;
	f->write_started = true;
	f->rep->modified = true;
	ret = hfs_journal_clear(f->rg, &f->sb);
	if (ret)
		return ret;
	s = f->sb;
	s.s_state = (s.s_state & ~HFS_STATE_CLEAN) | HFS_STATE_ERRORS;
	hfs_super_set_crc(&s);
	return hfs_region_write(f->rg, 0, &s, sizeof(s), NULL);
}

int fsck_write(struct fsck *f, uint64_t off, const void *buf, size_t len)
{
	int ret = fsck_begin_write(f);

	if (ret)
		return ret;
	return hfs_region_write(f->rg, off, buf, len, &f->fault);
}

/* ------------------------------------------------------------ inodes */

int fsck_read_inode(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d)
{
	return fsck_read(f, fsck_inode_off(f, ino), d, sizeof(*d));
}

int fsck_write_inode(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d)
{
	d->i_crc = hfs_crc_struct(d, sizeof(*d),
				  offsetof(struct hfs_inode_disk, i_crc));
	return fsck_write(f, fsck_inode_off(f, ino), d, sizeof(*d));
}

int fsck_free_inode(struct fsck *f, uint64_t ino)
{
	struct hfs_inode_disk d;
	uint64_t gen = 0;

	/* Keep the generation so a reused slot gets a new one. */
	if (!fsck_read_inode(f, ino, &d))
		gen = d.i_generation;
	memset(&d, 0, sizeof(d));
	d.i_generation = gen;
	return fsck_write(f, fsck_inode_off(f, ino), &d, sizeof(d));
}

/* ------------------------------------------------------ extent chains */

uint32_t fsck_chain_needed(uint32_t n)
{
	if (n <= HFS_INLINE_EXTENTS)
		return 0;
	return (uint32_t)((n - HFS_INLINE_EXTENTS + HFS_EXTENTS_PER_BLOCK - 1) /
			  HFS_EXTENTS_PER_BLOCK);
}

bool fsck_extblk_ok(const uint8_t *blk, uint64_t ino, uint32_t left)
{
	const struct hfs_blkhdr *h = (const void *)blk;

	return h->b_magic == HFS_EXTBLK_MAGIC && h->b_owner == ino &&
	       h->b_count != 0 && h->b_count <= HFS_EXTENTS_PER_BLOCK &&
	       h->b_count <= left &&
	       h->b_crc == hfs_crc_struct(blk, HFS_BLOCK_SIZE,
					  offsetof(struct hfs_blkhdr, b_crc));
}

int fsck_chain_fit(struct fsck *f, uint64_t ino, uint64_t **chain,
		   uint32_t *nchain, uint32_t n)
{
	uint32_t need = fsck_chain_needed(n);
	uint64_t *c;

	if (*nchain >= need)
		return 0;
	c = realloc(*chain, need * sizeof(*c));
	if (!c)
		return -ENOMEM;
	*chain = c;
	while (*nchain < need) {
		int64_t b = fsck_alloc(f, 1, 1, 0);
		struct fsck_claim cl = { .pblk = (uint64_t)b, .len = 1,
					 .lblk = *nchain, .ino = ino,
					 .kind = CL_CHAIN };

		if (b < 0)
			return (int)b;
		c[(*nchain)++] = (uint64_t)b;
		if (fsck_claim_add(f, &cl))
			return -ENOMEM;
	}
	return 0;
}

static void chain_block_build(uint64_t ino, const struct hfs_extent *v,
			      uint32_t n, const uint64_t *chain, uint32_t k,
			      uint32_t nchain, uint8_t *blk)
{
	struct hfs_blkhdr *h = (struct hfs_blkhdr *)blk;
	uint32_t first = HFS_INLINE_EXTENTS + k * HFS_EXTENTS_PER_BLOCK;
	uint32_t cnt = n - first;

	if (cnt > HFS_EXTENTS_PER_BLOCK)
		cnt = HFS_EXTENTS_PER_BLOCK;
	memset(blk, 0, HFS_BLOCK_SIZE);
	h->b_magic = HFS_EXTBLK_MAGIC;
	h->b_owner = ino;
	h->b_next = k + 1 < nchain ? chain[k + 1] : 0;
	h->b_count = cnt;
	memcpy(blk + sizeof(*h), &v[first], cnt * sizeof(struct hfs_extent));
	h->b_crc = hfs_crc_struct(blk, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
}

int fsck_write_extents(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d,
		       const struct hfs_extent *v, uint32_t n,
		       const uint64_t *chain)
{
	uint32_t need = fsck_chain_needed(n);
	uint32_t inl = n < HFS_INLINE_EXTENTS ? n : HFS_INLINE_EXTENTS;
	uint8_t *blk = malloc(HFS_BLOCK_SIZE);
	int ret = blk ? 0 : -ENOMEM;

	for (uint32_t k = 0; k < need && !ret; k++) {
		chain_block_build(ino, v, n, chain, k, need, blk);
		ret = fsck_write(f, chain[k] * BLK, blk, HFS_BLOCK_SIZE);
	}
	free(blk);
	if (ret)
		return ret;
	memset(d->i_extents, 0, sizeof(d->i_extents));
	if (inl)
		memcpy(d->i_extents, v, inl * sizeof(*v));
	d->i_nextents = n;
	d->i_ext_blk = need ? chain[0] : 0;
	return fsck_write_inode(f, ino, d);
}

/* ------------------------------------------------- allocation, claims */

int64_t fsck_alloc(struct fsck *f, uint64_t n, uint64_t align, uint64_t hint)
{
	uint64_t got;

	if (!f->alloc_ready)
		return -ENOSPC;
	return hfs_alloc_get(&f->alloc, n, n, align, hint, &got);
}

int fsck_claim_add(struct fsck *f, const struct fsck_claim *c)
{
	if (f->ncl == f->capcl &&
	    hfs_grow(&f->cl, &f->capcl, f->ncl + 1, sizeof(*f->cl)))
		return -ENOMEM;
	f->cl[f->ncl++] = *c;
	return 0;
}

static int claim_cmp(const void *a, const void *b)
{
	const struct fsck_claim *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->lblk < y->lblk ? -1 : x->lblk > y->lblk;
}

/* Sort by (ino, kind, lblk) and drop dead claims. */
void fsck_claims_sort(struct fsck *f)
{
	size_t out = 0;

	for (size_t i = 0; i < f->ncl; i++)
		if (f->cl[i].kind != CL_DEAD)
			f->cl[out++] = f->cl[i];
	f->ncl = out;
	if (f->ncl) /* cl may be NULL: a filesystem with no block in use */
		qsort(f->cl, f->ncl, sizeof(*f->cl), claim_cmp);
	f->nsorted = f->ncl;
}

size_t fsck_claims_of(struct fsck *f, uint64_t ino, size_t *n)
{
	size_t lo = 0, hi = f->nsorted, first;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cl[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < f->nsorted && f->cl[lo].ino == ino)
		lo++;
	*n = lo - first;
	return first;
}

void fsck_claims_drop(struct fsck *f, uint64_t ino)
{
	size_t n, first = fsck_claims_of(f, ino, &n);

	for (size_t i = first; i < first + n; i++)
		f->cl[i].kind = CL_DEAD;
	for (size_t i = f->nsorted; i < f->ncl; i++)
		if (f->cl[i].ino == ino)
			f->cl[i].kind = CL_DEAD;
}

/* ------------------------------------------------------- directories */

struct fsck_dir *fsck_dir_of(struct fsck *f, uint64_t ino)
{
	if (!fsck_live(f, ino) || !f->ino[ino].dir)
		return NULL;
	return &f->dirs[f->ino[ino].dir - 1];
}

void fsck_dentry_encode(struct hfs_dentry_disk *dd, uint64_t ino,
			const char *name, size_t len, uint8_t dtype)
{
	memset(dd, 0, sizeof(*dd));
	dd->d_ino = ino;
	if (ino) {
		dd->d_name_len = (uint16_t)len;
		dd->d_type = dtype;
		memcpy(dd->d_name, name, len);
	}
	dd->d_crc = hfs_crc_struct(dd, sizeof(*dd),
				   offsetof(struct hfs_dentry_disk, d_crc));
}

/* Region offset of slot s of directory d. */
static uint64_t dir_slot_off(const struct fsck_dir *d, uint64_t s)
{
	uint64_t lblk = s / HFS_DENTRIES_PER_BLOCK;

	for (uint32_t i = 0; i < d->n; i++) {
		const struct hfs_extent *e = &d->v[i];

		if (lblk >= e->e_lblk && lblk < e->e_lblk + e->e_len)
			return (e->e_pblk + lblk - e->e_lblk) * BLK +
			       (s % HFS_DENTRIES_PER_BLOCK) *
				       sizeof(struct hfs_dentry_disk);
	}
	return 0;
}

/* First free slot at or after d->free_hint, or -ENOSPC. */
static int64_t dir_find_free(struct fsck *f, struct fsck_dir *d)
{
	uint64_t nslot = 0;

	for (uint32_t i = 0; i < d->n; i++)
		nslot += d->v[i].e_len * HFS_DENTRIES_PER_BLOCK;
	for (uint64_t s = d->free_hint; s < nslot; s++) {
		struct hfs_dentry_disk dd;
		uint64_t off = dir_slot_off(d, s);

		if (off && !fsck_read(f, off, &dd, sizeof(dd)) && dd.d_ino == 0) {
			d->free_hint = s;
			return (int64_t)s;
		}
	}
	d->free_hint = nslot;
	return -ENOSPC;
}

/* Append one zeroed block to the directory's map and write the map. */
static int dir_grow(struct fsck *f, struct fsck_dir *d)
{
	static const uint8_t zero[HFS_BLOCK_SIZE];
	struct hfs_inode_disk di;
	struct hfs_extent *last = d->n ? &d->v[d->n - 1] : NULL;
	uint64_t lblk = last ? last->e_lblk + last->e_len : 0;
	int64_t b = fsck_alloc(f, 1, 1, last ? last->e_pblk + last->e_len : 0);
	struct fsck_claim cl = { .lblk = lblk, .len = 1, .ino = d->ino,
				 .kind = CL_DIR };
	struct hfs_extent *v;
	int ret;

	if (b < 0)
		return (int)b;
	cl.pblk = (uint64_t)b;
	if ((ret = fsck_write(f, (uint64_t)b * BLK, zero, sizeof(zero))) ||
	    (ret = fsck_claim_add(f, &cl)))
		return ret;
	if (last && last->e_pblk + last->e_len == (uint64_t)b &&
	    last->e_len < UINT32_MAX && !last->e_flags) {
		last->e_len++;
	} else {
		v = realloc(d->v, (d->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->v[d->n++] = (struct hfs_extent){ lblk, (uint64_t)b, 1, 0 };
	}
	if ((ret = fsck_read_inode(f, d->ino, &di)) ||
	    (ret = fsck_chain_fit(f, d->ino, &d->chain, &d->nchain, d->n)))
		return ret;
	di.i_size = (lblk + 1) * BLK;
	return fsck_write_extents(f, d->ino, &di, d->v, d->n, d->chain);
}

int fsck_dir_add(struct fsck *f, struct fsck_dir *d, const char *name,
		 uint64_t ino, uint8_t dtype, uint64_t *off)
{
	struct hfs_dentry_disk dd;
	int64_t s = dir_find_free(f, d);
	int ret;

	if (s < 0) {
		ret = dir_grow(f, d);
		if (ret)
			return ret;
		s = dir_find_free(f, d);
		if (s < 0)
			return (int)s;
	}
	fsck_dentry_encode(&dd, ino, name, strlen(name), dtype);
	*off = dir_slot_off(d, (uint64_t)s);
	ret = fsck_write(f, *off, &dd, sizeof(dd));
	if (!ret) {
		d->free_hint = (uint64_t)s + 1;
		d->nent++;
	}
	return ret;
}

/* ------------------------------------------------------- health log */

void fsck_hlog(struct fsck *f, uint32_t type, uint64_t off, uint64_t len,
	       uint64_t ino, const char *fmt, ...)
{
	struct fsck_hlog *h;
	va_list ap;

	if (type == HFS_HEALTH_FSCK && f->nhlog_fsck++ >= FSCK_MAX_HEALTH_FSCK) {
		f->hlog_dropped++;
		return;
	}
	if (f->nhlog == f->caphlog &&
	    hfs_grow(&f->hlog, &f->caphlog, f->nhlog + 1, sizeof(*f->hlog)))
		return;
	h = &f->hlog[f->nhlog++];
	*h = (struct fsck_hlog){ .type = type, .off = off, .len = len,
				 .ino = ino };
	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
}
