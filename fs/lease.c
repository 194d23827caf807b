/* SPDX-License-Identifier: MIT */
/*
 * The lease service: HELLO, LEASE_REQ, RELEASE, acks, admin queries, and
 * the two volume hooks that keep DAX mappings safe (docs/lease-protocol.md):
 *
 *  - release hook: blocks leaving a file that some lease maps are kept
 *    out of the free index ("pending free"); every holder gets a REVOKE
 *    (one io_uring submission for all of them, with a timeout); when all
 *    have acked, or were killed (pidfd) and their sockets closed, the
 *    blocks go back to the allocator.  No reuse before revocation.
 *  - fill hook: holes a read lease maps as zeros got blocks; the holders
 *    get a REMAP with the new extents and the writing operation waits
 *    (bounded) for their acks.  fs mapping -> rmap -> client mappings.
 */
#include "lease.h"
#include "coherence.h"
#include "ctl_send.h"
#include "deadline.h"
#include "failure.h"
#include "persisted.h"
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Ring thread marker and the job a fill hook created on it (a write
 * lease filling holes: its LEASE_OK waits for that job). */
static __thread bool tls_on_ring;
static __thread struct hfsd_job *tls_fill_job;

static unsigned dying_ms(const struct hfsd_ctl *c)
{
	return c->revoke_ms * 4 > 2000 ? c->revoke_ms * 4 : 2000;
}

/* ------------------------------------------------------ lease table */

static int lease_id_cmp(const struct hfsd_lease *a, const struct hfsd_lease *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

static int lease_ino_cmp(const struct hfsd_lease *a, const struct hfsd_lease *b)
{
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return lease_id_cmp(a, b);
}

/* libbsd's tree.h marks the generated functions __unused, which libbsd
 * leaves undefined on Linux; define it only around the generated code. */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(lease_ids, hfsd_lease, by_id, lease_id_cmp)
RB_GENERATE_STATIC(lease_inos, hfsd_lease, by_ino, lease_ino_cmp)
RB_GENERATE_STATIC(lease_holes, hfsd_lease, by_hole, lease_ino_cmp)
#undef __unused

/* c->lock held for all of these. */
static struct hfsd_lease *find_lease(struct hfsd_ctl *c, uint64_t id)
{
	struct hfsd_lease k = { .id = id };

	return RB_FIND(lease_ids, &c->leases_by_id, &k);
}

/* The leases of inode ino, in id order: first_of_ino, then next_of_ino
 * (O(log n) to start, O(1) amortised per step). */
static struct hfsd_lease *first_of_ino(struct hfsd_ctl *c, uint64_t ino)
{
	struct hfsd_lease k = { .ino = ino, .id = 0 }, *l;

	l = RB_NFIND(lease_inos, &c->leases_by_ino, &k);
	return l && l->ino == ino ? l : NULL;
}

static struct hfsd_lease *next_of_ino(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	struct hfsd_lease *n = RB_NEXT(lease_inos, &c->leases_by_ino, l);

	(void)c; /* libbsd's RB_NEXT does not use the head */
	return n && n->ino == l->ino ? n : NULL;
}

/* The leases of ino that map holes (read leases): first, then next. */
static struct hfsd_lease *first_holey(struct hfsd_ctl *c, uint64_t ino)
{
	struct hfsd_lease k = { .ino = ino, .id = 0 }, *l;

	l = RB_NFIND(lease_holes, &c->leases_with_holes, &k);
	return l && l->ino == ino ? l : NULL;
}

static struct hfsd_lease *next_holey(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	struct hfsd_lease *n = RB_NEXT(lease_holes, &c->leases_with_holes, l);

	(void)c;
	return n && n->ino == l->ino ? n : NULL;
}

static void insert_lease(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	RB_INSERT(lease_ids, &c->leases_by_id, l);
	RB_INSERT(lease_inos, &c->leases_by_ino, l);
	for (uint32_t i = 0; i < l->n && !l->holey; i++)
		l->holey = l->ext[i].flags & HFS_LEXT_HOLE;
	if (l->holey)
		RB_INSERT(lease_holes, &c->leases_with_holes, l);
	c->nleases++;
}

/* Take l out of the table and free it. */
static void drop_lease(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	RB_REMOVE(lease_ids, &c->leases_by_id, l);
	RB_REMOVE(lease_inos, &c->leases_by_ino, l);
	if (l->holey)
		RB_REMOVE(lease_holes, &c->leases_with_holes, l);
	c->nleases--;
	hfsd_coh_put(c->coh, l->ino);
	free(l->ext);
	free(l);
}

static void free_job(struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++)
		free(j->w[i].msg);
	free(j->w);
	free(j->rv);
	free(j->defer_msg);
	free(j);
}

static struct hfsd_job *new_job(struct hfsd_ctl *c, int kind)
{
	struct hfsd_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->phase = HFSD_JOB_NEW;
	j->defer_fd = -1;
	j->id = ++c->next_job;
	clock_gettime(CLOCK_MONOTONIC, &j->start);
	return j;
}

/* Queue j behind every job already queued (c->lock held): the ring sends
 * jobs in list order, so clients see REVOKE/REMAP in the order the
 * layout changed (a punch before the unlink that follows it). */
static void queue_job_locked(struct hfsd_ctl *c, struct hfsd_job *j)
{
	struct hfsd_job **pp = &c->jobs;

	while (*pp)
		pp = &(*pp)->next;
	j->next = NULL;
	*pp = j;
}

/* A thread other than the ring queued job j and waits for it: bounded by
 * the ack deadline plus the time a killed holder may take to die.
 * Returns with c->lock held. */
static void job_wait_locked(struct hfsd_ctl *c, struct hfsd_job *j)
{
	struct timespec dl = hfsd_deadline_ms(
		((c->revoke_ms + dying_ms(c)) / 1000 + 2) * 1000);

	pthread_mutex_lock(&c->lock);
	while (j->phase != HFSD_JOB_DONE &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &dl) != ETIMEDOUT)
		;
}

/* After job_wait_locked: free a finished job, or leave an unfinished one
 * to the ring (which frees it when done) and say so.  Drops c->lock. */
