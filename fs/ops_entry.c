/* SPDX-License-Identifier: MIT */
/*
 * Handlers for names and inodes: lookup and forget, attributes, and the
 * namespace changes (mknod, mkdir, symlink, link, unlink, rmdir, rename).
 *
 * Lookup references: every successful entry reply hands the kernel one
 * reference, taken by the volume call that produced the entry; the
 * kernel returns them with FORGET.  The root is pinned by the volume and
 * never forgotten for good.
 */
#include "daemon.h"
#include "revoke.h"

#include <errno.h>
#include <stdio.h>

#include <holdfs/format.h>

void hfsd_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hfs_attr a;
	int err;

	err = hfs_lookup(hfsd_of(req)->vol, parent, name, &a);
	if (err)
		hfsd_reply_status(req, err);
	else
		hfsd_reply_entry(req, &a);
}

void hfsd_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	hfs_forget(hfsd_of(req)->vol, ino, nlookup);
	fuse_reply_none(req);
}

void hfsd_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets)
{
	struct hfs_vol *vol = hfsd_of(req)->vol;

	for (size_t i = 0; i < count; i++)
		hfs_forget(vol, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void hfsd_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_attr a;
	struct stat st;
	int err;

	(void)fi;
	err = hfs_getattr(hfsd_of(req)->vol, ino, &a);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	hfsd_attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, hfsd_attr_timeout(&a));
}

/* FUSE_SET_ATTR_* to HFS_SET_*.  The kernel sends ATIME together with
 * ATIME_NOW for "now" (utimensat UTIME_NOW, touch): the volume then takes
 * the time itself, from the same clock as every other timestamp. */
static void setattr_from_fuse(const struct stat *st, int to_set,
			      struct hfs_setattr *sa)
{
	sa->mask = 0;
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa->mask |= HFS_SET_MODE;
		sa->mode = st->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa->mask |= HFS_SET_UID;
		sa->uid = st->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa->mask |= HFS_SET_GID;
		sa->gid = st->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa->mask |= HFS_SET_SIZE;
		sa->size = (uint64_t)st->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa->mask |= HFS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa->mask |= HFS_SET_ATIME;
		sa->atime = st->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa->mask |= HFS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa->mask |= HFS_SET_MTIME;
		sa->mtime = st->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa->mask |= HFS_SET_CTIME;
		sa->ctime = st->st_ctim;
	}
	/* Sent under KILLPRIV_V2 (fs/fuse_io.c): with a chown, clear
	 * setuid, and setgid with group execute (the owner rule adds the
	 * rest, setattr_kill_priv); with a truncate, the caller lacks
	 * CAP_FSETID, which the data rule reads from the same bit. */
	if ((to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID)) &&
	    !(to_set & FUSE_SET_ATTR_SIZE))
		sa->mask |= HFS_SET_KILL_SUIDGID;
}

/* A truncate is a data change and a chown an owner change: the setuid
 * and setgid bits they take away (fs/killpriv.c) go in the same
 * transaction.  The owner rule looks at the old group.
 *
 * chown(f, -1, -1) changes no owner, yet kills like any chown; FUSE
 * sends it as a SETATTR with nothing to set, so an empty SETATTR is
 * taken as one.  (The kernel sends the same empty request when a write
 * removes security.capability from a file; a setuid bit that such a
 * write by a caller with CAP_FSETID would keep on ext4 goes here.) */
static int setattr_kill_priv(fuse_req_t req, fuse_ino_t ino, int to_set,
			     struct hfs_setattr *sa)
{
	bool owner = (sa->mask & (HFS_SET_UID | HFS_SET_GID)) || to_set == 0;
	struct hfs_attr a;
	int err;

	if (!(sa->mask & HFS_SET_SIZE) && !owner)
		return 0;
	err = hfs_getattr(hfsd_of(req)->vol, ino, &a);
	if (err)
		return err;
	if (sa->mask & HFS_SET_SIZE)
		sa->mask |= hfsd_kill_priv_mask(req, &a, HFSD_KILL_DATA);
	if (owner)
		sa->mask |= hfsd_kill_priv_mask(req, &a, HFSD_KILL_OWNER);
	return 0;
}

