/* SPDX-License-Identifier: MIT */
/*
 * The lease service (fs/lease.c) and the control server that carries it
 * (fs/ctl_server.c): state they share.  Private to those two files and
 * main.c (through ctl_server.h).
 *
 * Threads: one ring thread owns every socket (liburing event loop in
 * ctl_server.c) and runs the message handlers.  The volume hooks run on
 * FUSE worker threads (and on the ring thread when a write lease fills
 * holes).  ctl->lock protects the lease table, the jobs and the client
 * fields marked (L).  Lock order: inode I/O lock, volume lock, ctl->lock;
 * the ring thread never holds ctl->lock while calling into the volume.
 */
#ifndef HOLDFS_FS_LEASE_H
#define HOLDFS_FS_LEASE_H

#include "coherence.h"
#include "daemon.h"

/* RB_ENTRY / RB_HEAD only; the trees' functions are generated in
 * lease.c (libbsd's tree.h, as lib/rmap.c). */
#include <bsd/sys/tree.h>
#include <json-c/json.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <holdfs/proto.h>

/* Internal extent flag: revoked part of a lease (never sent). */
#define HFSD_LEXT_REVOKED 0x100u

struct ctl_op;

struct hfsd_client {
	struct hfsd_client *next;
	uint64_t cid;
	int fd, pidfd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool hello;           /* HELLO accepted */
	bool has_ro, has_rw;  /* region fds sent */
	bool closing;         /* (L) dropped; waiting for in-flight I/O */
	bool killed;          /* SIGKILL sent */
	bool recv_armed;
	unsigned inflight;    /* sends in flight */
	/* (L) the REVOKE being built for this client: job id, waiter */
	uint64_t rv_job;
	uint32_t rv_w;
	/* receive state */
	struct msghdr msg;
	struct iovec iov;
	struct {
		_Alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	uint8_t *rbuf;        /* HFS_MSG_MAX + 1 */
};

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

struct hfsd_ctl {
	struct hfsd *d;
	struct fuse_session *se;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct io_uring ring;
	int lfd;                  /* listening socket */
	int efd;                  /* eventfd: hooks -> ring */
	uint64_t ebuf;
	bool stop;
	char sock_path[100];
	char dev_link[100];
	char mnt[4096];
	dev_t mnt_dev;
	bool mnt_dev_ok;
	int region_rw, region_ro; /* fds handed to clients */
	uint64_t region_size, alloc_unit;
	unsigned revoke_ms;
	bool readonly;
	gid_t dax_gid;
	bool dax_gid_set;
	uint8_t uuid[16];
	struct hfsd_coh *coh;     /* page-cache coherence table, or NULL */
	struct hfsd_pw *pw;       /* PERSISTED worker (persisted.c), or NULL */
	/* (L) */
	struct hfsd_client *clients;
	RB_HEAD(lease_ids, hfsd_lease) leases_by_id;
	RB_HEAD(lease_inos, hfsd_lease) leases_by_ino;
	RB_HEAD(lease_holes, hfsd_lease) leases_with_holes;
	uint64_t nleases;
	struct hfsd_job *jobs;
	uint64_t next_cid, next_lease, next_msg, next_job;
	uint64_t pending_blocks;  /* held back for revocation */
	uint64_t kills;
	struct ctl_op *inflight;  /* ring thread only (ctl_server.c) */
};

/* ctl_server.c: transport, for lease.c (ring thread only). */
int hfsd_ctl_send(struct hfsd_ctl *c, struct hfsd_client *cl,
		  const void *msg, size_t len, int pass_fd);
void hfsd_ctl_send_error(struct hfsd_ctl *c, struct hfsd_client *cl,
			 uint64_t id, int err, const char *why);
void hfsd_ctl_drop(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const char *why);
int hfsd_ctl_arm_timeout(struct hfsd_ctl *c, uint64_t job_id, unsigned ms);
void hfsd_msg_init(struct hfs_msg_hdr *h, uint16_t type, uint32_t len,
		   uint64_t id);

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

/* persisted.c: PERSISTED answered by a worker thread, not the ring.
 * start/stop from hfsd_lease_init/fini; stop returns false when the worker
 * could not be stopped (then the coherence table must stay allocated).
 * queue: a validated PERSISTED of inode ino (ring thread).  replies: send
 * the answers of finished ones (ring thread). */
int hfsd_persisted_start(struct hfsd_ctl *c);
bool hfsd_persisted_stop(struct hfsd_ctl *c);
int hfsd_persisted_queue(struct hfsd_ctl *c, const struct hfsd_client *cl,
			 const struct hfs_msg_range *m, uint64_t ino);
void hfsd_persisted_replies(struct hfsd_ctl *c);

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
