/* SPDX-License-Identifier: MIT */
/*
 * The control side's state: the control server (ctl_server.c,
 * ctl_send.c), the lease service it carries (lease*.c, revoke*.c,
 * admin.c) and the PERSISTED worker (persisted.c).  Private to those
 * files; main.c sees only ctl_server.h.
 *
 * Threads: one ring thread owns every socket (liburing event loop in
 * ctl_server.c) and runs the message handlers.  The volume hooks run on
 * FUSE worker threads (and on the ring thread when a write lease fills
 * holes); the failure round runs on the failure monitor thread.
 * ctl->lock protects the lease table, the jobs and the client fields
 * marked (L).  Lock order: inode I/O lock, volume lock, ctl->lock; the
 * ring thread never holds ctl->lock while calling into the volume.
 */
#ifndef HOLDFS_FS_CTL_I_H
#define HOLDFS_FS_CTL_I_H

#include "daemon.h"
#include "ratelog.h"

#include <holdfs/format.h>

/* RB_HEAD only; the trees and their functions are lease_table.c's
 * (libbsd's tree.h, as lib/rmap.c). */
#include <bsd/sys/tree.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ctl_op;
struct hfsd_job;
struct hfsd_lease;

struct ctl_send;

struct hfsd_client {
	struct hfsd_client *next;
	uint64_t cid;
	uint32_t client_id;   /* what it stores in a slot's ds_lock: from
				 cid, never 0 nor HFS_DSLOT_DAEMON */
	int fd, pidfd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool hello;           /* HELLO accepted */
	bool notice;          /* HELLO had HFS_HELLO_NOTICE */
	bool off_holds;       /* (L) scratch of fs/offline.c */
	int region_fd[2];     /* its own open file descriptions of the
				 region, [0] read-only, [1] read-write, once
				 sent (-1 before): holder_scan.c tells its
				 holders from other clients' by them; on a
				 volume of several devices: device 0's */
	int member_fd[HFS_MEMBERS_MAX][2]; /* the same for devices 1..n-1
				 of a volume of several (lease_members.c);
				 [0] unused */
	bool closing;         /* (L) dropped; waiting for in-flight I/O */
	bool killed;          /* SIGKILL sent */
	bool recv_armed;
	bool spoke;           /* sent a valid message (ctl_admit.c) */
	/* POISON reports it may still send now, and when one more is due
	 * (lease_req.c: a burst, then one per HFSD_POISON_PERIOD_MS) */
	unsigned poison_budget;
	uint64_t poison_due_ns;
	uint64_t since_ns;    /* accepted at (CLOCK_MONOTONIC) */
	unsigned inflight;    /* sends in flight or queued */
	/* sends waiting for the one on the ring: one sendmsg per client at
	 * a time, so its messages (and the chunks of one ADMIN_REPLY) leave
	 * in order even when the socket buffer is full (ctl_send.c) */
	struct ctl_send *sq_head, *sq_tail;
	bool sending;
	/* (L) the REVOKE being built for this client: job id, waiter */
	uint64_t rv_job;
	uint32_t rv_w;
	/* receive state */
	struct msghdr msg;
	struct iovec iov;
	struct {
		_Alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	uint8_t *rbuf;        /* HFS_REQ_MAX + 1 */
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
	dev_t sock_dev;           /* the name we bound (ctl_socket.c) */
	ino_t sock_ino;
	char dev_link[100];
	char mnt[4096];
	dev_t mnt_dev;
	bool mnt_dev_ok;
	int region_rw, region_ro; /* fds handed to clients */
	uint64_t region_size, alloc_unit;
	unsigned revoke_ms;
	bool readonly;
	bool mount_ro;            /* the kernel mount is read-only now (a
				     remount: fs/remount.c); atomic */
	/* admission (ctl_admit.c), ring thread only */
	unsigned max_clients, max_per_uid, hello_ms;
	unsigned fd_base;         /* descriptors held before any client */
	unsigned backoff_ms;      /* accept back-off, 0: none */
	bool tick_armed;
	struct __kernel_timespec tick_ts, retry_ts;
	struct hfsd_ratelog refuse_log, accept_log, poison_log;
	gid_t dax_gid;
	bool dax_gid_set;
	uint8_t uuid[16];
	struct hfsd_coh *coh;     /* page-cache coherence table, or NULL */
	struct hfsd_pw *pw;       /* PERSISTED worker (persisted.c), or NULL */
	struct hfsd_dp *dp;       /* data-path worker (datapath.c), or NULL */
	uint64_t dslot_off;       /* data-path slot area (HELLO_OK) */
	uint32_t dslot_count;
	/* (L) */
	struct hfsd_client *clients;
	RB_HEAD(lease_ids, hfsd_lease) leases_by_id;
	RB_HEAD(lease_inos, hfsd_lease) leases_by_ino;
	RB_HEAD(lease_holes, hfsd_lease) leases_with_holes;
	uint64_t nleases;
	/* leases by device (lease_devs.c): the losing device's are found
	 * without the rmap; short: a node could not be allocated, the
	 * lists are incomplete (never cleared) */
	struct hfsd_lease_dev *dev_leases[HFS_MEMBERS_MAX];
	bool dev_index_short;
	uint32_t dev_lost;        /* bit i: device i's loss is being handled
				     (or was): no grant maps it any more */
	/* the range failure being handled, [failing_rs, failing_re) of
	 * the region (empty: none): set when its revoke round looks for
	 * leases, cleared once its pieces are marked lost; no grant maps
	 * it meanwhile (revoke.c, failure.c) */
	uint64_t failing_rs, failing_re;
	struct hfsd_job *jobs;
	uint64_t next_cid, next_lease, next_msg, next_job;
	uint64_t pending_blocks;  /* held back for revocation */
	uint64_t kills;
	struct ctl_op *inflight;  /* ring thread only (ctl_ring_i.h) */
	/* planned removal (fs/offline.c): set once, by the ring thread;
	 * LEASE_REQ refused from then on (atomic) */
	bool offline;
	struct hfsd_offline *off; /* its worker, or NULL */
};

#endif
