/* SPDX-License-Identifier: MIT */
/*
 * Sending on the control server's ring (ctl_send.h): replies, REVOKE and
 * REMAP broadcasts and the timeouts of revocation jobs are queued as ring
 * operations and go out with the loop's next submission, so a round's
 * messages and its deadline are one io_uring_submit.  Nothing here waits.
 *
 * A client has at most one sendmsg on the ring; later messages wait in
 * its queue and go on when it completes.  Several sendmsgs on one socket
 * in flight at once may complete in any order once its buffer is full
 * (each waits for space on its own), which reordered the chunks of large
 * ADMIN_REPLY documents (holdfsctl drill with 2048 leases got invalid
 * JSON).
 */
#include "ctl_ring_i.h"
#include "ctl_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revoke.h"

struct ctl_send {
	struct ctl_op op;       /* first: freed as a ctl_op at shutdown */
	struct hfsd_client *cl;
	struct ctl_send *qnext; /* the client's send queue */
	struct msghdr msg;
	struct iovec iov;
	struct {
		_Alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	uint8_t data[];
};

struct ctl_timer {
	struct ctl_op op;
	struct __kernel_timespec ts;
	uint64_t job_id;
};

void hfsd_msg_init(struct hfs_msg_hdr *h, uint16_t type, uint32_t len,
		   uint64_t id)
{
	memset(h, 0, sizeof(*h));
	h->magic = HFS_PROTO_MAGIC;
	h->version = HFS_PROTO_VERSION;
	h->type = type;
	h->len = len;
	h->id = id;
}

static void attach_fd(struct ctl_send *s, int pass_fd)
{
	struct cmsghdr *cm;

	s->msg.msg_control = s->cbuf.buf;
	s->msg.msg_controllen = sizeof(s->cbuf.buf);
	cm = CMSG_FIRSTHDR(&s->msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
}

/* A send that will not go out: forget it. */
static void discard(struct hfsd_ctl *c, struct ctl_send *s)
{
	s->cl->inflight--;
	hfsd_op_unlink(c, &s->op);
	free(s);
}

/* Put s on the ring (the client has nothing there now). */
static int submit(struct hfsd_ctl *c, struct ctl_send *s)
{
	struct hfsd_client *cl = s->cl;
	struct io_uring_sqe *sqe = hfsd_ctl_sqe(c);

	if (!sqe) {
		discard(c, s);
		/* may run under ctl->lock: no drop here; the pending recv
		 * sees EOF and drops the client */
		hfsd_log(LOG_ERR, "control: pid %d: cannot queue a message; "
			 "disconnecting", (int)cl->pid);
		shutdown(cl->fd, SHUT_RDWR);
		return -ENOMEM;
	}
	io_uring_prep_sendmsg(sqe, cl->fd, &s->msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, hfsd_op_tag(s, TAG_SEND));
	cl->sending = true;
	return 0;
}

/* The client's next queued send, if it has one and nothing on the ring;
 * a closing client's queue is dropped. */
static void send_next(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	bool failed = false;

	while (cl->sq_head && !cl->sending) {
		struct ctl_send *s = cl->sq_head;

		cl->sq_head = s->qnext;
		if (!cl->sq_head)
			cl->sq_tail = NULL;
		if (cl->closing || failed)
			discard(c, s);
		else
			failed = submit(c, s) < 0; /* the rest would be out
						      of order: dropped */
	}
}

int hfsd_ctl_send(struct hfsd_ctl *c, struct hfsd_client *cl,
		  const void *msg, size_t len, int pass_fd)
{
	struct ctl_send *s = calloc(1, sizeof(*s) + len);

	if (!s) {
		hfsd_log(LOG_ERR, "control: pid %d: cannot queue a message; "
			 "disconnecting", (int)cl->pid);
		shutdown(cl->fd, SHUT_RDWR);
		return -ENOMEM;
	}
	s->cl = cl;
	memcpy(s->data, msg, len);
	s->iov.iov_base = s->data;
	s->iov.iov_len = len;
	s->msg.msg_iov = &s->iov;
	s->msg.msg_iovlen = 1;
	if (pass_fd >= 0)
		attach_fd(s, pass_fd);
	hfsd_op_link(c, &s->op);
	cl->inflight++;
	if (!cl->sending)
		return submit(c, s);
	if (cl->sq_tail)
		cl->sq_tail->qnext = s;
	else
		cl->sq_head = s;
	cl->sq_tail = s;
	return 0;
}

struct hfsd_client *hfsd_ctl_send_done(struct hfsd_ctl *c, void *op, int res)
{
	struct ctl_send *s = op;
	struct hfsd_client *cl = s->cl;

	cl->sending = false;
	discard(c, s);
	if (res < 0)
		hfsd_ctl_drop(c, cl, cl->closing ? NULL : "send failed");
	send_next(c, cl);
	return cl;
}

void hfsd_ctl_send_error(struct hfsd_ctl *c, struct hfsd_client *cl,
			 uint64_t id, int err, const char *why)
{
	struct hfs_msg_error m;

	memset(&m, 0, sizeof(m));
	hfsd_msg_init(&m.h, HFS_MSG_ERROR, sizeof(m), id);
	m.err = err;
	snprintf(m.msg, sizeof(m.msg), "%s", why);
	hfsd_ctl_send(c, cl, &m, sizeof(m), -1);
}

int hfsd_ctl_arm_timeout(struct hfsd_ctl *c, uint64_t job_id, unsigned ms)
{
	struct ctl_timer *t = calloc(1, sizeof(*t));
	struct io_uring_sqe *sqe;

	if (!t || !(sqe = hfsd_ctl_sqe(c))) {
		free(t);
		return -ENOMEM;
	}
	t->ts.tv_sec = ms / 1000;
	t->ts.tv_nsec = (long long)(ms % 1000) * 1000000;
	t->job_id = job_id;
	io_uring_prep_timeout(sqe, &t->ts, 0, 0);
	io_uring_sqe_set_data64(sqe, hfsd_op_tag(t, TAG_TIMER));
	hfsd_op_link(c, &t->op);
	return 0;
}

uint64_t hfsd_ctl_timer_done(struct hfsd_ctl *c, void *op, int res)
{
	struct ctl_timer *t = op;
	uint64_t job = res == -ETIME ? t->job_id : 0;

	hfsd_op_unlink(c, &t->op);
	free(t);
	return job;
}

void hfsd_ctl_drop(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const char *why)
{
	if (cl->closing)
		return;
	if (why)
		hfsd_log(LOG_WARNING, "control: client pid %d uid %u: %s; "
			 "connection closed", (int)cl->pid, (unsigned)cl->uid,
			 why);
	pthread_mutex_lock(&c->lock);
	cl->closing = true;
	pthread_mutex_unlock(&c->lock);
	/* completes the pending recvmsg; in-flight sends fail */
	shutdown(cl->fd, SHUT_RDWR);
	hfsd_lease_client_gone(c, cl);
}

void hfsd_ctl_wake(struct hfsd_ctl *c)
{
	uint64_t one = 1;

	if (write(c->efd, &one, sizeof(one)) < 0)
		hfsd_log(LOG_ERR, "control: eventfd: %s", strerror(errno));
}
