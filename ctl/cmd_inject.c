/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl inject --whole-device | --range OFF,LEN [--media] |
 * --device N [--json] MOUNTPOINT: feed the failure pipeline as a drill
 * would (ADMIN_INJECT, --device N: device N of a volume of several gone;
 * docs/failure-model.md), then wait for the new event's outcome and print
 * it (--json: the whole event).  --range OFF,LEN --simulate-poison: only
 * make the daemon's accesses of the range fail as poisoned media.
 * --range OFF,LEN --sigbus-ao: the daemon sends itself the SIGBUS of an
 * action-optional machine check at OFF; the event is that signal's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "conn.h"
#include "holdfsctl.h"
#include "json_print.h"

#define POLL_US 10000
#define POLLS 3000              /* 30 s */

/* Number of failure events MNT's daemon has seen, or -1 (printed). */
static long count_events(const char *mnt)
{
	json_object *st = ctl_get_status(mnt);
	long n;

	if (!st)
		return -1;
	n = (long)jlen(jget(st, "events"));
	json_object_put(st);
	return n;
}

/* The event after the first `before` once it has an outcome: printed,
 * 1; still in progress or not there yet: 0; no status: -1 (printed). */
static int print_outcome(const char *mnt, size_t before, bool json)
{
	json_object *st = ctl_get_status(mnt), *ev, *e;
	size_t n;
	int done = 0;

	if (!st)
		return -1;
	ev = jget(st, "events");
	n = jlen(ev);
	e = n > before ? json_object_array_get_idx(ev, n - 1) : NULL;
	if (e && strcmp(jstr(e, "outcome"), "in progress")) {
		if (json)
			ctl_print_json(e);
		else
			printf("%s\n", jstr(e, "outcome"));
		done = 1;
	}
	json_object_put(st);
	return done;
}

/* Queue the injection, then wait (30 s) for its event to be handled. */
static int inject(const char *mnt, const struct hfs_msg_inject *m, bool json)
{
	long before = count_events(mnt);
	char *txt;

	if (before < 0)
		return 1;
	txt = ctl_query_mnt(mnt, m, sizeof(*m));
	if (!txt)
		return 1;
	free(txt);
	for (int i = 0; i < POLLS; i++) {
		int r = print_outcome(mnt, (size_t)before, json);

		if (r)
			return r < 0 ? 1 : 0;
		usleep(POLL_US);
	}
	fprintf(stderr, "%s: the injected failure was not handled within "
		"30 s\n", CTL_PROG);
	return 1;
}

/* --simulate-poison: no failure event; say what was set up. */
static int simulate(const char *mnt, struct hfs_msg_inject *m,
		    const struct ctl_args *a)
{
	char *txt;

	if (a->whole || a->media)
		return ctl_usage_error("--simulate-poison takes --range only");
	m->flags = HFS_FAIL_SIMULATE_POISON;
	txt = ctl_query_mnt(mnt, m, sizeof(*m));
	if (!txt)
		return 1;
	if (a->json)
		printf("%s\n", txt);
	else
		printf("simulated poison at region bytes %#llx+%#llx: the "
		       "daemon's accesses there fail as media errors\n",
		       (unsigned long long)a->off, (unsigned long long)a->len);
	free(txt);
	return 0;
}

int cmd_inject(int argc, char **argv)
{
	struct hfs_msg_inject m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_INJECT, sizeof(m), 0, 1 },
				    0, 0, 0, 0 };
	struct ctl_args a;
	int r = ctl_parse_args(argc, argv, CTL_OPT_RANGE | CTL_OPT_INJECT |
			       CTL_OPT_DEVICE, &a);

	if (r)
		return r < 0 ? 0 : r;
	if (a.whole + a.have_range + (a.device >= 0) != 1)
		return ctl_usage_error("inject needs one of --whole-device, "
				       "--range OFF,LEN, --device N");
	if (a.device >= 0) {
		if (a.media || a.simulate || a.sigbus_ao)
			return ctl_usage_error("--device takes no other option");
		m.offset = (uint64_t)a.device;
		m.flags = HFS_FAIL_DEVICE;
		return inject(a.target, &m, a.json);
	}
	m.offset = a.off;
	m.length = a.len;
	if (a.simulate)
		return simulate(a.target, &m, &a);
	if (a.sigbus_ao) {
		if (a.whole || a.media || !a.have_range)
			return ctl_usage_error("--sigbus-ao takes --range only");
		m.flags = HFS_FAIL_SIGBUS_AO;
		return inject(a.target, &m, a.json);
	}
	m.flags = (a.whole ? HFS_FAIL_WHOLE_DEVICE | HFS_FAIL_PRE_REMOVE : 0) |
		  (a.media ? HFS_FAIL_MEDIA : 0);
	return inject(a.target, &m, a.json);
}
