/* SPDX-License-Identifier: MIT */
/*
 * Pass 1, one inode's extent map and xattr chain (pass1.h).
 *
 * The map is the inline extents (all-zero slots are unused) then the
 * overflow chain from i_ext_blk to its end.  Chain blocks check
 * themselves (magic, owner, checksum), so the chain is trusted over
 * i_nextents; it stops, and is reported, at the first block outside the
 * pool, unreadable, damaged, or seen before (a loop).  Extents are then
 * checked one by one and dropped when invalid.
 *
 * The xattr chain is checked block by block and entry by entry; damage
 * drops the whole chain (P1_XATTR_BAD).  A POSIX ACL value that is
 * well placed but malformed (lib/acl.c's check) is dropped alone
 * (P1_ACL_BAD): its entry leaves its block, and a block left empty
 * leaves the chain.  So is a placement choice (trusted.holdfs.device)
 * that names no device of the volume, or sits on an inode that is
 * neither a directory nor a regular file (P1_PLACE_BAD).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "members.h"
#include "pass1.h"

static int img_push(struct p1_img *m, const struct hfs_extent *e)
{
	if (m->n == m->cap &&
	    hfs_grow(&m->v, &m->cap, (size_t)m->n + 1, sizeof(*m->v)))
		return -ENOMEM;
	m->v[m->n++] = *e;
	return 0;
}

/* A tiny set of block numbers: loop detection in a chain. */
struct blkset {
	uint64_t *v;
	size_t cap, n;
};

static bool blkset_add(struct blkset *s, uint64_t b)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		struct blkset t = { calloc(s->cap ? s->cap * 2 : 64,
					   sizeof(uint64_t)),
				    s->cap ? s->cap * 2 : 64, 0 };

		if (!t.v)
			return false;
		for (i = 0; i < s->cap; i++)
			if (s->v[i])
				blkset_add(&t, s->v[i]);
		free(s->v);
		*s = t;
	}
	for (i = (b * 0x9e3779b97f4a7c15ull) % s->cap; s->v[i];
	     i = (i + 1) % s->cap)
		if (s->v[i] == b)
			return false;
	s->v[i] = b;
	s->n++;
	return true;
}

/* Follow the overflow chain from i_ext_blk to its end (b_next 0).  The
 * blocks check themselves (magic, owner, crc), so the chain is trusted
 * over i_nextents; it stops, and reports, at the first bad block. */
static int load_chain(struct fsck *f, struct p1_img *m)
{
	struct blkset seen = { 0 };
	uint8_t *blk = malloc(HFS_BLOCK_SIZE);
	uint64_t b = m->d.i_ext_blk;
	const char *why = NULL;
	int ret = blk ? 0 : -ENOMEM;

	while (!ret && b) {
		const struct hfs_blkhdr *h = (const void *)blk;
		uint64_t *c;

		if (b < f->pool_start || b >= f->pool_end ||
		    !hfs_devtab_range_ok(&f->devtab, b, 1))
			why = "outside the pool";
		else if (!blkset_add(&seen, b))
			why = "a loop";
		else if (fsck_read(f, b * BLK, blk, HFS_BLOCK_SIZE))
			why = "unreadable";
		else if (!fsck_extblk_ok(blk, m->ino, UINT32_MAX))
			why = "damaged (magic, checksum, owner or count)";
		if (why)
			break;
		c = realloc(m->chain, (m->nchain + 1) * sizeof(*c));
		if (!c) {
			ret = -ENOMEM;
			break;
		}
		m->chain = c;
		m->chain[m->nchain++] = b;
		for (uint32_t i = 0; i < h->b_count && !ret; i++)
			ret = img_push(m, (const struct hfs_extent *)
					(blk + sizeof(*h)) + i);
		b = h->b_next;
	}
	if (why) {
		p1_find(m, HFS_P1_EXTBLK_BAD, b * BLK, "extent block %" PRIu64
		     " (chain block %" PRIu32 ") is %s; the extents from "
		     "there on are lost", b, m->nchain, why);
		m->map_dirty = true;
		m->lost = m->n < m->d.i_nextents;
	}
	free(seen.v);
	free(blk);
	return ret;
}

