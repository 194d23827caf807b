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

/* fuse_log levels are the syslog priorities. */
static void hfsd_fuse_log(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	char line[1024];
	const char *msg = line;

	/* -d traces are libfuse's own format, kept verbatim in the
	 * foreground so they read like every other FUSE daemon's. */
	if (level == FUSE_LOG_DEBUG && !use_syslog) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	vsnprintf(line, sizeof(line), fmt, ap);
	if (strncmp(line, "fuse: ", 6) == 0)
		msg = line + 6;
	hfsd_log((int)level, "%s", msg);
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
