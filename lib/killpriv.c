/* SPDX-License-Identifier: MIT */
/*
 * Privileges that a change of a file's contents takes away: setuid,
 * setgid and file capabilities.
 *
 * The daemon negotiates FUSE_HANDLE_KILLPRIV_V2 (fs/fuse_io.c), so the
 * kernel leaves this to the filesystem on write, truncate and chown, and
 * never did it on fallocate or copy_file_range.  The rule is the
 * kernel's current one (setattr_should_drop_suidgid and
 * cap_inode_need_killpriv), for regular files only:
 *
 *   - setuid goes unless the caller holds CAP_FSETID;
 *   - setgid goes unless the caller holds CAP_FSETID, and also stays
 *     when the file has no group execute and the caller is in the
 *     file's group (the old mandatory-locking marker: not a privilege
 *     of anyone else's);
 *   - security.capability goes, whoever writes.
 *
 * The common case (none of them set) costs one lock round and a look at
 * the in-memory inode; anything to take away is one transaction: the
 * mode, the ctime and the xattr block together.
 */
#include <errno.h>
#include <sys/stat.h>

#include "inode_i.h"
#include "journal_i.h"
#include "vol_i.h"
#include "xattr_i.h"

#define FCAPS_XATTR "security.capability"

int hfs_kill_privs(struct hfs_vol *vol, uint64_t ino,
		   const struct hfs_killpriv *kp)
{
	struct hfs_inode *ip;
	uint32_t mode, kill = 0;
	bool caps;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret == -EROFS ? 0 : ret; /* nothing changes on ro */
	ip = hfs_iget(vol, ino);
	if (!ip) {
		hfs_vol_unlock(vol);
		return -ENOENT;
	}
	mode = ip->d.i_mode;
	if (!S_ISREG(mode)) {
		hfs_vol_unlock(vol);
		return 0;
	}
	caps = ip->xattr && hfs_xattr_get_locked(vol, ip, FCAPS_XATTR,
						 NULL, 0) >= 0;
	if ((mode & (S_ISUID | S_ISGID)) && !kp->fsetid(kp->ctx)) {
		if (mode & S_ISUID)
			kill |= S_ISUID;
		if ((mode & S_ISGID) &&
		    ((mode & S_IXGRP) || !kp->in_group(kp->ctx, ip->d.i_gid)))
			kill |= S_ISGID;
	}
	if (!kill && !caps) {
		hfs_vol_unlock(vol);
		return 0;
	}
	ip->d.i_mode = mode & ~kill;
	if (caps) { /* stages the inode and its ctime with the block */
		ret = hfs_xattr_remove_locked(vol, ip, FCAPS_XATTR);
	} else {
		hfs_inode_touch(ip, false, true);
		ret = hfs_inode_stage(vol, ip);
	}
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	if (!ret)
		ret = 1;
	if (ret < 0) {
		ip->d.i_mode = mode;
		hfs_tx_abort(&vol->tx);
		if (ret != -ENOSPC)
			hfs_vol_fail(vol, ret);
	}
	hfs_vol_unlock(vol);
	return ret;
}
