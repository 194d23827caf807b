/* SPDX-License-Identifier: MIT */
/*
 * The steps of a drill, in the order of the table in drill.c.  Each works
 * on the shared struct drill and returns DRILL_NEXT, or DRILL_STOP to end
 * the drill there (the loop then stops the workers if they still run);
 * the checks they record make the report.
 *
 *   setup    the drill directory and its pattern files
 *   spawn    the clients and writers, until all are ready (20 s)
 *   expect   which client leases the failure must take; check "setup"
 *   inject   truncate the region file, or ADMIN_INJECT; poison: simulate
 *            poison under client 0's first block, then SIGUSR1 makes
 *            that client touch it (the machine check's SIGBUS)
 *   settle   wait for every worker's reaction (or the deadline), then for
 *            the daemon's outcome (d->st)
 *   tally    the figures of the report; checks "state" (shutdown;
 *            degraded, or ok for a range of free space), "holders",
 *            "unaffected leases", "writers", "no hung operations"
 *   stop     the workers
 *   unmount  check "unmount"; the daemon must exit
 *   (offline drills: inject, settle and tally of drill_offline.c, and
 *   no unmount: the daemon unmounts itself)
 *   range, poison and offline drills:
 *   fsck     fsck.holdfs -n -f; check "fsck"
 *   remount  the daemon's binary and options; check "remount"
 *   verify   unaffected files byte for byte, the lost block reads EIO;
 *            checks "verify", "lost range"
 *   cleanup  remove the drill directory (not with --keep)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "conn.h"
#include "drill.h"
#include "json_print.h"

/* Path of untouched file i. */
static void static_path(const struct drill *d, unsigned i, char *buf,
			size_t n)
{
	snprintf(buf, n, "%s/u%u", d->dir, i);
}

/* The daemon's status lists path's inode among the files with lost data. */
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

/* ------------------------------------------------------------- setup */

/* Name worker i's file and write its pattern: clients K leases of lsz
 * (FSIZE rounded up to the allocation unit, as the client maps them),
 * writers FSIZE; 0 or -errno. */
static int worker_file(struct drill *d, unsigned i)
{
	struct worker *w = &d->wk[i];

	w->writer = i >= d->n;
	w->stubborn = d->offline && !w->writer && i >= d->n - d->stubborn;
	w->seed = 1000 + i;
	snprintf(w->path, sizeof(w->path), "%s/%c%u", d->dir,
		 w->writer ? 'w' : 'c', w->writer ? i - d->n : i);
	return drill_write_pattern(w->path, w->writer ? FSIZE
				   : (size_t)d->lsz * d->k, w->seed);
}

int drill_setup(struct drill *d)
{
	char tmp[PATH_MAX + 32];

	snprintf(d->dir, sizeof(d->dir), "%s/holdfs-drill.%d", d->mnt,
		 (int)getpid());
	if (mkdir(d->dir, 0755) < 0) {
		drill_check(d, "setup", false, "mkdir %s: %s", d->dir,
			    strerror(errno));
		return DRILL_STOP;
	}
	for (unsigned i = 0; i < nworkers(d); i++) {
		int r = worker_file(d, i);

		if (r < 0) {
			drill_check(d, "setup", false, "write %s: %s",
				    d->wk[i].path, strerror(-r));
			return DRILL_STOP;
		}
	}
	for (unsigned i = 0; i < NSTATIC; i++) {
		static_path(d, i, tmp, sizeof(tmp));
		if (drill_write_pattern(tmp, FSIZE, 3000 + i) < 0) {
			drill_check(d, "setup", false, "write %s", tmp);
			return DRILL_STOP;
		}
	}
	return DRILL_NEXT;
}

/* ------------------------------------------------------------- spawn */

/* Every worker ready within DRILL_READY_MS (a fatal error or an early
 * exit ends the wait); else a failed "setup" check for each one that is
 * not. */
