/* SPDX-License-Identifier: MIT */
/*
 * crashcheck: every fence point, every recovery checked.
 *
 * For each workload (and seed): format a memory region, run the workload
 * on it with persistence-tracing pmem ops, then replay the trace and, at
 * every fence, check the crash states a power failure could leave there
 * (crashgen.h): mount (journal replay) must succeed and the result must
 * be a consistent holdfs that holds every completed operation and the
 * in-flight one all or nothing (check.h).  docs/crash-testing.md explains
 * the model, the report and how to replay one state.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <holdfs/format.h>

#include "check.h"
#include "crashgen.h"
#include "recovery.h"
#include "trace.h"
#include "mirror.h"
#include "workload.h"

#define MAX_FAIL_DETAIL 8 /* failures described in full per workload run */

struct opts {
	const char *workload;
	uint64_t seed;
	unsigned nseeds;
	uint64_t max_states;   /* per workload run; 0 = no limit */
	unsigned subset_limit; /* all subsets up to this many units */
	unsigned samples;      /* random subsets beyond it */
	unsigned recovery;     /* states whose recovery is crashed too */
	const char *report;
	const char *replay;
	const char *replay_op;  /* W:S:N: every state of operation N */
	bool probe;
	bool quick;
	bool list_ops;
	bool mirror;           /* mirrored metadata (mirror.h) */
};

struct stats {
	uint64_t ops, fences, stores, bytes;
	uint64_t candidates, generated, distinct, images, checked, failed;
	uint64_t rec_outer, rec_generated, rec_checked, rec_failed;
	uint64_t rec_failed_detail;
	double secs;
};

struct hset {
	uint64_t *v;
	size_t n, cap;
};

struct run {
	const struct opts *o;
	const struct workload *wl;
	uint64_t seed;
	struct wctx w;
	struct trace tr;
	struct undo_log undo;
	struct checker ck;
	uint8_t *img;              /* the working image */
	const struct hfs_super *sb; /* geometry, for messages */
	/* oracle */
	struct model cur, next;
	int cur_c;
	bool have_next;
	int opi;
	/* deduplication: states (image + expectation), and images alone */
	struct hset states, images;
	/* sampling */
	uint64_t total_cand, nepochs;
	double p_fence, p_other;
	/* replay */
	bool replay;
	uint64_t replay_epoch;
	const char *replay_mask;
	char replay_buf[4096];
	int replay_found;
	bool replay_op;            /* --replay-op: the epochs of one op */
	uint64_t replay_opi;
	/* nested recovery crashes */
	struct recovery rec;
	/* states whose recovery writes: [0] a journal to replay, [1] a
	 * data-path slot to fold (own budget: the journal states come
	 * first in every trace and would take it all) */
	uint64_t rec_every, rec_seen[2], rec_done[2];
	uint64_t cur_epoch;
	char cur_mask[4096];
	const char *replay_nested;  /* "F2/MASK2" after '@', or NULL */
	struct maskbuf masks;
	uint64_t verify_tick;
	struct stats st;
	unsigned detailed;
};

static FILE *report_file;

/* --------------------------------------------------------- dedupe set */

