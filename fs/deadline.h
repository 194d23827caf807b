/* SPDX-License-Identifier: MIT */
/*
 * The daemon's deadlines and periods, in milliseconds, each with why it
 * is what it is (the table of them all: docs/lease-protocol.md
 * "Deadlines"), and bounded condition-variable waits on CLOCK_MONOTONIC
 * (a wall-clock jump must not stretch or cut a deadline): the condvar to
 * wait on, and the absolute deadline "ms from now" to pass to
 * pthread_cond_timedwait.
 *
 * The option values are plain decimal numbers: options.c prints them in
 * its help and errors.
 */
#ifndef HOLDFS_FS_DEADLINE_H
#define HOLDFS_FS_DEADLINE_H

#include <pthread.h>
#include <time.h>

/* -o revoke_ms: how long a DAX client has to ack a REVOKE or REMAP
 * before it is killed.  The ack needs only the client's listener thread
 * (SCHED_FIFO by default) to run and unmap, which a quarter second leaves
 * ample time for; and every writer that fills a hole a read lease maps
 * waits for those acks, so the default is kept well under a second.  At
 * most a minute: a writer can wait about five times revoke_ms plus 2 s. */
#define HFSD_REVOKE_MS_DEFAULT 250
#define HFSD_REVOKE_MS_MAX 60000

/* -o poll_ms: the failure monitor's poll of sysfs (driver link,
 * badblocks) and of the region file.  The poll only catches what no
 * event reported (uevents, SIGBUS and inotify come at once), so once a
 * second bounds that delay for a few sysfs reads and a stat per second.
 * At most an hour: slower is as good as no poll. */
#define HFSD_POLL_MS_DEFAULT 1000
#define HFSD_POLL_MS_MAX 3600000

/* A new mount of a region still held by a daemon that has lost its
 * mount waits this long for it to close the region (fs/region_wait.c).
 * Measured: 2 to 25 ms from umount(8) returning to the region's release;
 * ten seconds leave room for a loaded machine and a large journal to
 * clear, and bound a mount(8) that waits for a lazily unmounted daemon
 * whose files stay open. */
#define HFSD_HOLDER_WAIT_MS 10000

/* -o hello_ms: a control connection must send its first request within
 * this (ctl_admit.c).  A DAX client sends HELLO, holdfsctl its request,
 * right after connecting; two seconds allow for a loaded machine, and
 * bound how long a silent connection holds the daemon's descriptors. */
#define HFSD_HELLO_MS 2000
#define HFSD_HELLO_MS_MAX 600000

/* A shutdown waits this long for FUSE READ/WRITE begun before the freeze
 * to finish before it drops the kernel's cached pages (fs/failure.c): a
 * READ answered after the invalidation would put pages back.  They are
 * usually done already; a second bounds a stuck one, which is logged. */
#define HFSD_SHUTDOWN_DRAIN_MS 1000

/* hfsd_persisted_stop: how long the stop waits for the PERSISTED worker
 * to exit.  An idle worker exits at once and a page-cache invalidation
 * that completes does so in far less; past 2 s the worker is stuck on a
 * FUSE request only the unmount will abort, and is left to it. */
#define HFSD_PERSISTED_STOP_MS 2000

static inline void hfsd_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

static inline struct timespec hfsd_deadline_ms(unsigned ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

#endif
