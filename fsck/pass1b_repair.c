/* SPDX-License-Identifier: MIT */
/*
 * Pass 1b repairs (pass1b.h): each inode that lost blocks is rebuilt from
 * its claims, changed, and rewritten once (extents, overflow chain, slot),
 * then its claims are replaced.
 *   - A_LOST: the extent is split at every bad range it crosses and the
 *     pieces on bad media flagged HFS_EXT_LOST;
 *   - A_MOVE: the extent (or an inode's only xattr block) is copied to
 *     fresh space; a shared block of a longer xattr chain or a value
 *     block drops the inode's extended attributes instead (the blocks
 *     name each other)
 *     (aligned to the allocation unit for file data); a chain block is
 *     simply dropped and the chain rewritten in new blocks; if the copy is
 *     impossible (no space, unreadable, or the bytes are another inode's
 *     metadata) everything the extent shares with any other claim is cut
 *     out of it, the file flagged HFS_IF_LOSTDATA and a lost-data record
 *     queued; a directory loses the block, a symlink is cleared.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pass1b.h"

#define COPY_CHUNK 16u /* blocks per copy step */

/* An inode's image rebuilt from its claims, for rewriting. */
struct rimg {
	struct hfs_inode_disk d;
	struct hfs_extent *v;
	uint32_t n;
	size_t cap;
	uint64_t *chain;
	uint32_t nchain;
	uint64_t *xa;    /* xattr and value blocks */
	uint32_t nxa;
	bool lost;
};

static int rimg_load(struct fsck *f, uint64_t ino, struct rimg *m)
{
	size_t n, first = fsck_claims_of(f, ino, &n);

	memset(m, 0, sizeof(*m));
	if (fsck_read_inode(f, ino, &m->d))
		return -EIO;
	m->cap = n + 4;
	m->v = calloc(m->cap, sizeof(*m->v));
	m->chain = calloc(n + 1, sizeof(*m->chain));
	m->xa = calloc(n + 1, sizeof(*m->xa));
	if (!m->v || !m->chain || !m->xa)
		return -ENOMEM;
	for (size_t i = first; i < first + n; i++) {
		const struct fsck_claim *c = &f->cl[i];

		if (c->kind == CL_DATA || c->kind == CL_DIR)
			m->v[m->n++] = (struct hfs_extent){
				c->lblk, c->pblk, (uint32_t)c->len, c->eflags };
		else if (c->kind == CL_CHAIN)
			m->chain[m->nchain++] = c->pblk;
		else if (c->kind == CL_XATTR)
			m->xa[m->nxa++] = c->pblk;
	}
	return 0;
}

static int extent_index(const struct rimg *m, const struct fsck_claim *c)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->v[i].e_lblk == c->lblk && m->v[i].e_pblk == c->pblk)
			return (int)i;
	return -1;
}

/* The extent holding region block p, or -1; with lo < hi, only among
 * the pieces of the file range [lo, hi) (what is left of one extent). */
static int extent_at_in(const struct rimg *m, uint64_t p, uint64_t lo,
			uint64_t hi)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (p >= m->v[i].e_pblk && p < m->v[i].e_pblk + m->v[i].e_len &&
		    (lo >= hi || (m->v[i].e_lblk >= lo && m->v[i].e_lblk < hi)))
			return (int)i;
	return -1;
}

/* Replace v[k] by the pieces of it outside [s, e) (blocks), plus (if
 * keep_lost) the inside piece flagged lost.  Returns false (and leaves
 * the map alone) if there is no memory for the pieces. */
static bool extent_split(struct rimg *m, uint32_t k, uint64_t s, uint64_t e,
			 bool keep_lost)
{
	struct hfs_extent x = m->v[k], p[3];
	uint32_t np = 0;
	uint64_t xe = x.e_pblk + x.e_len;

	if (hfs_grow(&m->v, &m->cap, (size_t)m->n + 2, sizeof(*m->v)))
		return false;
	s = s > x.e_pblk ? s : x.e_pblk;
	e = e < xe ? e : xe;
	if (s > x.e_pblk)
		p[np++] = (struct hfs_extent){ x.e_lblk, x.e_pblk,
					       (uint32_t)(s - x.e_pblk),
					       x.e_flags };
	if (keep_lost)
		p[np++] = (struct hfs_extent){ x.e_lblk + (s - x.e_pblk), s,
					       (uint32_t)(e - s),
					       x.e_flags | HFS_EXT_LOST };
	if (e < xe)
		p[np++] = (struct hfs_extent){ x.e_lblk + (e - x.e_pblk), e,
					       (uint32_t)(xe - e), x.e_flags };
	memmove(&m->v[k + np], &m->v[k + 1], (m->n - k - 1) * sizeof(x));
	memcpy(&m->v[k], p, np * sizeof(x));
	m->n = m->n - 1 + np;
	return true;
}

