/* SPDX-License-Identifier: MIT */
/*
 * The listener thread of a connection: reads every message of the daemon
 * in order, hands replies to their waiters (running a reply's hook first,
 * so a LEASE_OK is mapped before any later REVOKE or REMAP of the lease is
 * read), serves REVOKE and REMAP and acknowledges them, and on EOF or a
 * malformed message declares the connection dead: every waiter gets
 * -ENOTCONN and every mapping of the daemon is revoked (mapping.c).
 *
 * Revocation is this thread's urgent job: the daemon kills the process
 * if the ACK is late, and a device loss waits for it.  So the thread asks
 * for real-time scheduling (SCHED_FIFO 1, when the process may; opt out
 * with HOLDFS_LISTENER_RT=0) and does only bounded work at that priority:
 * it revokes every range of a REVOKE, acks, and only then runs the
 * application's revoke handlers, at normal priority (they are
 * application code of unknown length).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpmem2.h>

#include "client_i.h"

static __thread bool rt_on; /* this listener runs SCHED_FIFO */

static void prio_rt(void)
{
	const char *e = getenv("HOLDFS_LISTENER_RT");
	struct sched_param sp = { .sched_priority = 1 };
	int r;

	if (e && !strcmp(e, "0"))
		return;
	r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	rt_on = r == 0;
	hfc_log("listener: %s", rt_on ? "SCHED_FIFO 1" :
		"normal priority (no real-time scheduling allowed)");
}

/* Around application code: back to normal priority and up again. */
static void prio_normal(bool normal)
{
	struct sched_param sp = { .sched_priority = normal ? 0 : 1 };

	if (rt_on)
		pthread_setschedparam(pthread_self(),
				      normal ? SCHED_OTHER : SCHED_FIFO, &sp);
}

/* The listener hands a reply to its waiter (or drops it). */
static void deliver(struct hfc_conn *c, const struct hfs_msg_hdr *h, size_t n,
		    int fd)
{
	struct hfc_pending **pp, *p = NULL;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->id == h->id) {
			p = *pp;
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!p) {
		if (h->type != HFS_MSG_RELEASE_OK) /* hfc_unmap_async's */
			hfc_log("reply type %u to unknown request %llu dropped",
				h->type, (unsigned long long)h->id);
		if (h->type == HFS_MSG_LEASE_OK) /* the waiter gave up: release */
			hfc_send(c, &(struct hfs_msg_lease_ref){
				.lease_id = ((const struct hfs_msg_lease_ok *)h)->lease_id },
				sizeof(struct hfs_msg_lease_ref), HFS_MSG_RELEASE, 0, -1);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (h->type == HFS_MSG_ERROR) {
		const struct hfs_msg_error *e = (const void *)h;

		hfc_log("daemon refused request %llu: %s (%.*s)",
			(unsigned long long)h->id, strerror(e->err),
			(int)sizeof(e->msg), e->msg);
		p->err = e->err > 0 && e->err < 4096 ? -e->err : -EIO;
		if (fd >= 0)
			close(fd);
	} else if (p->hook) {
		p->err = p->hook(c, p->hook_arg, h, n, fd);
	} else {
		p->msg = malloc(n);
		p->len = n;
		if (p->msg)
			memcpy(p->msg, h, n);
		else
			p->err = -ENOMEM;
		p->fd = fd;
	}
	pthread_mutex_lock(&c->lock);
	p->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void conn_die(struct hfc_conn *c, const char *why)
{
	struct pmem2_map *pmap;
	struct hfc_pending *p;

	hfc_log("connection to %s lost: %s; revoking its mappings", c->path, why);
	pthread_mutex_lock(&c->send_lock);
	pthread_mutex_lock(&c->lock);
	c->dead = true;
	for (p = c->pending; p; p = p->next) {
		p->done = true;
		p->err = -ENOTCONN;
	}
	c->pending = NULL;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->send_lock);

	hfc_on_conn_lost(c);
	hfc_sigbus_drop_conn(c);

	pthread_mutex_lock(&c->send_lock);
	pthread_mutex_lock(&c->lock);
	close(c->sock);
	c->sock = -1;
	hfc_conn_close_fds_locked(c);
	pmap = c->pmap;
	c->pmap = NULL;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->send_lock);
	/* outside the locks: its munmap may pass through the preload shim.
	 * c->persist stays callable (a libpmem2 function, not the map's). */
	if (pmap)
		pmem2_map_delete(&pmap);
}