static bool wait_ready(struct drill *d)
{
	uint64_t until = now_ns() + DRILL_READY_MS * 1000000ull;
	unsigned nready = 0, nw = nworkers(d);

	while (nready < nw && now_ns() < until) {
		drill_pump(d, 50);
		nready = 0;
		for (unsigned i = 0; i < nw; i++) {
			struct worker *w = &d->wk[i];

			if (w->fatal || (w->exited && !w->ready))
				until = 0;
			nready += w->ready;
		}
	}
	if (nready == nw)
		return true;
	for (unsigned i = 0; i < nw; i++) {
		struct worker *w = &d->wk[i];

		if (!w->ready)
			drill_check(d, "setup", false, "%s %u not ready (%s)",
				    w->writer ? "writer" : "client", i,
				    w->fatal ? strerror(w->fatal_err)
				    : "no lease within 20 s");
	}
	return false;
}

int drill_spawn(struct drill *d)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return DRILL_STOP;
	d->rfd = pfd[0];
	for (unsigned i = 0; i < nworkers(d); i++) {
		d->wk[i].pid = drill_fork_worker(d, i, pfd[1]);
		if (d->wk[i].pid < 0) {
			drill_check(d, "setup", false, "fork: %s",
				    strerror(errno));
			close(pfd[1]);
			return DRILL_STOP;
		}
	}
	close(pfd[1]);
	fcntl(d->rfd, F_SETFL, O_NONBLOCK);
	d->running = true;
	return wait_ready(d) ? DRILL_NEXT : DRILL_STOP;
}

/* ------------------------------------------------------------ expect */

/* The default range: the first block of client 0's first lease, from its
 * mapped extent at file offset 0. */
static void pick_default_range(struct drill *d, json_object *ls)
{
	for (size_t i = 0; i < jlen(ls); i++) {
		json_object *l = json_object_array_get_idx(ls, i);
		json_object *ex = jget(l, "extents");

		if ((pid_t)ju64(l, "pid") != d->wk[0].pid || ju64(l, "offset"))
			continue;
		for (size_t j = 0; j < jlen(ex); j++) {
			json_object *e = json_object_array_get_idx(ex, j);

			if (!strcmp(jstr(e, "state"), "mapped") &&
			    ju64(e, "file_off") == 0) {
				d->roff = ju64(e, "region_off");
				d->rlen = HFS_BLOCK_SIZE;
				d->have_range = true;
			}
		}
	}
}

/* Mark the client leases of lease document l expected to be lost (a
 * mapped extent overlaps [roff, roff+rlen)); how many newly marked. */
static unsigned mark_lease(struct drill *d, json_object *l)
{
	json_object *ex = jget(l, "extents");
	pid_t pid = (pid_t)ju64(l, "pid");
	unsigned n = 0;

	for (size_t j = 0; j < jlen(ex); j++) {
		json_object *e = json_object_array_get_idx(ex, j);
		uint64_t ro = ju64(e, "region_off"), el = ju64(e, "len");

		if (strcmp(jstr(e, "state"), "mapped") ||
		    ro >= d->roff + d->rlen || ro + el <= d->roff)
			continue;
		for (unsigned c = 0; c < d->n; c++) {
			uint64_t li = ju64(l, "offset") / d->lsz;

			if (c && d->poison && ju64(l, "ino") == d->c0_ino)
				li = d->k;   /* the shared lease */
			if (d->wk[c].pid == pid && li < nleases(d, c) &&
			    !d->wk[c].expect[li]) {
				d->wk[c].expect[li] = true;
				n++;
			}
		}
	}
	return n;
}

/* Which client leases map [roff, roff+rlen)?  From ADMIN_LEASES. */
static unsigned mark_expected(struct drill *d, bool pick_default)
{
	struct hfs_msg_hdr h = { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				 HFS_MSG_ADMIN_LEASES, sizeof(h), 0, 1 };
	json_object *doc = ctl_parse_reply(ctl_query_mnt(d->mnt, &h,
							  sizeof(h))), *ls;
	unsigned n = 0;

	d->leases_read = doc != NULL;
	ls = jget(doc, "leases");
	if (pick_default)
		pick_default_range(d, ls);
	for (size_t i = 0; d->have_range && i < jlen(ls); i++)
		n += mark_lease(d, json_object_array_get_idx(ls, i));
	json_object_put(doc);
	return n;
}

