/* SPDX-License-Identifier: MIT */
/*
 * The data path's descriptor layer (docs/data-path.md), private to
 * libholdfs and its preload shim:
 *
 *   dp_fd.c      the descriptor table: which descriptor numbers are
 *                served, by which engine file (dp_engine.h); lookup,
 *                validation, adoption of descriptors found open
 *   dp_fd_rw.c   read/write and their vector, positional and v2 forms:
 *                offsets, appends, the kernel fallback
 *   dp_fd_ops.c  open, close, lseek, the syncs, fstat, ftruncate,
 *                fallocate, dup and fcntl
 *   dp_stats.c   the counters and HOLDFS_DATAPATH_STATS
 *
 * The hfc_dp_* functions marked "shim" are exported (libholdfs.sym, node
 * HOLDFS_PRIVATE) for libholdfs-preload.so only: they are no API.
 *
 * Every kernel call of this layer is a raw syscall(2): under the shim a
 * call of libholdfs to read() would bind to the shim's read() again, and
 * dlsym(RTLD_NEXT) from libholdfs cannot find libc (loaded before it).
 * Internal functions return a negative errno; the holdfs_* functions turn
 * that into -1 and errno, and leave errno as they found it on success.
 */
#ifndef HOLDFS_DP_FD_I_H
#define HOLDFS_DP_FD_I_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "dp_engine.h"

/* The raw system calls pass offsets and file sizes in one register. */
_Static_assert(sizeof(long) == 8 && sizeof(off_t) == 8,
	       "the data path's raw syscalls assume a 64-bit ABI");

/* ---- shim: exported for libholdfs-preload.so ---- */

/* Is fd in the table?  One atomic load (two for a descriptor number past
 * the first chunk): the whole cost of the shim for a descriptor the data
 * path does not serve. */
bool hfc_dp_served(int fd);
/* fd was just opened, or found open: serve it if it is a regular file of
 * a holdfs mount and the data path is enabled; otherwise make sure no
 * stale entry is left for its number.  Keeps errno. */
void hfc_dp_adopt(int fd);
/* Adopt every descriptor of the process not in the table yet (the ones
 * inherited through execve): one pass over /proc/self/fd. */
void hfc_dp_adopt_all(void);
/* fd is about to be closed (or was, behind our back): drop its entry. */
void hfc_dp_forget(int fd);
/* The same for every descriptor number in [first, last]. */
void hfc_dp_forget_range(unsigned first, unsigned last);

/* ---- the table, for dp_fd_rw.c and dp_fd_ops.c ---- */

/* A served descriptor as one call sees it: a reference to its file held
 * for the call, and the file's identity when the entry was made. */
struct hfc_dp_ref {
	struct hfc_dfile *f;
	int fd;
	dev_t dev;
	ino_t ino;
};

/* Take fd's entry for one call: false if fd is not served (or this
 * thread is already inside a data path call: a recursive call, from the
 * engine or a signal handler, goes to the kernel).  After true, the
 * caller must hfc_dp_put(r). */
bool hfc_dp_get(int fd, struct hfc_dp_ref *r);
void hfc_dp_put(struct hfc_dp_ref *r);
/* Does r->fd still name r's file (statx without a FUSE round trip)?  If
 * not, the entry is dropped and counted (HOLDFS_DP_CHANGED). */
bool hfc_dp_valid(struct hfc_dp_ref *r);
/* The same check with dev and ino the caller already has (fstat). */
bool hfc_dp_same(struct hfc_dp_ref *r, dev_t dev, ino_t ino);
/* nfd, a new descriptor of r's open file description, shares r's file. */
void hfc_dp_share(int nfd, const struct hfc_dp_ref *r);

/* ---- errno conventions ---- */

/* A raw syscall's result as a value or a negative errno. */
static inline long hfc_sys(long r)
{
	return r == -1 ? -errno : r;
}

/* The libc convention at the API boundary: -1 and errno on failure, and
 * on success errno as the caller had it (saved at entry), since the
 * layer's own calls may have changed it. */
static inline long hfc_ret(long r, int saved)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return r;
}

/* ---- argument conventions shared with the shim ---- */

/* Does open(2) read its third argument for these flags? */
static inline bool hfc_open_needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* In a variadic open whose last named parameter is flags: mode gets the
 * third argument if the flags say there is one. */
#define HFC_OPEN_MODE(flags, mode) do {					\
	if (hfc_open_needs_mode(flags)) {				\
		va_list ap_;						\
		va_start(ap_, flags);					\
		mode = va_arg(ap_, mode_t);				\
		va_end(ap_);						\
	}								\
} while (0)

/* The type of fcntl(2)'s third argument for cmd, so a variadic wrapper
 * passes it on as what it is.  Unknown commands are taken as a pointer,
 * as glibc's fcntl takes every argument. */
enum hfc_fcntl_arg { HFC_FCNTL_NONE, HFC_FCNTL_INT, HFC_FCNTL_PTR };

static inline enum hfc_fcntl_arg hfc_fcntl_arg(int cmd)
{
	switch (cmd) {
	case F_GETFD: case F_GETFL: case F_GETOWN: case F_GETSIG:
	case F_GETLEASE: case F_GETPIPE_SZ: case F_GET_SEALS:
		return HFC_FCNTL_NONE;
	case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETFD: case F_SETFL:
	case F_SETOWN: case F_SETSIG: case F_SETLEASE: case F_NOTIFY:
	case F_SETPIPE_SZ: case F_ADD_SEALS:
		return HFC_FCNTL_INT;
	default:
		return HFC_FCNTL_PTR;
	}
}

/* Bring the kernel's cached size of fd's file up to date (dp_fd.c). */
void hfc_dp_kernel_size_fresh(int fd);
/* The same from inside a served call: at least want (the slot's size;
 * -1: unknown). */
void hfc_dp_kernel_size_fresh_to(int fd, int64_t want);

#endif
