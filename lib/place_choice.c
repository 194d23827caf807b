/* SPDX-License-Identifier: MIT */
/*
 * The placement choice: trusted.holdfs.device on a directory or a
 * regular file names the device its new data goes to first
 * (docs/format.md "Placement"; placement.c applies it, namei.c copies it
 * to what is created in a directory).
 *
 * Why trusted.: which device holds a tree's data is which failure domain
 * it shares, a decision about the hardware that belongs to whoever
 * administers it, not to each directory's owner; the kernel lets only
 * CAP_SYS_ADMIN set or read trusted.* attributes on every filesystem,
 * before the request reaches the daemon.
 *
 * Why an index is stored, not the device's UUID: a device keeps its
 * index for the life of the volume (entries of the device table are
 * never removed or reordered; a lost or retired device keeps its entry),
 * so the index names it as surely, fsck checks it with one comparison,
 * and a tree copied with its attributes onto another volume of the same
 * shape keeps its meaning there.  The UUID is accepted as input and
 * stored as the index it names.
 */
#include "place_choice_i.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "inode_i.h"
#include "media.h"
#include "vol_i.h"
#include "xattr_i.h"

int hfs_place_choice_check(const void *value, size_t len, uint32_t ndev)
{
	const char *v = value;
	uint32_t n = 0;

	if (!v || len == 0 || len > 2 || (len > 1 && v[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint32_t)(v[i] - '0');
	}
	return n < ndev ? (int)n : -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The canonical 8-4-4-4-12 form, either case; -EINVAL otherwise. */
static int parse_uuid(const char *v, size_t len, uint8_t u[16])
{
	size_t k = 0;

	if (len != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (v[i++] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(v[i]);
		lo = hexval(v[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		u[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

int hfs_place_choice_parse(const struct hfs_vol *vol, const void *value,
			   size_t len)
{
	const struct hfs_devtab *t = &vol->devtab;
	uint8_t u[16];
	int i = hfs_place_choice_check(value, len, t->t_count);

	if (i < 0 && value && parse_uuid(value, len, u) == 0)
		for (uint32_t k = 0; k < t->t_count && i < 0; k++)
			if (!memcmp(t->t_dev[k].d_uuid, u, 16))
				i = (int)k;
	if (i < 0)
		return -EINVAL;
	/* a device that takes data now: not lost, not retired, not one
	 * kept for metadata only */
	if (t->t_dev[i].d_state != HFS_DEV_ACTIVE ||
	    !(t->t_dev[i].d_role & HFS_DEV_ROLE_DATA))
		return -EINVAL;
	return i;
}

int hfs_place_choice_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				const void *value, size_t len, int flags)
{
	char buf[4];
	int i, n;

	if (!vol->devtab.t_count)
		return -EOPNOTSUPP; /* one device: nothing to choose */
	if (!S_ISDIR(ip->d.i_mode) && !S_ISREG(ip->d.i_mode))
		return -EINVAL;
	if ((i = hfs_place_choice_parse(vol, value, len)) < 0)
		return i;
	/* the choice moves no data: on a file that has some it would
	 * only decide where a hole before its first block goes */
	if (S_ISREG(ip->d.i_mode) && ip->em.n)
		return -EBUSY;
	n = snprintf(buf, sizeof(buf), "%d", i);
	return hfs_xattr_set_locked(vol, ip, HFS_PLACE_XATTR, buf, (size_t)n,
				    flags);
}

int hfs_place_choice_get_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	char v[HFS_PLACE_VALUE_MAX];
	ssize_t n;

	if (!ip->xattr)
		return -ENODATA;
	n = hfs_xattr_get_locked(vol, ip, HFS_PLACE_XATTR, v, sizeof(v));
	if (n == -ENODATA)
		return -ENODATA;
	if (n < 0 && n != -ERANGE)
		return (int)n;
	if (n < 0 || hfs_place_choice_check(v, (size_t)n,
					    vol->devtab.t_count) < 0 ||
	    (!S_ISDIR(ip->d.i_mode) && !S_ISREG(ip->d.i_mode)))
		return -EUCLEAN;
	return hfs_place_choice_check(v, (size_t)n, vol->devtab.t_count);
}

int hfs_place_choice_pref(struct hfs_vol *vol, struct hfs_inode *ip)
{
	int i;

	if (!vol->devtab.t_count || !ip->xattr)
		return -1;
	i = hfs_place_choice_get_locked(vol, ip);
	return i < 0 ? -1 : i;
}

size_t hfs_place_choice_inherit(struct hfs_vol *vol, struct hfs_inode *dip,
				uint32_t mode, char out[HFS_PLACE_VALUE_MAX])
{
	int i;

	if (!S_ISDIR(mode) && !S_ISREG(mode))
		return 0;
	if (!vol->devtab.t_count || !dip->xattr)
		return 0;
	i = hfs_place_choice_get_locked(vol, dip);
	if (i < 0)
		return 0; /* none, or one fsck would drop: not spread */
	return (size_t)snprintf(out, HFS_PLACE_VALUE_MAX, "%d", i);
}
