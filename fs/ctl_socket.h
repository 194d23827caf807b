/* SPDX-License-Identifier: MIT */
/*
 * The control socket's names in /run/holdfs (ctl_socket.c): created,
 * published and removed under the directory lock, so daemons starting
 * and stopping side by side never take each other's names.
 */
#ifndef HOLDFS_FS_CTL_SOCKET_H
#define HOLDFS_FS_CTL_SOCKET_H

#include "ctl_i.h"

/* Longest wait for the directory lock (another daemon's sweep, bind and
 * listen take well under a millisecond; this only bounds a stuck one). */
#define HFSD_CTL_LOCK_MS 2000u

/* Create /run/holdfs, sweep stale names, bind and listen on
 * <uuid>.sock (c->lfd, c->sock_path).  0, or -1 with errno. */
int hfsd_ctl_socket_open(struct hfsd_ctl *c);
/* Publish the discovery symlink dev/<major>:<minor> of the mount (logs
 * and disables DAX leases if the mount cannot be found). */
void hfsd_ctl_socket_publish(struct hfsd_ctl *c);
/* Remove the symlink and the socket, each only if it is still ours. */
void hfsd_ctl_socket_remove(struct hfsd_ctl *c);

#endif
