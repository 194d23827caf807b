/* SPDX-License-Identifier: MIT */
/*
 * Several devices in one volume (members.c): the device table, member
 * headers, and assembling a volume from the paths a mount (or fsck) is
 * given.  docs/format.md "Several devices".
 */
#ifndef HOLDFS_MEMBERS_H
#define HOLDFS_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "err.h"
#include "region.h"

/* crc of a device table (header and every slot, t_crc zeroed) */
void hfs_devtab_set_crc(struct hfs_devtab *t);
/* Is t a well-formed table for the volume of superblock sb?  false
 * with why filled (entries out of order, overlapping, off their 1 GiB
 * spacing, a pool outside its member or misaligned, a bad state, member
 * 0 or the pool total not the superblock's). */
bool hfs_devtab_ok(const struct hfs_devtab *t, const struct hfs_super *sb,
		   char *why, size_t wlen);
/* The device table at volume offset off (HFS_DEVTAB_OFF in a
 * superblock or member header block): 0, -EUCLEAN (bad magic or crc,
 * why filled), -EIO (media). */
int hfs_devtab_load(struct hfs_region *rg, uint64_t off,
		    const struct hfs_super *sb, struct hfs_devtab *t, char *why,
		    size_t wlen);
void hfs_member_super_set_crc(struct hfs_member_super *m);
/* Is rg a member (not the first device) of a volume?  1 with *h filled
 * when its block 0 holds a valid member header, else 0.  For the error
 * a user gets when naming it where the first device belongs. */
int hfs_member_probe(struct hfs_region *rg, struct hfs_member_super *h);

struct hfs_alloc;
/* Take the blocks between members' pools (headers, member 0's tail with
 * its backup superblock, the unmapped gaps) out of a, an allocator over
 * the whole pool range (hfs_super_pool_range): they are never free.
 * 0, -ENOMEM, -EUCLEAN if a gap was not free (a table that does not
 * match the pool). */
int hfs_devtab_reserve_gaps(const struct hfs_devtab *t, struct hfs_alloc *a);
/* Do the blocks [blk, blk+len) lie inside one member's pool?  Always
 * true for a volume of one device (t_count 0): the caller checks the
 * pool's bounds. */
bool hfs_devtab_range_ok(const struct hfs_devtab *t, uint64_t blk,
			 uint64_t len);

/* Open the members 1.. of the volume whose member 0 is rg (already
 * open; sb its superblock) from paths (any order: each is recognised
 * by its header), check them against the device table, and assemble
 * the volume (hfs_region_assemble).  The table comes from the
 * superblock's block, else the backup superblock's, into *t.  Devices
 * the table says are lost or retired are not mapped (given or not).  An
 * active device not given fails, unless degraded: then it is left
 * unmapped and its bit set in *missing (the caller fails its range).
 * 0 or -errno with err naming the device. */
int hfs_members_assemble(struct hfs_region *rg, const struct hfs_super *sb,
			 const char *const *paths, unsigned npaths,
			 const struct hfs_region_opts *ropts, bool degraded,
			 struct hfs_devtab *t, uint32_t *missing,
			 struct hfs_err *err);
/* The same for a volume whose device 0 is served from its mirror: rg is
 * that slice (hfs_region_open_slice of held, the mirror's device, which
 * the caller opened and holds the lock of: it is opened again here,
 * without one); t is the table read from the mirror.  No mirroring. */
int hfs_members_assemble_from_mirror(struct hfs_region *rg,
				     const struct hfs_super *sb,
				     const struct hfs_region *held,
				     const char *const *paths, unsigned npaths,
				     const struct hfs_region_opts *ropts,
				     bool degraded, struct hfs_devtab *t,
				     uint32_t *missing, struct hfs_err *err);
/* Read and check what the mirror on device held (a member that holds
 * the mirror of device 0) says: the superblock and device table of the
 * volume, and where the mirror starts in held.  0; -ENOENT if held is
 * not the mirror's device (no error set); -EUCLEAN with err. */
int hfs_members_read_mirror(struct hfs_region *held, struct hfs_super *sb,
			    struct hfs_devtab *t, uint64_t *rel,
			    struct hfs_err *err);

#endif
