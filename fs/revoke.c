/* SPDX-License-Identifier: MIT */
/*
 * The revocation engine (revoke.h, revoke_i.h): jobs, their rounds,
 * deadlines and kills.
 *
 * A job is created by a volume hook (revoke_hooks.c) or by the failure
 * pipeline (hfsd_lease_revoke_failure, below) and queued on ctl->jobs.
 * The ring thread sends every new job's messages together with one
 * IORING_OP_TIMEOUT (one submission), collects the acks, and when the
 * deadline passes first SIGKILLs (pidfd) every holder that did not ack,
 * then waits a second deadline for its socket to close: exit tears the
 * address space down before it closes files, so EOF means its mappings
 * are gone.  Only then do a REVOKE job's blocks go back to the allocator;
 * a holder that never goes away keeps them out of use until the next
 * mount.  The volume lock is never taken with ctl->lock held.
 */
#include "revoke_i.h"
#include "revoke.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl_send.h"
#include "deadline.h"
#include "grow.h"
#include "rt.h"


/* ------------------------------------------------------------ a job */

void hfsd_job_free(struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++)
		free(j->w[i].msg);
	free(j->w);
	free(j->rv);
	free(j->defer_msg);
	hfsd_reap_free(j->reap);
	free(j);
}

struct hfsd_job *hfsd_job_new(struct hfsd_ctl *c, int kind)
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

void hfsd_job_queue_locked(struct hfsd_ctl *c, struct hfsd_job *j)
{
	struct hfsd_job **pp = &c->jobs;

	while (*pp)
		pp = &(*pp)->next;
	j->next = NULL;
	*pp = j;
}

void hfsd_job_wait(struct hfsd_ctl *c, struct hfsd_job *j)
{
	struct timespec dl = hfsd_deadline_ms(
		((c->revoke_ms + hfsd_dying_ms(c)) / 1000) * 1000 +
		HFSD_JOB_WAIT_SLACK_MS);

	pthread_mutex_lock(&c->lock);
	while (j->phase != HFSD_JOB_DONE &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &dl) != ETIMEDOUT)
		;
}

