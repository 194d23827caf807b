/* SPDX-License-Identifier: MIT */
/*
 * Checking the mount point before anything is opened (fs/mountpoint.c).
 */
#ifndef HOLDFS_FS_MOUNTPOINT_H
#define HOLDFS_FS_MOUNTPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Is path usable as a holdfs mount point?  On success *abs is its
 * canonical absolute path (malloc'd; libfuse unmounts by that path after
 * the daemon has changed to "/").  On failure a message naming path and
 * the problem has been logged and -1 is returned. */
int hfsd_check_mountpoint(const char *path, char **abs);

/* One /proc/PID/mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [TAGS] - FSTYPE SOURCE SUPEROPTS".  Fills mnt, fstype and source
 * (pointers into line, unescaped; line is cut up); false for a line it
 * cannot read. */
bool hfsd_parse_mountinfo(char *line, char **mnt, char **fstype,
			  char **source);

/* Is a holdfs mounted at the absolute path abs?  Copies its source (the
 * region, unless fsname= said otherwise) into src if so. */
bool hfsd_holdfs_mounted_at(const char *abs, char *src, size_t len);

/* st_dev of the filesystem mounted at mnt (the last mount on that path),
 * from /proc/self/mountinfo: no FUSE request, so it works before the
 * session loop serves.  0, or -1 if mnt is not a mount point. */
int hfsd_mount_dev(const char *mnt, dev_t *dev);

#endif
