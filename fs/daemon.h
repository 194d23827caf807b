/* SPDX-License-Identifier: MIT */
/*
 * The holdfs daemon: state shared by the FUSE handlers and the helpers
 * they use.  Private to fs/.
 *
 * Every handler fetches struct hfsd from its request (fuse_req_userdata),
 * translates the request into one lib/vol.h call and sends exactly one
 * reply.  The volume does its own locking and holds no lock when it
 * returns, so handlers take no locks of their own and never reply while
 * holding one.  fuse_ino_t is the volume's inode number (the root is
 * HFS_ROOT_INO == FUSE_ROOT_ID), so there is no inode table in fs/: the
 * volume pins an inode for every lookup reference it hands out and the
 * kernel's FORGETs drop them.
 */
#ifndef HOLDFS_FS_DAEMON_H
#define HOLDFS_FS_DAEMON_H

/* libfuse 3.14 API: loop config objects (3.12), rename flags, lseek,
 * copy_file_range.  Every fs/ file includes this header first. */
#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "vol.h"

/* How long the kernel may cache attributes and names.  The volume is the
 * only writer reached through the POSIX path and every change to it comes
 * through this mount, so the kernel's cache can only go stale through
 * paths that notify it explicitly; one second bounds the damage if one
 * of them forgets. */
#define HFSD_ATTR_TIMEOUT 1.0
#define HFSD_ENTRY_TIMEOUT 1.0

/* Largest read or write the kernel sends (conn->max_write, and reads are
 * bounded by the same max_pages).  1 MiB is also libfuse's buffer size. */
#define HFSD_MAX_IO (1u << 20)
_Static_assert(HFSD_MAX_IO == HFS_WRITE_PIECE_MAX,
	       "lib/file.c guesses the kernel's write pieces from this size");

struct hfsd_fail;

struct hfsd {
	struct hfs_region *rg;   /* the volume's region (hfs_vol_region) */
	struct hfs_region *held; /* the region opened from REGION, when it
				  * is not the volume's (device 0 served
				  * from its mirror): holds the lock */
	struct hfs_vol *vol;
	struct fuse_session *se;  /* for notifications from handlers */
	const char *region_path;  /* as given on the command line */
	bool readonly;
	bool debug;
	/* FUSE_HANDLE_KILLPRIV_V2 negotiated (fs/fuse_io.c): the kernel
	 * leaves setuid/setgid/capability clearing on write to us.  Set
	 * while INIT is answered, before the kernel sends anything else. */
	bool killpriv_v2;
	/* FUSE over io_uring (-o io_uring): asked for, threads per queue,
	 * and the queues once running (fs/fuse_uring.c), or NULL */
	bool want_uring;
	unsigned uring_depth;
	struct hfsd_uring *uring;
	bool acl;                 /* POSIX ACLs negotiated (fs/ops.c): the
				     umask comes unapplied */
	struct hfsd_fail *fail;   /* failure pipeline (fs/failure.c) */
	struct hfsd_coh *coh;     /* page-cache coherence table of the DAX
				     leases (fs/coherence.h), or NULL */
	/* holdfsctl offline (fs/offline.c): new opens and creates are
	 * refused with ESHUTDOWN from then on (atomic) */
	bool offline;
	struct hfsd_ctl *ctl;     /* the control server while the lease
				     service runs (fs/datapath.h), or NULL */
};

/* The daemon of a request.  Every handler starts with it, so it also
 * tells the volume who this thread now works for: a caller other than
 * root may not take the blocks and inodes reserved for root (mkfs -m;
 * hfs_vol_set_caller). */
static inline struct hfsd *hfsd_of(fuse_req_t req)
{
	hfs_vol_set_caller(fuse_req_ctx(req)->uid == 0);
	return fuse_req_userdata(req);
}

/* The handler table (fs/ops.c). */
extern const struct fuse_lowlevel_ops hfsd_ops;

/* Handlers, grouped by kind: fs/ops_entry.c */
void hfsd_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfsd_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void hfsd_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets);
void hfsd_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfsd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		  int to_set, struct fuse_file_info *fi);
void hfsd_readlink(fuse_req_t req, fuse_ino_t ino);
void hfsd_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, dev_t rdev);
void hfsd_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode);
void hfsd_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		  const char *name);
void hfsd_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	       const char *newname);
void hfsd_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfsd_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfsd_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname, unsigned int flags);

