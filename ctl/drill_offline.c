/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill --kind offline: a drill of the planned removal
 * (holdfsctl offline, docs/failure-model.md "Planned removal"), the steps
 * where it differs from a failure drill (drill_steps.c).
 *
 *   inject  ADMIN_OFFLINE with --deadline-ms as the notice's deadline,
 *           sent from a thread: the request blocks until the leases are
 *           gone, and meanwhile the workers' messages must be read (a
 *           full pipe would stall a client's offline handler past the
 *           deadline and get it killed)
 *   settle  the daemon's report, then its exit (pidfd), both bounded
 *   tally   checks "offline" (the report came), "notice" (every client
 *           had its OFFLINE_NOTICE before its mappings went), "released"
 *           (the clients that let go were neither revoked nor killed),
 *           "stubborn" (with --stubborn: the holders that kept their
 *           leases and did not ACK the revoke were killed), "writers",
 *           "no hung operations", "daemon exit" (gone, the mount with
 *           it, and the region marked clean)
 *
 * The daemon is not the drill's child, so its exit status cannot be read
 * here; the clean flag is written only by its orderly exit path (the one
 * that exits 0), so that is what "daemon exit" checks.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "media.h"

#include "conn.h"
#include "drill.h"
#include "json_print.h"

/* Beyond the notice's deadline: the revocation round (revoke_ms, the
 * kill and the holder's exit) and the drain, with room to spare (as
 * holdfsctl offline). */
#define OFF_REPLY_SLACK_MS 30000

struct drill_off {
	pthread_t thread;
	bool started;
	atomic_bool done;
	char *txt;                 /* the reply, or NULL (printed) */
	const char *mnt;
	unsigned deadline_ms;
};

static void *offline_thread(void *arg)
{
	struct drill_off *o = arg;
	struct hfs_msg_offline m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				       HFS_MSG_ADMIN_OFFLINE, sizeof(m), 0, 1 },
				     o->deadline_ms, 0 };

	o->txt = ctl_query_mnt(o->mnt, &m, sizeof(m));
	atomic_store(&o->done, true);
	return NULL;
}

int drill_offline_inject(struct drill *d)
{
	struct drill_off *o = calloc(1, sizeof(*o));

	if (!o) {
		drill_check(d, "inject", false, "out of memory");
		return DRILL_STOP;
	}
	d->off = o;
	o->mnt = d->mnt;
	o->deadline_ms = d->deadline_ms;
	ctl_set_timeout((int)d->deadline_ms + OFF_REPLY_SLACK_MS);
	d->t_inj = now_ns();
	if (pthread_create(&o->thread, NULL, offline_thread, o)) {
		drill_check(d, "inject", false, "cannot start the thread of "
			    "the offline request");
		return DRILL_STOP;
	}
	o->started = true;
	return DRILL_NEXT;
}

/* Read the workers' messages until the daemon (pidfd) is gone or ms
 * passed; whether it went. */
static bool pump_until_gone(struct drill *d, int pidfd, int wait_ms)
{
	uint64_t until = now_ns() + (uint64_t)wait_ms * 1000000ull;
	struct pollfd p = { pidfd, POLLIN, 0 };

	while (now_ns() < until) {
		if (poll(&p, 1, 0) == 1) {
			d->t_gone = now_ns();
			return true;
		}
		drill_pump(d, 5);
	}
	return false;
}

int drill_offline_settle(struct drill *d)
{
	struct drill_off *o = d->off;
	uint64_t until = d->t_inj + ((uint64_t)d->deadline_ms +
				     OFF_REPLY_SLACK_MS + 1000) * 1000000ull;
	int pidfd = (int)syscall(SYS_pidfd_open, d->dpid, 0);

	while (!atomic_load(&o->done) && now_ns() < until)
		drill_pump(d, 5);
	if (atomic_load(&o->done)) {
		pthread_join(o->thread, NULL);
		o->started = false;
		d->t_reply = now_ns();
		d->offrep = o->txt ? ctl_parse_reply(o->txt) : NULL;
		o->txt = NULL;   /* ctl_parse_reply took it */
	}
	if (pidfd >= 0) {
		pump_until_gone(d, pidfd, DRILL_DAEMON_EXIT_MS);
		close(pidfd);
	} else if (errno == ESRCH) {
		d->t_gone = now_ns();
	}
	/* the writers see the daemon go: a last look at them */
	drill_pump(d, 50);
	return DRILL_NEXT;
}