/* Inline extents (all-zero slots are unused) then the overflow chain. */
int p1_load_extents(struct fsck *f, struct p1_img *m)
{
	static const struct hfs_extent zero;
	int ret = 0;

	for (uint32_t i = 0; i < HFS_INLINE_EXTENTS && !ret; i++)
		if (memcmp(&m->d.i_extents[i], &zero, sizeof(zero)))
			ret = img_push(m, &m->d.i_extents[i]);
	if (!ret && m->d.i_ext_blk) {
		if (m->n < HFS_INLINE_EXTENTS) {
			p1_find(m, HFS_P1_INODE_EXTBLK, HFS_FSCK_NO_OFF,
			     "overflow pointer %" PRIu64 " set with only %"
			     PRIu32 " inline extents", m->d.i_ext_blk, m->n);
			m->map_dirty = true;
		}
		ret = load_chain(f, m);
	}
	if (!ret && m->n != m->d.i_nextents && !m->lost) {
		p1_find(m, HFS_P1_INODE_NEXTENTS, HFS_FSCK_NO_OFF, "extent count "
		     "%" PRIu32 " but the map holds %" PRIu32,
		     m->d.i_nextents, m->n);
		m->map_dirty = true;
	}
	return ret;
}

static const char *extent_why(const struct fsck *f, const struct hfs_extent *e,
			      uint64_t prev_end)
{
	if (e->e_len == 0)
		return "is empty";
	if (e->e_pblk < f->pool_start || e->e_pblk + e->e_len > f->pool_end ||
	    e->e_pblk + e->e_len < e->e_pblk)
		return "lies outside the pool";
	if (!hfs_devtab_range_ok(&f->devtab, e->e_pblk, e->e_len))
		return "is not inside one device's pool";
	if (e->e_lblk >= HFS_MAX_FILE_BLOCKS ||
	    e->e_lblk + e->e_len > HFS_MAX_FILE_BLOCKS)
		return "lies beyond the largest file size";
	if (e->e_lblk < prev_end)
		return "overlaps the extent before it in the file";
	return NULL;
}

/* Drop invalid extents, in place. */
void p1_check_extents(const struct fsck *f, struct p1_img *m)
{
	uint64_t prev_end = 0;
	uint32_t out = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		struct hfs_extent *e = &m->v[i];
		const char *why = extent_why(f, e, prev_end);

		if (why) {
			p1_find(m, HFS_P1_EXTENT_BAD, HFS_FSCK_NO_OFF, "extent %"
			     PRIu32 " (file block %" PRIu64 ", region block %"
			     PRIu64 ", %" PRIu32 " blocks) %s", i, e->e_lblk,
			     e->e_pblk, e->e_len, why);
			m->map_dirty = m->lost = true;
			continue;
		}
		if (e->e_flags & ~HFS_EXT_LOST) {
			p1_find(m, HFS_P1_EXTENT_FLAGS, HFS_FSCK_NO_OFF, "extent %"
			     PRIu32 " has unknown flags 0x%" PRIx32, i,
			     e->e_flags);
			e->e_flags &= HFS_EXT_LOST;
			m->map_dirty = true;
		}
		prev_end = e->e_lblk + e->e_len;
		m->v[out++] = *e;
	}
	m->n = out;
}

/* ------------------------------------------------------ xattrs */

/* The xattr chain of one inode, as checked: its blocks (m->xa, xattr
 * blocks then the value blocks of each entry) and the names seen. */
struct xa_check {
	struct fsck *f;
	struct p1_img *m;
	uint8_t *blk;          /* a scratch block */
	char **names;          /* copies, for the uniqueness check */
	size_t nnames, capn, list;
	const char *why;
	uint64_t at;           /* the block the finding is about */
	uint64_t *chain;       /* the xattr blocks, in chain order */
	size_t nchain, capchain;
	struct xa_acl *bad;    /* values to drop, in chain order */
	size_t nbad, capbad;
};

/* A stored POSIX ACL value that fails lib/acl.c's check (or a default
 * ACL on anything but a directory), or a placement choice that fails
 * lib/place_choice.c's: dropped alone, the rest of the chain kept. */
