/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes: a chain of 4 KiB xattr blocks per inode, values
 * that do not fit in a block in value blocks of their own.
 *
 * On media (docs/format.md, "Extended attributes"): ip->d.i_xattr_blk
 * names the first xattr block (0 = none), each block's b_next the next.
 * An xattr block is a struct hfs_blkhdr (magic HFS_XATTRBLK_MAGIC, owner
 * inode, b_count = payload bytes used) followed by packed entries
 *   struct hfs_xattr_entry, name (full name with namespace prefix, not
 *   NUL-terminated), value, zero padding to a multiple of 4 bytes.
 * An entry whose value does not fit in one block holds, instead of the
 * value, a struct hfs_xattr_vref naming its value blocks (flag
 * HFS_XATTR_F_VALBLK).  Each block's crc covers all 4096 bytes with b_crc
 * zeroed; bytes after the payload are zero.  No block is ever empty: a
 * block losing its last entry leaves the chain.
 *
 * In DRAM: ip->xattr holds the chain's block images as last staged (NULL
 * when the inode has none), protected by vol->lock.  Value blocks are
 * read from media on getxattr (and checked) only.  A change works on a
 * copy-on-write list of the images (struct xa_work): it allocates what it
 * needs, stages every changed block, the value blocks and the inode (with
 * its new ctime) in vol->tx, and only then replaces ip->xattr; the caller
 * commits.  Placement is first fit over the chain (a replaced value stays
 * in its block when it fits); lookups are linear (docs/format.md says
 * what that costs).
 *
 * The first change that needs a second block or a value block on a
 * filesystem without HFS_FEAT_INCOMPAT_XATTR_CHAIN sets the flag in the
 * superblock, in the same transaction, so an older holdfs refuses the
 * filesystem instead of misreading it.
 *
 * Namespaces: user., trusted., security., and of system.* the two POSIX
 * ACLs (system.posix_acl_access and _default: acl_i.h; their values are
 * checked and applied by file.c and namei.c).  Everything else is
 * -EOPNOTSUPP.  Access checks for trusted.* and for user.* on special
 * files are the kernel's (VFS xattr_permission).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "acl_i.h"
#include "blocks_i.h"
#include "grow.h"
#include "inode_i.h"
#include "journal_i.h"
#include "media.h"
#include "members.h"
#include "region.h"
#include "vol_i.h"
#include "xattr_i.h"
#include "vol_heal_i.h"

#define XA_HDR sizeof(struct hfs_blkhdr)
#define XA_ENT sizeof(struct hfs_xattr_entry)
#define BLK ((uint64_t)HFS_BLOCK_SIZE)

static size_t xa_esize(size_t nlen, size_t vlen)
{
	return (XA_ENT + nlen + vlen + 3) & ~(size_t)3;
}

/* Length first (-ERANGE, as the VFS), then the namespace: the caller
 * checks for a read-only volume in between, in the VFS's order. */
static int xa_check_len(const char *name, size_t *nlen)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strnlen(name, HFS_NAME_MAX + 1);
	if (n == 0 || n > HFS_NAME_MAX)
		return -ERANGE;
	*nlen = n;
	return 0;
}

static int xa_check_ns(const char *name, size_t nlen)
{
	static const char *const ns[] = { "user.", "trusted.", "security." };

	if (!strcmp(name, HFS_ACL_ACCESS) || !strcmp(name, HFS_ACL_DEFAULT))
		return 0;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		size_t plen = strlen(ns[i]);

		if (!strncmp(name, ns[i], plen))
			return nlen > plen ? 0 : -EINVAL;
	}
	return -EOPNOTSUPP;
}

static int xa_check_name(const char *name, size_t *nlen)
{
	int rc = xa_check_len(name, nlen);

	return rc ? rc : xa_check_ns(name, *nlen);
}

#define SPACE ((uint32_t)HFS_XATTR_SPACE)
#define VREF sizeof(struct hfs_xattr_vref)
/* value blocks of the largest value */
#define VBLK_MAX ((HFS_XATTR_VALUE_MAX + HFS_XATTR_SPACE - 1) / HFS_XATTR_SPACE)

