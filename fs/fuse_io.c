/* SPDX-License-Identifier: MIT */
/*
 * The /dev/fuse transport, through libfuse's custom I/O hooks.
 *
 * Why not libfuse's own read/writev: the kernel offers
 * FUSE_HANDLE_KILLPRIV_V2 ("the filesystem clears setuid, setgid and
 * file capabilities on write, truncate and chown"), and without it every
 * write(2) through the mount costs a GETXATTR(security.capability) round
 * trip first (the kernel's file_remove_privs probe).  libfuse 3.14 does
 * not name the flag: its INIT reply carries only the capabilities it
 * knows, and it does not pass the per-request kill bits (write_flags,
 * setattr valid, open_flags) to the handlers.  Its custom I/O hooks
 * (fuse_session_custom_io, 3.13) see every request and reply as raw
 * bytes, which is all it takes:
 *
 *   read:   notes the INIT request (its unique, what the kernel offers),
 *           and each request's kill bit for the thread that handles it;
 *   writev: adds FUSE_HANDLE_KILLPRIV_V2 to libfuse's INIT reply when
 *           the kernel offered it.
 *
 * libfuse's workers read a request and handle it on the same thread
 * (fuse_session_loop, fuse_session_loop_mt), so a thread-local is the
 * request's own.  Splice is not used (no splice hooks): every request
 * arrives through read.  Nothing else of libfuse is touched.
 */
#include "daemon.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse_io.h"

/* The kill bit of the request this thread is handling. */
static _Thread_local bool req_kill_suidgid;

/* The INIT exchange: written by the one thread that reads INIT (the
 * first request of the session, answered before any other is read). */
static uint64_t init_unique;
static bool init_offered_v2;
static bool init_seen;

static void note_request(const void *buf, size_t n)
{
	const struct fuse_in_header *h = buf;
	const void *arg = h + 1;
	size_t alen;

	req_kill_suidgid = false;
	if (n < sizeof(*h))
		return;
	alen = n - sizeof(*h);
	switch (h->opcode) {
	case FUSE_INIT: {
		const struct fuse_init_in *in = arg;

		if (alen < offsetof(struct fuse_init_in, flags) +
			       sizeof(in->flags))
			return;
		init_unique = h->unique;
		init_offered_v2 = (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		init_seen = true;
		break;
	}
	case FUSE_WRITE:
		if (alen >= sizeof(struct fuse_write_in))
			req_kill_suidgid =
				((const struct fuse_write_in *)arg)->write_flags &
				FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_SETATTR:
		if (alen >= sizeof(struct fuse_setattr_in))
			req_kill_suidgid =
				((const struct fuse_setattr_in *)arg)->valid &
				FATTR_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		if (alen >= sizeof(struct fuse_open_in))
			req_kill_suidgid =
				((const struct fuse_open_in *)arg)->open_flags &
				FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_CREATE:
		if (alen >= sizeof(struct fuse_create_in))
			req_kill_suidgid =
				((const struct fuse_create_in *)arg)->open_flags &
				FUSE_OPEN_KILL_SUIDGID;
		break;
	default:
		break;
	}
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0)
		note_request(buf, (size_t)n);
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct hfsd *d = userdata;

	if (init_seen && !d->killpriv_v2 && init_offered_v2 && count >= 2 &&
	    iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) +
			      sizeof(uint32_t)) {
		struct fuse_out_header *oh = iov[0].iov_base;
		struct fuse_init_out *out = iov[1].iov_base;

		if (oh->unique == init_unique && oh->error == 0) {
			out->flags |= FUSE_HANDLE_KILLPRIV_V2;
			d->killpriv_v2 = true;
		}
	}
	return writev(fd, iov, count);
}

int hfsd_fuse_io_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};
	int r = fuse_session_custom_io(se, &io, fuse_session_fd(se));

	if (r < 0) {
		hfsd_log(LOG_ERR, "cannot install the FUSE transport hooks: %s",
			 strerror(-r));
		return -1;
	}
	return 0;
}

bool hfsd_req_kill_suidgid(void)
{
	return req_kill_suidgid;
}