/* Remove region blocks [s, e) from the pieces of the file range
 * [lo, hi) that hold them. */
static void cut_range(struct rimg *m, uint64_t s, uint64_t e, uint64_t lo,
		      uint64_t hi)
{
	while (s < e) {
		int k = extent_at_in(m, s, lo, hi);
		uint64_t next = e, pe;

		if (k < 0) { /* skip to the next piece inside [s, e) */
			for (uint32_t i = 0; i < m->n; i++)
				if (m->v[i].e_pblk > s && m->v[i].e_pblk < next &&
				    m->v[i].e_lblk >= lo && m->v[i].e_lblk < hi)
					next = m->v[i].e_pblk;
			s = next;
			continue;
		}
		pe = m->v[k].e_pblk + m->v[k].e_len;
		next = pe < e ? pe : e;
		if (!extent_split(m, (uint32_t)k, s, next, false))
			return;
		s = next;
	}
}

static int copy_blocks(struct fsck *f, uint64_t src, uint64_t dst,
		       uint64_t n)
{
	uint8_t *buf = malloc(COPY_CHUNK * BLK);
	int ret = buf ? 0 : -ENOMEM;

	for (uint64_t i = 0; i < n && !ret; i += COPY_CHUNK) {
		uint64_t k = n - i < COPY_CHUNK ? n - i : COPY_CHUNK;

		ret = fsck_read(f, (src + i) * BLK, buf, k * BLK);
		if (!ret)
			ret = fsck_write(f, (dst + i) * BLK, buf, k * BLK);
	}
	free(buf);
	return ret;
}

/* Clone n blocks at pblk to fresh space; returns the new pblk or < 0. */
static int64_t clone_blocks(struct fsck *f, uint64_t pblk, uint64_t n, bool data)
{
	uint64_t align = data ? f->unit_blocks : 1;
	uint64_t want = (n + align - 1) / align * align;
	int64_t b = fsck_alloc(f, want, align, pblk);

	if (b < 0)
		return b;
	if (copy_blocks(f, pblk, (uint64_t)b, n)) {
		hfs_alloc_put(&f->alloc, (uint64_t)b, want);
		return -EIO;
	}
	return b;
}

/* Cut out of the loser's extent every block some other claim names.
 * Not only the winners' ranges: the claims that did not overlap the
 * winners were decided on the assumption that the loser would move, so
 * a loser that stays must give up everything it shares. */
static void cut_shared(struct fsck *f, const struct p1b_act *a, struct rimg *m)
{
	const struct fsck_claim c = f->cl[a->claim];

	for (size_t j = 0; j < f->ncl; j++) {
		const struct fsck_claim *o = &f->cl[j];
		uint64_t s = o->pblk > c.pblk ? o->pblk : c.pblk;
		uint64_t e = o->pblk + o->len < c.pblk + c.len
				     ? o->pblk + o->len : c.pblk + c.len;

		if (j != a->claim && o->kind != CL_DEAD && s < e)
			cut_range(m, s, e, c.lblk, c.lblk + c.len);
	}
}

static void mark_lost(struct fsck *f, uint64_t ino, struct rimg *m,
		      uint64_t s, uint64_t e)
{
	m->lost = true;
	f->ino[ino].flags |= FI_LOSTDATA;
	fsck_report_lost(f, ino, s * BLK, (e - s) * BLK, "fsck");
	fsck_hlog(f, HFS_HEALTH_LOST_DATA, s * BLK, (e - s) * BLK, ino,
		  "fsck: data lost (cross-link or bad media)");
}

/* Data on bad media: split the extent at every bad range it crosses
 * and flag those pieces lost. */