static uint32_t xa_used(const uint8_t *blk)
{
	const struct hfs_blkhdr *h = (const void *)blk;

	return h->b_count;
}

static uint64_t xa_next(const uint8_t *blk)
{
	const struct hfs_blkhdr *h = (const void *)blk;

	return h->b_next;
}

/* Entry at payload offset pos (blk validated: entries are in bounds). */
static const struct hfs_xattr_entry *xa_at(const uint8_t *blk, uint32_t pos)
{
	return (const void *)(blk + XA_HDR + pos);
}

static const char *xa_name(const struct hfs_xattr_entry *e)
{
	return (const char *)(e + 1);
}

static const uint8_t *xa_val(const struct hfs_xattr_entry *e)
{
	return (const uint8_t *)(e + 1) + e->x_name_len;
}

static uint32_t xa_esz(const struct hfs_xattr_entry *e)
{
	return (uint32_t)xa_esize(e->x_name_len, e->x_value_len);
}

static uint32_t xa_nvblk(size_t len)
{
	return (uint32_t)((len + SPACE - 1) / SPACE);
}

/* Out-of-line entries: the reference is only 4-byte aligned. */
static uint32_t xa_ref_len(const struct hfs_xattr_entry *e)
{
	uint32_t v;

	memcpy(&v, xa_val(e) + offsetof(struct hfs_xattr_vref, v_len),
	       sizeof(v));
	return v;
}

static uint32_t xa_ref_nblk(const struct hfs_xattr_entry *e)
{
	uint32_t v;

	memcpy(&v, xa_val(e) + offsetof(struct hfs_xattr_vref, v_nblk),
	       sizeof(v));
	return v;
}

static uint64_t xa_vblk(const struct hfs_xattr_entry *e, uint32_t i)
{
	uint64_t b;

	memcpy(&b, xa_val(e) + VREF + 8 * (size_t)i, sizeof(b));
	return b;
}

/* Length of the value of entry e. */
static uint32_t xa_vlen(const struct hfs_xattr_entry *e)
{
	return e->x_flags & HFS_XATTR_F_VALBLK ? xa_ref_len(e)
					       : e->x_value_len;
}

struct xa_pos {
	uint32_t blk, pos;
};

static bool xa_find(const struct hfs_xattrs *xs, const char *name,
		    size_t nlen, struct xa_pos *at)
{
	for (uint32_t b = 0; xs && b < xs->n; b++) {
		const uint8_t *img = xs->img[b];
		uint32_t used = xa_used(img), pos = 0;

		while (pos < used) {
			const struct hfs_xattr_entry *e = xa_at(img, pos);

			if (e->x_name_len == nlen &&
			    !memcmp(xa_name(e), name, nlen)) {
				*at = (struct xa_pos){ b, pos };
				return true;
			}
			pos += xa_esz(e);
		}
	}
	return false;
}

