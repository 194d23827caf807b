/* SPDX-License-Identifier: MIT */
/*
 * libholdfs-preload.so, the I/O half: libc's names of the POSIX data
 * calls, routed to libholdfs's direct data path (docs/data-path.md,
 * libholdfs-preload(8)).
 *
 * Routing.  A call on a descriptor the data path serves (hfc_dp_served:
 * one load) goes to the holdfs_* function of the same name; every other
 * call goes to libc's own function (dlsym RTLD_NEXT, found on first
 * use), so a program that never touches holdfs runs libc's code exactly:
 * its errno, its cancellation points, its fortify checks.  Opens are
 * libc's too, and the descriptor they return is offered to
 * hfc_dp_adopt(); closes drop the entry before libc closes.  Should libc
 * lack one of the functions, the holdfs_* one (raw system calls) stands
 * in.
 *
 * The constructor adopts the holdfs descriptors the process inherited
 * through execve.  With HOLDFS_DATAPATH=0 nothing is adopted, the table
 * stays empty and every call goes to libc (the mapping half has its own
 * switch, HOLDFS_PRELOAD_DISABLE).
 *
 * Not seen: glibc's calls inside itself.  A stream fopen() opened is read
 * and written by stdio through the kernel (correct, at FUSE speed).
 * fclose() is interposed because it closes its descriptor inside glibc:
 * the entry of a served descriptor given to fdopen() is dropped first.
 * Served calls are no cancellation points (raw system calls).
 */
/* Define open and open64, lseek and lseek64, ... as distinct symbols. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#include "dp_fd_i.h"

#define EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(struct stat) == sizeof(struct stat64),
	       "fstat64 is served as fstat");

/* glibc's fortify and compatibility entry points: declared here, since
 * its headers declare them only when they use them. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat64 *st);

/* __fxstat's version whose struct stat is fstat's (x86_64's
 * _STAT_VER_LINUX); elsewhere __fxstat always goes to libc. */
#if defined(__x86_64__)
#define FXSTAT_VER 1
#else
#define FXSTAT_VER (-1)
#endif

/* ---- libc's functions ---- */

#define REALS(X) \
	X(open) X(open64) X(openat) X(openat64) X(creat) X(creat64) \
	X(__open_2) X(__open64_2) X(__openat_2) X(__openat64_2) \
	X(close) X(close_range) X(closefrom) X(fclose) \
	X(read) X(write) X(pread) X(pread64) X(pwrite) X(pwrite64) \
	X(readv) X(writev) X(preadv) X(preadv64) X(pwritev) X(pwritev64) \
	X(preadv2) X(pwritev2) X(preadv64v2) X(pwritev64v2) \
	X(__read_chk) X(__pread_chk) X(__pread64_chk) \
	X(lseek) X(lseek64) X(fsync) X(fdatasync) X(sync_file_range) \
	X(fstat) X(fstat64) X(__fxstat) X(__fxstat64) \
	X(ftruncate) X(ftruncate64) X(fallocate) X(fallocate64) \
	X(dup) X(dup2) X(dup3) X(fcntl) \
	X(copy_file_range) X(sendfile) X(sendfile64) X(splice)
#define SLOT(name) static void *_Atomic real_##name;
REALS(SLOT)
#undef SLOT

static void *real(void *_Atomic *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_relaxed);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, fn, memory_order_relaxed);
	}
	return fn;
}

#define REAL(name) ((__typeof__(&name))real(&real_##name, #name))

/* Return libholdfs's hfs(...) if served (or libc lacks name), else
 * libc's name(...), with the same arguments. */
#define ROUTE(served, name, hfs, ...) do {				\
	__typeof__(&name) real_fn_ = REAL(name);			\
	if ((served) || !real_fn_)					\
		return hfs(__VA_ARGS__);				\
	return real_fn_(__VA_ARGS__);					\
} while (0)

/* ---- opening and closing ---- */

static int adopted(int fd)
{
	if (fd >= 0)
		hfc_dp_adopt(fd);
	return fd;
}