void hfsd_job_finish_unlock(struct hfsd_ctl *c, struct hfsd_job *j,
			    const char *what)
{
	if (j->phase == HFSD_JOB_DONE) {
		struct hfsd_job **pp;

		for (pp = &c->jobs; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		hfsd_job_free(j);
	} else {
		j->sleeper = false;
		hfsd_log(LOG_ERR, "control: %s not completed in time", what);
	}
	pthread_mutex_unlock(&c->lock);
}

int hfsd_job_add_waiter(struct hfsd_job *j, const struct hfsd_lease *l,
			void *msg, size_t len, uint64_t msg_id)
{
	if (hfs_grow(&j->w, &j->cap, (size_t)j->nw + 1, sizeof(*j->w)))
		return -ENOMEM;
	j->w[j->nw++] = (struct hfsd_waiter){
		.cl = l->cl, .msg_id = msg_id, .lease_id = l->id,
		.pid = l->pid, .msg = msg, .len = len,
	};
	return 0;
}

/* The REVOKE of this round for l's client with room for a range: the
 * one being built, or a new one.  NULL: out of memory. */
static struct hfsd_waiter *revoke_waiter_locked(struct hfsd_ctl *c,
						struct hfsd_job *j,
						const struct hfsd_lease *l)
{
	struct hfsd_client *cl = l->cl;
	struct hfs_msg_revoke *m;
	size_t len;

	if (cl->rv_job == j->id && cl->rv_w < j->nw &&
	    j->w[cl->rv_w].nranges < HFS_REVOKE_MAX_RANGES)
		return &j->w[cl->rv_w];
	len = sizeof(*m) + 8 * sizeof(struct hfs_revoke_range);
	m = calloc(1, len);
	if (!m)
		return NULL;
	hfsd_msg_init(&m->h, HFS_MSG_REVOKE, sizeof(*m), ++c->next_msg);
	m->reason = j->reason;
	if (hfsd_job_add_waiter(j, l, m, len, m->h.id) < 0) {
		free(m);
		return NULL;
	}
	j->w[j->nw - 1].nranges = 0;
	cl->rv_job = j->id;
	cl->rv_w = j->nw - 1;
	return &j->w[j->nw - 1];
}

/* Room for one more range in w's REVOKE (w->len is the allocation,
 * h.len the bytes in use) and in j's list of leases covered. */
static int revoke_room(struct hfsd_job *j, struct hfsd_waiter *w)
{
	struct hfs_msg_revoke *m = w->msg;

	if (m->h.len + sizeof(struct hfs_revoke_range) > w->len) {
		size_t cap = w->len * 2;

		if (cap > HFS_MSG_MAX)
			cap = HFS_MSG_MAX;
		m = realloc(w->msg, cap);
		if (!m)
			return -ENOMEM;
		w->msg = m;
		w->len = cap;
	}
	if (hfs_grow(&j->rv, &j->caprv, (size_t)j->nrv + 1, sizeof(*j->rv)))
		return -ENOMEM;
	return 0;
}

/* One message per client per round (another when one is full), so
 * revoking 10,000 leases of 8 clients costs 8 messages and 8 acks. */
int hfsd_job_add_revoke_locked(struct hfsd_ctl *c, struct hfsd_job *j,
			       const struct hfsd_lease *l, uint64_t fs,
			       uint64_t fe)
{
	struct hfsd_waiter *w = revoke_waiter_locked(c, j, l);
	struct hfs_revoke_range *rr;
	struct hfs_msg_revoke *m;

	if (!w || revoke_room(j, w) < 0)
		return -ENOMEM;
	m = w->msg;
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

/* --------------------------------------------------- the ring's side */


static bool all_acked(const struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++)
		if (!j->w[i].acked)
			return false;
	return true;
}

/* New jobs: every REVOKE/REMAP of a job and its timeout are queued
 * before the loop submits (one submission). */
static void send_new_locked(struct hfsd_ctl *c)
{
	for (struct hfsd_job *j = c->jobs; j; j = j->next) {
		if (j->phase != HFSD_JOB_NEW)
			continue;
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
}

struct done_blocks {
	uint64_t pblk, n;
};

struct block_list {
	struct done_blocks *v;
	size_t n, cap;
};

/* A finished job nobody sleeps on leaves: a REVOKE's blocks are listed
 * to go back (or stay out of use when a holder never went away), a
 * deferred LEASE_OK goes out. */
static void retire_locked(struct hfsd_ctl *c, struct hfsd_job *j,
			  struct block_list *fr)
{
	if (j->kind == HFSD_JOB_REVOKE && j->nblk) {
		if (j->leak) {
			hfsd_log(LOG_ERR, "control: %" PRIu64 " blocks at "
				 "%" PRIu64 " stay out of use until the "
				 "next mount (a holder did not exit)",
				 j->nblk, j->pblk);
		} else if (hfs_grow(&fr->v, &fr->cap, fr->n + 1,
				    sizeof(*fr->v))) {
			hfsd_log(LOG_ERR, "control: out of memory: %" PRIu64
				 " blocks at %" PRIu64 " stay out of use until "
				 "the next mount", j->nblk, j->pblk);
		} else {
			fr->v[fr->n++] = (struct done_blocks){ j->pblk,
							       j->nblk };
			c->pending_blocks -= j->nblk;
		}
	}
	if (j->defer_cl && !j->defer_cl->closing) {
		hfsd_ctl_send(c, j->defer_cl, j->defer_msg, j->defer_len,
			      j->defer_fd);
	}
	hfsd_job_free(j);
}

/* Jobs whose every waiter is done are DONE (true if any became so: their
 * sleepers are woken); the ones no thread sleeps on are retired. */
static bool reap_locked(struct hfsd_ctl *c, struct block_list *fr)
{
	struct hfsd_job **pp, *j;
	bool woke = false;

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
		retire_locked(c, j, fr);
	}
	return woke;
}

void hfsd_lease_send_queued(struct hfsd_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	send_new_locked(c);
	pthread_mutex_unlock(&c->lock);
}

static void judge_expired(struct hfsd_ctl *c);

void hfsd_lease_run_jobs(struct hfsd_ctl *c)
{
	struct block_list fr = { 0 };
	bool woke;

	judge_expired(c);
	pthread_mutex_lock(&c->lock);
	send_new_locked(c);
	woke = reap_locked(c, &fr);
	pthread_mutex_unlock(&c->lock);
	if (woke)
		pthread_cond_broadcast(&c->cond);
	/* the volume lock is taken outside ctl->lock (lock order) */
	for (size_t i = 0; i < fr.n; i++)
		hfs_vol_free_blocks(c->d->vol, fr.v[i].pblk, fr.v[i].n);
	free(fr.v);
}

/* The clients of j's waiters that did not ack and are not being reaped
 * yet (each once); ctl->lock held.  Marks j DYING. */
static size_t laggards_locked(struct hfsd_job *j, struct hfsd_client **v)
{
	size_t n = 0;

	for (uint32_t i = 0; i < j->nw; i++) {
		struct hfsd_client *cl = j->w[i].cl;
		bool seen = false;

		if (j->w[i].acked || j->w[i].reaping || !cl)
			continue;
		for (size_t k = 0; k < n && !seen; k++)
			seen = v[k] == cl;
		if (!seen)
			v[n++] = cl;
	}
	j->phase = HFSD_JOB_DYING;
	return n;
}

/* Has cl sent something the daemon has not read yet?  A peek: the
 * message stays for the ring's receive. */
static bool unread_from(const struct hfsd_client *cl)
{
	char b;

	return cl->fd >= 0 &&
	       recv(cl->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* A laggard of j (no ack, not being reaped) that is talking: its
 * message waits in the socket.  ctl->lock held. */
static bool talking_laggard_locked(const struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++) {
		const struct hfsd_waiter *w = &j->w[i];

		if (!w->acked && !w->reaping && w->cl && !w->cl->closing &&
		    unread_from(w->cl))
			return true;
	}
	return false;
}

/*
 * A deadline's verdict, at the end of the ring's batch (run_jobs), not
 * when its timer completes: an ack may be in the same batch, after the
 * timer (a receive armed late, because the thread was busy -- a grant
 * zeroing a reservation, or a loaded machine -- completes only at the
 * next submission).  And a laggard whose message is waiting unread is
 * given a little longer, a few times: a daemon slow to read must not
 * kill a client that answered in time.  Bounded: a client that talks
 * but never acks is killed HFSD_ACK_GRACES x HFSD_ACK_GRACE_MS later.
 */
static void judge_expired(struct hfsd_ctl *c)
{
	for (;;) {
		struct hfsd_client **lag = NULL;
		struct hfsd_job *j;
		size_t n = 0;
		bool grace = false, again = false;

		pthread_mutex_lock(&c->lock);
		for (j = c->jobs; j && !j->expired; j = j->next)
			;
		if (!j) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		j->expired = false;
		if (j->phase != HFSD_JOB_WAIT || all_acked(j)) {
			/* acked in this batch: reap_locked finishes it */
		} else if (j->graces < HFSD_ACK_GRACES &&
			   talking_laggard_locked(j)) {
			j->graces++;
			grace = again = true;
		} else if ((lag = calloc(j->nw ? j->nw : 1,
					 sizeof(*lag))) != NULL) {
			n = laggards_locked(j, lag);
		} else {
			again = true; /* out of memory: judged again soon */
		}
		pthread_mutex_unlock(&c->lock);
		if (grace)
			hfsd_log(LOG_INFO, "control: revocation %" PRIu64
				 ": a client's message waits unread at the "
				 "deadline; %u ms more", j->id,
				 HFSD_ACK_GRACE_MS);
		if (again)
			hfsd_ctl_arm_timeout(c, j->id, HFSD_ACK_GRACE_MS);
		/* the ring thread frees jobs (and clients): both outlive
		 * this */
		for (size_t k = 0; k < n; k++)
			hfsd_reap_client(c, j, lag[k], true);
		free(lag);
	}
}

void hfsd_lease_timeout(struct hfsd_ctl *c, uint64_t id)
{
	uint64_t job_id = id & ~HFSD_JOB_POLL_BIT;
	struct hfsd_job *j;
	bool poll = false;

	pthread_mutex_lock(&c->lock);
	for (j = c->jobs; j && j->id != job_id; j = j->next)
		;
	if (j && j->phase != HFSD_JOB_DONE) {
		if (id & HFSD_JOB_POLL_BIT)
			poll = true;
		else if (j->phase == HFSD_JOB_WAIT)
			j->expired = true; /* judged by run_jobs */
	}
	pthread_mutex_unlock(&c->lock);
	/* the ring thread frees jobs: j outlives this */
	if (poll)
		hfsd_reap_poll(c, j);
}

bool hfsd_lease_acked(struct hfsd_ctl *c, struct hfsd_client *cl,
		      uint64_t msg_id, bool remap)
{
	int kind = remap ? HFSD_JOB_REMAP : HFSD_JOB_REVOKE;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (struct hfsd_job *j = c->jobs; j && !found; j = j->next) {
		if (j->kind != kind)
			continue;
		for (uint32_t i = 0; i < j->nw; i++)
			if (j->w[i].cl == cl && j->w[i].msg_id == msg_id &&
			    !j->w[i].acked) {
				j->w[i].acked = true;
				j->w[i].cl = NULL;
				found = true;
				break;
			}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* cl's waiters in j that are not done: done now, unless j takes region
 * bytes back and the daemon is running, in which case cl may have left a
 * holder behind (a fork keeps what the parent had) and is reaped
 * (returns true) before they count as done. */
static bool client_gone_from_locked(struct hfsd_ctl *c, struct hfsd_job *j,
				    struct hfsd_client *cl)
{
	bool reap = false;

	for (uint32_t i = 0; i < j->nw; i++) {
		struct hfsd_waiter *w = &j->w[i];

		if (w->cl != cl || w->acked || w->reaping)
			continue;
		if (!c->stop && j->kind == HFSD_JOB_REVOKE && j->rs < j->re &&
		    (cl->region_fd[0] >= 0 || cl->region_fd[1] >= 0)) {
			reap = true;
			continue;
		}
		w->acked = true;
		w->cl = NULL;
	}
	return reap;
}

void hfsd_lease_client_gone(struct hfsd_ctl *c, struct hfsd_client *cl)
{
	struct hfsd_job **reap = NULL;
	size_t nreap = 0, cap = 0;
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = hfsd_lease_drop_client_locked(c, cl);
	for (struct hfsd_job *j = c->jobs; j; j = j->next) {
		if (j->defer_cl == cl)
			j->defer_cl = NULL;
		if (!client_gone_from_locked(c, j, cl))
			continue;
		if (hfs_grow(&reap, &cap, nreap + 1, sizeof(*reap))) {
			j->leak = true; /* cannot reap: keep the blocks */
			continue;
		}
		reap[nreap++] = j;
	}
	pthread_mutex_unlock(&c->lock);
	/* its data-path slot locks: it holds none any more */
	hfs_dslot_client_gone(c->d->vol, cl->client_id);
	if (n)
		hfsd_log(LOG_INFO, "control: pid %d gone; released %u "
			 "lease%s", (int)cl->pid, n, n == 1 ? "" : "s");
	/* ring thread: the jobs outlive this (it is the one freeing them) */
	for (size_t i = 0; i < nreap; i++)
		hfsd_reap_client(c, reap[i], cl, false);
	free(reap);
}

/* Runs after the FUSE loop has ended and the ring thread has stopped,
 * with the hooks removed. */
void hfsd_revoke_jobs_fini(struct hfsd_ctl *c)
{
	struct done_blocks *back = NULL;
	struct hfsd_job *j, *jn;
	size_t nback = 0;
	uint64_t held = 0;

	pthread_mutex_lock(&c->lock);
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
		hfsd_job_free(j);
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
}

/* ----------------------------------------------------- failure round */

/* Into j's REVOKE: every lease, all of it (all), and the leases of the
 * inodes in s, the part of them mapping region bytes [rs, re).  Returns
 * how many leases were added. */
static int add_failed_leases_locked(struct hfsd_ctl *c, struct hfsd_job *j,
				    bool all, const struct hfsd_ino_set *s,
				    uint64_t rs, uint64_t re)
{
	struct hfsd_lease *l;
	int n = 0;

	if (all) {
		for (l = hfsd_lease_first_locked(c); l;
		     l = hfsd_lease_next_locked(c, l)) {
			for (uint32_t i = 0; i < l->n; i++)
				l->ext[i].flags |= HFSD_LEXT_REVOKED;
			if (hfsd_job_add_revoke_locked(c, j, l, l->off,
						       l->off + l->len) == 0)
				n++;
		}
	}
	for (size_t k = 0; k < s->n; k++)
		for (l = hfsd_lease_first_of_ino_locked(c, s->v[k]); l;
		     l = hfsd_lease_next_of_ino_locked(c, l)) {
			uint64_t fs, fe;

			if (hfsd_lease_revoke_range_locked(l, rs, re, &fs, &fe) &&
			    hfsd_job_add_revoke_locked(c, j, l, fs, fe) == 0)
				n++;
		}
	return n;
}

/* Holders killed in a finished round: distinct pids (a client may have
 * had several REVOKE messages in the round). */
static unsigned killed_pids(const struct hfsd_job *j)
{
	unsigned killed = 0;

	for (uint32_t i = 0; i < j->nw; i++) {
		bool seen = false;

		for (uint32_t k = 0; k < i && !seen; k++)
			seen = j->w[k].killed && j->w[k].pid == j->w[i].pid;
		if (j->w[i].killed && !seen)
			killed++;
	}
	return killed;
}

/* Each lease of a finished round and what its holder did (malloc'd;
 * NULL when out of memory: the report is then empty). */
static struct hfsd_revoked_lease *outcomes(const struct hfsd_job *j,
					   size_t *n)
{
	struct hfsd_revoked_lease *v = calloc(j->nrv, sizeof(*v));

	*n = v ? j->nrv : 0;
	for (uint32_t i = 0; v && i < j->nrv; i++) {
		const struct hfsd_waiter *w = &j->w[j->rv[i].waiter];

		v[i] = (struct hfsd_revoked_lease){
			.lease_id = j->rv[i].lease_id,
			.pid = j->rv[i].pid,
			.outcome = w->killed ? HFSD_REVOKE_KILLED
				   : w->acked ? HFSD_REVOKE_ACKED
				   : HFSD_REVOKE_NO_ANSWER,
		};
	}
	return v;
}

/* A failure round is urgent: the clients' listeners run real-time
 * (client/listener.c), the failure pipeline does (fs/failure.c), and the
 * acks must not wait for the control thread behind the machine's busy
 * processes either.  So for the round the control thread runs SCHED_FIFO
 * 1, when the daemon may; the round's work is bounded (messages, acks).
 * Layout revocations (truncate, ...) are not raised: they do not hold
 * anyone up but the blocks' reuse. */
void hfsd_lease_settle(struct hfsd_ctl *c, uint64_t ino)
{
	struct timespec dl = hfsd_deadline_ms(
		((c->revoke_ms + hfsd_dying_ms(c)) / 1000) * 1000 +
		HFSD_JOB_WAIT_SLACK_MS);

	pthread_mutex_lock(&c->lock);
	for (;;) {
		bool busy = false;

		for (struct hfsd_job *j = c->jobs; j && !busy; j = j->next)
			busy = j->kind == HFSD_JOB_REVOKE && j->ino == ino &&
			       j->datapath && j->phase != HFSD_JOB_DONE;
		if (!busy ||
		    pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

/* A job a caller sleeps on: queued (c->lock held, released here), or
 * freed if it found no lease to wait for (false). */
static bool queue_sleeper_unlock(struct hfsd_ctl *c, struct hfsd_job *j)
{
	if (!j->nw) {
		pthread_mutex_unlock(&c->lock);
		hfsd_job_free(j);
		return false;
	}
	j->sleeper = true;
	hfsd_job_queue_locked(c, j);
	pthread_mutex_unlock(&c->lock);
	return true;
}

/* REVOKE, reason LAYOUT, every lease pick() chooses (of ino's leases
 * when ino is not 0, else of all), whole, in one round, and wait until
 * each holder acked or was killed (bounded).  The number revoked, or
 * -ENOMEM. */
static int revoke_picked(struct hfsd_ctl *c, uint64_t ino,
			 bool (*pick)(const struct hfsd_lease *l),
			 const char *what)
{
	struct hfsd_job *j = hfsd_job_new(c, HFSD_JOB_REVOKE);
	int n = 0;

	if (!j)
		return -ENOMEM;
	j->reason = HFS_REVOKE_LAYOUT;
	j->rs = 0;
	j->re = c->region_size;
	pthread_mutex_lock(&c->lock);
	for (struct hfsd_lease *l = ino ? hfsd_lease_first_of_ino_locked(c, ino)
					: hfsd_lease_first_locked(c);
	     l; l = ino ? hfsd_lease_next_of_ino_locked(c, l)
			: hfsd_lease_next_locked(c, l)) {
		if (!pick(l))
			continue;
		for (uint32_t i = 0; i < l->n; i++)
			l->ext[i].flags |= HFSD_LEXT_REVOKED;
		if (l->dslot != HFS_DSLOT_NONE)
			j->datapath = true;
		if (hfsd_job_add_revoke_locked(c, j, l, l->off,
					       l->off + l->len) == 0)
			n++;
	}
	if (!queue_sleeper_unlock(c, j))
		return 0;
	hfsd_ctl_wake(c);
	hfsd_job_wait(c, j);
	hfsd_job_finish_unlock(c, j, what);
	return n;
}

static bool is_datapath(const struct hfsd_lease *l)
{
	return l->dslot != HFS_DSLOT_NONE;
}

static bool is_writer(const struct hfsd_lease *l)
{
	return (l->prot & HFS_PROT_WRITE) != 0;
}

/* The dslot_stuck hook (revoke_hooks.c): every data-path lease of ino.
 * A client acks only once its copies in flight are done, so after the
 * round no live client holds the slot lock.  Not on the ring thread (the
 * ring never waits for a slot lock: lib/dslot.c). */
int hfsd_lease_revoke_datapath(struct hfsd_ctl *c, uint64_t ino)
{
	return revoke_picked(c, ino, is_datapath, "data-path REVOKE");
}

static bool is_datapath_writer(const struct hfsd_lease *l)
{
	return is_datapath(l) && is_writer(l);
}

int hfsd_lease_revoke_privileged(struct hfsd_ctl *c, uint64_t ino)
{
	return revoke_picked(c, ino, is_datapath_writer, "setuid REVOKE");
}

/* A read-only remount: every lease that may write. */
int hfsd_lease_revoke_writers(struct hfsd_ctl *c)
{
	return revoke_picked(c, 0, is_writer, "read-only REVOKE");
}

/* Run j, built under c->lock (held; released here) with n leases, as
 * a failure or shutdown round: the control thread raised, the wait
 * bounded; each lease's outcome for the report.  Returns n. */
static int run_round_unlock(struct hfsd_ctl *c, struct hfsd_job *j, int n,
			    struct hfsd_revoked_lease **leases,
			    size_t *nleases, unsigned *killed)
{
	uint32_t reason = j->reason;
	struct hfsd_rt rt;

	if (!queue_sleeper_unlock(c, j))
		return 0;
	hfsd_rt_raise(c->thread, &rt);
	hfsd_ctl_wake(c);
	hfsd_job_wait(c, j);
	hfsd_rt_restore(c->thread, &rt);
	*killed = killed_pids(j);
	*leases = outcomes(j, nleases);
	hfsd_job_finish_unlock(c, j, reason == HFS_REVOKE_FAILURE
			       ? "failure REVOKE" : "offline REVOKE");
	return n;
}

static int revoke_round(struct hfsd_ctl *c, const struct hfs_fail_class *fc,
			uint32_t reason, struct hfsd_revoked_lease **leases,
			size_t *nleases, unsigned *killed)
{
	struct hfsd_ino_set s = { 0 };
	uint64_t rs = fc ? fc->off : 0;
	uint64_t re = fc ? fc->off + fc->len : UINT64_MAX;
	struct hfsd_job *j;
	int n, r;

	*killed = 0;
	*leases = NULL;
	*nleases = 0;
	/* a range: only the leases of the inodes owning its data (the
	 * classification's pieces; no second rmap read) */
	if (fc && (r = hfsd_lease_piece_inos(fc->v, fc->n, &s)) < 0)
		return r;
	j = hfsd_job_new(c, HFSD_JOB_REVOKE);
	if (!j) {
		free(s.v);
		return -ENOMEM;
	}
	j->reason = reason;
	j->rs = fc ? rs : 0;
	j->re = fc ? re : c->region_size;
	pthread_mutex_lock(&c->lock);
	if (fc && reason == HFS_REVOKE_FAILURE) {
		/* no grant over the range from now until its pieces are
		 * marked lost (hfsd_lease_failing_done): a lease granted
		 * after this round's list was taken would outlive it */
		c->failing_rs = rs;
		c->failing_re = re;
	}
	n = add_failed_leases_locked(c, j, !fc, &s, rs, re);
	free(s.v);
	return run_round_unlock(c, j, n, leases, nleases, killed);
}

int hfsd_lease_revoke_device(struct hfsd_ctl *c, unsigned dev, uint64_t rs,
			     uint64_t re, struct hfsd_revoked_lease **leases,
			     size_t *nleases, unsigned *killed)
{
	struct hfsd_job *j;
	int n = 0;

	*killed = 0;
	*leases = NULL;
	*nleases = 0;
	if (dev >= HFS_MEMBERS_MAX || !hfsd_members_multi(c))
		return -ENOENT;
	j = hfsd_job_new(c, HFSD_JOB_REVOKE);
	if (!j)
		return -ENOMEM;
	j->reason = HFS_REVOKE_FAILURE;
	j->rs = rs;
	j->re = re;
	pthread_mutex_lock(&c->lock);
	c->dev_lost |= 1u << dev;   /* no grant on it from now on */
	if (c->dev_index_short) {
		pthread_mutex_unlock(&c->lock);
		hfsd_job_free(j);
		return -ENOENT;
	}
	for (struct hfsd_lease_dev *d = c->dev_leases[dev]; d; d = d->next) {
		uint64_t fs, fe;

		if (hfsd_lease_revoke_range_locked(d->l, rs, re, &fs, &fe) &&
		    hfsd_job_add_revoke_locked(c, j, d->l, fs, fe) == 0)
			n++;
	}
	return run_round_unlock(c, j, n, leases, nleases, killed);
}

int hfsd_lease_revoke_failure(struct hfsd_ctl *c,
			      const struct hfs_fail_class *fc,
			      struct hfsd_revoked_lease **leases,
			      size_t *nleases, unsigned *killed)
{
	return revoke_round(c, fc, HFS_REVOKE_FAILURE, leases, nleases,
			    killed);
}

void hfsd_lease_failing_done(struct hfsd_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->failing_rs = c->failing_re = 0;
	pthread_mutex_unlock(&c->lock);
}

int hfsd_lease_revoke_shutdown(struct hfsd_ctl *c,
			       struct hfsd_revoked_lease **leases,
			       size_t *nleases, unsigned *killed)
{
	return revoke_round(c, NULL, HFS_REVOKE_SHUTDOWN, leases, nleases,
			    killed);
}
