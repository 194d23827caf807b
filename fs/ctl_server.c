/* SPDX-License-Identifier: MIT */
/*
 * The control server: transport of the lease protocol.
 *
 * One thread, one io_uring.  In flight at any time: a multishot accept on
 * the listening socket, a read of the eventfd the volume hooks kick, one
 * recvmsg per client (room for the largest message plus one byte, so an
 * oversized one is seen as such, and for a few SCM_RIGHTS fds), the sends
 * of replies and REVOKE/REMAP broadcasts, and one timeout per revocation
 * job (those two queued by ctl_send.c).  Every message is validated
 * (proto_check.c) before it is dispatched to its handler
 * (msg_dispatch.c), both by the message table (msg_table.h); any
 * violation closes that connection and releases what it held.
 *
 * Discovery: the socket is /run/holdfs/<uuid>.sock; FUSE does not pass
 * f_fsid through statfs, so /run/holdfs/dev/<major>:<minor> (st_dev of the
 * mount) is a symlink to it (docs/lease-protocol.md); ctl_socket.c
 * creates and removes both.
 */
#include "ctl_ring_i.h"
#include "ctl_server.h"
#include "deadline.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/format.h>

#include "ctl_admit.h"
#include "ctl_send.h"
#include "ctl_socket.h"
#include "lease.h"
#include "msg_table.h"
#include "offline.h"
#include "persisted.h"
#include "proto_check.h"
#include "revoke.h"

/* Close what a client holds and free it. */
static void client_close(struct hfsd_client *cl)
{
	close(cl->fd);
	if (cl->pidfd >= 0)
		close(cl->pidfd);
	for (int i = 0; i < 2; i++)
		if (cl->region_fd[i] >= 0)
			close(cl->region_fd[i]);
	for (unsigned m = 1; m < HFS_MEMBERS_MAX; m++)
		for (int i = 0; i < 2; i++)
			if (cl->member_fd[m][i] >= 0)
				close(cl->member_fd[m][i]);
	free(cl->rbuf);
	free(cl);
}

/* Free a dropped client once no operation of the ring refers to it. */
static void maybe_free(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	struct hfsd_client **pp;

	if (!cl->closing || cl->recv_armed || cl->inflight)
		return;
	pthread_mutex_lock(&c->lock);
	for (pp = &c->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	client_close(cl);
}

static void arm_recv(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe) {
		hfsd_ctl_drop(c, cl, "submission queue full");
		return;
	}
	cl->iov.iov_base = cl->rbuf;
	cl->iov.iov_len = HFS_REQ_MAX + 1;
	memset(&cl->msg, 0, sizeof(cl->msg));
	cl->msg.msg_iov = &cl->iov;
	cl->msg.msg_iovlen = 1;
	cl->msg.msg_control = cl->cbuf.buf;
	cl->msg.msg_controllen = sizeof(cl->cbuf.buf);
	io_uring_prep_recvmsg(sqe, cl->fd, &cl->msg, MSG_CMSG_CLOEXEC);
	io_uring_sqe_set_data64(sqe, hfsd_op_tag(cl, TAG_RECV));
	cl->recv_armed = true;
}

static void arm_accept(struct hfsd_ctl *c)
{
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, c->lfd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, TAG_ACCEPT);
}

/* A timeout of ms on the ring, tagged t (TAG_TICK, TAG_RETRY); ts must
 * stay valid until it completes (it is in c). */
static void arm_timeout(struct hfsd_ctl *c, struct __kernel_timespec *ts,
			unsigned ms, unsigned t)
{
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe)
		return;
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long long)(ms % 1000) * 1000000;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data64(sqe, t);
}

/* The first-message deadline needs a look now and then while some
 * connection has not spoken yet. */
static void arm_tick(struct hfsd_ctl *c)
{
	if (c->tick_armed || c->stop)
		return;
	c->tick_armed = true;
	arm_timeout(c, &c->tick_ts, HFSD_ADMIT_TICK_MS, TAG_TICK);
}

