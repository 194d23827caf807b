/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill: a failure drill against a mounted holdfs
 * (docs/failure-model.md, "Runbook"; docs/man/holdfsctl.8).
 *
 * Creates a drill directory with files of known patterns, starts N DAX
 * client processes (libholdfs: K read leases each, touched in a loop, a
 * revoke handler and a SIGBUS handler report over a pipe) and W POSIX
 * writers (pwrite + fsync of a fixed pattern, first error reported), then
 * injects a whole-device loss (a file region is really truncated to 0) or
 * a range failure (ADMIN_INJECT), and checks: every holder lost access or
 * was killed, writers failed (whole) or kept going (range), nobody hung
 * past the deadline, unmount is prompt; for a range drill also fsck -n,
 * remount and byte-for-byte verification of the unaffected files.
 *
 * This file: the options, the report and the run; the workers are in
 * drill_worker.c, their messages in drill_pump.c, the daemon, files and
 * external commands in drill_sys.c.
 *
 * Exit status: 0 every check passed, 1 a check failed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "conn.h"
#include "drill.h"
#include "holdfsctl.h"
#include "json_print.h"

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

/* fsck.holdfs: --fsck, else next to the daemon (build tree, then
 * installed), else from PATH. */
static void find_fsck(const struct drill *d, char *out, size_t n)
{
	char dir[PATH_MAX], *s;

	if (d->fsck_opt) {
		snprintf(out, n, "%s", d->fsck_opt);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", d->exe);
	s = strrchr(dir, '/');
	if (s) {
		*s = '\0';
		snprintf(out, n, "%s/../fsck/fsck.holdfs", dir); /* build tree */
		if (access(out, X_OK) == 0)
			return;
		snprintf(out, n, "%s/fsck.holdfs", dir);        /* installed */
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, n, "fsck.holdfs");
}

static int inject(struct drill *d)
{
	struct hfs_msg_inject m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_INJECT, sizeof(m), 0, 1 },
				    d->roff, d->rlen, HFS_FAIL_MEDIA, 0 };
	struct stat st;
	char *txt;
	int fd;

	if (!d->range) {
		m.flags = HFS_FAIL_WHOLE_DEVICE | HFS_FAIL_PRE_REMOVE;
		m.offset = m.length = 0;
	}
	if (!d->range && !d->inject_only) {
		if (stat(d->region, &st) < 0 || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "%s: %s is not a region file (device-dax?): "
				"a real whole-device drill needs the device "
				"removed; use --inject-only\n", DPROG, d->region);
			return -1;
		}
		d->t_inj = now_ns();
		if (truncate(d->region, 0) < 0) {
			fprintf(stderr, "%s: truncate %s: %s\n", DPROG,
				d->region, strerror(errno));
			return -1;
		}
		return 0;
	}
	fd = ctl_connect(d->mnt);
	if (fd < 0)
		return -1;
	d->t_inj = now_ns();
	txt = ctl_query(fd, &m, sizeof(m));
	close(fd);
	free(txt);
	return txt ? 0 : -1;
}

/* Which client leases map [roff, roff+rlen)?  From ADMIN_LEASES. */
static unsigned mark_expected(struct drill *d, bool pick_default)
{
	struct hfs_msg_hdr h = { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				 HFS_MSG_ADMIN_LEASES, sizeof(h), 0, 1 };
	json_object *doc = NULL, *ls;
	unsigned n = 0;
	char *txt;
	int fd = ctl_connect(d->mnt);

	if (fd < 0)
		return 0;
	txt = ctl_query(fd, &h, sizeof(h));
	close(fd);
	if (txt)
		doc = json_tokener_parse(txt);
	free(txt);
	ls = jget(doc, "leases");
	for (size_t i = 0; pick_default && i < jlen(ls); i++) {
		json_object *l = json_object_array_get_idx(ls, i);
		json_object *ex = jget(l, "extents");

		if ((pid_t)ju64(l, "pid") != d->wk[0].pid || ju64(l, "offset"))
			continue;
		for (size_t j = 0; j < jlen(ex); j++) {
			json_object *e = json_object_array_get_idx(ex, j);

			if (!strcmp(jstr(e, "state"), "mapped") &&
			    ju64(e, "file_off") == 0) {
				d->roff = ju64(e, "region_off");
				d->rlen = 4096;
				d->have_range = true;
			}
		}
	}
	for (size_t i = 0; d->have_range && i < jlen(ls); i++) {
		json_object *l = json_object_array_get_idx(ls, i);
		json_object *ex = jget(l, "extents");
		pid_t pid = (pid_t)ju64(l, "pid");

		for (size_t j = 0; j < jlen(ex); j++) {
			json_object *e = json_object_array_get_idx(ex, j);
			uint64_t ro = ju64(e, "region_off"), el = ju64(e, "len");

			if (strcmp(jstr(e, "state"), "mapped") ||
			    ro >= d->roff + d->rlen || ro + el <= d->roff)
				continue;
			for (unsigned c = 0; c < d->n; c++) {
				uint64_t li = ju64(l, "offset") / d->lsz;

				if (d->wk[c].pid == pid && li < d->k &&
				    !d->wk[c].expect[li]) {
					d->wk[c].expect[li] = true;
					n++;
				}
			}
		}
	}
	json_object_put(doc);
	return n;
}