/* ---- planned removal --------------------------------------------------- */

static pthread_mutex_t off_lock = PTHREAD_MUTEX_INITIALIZER;
static holdfs_offline_fn off_fn;
static void *off_ctx;

void holdfs_set_offline_handler(holdfs_offline_fn fn, void *ctx)
{
	pthread_mutex_lock(&off_lock);
	off_fn = fn;
	off_ctx = ctx;
	pthread_mutex_unlock(&off_lock);
}

struct off_call {
	holdfs_offline_fn fn;
	void *ctx;
	struct holdfs_offline_event ev;
};

static void *off_thread(void *arg)
{
	struct off_call *oc = arg;

	pthread_setname_np(pthread_self(), "holdfs-offline");
	oc->fn(oc->ctx, &oc->ev);
	free(oc);
	return NULL;
}

/* The application's handler on a thread of its own: the listener must
 * stay free to deliver the RELEASE_OKs and PERSISTED_OKs it waits for. */
static void on_offline(struct hfc_conn *c,
		       const struct hfs_msg_offline_notice *m)
{
	struct off_call *oc;
	pthread_attr_t at;
	pthread_t t;
	sigset_t all, old;
	int r;

	hfc_log("OFFLINE notice: reason %u, deadline %u ms", m->reason,
		m->deadline_ms);
	pthread_mutex_lock(&off_lock);
	if (!off_fn) {
		pthread_mutex_unlock(&off_lock);
		return;
	}
	oc = malloc(sizeof(*oc));
	if (oc) {
		oc->fn = off_fn;
		oc->ctx = off_ctx;
	}
	pthread_mutex_unlock(&off_lock);
	if (!oc)
		return; /* the REVOKE at the deadline still comes */
	oc->ev.dev = c->dev;
	oc->ev.reason = m->reason;
	oc->ev.deadline_ms = m->deadline_ms;
	/* the listener blocks every signal; the handler's thread blocks
	 * none (a synchronous SIGBUS must never be blocked) */
	sigemptyset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &at, off_thread, oc);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		hfc_log("cannot run the offline handler: %s", strerror(r));
		free(oc);
	}
}