static void job_finish_unlock(struct hfsd_ctl *c, struct hfsd_job *j,
			      const char *what)
{
	if (j->phase == HFSD_JOB_DONE) {
		struct hfsd_job **pp;

		for (pp = &c->jobs; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		free_job(j);
	} else {
		j->sleeper = false;
		hfsd_log(LOG_ERR, "control: %s not completed in time", what);
	}
	pthread_mutex_unlock(&c->lock);
}

static int add_waiter(struct hfsd_job *j, const struct hfsd_lease *l,
		      void *msg, size_t len, uint64_t msg_id)
{
	if (j->nw == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 4;
		struct hfsd_waiter *w = realloc(j->w, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		j->w = w;
		j->cap = cap;
	}
	j->w[j->nw++] = (struct hfsd_waiter){
		.cl = l->cl, .msg_id = msg_id, .lease_id = l->id,
		.pid = l->pid, .msg = msg, .len = len,
	};
	return 0;
}

/* Add [fs, fe) of lease l to job j's REVOKE for l's client: one message
 * per client per round (another when one is full), so revoking 10,000
 * leases of 8 clients costs 8 messages and 8 acks.  c->lock held. */
static int add_revoke(struct hfsd_ctl *c, struct hfsd_job *j,
		      const struct hfsd_lease *l, uint64_t fs, uint64_t fe)
{
	struct hfsd_client *cl = l->cl;
	struct hfs_revoke_range *rr;
	struct hfsd_waiter *w = NULL;
	struct hfs_msg_revoke *m;

	if (cl->rv_job == j->id && cl->rv_w < j->nw &&
	    j->w[cl->rv_w].nranges < HFS_REVOKE_MAX_RANGES)
		w = &j->w[cl->rv_w];
	if (!w) {
		size_t len = sizeof(*m) + 8 * sizeof(*rr);

		m = calloc(1, len);
		if (!m)
			return -ENOMEM;
		hfsd_msg_init(&m->h, HFS_MSG_REVOKE, sizeof(*m), ++c->next_msg);
		m->reason = j->reason;
		if (add_waiter(j, l, m, len, m->h.id) < 0) {
			free(m);
			return -ENOMEM;
		}
		w = &j->w[j->nw - 1];
		w->nranges = 0;
		cl->rv_job = j->id;
		cl->rv_w = j->nw - 1;
	}
	/* w->len is the allocation; h.len the bytes in use */
	m = w->msg;
	if (m->h.len + sizeof(*rr) > w->len) {
		size_t cap = w->len * 2;

		if (cap > HFS_MSG_MAX)
			cap = HFS_MSG_MAX;
		m = realloc(w->msg, cap);
		if (!m)
			return -ENOMEM;
		w->msg = m;
		w->len = cap;
	}
	if (j->nrv == j->caprv) {
		uint32_t cap = j->caprv ? j->caprv * 2 : 16;
		struct hfsd_revoked *rv = realloc(j->rv, cap * sizeof(*rv));

		if (!rv)
			return -ENOMEM;
		j->rv = rv;
		j->caprv = cap;
	}
	rr = (struct hfs_revoke_range *)((uint8_t *)m + m->h.len);
	rr->lease_id = l->id;
	rr->offset = fs;
	rr->length = fe - fs;
	m->h.len += sizeof(*rr);
	m->nranges = ++w->nranges;
	j->rv[j->nrv++] = (struct hfsd_revoked){ l->id, l->pid,
						 (uint32_t)(w - j->w) };
	return 0;
}

/* ------------------------------------------------------ release hook */

/* Mark [rs, re) (region bytes) of l revoked; file range touched in
 * fs..fe.  Returns true if anything of l mapped it. */
static bool revoke_in_lease(struct hfsd_lease *l, uint64_t rs, uint64_t re,
			    uint64_t *fs, uint64_t *fe)
{
	struct hfs_lease_extent *out;
	uint32_t n = 0;
	bool hit = false;

	for (uint32_t i = 0; i < l->n; i++) {
		const struct hfs_lease_extent *e = &l->ext[i];

		if (!(e->flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) &&
		    e->region_off < re && e->region_off + e->len > rs)
			hit = true;
	}
	if (!hit)
		return false;
	out = calloc((size_t)l->n * 3, sizeof(*out));
	if (!out) {
		/* cannot split: revoke whole extents (still safe) */
		rs = 0;
		re = UINT64_MAX;
	}
	*fs = UINT64_MAX;
	*fe = 0;
	for (uint32_t i = 0; i < l->n; i++) {
		struct hfs_lease_extent e = l->ext[i], a, b, m;
		uint64_t s, en;

		if ((e.flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) ||
		    e.region_off >= re || e.region_off + e.len <= rs) {
			if (out)
				out[n++] = e;
			continue;
		}
		s = e.region_off > rs ? e.region_off : rs;
		en = e.region_off + e.len < re ? e.region_off + e.len : re;
		m = e;
		m.file_off = e.file_off + (s - e.region_off);
		m.region_off = s;
		m.len = en - s;
		m.flags |= HFSD_LEXT_REVOKED;
		if (m.file_off < *fs)
			*fs = m.file_off;
		if (m.file_off + m.len > *fe)
			*fe = m.file_off + m.len;
		if (!out) {
			l->ext[i].flags |= HFSD_LEXT_REVOKED;
			continue;
		}
		a = e;
		a.len = s - e.region_off;
		b = e;
		b.file_off = m.file_off + m.len;
		b.region_off = en;
		b.len = e.region_off + e.len - en;
		if (a.len)
			out[n++] = a;
		out[n++] = m;
		if (b.len)
			out[n++] = b;
	}
	if (out) {
		free(l->ext);
		l->ext = out;
		l->n = n;
	}
	return true;
}

static bool release_hook(void *ctx, uint64_t pblk, uint64_t n, uint64_t ino,
			 uint64_t lblk, bool data)
{
	struct hfsd_ctl *c = ctx;
	uint64_t rs = pblk * 4096, re = (pblk + n) * 4096;
	struct hfsd_job *j = NULL;
	bool keep = false;

	(void)lblk;
	if (!data)
		return false; /* metadata blocks are never leased */
	pthread_mutex_lock(&c->lock);
	/* the rmap named the owner: only its leases can map the blocks */
	for (struct hfsd_lease *l = first_of_ino(c, ino); l;
	     l = next_of_ino(c, l)) {
		uint64_t fs, fe;

		if (!revoke_in_lease(l, rs, re, &fs, &fe))
			continue;
		keep = true; /* even if we cannot tell the holder */
		if (!j && (j = new_job(c, HFSD_JOB_REVOKE)))
			j->reason = HFS_REVOKE_LAYOUT;
		if (j && add_revoke(c, j, l, fs, fe) < 0) {
			/* the holder cannot be told: never reuse the blocks */
			j->leak = true;
			hfsd_log(LOG_ERR, "control: out of memory revoking "
				 "lease %" PRIu64 "; its blocks stay out of "
				 "use", l->id);
		}
	}
	if (keep) {
		if (j) {
			j->pblk = pblk;
			j->nblk = n;
			queue_job_locked(c, j);
		} else {
			hfsd_log(LOG_ERR, "control: out of memory revoking "
				 "%" PRIu64 " blocks; kept out of use", n);
		}
		c->pending_blocks += n;
	}
	pthread_mutex_unlock(&c->lock);
	if (keep && !tls_on_ring)
		hfsd_ctl_wake(c);
	return keep;
}

/* --------------------------------------------------------- fill hook */

struct remap_ctx {
	struct hfsd_ctl *c;
	uint64_t lease_id;
	uint64_t fo, fe;          /* filled file range, unit aligned */
	struct hfsd_job **job;
};

/* Under the volume lock: the lease's holes in [fo, fe) take the new
 * extents; queue a REMAP with them if any hole got media. */
static int remap_publish(void *ctx, const struct hfs_lease_extent *nx,
			 uint32_t nn)
{
	struct remap_ctx *rc = ctx;
	struct hfsd_ctl *c = rc->c;
	struct hfs_lease_extent *out = NULL, *sent = NULL;
	struct hfsd_lease *l;
	uint32_t n = 0, ns = 0;
	bool media = false;

	pthread_mutex_lock(&c->lock);
	l = find_lease(c, rc->lease_id);
	if (!l)
		goto out;
	out = calloc((size_t)l->n * 2 + nn, sizeof(*out));
	sent = calloc(nn ? nn : 1, sizeof(*sent));
	if (!out || !sent)
		goto out;
	for (uint32_t i = 0; i < l->n; i++) {
		struct hfs_lease_extent e = l->ext[i], a, b;
		uint64_t s, en;

		if (!(e.flags & HFS_LEXT_HOLE) || (e.flags & HFSD_LEXT_REVOKED) ||
		    e.file_off >= rc->fe || e.file_off + e.len <= rc->fo) {
			out[n++] = e;
			continue;
		}
		s = e.file_off > rc->fo ? e.file_off : rc->fo;
		en = e.file_off + e.len < rc->fe ? e.file_off + e.len : rc->fe;
		a = e;
		a.len = s - e.file_off;
		b = e;
		b.file_off = en;
		b.len = e.file_off + e.len - en;
		if (a.len)
			out[n++] = a;
		/* the new extents of [s, en) */
		for (uint32_t k = 0; k < nn; k++) {
			struct hfs_lease_extent x = nx[k];
			uint64_t xs = x.file_off > s ? x.file_off : s;
			uint64_t xe = x.file_off + x.len < en ? x.file_off + x.len
							      : en;

			if (xs >= xe)
				continue;
			if (!(x.flags & HFS_LEXT_HOLE)) {
				x.region_off += xs - x.file_off;
				media = true;
			}
			x.file_off = xs;
			x.len = xe - xs;
			out[n++] = x;
			if (ns < nn)
				sent[ns++] = x;
		}
		if (b.len)
			out[n++] = b;
	}
	if (media) {
		size_t len = sizeof(struct hfs_msg_remap) + ns * sizeof(*sent);
		struct hfs_msg_remap *m;

		if (ns > HFS_REMAP_MAX_EXTENTS) {
			hfsd_log(LOG_ERR, "control: lease %" PRIu64 " of pid %d: "
				 "too many new extents to REMAP", l->id,
				 (int)l->pid);
			goto out;
		}
		m = calloc(1, len);
		if (!*rc->job)
			*rc->job = new_job(c, HFSD_JOB_REMAP);
		if (!m || !*rc->job) {
			free(m);
			goto out;
		}
		hfsd_msg_init(&m->h, HFS_MSG_REMAP, (uint32_t)len,
			      ++c->next_msg);
		m->lease_id = l->id;
		m->nextents = ns;
		memcpy(m + 1, sent, ns * sizeof(*sent));
		if (add_waiter(*rc->job, l, m, len, m->h.id) < 0) {
			free(m);
			goto out;
		}
		free(l->ext);
		l->ext = out;
		l->n = n;
		out = NULL;
	}
out:
	pthread_mutex_unlock(&c->lock);
	free(out);
	free(sent);
	return 0;
}

struct fill_target {
	uint64_t id, off, len;
};

static void fill_hook(void *ctx, uint64_t ino, uint64_t off, uint64_t len)
{
	struct hfsd_ctl *c = ctx;
	uint64_t u = c->alloc_unit;
	uint64_t fo = off / u * u, fe = (off + len + u - 1) / u * u;
	struct fill_target *t = NULL;
	struct hfs_lease_extent *buf;
	struct hfsd_job *job = NULL;
	size_t nt = 0, cap = 0;

	pthread_mutex_lock(&c->lock);
	/* leases that never mapped a hole cannot need a REMAP */
	for (struct hfsd_lease *l = first_holey(c, ino); l;
	     l = next_holey(c, l)) {
		bool hit = false;

		if (l->off >= fe || l->off + l->len <= fo)
			continue;
		for (uint32_t i = 0; i < l->n && !hit; i++)
			hit = (l->ext[i].flags & HFS_LEXT_HOLE) &&
			      !(l->ext[i].flags & HFSD_LEXT_REVOKED) &&
			      l->ext[i].file_off < fe &&
			      l->ext[i].file_off + l->ext[i].len > fo;
		if (!hit)
			continue;
		if (nt == cap) {
			struct fill_target *nt2;

			cap = cap ? cap * 2 : 8;
			nt2 = realloc(t, cap * sizeof(*t));
			if (!nt2)
				break;
			t = nt2;
		}
		t[nt++] = (struct fill_target){ l->id, l->off, l->len };
	}
	pthread_mutex_unlock(&c->lock);
	if (!nt) {
		free(t);
		return;
	}
	buf = malloc(HFS_LEASE_MAX_EXTENTS * sizeof(*buf));
	for (size_t i = 0; buf && i < nt; i++) {
		struct remap_ctx rc = { c, t[i].id, fo, fe, &job };
		uint32_t n;

		/* -EINVAL: truncated meanwhile; the revocation covers it */
		hfs_lease_extents(c->d->vol, ino, t[i].off, t[i].len, false,
				  buf, HFS_LEASE_MAX_EXTENTS, &n, remap_publish,
				  &rc);
	}
	free(buf);
	free(t);
	if (!job)
		return;
	pthread_mutex_lock(&c->lock);
	job->sleeper = !tls_on_ring;
	queue_job_locked(c, job);
	pthread_mutex_unlock(&c->lock);
	if (tls_on_ring) {
		tls_fill_job = job; /* the grant defers its reply to it */
		return;
	}
	hfsd_ctl_wake(c);
	job_wait_locked(c, job);
	job_finish_unlock(c, job, "REMAP");
}

/* ---------------------------------------------------------- the jobs */

static void mark_acked(struct hfsd_ctl *c, struct hfsd_client *cl,
		       uint64_t lease_id)
{
	for (struct hfsd_job *j = c->jobs; j; j = j->next)
		for (uint32_t i = 0; i < j->nw; i++)
			if (j->w[i].cl == cl &&
			    (!lease_id || j->w[i].lease_id == lease_id)) {
				j->w[i].acked = true;
				j->w[i].cl = NULL;
			}
}

static bool all_acked(const struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++)
		if (!j->w[i].acked)
			return false;
	return true;
}

struct done_blocks {
	uint64_t pblk, n;
};

void hfsd_lease_run_jobs(struct hfsd_ctl *c)
{
	struct done_blocks *fr = NULL;
	size_t nfr = 0, cap = 0;
	struct hfsd_job **pp, *j;
	bool woke = false;

	pthread_mutex_lock(&c->lock);
	for (j = c->jobs; j; j = j->next) {
		if (j->phase != HFSD_JOB_NEW)
			continue;
		/* one submission: every REVOKE/REMAP of the job and its
		 * timeout are queued before the loop submits */
		for (uint32_t i = 0; i < j->nw; i++) {
			struct hfsd_waiter *w = &j->w[i];

			if (!w->cl || w->cl->closing) {
				w->acked = true;
				w->cl = NULL;
			} else {
				/* h.len: a REVOKE's buffer may be larger */
				hfsd_ctl_send(c, w->cl, w->msg,
					      ((struct hfs_msg_hdr *)w->msg)->len,
					      -1);
			}
			free(w->msg);
			w->msg = NULL;
		}
		j->phase = HFSD_JOB_WAIT;
		if (!all_acked(j))
			hfsd_ctl_arm_timeout(c, j->id, c->revoke_ms);
	}
	for (pp = &c->jobs; (j = *pp);) {
		if (j->phase == HFSD_JOB_WAIT || j->phase == HFSD_JOB_DYING) {
			if (all_acked(j)) {
				j->phase = HFSD_JOB_DONE;
				woke = true;
			}
		}
		if (j->phase != HFSD_JOB_DONE || j->sleeper) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (j->kind == HFSD_JOB_REVOKE && j->nblk) {
			if (j->leak) {
				hfsd_log(LOG_ERR, "control: %" PRIu64 " blocks at "
					 "%" PRIu64 " stay out of use until the "
					 "next mount (a holder did not exit)",
					 j->nblk, j->pblk);
			} else if (nfr < cap ||
				   (fr = realloc(fr, (cap = cap * 2 + 8) *
							     sizeof(*fr)))) {
				fr[nfr++] = (struct done_blocks){ j->pblk,
								  j->nblk };
				c->pending_blocks -= j->nblk;
			}
		}
		if (j->defer_cl && !j->defer_cl->closing) {
			hfsd_ctl_send(c, j->defer_cl, j->defer_msg,
				      j->defer_len, j->defer_fd);
		}
		free_job(j);
	}
	pthread_mutex_unlock(&c->lock);
	if (woke)
		pthread_cond_broadcast(&c->cond);
	/* the volume lock is taken outside ctl->lock (lock order) */
	for (size_t i = 0; i < nfr; i++)
		hfs_vol_free_blocks(c->d->vol, fr[i].pblk, fr[i].n);
	free(fr);
}

void hfsd_lease_timeout(struct hfsd_ctl *c, uint64_t job_id)
{
	struct hfsd_job *j;

	pthread_mutex_lock(&c->lock);
	for (j = c->jobs; j && j->id != job_id; j = j->next)
		;
	if (!j || j->phase == HFSD_JOB_DONE) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (j->phase == HFSD_JOB_WAIT) {
		for (uint32_t i = 0; i < j->nw; i++) {
			struct hfsd_waiter *w = &j->w[i];

			if (w->acked || !w->cl)
				continue;
			w->killed = true;
			if (w->cl->killed)
				continue; /* one SIGKILL per client */
			if (j->kind == HFSD_JOB_REVOKE)
				hfsd_log(LOG_WARNING, "control: pid %d did not "
					 "ack REVOKE %" PRIu64 " (%u lease "
					 "range%s) within %u ms; killing it",
					 (int)w->pid, w->msg_id, w->nranges,
					 w->nranges == 1 ? "" : "s",
					 c->revoke_ms);
			else
				hfsd_log(LOG_WARNING, "control: pid %d did not "
					 "ack REMAP %" PRIu64 " of lease %"
					 PRIu64 " within %u ms; killing it",
					 (int)w->pid, w->msg_id, w->lease_id,
					 c->revoke_ms);
			if (syscall(SYS_pidfd_send_signal, w->cl->pidfd,
				    SIGKILL, NULL, 0) < 0 && errno != ESRCH)
				hfsd_log(LOG_ERR, "control: kill pid %d: %s",
					 (int)w->pid, strerror(errno));
			w->cl->killed = true;
			c->kills++;
		}
		/* its mappings are gone once its socket closes (exit
		 * tears down the address space before the files) */
		j->phase = HFSD_JOB_DYING;
		hfsd_ctl_arm_timeout(c, j->id, dying_ms(c));
	} else if (j->phase == HFSD_JOB_DYING) {
		for (uint32_t i = 0; i < j->nw; i++)
			if (!j->w[i].acked) {
				hfsd_log(LOG_ERR, "control: pid %d still alive "
					 "%u ms after SIGKILL",
					 (int)j->w[i].pid, dying_ms(c));
				j->w[i].acked = true;
				j->leak = true;
			}
	}
	pthread_mutex_unlock(&c->lock);
}

void hfsd_lease_client_gone(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	struct hfsd_lease *l, *next;
	unsigned n = 0;

	pthread_mutex_lock(&c->lock);
	for (l = RB_MIN(lease_ids, &c->leases_by_id); l; l = next) {
		next = RB_NEXT(lease_ids, &c->leases_by_id, l);
		if (l->cl == cl) {
			drop_lease(c, l);
			n++;
		}
	}
	mark_acked(c, cl, 0);
	for (struct hfsd_job *j = c->jobs; j; j = j->next)
		if (j->defer_cl == cl)
			j->defer_cl = NULL;
	pthread_mutex_unlock(&c->lock);
	if (n)
		hfsd_log(LOG_INFO, "control: pid %d gone; released %u "
			 "lease%s", (int)cl->pid, n, n == 1 ? "" : "s");
}

/* ---------------------------------------------------------- messages */

/* Is gid among the supplementary groups of pid?  Read after the pidfd
 * was opened and re-validated with it, so the pid is still the peer. */
static bool pid_in_group(const struct hfsd_client *cl, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)cl->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
	}
	fclose(f);
	/* still the same process? */
	return found && syscall(SYS_pidfd_send_signal, cl->pidfd, 0, NULL,
				0) == 0;
}

