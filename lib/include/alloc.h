/* SPDX-License-Identifier: MIT */
/*
 * The free-space index (alloc.c): free region blocks as a sorted array of
 * disjoint, non-adjacent runs, first-fit allocation from a hint.
 *
 * Public because it is a plain data structure two users build the same
 * way: a mounted volume derives its free space with it (every block some
 * metadata names is reserved; lib/blocks.c), and fsck.holdfs builds its
 * own from the blocks its passes find claimed, to allocate repair blocks
 * and to count free space.  It knows nothing of the media or of a volume.
 * Not thread-safe: its owner's lock protects it.
 */
#ifndef HOLDFS_ALLOC_H
#define HOLDFS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct hfs_run {
	uint64_t start, len; /* region blocks */
};

struct hfs_alloc {
	struct hfs_run *runs;
	size_t n, cap;
	uint64_t free_blocks;
	uint64_t pool_start, pool_end; /* region blocks */
};

/* The pool [start, end) (region blocks), all free.  -ENOMEM. */
int hfs_alloc_init(struct hfs_alloc *a, uint64_t start, uint64_t end);
void hfs_alloc_destroy(struct hfs_alloc *a);
/* Remove a used range from the free index (it must be free: returns
 * -EEXIST if any of it is already used, -ERANGE outside the pool). */
int hfs_alloc_reserve(struct hfs_alloc *a, uint64_t start, uint64_t len);
/* Allocate up to want blocks, at least min, aligned to align blocks
 * (want, min multiples of align); prefer placing at/after hint.  Returns
 * the start block and sets *got, or -ENOSPC. */
int64_t hfs_alloc_get(struct hfs_alloc *a, uint64_t want, uint64_t min,
		      uint64_t align, uint64_t hint, uint64_t *got);
/* The same, taking blocks only inside [lo, hi) (one member's pool). */
int64_t hfs_alloc_get_in(struct hfs_alloc *a, uint64_t want, uint64_t min,
			 uint64_t align, uint64_t hint, uint64_t lo,
			 uint64_t hi, uint64_t *got);
/* Take every free block of [start, end) out of the index, whatever is
 * used already (a failed range, the gaps between devices): cost in the
 * number of free runs there, not of blocks.  Returns how many it took;
 * fewer than free on -ENOMEM (those stay free). */
uint64_t hfs_alloc_take_range(struct hfs_alloc *a, uint64_t start,
			      uint64_t end);
/* Free blocks inside [lo, hi). */
uint64_t hfs_alloc_free_in(const struct hfs_alloc *a, uint64_t lo,
			   uint64_t hi);
/* Return a range to the free index (merging neighbours). */
void hfs_alloc_put(struct hfs_alloc *a, uint64_t start, uint64_t len);

#endif