static void arm_event(struct hfsd_ctl *c)
{
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, c->efd, &c->ebuf, sizeof(c->ebuf), 0);
	io_uring_sqe_set_data64(sqe, TAG_EVENT);
}

static void new_client(struct hfsd_ctl *c, int fd)
{
	struct hfsd_client *cl;
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	struct timespec ts;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0) {
		close(fd);
		return;
	}
	if (hfsd_admit(c, fd, uc.uid, uc.pid) < 0)
		return; /* refused, told and closed */
	cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->rbuf = malloc(HFS_REQ_MAX + 1))) {
		free(cl);
		hfsd_admit_refuse(c, fd, uc.uid, uc.pid, "out of memory");
		return;
	}
	/* A pidfd names this process, not its number: a kill after the
	 * client died never hits a process that reused the pid. */
	cl->pidfd = (int)syscall(SYS_pidfd_open, uc.pid, 0);
	if (cl->pidfd < 0) {
		char why[64];

		snprintf(why, sizeof(why), "no pidfd for the peer (%s)",
			 strerror(errno));
		free(cl->rbuf);
		free(cl);
		hfsd_admit_refuse(c, fd, uc.uid, uc.pid, why);
		return;
	}
	cl->fd = fd;
	cl->region_fd[0] = cl->region_fd[1] = -1;
	for (unsigned m = 0; m < HFS_MEMBERS_MAX; m++)
		cl->member_fd[m][0] = cl->member_fd[m][1] = -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cl->since_ns = (uint64_t)ts.tv_sec * 1000000000ull +
		       (uint64_t)ts.tv_nsec;
	cl->pid = uc.pid;
	cl->uid = uc.uid;
	cl->gid = uc.gid;
	pthread_mutex_lock(&c->lock);
	cl->cid = ++c->next_cid;
	cl->client_id = (uint32_t)(cl->cid % (HFS_DSLOT_HOLD - 1u)) + 1u;
	cl->next = c->clients;
	c->clients = cl;
	pthread_mutex_unlock(&c->lock);
	arm_recv(c, cl);
	arm_tick(c);
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void on_recv(struct hfsd_ctl *c, struct hfsd_client *cl, int res)
{
	int fds[8], nfds = 0;
	const char *why = NULL;
	struct cmsghdr *cm;
	int type;

	cl->recv_armed = false;
	if (res > 0 && cl->msg.msg_controllen > 0) {
		for (cm = CMSG_FIRSTHDR(&cl->msg); cm;
		     cm = CMSG_NXTHDR(&cl->msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; CMSG_LEN((i + 1) * sizeof(int)) <=
					   cm->cmsg_len && nfds < 8; i++)
				memcpy(&fds[nfds++],
				       CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
		}
	}
	if (cl->closing) {
		close_fds(fds, nfds);
		return;
	}
	if (res <= 0) {
		/* EOF: the client closed or died (after a kill, too).
		 * ECONNRESET is the same for a seqpacket socket whose
		 * owner exited with replies still unread (an asynchronous
		 * RELEASE_OK): an ordinary exit, not worth a warning. */
		hfsd_ctl_drop(c, cl, res < 0 && res != -ECONNRESET
				     ? strerror(-res) : NULL);
		return;
	}
	if (cl->msg.msg_flags & MSG_TRUNC)
		why = "oversized message"; /* no request exceeds HFS_REQ_MAX */
	else if (cl->msg.msg_flags & MSG_CTRUNC)
		why = "control data truncated";
	if (!why) {
		type = hfs_proto_check(cl->rbuf, (size_t)res, nfds, &why);
		if (type > 0)
			why = NULL;
	}
	if (why) {
		close_fds(fds, nfds);
		hfsd_ctl_drop(c, cl, why);
		return;
	}
	cl->spoke = true;
	hfsd_msg_dispatch(c, cl, cl->rbuf, nfds ? fds[0] : -1);
	if (!cl->closing)
		arm_recv(c, cl);
}

/* A multishot accept completion: a new connection, or an error after
 * which accepting pauses (ctl_admit.c) rather than spin. */
static void on_accept(struct hfsd_ctl *c, struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	unsigned pause = 0;

	if (cqe->res >= 0) {
		hfsd_admit_accept_ok(c);
		new_client(c, cqe->res);
	} else if (cqe->res != -ECANCELED) {
		pause = hfsd_admit_accept_error(c, -cqe->res);
	}
	if (pause && more) {
		/* stop the multishot; its last completion re-arms below */
		struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

		if (sqe) {
			io_uring_prep_cancel64(sqe, TAG_ACCEPT, 0);
			io_uring_sqe_set_data64(sqe, 0);
		}
		c->backoff_ms = pause;
		return;
	}
	if (more || c->stop)
		return;
	if (c->backoff_ms)
		arm_timeout(c, &c->retry_ts, c->backoff_ms, TAG_RETRY);
	else
		arm_accept(c);
}

static void on_cqe(struct hfsd_ctl *c, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned t = ud & TAG_MASK;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);

	switch (t) {
	case TAG_ACCEPT:
		on_accept(c, cqe);
		break;
	case TAG_RETRY:
		if (!c->stop)
			arm_accept(c);
		break;
	case TAG_TICK:
		c->tick_armed = false;
		if (hfsd_admit_tick(c))
			arm_tick(c);
		break;
	case TAG_EVENT:
		if (!c->stop)
			arm_event(c);
		break;
	case TAG_RECV: {
		struct hfsd_client *cl = p;

		on_recv(c, cl, cqe->res);
		maybe_free(c, cl);
		break;
	}
	case TAG_SEND:
		maybe_free(c, hfsd_ctl_send_done(c, p, cqe->res));
		break;
	case TAG_TIMER: {
		uint64_t job = hfsd_ctl_timer_done(c, p, cqe->res);

		if (job)
			hfsd_lease_timeout(c, job);
		break;
	}
	default:
		break;
	}
}

