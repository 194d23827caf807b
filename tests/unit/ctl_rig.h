/* SPDX-License-Identifier: MIT */
/*
 * A control side on the daemon's own objects, with a real ring and a
 * real socket, for tests of what the ring thread sends and decides
 * (test_grant_order.c, test_ack_grace.c): a volume in memory with one
 * regular file, struct hfsd_ctl with its lease table, revoke hooks and
 * io_uring, and one client whose connection is one end of a socketpair
 * (the test reads and writes the other end, rig.peer).  The test is the
 * ring thread.
 *
 * check_file (fs/lease_req.c) wants the client's descriptor on the mount
 * with the volume's inode number: a tmpfs of our own in a private mount
 * namespace (gone with the process) numbers its files from 2 as the
 * volume does.  Mounting needs CAP_SYS_ADMIN: rig_open returns 77 (the
 * SKIP code) without it, having said so on stderr.
 */
#ifndef HOLDFS_TESTS_CTL_RIG_H
#define HOLDFS_TESTS_CTL_RIG_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "ctl_i.h"

struct rig {
	struct hfsd_ctl *c;
	struct hfsd_client *cl;
	struct hfs_vol *vol;
	uint64_t ino;   /* the file */
	uint64_t unit;  /* the allocation unit */
	int fd;         /* the file as the client opened it (the twin) */
	int peer;       /* the client's end of the connection */
	/* private */
	void *mem;
	struct hfs_region *rg;
	struct hfsd d;
	int mfd;
	char dir[32];
};

/* 0, 77 (cannot mount the tmpfs: SKIP), or 1 (said why on stderr). */
int rig_open(struct rig *r);
void rig_close(struct rig *r);
/* What the ring loop does with the completions of our sends and
 * timers: a sent message lets the client's next one go; a timer's
 * completion is handed to the lease code (hfsd_lease_timeout). */
void rig_pump(struct rig *r);
/* The ring's step for one LEASE_REQ of [off, off + len) for writing:
 * the handler, then the jobs. */
void rig_lease_req(struct rig *r, uint64_t id, uint64_t off, uint64_t len);
/* The next message the client reads: its type (0 after 5 s), its id in
 * *id, up to cap bytes of it in body (may be NULL).  A descriptor
 * passed with it is closed. */
unsigned rig_next_msg(struct rig *r, uint64_t *id, void *body, size_t cap);
/* A client that said HELLO, pid ours, on connection fd (-1: none). */
struct hfsd_client *rig_client(uint64_t cid, int fd);
/* Every lease and job of c dropped (any control side: test_remap_gone
 * builds its own without a ring). */
void rig_drop_all(struct hfsd_ctl *c);
/* The file: data bytes written at 0; truncated to size.  0 or -errno. */
int rig_fill(struct rig *r, uint64_t data);
int rig_truncate(struct rig *r, uint64_t size);

#endif