/* Header fields other than b_next and b_count, then the crc. */
static void xa_seal(uint8_t *buf, uint32_t magic, uint64_t owner)
{
	struct hfs_blkhdr *h = (void *)buf;

	h->b_magic = magic;
	h->b_owner = owner;
	h->b_pad = 0;
	h->b_crc = hfs_crc_struct(buf, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
}

static void xa_set_hdr(uint8_t *buf, uint32_t count, uint64_t next)
{
	struct hfs_blkhdr *h = (void *)buf;

	h->b_count = count;
	h->b_next = next;
}

void hfs_xattr_free(struct hfs_xattrs *xs)
{
	if (!xs)
		return;
	for (uint32_t i = 0; i < xs->n; i++)
		free(xs->img[i]);
	free(xs->img);
	free(xs->bno);
	free(xs);
}

/* ------------------------------------------------------------ changes */

/* A change in progress: the chain as it will be, copy-on-write. */
struct xa_work {
	uint32_t n;
	uint64_t *bno;
	uint8_t **img;
	bool *own;               /* img[i] is this change's copy */
	uint64_t fresh;          /* a new xattr block, 0: none */
	uint8_t **retire;        /* live images replaced or dropped */
	uint32_t nretire;
	uint64_t *drop;          /* xattr blocks leaving the chain */
	uint32_t ndrop;
	uint64_t vfree[VBLK_MAX]; /* value blocks of the old value */
	uint32_t nvfree;
	uint64_t vnew[VBLK_MAX];  /* value blocks allocated */
	uint32_t nvnew;
	struct hfs_xattrs *xs;   /* the new ip->xattr, allocated up front */
};

static int work_init(struct xa_work *w, const struct hfs_xattrs *live)
{
	uint32_t n = live ? live->n : 0;

	memset(w, 0, sizeof(*w));
	w->bno = calloc(n + 1, sizeof(*w->bno));
	w->img = calloc(n + 1, sizeof(*w->img));
	w->own = calloc(n + 1, sizeof(*w->own));
	w->retire = calloc(n + 1, sizeof(*w->retire));
	w->drop = calloc(n + 1, sizeof(*w->drop));
	w->xs = calloc(1, sizeof(*w->xs));
	if (!w->bno || !w->img || !w->own || !w->retire || !w->drop || !w->xs)
		return -ENOMEM;
	w->n = n;
	if (n) {
		memcpy(w->bno, live->bno, n * sizeof(*w->bno));
		memcpy(w->img, live->img, n * sizeof(*w->img));
	}
	return 0;
}

static void work_arrays_free(struct xa_work *w)
{
	free(w->own);
	free(w->retire);
	free(w->drop);
}

/* The change failed: nothing in DRAM or in the allocator changed. */
static void work_abandon(struct hfs_vol *vol, struct xa_work *w)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (w->own && w->own[i])
			free(w->img[i]);
	for (uint32_t i = 0; i < w->nvnew; i++)
		hfs_vol_release_blocks(vol, w->vnew[i], 1);
	if (w->fresh)
		hfs_vol_release_blocks(vol, w->fresh, 1);
	free(w->bno);
	free(w->img);
	free(w->xs);
	work_arrays_free(w);
}

static int work_cow(struct xa_work *w, uint32_t i)
{
	uint8_t *c;

	if (w->own[i])
		return 0;
	c = malloc(HFS_BLOCK_SIZE);
	if (!c)
		return -ENOMEM;
	memcpy(c, w->img[i], HFS_BLOCK_SIZE);
	w->retire[w->nretire++] = w->img[i];
	w->img[i] = c;
	w->own[i] = true;
	return 0;
}

/* Take the entry at (b, pos) out of its block; its value blocks are
 * freed once the change is staged. */
static int work_remove(struct xa_work *w, struct xa_pos at)
{
	uint8_t *img;
	const struct hfs_xattr_entry *e;
	uint32_t used, esz;
	int ret = work_cow(w, at.blk);

	if (ret)
		return ret;
	img = w->img[at.blk];
	e = xa_at(img, at.pos);
	if (e->x_flags & HFS_XATTR_F_VALBLK)
		for (uint32_t i = 0; i < xa_ref_nblk(e) && i < VBLK_MAX; i++)
			w->vfree[w->nvfree++] = xa_vblk(e, i);
	used = xa_used(img);
	esz = xa_esz(e);
	memmove(img + XA_HDR + at.pos, img + XA_HDR + at.pos + esz,
		used - at.pos - esz);
	memset(img + XA_HDR + used - esz, 0, esz);
	xa_set_hdr(img, used - esz, xa_next(img));
	return 0;
}

/* Blocks with no entry leave the chain; then every block's b_next is
 * made to name the block after it. */
static int work_link(struct xa_work *w)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < w->n; i++) {
		if (xa_used(w->img[i])) {
			w->bno[out] = w->bno[i];
			w->img[out] = w->img[i];
			w->own[out++] = w->own[i];
			continue;
		}
		/* only a block that lost an entry can be empty: a copy */
		free(w->img[i]);
		w->drop[w->ndrop++] = w->bno[i];
	}
	w->n = out;
	for (uint32_t i = 0; i < w->n; i++) {
		uint64_t want = i + 1 < w->n ? w->bno[i + 1] : 0;
		int ret;

		if (xa_next(w->img[i]) == want)
			continue;
		if ((ret = work_cow(w, i)))
			return ret;
		xa_set_hdr(w->img[i], xa_used(w->img[i]), want);
	}
	return 0;
}

