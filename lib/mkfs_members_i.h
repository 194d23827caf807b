/* SPDX-License-Identifier: MIT */
/*
 * The pieces of formatting a member (lib/mkfs_members.c) that giving a
 * volume a new mirror (lib/mirror_add.c) does again on one device.
 */
#ifndef HOLDFS_MKFS_MEMBERS_I_H
#define HOLDFS_MKFS_MEMBERS_I_H

#include <stdint.h>

#include <holdfs/format.h>

#include "err.h"
#include "region.h"

/* A random RFC 4122 version 4 UUID; path names the device in the
 * message should the kernel refuse. */
int hfs_member_random_uuid(uint8_t u[16], const char *path,
			   struct hfs_err *err);
/* Block 0 of member i, m (its own offsets): the header naming the
 * volume of sb and the member's UUID in t, then the table t. */
int hfs_member_write_header(struct hfs_region *m, unsigned i,
			    const struct hfs_super *sb,
			    const struct hfs_devtab *t, struct hfs_err *err);
/* Device 0's bytes [0, s_meta_end) read from rg into m at byte at. */
int hfs_member_copy_metadata(struct hfs_region *rg, struct hfs_region *m,
			     uint64_t at, const struct hfs_super *sb,
			     struct hfs_err *err);
/* sb and t into the copy of device 0 starting at byte at of dst: at 0
 * (device 0 itself) the backup's table and superblock, then the
 * primary's; elsewhere (a mirror) the primary's only.  Each write is
 * persisted before the next; -errno. */
int hfs_member_write_super_and_table(struct hfs_region *dst, uint64_t at,
				     const struct hfs_super *sb,
				     const struct hfs_devtab *t);

#endif
