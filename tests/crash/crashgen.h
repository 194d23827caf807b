/* SPDX-License-Identifier: MIT */
/*
 * Crash-state generator.
 *
 * Model (docs/crash-testing.md): a store is guaranteed persistent once a
 * flush covering it has been followed by a drain.  Until then it may or
 * may not have reached persistence at a crash.  The unit of atomicity is
 * an aligned 8-byte word; the unit of choice is a store call (one memcpy
 * or memset through rg->ops), so one journal record or one inode write is
 * one unit, plus "torn" variants where only some words of a unit made it.
 *
 * gen_walk() replays a trace over a working image that always holds the
 * guaranteed state.  An epoch is the span between two drains (epoch e
 * follows drain e; epoch 0 starts at the initial image).  At the end of
 * every epoch the callback sees the units still pending (stored in the
 * epoch, or earlier and never flushed); every crash inside the epoch
 * leaves the guaranteed state plus some subset of them.  The callback
 * builds states with gen_apply() and rolls them back with the undo log.
 *
 * The working image carries an incremental hash (a sum over words of a
 * mix of position and value), so deduplicating states costs what the
 * state changed, not the image size.
 */
#ifndef CRASH_CRASHGEN_H
#define CRASH_CRASHGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct unit {
	uint64_t off;
	uint32_t len;
	bool flushed;
	bool is_set;
	uint8_t fill;
	const uint8_t *data;   /* !is_set */
	uint32_t ev;           /* trace event that stored it */
};

enum torn_kind {
	TORN_NONE = 0,
	TORN_LO,     /* first half of the unit's words */
	TORN_HI,     /* second half */
	TORN_RAND,   /* a seeded random subset of words */
};

/* One crash state of an epoch: the pending units that survived. */
struct spec {
	const uint8_t *mask;   /* bit i: unit i persisted (NULL: none) */
	int torn;              /* unit persisted only in part, -1: none */
	int torn_kind;
	uint64_t torn_seed;
};

struct gen;
typedef int (*gen_epoch_fn)(void *ctx, struct gen *g, uint64_t epoch);

struct gen {
	const struct trace *t;
	uint8_t *img;
	uint64_t size;
	struct undo_log *undo;
	uint64_t hash;          /* of the guaranteed state in img */
	struct unit *p;         /* pending units, in store order */
	size_t np, pcap;
	uint64_t stop;          /* last epoch to visit (UINT64_MAX: all) */
	bool dry;               /* count only: do not touch img */
};

/* img holds the initial image (size bytes); undo is attached to the
 * checker's region over the same img. */
void gen_init(struct gen *g, const struct trace *t, uint8_t *img,
	      uint64_t size, struct undo_log *undo, bool dry);
void gen_free(struct gen *g);
/* Walk the trace; cb is called at the end of each epoch.  A non-zero
 * return from cb stops the walk and is returned. */
int gen_walk(struct gen *g, gen_epoch_fn cb, void *ctx);
/* Apply a state on top of the guaranteed image (undo-logged) and return
 * its hash.  Roll back with undo_rollback(g->undo). */
uint64_t gen_apply(struct gen *g, const struct spec *s);
/* Hash of the whole image (verification of the incremental hash). */
uint64_t gen_hash_full(const uint8_t *img, uint64_t size);
/* Largest pending unit (-1 if none) and its number of words. */
int gen_largest(const struct gen *g, uint64_t *words);
/* Words of a unit (aligned 8-byte words it touches). */
uint64_t unit_words(const struct unit *u);

/*
 * Candidate states of the current epoch, numbered 0 .. count-1:
 *   0            the fence state: no pending unit persisted;
 *   then         with n <= K pending units, every other proper subset
 *                (the full set is the next epoch's fence state); with
 *                n > K, the first k units for up to 2K values of k
 *                spread over [1, n-1] (in-order persistence), then R
 *                seeded random subsets;
 *   last         torn variants of the largest unit (if it spans at least
 *                two words): first half / second half / random words of
 *                it, with every other unit lost, then with every other
 *                unit persisted.
 * Deterministic in (seed, epoch, index).
 */
struct maskbuf {
	uint8_t *buf;
	size_t cap;
};
uint64_t gen_cand_count(const struct gen *g, unsigned K, unsigned R);
void gen_cand_build(const struct gen *g, uint64_t seed, uint64_t epoch,
		    uint64_t j, unsigned K, unsigned R, struct spec *s,
		    struct maskbuf *mb);
uint64_t gen_cand_hash(uint64_t seed, uint64_t epoch, uint64_t j);

/* Mask text: hex digits, most significant first, bit i = unit i; an
 * optional "~U.lo", "~U.hi" or "~U.rSEED" names a torn unit. */
void spec_format(const struct spec *s, size_t nunits, char *buf, size_t len);
/* Parse into s (mask allocated into *maskbuf, nunits bits).  Returns 0 or
 * -1 if the text is malformed or names units beyond nunits. */
int spec_parse(const char *text, size_t nunits, struct spec *s,
	       uint8_t **maskbuf);

#endif