static bool dax_allowed(const struct hfsd_ctl *c, const struct hfsd_client *cl)
{
	if (cl->uid == 0)
		return true;
	if (!c->dax_gid_set)
		return false;
	return cl->gid == c->dax_gid || pid_in_group(cl, c->dax_gid);
}

static void do_hello(struct hfsd_ctl *c, struct hfsd_client *cl,
		     const struct hfs_msg_hello *m)
{
	struct hfs_msg_hello_ok r;

	if (cl->hello) {
		hfsd_ctl_drop(c, cl, "second HELLO");
		return;
	}
	if (!dax_allowed(c, cl)) {
		hfsd_log(LOG_NOTICE, "control: pid %d uid %u refused: DAX "
			 "access is for root%s%s", (int)cl->pid,
			 (unsigned)cl->uid, c->dax_gid_set ? " and group " : "",
			 c->dax_gid_set ? "dax_group" : " only");
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "DAX access needs root or dax_group");
		cl->closing = true; /* no more requests; EOF when sent */
		shutdown(cl->fd, SHUT_RD);
		hfsd_lease_client_gone(c, cl);
		return;
	}
	cl->hello = true;
	memset(&r, 0, sizeof(r));
	hfsd_msg_init(&r.h, HFS_MSG_HELLO_OK, sizeof(r), m->h.id);
	r.region_size = c->region_size;
	r.alloc_unit = (uint32_t)c->alloc_unit;
	r.revoke_ms = c->revoke_ms;
	memcpy(r.uuid, c->uuid, 16);
	r.coh_slots = c->coh ? hfsd_coh_nslots(c->coh) : 0;
	hfsd_ctl_send(c, cl, &r, sizeof(r), c->coh ? hfsd_coh_fd(c->coh) : -1);
}