static int64_t alloc_one(struct hfs_vol *vol, struct hfs_inode *ip)
{
	uint64_t got = 0;

	return hfs_vol_alloc(vol, ip->ino, HFS_RMAP_XATTR, 0, 1, 1, 1, 0, &got);
}

/* Allocate and stage the value blocks of value[0, size). */
static int stage_value(struct hfs_vol *vol, struct hfs_inode *ip,
		       struct xa_work *w, const uint8_t *value, size_t size)
{
	uint32_t nv = xa_nvblk(size);
	uint8_t *buf = malloc(HFS_BLOCK_SIZE);
	int ret = buf ? 0 : -ENOMEM;

	for (uint32_t i = 0; i < nv && !ret; i++) {
		int64_t b = alloc_one(vol, ip);
		size_t off = (size_t)i * SPACE;
		uint32_t cnt = (uint32_t)(size - off < SPACE ? size - off
							     : SPACE);

		if (b < 0) {
			ret = (int)b;
			break;
		}
		w->vnew[w->nvnew++] = (uint64_t)b;
		memset(buf, 0, HFS_BLOCK_SIZE);
		xa_set_hdr(buf, cnt, 0);
		memcpy(buf + XA_HDR, value + off, cnt);
		xa_seal(buf, HFS_XATTRVAL_MAGIC, ip->ino);
		ret = hfs_tx_add(&vol->tx, (uint64_t)b * BLK, buf,
				 HFS_BLOCK_SIZE);
	}
	free(buf);
	return ret;
}

/* Write entry name=value (inline, or referring to w->vnew) at the end of
 * block t, which has room for it. */
static void put_entry(struct xa_work *w, uint32_t t, const char *name,
		      size_t nlen, const void *value, size_t size, size_t elen)
{
	uint8_t *img = w->img[t], *p;
	uint32_t used = xa_used(img);
	struct hfs_xattr_entry e = {
		.x_name_len = (uint8_t)nlen,
		.x_value_len = (uint16_t)elen,
	};

	p = img + XA_HDR + used;
	memcpy(p + XA_ENT, name, nlen);
	if (w->nvnew) {
		uint32_t r[2] = { (uint32_t)size, w->nvnew }; /* vref */

		e.x_flags = HFS_XATTR_F_VALBLK;
		memcpy(p + XA_ENT + nlen, r, VREF);
		memcpy(p + XA_ENT + nlen + VREF, w->vnew,
		       w->nvnew * sizeof(uint64_t));
	} else if (size) {
		memcpy(p + XA_ENT + nlen, value, size);
	}
	memcpy(p, &e, XA_ENT);
	xa_set_hdr(img, used + (uint32_t)xa_esize(nlen, elen), xa_next(img));
}

/* Place name=value (elen bytes in the entry, nv value blocks): the
 * block it was in if it still fits, else the first with room, else a new
 * block at the end of the chain. */
static int work_place(struct hfs_vol *vol, struct hfs_inode *ip,
		      struct xa_work *w, const struct xa_pos *old,
		      const char *name, size_t nlen, const void *value,
		      size_t size, uint32_t nv, size_t elen)
{
	uint32_t esz = (uint32_t)xa_esize(nlen, elen);
	int64_t t = -1;
	int ret;

	if (old && xa_used(w->img[old->blk]) + esz <= SPACE)
		t = old->blk;
	for (uint32_t i = 0; i < w->n && t < 0; i++)
		if (xa_used(w->img[i]) + esz <= SPACE)
			t = i;
	if (t < 0 && w->n >= HFS_XATTR_MAX_BLOCKS)
		return -ENOSPC;
	if (hfs_vol_meta_avail(vol) < nv + (t < 0 ? 1u : 0u))
		return -ENOSPC;
	if (nv && (ret = stage_value(vol, ip, w, value, size)))
		return ret;
	if (t < 0) {
		int64_t b;
		uint8_t *img = calloc(1, HFS_BLOCK_SIZE);

		if (!img)
			return -ENOMEM;
		b = alloc_one(vol, ip);
		if (b < 0) {
			free(img);
			return (int)b;
		}
		w->fresh = (uint64_t)b;
		t = w->n++;
		w->bno[t] = (uint64_t)b;
		w->img[t] = img;
		w->own[t] = true;
	} else if ((ret = work_cow(w, (uint32_t)t))) {
		return ret;
	}
	put_entry(w, (uint32_t)t, name, nlen, value, size, elen);
	return 0;
}

