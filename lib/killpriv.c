/* SPDX-License-Identifier: MIT */
/*
 * File capabilities (security.capability) that a change of a file's
 * contents takes away.
 *
 * The VFS removes them on every write, whoever writes
 * (cap_inode_need_killpriv), and so do ext4 and tmpfs on fallocate and on
 * the destination of copy_file_range.  Through FUSE the kernel does it for
 * write(2) only while it probes each write with a GETXATTR, which the
 * daemon turns off by negotiating FUSE_HANDLE_KILLPRIV_V2 (fs/fuse_io.c),
 * and never for fallocate or copy_file_range: so the daemon asks here
 * before each of them (fs/killpriv.c).  Setuid and setgid are the
 * daemon's decision (fs/killpriv.c) and go through hfs_setattr.
 *
 * The common case, an inode without extended attributes, costs one lock
 * round and a pointer test.
 */
#include <errno.h>
#include <sys/stat.h>

#include "inode_i.h"
#include "journal_i.h"
#include "vol_i.h"
#include "xattr_i.h"

#define FCAPS_XATTR "security.capability"

int hfs_kill_fcaps(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret == -EROFS ? 0 : ret; /* nothing changes on ro */
	ip = hfs_iget(vol, ino);
	if (!ip) {
		ret = -ENOENT;
	} else if (S_ISREG(ip->d.i_mode) && ip->xattr) {
		/* stages the block and the inode with its new ctime, or
		 * finds nothing to remove (ENODATA: nothing staged) */
		ret = hfs_xattr_remove_locked(vol, ip, FCAPS_XATTR);
		if (ret == -ENODATA)
			ret = 0;
		else if (!ret && !(ret = hfs_tx_commit(vol, &vol->tx)))
			ret = 1;
		if (ret < 0) {
			hfs_tx_abort(&vol->tx);
			if (ret != -ENOSPC)
				hfs_vol_fail(vol, ret);
		}
	}
	hfs_vol_unlock(vol);
	return ret;
}
