/* SPDX-License-Identifier: MIT */
/*
 * The page-cache coherence table (docs/lease-protocol.md, "Coherence").
 *
 * holdfs_persist must leave no kernel page of the range that predates the
 * client's stores.  Asking the daemon to invalidate on every persist costs
 * a round trip; most DAX files have no cached page at all.  So the daemon
 * keeps, per leased inode, one 32-bit word that says whether the kernel
 * may cache pages of it, in a sealed memfd every DAX client maps
 * read-only.  A persist that finds the word CLEAN needs no round trip.
 *
 * The rule that makes that safe is a Dekker pair on the word and the
 * file's data (both sides fence between their store and their load):
 *   FUSE READ/WRITE:  word := CACHED; fence; read/write the region; reply
 *   client persist:   store data; flush; fence; load word
 * Either the client sees CACHED (and asks the daemon to invalidate), or
 * the READ reads the client's stores.  Only the daemon clears the word,
 * on the ring thread while answering a PERSISTED: CACHED -> CLEARING
 * (clients still ask), invalidate the whole inode, CLEARING -> CLEAN
 * unless a READ/WRITE set it back meanwhile.  A clear is not attempted
 * while any READ/WRITE of the inode is in flight (its page would land
 * after the invalidation), nor while a READ/WRITE of an inode without a
 * slot is in flight (it may be of this inode and have started before the
 * slot existed).
 *
 * Kernel pages come only from READ and WRITE (the daemon uses no
 * writeback cache and no notify_store; copy_file_range and truncation
 * drop pages, they never fill them).
 */
#ifndef HOLDFS_FS_COHERENCE_H
#define HOLDFS_FS_COHERENCE_H

#include <stdbool.h>
#include <stdint.h>

struct hfsd_coh;
struct hfsd_coh_ent;

/* A table of nslots words in a sealed memfd.  -errno on failure. */
int hfsd_coh_new(uint32_t nslots, struct hfsd_coh **out);
void hfsd_coh_free(struct hfsd_coh *t);
/* The read-only fd clients map (owned by the table), and its size. */
int hfsd_coh_fd(const struct hfsd_coh *t);
uint32_t hfsd_coh_nslots(const struct hfsd_coh *t);

/* A lease on ino exists: its slot (HFS_COH_NONE when the table is full;
 * that client then asks on every persist).  A new slot starts CACHED:
 * the kernel may hold pages read before the lease.  Paired with put. */
uint32_t hfsd_coh_get(struct hfsd_coh *t, uint64_t ino);
void hfsd_coh_put(struct hfsd_coh *t, uint64_t ino);

/* Around a FUSE READ or WRITE of ino, from before the region is touched
 * until after the reply was written (the kernel fills its page during
 * that write).  t may be NULL (no lease service). */
struct hfsd_coh_ent *hfsd_coh_io_begin(struct hfsd_coh *t, uint64_t ino);
void hfsd_coh_io_end(struct hfsd_coh *t, struct hfsd_coh_ent *e);

/* PERSISTED of ino: invalidate what the kernel caches of [off, off+len)
 * (inval(ctx, ino, off, len); len 0 = the whole inode) and clear the
 * slot when that is safe.  Returns inval's result (0 or -errno). */
int hfsd_coh_persisted(struct hfsd_coh *t, uint64_t ino, uint64_t off,
		       uint64_t len,
		       int (*inval)(void *ctx, uint64_t ino, uint64_t off,
				    uint64_t len),
		       void *ctx);
/* Wait until no READ or WRITE is between io_begin and io_end, at most ms
 * milliseconds (the shutdown's invalidation: a READ answered after it
 * would put pages back).  true when drained.  t may be NULL (true). */
bool hfsd_coh_drain(struct hfsd_coh *t, unsigned ms);
/* The slot word of ino: HFS_COH_* or HFS_COH_NONE (tests, status). */
uint32_t hfsd_coh_state(struct hfsd_coh *t, uint64_t ino);

#endif
