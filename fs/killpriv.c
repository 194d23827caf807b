/* SPDX-License-Identifier: MIT */
/*
 * Killing privileges: which of S_ISUID and S_ISGID a change to a file
 * takes away, decided by the rule current Linux kernels apply on their
 * own filesystems (measured on tmpfs and ext4 on this kernel:
 * tests/integration/test_semantics.py), and cleared by the volume.
 *
 * Data changes of a regular file (write, truncate to any size, fallocate
 * of any mode, the destination of copy_file_range), by a caller without
 * CAP_FSETID:
 *   - S_ISUID goes;
 *   - S_ISGID goes if the file is group-executable, or if the caller is
 *     not in the file's group (primary or supplementary).
 * A caller with CAP_FSETID keeps both.
 * Owner changes (chown, chgrp) of anything but a directory:
 *   - S_ISUID goes, whoever the caller is;
 *   - S_ISGID goes if the file is group-executable, or if the caller is
 *     neither in the file's old group nor holds CAP_FSETID.
 * Setting an access ACL (on anything): S_ISGID goes if the caller is
 * neither in the file's group nor holds CAP_FSETID, as a chmod by such a
 * caller (libfuse 3.14 cannot receive the kernel's flag for it).
 *
 * Why the daemon does it: without FUSE_CAP_HANDLE_KILLPRIV the FUSE
 * kernel module refreshes the mode and kills by an older rule (setgid only
 * on group-executable files), so a setgid bit on a 2666 file survived a
 * write by a stranger.  That SETATTR of the kernel's still arrives first;
 * these functions add what it leaves.  With killpriv negotiated the
 * kernel sends nothing and these functions are the whole rule, so every
 * handler that changes data or owners calls them either way.
 *
 * The caller: FUSE gives the fsuid, fsgid and thread id of a request.
 * The supplementary groups and effective capabilities come from
 * /proc/TID/status, read only when the file has a bit to lose.  A caller
 * the daemon cannot see (gone, in another pid namespace) counts as a
 * stranger without privileges, so the bits go: the safe side.
 * Capabilities count only for a caller in the daemon's own user
 * namespace, as the kernel's check is against the initial one.
 *
 * Under FUSE_HANDLE_KILLPRIV_V2 (fs/fuse_io.c) a WRITE or a size-changing
 * SETATTR says itself whether its caller lacks CAP_FSETID (the kernel
 * checked, in the right namespace): /proc is then read only for the
 * groups, and only for a setgid file without group execute.  The kernel
 * then leaves file capabilities to us as well: a data change drops
 * security.capability (lib/killpriv.c), as it would on ext4.
 */
#include "daemon.h"
#include "fuse_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HFSD_CAP_FSETID 4 /* linux/capability.h */

struct caller {
	uint64_t capeff;     /* effective capabilities (own namespace) */
	bool cap_fsetid;
	int ngroups;
	uint32_t groups[HFSD_MAX_GROUPS];
};

static bool same_userns(unsigned tid)
{
	char p[64], mine[64], theirs[64];
	ssize_t a, b;

	snprintf(p, sizeof(p), "/proc/%u/ns/user", tid);
	a = readlink("/proc/self/ns/user", mine, sizeof(mine));
	b = readlink(p, theirs, sizeof(theirs));
	return a > 0 && a == b && memcmp(mine, theirs, (size_t)a) == 0;
}

/* "Groups:\t1 2 3" and "CapEff:\t<hex>" of /proc/TID/status.  false when
 * the caller cannot be seen. */
static bool read_caller(unsigned tid, struct caller *c)
{
	char path[64], line[1024];
	bool groups = false, caps = false;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (tid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && !(groups && caps)) {
		char *s, *end;

		if (strncmp(line, "Groups:", 7) == 0) {
			groups = true;
			/* more than fit: a caller in the 65th group loses
			 * the bit, the safe side */
			for (s = line + 7; c->ngroups < HFSD_MAX_GROUPS;
			     s = end) {
				unsigned long g = strtoul(s, &end, 10);

				if (end == s)
					break;
				c->groups[c->ngroups++] = (uint32_t)g;
			}
		} else if (strncmp(line, "CapEff:", 7) == 0) {
			unsigned long long eff = strtoull(line + 7, NULL, 16);

			caps = true;
			c->capeff = eff;
			c->cap_fsetid = (eff >> HFSD_CAP_FSETID) & 1;
		}
	}
	fclose(f);
	if (c->capeff && !same_userns(tid)) {
		c->capeff = 0;
		c->cap_fsetid = false;
	}
	return groups && caps;
}

