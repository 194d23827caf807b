/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill internals, shared by its files:
 *
 *   drill.c         options, the report, the table of steps and its loop
 *   drill_steps.c   the steps: setup ... verify
 *   drill_pump.c    the parent's side of the workers: messages, settling,
 *                   stopping
 *   drill_worker.c  the worker processes: DAX clients and writers
 *   drill_sys.c     the daemon, files, external commands
 *   drill_plan.c    the options against the mount, before anything runs
 *   drill_offline.c --kind offline: the request, its checks
 *   drill_svg.c     --svg: the drill as a timeline
 */
#ifndef HOLDFSCTL_DRILL_H
#define HOLDFSCTL_DRILL_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define DPROG "holdfsctl drill"
#define MAXW 256          /* clients, writers */
#define MAXK 1024         /* leases per client (one more: nleases) */
#define NSTATIC 4         /* untouched files, verified after a range drill */
#define FSIZE (256u << 10)
#define BEAT_NS 20000000ull

/* The drill's deadlines, in milliseconds (the checks in
 * docs/failure-model.md).  DRILL_DEADLINE_MS, the default --deadline-ms:
 * with the daemon's default revoke_ms a holder that ignores its REVOKE
 * is killed after 250 ms and must be gone 2 s later, so 5 s is that worst
 * case with room for a loaded machine.  The others are generous bounds
 * for what takes milliseconds when all is well: every worker started
 * (its leases mapped, its file open) within 20 s; a worker still there
 * 2 s after SIGTERM gets SIGKILL; the daemon gone 10 s after its
 * unmount. */
#define DRILL_DEADLINE_MS 5000
#define DRILL_READY_MS 20000
#define DRILL_STOP_MS 2000
#define DRILL_DAEMON_EXIT_MS 10000
/* The workers read a byte of every 4 KiB page of a lease, so a revoked
 * or failed page anywhere faults. */
#define DRILL_PAGE 4096u

/* --------------------------------------------------- worker messages */

enum { M_READY = 1, M_BEAT, M_REVOKED, M_SIGBUS, M_ERROR, M_FATAL,
       M_NOTICE,          /* OFFLINE_NOTICE (val: its deadline_ms) */
       M_RELEASED };      /* the client unmapped every lease */

/* What a worker writes to the pipe; one write(2) each. */
struct dmsg {
	uint32_t type;
	uint32_t worker;
	uint32_t lease;
	int32_t val;      /* reason, errno */
	uint64_t t_ns;
	uint64_t aux;     /* M_READY: lease size */
};

/* ---------------------------------------------------------- the drill */

struct worker {
	pid_t pid;
	bool writer, ready, exited, killed, fatal;
	bool stubborn;             /* offline: ignores the notice, no ACK */
	int status, err, fatal_err;
	unsigned seed, nrev, nbus;
	uint64_t t_beat, t_err, t_exit;
	/* the timeline (CLOCK_MONOTONIC, 0 = never): the first of each */
	uint64_t t_notice, t_released, t_revoked, t_sigbus;
	uint64_t *t_lost;          /* clients: per lease, 0 = still mapped */
	bool *expect;              /* clients: lease expected to be lost */
	char path[PATH_MAX + 32];
};

struct drill {
	/* options */
	unsigned n, k, w, deadline_ms;
	bool range, have_range, json, inject_only, keep;
	bool poison;               /* --kind poison (range is set too) */
	bool offline;              /* --kind offline (planned removal) */
	unsigned stubborn;         /* offline: the last N clients */
	uint64_t roff, rlen;
	const char *mnt, *daemon_opt, *fsck_opt;
	const char *svg;           /* --svg FILE */
	FILE *svgf;                /* opened before the run */
	bool svg_created;          /* it did not exist: remove on refusal */
	/* found before the run */
	char *region, exe[PATH_MAX];
	pid_t dpid;
	char **dopts;              /* "-o" values of the daemon's cmdline */
	size_t ndopts;
	/* the run */
	char dir[PATH_MAX];
	struct worker *wk;         /* n clients, then w writers */
	bool running;              /* workers to stop */
	int rfd;                   /* the read end of their pipe */
	uint64_t unit;             /* the allocation unit (drill_plan) */
	uint64_t lsz;              /* a client lease's length: FSIZE
				      rounded up to unit */
	bool leases_read;          /* ADMIN_LEASES answered (expect) */
	bool range_data;           /* the range holds file data (expect) */
	uint64_t c0_ino;           /* client 0's file (poison: shared) */
	uint64_t t_inj;
	unsigned nexp;             /* leases expected to be lost */
	json_object *st;           /* the daemon's status after the injection */
	struct drill_off *off;     /* offline: the request (drill_offline.c) */
	json_object *offrep;       /* offline: the daemon's report */
	uint64_t t_umount, t_reply, t_gone; /* unmount call, offline report,
					       daemon gone (0: not seen) */
	/* the report */
	json_object *out, *checks, *hung;
	unsigned nfail, npass;
};