/* ------------------------------------------------------------- tally */

/* When client w's mappings went first: released, revoked, SIGBUS or
 * killed (0: never). */
static uint64_t t_went(const struct worker *w)
{
	uint64_t t[] = { w->t_released, w->t_revoked, w->t_sigbus,
			 w->killed ? w->t_exit : 0 };
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] && (!m || t[i] < m))
			m = t[i];
	return m;
}

struct otally {
	unsigned no_notice, late_notice, bad_release, alive_stubborn;
	unsigned notified, released, killed, hung, writer_early;
	unsigned writer_err;
};

static void tally_client(const struct worker *w, struct otally *t)
{
	uint64_t went = t_went(w);

	t->notified += w->t_notice != 0;
	t->no_notice += !w->t_notice;
	t->late_notice += w->t_notice && went && went < w->t_notice;
	t->killed += w->killed;
	if (w->stubborn) {
		t->alive_stubborn += !w->killed;
		return;
	}
	t->released += w->t_released != 0;
	t->bad_release += !w->t_released || w->t_revoked || w->killed ||
			  w->t_sigbus;
}

static void tally_workers(struct drill *d, struct otally *t)
{
	for (unsigned i = 0; i < nworkers(d); i++) {
		struct worker *w = &d->wk[i];

		if (!drill_worker_settled(d, w, false)) {
			t->hung++;
			json_object_array_add(d->hung, ctl_hung_json(w->writer,
				(int)(w->writer ? i - d->n : i), w->pid));
		}
		if (!w->writer) {
			tally_client(w, t);
		} else if (w->t_err) {
			t->writer_err++;
			t->writer_early += w->t_err < d->t_inj;
		}
	}
}

/* The region's superblock (read as fsck does: a file or device-dax,
 * checksummed, the backup if the primary is bad) says it was closed
 * clean. */
static bool region_clean(const struct drill *d)
{
	struct hfs_region_opts ro = { .readonly = true, .no_lock = true };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	bool backup;
	int r = hfs_region_open(d->region, &ro, &rg, &err);

	if (!r)
		r = hfs_super_read(rg, false, &sb, &backup, &err);
	if (rg)
		hfs_region_close(rg);
	if (r < 0)
		fprintf(stderr, "%s: %s: %s\n", DPROG, d->region, err.code
			? err.msg : strerror(-r));
	return !r && (le32toh(sb.s_state) & HFS_STATE_CLEAN);
}

/* The daemon's phases, one line (human report). */
static void note_phases(struct drill *d, json_object *ph)
{
	static const char *const names[] = {
		"refuse", "notify", "wait_clients", "revoke", "drain", "health",
		"daemon_total",
	};

	if (!ph)
		return;
	drill_note(d, "daemon phases:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		drill_note(d, " %s %.3f ms%s", names[i], jdouble(ph, names[i]),
			   i + 1 < sizeof(names) / sizeof(names[0]) ? "," : "");
	drill_note(d, "; report to daemon gone %.3f ms\n",
		   ms(d->t_reply, d->t_gone));
}

