/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring (fs/fuse_uring.c), on libfuse 3.14's custom I/O
 * hooks: one queue per CPU, `depth` threads per queue.
 */
#ifndef HOLDFS_FS_FUSE_URING_H
#define HOLDFS_FS_FUSE_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct fuse_session;
struct hfsd_uring;

/* After the INIT reply that enabled FUSE_OVER_IO_URING: register the
 * queues' entries (max_payload: the connection's largest request).  0,
 * or -errno (then the kernel keeps using /dev/fuse). */
int hfsd_uring_start(struct fuse_session *se, unsigned depth,
		     size_t max_payload, struct hfsd_uring **out);
/* Wake and join every queue thread, release the rings.  NULL: nothing. */
void hfsd_uring_stop(struct hfsd_uring *u);

/* From the writev hook: if this thread is handling a ring request and
 * iov is its reply, put the reply in the ring and queue the commit;
 * true then.  false: the message goes to /dev/fuse (a notification, or
 * a request that came from there). */
bool hfsd_uring_reply(struct iovec *iov, int count);

/* In a handler of a ring request: where a reply of up to size bytes can
 * be built in place (the reply then skips a copy), or NULL.  Valid until
 * the reply is sent; the request's own data (a WRITE's payload) is in
 * the same buffer, so only handlers whose request carries none may use
 * it (READ, READDIR). */
void *hfsd_uring_buffer(size_t size);

#endif
