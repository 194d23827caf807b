/* SPDX-License-Identifier: MIT */
/*
 * libholdfs: direct (DAX) load/store access to files of a holdfs mount.
 *
 * A holdfs_map() call asks the daemon that serves the file for a *lease* on
 * a file range, and maps the extents of the persistent-memory region that
 * hold that range into one contiguous piece of the caller's address space.
 * Loads and stores then go straight to the media; holdfs_persist() makes
 * stores durable and visible to POSIX readers.
 *
 * The daemon can take a lease back (truncate, hole punch, media failure,
 * shutdown).  The library then replaces the affected pages with a mapping
 * that raises SIGBUS (si_code BUS_ADRERR, si_addr = the faulting address) on
 * any access, like lost memory.  holdfs_fault_info() tells a SIGBUS handler
 * which file and offset the address belonged to.  If the process loses its
 * connection to the daemon, every mapping of that daemon is revoked at once.
 *
 * Poison: with the first lease the library installs a SIGBUS handler.  A
 * SIGBUS with si_code BUS_MCEERR_AR or BUS_MCEERR_AO (a machine check) at
 * an address of a holdfs mapping is reported to its daemon, which checks
 * it and fails the range for every holder; every SIGBUS is then passed on
 * to the handler installed before the library's, or the default action.
 * Install your SIGBUS handler before the first mapping, or chain to the
 * one you replace (libholdfs(3)).
 *
 * All functions return 0 (or a documented non-negative value) on success and
 * a negative errno on failure; the library never prints (set HOLDFS_LOG=1 to
 * get a diagnostic trace on stderr).  All functions are thread-safe.
 *
 * See libholdfs(3) for the protocol, the coherence rules and the preload
 * shim.
 */
#ifndef HOLDFS_HOLDFS_H
#define HOLDFS_HOLDFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One mapped lease (opaque). */
struct holdfs_mapping;

/* holdfs_map() flags. */
#define HOLDFS_MAP_NOWAIT_CONNECT 0x1u /* fail with -ENOTCONN instead of
					  (re)connecting to the daemon */

/* Why a range was revoked (struct holdfs_revoke_event.reason and
 * struct holdfs_fault.reason). */
enum holdfs_revoke_reason {
	HOLDFS_REVOKE_NONE = 0,
	HOLDFS_REVOKE_LAYOUT = 1,   /* blocks left the file: truncate, punch
				       hole, unlink, reallocation */
	HOLDFS_REVOKE_FAILURE = 2,  /* media failure or device loss */
	HOLDFS_REVOKE_SHUTDOWN = 3, /* the daemon is shutting down */
	HOLDFS_REVOKE_CONNECTION_LOST = 4, /* the daemon connection broke
					      (daemon died or protocol error) */
};

/* What holdfs_lease_info() reports. */
struct holdfs_lease_info {
	uint64_t lease_id;  /* the daemon's lease id */
	uint64_t ino;       /* inode number of the file on the mount */
	dev_t dev;          /* st_dev of the file (identifies the mount) */
	uint64_t offset;    /* file range of the lease */
	uint64_t length;    /*   (bytes; alloc_unit multiple) */
	void *addr;         /* where file offset `offset` is mapped */
	int prot;           /* PROT_READ or PROT_READ|PROT_WRITE */
	uint32_t nextents;  /* extents in the last extent list received */
	uint32_t nholes;    /*   of which holes (zero pages, read leases) */
	uint64_t revoked_bytes; /* bytes of the range revoked so far */
	const char *path;   /* the file's path when mapped (best effort,
			       may be ""); valid until holdfs_unmap() */
};

/* Passed to the revoke handler, once per revoked range. */
struct holdfs_revoke_event {
	struct holdfs_mapping *mapping; /* still valid during the call */
	uint64_t lease_id;
	uint64_t ino;
	uint64_t offset;    /* file range revoked */
	uint64_t length;
	void *addr;         /* where that range is mapped */
	uint32_t reason;    /* enum holdfs_revoke_reason */
};

/* What holdfs_fault_info() reports about an address. */
struct holdfs_fault {
	struct holdfs_mapping *mapping; /* the mapping holding the address */
	uint64_t lease_id;
	uint64_t ino;
	dev_t dev;
	uint64_t file_offset;  /* file offset of the address */
	int revoked;           /* 1 if that offset was revoked */
	uint32_t reason;       /* enum holdfs_revoke_reason, if revoked */
	const char *path;      /* as in holdfs_lease_info */
};

