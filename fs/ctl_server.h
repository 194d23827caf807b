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

struct hfsd_ctl_opts {
	const char *mountpoint;   /* absolute */
	unsigned revoke_ms;
	const char *dax_group;    /* NULL: root only */
	bool readonly;
};

/* After the mount: create the socket, start the thread, install the
 * volume hooks.  Returns 0 or -1 (logged). */
int hfsd_ctl_start(struct hfsd *d, struct fuse_session *se,
		   const struct hfsd_ctl_opts *o, struct hfsd_ctl **out);
/* Before unmount: disconnect every client, remove the hooks, the socket
 * and the symlink, join the thread. */
void hfsd_ctl_stop(struct hfsd_ctl *c);

#endif
