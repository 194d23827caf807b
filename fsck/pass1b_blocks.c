/* SPDX-License-Identifier: MIT */
/*
 * Pass 1b: block ownership.  Allocation is derived, so this is where the
 * on-media state proves (or fails to prove) that no pool block has two
 * owners.
 *
 * Checks: sorting every claim of pass 1 by region block, that no two
 *   overlap: not two extents, not an extent and a chain or xattr block,
 *   not anything and the bad-extent list (an extent marked HFS_EXT_LOST
 *   may stay on bad media: that is what the flag records).
 * Cross-link policy (docs/fsck.md), for each set of overlapping claims:
 *   1. the bad-extent list keeps its ranges: the media there is bad;
 *   2. chain and xattr blocks come next: they carry their owner and a
 *      checksum, and pass 1 checked both, so they really are what they
 *      claim; the data extent pointing at them is the one that is wrong;
 *   3. then the lower inode number (then the lower file block) wins.
 *   Each loser is moved: given a private copy of the blocks as they are
 *   now, if free space allows ("clone").  If not, or the copy cannot be
 *   read, the overlapping range is cut out of the file (a hole), the file
 *   is marked HFS_IF_LOSTDATA, and a lost-data record names it in the
 *   health log.  A cut directory block loses its entries (pass 3 then
 *   reconnects their inodes); a symlink without its block is cleared.
 *   File data on bad media is instead marked lost in place (the extent is
 *   split and the bad part flagged HFS_EXT_LOST: reads of it fail with
 *   EIO, exactly as after a media error at run time).
 *   Never are two owners left.
 * Needs: pass 1 (claims, f->ino).
 * The repairs themselves (clone, cut, mark lost, rewrite the inode) are
 * pass1b_repair.c's (pass1b.h).
 * Leaves: disjoint claims sorted by (ino, kind, lblk), f->alloc (the free
 *   space: pool minus claims), and f->dirs, the block map of every
 *   directory for passes 2 and 3.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "members.h"
#include "pass1b.h"

/* A claimed range already decided for in a group. */
struct taken {
	uint64_t s, e;
	size_t claim;
};

static const char *kind_name(const struct fsck *f, const struct fsck_claim *c)
{
	switch (c->kind) {
	case CL_DIR: return "directory block";
	case CL_CHAIN: return "extent block";
	case CL_XATTR: return "xattr block";
	case CL_BAD: return "bad-extent list";
	default:
		return S_ISLNK(f->ino[c->ino].mode) ? "symlink block" : "data";
	}
}

static int prio(const struct fsck_claim *c)
{
	return c->kind == CL_BAD ? 0 :
	       c->kind == CL_CHAIN || c->kind == CL_XATTR ? 1 : 2;
}

static int by_pblk(const void *a, const void *b, void *ctx)
{
	const struct fsck *f = ctx;
	const struct fsck_claim *x = &f->cl[*(const size_t *)a];
	const struct fsck_claim *y = &f->cl[*(const size_t *)b];

	return x->pblk < y->pblk ? -1 : x->pblk > y->pblk;
}

static int by_prio(const void *a, const void *b, void *ctx)
{
	const struct fsck *f = ctx;
	const struct fsck_claim *x = &f->cl[*(const size_t *)a];
	const struct fsck_claim *y = &f->cl[*(const size_t *)b];

	if (prio(x) != prio(y))
		return prio(x) - prio(y);
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->lblk < y->lblk ? -1 : x->lblk > y->lblk;
}

static int act_add(struct p1b_acts *a, const struct p1b_act *x)
{
	if (a->n == a->cap &&
	    hfs_grow(&a->v, &a->cap, a->n + 1, sizeof(*a->v)))
		return -ENOMEM;
	a->v[a->n++] = *x;
	return 0;
}

/* ------------------------------------------------------ deciding */

/* Overlap of claim c with the taken ranges: bounds in os and oe, the
 * first other owner in *other, and whether every overlap is bad media. */
