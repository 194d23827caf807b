/* SPDX-License-Identifier: MIT */
/*
 * Transactions (journal.c): how every metadata change reaches the media.
 *
 * The commit discipline every operation follows (docs/architecture.md,
 * "Changing metadata"):
 *   1. validate and reserve (may fail with an errno; nothing changed yet);
 *   2. change the DRAM state and stage the new on-media bytes in a tx
 *      (hfs_tx_add; usually vol->tx, under vol->lock);
 *   3. hfs_tx_commit().  A commit can only fail if the media fails; the
 *      volume then enters the failed state (every later operation returns
 *      EIO) so the DRAM state never needs rolling back.
 * An operation that fails in step 1 drops what it staged (hfs_tx_abort);
 * one that fails after changing DRAM (out of memory in step 2) fails the
 * volume instead (hfs_vol_fail, vol_i.h).
 *
 * Replay at mount, clearing the journal and record validation work on an
 * unmounted region and are public, for fsck: media.h.
 */
#ifndef HOLDFS_JOURNAL_I_H
#define HOLDFS_JOURNAL_I_H

#include <stddef.h>
#include <stdint.h>

struct hfs_vol;

struct hfs_tx {
	uint8_t *buf;    /* records (hfs_jrecord + data, 8-byte padded) */
	size_t len, cap;
	uint32_t nrec;
};

void hfs_tx_init(struct hfs_tx *tx);
void hfs_tx_free(struct hfs_tx *tx);
/* Drop everything staged (an operation failed before changing DRAM). */
void hfs_tx_abort(struct hfs_tx *tx);
/* Stage: at commit, write len bytes from src to region offset off. */
int hfs_tx_add(struct hfs_tx *tx, uint64_t off, const void *src, size_t len);
/* Write the tx to the journal, persist (commit point), apply it to its
 * home locations, persist.  Caller holds vol->lock.  On failure the
 * volume is marked failed and -EIO returned.  An empty tx is a no-op.
 * The tx is reset (not freed) for reuse. */
int hfs_tx_commit(struct hfs_vol *vol, struct hfs_tx *tx);

#endif
