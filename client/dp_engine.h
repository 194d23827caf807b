/* SPDX-License-Identifier: MIT */
/*
 * The direct data path's engine (docs/data-path.md): one object per open
 * file description that libholdfs serves directly, its leases, the
 * inode's slot, and the copies.  The descriptor layer above it
 * (client/dp_fd.c: the descriptor table, offsets, the kernel fallback,
 * the counters) calls only what is declared here; the engine never
 * looks at descriptor numbers except to pass the caller's descriptor to
 * the daemon with a lease request.
 *
 * Every I/O entry point returns the bytes done (>= 0), a negative errno
 * for the caller, or HFC_DP_KERNEL: "not served, make the kernel call
 * instead", with *why set to the reason (enum holdfs_dp_reason, for the
 * counters).  HFC_DP_KERNEL is returned only before anything visible
 * was done, so the kernel call is always a correct substitute: nothing
 * published, at most bytes copied that the kernel call writes again at
 * the same offsets (a write whose windows were revoked, or whose slot
 * area faulted, under it).
 *
 * Thread-safe.  No entry point blocks on the daemon for longer than the
 * library's deadlines (client_i.h).
 */
#ifndef HOLDFS_DP_ENGINE_H
#define HOLDFS_DP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <holdfs/holdfs.h>

#define HFC_DP_KERNEL (-4096L) /* never an errno */

struct hfc_dfile;

/* A file just opened (or found open, or inherited) on a holdfs mount:
 * dev and ino of the file, flags the description's status flags
 * (fcntl F_GETFL: O_ACCMODE, O_APPEND, O_DIRECT, ...).  No daemon
 * contact yet.  NULL without memory.  The reference is the caller's. */
struct hfc_dfile *hfc_dfile_new(dev_t dev, ino_t ino, int flags);
void hfc_dfile_hold(struct hfc_dfile *f);
/* Drop a reference; the last one releases the leases (without waiting
 * for the daemon) and frees f. */
void hfc_dfile_drop(struct hfc_dfile *f);
/* F_SETFL changed the description's flags (O_APPEND, O_DIRECT, ...). */
void hfc_dfile_setfl(struct hfc_dfile *f, int flags);
int hfc_dfile_flags(const struct hfc_dfile *f);

/* Read or write at off.  fd: a descriptor of f (for lease requests). */
ssize_t hfc_dfile_preadv(struct hfc_dfile *f, int fd, const struct iovec *iov,
			 int iovcnt, uint64_t off, int *why);
ssize_t hfc_dfile_pwritev(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t off,
			  int *why);
/* Append (O_APPEND, RWF_APPEND): at the end of file, atomically with
 * every other appender of the inode in any process; *at gets the offset
 * written at. */
ssize_t hfc_dfile_appendv(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t *at,
			  int *why);
/* The file's size as every process sees it now (>= 0), or HFC_DP_KERNEL. */
int64_t hfc_dfile_size(struct hfc_dfile *f, int fd, int *why);
/* fsync / fdatasync / sync_file_range: 0 once everything written through
 * the data path is durable with its times, or HFC_DP_KERNEL. */
int hfc_dfile_sync(struct hfc_dfile *f, int fd, bool data_only, int *why);
/* A direct write on an O_SYNC description or with RWF_SYNC returned:
 * file integrity wants its mtime durable too (the data and the size
 * always are), at once rather than at the next fsync or close. */
void hfc_dfile_sync_times(struct hfc_dfile *f);
/* The caller made a kernel call that may change size or layout
 * (ftruncate, fallocate, copy_file_range, a write through the kernel):
 * forget cached layout. */
void hfc_dfile_invalidate(struct hfc_dfile *f);

/* Is the data path allowed at all in this process (HOLDFS_DATAPATH not
 * "0")?  Read once. */
bool hfc_dp_enabled(void);
/* Read RLIMIT_FSIZE again (the shim's setrlimit and prlimit; shim).
 * The kernel enforces it on every write (SIGXFSZ and EFBIG at or past
 * it, a short write across it), so a direct write that would end past
 * it is the kernel's.  Also read at every hfc_dfile_new. */
void hfc_dp_fsize_refresh(void);
/* Does dev (mount mnt) name a holdfs mount?  (Its discovery link
 * exists; cached per device and mount.) */
bool hfc_dp_is_holdfs_dev(dev_t dev, uint64_t mnt);

/* The counters (holdfs.h struct holdfs_dp_stats; client/dp_stats.c):
 * the descriptor layer counts the calls and their outcomes, the engine
 * only what it asks the daemon for (leases, reservations). */
enum hfc_dp_counter {
	HFC_DPC_FILES, HFC_DPC_READS, HFC_DPC_WRITES, HFC_DPC_APPENDS,
	HFC_DPC_SYNCS, HFC_DPC_SEEKS, HFC_DPC_READ_BYTES, HFC_DPC_WRITE_BYTES,
	HFC_DPC_LEASES, HFC_DPC_RESERVATIONS, HFC_DPC_EIO,
	HFC_DPC_N
};
void hfc_dp_count(enum hfc_dp_counter c, uint64_t n);
/* A call on a served descriptor went to the kernel, for reason why. */
void hfc_dp_count_kernel(int why);

/* fork(): in the child, every lease of every file is gone (the mappings
 * were MADV_DONTFORK and the connections are the parent's); files
 * re-lease on their next call.  Registered by the engine itself. */

#endif
