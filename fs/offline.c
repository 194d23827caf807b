/* SPDX-License-Identifier: MIT */
/*
 * Planned removal: holdfsctl offline (ADMIN_OFFLINE, docs/failure-model.md
 * "Planned removal").  The ring thread refuses new opens and leases from
 * the moment the request is taken and sends every lease holder that said
 * it understands one (HELLO flag HFS_HELLO_NOTICE) an OFFLINE_NOTICE;
 * a worker thread then waits, at most the request's deadline, for the
 * leases to be released, revokes (reason SHUTDOWN) the ones that were
 * not, through the normal revocation machinery (holders that do not ACK
 * in revoke_ms are killed), drains in-flight FUSE I/O, writes a health
 * record and hands the report to the ring thread, which replies.  Once
 * the reply has left, the worker stops the request loop as SIGTERM
 * does: the orderly path of fs/main.c then journals pending times,
 * writes the clean flag, unmounts and exits 0.  Every wait is bounded.
 */
#include "lease_i.h"
#include "offline.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coherence.h"
#include "ctl_send.h"
#include "failure.h"
#include "msg_table.h"
#include "revoke.h"
#include "vol.h"

/* How long the worker waits for its reply to leave, and for in-flight
 * FUSE I/O to end, before it goes on anyway. */
#define HFSD_OFFLINE_REPLY_MS 1000u
#define HFSD_OFFLINE_DRAIN_MS 1000u

struct hfsd_offline {
	struct hfsd_ctl *c;
	pthread_t thread;
	uint64_t cid, req_id;     /* who asked */
	unsigned deadline_ms;
	struct timespec t0;       /* request taken */
	double refuse_ms, notify_ms;
	unsigned notified;        /* clients sent a notice */
	unsigned holders;         /* clients holding leases at the start */
	uint64_t leases;          /* leases at the start */
	/* (L) */
	bool cancel;              /* the daemon stops: end the waits */
	char *report;             /* JSON, ready for the ring thread */
	bool sent;                /* the ring thread queued it */
};

static double ms_since(const struct timespec *t)
{
	struct timespec n;

	clock_gettime(CLOCK_MONOTONIC, &n);
	return (double)(n.tv_sec - t->tv_sec) * 1e3 +
	       (double)(n.tv_nsec - t->tv_nsec) / 1e6;
}

static struct hfsd_client *client_by_cid_locked(struct hfsd_ctl *c,
						uint64_t cid)
{
	for (struct hfsd_client *cl = c->clients; cl; cl = cl->next)
		if (cl->cid == cid)
			return cl;
	return NULL;
}

/* Leases still held, and whether to stop waiting. */
static uint64_t leases_left(struct hfsd_offline *o, bool *cancel)
{
	uint64_t n;

	pthread_mutex_lock(&o->c->lock);
	n = o->c->nleases;
	*cancel = o->cancel;
	pthread_mutex_unlock(&o->c->lock);
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void add_ms(json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(
		(double)(long long)(v * 1000.0) / 1000.0));
}