static bool in_affected(json_object *st, const char *path)
{
	struct stat sb;
	json_object *a = jget(st, "affected");

	if (stat(path, &sb) < 0)
		return false;
	for (size_t i = 0; i < jlen(a); i++)
		if (ju64(json_object_array_get_idx(a, i), "ino") == sb.st_ino)
			return true;
	return false;
}

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
"  --kind whole|range     whole-device loss (default) or a range failure\n"
"  --range OFF,LEN        region bytes to fail (range; default: the first\n"
"                         block of client 0's first lease)\n"
"  --inject-only          whole: inject through the daemon instead of\n"
"                         truncating the region file (needed for devdax)\n"
"  --deadline-ms MS       every holder/writer must react within MS (5000)\n"
"  --daemon PATH          holdfs binary for the remount (default: the\n"
"                         running daemon's /proc/PID/exe)\n"
"  --fsck PATH            fsck.holdfs (default: next to the daemon)\n"
"  --keep                 keep the drill directory (range drill)\n"
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
	return 2;
}

static bool parse_u(const char *s, uint64_t *v)
{
	char *e;

	errno = 0;
	*v = strtoull(s, &e, 0);
	return !errno && e != s && !*e;
}

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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	char *comma;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 'k':
		case 'w':
		case 'd':
			if (!parse_u(optarg, &v) || v > (c == 'd' ? 600000u
			    : c == 'k' ? MAXK : MAXW) || (v == 0 && c != 'w'))
				return usage_err("bad number");
			if (c == 'c')
				d->n = (unsigned)v;
			else if (c == 'k')
				d->k = (unsigned)v;
			else if (c == 'w')
				d->w = (unsigned)v;
			else
				d->deadline_ms = (unsigned)v;
			break;
		case 'K':
			if (strcmp(optarg, "whole") && strcmp(optarg, "range"))
				return usage_err("--kind is whole or range");
			d->range = !strcmp(optarg, "range");
			break;
		case 'r':
			comma = strchr(optarg, ',');
			if (!comma)
				return usage_err("--range wants OFF,LEN");
			*comma = '\0';
			if (!parse_u(optarg, &d->roff) ||
			    !parse_u(comma + 1, &d->rlen) || !d->rlen ||
			    d->roff + d->rlen < d->roff)
				return usage_err("--range: bad OFF,LEN");
			d->have_range = true;
			break;
		case 'I':
			d->inject_only = true;
			break;
		case 'D':
			d->daemon_opt = optarg;
			break;
		case 'F':
			d->fsck_opt = optarg;
			break;
		case 'p':
			d->keep = true;
			break;
		case 'j':
			d->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(fflush(stdout) ? 1 : 0);
		default:
			return usage_err("bad option");
		}
	}
	if (optind != argc - 1)
		return usage_err(optind >= argc ? "missing MOUNTPOINT"
				 : "too many arguments");
	if (d->have_range && !d->range)
		return usage_err("--range needs --kind range");
	if (d->inject_only && d->range)
		return usage_err("--inject-only is for --kind whole");
	d->mnt = argv[optind];
	return 0;
}

static void print_report(struct drill *d)
{
	if (d->json)
		ctl_print_json(d->out);
	else
		ctl_print_checks(d->checks, d->npass, d->nfail);
}

