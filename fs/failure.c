/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline, daemon side (failure.h, docs/failure-model.md).
 *
 * The event sources and the monitor thread that polls them are
 * fail_sources.c; that thread is the only caller of
 * hfsd_notify_failure(), so failures are handled one at a time, in order.
 * This file is the pipeline proper: start and stop, notify, the two ways
 * a failure ends, and the state ADMIN_STATUS reports.
 *
 * Whole-device loss: freeze (the volume's shutdown state: EIO for all but
 * root getattr, statfs, forget, release), revoke every lease (one round,
 * reason FAILURE, kill on deadline), drop the kernel cache of the inodes
 * it can still read without asking us (open handles, cached symlink
 * targets: hfs_vol_kernel_readable; every other cached page needs an
 * OPEN to reach, which now fails), log (daemon log + health log, best
 * effort).  Cost: O(leases + open inodes).  Range failure: classify once
 * (one rmap read: the range's pieces); metadata -> whole shutdown; data ->
 * revoke the leases of the data pieces' inodes covering the range, mark
 * the same pieces lost (journaled, bad list), drop those pages, keep
 * serving; cost O(affected pieces x path depth).  The loss of a device of
 * a volume of several revokes its leases first, from the device lists
 * (O(leases there)), and classifies after.  Real-time up to the end of
 * the revocation; marking lost follows at normal priority.
 */
#include "coherence.h"
#include "deadline.h"
#include "failure_i.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"

#include "revoke.h"
#include "rt.h"

/* ------------------------------------------------------------ record */

struct hfsd_fail_event *hfsd_fail_record(struct hfsd_fail *f, uint64_t off,
					 uint64_t len, unsigned flags,
					 const char *source)
{
	struct hfsd_fail_event *e;

	pthread_mutex_lock(&f->lock);
	if (f->nev == HFSD_FAIL_EVMAX) {
		memmove(f->ev, f->ev + 1,
			sizeof(f->ev[0]) * (HFSD_FAIL_EVMAX - 1));
		f->nev--;
	}
	e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &e->when);
	clock_gettime(CLOCK_MONOTONIC, &e->mono);
	e->off = off;
	e->len = len;
	e->flags = flags;
	snprintf(e->source, sizeof(e->source), "%s", source);
	snprintf(e->outcome, sizeof(e->outcome), "in progress");
	pthread_mutex_unlock(&f->lock);
	return e;
}

void hfsd_fail_set_outcome(struct hfsd_fail *f, struct hfsd_fail_event *e,
			   const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->lock);
	va_start(ap, fmt);
	vsnprintf(e->outcome, sizeof(e->outcome), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&f->lock);
}

static void add_phase(struct hfsd_fail *f, const char *name,
		      const struct timespec *t0)
{
	double ms = hfsd_fail_ms_since(t0);

	pthread_mutex_lock(&f->lock);
	if (f->nphase < sizeof(f->phase) / sizeof(f->phase[0]))
		f->phase[f->nphase++] = (struct hfsd_fail_phase){ name, ms };
	pthread_mutex_unlock(&f->lock);
	hfsd_log(LOG_INFO, "failure: %s took %.3f ms", name, ms);
}

/* --------------------------------------------------------- shutdown */

/* Keep a round's leases for the status (all of them, every round). */
static void keep_revoked_locked(struct hfsd_fail *f,
				const struct hfsd_revoked_lease *v, size_t n)
{
	if (hfs_grow(&f->revoked, &f->caprevoked, f->nrevoked + n,
		     sizeof(*f->revoked)))
		return; /* the status misses this round */
	if (n)
		memcpy(f->revoked + f->nrevoked, v, n * sizeof(*v));
	f->nrevoked += n;
}

/* A failure round's result: logged, its leases kept for the status. */
static void record_round(struct hfsd_fail *f, int n,
			 struct hfsd_revoked_lease *v, size_t nv,
			 unsigned killed)
{
	if (n > 0)
		hfsd_log(LOG_WARNING, "failure: revoked %d lease%s (%u holder%s "
			 "killed)", n, n == 1 ? "" : "s", killed,
			 killed == 1 ? "" : "s");
	pthread_mutex_lock(&f->lock);
	keep_revoked_locked(f, v, nv);
	f->kills += killed;
	pthread_mutex_unlock(&f->lock);
	free(v);
}

/* Revoke the leases of fc's data pieces (fc NULL: every lease). */
static void revoke_leases(struct hfsd_fail *f, const struct hfs_fail_class *fc)
{
	struct hfsd_revoked_lease *v;
	unsigned killed = 0;
	size_t nv;
	int n;

	if (!f->ctl)
		return;
	n = hfsd_lease_revoke_failure(f->ctl, fc, &v, &nv, &killed);
	record_round(f, n, v, nv, killed);
}

