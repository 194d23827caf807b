/* SPDX-License-Identifier: MIT */
/*
 * Who holds a region: the process owning the flock on it, read from
 * /proc/locks and named from /proc/<pid>/cmdline, so a refused open (or
 * fsck.holdfs on a mounted region) can say "held by pid P (command)".
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Who holds the flock on (dev, ino): one /proc/locks line, e.g.
 * "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (major:minor in hex).
 * Waiters ("1: -> FLOCK ...") do not parse and are skipped. */
static int locks_line_pid(const char *line, dev_t dev, ino_t ino,
			  bool *shared)
{
	char kind[16], mode[16];
	unsigned int maj, min;
	unsigned long long i;
	int pid;

	if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%llu", kind, mode, &pid,
		   &maj, &min, &i) != 6)
		return 0;
	if (strcmp(kind, "FLOCK") || pid <= 0 || i != (unsigned long long)ino ||
	    makedev(maj, min) != dev)
		return 0;
	*shared = strcmp(mode, "READ") == 0;
	return pid;
}

/* "pid N (cmdline)", the command line with NULs as spaces. */
static void describe_pid(int pid, char *buf, size_t len)
{
	char path[64], cmd[200] = "";
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
	}
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	while (n > 0 && cmd[n - 1] == ' ')
		n--;
	cmd[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "pid %d (%s)", pid, n > 0 ? cmd : "?");
}

/* The first holder of (dev, ino) and whether its lock is shared. */
static int first_holder(dev_t dev, ino_t ino, bool *shared)
{
	char line[256];
	FILE *f;
	int pid = 0;

	*shared = false;
	f = fopen("/proc/locks", "re");
	if (!f)
		return -errno;
	while (!pid && fgets(line, sizeof(line), f))
		pid = locks_line_pid(line, dev, ino, shared);
	fclose(f);
	return pid;
}

int hfs_region_holder_of(dev_t dev, ino_t ino, char *buf, size_t len)
{
	bool shared;
	int pid = first_holder(dev, ino, &shared);

	if (buf && len)
		buf[0] = '\0';
	if (pid > 0 && buf && len)
		describe_pid(pid, buf, len);
	return pid;
}

int hfs_region_held_shared(const char *path)
{
	struct stat st;
	bool shared;
	int pid;

	if (stat(path, &st))
		return -errno;
	pid = first_holder(st.st_dev, st.st_ino, &shared);
	return pid <= 0 ? pid : shared;
}

/* Returns the pid, 0 if nobody holds it, or -errno if path or /proc/locks
 * cannot be read. */
int hfs_region_holder(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (buf && len)
		buf[0] = '\0';
	if (stat(path, &st))
		return -errno;
	return hfs_region_holder_of(st.st_dev, st.st_ino, buf, len);
}
