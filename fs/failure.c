/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline, daemon side (failure.h, docs/failure-model.md).
 *
 * One monitor thread owns every source and is the only caller of
 * hfsd_notify_failure(), so failures are handled one at a time, in order.
 * It poll()s an eventfd (queued events: guarded-access faults, client
 * POISON, holdfsctl inject, stop), the uevent descriptor (netlink
 * NETLINK_KOBJECT_UEVENT, or the FIFO of -o uevent_source=) and an
 * inotify descriptor on a file-backed region; every poll_ms it also
 * probes sysfs (driver link, badblocks) and stats the region file.
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
 * serving; cost O(affected pieces x path depth).
 */
#include "coherence.h"
#include "failure.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "revoke.h"
#include "rt.h"

#define QMAX 256        /* queued events */
#define EVMAX 256       /* events kept for status */
#define AFFMAX 1024     /* affected files kept for status */
#define SEENMAX 1024    /* badblocks lines already handled */

struct qev {
	uint64_t off, len;
	unsigned flags;
	int si_code;          /* fault hook: to be confirmed */
	char source[32];
};

struct hfsd_fail {
	struct hfsd *d;
	struct fuse_session *se;
	struct hfsd_ctl *ctl;
	pthread_t thread;
	int efd, ufd, ifd;
	bool uevent_fifo;
	char devname[64];
	const char *sysfs_root;
	unsigned poll_ms;
	struct stat rst;         /* region file at start */
	char *rpath;             /* its absolute path (the daemon chdirs) */
	bool file_region;
	/* (lock) */
	pthread_mutex_t lock;
	bool stop;
	struct qev q[QMAX];
	unsigned qn;
	uint64_t dropped;
	/* monitor thread writes, status reads: (lock) */
	struct hfsd_fail_event ev[EVMAX];
	unsigned nev;
	struct hfsd_fail_file aff[AFFMAX];
	unsigned naff;
	struct hfsd_revoked_lease *revoked;
	size_t nrevoked, caprevoked;
	uint64_t kills;
	bool shutdown;
	char why[160];
	struct timespec shut_at;
	struct hfsd_fail_phase phase[HFSD_FAIL_PHASES];
	unsigned nphase;
	uint64_t seen[SEENMAX][2];
	unsigned nseen;
};

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void wake(struct hfsd_fail *f)
{
	uint64_t one = 1;

	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending anyway */
	}
}

static void post(struct hfsd_fail *f, uint64_t off, uint64_t len,
		 unsigned flags, int si_code, const char *source)
{
	pthread_mutex_lock(&f->lock);
	if (f->qn < QMAX) {
		struct qev *e = &f->q[f->qn++];

		e->off = off;
		e->len = len;
		e->flags = flags;
		e->si_code = si_code;
		snprintf(e->source, sizeof(e->source), "%s", source);
	} else {
		f->dropped++;
	}
	pthread_mutex_unlock(&f->lock);
	wake(f);
}

void hfsd_fail_post(struct hfsd_fail *f, uint64_t off, uint64_t len,
		    unsigned flags, const char *source)
{
	post(f, off, len, flags, 0, source);
}

/* Volume fault hook: any thread, maybe under the volume lock. */
static void fault_hook(void *ctx, uint64_t off, int si_code)
{
	struct hfsd_fail *f = ctx;

	pthread_mutex_lock(&f->lock);
	/* one pending address error is enough: it is confirmed anyway */
	for (unsigned i = 0; i < f->qn; i++)
		if (f->q[i].si_code == BUS_ADRERR && si_code == BUS_ADRERR) {
			pthread_mutex_unlock(&f->lock);
			return;
		}
	pthread_mutex_unlock(&f->lock);
	post(f, off, 4096, 0, si_code, "sigbus");
}

/* ------------------------------------------------------------ record */

static struct hfsd_fail_event *record(struct hfsd_fail *f, uint64_t off, uint64_t len,
			  unsigned flags, const char *source)
{
	struct hfsd_fail_event *e;

	pthread_mutex_lock(&f->lock);
	if (f->nev == EVMAX) {
		memmove(f->ev, f->ev + 1, sizeof(f->ev[0]) * (EVMAX - 1));
		f->nev--;
	}
	e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &e->when);
	e->off = off;
	e->len = len;
	e->flags = flags;
	snprintf(e->source, sizeof(e->source), "%s", source);
	snprintf(e->outcome, sizeof(e->outcome), "in progress");
	pthread_mutex_unlock(&f->lock);
	return e;
}

