/* SPDX-License-Identifier: MIT */
/*
 * Namespace operations: lookup, create (mknod/mkdir/symlink), link,
 * unlink, rmdir, rename, and the inode reference counts that decide when
 * an unlinked inode is really freed.
 *
 * Every change runs under vol->lock as one journal transaction.  Space
 * is checked before anything changes (space_for), so ENOSPC never leaves
 * a half-made change; failures after that point can only be ENOMEM or a
 * media fault, which put the volume into the failed state (journal_i.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "acl_i.h"
#include "blocks_i.h"
#include "dir_i.h"
#include "extent_i.h"
#include "holders_i.h"
#include "inode_i.h"
#include "journal_i.h"
#include "place_choice_i.h"
#include "region.h"
#include "vol.h"
#include "vol_i.h"
#include "xattr_i.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

#define HFS_LINK_MAX 65000u

static uint8_t dtype(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12); /* DT_* == S_IFMT >> 12 */
}

static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -ENOENT;
	if (len > HFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* A live directory to change: ENOTDIR, or ENOENT once it was removed. */
static int get_dir(struct hfs_vol *vol, uint64_t ino, struct hfs_inode **out)
{
	struct hfs_inode *dip = hfs_iget(vol, ino);

	if (!dip)
		return -ENOENT;
	if (!S_ISDIR(dip->d.i_mode))
		return -ENOTDIR;
	*out = dip;
	return 0;
}

/* Blocks a change may need: a directory block if dip is full, plus one
 * for its extent chain, plus meta more metadata blocks (an ACL's xattr
 * block) and data blocks of file data (a symlink's target).  Checked
 * before anything changes, each where it will be allocated: on a volume
 * of several devices metadata and data live in different places. */
static int space_for(struct hfs_vol *vol, struct hfs_inode *dip,
		     uint64_t meta, uint64_t data)
{
	if (dip && hfs_dir_full(dip->dir))
		meta += 2; /* a new directory block and an extent chain block */
	if (hfs_vol_meta_avail(vol) < meta || hfs_vol_data_avail(vol) < data ||
	    hfs_vol_blocks_avail(vol) < meta + data)
		return -ENOSPC;
	return 0;
}

/* Commit the staged change.  After the first change has been staged an
 * error cannot be undone: fail the volume rather than leave DRAM and
 * media disagreeing. */
static int commit(struct hfs_vol *vol, int ret)
{
	if (ret)
		return hfs_vol_fail(vol, ret);
	return hfs_tx_commit(vol, &vol->tx);
}

/* Free the inode if nothing refers to it any more; else keep it as an
 * orphan (freed at its last forget/release, or at the next mount). */
static int drop_if_unused_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	if (ip->d.i_nlink != 0 || ip->ino == HFS_ROOT_INO)
		return 0;
	if (ip->nlookup == 0 && ip->nopen == 0)
		return hfs_inode_delete_locked(vol, ip);
	if (ip->d.i_flags & HFS_IF_ORPHAN)
		return 0;
	ip->d.i_flags |= HFS_IF_ORPHAN;
	return hfs_inode_stage(vol, ip);
}

static void parent_touch(struct hfs_inode *dip)
{
	hfs_inode_touch(dip, true, true);
}

/* ------------------------------------------------------------ lookup */

int hfs_lookup(struct hfs_vol *vol, uint64_t parent, const char *name,
	       struct hfs_attr *out)
{
	struct hfs_inode *dip, *ip;
	struct hfs_dent *e;
	int ret = hfs_vol_lock(vol, false);

	if (ret)
		return ret;
	if (!strcmp(name, ".")) {
		/* The kernel asks for "." of an inode it has no longer
		 * cached when it decodes a file handle (NFS export,
		 * open_by_handle_at), for any kind of inode: the inode
		 * itself, while it has a name.  The number is only an index
		 * (hfs_iget checks it); a stale or forged one is ENOENT,
		 * which the kernel turns into ESTALE, and so is a reused
		 * slot through its new generation, which the kernel
		 * compares with the handle's. */
		ip = hfs_iget(vol, parent);
		if (ip && ip->d.i_nlink == 0 && ip->ino != HFS_ROOT_INO)
			ip = NULL;
		goto found;
	}
	ret = get_dir(vol, parent, &dip);
	if (ret)
		goto out;
	if (strlen(name) > HFS_NAME_MAX) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	if (!strcmp(name, "..")) {
		ip = hfs_iget(vol, dip->d.i_parent);
	} else {
		e = hfs_dir_lookup(dip->dir, name);
		ip = e ? hfs_iget(vol, e->ino) : NULL;
		if (e && !ip)
			ret = -EIO; /* dangling entry: fsck repairs it */
	}
found:
	if (!ip) {
		ret = ret ? ret : -ENOENT;
		goto out;
	}
	ip->nlookup++;
	hfs_inode_to_attr(vol, ip, out);
out:
	hfs_vol_unlock(vol);
	return ret;
}

