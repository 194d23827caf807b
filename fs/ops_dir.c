/* SPDX-License-Identifier: MIT */
/*
 * Directory handlers: opendir, readdir, readdirplus, releasedir, fsyncdir.
 *
 * readdir fills one reply buffer of the size the kernel asked for through
 * the volume's hfs_readdir callback.  An entry that does not fit is
 * refused (callback returns 1) and the volume does not consume it, so the
 * next request starts with it; offsets are the volume's stable cookies.
 *
 * readdirplus: the volume takes a lookup reference for every entry the
 * callback accepts, except "." and "..".  The kernel takes over one
 * reference per entry it receives with a non-zero inode, and ignores "."
 * and ".." (their entries carry ino 0 here).  So the callback accepts an
 * entry only once it is in the buffer, and if the reply never reaches the
 * kernel the references are given back.
 */
#include "daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct dirbuf {
	fuse_req_t req;
	bool plus;
	char *buf;
	size_t size;       /* requested by the kernel */
	size_t used;
	/* readdirplus: inodes whose lookup reference went into buf; room
	 * for as many entries as the smallest ones would fill buf with */
	uint64_t *inos;
	size_t ninos, cap;
};

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static size_t add_plain(struct dirbuf *d, const char *name,
			const struct hfs_attr *a, uint64_t next)
{
	struct stat st;

	/* readdir uses only st_ino and the type bits of st_mode. */
	memset(&st, 0, sizeof(st));
	st.st_ino = a->ino;
	st.st_mode = a->mode;
	return fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used,
				 name, &st, (off_t)next);
}

static size_t add_plus(struct dirbuf *d, const char *name,
		       const struct hfs_attr *a, uint64_t next)
{
	struct fuse_entry_param e;

	hfsd_attr_to_entry(a, &e);
	if (is_dot_or_dotdot(name))
		e.ino = 0; /* no reference taken, none handed over */
	return fuse_add_direntry_plus(d->req, d->buf + d->used,
				      d->size - d->used, name, &e,
				      (off_t)next);
}

/* hfs_filldir_t: 0 = entry taken, 1 = buffer full (entry not consumed). */
static int dirbuf_fill(void *ctx, const char *name, const struct hfs_attr *a,
		       uint64_t next)
{
	struct dirbuf *d = ctx;
	size_t len;

	len = d->plus ? add_plus(d, name, a, next) : add_plain(d, name, a, next);
	if (len > d->size - d->used || (d->plus && d->ninos == d->cap))
		return 1;
	if (d->plus && !is_dot_or_dotdot(name))
		d->inos[d->ninos++] = a->ino;
	d->used += len;
	return 0;
}

static void dirbuf_forget_all(struct hfs_vol *vol, struct dirbuf *d)
{
	for (size_t i = 0; i < d->ninos; i++)
		hfs_forget(vol, d->inos[i], 1);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, bool plus)
{
	struct hfs_vol *vol = hfsd_of(req)->vol;
	struct dirbuf d = { .req = req, .plus = plus, .size = size };
	int err;

	d.buf = malloc(size ? size : 1);
	if (plus) {
		/* fuse_add_direntry_plus with no buffer sizes an entry */
		d.cap = size / fuse_add_direntry_plus(req, NULL, 0, "x", NULL,
						      0) + 1;
		d.inos = malloc(d.cap * sizeof(*d.inos));
	}
	if (!d.buf || (plus && !d.inos)) {
		free(d.buf);
		free(d.inos);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = hfs_readdir(vol, ino, (uint64_t)off, plus, dirbuf_fill, &d);
	if (err >= 0) /* a listing is a read of the directory */
		(void)hfs_accessed(vol, ino);
	/* An error after some entries: send those; the next request from
	 * the following offset reports the error. */
	if (err < 0 && d.used == 0) {
		dirbuf_forget_all(vol, &d);
		fuse_reply_err(req, -err);
	} else if (fuse_reply_buf(req, d.buf, d.used) != 0) {
		dirbuf_forget_all(vol, &d);
	}
	free(d.inos);
	free(d.buf);
}

void hfsd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void hfsd_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

void hfsd_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err;

	/* Directory handles carry no state: readdir offsets are the
	 * volume's cookies, so fi->fh stays 0. */
	err = hfs_open(hfsd_of(req)->vol, ino);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	fi->fh = 0;
	if (fuse_reply_open(req, fi) != 0)
		hfs_release(hfsd_of(req)->vol, ino);
}

void hfsd_releasedir(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	(void)fi;
	hfs_release(hfsd_of(req)->vol, ino);
	fuse_reply_err(req, 0);
}

void hfsd_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi)
{
	(void)fi;
	hfsd_reply_status(req, hfs_fsync(hfsd_of(req)->vol, ino, datasync));
}