static void *ring_main(void *arg)
{
	struct hfsd_ctl *c = arg;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	sigset_t all;

	/* signals belong to the FUSE loop; not SIGBUS: lease grants zero
	 * blocks through the region guard, and a blocked synchronous
	 * SIGBUS kills the process (docs/failure-model.md) */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	hfsd_lease_ring_thread();
	arm_accept(c);
	arm_event(c);
	while (!c->stop) {
		int r = io_uring_submit_and_wait(&c->ring, 1);

		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			hfsd_log(LOG_ERR, "control: io_uring: %s", strerror(-r));
			break;
		}
		n = 0;
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			on_cqe(c, cqe);
			n++;
		}
		io_uring_cq_advance(&c->ring, n);
		hfsd_persisted_replies(c);
		hfsd_offline_replies(c);
		hfsd_lease_run_jobs(c);
	}
	return NULL;
}

/* Descriptors of the region for clients: fresh open file descriptions
 * (not the daemon's, which carries the ownership flock). */
static int region_fds(struct hfsd_ctl *c)
{
	struct hfs_region *rg = c->d->rg;
	char p[64];

	c->region_rw = c->region_ro = -1;
	if (rg->fd < 0)
		return -1;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", rg->fd);
	c->region_ro = open(p, O_RDONLY | O_CLOEXEC);
	if (c->region_ro < 0)
		return -1;
	if (!c->readonly) {
		c->region_rw = open(p, O_RDWR | O_CLOEXEC);
		if (c->region_rw < 0)
			return -1;
	}
	return 0;
}

void hfsd_ctl_set_mount_ro(struct hfsd_ctl *c, bool ro)
{
	if (c)
		__atomic_store_n(&c->mount_ro, ro, __ATOMIC_RELEASE);
}

