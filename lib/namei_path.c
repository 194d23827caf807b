/* SPDX-License-Identifier: MIT */
/*
 * Path lookup by inode, for reports (hfs_vol_ino_path): the reverse of
 * namei.c's name -> inode.
 *
 * A range failure names every affected file, so the cost of a name must
 * not depend on how many files there are.  Each in-DRAM inode carries a
 * hint to one of its names (directory + dentry slot, set by dir.c
 * whenever a dentry gets the inode), so a path is one O(1) step per
 * level.  Chosen over resolving names lazily at `holdfsctl
 * status` time: the daemon log line of the event names the path too, and
 * a name taken at the failure is the one the operator wants even if the
 * file is renamed later.  A hint goes stale only when that very name is
 * removed while the inode keeps another (a hard link): then one scan of
 * the directory indexes finds a name and refreshes the hint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dir_i.h"
#include "inode_i.h"
#include "vol.h"
#include "vol_i.h"

/* The dentry ip's hint points at, if it still names ip (*parent set). */
static const struct hfs_dent *hinted_name(struct hfs_vol *vol,
					  const struct hfs_inode *ip,
					  uint64_t *parent)
{
	struct hfs_inode *dp = hfs_iget(vol, ip->name_dir);
	const struct hfs_dent *e;

	if (!dp || !dp->dir)
		return NULL;
	e = hfs_dir_slot(dp->dir, ip->name_slot);
	if (!e || e->ino != ip->ino)
		return NULL;
	*parent = dp->ino;
	return e;
}

/* Name of ino inside directory dip, or NULL (O(directory size)). */
static const struct hfs_dent *name_in(const struct hfs_inode *dip,
				      uint64_t ino)
{
	uint64_t slot = 0, found;
	const struct hfs_dent *e;

	if (!dip || !dip->dir)
		return NULL;
	while ((e = hfs_dir_at(dip->dir, slot, &found)) != NULL) {
		if (e->ino == ino)
			return e;
		slot = found + 1;
	}
	return NULL;
}

/* Stale hint: a directory has one name, in i_parent; anything else is
 * looked for in every directory (O(entries)).  Refreshes the hint. */
static const struct hfs_dent *search_name(struct hfs_vol *vol,
					  struct hfs_inode *ip,
					  uint64_t *parent)
{
	const struct hfs_dent *e = NULL;

	if (ip->dir) {
		*parent = ip->d.i_parent;
		e = name_in(hfs_iget(vol, *parent), ip->ino);
	} else {
		for (uint64_t d = 1; d < vol->sb.s_inode_hwm && !e; d++) {
			struct hfs_inode *dp = vol->itab[d];

			if (dp && dp->dir && (e = name_in(dp, ip->ino)))
				*parent = d;
		}
	}
	if (e) {
		ip->name_dir = *parent;
		ip->name_slot = e->slot;
	}
	return e;
}

int hfs_vol_ino_path(struct hfs_vol *vol, uint64_t ino, char *buf,
		     size_t len)
{
	char *tmp;
	size_t pos;
	int r = 0, depth = 0;

	if (len < 2)
		return -ENAMETOOLONG;
	tmp = malloc(len);
	if (!tmp)
		return -ENOMEM;
	pos = len - 1;
	tmp[pos] = '\0';
	pthread_mutex_lock(&vol->lock);
	while (ino != HFS_ROOT_INO) {
		struct hfs_inode *ip = hfs_iget(vol, ino);
		const struct hfs_dent *e = NULL;
		uint64_t parent = 0;

		if (!ip || ip->d.i_nlink == 0 || ++depth > 4096) {
			r = -ENOENT;
			break;
		}
		e = hinted_name(vol, ip, &parent);
		if (!e)
			e = search_name(vol, ip, &parent);
		if (!e) {
			r = -ENOENT;
			break;
		}
		if ((size_t)e->len + 1 > pos) {
			r = -ENAMETOOLONG;
			break;
		}
		pos -= e->len;
		memcpy(tmp + pos, e->name, e->len);
		tmp[--pos] = '/';
		ino = parent;
	}
	pthread_mutex_unlock(&vol->lock);
	if (!r) {
		if (tmp[pos] == '\0')
			tmp[--pos] = '/';
		memmove(buf, tmp + pos, len - pos);
	}
	free(tmp);
	return r;
}