static bool overlap(const struct fsck *f, const struct taken *t, size_t nt,
		    const struct fsck_claim *c, uint64_t *os, uint64_t *oe,
		    size_t *other, bool *only_bad)
{
	bool any = false;

	*only_bad = true;
	for (size_t i = 0; i < nt; i++) {
		uint64_t s = t[i].s > c->pblk ? t[i].s : c->pblk;
		uint64_t e = t[i].e < c->pblk + c->len ? t[i].e
						       : c->pblk + c->len;

		if (s >= e)
			continue;
		if (!any || s < *os)
			*os = s;
		if (!any || e > *oe)
			*oe = e;
		if (!any || f->cl[*other].kind == CL_BAD)
			*other = t[i].claim;
		any = true;
		*only_bad &= f->cl[t[i].claim].kind == CL_BAD;
	}
	return any;
}

/* *stays: the claim keeps its blocks (data marked lost in place). */
static int decide_one(struct fsck *f, struct p1b_acts *acts, size_t ci,
		      uint64_t os, uint64_t oe, size_t oi, bool only_bad,
		      bool *stays)
{
	const struct fsck_claim *c = &f->cl[ci], *o = &f->cl[oi];
	struct p1b_act a = { .ino = c->ino, .claim = ci, .os = os, .oe = oe,
			 .cut = o->kind == CL_CHAIN || o->kind == CL_XATTR };
	bool data = c->kind == CL_DATA && S_ISREG(f->ino[c->ino].mode);

	*stays = only_bad && data;
	if (only_bad && data) {
		a.type = A_LOST;
		fix_problem(f, HFS_P1B_ON_BAD, c->ino, os * BLK, "inode %"
			    PRIu64 ": data at file block %" PRIu64 " (region "
			    "blocks %" PRIu64 "-%" PRIu64 ") lies on bad media",
			    c->ino, c->lblk + (os - c->pblk), os, oe - 1);
		return act_add(acts, &a);
	}
	a.type = A_MOVE;
	if (only_bad)
		fix_problem(f, HFS_P1B_META_ON_BAD, c->ino, os * BLK, "inode %"
			    PRIu64 ": %s %" PRIu64 " lies on bad media", c->ino,
			    kind_name(f, c), os);
	else
		fix_problem(f, HFS_P1B_DUP_BLOCKS, c->ino, os * BLK, "region "
			    "blocks %" PRIu64 "-%" PRIu64 ": %s of inode %"
			    PRIu64 " also claimed as %s of inode %" PRIu64,
			    os, oe - 1, kind_name(f, c), c->ino,
			    kind_name(f, o), o->ino);
	/* recorded whatever the answer: -n previews it, -y applies it
	 * (apply() only runs when every answer was yes) */
	return act_add(acts, &a);
}

/* One set of transitively overlapping claims g[0..n). */
static int decide_group(struct fsck *f, size_t *g, size_t n,
			struct p1b_acts *acts)
{
	struct taken *t = malloc(n * sizeof(*t));
	size_t nt = 0;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	qsort_r(g, n, sizeof(*g), by_prio, f);
	for (size_t i = 0; i < n && !ret && !f->halt; i++) {
		const struct fsck_claim *c = &f->cl[g[i]];
		uint64_t os = 0, oe = 0;
		size_t other = 0;
		bool only_bad, stays;

		if (!overlap(f, t, nt, c, &os, &oe, &other, &only_bad) ||
		    (only_bad && c->kind == CL_DATA &&
		     (c->eflags & HFS_EXT_LOST))) {
			t[nt++] = (struct taken){ c->pblk, c->pblk + c->len,
						  g[i] };
			continue;
		}
		ret = decide_one(f, acts, g[i], os, oe, other, only_bad,
				 &stays);
		if (stays)
			t[nt++] = (struct taken){ c->pblk, c->pblk + c->len,
						  g[i] };
	}
	free(t);
	return ret;
}

