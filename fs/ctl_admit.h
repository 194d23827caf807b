/* SPDX-License-Identifier: MIT */
/*
 * Who may connect to the control socket, and for how long it may stay
 * silent (ctl_admit.c; docs/lease-protocol.md, "Trust model").  Ring
 * thread only.
 */
#ifndef HOLDFS_FS_CTL_ADMIT_H
#define HOLDFS_FS_CTL_ADMIT_H

#include "ctl_i.h"

#include "ctl_server.h" /* the bounds' defaults */
#include "deadline.h"    /* HFSD_HELLO_MS */
/* Descriptors kept for the daemon's own work (FUSE, the failure
 * monitor's probes, PERSISTED, logging) whatever clients hold. */
#define HFSD_FD_RESERVE 64u
/* A connection's descriptors at most: socket, pidfd, two region
 * descriptions (lease_req.c). */
#define HFSD_FDS_PER_CLIENT 4u
/* Accept back-off after EMFILE & co: from ... to ... ms, doubling. */
#define HFSD_ACCEPT_BACKOFF_MIN_MS 50u
#define HFSD_ACCEPT_BACKOFF_MAX_MS 1000u
/* At most one log line per this period for a repeating refusal. */
#define HFSD_ADMIT_LOG_MS 10000u
/* How often silent connections are looked at (while there are any). */
#define HFSD_ADMIT_TICK_MS 250u

/* Record the descriptors the daemon holds before any client (at start). */
void hfsd_admit_init(struct hfsd_ctl *c);
/* A new connection fd from uid/pid: 0 to take it; -1 when it must be
 * refused (then it has been told why, closed and logged, rate-limited). */
int hfsd_admit(struct hfsd_ctl *c, int fd, uid_t uid, pid_t pid);
/* Refuse connection fd after all: tell it why (ERROR EUSERS), close it,
 * log it (rate-limited). */
void hfsd_admit_refuse(struct hfsd_ctl *c, int fd, uid_t uid, pid_t pid,
		       const char *why);
/* Close connections that sent nothing within hello_ms.  Returns true
 * while some connection has still not spoken (keep ticking). */
bool hfsd_admit_tick(struct hfsd_ctl *c);
/* The listening socket's accept failed with -err: how long to wait
 * before accepting again (0: at once); logged, rate-limited.  A
 * successful accept resets the back-off. */
unsigned hfsd_admit_accept_error(struct hfsd_ctl *c, int err);
void hfsd_admit_accept_ok(struct hfsd_ctl *c);

#endif
