/* SPDX-License-Identifier: MIT */
/*
 * Pass 1, the bad-extent list (pass1.h): magic, checksum, count, and the
 * entries (4 KiB aligned, non-empty, sorted, disjoint, inside the
 * region).  A damaged list is rewritten with the entries that are valid
 * in order: forgetting a known-bad range would let it be allocated again,
 * so fsck keeps what it can rather than clearing the list.  The ranges
 * inside the pool become claims of kind CL_BAD.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pass1.h"

static bool bad_entry_ok(const struct fsck *f, const struct hfs_bad_extent *x,
			 uint64_t prev_end)
{
	uint64_t limit = (hfs_super_volume_end(&f->sb) + BLK - 1) & ~(BLK - 1);

	return x->bx_off % BLK == 0 && x->bx_len && x->bx_len % BLK == 0 &&
	       x->bx_off + x->bx_len > x->bx_off &&
	       x->bx_off + x->bx_len <= limit && x->bx_off >= prev_end;
}

/* Keep the entries that are valid in order; returns how many. */
static uint32_t bad_salvage(const struct fsck *f, struct hfs_bad_extent *v,
			    uint32_t n)
{
	uint32_t out = 0;
	uint64_t end = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!bad_entry_ok(f, &v[i], end))
			continue;
		end = v[i].bx_off + v[i].bx_len;
		v[out++] = v[i];
	}
	return out;
}

static int badlist_rewrite(struct fsck *f)
{
	int ret = fsck_begin_write(f);

	if (!ret)
		ret = hfs_badlist_format(f->rg, &f->sb, f->bad, f->nbad);
	return ret;
}

/* What is wrong with the list image in buf (NULL: nothing); *n gets
 * the entry count to salvage from. */
static const char *badlist_why(const struct fsck *f, const uint8_t *buf,
			       uint32_t *n)
{
	uint64_t cap = (f->sb.s_badlist_blocks * BLK -
			sizeof(struct hfs_badlist_hdr)) /
		       sizeof(struct hfs_bad_extent);
	struct hfs_badlist_hdr h;

	memcpy(&h, buf, sizeof(h));
	*n = h.bl_count <= cap ? h.bl_count : (uint32_t)cap;
	if (h.bl_magic != HFS_BADLIST_MAGIC) {
		*n = 0;
		return "bad magic";
	}
	if (h.bl_count > cap)
		return "entry count exceeds its capacity";
	if (h.bl_crc != hfs_crc_struct(buf, sizeof(h) + *n *
				       sizeof(struct hfs_bad_extent),
				       offsetof(struct hfs_badlist_hdr, bl_crc)))
		return "checksum mismatch";
	return NULL;
}

static int badlist_load(struct fsck *f)
{
	size_t len = f->sb.s_badlist_blocks * BLK;
	uint8_t *buf = calloc(1, len);
	const char *why = NULL;
	uint32_t n = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	if (fsck_read(f, f->sb.s_badlist_off, buf, len)) {
		why = "unreadable";
		memset(buf, 0, len);
	}
	why = why ? why : badlist_why(f, buf, &n);
	f->bad = malloc((n ? n : 1) * sizeof(*f->bad));
	if (!f->bad) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(f->bad, buf + sizeof(struct hfs_badlist_hdr), n * sizeof(*f->bad));
	free(buf);
	f->nbad = bad_salvage(f, f->bad, n);
	if (!why && f->nbad != n)
		why = "entries misaligned, unsorted or outside the region";
	if (why && fix_problem(f, HFS_P1_BADLIST_BAD, 0, f->sb.s_badlist_off,
			       "bad-extent list is damaged (%s); %" PRIu32
			       " valid entries kept", why, f->nbad) &&
	    (ret = badlist_rewrite(f)))
		fsck_fix_failed(f, ret);
	return 0;
}

/* The part of [s, e) inside [lo, hi) as a bad claim. */
static int claim_bad_in(struct fsck *f, uint64_t s, uint64_t e, uint64_t lo,
			uint64_t hi)
{
	struct fsck_claim c = { .kind = CL_BAD };

	s = s > lo ? s : lo;
	e = e < hi ? e : hi;
	if (s >= e)
		return 0; /* metadata, a tail or a gap: never allocatable */
	c.pblk = s;
	c.len = e - s;
	if (fsck_claim_add(f, &c))
		return -ENOMEM;
	f->rep->counts.blocks_bad += e - s;
	return 0;
}

/* Each bad extent, clipped to the pool (to each device's pool in a
 * volume of several: a lost device's range covers its header too). */
static int claim_bad(struct fsck *f)
{
	const struct hfs_devtab *t = &f->devtab;

	for (uint32_t i = 0; i < f->nbad; i++) {
		uint64_t s = f->bad[i].bx_off / BLK;
		uint64_t e = (f->bad[i].bx_off + f->bad[i].bx_len) / BLK;
		int ret = 0;

		if (!t->t_count)
			ret = claim_bad_in(f, s, e, f->pool_start, f->pool_end);
		for (uint32_t d = 0; d < t->t_count && !ret; d++)
			ret = claim_bad_in(f, s, e, t->t_dev[d].d_pool_off / BLK,
					   t->t_dev[d].d_pool_off / BLK +
						   t->t_dev[d].d_pool_blocks);
		if (ret)
			return ret;
	}
	f->rep->counts.bad_extents = f->nbad;
	return 0;
}

int p1_badlist(struct fsck *f)
{
	int ret = badlist_load(f);

	return ret ? ret : claim_bad(f);
}
