/* SPDX-License-Identifier: MIT */
/*
 * Running in the background without losing startup errors (fs/detach.c).
 */
#ifndef HOLDFS_FS_DETACH_H
#define HOLDFS_FS_DETACH_H

/* Fork.  The parent waits until the child calls hfsd_detach_finish (and
 * exits 0) or dies (and exits with its status, 1 if it was killed); only
 * the child returns, with the pipe's write end in *ready_fd.  Returns -1
 * (message logged) if the fork itself failed. */
int hfsd_detach_begin(int *ready_fd);

/* Child, once the mount is up: new session, cwd "/", stdio on /dev/null,
 * logging to syslog, then release the parent. */
int hfsd_detach_finish(int ready_fd);

#endif
