/* SPDX-License-Identifier: MIT */
/*
 * File handlers: create, open, release, read, write, flush, fsync,
 * fallocate, lseek, copy_file_range, and statfs.
 *
 * Handles carry no state (fi->fh = 0): the volume pins an inode while it
 * is open, and every I/O names the inode.  Nothing is buffered per handle
 * either, so handles are opened with noflush (no FLUSH on every close).
 * O_TRUNC reaches us as a separate setattr because the daemon does not
 * take FUSE_CAP_ATOMIC_O_TRUNC (fs/ops.c).  Writes are write-through: no
 * writeback cache, so write(2) returns only after hfs_write has made the
 * data persistent.
 */
#include "coherence.h"
#include "datapath.h"
#include "daemon.h"
#include "fuse_io.h"
#include "fuse_uring.h"
#include "revoke.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hfsd_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, struct fuse_file_info *fi)
{
	struct hfs_vol *vol = hfsd_of(req)->vol;
	struct hfsd_cred cb;
	const struct hfs_cred *cred = hfsd_req_cred(req, mode, &cb);
	struct fuse_entry_param e;
	struct hfs_attr a;
	int err;

	if (__atomic_load_n(&hfsd_of(req)->offline, __ATOMIC_ACQUIRE)) {
		hfsd_reply_status(req, -ESHUTDOWN);
		return;
	}
	/* The VFS holds the directory lock across lookup and create, so a
	 * name that appeared meanwhile is a real EEXIST, not a race.  An
	 * O_TMPFILE open arrives here too (fs/fuse_io.c), named "/". */
	if (hfsd_fuse_io_req_tmpfile() && strcmp(name, "/") == 0)
		err = hfs_tmpfile(vol, parent, mode, cred, &a);
	else
		err = hfs_mknod(vol, parent, name, S_IFREG | (mode & 07777), 0,
				cred, &a);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	err = hfs_open(vol, a.ino);
	if (err) {
		hfs_forget(vol, a.ino, 1);
		hfsd_reply_status(req, err);
		return;
	}
	fi->fh = 0;
	fi->noflush = 1;
	hfsd_attr_to_entry(&a, &e);
	if (fuse_reply_create(req, &e, fi) != 0) {
		hfs_release(vol, a.ino);
		hfs_forget(vol, a.ino, 1);
	}
}

void hfsd_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_vol *vol = hfsd_of(req)->vol;
	int err;

	if (__atomic_load_n(&hfsd_of(req)->offline, __ATOMIC_ACQUIRE)) {
		hfsd_reply_status(req, -ESHUTDOWN);
		return;
	}
	/* with the caller's flags: chattr +i/+a refuse write opens
	 * (lib/iflags.c) */
	err = hfs_open_flags(vol, ino, fi->flags);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	fi->fh = 0;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		hfs_release(vol, ino);
}

void hfsd_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	hfs_release(hfsd_of(req)->vol, ino);
	fuse_reply_err(req, 0);
}

void hfsd_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct hfsd *d = hfsd_of(req);
	struct hfsd_coh_ent *e;
	ssize_t n;
	char *ring, *buf;

	/* Copy out through the volume rather than replying with pointers
	 * into the region: hfs_read is the guarded path, so a poisoned or
	 * vanished page becomes EIO on this request, not a SIGBUS inside
	 * libfuse's writev.  Over io_uring straight into the ring entry's
	 * payload (no second copy, fs/fuse_uring.c); else glibc's malloc,
	 * which adapts its mmap threshold after the first large free, so
	 * 1 MiB reads reuse heap memory. */
	ring = hfsd_uring_buffer(size);
	buf = ring ? ring : malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* The kernel caches what we reply: mark the inode cached for DAX
	 * clients before reading, until the reply is written
	 * (fs/coherence.h). */
	e = hfsd_coh_io_begin(d->coh, ino);
	n = hfs_read(d->vol, ino, buf, size, (uint64_t)off);
	/* The kernel leaves atime to FUSE daemons (and forgets its cached
	 * atime after a READ).  Only reads that reach the daemon count:
	 * docs/semantics.md.  A failure to mark it is not the read's. */
	if (n >= 0 && !(fi->flags & O_NOATIME))
		(void)hfs_accessed(d->vol, ino);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	hfsd_coh_io_end(d->coh, e);
	if (!ring)
		free(buf);
}

