/* SPDX-License-Identifier: MIT */
/*
 * Extended attribute handlers.  The kernel asks with size 0 for the size
 * it needs, then again with a buffer; the volume answers both (returning
 * the length, or -ERANGE when the buffer is too small).  Which namespaces
 * are allowed (user., trusted., security.) is the volume's decision.
 * POSIX ACLs are not offered (no FUSE_CAP_POSIX_ACL), so the kernel
 * refuses system.posix_acl_* itself.
 */
#include "daemon.h"

#include <errno.h>
#include <stdlib.h>

void hfsd_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags)
{
	hfsd_reply_status(req, hfs_setxattr(hfsd_of(req)->vol, ino, name,
					    value, size, flags));
}

/* Shared by get and list: size 0 asks for the length only. */
static void reply_sized(fuse_req_t req, ssize_t n, const char *buf,
			size_t size)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void hfsd_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size)
{
	char *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = hfs_getxattr(hfsd_of(req)->vol, ino, name, buf, size);
	reply_sized(req, n, buf, size);
	free(buf);
}

void hfsd_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = hfs_listxattr(hfsd_of(req)->vol, ino, buf, size);
	reply_sized(req, n, buf, size);
	free(buf);
}

void hfsd_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	hfsd_reply_status(req, hfs_removexattr(hfsd_of(req)->vol, ino, name));
}