/* A whole-device failure takes every lease of every client. */
static unsigned expect_all(struct drill *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->n; i++)
		for (unsigned j = 0; j < d->k; j++, n++)
			d->wk[i].expect[j] = true;
	return n;
}

int drill_expect(struct drill *d)
{
	struct stat sb;

	if (d->poison && stat(d->wk[0].path, &sb) == 0)
		d->c0_ino = sb.st_ino;
	d->nexp = d->range ? mark_expected(d, !d->have_range) : expect_all(d);
	if (d->range && !d->leases_read) {
		drill_check(d, "setup", false, "cannot read the daemon's "
			    "leases (ADMIN_LEASES)");
		return DRILL_STOP;
	}
	if (d->range && !d->have_range) {
		drill_check(d, "setup", false,
			    "no mapped extent of client 0's lease");
		return DRILL_STOP;
	}
	if (d->range) {
		int own = drill_range_owned(d);

		if (own < 0) {
			drill_check(d, "setup", false, "cannot read the "
				    "holders of the range (ADMIN_HOLDERS)");
			return DRILL_STOP;
		}
		d->range_data = own;
	}
	drill_check(d, "setup", true, "%u clients x %u leases, %u writers, "
		    "%u files", d->n, d->k, d->w, nworkers(d) + NSTATIC);
	json_object_object_add(d->out, "inject_offset",
			       json_object_new_uint64(d->roff));
	json_object_object_add(d->out, "inject_length",
			       json_object_new_uint64(d->rlen));
	drill_put_int(d, "expected_lost_leases", d->nexp);
	drill_note(d, "%s: %s of %s%s on %s\n  %u clients x %u "
		   "leases, %u writers, deadline %u ms, %u lease%s expected to "
		   "be lost\n", DPROG, d->offline ? "planned removal (offline)"
		   : d->poison ? "client-reported poison failure"
		   : d->range ? "range failure" : "whole-device failure",
		   d->region, d->range || d->offline ? "" : d->inject_only
		   ? " (injected)"
		   : " (truncated to 0)", d->mnt, d->n, d->k, d->w,
		   d->deadline_ms, d->nexp, d->nexp == 1 ? "" : "s");
	if (d->stubborn)
		drill_note(d, "  %u stubborn client%s: stopped (SIGSTOP) on "
			   "the notice, no release, no ACK\n", d->stubborn,
			   d->stubborn == 1 ? "" : "s");
	if (d->range)
		drill_note(d, "  failing region bytes %#" PRIx64 "+%#" PRIx64
			   "\n", d->roff, d->rlen);
	drill_pump(d, 100); /* let everyone settle into the loop */
	return DRILL_NEXT;
}

/* ------------------------------------------------------------ inject */

