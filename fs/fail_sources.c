/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline's event sources (failure_i.h,
 * docs/failure-model.md, "Event sources"): a table of rows {name, open,
 * fd, on_readable, on_tick} and the monitor thread that polls it.
 *
 *   queue       an eventfd other threads wake after posting an event:
 *               guarded-access faults (the volume fault hook; a SIGBUS is
 *               confirmed here before it counts), action-optional machine
 *               checks on the daemon's mapping (the region's AO hook, from
 *               the SIGBUS handler), client POISON, operator ADMIN_INJECT;
 *               and the stop request
 *   uevent      kernel uevents (netlink NETLINK_KOBJECT_UEVENT), or the
 *               FIFO of -o uevent_source=: unbind/remove of our device
 *   region file inotify on a file-backed region, and an fstat/stat check
 *               every poll_ms: truncated, unlinked or replaced
 *   sysfs       every poll_ms: the device-dax probe (device or driver
 *               link gone) and new badblocks lines
 *
 * Every source ends in hfsd_notify_failure() (failure.c), on this
 * thread only; device 0's loss first goes through hfsd_fail_device0()
 * (fail_failover.c: on from its mirror when the volume keeps one), and
 * once it is lost its own sources fall silent.  After a shutdown only
 * the queue is polled (its events are recorded as ignored) and no tick
 * runs.
 */
#include "failure_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------- queue */

void hfsd_fail_wake(struct hfsd_fail *f)
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
	if (f->qn < HFSD_FAIL_QMAX) {
		struct hfsd_fail_qev *e = &f->q[f->qn++];

		e->off = off;
		e->len = len;
		e->flags = flags;
		e->si_code = si_code;
		snprintf(e->source, sizeof(e->source), "%s", source);
	} else {
		f->dropped++;
	}
	pthread_mutex_unlock(&f->lock);
	hfsd_fail_wake(f);
}

void hfsd_fail_post(struct hfsd_fail *f, uint64_t off, uint64_t len,
		    unsigned flags, const char *source)
{
	post(f, off, len, flags, 0, source);
}

static bool is_mce(int si_code)
{
	return si_code == BUS_MCEERR_AR || si_code == BUS_MCEERR_AO;
}

/* Volume fault hook: any thread, maybe under the volume lock.  A machine
 * check is queued with the whole range the kernel named (si_addr_lsb: a
 * page, or the 2 MiB mapping it had to take away whole), any other fault
 * with its address. */
void hfsd_fail_fault_hook(void *ctx, const struct hfs_fault *fl)
{
	struct hfsd_fail *f = ctx;
	uint64_t off = fl->off, len = HFS_FAIL_GRANULE;

	pthread_mutex_lock(&f->lock);
	/* one pending address error is enough: it is confirmed anyway */
	for (unsigned i = 0; i < f->qn; i++)
		if (f->q[i].si_code == BUS_ADRERR &&
		    fl->si_code == BUS_ADRERR) {
			pthread_mutex_unlock(&f->lock);
			return;
		}
	pthread_mutex_unlock(&f->lock);
	if (is_mce(fl->si_code))
		hfs_fault_range(fl, &off, &len);
	post(f, off, len, 0, fl->si_code, "sigbus");
}

/* The region's AO hook: the kernel's early notice of poison in a page
 * (or a mapping of 2^lsb bytes) the daemon maps, outside any guarded
 * access.  In the SIGBUS handler: a free slot and the eventfd, nothing
 * else.  A slot holds the range's start (a multiple of 4 KiB at least)
 * with its lsb (12 to 30) in the low bits: never 0. */
static void ao_hook(void *ctx, const struct hfs_fault *fl)
{
	struct hfsd_fail *f = ctx;
	int saved = errno;
	uint64_t off, len;

	hfs_fault_range(fl, &off, &len);
	for (unsigned i = 0; i < HFSD_FAIL_AOMAX; i++) {
		uint64_t none = 0;

		if (atomic_compare_exchange_strong(&f->ao[i], &none,
						   off | (uint64_t)__builtin_ctzll(len))) {
			hfsd_fail_wake(f);
			errno = saved;
			return;
		}
	}
	atomic_fetch_add(&f->ao_dropped, 1);
	hfsd_fail_wake(f);
	errno = saved;
}