/* The loss of the device of a volume of several whose span is e's
 * range: its leases from the control side's device lists, before any
 * classification.  False when the lists cannot answer (nothing revoked:
 * the caller revokes by the classification's pieces). */
static bool revoke_device_leases(struct hfsd_fail *f,
				 const struct hfsd_fail_event *e)
{
	int dev = hfs_region_member_of(f->d->rg, e->off);
	struct hfsd_revoked_lease *v;
	unsigned killed = 0;
	size_t nv;
	int n;

	if (!f->ctl)
		return true; /* no lease service: no lease to revoke */
	if (dev <= 0)
		return false;
	n = hfsd_lease_revoke_device(f->ctl, (unsigned)dev, e->off,
				     e->off + e->len, &v, &nv, &killed);
	if (n < 0)
		return false;
	record_round(f, n, v, nv, killed);
	return true;
}

void hfsd_fail_revoke_all(struct hfsd_fail *f)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	revoke_leases(f, NULL);
	add_phase(f, "revoke every lease", &t0);
}

/* After the freeze: drop the kernel cache of every inode the kernel can
 * still read without a request (docs/failure-model.md has the argument
 * why the others need nothing).  Returns how many the kernel had, or -1. */
static long invalidate_open(struct hfsd_fail *f, size_t *listed)
{
	uint64_t *inos;
	size_t n;
	long ninval = 0;
	int r = hfs_vol_kernel_readable(f->d->vol, &inos, &n);

	*listed = 0;
	if (r < 0) {
		hfsd_log(LOG_ERR, "failure: cannot list the open inodes (%s); "
			 "their cached pages stay readable until closed",
			 strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		/* ENOENT: the kernel no longer has it, nothing cached */
		if (fuse_lowlevel_notify_inval_inode(f->se, inos[i], 0, 0) == 0)
			ninval++;
	free(inos);
	*listed = n;
	return ninval;
}

static void shut_down(struct hfsd_fail *f, struct hfsd_fail_event *e, bool whole,
		      const char *why)
{
	struct timespec t0;
	size_t listed;
	long ninval;
	char tbuf[64];
	struct tm tm;

	pthread_mutex_lock(&f->lock);
	f->shutdown = true;
	f->nphase = 0;
	clock_gettime(CLOCK_REALTIME, &f->shut_at);
	localtime_r(&f->shut_at.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S %Z", &tm);
	snprintf(f->why, sizeof(f->why), "%s: %s at %s; filesystem shut down",
		 f->d->region_path, why, tbuf);
	pthread_mutex_unlock(&f->lock);
	hfsd_log(LOG_CRIT, "%s", f->why);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	hfs_vol_shutdown(f->d->vol);             /* freeze: EIO from now */
	add_phase(f, "freeze", &t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	revoke_leases(f, NULL);
	add_phase(f, "revoke", &t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A READ answered after the invalidation would put pages back:
	 * let the ones that started before the freeze finish first (new
	 * ones fail at once).  Bounded; usually already idle by now. */
	if (!hfsd_coh_drain(f->d->coh, HFSD_SHUTDOWN_DRAIN_MS))
		hfsd_log(LOG_WARNING, "failure: a READ/WRITE begun before the "
			 "freeze is still running after 1 s; invalidating "
			 "anyway");
	ninval = invalidate_open(f, &listed);
	add_phase(f, "invalidate open", &t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (hfs_vol_health_note(f->d->vol, whole, e->off, e->len, why) < 0)
		hfsd_log(LOG_WARNING, "failure: health log not writable (%s)",
			 whole ? "device gone" : "media");
	add_phase(f, "log", &t0);
	if (ninval < 0)
		hfsd_fail_set_outcome(f, e, "shutdown: %s; open inodes could not be "
			    "listed, their cache was not dropped", why);
	else
		/* "open" counts cached symlink targets too (the doc says) */
		hfsd_fail_set_outcome(f, e, "shutdown: %s; kernel cache dropped for %ld "
			    "open inode%s (%zu listed)", why, ninval,
			    ninval == 1 ? "" : "s", listed);
}

/* ------------------------------------------------------------ range */

static int affected_cb(void *ctx, const struct hfs_fail_piece *p)
{
	struct hfsd_fail *f = ctx;
	struct hfsd_fail_file a = { p->ino, p->file_off, p->len, p->region_off,
				    "" };
	int r;

	if (hfs_vol_ino_path(f->d->vol, p->ino, a.path, sizeof(a.path)) < 0)
		snprintf(a.path, sizeof(a.path), "(inode %" PRIu64 ")", p->ino);
	hfsd_log(LOG_ERR, "failure: %s lost bytes %" PRIu64 "..%" PRIu64
		 " (inode %" PRIu64 "; reads of them return EIO)", a.path,
		 p->file_off, p->file_off + p->len - 1, p->ino);
	r = fuse_lowlevel_notify_inval_inode(f->se, p->ino,
					     (off_t)p->file_off,
					     (off_t)p->len);
	(void)r; /* ENOENT: the kernel does not cache it */
	pthread_mutex_lock(&f->lock);
	if (f->naff < HFSD_FAIL_AFFMAX)
		f->aff[f->naff++] = a;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/*
 * Revoke first: the revocation is the deadline-bound part (holders must
 * stop touching the lost bytes), so nothing per file comes before it.
 * The loss of a whole device of a volume of several (HFSD_FAIL_MEMBER)
 * takes its leases from the device lists, O(leases there), before the
 * classification; any other range is classified first, once (one rmap
 * read), and the same pieces give the leases to revoke and then the
 * pieces to mark lost.  rt is the thread's real-time raise
 * (hfsd_notify_failure), given back as soon as every affected holder
 * has answered: marking the pieces lost and dropping their pages is
 * O(affected pieces) of journaled work (28 ms for 5,000 files), which
 * at FIFO would hold a CPU while the holders, back at normal priority
 * after their ACK, wait behind it to run their revoke handlers.  A
 * shutdown (metadata hit, or the bookkeeping failed) is raised again:
 * it is bounded and revokes every lease.
 */
static void range_failure(struct hfsd_fail *f, struct hfsd_fail_event *e,
			  unsigned flags, struct hfsd_rt *rt)
{
	struct hfs_fail_class fc;
	struct timespec t0;
	unsigned before;
	bool revoked = false;
	int r;

	/* device 0's metadata area with a working mirror: the mirror has
	 * a good copy of every byte of it (the data-path slots and unused
	 * padding too), served from now on */
	if (hfsd_fail_device0_poison(f, e))
		return;
	pthread_mutex_lock(&f->lock);
	f->nphase = 0;
	before = f->naff;
	pthread_mutex_unlock(&f->lock);
	if (flags & HFSD_FAIL_MEMBER) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		revoked = revoke_device_leases(f, e);
		if (revoked)
			add_phase(f, "revoke", &t0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = hfs_vol_classify_failure(f->d->vol, e->off, e->len, &fc);
	if (r < 0) {
		hfsd_fail_set_outcome(f, e, "not handled: %s", strerror(-r));
		return;
	}
	if (fc.metadata) {
		char why[96];


		snprintf(why, sizeof(why), "metadata lost (%s at %#" PRIx64 ")",
			 fc.what, e->off);
		hfs_fail_class_free(&fc);
		shut_down(f, e, false, why);
		return;
	}
	add_phase(f, "classify", &t0);
	hfsd_log(LOG_ERR, "failure: %s: media error at region bytes %#" PRIx64
		 "+%#" PRIx64 " (%s); marking it lost", f->d->region_path,
		 e->off, e->len, fc.what);
	if (!revoked) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		revoke_leases(f, &fc);
		add_phase(f, "revoke", &t0);
	}
	hfsd_rt_restore(pthread_self(), rt);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = hfs_vol_mark_lost(f->d->vol, &fc, affected_cb, f);
	hfs_fail_class_free(&fc);
	add_phase(f, "mark lost + invalidate", &t0);
	/* grants over the range were refused since the revoke round; the
	 * lost pieces refuse them by themselves from here */
	if (f->ctl && !revoked)
		hfsd_lease_failing_done(f->ctl);
	if (r == -EIO) {
		/* the metadata update itself failed: no safe way on */
		hfsd_rt_raise(pthread_self(), rt);
		shut_down(f, e, false, "cannot record lost data");
		return;
	}
	if (r < 0) {
		/* bookkeeping refused (a read-only mount: -EROFS): the media
		 * is what it is and reads of it fail; never a reason to stop
		 * serving the rest */
		hfsd_fail_set_outcome(f, e, "range failure: not recorded (%s); reads of "
			    "the range fail", strerror(-r));
		return;
	}
	hfsd_fail_set_outcome(f, e, "range failure: %u file piece%s lost; bad list "
		    "updated", f->naff - before,
		    f->naff - before == 1 ? "" : "s");
}

/* The confirming read faulted because the backing of the device that
 * holds off is gone: that device's loss, handled as the SIGBUS path
 * handles it (fail_sources.c handle_fault) -- another device of a volume
 * of several fails its own files (once), device 0 switches to its mirror
 * where there is one, else shuts the volume down.  Never the whole
 * volume for a device lost before (a client's report of a page there
 * used to find that device's backing gone and shut everything down). */
static bool device_gone(struct hfsd_fail *f, struct hfsd_fail_event *e,
			uint64_t off)
{
	const struct hfs_region *rg = f->d->rg;
	int i = hfs_region_member_of(rg, off);
	char src[sizeof(e->source)];

	if (i < 0)
		return false;
	if (i > 0 ? hfs_region_check_member_backing(rg, (unsigned)i) != -ENXIO
		  : !(f->dev0_lost || hfs_region_failed_over(rg) ||
		      hfs_region_check_member_backing(rg, 0) == -ENXIO))
		return false;
	snprintf(src, sizeof(src), "%s", e->source);
	hfsd_fail_set_outcome(f, e, "the backing of device %d is gone: "
			      "handled as that device's loss", i);
	/* e may move from here on: the loss records events of its own */
	if (i > 0)
		(void)hfsd_fail_members_fault(f, off);
	else if (!hfsd_fail_device0_fault(f, off))
		hfsd_fail_device0(f, 0, src);
	return true;
}

/*
 * A report the daemon has no evidence for yet (a client's POISON): it
 * reads the range itself, guarded, a granule at a time.  A read that
 * faults like poisoned media confirms it, narrowed to that granule; a
 * fault because the backing is gone is device loss; a read that goes
 * through means the media answers, and nothing is marked lost
 * (docs/failure-model.md, "Sources").  Returns true to go on with
 * *flags, e's range and e set.
 */
static bool confirm(struct hfsd_fail *f, struct hfsd_fail_event *e,
		    unsigned *flags)
{
	uint8_t buf[HFS_FAIL_GRANULE];
	struct hfs_fault fault = { 0 };
	uint64_t off = e->off & ~(uint64_t)(HFS_FAIL_GRANULE - 1);
	int r = 0;

	for (; off < e->off + e->len && !r; off += HFS_FAIL_GRANULE)
		r = hfs_region_read(f->d->rg, off, buf, sizeof(buf), &fault);
	if (r == -EIO && (fault.si_code == BUS_MCEERR_AR ||
			  fault.si_code == BUS_MCEERR_AO)) {
		pthread_mutex_lock(&f->lock);
		e->off = fault.off & ~(uint64_t)(HFS_FAIL_GRANULE - 1);
		e->len = HFS_FAIL_GRANULE;
		e->flags |= HFS_FAIL_MEDIA;
		pthread_mutex_unlock(&f->lock);
		*flags = HFS_FAIL_MEDIA;
		return true;
	}
	if (r == -EIO && device_gone(f, e, fault.off))
		return false;
	hfsd_fail_set_outcome(f, e, "not confirmed: the daemon read the range without "
		    "a media error (%s); nothing marked lost",
		    r ? strerror(-r) : "no fault");
	hfsd_log(LOG_WARNING, "failure: %s at %#" PRIx64 "+%#" PRIx64 " not "
		 "confirmed: the daemon read it without a media error (%s); "
		 "nothing marked lost", e->source, e->off, e->len,
		 r ? strerror(-r) : "no fault");
	return false;
}

void hfsd_notify_failure(struct hfsd_fail *f, uint64_t off, uint64_t len,
			 unsigned flags, const char *source)
{
	struct hfsd_rt rt;
	struct hfsd_fail_event *e;

	if (flags & HFS_FAIL_WHOLE_DEVICE) {
		off = 0;
		len = hfs_vol_fs_size(f->d->vol);
	}
	e = hfsd_fail_record(f, off, len, flags, source);
	hfsd_log(LOG_ERR, "failure: %s reports %s at %#" PRIx64 "+%#" PRIx64,
		 source, flags & HFS_FAIL_WHOLE_DEVICE ? "device loss"
		 : flags & HFS_FAIL_MEDIA ? "a media error" : "a failure",
		 off, len);
	if (f->shutdown) {
		hfsd_fail_set_outcome(f, e, "ignored: already shut down");
		return;
	}
	if ((flags & HFSD_FAIL_CONFIRM) && !confirm(f, e, &flags))
		return;
	/* The pipeline is the daemon's emergency path and its work is
	 * bounded (holders, open inodes, a log record): run it real-time
	 * when the daemon may, so a machine full of busy processes (the
	 * applications whose device just went) does not delay it.  The
	 * control thread is raised for the revocation round (lease.c). */
	hfsd_rt_raise(pthread_self(), &rt);
	if (flags & HFS_FAIL_WHOLE_DEVICE)
		shut_down(f, e, true, "device lost");
	else
		range_failure(f, e, flags, &rt);
	hfsd_rt_restore(pthread_self(), &rt);
}

/* ------------------------------------------------------------ start */

int hfsd_fail_start(struct hfsd *d, struct fuse_session *se,
		    struct hfsd_ctl *ctl, const struct hfsd_fail_opts *o,
		    struct hfsd_fail **out)
{
	struct hfsd_fail *f = calloc(1, sizeof(*f));
	int r;

	*out = NULL;
	if (!f)
		return -1;
	f->d = d;
	f->se = se;
	f->ctl = ctl;
	f->sysfs_root = o->sysfs_root;
	f->poll_ms = o->poll_ms ? o->poll_ms : HFSD_POLL_MS_DEFAULT;
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->devname, sizeof(f->devname), "%s",
		 o->devname ? o->devname : d->rg->devname);
	if (hfsd_fail_sources_open(f, o) < 0)
		goto fail;
	r = pthread_create(&f->thread, NULL, hfsd_fail_monitor, f);
	if (r) {
		errno = r;
		goto fail;
	}
	d->fail = f;
	hfs_vol_set_fault_hook(d->vol, hfsd_fail_fault_hook, f);
	*out = f;
	return 0;
fail:
	hfsd_log(LOG_ERR, "failure monitor: %s", strerror(errno));
	hfsd_fail_sources_close(f);
	pthread_mutex_destroy(&f->lock);
	free(f->rpath);
	hfsd_fail_members_free(f);
	free(f);
	return -1;
}

void hfsd_fail_stop(struct hfsd_fail *f)
{
	if (!f)
		return;
	hfs_vol_set_fault_hook(f->d->vol, NULL, NULL);
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
	hfsd_fail_wake(f);
	pthread_join(f->thread, NULL);
	f->d->fail = NULL;
	hfsd_fail_sources_close(f);
	/* hfsd_fail_is_shutdown still answers until hfsd_fail_free */
}

void hfsd_fail_free(struct hfsd_fail *f)
{
	if (!f)
		return;
	free(f->revoked);
	pthread_mutex_destroy(&f->lock);
	free(f->rpath);
	hfsd_fail_members_free(f);
	free(f);
}

bool hfsd_fail_is_shutdown(struct hfsd_fail *f, const char **msg)
{
	if (!f || !f->shutdown)
		return false;
	if (msg)
		*msg = f->why;
	return true;
}

/* ------------------------------------------------------------ status */

/* A copy of the first n elements of an array (NULL when n is 0 or out
 * of memory). */
static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p = n ? malloc(n * size) : NULL;

	if (p)
		memcpy(p, src, n * size);
	return p;
}

void hfsd_fail_status_free(struct hfsd_fail_status *st)
{
	if (!st)
		return;
	free(st->ev);
	free(st->aff);
	free(st->revoked);
	free(st);
}

int hfsd_fail_status(struct hfsd_fail *f, struct hfsd_fail_status **out)
{
	struct hfsd_fail_status *st = calloc(1, sizeof(*st));
	int r;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	pthread_mutex_lock(&f->lock);
	st->shutdown = f->shutdown;
	memcpy(st->why, f->why, sizeof(st->why));
	st->shut_at = f->shut_at;
	memcpy(st->devname, f->devname, sizeof(st->devname));
	st->poll_ms = f->poll_ms;
	st->nev = f->nev;
	st->naff = f->naff;
	st->nrevoked = f->nrevoked;
	st->kills = f->kills;
	memcpy(st->phase, f->phase, sizeof(st->phase));
	st->nphase = f->nphase;
	st->dropped = f->dropped;
	st->ev = dup_array(f->ev, f->nev, sizeof(f->ev[0]));
	st->aff = dup_array(f->aff, f->naff, sizeof(f->aff[0]));
	st->revoked = dup_array(f->revoked, f->nrevoked, sizeof(f->revoked[0]));
	r = (st->nev && !st->ev) || (st->naff && !st->aff) ||
	    (st->nrevoked && !st->revoked) ? -ENOMEM : 0;
	pthread_mutex_unlock(&f->lock);
	if (r < 0) {
		hfsd_fail_status_free(st);
		return r;
	}
	*out = st;
	return 0;
}