static void *worker(void *arg)
{
	struct hfsd_offline *o = arg;
	struct hfsd_ctl *c = o->c;
	struct hfsd_revoked_lease *rl = NULL;
	size_t nrl = 0;
	unsigned killed = 0, acked = 0;
	struct timespec t;
	double wait_ms, revoke_ms = 0, drain_ms, health_ms;
	uint64_t left;
	bool cancel = false, drained;
	json_object *r, *ph;
	int revoked = 0, hr;

	/* 1. the holders let go (RELEASE), until the deadline */
	clock_gettime(CLOCK_MONOTONIC, &t);
	while ((left = leases_left(o, &cancel)) > 0 && !cancel &&
	       ms_since(&t) < o->deadline_ms)
		sleep_ms(1);
	wait_ms = ms_since(&t);
	/* 2. what is still held is revoked; no ACK in revoke_ms: killed */
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (left > 0) {
		revoked = hfsd_lease_revoke_shutdown(c, &rl, &nrl, &killed);
		for (size_t i = 0; i < nrl; i++)
			acked += rl[i].outcome == HFSD_REVOKE_ACKED;
		revoke_ms = ms_since(&t);
	}
	/* 3. no FUSE READ/WRITE in flight (new opens fail already) */
	clock_gettime(CLOCK_MONOTONIC, &t);
	drained = hfsd_coh_drain(c->coh, HFSD_OFFLINE_DRAIN_MS);
	drain_ms = ms_since(&t);
	/* 4. the health record (the clean flag and the journaled times
	 * come with the unmount, which follows the reply) */
	clock_gettime(CLOCK_MONOTONIC, &t);
	hr = hfs_vol_health_offline(c->d->vol, "planned removal "
				    "(holdfsctl offline)");
	health_ms = ms_since(&t);

	r = json_object_new_object();
	json_object_object_add(r, "deadline_ms",
			       json_object_new_uint64(o->deadline_ms));
	json_object_object_add(r, "clients_notified",
			       json_object_new_uint64(o->notified));
	json_object_object_add(r, "holders", json_object_new_uint64(o->holders));
	json_object_object_add(r, "leases", json_object_new_uint64(o->leases));
	json_object_object_add(r, "released_by_holders",
			       json_object_new_uint64(o->leases -
						      (left < o->leases
						       ? left : o->leases)));
	json_object_object_add(r, "revoked", json_object_new_int(
		revoked > 0 ? revoked : 0));
	json_object_object_add(r, "revoke_acked", json_object_new_uint64(acked));
	json_object_object_add(r, "killed", json_object_new_uint64(killed));
	json_object_object_add(r, "drained", json_object_new_boolean(drained));
	json_object_object_add(r, "health_record",
			       json_object_new_boolean(hr == 0));
	json_object_object_add(r, "cancelled", json_object_new_boolean(cancel));
	ph = json_object_new_object();
	add_ms(ph, "refuse", o->refuse_ms);
	add_ms(ph, "notify", o->notify_ms);
	add_ms(ph, "wait_clients", wait_ms);
	add_ms(ph, "revoke", revoke_ms);
	add_ms(ph, "drain", drain_ms);
	add_ms(ph, "health", health_ms);
	add_ms(ph, "daemon_total", ms_since(&o->t0));
	json_object_object_add(r, "phases_ms", ph);
	hfsd_log(LOG_NOTICE, "offline: %" PRIu64 " lease(s): %" PRIu64
		 " released, %d revoked, %u killed; %.1f ms; unmounting",
		 o->leases, o->leases - (left < o->leases ? left : o->leases),
		 revoked > 0 ? revoked : 0, killed, ms_since(&o->t0));
	free(rl);

	pthread_mutex_lock(&c->lock);
	o->report = strdup(json_object_to_json_string_ext(
		r, JSON_C_TO_STRING_PLAIN));
	pthread_mutex_unlock(&c->lock);
	json_object_put(r);
	hfsd_ctl_wake(c);
	/* 5. the reply leaves (the ring queued it and the client's sends
	 * are done, or the client went away), bounded */
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (;;) {
		bool done;

		pthread_mutex_lock(&c->lock);
		struct hfsd_client *cl = client_by_cid_locked(c, o->cid);

		done = o->cancel || !cl || (o->sent &&
			__atomic_load_n(&cl->inflight, __ATOMIC_ACQUIRE) == 0);
		pthread_mutex_unlock(&c->lock);
		if (done || ms_since(&t) >= HFSD_OFFLINE_REPLY_MS)
			break;
		sleep_ms(1);
	}
	/* 6. the orderly exit of a SIGTERM (fs/main.c): the request loop
	 * ends, the control server stops, the volume closes clean */
	if (!cancel)
		kill(getpid(), SIGTERM);
	return NULL;
}

void hfsd_offline_replies(struct hfsd_ctl *c)
{
	struct hfsd_offline *o = c->off;
	struct hfsd_client *cl;
	char *txt;

	if (!o)
		return;
	pthread_mutex_lock(&c->lock);
	txt = o->sent ? NULL : o->report;
	cl = txt ? client_by_cid_locked(c, o->cid) : NULL;
	if (txt)
		o->sent = true;
	pthread_mutex_unlock(&c->lock);
	if (!txt || !cl)
		return;
	size_t len = strlen(txt);
	struct hfs_msg_admin_reply *m;

	if (len > HFS_MSG_MAX - sizeof(*m) ||
	    !(m = malloc(sizeof(*m) + len))) {
		hfsd_ctl_send_error(c, cl, o->req_id, ENOMEM, "report too big");
		return;
	}
	memset(m, 0, sizeof(*m));
	hfsd_msg_init(&m->h, HFS_MSG_ADMIN_REPLY, (uint32_t)(sizeof(*m) + len),
		      o->req_id);
	memcpy(m + 1, txt, len);
	hfsd_ctl_send(c, cl, m, sizeof(*m) + len, -1);
	free(m);
}