void hfs_forget(struct hfs_vol *vol, uint64_t ino, uint64_t nlookup)
{
	struct hfs_inode *ip;

	pthread_mutex_lock(&vol->lock);
	ip = hfs_iget(vol, ino);
	if (ip) {
		ip->nlookup = ip->nlookup > nlookup ? ip->nlookup - nlookup : 0;
		if (ip->nlookup == 0) {
			/* evicted: its cached symlink target went with it, and
			 * so did its cached size (inode_i.h kernel_size_stale) */
			ip->link_cached = false;
			if (!ip->ds)
				__atomic_store_n(&ip->kernel_size_stale, false,
						 __ATOMIC_RELAXED);
			hfs_inode_kread_update_locked(vol, ip);
		}
		if (!vol->failed && !vol->readonly && ip->nlookup == 0 &&
		    ip->nopen == 0 && ip->d.i_nlink == 0)
			commit(vol, drop_if_unused_locked(vol, ip));
	}
	pthread_mutex_unlock(&vol->lock);
}

int hfs_getattr(struct hfs_vol *vol, uint64_t ino, struct hfs_attr *out)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock_look(vol, ino);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (ip)
		hfs_inode_to_attr(vol, ip, out);
	else
		ret = -ENOENT;
	hfs_vol_unlock(vol);
	return ret;
}

int hfs_accessed(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_inode *ip;
	int ret;

	/* no lock for the noatime case (the policy may change under a
	 * remount: hfs_vol_set_atime) */
	if (vol->readonly ||
	    __atomic_load_n(&vol->atime, __ATOMIC_RELAXED) == HFS_ATIME_NEVER)
		return 0;
	ret = hfs_vol_lock(vol, false);
	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (ip)
		hfs_inode_accessed_locked(vol, ip);
	else
		ret = -ENOENT;
	hfs_vol_unlock(vol);
	return ret;
}

void hfs_vol_set_atime(struct hfs_vol *vol, enum hfs_atime atime,
		       bool nodiratime)
{
	__atomic_store_n(&vol->nodiratime, nodiratime, __ATOMIC_RELAXED);
	__atomic_store_n(&vol->atime, atime, __ATOMIC_RELAXED);
}

int hfs_open_flags(struct hfs_vol *vol, uint64_t ino, int oflags)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock_look(vol, ino);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (!ip)
		ret = -ENOENT;
	else
		ret = hfs_iflags_may_open(ip, oflags);
	if (!ret)
		hfs_inode_open_get_locked(vol, ip);
	hfs_vol_unlock(vol);
	return ret;
}

int hfs_open(struct hfs_vol *vol, uint64_t ino)
{
	return hfs_open_flags(vol, ino, O_RDONLY);
}

void hfs_release(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_inode *ip;

	pthread_mutex_lock(&vol->lock);
	ip = hfs_iget(vol, ino);
	if (ip && ip->nopen) {
		hfs_inode_open_put_locked(vol, ip);
		if (!vol->failed && !vol->readonly) {
			if (ip->nopen == 0 && ip->nlookup == 0 &&
			    ip->d.i_nlink == 0)
				commit(vol, drop_if_unused_locked(vol, ip));
			else if (ip->nopen == 0)
				hfs_inode_flush_times_locked(vol, ip);
		}
	}
	pthread_mutex_unlock(&vol->lock);
}

/* ------------------------------------------------------------ create */

struct create_args {
	uint32_t mode;
	uint64_t rdev;
	const char *target; /* symlinks */
	const struct hfs_cred *cred;
};

