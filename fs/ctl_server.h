/* SPDX-License-Identifier: MIT */
/*
 * The control server: the DAX lease protocol over a SOCK_SEQPACKET unix
 * socket at /run/holdfs/<uuid>.sock (docs/lease-protocol.md), served by
 * its own thread with a liburing event loop.
 */
#ifndef HOLDFS_FS_CTL_SERVER_H
#define HOLDFS_FS_CTL_SERVER_H

#include "daemon.h"

struct hfsd_ctl;

/* -o max_clients, max_clients_per_uid (ctl_admit.c): connections the
 * users other than root may hold together, and each of them.  Each costs
 * the daemon up to four descriptors and a small buffer; 128 is more DAX
 * processes than one user runs on a machine, and the per-uid bound, not
 * the total, is what keeps one user from crowding out the others.
 * Root's own bound is apart from everyone else's, so holdfsctl gets in
 * even when every other slot is taken.  Plain decimals: options.c
 * prints them. */
#define HFSD_MAX_CLIENTS 1024
#define HFSD_MAX_CLIENTS_PER_UID 128
#define HFSD_MAX_CLIENTS_MAX 1000000
#define HFSD_ROOT_CLIENTS 64

struct hfsd_ctl_opts {
	const char *mountpoint;   /* absolute */
	unsigned revoke_ms;
	const char *dax_group;    /* NULL: root only */
	bool readonly;
	/* connection bounds, 0: the defaults (ctl_admit.h) */
	unsigned max_clients, max_per_uid, hello_ms;
};

/* After the mount: create the socket, start the thread, install the
 * volume hooks.  Returns 0 or -1 (logged). */
int hfsd_ctl_start(struct hfsd *d, struct fuse_session *se,
		   const struct hfsd_ctl_opts *o, struct hfsd_ctl **out);
/* Before unmount: disconnect every client, remove the hooks, the socket
 * and the symlink, join the thread. */
void hfsd_ctl_stop(struct hfsd_ctl *c);
/* The kernel mount became read-only (or read-write again): refuse write
 * leases with EROFS while it is.  Any thread (fs/remount.c). */
void hfsd_ctl_set_mount_ro(struct hfsd_ctl *c, bool ro);

#endif
