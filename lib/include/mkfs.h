/* SPDX-License-Identifier: MIT */
/*
 * Formatting a region (the work of mkfs.holdfs, without its command line).
 */
#ifndef HOLDFS_MKFS_H
#define HOLDFS_MKFS_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "err.h"
#include "region.h"

#define HFS_MKFS_NO_DSLOTS UINT32_MAX
#define HFS_MKFS_DSLOTS_MAX 65536u

struct hfs_mkfs_opts {
	uint64_t alloc_unit;     /* bytes; 0 = region alignment (>= 4 KiB) */
	const char *label;       /* NULL = none; at most HFS_LABEL_MAX-1 bytes */
	uint64_t inode_count;    /* 0 = one per 16 KiB, capped at 4M */
	uint64_t journal_blocks; /* 0 = HFS_JOURNAL_BLOCKS */
	const uint8_t *uuid;     /* NULL = random */
	unsigned root_pct;       /* % of pool blocks and inodes only root
				    may take (mkfs -m); 0 = none */
	uint32_t dslots;         /* data-path slots (docs/data-path.md);
				    0 = one per 256 KiB of region, 64 to
				    4096; HFS_MKFS_NO_DSLOTS = no area */
	/* Known bad ranges (byte offsets/lengths): recorded in the bad-extent
	 * list, never allocated. */
	const struct hfs_bad_extent *bad;
	uint32_t nbad;
};

/* What mkfs laid out, for the tool's summary. */
struct hfs_mkfs_result {
	struct hfs_super sb;
	struct hfs_devtab devtab; /* hfs_mkfs_members: t_count 0 before */
};

/* Format rg.  Fails with a message if the region is too small, the
 * alloc unit is not a power of two multiple of 4 KiB, or the region size
 * or alignment do not fit the alloc unit. Does not check for an existing
 * filesystem: that is the tool's decision (hfs_super_probe). */
int hfs_mkfs(struct hfs_region *rg, const struct hfs_mkfs_opts *opts,
	     struct hfs_mkfs_result *res, struct hfs_err *err);

/* Make the region rg, just formatted by hfs_mkfs (res its result; the
 * allocation unit must be a multiple of every member's alignment), the
 * first of n devices; others[0..n-2] become members 1..n-1 (opened
 * read-write, not formatted; they stay the caller's).  mirror: member 0
 * gets a metadata zone at the start of its pool (meta_size bytes, 0 for
 * the default) and member 1 a copy of member 0's metadata (its areas and
 * the zone: the metadata survives losing either), taken from member 1's
 * pool.  Writes their
 * headers, then the device table and the MULTIDEV feature into rg's
 * superblocks; updates res.  docs/format.md "Several devices". */
int hfs_mkfs_members(struct hfs_region *rg, struct hfs_region **others,
		     unsigned n, bool mirror, uint64_t meta_size,
		     struct hfs_mkfs_result *res, struct hfs_err *err);

/* Does rg hold a holdfs superblock (primary or backup, crc valid)?
 * Returns 1 and fills sb if so, 0 if not. */
int hfs_super_probe(struct hfs_region *rg, struct hfs_super *sb);

#endif