/* The real whole-device event for a region file: truncate it to 0. */
static int truncate_region(struct drill *d)
{
	struct stat st;

	if (stat(d->region, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s is not a region file (device-dax?): "
			"a real whole-device drill needs the device removed; "
			"use --inject-only\n", DPROG, d->region);
		return -1;
	}
	d->t_inj = now_ns();
	if (truncate(d->region, 0) < 0) {
		fprintf(stderr, "%s: truncate %s: %s\n", DPROG, d->region,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* ADMIN_INJECT: a media error on the range, or a whole-device loss. */
static int inject_admin(struct drill *d)
{
	struct hfs_msg_inject m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_INJECT, sizeof(m), 0, 1 },
				    d->roff, d->rlen, HFS_FAIL_MEDIA, 0 };
	char *txt;
	int fd;

	if (!d->range) {
		m.flags = HFS_FAIL_WHOLE_DEVICE | HFS_FAIL_PRE_REMOVE;
		m.offset = m.length = 0;
	}
	fd = ctl_connect(d->mnt);
	if (fd < 0)
		return -1;
	d->t_inj = now_ns();
	txt = ctl_query(fd, &m, sizeof(m));
	close(fd);
	if (!txt)
		return -1;
	free(txt);
	return 0;
}

/* Poison seen first by client 0: the daemon's guarded reads of the
 * range fail as poisoned media from now on (simulated: this kernel may
 * not poison memory), then the client touches it and gets the machine
 * check's SIGBUS (drill_worker.c); libholdfs reports it, the daemon
 * confirms it with its own read and fails the range. */
static int inject_poison(struct drill *d)
{
	struct hfs_msg_inject m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_INJECT, sizeof(m), 0, 1 },
				    d->roff, d->rlen, HFS_FAIL_SIMULATE_POISON,
				    0 };
	char *txt = ctl_query_mnt(d->mnt, &m, sizeof(m));

	if (!txt)
		return -1;
	free(txt);
	d->t_inj = now_ns();
	if (kill(d->wk[0].pid, SIGUSR1) < 0) {
		fprintf(stderr, "%s: client 0 (pid %d): %s\n", DPROG,
			(int)d->wk[0].pid, strerror(errno));
		return -1;
	}
	return 0;
}

int drill_inject(struct drill *d)
{
	int r = d->poison ? inject_poison(d) : !d->range && !d->inject_only
		? truncate_region(d) : inject_admin(d);

	if (r < 0) {
		drill_check(d, "inject", false,
			    "the failure could not be injected");
		return DRILL_STOP;
	}
	return DRILL_NEXT;
}

/* ------------------------------------------------------------ settle */

/* The daemon's status once its last event has an outcome (or after 200
 * tries); NULL if it could not be had. */
static json_object *wait_outcome(struct drill *d)
{
	json_object *st = NULL;

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
	return st;
}

int drill_settle(struct drill *d)
{
	uint64_t until = d->t_inj + (uint64_t)d->deadline_ms * 1000000ull;

	for (;;) {
		bool all = true;

		drill_pump(d, 2);
		for (unsigned i = 0; i < nworkers(d) && all; i++)
			all = drill_worker_settled(d, &d->wk[i], false);
		if (all || now_ns() > until)
			break;
	}
	/* the daemon's view; an affected writer file may legitimately EIO */
	d->st = wait_outcome(d);
	if (d->range)
		for (unsigned i = d->n; i < nworkers(d); i++)
			if (!drill_worker_settled(d, &d->wk[i],
					in_affected(d->st, d->wk[i].path)))
				drill_pump(d, 0);
	return DRILL_NEXT;
}

/* ------------------------------------------------------------- tally */

struct tally {
	unsigned hung, notified, killed, sigbus, eio, bad_writers;
	unsigned acked, rk;        /* leases the daemon revoked: acked/killed */
	uint64_t t_all;            /* every expected lease lost */
	uint64_t t_first_eio, t_last_eio;
	double ph_revoke, ph_total;
};

static void tally_client(struct drill *d, struct worker *w, struct tally *t)
{
	uint64_t lost = drill_client_lost(d, w);

	if (lost > t->t_all)
		t->t_all = lost;
	t->notified += w->nrev > 0;
	t->killed += w->killed;
	t->sigbus += w->nbus > 0;
}

/* A whole-device drill's writers and the affected ones of a range drill
 * must get EIO; the others no error at all. */
static void tally_writer(struct drill *d, struct worker *w, bool aff,
			 struct tally *t)
{
	if (w->t_err) {
		if (w->err == EIO)
			t->eio++;
		if (!t->t_first_eio || w->t_err < t->t_first_eio)
			t->t_first_eio = w->t_err;
		if (w->t_err > t->t_last_eio)
			t->t_last_eio = w->t_err;
		if (w->err != EIO || (d->range && !aff))
			t->bad_writers++;
	} else if (!d->range || aff) {
		t->bad_writers++;
	}
}

