/* SPDX-License-Identifier: MIT */
/*
 * The lease table (lease_i.h): three red-black trees over the same
 * leases, by id, by (inode, id), and by (inode, id) for those that map
 * holes; the extent-level questions asked of one lease; and the inodes
 * whose leases to look at, from an rmap walk of a region range or from
 * the pieces a failed range was classified into.  "Who holds this range" is rmap -> owning inodes -> their leases,
 * O(log n + k); nothing here scans every lease except the admin listing
 * and a whole-device failure, which want every lease.
 */
#include "lease_i.h"
#include "coherence.h"
#include "datapath.h"
#include "grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int lease_id_cmp(const struct hfsd_lease *a, const struct hfsd_lease *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

static int lease_ino_cmp(const struct hfsd_lease *a, const struct hfsd_lease *b)
{
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return lease_id_cmp(a, b);
}

/* libbsd's tree.h marks the generated functions __unused, which libbsd
 * leaves undefined on Linux; define it only around the generated code. */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(lease_ids, hfsd_lease, by_id, lease_id_cmp)
RB_GENERATE_STATIC(lease_inos, hfsd_lease, by_ino, lease_ino_cmp)
RB_GENERATE_STATIC(lease_holes, hfsd_lease, by_hole, lease_ino_cmp)
#undef __unused

void hfsd_lease_table_init(struct hfsd_ctl *c)
{
	RB_INIT(&c->leases_by_id);
	RB_INIT(&c->leases_by_ino);
	RB_INIT(&c->leases_with_holes);
}

struct hfsd_lease *hfsd_lease_find_locked(struct hfsd_ctl *c, uint64_t id)
{
	struct hfsd_lease k = { .id = id };

	return RB_FIND(lease_ids, &c->leases_by_id, &k);
}

struct hfsd_lease *hfsd_lease_first_locked(struct hfsd_ctl *c)
{
	return RB_MIN(lease_ids, &c->leases_by_id);
}

struct hfsd_lease *hfsd_lease_next_locked(struct hfsd_ctl *c,
					  struct hfsd_lease *l)
{
	(void)c; /* libbsd's RB_NEXT does not use the head */
	return RB_NEXT(lease_ids, &c->leases_by_id, l);
}

struct hfsd_lease *hfsd_lease_first_of_ino_locked(struct hfsd_ctl *c,
						  uint64_t ino)
{
	struct hfsd_lease k = { .ino = ino, .id = 0 }, *l;

	l = RB_NFIND(lease_inos, &c->leases_by_ino, &k);
	return l && l->ino == ino ? l : NULL;
}

struct hfsd_lease *hfsd_lease_next_of_ino_locked(struct hfsd_ctl *c,
						 struct hfsd_lease *l)
{
	struct hfsd_lease *n = RB_NEXT(lease_inos, &c->leases_by_ino, l);

	(void)c;
	return n && n->ino == l->ino ? n : NULL;
}

struct hfsd_lease *hfsd_lease_first_holey_locked(struct hfsd_ctl *c,
						 uint64_t ino)
{
	struct hfsd_lease k = { .ino = ino, .id = 0 }, *l;

	l = RB_NFIND(lease_holes, &c->leases_with_holes, &k);
	return l && l->ino == ino ? l : NULL;
}

struct hfsd_lease *hfsd_lease_next_holey_locked(struct hfsd_ctl *c,
						struct hfsd_lease *l)
{
	struct hfsd_lease *n = RB_NEXT(lease_holes, &c->leases_with_holes, l);

	(void)c;
	return n && n->ino == l->ino ? n : NULL;
}

void hfsd_lease_insert_locked(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	RB_INSERT(lease_ids, &c->leases_by_id, l);
	RB_INSERT(lease_inos, &c->leases_by_ino, l);
	for (uint32_t i = 0; i < l->n && !l->holey; i++)
		l->holey = l->ext[i].flags & HFS_LEXT_HOLE;
	if (l->holey)
		RB_INSERT(lease_holes, &c->leases_with_holes, l);
	hfsd_lease_devs_note_locked(c, l);
	c->nleases++;
}

void hfsd_lease_drop_locked(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	RB_REMOVE(lease_ids, &c->leases_by_id, l);
	RB_REMOVE(lease_inos, &c->leases_by_ino, l);
	if (l->holey)
		RB_REMOVE(lease_holes, &c->leases_with_holes, l);
	hfsd_lease_devs_forget_locked(c, l);
	c->nleases--;
	hfsd_coh_put(c->coh, l->ino);
	if (l->dslot != HFS_DSLOT_NONE)
		hfsd_datapath_detach(c, l->ino, l->dslot_gen, l->dslot);
	free(l->ext);
	free(l);
}

unsigned hfsd_lease_drop_client_locked(struct hfsd_ctl *c,
				       const struct hfsd_client *cl)
{
	struct hfsd_lease *l, *next;
	unsigned n = 0;

	for (l = RB_MIN(lease_ids, &c->leases_by_id); l; l = next) {
		next = RB_NEXT(lease_ids, &c->leases_by_id, l);
		if (!cl || l->cl == cl) {
			hfsd_lease_drop_locked(c, l);
			n++;
		}
	}
	return n;
}

