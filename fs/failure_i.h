/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline's private half, shared by fs/failure.c (the
 * pipeline: notify, whole-device shutdown, range failure, the status) and
 * fs/fail_sources.c (the event sources and the monitor thread that polls
 * them): the pipeline's state and the source table.
 *
 * Threads: the monitor thread owns every source and is the only caller
 * of hfsd_notify_failure().  Other threads only queue (post), under
 * f->lock, and wake it through the eventfd.
 */
#ifndef HOLDFS_FS_FAILURE_I_H
#define HOLDFS_FS_FAILURE_I_H

#include "failure.h"
#include "ratelog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include <holdfs/format.h>

#define HFSD_FAIL_QMAX 256    /* queued events */
#define HFSD_FAIL_EVMAX 256   /* events kept for status */
#define HFSD_FAIL_AFFMAX 1024 /* affected files kept for status */
#define HFSD_FAIL_SEENMAX 1024 /* badblocks lines already handled */
#define HFSD_PROBE_LOG_MS 10000 /* a failing probe: one line per 10 s */
#define HFSD_FAIL_AOMAX 16    /* AO machine checks waiting for the queue */

/* A queued event: client POISON, operator inject, or a guarded-access
 * fault (si_code set: to be confirmed by the monitor thread). */
struct hfsd_fail_qev {
	uint64_t off, len;
	unsigned flags;
	int si_code;
	char source[32];
};

/* One of devices 1.. of a volume as a source of its own loss. */
struct hfsd_fail_member {
	bool watched;           /* mapped at start, a file or a devdax */
	bool lost;              /* reported once */
	char devname[64];       /* device-dax, "" for a file */
	char *rpath;            /* a file: its absolute path */
	struct stat rst;        /* a file: at start */
	uint64_t size;          /* bytes it must keep */
};

struct hfsd_fail {
	struct hfsd *d;
	struct fuse_session *se;
	struct hfsd_ctl *ctl;
	pthread_t thread;
	/* the sources' state (fail_sources.c; monitor thread after start) */
	int efd, ufd, ifd;       /* queue eventfd, uevents, inotify */
	bool uevent_fifo;
	char devname[64];
	const char *sysfs_root;
	unsigned poll_ms;
	struct stat rst;         /* region file at start */
	char *rpath;             /* its absolute path (the daemon chdirs) */
	bool file_region;
	/* the other devices of a volume of several (fail_members.c),
	 * indexed by device; [0] unused (the fields above are device 0's) */
	struct hfsd_fail_member mem[HFS_MEMBERS_MAX];
	unsigned nmem;
	bool mirror_noted;       /* a faulted mirror copy was looked at */
	/* device 0 lost, its metadata served from the mirror since
	 * (fail_failover.c): its own sources stop, faults on its data
	 * range are old news, faults on its metadata range are the
	 * mirror's device's */
	bool dev0_lost;
	uint64_t dev0_data_off;  /* where device 0's data range starts */
	uint64_t seen[HFSD_FAIL_SEENMAX][2]; /* badblocks lines handled */
	unsigned nseen;
	struct hfsd_ratelog probe_log; /* probes that could not run */
	/* action-optional machine checks on the daemon's mapping, posted
	 * by the SIGBUS handler (no lock there): region offset + 1, 0 free */
	_Atomic uint64_t ao[HFSD_FAIL_AOMAX];
	atomic_uint ao_dropped;
	/* (lock) */
	pthread_mutex_t lock;
	bool stop;
	struct hfsd_fail_qev q[HFSD_FAIL_QMAX];
	unsigned qn;
	uint64_t dropped;
	/* monitor thread writes, status reads: (lock) */
	struct hfsd_fail_event ev[HFSD_FAIL_EVMAX];
	unsigned nev;
	struct hfsd_fail_file aff[HFSD_FAIL_AFFMAX];
	unsigned naff;
	struct hfsd_revoked_lease *revoked;
	size_t nrevoked, caprevoked;
	uint64_t kills;
	bool shutdown;
	char why[160];
	struct timespec shut_at;
	struct hfsd_fail_phase phase[HFSD_FAIL_PHASES];
	unsigned nphase;
};

