/* SPDX-License-Identifier: MIT */
/*
 * Who is changing a file, for the privileges the change takes away
 * (setuid, setgid, file capabilities: lib/killpriv.c has the rule).
 *
 * With FUSE_HANDLE_KILLPRIV_V2 (fs/fuse_io.c) the kernel says, on each
 * WRITE and size-changing SETATTR, whether the caller lacks CAP_FSETID.
 * FALLOCATE and COPY_FILE_RANGE carry no such bit, and the kernel does
 * not clear anything for them either, so there the caller's effective
 * capabilities are read from /proc -- only for a setuid or setgid file,
 * and a caller we cannot see (another pid namespace, gone) counts as
 * unprivileged: the bits go, the safe side.
 */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse_io.h"
#include "killpriv.h"

#define CAP_FSETID_BIT 4 /* linux/capability.h CAP_FSETID */

struct caller {
	fuse_req_t req;
	enum hfsd_fsetid how;
};

/* CapEff of pid holds CAP_FSETID. */
static bool proc_has_fsetid(pid_t pid)
{
	char path[64], line[256];
	bool has = false;
	uint64_t caps;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %" SCNx64, &caps) == 1) {
			has = caps & (UINT64_C(1) << CAP_FSETID_BIT);
			break;
		}
	}
	fclose(f);
	return has;
}

static bool caller_fsetid(void *ctx)
{
	const struct caller *c = ctx;

	if (c->how == HFSD_FSETID_KERNEL)
		return !hfsd_req_kill_suidgid();
	return proc_has_fsetid(fuse_req_ctx(c->req)->pid);
}

static bool caller_in_group(void *ctx, uint32_t gid)
{
	const struct caller *c = ctx;
	gid_t groups[HFSD_MAX_GROUPS];
	int n, i;

	if (fuse_req_ctx(c->req)->gid == gid)
		return true;
	/* More groups than fit: the ones we have.  Missing one makes the
	 * bit go, the safe side. */
	n = fuse_req_getgroups(c->req, HFSD_MAX_GROUPS, groups);
	if (n > HFSD_MAX_GROUPS)
		n = HFSD_MAX_GROUPS;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int hfsd_kill_privs(fuse_req_t req, fuse_ino_t ino, enum hfsd_fsetid how)
{
	struct caller c = { .req = req, .how = how };
	const struct hfsd *d = fuse_req_userdata(req);
	const struct hfs_killpriv kp = {
		.fsetid = caller_fsetid,
		.in_group = caller_in_group,
		.ctx = &c,
	};

	int r;

	if (d->readonly)
		return 0;
	r = hfs_kill_privs(d->vol, ino, &kp);
	if (r <= 0)
		return r;
	/* The kernel keeps the old mode cached (a write does not refresh
	 * it): drop its attributes now, so a stat right after the write
	 * sees the bits gone.  Attributes only: no page is waited for, so
	 * this is safe inside the WRITE that holds them locked. */
	if (d->se)
		(void)fuse_lowlevel_notify_inval_inode(d->se, ino, -1, 0);
	return 0;
}
