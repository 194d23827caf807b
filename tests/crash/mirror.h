/* SPDX-License-Identifier: MIT */
/*
 * Mirrored metadata in the crash harness (docs/crash-testing.md,
 * "Mirrored metadata").
 *
 * A real mirrored volume spans two devices (lib/region_mirror.c copies
 * every store into device 0's bytes [0, s_meta_end) to device 1); the
 * harness's images are one memory buffer, so the mirror lives in the
 * buffer's tail instead: with --mirror the image is WL_FS_SIZE +
 * MIRROR_SPACE bytes, the filesystem is formatted on the first
 * WL_FS_SIZE, its metadata areas
 * [0, s_pool_off) are copied at MIRROR_OFF, and the harness's mirror
 * ops (mirror.c) do exactly what region_mirror.c does: every store into
 * [0, mirror_len) is repeated at MIRROR_OFF right after, with the same
 * flags, through the traced ops, so the crash-state generator sees
 * device 0's stores and the mirror's as separate units and enumerates
 * their orders like any others.  The last 4 KiB block of the buffer
 * holds a copy of the backup superblock (mount looks for a backup in the
 * region's last block).
 *
 * Not modelled: the metadata zone (directory, extent and xattr blocks
 * stay in the pool, unmirrored, as on one device) and the device table.
 */
#ifndef CRASH_MIRROR_H
#define CRASH_MIRROR_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "region.h"

#define MIRROR_SPACE (4ull << 20)
#define MIRROR_OFF WL_FS_SIZE

/* --mirror: every run's volume is mirrored (set once, before runs, with
 * mirror_enable: the image grows by MIRROR_SPACE). */
extern bool crash_mirror;
void mirror_enable(void);
/* Bytes mirrored: the formatted volume's s_pool_off (mirror_format). */
extern uint64_t mirror_len;

/* After workload_mkfs formatted img's first WL_FS_SIZE bytes (sb: the
 * new superblock): the mirror's copy and the backup superblock at the
 * image's end.  0, or -ENOSPC with why when the metadata does not fit. */
int mirror_format(uint8_t *img, const struct hfs_super *sb, char *why,
		  size_t len);
/* Install the mirror ops on rg over the ops it has (the trace's, or an
 * undo log's).  One at a time. */
void mirror_attach(struct hfs_region *rg);
void mirror_detach(struct hfs_region *rg);

/* The copies mount compares (lib/mirror_heal.h) for a region over a
 * mirrored image: device 0 through rg, the mirror from the buffer. */
struct hfs_heal_io;
void mirror_heal_io(struct hfs_region *rg, struct hfs_heal_io *io);

/* "Device 0 lost": the mirror's bytes copied over device 0's metadata
 * areas through rg's ops (an undo log's: rolled back by the caller). */
void mirror_promote(struct hfs_region *rg);

#endif
