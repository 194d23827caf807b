/* SPDX-License-Identifier: MIT */
/*
 * Extended attribute handlers.  The kernel asks with size 0 for the size
 * it needs, then again with a buffer; the volume answers both (returning
 * the length, or -ERANGE when the buffer is too small).  Which namespaces
 * are allowed (user., trusted., security., and the POSIX ACLs
 * system.posix_acl_access/_default) is the volume's decision.  Setting an
 * access ACL changes the mode (the volume's) and may take the setgid bit
 * away (fs/killpriv.c).
 */
#include "daemon.h"
#include "revoke.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void hfsd_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags)
{
	struct hfsd *d = hfsd_of(req);
	int err = hfs_setxattr(d->vol, ino, name, value, size, flags);

	if (!err && strcmp(name, "system.posix_acl_access") == 0)
		err = hfsd_kill_priv(req, ino, HFSD_KILL_ACL);
	/* file capabilities, which a write takes away: the direct writers
	 * holding leases granted without them lease again first (revoke.h) */
	if (!err && strcmp(name, "security.capability") == 0 && d->ctl)
		(void)hfsd_lease_revoke_privileged(d->ctl, ino);
	hfsd_reply_status(req, err);
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

/* Drop trusted.* names from a NUL-separated list: like local
 * filesystems, only CAP_SYS_ADMIN sees them, and for FUSE the kernel
 * passes the daemon's list through unfiltered.  (The kernel itself
 * refuses trusted.* get/set/remove to such callers.)  Returns the new
 * length. */
static size_t hide_trusted(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (strncmp(list + in, "trusted.", 8)) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/* The whole list, filtered for the caller; the size can change between
 * asking for it and reading, so retry on ERANGE. */
static ssize_t list_for(fuse_req_t req, fuse_ino_t ino, char **out)
{
	struct hfs_vol *vol = hfsd_of(req)->vol;
	bool admin = fuse_req_ctx(req)->uid == 0;

	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = hfs_listxattr(vol, ino, NULL, 0);
		char *buf;

		if (n <= 0)
			return n;
		buf = malloc((size_t)n);
		if (!buf)
			return -ENOMEM;
		n = hfs_listxattr(vol, ino, buf, (size_t)n);
		if (n == -ERANGE) {
			free(buf);
			continue;
		}
		if (n < 0) {
			free(buf);
			return n;
		}
		*out = buf;
		return admin ? n : (ssize_t)hide_trusted(buf, (size_t)n);
	}
	return -EAGAIN;
}

void hfsd_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = NULL;
	ssize_t n = list_for(req, ino, &buf);

	reply_sized(req, n, buf, size);
	free(buf);
}

void hfsd_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	hfsd_reply_status(req, hfs_removexattr(hfsd_of(req)->vol, ino, name));
}