static void handle(struct hfc_conn *c, const struct hfs_msg_hdr *h, size_t n,
		   int fd)
{
	struct hfs_msg_lease_ref ack;

	switch (h->type) {
	case HFS_MSG_HELLO_OK:
	case HFS_MSG_LEASE_OK:
	case HFS_MSG_RELEASE_OK:
	case HFS_MSG_PERSISTED_OK:
	case HFS_MSG_ERROR:
		deliver(c, h, n, fd);
		return;
	case HFS_MSG_REVOKE: {
		const struct hfs_msg_revoke *rv = (const void *)h;

		if (!rv->nranges || rv->nranges > HFS_REVOKE_MAX_RANGES ||
		    n != sizeof(*rv) + (size_t)rv->nranges *
					   sizeof(struct hfs_revoke_range)) {
			/* cannot tell what to revoke: revoke everything */
			if (fd >= 0)
				close(fd);
			shutdown(c->sock, SHUT_RDWR);
			hfc_log("malformed REVOKE %llu", (unsigned long long)h->id);
			return;
		}
		struct holdfs_revoke_event *evs;
		size_t nev = hfc_on_revoke(c, rv, &evs);

		/* every range is inaccessible: ack before the handlers run,
		 * so the daemon's wait does not include application code */
		ack.lease_id = 0;
		hfc_send(c, &ack, sizeof(ack), HFS_MSG_REVOKE_ACK, h->id, -1);
		hfc_log("REVOKE %llu (%u range%s) acknowledged",
			(unsigned long long)h->id, rv->nranges,
			rv->nranges == 1 ? "" : "s");
		prio_normal(true);
		hfc_deliver_revoked(evs, nev);
		prio_normal(false);
		break;
	}
	case HFS_MSG_REMAP:
		if (fd >= 0)
			hfc_conn_region_fd(c, HFS_PROT_READ, fd), fd = -1;
		/* a REMAP that cannot be applied calls the revoke handler */
		prio_normal(true);
		hfc_on_remap(c, (const struct hfs_msg_remap *)h, n);
		prio_normal(false);
		ack.lease_id = ((const struct hfs_msg_remap *)h)->lease_id;
		hfc_send(c, &ack, sizeof(ack), HFS_MSG_REMAP_ACK, h->id, -1);
		hfc_log("REMAP %llu of lease %llu (%u extents) done and acknowledged",
			(unsigned long long)h->id, (unsigned long long)ack.lease_id,
			((const struct hfs_msg_remap *)h)->nextents);
		break;
	case HFS_MSG_MEMBER:
		/* a device of the volume, before the LEASE_OK mapped from it */
		if (hfc_conn_member(c, (const struct hfs_msg_member *)h, n,
				    fd) < 0) {
			hfc_log("malformed MEMBER %llu",
				(unsigned long long)h->id);
			shutdown(c->sock, SHUT_RDWR);
		}
		return;
	case HFS_MSG_OFFLINE_NOTICE:
		prio_normal(true);
		on_offline(c, (const struct hfs_msg_offline_notice *)h);
		prio_normal(false);
		break;
	default:
		hfc_log("ignoring message type %u", h->type);
	}
	if (fd >= 0)
		close(fd);
}

/* The daemon sent a descriptor with this message that the kernel could
 * not install: the process is at its RLIMIT_NOFILE (or an LSM refused
 * it).  The message is whole and is handled without it; whatever needed
 * the descriptor fails (a lease's mapping: the lease is released and
 * the data path uses the kernel), but the connection and everything
 * mapped through it stay.  Losing them would fail every direct call of
 * the mount with EIO, as if the daemon had died, for a process that
 * merely ran out of descriptors.  The daemon sends a region or device
 * descriptor once per connection, so this one is retired: new files
 * connect anew (once a descriptor is free), its mappings stay. */
static void fd_lost(struct hfc_conn *c, const struct hfs_msg_hdr *h)
{
	if (!atomic_exchange(&c->retired, true))
		hfc_log("%s: the descriptor sent with message type %u (id "
			"%llu) was lost: out of descriptors (RLIMIT_NOFILE)?  "
			"What needed it falls back to the kernel; new files "
			"connect anew", c->path, h->type,
			(unsigned long long)h->id);
}

static void *listener(void *arg)
{
	struct hfc_conn *c = arg;
	void *buf = malloc(HFS_MSG_MAX);
	const char *why = "out of memory";

	pthread_setname_np(pthread_self(), "holdfs-listen");
	prio_rt();
	c->lbuf = buf;

	while (buf) {
		int fd;
		ssize_t n = hfc_recv_msg(c->sock, buf, HFS_MSG_MAX, &fd);

		if (n <= 0) {
			why = n == 0 ? "daemon closed the connection" : strerror((int)-n);
			break;
		}
		if (hfc_check_hdr(buf, (size_t)n)) {
			if (fd >= 0)
				close(fd);
			why = "malformed message";
			break;
		}
		if (fd == HFC_FD_LOST) {
			fd_lost(c, buf);
			if (((const struct hfs_msg_hdr *)buf)->type ==
			    HFS_MSG_MEMBER)
				continue; /* the lease that needs it fails */
			fd = -1;
		}
		handle(c, buf, (size_t)n, fd);
	}
	c->lbuf = NULL;
	free(buf);
	prio_normal(true); /* conn_die runs the handlers */
	conn_die(c, why);
	return NULL;
}

int hfc_listener_start(struct hfc_conn *c)
{
	sigset_t all, old;
	pthread_attr_t at;
	pthread_t t;
	int r;

	/* The listener takes no application signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &at, listener, c);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}
