/* SPDX-License-Identifier: MIT */
/*
 * Free-space index of the pool.
 *
 * Nothing about free space is stored on the media: a block is used when
 * some metadata names it.  Mount starts from "the whole pool is free" and
 * reserves every extent it loads (hfs_alloc_reserve), which also catches
 * blocks owned twice.  The index is a sorted array of free runs; it stays
 * short because runs merge on free, and allocation is first fit from a
 * hint (the end of the file's last extent), which keeps files contiguous.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "grow.h"

int hfs_alloc_init(struct hfs_alloc *a, uint64_t start, uint64_t end)
{
	memset(a, 0, sizeof(*a));
	a->pool_start = start;
	a->pool_end = end;
	a->cap = 64;
	a->runs = calloc(a->cap, sizeof(*a->runs));
	if (!a->runs)
		return -ENOMEM;
	if (end > start) {
		a->runs[0] = (struct hfs_run){ start, end - start };
		a->n = 1;
		a->free_blocks = end - start;
	}
	return 0;
}

void hfs_alloc_destroy(struct hfs_alloc *a)
{
	free(a->runs);
	memset(a, 0, sizeof(*a));
}

/* Index of the first run that ends after blk. */
static size_t run_find(const struct hfs_alloc *a, uint64_t blk)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->runs[mid].start + a->runs[mid].len <= blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int run_insert(struct hfs_alloc *a, size_t i, struct hfs_run r)
{
	if (a->n == a->cap &&
	    hfs_grow(&a->runs, &a->cap, a->n + 1, sizeof(*a->runs)))
		return -ENOMEM;
	memmove(&a->runs[i + 1], &a->runs[i], (a->n - i) * sizeof(r));
	a->runs[i] = r;
	a->n++;
	return 0;
}

static void run_delete(struct hfs_alloc *a, size_t i)
{
	memmove(&a->runs[i], &a->runs[i + 1], (a->n - i - 1) * sizeof(a->runs[0]));
	a->n--;
}

/* Take [start, start+len) out of run i, which must contain it. */
static int run_carve(struct hfs_alloc *a, size_t i, uint64_t start,
		     uint64_t len)
{
	struct hfs_run *r = &a->runs[i];
	uint64_t rend = r->start + r->len, end = start + len;
	int ret = 0;

	if (start == r->start && end == rend) {
		run_delete(a, i);
	} else if (start == r->start) {
		r->start = end;
		r->len = rend - end;
	} else if (end == rend) {
		r->len = start - r->start;
	} else {
		struct hfs_run tail = { end, rend - end };

		r->len = start - r->start;
		ret = run_insert(a, i + 1, tail);
		if (ret) { /* undo: leave the run whole */
			r->len = rend - r->start;
			return ret;
		}
	}
	a->free_blocks -= len;
	return 0;
}