static int symlink_store(struct hfs_vol *vol, struct hfs_inode *ip,
			 const char *target)
{
	size_t len = strlen(target);
	uint64_t got;
	int64_t b;
	int ret;

	ip->d.i_size = len;
	if (len <= HFS_INLINE_SYMLINK) {
		ip->d.i_flags |= HFS_IF_INLINE_DATA;
		memcpy(ip->d.i_symlink, target, len);
		return 0;
	}
	b = hfs_vol_alloc(vol, ip->ino, HFS_RMAP_DATA, 0, 1, 1, 1, 0, &got);
	if (b < 0)
		return (int)b;
	/* the block is not linked anywhere until the tx commits */
	ret = hfs_region_write(vol->rg, (uint64_t)b * HFS_BLOCK_SIZE, target,
			       len, NULL);
	if (!ret)
		ret = hfs_emap_insert(&ip->em, 0, (uint64_t)b, 1, 0);
	return ret;
}

/* What a new inode inherits from its directory, with the lengths (0:
 * none): the ACLs (acl_i.h) and the placement choice (place_choice_i.h),
 * stored on the inode in the transaction that creates it. */
struct inherit {
	uint8_t acc[HFS_ACL_MAX], dfl[HFS_ACL_MAX];
	char place[HFS_PLACE_VALUE_MAX];
	size_t nacc, ndfl, nplace;
};

/* The mode of a new inode under dip.  Without a default ACL on dip the
 * umask applies; with one it does not, the ACL limits the mode instead
 * and becomes the inode's access ACL (unless the mode says it all), and
 * a new directory's default ACL too.  -ENOSPC if both would not fit in
 * the inode's xattr block (checked now: nothing can fail once the inode
 * is staged). */
static int inherit_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			  uint32_t *mode, uint32_t umask, struct inherit *in)
{
	ssize_t n = -ENODATA;

	in->nacc = in->ndfl = 0;
	in->nplace = hfs_place_choice_inherit(vol, dip, *mode, in->place);
	if (S_ISLNK(*mode))
		return 0;
	if (dip->xattr)
		n = hfs_xattr_get_locked(vol, dip, HFS_ACL_DEFAULT, in->dfl,
					 sizeof(in->dfl));
	if (n <= 0 || hfs_acl_check(in->dfl, (size_t)n) < 0) {
		*mode &= ~(umask & 0777);
		return 0;
	}
	memcpy(in->acc, in->dfl, (size_t)n);
	if (hfs_acl_create(in->acc, (size_t)n, mode))
		in->nacc = (size_t)n;
	if (S_ISDIR(*mode))
		in->ndfl = (size_t)n;
	/* two entries of at most 64 bytes of header and name, and the
	 * choice's entry, 64 bytes with its value */
	if (in->nacc + in->ndfl + 128 + (in->nplace ? 64 : 0) >
	    HFS_XATTR_SPACE)
		return -ENOSPC;
	return 0;
}

static int inherit_store_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				const struct inherit *in)
{
	int ret = 0;

	if (in->nacc)
		ret = hfs_xattr_set_locked(vol, ip, HFS_ACL_ACCESS, in->acc,
					   in->nacc, 0);
	if (!ret && in->ndfl)
		ret = hfs_xattr_set_locked(vol, ip, HFS_ACL_DEFAULT, in->dfl,
					   in->ndfl, 0);
	if (!ret && in->nplace)
		ret = hfs_xattr_set_locked(vol, ip, HFS_PLACE_XATTR, in->place,
					   in->nplace, 0);
	return ret;
}

static int create_locked(struct hfs_vol *vol, uint64_t parent,
			 const char *name, const struct create_args *a,
			 struct hfs_attr *out)
{
	struct hfs_inode *dip, *ip;
	uint32_t mode = a->mode, gid = a->cred->gid;
	struct inherit in;
	int ret = get_dir(vol, parent, &dip);

