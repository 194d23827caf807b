/* SPDX-License-Identifier: MIT */
/*
 * Rate-limited log lines: a condition that can repeat as fast as a
 * hostile client or a broken device makes it (refused connections,
 * accept errors, probes that cannot run) is logged at most once per
 * period, with the number of times it was not logged since.  The log
 * stays bounded however long the condition lasts.
 */
#ifndef HOLDFS_FS_RATELOG_H
#define HOLDFS_FS_RATELOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct hfsd_ratelog {
	uint64_t last_ns;       /* CLOCK_MONOTONIC of the last line, 0: none */
	uint64_t suppressed;    /* occurrences not logged since */
};

/* May this occurrence be logged now (at most one per period_ms)?  If
 * so, *missed is how many were not logged since the last line (and the
 * count starts over); if not, it is counted. */
static inline bool hfsd_ratelog_ok(struct hfsd_ratelog *r, unsigned period_ms,
				   uint64_t *missed)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (r->last_ns && now - r->last_ns < (uint64_t)period_ms * 1000000ull) {
		r->suppressed++;
		return false;
	}
	r->last_ns = now ? now : 1;
	*missed = r->suppressed;
	r->suppressed = 0;
	return true;
}

#endif
