/* SPDX-License-Identifier: MIT */
/*
 * Checking the mount point before anything is opened (fs/mountpoint.c).
 */
#ifndef HOLDFS_FS_MOUNTPOINT_H
#define HOLDFS_FS_MOUNTPOINT_H

/* Is path usable as a holdfs mount point?  On success *abs is its
 * canonical absolute path (malloc'd; libfuse unmounts by that path after
 * the daemon has changed to "/").  On failure a message naming path and
 * the problem has been logged and -1 is returned. */
int hfsd_check_mountpoint(const char *path, char **abs);

#endif