void hfsd_on_admin_offline(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd)
{
	const struct hfs_msg_offline *m = msg;
	struct hfs_msg_offline_notice n;
	struct hfsd_offline *o;
	const char *why = NULL;
	struct timespec t;

	(void)fd;
	if (c->off) {
		hfsd_ctl_send_error(c, cl, m->h.id, EALREADY,
				    "already going offline");
		return;
	}
	if (hfsd_fail_is_shutdown(c->d->fail, &why)) {
		hfsd_ctl_send_error(c, cl, m->h.id, EIO,
				    "filesystem shut down after a failure");
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		hfsd_ctl_send_error(c, cl, m->h.id, ENOMEM, "out of memory");
		return;
	}
	o->c = c;
	o->cid = cl->cid;
	o->req_id = m->h.id;
	o->deadline_ms = m->deadline_ms;
	clock_gettime(CLOCK_MONOTONIC, &o->t0);
	/* refuse: no new open, create or lease from here on */
	__atomic_store_n(&c->d->offline, true, __ATOMIC_RELEASE);
	__atomic_store_n(&c->offline, true, __ATOMIC_RELEASE);
	o->refuse_ms = ms_since(&o->t0);
	hfsd_log(LOG_WARNING, "offline: uid 0 pid %d takes %s offline "
		 "(deadline %u ms)", (int)cl->pid, c->mnt, m->deadline_ms);
	/* notify: every holder that understands the notice */
	clock_gettime(CLOCK_MONOTONIC, &t);
	memset(&n, 0, sizeof(n));
	pthread_mutex_lock(&c->lock);
	o->leases = c->nleases;
	for (struct hfsd_client *h = c->clients; h; h = h->next)
		h->off_holds = false;
	for (struct hfsd_lease *l = hfsd_lease_first_locked(c); l;
	     l = hfsd_lease_next_locked(c, l))
		if (l->cl)
			l->cl->off_holds = true;
	for (struct hfsd_client *h = c->clients; h; h = h->next) {
		if (!h->off_holds)
			continue;
		o->holders++;
		if (!h->hello || !h->notice || h->closing)
			continue;
		hfsd_msg_init(&n.h, HFS_MSG_OFFLINE_NOTICE, sizeof(n),
			      ++c->next_msg);
		n.reason = HFS_OFFLINE_PLANNED;
		n.deadline_ms = m->deadline_ms;
		if (hfsd_ctl_send(c, h, &n, sizeof(n), -1) == 0)
			o->notified++;
	}
	pthread_mutex_unlock(&c->lock);
	o->notify_ms = ms_since(&t);
	c->off = o;
	if (pthread_create(&o->thread, NULL, worker, o) != 0) {
		/* nothing was taken away but new opens and leases: give
		 * them back (the notified holders keep their leases) */
		__atomic_store_n(&c->offline, false, __ATOMIC_RELEASE);
		__atomic_store_n(&c->d->offline, false, __ATOMIC_RELEASE);
		c->off = NULL;
		free(o);
		hfsd_ctl_send_error(c, cl, m->h.id, EAGAIN,
				    "cannot start the offline worker");
		return;
	}
}

void hfsd_offline_stop(struct hfsd_ctl *c)
{
	struct hfsd_offline *o = c->off;

	if (!o)
		return;
	pthread_mutex_lock(&c->lock);
	o->cancel = true;
	pthread_mutex_unlock(&c->lock);
	pthread_join(o->thread, NULL);
}

void hfsd_offline_free(struct hfsd_ctl *c)
{
	if (!c->off)
		return;
	free(c->off->report);
	free(c->off);
	c->off = NULL;
}
