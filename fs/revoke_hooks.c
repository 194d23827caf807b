/* SPDX-License-Identifier: MIT */
/*
 * The two volume hooks that keep DAX mappings safe
 * (docs/lease-protocol.md); they turn a layout change into a job for the
 * revocation engine (revoke.c):
 *
 *  - release hook: blocks leaving a file that some lease maps are kept
 *    out of the free index ("pending free"); every holder gets a REVOKE
 *    (one io_uring submission for all of them, with a timeout); when all
 *    have acked, or were killed (pidfd) and their sockets closed, the
 *    blocks go back to the allocator.  No reuse before revocation.
 *  - fill hook: holes a read lease maps as zeros got blocks; the holders
 *    get a REMAP with the new extents and the writing operation waits
 *    (bounded) for their acks.  fs mapping -> rmap -> client mappings.
 *
 * Both run on FUSE worker threads, and on the ring thread when a write
 * lease grant fills holes; there they cannot wait for the ring, so the
 * grant's LEASE_OK is deferred to the REMAP job instead.
 */
#include "revoke_i.h"
#include "revoke.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <holdfs/format.h>

#include "ctl_send.h"
#include "grow.h"

/* Ring thread marker and the job a fill hook created on it (a write
 * lease filling holes: its LEASE_OK waits for that job). */
static __thread bool tls_on_ring;
static __thread struct hfsd_job *tls_fill_job;

void hfsd_lease_ring_thread(void)
{
	tls_on_ring = true;
}

/* ------------------------------------------------------ release hook */