/* A SIGBUS in a guarded access: confirm and classify. */
static void handle_fault(struct hfsd_fail *f, const struct hfsd_fail_qev *q)
{
	if (is_mce(q->si_code)) {
		/* the whole range the kernel named: it took that much away
		 * from every mapper, and which page in it is bad cannot be
		 * told without touching it */
		hfsd_notify_failure(f, q->off, q->len, HFS_FAIL_MEDIA,
				    "sigbus (machine check)");
		return;
	}
	if (hfsd_fail_members_fault(f, q->off))
		return; /* another device of the volume: its own loss */
	if (hfsd_fail_device0_fault(f, q->off))
		return; /* device 0 lost before: its range is the mirror's */
	if (hfs_region_check_member_backing(f->d->rg, 0) == -ENXIO) {
		hfsd_fail_device0(f, 0, "sigbus (backing gone)");
		return;
	}
	hfsd_log(LOG_WARNING, "failure: SIGBUS (code %d) at region offset %#"
		 PRIx64 " but the backing is intact; ignored", q->si_code,
		 q->off);
}

/* What the AO hook posted: media errors the kernel reported. */
static void drain_ao(struct hfsd_fail *f)
{
	unsigned lost = atomic_exchange(&f->ao_dropped, 0);

	for (unsigned i = 0; i < HFSD_FAIL_AOMAX; i++) {
		uint64_t v = atomic_exchange(&f->ao[i], 0);
		struct hfsd_fail_qev q = { .si_code = BUS_MCEERR_AO };

		if (!v)
			continue;
		q.off = v & ~(uint64_t)0xfff;
		q.len = 1ull << (v & 0xfff);
		handle_fault(f, &q);
	}
	if (lost)
		hfsd_log(LOG_ERR, "failure: %u action-optional machine checks "
			 "on the daemon's mapping came faster than they were "
			 "handled and were not recorded", lost);
}

static void drain_queue(struct hfsd_fail *f)
{
	struct hfsd_fail_qev q[HFSD_FAIL_QMAX];
	unsigned n;

	drain_ao(f);

	pthread_mutex_lock(&f->lock);
	n = f->qn;
	memcpy(q, f->q, n * sizeof(q[0]));
	f->qn = 0;
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < n; i++) {
		if (q[i].si_code)
			handle_fault(f, &q[i]);
		else if (q[i].flags & HFS_FAIL_DEVICE)
			hfsd_fail_members_lose(f, (unsigned)q[i].off,
					       q[i].source);
		else
			hfsd_notify_failure(f, q[i].off, q[i].len, q[i].flags,
					    q[i].source);
	}
}

static int queue_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o)
{
	(void)o;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0)
		return -1;
	/* AO machine checks outside guarded accesses: the pipeline's, not
	 * fatal (a region already hooked by a mount in this process would
	 * be a bug: logged, the mount goes on without) */
	if (hfs_region_set_ao_hook(f->d->rg, ao_hook, f) < 0)
		hfsd_log(LOG_WARNING, "failure: action-optional machine checks "
			 "on the region cannot be hooked; they will kill the "
			 "daemon");
	return 0;
}

static int queue_fd(const struct hfsd_fail *f)
{
	return f->efd; /* also after a shutdown: stop, events to record */
}

static void queue_readable(struct hfsd_fail *f)
{
	uint64_t v;

	if (read(f->efd, &v, sizeof(v)) < 0) {
		/* nothing pending */
	}
	drain_queue(f);
}

/* ------------------------------------------------------------ uevent */

/* One uevent record: NUL-separated fields; "ACTION@DEVPATH" headers (the
 * kernel's) and unknown keys are skipped. */
