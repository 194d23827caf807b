/* SPDX-License-Identifier: MIT */
/*
 * Detaching the daemon from the terminal, with a start pipe.
 *
 * fuse_daemonize() forks after everything is set up and the parent exits
 * 0 at once.  holdfs forks first instead, before the region is opened,
 * and the parent waits on a pipe until the child says the mount is up:
 *
 *  - every startup error (region held, volume damaged, mount refused) is
 *    printed by the child on the caller's stderr, and the parent exits 1,
 *    so mount(8) and scripts see the failure and its reason;
 *  - the process that takes the region's ownership lock, maps it and
 *    starts libpmem2 is the daemon itself, so /proc/locks names the pid
 *    that really holds the region and no thread is lost in a fork.
 */
#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

/* Parent: wait for the child's status byte, or for it to die. */
static void __attribute__((noreturn)) wait_for_child(pid_t pid, int fd)
{
	unsigned char status;
	ssize_t n;
	int ws;

	do
		n = read(fd, &status, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(status);
	/* No status: the child exited (having said why) or was killed. */
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(ws))
		fprintf(stderr, "holdfs: daemon killed by signal %d (%s) "
			"during startup\n", WTERMSIG(ws),
			strsignal(WTERMSIG(ws)));
	_exit(WIFEXITED(ws) && WEXITSTATUS(ws) ? WEXITSTATUS(ws) : 1);
}

int hfsd_detach_begin(int *ready_fd)
{
	int p[2];
	pid_t pid;

	/* Close-on-exec: fusermount3 (non-root or auto_unmount mounts) must
	 * not inherit the write end and keep the parent waiting. */
	if (pipe2(p, O_CLOEXEC) < 0) {
		hfsd_log(LOG_ERR, "cannot create pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		hfsd_log(LOG_ERR, "cannot fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		wait_for_child(pid, p[0]);
	}
	close(p[0]);
	*ready_fd = p[1];
	return 0;
}

int hfsd_detach_finish(int ready_fd)
{
	unsigned char ok = 0;
	int fd;

	if (setsid() < 0 && errno != EPERM) {
		hfsd_log(LOG_ERR, "setsid: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") < 0) {
		hfsd_log(LOG_ERR, "chdir /: %s", strerror(errno));
		return -1;
	}
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) {
		hfsd_log(LOG_ERR, "/dev/null: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	hfsd_log_to_syslog();
	/* The parent exits 0 on this byte; if it is gone there is nobody
	 * to tell, so a failed write is not an error. */
	if (write(ready_fd, &ok, 1) < 0)
		hfsd_log(LOG_WARNING, "start pipe: %s", strerror(errno));
	close(ready_fd);
	return 0;
}