void hfsd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		  int to_set, struct fuse_file_info *fi)
{
	struct hfs_setattr sa = { 0 };
	struct hfs_attr a;
	struct stat st;
	int err;

	(void)fi;
	struct hfsd *d = hfsd_of(req);

	setattr_from_fuse(attr, to_set, &sa);
	err = setattr_kill_priv(req, ino, to_set, &sa);
	if (!err)
		err = hfs_setattr(d->vol, ino, &sa, &a);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	/* blocks left the file: its mappings are gone before we answer */
	if ((sa.mask & HFS_SET_SIZE) && d->ctl)
		hfsd_lease_settle(d->ctl, ino);
	/* bits a write takes away, given while direct writers hold leases
	 * granted without them: those writers lease again first */
	if ((sa.mask & HFS_SET_MODE) && S_ISREG(a.mode) &&
	    (a.mode & (S_ISUID | S_ISGID)) && d->ctl)
		(void)hfsd_lease_revoke_privileged(d->ctl, ino);
	hfsd_attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, hfsd_attr_timeout(&a));
}

void hfsd_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[HFS_PATH_MAX + 1];
	int n;

	n = hfs_readlink(hfsd_of(req)->vol, ino, target, sizeof(target));
	if (n < 0)
		hfsd_reply_status(req, n);
	else
		fuse_reply_readlink(req, target);
}

void hfsd_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, dev_t rdev)
{
	struct hfsd_cred cb;
	const struct hfs_cred *cred = hfsd_req_cred(req, mode, &cb);
	struct hfs_attr a;
	int err;

	err = hfs_mknod(hfsd_of(req)->vol, parent, name, mode, rdev, cred, &a);
	if (err)
		hfsd_reply_status(req, err);
	else
		hfsd_reply_entry(req, &a);
}

void hfsd_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode)
{
	struct hfsd_cred cb;
	const struct hfs_cred *cred = hfsd_req_cred(req, mode, &cb);
	struct hfs_attr a;
	int err;

	/* The kernel sends permission bits only; the volume adds S_IFDIR. */
	err = hfs_mkdir(hfsd_of(req)->vol, parent, name, mode, cred, &a);
	if (err)
		hfsd_reply_status(req, err);
	else
		hfsd_reply_entry(req, &a);
}

void hfsd_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		  const char *name)
{
	struct hfsd_cred cb;
	const struct hfs_cred *cred = hfsd_req_cred(req, 0, &cb);
	struct hfs_attr a;
	int err;

	err = hfs_symlink(hfsd_of(req)->vol, parent, name, link, cred, &a);
	if (err)
		hfsd_reply_status(req, err);
	else
		hfsd_reply_entry(req, &a);
}

void hfsd_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	       const char *newname)
{
	struct hfs_attr a;
	int err;

	err = hfs_link(hfsd_of(req)->vol, ino, newparent, newname, &a);
	if (err)
		hfsd_reply_status(req, err);
	else
		hfsd_reply_entry(req, &a);
}

void hfsd_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	hfsd_reply_status(req, hfs_unlink(hfsd_of(req)->vol, parent, name));
}

void hfsd_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	hfsd_reply_status(req, hfs_rmdir(hfsd_of(req)->vol, parent, name));
}

void hfsd_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct hfsd_cred cb;
	const struct hfs_cred *cred = hfsd_req_cred(req, 0, &cb);
	int err;

	/* RENAME_WHITEOUT (overlayfs upper layers) leaves a whiteout owned
	 * by the caller at the old name; the volume checks the flags. */
	err = hfs_rename(hfsd_of(req)->vol, parent, name, newparent, newname,
			 flags, cred);
	hfsd_reply_status(req, err);
}