static void set_outcome(struct hfsd_fail *f, struct hfsd_fail_event *e,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_outcome(struct hfsd_fail *f, struct hfsd_fail_event *e,
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
	double ms = ms_since(t0);

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
	if (f->nrevoked + n > f->caprevoked) {
		size_t cap = f->caprevoked * 2 > f->nrevoked + n
			     ? f->caprevoked * 2 : f->nrevoked + n;
		struct hfsd_revoked_lease *r = realloc(f->revoked,
						       cap * sizeof(*r));

		if (!r)
			return;
		f->revoked = r;
		f->caprevoked = cap;
	}
	if (n)
		memcpy(f->revoked + f->nrevoked, v, n * sizeof(*v));
	f->nrevoked += n;
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
	if (!hfsd_coh_drain(f->d->coh, 1000))
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
		set_outcome(f, e, "shutdown: %s; open inodes could not be "
			    "listed, their cache was not dropped", why);
	else
		/* "open" counts cached symlink targets too (the doc says) */
		set_outcome(f, e, "shutdown: %s; kernel cache dropped for %ld "
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
	if (f->naff < AFFMAX)
		f->aff[f->naff++] = a;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Classified once: the same pieces go to the revocation round and to
 * mark-lost, so the range costs one rmap read. */
static void range_failure(struct hfsd_fail *f, struct hfsd_fail_event *e)
{
	struct hfs_fail_class fc;
	struct timespec t0;
	unsigned before;
	int r;

	r = hfs_vol_classify_failure(f->d->vol, e->off, e->len, &fc);
	if (r < 0) {
		set_outcome(f, e, "not handled: %s", strerror(-r));
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
	hfsd_log(LOG_ERR, "failure: %s: media error at region bytes %#" PRIx64
		 "+%#" PRIx64 " (%s); marking it lost", f->d->region_path,
		 e->off, e->len, fc.what);
	pthread_mutex_lock(&f->lock);
	f->nphase = 0;
	before = f->naff;
	pthread_mutex_unlock(&f->lock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	revoke_leases(f, &fc);
	add_phase(f, "revoke", &t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = hfs_vol_mark_lost(f->d->vol, &fc, affected_cb, f);
	hfs_fail_class_free(&fc);
	add_phase(f, "mark lost + invalidate", &t0);
	if (r < 0) {
		/* the metadata update itself failed: no safe way on */
		shut_down(f, e, false, "cannot record lost data");
		return;
	}
	set_outcome(f, e, "range failure: %u file piece%s lost; bad list "
		    "updated", f->naff - before,
		    f->naff - before == 1 ? "" : "s");
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
	e = record(f, off, len, flags, source);
	hfsd_log(LOG_ERR, "failure: %s reports %s at %#" PRIx64 "+%#" PRIx64,
		 source, flags & HFS_FAIL_WHOLE_DEVICE ? "device loss"
		 : flags & HFS_FAIL_MEDIA ? "a media error" : "a failure",
		 off, len);
	if (f->shutdown) {
		set_outcome(f, e, "ignored: already shut down");
		return;
	}
	/* The pipeline is the daemon's emergency path and its work is
	 * bounded (holders, open inodes, a log record): run it real-time
	 * when the daemon may, so a machine full of busy processes (the
	 * applications whose device just went) does not delay it.  The
	 * control thread is raised for the revocation round (lease.c). */
	hfsd_rt_raise(pthread_self(), &rt);
	if (flags & HFS_FAIL_WHOLE_DEVICE)
		shut_down(f, e, true, "device lost");
	else
		range_failure(f, e);
	hfsd_rt_restore(pthread_self(), &rt);
}

/* ------------------------------------------------------------ sources */

/* A SIGBUS in a guarded access: confirm and classify. */
static void handle_fault(struct hfsd_fail *f, const struct qev *q)
{
	if (q->si_code == BUS_MCEERR_AR || q->si_code == BUS_MCEERR_AO) {
		hfsd_notify_failure(f, q->off & ~4095ull, 4096, HFS_FAIL_MEDIA,
				    "sigbus (machine check)");
		return;
	}
	if (hfs_region_check_backing(f->d->rg) == -ENXIO) {
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE,
				    "sigbus (backing gone)");
		return;
	}
	hfsd_log(LOG_WARNING, "failure: SIGBUS (code %d) at region offset %#"
		 PRIx64 " but the backing is intact; ignored", q->si_code,
		 q->off);
}

static void drain_queue(struct hfsd_fail *f)
{
	struct qev q[QMAX];
	unsigned n;

	pthread_mutex_lock(&f->lock);
	n = f->qn;
	memcpy(q, f->q, n * sizeof(q[0]));
	f->qn = 0;
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < n; i++) {
		if (q[i].si_code)
			handle_fault(f, &q[i]);
		else
			hfsd_notify_failure(f, q[i].off, q[i].len, q[i].flags,
					    q[i].source);
	}
}

/* One uevent record: NUL-separated fields; "ACTION@DEVPATH" headers (the
 * kernel's) and unknown keys are skipped. */
static void uevent_record(struct hfsd_fail *f, const char *action,
			  const char *subsys, const char *devname,
			  const char *devpath)
{
	const char *base = devpath ? strrchr(devpath, '/') : NULL;
	bool ours;

	if (!action || !subsys || strcmp(subsys, "dax") || !f->devname[0])
		return;
	ours = (devname && !strcmp(devname, f->devname)) ||
	       (base && !strcmp(base + 1, f->devname));
	if (!ours)
		return;
	if (!strcmp(action, "unbind") || !strcmp(action, "remove")) {
		char src[32];

		snprintf(src, sizeof(src), "uevent %s", action);
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE |
				    HFS_FAIL_PRE_REMOVE, src);
	}
}

static void uevent_parse(struct hfsd_fail *f, const char *buf, size_t n)
{
	const char *action = NULL, *subsys = NULL, *devname = NULL,
		   *devpath = NULL;
	size_t i = 0;

	while (i < n) {
		const char *fld = buf + i;
		size_t l = strnlen(fld, n - i);

		if (!strncmp(fld, "ACTION=", 7)) {
			if (action) { /* a new record starts */
				uevent_record(f, action, subsys, devname,
					      devpath);
				subsys = devname = devpath = NULL;
			}
			action = fld + 7;
		} else if (!strncmp(fld, "SUBSYSTEM=", 10)) {
			subsys = fld + 10;
		} else if (!strncmp(fld, "DEVNAME=", 8)) {
			devname = fld + 8;
			if (!strncmp(devname, "/dev/", 5))
				devname += 5;
		} else if (!strncmp(fld, "DEVPATH=", 8)) {
			devpath = fld + 8;
		}
		i += l + 1;
	}
	uevent_record(f, action, subsys, devname, devpath);
}

static void read_uevents(struct hfsd_fail *f)
{
	char buf[8193];
	ssize_t n;

	while ((n = read(f->ufd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0'; /* strnlen bound for the last field */
		uevent_parse(f, buf, (size_t)n);
		if (f->shutdown)
			break;
	}
}

static int open_uevents(struct hfsd_fail *f, const char *fifo)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };

	if (fifo) {
		/* O_RDWR: no EOF when the last writer closes */
		f->ufd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (f->ufd < 0) {
			hfsd_log(LOG_ERR, "uevent_source=%s: %s", fifo,
				 strerror(errno));
			return -1;
		}
		f->uevent_fifo = true;
		return 0;
	}
	if (!f->devname[0])
		return 0; /* nothing of ours can appear */
	f->ufd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_KOBJECT_UEVENT);
	if (f->ufd >= 0 && bind(f->ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(f->ufd);
		f->ufd = -1;
	}
	if (f->ufd < 0)
		hfsd_log(LOG_WARNING, "failure: no kernel uevents (%s); sysfs "
			 "polling and SIGBUS still detect device loss",
			 strerror(errno));
	return 0;
}

static bool seen_bad(struct hfsd_fail *f, uint64_t s, uint64_t c)
{
	for (unsigned i = 0; i < f->nseen; i++)
		if (f->seen[i][0] == s && f->seen[i][1] == c)
			return true;
	if (f->nseen < SEENMAX) {
		f->seen[f->nseen][0] = s;
		f->seen[f->nseen][1] = c;
		f->nseen++;
	}
	return false;
}

/* Device-dax: driver link and device presence through the region
 * layer's probe; new "SECTOR COUNT" lines of
 * <root>/bus/dax/devices/<dev>/badblocks (512-byte sectors from the
 * start of the device). */
static void poll_sysfs(struct hfsd_fail *f)
{
	struct hfs_devdax_info info;
	struct hfs_err err = { 0 };
	char path[512];
	unsigned long long s, c;
	FILE *fp;

	if (!f->devname[0])
		return;
	if (hfs_devdax_probe(f->sysfs_root, f->devname, &info, &err) < 0) {
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE,
				    "sysfs (device gone)");
		return;
	}
	if (!info.bound) {
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE,
				    "sysfs (driver unbound)");
		return;
	}
	snprintf(path, sizeof(path), "%s/bus/dax/devices/%s/badblocks",
		 hfs_region_sysfs_root(f->sysfs_root), f->devname);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (!f->shutdown && fscanf(fp, "%llu %llu", &s, &c) == 2)
		if (c && !seen_bad(f, s, c))
			hfsd_notify_failure(f, s * 512, c * 512, HFS_FAIL_MEDIA,
					    "sysfs badblocks");
	fclose(fp);
}

/* File-backed region: shrunk below the filesystem, replaced or unlinked
 * -> device loss. */
static void check_file(struct hfsd_fail *f)
{
	struct stat st, pst;
	const char *why = NULL;

	if (!f->file_region)
		return;
	if (fstat(f->d->rg->fd, &st) < 0)
		why = "region file unreadable";
	else if ((uint64_t)st.st_size < hfs_vol_fs_size(f->d->vol))
		why = "region file truncated";
	else if (st.st_nlink == 0)
		why = "region file unlinked";
	else if (stat(f->rpath, &pst) < 0 || pst.st_ino != f->rst.st_ino ||
		 pst.st_dev != f->rst.st_dev)
		why = "region file replaced";
	if (why)
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE, why);
}