/* Stage the superblock with XATTR_CHAIN (first use of the new layout on
 * an older filesystem). */
static int stage_feature(struct hfs_vol *vol)
{
	vol->sb.s_feat_incompat |= HFS_FEAT_INCOMPAT_XATTR_CHAIN;
	vol->sb.s_journal_seq = vol->jseq;
	hfs_super_set_crc(&vol->sb);
	return hfs_tx_add(&vol->tx, 0, &vol->sb, sizeof(vol->sb));
}

/* Stage the changed xattr blocks, the inode (and the feature flag if
 * the chain now needs it), then make w the inode's xattrs.  On error
 * nothing in DRAM has changed (vol->tx may hold records: the caller
 * discards the transaction). */
static int work_commit(struct hfs_vol *vol, struct hfs_inode *ip,
		       struct xa_work *w, long dlist)
{
	struct hfs_inode_disk saved = ip->d;
	uint32_t feat = vol->sb.s_feat_incompat;
	int ret = work_link(w);

	for (uint32_t i = 0; i < w->n && !ret; i++) {
		if (!w->own[i])
			continue;
		xa_seal(w->img[i], HFS_XATTRBLK_MAGIC, ip->ino);
		ret = hfs_tx_add(&vol->tx, w->bno[i] * BLK, w->img[i],
				 HFS_BLOCK_SIZE);
	}
	if (!ret && (w->n > 1 || w->nvnew) &&
	    !(feat & HFS_FEAT_INCOMPAT_XATTR_CHAIN))
		ret = stage_feature(vol);
	if (!ret) {
		ip->d.i_xattr_blk = w->n ? w->bno[0] : 0;
		hfs_inode_touch(ip, false, true);
		ret = hfs_inode_stage(vol, ip);
	}
	if (ret) {
		ip->d = saved;
		if (vol->sb.s_feat_incompat != feat) {
			vol->sb.s_feat_incompat = feat;
			hfs_super_set_crc(&vol->sb);
		}
		work_abandon(vol, w);
		return ret;
	}
	/* Freed before the commit: safe, the commit happens under
	 * vol->lock before anyone can allocate again. */
	for (uint32_t i = 0; i < w->ndrop; i++)
		hfs_vol_release_blocks(vol, w->drop[i], 1);
	for (uint32_t i = 0; i < w->nvfree; i++)
		hfs_vol_release_blocks(vol, w->vfree[i], 1);
	for (uint32_t i = 0; i < w->nretire; i++)
		free(w->retire[i]);
	if (w->n) {
		w->xs->n = w->n;
		w->xs->bno = w->bno;
		w->xs->img = w->img;
		w->xs->list = (size_t)((long)(ip->xattr ? ip->xattr->list : 0) +
				       dlist);
	} else {
		free(w->bno);
		free(w->img);
		free(w->xs);
		w->xs = NULL;
	}
	if (ip->xattr) { /* its images are retired or carried over */
		free(ip->xattr->img);
		free(ip->xattr->bno);
		free(ip->xattr);
	}
	ip->xattr = w->xs;
	work_arrays_free(w);
	return 0;
}