int hfsd_ctl_start(struct hfsd *d, struct fuse_session *se,
		   const struct hfsd_ctl_opts *o, struct hfsd_ctl **out)
{
	struct hfsd_ctl *c = calloc(1, sizeof(*c));
	const char *what;
	int r;

	*out = NULL;
	if (!c)
		return -1;
	c->d = d;
	c->se = se;
	c->lfd = c->efd = c->region_ro = c->region_rw = -1;
	c->revoke_ms = o->revoke_ms;
	c->readonly = o->readonly;
	c->max_clients = o->max_clients ? o->max_clients : HFSD_MAX_CLIENTS;
	c->max_per_uid = o->max_per_uid ? o->max_per_uid
					: HFSD_MAX_CLIENTS_PER_UID;
	c->hello_ms = o->hello_ms ? o->hello_ms : HFSD_HELLO_MS;
	snprintf(c->mnt, sizeof(c->mnt), "%s", o->mountpoint);
	c->region_size = d->rg->size;
	c->alloc_unit = hfs_vol_alloc_unit(d->vol);
	hfs_vol_uuid(d->vol, c->uuid);
	pthread_mutex_init(&c->lock, NULL);
	/* the REMAP and failure-round sleepers wait on it with deadlines */
	hfsd_cond_init_monotonic(&c->cond);
	if (o->dax_group) {
		struct group *g = getgrnam(o->dax_group);

		if (!g) {
			hfsd_log(LOG_ERR, "dax_group=%s: no such group",
				 o->dax_group);
			goto fail_early;
		}
		c->dax_gid = g->gr_gid;
		c->dax_gid_set = true;
	}
	what = "open the region for clients";
	if (region_fds(c) < 0)
		goto fail;
	what = "create the control socket in " HFS_CTL_DIR;
	if (hfsd_ctl_socket_open(c) < 0)
		goto fail;
	what = "create an eventfd";
	c->efd = eventfd(0, EFD_CLOEXEC);
	if (c->efd < 0)
		goto fail;
	r = io_uring_queue_init(256, &c->ring, 0);
	if (r < 0) {
		errno = -r;
		what = "set up io_uring";
		goto fail;
	}
	/* before the FUSE loop serves: findable once the mount answers */
	hfsd_ctl_socket_publish(c);
	hfsd_admit_init(c);
	hfsd_lease_init(c);
	r = pthread_create(&c->thread, NULL, ring_main, c);
	if (r) {
		hfsd_lease_fini(c);
		io_uring_queue_exit(&c->ring);
		hfsd_ctl_socket_remove(c);
		close(c->lfd);
		c->lfd = -1;
		errno = r;
		what = "start the control thread";
		goto fail;
	}
	c->started = true;
	*out = c;
	return 0;
fail:
	hfsd_log(LOG_ERR, "control: cannot %s: %s", what, strerror(errno));
fail_early:
	if (c->lfd >= 0) {
		close(c->lfd);
		hfsd_ctl_socket_remove(c);
	}
	if (c->efd >= 0)
		close(c->efd);
	if (c->region_ro >= 0)
		close(c->region_ro);
	if (c->region_rw >= 0)
		close(c->region_rw);
	free(c);
	return -1;
}

void hfsd_ctl_stop(struct hfsd_ctl *c)
{
	struct hfsd_client *cl, *next;
	uint64_t one = 1;

	if (!c)
		return;
	hfsd_offline_stop(c); /* its revocation round needs the ring */
	c->stop = true;
	if (write(c->efd, &one, sizeof(one)) < 0)
		hfsd_log(LOG_WARNING, "control: eventfd: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	hfsd_offline_free(c);
	/* Clients see EOF and revoke all their mappings (fail safe). */
	for (cl = c->clients; cl; cl = cl->next)
		hfsd_ctl_drop(c, cl, NULL);
	hfsd_lease_fini(c);
	io_uring_queue_exit(&c->ring); /* cancels what is in flight */
	while (c->inflight) {
		struct ctl_op *op = c->inflight;

		hfsd_op_unlink(c, op);
		free(op);
	}
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		client_close(cl);
	}
	close(c->lfd);
	close(c->efd);
	if (c->region_ro >= 0)
		close(c->region_ro);
	if (c->region_rw >= 0)
		close(c->region_rw);
	hfsd_ctl_socket_remove(c);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
