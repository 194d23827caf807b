/* SPDX-License-Identifier: MIT */
/*
 * Daemon logging.  Before the daemon detaches, messages go to stderr as
 * "holdfs: ..." so the person running mount sees them; afterwards stderr
 * is /dev/null and they go to syslog (LOG_DAEMON) instead.  libfuse's own
 * messages ("fuse: ...") take the same route through fuse_set_log_func,
 * so a failing mount explains itself in one consistent voice.
 */
#include "daemon.h"

#include <fuse_log.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool use_syslog;

static void hfsd_vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (use_syslog)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "holdfs: %s\n", line);
}

void hfsd_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hfsd_vlog(prio, fmt, ap);
	va_end(ap);
}

/* libfuse sometimes builds one line from several fuse_log calls ("unknown
 * option(s): `" ... "'\n"), so its messages are collected up to the
 * newline.  fuse_log levels are the syslog priorities. */
static pthread_mutex_t fuse_line_lock = PTHREAD_MUTEX_INITIALIZER;
static char fuse_line[1024];
static size_t fuse_line_len;

static void hfsd_fuse_log(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	const char *msg = fuse_line;
	int n;

	/* -d traces are libfuse's own format, kept verbatim in the
	 * foreground so they read like every other FUSE daemon's. */
	if (level == FUSE_LOG_DEBUG && !use_syslog) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	pthread_mutex_lock(&fuse_line_lock);
	n = vsnprintf(fuse_line + fuse_line_len,
		      sizeof(fuse_line) - fuse_line_len, fmt, ap);
	if (n > 0)
		fuse_line_len += (size_t)n;
	if (fuse_line_len >= sizeof(fuse_line) - 1)
		fuse_line_len = sizeof(fuse_line) - 1;
	if (fuse_line_len &&
	    (fuse_line[fuse_line_len - 1] == '\n' ||
	     fuse_line_len == sizeof(fuse_line) - 1)) {
		if (strncmp(fuse_line, "fuse: ", 6) == 0)
			msg += 6;
		hfsd_log((int)level, "%s", msg);
		fuse_line_len = 0;
		fuse_line[0] = '\0';
	}
	pthread_mutex_unlock(&fuse_line_lock);
}

void hfsd_log_init(void)
{
	fuse_set_log_func(hfsd_fuse_log);
}

void hfsd_log_to_syslog(void)
{
	openlog("holdfs", LOG_PID, LOG_DAEMON);
	use_syslog = true;
}
