/* SPDX-License-Identifier: MIT */
/*
 * Attribute flags (chattr(1), lsattr(1)): immutable, append-only and
 * nodump, kept in i_flags (HFS_IF_USER, the kernel's FS_*_FL values).
 *
 * The FUSE kernel module never gives its inodes S_IMMUTABLE or S_APPEND
 * (no fuse_attr field carries them), so the VFS enforces nothing for
 * holdfs: every rule ext4 applies is applied here, by the operation that
 * would break it (the checks below are called from file.c, namei.c and
 * the daemon's open).  The rules, as ext4 on this kernel
 * (docs/semantics.md "Attribute flags"):
 *   - immutable: no data or attribute change (write, truncate, chmod,
 *     chown, utimes, fallocate, xattrs), no new link to it, no removal
 *     or rename of it; a directory takes no new, removed or renamed name;
 *   - append-only: data only added at the end (writes at the end of
 *     file, fallocate that keeps the size); no truncate, chmod, chown,
 *     explicit times or xattr change; not removed or renamed, no new
 *     link; a directory takes new names but loses none;
 *   - nodump: nothing enforced (dump(8) reads it).
 * Only the owner (or CAP_FOWNER) changes the flags, and changing
 * immutable or append-only needs CAP_LINUX_IMMUTABLE: the kernel checks
 * both before it sends the ioctl; the daemon passes what it read of the
 * caller and the volume checks again (defence in depth).
 *
 * Locking: i_flags changes under the inode's iolock (write) and
 * vol->lock, so a writer holding either sees a stable value.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "inode_i.h"
#include "journal_i.h"
#include "media.h"

int hfs_iflags_may_change(const struct hfs_inode *ip)
{
	return (ip->d.i_flags & (HFS_IF_IMMUTABLE | HFS_IF_APPEND)) ? -EPERM
								    : 0;
}

int hfs_iflags_may_write(const struct hfs_inode *ip, uint64_t off)
{
	if (ip->d.i_flags & HFS_IF_IMMUTABLE)
		return -EPERM;
	/* an O_APPEND write comes at the kernel's size, which is the file's
	 * (no direct writers: their leases are refused), or at the end as
	 * hfs_append found it; anything else is an overwrite (a
	 * pwritev2(RWF_NOAPPEND), which ext4 refuses too) */
	if ((ip->d.i_flags & HFS_IF_APPEND) && off != ip->d.i_size)
		return -EPERM;
	return 0;
}

int hfs_iflags_may_add_name(const struct hfs_inode *dip)
{
	return (dip->d.i_flags & HFS_IF_IMMUTABLE) ? -EPERM : 0;
}

int hfs_iflags_may_drop_name(const struct hfs_inode *dip,
			     const struct hfs_inode *ip)
{
	if (hfs_iflags_may_change(dip) || hfs_iflags_may_change(ip))
		return -EPERM;
	return 0;
}

int hfs_iflags_may_open(const struct hfs_inode *ip, int oflags)
{
	bool w = (oflags & O_ACCMODE) != O_RDONLY || (oflags & O_TRUNC);

	if (!w)
		return 0;
	if (ip->d.i_flags & HFS_IF_IMMUTABLE)
		return -EPERM;
	if ((ip->d.i_flags & HFS_IF_APPEND) &&
	    (!(oflags & O_APPEND) || (oflags & O_TRUNC)))
		return -EPERM;
	return 0;
}

int hfs_getflags(struct hfs_vol *vol, uint64_t ino, uint32_t *flags)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock_look(vol, ino);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (!ip)
		ret = -ENOENT;
	else if (!S_ISREG(ip->d.i_mode) && !S_ISDIR(ip->d.i_mode))
		ret = -ENOTTY;
	else
		*flags = ip->d.i_flags & HFS_IF_USER;
	hfs_vol_unlock(vol);
	return ret;
}

/* Everything that refuses the change, before anything is staged. */
static int setflags_check(const struct hfs_inode *ip, uint32_t flags,
			  const struct hfs_flags_caller *who)
{
	uint32_t old = ip->d.i_flags & HFS_IF_USER;
	const uint32_t guarded = HFS_IF_IMMUTABLE | HFS_IF_APPEND;

	if (!S_ISREG(ip->d.i_mode) && !S_ISDIR(ip->d.i_mode))
		return -ENOTTY;
	if (flags & ~HFS_IF_USER)
		return -EOPNOTSUPP;
	if (who->uid != ip->d.i_uid && !who->cap_fowner)
		return -EPERM;
	if (((old ^ flags) & guarded) && !who->cap_linux_immutable)
		return -EPERM;
	/* an immutable inode that stays immutable changes no other flag
	 * either (ext4) */
	if ((old & flags & HFS_IF_IMMUTABLE) && old != flags)
		return -EPERM;
	/* direct writers (an armed data-path slot) would go on writing:
	 * their leases must end first (the daemon refuses while it holds
	 * write leases of the file; this is the volume's own view) */
	if ((flags & ~old & guarded) && ip->ds)
		return -ETXTBSY;
	return 0;
}

/* DAX write leases (mmap or data path) would go on writing: the daemon's
 * hook says whether any is out (vol.h, writers). */
static int setflags_leases(struct hfs_vol *vol, const struct hfs_inode *ip,
			   uint32_t flags)
{
	uint32_t added = flags & ~ip->d.i_flags &
			 (HFS_IF_IMMUTABLE | HFS_IF_APPEND);

	if (added && vol->hooks.writers &&
	    vol->hooks.writers(vol->hooks.ctx, ip->ino))
		return -ETXTBSY;
	return 0;
}

static int setflags_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			   uint32_t flags)
{
	int ret;

	ip->d.i_flags = (ip->d.i_flags & ~HFS_IF_USER) | flags;
	hfs_inode_touch(ip, false, true);
	ret = hfs_inode_stage(vol, ip);
	if (!ret && flags &&
	    !(vol->sb.s_feat_ro_compat & HFS_FEAT_RO_COMPAT_IFLAGS)) {
		vol->sb.s_feat_ro_compat |= HFS_FEAT_RO_COMPAT_IFLAGS;
		vol->sb.s_journal_seq = vol->jseq;
		hfs_super_set_crc(&vol->sb);
		ret = hfs_tx_add(&vol->tx, 0, &vol->sb, sizeof(vol->sb));
	}
	if (ret)
		return hfs_vol_fail(vol, ret);
	return hfs_tx_commit(vol, &vol->tx);
}

int hfs_setflags(struct hfs_vol *vol, uint64_t ino, uint32_t flags,
		 const struct hfs_flags_caller *who, struct hfs_attr *out)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	hfs_vol_unlock(vol);
	if (!ip)
		return -ENOENT;
	/* iolock before vol->lock (vol.h lock order): writers in flight
	 * finish under the old flags, later ones see the new */
	pthread_rwlock_wrlock(&ip->iolock);
	ret = hfs_vol_lock(vol, true);
	if (!ret) {
		ret = setflags_check(ip, flags, who);
		if (!ret)
			ret = setflags_leases(vol, ip, flags);
		if (!ret)
			ret = setflags_locked(vol, ip, flags);
		if (!ret && out)
			hfs_inode_to_attr(vol, ip, out);
		hfs_vol_unlock(vol);
	}
	pthread_rwlock_unlock(&ip->iolock);
	return ret;
}
