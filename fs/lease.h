/* SPDX-License-Identifier: MIT */
/*
 * The lease service (fs/lease.c): its leases and revocation jobs, and
 * what the control server and the failure pipeline call.  The state it
 * shares with the control server, threads and lock order: ctl_i.h.
 */
#ifndef HOLDFS_FS_LEASE_H
#define HOLDFS_FS_LEASE_H

#include "ctl_i.h"

#include <json-c/json.h>

#include <holdfs/proto.h>

/* Internal extent flag: revoked part of a lease (never sent). */
#define HFSD_LEXT_REVOKED 0x100u

/* Leases are indexed (libbsd red-black trees, lease.c) by id (messages
 * name leases) and by (inode, id) (the volume hooks and the failure
 * pipeline go from the rmap's owning inode to its leases); leases that
 * map holes are also in a third tree by (inode, id), the only ones the
 * fill hook must look at. */
struct hfsd_lease {
	RB_ENTRY(hfsd_lease) by_id, by_ino, by_hole;
	bool holey;           /* in leases_with_holes */
	uint64_t id;
	struct hfsd_client *cl;
	pid_t pid;
	uid_t uid;
	uint64_t ino, off, len;
	uint32_t prot;
	uint32_t coh_slot;    /* coherence table word (HFS_COH_NONE: none) */
	uint32_t n;
	struct hfs_lease_extent *ext; /* file order; HOLE / REVOKED flags */
};

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
	uint32_t nw, cap;
	/* REVOKE: blocks to free when done (n may be 0) */
	uint64_t pblk, nblk;
	uint32_t reason;          /* REVOKE: HFS_REVOKE_* */
	struct hfsd_revoked *rv;  /* REVOKE: leases covered */
	uint32_t nrv, caprv;
	bool leak;                /* a holder never went away: keep blocks */
	/* REMAP: a FUSE thread sleeps on ctl->cond until done */
	bool sleeper;
	/* REMAP from a lease grant on the ring thread: LEASE_OK deferred */
	struct hfsd_client *defer_cl;
	void *defer_msg;
	size_t defer_len;
	int defer_fd;             /* region fd to pass (not owned) */
	struct timespec start;
};

/* lease.c */
void hfsd_lease_init(struct hfsd_ctl *c);  /* installs the volume hooks */
void hfsd_lease_fini(struct hfsd_ctl *c);
/* A validated message from a client (ring thread).  fd: the passed fd or
 * -1; the handler closes it. */
void hfsd_lease_msg(struct hfsd_ctl *c, struct hfsd_client *cl,
		    const void *buf, size_t len, int fd);
/* A client went away: release its leases, count it as acked. */
void hfsd_lease_client_gone(struct hfsd_ctl *c, struct hfsd_client *cl);
/* Send new jobs (one submission), finish completed ones. */
void hfsd_lease_run_jobs(struct hfsd_ctl *c);
/* A job's deadline passed. */
void hfsd_lease_timeout(struct hfsd_ctl *c, uint64_t job_id);
/* Called once by the ring thread at start. */
void hfsd_lease_ring_thread(void);

/* Failure pipeline (fs/failure.c; not on the ring thread): REVOKE with
 * reason FAILURE every lease mapping region bytes [rs, re) (all: every
 * lease, its whole range) in one round, and wait until each holder acked
 * or was killed (bounded).  leases (may be NULL) gets one object per
 * lease revoked {id, pid, ino, offset, length, outcome}.  Returns the
 * number of leases revoked; *killed the number of holders killed. */
int hfsd_lease_revoke_failure(struct hfsd_ctl *c, uint64_t rs, uint64_t re,
			      bool all, json_object *leases,
			      unsigned *killed);

#endif
