/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes: one 4 KiB xattr block per inode.
 *
 * On media (ip->d.i_xattr_blk, a region block number; 0 = none): a
 * struct hfs_blkhdr (magic HFS_XATTRBLK_MAGIC, owner inode, next 0,
 * b_count = payload bytes used) followed by packed entries
 *   struct hfs_xattr_entry, name (full name with namespace prefix, not
 *   NUL-terminated), value, zero padding to a multiple of 4 bytes.
 * The block crc covers all 4096 bytes with b_crc zeroed; bytes after the
 * payload are zero.
 *
 * In DRAM: ip->xattr is a copy of the block as last staged (NULL when
 * the inode has none), protected by vol->lock.  A change builds the new
 * image, stages the whole block and the inode (ctime) in vol->tx, and
 * only then replaces ip->xattr; the caller commits.  The block is
 * allocated with the first attribute and freed with the last.
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
#include "inode_i.h"
#include "journal_i.h"
#include "media.h"
#include "region.h"
#include "vol_i.h"
#include "xattr_i.h"

#define XA_HDR sizeof(struct hfs_blkhdr)
#define XA_ENT sizeof(struct hfs_xattr_entry)
#define XA_SIZE_MAX 65536u /* XATTR_SIZE_MAX of the VFS */
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

static uint32_t xa_used(const uint8_t *blk)
{
	const struct hfs_blkhdr *h = (const void *)blk;

	return blk ? h->b_count : 0;
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

/* Payload offset of the entry called name, or -1. */
static int64_t xa_find(const uint8_t *blk, const char *name, size_t nlen)
{
	uint32_t used = xa_used(blk), pos = 0;

	while (pos < used) {
		const struct hfs_xattr_entry *e = xa_at(blk, pos);

		if (e->x_name_len == nlen && !memcmp(xa_name(e), name, nlen))
			return pos;
		pos += (uint32_t)xa_esize(e->x_name_len, e->x_value_len);
	}
	return -1;
}

/* New block image: the old payload without the entry at skip (-1: keep
 * all), plus name=value when name != NULL.  -ENOSPC if it does not fit. */
static int xa_build(const uint8_t *old, int64_t skip, const char *name,
		    size_t nlen, const void *value, size_t vlen,
		    uint8_t **out, uint32_t *used)
{
	uint32_t oused = xa_used(old), len = 0;
	uint8_t *buf = calloc(1, HFS_BLOCK_SIZE);

	if (!buf)
		return -ENOMEM;
	if (skip < 0) {
		if (oused)
			memcpy(buf + XA_HDR, old + XA_HDR, oused);
		len = oused;
	} else {
		const struct hfs_xattr_entry *e = xa_at(old, (uint32_t)skip);
		uint32_t esz = (uint32_t)xa_esize(e->x_name_len,
						  e->x_value_len);

		memcpy(buf + XA_HDR, old + XA_HDR, (size_t)skip);
		memcpy(buf + XA_HDR + skip, old + XA_HDR + skip + esz,
		       oused - (uint32_t)skip - esz);
		len = oused - esz;
	}
	if (name) {
		struct hfs_xattr_entry e = {
			.x_name_len = (uint8_t)nlen,
			.x_value_len = (uint16_t)vlen,
		};
		uint8_t *p = buf + XA_HDR + len;

		if (len + xa_esize(nlen, vlen) > HFS_XATTR_SPACE) {
			free(buf);
			return -ENOSPC;
		}
		memcpy(p, &e, XA_ENT);
		memcpy(p + XA_ENT, name, nlen);
		if (vlen)
			memcpy(p + XA_ENT + nlen, value, vlen);
		len += (uint32_t)xa_esize(nlen, vlen);
	}
	*out = buf;
	*used = len;
	return 0;
}

static void xa_seal(uint8_t *buf, uint64_t owner, uint32_t used)
{
	struct hfs_blkhdr h = {
		.b_magic = HFS_XATTRBLK_MAGIC,
		.b_owner = owner,
		.b_count = used,
	};

	memcpy(buf, &h, XA_HDR);
	h.b_crc = hfs_crc_struct(buf, HFS_BLOCK_SIZE,
				 offsetof(struct hfs_blkhdr, b_crc));
	memcpy(buf, &h, XA_HDR);
}

/* Stage the new image (used > 0) or the removal of the block (used == 0),
 * and the inode with its new ctime.  Takes ownership of buf.  On error
 * nothing in DRAM has changed (vol->tx may hold records: the caller
 * discards the transaction). */
static int xa_commit(struct hfs_vol *vol, struct hfs_inode *ip, uint8_t *buf,
		     uint32_t used)
{
	struct hfs_inode_disk saved = ip->d;
	uint64_t blk = ip->d.i_xattr_blk, got = 0;
	bool fresh = false;
	int rc = 0;

	if (used && !blk) {
		int64_t b = hfs_vol_blocks_avail(vol) < 1 ? -ENOSPC
			    : hfs_vol_alloc(vol, ip->ino, HFS_RMAP_XATTR, 0, 1,
					    1, 1, 0, &got);

		if (b < 0) {
			free(buf);
			return (int)b;
		}
		blk = (uint64_t)b;
		fresh = true;
	}
	if (used) {
		xa_seal(buf, ip->ino, used);
		rc = hfs_tx_add(&vol->tx, blk * BLK, buf, HFS_BLOCK_SIZE);
	}
	if (!rc) {
		ip->d.i_xattr_blk = used ? blk : 0;
		hfs_inode_touch(ip, false, true);
		rc = hfs_inode_stage(vol, ip);
	}
	if (rc) {
		ip->d = saved;
		if (fresh)
			hfs_vol_release_blocks(vol, blk, 1);
		free(buf);
		return rc;
	}
	/* Freed before the commit: safe, the commit happens under
	 * vol->lock before anyone can allocate again. */
	if (!used)
		hfs_vol_release_blocks(vol, blk, 1);
	free(ip->xattr);
	ip->xattr = used ? buf : NULL;
	if (!used)
		free(buf);
	return 0;
}

int hfs_xattr_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			 const char *name, const void *value, size_t size,
			 int flags)
{
	size_t nlen;
	int64_t pos;
	uint8_t *buf;
	uint32_t used;
	int rc;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((rc = xa_check_len(name, &nlen)))
		return rc;
	if (vol->readonly)
		return -EROFS;
	if ((rc = xa_check_ns(name, nlen)))
		return rc;
	if (size > XA_SIZE_MAX || xa_esize(nlen, size) > HFS_XATTR_SPACE)
		return -E2BIG;
	if (size && !value)
		return -EINVAL;
	pos = xa_find(ip->xattr, name, nlen);
	if (pos >= 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (pos < 0 && (flags & XATTR_REPLACE))
		return -ENODATA;
	rc = xa_build(ip->xattr, pos, name, nlen, value, size, &buf, &used);
	if (rc)
		return rc;
	return xa_commit(vol, ip, buf, used);
}

ssize_t hfs_xattr_get_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			     const char *name, void *buf, size_t size)
{
	const struct hfs_xattr_entry *e;
	size_t nlen;
	int64_t pos;
	int rc;

	(void)vol;
	if ((rc = xa_check_name(name, &nlen)))
		return rc;
	pos = xa_find(ip->xattr, name, nlen);
	if (pos < 0)
		return -ENODATA;
	e = xa_at(ip->xattr, (uint32_t)pos);
	if (size == 0)
		return e->x_value_len;
	if (size < e->x_value_len)
		return -ERANGE;
	memcpy(buf, xa_name(e) + e->x_name_len, e->x_value_len);
	return e->x_value_len;
}

