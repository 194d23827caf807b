/* SPDX-License-Identifier: MIT */
/*
 * The health log of a mounted volume (health.c).  Walking the log of an
 * unmounted region and naming record types are public: media.h.
 */
#ifndef HOLDFS_HEALTH_I_H
#define HOLDFS_HEALTH_I_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

struct hfs_region;
struct hfs_vol;

/* Append a record (direct persisted write, not journaled).  Best effort:
 * returns -errno but callers may ignore it when the media is gone. */
int hfs_health_log(struct hfs_vol *vol, enum hfs_health_type type,
		   uint64_t off, uint64_t len, uint64_t ino, const char *msg);
/* Hold (true) or let go (false) of the health log's writers: the
 * switch to the mirror (vol_failover.c) replaces the mapping they write
 * through.  Taken after vol->lock, never the other way round. */
void hfs_health_quiesce(bool hold);
/* Highest valid sequence number in the log (0 if empty). */
uint64_t hfs_health_last_seq(struct hfs_region *rg,
			     const struct hfs_super *sb);

#endif