/* Clients and writers. */
static inline unsigned nworkers(const struct drill *d)
{
	return d->n + d->w;
}

/* Leases of client i: its K, and in a poison drill every client but 0
 * also maps client 0's first lease (index K), the poisoned block's
 * other holders. */
static inline unsigned nleases(const struct drill *d, unsigned i)
{
	return d->k + (d->poison && i > 0 && i < d->n);
}

static inline uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Milliseconds from a to b, 0 if b is not later. */
static inline double ms(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / 1e6 : 0.0;
}

/* The drill's file patterns: byte off of the file with seed. */
static inline uint8_t pat(unsigned seed, uint64_t off)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;

	return (uint8_t)(x >> 29 ^ x >> 47 ^ off >> 12);
}

static inline void fill(uint8_t *b, size_t n, unsigned seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(seed, off + i);
}

/* drill.c: the report.  A progress line (not with --json); a check. */
void drill_note(struct drill *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void drill_check(struct drill *d, const char *name, bool ok,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void drill_put_num(struct drill *d, const char *k, double v);
void drill_put_int(struct drill *d, const char *k, int64_t v);
/* "whole", "range", "poison" or "offline". */
const char *drill_kind(const struct drill *d);

/* drill_steps.c: each returns DRILL_NEXT or DRILL_STOP (skip the rest). */
enum { DRILL_NEXT, DRILL_STOP };
/* drill_plan.c: 0, or the exit status after a message (2: the options
 * do not fit this mount). */
int drill_plan(struct drill *d);
/* Does the range hold file data now (a range drill of free space loses
 * nothing: the state stays ok)?  1, 0, or -1 (printed). */
int drill_range_owned(const struct drill *d);
int drill_setup(struct drill *d);
int drill_spawn(struct drill *d);
int drill_expect(struct drill *d);
int drill_inject(struct drill *d);
int drill_settle(struct drill *d);
int drill_tally(struct drill *d);
int drill_stop(struct drill *d);
int drill_unmount(struct drill *d);
int drill_fsck(struct drill *d);
int drill_remount(struct drill *d);
int drill_verify(struct drill *d);
int drill_cleanup(struct drill *d);

/* drill_offline.c: the steps of --kind offline where they differ.
 * inject sends ADMIN_OFFLINE from a thread (the workers' pipe is read
 * meanwhile); settle waits for its report and the daemon's exit; tally
 * checks "offline", "notice", "released", "stubborn", "writers",
 * "daemon exit", "no hung operations". */
int drill_offline_inject(struct drill *d);
int drill_offline_settle(struct drill *d);
int drill_offline_tally(struct drill *d);
void drill_offline_free(struct drill *d);

/* drill_svg.c: open --svg FILE before the run (0, or the exit status
 * after a message); write the timeline into it after the run. */
int drill_svg_open(struct drill *d);
void drill_svg_write(struct drill *d);
/* A refused drill leaves no empty file behind. */
void drill_svg_discard(struct drill *d);

/* drill_pump.c */
/* Read the workers' messages for up to wait_ms, then reap the exited. */
void drill_pump(struct drill *d, int wait_ms);
/* When a client's expected losses were all in (0: not yet). */
uint64_t drill_client_lost(struct drill *d, struct worker *w);
/* The worker reacted to the injection as it should by now. */
bool drill_worker_settled(struct drill *d, struct worker *w, bool affected);
/* SIGTERM every worker, SIGKILL after 2 s, reap them. */
void drill_stop_workers(struct drill *d);

/* drill_worker.c: fork worker i writing its messages to wfd; the pid, or
 * -1 if fork failed. */
pid_t drill_fork_worker(struct drill *d, unsigned i, int wfd);

/* drill_sys.c */
int drill_find_daemon(struct drill *d);
bool drill_mounted(const char *mnt);
bool drill_wait_gone(pid_t pid, int wait_ms);
int drill_run_cmd(char *const argv[], bool quiet);
int drill_remount_cmd(struct drill *d);
int drill_write_pattern(const char *path, size_t size, unsigned seed);
int drill_verify_pattern(const char *path, size_t size, unsigned seed);

#endif