static void tally_workers(struct drill *d, struct tally *t)
{
	for (unsigned i = 0; i < nworkers(d); i++) {
		struct worker *w = &d->wk[i];
		bool aff = w->writer && d->range && in_affected(d->st, w->path);

		if (!drill_worker_settled(d, w, aff)) {
			t->hung++;
			json_object_array_add(d->hung, ctl_hung_json(w->writer,
				(int)(w->writer ? i - d->n : i), w->pid));
		}
		if (!w->writer)
			tally_client(d, w, t);
		else
			tally_writer(d, w, aff, t);
	}
}

/* The daemon's phase times and revoked leases, from its status. */
static void tally_daemon(struct drill *d, struct tally *t)
{
	json_object *ph = jget(d->st, "phases"), *rv = jget(d->st, "revoked");

	for (size_t i = 0; i < jlen(ph); i++) {
		json_object *p = json_object_array_get_idx(ph, i);
		double v = jdouble(p, "ms");

		t->ph_total += v;
		if (!strcmp(jstr(p, "phase"), "revoke"))
			t->ph_revoke = v;
	}
	for (size_t i = 0; i < jlen(rv); i++) {
		if (!strcmp(jstr(json_object_array_get_idx(rv, i), "outcome"),
			    "killed"))
			t->rk++;
		else
			t->acked++;
	}
}

static void report_tally(struct drill *d, const struct tally *t)
{
	json_object_object_add(d->out, "daemon_status", json_object_get(d->st));
	drill_put_num(d, "all_holders_lost_ms", ms(d->t_inj, t->t_all));
	drill_put_num(d, "daemon_revoke_ms", t->ph_revoke);
	drill_put_num(d, "daemon_phases_ms", t->ph_total);
	drill_put_int(d, "clients_notified", t->notified);
	drill_put_int(d, "clients_killed", t->killed);
	drill_put_int(d, "clients_sigbus", t->sigbus);
	drill_put_int(d, "writers_eio", t->eio);
	drill_put_num(d, "first_eio_ms", t->t_first_eio
		      ? ms(d->t_inj, t->t_first_eio) : -1);
	drill_put_num(d, "last_eio_ms", t->t_last_eio
		      ? ms(d->t_inj, t->t_last_eio) : -1);
	drill_put_int(d, "leases_revoked_acked", t->acked);
	drill_put_int(d, "leases_revoked_killed", t->rk);
}

static void note_tally(struct drill *d, const struct tally *t)
{
	drill_note(d, "injection -> every affected holder revoked or killed: "
		   "%.3f ms (daemon: %u lease%s acked, %u killed; revoke "
		   "phase %.3f ms, all phases %.3f ms)\n",
		   ms(d->t_inj, t->t_all), t->acked, t->acked == 1 ? "" : "s",
		   t->rk, t->ph_revoke, t->ph_total);
	drill_note(d, "clients: %u notified, %u killed, %u saw SIGBUS\n",
		   t->notified, t->killed, t->sigbus);
	if (d->w)
		drill_note(d, "writers: %u of %u got EIO%s", t->eio, d->w,
			   t->t_first_eio ? "" : "\n");
	if (d->w && t->t_first_eio)
		drill_note(d, ", first after %.3f ms, last after %.3f ms\n",
			   ms(d->t_inj, t->t_first_eio),
			   ms(d->t_inj, t->t_last_eio));
}

/* Client leases outside the range that lost access anyway. */
static unsigned unexpected_losses(struct drill *d)
{
	unsigned extra = 0;

	for (unsigned i = 0; i < d->n; i++)
		for (unsigned j = 0; j < nleases(d, i); j++)
			extra += d->wk[i].t_lost[j] && !d->wk[i].expect[j];
	return extra;
}

