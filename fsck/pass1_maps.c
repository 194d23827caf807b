/* SPDX-License-Identifier: MIT */
/*
 * Pass 1, one inode's extent map and xattr block (pass1.h).
 *
 * The map is the inline extents (all-zero slots are unused) then the
 * overflow chain from i_ext_blk to its end.  Chain blocks check
 * themselves (magic, owner, checksum), so the chain is trusted over
 * i_nextents; it stops, and is reported, at the first block outside the
 * pool, unreadable, damaged, or seen before (a loop).  Extents are then
 * checked one by one and dropped when invalid.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "members.h"
#include "pass1.h"

static int img_push(struct p1_img *m, const struct hfs_extent *e)
{
	if (m->n == m->cap &&
	    hfs_grow(&m->v, &m->cap, (size_t)m->n + 1, sizeof(*m->v)))
		return -ENOMEM;
	m->v[m->n++] = *e;
	return 0;
}

/* A tiny set of block numbers: loop detection in a chain. */
struct blkset {
	uint64_t *v;
	size_t cap, n;
};

static bool blkset_add(struct blkset *s, uint64_t b)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		struct blkset t = { calloc(s->cap ? s->cap * 2 : 64,
					   sizeof(uint64_t)),
				    s->cap ? s->cap * 2 : 64, 0 };

		if (!t.v)
			return false;
		for (i = 0; i < s->cap; i++)
			if (s->v[i])
				blkset_add(&t, s->v[i]);
		free(s->v);
		*s = t;
	}
	for (i = (b * 0x9e3779b97f4a7c15ull) % s->cap; s->v[i];
	     i = (i + 1) % s->cap)
		if (s->v[i] == b)
			return false;
	s->v[i] = b;
	s->n++;
	return true;
}

/* Follow the overflow chain from i_ext_blk to its end (b_next 0).  The
 * blocks check themselves (magic, owner, crc), so the chain is trusted
 * over i_nextents; it stops, and reports, at the first bad block. */
static int load_chain(struct fsck *f, struct p1_img *m)
{
	struct blkset seen = { 0 };
	uint8_t *blk = malloc(HFS_BLOCK_SIZE);
	uint64_t b = m->d.i_ext_blk;
	const char *why = NULL;
	int ret = blk ? 0 : -ENOMEM;

	while (!ret && b) {
		const struct hfs_blkhdr *h = (const void *)blk;
		uint64_t *c;

		if (b < f->pool_start || b >= f->pool_end ||
		    !hfs_devtab_range_ok(&f->devtab, b, 1))
			why = "outside the pool";
		else if (!blkset_add(&seen, b))
			why = "a loop";
		else if (fsck_read(f, b * BLK, blk, HFS_BLOCK_SIZE))
			why = "unreadable";
		else if (!fsck_extblk_ok(blk, m->ino, UINT32_MAX))
			why = "damaged (magic, checksum, owner or count)";
		if (why)
			break;
		c = realloc(m->chain, (m->nchain + 1) * sizeof(*c));
		if (!c) {
			ret = -ENOMEM;
			break;
		}
		m->chain = c;
		m->chain[m->nchain++] = b;
		for (uint32_t i = 0; i < h->b_count && !ret; i++)
			ret = img_push(m, (const struct hfs_extent *)
					(blk + sizeof(*h)) + i);
		b = h->b_next;
	}
	if (why) {
		p1_find(m, HFS_P1_EXTBLK_BAD, b * BLK, "extent block %" PRIu64
		     " (chain block %" PRIu32 ") is %s; the extents from "
		     "there on are lost", b, m->nchain, why);
		m->map_dirty = true;
		m->lost = m->n < m->d.i_nextents;
	}
	free(seen.v);
	free(blk);
	return ret;
}

/* Inline extents (all-zero slots are unused) then the overflow chain. */
int p1_load_extents(struct fsck *f, struct p1_img *m)
{
	static const struct hfs_extent zero;
	int ret = 0;

	for (uint32_t i = 0; i < HFS_INLINE_EXTENTS && !ret; i++)
		if (memcmp(&m->d.i_extents[i], &zero, sizeof(zero)))
			ret = img_push(m, &m->d.i_extents[i]);
	if (!ret && m->d.i_ext_blk) {
		if (m->n < HFS_INLINE_EXTENTS) {
			p1_find(m, HFS_P1_INODE_EXTBLK, HFS_FSCK_NO_OFF,
			     "overflow pointer %" PRIu64 " set with only %"
			     PRIu32 " inline extents", m->d.i_ext_blk, m->n);
			m->map_dirty = true;
		}
		ret = load_chain(f, m);
	}
	if (!ret && m->n != m->d.i_nextents && !m->lost) {
		p1_find(m, HFS_P1_INODE_NEXTENTS, HFS_FSCK_NO_OFF, "extent count "
		     "%" PRIu32 " but the map holds %" PRIu32,
		     m->d.i_nextents, m->n);
		m->map_dirty = true;
	}
	return ret;
}