/* libc's open, then the new descriptor is offered to the data path. */
#define OPEN(name, hfs, ...) do {					\
	__typeof__(&name) real_fn_ = REAL(name);			\
	return real_fn_ ? adopted(real_fn_(__VA_ARGS__)) : hfs(__VA_ARGS__); \
} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	OPEN(open, holdfs_open, path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	OPEN(open64, holdfs_open, path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	OPEN(openat, holdfs_openat, dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	OPEN(openat64, holdfs_openat, dirfd, path, flags, mode);
}

EXPORT int creat(const char *path, mode_t mode)
{
	OPEN(creat, holdfs_creat, path, mode);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	OPEN(creat64, holdfs_creat, path, mode);
}

/* The fortified opens (libc's check that O_CREAT came with a mode). */
EXPORT int __open_2(const char *path, int flags)
{
	OPEN(__open_2, holdfs_open, path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	OPEN(__open64_2, holdfs_open, path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	OPEN(__openat_2, holdfs_openat, dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	OPEN(__openat64_2, holdfs_openat, dirfd, path, flags);
}

EXPORT int close(int fd)
{
	ROUTE(hfc_dp_served(fd), close, holdfs_close, fd);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	__typeof__(&close_range) fn = REAL(close_range);

	if (!(flags & CLOSE_RANGE_CLOEXEC))
		hfc_dp_forget_range(first, last);
	if (!fn)
		return (int)syscall(SYS_close_range, first, last, flags);
	return fn(first, last, flags);
}

EXPORT void closefrom(int low)
{
	__typeof__(&closefrom) fn = REAL(closefrom);

	hfc_dp_forget_range((unsigned)low, ~0u);
	if (fn)
		fn(low);
	else
		syscall(SYS_close_range, low, ~0u, 0);
}

/* glibc closes the stream's descriptor inside fclose, where the shim
 * cannot see it: the entry goes first, while the number cannot be given
 * to anyone else yet. */
EXPORT int fclose(FILE *fp)
{
	__typeof__(&fclose) fn = REAL(fclose);
	int saved = errno, fd = fp ? fileno(fp) : -1;

	errno = saved;
	if (fd >= 0)
		hfc_dp_forget(fd);
	if (!fn) {
		errno = ENOSYS;
		return EOF;
	}
	return fn(fp);
}

/* ---- reading and writing ---- */

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ROUTE(hfc_dp_served(fd), read, holdfs_read, fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ROUTE(hfc_dp_served(fd), write, holdfs_write, fd, buf, n);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	ROUTE(hfc_dp_served(fd), pread, holdfs_pread, fd, buf, n, off);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	ROUTE(hfc_dp_served(fd), pread64, holdfs_pread, fd, buf, n, off);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ROUTE(hfc_dp_served(fd), pwrite, holdfs_pwrite, fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	ROUTE(hfc_dp_served(fd), pwrite64, holdfs_pwrite, fd, buf, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	ROUTE(hfc_dp_served(fd), readv, holdfs_readv, fd, iov, cnt);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	ROUTE(hfc_dp_served(fd), writev, holdfs_writev, fd, iov, cnt);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ROUTE(hfc_dp_served(fd), preadv, holdfs_preadv, fd, iov, cnt, off);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	ROUTE(hfc_dp_served(fd), preadv64, holdfs_preadv, fd, iov, cnt, off);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ROUTE(hfc_dp_served(fd), pwritev, holdfs_pwritev, fd, iov, cnt, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	ROUTE(hfc_dp_served(fd), pwritev64, holdfs_pwritev, fd, iov, cnt, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off,
		       int flags)
{
	ROUTE(hfc_dp_served(fd), preadv2, holdfs_preadv2, fd, iov, cnt, off,
	      flags);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off,
			int flags)
{
	ROUTE(hfc_dp_served(fd), pwritev2, holdfs_pwritev2, fd, iov, cnt, off,
	      flags);
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt,
			  off64_t off, int flags)
{
	ROUTE(hfc_dp_served(fd), preadv64v2, holdfs_preadv2, fd, iov, cnt, off,
	      flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
			   off64_t off, int flags)
{
	ROUTE(hfc_dp_served(fd), pwritev64v2, holdfs_pwritev2, fd, iov, cnt,
	      off, flags);
}

/* -D_FORTIFY_SOURCE's reads: libc checks n against the buffer (and
 * aborts) unless the call is served, then it is checked here. */
#define CHK_READ(name, fd, n, buflen, hfs, ...) do {			\
	__typeof__(&name) real_fn_ = REAL(name);			\
	if (real_fn_ && ((n) > (buflen) || !hfc_dp_served(fd)))	\
		return real_fn_(__VA_ARGS__);				\
	if ((n) > (buflen))						\
		abort();						\
	return hfs;							\
} while (0)

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	CHK_READ(__read_chk, fd, n, buflen, holdfs_read(fd, buf, n),
		 fd, buf, n, buflen);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off,
			   size_t buflen)
{
	CHK_READ(__pread_chk, fd, n, buflen, holdfs_pread(fd, buf, n, off),
		 fd, buf, n, off, buflen);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
			     size_t buflen)
{
	CHK_READ(__pread64_chk, fd, n, buflen, holdfs_pread(fd, buf, n, off),
		 fd, buf, n, off, buflen);
}

/* ---- the rest ---- */

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	ROUTE(hfc_dp_served(fd), lseek, holdfs_lseek, fd, off, whence);
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	ROUTE(hfc_dp_served(fd), lseek64, holdfs_lseek, fd, off, whence);
}

EXPORT int fsync(int fd)
{
	ROUTE(hfc_dp_served(fd), fsync, holdfs_fsync, fd);
}

EXPORT int fdatasync(int fd)
{
	ROUTE(hfc_dp_served(fd), fdatasync, holdfs_fdatasync, fd);
}

EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	ROUTE(hfc_dp_served(fd), sync_file_range, holdfs_sync_file_range, fd,
	      off, n, flags);
}

EXPORT int fstat(int fd, struct stat *st)
{
	ROUTE(hfc_dp_served(fd), fstat, holdfs_fstat, fd, st);
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	__typeof__(&fstat64) fn = REAL(fstat64);

	if (!fn || hfc_dp_served(fd))
		return holdfs_fstat(fd, (struct stat *)st);
	return fn(fd, st);
}

EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	__typeof__(&__fxstat) fn = REAL(__fxstat);

	if (ver == FXSTAT_VER && (!fn || hfc_dp_served(fd)))
		return holdfs_fstat(fd, st);
	return fn ? fn(ver, fd, st) : (errno = EINVAL, -1);
}

EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
	__typeof__(&__fxstat64) fn = REAL(__fxstat64);

	if (ver == FXSTAT_VER && (!fn || hfc_dp_served(fd)))
		return holdfs_fstat(fd, (struct stat *)st);
	return fn ? fn(ver, fd, st) : (errno = EINVAL, -1);
}

EXPORT int ftruncate(int fd, off_t len)
{
	ROUTE(hfc_dp_served(fd), ftruncate, holdfs_ftruncate, fd, len);
}

EXPORT int ftruncate64(int fd, off64_t len)
{
	ROUTE(hfc_dp_served(fd), ftruncate64, holdfs_ftruncate, fd, len);
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	ROUTE(hfc_dp_served(fd), fallocate, holdfs_fallocate, fd, mode, off, len);
}

EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	ROUTE(hfc_dp_served(fd), fallocate64, holdfs_fallocate, fd, mode, off,
	      len);
}

EXPORT ssize_t copy_file_range(int fd_in, off64_t *off_in, int fd_out,
			       off64_t *off_out, size_t len, unsigned int flags)
{
	ROUTE(hfc_dp_served(fd_in) || hfc_dp_served(fd_out), copy_file_range,
	      holdfs_copy_file_range, fd_in, off_in, fd_out, off_out, len,
	      flags);
}

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t n)
{
	ROUTE(hfc_dp_served(in_fd) || hfc_dp_served(out_fd), sendfile,
	      holdfs_sendfile, out_fd, in_fd, off, n);
}

EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *off, size_t n)
{
	ROUTE(hfc_dp_served(in_fd) || hfc_dp_served(out_fd), sendfile64,
	      holdfs_sendfile, out_fd, in_fd, off, n);
}

EXPORT ssize_t splice(int fd_in, off64_t *off_in, int fd_out,
		      off64_t *off_out, size_t len, unsigned int flags)
{
	ROUTE(hfc_dp_served(fd_in) || hfc_dp_served(fd_out), splice,
	      holdfs_splice, fd_in, off_in, fd_out, off_out, len, flags);
}

EXPORT int dup(int fd)
{
	ROUTE(hfc_dp_served(fd), dup, holdfs_dup, fd);
}

/* A served fd2 that dup2 closes must lose its entry, whatever fd is. */
EXPORT int dup2(int fd, int fd2)
{
	ROUTE(hfc_dp_served(fd) || hfc_dp_served(fd2), dup2, holdfs_dup2, fd,
	      fd2);
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	ROUTE(hfc_dp_served(fd) || hfc_dp_served(fd2), dup3, holdfs_dup3, fd,
	      fd2, flags);
}

/* fcntl's third argument, passed on as the type it has. */
static int call_fcntl(int (*fn)(int, int, ...), int fd, int cmd, va_list ap)
{
	switch (hfc_fcntl_arg(cmd)) {
	case HFC_FCNTL_NONE:
		return fn(fd, cmd);
	case HFC_FCNTL_INT:
		return fn(fd, cmd, va_arg(ap, int));
	default:
		return fn(fd, cmd, va_arg(ap, void *));
	}
}

/* Only the commands the data path follows go to libholdfs: libc's fcntl
 * keeps its own handling of the rest (F_GETOWN, F_SETLKW's
 * cancellation). */
static int route_fcntl(int (*fn)(int, int, ...), int fd, int cmd, va_list ap)
{
	bool ours = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC || cmd == F_SETFL;

	if (!fn || (ours && hfc_dp_served(fd)))
		fn = holdfs_fcntl;
	return call_fcntl(fn, fd, cmd, ap);
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = route_fcntl(REAL(fcntl), fd, cmd, ap);
	va_end(ap);
	return r;
}

/* One function on 64-bit ABIs, as in glibc. */
EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

__attribute__((constructor)) static void io_init(void)
{
	hfc_dp_adopt_all();
}