/* Sweep the claims by region block: reserve each group's span in the
 * free-space map, and decide every group with more than one claim. */
static int sweep(struct fsck *f, size_t *ix, size_t n, struct p1b_acts *acts)
{
	size_t i = 0;
	int ret = 0;

	while (i < n && !ret && !f->halt) {
		uint64_t s = f->cl[ix[i]].pblk;
		uint64_t e = s + f->cl[ix[i]].len;
		size_t j = i + 1;

		while (j < n && f->cl[ix[j]].pblk < e) {
			uint64_t ej = f->cl[ix[j]].pblk + f->cl[ix[j]].len;

			e = ej > e ? ej : e;
			j++;
		}
		hfs_alloc_reserve(&f->alloc, s, e - s);
		if (j - i > 1)
			ret = decide_group(f, ix + i, j - i, acts);
		i = j;
	}
	return ret;
}

/* -n: the files the repairs would make lose data, for the report.  A
 * clone is tried against the free-space map (nothing is written). */
static void preview(struct fsck *f, const struct p1b_acts *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const struct p1b_act *a = &acts->v[i];
		const struct fsck_claim *c = &f->cl[a->claim];
		uint64_t u = f->unit_blocks;

		if (c->kind != CL_DATA || !S_ISREG(f->ino[c->ino].mode))
			continue;
		if (a->type == A_LOST || a->cut ||
		    fsck_alloc(f, (c->len + u - 1) / u * u, u, 0) < 0)
			fsck_report_lost(f, a->ino, a->os * BLK,
					 (a->oe - a->os) * BLK, "fsck");
	}
}

/* ------------------------------------------------------ directories */

static int dirs_build(struct fsck *f)
{
	f->ndirs = 0;
	for (uint64_t ino = 1; ino < f->scan_end; ino++) {
		struct fsck_dir *d;
		size_t n, first;

		if (!f->ino[ino].mode || !S_ISDIR(f->ino[ino].mode))
			continue;
		if (fsck_dirs_push(f, ino))
			return -ENOMEM;
		d = &f->dirs[f->ndirs - 1];
		first = fsck_claims_of(f, ino, &n);
		d->v = malloc((n ? n : 1) * sizeof(*d->v));
		d->chain = malloc((n ? n : 1) * sizeof(*d->chain));
		if (!d->v || !d->chain)
			return -ENOMEM;
		for (size_t i = first; i < first + n; i++) {
			const struct fsck_claim *c = &f->cl[i];

			if (c->kind == CL_DIR)
				d->v[d->n++] = (struct hfs_extent){
					c->lblk, c->pblk, (uint32_t)c->len,
					c->eflags };
			else if (c->kind == CL_CHAIN)
				d->chain[d->nchain++] = c->pblk;
		}
	}
	return 0;
}

int fsck_pass1b(struct fsck *f)
{
	struct p1b_acts acts = { 0 };
	size_t *ix;
	int ret;

	fsck_claims_sort(f);
	ix = malloc((f->ncl ? f->ncl : 1) * sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < f->ncl; i++)
		ix[i] = i;
	qsort_r(ix, f->ncl, sizeof(*ix), by_pblk, f);
	ret = hfs_alloc_init(&f->alloc, f->pool_start, f->pool_end);
	if (!ret)
		ret = hfs_devtab_reserve_gaps(&f->devtab, &f->alloc);
	f->alloc_ready = !ret;
	if (!ret)
		ret = sweep(f, ix, f->ncl, &acts);
	free(ix);
	if (!ret && acts.n && f->writable && f->o->mode != HFS_FSCK_NO &&
	    !f->halt)
		ret = p1b_apply(f, &acts);
	else if (!ret)
		preview(f, &acts);
	free(acts.v);
	fsck_claims_sort(f);
	if (!ret)
		ret = dirs_build(f);
	return ret;
}