static void act_lost(struct fsck *f, const struct p1b_act *a, struct rimg *m)
{
	const struct fsck_claim c = f->cl[a->claim];

	for (uint32_t i = 0; i < f->nbad; i++) {
		uint64_t s = f->bad[i].bx_off / BLK;
		uint64_t e = s + f->bad[i].bx_len / BLK;
		int k;

		if (s >= c.pblk + c.len || e <= c.pblk)
			continue;
		k = extent_at_in(m, s > c.pblk ? s : c.pblk, c.lblk,
				 c.lblk + c.len);
		if (k >= 0 && !(m->v[k].e_flags & HFS_EXT_LOST))
			extent_split(m, (uint32_t)k, s, e, true);
	}
	m->lost = true;
	f->ino[a->ino].flags |= FI_LOSTDATA;
	fsck_report_lost(f, a->ino, a->os * BLK, (a->oe - a->os) * BLK, "fsck");
	fsck_hlog(f, HFS_HEALTH_LOST_DATA, a->os * BLK, (a->oe - a->os) * BLK,
		  a->ino, "fsck: data on bad media marked lost");
}

/* A loser extent: a private copy, else cut (see the header comment). */
static void act_extent(struct fsck *f, const struct p1b_act *a, struct rimg *m)
{
	const struct fsck_claim c = f->cl[a->claim];
	int k = extent_index(m, &c);
	int64_t b;

	if (k < 0)
		return;
	if (a->type == A_LOST) {
		act_lost(f, a, m);
		return;
	}
	b = a->cut ? -EUCLEAN : clone_blocks(f, c.pblk, c.len,
					     S_ISREG(m->d.i_mode));
	if (b >= 0) {
		m->v[k].e_pblk = (uint64_t)b;
		return;
	}
	fix_problem(f, HFS_P1B_DATA_LOST, a->ino, a->os * BLK, "inode %"
		    PRIu64 ": no private copy (%s); region blocks %" PRIu64
		    "-%" PRIu64 " cut out", a->ino,
		    b == -ENOSPC ? "no free space" :
		    b == -EUCLEAN ? "they hold another inode's metadata" :
		    "unreadable", a->os, a->oe - 1);
	if (S_ISLNK(m->d.i_mode))
		m->n = 0; /* a symlink without its target: cleared below */
	else if (S_ISDIR(m->d.i_mode))
		extent_split(m, (uint32_t)k, c.pblk, c.pblk + c.len, false);
	else
		cut_shared(f, a, m);
	if (S_ISREG(m->d.i_mode))
		mark_lost(f, a->ino, m, a->os, a->oe);
}

static void act_meta(struct fsck *f, const struct p1b_act *a, struct rimg *m)
{
	const struct fsck_claim c = f->cl[a->claim];
	int64_t b;

	if (c.kind == CL_XATTR && m->nxa == 1 &&
	    m->xa[0] == m->d.i_xattr_blk) {
		/* the one xattr block: a copy of it */
		b = clone_blocks(f, c.pblk, 1, false);
		m->d.i_xattr_blk = b >= 0 ? (uint64_t)b : 0;
		m->xa[0] = m->d.i_xattr_blk;
		m->nxa = b >= 0;
		return;
	}
	if (c.kind == CL_XATTR) {
		/* a chain or a value block: the blocks name each other, so
		 * copying one means rewriting others; the attributes go */
		if (m->d.i_xattr_blk)
			fix_problem(f, HFS_P1_XATTR_BAD, a->ino, c.pblk * BLK,
				    "inode %" PRIu64 ": xattr block %" PRIu64
				    " is shared; the extended attributes are "
				    "dropped", a->ino, c.pblk);
		m->d.i_xattr_blk = 0;
		m->nxa = 0;
		return;
	}
	/* chain block: forget it; fsck_chain_fit allocates a new one and
	 * the chain is rewritten from the extents */
	for (uint32_t i = 0; i < m->nchain; i++)
		if (m->chain[i] == c.pblk) {
			memmove(&m->chain[i], &m->chain[i + 1],
				(m->nchain - i - 1) * sizeof(*m->chain));
			m->nchain--;
			break;
		}
}

/* Directory blocks renumbered from 0 after a cut; size follows. */
static void dir_renumber(struct rimg *m)
{
	uint64_t l = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		m->v[i].e_lblk = l;
		l += m->v[i].e_len;
	}
	m->d.i_size = l * BLK;
}

