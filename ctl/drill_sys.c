/* SPDX-License-Identifier: MIT */
/*
 * What the drill needs from outside itself: the daemon serving the mount
 * (its pid, binary and -o options, for the remount), whether the mount is
 * there, running external commands (fsck.holdfs, fusermount3, the
 * daemon), and the drill files' patterns.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "drill.h"

/* The -o values of the daemon's command line (/proc/PID/cmdline), as
 * "-o VALUE" or "-oVALUE", into d->dopts. */
static void read_daemon_opts(struct drill *d, pid_t pid)
{
	char p[64], *buf;
	ssize_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return;
	buf = calloc(1, 65536);
	n = buf ? (ssize_t)fread(buf, 1, 65535, f) : 0;
	fclose(f);
	for (ssize_t i = 0; i < n;) {
		char *a = buf + i;
		size_t l = strlen(a);

		i += (ssize_t)l + 1;
		if (!strcmp(a, "-o") && i < n) {
			a = buf + i;
			i += (ssize_t)strlen(a) + 1;
		} else if (!strncmp(a, "-o", 2)) {
			a += 2;
		} else {
			continue;
		}
		d->dopts = realloc(d->dopts, (d->ndopts + 1) * sizeof(char *));
		d->dopts[d->ndopts++] = strdup(a);
	}
	free(buf);
}

/* The daemon: pid from the control socket's peer credentials, binary
 * from /proc/PID/exe (or --daemon), the -o options from its cmdline. */
int drill_find_daemon(struct drill *d)
{
	char p[64];
	ssize_t n;

	d->dpid = ctl_daemon_pid(d->mnt);
	if (d->dpid < 0)
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)d->dpid);
	n = readlink(p, d->exe, sizeof(d->exe) - 1);
	d->exe[n > 0 ? n : 0] = '\0';
	if (d->daemon_opt)
		snprintf(d->exe, sizeof(d->exe), "%s", d->daemon_opt);
	read_daemon_opts(d, d->dpid);
	return 0;
}

bool drill_mounted(const char *mnt)
{
	char *r = ctl_region_of(mnt);

	free(r);
	return r != NULL;
}

/* Wait up to wait_ms for pid to go away. */
bool drill_wait_gone(pid_t pid, int wait_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	bool gone;

	if (pfd < 0)
		return errno == ESRCH;
	p = (struct pollfd){ pfd, POLLIN, 0 };
	gone = poll(&p, 1, wait_ms) > 0;
	close(pfd);
	return gone;
}

/* Run argv (quiet: output to /dev/null); its exit status, 128 + signal,
 * or -1. */
int drill_run_cmd(char *const argv[], bool quiet)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int nul = open("/dev/null", O_WRONLY);

			dup2(nul, 1);
			dup2(nul, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Mount the region again with the daemon's binary and -o options. */
int drill_remount_cmd(struct drill *d)
{
	char opts[8192] = "";
	char *argv[8];
	size_t n = 0;

	for (size_t i = 0; i < d->ndopts; i++)
		n += (size_t)snprintf(opts + n, n < sizeof(opts)
				      ? sizeof(opts) - n : 0, "%s%s",
				      i ? "," : "", d->dopts[i]);
	argv[0] = d->exe;
	argv[1] = d->region;
	argv[2] = (char *)d->mnt;
	argv[3] = d->ndopts ? "-o" : NULL;
	argv[4] = d->ndopts ? opts : NULL;
	argv[5] = NULL;
	return drill_run_cmd(argv, false);
}

/* Create path with size bytes of the pattern of seed, fsync'd. */
int drill_write_pattern(const char *path, size_t size, unsigned seed)
{
	uint8_t *b = malloc(size);
	int fd, r = 0;

	if (!b)
		return -ENOMEM;
	fill(b, size, seed, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b, size) != (ssize_t)size || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(b);
	return r;
}

/* 0 identical, 1 different, -errno unreadable. */
int drill_verify_pattern(const char *path, size_t size, unsigned seed)
{
	uint8_t *b = malloc(size + 1), *e = malloc(size);
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	ssize_t n = -1;

	if (fd >= 0) {
		n = pread(fd, b, size + 1, 0);
		if (n < 0)
			n = -errno;
		close(fd);
	}
	if (!b || !e)
		r = -ENOMEM;
	else if (fd < 0)
		r = -errno;
	else if (n < 0)
		r = (int)n;
	else {
		fill(e, size, seed, 0);
		r = (size_t)n != size || memcmp(b, e, size) ? 1 : 0;
	}
	free(b);
	free(e);
	return r;
}
