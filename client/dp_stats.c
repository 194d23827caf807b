/* SPDX-License-Identifier: MIT */
/*
 * The data path's counters (struct holdfs_dp_stats), and the report
 * HOLDFS_DATAPATH_STATS asks for at exit: "1" a summary on stderr, any
 * other value (but "" and "0") a path to which one JSON line is appended
 * (a relative path is taken from the working directory at exit).
 *
 * The counters are relaxed atomics: each is exact, a snapshot of all of
 * them is not (they are read one by one while other threads count).  A
 * forked child starts from zero, so every process reports its own calls.
 *
 * The variable is read once, at load, with secure_getenv (a set-uid
 * program does not append to a path its caller names), and only ever
 * used as a path, never as a format.  The report is written with raw
 * system calls, in one write(2), so it cannot come back through the
 * preload shim, and lines of processes sharing the file do not
 * interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dp_engine.h"

static _Atomic uint64_t counter[HFC_DPC_N];
static _Atomic uint64_t kernel, kernel_why[HOLDFS_DP_NREASONS];

/* Names (the JSON keys) and places in struct holdfs_dp_stats. */
#define C(id, name) [id] = { #name, offsetof(struct holdfs_dp_stats, name) }
static const struct {
	const char *name;
	size_t off;
} counters[HFC_DPC_N] = {
	C(HFC_DPC_FILES, files),
	C(HFC_DPC_READS, reads),
	C(HFC_DPC_WRITES, writes),
	C(HFC_DPC_APPENDS, appends),
	C(HFC_DPC_SYNCS, syncs),
	C(HFC_DPC_SEEKS, seeks),
	C(HFC_DPC_READ_BYTES, read_bytes),
	C(HFC_DPC_WRITE_BYTES, write_bytes),
	C(HFC_DPC_LEASES, leases),
	C(HFC_DPC_RESERVATIONS, reservations),
	C(HFC_DPC_EIO, eio),
};
#undef C

/* Stable: scripts read them from the JSON line. */
static const char *const reasons[HOLDFS_DP_NREASONS] = {
	[HOLDFS_DP_FIRST_CALL] = "first_call",
	[HOLDFS_DP_HOLE] = "hole",
	[HOLDFS_DP_NO_LEASE] = "no_lease",
	[HOLDFS_DP_REVOKED] = "revoked",
	[HOLDFS_DP_SLOT_BUSY] = "slot_busy",
	[HOLDFS_DP_NO_SLOT] = "no_slot",
	[HOLDFS_DP_FLAGS] = "flags",
	[HOLDFS_DP_CHANGED] = "changed",
	[HOLDFS_DP_NOT_ALLOWED] = "not_allowed",
	[HOLDFS_DP_OTHER] = "other",
};

void hfc_dp_count(enum hfc_dp_counter c, uint64_t n)
{
	if ((unsigned)c < HFC_DPC_N)
		atomic_fetch_add_explicit(&counter[c], n, memory_order_relaxed);
}

void hfc_dp_count_kernel(int why)
{
	if (why < 0 || why >= HOLDFS_DP_NREASONS)
		why = HOLDFS_DP_OTHER;
	atomic_fetch_add_explicit(&kernel, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&kernel_why[why], 1, memory_order_relaxed);
}

void holdfs_dp_stats(struct holdfs_dp_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < HFC_DPC_N; c++)
		*(uint64_t *)((char *)out + counters[c].off) =
			atomic_load_explicit(&counter[c], memory_order_relaxed);
	out->kernel = atomic_load_explicit(&kernel, memory_order_relaxed);
	for (int i = 0; i < HOLDFS_DP_NREASONS; i++)
		out->kernel_why[i] = atomic_load_explicit(&kernel_why[i],
							  memory_order_relaxed);
}

const char *holdfs_dp_reason_name(int reason)
{
	if (reason < 0 || reason >= HOLDFS_DP_NREASONS)
		return "unknown";
	return reasons[reason];
}

static void reset(void)
{
	for (int c = 0; c < HFC_DPC_N; c++)
		atomic_store_explicit(&counter[c], 0, memory_order_relaxed);
	atomic_store_explicit(&kernel, 0, memory_order_relaxed);
	for (int i = 0; i < HOLDFS_DP_NREASONS; i++)
		atomic_store_explicit(&kernel_why[i], 0, memory_order_relaxed);
}

/* ---- the report at exit ---- */

static enum { REPORT_NONE, REPORT_STDERR, REPORT_FILE } report;
static char report_path[PATH_MAX];

struct text {
	char buf[2048];
	size_t n;
};

static void add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (t->n >= sizeof(t->buf))
		return;
	va_start(ap, fmt);
	k = vsnprintf(t->buf + t->n, sizeof(t->buf) - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n += (size_t)k;
	if (t->n > sizeof(t->buf) - 1)
		t->n = sizeof(t->buf) - 1;
}

/* One line, JSON or for people: the same counters in the same order. */
static void render(struct text *t, bool json)
{
	const char *sep = json ? "," : ", ", *is = json ? "\":" : " ";
	const char *q = json ? "\"" : "";
	struct holdfs_dp_stats s;
	bool first = true;

	holdfs_dp_stats(&s);
	add(t, json ? "{\"pid\":%d" : "holdfs data path, pid %d:", (int)getpid());
	for (int c = 0; c < HFC_DPC_N; c++)
		add(t, "%s%s%s%s%llu", c || json ? sep : " ", q,
		    counters[c].name, is, (unsigned long long)
		    *(const uint64_t *)((const char *)&s + counters[c].off));
	add(t, "%s%skernel%s%llu", sep, q, is, (unsigned long long)s.kernel);
	if (json || s.kernel)
		add(t, json ? ",\"kernel_why\":{" : " (");
	for (int i = 0; i < HOLDFS_DP_NREASONS; i++) {
		if (!json && !s.kernel_why[i])
			continue;
		add(t, "%s%s%s%s%llu", first ? "" : sep, q, reasons[i], is,
		    (unsigned long long)s.kernel_why[i]);
		first = false;
	}
	add(t, json ? "}}\n" : s.kernel ? ")\n" : "\n");
}

__attribute__((destructor)) static void stats_report(void)
{
	struct text t = { .n = 0 };
	int saved = errno;
	long fd = STDERR_FILENO;

	if (report == REPORT_NONE)
		return;
	render(&t, report == REPORT_FILE);
	if (report == REPORT_FILE)
		fd = syscall(SYS_openat, AT_FDCWD, report_path,
			     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)   /* else nobody to tell: the process is exiting */
		syscall(SYS_write, (int)fd, t.buf, t.n);
	if (fd >= 0 && report == REPORT_FILE)
		syscall(SYS_close, (int)fd);
	errno = saved;
}

__attribute__((constructor)) static void stats_init(void)
{
	const char *e = secure_getenv("HOLDFS_DATAPATH_STATS");

	if (!e || !*e || !strcmp(e, "0"))
		report = REPORT_NONE;
	else if (!strcmp(e, "1"))
		report = REPORT_STDERR;
	else if (strlen(e) < sizeof(report_path)) {
		memcpy(report_path, e, strlen(e) + 1);
		report = REPORT_FILE;
	}
	pthread_atfork(NULL, NULL, reset);
}
