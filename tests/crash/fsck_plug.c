/* SPDX-License-Identifier: MIT */
/*
 * The one place the crash checker calls fsck (check.h).  Built with
 * HAVE_HOLDFS_FSCK when fsck/ provides fsck_dep (tests/crash/meson.build);
 * without it, the checker relies on its own structural checks.
 */
#include "check.h"

#include <stdio.h>
#include <string.h>

#ifdef HAVE_HOLDFS_FSCK
#include "fsck.h"

bool crash_fsck_available(void)
{
	return true;
}

/* Read-only (-n), forced full check of the cleanly unmounted image. */
int crash_fsck(struct hfs_region *rg, char *msg, size_t len)
{
	struct hfs_fsck_opts o = { .mode = HFS_FSCK_NO, .force = true };
	struct hfs_fsck_report rep;
	int code;

	memset(&rep, 0, sizeof(rep));
	code = hfs_fsck(rg, &o, &rep);
	if (code && rep.nproblems)
		snprintf(msg, len, "%zu problem(s), first %s: %s",
			 rep.nproblems, rep.problems[0].name,
			 rep.problems[0].msg ? rep.problems[0].msg : "");
	else if (code)
		snprintf(msg, len, "%s", rep.fatal[0] ? rep.fatal : "no detail");
	else
		msg[0] = 0;
	hfs_fsck_report_free(&rep);
	return code;
}
#else
bool crash_fsck_available(void)
{
	return false;
}

int crash_fsck(struct hfs_region *rg, char *msg, size_t len)
{
	(void)rg;
	snprintf(msg, len, "fsck not built");
	return -1;
}
#endif
