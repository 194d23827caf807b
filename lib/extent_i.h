/* SPDX-License-Identifier: MIT */
/*
 * Per-inode extent maps in DRAM (extent.c).  Their on-media form (inline
 * extents in the inode slot, then a chain of overflow blocks) is inode.c's
 * (hfs_inode_load, hfs_inode_stage_extents).
 */
#ifndef HOLDFS_EXTENT_I_H
#define HOLDFS_EXTENT_I_H

#include <stddef.h>
#include <stdint.h>

#include <holdfs/format.h>

/* An extent map: extents sorted by e_lblk, non-overlapping. */
struct hfs_emap {
	struct hfs_extent *v;
	uint32_t n;
	size_t cap;        /* elements allocated (grow.h) */
	uint64_t *chain;   /* overflow extent blocks on media, in order */
	uint32_t nchain;
};

void hfs_emap_destroy(struct hfs_emap *m);
/* Index of the extent containing lblk, or of the first one after it
 * (== m->n if none). */
uint32_t hfs_emap_find(const struct hfs_emap *m, uint64_t lblk);
/* Insert a run mapping [lblk, lblk+len) -> pblk; the range must be
 * unmapped.  Merges with neighbours when contiguous. */
int hfs_emap_insert(struct hfs_emap *m, uint64_t lblk, uint64_t pblk,
		    uint32_t len, uint32_t flags);
/* Unmap [lblk, lblk+len): for every freed physical run call
 * put(ctx, pblk, n).  Splits extents as needed. */
int hfs_emap_remove(struct hfs_emap *m, uint64_t lblk, uint64_t len,
		    void (*put)(void *ctx, uint64_t pblk, uint64_t n),
		    void *ctx);
/* Blocks mapped in total. */
uint64_t hfs_emap_blocks(const struct hfs_emap *m);

#endif