struct xa_acl {
	uint64_t blk;          /* its xattr block */
	uint32_t pos, esz;     /* its entry: payload offset and size */
	bool dflt;             /* system.posix_acl_default */
	bool place;            /* HFS_PLACE_XATTR */
	char shown[48];        /* a choice's value, printable, for the report */
	uint64_t *vblk;        /* out of line: its value blocks */
	uint32_t nvblk;
};

static int xa_push(struct xa_check *c, uint64_t b)
{
	struct p1_img *m = c->m;

	for (uint32_t i = 0; i < m->nxa; i++)
		if (m->xa[i] == b) {
			c->why = "named twice (a loop or a shared value block)";
			c->at = b;
			return -EUCLEAN;
		}
	if (m->nxa == m->capxa &&
	    hfs_grow(&m->xa, &m->capxa, (size_t)m->nxa + 1, sizeof(*m->xa)))
		return -ENOMEM;
	m->xa[m->nxa++] = b;
	return 0;
}

/* Read block b into c->blk and check its header (magic, crc, owner;
 * b_next 0 for value blocks). */
static int xa_read(struct xa_check *c, uint64_t b, uint32_t magic)
{
	const struct hfs_blkhdr *h = (const void *)c->blk;

	c->at = b;
	if (b < c->f->pool_start || b >= c->f->pool_end ||
	    !hfs_devtab_range_ok(&c->f->devtab, b, 1))
		c->why = "outside the pool";
	else if (fsck_read(c->f, b * BLK, c->blk, HFS_BLOCK_SIZE))
		c->why = "unreadable";
	else if (h->b_magic != magic || h->b_owner != c->m->ino ||
		 h->b_count > HFS_XATTR_SPACE ||
		 (magic == HFS_XATTRVAL_MAGIC && h->b_next != 0) ||
		 h->b_crc != hfs_crc_struct(c->blk, HFS_BLOCK_SIZE,
					    offsetof(struct hfs_blkhdr, b_crc)))
		c->why = "damaged (magic, checksum, owner or size)";
	else
		return xa_push(c, b);
	return -EUCLEAN;
}

/* The value blocks of an out-of-line entry (its reference copied out). */
static int xa_check_value(struct xa_check *c, const uint8_t *ref,
			  uint32_t vlen)
{
	struct hfs_xattr_vref r;
	uint64_t *b;
	int ret = 0;

	memcpy(&r, ref, sizeof(r));
	if (vlen < sizeof(r) || r.v_len > HFS_XATTR_VALUE_MAX || r.v_nblk == 0 ||
	    r.v_nblk != (r.v_len + HFS_XATTR_SPACE - 1) / HFS_XATTR_SPACE ||
	    vlen != sizeof(r) + 8 * (size_t)r.v_nblk) {
		c->why = "holding a malformed value reference";
		return -EUCLEAN;
	}
	b = malloc(8 * (size_t)r.v_nblk);
	if (!b)
		return -ENOMEM;
	memcpy(b, ref + sizeof(r), 8 * (size_t)r.v_nblk);
	for (uint32_t k = 0; k < r.v_nblk && !ret; k++) {
		uint32_t want = k + 1 < r.v_nblk ? HFS_XATTR_SPACE
			: r.v_len - k * (uint32_t)HFS_XATTR_SPACE;

		ret = xa_read(c, b[k], HFS_XATTRVAL_MAGIC);
		if (!ret && ((const struct hfs_blkhdr *)c->blk)->b_count != want) {
			c->why = "a value block of the wrong length";
			ret = -EUCLEAN;
		}
	}
	free(b);
	return ret;
}

static bool name_is(const struct hfs_xattr_entry *e, const char *name)
{
	return e->x_name_len == strlen(name) &&
	       !memcmp(e + 1, name, e->x_name_len);
}

/* An out-of-line ACL value (its blocks already checked): assembled in
 * *out (malloc'd; NULL when larger than any ACL), its blocks in a->vblk. */
static int xa_acl_value_out(struct xa_check *c, const uint8_t *ref,
			    struct xa_acl *a, uint8_t **out, size_t *len)
{
	struct hfs_xattr_vref r;
	int ret = 0;