/* New claims of ino from its rewritten image. */
static int reclaim(struct fsck *f, uint64_t ino, const struct rimg *m)
{
	size_t n, first = fsck_claims_of(f, ino, &n);
	bool dir = S_ISDIR(m->d.i_mode);
	int ret = 0;

	for (size_t i = first; i < first + n; i++)
		f->cl[i].kind = CL_DEAD;
	for (size_t i = f->nsorted; i < f->ncl; i++)
		if (f->cl[i].ino == ino)
			f->cl[i].kind = CL_DEAD;
	for (uint32_t i = 0; i < m->n && !ret; i++) {
		struct fsck_claim c = { m->v[i].e_pblk, m->v[i].e_len,
					m->v[i].e_lblk, ino, m->v[i].e_flags,
					dir ? CL_DIR : CL_DATA };
		ret = fsck_claim_add(f, &c);
	}
	for (uint32_t k = 0; k < fsck_chain_needed(m->n) && !ret; k++) {
		struct fsck_claim c = { m->chain[k], 1, k, ino, 0, CL_CHAIN };
		ret = fsck_claim_add(f, &c);
	}
	for (uint32_t k = 0; k < m->nxa && !ret; k++) {
		struct fsck_claim c = { m->xa[k], 1, k, ino, 0, CL_XATTR };
		ret = fsck_claim_add(f, &c);
	}
	return ret;
}

/* Chain blocks for the new extent count; on a full pool keep what fits. */
static void fit_chain(struct fsck *f, uint64_t ino, struct rimg *m)
{
	uint32_t cap;

	while (fsck_chain_fit(f, ino, &m->chain, &m->nchain, m->n)) {
		cap = HFS_INLINE_EXTENTS + m->nchain * HFS_EXTENTS_PER_BLOCK;
		if (m->n <= cap)
			break;
		mark_lost(f, ino, m, m->v[cap].e_pblk,
			  m->v[m->n - 1].e_pblk + m->v[m->n - 1].e_len);
		m->n = cap;
	}
}

/* Apply acts a[0..n) (all of one inode) and rewrite the inode. */
static int apply_inode(struct fsck *f, const struct p1b_act *a, size_t n)
{
	uint64_t ino = a[0].ino;
	struct rimg m;
	int ret = rimg_load(f, ino, &m);

	for (size_t i = 0; i < n && !ret; i++) {
		uint32_t kind = f->cl[a[i].claim].kind;

		if (kind == CL_DATA || kind == CL_DIR)
			act_extent(f, &a[i], &m);
		else
			act_meta(f, &a[i], &m);
	}
	if (!ret && S_ISLNK(m.d.i_mode) && !(m.d.i_flags & HFS_IF_INLINE_DATA)
	    && m.n == 0) {
		f->ino[ino].mode = 0;
		m.d.i_xattr_blk = 0;
		m.nxa = 0;
		ret = reclaim(f, ino, &m);
		free(m.v);
		free(m.chain);
		free(m.xa);
		return ret ? ret : fsck_free_inode(f, ino);
	}
	if (!ret) {
		if (S_ISDIR(m.d.i_mode))
			dir_renumber(&m);
		if (m.lost && S_ISREG(m.d.i_mode))
			m.d.i_flags |= HFS_IF_LOSTDATA;
		fit_chain(f, ino, &m);
		ret = fsck_write_extents(f, ino, &m.d, m.v, m.n, m.chain);
		if (!ret)
			ret = reclaim(f, ino, &m);
	}
	free(m.v);
	free(m.chain);
	free(m.xa);
	return ret;
}

static int act_cmp(const void *a, const void *b)
{
	const struct p1b_act *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->claim < y->claim ? -1 : x->claim > y->claim;
}

int p1b_apply(struct fsck *f, struct p1b_acts *acts)
{
	size_t i = 0;

	qsort(acts->v, acts->n, sizeof(*acts->v), act_cmp);
	while (i < acts->n) {
		size_t j = i + 1;
		int ret;

		while (j < acts->n && acts->v[j].ino == acts->v[i].ino)
			j++;
		ret = apply_inode(f, &acts->v[i], j - i);
		if (ret == -ENOMEM)
			return ret;
		if (ret)
			fsck_fix_failed(f, ret);
		i = j;
	}
	return 0;
}