int hfs_alloc_reserve(struct hfs_alloc *a, uint64_t start, uint64_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	if (start < a->pool_start || start + len > a->pool_end ||
	    start + len < start)
		return -ERANGE;
	i = run_find(a, start);
	if (i == a->n || a->runs[i].start > start ||
	    a->runs[i].start + a->runs[i].len < start + len)
		return -EEXIST;
	return run_carve(a, i, start, len);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Best aligned piece of run r: returns its length (multiple of align,
 * capped at want) and its start in *at. */
static uint64_t run_fit(const struct hfs_run *r, uint64_t want, uint64_t align,
			uint64_t from, uint64_t *at)
{
	uint64_t s = align_up(from > r->start ? from : r->start, align);
	uint64_t end = r->start + r->len, n;

	if (s >= end)
		return 0;
	n = (end - s) / align * align;
	*at = s;
	return n < want ? n : want;
}

/* First fit scanning from index i0 and position from, inside [lo, hi):
 * the first run that satisfies want completely wins; otherwise the
 * biggest piece >= min. */
static int64_t alloc_scan(struct hfs_alloc *a, size_t i0, uint64_t from,
			  uint64_t want, uint64_t min, uint64_t align,
			  uint64_t lo, uint64_t hi, uint64_t *got)
{
	uint64_t best = 0, best_at = 0;
	size_t best_i = 0;

	for (size_t k = 0; k < a->n; k++) {
		size_t i = (i0 + k) % a->n;
		struct hfs_run r = a->runs[i];
		uint64_t at = 0, n;

		/* the part of the run inside [lo, hi) */
		if (r.start < lo) {
			r.len = r.start + r.len > lo ? r.start + r.len - lo : 0;
			r.start = lo;
		}
		if (r.start + r.len > hi)
			r.len = r.start < hi ? hi - r.start : 0;
		if (r.len == 0)
			continue;
		n = run_fit(&r, want, align, k == 0 ? from : 0, &at);

		if (n > best) {
			best = n;
			best_at = at;
			best_i = i;
			if (n == want)
				break;
		}
	}
	if (best < min || best == 0)
		return -ENOSPC;
	if (run_carve(a, best_i, best_at, best))
		return -ENOMEM;
	*got = best;
	return (int64_t)best_at;
}

int64_t hfs_alloc_get(struct hfs_alloc *a, uint64_t want, uint64_t min,
		      uint64_t align, uint64_t hint, uint64_t *got)
{
	size_t i0;

	if (align == 0)
		align = 1;
	if (min == 0)
		min = align;
	if (a->n == 0 || want == 0)
		return -ENOSPC;
	if (hint < a->pool_start || hint >= a->pool_end)
		hint = a->pool_start;
	i0 = run_find(a, hint);
	if (i0 == a->n)
		i0 = 0;
	return alloc_scan(a, i0, hint, want, min, align, a->pool_start,
			  a->pool_end, got);
}

uint64_t hfs_alloc_take_range(struct hfs_alloc *a, uint64_t start,
			      uint64_t end)
{
	uint64_t taken = 0;

	if (start < a->pool_start)
		start = a->pool_start;
	if (end > a->pool_end)
		end = a->pool_end;
	while (start < end) {
		size_t i = run_find(a, start);
		uint64_t s, e;

		if (i == a->n || a->runs[i].start >= end)
			break;
		s = a->runs[i].start > start ? a->runs[i].start : start;
		e = a->runs[i].start + a->runs[i].len;
		if (e > end)
			e = end;
		if (run_carve(a, i, s, e - s))
			break; /* out of memory: the rest stays free */
		taken += e - s;
		start = e;
	}
	return taken;
}

int64_t hfs_alloc_get_in(struct hfs_alloc *a, uint64_t want, uint64_t min,
			 uint64_t align, uint64_t hint, uint64_t lo,
			 uint64_t hi, uint64_t *got)
{
	size_t i0;

	if (align == 0)
		align = 1;
	if (min == 0)
		min = align;
	if (a->n == 0 || want == 0 || lo >= hi)
		return -ENOSPC;
	if (hint < lo || hint >= hi)
		hint = lo;
	i0 = run_find(a, hint);
	if (i0 == a->n)
		i0 = 0;
	return alloc_scan(a, i0, hint, want, min, align, lo, hi, got);
}

uint64_t hfs_alloc_free_in(const struct hfs_alloc *a, uint64_t lo,
			   uint64_t hi)
{
	uint64_t sum = 0;

	for (size_t i = run_find(a, lo); i < a->n && a->runs[i].start < hi;
	     i++) {
		uint64_t s = a->runs[i].start > lo ? a->runs[i].start : lo;
		uint64_t e = a->runs[i].start + a->runs[i].len;

		if (e > hi)
			e = hi;
		if (e > s)
			sum += e - s;
	}
	return sum;
}

void hfs_alloc_put(struct hfs_alloc *a, uint64_t start, uint64_t len)
{
	size_t i;
	bool left, right;

	if (len == 0)
		return;
	i = run_find(a, start);
	left = i > 0 && a->runs[i - 1].start + a->runs[i - 1].len == start;
	right = i < a->n && a->runs[i].start == start + len;
	a->free_blocks += len;
	if (left && right) {
		a->runs[i - 1].len += len + a->runs[i].len;
		run_delete(a, i);
	} else if (left) {
		a->runs[i - 1].len += len;
	} else if (right) {
		a->runs[i].start = start;
		a->runs[i].len += len;
	} else if (run_insert(a, i, (struct hfs_run){ start, len })) {
		/* Out of memory: the blocks leak until the next mount, which
		 * derives free space again.  Never lose metadata over it. */
		a->free_blocks -= len;
	}
}
