/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill: a failure drill against a mounted holdfs
 * (docs/failure-model.md, "Runbook"; docs/man/holdfsctl.8).
 *
 * Creates a drill directory with files of known patterns, starts N DAX
 * client processes (libholdfs: K read leases each, touched in a loop, a
 * revoke handler and a SIGBUS handler report over a pipe) and W POSIX
 * writers (pwrite + fsync of a fixed pattern, first error reported), then
 * injects a whole-device loss (a file region is really truncated to 0),
 * a range failure (ADMIN_INJECT) or poison seen first by a client (its
 * daemon-side view made poisoned by simulation, then the client's own
 * SIGBUS BUS_MCEERR_AR through libholdfs's handler), and checks: every holder lost access or
 * was killed, writers failed (whole) or kept going (range), nobody hung
 * past the deadline, unmount is prompt; for a range drill also fsck -n,
 * remount and byte-for-byte verification of the unaffected files.  Or,
 * --kind offline, it drills the planned removal (drill_offline.c): the
 * clients let go on the notice (or, --stubborn, are killed), the daemon
 * exits clean, fsck, remount and every file verified.  --svg draws the
 * run as a timeline (drill_svg.c).
 *
 * This file: the options, the report, and the table of steps
 * (drill_steps.c) with the loop that runs them.
 *
 * Exit status: 0 every check passed, 1 a check failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "drill.h"
#include "holdfsctl.h"
#include "json_print.h"

/* A default from drill.h in the help text. */
#define STR_(x) #x
#define STR(x) STR_(x)

/* ------------------------------------------------------------ report */

void drill_note(struct drill *d, const char *fmt, ...)
{
	va_list ap;

	if (d->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

void drill_check(struct drill *d, const char *name, bool ok,
		 const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_object_array_add(d->checks, ctl_check_json(name, ok, detail));
	if (ok)
		d->npass++;
	else
		d->nfail++;
}

void drill_put_num(struct drill *d, const char *k, double v)
{
	json_object_object_add(d->out, k, json_object_new_double(v));
}

void drill_put_int(struct drill *d, const char *k, int64_t v)
{
	json_object_object_add(d->out, k, json_object_new_int64(v));
}

/* The report's parameters; the steps add the rest. */
static void report_start(struct drill *d)
{
	d->out = json_object_new_object();
	d->checks = json_object_new_array();
	d->hung = json_object_new_array();
	json_object_object_add(d->out, "kind",
			       json_object_new_string(drill_kind(d)));
	json_object_object_add(d->out, "inject", json_object_new_string(
		d->offline ? "admin-offline" : d->poison ? "client-sigbus"
		: d->range || d->inject_only ? "admin" : "truncate"));
	json_object_object_add(d->out, "mountpoint",
			       json_object_new_string(d->mnt));
	json_object_object_add(d->out, "region",
			       json_object_new_string(d->region));
	drill_put_int(d, "clients", d->n);
	drill_put_int(d, "leases_per_client", d->k);
	drill_put_int(d, "writers", d->w);
	drill_put_int(d, "deadline_ms", d->deadline_ms);
	drill_put_int(d, "daemon_pid", d->dpid);
	json_object_object_add(d->out, "checks", d->checks);
	json_object_object_add(d->out, "hung", d->hung);
}

const char *drill_kind(const struct drill *d)
{
	return d->offline ? "offline" : d->poison ? "poison" : d->range
		? "range" : "whole";
}

static void report_print(struct drill *d)
{
	json_object_object_add(d->out, "ok",
			       json_object_new_boolean(!d->nfail));
	if (d->svg)
		json_object_object_add(d->out, "svg",
				       json_object_new_string(d->svg));
	if (d->json)
		ctl_print_json(d->out);
	else
		ctl_print_checks(d->checks, d->npass, d->nfail);
}

/* ----------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: holdfsctl drill [OPTIONS] MOUNTPOINT\n"
"\n"
"Failure drill on a mounted holdfs (root; docs/failure-model.md).\n"
"\n"
"  --clients N            DAX client processes (default 4)\n"
"  --leases-per-client K  read leases each client maps and touches (4)\n"
"  --writers W            write+fsync writer processes (2)\n"
"  --kind whole|range|poison|offline\n"
"                         whole-device loss (default), a range failure,\n"
"                         poison seen first by client 0: the daemon's\n"
"                         view of the block is made poisoned (simulated)\n"
"                         and the client gets the machine check's SIGBUS\n"
"                         (BUS_MCEERR_AR) on it; libholdfs reports it;\n"
"                         or offline: a planned removal (holdfsctl\n"
"                         offline) whose notice deadline is --deadline-ms\n"
"  --stubborn N           offline: the last N clients stop themselves\n"
"                         (SIGSTOP) on the notice: they keep their\n"
"                         leases and cannot ACK the revoke at the\n"
"                         deadline, so the daemon kills them (default 0)\n"
"  --range OFF,LEN        region bytes to fail (range; default: the first\n"
"                         block of client 0's first lease)\n"
"  --inject-only          whole: inject through the daemon instead of\n"
"                         truncating the region file (needed for devdax)\n"
"  --deadline-ms MS       every holder/writer must react within MS ("
	STR(DRILL_DEADLINE_MS) ");\n"
"                         offline: the notice's deadline\n"
"  --daemon PATH          holdfs binary for the remount (default: the\n"
"                         running daemon's /proc/PID/exe)\n"
"  --fsck PATH            fsck.holdfs (default: next to the daemon)\n"
"  --keep                 keep the drill directory (range, poison,\n"
"                         offline)\n"
"  --svg FILE             draw the drill as a timeline: a self-contained\n"
"                         SVG (FILE must be writable, and not on the\n"
"                         drilled filesystem)\n"
"  --json                 print the report as JSON\n"
"\n"
"A whole-device drill on a region file TRUNCATES IT TO 0: every file of\n"
"the filesystem is lost.  Use it on scratch filesystems only.\n"
"Exit status: 0 all checks passed, 1 a check failed, 2 usage.\n");
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "%s: %s\n", DPROG, msg);
	usage(stderr);
	return EXIT_USAGE;
}

static bool parse_u(const char *s, uint64_t *v)
{
	char *e;

	errno = 0;
	*v = strtoull(s, &e, 0);
	return !errno && e != s && !*e;
}

/* --clients, --leases-per-client, --writers, --deadline-ms. */
static int parse_count(struct drill *d, int c, const char *arg)
{
	uint64_t v;

	if (!parse_u(arg, &v) || v > (c == 'd' ? 600000u : c == 'k' ? MAXK
	    : MAXW) || (v == 0 && c != 'w' && c != 'S'))
		return usage_err("bad number");
	if (c == 'S')
		d->stubborn = (unsigned)v;
	else if (c == 'c')
		d->n = (unsigned)v;
	else if (c == 'k')
		d->k = (unsigned)v;
	else if (c == 'w')
		d->w = (unsigned)v;
	else
		d->deadline_ms = (unsigned)v;
	return 0;
}

static int parse_range(struct drill *d, char *arg)
{
	char *comma = strchr(arg, ',');

	if (!comma)
		return usage_err("--range wants OFF,LEN");
	*comma = '\0';
	if (!parse_u(arg, &d->roff) || !parse_u(comma + 1, &d->rlen) ||
	    !d->rlen || d->roff + d->rlen < d->roff)
		return usage_err("--range: bad OFF,LEN");
	d->have_range = true;
	return 0;
}

/* One option: 0, -1 after --help, or EXIT_USAGE (printed). */
static int parse_opt(struct drill *d, int c, char *arg)
{
	switch (c) {
	case 'c': case 'k': case 'w': case 'd': case 'S':
		return parse_count(d, c, arg);
	case 'K':
		if (strcmp(arg, "whole") && strcmp(arg, "range") &&
		    strcmp(arg, "poison") && strcmp(arg, "offline"))
			return usage_err("--kind is whole, range, poison or "
					 "offline");
		d->poison = !strcmp(arg, "poison");
		d->range = d->poison || !strcmp(arg, "range");
		d->offline = !strcmp(arg, "offline");
		return 0;
	case 'V':
		d->svg = arg;
		return 0;
	case 'r':
		return parse_range(d, arg);
	case 'I':
		d->inject_only = true;
		return 0;
	case 'D':
		d->daemon_opt = arg;
		return 0;
	case 'F':
		d->fsck_opt = arg;
		return 0;
	case 'p':
		d->keep = true;
		return 0;
	case 'j':
		d->json = true;
		return 0;
	case 'h':
		usage(stdout);
		return -1;
	default:
		return usage_err("bad option");
	}
}

/* The options against each other (parse_args). */
static int check_combination(struct drill *d, const char *mnt)
{
	if (d->have_range && !d->range)
		return usage_err("--range needs --kind range");
	if (d->have_range && d->poison)
		return usage_err("--range is for --kind range: a poison drill "
				 "poisons the first block of client 0's first "
				 "lease, where that client touches it");
	if (d->inject_only && (d->range || d->offline))
		return usage_err("--inject-only is for --kind whole");
	if (!d->range && !d->offline &&
	    (d->keep || d->daemon_opt || d->fsck_opt))
		return usage_err("--keep, --daemon and --fsck are for --kind "
				 "range, poison or offline (a whole-device "
				 "drill loses the filesystem: nothing to keep, "
				 "check or mount)");
	if (d->stubborn && !d->offline)
		return usage_err("--stubborn is for --kind offline");
	if (d->stubborn > d->n)
		return usage_err("--stubborn: more stubborn clients than "
				 "--clients");
	d->mnt = mnt;
	if (d->k * (uint64_t)FSIZE > (1ull << 30))
		return usage_err("--leases-per-client too large");
	return 0;  /* against the mount: drill_plan() */
}

/* Options before the operand, as for the other commands (ctl/args.c).
 * 0: run; -1: --help printed; EXIT_USAGE: usage error printed. */
static int parse_args(struct drill *d, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "leases-per-client", required_argument, NULL, 'k' },
		{ "writers", required_argument, NULL, 'w' },
		{ "kind", required_argument, NULL, 'K' },
		{ "range", required_argument, NULL, 'r' },
		{ "deadline-ms", required_argument, NULL, 'd' },
		{ "inject-only", no_argument, NULL, 'I' },
		{ "daemon", required_argument, NULL, 'D' },
		{ "fsck", required_argument, NULL, 'F' },
		{ "keep", no_argument, NULL, 'p' },
		{ "stubborn", required_argument, NULL, 'S' },
		{ "svg", required_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	optind = 0;             /* a fresh scan of this argv (glibc) */
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1)
		if ((r = parse_opt(d, c, optarg)))
			return r;
	if (optind != argc - 1)
		return usage_err(optind >= argc ? "missing MOUNTPOINT"
				 : "too many arguments");
	return check_combination(d, argv[optind]);
}

/* ------------------------------------------------------------- steps */

/* Which kinds run a step. */
enum { K_WHOLE = 1, K_RANGE = 2, K_OFFLINE = 4,    /* poison: K_RANGE */
       K_FAIL = K_WHOLE | K_RANGE, K_ALL = K_FAIL | K_OFFLINE,
       K_REMOUNT = K_RANGE | K_OFFLINE };

static const struct drill_step {
	const char *name;
	int (*run)(struct drill *d);
	unsigned kinds;
} steps[] = {
	{ "setup",   drill_setup,          K_ALL },
	{ "spawn",   drill_spawn,          K_ALL },
	{ "expect",  drill_expect,         K_ALL },
	{ "inject",  drill_inject,         K_FAIL },
	{ "inject",  drill_offline_inject, K_OFFLINE },
	{ "settle",  drill_settle,         K_FAIL },
	{ "settle",  drill_offline_settle, K_OFFLINE },
	{ "tally",   drill_tally,          K_FAIL },
	{ "tally",   drill_offline_tally,  K_OFFLINE },
	{ "stop",    drill_stop,           K_ALL },
	{ "unmount", drill_unmount,        K_FAIL },
	{ "fsck",    drill_fsck,           K_REMOUNT },
	{ "remount", drill_remount,        K_REMOUNT },
	{ "verify",  drill_verify,         K_REMOUNT },
	{ "cleanup", drill_cleanup,        K_REMOUNT },
};

static void run(struct drill *d)
{
	unsigned kind = d->offline ? K_OFFLINE : d->range ? K_RANGE : K_WHOLE;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (!(steps[i].kinds & kind))
			continue;
		if (steps[i].run(d) == DRILL_STOP)
			break;
	}
	if (d->running)
		drill_stop_workers(d);
}

/* ------------------------------------------------------------- drill */

/* The region and the daemon of the mount; 0, or the exit status after
 * a message. */
static int find_target(struct drill *d)
{
	struct stat sb;

	d->region = ctl_region_of(d->mnt);
	if (!d->region) {
		fprintf(stderr, "%s: %s: not a holdfs mount point\n", DPROG,
			d->mnt);
		return 1;
	}
	if (drill_find_daemon(d) < 0)
		return 1;
	if (d->range || d->inject_only || d->offline)
		return 0;
	if (stat(d->region, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "%s: %s is not a regular file (device-dax?):"
			" a real whole-device drill means removing the "
			"device; use --inject-only for an injected one\n",
			DPROG, d->region);
		return EXIT_USAGE;
	}
	return 0;
}

static void alloc_workers(struct drill *d)
{
	d->wk = calloc(nworkers(d), sizeof(*d->wk));
	for (unsigned i = 0; i < d->n; i++) {
		d->wk[i].t_lost = calloc(d->k + 1, sizeof(uint64_t));
		d->wk[i].expect = calloc(d->k + 1, sizeof(bool));
	}
}

static void drill_free(struct drill *d)
{
	drill_offline_free(d);
	if (d->svgf)
		fclose(d->svgf);
	json_object_put(d->st);
	json_object_put(d->out);
	if (d->rfd >= 0)
		close(d->rfd);
	for (unsigned i = 0; d->wk && i < d->n; i++) {
		free(d->wk[i].t_lost);
		free(d->wk[i].expect);
	}
	for (size_t i = 0; i < d->ndopts; i++)
		free(d->dopts[i]);
	free(d->dopts);
	free(d->wk);
	free(d->region);
}

int cmd_drill(int argc, char **argv)
{
	struct drill d = { .n = 4, .k = 4, .w = 2,
			   .deadline_ms = DRILL_DEADLINE_MS,
			   .rfd = -1 };
	int r = parse_args(&d, argc, argv);

	if (r)
		return r < 0 ? 0 : r;
	r = find_target(&d);
	if (!r)
		r = drill_plan(&d);
	if (!r)
		r = drill_svg_open(&d);
	if (r) {
		drill_svg_discard(&d);
		drill_free(&d);
		return r;
	}
	alloc_workers(&d);
	report_start(&d);
	run(&d);
	drill_svg_write(&d);
	report_print(&d);
	r = d.nfail ? 1 : 0;
	drill_free(&d);
	return r;
}