/* Second factor after the fd's open mode: the peer's credentials
 * against the file's mode bits (owner, group, other; root passes). */
static bool cred_allows(const struct hfsd_client *cl, const struct hfs_attr *a,
			uint32_t prot)
{
	unsigned need = ((prot & HFS_PROT_READ) ? 4 : 0) |
			((prot & HFS_PROT_WRITE) ? 2 : 0);
	unsigned bits;

	if (cl->uid == 0)
		return true;
	if (cl->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (cl->gid == a->gid)
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (bits & need) == need;
}

struct grant_ctx {
	struct hfsd_ctl *c;
	struct hfsd_client *cl;
	uint64_t ino, off, len;
	uint32_t prot;
	uint64_t id;
	uint32_t coh_slot;
};

/* Under the volume lock: the lease exists before anyone can free its
 * blocks. */
static int grant_publish(void *ctx, const struct hfs_lease_extent *ext,
			 uint32_t n)
{
	struct grant_ctx *g = ctx;
	struct hfsd_ctl *c = g->c;
	struct hfsd_lease *l = calloc(1, sizeof(*l));

	if (!l || !(l->ext = malloc((n ? n : 1) * sizeof(*ext)))) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->ext, ext, n * sizeof(*ext));
	l->n = n;
	l->cl = g->cl;
	l->pid = g->cl->pid;
	l->uid = g->cl->uid;
	l->ino = g->ino;
	l->off = g->off;
	l->len = g->len;
	l->prot = g->prot;
	/* a leaf lock: fine under the volume lock */
	l->coh_slot = g->coh_slot = hfsd_coh_get(c->coh, g->ino);
	pthread_mutex_lock(&c->lock);
	l->id = g->id = ++c->next_lease;
	insert_lease(c, l);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void do_lease(struct hfsd_ctl *c, struct hfsd_client *cl,
		     const struct hfs_msg_lease_req *m, int fd)
{
	uint32_t prot = m->prot & HFS_PROT_WRITE ? HFS_PROT_READ | HFS_PROT_WRITE
						 : HFS_PROT_READ;
	bool w = prot & HFS_PROT_WRITE;
	struct grant_ctx g = { c, cl, 0, m->offset, m->length, prot, 0,
			       HFS_COH_NONE };
	struct hfs_msg_lease_ok *r;
	struct hfs_attr a;
	struct stat st;
	uint32_t n = 0;
	int acc, err, pass = -1;
	size_t rlen;

	if (!cl->hello) {
		close(fd);
		hfsd_ctl_drop(c, cl, "LEASE_REQ before HELLO");
		return;
	}
	err = 0;
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (!c->mnt_dev_ok || st.st_dev != c->mnt_dev)
		err = EXDEV;
	else if (!S_ISREG(st.st_mode))
		err = EINVAL;
	acc = fcntl(fd, F_GETFL);
	close(fd);
	if (err) {
		hfsd_ctl_send_error(c, cl, m->h.id, err, err == EXDEV
				    ? "file is not on this holdfs mount"
				    : "not a regular file");
		return;
	}
	acc &= O_ACCMODE;
	if (w && c->readonly) {
		hfsd_ctl_send_error(c, cl, m->h.id, EROFS, "read-only mount");
		return;
	}
	if ((w && acc == O_RDONLY) || (!w && acc == O_WRONLY)) {
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "file descriptor not open for that access");
		return;
	}
	g.ino = st.st_ino;
	err = -hfs_getattr(c->d->vol, g.ino, &a);
	if (!err && !cred_allows(cl, &a, prot)) {
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "file mode does not allow it for the peer");
		return;
	}
	r = malloc(sizeof(*r) + HFS_LEASE_MAX_EXTENTS * sizeof(struct hfs_lease_extent));
	if (!r) {
		hfsd_ctl_send_error(c, cl, m->h.id, ENOMEM, "out of memory");
		return;
	}
	tls_fill_job = NULL;
	if (!err)
		err = -hfs_lease_extents(c->d->vol, g.ino, m->offset, m->length,
					 w, (struct hfs_lease_extent *)(r + 1),
					 HFS_LEASE_MAX_EXTENTS, &n, grant_publish, &g);
	if (err) {
		free(r);
		hfsd_ctl_send_error(c, cl, m->h.id, err,
				    err == EINVAL ? "range not alloc_unit aligned "
				    "or beyond the end of the file"
				    : err == E2BIG ? "too many extents"
				    : strerror(err));
		return;
	}
	rlen = sizeof(*r) + n * sizeof(struct hfs_lease_extent);
	memset(r, 0, sizeof(*r));
	hfsd_msg_init(&r->h, HFS_MSG_LEASE_OK, (uint32_t)rlen, m->h.id);
	r->lease_id = g.id;
	r->ino = g.ino;
	r->offset = m->offset;
	r->length = m->length;
	r->prot = prot;
	r->nextents = n;
	r->coh_slot = g.coh_slot;
	if (w && !cl->has_rw) {
		pass = c->region_rw;
		cl->has_rw = true;
	} else if (!w && !cl->has_rw && !cl->has_ro) {
		pass = c->region_ro;
		cl->has_ro = true;
	}
	if (tls_fill_job) {
		/* holes of other leases got our blocks: they remap first */
		pthread_mutex_lock(&c->lock);
		tls_fill_job->defer_cl = cl;
		tls_fill_job->defer_msg = r;
		tls_fill_job->defer_len = rlen;
		tls_fill_job->defer_fd = pass; /* open until the server stops */
		pthread_mutex_unlock(&c->lock);
		tls_fill_job = NULL;
		return;
	}
	hfsd_ctl_send(c, cl, r, rlen, pass);
	free(r);
}

