/* SPDX-License-Identifier: MIT */
/*
 * Conversions between the volume's types and FUSE's, and the replies
 * every kind of handler shares.
 */
#include "daemon.h"

#include <errno.h>
#include <string.h>

#include <holdfs/format.h>

void hfsd_attr_to_stat(const struct hfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	/* The preferred I/O size: one block.  Larger allocation units still
	 * fill correctly with 4 KiB writes. */
	st->st_blksize = HFS_BLOCK_SIZE;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

double hfsd_attr_timeout(const struct hfs_attr *a)
{
	/* a file written directly changes size and times without asking
	 * us: the kernel must ask every time (docs/data-path.md) */
	return a->direct ? 0.0 : HFSD_ATTR_TIMEOUT;
}

void hfsd_attr_to_entry(const struct hfs_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	/* Inode slots are reused; the generation tells the kernel (and NFS
	 * handles, were they enabled) that a reused number is a new file. */
	e->generation = a->generation;
	hfsd_attr_to_stat(a, &e->attr);
	e->attr_timeout = hfsd_attr_timeout(a);
	e->entry_timeout = HFSD_ENTRY_TIMEOUT;
}

void hfsd_reply_entry(fuse_req_t req, const struct hfs_attr *a)
{
	struct fuse_entry_param e;

	hfsd_attr_to_entry(a, &e);
	if (fuse_reply_entry(req, &e) != 0)
		hfs_forget(hfsd_of(req)->vol, a->ino, 1);
}

void hfsd_reply_status(fuse_req_t req, int err)
{
	fuse_reply_err(req, err < 0 ? -err : 0);
}

const struct hfs_cred *hfsd_req_cred(fuse_req_t req, uint32_t mode,
				     struct hfsd_cred *buf)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	memset(buf, 0, sizeof(*buf));
	buf->c.uid = ctx->uid;
	buf->c.gid = ctx->gid;
	buf->c.umask = hfsd_of(req)->acl ? ctx->umask : 0;
	if (mode & S_ISGID) {
		n = fuse_req_getgroups(req, HFSD_MAX_GROUPS, buf->groups);
		/* More groups than fit: pass the ones we have.  A caller in
		 * the 65th group loses the setgid bit, the safe side. */
		if (n > 0) {
			buf->c.groups = buf->groups;
			buf->c.ngroups = n < HFSD_MAX_GROUPS ? n
							     : HFSD_MAX_GROUPS;
		}
	}
	return &buf->c;
}