	memcpy(&r, ref, sizeof(r));
	*out = NULL;
	*len = r.v_len;
	a->nvblk = r.v_nblk;
	a->vblk = malloc(8 * (size_t)r.v_nblk);
	if (!a->vblk)
		return -ENOMEM;
	memcpy(a->vblk, ref + sizeof(r), 8 * (size_t)r.v_nblk);
	if (r.v_len > HFS_ACL_MAX)
		return 0; /* malformed without reading it */
	*out = malloc(r.v_len ? r.v_len : 1);
	if (!*out)
		return -ENOMEM;
	for (uint32_t k = 0; k < r.v_nblk && !ret; k++) {
		size_t at = (size_t)k * HFS_XATTR_SPACE;
		size_t n = r.v_len - at < HFS_XATTR_SPACE ? r.v_len - at
							  : HFS_XATTR_SPACE;

		ret = fsck_read(c->f, a->vblk[k] * BLK, c->blk, HFS_BLOCK_SIZE);
		if (!ret)
			memcpy(*out + at, c->blk + sizeof(struct hfs_blkhdr), n);
	}
	return ret;
}

/* A value as the report shows it: printable bytes as they are, others
 * as '?', cut at the buffer. */
static void shown(const uint8_t *v, size_t len, char *out, size_t size)
{
	size_t i;

	for (i = 0; v && i < len && i + 1 < size; i++)
		out[i] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
	out[i] = 0;
}

/* system.posix_acl_access/_default: the value passes lib/acl.c's check
 * (what the volume lets setfacl store), and a default ACL sits on a
 * directory; trusted.holdfs.device: the value names a device of the
 * volume (whatever its state: a choice stays valid when its device
 * leaves service) and sits on a directory or regular file; else it is
 * noted in c->bad for p1_check_xattr to drop. */
static int xa_check_acl(struct xa_check *c, const struct hfs_xattr_entry *e,
			uint64_t bno, uint32_t pos, uint32_t esz)
{
	struct xa_acl a = { bno, pos, esz, name_is(e, HFS_ACL_DEFAULT),
			    name_is(e, HFS_PLACE_XATTR), "", NULL, 0 };
	const uint8_t *v = (const uint8_t *)(e + 1) + e->x_name_len;
	uint8_t *out = NULL;
	size_t len = e->x_value_len;
	int ret = 0;
	bool ok;

	if (!a.dflt && !a.place && !name_is(e, HFS_ACL_ACCESS))
		return 0;
	if (e->x_flags & HFS_XATTR_F_VALBLK) {
		ret = xa_acl_value_out(c, v, &a, &out, &len);
		v = out;
	}
	if (a.place) {
		ok = !ret && v && hfs_place_choice_check(v, len,
				c->f->devtab.t_count) >= 0 &&
		     (S_ISDIR(c->m->d.i_mode) || S_ISREG(c->m->d.i_mode));
		shown(v, len, a.shown, sizeof(a.shown));
	} else {
		ok = !ret && v && hfs_acl_check(v, len) >= 0 &&
		     (!a.dflt || S_ISDIR(c->m->d.i_mode));
	}
	free(out);
	if (ret || ok) {
		free(a.vblk);
		return ret;
	}
	if (c->nbad == c->capbad &&
	    hfs_grow(&c->bad, &c->capbad, c->nbad + 1, sizeof(*c->bad))) {
		free(a.vblk);
		return -ENOMEM;
	}
	c->bad[c->nbad++] = a;
	return 0;
}

/* Entries of one xattr block (copied to blk, b_count used): inside the
 * payload, names non-empty without NULs, known flags, values in their
 * value blocks; the last entry ends exactly at b_count. */
