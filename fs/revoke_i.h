/* SPDX-License-Identifier: MIT */
/*
 * Revocation jobs, shared by the engine that runs them (revoke.c) and
 * the volume hooks that create them (revoke_hooks.c).
 *
 * A job is one round: REVOKE messages (one per client, every range of
 * that client's leases in it) or REMAP messages (one per lease), each a
 * waiter that is done when acked, or when its client went away or was
 * killed and its socket closed.  Jobs live on ctl->jobs (ctl->lock) in
 * the order the layout changed; the ring thread sends them and arms
 * their deadline (hfsd_lease_run_jobs), and kills on the deadline
 * (hfsd_lease_timeout).
 */
#ifndef HOLDFS_FS_REVOKE_I_H
#define HOLDFS_FS_REVOKE_I_H

#include "ctl_i.h"
#include "lease_i.h"

#include <time.h>

/* One REVOKE or REMAP message a job waits on.  A REVOKE carries every
 * range of one client in the round (up to HFS_REVOKE_MAX_RANGES). */
struct hfsd_waiter {
	struct hfsd_client *cl;   /* NULL once gone */
	uint64_t msg_id;          /* h.id of the REVOKE / REMAP */
	uint64_t lease_id;        /* REMAP: its lease; REVOKE: the first */
	uint32_t nranges;         /* REVOKE: ranges in msg */
	pid_t pid;
	bool acked;
	bool killed;              /* did not ack in time: SIGKILL sent */
	bool reaping;             /* its holders are being killed and
				     waited for (revoke_reap.c) */
	void *msg;                /* built by the hook; freed when sent */
	size_t len;
};

/* A lease a REVOKE job covers, for the failure report. */
struct hfsd_revoked {
	uint64_t lease_id;
	pid_t pid;
	uint32_t waiter;          /* index into the job's waiters */
};

enum { HFSD_JOB_REVOKE = 1, HFSD_JOB_REMAP = 2 };
enum { HFSD_JOB_NEW, HFSD_JOB_WAIT, HFSD_JOB_DYING, HFSD_JOB_DONE };

struct hfsd_job {
	struct hfsd_job *next;
	uint64_t id;
	int kind;
	int phase;
	struct hfsd_waiter *w;
	uint32_t nw;
	size_t cap;
	/* REVOKE: blocks to free when done (n may be 0) */
	uint64_t pblk, nblk;
	/* REVOKE: the region bytes taken back; a process still mapping
	 * them after a missed deadline is a holder (revoke_reap.c) */
	uint64_t rs, re;
	struct hfsd_reap *reap;   /* holders killed, to wait for, or NULL */
	uint32_t reason;          /* REVOKE: HFS_REVOKE_* */
	uint64_t ino;             /* REVOKE of a layout change: its inode
				     (hfsd_lease_settle), else 0 */
	bool datapath;            /* ... covering a data-path lease, which
				     a truncate or punch waits for */
	struct hfsd_revoked *rv;  /* REVOKE: leases covered */
	uint32_t nrv;
	size_t caprv;
	bool leak;                /* a holder never went away: keep blocks */
	/* REMAP: a FUSE thread sleeps on ctl->cond until done */
	bool sleeper;
	/* REMAP from a lease grant on the ring thread: LEASE_OK deferred */
	struct hfsd_client *defer_cl;
	void *defer_msg;
	size_t defer_len;
	int defer_fd;             /* region fd to pass (not owned) */
	struct timespec start;
	/* its deadline passed (ring thread): judged at the end of the
	 * ring's batch, after the acks in it (revoke.c) */
	bool expired;
	unsigned graces;          /* deadlines put off for a talking laggard */
};

/* Killed holders get max(4 x revoke_ms, HFSD_DYING_MIN_MS) to go away
 * (exit tears a process down in milliseconds; a loaded machine may need
 * more), and are looked at every HFSD_REAP_POLL_MS meanwhile. */
#define HFSD_DYING_MIN_MS 2000u
#define HFSD_REAP_POLL_MS 50u
/* A thread that waits for a job (a writer filling a hole, the failure
 * round) waits its deadlines plus this: the ring thread's own work
 * (sending, a /proc scan when reaping) and scheduling on a loaded
 * machine, so the waiter gives up only after the ring would have. */
#define HFSD_JOB_WAIT_SLACK_MS 2000u

/* Poll timers of a job being reaped carry this bit in their job id. */
#define HFSD_JOB_POLL_BIT (1ull << 63)
/* A laggard with a message the daemon has not read yet (its ack, most
 * likely, behind a busy control thread) gets its deadline put off by
 * HFSD_ACK_GRACE_MS, at most HFSD_ACK_GRACES times per job. */
#define HFSD_ACK_GRACE_MS 50u
#define HFSD_ACK_GRACES 4u

/* revoke_reap.c: a holder of j that missed its deadline (at_deadline) or
 * went away without acking: kill it and every process that still holds
 * its connection, its region descriptions or a mapping of j's range;
 * its waiters in j are done once those are gone (hfsd_reap_poll).  Ring
 * thread, without ctl->lock. */
void hfsd_reap_client(struct hfsd_ctl *c, struct hfsd_job *j,
		      struct hfsd_client *cl, bool at_deadline);
/* The poll timer of j: every killed process gone and no holder left ->
 * its reaping waiters are done; else poll again, until the dying
 * deadline, after which the blocks stay out of use.  Ring thread,
 * without ctl->lock. */
void hfsd_reap_poll(struct hfsd_ctl *c, struct hfsd_job *j);
void hfsd_reap_free(struct hfsd_reap *r);
/* How long killed holders may take to go away. */
unsigned hfsd_dying_ms(const struct hfsd_ctl *c);

struct hfsd_job *hfsd_job_new(struct hfsd_ctl *c, int kind);
void hfsd_job_free(struct hfsd_job *j);
/* Queue j behind every job already queued: the ring sends jobs in list
 * order, so clients see REVOKE/REMAP in the order the layout changed (a
 * punch before the unlink that follows it). */
void hfsd_job_queue_locked(struct hfsd_ctl *c, struct hfsd_job *j);
/* A thread other than the ring queued job j and waits for it: bounded by
 * the ack deadline plus the time a killed holder may take to die.  Takes
 * ctl->lock and returns with it held. */
void hfsd_job_wait(struct hfsd_ctl *c, struct hfsd_job *j);
/* After hfsd_job_wait: free a finished job, or leave an unfinished one
 * to the ring (which frees it when done) and say so.  Drops ctl->lock. */
void hfsd_job_finish_unlock(struct hfsd_ctl *c, struct hfsd_job *j,
			    const char *what);
/* A message for l's client that j waits on (msg is j's from now on). */
int hfsd_job_add_waiter(struct hfsd_job *j, const struct hfsd_lease *l,
			void *msg, size_t len, uint64_t msg_id);
/* Add file range [fs, fe) of lease l to j's REVOKE for l's client. */
int hfsd_job_add_revoke_locked(struct hfsd_ctl *c, struct hfsd_job *j,
			       const struct hfsd_lease *l, uint64_t fs,
			       uint64_t fe);

#endif
