/* SPDX-License-Identifier: MIT */
/*
 * A new mirror of device 0's metadata on a new device, for a volume
 * whose mirror's device was lost (lib/mirror_add.c; the tool is
 * mkfs.holdfs --add-mirror; docs/format.md "A new mirror").
 */
#ifndef HOLDFS_MIRROR_ADD_H
#define HOLDFS_MIRROR_ADD_H

#include <stdbool.h>

#include <holdfs/format.h>

#include "err.h"
#include "region.h"

/* The writes, in their order (docs/format.md "A new mirror"): the first
 * two on the new device only, then device 0's table and superblock,
 * primary before backup. */
enum hfs_mirror_add_step {
	HFS_MIRROR_ADD_COPY = 1,     /* new device: the mirror's bytes */
	HFS_MIRROR_ADD_HEADER,       /* new device: its member header */
	HFS_MIRROR_ADD_TABLE,        /* device 0: primary device table */
	HFS_MIRROR_ADD_SUPER,        /* device 0: primary superblock */
	HFS_MIRROR_ADD_BACKUP_TABLE, /* device 0: backup device table */
	HFS_MIRROR_ADD_BACKUP_SUPER, /* device 0: backup superblock */
	HFS_MIRROR_ADD_STEPS = HFS_MIRROR_ADD_BACKUP_SUPER,
};

struct hfs_mirror_add_opts {
	bool force; /* the new device may hold another holdfs or member */
	/* Tests: stop (-EINTR) once this step is written, as a crash
	 * there would; 0: go to the end. */
	unsigned stop_after;
};

struct hfs_mirror_add_result {
	struct hfs_super sb;    /* device 0's superblock now */
	struct hfs_devtab t;    /* the device table now */
	unsigned index;         /* the new device's */
	bool reused_own;        /* the new device held this volume's header
				 * from a run that stopped before the switch */
	bool overwrote;         /* it held another holdfs or member (force) */
	bool switching;         /* device 0 was being written: after an
				 * error the new device may be a member */
};

/* Can the volume of device 0 rg (superblock sb, read from the primary;
 * t its device table, t_count 0 for a volume of one device) be given a
 * new mirror at all?  0, or -errno with the reason and what to do (a
 * volume of one device, made --no-mirror, its mirror still working,
 * device 0 lost, the table full, not cleanly unmounted). */
int hfs_mirror_add_check(struct hfs_region *rg, const struct hfs_super *sb,
			 const struct hfs_devtab *t, struct hfs_err *err);

/* Make nd (opened read-write, not part of rg) device t_count of the
 * volume whose device 0 is rg (assembled with its members: no mount can
 * hold it), and the mirror of device 0's metadata: nd's header, a copy
 * of device 0's bytes [0, s_meta_end) one allocation unit into nd, its
 * pool after that; then device 0's device table and superblock switched
 * to name it.  Checks hfs_mirror_add_check and nd (large enough for the
 * mirror and one allocation unit of pool, its alignment dividing the
 * allocation unit, the same store granularity, no holdfs or member
 * header on it unless opts->force or its header is this volume's from a
 * run that stopped before the switch) before writing anything.  A crash
 * (or an error) at any point leaves the old volume (nd no member; run
 * again) or the new one.  0 with *res filled, or -errno with err. */
int hfs_mirror_add(struct hfs_region *rg, const struct hfs_super *sb,
		   const struct hfs_devtab *t, struct hfs_region *nd,
		   const struct hfs_mirror_add_opts *opts,
		   struct hfs_mirror_add_result *res, struct hfs_err *err);

#endif
