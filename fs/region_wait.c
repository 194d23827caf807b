/* SPDX-License-Identifier: MIT */
/*
 * Waiting for a daemon that has lost its mount to let go of the region.
 *
 * umount(8) and fusermount3 -u return once the kernel has dropped the
 * mount; the daemon that served it notices a moment later, stops its
 * threads, writes the clean flag and only then closes the region (and
 * with it the ownership flock).  Measured here: 2 to 25 ms.  A script,
 * a systemd restart or a test suite that mounts again at once found the
 * region "held by pid N".
 *
 * So when the region is held, the new daemon looks at the holder (the
 * flock owner in /proc/locks): a process with a FUSE connection open
 * (/dev/fuse, whose fdinfo names the connection, "fuse_connection: N")
 * none of whose connections is mounted any more in its own mount
 * namespace (no fuse.holdfs line "0:N" of this region or at its mount
 * point in /proc/PID/mountinfo: conn_mounted) is a daemon on its way
 * out, and the new daemon waits for it, up to HFSD_HOLDER_WAIT_MS.
 * Anything else (a daemon still mounted, fsck.holdfs, a daemon still
 * starting up and not yet mounted, a kernel whose fdinfo does not name
 * the connection) is refused at once, as before.  The wait has a bound
 * and says what it waits for and when it gives up: a daemon lazily
 * unmounted (umount -l) with files still open keeps serving them, and
 * the region, for as long as they stay open.
 */
#include "region_wait.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mountpoint.h"
#include "region.h"

#define MAX_CONNS 8

/* The FUSE connections PID has open: /dev/fuse descriptors whose
 * fdinfo names one.  Returns how many (at most max). */
static int fuse_conns(int pid, unsigned *conns, int max)
{
	char dir[64], path[320], link[64], line[128];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while (n < max && (e = readdir(d))) {
		ssize_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "/dev/fuse") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid,
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (n < max && fgets(line, sizeof(line), f))
			if (sscanf(line, "fuse_connection: %u", &conns[n]) == 1)
				n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* argv[2] of PID, the mount point a holdfs daemon was started with
 * ("holdfs REGION MOUNTPOINT ..."), made absolute; "" if unknown. */
static void holder_mountpoint(int pid, char *out, size_t len)
{
	char path[64], args[2 * PATH_MAX + 64], *abs;
	ssize_t n = 0;
	int fd, i = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, args, sizeof(args) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	args[n] = '\0';
	for (char *a = args; a < args + n; a += strlen(a) + 1, i++) {
		if (i != 2)
			continue;
		abs = realpath(a, NULL);
		if (abs)
			snprintf(out, len, "%s", abs);
		free(abs);
		return;
	}
}

/* Is connection 0:minor still mounted in PID's namespace as its holdfs?
 * The device number alone is not enough: the kernel gives a freed one to
 * the next mount at once, maybe another FUSE filesystem's.  So the line
 * must be a fuse.holdfs mount of this region (the default source) or at
 * the holder's own mount point. */
static bool conn_mounted(int pid, unsigned minor, const char *region)
{
	char path[64], want[32], hmnt[PATH_MAX], *line = NULL;
	char *rabs = realpath(region, NULL);
	size_t cap = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	snprintf(want, sizeof(want), " 0:%u ", minor);
	holder_mountpoint(pid, hmnt, sizeof(hmnt));
	f = fopen(path, "re");
	if (!f) {
		free(rabs);
		return true; /* cannot tell: do not wait */
	}
	while (!found && getline(&line, &cap, f) > 0) {
		/* "ID PARENT MAJ:MIN ...": the third field */
		char *sp = strchr(line, ' '), *mnt, *type, *src;

		sp = sp ? strchr(sp + 1, ' ') : NULL;
		if (!sp || strncmp(sp, want, strlen(want)) != 0 ||
		    !hfsd_parse_mountinfo(line, &mnt, &type, &src) ||
		    strcmp(type, "fuse.holdfs") != 0)
			continue;
		found = (rabs && strcmp(src, rabs) == 0) ||
			(hmnt[0] && strcmp(mnt, hmnt) == 0);
	}
	free(line);
	free(rabs);
	fclose(f);
	return found;
}

/* A holdfs daemon that has lost every mount it served, but not yet
 * exited. */
static bool lost_its_mount(int pid, const char *region)
{
	unsigned conns[MAX_CONNS];
	int n = fuse_conns(pid, conns, MAX_CONNS);

	if (n == 0)
		return false;
	for (int i = 0; i < n; i++)
		if (conn_mounted(pid, conns[i], region))
			return false;
	return true;
}

static unsigned ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned)((t.tv_sec - t0->tv_sec) * 1000 +
			  (t.tv_nsec - t0->tv_nsec) / 1000000);
}

bool hfsd_region_wait_holder(const char *region, unsigned timeout_ms)
{
	struct timespec t0, nap = { 0, 10 * 1000 * 1000 };
	char who[256];
	int pid = hfs_region_holder(region, who, sizeof(who));
	bool told = false;

	if (pid <= 0)
		return pid == 0; /* gone already: try again */
	if (!lost_its_mount(pid, region)) {
		/* Or it has let go while we looked: the daemon closes the
		 * region, then its copy of the FUSE descriptor, then exits,
		 * so a holder read from /proc/locks a moment ago may show no
		 * connection now only because it is gone.  Ask again; a
		 * different holder gets its own refusal from the open. */
		return hfs_region_holder(region, NULL, 0) != pid;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < timeout_ms) {
		int now = hfs_region_holder(region, NULL, 0);

		if (now == 0)
			return true;
		if (now != pid) /* someone else took it meanwhile */
			return false;
		/* the usual wait is a few ms: say so only when it is not */
		if (!told && ms_since(&t0) >= 1000) {
			hfsd_log(LOG_NOTICE, "%s: held by %s, which has lost "
				 "its mount and is closing the region; waiting "
				 "up to %u ms", region, who, timeout_ms);
			told = true;
		}
		nanosleep(&nap, NULL);
	}
	hfsd_log(LOG_ERR, "%s: gave up after %u ms waiting for %s to close "
		 "the region; it has no mount left (a lazy unmount with files "
		 "still open?)", region, timeout_ms, who);
	return false;
}