/* Insert key; false if it was there already. */
static bool hset_insert(struct hset *h, uint64_t key)
{
	size_t mask, i;

	if (key == 0)
		key = 1;
	if (2 * (h->n + 1) > h->cap) {
		uint64_t *old = h->v;
		size_t ocap = h->cap;

		h->cap = h->cap ? h->cap * 2 : 1u << 12;
		h->v = calloc(h->cap, sizeof(*h->v));
		if (!h->v)
			abort();
		h->n = 0;
		for (size_t k = 0; k < ocap; k++)
			if (old[k])
				hset_insert(h, old[k]);
		free(old);
	}
	mask = h->cap - 1;
	for (i = key & mask; h->v[i]; i = (i + 1) & mask)
		if (h->v[i] == key)
			return false;
	h->v[i] = key;
	h->n++;
	return true;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (report_file) {
		va_start(ap, fmt);
		vfprintf(report_file, fmt, ap);
		va_end(ap);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ oracle */

static void oracle_init(struct run *r)
{
	model_init(&r->cur);
	memset(&r->next, 0, sizeof(r->next));
	r->cur_c = 0;
	r->have_next = false;
	r->opi = 0;
}

static void oracle_free(struct run *r)
{
	model_free(&r->cur);
	if (r->have_next)
		model_free(&r->next);
}

/* Model after the first c operations. */
static void oracle_seek(struct run *r, int c)
{
	while (r->cur_c < c) {
		if (r->have_next) {
			model_free(&r->cur);
			r->cur = r->next;
			r->have_next = false;
		} else {
			op_apply(&r->cur, &r->w.ops[r->cur_c]);
		}
		r->cur_c++;
	}
}

/* Model after operation cur_c too. */
static const struct model *oracle_next(struct run *r)
{
	if (!r->have_next) {
		model_copy(&r->next, &r->cur);
		op_apply(&r->next, &r->w.ops[r->cur_c]);
		r->have_next = true;
	}
	return &r->next;
}

/* Operations completed by epoch e (returned at a fence <= e), and the
 * one in flight during it (-1: none). */
static int oracle_class(struct run *r, uint64_t e, int *inflight)
{
	while (r->opi < r->w.nops && r->w.ops[r->opi].r <= e)
		r->opi++;
	*inflight = r->opi < r->w.nops && r->w.ops[r->opi].s <= e ? r->opi : -1;
	return r->opi;
}

/* ----------------------------------------------------- descriptions */

static void describe_off(const struct hfs_super *sb, uint64_t off, char *buf,
			 size_t len)
{
	if (crash_mirror && off >= MIRROR_OFF &&
	    off < MIRROR_OFF + mirror_len) {
		size_t n = (size_t)snprintf(buf, len, "mirror: ");

		if (n < len)
			describe_off(sb, off - MIRROR_OFF, buf + n, len - n);
		return;
	}
	if (off < HFS_BLOCK_SIZE)
		snprintf(buf, len, "superblock+%" PRIu64, off);
	else if (off >= sb->s_health_off && off < sb->s_badlist_off)
		snprintf(buf, len, "health log record %" PRIu64,
			 (off - sb->s_health_off) / 128);
	else if (off >= sb->s_badlist_off && off < sb->s_journal_off)
		snprintf(buf, len, "bad-extent list+%" PRIu64,
			 off - sb->s_badlist_off);
	else if (off >= sb->s_journal_off && off < sb->s_itable_off)
		snprintf(buf, len, "journal+%" PRIu64, off - sb->s_journal_off);
	else if (off >= sb->s_itable_off &&
		 off < sb->s_itable_off + sb->s_inode_count * HFS_INODE_SIZE)
		snprintf(buf, len, "inode %" PRIu64 "+%" PRIu64,
			 (off - sb->s_itable_off) / HFS_INODE_SIZE,
			 (off - sb->s_itable_off) % HFS_INODE_SIZE);
	else if ((sb->s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) &&
		 off >= sb->s_dslot_off &&
		 off < sb->s_dslot_off +
			       (uint64_t)sb->s_dslot_count * HFS_DSLOT_SIZE)
		snprintf(buf, len, "data-path slot %" PRIu64 "+%" PRIu64,
			 (off - sb->s_dslot_off) / HFS_DSLOT_SIZE,
			 (off - sb->s_dslot_off) % HFS_DSLOT_SIZE);
	else if (off >= sb->s_backup_off)
		snprintf(buf, len, "backup superblock+%" PRIu64,
			 off - sb->s_backup_off);
	else
		snprintf(buf, len, "block %" PRIu64 "+%" PRIu64,
			 off / HFS_BLOCK_SIZE, off % HFS_BLOCK_SIZE);
}

static const char *cls_name(int cls)
{
	return cls == OPC_ATOMIC ? "atomic" : cls == OPC_DATA ? "data" : "no visible change";
}

/* What state this is: the in-flight operation and the pending units. */
static void describe_state(struct run *r, struct gen *g, int c, int inflight,
			   const struct spec *s)
{
	char d[700], where[128];

	if (inflight >= 0) {
		op_describe(&r->cur, &r->w.ops[inflight], d, sizeof(d));
		say("  in flight: op %d: %s (%s)\n", inflight, d,
		    cls_name(r->w.ops[inflight].cls));
	} else {
		say("  in flight: none\n");
	}
	say("  completed: %d operations\n", c);
	say("  pending units at the crash: %zu\n", g->np);
	for (size_t i = 0; i < g->np && i < 64; i++) {
		const struct unit *u = &g->p[i];
		bool in = s->mask && (s->mask[i / 8] >> (i % 8) & 1);

		describe_off(r->sb, u->off, where, sizeof(where));
		say("    #%zu %s %u bytes at %s (offset %" PRIu64 ")%s\n", i,
		    (int)i == s->torn ? "TORN     " : in ? "persisted" : "lost     ",
		    u->len, where, u->off, u->is_set ? " (memset)" : "");
	}
	if (g->np > 64)
		say("    ... %zu more\n", g->np - 64);
}

static void report_failure(struct run *r, struct gen *g, uint64_t e, int c,
			   int inflight, const struct spec *s, const char *msg)
{
	char mask[4096];

	r->st.failed++;
	if (!r->replay && r->detailed >= MAX_FAIL_DETAIL)
		return;
	r->detailed++;
	spec_format(s, g->np, mask, sizeof(mask));
	say("FAIL %s seed %" PRIu64 " fence %" PRIu64 " mask %s\n",
	    r->wl->name, r->seed, e, mask);
	if (!r->replay)
		describe_state(r, g, c, inflight, s);
	say("  -> %s\n", msg);
	say("  replay: crashcheck --replay %s:%" PRIu64 ":%" PRIu64 ":%s\n",
	    r->wl->name, r->seed, e, mask);
}

static uint64_t cand_hash(const struct run *r, uint64_t e, uint64_t j)
{
	return gen_cand_hash(r->seed, e, j);
}

/* ------------------------------------------------------------- check */

static void set_expect(struct run *r, int c, int inflight, struct expect *ex)
{
	oracle_seek(r, c);
	ex->cur = &r->cur;
	ex->next = NULL;
	ex->cls = inflight >= 0 ? r->w.ops[inflight].cls : OPC_NONE;
	ex->fuzzy = inflight >= 0 ? r->w.ops[inflight].obj : -1;
	if (ex->cls != OPC_NONE)
		ex->next = oracle_next(r);
}

static void rec_report(void *ctx, uint64_t e2, const char *mask2,
		       const char *msg)
{
	struct run *r = ctx;

	r->st.rec_failed_detail++;
	if (!r->replay && r->st.rec_failed_detail > MAX_FAIL_DETAIL)
		return;
	say("FAIL %s seed %" PRIu64 " fence %" PRIu64 " mask %s, then a crash "
	    "during its recovery at recovery fence %" PRIu64 " mask %s\n",
	    r->wl->name, r->seed, r->cur_epoch, r->cur_mask, e2, mask2);
	say("  -> %s\n", msg);
	say("  replay: crashcheck --replay %s:%" PRIu64 ":%" PRIu64 ":%s@%"
	    PRIu64 "/%s\n", r->wl->name, r->seed, r->cur_epoch, r->cur_mask,
	    e2, mask2);
}

/* Crash the recovery of the state s (rolled back on return). */
static void crash_recovery(struct run *r, struct gen *g, uint64_t e,
			   const struct spec *s, const char *nested)
{
	undo_rollback(&r->undo);
	gen_apply(g, s);
	r->cur_epoch = e;
	spec_format(s, g->np, r->cur_mask, sizeof(r->cur_mask));
	if (nested) {
		char *end;

		r->rec.only_epoch = strtoull(nested, &end, 10);
		r->rec.only_mask = *end == '/' ? end + 1 : "";
	}
	if (!recovery_run(&r->rec, r->img, &r->ck.snap, r->seed ^ e) && nested)
		say("  its recovery crashed at recovery fence %s: recovered "
		    "and checked: ok\n", nested);
	r->st.rec_outer++;
}

/* --mirror: the same crash state with device 0 lost at that instant:
 * its metadata areas are the mirror's (what `-o degraded` serves; the
 * data pool stays device 0's, see mirror.h).  Must be the old or the new
 * state too. */
static int check_mirror_alone(struct run *r, struct gen *g,
			      const struct expect *ex, const struct spec *s,
			      char *msg, size_t len)
{
	char m2[1400];
	int bad;

	undo_rollback(&r->undo);
	gen_apply(g, s);
	mirror_promote(r->ck.rg);
	r->ck.mirror = false;
	bad = check_state(&r->ck, ex, m2, sizeof(m2));
	r->ck.mirror = true;
	if (bad)
		snprintf(msg, len, "from the mirror alone: %s", m2);
	return bad;
}

/* Check the state now applied to the image; roll it back. */
static int check_one(struct run *r, struct gen *g, uint64_t e, int c,
		     int inflight, const struct spec *s, uint64_t hash)
{
	struct expect ex;
	char msg[1500];
	int pending = -1, bad;

	set_expect(r, c, inflight, &ex);
	/* the same image may be checked again under another expectation
	 * (other operations completed): that is a distinct state */
	if (!r->replay &&
	    !hset_insert(&r->states, hash ^ splitmix64((uint64_t)c * 1000003u +
							(uint64_t)(inflight + 1)))) {
		undo_rollback(&r->undo);
		return 0;
	}
	if (hset_insert(&r->images, hash))
		r->st.images++;
	r->st.distinct++;
	r->st.checked++;
	if (r->replay) {
		char mask[4096];

		spec_format(s, g->np, mask, sizeof(mask));
		say("replay %s seed %" PRIu64 " fence %" PRIu64 " mask %s\n",
		    r->wl->name, r->seed, e, mask);
		describe_state(r, g, c, inflight, s);
	}
	if (r->o->recovery)
		pending = recovery_dslot_pending(r->img, WL_REGION_SIZE) ? 1
			  : recovery_journal_pending(r->img, WL_REGION_SIZE) ? 0
			  : -1;
	bad = check_state(&r->ck, &ex, msg, sizeof(msg));
	if (!bad && crash_mirror)
		bad = check_mirror_alone(r, g, &ex, s, msg, sizeof(msg));
	if (bad)
		report_failure(r, g, e, c, inflight, s, msg);
	else if (r->replay)
		say("  state fence %" PRIu64 ": recovered and checked: ok\n", e);
	if (!bad && r->replay && r->replay_nested)
		crash_recovery(r, g, e, s, r->replay_nested);
	else if (!bad && pending >= 0 && !r->replay &&
		 ++r->rec_seen[pending] % r->rec_every == 0 &&
		 r->rec_done[pending] < r->o->recovery) {
		r->rec_done[pending]++;
		crash_recovery(r, g, e, s, NULL);
	}
	undo_rollback(&r->undo);
	return bad;
}

static int epoch_cb(void *ctx, struct gen *g, uint64_t e)
{
	struct run *r = ctx;
	int inflight, c = oracle_class(r, e, &inflight);
	uint64_t n;
	struct spec s;

	n = gen_cand_count(g, r->o->subset_limit, r->o->samples);
	r->st.candidates += n;
	if (r->replay_op) {
		/* every epoch the operation spans, every candidate, no
		 * sampling: a regression pinned to an operation survives
		 * changes in how many fences other operations take */
		const struct wop *op;

		if (r->replay_opi >= (uint64_t)r->w.nops) {
			say("replay: the run has %d operations, no %" PRIu64
			    "\n", r->w.nops, r->replay_opi);
			r->replay_found = -1;
			return 1;
		}
		op = &r->w.ops[r->replay_opi];
		if (e < op->s)
			return 0;
		if (e > op->r)
			return 1;
		r->replay_found = 1;
	}
	if (r->replay) {
		uint8_t *m;

		if (e != r->replay_epoch)
			return 0;
		r->replay_found = 1;
		if (spec_parse(r->replay_mask, g->np, &s, &m)) {
			say("replay: mask %s does not fit the %zu pending units "
			    "of fence %" PRIu64 "\n", r->replay_mask, g->np, e);
			r->replay_found = -1;
			return 1;
		}
		r->st.generated++;
		check_one(r, g, e, c, inflight, &s, gen_apply(g, &s));
		free(m);
		return 1;
	}
	for (uint64_t j = 0; j < n; j++) {
		double p = j == 0 ? r->p_fence : r->p_other;

		if (p < 1.0 && (double)(cand_hash(r, e, j) >> 11) / 9007199254740992.0 >= p)
			continue;
		gen_cand_build(g, r->seed, e, j, r->o->subset_limit,
			       r->o->samples, &s, &r->masks);
		r->st.generated++;
		check_one(r, g, e, c, inflight, &s, gen_apply(g, &s));
	}
	if (++r->verify_tick % 2048 == 0 &&
	    gen_hash_full(r->img, WL_REGION_SIZE) != g->hash) {
		say("crashcheck: internal error: working image differs from "
		    "its hash after rollback (a write bypassed rg->ops?)\n");
		exit(3);
	}
	return 0;
}

/* Dry pass: count candidates per epoch for the sampling budget. */
static int count_cb(void *ctx, struct gen *g, uint64_t e)
{
	struct run *r = ctx;

	(void)e;
	r->total_cand += gen_cand_count(g, r->o->subset_limit, r->o->samples);
	r->nepochs++;
	return 0;
}

static void plan_budget(struct run *r)
{
	uint64_t max = r->o->max_states;

	r->p_fence = r->p_other = 1.0;
	if (!max || r->total_cand <= max)
		return;
	if (r->nepochs > max / 2) {
		r->p_fence = (double)(max / 2) / (double)r->nepochs;
		r->p_other = (double)(max - max / 2) /
			     (double)(r->total_cand - r->nepochs);
	} else {
		r->p_other = (double)(max - r->nepochs) /
			     (double)(r->total_cand - r->nepochs);
	}
}

/* --------------------------------------------------------------- run */

static int self_check(struct run *r, const uint8_t *img0)
{
	uint8_t *tmp = malloc(WL_REGION_SIZE);
	int ret = 0;

	if (!tmp)
		abort();
	memcpy(tmp, img0, WL_REGION_SIZE);
	trace_replay_all(&r->tr, tmp);
	if (memcmp(tmp, r->w.img, WL_REGION_SIZE)) {
		uint64_t i = 0;
		char where[128];

		while (tmp[i] == r->w.img[i])
			i++;
		describe_off(r->sb, i, where, sizeof(where));
		say("FAIL %s seed %" PRIu64 ": a store to region memory did "
		    "not go through rg->ops (first difference at offset %"
		    PRIu64 ", %s): the tracer cannot see it\n", r->wl->name,
		    r->seed, i, where);
		r->st.failed++;
		ret = -1;
	}
	free(tmp);
	return ret;
}

static void list_ops(struct run *r);

/* Run the workload and the trace self-check.  Returns -1 if there is
 * nothing to generate from. */
static int run_live(struct run *r, const uint8_t *img0)
{
	trace_init(&r->tr);
	if (workload_run(r->wl, r->seed, (uint8_t *)img0, &r->tr, &r->w)) {
		say("FAIL %s seed %" PRIu64 ": workload setup: %s\n",
		    r->wl->name, r->seed, r->w.why);
		r->st.failed++;
		return -1;
	}
	r->st.ops = (uint64_t)r->w.nops;
	r->st.fences = r->tr.fences;
	r->st.stores = r->tr.stores;
	r->st.bytes = r->tr.bytes;
	if (r->w.broken) {
		say("FAIL %s seed %" PRIu64 ": live run: %s\n", r->wl->name,
		    r->seed, r->w.why);
		r->st.failed++;
	}
	self_check(r, img0);
	return 0;
}

static void run_setup(struct run *r, const uint8_t *img0)
{
	const struct opts *o = r->o;
	char *at;

	r->img = malloc(WL_REGION_SIZE);
	if (!r->img)
		abort();
	memcpy(r->img, img0, WL_REGION_SIZE);
	undo_init(&r->undo, r->img, WL_REGION_SIZE);
	if (checker_init(&r->ck, r->img, WL_REGION_SIZE, &r->undo))
		abort();
	r->ck.probe = o->probe;
	r->ck.mirror = crash_mirror;
	oracle_init(r);
	if (o->replay) {
		r->replay = true;
		sscanf(o->replay, "%*[^:]:%*[^:]:%" SCNu64, &r->replay_epoch);
		snprintf(r->replay_buf, sizeof(r->replay_buf), "%s",
			 strrchr(o->replay, ':') + 1);
		at = strchr(r->replay_buf, '@');
		if (at) {
			*at = 0;
			r->replay_nested = at + 1;
		}
		r->replay_mask = r->replay_buf;
	}
	if (o->replay_op) {
		r->replay_op = true;
		sscanf(o->replay_op, "%*[^:]:%*[^:]:%" SCNu64, &r->replay_opi);
	}
	if (o->recovery || r->replay_nested) {
		recovery_init(&r->rec, WL_REGION_SIZE, o->probe);
		r->rec.report = rec_report;
		r->rec.ctx = r;
		r->rec.K = o->subset_limit;
		r->rec_every = 3;
	}
}

/* Pass 1 counts the candidates (for the sampling budget), pass 2
 * generates and checks. */
static void run_generate(struct run *r)
{
	struct gen g;

	gen_init(&g, &r->tr, NULL, WL_REGION_SIZE, NULL, true);
	g.stop = r->w.limit;
	gen_walk(&g, count_cb, r);
	gen_free(&g);
	plan_budget(r);

	gen_init(&g, &r->tr, r->img, WL_REGION_SIZE, &r->undo, false);
	g.stop = r->w.limit;
	if (r->replay_op)
		r->p_fence = r->p_other = 1.0;
	gen_walk(&g, epoch_cb, r);
	if (!r->replay && !r->replay_op && gen_hash_full(r->img, WL_REGION_SIZE) != g.hash) {
		say("crashcheck: internal error: working image hash mismatch\n");
		exit(3);
	}
	gen_free(&g);
	if (r->replay_op && r->replay_found == 0) {
		say("replay: operation %" PRIu64 " spans no epoch of the trace\n",
		    r->replay_opi);
		r->st.failed++;
	}
	if (r->replay && r->replay_found == 0) {
		say("replay: fence %" PRIu64 " is past the end of the trace "
		    "(%" PRIu64 " fences)\n", r->replay_epoch, r->tr.fences);
		r->st.failed++;
	}
	if (r->replay_found < 0)
		r->st.failed++;
	if (r->o->recovery || r->replay_nested) {
		r->st.rec_generated = r->rec.generated;
		r->st.rec_checked = r->rec.checked;
		r->st.rec_failed = r->rec.failed;
		r->st.failed += r->rec.failed;
	}
}

static void stats_add(struct stats *t, const struct stats *s)
{
	t->ops += s->ops;
	t->fences += s->fences;
	t->candidates += s->candidates;
	t->generated += s->generated;
	t->distinct += s->distinct;
	t->images += s->images;
	t->checked += s->checked;
	t->failed += s->failed;
	t->rec_outer += s->rec_outer;
	t->rec_generated += s->rec_generated;
	t->rec_checked += s->rec_checked;
	t->rec_failed += s->rec_failed;
	t->secs += s->secs;
}

static void run_summary(struct run *r)
{
	const struct stats *st = &r->st;

	say("%-13s %5" PRIu64 " %5" PRIu64 " %6" PRIu64 " %10" PRIu64 " %9" PRIu64
	    " %8" PRIu64 " %7" PRIu64 " %8" PRIu64 " %6" PRIu64 " %7.1fs\n",
	    r->wl->name, r->seed, st->ops, st->fences, st->candidates,
	    st->generated, st->distinct, st->images, st->checked, st->failed,
	    st->secs);
	if (r->o->recovery)
		say("%-13s        recovery crashes: %" PRIu64 " states recovered "
		    "under crash, %" PRIu64 " crash states, %" PRIu64
		    " checked, %" PRIu64 " failed\n", "", st->rec_outer,
		    st->rec_generated, st->rec_checked, st->rec_failed);
	fflush(stdout);
}

static void run_free(struct run *r)
{
	if (r->img) {
		oracle_free(r);
		checker_free(&r->ck);
		undo_free(&r->undo);
		if (r->o->recovery || r->replay_nested)
			recovery_free(&r->rec);
	}
	free(r->img);
	free(r->states.v);
	free(r->images.v);
	free(r->masks.buf);
	workload_free(&r->w);
	trace_free(&r->tr);
}

static void run_one(const struct opts *o, const struct workload *wl,
		    uint64_t seed, const uint8_t *img0, struct stats *total)
{
	struct run *r = calloc(1, sizeof(*r));
	double t0 = now_s();

	if (!r)
		abort();
	r->o = o;
	r->wl = wl;
	r->seed = seed;
	r->sb = (const struct hfs_super *)img0;
	if (!run_live(r, img0)) {
		if (o->list_ops) {
			list_ops(r);
		} else {
			run_setup(r, img0);
			run_generate(r);
			r->st.secs = now_s() - t0;
			run_summary(r);
		}
	}
	stats_add(total, &r->st);
	run_free(r);
	free(r);
}

/* Print the operations of a workload run with their fences. */
static void list_ops(struct run *r)
{
	struct model m;
	char d[700];

	model_init(&m);
	say("%s seed %" PRIu64 ": %d operations, %" PRIu64 " fences\n",
	    r->wl->name, r->seed, r->w.nops, r->tr.fences);
	say("%6s %8s %8s  %-8s %s\n", "op", "called", "returned", "class",
	    "operation");
	for (int i = 0; i < r->w.nops; i++) {
		const struct wop *op = &r->w.ops[i];

		op_describe(&m, op, d, sizeof(d));
		say("%6d %8" PRIu64 " %8" PRIu64 "  %-8s %s\n", i, op->s, op->r,
		    op->cls == OPC_ATOMIC ? "atomic" : op->cls == OPC_DATA ? "data" : "-",
		    d);
		op_apply(&m, &r->w.ops[i]);
	}
	model_free(&m);
}

/* -------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: crashcheck [options]\n"
"  --workload NAME|all   workload to run (default all; --list shows them)\n"
"  --quick               'all' means the quick set (the meson crash suite)\n"
"  --seed S              first seed (default 1)\n"
"  --seeds N             run seeds S .. S+N-1 (default 1)\n"
"  --max-states N        crash states per workload run, sampled evenly\n"
"                        over the trace when there are more (0: all)\n"
"  --subset-limit K      every subset of an epoch's pending units when\n"
"                        there are at most K (default 8)\n"
"  --samples R           random subsets for larger epochs (default 32)\n"
"  --recovery N          also crash the recovery of N states per run\n"
"  --no-probe            skip the post-recovery usability probe\n"
"  --mirror              mirrored metadata: every state recovered from\n"
"                        both copies and from the mirror alone\n"
"                        (docs/crash-testing.md; no --recovery)\n"
"  --report FILE         write the report to FILE too\n"
"  --replay W:S:F:MASK   check one state: workload W, seed S, fence F,\n"
"                        surviving units MASK (as printed in a report)\n"
"  --replay-op W:S:N     check every state of operation N of workload W,\n"
"                        seed S (all candidates of the epochs it spans;\n"
"                        --list-ops numbers them): how regressions are\n"
"                        pinned, so they survive fence-count changes\n"
"  --list                list the workloads\n"
"  --list-ops            print each operation of the selected workload\n"
"                        runs with the fences at which it was called and\n"
"                        returned (to pick a fence to replay)\n"
"exit status: 0 all states passed, 1 failures, 2 usage\n");
}

static void list_workloads(void)
{
	for (const struct workload *wl = workloads; wl->name; wl++)
		printf("%-13s %s%s\n", wl->name, wl->desc,
		       wl->quick ? "" : " [full run only]");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 's' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "max-states", required_argument, NULL, 'm' },
		{ "subset-limit", required_argument, NULL, 'k' },
		{ "samples", required_argument, NULL, 'r' },
		{ "recovery", required_argument, NULL, 'R' },
		{ "report", required_argument, NULL, 'o' },
		{ "replay", required_argument, NULL, 'p' },
		{ "replay-op", required_argument, NULL, 'O' },
		{ "no-probe", no_argument, NULL, 'P' },
		{ "quick", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "list-ops", no_argument, NULL, 'L' },
		{ "mirror", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .workload = "all", .seed = 1, .nseeds = 1,
			    .subset_limit = 8, .samples = 32, .probe = true };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'w': o->workload = optarg; break;
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		case 'n': o->nseeds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': o->max_states = strtoull(optarg, NULL, 0); break;
		case 'k': o->subset_limit = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': o->samples = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': o->recovery = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': o->report = optarg; break;
		case 'p': o->replay = optarg; break;
		case 'O': o->replay_op = optarg; break;
		case 'P': o->probe = false; break;
		case 'q': o->quick = true; break;
		case 'l': list_workloads(); exit(0);
		case 'L': o->list_ops = true; break;
		case 'M': o->mirror = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || o->subset_limit > 20 || o->nseeds == 0 ||
	    (o->mirror && o->recovery)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct stats total = { 0 };
	uint8_t *img0;
	char why[600], wname[64];
	bool any = false;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.replay) {
		if (sscanf(o.replay, "%63[^:]:%" SCNu64 ":", wname, &o.seed) != 2 ||
		    !strchr(o.replay, ':') || !strchr(strchr(o.replay, ':') + 1, ':') ||
		    !strchr(strchr(strchr(o.replay, ':') + 1, ':') + 1, ':')) {
			fprintf(stderr, "crashcheck: --replay wants WORKLOAD:SEED:FENCE:MASK\n");
			return 2;
		}
		o.workload = wname;
		o.nseeds = 1;
	}
	if (o.replay_op) {
		uint64_t opi;

		if (o.replay || sscanf(o.replay_op, "%63[^:]:%" SCNu64 ":%" SCNu64,
				       wname, &o.seed, &opi) != 3) {
			fprintf(stderr, "crashcheck: --replay-op wants WORKLOAD:SEED:OP "
				"(and no --replay)\n");
			return 2;
		}
		o.workload = wname;
		o.nseeds = 1;
	}
	if (strcmp(o.workload, "all") && !workload_find(o.workload)) {
		fprintf(stderr, "crashcheck: unknown workload %s (--list)\n",
			o.workload);
		return 2;
	}
	if (o.report && !(report_file = fopen(o.report, "w"))) {
		fprintf(stderr, "crashcheck: %s: %s\n", o.report, strerror(errno));
		return 2;
	}
	if (o.mirror)
		mirror_enable();
	img0 = malloc(WL_REGION_SIZE);
	if (!img0 || workload_mkfs(img0, why, sizeof(why))) {
		fprintf(stderr, "crashcheck: %s\n", img0 ? why : "out of memory");
		return 2;
	}
	say("crashcheck: region %" PRIu64 " MiB%s, %u inodes, journal %u "
	    "blocks; subset limit %u, samples %u, max states %" PRIu64
	    "%s, fsck %s\n", (uint64_t)(WL_FS_SIZE >> 20),
	    crash_mirror ? " (metadata mirrored)" : "", WL_INODES, WL_JOURNAL_BLOCKS, o.subset_limit,
	    o.samples, o.max_states, o.max_states ? "" : " (all)",
	    crash_fsck_available() ? "on" : "not built (own checks only)");
	say("%-13s %5s %5s %6s %10s %9s %8s %7s %8s %6s %8s\n", "workload",
	    "seed", "ops", "fences", "candidates", "generated", "distinct",
	    "images", "checked", "failed", "time");
	for (const struct workload *wl = workloads; wl->name; wl++) {
		if (strcmp(o.workload, "all") ? strcmp(o.workload, wl->name)
					      : (o.quick && !wl->quick))
			continue;
		any = true;
		for (unsigned i = 0; i < o.nseeds; i++)
			run_one(&o, wl, o.seed + i, img0, &total);
	}
	if (!any)
		say("crashcheck: no workload selected\n");
	say("%-13s %5s %5" PRIu64 " %6" PRIu64 " %10" PRIu64 " %9" PRIu64 " %8"
	    PRIu64 " %7" PRIu64 " %8" PRIu64 " %6" PRIu64 " %7.1fs\n", "TOTAL", "",
	    total.ops, total.fences, total.candidates, total.generated,
	    total.distinct, total.images, total.checked, total.failed,
	    total.secs);
	if (o.recovery)
		say("recovery crashes: %" PRIu64 " recoveries crashed, %" PRIu64
		    " states, %" PRIu64 " checked, %" PRIu64 " failed\n",
		    total.rec_outer, total.rec_generated, total.rec_checked,
		    total.rec_failed);
	free(img0);
	if (report_file && fclose(report_file)) {
		fprintf(stderr, "crashcheck: %s: write failed\n", o.report);
		return 2;
	}
	if (fflush(stdout)) {
		fprintf(stderr, "crashcheck: stdout: write failed\n");
		return 2;
	}
	return total.failed ? 1 : 0;
}
