/* SPDX-License-Identifier: MIT */
/*
 * A new mount waiting, bounded, for a daemon that has lost its mount to
 * close the region (fs/region_wait.c).
 */
#ifndef HOLDFS_FS_REGION_WAIT_H
#define HOLDFS_FS_REGION_WAIT_H

#include <stdbool.h>

#include "daemon.h"

/* region is held (its open failed with EBUSY).  If the holder is a FUSE
 * server none of whose mounts is left, wait up to timeout_ms for it to
 * let go, logging what it waits for and when it gives up.  true: the
 * region is free now (or its holder is gone), open it again; false:
 * refuse as usual. */
bool hfsd_region_wait_holder(const char *region, unsigned timeout_ms);

#endif