static void drain_inotify(struct hfsd_fail *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(f->ifd, buf, sizeof(buf)) > 0)
		;
	check_file(f);
}

static void *monitor_main(void *arg)
{
	struct hfsd_fail *f = arg;
	struct timespec last;
	sigset_t all;

	/* signals belong to the FUSE loop; SIGBUS must stay deliverable:
	 * this thread writes the health log through the guard, and a
	 * blocked synchronous SIGBUS kills the process */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (;;) {
		struct pollfd p[3] = {
			{ f->efd, POLLIN, 0 },
			{ f->shutdown ? -1 : f->ufd, POLLIN, 0 },
			{ f->shutdown ? -1 : f->ifd, POLLIN, 0 },
		};
		int r = poll(p, 3, (int)f->poll_ms);

		if (r < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		pthread_mutex_unlock(&f->lock);
		if (p[0].revents) {
			uint64_t v;

			if (read(f->efd, &v, sizeof(v)) < 0) {
				/* nothing pending */
			}
			drain_queue(f);
		}
		if (p[1].revents)
			read_uevents(f);
		if (p[2].revents)
			drain_inotify(f);
		if (!f->shutdown && ms_since(&last) >= f->poll_ms) {
			clock_gettime(CLOCK_MONOTONIC, &last);
			check_file(f);
			if (!f->shutdown)
				poll_sysfs(f);
		}
	}
	return NULL;
}

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
	f->ufd = f->ifd = -1;
	f->sysfs_root = o->sysfs_root;
	f->poll_ms = o->poll_ms ? o->poll_ms : 1000;
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->devname, sizeof(f->devname), "%s",
		 o->devname ? o->devname : d->rg->devname);
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0 || open_uevents(f, o->uevent_source) < 0)
		goto fail;
	if (d->rg->kind == HFS_REGION_FILE && fstat(d->rg->fd, &f->rst) == 0 &&
	    (f->rpath = realpath(d->rg->path, NULL)) != NULL) {
		f->file_region = true;
		f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->ifd >= 0 &&
		    inotify_add_watch(f->ifd, f->rpath, IN_MODIFY | IN_ATTRIB |
				      IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
			close(f->ifd);
			f->ifd = -1;
		}
		if (f->ifd < 0)
			hfsd_log(LOG_WARNING, "failure: cannot watch %s (%s); "
				 "polling it every %u ms", d->rg->path,
				 strerror(errno), f->poll_ms);
	}
	r = pthread_create(&f->thread, NULL, monitor_main, f);
	if (r) {
		errno = r;
		goto fail;
	}
	d->fail = f;
	hfs_vol_set_fault_hook(d->vol, fault_hook, f);
	*out = f;
	return 0;
fail:
	hfsd_log(LOG_ERR, "failure monitor: %s", strerror(errno));
	if (f->efd >= 0)
		close(f->efd);
	if (f->ufd >= 0)
		close(f->ufd);
	if (f->ifd >= 0)
		close(f->ifd);
	pthread_mutex_destroy(&f->lock);
	free(f->rpath);
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
	wake(f);
	pthread_join(f->thread, NULL);
	f->d->fail = NULL;
	close(f->efd);
	if (f->ufd >= 0)
		close(f->ufd);
	if (f->ifd >= 0)
		close(f->ifd);
	/* hfsd_fail_is_shutdown still answers until hfsd_fail_free */
}

void hfsd_fail_free(struct hfsd_fail *f)
{
	if (!f)
		return;
	free(f->revoked);
	pthread_mutex_destroy(&f->lock);
	free(f->rpath);
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
