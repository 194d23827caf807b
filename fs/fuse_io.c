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
 *           and the kill bit of each WRITE and SETATTR for the thread
 *           that handles it;
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
#include "fuse_uring.h"

/* FUSE_OVER_IO_URING (fuse.h 7.42), in flags2: Debian 12's headers
 * predate it. */
#define OVER_IO_URING_FLAGS2 (1u << (41 - 32))

/* The kill bit of the request this thread is handling. */
static _Thread_local bool req_kill_suidgid;
/* ... and whether it is one that carries the bit (WRITE, SETATTR) */
static _Thread_local bool req_kill_known;

/* The INIT exchange: written by the one thread that reads INIT (the
 * first request of the session, answered before any other is read). */
static uint64_t init_unique;
static bool init_offered_v2;
static bool init_offered_uring;
static bool init_seen;

static _Thread_local bool req_tmpfile;

bool hfsd_fuse_io_req_tmpfile(void)
{
	return req_tmpfile;
}

void hfsd_fuse_io_note_request(void *buf, size_t n)
{
	struct fuse_in_header *h = buf;
	const void *arg = h + 1;
	size_t alen;

	req_kill_suidgid = false;
	req_kill_known = false;
	req_tmpfile = false;
	if (n < sizeof(*h))
		return;
	alen = n - sizeof(*h);
	switch (h->opcode) {
	case FUSE_TMPFILE:
		/* libfuse 3.14 has no tmpfile handler (it would answer
		 * ENOSYS).  The request is a CREATE in all but its opcode:
		 * fuse_create_in and the name "/" (the kernel's name for an
		 * O_TMPFILE dentry), and the reply is CREATE's (entry and
		 * open).  So it goes to libfuse as a CREATE, marked for
		 * hfsd_create on this thread, which makes an unnamed inode. */
		h->opcode = FUSE_CREATE;
		req_tmpfile = true;
		break;
	case FUSE_INIT: {
		const struct fuse_init_in *in = arg;

		if (alen < offsetof(struct fuse_init_in, flags) +
			       sizeof(in->flags))
			return;
		init_unique = h->unique;
		init_offered_v2 = (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		init_offered_uring =
			(in->flags & FUSE_INIT_EXT) &&
			alen >= offsetof(struct fuse_init_in, flags2) +
					sizeof(in->flags2) &&
			(in->flags2 & OVER_IO_URING_FLAGS2);
		init_seen = true;
		break;
	}
	case FUSE_WRITE:
		req_kill_known = true;
		if (alen >= sizeof(struct fuse_write_in))
			req_kill_suidgid =
				((const struct fuse_write_in *)arg)->write_flags &
				FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_SETATTR:
		req_kill_known = true;
		if (alen >= sizeof(struct fuse_setattr_in))
			req_kill_suidgid =
				((const struct fuse_setattr_in *)arg)->valid &
				FATTR_KILL_SUIDGID;
		break;
	/* OPEN's and CREATE's kill bit (an O_TRUNC open) never comes: the
	 * daemon declines ATOMIC_O_TRUNC, so the truncate is a SETATTR */
	default:
		break;
	}
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0)
		hfsd_fuse_io_note_request(buf, (size_t)n);
	return n;
}

static size_t iov_bytes(const struct iovec *iov, int count)
{
	size_t n = 0;

	for (int i = 0; i < count; i++)
		n += iov[i].iov_len;
	return n;
}

/* libfuse's INIT reply: add what it does not name.  Returns the largest
 * request the connection allows, for the io_uring payload buffers, or 0
 * when io_uring was not negotiated. */
static size_t amend_init_reply(struct hfsd *d, struct fuse_init_out *out,
			       size_t len)
{
	size_t payload;
	long pg = sysconf(_SC_PAGESIZE);

	if (init_offered_v2) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		d->killpriv_v2 = true;
	}
	if (!d->want_uring)
		return 0;
	if (!init_offered_uring ||
	    len < offsetof(struct fuse_init_out, flags2) + sizeof(out->flags2) ||
	    !(out->flags & FUSE_INIT_EXT)) {
		hfsd_log(LOG_WARNING, "io_uring: the kernel does not offer "
			 "FUSE over io_uring (it needs 6.14+ and the fuse "
			 "module's enable_uring parameter: echo Y > "
			 "/sys/module/fuse/parameters/enable_uring); using "
			 "/dev/fuse");
		return 0;
	}
	out->flags2 |= OVER_IO_URING_FLAGS2;
	/* the kernel's max_payload_sz: max(8 KiB, max_write, max_pages) */
	payload = out->max_write > 8192 ? out->max_write : 8192;
	if (out->flags & FUSE_MAX_PAGES) {
		size_t pages = (size_t)out->max_pages * (size_t)(pg > 0 ? pg
								     : 4096);

		if (pages > payload)
			payload = pages;
	}
	return payload;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct hfsd *d = userdata;
	size_t uring_payload = 0;
	ssize_t n;

	if (hfsd_uring_reply(iov, count))
		return (ssize_t)iov_bytes(iov, count);
	if (init_seen && count >= 2 &&
	    iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) +
			      sizeof(uint32_t)) {
		struct fuse_out_header *oh = iov[0].iov_base;

		if (oh->unique == init_unique && oh->error == 0) {
			init_seen = false; /* one INIT per session */
			uring_payload = amend_init_reply(d, iov[1].iov_base,
							 iov[1].iov_len);
		}
	}
	n = writev(fd, iov, count);
	/* The kernel has taken the INIT reply: queues may register now.
	 * Until every queue has, requests keep coming through /dev/fuse. */
	if (n >= 0 && uring_payload) {
		int r = hfsd_uring_start(d->se, d->uring_depth, uring_payload,
					 &d->uring);

		if (r < 0)
			hfsd_log(LOG_WARNING, "io_uring: cannot start the "
				 "queues: %s; using /dev/fuse", strerror(-r));
		else
			hfsd_log(LOG_INFO, "FUSE over io_uring: %u queue "
				 "threads per CPU", d->uring_depth);
	}
	return n;
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

bool hfsd_req_kill_known(void)
{
	return req_kill_known;
}