static void do_release(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const struct hfs_msg_lease_ref *m)
{
	struct hfsd_lease *l;
	struct hfs_msg_lease_ref r;

	/* A REVOKE of it that is in flight is still acked by the client
	 * (it acks every REVOKE, known lease or not), so it is not
	 * counted as acked here: one ack per message covers all its
	 * leases. */
	pthread_mutex_lock(&c->lock);
	l = find_lease(c, m->lease_id);
	if (l && l->cl != cl)
		l = NULL;
	if (l)
		drop_lease(c, l);
	pthread_mutex_unlock(&c->lock);
	if (!l) {
		hfsd_ctl_send_error(c, cl, m->h.id, ENOENT, "no such lease");
		return;
	}
	r = *m;
	r.h.type = HFS_MSG_RELEASE_OK;
	hfsd_ctl_send(c, cl, &r, sizeof(r), -1);
}

static void do_ack(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const struct hfs_msg_lease_ref *m, int kind)
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (struct hfsd_job *j = c->jobs; j && !found; j = j->next) {
		if (j->kind != kind)
			continue;
		for (uint32_t i = 0; i < j->nw; i++)
			if (j->w[i].cl == cl && j->w[i].msg_id == m->h.id &&
			    !j->w[i].acked) {
				j->w[i].acked = true;
				j->w[i].cl = NULL;
				found = true;
				break;
			}
	}
	pthread_mutex_unlock(&c->lock);
	if (!found)
		hfsd_ctl_drop(c, cl, "ack for an unknown id");
}