int hfs_xattr_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			 const char *name, const void *value, size_t size,
			 int flags)
{
	struct xa_pos at;
	struct xa_work w;
	size_t nlen, elen;
	uint32_t nv;
	bool found;
	int rc;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((rc = xa_check_len(name, &nlen)))
		return rc;
	if (vol->readonly)
		return -EROFS;
	if ((rc = xa_check_ns(name, nlen)))
		return rc;
	if (size > HFS_XATTR_VALUE_MAX)
		return -E2BIG;
	if (size && !value)
		return -EINVAL;
	found = xa_find(ip->xattr, name, nlen, &at);
	if (found && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!found && (flags & XATTR_REPLACE))
		return -ENODATA;
	/* every name must fit in one listxattr answer (XATTR_LIST_MAX) */
	if (!found && (ip->xattr ? ip->xattr->list : 0) + nlen + 1 >
		      HFS_XATTR_LIST_MAX)
		return -ENOSPC;
	nv = xa_esize(nlen, size) <= SPACE ? 0 : xa_nvblk(size);
	elen = nv ? VREF + 8 * (size_t)nv : size;
	if ((rc = work_init(&w, ip->xattr)) ||
	    (found && (rc = work_remove(&w, at))) ||
	    (rc = work_place(vol, ip, &w, found ? &at : NULL, name, nlen,
			     value, size, nv, elen))) {
		work_abandon(vol, &w);
		return rc;
	}
	return work_commit(vol, ip, &w, found ? 0 : (long)nlen + 1);
}

/* Read the value of out-of-line entry e into buf (room for it). */
static int read_value(struct hfs_vol *vol, struct hfs_inode *ip,
		      const struct hfs_xattr_entry *e, void *out)
{
	uint32_t len = xa_ref_len(e), nblk = xa_ref_nblk(e);
	uint8_t *buf = malloc(HFS_BLOCK_SIZE);
	int ret = buf ? 0 : -ENOMEM;

	for (uint32_t i = 0; i < nblk && !ret; i++) {
		uint64_t b = xa_vblk(e, i);
		size_t off = (size_t)i * SPACE;
		uint32_t cnt = (uint32_t)(len - off < SPACE ? len - off : SPACE);
		struct hfs_blkhdr h;

		if (hfs_vol_meta_read(vol, b * BLK, buf)) {
			ret = -EIO;
			break;
		}
		memcpy(&h, buf, XA_HDR);
		if (h.b_magic != HFS_XATTRVAL_MAGIC || h.b_owner != ip->ino ||
		    h.b_count != cnt || h.b_next != 0 ||
		    h.b_crc != hfs_crc_struct(buf, HFS_BLOCK_SIZE,
					      offsetof(struct hfs_blkhdr,
						       b_crc)))
			ret = -EIO; /* damaged: fsck says more */
		else
			memcpy((uint8_t *)out + off, buf + XA_HDR, cnt);
	}
	free(buf);
	return ret;
}

ssize_t hfs_xattr_get_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			     const char *name, void *buf, size_t size)
{
	const struct hfs_xattr_entry *e;
	struct xa_pos at;
	size_t nlen;
	uint32_t vlen;
	int rc;

	if ((rc = xa_check_name(name, &nlen)))
		return rc;
	if (!xa_find(ip->xattr, name, nlen, &at))
		return -ENODATA;
	e = xa_at(ip->xattr->img[at.blk], at.pos);
	vlen = xa_vlen(e);
	if (size == 0)
		return vlen;
	if (size < vlen)
		return -ERANGE;
	if (e->x_flags & HFS_XATTR_F_VALBLK) {
		rc = read_value(vol, ip, e, buf);
		return rc ? rc : (ssize_t)vlen;
	}
	memcpy(buf, xa_val(e), vlen);
	return vlen;
}

ssize_t hfs_xattr_list_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			      char *buf, size_t size)
{
	const struct hfs_xattrs *xs = ip->xattr;
	size_t need = xs ? xs->list : 0, at = 0;

	(void)vol;
	if (size == 0)
		return (ssize_t)need;
	if (size < need)
		return -ERANGE;
	for (uint32_t b = 0; xs && b < xs->n; b++) {
		const uint8_t *img = xs->img[b];

		for (uint32_t pos = 0; pos < xa_used(img);) {
			const struct hfs_xattr_entry *e = xa_at(img, pos);

			memcpy(buf + at, xa_name(e), e->x_name_len);
			at += e->x_name_len;
			buf[at++] = '\0';
			pos += xa_esz(e);
		}
	}
	return (ssize_t)need;
}