void hfsd_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		off_t off, struct fuse_file_info *fi)
{
	struct hfsd *d = hfsd_of(req);
	struct hfsd_coh_ent *e;
	uint64_t at = (uint64_t)off;
	ssize_t n;
	int err;

	/* setuid/setgid go before the data changes (fs/killpriv.c) */
	err = size ? hfsd_kill_priv(req, ino, HFSD_KILL_DATA) : 0;
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	/* write(2) leaves the written pages cached (no direct_io) */
	e = hfsd_coh_io_begin(d->coh, ino);
	/* O_APPEND: at the end of file as the volume knows it.  The kernel
	 * computed off from its cached size, which processes writing
	 * directly may have grown since (docs/data-path.md); two appenders
	 * must never overwrite each other. */
	if (fi->flags & O_APPEND)
		n = hfs_append(d->vol, ino, buf, size, &at);
	else
		n = hfs_write(d->vol, ino, buf, size, at);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
	hfsd_coh_io_end(d->coh, e);
	/* It went elsewhere than the kernel thinks: its cached pages and
	 * size of the file are wrong; drop them (not here: the kernel holds
	 * the pages of this WRITE locked until we answer). */
	if (n > 0 && at != (uint64_t)off && d->ctl)
		hfsd_datapath_inval(d->ctl, ino, false);
}

/* close(2) of one descriptor.  Nothing is buffered in the daemon, so
 * opens set noflush and the kernel skips this round trip; kept for
 * kernels that ignore the flag. */
void hfsd_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

void hfsd_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		struct fuse_file_info *fi)
{
	(void)fi;
	hfsd_reply_status(req, hfs_fsync(hfsd_of(req)->vol, ino, datasync));
}

void hfsd_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		    off_t length, struct fuse_file_info *fi)
{
	(void)fi;
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct hfsd *d = hfsd_of(req);
	int err;

	/* Mode validation (EOPNOTSUPP for collapse/insert range, ...) is
	 * the volume's: it knows which modes it implements.  Every mode
	 * the kernel passes on kills privileges first, as on ext4. */
	err = hfsd_kill_priv(req, ino, HFSD_KILL_DATA);
	if (!err)
		err = hfs_fallocate(d->vol, ino, mode, (uint64_t)offset,
				    (uint64_t)length);
	/* a punch took blocks away: their mappings are gone before we
	 * answer (revoke.h hfsd_lease_settle) */
	if (!err && (mode & FALLOC_FL_PUNCH_HOLE) && d->ctl)
		hfsd_lease_settle(d->ctl, ino);
	hfsd_reply_status(req, err);
}

void hfsd_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		struct fuse_file_info *fi)
{
	uint64_t pos;
	int err;

	(void)fi;
	/* The kernel resolves SEEK_SET/CUR/END itself and only asks about
	 * holes and data.  A negative offset is past every byte there is,
	 * for these two: ENXIO, as on ext4 and tmpfs (docs/semantics.md). */
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	err = hfs_lseek(hfsd_of(req)->vol, ino, (uint64_t)off, whence, &pos);
	if (err)
		hfsd_reply_status(req, err);
	else
		fuse_reply_lseek(req, (off_t)pos);
}

void hfsd_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			  struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			  off_t off_out, struct fuse_file_info *fi_out,
			  size_t len, int flags)
{
	ssize_t n = 0;

	(void)fi_in;
	(void)fi_out;
	if (flags != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* the destination is written to: fs/killpriv.c */
	if (len)
		n = hfsd_kill_priv(req, ino_out, HFSD_KILL_DATA);
	if (!n)
		n = hfs_copy_range(hfsd_of(req)->vol, ino_in, (uint64_t)off_in,
			   ino_out, (uint64_t)off_out, len);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void hfsd_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int err;

	(void)ino;
	err = hfs_statfs(hfsd_of(req)->vol, &st);
	if (err)
		hfsd_reply_status(req, err);
	else
		fuse_reply_statfs(req, &st);
}
