/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring (-o io_uring): requests arrive in ring buffers the
 * kernel fills, and each reply is committed together with the fetch of
 * the next request in one io_uring submission, instead of a read(2) and
 * a writev(2) on /dev/fuse per request.
 *
 * libfuse 3.14 predates the transport (3.18 has it), so it is built here
 * on the same custom I/O hooks as KILLPRIV_V2 (fs/fuse_io.c), without
 * touching libfuse:
 *
 *   - INIT: fuse_io.c adds FUSE_OVER_IO_URING to libfuse's reply when the
 *     kernel offers it (the fuse module's enable_uring parameter) and
 *     the mount asked for it; once the reply is written, this file
 *     starts the queues.
 *   - One queue per possible CPU (the kernel queues a request on the
 *     queue of the CPU it was issued on, and uses the ring only once
 *     every queue has an entry); `depth` threads per queue, each with
 *     its own small ring and one registered entry: a header buffer
 *     (struct fuse_uring_req_header) and a payload buffer of the
 *     connection's largest request.  One thread per entry means a
 *     handler that waits (a REMAP, a revocation) holds one entry, never
 *     the queue.
 *   - A request is handed to libfuse as if read from /dev/fuse: its
 *     fuse_in_header and per-operation header are copied in front of
 *     the payload (the payload buffer is registered 4 KiB into its
 *     mapping, leaving room), so fuse_session_process_buf parses it in
 *     place, with no copy of write data.
 *   - The reply comes back through the writev hook, on the same thread
 *     (every holdfs handler replies before it returns): its header and
 *     data are copied into the entry and a COMMIT_AND_FETCH is queued,
 *     submitted when the thread goes back to wait.
 *
 * What stays on /dev/fuse: INIT, FORGET, INTERRUPT, and every
 * notification the daemon sends (fuse_lowlevel_notify_*), so libfuse's
 * own loop keeps running beside the queues.
 *
 * The kernel ABI (include/uapi/linux/fuse.h, 7.42+) is declared here:
 * Debian 12's linux-libc-dev (6.1) predates it.
 */
#include "daemon.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "fuse_io.h"
#include "fuse_uring.h"

/* ---- kernel ABI (fuse.h 7.42) ---- */
#define URING_IN_OUT_HEADER_SZ 128
#define URING_OP_IN_OUT_SZ 128
#define URING_CMD_REGISTER 1
#define URING_CMD_COMMIT_AND_FETCH 2

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* to send back with the commit */
	uint32_t payload_sz; /* bytes of payload, either direction */
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char in_out[URING_IN_OUT_HEADER_SZ]; /* fuse_in/out_header */
	char op_in[URING_OP_IN_OUT_SZ];      /* the operation's own header */
	struct uring_ent_in_out ent;
};