static int xa_check_entries(struct xa_check *c, const uint8_t *blk,
			    uint32_t used, uint64_t bno)
{
	uint32_t pos = 0;
	int ret = 0;

	while (pos < used && !ret) {
		const struct hfs_xattr_entry *e;
		size_t esz;

		e = (const void *)(blk + sizeof(struct hfs_blkhdr) + pos);
		esz = (sizeof(*e) + e->x_name_len + e->x_value_len + 3) &
		      ~(size_t)3;
		if (used - pos < sizeof(*e) || e->x_name_len == 0 ||
		    esz > used - pos || memchr(e + 1, 0, e->x_name_len) ||
		    (e->x_flags & ~HFS_XATTR_F_VALBLK)) {
			c->why = "holding malformed entries";
			return -EUCLEAN;
		}
		if (c->nnames == c->capn &&
		    hfs_grow(&c->names, &c->capn, c->nnames + 1,
			     sizeof(*c->names)))
			return -ENOMEM;
		c->names[c->nnames] = strndup((const char *)(e + 1),
					      e->x_name_len);
		if (!c->names[c->nnames])
			return -ENOMEM;
		c->nnames++;
		c->list += e->x_name_len + 1u;
		if (e->x_flags & HFS_XATTR_F_VALBLK)
			ret = xa_check_value(c, (const uint8_t *)(e + 1) +
					     e->x_name_len, e->x_value_len);
		if (!ret)
			ret = xa_check_acl(c, e, bno, pos, (uint32_t)esz);
		pos += (uint32_t)esz;
	}
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole chain from i_xattr_blk. */
static int xa_walk(struct xa_check *c)
{
	uint64_t b = c->m->d.i_xattr_blk;
	uint8_t *copy = malloc(HFS_BLOCK_SIZE);
	uint32_t nblk = 0;
	int ret = copy ? 0 : -ENOMEM;

	while (b && !ret) {
		const struct hfs_blkhdr *h = (const void *)c->blk;
		uint32_t used;

		if (++nblk > HFS_XATTR_MAX_BLOCKS) {
			c->why = "in a chain longer than 1024 blocks";
			ret = -EUCLEAN;
			break;
		}
		if ((ret = xa_read(c, b, HFS_XATTRBLK_MAGIC)))
			break;
		if (c->nchain == c->capchain &&
		    hfs_grow(&c->chain, &c->capchain, c->nchain + 1,
			     sizeof(*c->chain))) {
			ret = -ENOMEM;
			break;
		}
		c->chain[c->nchain++] = b;
		if (h->b_count == 0) {
			c->why = "empty";
			ret = -EUCLEAN;
			break;
		}
		memcpy(copy, c->blk, HFS_BLOCK_SIZE);
		used = h->b_count;
		b = h->b_next;
		ret = xa_check_entries(c, copy, used, c->chain[c->nchain - 1]);
	}
	free(copy);
	if (ret)
		return ret;
	if (c->list > HFS_XATTR_LIST_MAX) {
		c->why = "naming more than a listxattr can return (64 KiB)";
		c->at = c->m->d.i_xattr_blk;
		return -EUCLEAN;
	}
	if (c->nnames)
		qsort(c->names, c->nnames, sizeof(*c->names), name_cmp);
	for (size_t i = 1; i < c->nnames; i++)
		if (!strcmp(c->names[i - 1], c->names[i])) {
			c->why = "holding a name twice";
			c->at = c->m->d.i_xattr_blk;
			return -EUCLEAN;
		}
	return 0;
}

/* Forget block b among the inode's xattr blocks (it left the chain). */
static void xa_forget(struct p1_img *m, uint64_t b)
{
	for (uint32_t i = 0; i < m->nxa; i++)
		if (m->xa[i] == b) {
			m->xa[i] = m->xa[--m->nxa];
			return;
		}
}

/* Xattr block k of the chain lost its last entry: the one before it
 * (or the inode) points past it. */
static int xa_unlink_block(struct xa_check *c, size_t k, uint64_t next)
{
	struct hfs_blkhdr *h = (void *)c->blk;
	int ret = 0;

	if (k == 0) {
		c->m->d.i_xattr_blk = next;
		c->m->dirty = true;
		c->m->fixed_inode = true;
	} else if (!(ret = fsck_read(c->f, c->chain[k - 1] * BLK, c->blk,
				     HFS_BLOCK_SIZE))) {
		h->b_next = next;
		h->b_crc = hfs_crc_struct(c->blk, HFS_BLOCK_SIZE,
					  offsetof(struct hfs_blkhdr, b_crc));
		ret = fsck_write(c->f, c->chain[k - 1] * BLK, c->blk,
				 HFS_BLOCK_SIZE);
	}
	xa_forget(c->m, c->chain[k]);
	memmove(&c->chain[k], &c->chain[k + 1],
		(c->nchain - k - 1) * sizeof(*c->chain));
	c->nchain--;
	return ret;
}

/* Drop one malformed ACL entry from its block (entries after it move
 * up); its value blocks, and the block if it empties, leave the inode's
 * claims (pass 5 frees them). */
static int xa_drop_acl(struct xa_check *c, const struct xa_acl *a)
{
	struct hfs_blkhdr *h = (void *)c->blk;
	uint8_t *pay = c->blk + sizeof(*h);
	bool typed = S_ISDIR(c->m->d.i_mode) || S_ISREG(c->m->d.i_mode);
	size_t k = 0;
	int ret;

	if (a->place ? !fix_problem(c->f, HFS_P1_PLACE_BAD, c->m->ino,
				    a->blk * BLK, "inode %" PRIu64 ": %s "
				    "\"%s\" in xattr block %" PRIu64 " %s",
				    c->m->ino, HFS_PLACE_XATTR, a->shown,
				    a->blk, !typed ? "on a file that is "
				    "neither a directory nor a regular file"
				    : c->f->devtab.t_count ? "names no device "
				    "of the volume" : "on a volume of one "
				    "device")
		     : !fix_problem(c->f, HFS_P1_ACL_BAD, c->m->ino,
				    a->blk * BLK, "inode %" PRIu64 ": %s in "
				    "xattr block %" PRIu64 " %s", c->m->ino,
				    a->dflt ? HFS_ACL_DEFAULT : HFS_ACL_ACCESS,
				    a->blk, a->dflt && !S_ISDIR(c->m->d.i_mode)
				    ? "on a file that is not a directory"
				    : "is malformed"))
		return 0;
	while (k < c->nchain && c->chain[k] != a->blk)
		k++;
	ret = k < c->nchain ? fsck_read(c->f, a->blk * BLK, c->blk,
					HFS_BLOCK_SIZE) : -EIO;
	if (ret)
		return ret;
	memmove(pay + a->pos, pay + a->pos + a->esz,
		h->b_count - a->pos - a->esz);
	h->b_count -= a->esz;
	memset(pay + h->b_count, 0, HFS_XATTR_SPACE - h->b_count);
	for (uint32_t i = 0; i < a->nvblk; i++)
		xa_forget(c->m, a->vblk[i]);
	c->f->rep->modified = true;
	if (h->b_count == 0)
		return xa_unlink_block(c, k, h->b_next);
	h->b_crc = hfs_crc_struct(c->blk, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
	return fsck_write(c->f, a->blk * BLK, c->blk, HFS_BLOCK_SIZE);
}

static void xa_check_free(struct xa_check *c)
{
	free(c->blk);
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	for (size_t i = 0; i < c->nbad; i++)
		free(c->bad[i].vblk);
	free(c->bad);
	free(c->chain);
}

int p1_check_xattr(struct fsck *f, struct p1_img *m)
{
	struct xa_check c = { .f = f, .m = m };
	int ret;

	m->nxa = 0;
	if (m->d.i_xattr_blk == 0)
		return 0;
	c.blk = malloc(HFS_BLOCK_SIZE);
	ret = c.blk ? xa_walk(&c) : -ENOMEM;
	/* last first: a drop moves only the entries after it */
	for (size_t i = c.nbad; i-- > 0 && !ret;)
		ret = xa_drop_acl(&c, &c.bad[i]);
	xa_check_free(&c);
	if (!ret && m->nxa > 1 &&
	    !(f->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_XATTR_CHAIN) &&
	    fix_problem(f, HFS_P1_XATTR_FEATURE, m->ino, HFS_FSCK_NO_OFF,
			"inode %" PRIu64 " has %u xattr and value blocks, "
			"the superblock lacks XATTR_CHAIN", m->ino, m->nxa)) {
		f->sb.s_feat_incompat |= HFS_FEAT_INCOMPAT_XATTR_CHAIN;
		f->rep->modified = true;
	}
	if (ret != -EUCLEAN)
		return ret;
	p1_find(m, HFS_P1_XATTR_BAD, c.at * BLK,
		"xattr chain from block %" PRIu64 ": block %" PRIu64 " is %s",
		m->d.i_xattr_blk, c.at, c.why);
	m->d.i_xattr_blk = 0;
	m->nxa = 0;
	m->dirty = true;
	return 0;
}