static void check_tally(struct drill *d, const struct tally *t)
{
	const char *state = jstr(d->st, "state");
	unsigned extra, bad = t->bad_writers, nexp = d->nexp;
	bool ok;

	/* a range of free space only joins the bad list: nothing lost */
	ok = !strcmp(state, !d->range ? "shutdown" : d->range_data ?
		     "degraded" : "ok");
	drill_check(d, "state", ok, "%s", *state ? state
		    : "no status from the daemon");
	/* a truncated region file SIGBUSes the clients' own region
	 * mappings before the daemon revokes: loss counts, from
	 * either path; a range drill must go through the daemon */
	ok = t->t_all && ms(d->t_inj, t->t_all) <= d->deadline_ms &&
	     (!d->range || t->acked + t->rk >= nexp);
	drill_check(d, "holders", ok, "%u expected lease%s lost in %.3f ms; "
		    "daemon revoked %u (%u acked, %u killed)", nexp,
		    nexp == 1 ? "" : "s", ms(d->t_inj, t->t_all),
		    t->acked + t->rk, t->acked, t->rk);
	if (d->range) {
		extra = unexpected_losses(d);
		drill_check(d, "unaffected leases", !extra, "%u lease%s "
			    "outside the range lost access", extra,
			    extra == 1 ? "" : "s");
	}
	drill_check(d, "writers", !bad, d->range ? "%u writer%s failed or "
		    "stalled" : "%u writer%s without EIO", bad,
		    bad == 1 ? "" : "s");
	drill_check(d, "no hung operations", !t->hung, "%u worker%s silent "
		    "%u ms after the injection", t->hung,
		    t->hung == 1 ? "" : "s", d->deadline_ms);
}

int drill_tally(struct drill *d)
{
	struct tally t = { 0 };

	tally_workers(d, &t);
	tally_daemon(d, &t);
	report_tally(d, &t);
	note_tally(d, &t);
	check_tally(d, &t);
	return DRILL_NEXT;
}

int drill_stop(struct drill *d)
{
	drill_stop_workers(d);
	return DRILL_NEXT;
}

/* ----------------------------------------------------------- unmount */

int drill_unmount(struct drill *d)
{
	uint64_t t0 = now_ns(), t1;
	bool gone;
	int r = umount2(d->mnt, 0);

	d->t_umount = t0;
	if (r < 0 && errno == EPERM) {
		char *av[] = { "fusermount3", "-u", (char *)d->mnt, NULL };

		r = drill_run_cmd(av, false) ? -1 : 0;
	}
	t1 = now_ns();
	gone = drill_wait_gone(d->dpid, DRILL_DAEMON_EXIT_MS);
	if (gone)
		d->t_gone = now_ns();
	drill_put_num(d, "unmount_ms", ms(t0, t1));
	if (gone)
		drill_note(d, "unmount: %.3f ms; daemon exited\n", ms(t0, t1));
	else
		drill_note(d, "unmount: %.3f ms; daemon STILL RUNNING after "
			   "%u s\n", ms(t0, t1), DRILL_DAEMON_EXIT_MS / 1000);
	drill_check(d, "unmount", r == 0 && gone && !drill_mounted(d->mnt) &&
		    ms(t0, t1) <= d->deadline_ms, "%s in %.3f ms, daemon %s",
		    r == 0 ? "unmounted" : strerror(errno), ms(t0, t1),
		    gone ? "exited" : "still running");
	return r < 0 || !gone ? DRILL_STOP : DRILL_NEXT;
}

/* ---------------------------------------------------- fsck, remount */

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

int drill_fsck(struct drill *d)
{
	char fsck[PATH_MAX + 32];
	char *av[] = { fsck, "-n", "-f", d->region, NULL };
	int r;

	find_fsck(d, fsck, sizeof(fsck));
	r = drill_run_cmd(av, d->json);
	drill_put_int(d, "fsck_exit", r);
	drill_check(d, "fsck", r == 0, "%s -n -f: exit %d", fsck, r);
	return DRILL_NEXT;
}

