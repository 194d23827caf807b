/* SPDX-License-Identifier: MIT */
/*
 * The reverse map: region offset -> owner.
 *
 * Every pool block a file or directory owns is recorded here with the
 * owning inode and the file block it backs, in a red-black tree keyed by
 * region block (libbsd's sys/tree.h).  "Who owns [off, off+len)" is one
 * lower-bound search plus a walk over the k pieces that overlap:
 * O(log n + k).  Holders (open handles, page cache, DAX leases) hang off
 * the owning inodes; the failure pipeline and the lease service combine
 * the two (see docs/architecture.md).
 *
 * Pieces may be finer than extents (an extent that grew by appends is
 * several pieces); the map never merges, it only splits on removal.
 * Not thread-safe: the volume lock protects it.
 */
#ifndef HOLDFS_RMAP_I_H
#define HOLDFS_RMAP_I_H

#include <stdbool.h>
#include <stdint.h>

enum hfs_rmap_kind {
	HFS_RMAP_DATA = 0,   /* file data */
	HFS_RMAP_DIR = 1,    /* directory block */
	HFS_RMAP_CHAIN = 2,  /* extent overflow block */
	HFS_RMAP_XATTR = 3,  /* xattr block */
};

struct hfs_rmap_piece {
	uint64_t pblk;  /* first region block */
	uint64_t len;   /* blocks */
	uint64_t ino;   /* owner */
	uint64_t lblk;  /* file block backed by pblk (data and dir only) */
	enum hfs_rmap_kind kind;
};

struct hfs_rmap;

struct hfs_rmap *hfs_rmap_new(void);
void hfs_rmap_free(struct hfs_rmap *rm);
/* Record an owned range.  -EEXIST if any of it is already owned (the
 * range is then not recorded), -ENOMEM. */
int hfs_rmap_add(struct hfs_rmap *rm, const struct hfs_rmap_piece *p);
/* Forget [pblk, pblk+len): trims and splits pieces as needed.  -ENOMEM
 * only when a split needs memory (nothing changed then). */
int hfs_rmap_remove(struct hfs_rmap *rm, uint64_t pblk, uint64_t len);
/* Call cb for every piece overlapping [pblk, pblk+len), in region order,
 * clipped to the range.  cb returns non-zero to stop (that value is
 * returned).  Counted (hfs_rmap_queries). */
int hfs_rmap_query(struct hfs_rmap *rm, uint64_t pblk, uint64_t len,
		   int (*cb)(void *ctx, const struct hfs_rmap_piece *p),
		   void *ctx);
uint64_t hfs_rmap_count(const struct hfs_rmap *rm);
/* How many queries this map answered: the unit tests assert how many
 * reads a path makes (one per range failure, tests/unit/test_failure.c). */
uint64_t hfs_rmap_queries(const struct hfs_rmap *rm);

#endif
