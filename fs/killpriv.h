/* SPDX-License-Identifier: MIT */
/*
 * Privileges a change of contents takes away, for the FUSE handlers
 * (fs/killpriv.c; the rule is lib/killpriv.c's).
 */
#ifndef HOLDFS_FS_KILLPRIV_H
#define HOLDFS_FS_KILLPRIV_H

/* Where the caller's CAP_FSETID comes from. */
enum hfsd_fsetid {
	HFSD_FSETID_KERNEL, /* the request's kill bit (KILLPRIV_V2) */
	HFSD_FSETID_PROC,   /* /proc/PID/status, asked only when it matters */
};

/* Before the change: clear what it costs.  0, or -errno (the change must
 * not happen then). */
int hfsd_kill_privs(fuse_req_t req, fuse_ino_t ino, enum hfsd_fsetid how);

#endif
