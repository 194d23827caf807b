/* SPDX-License-Identifier: MIT */
/*
 * The ring's operations, shared by the event loop (ctl_server.c) and the
 * sending side (ctl_send.c).  Ring thread only.
 *
 * Every submission carries its kind in the low bits of its user data and
 * a pointer to what it uses in the rest.  Every buffer an in-flight
 * operation uses is on c->inflight, so the ones still pending at
 * shutdown are freed after the ring is gone.
 */
#ifndef HOLDFS_FS_CTL_RING_I_H
#define HOLDFS_FS_CTL_RING_I_H

#include "ctl_i.h"

enum {
	TAG_ACCEPT = 1,
	TAG_EVENT = 2,
	TAG_RECV = 3,
	TAG_SEND = 4,
	TAG_TIMER = 5,
	TAG_TICK = 6,   /* first-message deadline look (ctl_admit.c) */
	TAG_RETRY = 7,  /* accept again after a back-off */
	TAG_MASK = 7,
};

struct ctl_op {
	struct ctl_op *prev, *next;
};

static inline void hfsd_op_link(struct hfsd_ctl *c, struct ctl_op *op)
{
	op->prev = NULL;
	op->next = c->inflight;
	if (op->next)
		op->next->prev = op;
	c->inflight = op;
}

static inline void hfsd_op_unlink(struct hfsd_ctl *c, struct ctl_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		c->inflight = op->next;
	if (op->next)
		op->next->prev = op->prev;
}

static inline uint64_t hfsd_op_tag(void *p, unsigned t)
{
	return (uint64_t)(uintptr_t)p | t;
}

/* A submission slot; submits what is queued when the ring is full. */
static inline struct io_uring_sqe *hfsd_ctl_sqe(struct hfsd_ctl *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe) {
		io_uring_submit(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
	}
	return sqe;
}

/* ctl_send.c: completions of what it queued.  A send: frees it, drops the
 * client if it failed, returns the client (to be freed when done).  A
 * timer: frees it, returns the job whose deadline passed, or 0. */
struct hfsd_client *hfsd_ctl_send_done(struct hfsd_ctl *c, void *op, int res);
uint64_t hfsd_ctl_timer_done(struct hfsd_ctl *c, void *op, int res);

#endif
