/* SPDX-License-Identifier: MIT */
/*
 * ioctl: the attribute flags of chattr(1) and lsattr(1) (lib/iflags.c,
 * docs/semantics.md "Attribute flags").  What the kernel sends (measured
 * on this kernel with libfuse 3.14): lsattr is FS_IOC_GETFLAGS (4 bytes
 * out); chattr is GETFLAGS, then FS_IOC_FSGETXATTR (the kernel reads the
 * old attributes that way before any change), then FS_IOC_SETFLAGS (4
 * bytes in); xfs_io's chattr sends FS_IOC_FSSETXATTR (struct fsxattr in).
 * Directories come with FUSE_IOCTL_DIR, files and directories alike with
 * no handle of ours (the kernel opens the node itself).  Every other
 * command is ENOTTY, as on a filesystem that does not know it.
 *
 * The input comes from the kernel on behalf of any process: its size is
 * checked and it is copied out, never read in place.  The kernel checks
 * the owner and CAP_LINUX_IMMUTABLE before it sends a SETFLAGS; the
 * volume checks both again with what /proc says of the caller.
 */
#include "daemon.h"

#include <errno.h>
#include <linux/fs.h>
#include <string.h>

#include <holdfs/format.h>

/* GETFLAGS/SETFLAGS words pass through as they are */
_Static_assert(HFS_IF_IMMUTABLE == FS_IMMUTABLE_FL, "FS_IMMUTABLE_FL");
_Static_assert(HFS_IF_APPEND == FS_APPEND_FL, "FS_APPEND_FL");
_Static_assert(HFS_IF_NODUMP == FS_NODUMP_FL, "FS_NODUMP_FL");

#define HFSD_CAP_FOWNER 3           /* linux/capability.h */
#define HFSD_CAP_LINUX_IMMUTABLE 9

/* FS_XFLAG_* for our flags, both ways */
static const struct {
	uint32_t hfs, xflag;
} xflag_map[] = {
	{ HFS_IF_IMMUTABLE, FS_XFLAG_IMMUTABLE },
	{ HFS_IF_APPEND, FS_XFLAG_APPEND },
	{ HFS_IF_NODUMP, FS_XFLAG_NODUMP },
};

static uint32_t to_xflags(uint32_t flags)
{
	uint32_t x = 0;

	for (size_t i = 0; i < sizeof(xflag_map) / sizeof(xflag_map[0]); i++)
		if (flags & xflag_map[i].hfs)
			x |= xflag_map[i].xflag;
	return x;
}

/* -EOPNOTSUPP for an xflag we do not keep */
static int from_xflags(uint32_t x, uint32_t *flags)
{
	*flags = 0;
	for (size_t i = 0; i < sizeof(xflag_map) / sizeof(xflag_map[0]); i++)
		if (x & xflag_map[i].xflag) {
			*flags |= xflag_map[i].hfs;
			x &= ~xflag_map[i].xflag;
		}
	return x ? -EOPNOTSUPP : 0;
}

static void get_flags(fuse_req_t req, fuse_ino_t ino, size_t out_bufsz)
{
	uint32_t flags;
	int err;

	if (out_bufsz < sizeof(flags)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	err = hfs_getflags(hfsd_of(req)->vol, ino, &flags);
	if (err)
		hfsd_reply_status(req, err);
	else
		fuse_reply_ioctl(req, 0, &flags, sizeof(flags));
}

static void get_fsxattr(fuse_req_t req, fuse_ino_t ino, size_t out_bufsz)
{
	struct fsxattr x;
	uint32_t flags;
	int err;

	if (out_bufsz < sizeof(x)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	err = hfs_getflags(hfsd_of(req)->vol, ino, &flags);
	if (err) {
		hfsd_reply_status(req, err);
		return;
	}
	memset(&x, 0, sizeof(x));
	x.fsx_xflags = to_xflags(flags);
	fuse_reply_ioctl(req, 0, &x, sizeof(x));
}

static void set_flags(fuse_req_t req, fuse_ino_t ino, uint32_t flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	uint64_t caps = hfsd_caller_caps(req);
	struct hfs_flags_caller who = {
		.uid = ctx->uid,
		.cap_fowner = (caps >> HFSD_CAP_FOWNER) & 1,
		.cap_linux_immutable = (caps >> HFSD_CAP_LINUX_IMMUTABLE) & 1,
	};
	int err;

	/* a read-only mount: the kernel refuses first (mnt_want_write),
	 * a read-only volume answers EROFS */
	err = hfs_setflags(hfsd_of(req)->vol, ino, flags, &who, NULL);
	if (err)
		hfsd_reply_status(req, err);
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
}

void hfsd_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		size_t in_bufsz, size_t out_bufsz)
{
	uint32_t v;
	struct fsxattr x;

	(void)arg;
	(void)fi;
	/* a 32-bit caller's FS_IOC32_*FLAGS reach us as the calls below
	 * (the kernel's fileattr path); what else it passes through is
	 * not ours */
	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	switch (cmd) {
	case FS_IOC_GETFLAGS:
		get_flags(req, ino, out_bufsz);
		return;
	case FS_IOC_FSGETXATTR:
		get_fsxattr(req, ino, out_bufsz);
		return;
	case FS_IOC_SETFLAGS:
		if (!in_buf || in_bufsz < sizeof(v)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&v, in_buf, sizeof(v));
		set_flags(req, ino, v); /* unknown bits: EOPNOTSUPP */
		return;
	case FS_IOC_FSSETXATTR:
		if (!in_buf || in_bufsz < sizeof(x)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&x, in_buf, sizeof(x));
		/* nothing but the three flags is kept: extent size hints
		 * and project ids are not */
		if (x.fsx_extsize || x.fsx_projid || x.fsx_cowextsize ||
		    from_xflags(x.fsx_xflags, &v)) {
			fuse_reply_err(req, EOPNOTSUPP);
			return;
		}
		set_flags(req, ino, v);
		return;
	default:
		fuse_reply_err(req, ENOTTY);
	}
}
