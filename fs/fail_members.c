/* SPDX-License-Identifier: MIT */
/*
 * The other devices of a volume of several as sources of their own loss
 * (docs/failure-model.md, "Several devices").
 *
 * Device 0 holds the metadata: its loss is the volume's (fail_sources.c
 * watches it as it watches a single region).  Any other device is a
 * failure domain of its own: the same evidence as for a region (a file
 * truncated, unlinked or replaced; a device-dax unbound or removed, by
 * uevent or sysfs; a SIGBUS whose backing is gone there) becomes a range
 * failure over that device's span, which fails the files with data on it
 * and nothing else, and then the device is recorded lost in the device
 * table so that placement stops using it and later mounts stop asking
 * for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "failure_i.h"

/* The range failure over device i, then its state in the table. */
static void lost(struct hfsd_fail *f, unsigned i, const char *source)
{
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(f->d->vol, dv, HFS_MEMBERS_MAX);
	int r;

	if (i == 0 || i >= n || f->mem[i].lost)
		return;
	f->mem[i].lost = true;
	if (hfs_vol_from_mirror(f->d->vol) && (dv[i].role & HFS_DEV_ROLE_MIRROR)) {
		/* it serves device 0's metadata now: the volume's loss */
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE, source);
		return;
	}
	/* first of all: no more copies into a mirror on it */
	if (dv[i].role & HFS_DEV_ROLE_MIRROR)
		hfs_region_mirror_stop(f->d->rg);
	hfsd_log(LOG_CRIT, "failure: device %u of the volume (%s) lost: %s; "
		 "failing the files with data on it", i, dv[i].path, source);
	hfsd_notify_failure(f, dv[i].base, dv[i].size, HFSD_FAIL_MEMBER,
			    source);
	if (f->shutdown)
		return;
	r = hfs_vol_device_state(f->d->vol, i, HFS_DEV_LOST);
	if (r < 0)
		hfsd_log(LOG_ERR, "failure: device %u: cannot record it lost "
			 "in the device table: %s", i, strerror(-r));
}

void hfsd_fail_members_lose(struct hfsd_fail *f, unsigned i,
			    const char *source)
{
	if (i == 0)
		hfsd_fail_device0(f, 0, source);
	else
		lost(f, i, source);
}

int hfsd_fail_members_open(struct hfsd_fail *f, const struct hfsd_fail_opts *o)
{
	const struct hfs_region *rg = f->d->rg;

	(void)o;
	f->nmem = hfs_region_nmembers(rg);
	for (unsigned i = 1; i < f->nmem && i < HFS_MEMBERS_MAX; i++) {
		const struct hfs_region *m = hfs_region_member(rg, i);
		struct hfsd_fail_member *w = &f->mem[i];

		if (!m)
			continue;
		w->size = hfs_region_member_size(rg, i);
		if (m->kind == HFS_REGION_DEVDAX) {
			snprintf(w->devname, sizeof(w->devname), "%s",
				 m->devname);
			w->watched = true;
			continue;
		}
		if (m->kind != HFS_REGION_FILE || fstat(m->fd, &w->rst) != 0 ||
		    !(w->rpath = realpath(m->path, NULL)))
			continue;
		w->watched = true;
		/* the region file's inotify descriptor, or one of our own */
		if (f->ifd < 0)
			f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->ifd < 0 ||
		    inotify_add_watch(f->ifd, w->rpath, IN_MODIFY | IN_ATTRIB |
				      IN_DELETE_SELF | IN_MOVE_SELF) < 0)
			hfsd_log(LOG_WARNING, "failure: cannot watch %s (%s); "
				 "polling it every %u ms", w->rpath,
				 strerror(errno), f->poll_ms);
	}
	return 0;
}

/* A file device: shrunk, unlinked or replaced. */
static const char *file_gone(struct hfsd_fail_member *w, int fd)
{
	struct stat st, pst;

	if (fstat(fd, &st) < 0)
		return NULL; /* our own fd: no evidence */
	if ((uint64_t)st.st_size < w->size)
		return "device file truncated";
	if (st.st_nlink == 0)
		return "device file unlinked";
	if (stat(w->rpath, &pst) < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? "device file replaced" : NULL;
	if (pst.st_ino != w->rst.st_ino || pst.st_dev != w->rst.st_dev)
		return "device file replaced";
	return NULL;
}

/* A device-dax: gone from sysfs or its driver unbound.  A probe that
 * cannot run is no evidence. */
static const char *devdax_gone(struct hfsd_fail *f,
			       const struct hfsd_fail_member *w)
{
	struct hfs_devdax_info info;
	struct hfs_err err = { 0 };
	int r = hfs_devdax_probe(f->sysfs_root, w->devname, &info, &err);

	if (r == -ENODEV || r == -ENOENT)
		return "sysfs (device gone)";
	if (r == 0 && !info.bound)
		return "sysfs (driver unbound)";
	return NULL;
}

void hfsd_fail_members_tick(struct hfsd_fail *f)
{
	uint64_t moff;

	/* a copy into the mirror faulted (and stopped it): whose device? */
	if (!f->mirror_noted && hfs_region_mirror_fault(f->d->rg, &moff)) {
		f->mirror_noted = true;
		if (!hfsd_fail_members_fault(f, moff))
			hfsd_log(LOG_ERR, "failure: a copy into the mirror of "
				 "device 0 faulted at %#" PRIx64 " and the "
				 "mirror was stopped, but its device looks "
				 "intact; the metadata is on device 0 alone "
				 "until the next mount", moff);
	}
	for (unsigned i = 1; i < f->nmem && !f->shutdown; i++) {
		struct hfsd_fail_member *w = &f->mem[i];
		const struct hfs_region *m = hfs_region_member(f->d->rg, i);
		const char *why;

		if (!w->watched || w->lost || !m)
			continue;
		why = w->devname[0] ? devdax_gone(f, w) : file_gone(w, m->fd);
		if (why)
			lost(f, i, why);
	}
}

bool hfsd_fail_members_uevent(struct hfsd_fail *f, const char *action,
			      const char *name)
{
	char src[32];

	if (!name || (strcmp(action, "unbind") && strcmp(action, "remove")))
		return false;
	for (unsigned i = 1; i < f->nmem; i++) {
		if (!f->mem[i].devname[0] || strcmp(f->mem[i].devname, name))
			continue;
		snprintf(src, sizeof(src), "uevent %s", action);
		lost(f, i, src);
		return true;
	}
	return false;
}

bool hfsd_fail_members_fault(struct hfsd_fail *f, uint64_t off)
{
	int i = hfs_region_member_of(f->d->rg, off);

	if (i <= 0 || hfs_region_check_member_backing(f->d->rg, (unsigned)i) !=
			      -ENXIO)
		return false;
	lost(f, (unsigned)i, "sigbus (backing gone)");
	return true;
}

void hfsd_fail_members_free(struct hfsd_fail *f)
{
	for (unsigned i = 0; i < HFS_MEMBERS_MAX; i++) {
		free(f->mem[i].rpath);
		f->mem[i].rpath = NULL;
	}
}