int hfs_xattr_remove_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			    const char *name)
{
	struct xa_pos at;
	struct xa_work w;
	size_t nlen;
	int rc;

	if ((rc = xa_check_len(name, &nlen)))
		return rc;
	if (vol->readonly)
		return -EROFS;
	if ((rc = xa_check_ns(name, nlen)))
		return rc;
	if (!xa_find(ip->xattr, name, nlen, &at))
		return -ENODATA;
	if ((rc = work_init(&w, ip->xattr)) || (rc = work_remove(&w, at))) {
		work_abandon(vol, &w);
		return rc;
	}
	return work_commit(vol, ip, &w, -((long)nlen + 1));
}

/* Calls fn for every block the xattrs use. */
static void each_block(const struct hfs_xattrs *xs,
		       void (*fn)(void *ctx, uint64_t b), void *ctx)
{
	for (uint32_t i = 0; xs && i < xs->n; i++) {
		const uint8_t *img = xs->img[i];

		for (uint32_t pos = 0; pos < xa_used(img);) {
			const struct hfs_xattr_entry *e = xa_at(img, pos);

			if (e->x_flags & HFS_XATTR_F_VALBLK)
				for (uint32_t k = 0; k < xa_ref_nblk(e); k++)
					fn(ctx, xa_vblk(e, k));
			pos += xa_esz(e);
		}
		fn(ctx, xs->bno[i]);
	}
}

static void release_one(void *ctx, uint64_t b)
{
	hfs_vol_release_blocks(ctx, b, 1);
}

static void count_one(void *ctx, uint64_t b)
{
	(void)b;
	++*(uint64_t *)ctx;
}

void hfs_xattr_drop_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	if (ip->xattr)
		each_block(ip->xattr, release_one, vol);
	else if (ip->d.i_xattr_blk) /* never loaded: only it was claimed
				     * for sure */
		hfs_vol_release_blocks(vol, ip->d.i_xattr_blk, 1);
	ip->d.i_xattr_blk = 0;
	hfs_xattr_free(ip->xattr);
	ip->xattr = NULL;
}

static uint64_t hfs_xattr_blocks_of(const struct hfs_xattrs *xs)
{
	uint64_t n = 0;

	each_block(xs, count_one, &n);
	return n;
}

uint64_t hfs_xattr_blocks(const struct hfs_inode *ip)
{
	return hfs_xattr_blocks_of(ip->xattr);
}

/* ---------------------------------------------------------- loading */

/* Every entry inside the payload, names non-empty and without NULs, no
 * unknown flag, value references well formed and inside the pool, the
 * last entry ending exactly at b_count.  Adds the names to *list. */
static bool xa_entries_ok(const uint8_t *blk, uint32_t used, uint64_t first,
			  uint64_t end, size_t *list)
{
	uint32_t pos = 0;

	while (pos < used) {
		const struct hfs_xattr_entry *e;
		size_t esz;

		if (used - pos < XA_ENT)
			return false;
		e = xa_at(blk, pos);
		esz = xa_esize(e->x_name_len, e->x_value_len);
		if (e->x_name_len == 0 || esz > used - pos ||
		    memchr(xa_name(e), 0, e->x_name_len) ||
		    (e->x_flags & ~HFS_XATTR_F_VALBLK))
			return false;
		if (e->x_flags & HFS_XATTR_F_VALBLK) {
			uint32_t len, nblk;

			if (e->x_value_len < VREF)
				return false;
			len = xa_ref_len(e);
			nblk = xa_ref_nblk(e);
			if (len > HFS_XATTR_VALUE_MAX || nblk != xa_nvblk(len) ||
			    nblk == 0 || e->x_value_len != VREF + 8 * (size_t)nblk)
				return false;
			for (uint32_t k = 0; k < nblk; k++) {
				uint64_t b = xa_vblk(e, k);

				if (b < first || b >= end)
					return false;
			}
		}
		*list += e->x_name_len + 1u;
		pos += (uint32_t)esz;
	}
	return true;
}