struct uring_cmd_req { /* in the SQE's 80-byte command area */
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
/* ---- end of the kernel ABI ---- */

/* Room in front of the payload for the request's two headers. */
#define FRONT 4096u
#define TAG_STOP UINT64_MAX

struct hfsd_uring_ent {
	struct hfsd_uring *u;
	pthread_t thread;
	bool started;
	unsigned qid;
	struct io_uring ring;
	bool ring_ok;
	struct uring_req_header *hdr;
	uint8_t *map;       /* FRONT + payload bytes */
	uint8_t *payload;   /* map + FRONT */
	size_t payload_len;
	struct iovec iov[2];
	uint64_t unique;    /* of the request being handled, 0 if none */
	bool replied;
};

struct hfsd_uring {
	struct fuse_session *se;
	int fd;             /* /dev/fuse */
	int stopfd;         /* eventfd: every thread polls it */
	unsigned nqueues, depth;
	size_t payload_len;
	struct hfsd_uring_ent *ents;
};

/* The entry whose request this thread is handling. */
static _Thread_local struct hfsd_uring_ent *cur;

static void cmd_sqe(struct io_uring_sqe *sqe, struct hfsd_uring_ent *e,
		    uint32_t op, uint64_t commit_id)
{
	struct uring_cmd_req *req;

	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->u->fd;
	sqe->cmd_op = op;
	io_uring_sqe_set_data(sqe, e);
	req = (struct uring_cmd_req *)sqe->cmd;
	req->qid = (uint16_t)e->qid;
	req->commit_id = commit_id;
	if (op == URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
}

bool hfsd_uring_reply(struct iovec *iov, int count)
{
	struct hfsd_uring_ent *e = cur;
	const struct fuse_out_header *oh;
	struct fuse_out_header *out;
	struct io_uring_sqe *sqe;
	size_t len = 0;

	if (!e || e->replied || count < 1 ||
	    iov[0].iov_len != sizeof(struct fuse_out_header))
		return false;
	oh = iov[0].iov_base;
	if (oh->unique != e->unique)
		return false; /* a notification, or not this request's */
	out = (struct fuse_out_header *)e->hdr->in_out;
	*out = *oh;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > e->payload_len - len) {
			out->error = -EIO; /* cannot be: max_write bounds it */
			len = 0;
			break;
		}
		/* a handler that built its reply in place (hfsd_uring_buffer)
		 * needs no copy */
		if (iov[i].iov_base != e->payload + len)
			memcpy(e->payload + len, iov[i].iov_base,
			       iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out->len = (uint32_t)(sizeof(*out) + len);
	e->hdr->ent.payload_sz = (uint32_t)len;
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe) /* the ring has room for exactly this: cannot be */
		return false;
	cmd_sqe(sqe, e, URING_CMD_COMMIT_AND_FETCH, e->hdr->ent.commit_id);
	e->replied = true;
	return true;
}

void *hfsd_uring_buffer(size_t size)
{
	struct hfsd_uring_ent *e = cur;

	/* the request's own bytes are in front of the payload, not in it:
	 * once libfuse has parsed them the payload is free for the reply */
	return e && !e->replied && size <= e->payload_len ? e->payload : NULL;
}

/* Answer e's request (unique) with EIO ourselves: every request on the
 * ring gets exactly one reply, or its entry is stranded. */
static void reply_eio(struct hfsd_uring_ent *e, uint64_t unique)
{
	struct fuse_out_header oh = { .error = -EIO, .unique = unique };
	struct iovec iov = { &oh, sizeof(oh) };

	e->unique = unique;
	e->replied = false;
	cur = e;
	hfsd_uring_reply(&iov, 1);
	cur = NULL;
}

/* A request is in the entry: hand it to libfuse as if it came from
 * /dev/fuse (header, operation header, payload, contiguous). */
static void handle(struct hfsd_uring_ent *e)
{
	struct fuse_in_header in;
	size_t plen = e->hdr->ent.payload_sz, oplen;
	struct fuse_buf buf = { 0 };
	uint8_t *start;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	/* in.len is the whole request as /dev/fuse would have it: what is
	 * not payload is the operation header (the kernel's in_args[0]) */
	if (plen > e->payload_len || in.len < sizeof(in) + plen ||
	    in.len - sizeof(in) - plen > URING_OP_IN_OUT_SZ) {
		hfsd_log(LOG_ERR, "io_uring: malformed request (opcode %u, "
			 "len %u, payload %zu); answering EIO", in.opcode,
			 in.len, plen);
		reply_eio(e, in.unique);
		return;
	}
	oplen = in.len - sizeof(in) - plen;
	start = e->payload - oplen - sizeof(in);
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr->op_in, oplen);
	buf.mem = start;
	buf.size = in.len;
	e->unique = in.unique;
	e->replied = false;
	hfsd_fuse_io_note_request(start, in.len);
	cur = e;
	fuse_session_process_buf(e->u->se, &buf);
	cur = NULL;
	if (!e->replied) {
		hfsd_log(LOG_ERR, "io_uring: opcode %u got no reply on its "
			 "thread; answering EIO", in.opcode);
		reply_eio(e, in.unique);
	}
}

