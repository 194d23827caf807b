/* SPDX-License-Identifier: MIT */
/*
 * The lease service's start and stop (fs/lease.c), for the control
 * server.  Its parts: lease_i.h (the table), revoke.h (the revocation
 * engine), lease_req.c and admin.c (the requests); their shared state
 * and lock order: ctl_i.h.
 */
#ifndef HOLDFS_FS_LEASE_H
#define HOLDFS_FS_LEASE_H

struct hfsd_ctl;

/* Table, coherence table, PERSISTED worker; installs the volume hooks. */
void hfsd_lease_init(struct hfsd_ctl *c);
/* Removes the hooks, drops every lease, ends the jobs (their held-back
 * blocks are free again), stops the worker. */
void hfsd_lease_fini(struct hfsd_ctl *c);

#endif