/* fs/ops_dir.c */
void hfsd_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfsd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void hfsd_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi);
void hfsd_releasedir(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void hfsd_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi);

/* fs/ops_file.c */
void hfsd_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, struct fuse_file_info *fi);
void hfsd_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfsd_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfsd_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	       struct fuse_file_info *fi);
void hfsd_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		off_t off, struct fuse_file_info *fi);
void hfsd_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfsd_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		struct fuse_file_info *fi);
void hfsd_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		    off_t length, struct fuse_file_info *fi);
void hfsd_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		struct fuse_file_info *fi);
void hfsd_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			  struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			  off_t off_out, struct fuse_file_info *fi_out,
			  size_t len, int flags);
void hfsd_statfs(fuse_req_t req, fuse_ino_t ino);

/* fs/ops_xattr.c */
void hfsd_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags);
void hfsd_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size);
void hfsd_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void hfsd_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* fs/ops_ioctl.c: chattr/lsattr (FS_IOC_GETFLAGS, SETFLAGS, FSGETXATTR,
 * FSSETXATTR); ENOTTY for anything else */
void hfsd_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		size_t in_bufsz, size_t out_bufsz);

/* fs/reply.c: conversions and replies shared by the handlers. */
void hfsd_attr_to_stat(const struct hfs_attr *a, struct stat *st);
/* How long the kernel may cache a's attributes (0 for a file written
 * directly, docs/data-path.md). */
double hfsd_attr_timeout(const struct hfs_attr *a);
void hfsd_attr_to_entry(const struct hfs_attr *a,
			struct fuse_entry_param *e);
/* Reply with the entry for an inode the volume just handed out with one
 * lookup reference; gives the reference back if the kernel never got the
 * reply (request interrupted), so no inode stays pinned forever. */
void hfsd_reply_entry(fuse_req_t req, const struct hfs_attr *a);
/* Reply to a volume call's result: err < 0 is -errno, 0 is success. */
void hfsd_reply_status(fuse_req_t req, int err);

/* Caller credentials for creating inodes.  With POSIX ACLs the kernel
 * sends the umask unapplied (FUSE_CAP_DONT_MASK) and the volume applies
 * it unless the parent has a default ACL; without, it has applied it and
 * cred.umask is 0.  Supplementary
 * groups are fetched (from /proc, so only when needed) for modes with the
 * setgid bit, the one case where the volume needs them. */
#define HFSD_MAX_GROUPS 64
struct hfsd_cred {
	struct hfs_cred c;
	uint32_t groups[HFSD_MAX_GROUPS];
};
const struct hfs_cred *hfsd_req_cred(fuse_req_t req, uint32_t mode,
				     struct hfsd_cred *buf);

/* fs/killpriv.c: setuid/setgid taken away by data and owner changes, by
 * the kernel's current rule (the file's header says which). */
enum hfsd_kill_cause {
	HFSD_KILL_DATA,   /* write, truncate, fallocate, copy destination */
	HFSD_KILL_OWNER,  /* chown, chgrp */
	HFSD_KILL_ACL,    /* setting an access ACL (setfacl) */
};
/* The HFS_SET_KILL_SUID/SGID bits that a change of kind why to the file
 * with attributes a, by the caller of req, clears; 0 for none. */
unsigned hfsd_kill_priv_mask(fuse_req_t req, const struct hfs_attr *a,
			     enum hfsd_kill_cause why);
/* Clears them for a change of kind why to ino (a data change: before
 * it, as the kernel does): 0 or -errno. */
int hfsd_kill_priv(fuse_req_t req, fuse_ino_t ino, enum hfsd_kill_cause why);
/* The effective capabilities (CapEff of /proc/TID/status) of req's
 * caller; 0 for a caller the daemon cannot see or one in another user
 * namespace (the kernel's checks are against the initial one). */
uint64_t hfsd_caller_caps(fuse_req_t req);
/* The same for a data-path client about to write ino directly (its
 * write lease): what its first write(2) through FUSE would clear, the
 * caller's CAP_FSETID and groups from /proc/PID.  0 or -errno. */
int hfsd_kill_priv_client(struct hfsd *d, pid_t pid, gid_t gid, uint64_t ino);

/* fs/log.c: "holdfs: ..." on stderr in the foreground, syslog once the
 * daemon has detached.  libfuse's own messages are routed here too. */
void hfsd_log_init(void);
void hfsd_log_to_syslog(void);
void hfsd_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