/* One event source of the monitor thread (fail_sources.c), a row of its
 * table.  Every member but name may be NULL.
 *   open:        at start, before the thread (f's options are set);
 *                0, or -1 with errno set to fail the start
 *   fd:          the descriptor to poll now, or -1
 *   on_readable: fd polled readable
 *   on_tick:     every poll_ms while not shut down, in table order */
struct hfsd_fail_source {
	const char *name;
	int (*open)(struct hfsd_fail *f, const struct hfsd_fail_opts *o);
	int (*fd)(const struct hfsd_fail *f);
	void (*on_readable)(struct hfsd_fail *f);
	void (*on_tick)(struct hfsd_fail *f);
};

/* fail_sources.c */
/* Open every source in table order; -1 (errno set) if one failed: then
 * close them with hfsd_fail_sources_close. */
int hfsd_fail_sources_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o);
/* Close every descriptor the sources opened (after the thread ended). */
void hfsd_fail_sources_close(struct hfsd_fail *f);
/* The monitor thread (arg: f): polls the sources until f->stop. */
void *hfsd_fail_monitor(void *arg);
/* Wake the monitor thread (the queue's eventfd). */
void hfsd_fail_wake(struct hfsd_fail *f);
/* fail_members.c: devices 1.. of a volume of several, each lost on its
 * own (a range failure over it, then recorded lost in the table) */
int hfsd_fail_members_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o);
void hfsd_fail_members_tick(struct hfsd_fail *f);
void hfsd_fail_members_free(struct hfsd_fail *f);
/* A uevent for dax device devname (or devpath's last part): true if it
 * named one of devices 1.. (and a removal was handled). */
bool hfsd_fail_members_uevent(struct hfsd_fail *f, const char *action,
			      const char *name);
/* Device i of the volume lost (an operator's drill, HFS_FAIL_DEVICE):
 * device 0 as hfsd_fail_device0, any other as if it had gone away. */
void hfsd_fail_members_lose(struct hfsd_fail *f, unsigned i,
			    const char *source);
/* A SIGBUS at region offset off whose backing is gone: true if it was on
 * one of devices 1.., whose loss was handled. */
bool hfsd_fail_members_fault(struct hfsd_fail *f, uint64_t off);

/* failure.c: an event for the status (monitor thread), its outcome */
struct hfsd_fail_event *hfsd_fail_record(struct hfsd_fail *f, uint64_t off,
					 uint64_t len, unsigned flags,
					 const char *source);
void hfsd_fail_set_outcome(struct hfsd_fail *f, struct hfsd_fail_event *e,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* failure.c: revoke every lease (one round, reason FAILURE, kill on
 * deadline), kept for the status; the volume goes on */
void hfsd_fail_revoke_all(struct hfsd_fail *f);
/* fail_failover.c: device 0 of the volume lost (flags: HFS_FAIL_*, as
 * its source has them).  With a working mirror: the metadata goes on
 * from it, device 0 is recorded lost and its file data fails as a
 * range; without: the volume's loss (shutdown), as for one region. */
void hfsd_fail_device0(struct hfsd_fail *f, unsigned flags,
		       const char *source);
/* A SIGBUS at off on device 0's range once its metadata is the
 * mirror's: true if handled (a commit switched: device 0's loss, handled
 * now; device 0 lost before: its data range needs nothing more, on its
 * metadata range the mirror's device is checked, whose loss is the
 * volume's). */
bool hfsd_fail_device0_fault(struct hfsd_fail *f, uint64_t off);

/* fail_failover.c: a media error (e) inside device 0's metadata of a
 * volume whose mirror works: that range served from the mirror from now
 * on (no shutdown), the health log, the bad-extent list, the leases if
 * data-path slots are there; e's outcome set.  false: not that case (no
 * working mirror, ...): the caller shuts the volume down as before. */
bool hfsd_fail_device0_poison(struct hfsd_fail *f, struct hfsd_fail_event *e);

/* The volume fault hook (hfs_vol_set_fault_hook; ctx: f). */
void hfsd_fail_fault_hook(void *ctx, const struct hfs_fault *fl);

static inline double hfsd_fail_ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

#endif