static void run(struct drill *d)
{
	int pfd[2];
	unsigned nexp, nready = 0, nw = d->n + d->w, hung = 0, eio = 0;
	unsigned notified = 0, killed = 0, sigbus = 0, bad_writers = 0;
	uint64_t until, t_all = 0, t_first_eio = 0, t_last_eio = 0;
	json_object *st = NULL, *hj = json_object_new_array(), *ph;
	double dph_revoke = 0, dph_total = 0;
	char tmp[PATH_MAX + 32];
	bool ok;

	json_object_object_add(d->out, "hung", hj);
	/* files */
	snprintf(d->dir, sizeof(d->dir), "%s/holdfs-drill.%d", d->mnt,
		 (int)getpid());
	if (mkdir(d->dir, 0755) < 0) {
		drill_check(d, "setup", false, "mkdir %s: %s", d->dir, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < nw; i++) {
		struct worker *w = &d->wk[i];
		int r;

		w->writer = i >= d->n;
		w->seed = 1000 + i;
		snprintf(w->path, sizeof(w->path), "%s/%c%u", d->dir,
			 w->writer ? 'w' : 'c', w->writer ? i - d->n : i);
		r = drill_write_pattern(w->path, w->writer ? FSIZE
				  : (size_t)FSIZE * d->k, w->seed);
		if (r < 0) {
			drill_check(d, "setup", false, "write %s: %s", w->path,
			      strerror(-r));
			return;
		}
	}
	for (unsigned i = 0; i < NSTATIC; i++) {
		snprintf(tmp, sizeof(tmp), "%s/u%u", d->dir, i);
		if (drill_write_pattern(tmp, FSIZE, 3000 + i) < 0) {
			drill_check(d, "setup", false, "write %s", tmp);
			return;
		}
	}
	/* workers */
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	d->rfd = pfd[0];
	for (unsigned i = 0; i < nw; i++) {
		d->wk[i].pid = drill_fork_worker(d, i, pfd[1]);
		if (d->wk[i].pid < 0) {
			drill_check(d, "setup", false, "fork: %s", strerror(errno));
			close(pfd[1]);
			return;
		}
	}
	close(pfd[1]);
	fcntl(d->rfd, F_SETFL, O_NONBLOCK);
	until = now_ns() + 20000000000ull;
	while (nready < nw && now_ns() < until) {
		drill_pump(d, 50);
		nready = 0;
		for (unsigned i = 0; i < nw; i++) {
			if (d->wk[i].fatal || (d->wk[i].exited && !d->wk[i].ready))
				until = 0;
			nready += d->wk[i].ready;
		}
	}
	if (nready < nw) {
		for (unsigned i = 0; i < nw; i++)
			if (!d->wk[i].ready)
				drill_check(d, "setup", false, "%s %u not ready (%s)",
				      d->wk[i].writer ? "writer" : "client", i,
				      d->wk[i].fatal ? strerror(d->wk[i].fatal_err)
				      : "no lease within 20 s");
		drill_stop_workers(d);
		return;
	}
	/* expectations */
	if (d->range)
		nexp = mark_expected(d, !d->have_range);
	else
		for (unsigned i = nexp = 0; i < d->n; i++)
			for (unsigned j = 0; j < d->k; j++, nexp++)
				d->wk[i].expect[j] = true;
	if (d->range && !d->have_range) {
		drill_check(d, "setup", false, "no mapped extent of client 0's lease");
		drill_stop_workers(d);
		return;
	}
	drill_check(d, "setup", true, "%u clients x %u leases, %u writers, "
	      "%u files", d->n, d->k, d->w, nw + NSTATIC);
	json_object_object_add(d->out, "inject_offset",
			       json_object_new_uint64(d->roff));
	json_object_object_add(d->out, "inject_length",
			       json_object_new_uint64(d->rlen));
	drill_put_int(d, "expected_lost_leases", nexp);
	drill_note(d, "%s: %s failure of %s%s on %s\n  %u clients x %u leases, "
	     "%u writers, deadline %u ms, %u lease%s expected to be lost\n",
	     DPROG, d->range ? "range" : "whole-device", d->region,
	     d->range ? "" : d->inject_only ? " (injected)"
	     : " (truncated to 0)", d->mnt, d->n, d->k, d->w, d->deadline_ms,
	     nexp, nexp == 1 ? "" : "s");
	if (d->range)
		drill_note(d, "  failing region bytes %#" PRIx64 "+%#" PRIx64 "\n",
		     d->roff, d->rlen);
	drill_pump(d, 100); /* let everyone settle into the loop */

	/* inject */
	if (inject(d) < 0) {
		drill_check(d, "inject", false, "the failure could not be injected");
		drill_stop_workers(d);
		return;
	}
	/* wait for everyone, or the deadline */
	until = d->t_inj + (uint64_t)d->deadline_ms * 1000000ull;
	for (;;) {
		bool all = true;

		drill_pump(d, 2);
		for (unsigned i = 0; i < nw && all; i++)
			all = drill_worker_settled(d, &d->wk[i], false);
		if (all || now_ns() > until)
			break;
	}
	/* the daemon's view; an affected writer file may legitimately EIO */
	for (int i = 0; i < 200; i++) {
		json_object *ev, *last;

		json_object_put(st);
		st = ctl_get_status(d->mnt);
		ev = jget(st, "events");
		last = jlen(ev) ? json_object_array_get_idx(ev, jlen(ev) - 1)
				: NULL;
		if (last && strcmp(jstr(last, "outcome"), "in progress"))
			break;
		drill_pump(d, 20);
	}
	if (d->range)
		for (unsigned i = d->n; i < nw; i++)
			if (!drill_worker_settled(d, &d->wk[i],
					    in_affected(st, d->wk[i].path)))
				drill_pump(d, 0);
	for (unsigned i = 0; i < nw; i++) {
		struct worker *w = &d->wk[i];
		bool aff = w->writer && d->range && in_affected(st, w->path);

		if (!drill_worker_settled(d, w, aff)) {
			hung++;
			json_object_array_add(hj, ctl_hung_json(w->writer,
				(int)(w->writer ? i - d->n : i), w->pid));
		}
		if (!w->writer) {
			uint64_t t = drill_client_lost(d, w);

			if (t > t_all)
				t_all = t;
			notified += w->nrev > 0;
			killed += w->killed;
			sigbus += w->nbus > 0;
		} else if (w->t_err) {
			if (w->err == EIO)
				eio++;
			if (!t_first_eio || w->t_err < t_first_eio)
				t_first_eio = w->t_err;
			if (w->t_err > t_last_eio)
				t_last_eio = w->t_err;
			if (w->err != EIO || (d->range && !aff))
				bad_writers++;
		} else if (!d->range || aff) {
			bad_writers++;
		}
	}
	ph = jget(st, "phases");
	for (size_t i = 0; i < jlen(ph); i++) {
		json_object *p = json_object_array_get_idx(ph, i);
		double v = jdouble(p, "ms");

		dph_total += v;
		if (!strcmp(jstr(p, "phase"), "revoke"))
			dph_revoke = v;
	}
	json_object_object_add(d->out, "daemon_status", json_object_get(st));
	drill_put_num(d, "all_holders_lost_ms", ms(d->t_inj, t_all));
	drill_put_num(d, "daemon_revoke_ms", dph_revoke);
	drill_put_num(d, "daemon_phases_ms", dph_total);
	drill_put_int(d, "clients_notified", notified);
	drill_put_int(d, "clients_killed", killed);
	drill_put_int(d, "clients_sigbus", sigbus);
	drill_put_int(d, "writers_eio", eio);
	drill_put_num(d, "first_eio_ms", t_first_eio ? ms(d->t_inj, t_first_eio) : -1);
	drill_put_num(d, "last_eio_ms", t_last_eio ? ms(d->t_inj, t_last_eio) : -1);
	{
		json_object *rv = jget(st, "revoked");
		unsigned acked = 0, rk = 0;

		for (size_t i = 0; i < jlen(rv); i++) {
			const char *o = jstr(json_object_array_get_idx(rv, i),
					     "outcome");

			if (!strcmp(o, "killed"))
				rk++;
			else
				acked++;
		}
		drill_put_int(d, "leases_revoked_acked", acked);
		drill_put_int(d, "leases_revoked_killed", rk);
		drill_note(d, "injection -> every affected holder revoked or killed: "
		     "%.3f ms (daemon: %u lease%s acked, %u killed; revoke "
		     "phase %.3f ms, all phases %.3f ms)\n",
		     ms(d->t_inj, t_all), acked, acked == 1 ? "" : "s", rk,
		     dph_revoke, dph_total);
		drill_note(d, "clients: %u notified, %u killed, %u saw SIGBUS\n",
		     notified, killed, sigbus);
		if (d->w)
			drill_note(d, "writers: %u of %u got EIO%s", eio, d->w,
			     t_first_eio ? "" : "\n");
		if (d->w && t_first_eio)
			drill_note(d, ", first after %.3f ms, last after %.3f ms\n",
			     ms(d->t_inj, t_first_eio), ms(d->t_inj, t_last_eio));
		ok = !strcmp(jstr(st, "state"), d->range ? "degraded"
			     : "shutdown");
		drill_check(d, "state", ok, "%s", *jstr(st, "state")
		      ? jstr(st, "state") : "no status from the daemon");
		/* a truncated region file SIGBUSes the clients' own region
		 * mappings before the daemon revokes: loss counts, from
		 * either path; a range drill must go through the daemon */
		ok = t_all && ms(d->t_inj, t_all) <= d->deadline_ms &&
		     (!d->range || acked + rk >= nexp);
		drill_check(d, "holders", ok, "%u expected lease%s lost in %.3f ms; "
		      "daemon revoked %u (%u acked, %u killed)", nexp,
		      nexp == 1 ? "" : "s", ms(d->t_inj, t_all), acked + rk,
		      acked, rk);
	}
	if (d->range) {
		unsigned extra = 0;

		for (unsigned i = 0; i < d->n; i++)
			for (unsigned j = 0; j < d->k; j++)
				extra += d->wk[i].t_lost[j] &&
					 !d->wk[i].expect[j];
		drill_check(d, "unaffected leases", !extra, "%u lease%s outside the "
		      "range lost access", extra, extra == 1 ? "" : "s");
	}
	drill_check(d, "writers", !bad_writers, d->range ? "%u writer%s failed "
	      "or stalled" : "%u writer%s without EIO", bad_writers,
	      bad_writers == 1 ? "" : "s");
	drill_check(d, "no hung operations", !hung, "%u worker%s silent %u ms after "
	      "the injection", hung, hung == 1 ? "" : "s", d->deadline_ms);
	drill_stop_workers(d);

	/* unmount */
	{
		uint64_t t0 = now_ns(), t1;
		bool gone;
		int r = umount2(d->mnt, 0);

		if (r < 0 && errno == EPERM) {
			char *av[] = { "fusermount3", "-u", (char *)d->mnt, NULL };

			r = drill_run_cmd(av, false) ? -1 : 0;
		}
		t1 = now_ns();
		gone = drill_wait_gone(d->dpid, 10000);
		drill_put_num(d, "unmount_ms", ms(t0, t1));
		drill_note(d, "unmount: %.3f ms; daemon %s\n", ms(t0, t1),
		     gone ? "exited" : "STILL RUNNING after 10 s");
		drill_check(d, "unmount", r == 0 && gone && !drill_mounted(d->mnt) &&
		      ms(t0, t1) <= d->deadline_ms, "%s in %.3f ms, daemon %s",
		      r == 0 ? "unmounted" : strerror(errno), ms(t0, t1),
		      gone ? "exited" : "still running");
		if (r < 0 || !gone)
			goto out;
	}
	if (!d->range)
		goto out;

	/* range: fsck, remount, verify */
	{
		char fsck[PATH_MAX + 32];
		char *av[] = { fsck, "-n", "-f", d->region, NULL };
		int r;

		find_fsck(d, fsck, sizeof(fsck));
		r = drill_run_cmd(av, d->json);
		drill_put_int(d, "fsck_exit", r);
		drill_check(d, "fsck", r == 0, "%s -n -f: exit %d", fsck, r);
		r = drill_remount_cmd(d);
		drill_check(d, "remount", r == 0 && drill_mounted(d->mnt), "%s: exit %d",
		      d->exe, r);
		if (r || !drill_mounted(d->mnt))
			goto out;
	}
	{
		unsigned good = 0, bad = 0, skipped = 0;
		json_object *mm = json_object_new_array();
		bool lost_ok = true;

		json_object_object_add(d->out, "mismatched_files", mm);
		for (unsigned i = 0; i < nw + NSTATIC; i++) {
			const char *p = tmp;
			size_t size = FSIZE;
			unsigned seed = 3000 + i - nw;
			int r;

			if (i < nw) {
				p = d->wk[i].path;
				seed = d->wk[i].seed;
				if (!d->wk[i].writer)
					size = (size_t)FSIZE * d->k;
			} else {
				snprintf(tmp, sizeof(tmp), "%s/u%u", d->dir,
					 i - nw);
			}
			if (in_affected(st, p)) {
				skipped++;
				continue;
			}
			r = drill_verify_pattern(p, size, seed);
			if (r) {
				bad++;
				json_object_array_add(mm, json_object_new_string(p));
			} else {
				good++;
			}
		}
		/* the default target: its block reads EIO, the rest intact */
		if (!d->have_range || d->n) {
			int fd = open(d->wk[0].path, O_RDONLY | O_CLOEXEC);
			char b[4096];

			if (in_affected(st, d->wk[0].path) && fd >= 0)
				lost_ok = pread(fd, b, sizeof(b), 0) < 0 &&
					  errno == EIO;
			if (fd >= 0)
				close(fd);
		}
		drill_put_int(d, "verified_files", good);
		drill_put_int(d, "affected_files", skipped);
		drill_note(d, "verify: %u file%s byte-identical, %u mismatched, %u "
		     "affected (not compared)\n", good, good == 1 ? "" : "s",
		     bad, skipped);
		drill_check(d, "verify", !bad && good, "%u unaffected files "
		      "identical, %u differ", good, bad);
		drill_check(d, "lost range", lost_ok, "reads of the failed block %s",
		      lost_ok ? "return EIO (or not in a file)"
		      : "did not return EIO");
		if (!d->keep) {
			for (unsigned i = 0; i < nw; i++)
				unlink(d->wk[i].path);
			for (unsigned i = 0; i < NSTATIC; i++) {
				snprintf(tmp, sizeof(tmp), "%s/u%u", d->dir, i);
				unlink(tmp);
			}
			rmdir(d->dir);
		}
	}
out:
	json_object_put(st);
	close(d->rfd);
}

int cmd_drill(int argc, char **argv)
{
	struct drill d = { .n = 4, .k = 4, .w = 2, .deadline_ms = 5000,
			   .rfd = -1 };
	int r = parse_args(&d, argc, argv);

	if (r)
		return r;
	if (d.k * (uint64_t)FSIZE > (1ull << 30))
		return usage_err("--leases-per-client too large");
	d.region = ctl_region_of(d.mnt);
	if (!d.region) {
		fprintf(stderr, "%s: %s: not a holdfs mount point\n", DPROG,
			d.mnt);
		return 1;
	}
	if (drill_find_daemon(&d) < 0)
		return 1;
	if (!d.range && !d.inject_only) {
		struct stat sb;

		if (stat(d.region, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			fprintf(stderr, "%s: %s is not a regular file (device-dax?):"
				" a real whole-device drill means removing the "
				"device; use --inject-only for an injected one\n",
				DPROG, d.region);
			return 2;
		}
	}
	d.wk = calloc(d.n + d.w, sizeof(*d.wk));
	for (unsigned i = 0; i < d.n; i++) {
		d.wk[i].t_lost = calloc(d.k, sizeof(uint64_t));
		d.wk[i].expect = calloc(d.k, sizeof(bool));
	}
	d.out = json_object_new_object();
	d.checks = json_object_new_array();
	json_object_object_add(d.out, "kind", json_object_new_string(
		d.range ? "range" : "whole"));
	json_object_object_add(d.out, "inject", json_object_new_string(
		d.range || d.inject_only ? "admin" : "truncate"));
	json_object_object_add(d.out, "mountpoint", json_object_new_string(d.mnt));
	json_object_object_add(d.out, "region", json_object_new_string(d.region));
	drill_put_int(&d, "clients", d.n);
	drill_put_int(&d, "leases_per_client", d.k);
	drill_put_int(&d, "writers", d.w);
	drill_put_int(&d, "deadline_ms", d.deadline_ms);
	drill_put_int(&d, "daemon_pid", d.dpid);
	json_object_object_add(d.out, "checks", d.checks);
	run(&d);
	json_object_object_add(d.out, "ok", json_object_new_boolean(!d.nfail));
	print_report(&d);
	r = d.nfail ? 1 : 0;
	json_object_put(d.out);
	for (unsigned i = 0; i < d.n; i++) {
		free(d.wk[i].t_lost);
		free(d.wk[i].expect);
	}
	for (size_t i = 0; i < d.ndopts; i++)
		free(d.dopts[i]);
	free(d.dopts);
	free(d.wk);
	free(d.region);
	return fflush(stdout) ? 1 : r;
}
