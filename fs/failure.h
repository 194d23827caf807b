/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline, daemon side (docs/failure-model.md).
 *
 * One entry point, hfsd_notify_failure(), run only on the failure
 * monitor thread, fed by every event source: kernel uevents (netlink, or a
 * FIFO given with -o uevent_source=), a sysfs poll (driver link, badblocks),
 * inotify + stat of a file-backed region, SIGBUS in the daemon's own
 * guarded region accesses (volume fault hook), POISON from DAX clients and
 * ADMIN_INJECT from holdfsctl (the source table: fs/fail_sources.c).
 * Sources on other threads only queue (hfsd_fail_post), so nothing heavy
 * ever runs in a FUSE worker, on the ring thread or with a volume lock
 * held.
 */
#ifndef HOLDFS_FS_FAILURE_H
#define HOLDFS_FS_FAILURE_H

#include "daemon.h"

#include <time.h>

#include <holdfs/proto.h> /* HFS_FAIL_* */

/* Daemon-internal event flag (never on the wire): a report to confirm
 * with the daemon's own guarded read before acting on it (a client's
 * POISON). */
#define HFSD_FAIL_CONFIRM 0x100u
/* Daemon-internal: the range is the whole span of device i > 0 of a
 * volume of several, lost (fail_members.c): its leases are found by
 * device, before the range is classified. */
#define HFSD_FAIL_MEMBER 0x200u

struct hfsd_ctl;
struct hfsd_revoked_lease; /* revoke.h */

struct hfsd_fail_opts {
	const char *uevent_source; /* FIFO instead of netlink, or NULL */
	const char *sysfs_root;    /* NULL: default root */
	const char *devname;       /* override of the region's devdax name */
	unsigned poll_ms;
};

/* After the mount and the control server (ctl may be NULL): install the
 * fault hook, open the sources, start the monitor thread.  PR_MCE_KILL
 * early is set by main().  Returns 0 or -1 (logged). */
int hfsd_fail_start(struct hfsd *d, struct fuse_session *se,
		    struct hfsd_ctl *ctl, const struct hfsd_fail_opts *o,
		    struct hfsd_fail **out);
/* Stop the thread (before the control server stops); then ask
 * hfsd_fail_is_shutdown and free. */
void hfsd_fail_stop(struct hfsd_fail *f);
void hfsd_fail_free(struct hfsd_fail *f);
/* Queue an event from any thread (never blocks; no allocation). */
void hfsd_fail_post(struct hfsd_fail *f, uint64_t off, uint64_t len,
		    unsigned flags, const char *source);
/* The entry point; monitor thread only (exposed for the design docs). */
void hfsd_notify_failure(struct hfsd_fail *f, uint64_t off, uint64_t len,
			 unsigned flags, const char *source);

/* What the pipeline reports (ADMIN_STATUS; fs/admin.c writes it as
 * JSON): a copy taken under its lock by hfsd_fail_status. */
struct hfsd_fail_event {          /* one event, as the pipeline saw it */
	struct timespec when;     /* CLOCK_REALTIME */
	struct timespec mono;     /* the same instant, CLOCK_MONOTONIC: a
				     benchmark on this machine lines the
				     event up with its own clock */
	uint64_t off, len;        /* region bytes */
	unsigned flags;           /* HFS_FAIL_* */
	char source[32];
	char outcome[160];
};

struct hfsd_fail_file {           /* a file piece lost to a range failure */
	uint64_t ino, file_off, len, region_off;
	char path[256];
};

struct hfsd_fail_phase {          /* a step of the last failure handled */
	const char *name;         /* static */
	double ms;
};

#define HFSD_FAIL_PHASES 8

struct hfsd_fail_status {
	bool shutdown;
	char why[160];            /* shutdown: the reason, for the log */
	struct timespec shut_at;  /* shutdown: CLOCK_REALTIME */
	char devname[64];
	unsigned poll_ms;
	struct hfsd_fail_event *ev;        /* oldest first */
	unsigned nev;
	struct hfsd_fail_file *aff;
	unsigned naff;
	struct hfsd_revoked_lease *revoked; /* every failure round's leases */
	size_t nrevoked;
	uint64_t kills;
	struct hfsd_fail_phase phase[HFSD_FAIL_PHASES];
	unsigned nphase;
	uint64_t dropped;         /* events lost to a full queue */
};

/* A copy of the state above, or -ENOMEM.  Free with
 * hfsd_fail_status_free. */
int hfsd_fail_status(struct hfsd_fail *f, struct hfsd_fail_status **out);
void hfsd_fail_status_free(struct hfsd_fail_status *st);
/* Shut down?  Then *msg (static storage) says why, for the exit log. */
bool hfsd_fail_is_shutdown(struct hfsd_fail *f, const char **msg);

#endif