ssize_t hfs_xattr_list_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			      char *buf, size_t size)
{
	uint32_t used = xa_used(ip->xattr), pos;
	size_t need = 0, at = 0;

	(void)vol;
	for (pos = 0; pos < used;) {
		const struct hfs_xattr_entry *e = xa_at(ip->xattr, pos);

		need += e->x_name_len + 1u;
		pos += (uint32_t)xa_esize(e->x_name_len, e->x_value_len);
	}
	if (size == 0)
		return (ssize_t)need;
	if (size < need)
		return -ERANGE;
	for (pos = 0; pos < used;) {
		const struct hfs_xattr_entry *e = xa_at(ip->xattr, pos);

		memcpy(buf + at, xa_name(e), e->x_name_len);
		at += e->x_name_len;
		buf[at++] = '\0';
		pos += (uint32_t)xa_esize(e->x_name_len, e->x_value_len);
	}
	return (ssize_t)need;
}

int hfs_xattr_remove_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			    const char *name)
{
	size_t nlen;
	int64_t pos;
	uint8_t *buf;
	uint32_t used;
	int rc;

	if ((rc = xa_check_len(name, &nlen)))
		return rc;
	if (vol->readonly)
		return -EROFS;
	if ((rc = xa_check_ns(name, nlen)))
		return rc;
	pos = xa_find(ip->xattr, name, nlen);
	if (pos < 0)
		return -ENODATA;
	rc = xa_build(ip->xattr, pos, NULL, 0, NULL, 0, &buf, &used);
	if (rc)
		return rc;
	return xa_commit(vol, ip, buf, used);
}

void hfs_xattr_drop_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	if (ip->d.i_xattr_blk)
		hfs_vol_release_blocks(vol, ip->d.i_xattr_blk, 1);
	ip->d.i_xattr_blk = 0;
	free(ip->xattr);
	ip->xattr = NULL;
}

/* Every entry inside the payload, names non-empty and without NULs, the
 * last entry ending exactly at b_count. */
static bool xa_entries_ok(const uint8_t *blk, uint32_t used)
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
		    memchr(xa_name(e), 0, e->x_name_len))
			return false;
		pos += (uint32_t)esz;
	}
	return true;
}

int hfs_xattr_load(struct hfs_vol *vol, struct hfs_inode *ip)
{
	uint64_t blk = ip->d.i_xattr_blk;
	struct hfs_blkhdr h;
	uint8_t *buf;

	if (blk == 0)
		return 0;
	if (blk < vol->alloc.pool_start || blk >= vol->alloc.pool_end)
		return -EUCLEAN;
	buf = malloc(HFS_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	if (hfs_region_read(vol->rg, blk * BLK, buf, HFS_BLOCK_SIZE, NULL)) {
		free(buf);
		return -EIO;
	}
	memcpy(&h, buf, XA_HDR);
	if (h.b_magic != HFS_XATTRBLK_MAGIC ||
	    h.b_crc != hfs_crc_struct(buf, HFS_BLOCK_SIZE,
				      offsetof(struct hfs_blkhdr, b_crc)) ||
	    h.b_owner != ip->ino || h.b_next != 0 ||
	    h.b_count > HFS_XATTR_SPACE || !xa_entries_ok(buf, h.b_count)) {
		free(buf);
		return -EUCLEAN;
	}
	free(ip->xattr);
	ip->xattr = buf;
	return 0;
}
