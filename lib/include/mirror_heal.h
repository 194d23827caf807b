/* SPDX-License-Identifier: MIT */
/*
 * Picking the good copy of device 0's metadata (docs/format.md "Which
 * copy wins"): a volume of several devices keeps device 0's metadata
 * bytes [0, s_meta_end) twice, on device 0 and in the mirror on device 1.
 * When device 0's copy of one structure fails its own check (checksum,
 * magic, a torn record, unreadable) and the mirror's passes, the
 * mirror's is written back over device 0's; when both fail, nothing is
 * written (never "repaired" from garbage) and the caller is told.
 *
 * Used by mount (lib/vol_heal.c: repairs, logs them in the health log)
 * and fsck (pass 0: reports each as P0_MIRROR_REPAIR or
 * P0_MIRROR_BOTH_BAD, repairs with -y/-p).  The copies are reached
 * through hooks so a caller can read through an overlay (fsck -n) or
 * from a buffer (the crash harness).
 */
#ifndef HOLDFS_MIRROR_HEAL_H
#define HOLDFS_MIRROR_HEAL_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "region.h"

enum hfs_heal_what {
	HFS_HEAL_SUPER = 1,   /* primary superblock, 512 bytes */
	HFS_HEAL_DEVTAB,      /* the device table beside it */
	HFS_HEAL_JOURNAL,     /* journal header and records */
	HFS_HEAL_HEALTH,      /* one health log record */
	HFS_HEAL_BADLIST,     /* the bad-extent list */
	HFS_HEAL_INODE,       /* one inode slot */
	HFS_HEAL_DENTRY,      /* one directory entry slot (zone) */
	HFS_HEAL_CHAIN,       /* an extent, xattr or value block (zone) */
};

struct hfs_heal_item {
	enum hfs_heal_what what;
	bool both_bad;     /* neither copy passes: nothing to repair from */
	uint64_t off, len; /* device 0's bytes */
	uint64_t ino;      /* HFS_HEAL_INODE: the slot */
	const char *why;   /* what is wrong with device 0's copy */
};

struct hfs_heal_io {
	/* Copy `mirror` (0: device 0, 1: the mirror) of device 0's bytes
	 * [off, off + len).  0 or -errno (-EIO: unreadable). */
	int (*read)(void *ctx, int mirror, uint64_t off, void *buf,
		    size_t len);
	/* Write device 0's bytes [off, off + len) (persisted). */
	int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
	/* An item found: return true to repair (device 0 from the mirror;
	 * never asked for a both_bad item's repair: its return is ignored). */
	bool (*found)(void *ctx, const struct hfs_heal_item *it);
	/* After a repair was tried: 0 or the write's -errno. */
	void (*done)(void *ctx, const struct hfs_heal_item *it, int ret);
	void *ctx;
	const struct hfs_region *rg; /* bounds of journal records */
};

struct hfs_heal_sum {
	uint64_t repaired, both_bad, failed;
	bool super;   /* the primary superblock was repaired: read it again */
	/* Device 0's primary superblock failed its check, the mirror's
	 * passed, and writing it back failed (poison a write does not
	 * clear): the mirror's copy, which wins all the same (never the
	 * older backup). */
	bool super_stuck;
	struct hfs_super super_copy;
	/* Device 0's journal did not read (media error).  The mirror's
	 * decides: journal_mirror when its transaction is to be replayed
	 * (it passed, and its j_seq is not behind), else there is none;
	 * journal_both_bad when the mirror's fails its check too (a
	 * committed transaction may be in neither: the caller refuses).
	 * journal_span: device 0's journal bytes the decision needs
	 * readable (header and the transaction the mirror's holds). */
	bool journal_io, journal_mirror, journal_both_bad;
	uint64_t journal_span;
};

/* Before the journal replays: the primary superblock, the device table
 * and the journal.  sb: the superblock the caller chose (primary, or the
 * backup when the primary is bad: the geometry is the same). */
int hfs_heal_before_replay(const struct hfs_super *sb,
			   const struct hfs_heal_io *io,
			   struct hfs_heal_sum *sum);

/* After the replay (which rewrote every home location a crash may have
 * torn, on both copies): the health log, the bad-extent list, inode slots
 * [1, hwm) and, with zone, every block of the metadata zone (fsck; mount
 * checks a zone block when it reads it, hfs_heal_zone_block).  The
 * data-path slots are not compared: clients store into device 0's slots
 * directly, never into the mirror, so the mirror's are not a copy
 * (docs/format.md). */
int hfs_heal_after_replay(const struct hfs_super *sb, uint64_t hwm,
			  bool zone, const struct hfs_heal_io *io,
			  struct hfs_heal_sum *sum);
/* One block of the metadata zone at device 0's offset off. */
int hfs_heal_zone_block(uint64_t off, const struct hfs_heal_io *io,
			struct hfs_heal_sum *sum);

/* Both of device 0's superblocks bad: the volume's superblock from the
 * mirror, found on one of the devices paths names (opened read-only,
 * without a lock, and closed again), if rg's own device table (primary
 * or backup) is the one in the mirror, so rg is that volume's device 0
 * and nothing else.  The caller then assembles the volume with it and
 * the comparison before the replay rewrites device 0's primary.  0 with
 * *sb, -ENOENT (no such mirror), -ENOMEM. */
int hfs_mirror_find_super(struct hfs_region *rg, const char *const *paths,
			  unsigned n, struct hfs_super *sb);

const char *hfs_heal_what_name(enum hfs_heal_what w);

#endif
