/* SPDX-License-Identifier: MIT */
/*
 * Reverse map (rmap_i.h): a red-black tree of owned pieces keyed by region
 * block.  Pieces never overlap, so "first piece ending after X" is the
 * predecessor-or-successor of X, found with one RB_NFIND.
 */
#include <errno.h>
#include <stdlib.h>

#include "rmap_i.h"

/* libbsd's tree.h marks the generated functions __unused, which libbsd
 * leaves undefined on Linux (a kernel header uses the name); define it
 * only around the generated code. */
#define __unused __attribute__((__unused__))
#include <bsd/sys/tree.h>

struct rnode {
	RB_ENTRY(rnode) link;
	struct hfs_rmap_piece p;
};

static int rnode_cmp(const struct rnode *a, const struct rnode *b)
{
	return a->p.pblk < b->p.pblk ? -1 : a->p.pblk > b->p.pblk;
}

RB_HEAD(rtree, rnode);
RB_GENERATE_STATIC(rtree, rnode, link, rnode_cmp)
#undef __unused

struct hfs_rmap {
	struct rtree root;
	uint64_t count;
	uint64_t queries;  /* hfs_rmap_query calls, for the tests */
};

struct hfs_rmap *hfs_rmap_new(void)
{
	struct hfs_rmap *rm = calloc(1, sizeof(*rm));

	if (rm)
		RB_INIT(&rm->root);
	return rm;
}

void hfs_rmap_free(struct hfs_rmap *rm)
{
	struct rnode *n, *next;

	if (!rm)
		return;
	RB_FOREACH_SAFE(n, rtree, &rm->root, next) {
		RB_REMOVE(rtree, &rm->root, n);
		free(n);
	}
	free(rm);
}

uint64_t hfs_rmap_count(const struct hfs_rmap *rm)
{
	return rm->count;
}

uint64_t hfs_rmap_queries(const struct hfs_rmap *rm)
{
	return rm->queries;
}

/* The first piece that ends after pblk (the one containing pblk, or the
 * next one), or NULL. */
static struct rnode *first_after(const struct hfs_rmap *rm, uint64_t pblk)
{
	struct rnode key = { .p.pblk = pblk };
	struct rtree *root = (struct rtree *)&rm->root;
	struct rnode *n = RB_NFIND(rtree, root, &key), *prev;

	prev = n ? RB_PREV(rtree, root, n) : RB_MAX(rtree, root);
	if (prev && prev->p.pblk + prev->p.len > pblk)
		return prev;
	return n;
}

int hfs_rmap_add(struct hfs_rmap *rm, const struct hfs_rmap_piece *p)
{
	struct rnode *n = first_after(rm, p->pblk);

	if (p->len == 0)
		return 0;
	if (n && n->p.pblk < p->pblk + p->len)
		return -EEXIST;
	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->p = *p;
	RB_INSERT(rtree, &rm->root, n);
	rm->count++;
	return 0;
}

static bool backs_file(enum hfs_rmap_kind k)
{
	return k == HFS_RMAP_DATA || k == HFS_RMAP_DIR;
}

/* Cut [s, e) out of piece n, which overlaps it. */
static int piece_cut(struct hfs_rmap *rm, struct rnode *n, uint64_t s,
		     uint64_t e)
{
	uint64_t ps = n->p.pblk, pe = ps + n->p.len;

	if (s <= ps && e >= pe) {
		RB_REMOVE(rtree, &rm->root, n);
		free(n);
		rm->count--;
	} else if (s <= ps) { /* trim the head: the key changes */
		RB_REMOVE(rtree, &rm->root, n);
		if (backs_file(n->p.kind))
			n->p.lblk += e - ps;
		n->p.pblk = e;
		n->p.len = pe - e;
		RB_INSERT(rtree, &rm->root, n);
	} else if (e >= pe) { /* trim the tail */
		n->p.len = s - ps;
	} else { /* split */
		struct rnode *t = malloc(sizeof(*t));

		if (!t)
			return -ENOMEM;
		t->p = n->p;
		t->p.pblk = e;
		t->p.len = pe - e;
		if (backs_file(t->p.kind))
			t->p.lblk += e - ps;
		n->p.len = s - ps;
		RB_INSERT(rtree, &rm->root, t);
		rm->count++;
	}
	return 0;
}

int hfs_rmap_remove(struct hfs_rmap *rm, uint64_t pblk, uint64_t len)
{
	uint64_t end = pblk + len;
	struct rnode *n = first_after(rm, pblk);

	while (n && n->p.pblk < end) {
		struct rnode *next = RB_NEXT(rtree, &rm->root, n);
		int ret = piece_cut(rm, n, pblk, end);

		if (ret)
			return ret;
		n = next;
	}
	return 0;
}

int hfs_rmap_query(struct hfs_rmap *rm, uint64_t pblk, uint64_t len,
		   int (*cb)(void *ctx, const struct hfs_rmap_piece *p),
		   void *ctx)
{
	uint64_t end = pblk + len;

	rm->queries++;
	for (struct rnode *n = first_after(rm, pblk); n && n->p.pblk < end;
	     n = RB_NEXT(rtree, NULL, n)) { /* RB_NEXT ignores its head */
		struct hfs_rmap_piece c = n->p;
		uint64_t s = c.pblk > pblk ? c.pblk : pblk;
		uint64_t e = c.pblk + c.len < end ? c.pblk + c.len : end;
		int ret;

		if (backs_file(c.kind))
			c.lblk += s - c.pblk;
		c.pblk = s;
		c.len = e - s;
		ret = cb(ctx, &c);
		if (ret)
			return ret;
	}
	return 0;
}