int drill_remount(struct drill *d)
{
	int r = drill_remount_cmd(d);

	drill_check(d, "remount", r == 0 && drill_mounted(d->mnt),
		    "%s: exit %d", d->exe, r);
	return r || !drill_mounted(d->mnt) ? DRILL_STOP : DRILL_NEXT;
}

/* ------------------------------------------------------------ verify */

enum { V_SKIPPED, V_GOOD, V_BAD };

/* Drill file i (the workers' files, then the untouched ones) against its
 * pattern, unless the daemon lists it as affected; a mismatch is added to
 * mm. */
static int verify_file(struct drill *d, unsigned i, json_object *mm)
{
	char tmp[PATH_MAX + 32];
	const char *p = tmp;
	size_t size = FSIZE;
	unsigned seed = 3000 + i - nworkers(d);

	if (i < nworkers(d)) {
		p = d->wk[i].path;
		seed = d->wk[i].seed;
		if (!d->wk[i].writer)
			size = (size_t)d->lsz * d->k;
	} else {
		static_path(d, i - nworkers(d), tmp, sizeof(tmp));
	}
	if (in_affected(d->st, p))
		return V_SKIPPED;
	if (drill_verify_pattern(p, size, seed)) {
		json_object_array_add(mm, json_object_new_string(p));
		return V_BAD;
	}
	return V_GOOD;
}

/* The default target: its failed block reads EIO, if it is affected. */
static bool lost_range_ok(struct drill *d)
{
	bool lost_ok = true;

	if (!d->have_range || d->n) {
		int fd = open(d->wk[0].path, O_RDONLY | O_CLOEXEC);
		char b[HFS_BLOCK_SIZE];

		if (in_affected(d->st, d->wk[0].path) && fd >= 0)
			lost_ok = pread(fd, b, sizeof(b), 0) < 0 &&
				  errno == EIO;
		if (fd >= 0)
			close(fd);
	}
	return lost_ok;
}

int drill_verify(struct drill *d)
{
	unsigned n[3] = { 0 };
	json_object *mm = json_object_new_array();
	bool lost_ok, all;

	json_object_object_add(d->out, "mismatched_files", mm);
	for (unsigned i = 0; i < nworkers(d) + NSTATIC; i++)
		n[verify_file(d, i, mm)]++;
	lost_ok = lost_range_ok(d);
	all = n[V_GOOD] == nworkers(d) + NSTATIC;
	drill_put_int(d, "verified_files", n[V_GOOD]);
	drill_put_int(d, "affected_files", n[V_SKIPPED]);
	drill_note(d, "verify: %u file%s byte-identical, %u mismatched, %u "
		   "affected (not compared)\n", n[V_GOOD],
		   n[V_GOOD] == 1 ? "" : "s", n[V_BAD], n[V_SKIPPED]);
	/* a planned removal loses nothing: every file reads back */
	drill_check(d, "verify", !n[V_BAD] && n[V_GOOD] && (all ||
		    !d->offline), "%u %sfiles identical, %u differ, %u not "
		    "compared", n[V_GOOD], d->offline ? "" : "unaffected ",
		    n[V_BAD], n[V_SKIPPED]);
	if (!d->offline)
		drill_check(d, "lost range", lost_ok, "reads of the failed "
			    "block %s", lost_ok ? "return EIO (or not in a "
			    "file)" : "did not return EIO");
	return DRILL_NEXT;
}

int drill_cleanup(struct drill *d)
{
	char tmp[PATH_MAX + 32];

	if (d->keep)
		return DRILL_NEXT;
	for (unsigned i = 0; i < nworkers(d); i++)
		unlink(d->wk[i].path);
	for (unsigned i = 0; i < NSTATIC; i++) {
		static_path(d, i, tmp, sizeof(tmp));
		unlink(tmp);
	}
	rmdir(d->dir);
	return DRILL_NEXT;
}
