/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline, daemon side (docs/failure-model.md).
 *
 * One entry point, hfsd_notify_failure(), run only on the failure
 * monitor thread, fed by every event source: kernel uevents (netlink, or a
 * FIFO given with -o uevent_source=), a sysfs poll (driver link, badblocks),
 * inotify + stat of a file-backed region, SIGBUS in the daemon's own
 * guarded region accesses (volume fault hook), POISON from DAX clients and
 * ADMIN_INJECT from holdfsctl.  Sources on other threads only queue
 * (hfsd_fail_post), so nothing heavy ever runs in a FUSE worker, on the
 * ring thread or with a volume lock held.
 */
#ifndef HOLDFS_FS_FAILURE_H
#define HOLDFS_FS_FAILURE_H

#include "daemon.h"

#include <json-c/json.h>

#include <holdfs/proto.h> /* HFS_FAIL_* */

struct hfsd_ctl;

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
/* ADMIN_STATUS document: state, events, affected paths, revoked leases,
 * killed pids, phase timings.  New reference. */
json_object *hfsd_fail_status_json(struct hfsd_fail *f);
/* Shut down?  Then *msg (static storage) says why, for the exit log. */
bool hfsd_fail_is_shutdown(struct hfsd_fail *f, const char **msg);

#endif
