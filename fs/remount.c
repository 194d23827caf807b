/* SPDX-License-Identifier: MIT */
/*
 * Remounting a running holdfs: `mount -o remount,ro MNT` and back.
 *
 * Two halves, because mount(8) and the daemon are different processes:
 *
 *  - The command.  mount(8) runs mount.fuse3, which runs
 *    "holdfs REGION MNT -o remount,ro,<the mount's other options>"
 *    (libfuse has no remount of its own, and a FUSE daemon cannot be
 *    handed a second mount).  hfsd_remount() checks that a holdfs is
 *    mounted at MNT and then changes the kernel mount with mount(2)
 *    MS_REMOUNT: read-only or read-write, the generic flags (nosuid,
 *    nodev, noexec, sync, dirsync, lazytime) and the atime flags, as
 *    `mount -i -o remount,...` does.  The kernel refuses read-only while a
 *    file is open for writing (EBUSY), as for every filesystem.  A mount
 *    started with -o ro cannot become read-write: its daemon opened the
 *    region and the volume read-only (a shared lock, no journal), so that
 *    is refused with a message saying to unmount and mount again.
 *
 *  - The daemon follows its kernel mount, whoever changed it (this
 *    command, or `mount -i -o remount`): a thread polls
 *    /proc/self/mountinfo, which signals POLLPRI on every change to the
 *    mount table, and compares its own mount's line with the last one.
 *    Read-only: reads no longer update access times, write leases are
 *    refused with EROFS (the kernel already refuses every write through
 *    the mount), and the write leases granted before are revoked.  Read-write again: both come back.  A change of the
 *    atime flags (noatime, relatime, strictatime, nodiratime) changes the
 *    atime policy.  The daemon acts a moment after mount(2) returns.
 */
#include "remount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctl_server.h"
#include "mountpoint.h"
#include "region.h"
#include "revoke.h"

/* ------------------------------------------------------------ command */

static unsigned long remount_flags(const struct hfsd_opts *o)
{
	unsigned long f = MS_REMOUNT | o->msflags;

	if (o->readonly)
		f |= MS_RDONLY;
	switch (hfsd_opts_atime(o)) {
	case HFS_ATIME_STRICT:
		f |= MS_STRICTATIME;
		break;
	case HFS_ATIME_NEVER:
		f |= MS_NOATIME;
		break;
	default:
		f |= MS_RELATIME;
		break;
	}
	if (o->nodiratime)
		f |= MS_NODIRATIME;
	return f;
}

int hfsd_remount(const struct hfsd_opts *o)
{
	char src[PATH_MAX];
	char *abs = realpath(o->mountpoint, NULL);

	if (!abs || !hfsd_holdfs_mounted_at(abs, src, sizeof(src))) {
		hfsd_log(LOG_ERR, "%s: no holdfs is mounted there; remount "
			 "changes a mounted holdfs", o->mountpoint);
		free(abs);
		return 1;
	}
	if (!o->readonly && hfs_region_held_shared(o->region) == 1) {
		hfsd_log(LOG_ERR, "%s: mounted with -o ro, so its daemon "
			 "opened %s read-only; remount,rw is not supported for "
			 "it: unmount and mount again without ro",
			 o->mountpoint, o->region);
		free(abs);
		return 1;
	}
	if (mount(NULL, abs, NULL, remount_flags(o), NULL) < 0) {
		int e = errno;

		hfsd_log(LOG_ERR, "%s: remount failed: %s%s", o->mountpoint,
			 strerror(e), e == EBUSY && o->readonly
			 ? " (a file is open for writing)" : "");
		free(abs);
		return 1;
	}
	free(abs);
	return 0;
}

/* ------------------------------------------------------------- daemon */

/* What the daemon takes from its mount's mountinfo line. */
struct mstate {
	bool ro;
	enum hfs_atime atime;
	bool nodiratime;
};

struct hfsd_remount_watch {
	struct hfsd *d;
	struct hfsd_ctl *ctl;
	char *mnt;
	dev_t dev;
	int mfd, efd;
	pthread_t thread;
	struct mstate last;      /* the mount as last seen */
	enum hfs_atime atime;    /* the policy while read-write */
	bool nodiratime;
};

