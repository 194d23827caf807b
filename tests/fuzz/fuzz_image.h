/* SPDX-License-Identifier: MIT */
/*
 * Shared by fuzz_fsck and fuzz_mount: a small valid seed image (16 MiB,
 * built once in memory by tests/fsck/image.c) and the input format, a
 * list of patches applied to its metadata.
 *
 * Input:
 *   byte 0     flags: bit 0 = after patching, recompute every checksum
 *              (superblocks, inodes, entries, chain/xattr blocks, bad
 *              list, health records), so damage gets past the checksums
 *              and reaches the checks behind them
 *   then patches, each:
 *     byte     area (high 3 bits) and length - 1 (low 5 bits: 1..32)
 *     3 bytes  offset in the area, little-endian, taken modulo its size
 *     length   bytes written there
 *   Areas: 0 primary superblock, 1 inode table (used slots), 2 pool
 *   metadata blocks (directories, chains, xattrs, symlink), 3 journal,
 *   4 bad-extent list, 5 health log, 6 backup superblock, 7 everything
 *   from 0 to the end of the used pool.
 *
 * Between runs only the pages written (by the patches or by fsck/mount,
 * seen through tracing persistence ops) are restored, so a run costs what
 * it touches, not 16 MiB.
 */
#ifndef HOLDFS_FUZZ_IMAGE_H
#define HOLDFS_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define FUZZ_F_RECRC 0x1u
#define FUZZ_AREAS 8

struct fuzz_area {
	uint64_t off, len;
};

/* The working image (restored to the seed), as a region.  NULL if the
 * seed could not be built. */
struct hfs_region *fuzz_image_get(void);
/* The areas of the seed layout. */
const struct fuzz_area *fuzz_areas(void);
/* Apply an input to the working image. */
void fuzz_apply(const uint8_t *data, size_t size);
/* Put every page written since the last call back to the seed. */
void fuzz_restore(void);

/* Encode one patch into out (4 + len bytes); returns its size. */
size_t fuzz_patch(uint8_t *out, unsigned area, uint32_t off,
		  const void *bytes, unsigned len);

#endif