static void claim_one(void *ctx, uint64_t b)
{
	void **c = ctx;

	if (!*(int *)c[2])
		*(int *)c[2] = hfs_vol_claim_range(c[0], b, 1,
						   *(uint64_t *)c[1],
						   HFS_RMAP_XATTR);
}

/* One xattr block of the chain: read and checked into xs. */
static int load_block(struct hfs_vol *vol, struct hfs_inode *ip,
		      struct hfs_xattrs *xs, size_t cap[2], uint64_t b,
		      uint64_t first, uint64_t end, uint64_t *next)
{
	struct hfs_blkhdr h;
	uint8_t *buf;

	if (b < first || b >= end || xs->n >= HFS_XATTR_MAX_BLOCKS ||
	    !hfs_devtab_range_ok(&vol->devtab, b, 1))
		return -EUCLEAN;
	for (uint32_t i = 0; i < xs->n; i++)
		if (xs->bno[i] == b)
			return -EUCLEAN; /* a loop */
	if (hfs_grow(&xs->bno, &cap[0], xs->n + 1, sizeof(*xs->bno)) ||
	    hfs_grow(&xs->img, &cap[1], xs->n + 1, sizeof(*xs->img)))
		return -ENOMEM;
	buf = malloc(HFS_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	if (hfs_vol_meta_read(vol, b * BLK, buf)) {
		free(buf);
		return -EIO;
	}
	xs->bno[xs->n] = b;
	xs->img[xs->n++] = buf;
	memcpy(&h, buf, XA_HDR);
	if (h.b_magic != HFS_XATTRBLK_MAGIC ||
	    h.b_crc != hfs_crc_struct(buf, HFS_BLOCK_SIZE,
				      offsetof(struct hfs_blkhdr, b_crc)) ||
	    h.b_owner != ip->ino || h.b_count == 0 || h.b_count > SPACE ||
	    !xa_entries_ok(buf, h.b_count, first, end, &xs->list))
		return -EUCLEAN;
	*next = h.b_next;
	return 0;
}

int hfs_xattr_load(struct hfs_vol *vol, struct hfs_inode *ip)
{
	/* the pool's range: a volume of several devices has gaps in it,
	 * which load_block refuses and guarded reads fail with -ERANGE */
	uint64_t first = vol->alloc.pool_start, end = vol->alloc.pool_end;
	uint64_t b = ip->d.i_xattr_blk;
	struct hfs_xattrs *xs;
	size_t cap[2] = { 0, 0 };
	int ret = 0, cret = 0;
	void *ctx[3] = { vol, &ip->ino, &cret };

	if (b == 0)
		return 0;
	xs = calloc(1, sizeof(*xs));
	if (!xs)
		return -ENOMEM;
	while (b && !ret)
		ret = load_block(vol, ip, xs, cap, b, first, end, &b);
	if (ret) {
		/* what was read stays claimed, for fsck */
		for (uint32_t i = 0; i < xs->n && !cret; i++)
			cret = hfs_vol_claim_range(vol, xs->bno[i], 1, ip->ino,
						   HFS_RMAP_XATTR);
		hfs_xattr_free(xs);
		return cret ? cret : ret == -ENOMEM ? ret : -EUCLEAN;
	}
	each_block(xs, claim_one, ctx);
	if (cret) {
		hfs_xattr_free(xs);
		return cret;
	}
	/* the new layout on a superblock without the flag (an old backup
	 * superblock mounted): the mount's superblock write sets it */
	if (hfs_xattr_blocks_of(xs) > 1)
		vol->sb.s_feat_incompat |= HFS_FEAT_INCOMPAT_XATTR_CHAIN;
	hfs_xattr_free(ip->xattr);
	ip->xattr = xs;
	return 0;
}