static void uevent_record(struct hfsd_fail *f, const char *action,
			  const char *subsys, const char *devname,
			  const char *devpath)
{
	const char *base = devpath ? strrchr(devpath, '/') : NULL;
	bool ours;

	if (!action || !subsys || strcmp(subsys, "dax"))
		return;
	if (hfsd_fail_members_uevent(f, action, devname) ||
	    (base && hfsd_fail_members_uevent(f, action, base + 1)))
		return;
	if (!f->devname[0] || f->dev0_lost)
		return;
	ours = (devname && !strcmp(devname, f->devname)) ||
	       (base && !strcmp(base + 1, f->devname));
	if (!ours)
		return;
	if (!strcmp(action, "unbind") || !strcmp(action, "remove")) {
		char src[32];

		snprintf(src, sizeof(src), "uevent %s", action);
		hfsd_fail_device0(f, HFS_FAIL_PRE_REMOVE, src);
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

static void uevent_readable(struct hfsd_fail *f)
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

static int uevent_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	const char *fifo = o->uevent_source;

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

static int uevent_fd(const struct hfsd_fail *f)
{
	return f->shutdown ? -1 : f->ufd;
}

/* ------------------------------------------------------- region file */

/*
 * Only evidence of loss is loss: a probe that cannot run (no descriptor
 * left, no memory, ...) says nothing about the device.  It is logged, at
 * most once per HFSD_PROBE_LOG_MS, and tried again at the next tick.
 */
static void probe_failed(struct hfsd_fail *f, const char *why)
{
	uint64_t missed;

	if (hfsd_ratelog_ok(&f->probe_log, HFSD_PROBE_LOG_MS, &missed))
		hfsd_log(LOG_WARNING, "failure: cannot check %s: %s; not taken "
			 "for a failure, trying again (%" PRIu64 " more such "
			 "since the last message)", f->devname[0] ? f->devname
			 : f->d->region_path, why, missed);
}

/* How many bytes of the region file the volume's device 0 needs: the
 * filesystem, or (device 0 lost, served from its mirror, which is a
 * slice of another device's file) up to the end of that slice. */
static uint64_t region_bytes(struct hfsd_fail *f)
{
	const struct hfs_region *rg = f->d->rg;

	if (hfs_vol_from_mirror(f->d->vol))
		return rg->slice_off + hfs_region_member_size(rg, 0);
	return hfs_vol_fs_size(f->d->vol);
}

/* File-backed region: shrunk below the filesystem, replaced or unlinked
 * -> device loss. */
static void file_tick(struct hfsd_fail *f)
{
	struct stat st, pst;
	const char *why = NULL;

	if (!f->file_region || f->dev0_lost)
		return;
	if (fstat(f->d->rg->fd, &st) < 0) {
		probe_failed(f, strerror(errno)); /* our own fd: no evidence */
		return;
	}
	if ((uint64_t)st.st_size < region_bytes(f))
		why = "region file truncated";
	else if (st.st_nlink == 0)
		why = "region file unlinked";
	else if (stat(f->rpath, &pst) < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			probe_failed(f, strerror(errno));
			return;
		}
		why = "region file replaced";
	} else if (pst.st_ino != f->rst.st_ino || pst.st_dev != f->rst.st_dev) {
		why = "region file replaced";
	}
	if (why)
		hfsd_fail_device0(f, 0, why);
}

static void file_readable(struct hfsd_fail *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(f->ifd, buf, sizeof(buf)) > 0)
		;
	file_tick(f);
	hfsd_fail_members_tick(f); /* their files share the descriptor */
}

static int file_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o)
{
	const struct hfs_region *rg = f->d->rg;

	(void)o;
	if (rg->kind != HFS_REGION_FILE || fstat(rg->fd, &f->rst) != 0 ||
	    (f->rpath = realpath(rg->path, NULL)) == NULL)
		return 0;
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
			 "polling it every %u ms", rg->path,
			 strerror(errno), f->poll_ms);
	return 0;
}

static int file_fd(const struct hfsd_fail *f)
{
	return f->shutdown ? -1 : f->ifd;
}

/* ------------------------------------------------------------- sysfs */

