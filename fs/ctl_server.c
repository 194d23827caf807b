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
 * mount) is a symlink to it (docs/lease-protocol.md).
 */
#include "ctl_ring_i.h"
#include "ctl_server.h"
#include "deadline.h"
#include "mountpoint.h"

#include <dirent.h>
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
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_send.h"
#include "lease.h"
#include "msg_table.h"
#include "persisted.h"
#include "proto_check.h"
#include "revoke.h"

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
	close(cl->fd);
	if (cl->pidfd >= 0)
		close(cl->pidfd);
	free(cl->rbuf);
	free(cl);
}

static void arm_recv(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe) {
		hfsd_ctl_drop(c, cl, "submission queue full");
		return;
	}
	cl->iov.iov_base = cl->rbuf;
	cl->iov.iov_len = HFS_MSG_MAX + 1;
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
	struct hfsd_client *cl = calloc(1, sizeof(*cl));
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (!cl || !(cl->rbuf = malloc(HFS_MSG_MAX + 1))) {
		free(cl);
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->pidfd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0) {
		free(cl->rbuf);
		free(cl);
		close(fd);
		return;
	}
	cl->pid = uc.pid;
	cl->uid = uc.uid;
	cl->gid = uc.gid;
	/* A pidfd names this process, not its number: a kill after the
	 * client died never hits a process that reused the pid. */
	cl->pidfd = (int)syscall(SYS_pidfd_open, uc.pid, 0);
	pthread_mutex_lock(&c->lock);
	cl->cid = ++c->next_cid;
	cl->next = c->clients;
	c->clients = cl;
	pthread_mutex_unlock(&c->lock);
	if (cl->pidfd < 0) {
		hfsd_ctl_drop(c, cl, "cannot open a pidfd for the peer");
		maybe_free(c, cl);
		return;
	}
	arm_recv(c, cl);
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
		/* EOF: the client closed or died (after a kill, too) */
		hfsd_ctl_drop(c, cl, res < 0 ? strerror(-res) : NULL);
		return;
	}
	if (cl->msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		why = "message or control data truncated";
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
	hfsd_msg_dispatch(c, cl, cl->rbuf, nfds ? fds[0] : -1);
	if (!cl->closing)
		arm_recv(c, cl);
}

static void on_cqe(struct hfsd_ctl *c, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned t = ud & TAG_MASK;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);

	switch (t) {
	case TAG_ACCEPT:
		if (cqe->res >= 0)
			new_client(c, cqe->res);
		else if (cqe->res != -ECANCELED)
			hfsd_log(LOG_WARNING, "control: accept: %s",
				 strerror(-cqe->res));
		if (!(cqe->flags & IORING_CQE_F_MORE) && !c->stop)
			arm_accept(c);
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

/* Publish /run/holdfs/dev/<major>:<minor> before the FUSE loop serves, so
 * the socket is findable as soon as the mount answers. */
static void publish_dev_link(struct hfsd_ctl *c)
{
	dev_t dev;

	if (hfsd_mount_dev(c->mnt, &dev) < 0) {
		hfsd_log(LOG_ERR, "control: %s not in /proc/self/mountinfo; "
			 "DAX leases disabled", c->mnt);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->mnt_dev = dev;
	c->mnt_dev_ok = true;
	pthread_mutex_unlock(&c->lock);
	snprintf(c->dev_link, sizeof(c->dev_link), HFS_CTL_DIR "/dev/%u:%u",
		 major(dev), minor(dev));
	unlink(c->dev_link);
	if (symlink(c->sock_path, c->dev_link) < 0) {
		hfsd_log(LOG_ERR, "control: symlink %s: %s", c->dev_link,
			 strerror(errno));
		c->dev_link[0] = '\0';
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
		hfsd_lease_run_jobs(c);
	}
	return NULL;
}

static int make_dirs(void)
{
	if (mkdir(HFS_CTL_DIR, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mkdir(HFS_CTL_DIR "/dev", 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Another live daemon with the same uuid (a copy of the image)?  Then
 * its socket stays and we take a pid-qualified name. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

/* Remove what daemons that died without cleaning up left behind: sockets
 * nobody listens on (ECONNREFUSED) and symlinks to missing or dead
 * sockets.  Live daemons' names are never touched. */
static void sweep_stale(void)
{
	static const char *const dirs[] = { HFS_CTL_DIR, HFS_CTL_DIR "/dev" };

	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			int fd, r;

			if (de->d_name[0] == '.' ||
			    (de->d_type != DT_SOCK && de->d_type != DT_LNK))
				continue;
			if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path),
					     "%s/%s", dirs[i], de->d_name) >=
			    sizeof(sa.sun_path))
				continue;
			fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
					     SOCK_NONBLOCK, 0);
			if (fd < 0)
				continue;
			r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			if (r < 0 && (errno == ECONNREFUSED || errno == ENOENT))
				unlink(sa.sun_path);
			close(fd);
		}
		closedir(d);
	}
}

static int listen_socket(struct hfsd_ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char hex[33];

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->uuid[i]);
	snprintf(c->sock_path, sizeof(c->sock_path), HFS_CTL_DIR "/%s.sock",
		 hex);
	if (socket_alive(c->sock_path)) {
		hfsd_log(LOG_WARNING, "control: %s is served by another "
			 "daemon (same filesystem uuid); using a per-pid name",
			 c->sock_path);
		snprintf(c->sock_path, sizeof(c->sock_path),
			 HFS_CTL_DIR "/%s.%d.sock", hex, (int)getpid());
	}
	unlink(c->sock_path); /* stale, from a daemon that died */
	c->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->sock_path);
	if (bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	/* everyone may connect; each request is checked (SO_PEERCRED) */
	if (chmod(c->sock_path, 0666) < 0 || listen(c->lfd, 128) < 0)
		return -1;
	return 0;
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
	what = "create " HFS_CTL_DIR;
	if (make_dirs() < 0)
		goto fail;
	sweep_stale();
	what = "open the region for clients";
	if (region_fds(c) < 0)
		goto fail;
	what = "create the control socket";
	if (listen_socket(c) < 0)
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
	publish_dev_link(c);
	hfsd_lease_init(c);
	r = pthread_create(&c->thread, NULL, ring_main, c);
	if (r) {
		hfsd_lease_fini(c);
		io_uring_queue_exit(&c->ring);
		if (c->dev_link[0])
			unlink(c->dev_link);
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
		unlink(c->sock_path);
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
	c->stop = true;
	if (write(c->efd, &one, sizeof(one)) < 0)
		hfsd_log(LOG_WARNING, "control: eventfd: %s", strerror(errno));
	pthread_join(c->thread, NULL);
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
		close(cl->fd);
		if (cl->pidfd >= 0)
			close(cl->pidfd);
		free(cl->rbuf);
		free(cl);
	}
	close(c->lfd);
	close(c->efd);
	if (c->region_ro >= 0)
		close(c->region_ro);
	if (c->region_rw >= 0)
		close(c->region_rw);
	unlink(c->sock_path);
	if (c->dev_link[0])
		unlink(c->dev_link);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