/* Stores through a lease are durable: drop the kernel's cached pages of
 * that range so POSIX readers (and page-cache mmaps) see them, then tell
 * the client (PERSISTED_OK): holdfs_persist returns only after that, so
 * a read(2) that starts after it cannot find a page filled before the
 * stores.  fuse_lowlevel_notify_inval_inode returns once the kernel has
 * invalidated the range (it waits for pages under I/O, e.g. a readahead
 * READ a worker thread is answering, and no writeback cache is used, so
 * there is no writeback to wait for).  It must not run on a thread that
 * handles a FUSE request of that inode or holds a lock such a request
 * needs: the ring thread handles no FUSE request, and c->lock is not
 * held here. */
static void do_persisted(struct hfsd_ctl *c, struct hfsd_client *cl,
			 const struct hfs_msg_range *m)
{
	struct hfsd_lease *l;
	uint64_t ino = 0;
	int r;

	pthread_mutex_lock(&c->lock);
	l = find_lease(c, m->lease_id);
	if (l && l->cl == cl)
		ino = l->ino;
	pthread_mutex_unlock(&c->lock);
	if (!ino) {
		hfsd_ctl_drop(c, cl, "PERSISTED for an unknown lease");
		return;
	}
	if (m->length == 0 || m->offset > INT64_MAX ||
	    m->length > (uint64_t)INT64_MAX - m->offset) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "bad range");
		return;
	}
	/* the invalidation may wait for a page a FUSE WRITE holds locked,
	 * and that WRITE may wait for this thread (fill hook): a worker
	 * does it (fs/persisted.c) */
	r = hfsd_persisted_queue(c, cl, m, ino);
	if (r < 0)
		hfsd_ctl_send_error(c, cl, m->h.id, -r,
				    "cannot queue the page cache invalidation");
}

/* ------------------------------------------------------------- admin */

static void send_json(struct hfsd_ctl *c, struct hfsd_client *cl,
		      uint64_t id, json_object *o)
{
	const char *txt = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(txt), chunk = HFS_MSG_MAX - 32, off = 0;
	uint8_t *buf = malloc(HFS_MSG_MAX);

	if (!buf) {
		hfsd_ctl_send_error(c, cl, id, ENOMEM, "out of memory");
		return;
	}
	do {
		struct hfs_msg_admin_reply *r = (void *)buf;
		size_t n = len - off < chunk ? len - off : chunk;

		memset(r, 0, sizeof(*r));
		hfsd_msg_init(&r->h, HFS_MSG_ADMIN_REPLY,
			      (uint32_t)(sizeof(*r) + n), id);
		r->more = off + n < len;
		memcpy(buf + sizeof(*r), txt + off, n);
		hfsd_ctl_send(c, cl, buf, sizeof(*r) + n, -1);
		off += n;
	} while (off < len);
	free(buf);
}

static const char *coh_name(uint32_t s)
{
	switch (s) {
	case HFS_COH_CLEAN: return "clean";
	case HFS_COH_CACHED: return "cached";
	case HFS_COH_CLEARING: return "clearing";
	case HFS_COH_NONE: return "none";
	default: return "?";
	}
}

static json_object *lease_json(struct hfsd_ctl *c, const struct hfsd_lease *l)
{
	json_object *o = json_object_new_object(), *ex = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_uint64(l->id));
	json_object_object_add(o, "pid", json_object_new_int(l->pid));
	json_object_object_add(o, "uid", json_object_new_int64(l->uid));
	json_object_object_add(o, "ino", json_object_new_uint64(l->ino));
	json_object_object_add(o, "offset", json_object_new_uint64(l->off));
	json_object_object_add(o, "length", json_object_new_uint64(l->len));
	json_object_object_add(o, "prot", json_object_new_string(
		l->prot & HFS_PROT_WRITE ? "rw" : "r"));
	/* the file's coherence word: "clean" = persists need no round trip
	 * (no kernel page cached); "none" = no word, always a round trip */
	json_object_object_add(o, "coherence", json_object_new_string(
		coh_name(l->coh_slot == HFS_COH_NONE ? HFS_COH_NONE
			 : hfsd_coh_state(c->coh, l->ino))));
	for (uint32_t i = 0; i < l->n; i++) {
		const struct hfs_lease_extent *e = &l->ext[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "file_off",
				       json_object_new_uint64(e->file_off));
		json_object_object_add(x, "len", json_object_new_uint64(e->len));
		json_object_object_add(x, "state", json_object_new_string(
			e->flags & HFSD_LEXT_REVOKED ? "revoked"
			: e->flags & HFS_LEXT_HOLE ? "hole" : "mapped"));
		if (!(e->flags & HFS_LEXT_HOLE))
			json_object_object_add(x, "region_off",
				json_object_new_uint64(e->region_off));
		json_object_array_add(ex, x);
	}
	json_object_object_add(o, "extents", ex);
	return o;
}

static bool lease_maps(const struct hfsd_lease *l, uint64_t rs, uint64_t re)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (!(l->ext[i].flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) &&
		    l->ext[i].region_off < re &&
		    l->ext[i].region_off + l->ext[i].len > rs)
			return true;
	return false;
}

static void admin_common(struct hfsd_ctl *c, json_object *o)
{
	json_object_object_add(o, "revoke_ms",
			       json_object_new_int((int)c->revoke_ms));
	json_object_object_add(o, "pending_free_blocks",
			       json_object_new_uint64(c->pending_blocks));
	json_object_object_add(o, "kills", json_object_new_uint64(c->kills));
}

/* The data-owning inodes of region bytes [rs, re), from the rmap
 * (O(log n + k)), sorted and unique.  Takes the volume lock: call
 * without c->lock.  *inos is malloc'd (NULL when none). */
struct ino_set {
	uint64_t *v;
	size_t n, cap;
	int err;
};