	if (ret)
		return ret;
	if ((ret = check_name(name)))
		return ret;
	if (dip->d.i_nlink == 0)
		return -ENOENT;
	if (hfs_dir_lookup(dip->dir, name))
		return -EEXIST;
	if ((ret = hfs_iflags_may_add_name(dip)))
		return ret;
	if (S_ISDIR(mode) && dip->d.i_nlink >= HFS_LINK_MAX)
		return -EMLINK;
	ret = inherit_locked(vol, dip, &mode, a->cred->umask, &in);
	if (ret)
		return ret;
	ret = space_for(vol, dip, in.nacc || in.ndfl || in.nplace ? 1 : 0,
			a->target ? 1 : 0);
	if (ret)
		return ret;
	if (dip->d.i_mode & S_ISGID) { /* BSD group semantics, as Linux */
		gid = dip->d.i_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	ret = hfs_inode_new_locked(vol, mode, a->cred, gid, &ip);
	if (ret)
		return ret;
	ip->d.i_rdev = a->rdev;
	if (S_ISDIR(mode)) {
		ip->d.i_parent = parent;
		ip->dir = hfs_dir_new();
		dip->d.i_nlink++;
		if (!ip->dir)
			ret = -ENOMEM;
	}
	if (!ret && a->target)
		ret = symlink_store(vol, ip, a->target);
	if (!ret)
		ret = inherit_store_locked(vol, ip, &in);
	if (!ret)
		ret = hfs_inode_stage_extents(vol, ip);
	if (!ret)
		ret = hfs_dir_add_locked(vol, dip, name, ip->ino, dtype(mode));
	parent_touch(dip);
	if (!ret)
		ret = hfs_inode_stage(vol, dip);
	ret = commit(vol, ret);
	if (ret)
		return ret;
	ip->nlookup++;
	hfs_inode_to_attr(vol, ip, out);
	return 0;
}

/* An unnamed regular file in directory parent (open(O_TMPFILE)): an
 * orphan from the start, with the mode, group and default ACL a create
 * there would give it, freed at its last close unless linked first. */
static int tmpfile_locked(struct hfs_vol *vol, uint64_t parent,
			  uint32_t mode, const struct hfs_cred *cred,
			  struct hfs_attr *out)
{
	struct hfs_inode *dip, *ip;
	uint32_t gid = cred->gid;
	struct inherit in;
	int ret = get_dir(vol, parent, &dip);

	if (ret)
		return ret;
	if (dip->d.i_nlink == 0)
		return -ENOENT;
	ret = inherit_locked(vol, dip, &mode, cred->umask, &in);
	if (!ret)
		ret = space_for(vol, dip, in.nacc || in.ndfl || in.nplace ? 1 : 0,
				0);
	if (ret)
		return ret;
	if (dip->d.i_mode & S_ISGID)
		gid = dip->d.i_gid;
	ret = hfs_inode_new_locked(vol, mode, cred, gid, &ip);
	if (ret)
		return ret;
	ip->d.i_nlink = 0;
	ip->d.i_flags |= HFS_IF_ORPHAN;
	ret = inherit_store_locked(vol, ip, &in);
	if (!ret)
		ret = hfs_inode_stage_extents(vol, ip);
	ret = commit(vol, ret);
	if (ret)
		return ret;
	ip->tmpfile = true;
	ip->nlookup++;
	hfs_inode_to_attr(vol, ip, out);
	return 0;
}

int hfs_tmpfile(struct hfs_vol *vol, uint64_t parent, uint32_t mode,
		const struct hfs_cred *cred, struct hfs_attr *out)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ret = tmpfile_locked(vol, parent, S_IFREG | (mode & 07777), cred, out);
	hfs_vol_unlock(vol);
	return ret;
}

static int create(struct hfs_vol *vol, uint64_t parent, const char *name,
		  const struct create_args *a, struct hfs_attr *out)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ret = create_locked(vol, parent, name, a, out);
	hfs_vol_unlock(vol);
	return ret;
}

int hfs_mknod(struct hfs_vol *vol, uint64_t parent, const char *name,
	      uint32_t mode, uint64_t rdev, const struct hfs_cred *cred,
	      struct hfs_attr *out)
{
	struct create_args a = { mode, rdev, NULL, cred };

	switch (mode & S_IFMT) {
	case 0:
		a.mode |= S_IFREG;
		break;
	case S_IFREG: case S_IFIFO: case S_IFSOCK:
		a.rdev = 0;
		break;
	case S_IFCHR: case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	return create(vol, parent, name, &a, out);
}

int hfs_mkdir(struct hfs_vol *vol, uint64_t parent, const char *name,
	      uint32_t mode, const struct hfs_cred *cred, struct hfs_attr *out)
{
	struct create_args a = { S_IFDIR | (mode & 07777), 0, NULL, cred };

	return create(vol, parent, name, &a, out);
}

int hfs_symlink(struct hfs_vol *vol, uint64_t parent, const char *name,
		const char *target, const struct hfs_cred *cred,
		struct hfs_attr *out)
{
	struct create_args a = { S_IFLNK | 0777, 0, target, cred };
	size_t len = strlen(target);