/*
 * Map [offset, offset+length) of the file open on fd for direct access.
 *
 * fd: a file of a holdfs mount, opened O_RDONLY for prot PROT_READ or
 * O_RDWR for PROT_READ|PROT_WRITE (the daemon checks the open mode).
 * offset must be a multiple of the mount's allocation unit (see
 * holdfs_alloc_unit()); length > 0 is rounded up to one.  prot is PROT_READ
 * or PROT_READ|PROT_WRITE.  flags: HOLDFS_MAP_* or 0.
 *
 * The first call for a mount connects to its daemon (the connection is
 * shared by the whole process and all threads) and starts the listener
 * thread that serves revocations.  For a writable lease the daemon
 * allocates blocks for any hole of the range; a read lease maps holes as
 * read-only zero pages that are replaced by the real blocks (REMAP) before
 * any write(2) that fills them returns.
 *
 * On success *out is the mapping and holdfs_addr(*out) its address.
 * Errors: -EINVAL (bad arguments or alignment), -ENOTSUP (fd not on a
 * holdfs mount, or no reachable daemon for it), -ENOTCONN (connection
 * lost), -ETIMEDOUT (the daemon did not answer), -EPROTO (malformed
 * reply), -ENOMEM, or the errno the daemon refused the lease with
 * (-EACCES, -ENOSPC, -EIO, ...).
 */
int holdfs_map(int fd, uint64_t offset, size_t length, int prot,
	       unsigned flags, struct holdfs_mapping **out);

/* Address at which the lease's first byte (file offset `offset`) is mapped. */
void *holdfs_addr(const struct holdfs_mapping *m);

/* Length of the mapped range in bytes (the rounded-up lease length). */
size_t holdfs_length(const struct holdfs_mapping *m);

/*
 * Unmap m and release its lease (RELEASE, waiting for RELEASE_OK with the
 * usual deadline).  The address range is unmapped before the daemon is
 * told, so no access can reach blocks the daemon may then reuse.  m is
 * freed even when the daemon cannot be told (the return value then says
 * why: -ENOTCONN, -ETIMEDOUT).
 */
int holdfs_unmap(struct holdfs_mapping *m);

/*
 * Make stores to [addr, addr+len) durable (flush + drain, as libpmem2
 * chooses for the region: cache-line flushes on real pmem, msync on a
 * page-cache-backed region) and tell the daemon (PERSISTED), then wait for
 * its PERSISTED_OK: the daemon sends it after the kernel dropped its cached
 * pages of the range, so once this returns 0, read(2) of the range from
 * any process returns the stored data.  The range must lie inside m.
 * -EINVAL if it does not or m is read-only; -ENOTCONN if the daemon could
 * not be told, -ETIMEDOUT if it did not answer within max(4 x revoke_ms,
 * 1 s) (the data is durable anyway in both cases).
 */
int holdfs_persist(struct holdfs_mapping *m, const void *addr, size_t len);

/* Fill *info about m. */
int holdfs_lease_info(const struct holdfs_mapping *m,
		      struct holdfs_lease_info *info);

/*
 * Called by the listener thread (never by an application thread) for every
 * range the daemon revokes and, on a lost connection, once per mapping.
 * It runs after the range was made inaccessible and after the daemon was
 * acknowledged (client/listener.c acks first, so a slow handler never
 * gets the process killed), so it only informs: it should still return
 * promptly (the listener serves the next message after it), must not call
 * holdfs_map()/holdfs_unmap(), and must not touch the revoked range.
 */
typedef void (*holdfs_revoke_fn)(void *ctx, const struct holdfs_revoke_event *ev);

/* Install (fn != NULL) or remove the process-wide revoke handler. */
void holdfs_set_revoke_handler(holdfs_revoke_fn fn, void *ctx);

/* Planned removal of a mount (holdfsctl offline): notice that every
 * mapping of it will be revoked deadline_ms after the daemon sent it. */
enum holdfs_offline_reason {
	HOLDFS_OFFLINE_PLANNED = 1, /* an operator takes the device away */
};

struct holdfs_offline_event {
	dev_t dev;            /* st_dev of the mount going offline */
	uint32_t reason;      /* enum holdfs_offline_reason */
	uint32_t deadline_ms; /* from the daemon's send: then REVOKE */
};

/*
 * Called once per notice, on a thread of its own (so it may persist, call
 * holdfs_unmap() and holdfs_close(), and take its time), *before* any
 * mapping of the mount is revoked: the application persists what it must
 * and unmaps; the daemon waits until every lease is released or the
 * deadline passed, then revokes what is left as at shutdown (the revoke
 * handler runs with HOLDFS_REVOKE_SHUTDOWN).  New maps of the mount fail
 * from the notice on.  Without a handler a notice does nothing.
 */
typedef void (*holdfs_offline_fn)(void *ctx,
				  const struct holdfs_offline_event *ev);

/* Install (fn != NULL) or remove the process-wide offline handler. */
void holdfs_set_offline_handler(holdfs_offline_fn fn, void *ctx);

/*
 * Which mapping, file and offset does addr belong to?  0 and *out filled,
 * or -ENOENT when addr is in no live mapping.  Meant for SIGBUS handlers:
 * it takes one internal mutex that no library path holds while touching
 * mapped memory, so it is safe to call from a handler for a fault raised by
 * application code (it is not formally async-signal-safe: do not call it
 * from a handler that may interrupt a libholdfs call of the same thread).
 */
int holdfs_fault_info(const void *addr, struct holdfs_fault *out);