static const char *extent_why(const struct fsck *f, const struct hfs_extent *e,
			      uint64_t prev_end)
{
	if (e->e_len == 0)
		return "is empty";
	if (e->e_pblk < f->pool_start || e->e_pblk + e->e_len > f->pool_end ||
	    e->e_pblk + e->e_len < e->e_pblk)
		return "lies outside the pool";
	if (!hfs_devtab_range_ok(&f->devtab, e->e_pblk, e->e_len))
		return "is not inside one device's pool";
	if (e->e_lblk >= HFS_MAX_FILE_BLOCKS ||
	    e->e_lblk + e->e_len > HFS_MAX_FILE_BLOCKS)
		return "lies beyond the largest file size";
	if (e->e_lblk < prev_end)
		return "overlaps the extent before it in the file";
	return NULL;
}

/* Drop invalid extents, in place. */
void p1_check_extents(const struct fsck *f, struct p1_img *m)
{
	uint64_t prev_end = 0;
	uint32_t out = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		struct hfs_extent *e = &m->v[i];
		const char *why = extent_why(f, e, prev_end);

		if (why) {
			p1_find(m, HFS_P1_EXTENT_BAD, HFS_FSCK_NO_OFF, "extent %"
			     PRIu32 " (file block %" PRIu64 ", region block %"
			     PRIu64 ", %" PRIu32 " blocks) %s", i, e->e_lblk,
			     e->e_pblk, e->e_len, why);
			m->map_dirty = m->lost = true;
			continue;
		}
		if (e->e_flags & ~HFS_EXT_LOST) {
			p1_find(m, HFS_P1_EXTENT_FLAGS, HFS_FSCK_NO_OFF, "extent %"
			     PRIu32 " has unknown flags 0x%" PRIx32, i,
			     e->e_flags);
			e->e_flags &= HFS_EXT_LOST;
			m->map_dirty = true;
		}
		prev_end = e->e_lblk + e->e_len;
		m->v[out++] = *e;
	}
	m->n = out;
}

/* ------------------------------------------------------ xattr block */

static bool xattr_entries_ok(const uint8_t *blk, uint32_t used)
{
	uint32_t pos = 0;

	while (pos < used) {
		const struct hfs_xattr_entry *e;
		size_t esz;

		if (used - pos < sizeof(*e))
			return false;
		e = (const void *)(blk + sizeof(struct hfs_blkhdr) + pos);
		esz = (sizeof(*e) + e->x_name_len + e->x_value_len + 3) &
		      ~(size_t)3;
		if (e->x_name_len == 0 || esz > used - pos ||
		    memchr(e + 1, 0, e->x_name_len))
			return false;
		pos += (uint32_t)esz;
	}
	return true;
}

void p1_check_xattr(struct fsck *f, struct p1_img *m)
{
	uint64_t b = m->d.i_xattr_blk;
	uint8_t *blk;
	const struct hfs_blkhdr *h;
	const char *why = NULL;

	if (b == 0)
		return;
	blk = malloc(HFS_BLOCK_SIZE);
	h = (const void *)blk;
	if (!blk || b < f->pool_start || b >= f->pool_end ||
	    !hfs_devtab_range_ok(&f->devtab, b, 1))
		why = "outside the pool";
	else if (fsck_read(f, b * BLK, blk, HFS_BLOCK_SIZE))
		why = "unreadable";
	else if (h->b_magic != HFS_XATTRBLK_MAGIC || h->b_owner != m->ino ||
		 h->b_next != 0 || h->b_count > HFS_XATTR_SPACE ||
		 h->b_crc != hfs_crc_struct(blk, HFS_BLOCK_SIZE,
					    offsetof(struct hfs_blkhdr, b_crc)))
		why = "damaged (magic, checksum, owner or size)";
	else if (!xattr_entries_ok(blk, h->b_count))
		why = "holding malformed entries";
	free(blk);
	if (!why)
		return;
	p1_find(m, HFS_P1_XATTR_BAD, b * BLK, "xattr block %" PRIu64 " is %s",
	     b, why);
	m->d.i_xattr_blk = 0;
	m->dirty = true;
}