static bool seen_bad(struct hfsd_fail *f, uint64_t s, uint64_t c)
{
	for (unsigned i = 0; i < f->nseen; i++)
		if (f->seen[i][0] == s && f->seen[i][1] == c)
			return true;
	if (f->nseen < HFSD_FAIL_SEENMAX) {
		f->seen[f->nseen][0] = s;
		f->seen[f->nseen][1] = c;
		f->nseen++;
	}
	return false;
}

/* New "SECTOR COUNT" lines of <root>/bus/dax/devices/<dev>/badblocks
 * (512-byte sectors from the start of the device), each handled once. */
static void read_badblocks(struct hfsd_fail *f)
{
	char path[512];
	unsigned long long s, c;
	FILE *fp;

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

/* Device-dax: driver link and device presence through the region
 * layer's probe, then the badblocks. */
static void sysfs_tick(struct hfsd_fail *f)
{
	struct hfs_devdax_info info;
	struct hfs_err err = { 0 };
	int r;

	if (!f->devname[0] || f->dev0_lost)
		return;
	r = hfs_devdax_probe(f->sysfs_root, f->devname, &info, &err);
	if (r == -ENODEV || r == -ENOENT) {
		hfsd_fail_device0(f, 0, "sysfs (device gone)");
		return;
	}
	if (r < 0) {
		/* the probe could not run (EMFILE, ENOMEM, ...): no evidence
		 * of anything; try again next tick */
		probe_failed(f, err.code ? err.msg : strerror(-r));
		return;
	}
	if (!info.bound) {
		hfsd_fail_device0(f, 0, "sysfs (driver unbound)");
		return;
	}
	read_badblocks(f);
}

/* ------------------------------------------------------------- table */

/* Polled in this order when readable; ticks in this order too (the
 * region file is checked before sysfs). */
static const struct hfsd_fail_source sources[] = {
	{ "queue", queue_open, queue_fd, queue_readable, NULL },
	{ "uevent", uevent_open, uevent_fd, uevent_readable, NULL },
	{ "region file", file_open, file_fd, file_readable, file_tick },
	{ "sysfs", NULL, NULL, NULL, sysfs_tick },
	{ "other devices", hfsd_fail_members_open, NULL, NULL,
	  hfsd_fail_members_tick },
};

#define NSOURCES (sizeof(sources) / sizeof(sources[0]))

int hfsd_fail_sources_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o)
{
	f->efd = f->ufd = f->ifd = -1;
	for (size_t i = 0; i < NSOURCES; i++)
		if (sources[i].open && sources[i].open(f, o) < 0)
			return -1;
	return 0;
}

void hfsd_fail_sources_close(struct hfsd_fail *f)
{
	int *fds[] = { &f->efd, &f->ufd, &f->ifd };

	if (f->efd >= 0)  /* the hook writes to efd */
		hfs_region_set_ao_hook(f->d->rg, NULL, NULL);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static bool stopping(struct hfsd_fail *f)
{
	bool stop;

	pthread_mutex_lock(&f->lock);
	stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static void tick(struct hfsd_fail *f)
{
	for (size_t i = 0; i < NSOURCES && !f->shutdown; i++)
		if (sources[i].on_tick)
			sources[i].on_tick(f);
}

void *hfsd_fail_monitor(void *arg)
{
	struct hfsd_fail *f = arg;
	struct pollfd p[NSOURCES];
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
		int r;

		for (size_t i = 0; i < NSOURCES; i++)
			p[i] = (struct pollfd){
				sources[i].fd ? sources[i].fd(f) : -1, POLLIN, 0 };
		r = poll(p, NSOURCES, (int)f->poll_ms);
		if (r < 0 && errno != EINTR)
			break;
		if (stopping(f))
			break;
		for (size_t i = 0; i < NSOURCES; i++)
			if (p[i].revents && sources[i].on_readable)
				sources[i].on_readable(f);
		if (!f->shutdown && hfsd_fail_ms_since(&last) >= f->poll_ms) {
			clock_gettime(CLOCK_MONOTONIC, &last);
			tick(f);
		}
	}
	return NULL;
}
