/* SPDX-License-Identifier: MIT */
/*
 * The placement choice, trusted.holdfs.device (place_choice.c;
 * HFS_PLACE_XATTR and the stored form in media.h; docs/format.md
 * "Placement").  Every function: vol->lock held.
 */
#ifndef HOLDFS_PLACE_CHOICE_I_H
#define HOLDFS_PLACE_CHOICE_I_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"

struct hfs_vol;
struct hfs_inode;

/* What setxattr may give: a device index in the stored form, or the
 * device's UUID (8-4-4-4-12 hex, either case).  The index of a device
 * of this volume that is active and takes data, else -EINVAL. */
int hfs_place_choice_parse(const struct hfs_vol *vol, const void *v,
			   size_t len);
/* setxattr of HFS_PLACE_XATTR on ip: stores the index (staged; the
 * caller commits).  -EOPNOTSUPP on a volume of one device; -EINVAL for
 * a value hfs_place_choice_parse refuses or an inode that is neither a
 * directory nor a regular file; -EBUSY for a regular file that already
 * has blocks (its data is not moved); else as hfs_xattr_set_locked. */
int hfs_place_choice_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				const void *v, size_t len, int flags);
/* The device ip's stored choice names (whatever its state), -ENODATA
 * (none), -EUCLEAN (a value fsck drops), or a read error. */
int hfs_place_choice_get_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* For placement: the device ip's choice names, or -1 (none, not valid,
 * or a volume of one device). */
int hfs_place_choice_pref(struct hfs_vol *vol, struct hfs_inode *ip);
/* A new inode of this mode (directory or regular file) created in dip
 * inherits dip's choice: its value in out, and its length; 0 when there
 * is none (or it is not a valid one, which is not spread). */
size_t hfs_place_choice_inherit(struct hfs_vol *vol, struct hfs_inode *dip,
				uint32_t mode, char out[HFS_PLACE_VALUE_MAX]);

#endif
