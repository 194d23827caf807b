/* SPDX-License-Identifier: MIT */
/*
 * The /dev/fuse transport (fs/fuse_io.c): libfuse's custom I/O hooks,
 * which negotiate FUSE_HANDLE_KILLPRIV_V2 and hand each request's
 * "kill setuid/setgid" bit to its handler.
 */
#ifndef HOLDFS_FS_FUSE_IO_H
#define HOLDFS_FS_FUSE_IO_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_session;

/* After fuse_session_mount: route the session's reads and writes through
 * the hooks.  Returns 0, or -1 with the reason logged. */
int hfsd_fuse_io_install(struct fuse_session *se);

/* In a WRITE or SETATTR handler: the kernel asked for setuid/setgid to
 * be killed (the caller lacks CAP_FSETID; always set for a chown).
 * Meaningful only once hfsd.killpriv_v2 is set. */
bool hfsd_req_kill_suidgid(void);
/* The request being handled is a WRITE or SETATTR: under KILLPRIV_V2
 * its kill bit says whether the caller holds CAP_FSETID. */
bool hfsd_req_kill_known(void);

/* A request read by another transport (fs/fuse_uring.c), about to be
 * handled on this thread: note what the read hook notes. */
void hfsd_fuse_io_note_request(void *buf, size_t n);
/* Was the request this thread handles now a FUSE_TMPFILE (open with
 * O_TMPFILE), handed to libfuse as a CREATE of the name "/"? */
bool hfsd_fuse_io_req_tmpfile(void);

#endif
