/* SPDX-License-Identifier: MIT */
/*
 * Placement of new blocks on the devices of a volume (placement.c).
 * A volume of one device allocates as it always did.
 */
#ifndef HOLDFS_PLACEMENT_I_H
#define HOLDFS_PLACEMENT_I_H

#include <stdint.h>

#include "rmap_i.h"

struct hfs_vol;

/* Allocate like hfs_alloc_get, on the member the placement rule picks
 * for a block of this kind (caller holds vol->lock).  pref: for file
 * data, the device the file's placement choice names (-1: none), taken
 * instead of the emptiest device when hint names no device in service;
 * ignored when it is not in service, and for metadata. */
int64_t hfs_place_alloc(struct hfs_vol *vol, enum hfs_rmap_kind kind,
			uint64_t want, uint64_t min, uint64_t align,
			uint64_t hint, int pref, uint64_t *got);
/* The member whose pool holds region block blk, or -1 (also for a
 * volume of one device). */
int hfs_place_member_of(const struct hfs_vol *vol, uint64_t blk);
/* Free blocks in member i's pool. */
uint64_t hfs_place_member_free(const struct hfs_vol *vol, unsigned i);
/* Free blocks where hfs_place_alloc puts metadata (device 0's zone, or
 * its pool without a mirror), and where it puts file data (every active
 * device's data pool): a volume of several devices only. */
uint64_t hfs_place_meta_free(const struct hfs_vol *vol);
uint64_t hfs_place_data_free(const struct hfs_vol *vol);

#endif
