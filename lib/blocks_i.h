/* SPDX-License-Identifier: MIT */
/*
 * Pool blocks of a mounted volume (blocks.c): allocation recorded in the
 * rmap, release through the bad list and the DAX release hook, and the
 * claims that derive free space at mount.  Caller holds vol->lock or is
 * mounting.  hfs_vol_free_blocks, the daemon's way back, is in vol.h.
 */
#ifndef HOLDFS_BLOCKS_I_H
#define HOLDFS_BLOCKS_I_H

#include <stdbool.h>
#include <stdint.h>

#include "rmap_i.h"

struct hfs_inode;
struct hfs_vol;

/* Blocks leaving a file (truncate, punch, unlink, overwrite).  They go
 * back to the free index unless the release hook (vol.h, installed by the
 * DAX lease service) keeps them until every mapping of them is revoked;
 * it then frees them with hfs_vol_free_blocks. */
void hfs_vol_release_blocks(struct hfs_vol *vol, uint64_t pblk, uint64_t n);
/* Take the free blocks of region blocks [s, e) (clipped to the pool) out
 * of the free index, block by block: bad ranges are small, and blocks a
 * file still owns stay reserved by the file.  vol->lock held or mount. */
void hfs_vol_reserve_range(struct hfs_vol *vol, uint64_t s, uint64_t e);
/* Allocate blocks for inode ino (hfs_alloc_get semantics) and record
 * them in the rmap as kind, backing file block lblk onwards. */
int64_t hfs_vol_alloc(struct hfs_vol *vol, uint64_t ino,
		      enum hfs_rmap_kind kind, uint64_t lblk, uint64_t want,
		      uint64_t min, uint64_t align, uint64_t hint,
		      uint64_t *got);
/* The same for file data with a placement choice: pref names the device
 * (-1: none; placement_i.h says when it is taken). */
int64_t hfs_vol_alloc_data(struct hfs_vol *vol, uint64_t ino, uint64_t lblk,
			   uint64_t want, uint64_t min, uint64_t align,
			   uint64_t hint, int pref, uint64_t *got);
/* Pool blocks the caller of this thread may still allocate: the free
 * ones, less the reserve for root unless the caller is privileged
 * (hfs_vol_set_caller).  Every "is there room" check before a change
 * asks this, never hfs_vol_alloc itself, so an operation refused for the
 * reserve is refused before it changed anything. */
uint64_t hfs_vol_blocks_avail(const struct hfs_vol *vol);
/* The same, counting only blocks where metadata (directory, extent
 * chain, xattr blocks) may go, or only where file data may: on a volume
 * of several devices these are different places (placement.c), and a
 * check against the whole pool would let a change start that its
 * allocation then cannot finish. */
uint64_t hfs_vol_meta_avail(const struct hfs_vol *vol);
uint64_t hfs_vol_data_avail(const struct hfs_vol *vol);
/* May the caller of this thread take one more inode? */
bool hfs_vol_inode_avail(const struct hfs_vol *vol);
/* Mount: claim every block the loaded inode ip names (extents, chain;
 * its xattr blocks are claimed by hfs_xattr_load) in the free index and
 * the rmap.  A block named twice counts in vol->errors (fsck resolves
 * it); -ENOMEM only. */
int hfs_vol_claim_blocks(struct hfs_vol *vol, struct hfs_inode *ip);
/* Mount: claim one range the same way. */
int hfs_vol_claim_range(struct hfs_vol *vol, uint64_t pblk, uint64_t len,
			uint64_t ino, enum hfs_rmap_kind kind);
/* Mount: reserve every range of the loaded bad-extent list. */
void hfs_vol_reserve_bad(struct hfs_vol *vol);

#endif