uint64_t hfsd_caller_caps(fuse_req_t req)
{
	struct caller c;

	if (!read_caller((unsigned)fuse_req_ctx(req)->pid, &c))
		return 0;
	return c.capeff;
}

/* Under KILLPRIV_V2, in a WRITE or SETATTR: *fsetid from the kernel's
 * bit, true returned. */
static bool kernel_says_fsetid(fuse_req_t req, bool *fsetid)
{
	const struct hfsd *d = req ? fuse_req_userdata(req) : NULL;

	if (!d || !d->killpriv_v2 || !hfsd_req_kill_known())
		return false;
	*fsetid = !hfsd_req_kill_suidgid();
	return true;
}

/* Who makes the change: a FUSE request's caller, or a data-path client
 * (req NULL: its pid and gid from the control socket's credentials). */
struct who {
	fuse_req_t req;
	pid_t pid;
	gid_t gid;
};

static bool in_group(const struct who *w, const struct caller *c,
		     uint32_t gid)
{
	if (w->gid == gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

static unsigned kill_mask(const struct who *w, const struct hfs_attr *a,
			  enum hfsd_kill_cause why)
{
	bool suid = a->mode & S_ISUID, sgid = a->mode & S_ISGID;
	bool gexec = a->mode & S_IXGRP;
	unsigned kill = 0;
	struct caller c;

	if (why == HFSD_KILL_ACL) {
		suid = false;
		gexec = false;
	} else if (why == HFSD_KILL_DATA ? !S_ISREG(a->mode)
					 : S_ISDIR(a->mode)) {
		return 0;
	}
	if (!suid && !sgid)
		return 0;
	if (why == HFSD_KILL_DATA && kernel_says_fsetid(w->req, &c.cap_fsetid)) {
		/* the caller's groups matter only here */
		if (c.cap_fsetid)
			return 0;
		c.ngroups = 0;
		if (sgid && !gexec && w->gid != a->gid) {
			struct caller p;

			if (read_caller((unsigned)w->pid, &p)) {
				memcpy(c.groups, p.groups, sizeof(c.groups));
				c.ngroups = p.ngroups;
			}
		}
	} else if (!read_caller((unsigned)w->pid, &c)) {
		memset(&c, 0, sizeof(c)); /* a stranger, unprivileged */
	}
	if (why == HFSD_KILL_DATA && c.cap_fsetid)
		return 0;
	if (suid)
		kill |= HFS_SET_KILL_SUID;
	if (sgid && (gexec || (!c.cap_fsetid && !in_group(w, &c, a->gid))))
		kill |= HFS_SET_KILL_SGID;
	return kill;
}

unsigned hfsd_kill_priv_mask(fuse_req_t req, const struct hfs_attr *a,
			     enum hfsd_kill_cause why)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const struct who w = { req, ctx->pid, ctx->gid };

	return kill_mask(&w, a, why);
}

static int kill_apply(struct hfsd *d, const struct who *w, uint64_t ino,
		      enum hfsd_kill_cause why)
{
	struct hfs_setattr sa = { 0 };
	struct hfs_attr a;
	int err = hfs_getattr(d->vol, ino, &a), caps = 0;

	if (err)
		return err;
	sa.mask = kill_mask(w, &a, why);
	/* the volume's kill bits spare directories; an ACL's does not */
	if (sa.mask && S_ISDIR(a.mode)) {
		sa.mask = HFS_SET_MODE;
		sa.mode = a.mode & 07777 & ~(uint32_t)S_ISGID;
	}
	if (sa.mask)
		err = hfs_setattr(d->vol, ino, &sa, &a);
	/* file capabilities: every data change, whoever makes it */
	if (!err && why == HFSD_KILL_DATA && !d->readonly) {
		caps = hfs_kill_fcaps(d->vol, ino);
		err = caps < 0 ? caps : 0;
	}
	/* The kernel keeps the old mode cached (a write does not refresh
	 * it): drop its attributes, so a stat right after sees the bits
	 * gone.  Attributes only: no page is waited for, so this is safe
	 * inside the WRITE that holds them locked. */
	if (!err && (sa.mask || caps > 0) && d->se)
		(void)fuse_lowlevel_notify_inval_inode(d->se, ino, -1, 0);
	return err;
}

int hfsd_kill_priv(fuse_req_t req, fuse_ino_t ino, enum hfsd_kill_cause why)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const struct who w = { req, ctx->pid, ctx->gid };

	return kill_apply(hfsd_of(req), &w, ino, why);
}

int hfsd_kill_priv_client(struct hfsd *d, pid_t pid, gid_t gid, uint64_t ino)
{
	const struct who w = { NULL, pid, gid };

	return kill_apply(d, &w, ino, HFSD_KILL_DATA);
}
