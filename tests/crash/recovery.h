/* SPDX-License-Identifier: MIT */
/*
 * Crashes during recovery.
 *
 * Mount after a crash replays the journal, clears it, frees orphans,
 * folds the data-path slots into their inodes and marks the volume
 * mounted: writes, which a second crash can interrupt.
 * recovery_run() takes one crash state, traces its recovery (the mount),
 * and checks every crash state of that trace the way the main run does,
 * with one difference in the oracle: each must recover to exactly what
 * the uninterrupted recovery gave (the snapshot exp), since replay is
 * idempotent and the first recovery already decided what survived.
 */
#ifndef CRASH_RECOVERY_H
#define CRASH_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "crashgen.h"
#include "trace.h"

struct recovery {
	uint64_t size;
	bool probe;
	uint8_t *state;         /* the crash state being recovered */
	uint8_t *live;          /* traced recovery runs here */
	uint8_t *work;          /* nested states are built here */
	struct undo_log undo;
	struct checker ck;
	struct maskbuf masks;
	uint64_t seed;
	unsigned K, R;
	/* replay of one nested state: epoch and mask, or stop = UINT64_MAX */
	uint64_t only_epoch;
	const char *only_mask;
	const struct model *exp;
	uint64_t generated, checked, failed;
	/* failures go to the caller */
	void (*report)(void *ctx, uint64_t epoch, const char *mask,
		       const char *msg);
	void *ctx;
};

void recovery_init(struct recovery *rc, uint64_t size, bool probe);
void recovery_free(struct recovery *rc);
/* Crash the recovery of the state in img (which must recover to exp).
 * Returns the number of failed nested states. */
uint64_t recovery_run(struct recovery *rc, const uint8_t *img,
		      const struct model *exp, uint64_t seed);

/* Does the image hold a committed journal transaction (so its recovery
 * replays)?  Reads the primary superblock's geometry. */
bool recovery_journal_pending(const uint8_t *img, uint64_t size);
/* Does it hold a data-path slot (so its recovery folds or clears it,
 * lib/dslot.c hfs_dslot_mount)? */
bool recovery_dslot_pending(const uint8_t *img, uint64_t size);

#endif