static void report_offline(struct drill *d, const struct otally *t)
{
	json_object *r = d->offrep;

	json_object_object_add(d->out, "offline_report", json_object_get(r));
	json_object_object_add(d->out, "offline_phases_ms",
			       json_object_get(jget(r, "phases_ms")));
	drill_put_num(d, "all_holders_lost_ms", ms(d->t_inj, d->t_reply));
	drill_put_num(d, "offline_reply_ms", d->t_reply
		      ? ms(d->t_inj, d->t_reply) : -1);
	drill_put_num(d, "daemon_gone_ms", d->t_gone
		      ? ms(d->t_inj, d->t_gone) : -1);
	drill_put_int(d, "clients_notified", t->notified);
	drill_put_int(d, "clients_released", t->released);
	drill_put_int(d, "clients_killed", t->killed);
	drill_put_int(d, "stubborn", d->stubborn);
	drill_put_int(d, "writers_error", t->writer_err);
	drill_note(d, "offline: report after %.3f ms (%llu lease(s): %llu "
		   "released, %llu revoked, %llu killed), daemon gone after "
		   "%.3f ms\n", ms(d->t_inj, d->t_reply),
		   (unsigned long long)ju64(r, "leases"),
		   (unsigned long long)ju64(r, "released_by_holders"),
		   (unsigned long long)ju64(r, "revoked"),
		   (unsigned long long)ju64(r, "killed"),
		   ms(d->t_inj, d->t_gone));
	drill_note(d, "clients: %u notified, %u released, %u killed\n",
		   t->notified, t->released, t->killed);
	note_phases(d, jget(r, "phases_ms"));
}

/* The daemon's report against the drill's own view. */
static void check_report(struct drill *d, const struct otally *t)
{
	json_object *r = d->offrep;
	uint64_t nlet = (uint64_t)(d->n - d->stubborn) * d->k;
	bool ok;

	drill_check(d, "offline", r != NULL, r ? "report after %.3f ms: "
		    "%llu lease(s) of %llu holder(s), %llu notified"
		    : "no report from the daemon (%.3f ms)",
		    ms(d->t_inj, d->t_reply),
		    (unsigned long long)ju64(r, "leases"),
		    (unsigned long long)ju64(r, "holders"),
		    (unsigned long long)ju64(r, "clients_notified"));
	ok = !t->no_notice && !t->late_notice &&
	     ju64(r, "clients_notified") >= d->n;
	drill_check(d, "notice", ok, "%u of %u clients had the notice, %u "
		    "after a mapping went; the daemon notified %llu", t->notified,
		    d->n, t->late_notice,
		    (unsigned long long)ju64(r, "clients_notified"));
	ok = !t->bad_release && ju64(r, "released_by_holders") >= nlet;
	drill_check(d, "released", ok, "%u of %u clients let go in time, "
		    "%u revoked, killed or faulted; the daemon counted %llu "
		    "lease(s) released", t->released, d->n - d->stubborn,
		    t->bad_release,
		    (unsigned long long)ju64(r, "released_by_holders"));
	if (d->stubborn)
		drill_check(d, "stubborn", !t->alive_stubborn &&
			    ju64(r, "killed") >= d->stubborn, "%u of %u "
			    "stubborn clients still alive; the daemon killed "
			    "%llu", t->alive_stubborn, d->stubborn,
			    (unsigned long long)ju64(r, "killed"));
}

int drill_offline_tally(struct drill *d)
{
	struct otally t = { 0 };
	bool gone = d->t_gone != 0, clean;

	tally_workers(d, &t);
	report_offline(d, &t);
	check_report(d, &t);
	drill_check(d, "writers", !t.writer_early, "%u writer%s failed "
		    "before the request; %u saw an error once the daemon "
		    "went", t.writer_early, t.writer_early == 1 ? "" : "s",
		    t.writer_err);
	drill_check(d, "no hung operations", !t.hung, "%u worker%s silent "
		    "after the request", t.hung, t.hung == 1 ? "" : "s");
	clean = gone && region_clean(d);
	drill_check(d, "daemon exit", gone && clean &&
		    !drill_mounted(d->mnt), "daemon %s, mount %s, region %s",
		    gone ? "exited" : "STILL RUNNING",
		    drill_mounted(d->mnt) ? "still there" : "gone",
		    clean ? "clean" : "NOT marked clean");
	return gone ? DRILL_NEXT : DRILL_STOP;
}

void drill_offline_free(struct drill *d)
{
	struct drill_off *o = d->off;

	if (!o)
		return;
	if (o->started)   /* bounded by the request's timeout */
		pthread_join(o->thread, NULL);
	free(o->txt);
	free(o);
	json_object_put(d->offrep);
}
