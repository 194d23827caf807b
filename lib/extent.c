/* SPDX-License-Identifier: MIT */
/*
 * Per-inode extent maps in DRAM: a sorted array of extents, binary-searched
 * by file block.  The on-media form (inline extents in the inode, then a
 * chain of overflow blocks) is written by hfs_inode_stage_extents().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "extent_i.h"
#include "grow.h"

void hfs_emap_destroy(struct hfs_emap *m)
{
	free(m->v);
	free(m->chain);
	memset(m, 0, sizeof(*m));
}

uint32_t hfs_emap_find(const struct hfs_emap *m, uint64_t lblk)
{
	uint32_t lo = 0, hi = m->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct hfs_extent *e = &m->v[mid];

		if (e->e_lblk + e->e_len <= lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int emap_grow(struct hfs_emap *m, uint32_t more)
{
	return hfs_grow(&m->v, &m->cap, (size_t)m->n + more, sizeof(*m->v));
}

static bool contiguous(const struct hfs_extent *a, const struct hfs_extent *b)
{
	return a->e_lblk + a->e_len == b->e_lblk &&
	       a->e_pblk + a->e_len == b->e_pblk &&
	       a->e_flags == b->e_flags &&
	       (uint64_t)a->e_len + b->e_len <= UINT32_MAX;
}

static void emap_delete(struct hfs_emap *m, uint32_t i)
{
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(m->v[0]));
	m->n--;
}

int hfs_emap_insert(struct hfs_emap *m, uint64_t lblk, uint64_t pblk,
		    uint32_t len, uint32_t flags)
{
	struct hfs_extent e = { lblk, pblk, len, flags };
	uint32_t i = hfs_emap_find(m, lblk);
	int ret;

	if (len == 0)
		return 0;
	if (i < m->n && m->v[i].e_lblk < lblk + len)
		return -EEXIST; /* overlaps a mapped block */
	if (i > 0 && contiguous(&m->v[i - 1], &e)) {
		m->v[i - 1].e_len += len;
		if (i < m->n && contiguous(&m->v[i - 1], &m->v[i])) {
			m->v[i - 1].e_len += m->v[i].e_len;
			emap_delete(m, i);
		}
		return 0;
	}
	if (i < m->n && contiguous(&e, &m->v[i])) {
		m->v[i].e_lblk = lblk;
		m->v[i].e_pblk = pblk;
		m->v[i].e_len += len;
		return 0;
	}
	ret = emap_grow(m, 1);
	if (ret)
		return ret;
	memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(e));
	m->v[i] = e;
	m->n++;
	return 0;
}

int hfs_emap_remove(struct hfs_emap *m, uint64_t lblk, uint64_t len,
		    void (*put)(void *ctx, uint64_t pblk, uint64_t n),
		    void *ctx)
{
	uint64_t end = lblk + len;
	uint32_t i;

	if (len == 0)
		return 0;
	if (end < lblk)
		end = UINT64_MAX;
	/* Splitting one extent in two is the only case that adds one; make
	 * room first so nothing can fail half way. */
	if (emap_grow(m, 1))
		return -ENOMEM;
	i = hfs_emap_find(m, lblk);
	while (i < m->n && m->v[i].e_lblk < end) {
		struct hfs_extent *e = &m->v[i];
		uint64_t es = e->e_lblk, ee = es + e->e_len;
		uint64_t cs = es > lblk ? es : lblk, ce = ee < end ? ee : end;

		if (put)
			put(ctx, e->e_pblk + (cs - es), ce - cs);
		if (cs == es && ce == ee) {
			emap_delete(m, i);
			continue;
		}
		if (cs == es) {
			e->e_pblk += ce - es;
			e->e_lblk = ce;
			e->e_len = (uint32_t)(ee - ce);
		} else if (ce == ee) {
			e->e_len = (uint32_t)(cs - es);
		} else {
			struct hfs_extent tail = { ce, e->e_pblk + (ce - es),
						   (uint32_t)(ee - ce),
						   e->e_flags };

			e->e_len = (uint32_t)(cs - es);
			memmove(&m->v[i + 2], &m->v[i + 1],
				(m->n - i - 1) * sizeof(tail));
			m->v[i + 1] = tail;
			m->n++;
			return 0;
		}
		i++;
	}
	return 0;
}

uint64_t hfs_emap_blocks(const struct hfs_emap *m)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < m->n; i++)
		n += m->v[i].e_len;
	return n;
}