	if (len == 0)
		return -ENOENT;
	if (len > HFS_PATH_MAX)
		return -ENAMETOOLONG;
	return create(vol, parent, name, &a, out);
}

int hfs_readlink(struct hfs_vol *vol, uint64_t ino, char *buf, size_t size)
{
	struct hfs_inode *ip;
	size_t len;
	int ret = hfs_vol_lock(vol, false);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (!ip || !S_ISLNK(ip->d.i_mode)) {
		ret = ip ? -EINVAL : -ENOENT;
		goto out;
	}
	len = ip->d.i_size;
	if (len + 1 > size || len > HFS_PATH_MAX) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	if (ip->d.i_flags & HFS_IF_INLINE_DATA)
		memcpy(buf, ip->d.i_symlink, len);
	else if (ip->em.n == 0)
		ret = -EIO;
	else
		ret = hfs_region_read(vol->rg, ip->em.v[0].e_pblk * HFS_BLOCK_SIZE,
				      buf, len, NULL);
	buf[len] = 0;
	if (!ret) {
		/* the kernel may now serve it from its cache (inode.c) */
		ip->link_cached = true;
		hfs_inode_kread_update_locked(vol, ip);
		ret = (int)len;
	}
out:
	hfs_vol_unlock(vol);
	return ret;
}

/* -------------------------------------------------------------- link */

static int link_locked(struct hfs_vol *vol, uint64_t ino, uint64_t newparent,
		       const char *newname, struct hfs_attr *out)
{
	struct hfs_inode *ip = hfs_iget(vol, ino), *dip;
	int ret = get_dir(vol, newparent, &dip);

	if (ret)
		return ret;
	if (!ip)
		return -ENOENT;
	if ((ret = check_name(newname)))
		return ret;
	if (S_ISDIR(ip->d.i_mode))
		return -EPERM;
	/* as the VFS: the source's flags, then the directory's */
	if ((ret = hfs_iflags_may_change(ip)) ||
	    (ret = hfs_iflags_may_add_name(dip)))
		return ret;
	if (ip->d.i_nlink >= HFS_LINK_MAX)
		return -EMLINK;
	if ((ip->d.i_nlink == 0 && !ip->tmpfile) || dip->d.i_nlink == 0)
		return -ENOENT;
	if (hfs_dir_lookup(dip->dir, newname))
		return -EEXIST;
	if ((ret = space_for(vol, dip, 0, 0)))
		return ret;
	if (ip->d.i_nlink++ == 0) { /* an O_TMPFILE file gets its name */
		ip->d.i_flags &= ~HFS_IF_ORPHAN;
		ip->tmpfile = false;
	}
	hfs_inode_touch(ip, false, true);
	ret = hfs_dir_add_locked(vol, dip, newname, ino, dtype(ip->d.i_mode));
	parent_touch(dip);
	if (!ret)
		ret = hfs_inode_stage(vol, ip);
	if (!ret)
		ret = hfs_inode_stage(vol, dip);
	ret = commit(vol, ret);
	if (ret)
		return ret;
	ip->nlookup++;
	hfs_inode_to_attr(vol, ip, out);
	return 0;
}

int hfs_link(struct hfs_vol *vol, uint64_t ino, uint64_t newparent,
	     const char *newname, struct hfs_attr *out)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ret = link_locked(vol, ino, newparent, newname, out);
	hfs_vol_unlock(vol);
	return ret;
}

/* ------------------------------------------------------ unlink, rmdir */

/* One name of ip went away (unlink, rmdir, rename over it). */
static int drop_name_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			    struct hfs_inode *ip)
{
	if (S_ISDIR(ip->d.i_mode)) {
		ip->d.i_nlink = 0;
		dip->d.i_nlink--;
	} else {
		ip->d.i_nlink--;
	}
	hfs_inode_touch(ip, false, true);
	if (ip->d.i_nlink == 0)
		return drop_if_unused_locked(vol, ip);
	return hfs_inode_stage(vol, ip);
}