static void *ent_thread(void *arg)
{
	struct hfsd_uring_ent *e = arg;
	struct hfsd_uring *u = e->u;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	cpu_set_t cpus;

	/* next to the CPU whose requests it serves (a hint: ignore
	 * failure, e.g. a cpuset without that CPU) */
	CPU_ZERO(&cpus);
	CPU_SET(e->qid, &cpus);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);

	/* a fresh ring of 4 has room for both */
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe)
		return NULL;
	io_uring_prep_poll_add(sqe, u->stopfd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_STOP);
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe)
		return NULL;
	cmd_sqe(sqe, e, URING_CMD_REGISTER, 0);
	for (;;) {
		unsigned head, n = 0;
		bool stop = false;
		int r = io_uring_submit_and_wait(&e->ring, 1);

		if (r < 0 && r != -EINTR) {
			hfsd_log(LOG_ERR, "io_uring: queue %u: %s", e->qid,
				 strerror(-r));
			break;
		}
		io_uring_for_each_cqe(&e->ring, head, cqe) {
			n++;
			if (io_uring_cqe_get_data64(cqe) == TAG_STOP) {
				stop = true;
			} else if (cqe->res == 0) {
				handle(e);
			} else if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
				sqe = io_uring_get_sqe(&e->ring);
				if (!sqe) {
					stop = true;
					continue;
				}
				cmd_sqe(sqe, e, e->replied
					? URING_CMD_COMMIT_AND_FETCH
					: URING_CMD_REGISTER,
					e->hdr->ent.commit_id);
			} else {
				/* ENOTCONN/ENODEV: the mount is gone.  A
				 * refused REGISTER leaves the kernel on
				 * /dev/fuse: slower, not broken. */
				if (cqe->res != -ENOTCONN &&
				    cqe->res != -ENODEV)
					hfsd_log(LOG_ERR, "io_uring: queue "
						 "%u: %s%s", e->qid,
						 strerror(-cqe->res),
						 e->unique ? "" : " (requests "
						 "stay on /dev/fuse)");
				stop = true;
			}
		}
		io_uring_cq_advance(&e->ring, n);
		if (stop)
			break;
	}
	return NULL;
}

static void free_ent(struct hfsd_uring_ent *e)
{
	if (e->ring_ok)
		io_uring_queue_exit(&e->ring);
	if (e->map)
		munmap(e->map, FRONT + e->payload_len);
	free(e->hdr);
}

static int init_ent(struct hfsd_uring *u, struct hfsd_uring_ent *e,
		    unsigned qid)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	int r;

	e->u = u;
	e->qid = qid;
	e->payload_len = u->payload_len;
	e->hdr = calloc(1, sizeof(*e->hdr));
	e->map = mmap(NULL, FRONT + e->payload_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->map == MAP_FAILED)
		e->map = NULL;
	if (!e->hdr || !e->map)
		return -ENOMEM;
	e->payload = e->map + FRONT;
	e->iov[0] = (struct iovec){ e->hdr, sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ e->payload, e->payload_len };
	/* one command in flight, and the stop poll */
	r = io_uring_queue_init_params(4, &e->ring, &p);
	if (r < 0)
		return r;
	e->ring_ok = true;
	return 0;
}

void hfsd_uring_stop(struct hfsd_uring *u)
{
	uint64_t one = 1;
	unsigned n;

	if (!u)
		return;
	/* also a start that failed half-way: no eventfd, no entries, or
	 * only some threads started */
	n = u->ents ? u->nqueues * u->depth : 0;
	if (u->stopfd >= 0 && write(u->stopfd, &one, sizeof(one)) < 0)
		hfsd_log(LOG_ERR, "io_uring: cannot wake the queues: %s",
			 strerror(errno));
	for (unsigned i = 0; i < n; i++)
		if (u->ents[i].started)
			pthread_join(u->ents[i].thread, NULL);
	for (unsigned i = 0; i < n; i++)
		free_ent(&u->ents[i]);
	if (u->stopfd >= 0)
		close(u->stopfd);
	free(u->ents);
	free(u);
}

int hfsd_uring_start(struct fuse_session *se, unsigned depth,
		     size_t max_payload, struct hfsd_uring **out)
{
	struct hfsd_uring *u = calloc(1, sizeof(*u));
	unsigned n;
	int r = 0;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	u->se = se;
	u->fd = fuse_session_fd(se);
	u->nqueues = (unsigned)get_nprocs_conf();
	u->depth = depth;
	/* the kernel wants room for its largest request (fs/fuse_io.c
	 * works it out from the INIT reply) */
	u->payload_len = max_payload;
	/* written once to stop: every thread polls it, none reads it */
	u->stopfd = eventfd(0, EFD_CLOEXEC);
	n = u->nqueues * depth;
	u->ents = calloc(n, sizeof(*u->ents));
	if (u->stopfd < 0 || !u->ents) {
		r = u->stopfd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n && !r; i++)
		r = init_ent(u, &u->ents[i], i / depth);
	for (unsigned i = 0; i < n && !r; i++) {
		r = -pthread_create(&u->ents[i].thread, NULL, ent_thread,
				    &u->ents[i]);
		u->ents[i].started = r == 0;
	}
	if (r)
		goto fail;
	*out = u;
	return 0;
fail:
	hfsd_uring_stop(u);
	return r;
}
