/* SPDX-License-Identifier: MIT */
/*
 * Remounting a running holdfs (fs/remount.c): the mount -o remount
 * command, and the daemon following its kernel mount's flags.
 */
#ifndef HOLDFS_FS_REMOUNT_H
#define HOLDFS_FS_REMOUNT_H

#include <stdbool.h>

#include "daemon.h"
#include "options.h"

struct hfsd_ctl;
struct hfsd_remount_watch;

/* holdfs REGION MNT -o remount,...: change the kernel mount at MNT.
 * Returns the exit status (0, or 1 after logging why). */
int hfsd_remount(const struct hfsd_opts *o);

/* After the mount: follow the kernel mount's read-only and atime flags
 * (atime, nodiratime: the policy the mount was given).  ctl may be NULL.
 * 0, or -1 (the daemon then does not notice remounts). */
int hfsd_remount_watch_start(struct hfsd *d, struct hfsd_ctl *ctl,
			     const char *mnt, enum hfs_atime atime,
			     bool nodiratime,
			     struct hfsd_remount_watch **out);
/* Before the control server stops.  NULL is fine. */
void hfsd_remount_watch_stop(struct hfsd_remount_watch *w);

#endif
