/* SPDX-License-Identifier: MIT */
/*
 * Persistence tracing ops and the undo log (trace.h).
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmem2.h>

#include "grow.h"

static struct trace *cur_trace;
/* Undo logs in use, found by address (pmem ops carry no context). */
#define MAX_UNDO 4
static struct undo_log *undo_logs[MAX_UNDO];

/* hfs_grow, or abort: the harness cannot go on without its trace. */
static void xgrow(void *pv, size_t *cap, size_t need, size_t elem)
{
	if (hfs_grow(pv, cap, need, elem)) {
		fprintf(stderr, "crashcheck: out of memory (%zu x %zu bytes)\n",
			need, elem);
		abort();
	}
}

/* Region offset of [addr, addr+len), which must lie in the region. */
static uint64_t region_off(const struct hfs_region *rg, const void *addr,
			   size_t len, const char *what)
{
	const uint8_t *p = addr;

	if (p < rg->base || (uint64_t)(p - rg->base) > rg->size ||
	    len > rg->size - (uint64_t)(p - rg->base)) {
		fprintf(stderr, "crashcheck: %s of %zu bytes at %p outside the "
			"region [%p, +%llu)\n", what, len, addr, (void *)rg->base,
			(unsigned long long)rg->size);
		abort();
	}
	return (uint64_t)(p - rg->base);
}

/* ------------------------------------------------------------ trace */

void trace_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
}

void trace_free(struct trace *t)
{
	free(t->ev);
	free(t->arena);
	trace_init(t);
}

static struct tr_ev *ev_new(struct trace *t, uint8_t kind)
{
	struct tr_ev *e;