static int ino_cb(void *ctx, const struct hfs_owner *w)
{
	struct ino_set *s = ctx;

	if (strcmp(w->kind, "data"))
		return 0; /* leases map file data only */
	if (s->n && s->v[s->n - 1] == w->ino)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->err = -ENOMEM;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = w->ino;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int owner_inos(struct hfsd_ctl *c, uint64_t rs, uint64_t re,
		      struct ino_set *s)
{
	size_t k = 0;
	int r;

	*s = (struct ino_set){ 0 };
	r = hfs_vol_owners(c->d->vol, rs, re - rs, ino_cb, s);
	if (r < 0 || s->err < 0) {
		free(s->v);
		*s = (struct ino_set){ 0 };
		return r < 0 ? r : -ENOMEM;
	}
	if (s->n > 1) /* (qsort of a NULL array is undefined, even empty) */
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		if (!k || s->v[k - 1] != s->v[i])
			s->v[k++] = s->v[i];
	s->n = k;
	return 0;
}

/* o.leases = the leases (only those mapping region bytes [rs, re) when
 * in_range: the rmap's owners, then their leases), plus the common
 * fields, under the lease lock. */
static void add_leases(struct hfsd_ctl *c, json_object *o, json_object *arr,
		       bool in_range, uint64_t rs, uint64_t re)
{
	struct ino_set s = { 0 };

	if (in_range && owner_inos(c, rs, re, &s) < 0)
		hfsd_log(LOG_WARNING, "control: holders query: cannot list "
			 "the owners of the range");
	pthread_mutex_lock(&c->lock);
	if (!in_range) {
		struct hfsd_lease *l;

		RB_FOREACH(l, lease_ids, &c->leases_by_id)
			json_object_array_add(arr, lease_json(c, l));
	}
	for (size_t i = 0; i < s.n; i++)
		for (struct hfsd_lease *l = first_of_ino(c, s.v[i]); l;
		     l = next_of_ino(c, l))
			if (lease_maps(l, rs, re))
				json_object_array_add(arr, lease_json(c, l));
	json_object_object_add(o, "leases", arr);
	admin_common(c, o);
	pthread_mutex_unlock(&c->lock);
	free(s.v);
}

static int owner_cb(void *ctx, const struct hfs_owner *w)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "region_off",
			       json_object_new_uint64(w->region_off));
	json_object_object_add(x, "len", json_object_new_uint64(w->len));
	json_object_object_add(x, "ino", json_object_new_uint64(w->ino));
	json_object_object_add(x, "file_off",
			       json_object_new_uint64(w->file_off));
	json_object_object_add(x, "kind", json_object_new_string(w->kind));
	json_object_object_add(x, "open_handles",
			       json_object_new_int64(w->nopen));
	json_object_array_add(ctx, x);
	return 0;
}

/* Administration (status, leases, holders, inject) is root's: refuse
 * anyone else with an ERROR reply. */
static bool admin_allowed(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const struct hfs_msg_hdr *h)
{
	if (cl->uid == 0)
		return true;
	hfsd_ctl_send_error(c, cl, h->id, EACCES, "administration needs root");
	return false;
}

static void do_admin(struct hfsd_ctl *c, struct hfsd_client *cl,
		     const void *buf, int type)
{
	const struct hfs_msg_hdr *h = buf;
	json_object *o, *arr;

	if (!admin_allowed(c, cl, h))
		return;
	o = json_object_new_object();
	arr = json_object_new_array();
	if (type == HFS_MSG_ADMIN_HOLDERS) {
		const struct hfs_msg_range *m = buf;
		uint64_t re = m->offset + m->length;
		json_object *owners = json_object_new_array();
		int r;

		if (m->length == 0 || re < m->offset) {
			json_object_put(o);
			json_object_put(arr);
			json_object_put(owners);
			hfsd_ctl_send_error(c, cl, h->id, EINVAL, "bad range");
			return;
		}
		r = hfs_vol_owners(c->d->vol, m->offset, m->length, owner_cb,
				   owners);
		if (r < 0) {
			json_object_put(owners);
			owners = json_object_new_array();
		}
		json_object_object_add(o, "offset",
				       json_object_new_uint64(m->offset));
		json_object_object_add(o, "length",
				       json_object_new_uint64(m->length));
		json_object_object_add(o, "owners", owners);
		add_leases(c, o, arr, true, m->offset, re);
	} else {
		add_leases(c, o, arr, false, 0, 0);
	}
	send_json(c, cl, h->id, o);
	json_object_put(o);
}

/* ADMIN_STATUS / ADMIN_INJECT (docs/failure-model.md).  The ring never
 * waits for the pipeline: an injection is queued and its outcome shows
 * in the status. */
static void do_admin_failure(struct hfsd_ctl *c, struct hfsd_client *cl,
			     const void *buf, int type)
{
	const struct hfs_msg_hdr *h = buf;
	json_object *o, *arr;

	if (!admin_allowed(c, cl, h))
		return;
	if (!c->d->fail) {
		hfsd_ctl_send_error(c, cl, h->id, ENOTSUP,
				    "failure monitor not running");
		return;
	}
	if (type == HFS_MSG_ADMIN_INJECT) {
		const struct hfs_msg_inject *m = buf;

		if (m->pad || (m->flags & ~(HFS_FAIL_PRE_REMOVE |
					    HFS_FAIL_WHOLE_DEVICE |
					    HFS_FAIL_MEDIA)) ||
		    (!(m->flags & HFS_FAIL_WHOLE_DEVICE) &&
		     (m->length == 0 || m->offset + m->length < m->offset))) {
			hfsd_ctl_send_error(c, cl, h->id, EINVAL,
					    "bad injection");
			return;
		}
		hfsd_log(LOG_WARNING, "control: uid 0 pid %d injects a %s "
			 "failure", (int)cl->pid,
			 m->flags & HFS_FAIL_WHOLE_DEVICE ? "whole-device"
							  : "range");
		hfsd_fail_post(c->d->fail, m->offset, m->length, m->flags,
			       "operator");
		o = json_object_new_object();
		json_object_object_add(o, "queued", json_object_new_boolean(1));
	} else {
		o = hfsd_fail_status_json(c->d->fail);
		arr = json_object_new_array();
		add_leases(c, o, arr, false, 0, 0);
	}
	send_json(c, cl, h->id, o);
	json_object_put(o);
}

void hfsd_lease_msg(struct hfsd_ctl *c, struct hfsd_client *cl,
		    const void *buf, size_t len, int fd)
{
	const struct hfs_msg_hdr *h = buf;

	(void)len;
	switch (h->type) {
	case HFS_MSG_HELLO:
		do_hello(c, cl, buf);
		break;
	case HFS_MSG_LEASE_REQ:
		do_lease(c, cl, buf, fd);
		return; /* fd closed there */
	case HFS_MSG_RELEASE:
	case HFS_MSG_REVOKE_ACK:
	case HFS_MSG_REMAP_ACK:
	case HFS_MSG_PERSISTED:
	case HFS_MSG_POISON:
		if (!cl->hello) {
			hfsd_ctl_drop(c, cl, "request before HELLO");
			break;
		}
		if (h->type == HFS_MSG_RELEASE)
			do_release(c, cl, buf);
		else if (h->type == HFS_MSG_REVOKE_ACK)
			do_ack(c, cl, buf, HFSD_JOB_REVOKE);
		else if (h->type == HFS_MSG_REMAP_ACK)
			do_ack(c, cl, buf, HFSD_JOB_REMAP);
		else if (h->type == HFS_MSG_PERSISTED)
			do_persisted(c, cl, buf);
		else if (h->type == HFS_MSG_POISON) {
			const struct hfs_msg_range *r = buf;

			hfsd_log(LOG_ERR, "control: pid %d reports poison at "
				 "region offset %" PRIu64 " (+%" PRIu64 ")",
				 (int)cl->pid, r->offset, r->length);
			if (c->d->fail)
				hfsd_fail_post(c->d->fail, r->offset,
					       r->length ? r->length : 4096,
					       HFS_FAIL_MEDIA, "client poison");
		}
		break;
	case HFS_MSG_ADMIN_LEASES:
	case HFS_MSG_ADMIN_HOLDERS:
		do_admin(c, cl, buf, h->type);
		break;
	case HFS_MSG_ADMIN_STATUS:
	case HFS_MSG_ADMIN_INJECT:
		do_admin_failure(c, cl, buf, h->type);
		break;
	default:
		hfsd_ctl_drop(c, cl, "unexpected message");
		break;
	}
	if (fd >= 0)
		close(fd);
}