static int remove_locked(struct hfs_vol *vol, uint64_t parent,
			 const char *name, bool dir)
{
	struct hfs_inode *dip, *ip;
	struct hfs_dent *e;
	int ret = get_dir(vol, parent, &dip);

	if (ret)
		return ret;
	if (strlen(name) > HFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(name, "."))
		return dir ? -EINVAL : -EISDIR;
	if (!strcmp(name, ".."))
		return dir ? -ENOTEMPTY : -EISDIR;
	e = hfs_dir_lookup(dip->dir, name);
	if (!e)
		return -ENOENT;
	ip = hfs_iget(vol, e->ino);
	if (!ip)
		return -EIO;
	if ((ret = hfs_iflags_may_drop_name(dip, ip)))
		return ret;
	if (dir && !S_ISDIR(ip->d.i_mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(ip->d.i_mode))
		return -EISDIR;
	if (dir && hfs_dir_count(ip->dir))
		return -ENOTEMPTY;
	ret = hfs_dir_remove_locked(vol, dip, e);
	parent_touch(dip);
	if (!ret)
		ret = drop_name_locked(vol, dip, ip);
	if (!ret)
		ret = hfs_inode_stage(vol, dip);
	return commit(vol, ret);
}

int hfs_unlink(struct hfs_vol *vol, uint64_t parent, const char *name)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ret = remove_locked(vol, parent, name, false);
	hfs_vol_unlock(vol);
	return ret;
}

int hfs_rmdir(struct hfs_vol *vol, uint64_t parent, const char *name)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ret = remove_locked(vol, parent, name, true);
	hfs_vol_unlock(vol);
	return ret;
}

/* ------------------------------------------------------------- rename */

/* Is dir (a directory inode number) ino itself or below it? */
static bool is_ancestor(struct hfs_vol *vol, uint64_t ino, uint64_t dir)
{
	for (int depth = 0; depth < 100000; depth++) {
		struct hfs_inode *d;

		if (dir == ino)
			return true;
		if (dir == HFS_ROOT_INO)
			return false;
		d = hfs_iget(vol, dir);
		if (!d)
			return false;
		dir = d->d.i_parent;
	}
	return true; /* a loop in the parent chain: refuse */
}

struct rename_ctx {
	struct hfs_inode *sdir, *ddir, *src, *dst;
	struct hfs_dent *se, *de;
};

/* A directory moving between parents: fix '..' and the link counts. */
static void move_dir(struct hfs_inode *ip, struct hfs_inode *from,
		     struct hfs_inode *to)
{
	if (!S_ISDIR(ip->d.i_mode) || from == to)
		return;
	ip->d.i_parent = to->ino;
	from->d.i_nlink--;
	to->d.i_nlink++;
}

/* Validation of an exchange, before anything changes (an error after a
 * change fails the volume, see commit()). */
static int rename_exchange_check(struct hfs_vol *vol, struct rename_ctx *c)
{
	if (S_ISDIR(c->src->d.i_mode) && is_ancestor(vol, c->src->ino, c->ddir->ino))
		return -EINVAL;
	if (S_ISDIR(c->dst->d.i_mode) && is_ancestor(vol, c->dst->ino, c->sdir->ino))
		return -EINVAL;
	return 0;
}

static int rename_exchange(struct hfs_vol *vol, struct rename_ctx *c)
{
	int ret;

	move_dir(c->src, c->sdir, c->ddir);
	move_dir(c->dst, c->ddir, c->sdir);
	ret = hfs_dir_retarget_locked(vol, c->sdir, c->se, c->dst->ino,
				      dtype(c->dst->d.i_mode));
	if (!ret)
		ret = hfs_dir_retarget_locked(vol, c->ddir, c->de, c->src->ino,
					      dtype(c->src->d.i_mode));
	hfs_inode_touch(c->dst, false, true);
	if (!ret)
		ret = hfs_inode_stage(vol, c->dst);
	return ret;
}

static int rename_check_replace(struct rename_ctx *c)
{
	if (S_ISDIR(c->src->d.i_mode)) {
		if (!S_ISDIR(c->dst->d.i_mode))
			return -ENOTDIR;
		if (hfs_dir_count(c->dst->dir))
			return -ENOTEMPTY;
	} else if (S_ISDIR(c->dst->d.i_mode)) {
		return -EISDIR;
	}
	return 0;
}