/*
 * The allocation unit (lease granularity, bytes) of the mount fd lives on:
 * a positive value, or a negative errno (as holdfs_map()).  Connects like
 * holdfs_map() does.
 */
long holdfs_alloc_unit(int fd);

/* ---- the direct data path (docs/data-path.md, libholdfs(3)) ----------
 *
 * POSIX data calls on files of a holdfs mount served inside the calling
 * process from leased mappings, with the FUSE path's contract: a write is
 * durable when it returns, a write that grows the file has its new size
 * durable too, every process sees the same bytes and size.  Each function
 * takes the arguments of, and returns what, the libc call of the same
 * name returns (-1 and errno on failure).  A descriptor the data path
 * does not serve (another filesystem, a process without DAX access,
 * HOLDFS_DATAPATH=0, ...) and any call it cannot serve go to the kernel:
 * the result is the same, only slower.  The preload shim
 * (libholdfs-preload.so) routes the libc calls here; a program that links
 * libholdfs can call them itself.  Descriptors are ordinary kernel
 * descriptors: they survive exec as such, and fork shares their offsets.
 */
int holdfs_open(const char *path, int flags, ...);
int holdfs_openat(int dirfd, const char *path, int flags, ...);
int holdfs_creat(const char *path, mode_t mode);
int holdfs_close(int fd);
ssize_t holdfs_read(int fd, void *buf, size_t n);
ssize_t holdfs_write(int fd, const void *buf, size_t n);
ssize_t holdfs_pread(int fd, void *buf, size_t n, off_t off);
ssize_t holdfs_pwrite(int fd, const void *buf, size_t n, off_t off);
struct iovec;
ssize_t holdfs_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t holdfs_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t holdfs_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t holdfs_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t holdfs_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		       int flags);
ssize_t holdfs_pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
			int flags);
off_t holdfs_lseek(int fd, off_t off, int whence);
int holdfs_fsync(int fd);
int holdfs_fdatasync(int fd);
int holdfs_sync_file_range(int fd, off_t off, off_t n, unsigned int flags);
struct stat;
int holdfs_fstat(int fd, struct stat *st);
int holdfs_ftruncate(int fd, off_t len);
int holdfs_fallocate(int fd, int mode, off_t off, off_t len);
ssize_t holdfs_copy_file_range(int fd_in, off_t *off_in, int fd_out,
			       off_t *off_out, size_t len, unsigned int flags);
ssize_t holdfs_sendfile(int out_fd, int in_fd, off_t *off, size_t n);
ssize_t holdfs_splice(int fd_in, off_t *off_in, int fd_out, off_t *off_out,
		      size_t len, unsigned int flags);
int holdfs_dup(int fd);
int holdfs_dup2(int fd, int fd2);
int holdfs_dup3(int fd, int fd2, int flags);
int holdfs_fcntl(int fd, int cmd, ...);

/* Why a call on a served descriptor went to the kernel. */
enum holdfs_dp_reason {
	HOLDFS_DP_FIRST_CALL = 0, /* a file's first small call: no lease yet */
	HOLDFS_DP_HOLE,           /* a write into a hole (the daemon allocates) */
	HOLDFS_DP_NO_LEASE,       /* the daemon refused or could not be asked */
	HOLDFS_DP_REVOKED,        /* the range was revoked (layout change) */
	HOLDFS_DP_SLOT_BUSY,      /* the slot lock was not free in time, or
				     the daemon was changing the bytes */
	HOLDFS_DP_NO_SLOT,        /* the daemon had no slot for the inode */
	HOLDFS_DP_FLAGS,          /* flags the data path does not serve */
	HOLDFS_DP_CHANGED,        /* the descriptor no longer names the file */
	HOLDFS_DP_NOT_ALLOWED,    /* no DAX access for this process */
	HOLDFS_DP_OTHER,
	HOLDFS_DP_NREASONS
};

/* The data path's counters for this process (since it started, or since
 * fork in a child).  HOLDFS_DATAPATH_STATS=1 prints them to stderr at
 * exit, HOLDFS_DATAPATH_STATS=PATH appends them to PATH as one JSON
 * line. */
struct holdfs_dp_stats {
	uint64_t files;          /* descriptions served (opened or found) */
	uint64_t reads, writes;  /* calls served directly */
	uint64_t appends;        /*   of the writes, appends */
	uint64_t syncs, seeks;   /* fsync & co, lseek served directly */
	uint64_t read_bytes, write_bytes;
	uint64_t leases;         /* leases taken by the data path */
	uint64_t reservations;   /* reservations past EOF taken */
	uint64_t eio;            /* calls answered EIO (revoked, lost, gone) */
	uint64_t kernel;         /* calls on served descriptors that went to
				    the kernel, by reason: */
	uint64_t kernel_why[HOLDFS_DP_NREASONS];
};
void holdfs_dp_stats(struct holdfs_dp_stats *out);
const char *holdfs_dp_reason_name(int reason);

#ifdef __cplusplus
}
#endif

#endif