static bool release_hook(void *ctx, uint64_t pblk, uint64_t n, uint64_t ino,
			 uint64_t lblk, bool data)
{
	struct hfsd_ctl *c = ctx;
	uint64_t rs = pblk * HFS_BLOCK_SIZE, re = (pblk + n) * HFS_BLOCK_SIZE;
	struct hfsd_job *j = NULL;
	bool keep = false;

	(void)lblk;
	if (!data)
		return false; /* metadata blocks are never leased */
	pthread_mutex_lock(&c->lock);
	/* the rmap named the owner: only its leases can map the blocks */
	for (struct hfsd_lease *l = hfsd_lease_first_of_ino_locked(c, ino); l;
	     l = hfsd_lease_next_of_ino_locked(c, l)) {
		uint64_t fs, fe;

		if (!hfsd_lease_revoke_range_locked(l, rs, re, &fs, &fe))
			continue;
		keep = true; /* even if we cannot tell the holder */
		if (!j && (j = hfsd_job_new(c, HFSD_JOB_REVOKE))) {
			j->reason = HFS_REVOKE_LAYOUT;
			j->ino = ino;
		}
		if (j && l->dslot != HFS_DSLOT_NONE)
			j->datapath = true;
		if (j && hfsd_job_add_revoke_locked(c, j, l, fs, fe) < 0) {
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
			j->rs = pblk * HFS_BLOCK_SIZE;
			j->re = (pblk + n) * HFS_BLOCK_SIZE;
			hfsd_job_queue_locked(c, j);
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

/* The new extents nx clipped to [s, en), a hole of the lease: appended
 * to out and to sent.  Returns whether any has media. */
static bool clip_new(const struct hfs_lease_extent *nx, uint32_t nn,
		     uint64_t s, uint64_t en, struct hfs_lease_extent *out,
		     uint32_t *n, struct hfs_lease_extent *sent, uint32_t *ns)
{
	bool media = false;

	for (uint32_t k = 0; k < nn; k++) {
		struct hfs_lease_extent x = nx[k];
		uint64_t xs = x.file_off > s ? x.file_off : s;
		uint64_t xe = x.file_off + x.len < en ? x.file_off + x.len : en;

		if (xs >= xe)
			continue;
		if (!(x.flags & HFS_LEXT_HOLE)) {
			x.region_off += xs - x.file_off;
			media = true;
		}
		x.file_off = xs;
		x.len = xe - xs;
		out[(*n)++] = x;
		sent[(*ns)++] = x;
	}
	return media;
}

/* Lease l's extents with its holes in [fo, fe) replaced by the new
 * extents: into out (*n of them); the new pieces into sent (*ns).
 * Returns whether any hole got media. */
static bool fill_holes(const struct hfsd_lease *l, uint64_t fo, uint64_t fe,
		       const struct hfs_lease_extent *nx, uint32_t nn,
		       struct hfs_lease_extent *out, uint32_t *n,
		       struct hfs_lease_extent *sent, uint32_t *ns)
{
	bool media = false;

	for (uint32_t i = 0; i < l->n; i++) {
		struct hfs_lease_extent e = l->ext[i], a, b;
		uint64_t s, en;

		if (!(e.flags & HFS_LEXT_HOLE) || (e.flags & HFSD_LEXT_REVOKED) ||
		    e.file_off >= fe || e.file_off + e.len <= fo) {
			out[(*n)++] = e;
			continue;
		}
		s = e.file_off > fo ? e.file_off : fo;
		en = e.file_off + e.len < fe ? e.file_off + e.len : fe;
		a = e;
		a.len = s - e.file_off;
		b = e;
		b.file_off = en;
		b.len = e.file_off + e.len - en;
		if (a.len)
			out[(*n)++] = a;
		/* the new extents of [s, en) */
		if (clip_new(nx, nn, s, en, out, n, sent, ns))
			media = true;
		if (b.len)
			out[(*n)++] = b;
	}
	return media;
}

/* A REMAP of lease l with the ns new extents in sent, as a waiter of the
 * fill's job (created on first use). */
static int queue_remap_locked(struct remap_ctx *rc, const struct hfsd_lease *l,
			      const struct hfs_lease_extent *sent, uint32_t ns)
{
	struct hfsd_ctl *c = rc->c;
	size_t len = sizeof(struct hfs_msg_remap) + ns * sizeof(*sent);
	struct hfs_msg_remap *m;

	if (ns > HFS_REMAP_MAX_EXTENTS) {
		hfsd_log(LOG_ERR, "control: lease %" PRIu64 " of pid %d: "
			 "too many new extents to REMAP", l->id, (int)l->pid);
		return -E2BIG;
	}
	m = calloc(1, len);
	if (!*rc->job)
		*rc->job = hfsd_job_new(c, HFSD_JOB_REMAP);
	if (!m || !*rc->job) {
		free(m);
		return -ENOMEM;
	}
	hfsd_msg_init(&m->h, HFS_MSG_REMAP, (uint32_t)len, ++c->next_msg);
	m->lease_id = l->id;
	m->nextents = ns;
	memcpy(m + 1, sent, ns * sizeof(*sent));
	if (hfsd_job_add_waiter(*rc->job, l, m, len, m->h.id) < 0) {
		free(m);
		return -ENOMEM;
	}
	return 0;
}

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

	pthread_mutex_lock(&c->lock);
	l = hfsd_lease_find_locked(c, rc->lease_id);
	if (!l)
		goto out;
	/* every hole can be cut into pieces by the new extents: at most
	 * one piece per hole and per new extent, plus the holes' leftovers.
	 * (sent was nn long: a second hole's pieces were left out of the
	 * REMAP while the lease's own extents said mapped, so the client
	 * kept zeros over data.) */
	out = calloc((size_t)l->n * 3 + nn, sizeof(*out));
	sent = calloc((size_t)l->n + nn, sizeof(*sent));
	if (!out || !sent)
		goto out;
	if (fill_holes(l, rc->fo, rc->fe, nx, nn, out, &n, sent, &ns) &&
	    queue_remap_locked(rc, l, sent, ns) == 0) {
		free(l->ext);
		l->ext = out;
		l->n = n;
		out = NULL;
		/* listed on the new extents' device before the REMAP goes */
		hfsd_lease_devs_note_locked(c, l);
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

/* The leases of ino with a hole (not revoked) in [fo, fe): leases that
 * never mapped a hole cannot need a REMAP.  malloc'd, *nt of them. */
static struct fill_target *fill_targets_locked(struct hfsd_ctl *c,
					       uint64_t ino, uint64_t fo,
					       uint64_t fe, size_t *nt)
{
	struct fill_target *t = NULL;
	size_t cap = 0;

	*nt = 0;
	for (struct hfsd_lease *l = hfsd_lease_first_holey_locked(c, ino); l;
	     l = hfsd_lease_next_holey_locked(c, l)) {
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
		if (*nt == cap && hfs_grow(&t, &cap, *nt + 1, sizeof(*t)))
			break;
		t[(*nt)++] = (struct fill_target){ l->id, l->off, l->len };
	}
	return t;
}

/* Each target lease's current extents from the volume, published into
 * it (remap_publish).  Returns the REMAP job, or NULL if none was
 * needed. */
static struct hfsd_job *remap_targets(struct hfsd_ctl *c, uint64_t ino,
				      const struct fill_target *t, size_t nt,
				      uint64_t fo, uint64_t fe)
{
	struct hfs_lease_extent *buf;
	struct hfsd_job *job = NULL;

	buf = malloc(HFS_LEASE_MAX_EXTENTS * sizeof(*buf));
	for (size_t i = 0; buf && i < nt; i++) {
		struct remap_ctx rc = { c, t[i].id, fo, fe, &job };
		uint32_t n;

		/* All of the lease, even where it now reaches past the end of
		 * file (a truncate since): every hole that got blocks must be
		 * told, or it stays a zero page over them when the file grows
		 * back over it. */
		hfs_lease_extents(c->d->vol, ino, t[i].off, t[i].len,
				  HFS_LMAP_ANY_END, buf, HFS_LEASE_MAX_EXTENTS,
				  &n, remap_publish, &rc);
	}
	free(buf);
	return job;
}

/* Before the REMAP job j is queued (ctl->lock held): a waiter whose
 * lease is gone has nothing to wait for, and its client may be gone.
 * remap_targets adds a waiter per lease, each under ctl->lock, but the
 * job is queued only after the last, so a client that went away
 * meanwhile was not found in it by hfsd_lease_client_gone (which ends
 * the waiters of the queued jobs), and the ring thread may have freed it
 * since: its waiter's pointer must never be used (it was, in
 * send_new_locked: a heap-use-after-free in the daemon when a DAX
 * client exited while a write through FUSE filled a hole it mapped).
 * A client's leases leave the table, under ctl->lock, before it is
 * freed: a waiter whose lease is still there names a live client, and
 * one whose lease is gone (released, or its client went away) is done. */
static void end_gone_waiters_locked(struct hfsd_ctl *c, struct hfsd_job *j)
{
	for (uint32_t i = 0; i < j->nw; i++) {
		struct hfsd_waiter *w = &j->w[i];

		if (!w->acked && !hfsd_lease_find_locked(c, w->lease_id)) {
			w->acked = true;
			w->cl = NULL;
		}
	}
}

static void fill_hook(void *ctx, uint64_t ino, uint64_t off, uint64_t len)
{
	struct hfsd_ctl *c = ctx;
	uint64_t u = c->alloc_unit;
	uint64_t fo = off / u * u, fe = (off + len + u - 1) / u * u;
	struct fill_target *t;
	struct hfsd_job *job;
	size_t nt;

	pthread_mutex_lock(&c->lock);
	t = fill_targets_locked(c, ino, fo, fe, &nt);
	pthread_mutex_unlock(&c->lock);
	if (!nt) {
		free(t);
		return;
	}
	job = remap_targets(c, ino, t, nt, fo, fe);
	free(t);
	if (!job)
		return;
	pthread_mutex_lock(&c->lock);
	end_gone_waiters_locked(c, job);
	job->sleeper = !tls_on_ring;
	hfsd_job_queue_locked(c, job);
	pthread_mutex_unlock(&c->lock);
	if (tls_on_ring) {
		tls_fill_job = job; /* the grant defers its reply to it */
		return;
	}
	hfsd_ctl_wake(c);
	hfsd_job_wait(c, job);
	hfsd_job_finish_unlock(c, job, "REMAP");
}

void hfsd_lease_grant_begin(void)
{
	tls_fill_job = NULL;
}

bool hfsd_lease_grant_defer(struct hfsd_ctl *c, struct hfsd_client *cl,
			    void *msg, size_t len, int fd)
{
	if (!tls_fill_job)
		return false;
	pthread_mutex_lock(&c->lock);
	tls_fill_job->defer_cl = cl;
	tls_fill_job->defer_msg = msg;
	tls_fill_job->defer_len = len;
	tls_fill_job->defer_fd = fd; /* open until the server stops */
	pthread_mutex_unlock(&c->lock);
	tls_fill_job = NULL;
	return true;
}

/* ------------------------------------------------ dslot_stuck hook */

/* A client kept an inode's data-path slot lock past the wait: take the
 * inode's data-path leases back (the holder acks once its copy is done,
 * or is killed); the volume then takes the lock over (lib/dslot.c). */
static void dslot_stuck_hook(void *ctx, uint64_t ino, uint32_t client_id)
{
	struct hfsd_ctl *c = ctx;
	int n;

	hfsd_log(LOG_WARNING, "datapath: client %" PRIu32 " holds the slot "
		 "lock of inode %" PRIu64 " too long; revoking its data-path "
		 "leases", client_id, ino);
	if (tls_on_ring)
		return; /* never waits here (lib/dslot.c keeps it off) */
	n = hfsd_lease_revoke_datapath(c, ino);
	if (n < 0)
		hfsd_log(LOG_ERR, "datapath: revoking the leases of inode %"
			 PRIu64 ": %s", ino, strerror(-n));
}

/* Any write lease of ino out (chattr +i/+a asks, lib/iflags.c)? */
static bool writers_hook(void *ctx, uint64_t ino)
{
	struct hfsd_ctl *c = ctx;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (struct hfsd_lease *l = hfsd_lease_first_of_ino_locked(c, ino);
	     l && !found; l = hfsd_lease_next_of_ino_locked(c, l))
		found = l->prot & HFS_PROT_WRITE;
	pthread_mutex_unlock(&c->lock);
	return found;
}

void hfsd_revoke_hooks_install(struct hfsd_ctl *c)
{
	struct hfs_vol_hooks h = {
		.release = release_hook,
		.fill = fill_hook,
		.dslot_stuck = dslot_stuck_hook,
		.writers = writers_hook,
		.ctx = c,
	};

	hfs_vol_set_hooks(c->d->vol, &h);
}

void hfsd_revoke_hooks_remove(struct hfsd_ctl *c)
{
	hfs_vol_set_hooks(c->d->vol, NULL);
}