/* Move src to newname.  With wh (RENAME_WHITEOUT), the source name is
 * retargeted to the whiteout instead of removed. */
static int rename_move(struct hfs_vol *vol, struct rename_ctx *c,
		       const char *newname, struct hfs_inode *wh)
{
	uint8_t t = dtype(c->src->d.i_mode);
	int ret;

	if (c->dst) {
		ret = hfs_dir_retarget_locked(vol, c->ddir, c->de, c->src->ino, t);
		if (!ret)
			ret = drop_name_locked(vol, c->ddir, c->dst);
	} else {
		ret = hfs_dir_add_locked(vol, c->ddir, newname, c->src->ino, t);
	}
	if (!ret && wh)
		ret = hfs_dir_retarget_locked(vol, c->sdir, c->se, wh->ino,
					      dtype(wh->d.i_mode));
	else if (!ret)
		ret = hfs_dir_remove_locked(vol, c->sdir, c->se);
	move_dir(c->src, c->sdir, c->ddir);
	return ret;
}

/* The whiteout RENAME_WHITEOUT leaves at the source name: a character
 * device 0:0 of mode 0, owned by the caller (the group of a setgid
 * directory), with the directory's default ACL like any new inode, as
 * tmpfs and ext4 make it.  Everything that can refuse it is checked here,
 * before the rename stages anything; allocating the inode is the first
 * change (as in create_locked). */
static int whiteout_new_locked(struct hfs_vol *vol, struct rename_ctx *c,
			       const struct hfs_cred *cred,
			       struct hfs_inode **out)
{
	struct hfs_inode *dip = c->sdir;
	uint32_t mode = S_IFCHR, gid = cred->gid;
	struct inherit in;
	int ret;

	ret = inherit_locked(vol, dip, &mode, cred->umask, &in);
	if (!ret)
		ret = space_for(vol, c->dst ? NULL : c->ddir,
				in.nacc || in.ndfl || in.nplace ? 1 : 0, 0);
	if (ret)
		return ret;
	if (!hfs_vol_inode_avail(vol))
		return -ENOSPC;
	if (dip->d.i_mode & S_ISGID)
		gid = dip->d.i_gid;
	ret = hfs_inode_new_locked(vol, mode, cred, gid, out);
	if (ret)
		return ret;
	(*out)->d.i_rdev = 0;
	ret = inherit_store_locked(vol, *out, &in);
	if (!ret)
		ret = hfs_inode_stage_extents(vol, *out);
	return ret;
}

static int rename_lookup(struct hfs_vol *vol, struct rename_ctx *c,
			 uint64_t parent, const char *name, uint64_t newparent,
			 const char *newname)
{
	int ret = get_dir(vol, parent, &c->sdir);

	if (!ret)
		ret = get_dir(vol, newparent, &c->ddir);
	if (ret)
		return ret;
	if ((ret = check_name(name)) || (ret = check_name(newname)))
		return ret;
	if (!strcmp(name, ".") || !strcmp(name, "..") ||
	    !strcmp(newname, ".") || !strcmp(newname, ".."))
		return -EBUSY;
	c->se = hfs_dir_lookup(c->sdir->dir, name);
	if (!c->se)
		return -ENOENT;
	c->src = hfs_iget(vol, c->se->ino);
	c->de = hfs_dir_lookup(c->ddir->dir, newname);
	c->dst = c->de ? hfs_iget(vol, c->de->ino) : NULL;
	if (!c->src || (c->de && !c->dst))
		return -EIO;
	if (c->ddir->d.i_nlink == 0)
		return -ENOENT;
	return 0;
}

/* Attribute flags (iflags.c): the source leaves its directory; the
 * target, if any, is removed (or, exchanged, leaves its own), else the
 * name is new in the destination directory. */
static int rename_iflags_check(const struct rename_ctx *c)
{
	int ret = hfs_iflags_may_drop_name(c->sdir, c->src);

	if (!ret && c->dst)
		ret = hfs_iflags_may_drop_name(c->ddir, c->dst);
	if (!ret && !c->dst)
		ret = hfs_iflags_may_add_name(c->ddir);
	return ret;
}