bool hfsd_lease_maps_locked(const struct hfsd_lease *l, uint64_t rs,
			    uint64_t re)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (!(l->ext[i].flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) &&
		    l->ext[i].region_off < re &&
		    l->ext[i].region_off + l->ext[i].len > rs)
			return true;
	return false;
}

bool hfsd_lease_client_maps_locked(struct hfsd_ctl *c,
				   const struct hfsd_client *cl, uint64_t rs,
				   uint64_t re, uint64_t *ms, uint64_t *me)
{
	for (struct hfsd_lease *l = hfsd_lease_first_locked(c); l;
	     l = hfsd_lease_next_locked(c, l)) {
		if (l->cl != cl)
			continue;
		for (uint32_t i = 0; i < l->n; i++) {
			const struct hfs_lease_extent *e = &l->ext[i];
			uint64_t es = e->region_off, ee = es + e->len;

			if ((e->flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) ||
			    es >= re || ee <= rs)
				continue;
			*ms = es > rs ? es : rs;
			*me = ee < re ? ee : re;
			return true;
		}
	}
	return false;
}

/* Extent e of a lease, [rs, re) of it revoked: the part before, the
 * revoked middle and the part after (lengths may be 0 but the middle's). */
static void split_extent(const struct hfs_lease_extent *e, uint64_t rs,
			 uint64_t re, struct hfs_lease_extent *a,
			 struct hfs_lease_extent *m, struct hfs_lease_extent *b)
{
	uint64_t s = e->region_off > rs ? e->region_off : rs;
	uint64_t en = e->region_off + e->len < re ? e->region_off + e->len
						  : re;

	*m = *e;
	m->file_off = e->file_off + (s - e->region_off);
	m->region_off = s;
	m->len = en - s;
	m->flags |= HFSD_LEXT_REVOKED;
	*a = *e;
	a->len = s - e->region_off;
	*b = *e;
	b->file_off = m->file_off + m->len;
	b->region_off = en;
	b->len = e->region_off + e->len - en;
}

bool hfsd_lease_revoke_range_locked(struct hfsd_lease *l, uint64_t rs,
				    uint64_t re, uint64_t *fs, uint64_t *fe)
{
	struct hfs_lease_extent *out;
	uint32_t n = 0;

	if (!hfsd_lease_maps_locked(l, rs, re))
		return false;
	out = calloc((size_t)l->n * 3, sizeof(*out));
	if (!out) {
		/* cannot split: revoke whole extents (still safe) */
		rs = 0;
		re = UINT64_MAX;
	}
	*fs = UINT64_MAX;
	*fe = 0;
	for (uint32_t i = 0; i < l->n; i++) {
		struct hfs_lease_extent e = l->ext[i], a, b, m;

		if ((e.flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED)) ||
		    e.region_off >= re || e.region_off + e.len <= rs) {
			if (out)
				out[n++] = e;
			continue;
		}
		split_extent(&e, rs, re, &a, &m, &b);
		if (m.file_off < *fs)
			*fs = m.file_off;
		if (m.file_off + m.len > *fe)
			*fe = m.file_off + m.len;
		if (!out) {
			l->ext[i].flags |= HFSD_LEXT_REVOKED;
			continue;
		}
		if (a.len)
			out[n++] = a;
		out[n++] = m;
		if (b.len)
			out[n++] = b;
	}
	if (out) {
		free(l->ext);
		l->ext = out;
		l->n = n;
	}
	return true;
}

static int ino_set_add(struct hfsd_ino_set *s, uint64_t ino)
{
	if (s->n && s->v[s->n - 1] == ino)
		return 0;
	if (hfs_grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v))) {
		s->err = -ENOMEM;
		return 1;
	}
	s->v[s->n++] = ino;
	return 0;
}

static int ino_cb(void *ctx, const struct hfs_owner *w)
{
	if (w->kind != HFS_KIND_DATA)
		return 0; /* leases map file data only */
	return ino_set_add(ctx, w->ino);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and make unique; on an error (r or s->err) free and empty it. */
static int ino_set_finish(struct hfsd_ino_set *s, int r)
{
	size_t k = 0;

	if (r < 0 || s->err < 0) {
		free(s->v);
		*s = (struct hfsd_ino_set){ 0 };
		return r < 0 ? r : -ENOMEM;
	}
	if (s->n > 1) /* (qsort of a NULL array is undefined, even empty) */
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		if (!k || s->v[k - 1] != s->v[i])
			s->v[k++] = s->v[i];
	s->n = k;
	return 0;
}

int hfsd_lease_owner_inos(struct hfsd_ctl *c, uint64_t rs, uint64_t re,
			  struct hfsd_ino_set *s)
{
	*s = (struct hfsd_ino_set){ 0 };
	return ino_set_finish(s, hfs_vol_owners(c->d->vol, rs, re - rs,
						ino_cb, s));
}

int hfsd_lease_piece_inos(const struct hfs_fail_piece *v, size_t n,
			  struct hfsd_ino_set *s)
{
	*s = (struct hfsd_ino_set){ 0 };
	for (size_t i = 0; i < n && !s->err; i++)
		if (v[i].kind == HFS_KIND_DATA) /* leases map file data only */
			ino_set_add(s, v[i].ino);
	return ino_set_finish(s, 0);
}