static bool has_opt(const char *list, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = list; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Our mount's per-mount options ("rw,nosuid,relatime") from
 * /proc/self/mountinfo, found by its device.  false if it is gone. */
static bool read_state(dev_t dev, struct mstate *st)
{
	char *line = NULL, opts[512];
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned ma, mi;

		if (sscanf(line, "%*u %*u %u:%u %*s %*s %511s", &ma, &mi,
			   opts) != 3 || makedev(ma, mi) != dev)
			continue;
		found = true;
		st->ro = has_opt(opts, "ro");
		st->atime = has_opt(opts, "noatime") ? HFS_ATIME_NEVER
			  : has_opt(opts, "relatime") ? HFS_ATIME_RELATIME
			  : HFS_ATIME_STRICT;
		st->nodiratime = has_opt(opts, "nodiratime");
	}
	free(line);
	fclose(f);
	return found;
}

static const char *atime_name(enum hfs_atime a)
{
	return a == HFS_ATIME_NEVER ? "noatime"
	     : a == HFS_ATIME_STRICT ? "strictatime" : "relatime";
}

/* Read-only now: write leases granted before go too, or a client that
 * closed its descriptor and kept a mapping would still store through
 * it (docs/semantics.md "Remount"). */
static void revoke_writers(struct hfsd_remount_watch *w)
{
	int n = hfsd_lease_revoke_writers(w->ctl);

	if (n < 0)
		hfsd_log(LOG_ERR, "%s: revoking the write leases after the "
			 "read-only remount: %s", w->mnt, strerror(-n));
	else if (n > 0)
		hfsd_log(LOG_INFO, "%s: read-only: revoked %d write lease%s",
			 w->mnt, n, n == 1 ? "" : "s");
}

/* The mount table changed: follow our mount if it did. */
static void follow(struct hfsd_remount_watch *w)
{
	struct mstate now;
	const char *mnt = w->mnt;

	if (!read_state(w->dev, &now))
		return; /* unmounted: the request loop ends by itself */
	if (now.atime != w->last.atime || now.nodiratime != w->last.nodiratime) {
		w->atime = now.atime;
		w->nodiratime = now.nodiratime;
		hfsd_log(LOG_INFO, "%s: remounted; access times: %s%s", mnt,
			 atime_name(now.atime),
			 now.nodiratime ? ", nodiratime" : "");
	}
	if (now.ro != w->last.ro) {
		if (now.ro && w->d->readonly)
			hfsd_log(LOG_INFO, "%s: remounted read-only", mnt);
		else if (w->d->readonly)
			hfsd_log(LOG_WARNING, "%s: remounted read-write, but "
				 "the daemon opened it read-only (-o ro): "
				 "every change fails with EROFS", mnt);
		else
			hfsd_log(LOG_INFO, "%s: remounted %s", mnt,
				 now.ro ? "read-only" : "read-write");
		hfsd_ctl_set_mount_ro(w->ctl, now.ro);
		if (now.ro && w->ctl)
			revoke_writers(w);
	}
	hfs_vol_set_atime(w->d->vol, now.ro ? HFS_ATIME_NEVER : w->atime,
			  w->nodiratime);
	w->last = now;
}

static void *watch_thread(void *arg)
{
	struct hfsd_remount_watch *w = arg;
	sigset_t all;

	/* signals belong to the FUSE loop */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p[2] = { { w->mfd, POLLPRI, 0 },
				       { w->efd, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLPRI | POLLERR))
			follow(w);
	}
	return NULL;
}

int hfsd_remount_watch_start(struct hfsd *d, struct hfsd_ctl *ctl,
			     const char *mnt, enum hfs_atime atime,
			     bool nodiratime,
			     struct hfsd_remount_watch **out)
{
	struct hfsd_remount_watch *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return -1;
	w->d = d;
	w->ctl = ctl;
	w->atime = atime;
	w->nodiratime = nodiratime;
	w->mnt = strdup(mnt);
	w->mfd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	w->efd = eventfd(0, EFD_CLOEXEC);
	/* the policy given at mount is the baseline: libfuse passes no
	 * atime flag but noatime, so the kernel's flags may say less */
	if (!w->mnt || w->mfd < 0 || w->efd < 0 ||
	    hfsd_mount_dev(mnt, &w->dev) < 0 ||
	    !read_state(w->dev, &w->last) ||
	    pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
		if (w->mfd >= 0)
			close(w->mfd);
		if (w->efd >= 0)
			close(w->efd);
		free(w->mnt);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void hfsd_remount_watch_stop(struct hfsd_remount_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	/* an eventfd write fails only on a full counter: woken anyway */
	if (write(w->efd, &one, sizeof(one)) < 0) {
	}
	pthread_join(w->thread, NULL);
	close(w->mfd);
	close(w->efd);
	free(w->mnt);
	free(w);
}