/* Words in the coherence table: a leased inode takes one until its last
 * lease goes; beyond that many leased inodes, clients ask on every
 * persist (correct, slower).  256 KiB. */
#define COH_SLOTS 65536u

void hfsd_lease_init(struct hfsd_ctl *c)
{
	struct hfs_vol_hooks h = {
		.release = release_hook,
		.fill = fill_hook,
		.ctx = c,
	};
	int r;

	RB_INIT(&c->leases_by_id);
	RB_INIT(&c->leases_by_ino);
	RB_INIT(&c->leases_with_holes);
	r = hfsd_coh_new(COH_SLOTS, &c->coh);
	if (r < 0) {
		c->coh = NULL;
		hfsd_log(LOG_WARNING, "control: no page-cache coherence table "
			 "(%s); every holdfs_persist asks the daemon",
			 strerror(-r));
	}
	/* FUSE READ/WRITE mark inodes cached through it (fs/ops_file.c) */
	c->d->coh = c->coh;
	r = hfsd_persisted_start(c);
	if (r < 0)
		hfsd_log(LOG_WARNING, "control: no PERSISTED worker (%s); "
			 "holdfs_persist gets ERROR when it must ask",
			 strerror(-r));
	hfs_vol_set_hooks(c->d->vol, &h);
}

/* Runs after the FUSE loop has ended (or before it started): no READ or
 * WRITE handler uses the coherence table any more. */
void hfsd_lease_fini(struct hfsd_ctl *c)
{
	struct done_blocks *back = NULL;
	struct hfsd_lease *l, *ln;
	struct hfsd_job *j, *jn;
	size_t nback = 0;
	uint64_t held = 0;

	hfs_vol_set_hooks(c->d->vol, NULL);
	pthread_mutex_lock(&c->lock);
	for (l = RB_MIN(lease_ids, &c->leases_by_id); l; l = ln) {
		ln = RB_NEXT(lease_ids, &c->leases_by_id, l);
		drop_lease(c, l);
	}
	/* Blocks still waiting for revocation: every connection is closed
	 * now, and no inode owns them, so the next mount finds them free
	 * whatever we do.  Give them back so the counters written at
	 * unmount agree with that (fsck would report them otherwise). */
	for (j = c->jobs; j; j = j->next)
		if (j->kind == HFSD_JOB_REVOKE && j->nblk)
			nback++;
	if (nback && !(back = calloc(nback, sizeof(*back))))
		nback = 0;
	nback = 0;
	for (j = c->jobs; j; j = jn) {
		jn = j->next;
		if (back && j->kind == HFSD_JOB_REVOKE && j->nblk) {
			back[nback++] = (struct done_blocks){ j->pblk, j->nblk };
			held += j->nblk;
		}
		if (j->sleeper) {
			j->phase = HFSD_JOB_DONE; /* its sleeper frees it */
			continue;
		}
		free_job(j);
	}
	c->jobs = NULL;
	c->pending_blocks = 0;
	pthread_mutex_unlock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	/* the volume lock outside ctl->lock (lock order) */
	for (size_t i = 0; i < nback; i++)
		hfs_vol_free_blocks(c->d->vol, back[i].pblk, back[i].n);
	if (held)
		hfsd_log(LOG_NOTICE, "control: %" PRIu64 " blocks still waiting "
			 "for revocation at shutdown are free again",
			 held);
	free(back);
	c->d->coh = NULL;
	if (hfsd_persisted_stop(c))
		hfsd_coh_free(c->coh); /* else the stuck worker may use it */
	c->coh = NULL;
}

void hfsd_lease_ring_thread(void)
{
	tls_on_ring = true;
}

/* ----------------------------------------------------- failure pipeline */

/* A failure round is urgent: the clients' listeners run real-time
 * (client/listener.c), the failure pipeline does (fs/failure.c), and the
 * acks must not wait for the control thread behind the machine's busy
 * processes either.  So for the round the control thread runs SCHED_FIFO
 * 1, when the daemon may; the round's work is bounded (messages, acks).
 * Layout revocations (truncate, ...) are not raised: they do not hold
 * anyone up but the blocks' reuse. */
int hfsd_lease_revoke_failure(struct hfsd_ctl *c, uint64_t rs, uint64_t re,
			      bool all, json_object *leases, unsigned *killed)
{
	struct hfsd_rt rt;
	struct ino_set s = { 0 };
	struct hfsd_job *j;
	int n = 0, r;

	*killed = 0;
	/* a range: only the leases of the inodes owning it (rmap) */
	if (!all && (r = owner_inos(c, rs, re, &s)) < 0)
		return r;
	j = new_job(c, HFSD_JOB_REVOKE);
	if (!j) {
		free(s.v);
		return -ENOMEM;
	}
	j->reason = HFS_REVOKE_FAILURE;
	pthread_mutex_lock(&c->lock);
	if (all) {
		struct hfsd_lease *l;

		RB_FOREACH(l, lease_ids, &c->leases_by_id) {
			for (uint32_t i = 0; i < l->n; i++)
				l->ext[i].flags |= HFSD_LEXT_REVOKED;
			if (add_revoke(c, j, l, l->off, l->off + l->len) == 0)
				n++;
		}
	}
	for (size_t k = 0; k < s.n; k++)
		for (struct hfsd_lease *l = first_of_ino(c, s.v[k]); l;
		     l = next_of_ino(c, l)) {
			uint64_t fs, fe;

			if (revoke_in_lease(l, rs, re, &fs, &fe) &&
			    add_revoke(c, j, l, fs, fe) == 0)
				n++;
		}
	free(s.v);
	if (!j->nw) {
		pthread_mutex_unlock(&c->lock);
		free_job(j);
		return 0;
	}
	j->sleeper = true;
	queue_job_locked(c, j);
	pthread_mutex_unlock(&c->lock);
	hfsd_rt_raise(c->thread, &rt);
	hfsd_ctl_wake(c);
	job_wait_locked(c, j);
	hfsd_rt_restore(c->thread, &rt);
	/* holders killed: distinct pids (a client may have had several
	 * REVOKE messages in the round) */
	for (uint32_t i = 0; i < j->nw; i++) {
		bool seen = false;

		for (uint32_t k = 0; k < i && !seen; k++)
			seen = j->w[k].killed && j->w[k].pid == j->w[i].pid;
		if (j->w[i].killed && !seen)
			(*killed)++;
	}
	for (uint32_t i = 0; leases && i < j->nrv; i++) {
		const struct hfsd_revoked *v = &j->rv[i];
		const struct hfsd_waiter *w = &j->w[v->waiter];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "lease",
				       json_object_new_uint64(v->lease_id));
		json_object_object_add(x, "pid", json_object_new_int(v->pid));
		json_object_object_add(x, "outcome",
			json_object_new_string(w->killed ? "killed"
				: w->acked ? "acked" : "no answer"));
		json_object_array_add(leases, x);
	}
	job_finish_unlock(c, j, "failure REVOKE");
	return n;
}
