/* SPDX-License-Identifier: MIT */
/*
 * The bad-extent list of a mounted volume (badlist.c): vol->bad and
 * vol->nbad, under vol->lock.  Writing a whole list on an unmounted
 * region (mkfs, fsck) is public: hfs_badlist_format, media.h.
 */
#ifndef HOLDFS_BADLIST_I_H
#define HOLDFS_BADLIST_I_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct hfs_vol;

/* Mount: read and check the list into vol->bad.  -EUCLEAN or the read's
 * -errno, with a message, if it is damaged or unreadable; -ENOMEM. */
int hfs_badlist_load(struct hfs_vol *vol, struct hfs_err *err);
/* Add [off, off+len) (4 KiB aligned outward) and stage the list. */
int hfs_badlist_add_locked(struct hfs_vol *vol, uint64_t off, uint64_t len);
/* Does region bytes [off, off+len) overlap a bad extent? */
bool hfs_badlist_overlaps(const struct hfs_vol *vol, uint64_t off,
			  uint64_t len);

#endif