static int rename_locked(struct hfs_vol *vol, uint64_t parent,
			 const char *name, uint64_t newparent,
			 const char *newname, unsigned flags,
			 const struct hfs_cred *cred)
{
	struct rename_ctx c = { 0 };
	struct hfs_inode *wh = NULL;
	int ret = rename_lookup(vol, &c, parent, name, newparent, newname);

	if (ret)
		return ret;
	if (c.dst && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (c.src == c.dst)
		return 0; /* same inode (or same name): POSIX says do nothing */
	if ((ret = rename_iflags_check(&c)))
		return ret;
	if (flags & RENAME_EXCHANGE) {
		if (!c.dst)
			return -ENOENT;
		if ((ret = rename_exchange_check(vol, &c)))
			return ret;
		ret = rename_exchange(vol, &c);
	} else {
		if (c.dst && (flags & RENAME_NOREPLACE))
			return -EEXIST;
		if (c.dst && (ret = rename_check_replace(&c)))
			return ret;
		if (S_ISDIR(c.src->d.i_mode) &&
		    is_ancestor(vol, c.src->ino, c.ddir->ino))
			return -EINVAL;
		if (!c.dst && S_ISDIR(c.src->d.i_mode) && c.sdir != c.ddir &&
		    c.ddir->d.i_nlink >= HFS_LINK_MAX)
			return -EMLINK;
		if (flags & RENAME_WHITEOUT) {
			/* returns unstaged on a refusal, or the volume fails */
			ret = whiteout_new_locked(vol, &c, cred, &wh);
			if (ret && !wh)
				return ret;
		} else if (!c.dst && (ret = space_for(vol, c.ddir, 0, 0))) {
			return ret;
		}
		if (!ret)
			ret = rename_move(vol, &c, newname, wh);
	}
	hfs_inode_touch(c.src, false, true);
	parent_touch(c.sdir);
	parent_touch(c.ddir);
	if (!ret)
		ret = hfs_inode_stage(vol, c.src);
	if (!ret)
		ret = hfs_inode_stage(vol, c.sdir);
	if (!ret && c.ddir != c.sdir)
		ret = hfs_inode_stage(vol, c.ddir);
	return commit(vol, ret);
}

int hfs_rename(struct hfs_vol *vol, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags,
	       const struct hfs_cred *cred)
{
	int ret;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & RENAME_EXCHANGE) &&
	    (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))
		return -EINVAL;
	if ((flags & RENAME_WHITEOUT) && !cred)
		return -EINVAL;
	ret = hfs_vol_lock(vol, true);
	if (ret)
		return ret;
	ret = rename_locked(vol, parent, name, newparent, newname, flags,
			    cred);
	hfs_vol_unlock(vol);
	return ret;
}

/* ------------------------------------------------------------ readdir */

static int emit_dot(struct hfs_vol *vol, const char *name,
		    struct hfs_inode *ip, uint64_t next, hfs_filldir_t fill,
		    void *ctx)
{
	struct hfs_attr a;

	hfs_inode_to_attr(vol, ip, &a);
	return fill(ctx, name, &a, next);
}

int hfs_readdir(struct hfs_vol *vol, uint64_t ino, uint64_t off, bool plus,
		hfs_filldir_t fill, void *ctx)
{
	struct hfs_inode *dip, *ip;
	struct hfs_dent *e;
	uint64_t slot;
	int ret = hfs_vol_lock_look(vol, ino);

	if (ret)
		return ret;
	ret = get_dir(vol, ino, &dip);
	if (ret)
		goto out;
	if (off == 0 && emit_dot(vol, ".", dip, 1, fill, ctx))
		goto out;
	if (off <= 1) {
		ip = hfs_iget(vol, dip->d.i_parent);
		if (emit_dot(vol, "..", ip ? ip : dip, 2, fill, ctx))
			goto out;
		off = 2;
	}
	for (slot = off - 2; (e = hfs_dir_at(dip->dir, slot, &slot)); slot++) {
		struct hfs_attr a;

		ip = hfs_iget(vol, e->ino);
		if (!ip)
			continue; /* dangling: fsck repairs */
		hfs_inode_to_attr(vol, ip, &a);
		if (fill(ctx, e->name, &a, slot + 3))
			break;
		if (plus)
			ip->nlookup++;
	}
out:
	hfs_vol_unlock(vol);
	return ret;
}
