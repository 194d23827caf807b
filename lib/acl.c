/* SPDX-License-Identifier: MIT */
/*
 * POSIX ACL values: checking, the mode they imply, chmod and inheritance
 * (acl_i.h says what each is for), on the xattr value in place; then
 * setting an ACL and following a chmod on an inode, through xattr.c.
 * Inheritance at create is applied by namei.c.
 */
#include "acl_i.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "inode_i.h"
#include "journal_i.h"
#include "vol_i.h"
#include "xattr_i.h"

#define ACL_VERSION 2
#define HDR 4
#define ENT 8

enum acl_tag {
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static uint16_t tag_of(const uint8_t *v, size_t i)
{
	return get16(v + HDR + i * ENT);
}

static uint16_t perm_of(const uint8_t *v, size_t i)
{
	return get16(v + HDR + i * ENT + 2);
}

static void set_perm(uint8_t *v, size_t i, uint16_t perm)
{
	put16(v + HDR + i * ENT + 2, perm);
}

static size_t count(size_t len)
{
	return (len - HDR) / ENT;
}

int hfs_acl_check(const void *value, size_t len)
{
	const uint8_t *v = value;
	unsigned seen_obj = 0, named = 0, masks = 0;

	if (!v || len < HDR || (len - HDR) % ENT || len > HFS_ACL_MAX ||
	    get32(v) != ACL_VERSION)
		return -EINVAL;
	for (size_t i = 0; i < count(len); i++) {
		uint16_t tag = tag_of(v, i);

		if (perm_of(v, i) & ~7u)
			return -EINVAL;
		switch (tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_OTHER:
			if (seen_obj & tag)
				return -EINVAL;
			seen_obj |= tag;
			break;
		case TAG_USER:
		case TAG_GROUP:
			named++;
			break;
		case TAG_MASK:
			masks++;
			break;
		default:
			return -EINVAL;
		}
	}
	if (seen_obj != (TAG_USER_OBJ | TAG_GROUP_OBJ | TAG_OTHER) ||
	    masks > 1 || (named && !masks))
		return -EINVAL;
	return (int)count(len);
}

/* Index of the first entry with tag, or count when there is none. */
static size_t find(const uint8_t *v, size_t len, uint16_t tag)
{
	size_t i;

	for (i = 0; i < count(len) && tag_of(v, i) != tag; i++)
		;
	return i;
}

int hfs_acl_mode(const void *value, size_t len, uint32_t *mode)
{
	const uint8_t *v = value;
	size_t n = count(len), mask = find(v, len, TAG_MASK);
	size_t grp = mask < n ? mask : find(v, len, TAG_GROUP_OBJ);
	uint32_t bits = (uint32_t)perm_of(v, find(v, len, TAG_USER_OBJ)) << 6 |
			(uint32_t)perm_of(v, grp) << 3 |
			perm_of(v, find(v, len, TAG_OTHER));

	*mode = (*mode & ~(uint32_t)0777) | bits;
	return mask < n || find(v, len, TAG_USER) < n ||
	       find(v, len, TAG_GROUP) < n;
}

void hfs_acl_chmod(void *value, size_t len, uint32_t mode)
{
	uint8_t *v = value;
	size_t n = count(len), mask = find(v, len, TAG_MASK);

	set_perm(v, find(v, len, TAG_USER_OBJ), (mode >> 6) & 7);
	set_perm(v, mask < n ? mask : find(v, len, TAG_GROUP_OBJ),
		 (mode >> 3) & 7);
	set_perm(v, find(v, len, TAG_OTHER), mode & 7);
}

int hfs_acl_create(void *value, size_t len, uint32_t *mode)
{
	uint8_t *v = value;
	size_t n = count(len), mask = find(v, len, TAG_MASK);
	size_t own = find(v, len, TAG_USER_OBJ), oth = find(v, len, TAG_OTHER);
	size_t grp = mask < n ? mask : find(v, len, TAG_GROUP_OBJ);

	/* each class gets what both the default ACL and the requested mode
	 * allow; the mode takes the result */
	set_perm(v, own, perm_of(v, own) & ((*mode >> 6) & 7));
	set_perm(v, grp, perm_of(v, grp) & ((*mode >> 3) & 7));
	set_perm(v, oth, perm_of(v, oth) & (*mode & 7));
	return hfs_acl_mode(v, len, mode);
}

/* ------------------------------------------------------ on an inode */

/* An access ACL equivalent to the new mode: no ACL stored, the mode
 * changes (and the ctime). */
static int set_equiv_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	ssize_t n = ip->xattr ? hfs_xattr_get_locked(vol, ip, HFS_ACL_ACCESS,
						     NULL, 0)
			      : -ENODATA;

	if (n >= 0)
		return hfs_xattr_remove_locked(vol, ip, HFS_ACL_ACCESS);
	hfs_inode_touch(ip, false, true);
	return hfs_inode_stage(vol, ip);
}

int hfs_acl_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
		       const char *name, const void *v, size_t len)
{
	uint32_t old = ip->d.i_mode, mode = old;
	int ret = hfs_acl_check(v, len);

	if (ret < 0)
		return ret;
	if (strcmp(name, HFS_ACL_DEFAULT) == 0)
		return S_ISDIR(ip->d.i_mode)
		       ? hfs_xattr_set_locked(vol, ip, name, v, len, 0)
		       : -EACCES;
	if (vol->readonly)
		return -EROFS;
	/* the new mode is staged with the inode by either call below */
	if (hfs_acl_mode(v, len, &mode)) {
		ip->d.i_mode = mode;
		ret = hfs_xattr_set_locked(vol, ip, name, v, len, 0);
	} else {
		ip->d.i_mode = mode;
		ret = set_equiv_locked(vol, ip);
	}
	if (ret)
		ip->d.i_mode = old;
	return ret;
}

int hfs_acl_chmod_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	uint8_t buf[HFS_ACL_MAX];
	ssize_t n;

	if (!ip->xattr)
		return 0;
	n = hfs_xattr_get_locked(vol, ip, HFS_ACL_ACCESS, buf, sizeof(buf));
	if (n == -ENODATA || (n > 0 && hfs_acl_check(buf, (size_t)n) < 0))
		return 0; /* none, or not one to touch (fsck's) */
	if (n < 0)
		return (int)n;
	hfs_acl_chmod(buf, (size_t)n, ip->d.i_mode);
	return hfs_xattr_set_locked(vol, ip, HFS_ACL_ACCESS, buf, (size_t)n,
				    XATTR_REPLACE);
}
