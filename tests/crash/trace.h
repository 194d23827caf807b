/* SPDX-License-Identifier: MIT */
/*
 * Persistence tracing for a memory region.
 *
 * trace_attach() swaps the struct hfs_pmem_ops of a region made with
 * hfs_region_from_memory() for ones that do the same stores and also
 * record, in order, every store (memcpy/memset through rg->ops, with its
 * data), every flush range and every drain.  Production regions never see
 * these ops: they are installed only by the crash harness, so tracing
 * costs nothing when unused.
 *
 * Semantics recorded (libpmem2 flags, <libpmem2.h>):
 *   flags 0        store + flush + drain: persistent on return;
 *   MEM_NODRAIN    store + flush: persistent after the next drain;
 *   MEM_NOFLUSH    store only (implies NODRAIN): persistent after a flush
 *                  covering it and then a drain.
 *   persist(a, n)  flush(a, n) + drain.
 *
 * undo_attach() installs a second kind of ops, used on the scratch image
 * a crash state is checked on: stores happen as usual but the bytes they
 * overwrite are saved first, so the image can be rolled back after the
 * check in time proportional to what the check wrote (undo_rollback).
 *
 * pmem ops carry no context pointer: one trace is attached at a time, and
 * undo logs (a few) are told apart by the address stored to.  The harness
 * is single-threaded.
 */
#ifndef CRASH_TRACE_H
#define CRASH_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

enum tr_kind {
	TR_STORE = 1,
	TR_FLUSH = 2,
	TR_DRAIN = 3,
};

struct tr_ev {
	uint8_t kind;     /* enum tr_kind */
	uint8_t flushed;  /* TR_STORE: the call also flushed the range */
	uint8_t is_set;   /* TR_STORE: memset; fill byte in data */
	uint8_t fill;
	uint32_t len;
	uint64_t off;     /* region offset */
	uint64_t data;    /* TR_STORE (memcpy): offset in the arena */
};

struct trace {
	struct tr_ev *ev;
	size_t nev, cap;
	uint8_t *arena;      /* data of memcpy stores */
	size_t alen, acap;
	uint64_t fences;     /* drains so far */
	uint64_t stores;     /* store calls so far */
	uint64_t bytes;      /* bytes stored so far */
	/* the traced region while attached */
	struct hfs_region *rg;
	struct hfs_pmem_ops saved;
};

void trace_init(struct trace *t);
void trace_free(struct trace *t);
/* Install the tracing ops on rg (a memory region).  One at a time. */
void trace_attach(struct trace *t, struct hfs_region *rg);
void trace_detach(struct trace *t);
/* Data of a store event (NULL for memset). */
static inline const uint8_t *trace_data(const struct trace *t,
					const struct tr_ev *e)
{
	return e->is_set ? NULL : t->arena + e->data;
}
/* Apply every store of the trace to img (a copy of the initial image):
 * the result must equal the traced region at the end (self-check that
 * every write to region memory went through rg->ops). */
void trace_replay_all(const struct trace *t, uint8_t *img);

/* ---------------------------------------------------------- undo log */
struct undo_log {
	struct undo_rec *rec;
	size_t n, cap;
	uint8_t *arena;
	size_t alen, acap;
	uint8_t *base;
	uint64_t size;
};

void undo_init(struct undo_log *u, uint8_t *base, uint64_t size);
void undo_free(struct undo_log *u);
/* Save [off, off+len) of the image before it is overwritten. */
void undo_save(struct undo_log *u, uint64_t off, size_t len);
/* Restore everything saved, newest first, and empty the log. */
void undo_rollback(struct undo_log *u);
/* Install ops on rg that undo_save before every store. */
void undo_attach(struct undo_log *u, struct hfs_region *rg);

#endif