	xgrow(&t->ev, &t->cap, t->nev + 1, sizeof(*t->ev));
	e = &t->ev[t->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static void tr_record_flush(const void *addr, size_t len)
{
	struct trace *t = cur_trace;
	struct tr_ev *e;

	if (len == 0)
		return;
	e = ev_new(t, TR_FLUSH);
	e->off = region_off(t->rg, addr, len, "flush");
	e->len = (uint32_t)len;
}

static void tr_record_drain(void)
{
	ev_new(cur_trace, TR_DRAIN);
	cur_trace->fences++;
}

static void tr_flush(const void *addr, size_t len)
{
	tr_record_flush(addr, len);
}

static void tr_drain(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	tr_record_drain();
}

static void tr_persist(const void *addr, size_t len)
{
	tr_flush(addr, len);
	tr_drain();
}

/* Record a store of len bytes at dst (data from src, or memset fill). */
static void tr_record_store(void *dst, const void *src, int fill, size_t len,
			    unsigned flags)
{
	struct trace *t = cur_trace;
	struct tr_ev *e;

	if (len > UINT32_MAX) {
		fprintf(stderr, "crashcheck: store of %zu bytes too large\n", len);
		abort();
	}
	e = ev_new(t, TR_STORE);
	e->off = region_off(t->rg, dst, len, "store");
	e->len = (uint32_t)len;
	e->flushed = !(flags & PMEM2_F_MEM_NOFLUSH);
	if (src) {
		xgrow(&t->arena, &t->acap, t->alen + len, 1);
		memcpy(t->arena + t->alen, src, len);
		e->data = t->alen;
		t->alen += len;
	} else {
		e->is_set = 1;
		e->fill = (uint8_t)fill;
	}
	t->stores++;
	t->bytes += len;
	if (!(flags & (PMEM2_F_MEM_NODRAIN | PMEM2_F_MEM_NOFLUSH)))
		tr_record_drain();
}

static void *tr_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	if (len == 0)
		return dst;
	memcpy(dst, src, len);
	tr_record_store(dst, src, 0, len, flags);
	return dst;
}

static void *tr_memset(void *dst, int c, size_t len, unsigned flags)
{
	if (len == 0)
		return dst;
	memset(dst, c, len);
	tr_record_store(dst, NULL, c, len, flags);
	return dst;
}

void trace_attach(struct trace *t, struct hfs_region *rg)
{
	if (cur_trace) {
		fprintf(stderr, "crashcheck: a trace is already attached\n");
		abort();
	}
	cur_trace = t;
	t->rg = rg;
	t->saved = rg->ops;
	rg->ops = (struct hfs_pmem_ops){ tr_persist, tr_flush, tr_drain,
					 tr_memcpy, tr_memset };
}

void trace_detach(struct trace *t)
{
	if (cur_trace != t)
		return;
	t->rg->ops = t->saved;
	t->rg = NULL;
	cur_trace = NULL;
}

void trace_replay_all(const struct trace *t, uint8_t *img)
{
	for (size_t i = 0; i < t->nev; i++) {
		const struct tr_ev *e = &t->ev[i];

		if (e->kind != TR_STORE)
			continue;
		if (e->is_set)
			memset(img + e->off, e->fill, e->len);
		else
			memcpy(img + e->off, t->arena + e->data, e->len);
	}
}

/* --------------------------------------------------------- undo log */

struct undo_rec {
	uint64_t off;
	size_t len;
	size_t data; /* offset in the arena */
};

void undo_init(struct undo_log *u, uint8_t *base, uint64_t size)
{
	memset(u, 0, sizeof(*u));
	u->base = base;
	u->size = size;
}

void undo_free(struct undo_log *u)
{
	for (int i = 0; i < MAX_UNDO; i++)
		if (undo_logs[i] == u)
			undo_logs[i] = NULL;
	free(u->rec);
	free(u->arena);
	memset(u, 0, sizeof(*u));
}

void undo_save(struct undo_log *u, uint64_t off, size_t len)
{
	struct undo_rec *r;

	if (len == 0)
		return;
	if (off > u->size || len > u->size - off) {
		fprintf(stderr, "crashcheck: undo range outside the image\n");
		abort();
	}
	xgrow(&u->rec, &u->cap, u->n + 1, sizeof(*u->rec));
	xgrow(&u->arena, &u->acap, u->alen + len, 1);
	r = &u->rec[u->n++];
	r->off = off;
	r->len = len;
	r->data = u->alen;
	memcpy(u->arena + u->alen, u->base + off, len);
	u->alen += len;
}

void undo_rollback(struct undo_log *u)
{
	while (u->n) {
		const struct undo_rec *r = &u->rec[--u->n];

		memcpy(u->base + r->off, u->arena + r->data, r->len);
	}
	u->alen = 0;
}

/* The undo log whose image holds [addr, addr+len), and the offset. */
static struct undo_log *undo_of(const void *addr, size_t len, uint64_t *off)
{
	const uint8_t *p = addr;

	for (int i = 0; i < MAX_UNDO; i++) {
		struct undo_log *u = undo_logs[i];

		if (u && p >= u->base && (uint64_t)(p - u->base) <= u->size &&
		    len <= u->size - (uint64_t)(p - u->base)) {
			*off = (uint64_t)(p - u->base);
			return u;
		}
	}
	fprintf(stderr, "crashcheck: store outside every checked image\n");
	abort();
}

static void un_flush(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
}

static void un_drain(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void un_persist(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	un_drain();
}

static void *un_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	uint64_t off;
	struct undo_log *u = undo_of(dst, len, &off);

	(void)flags;
	undo_save(u, off, len);
	return memcpy(dst, src, len);
}

static void *un_memset(void *dst, int c, size_t len, unsigned flags)
{
	uint64_t off;
	struct undo_log *u = undo_of(dst, len, &off);

	(void)flags;
	undo_save(u, off, len);
	return memset(dst, c, len);
}

void undo_attach(struct undo_log *u, struct hfs_region *rg)
{
	int i;

	for (i = 0; i < MAX_UNDO && undo_logs[i] && undo_logs[i] != u; i++)
		;
	if (i == MAX_UNDO) {
		fprintf(stderr, "crashcheck: too many undo logs\n");
		abort();
	}
	undo_logs[i] = u;
	rg->ops = (struct hfs_pmem_ops){ un_persist, un_flush, un_drain,
					 un_memcpy, un_memset };
}
