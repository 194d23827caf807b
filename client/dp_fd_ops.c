/* SPDX-License-Identifier: MIT */
/*
 * The data path's calls besides read and write (docs/data-path.md "What
 * is served where"): open, close, lseek, the syncs, fstat, ftruncate,
 * fallocate, dup and fcntl.
 *
 * Which descriptors are served: the ones holdfs_open/openat/creat open,
 * their dups, and the ones libholdfs-preload.so adopts (every open it
 * sees, and the descriptors inherited through execve, found once at
 * start).  libholdfs alone never adopts a descriptor it did not open:
 * holdfs_read() of a descriptor it does not know is the plain kernel
 * call, and asking on every such call whether it is a holdfs file would
 * cost a system call per read of every socket.
 *
 * Calls the data path never serves (SEEK_DATA, ftruncate, close, ...)
 * are not counted as "kernel": that counter is for calls it would have
 * served.
 */
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dp_fd_i.h"

static long sys_lseek(int fd, off_t off, int whence)
{
	return hfc_sys(syscall(SYS_lseek, fd, off, whence));
}

static int dp_open(int dirfd, const char *path, int flags, mode_t mode)
{
	int saved = errno;
	long fd = hfc_sys(syscall(SYS_openat, dirfd, path, flags, mode));

	if (fd >= 0)
		hfc_dp_adopt((int)fd);
	return (int)hfc_ret(fd, saved);
}

int holdfs_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	return dp_open(AT_FDCWD, path, flags, mode);
}

int holdfs_openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	HFC_OPEN_MODE(flags, mode);
	return dp_open(dirfd, path, flags, mode);
}

int holdfs_creat(const char *path, mode_t mode)
{
	return dp_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* The entry goes first: while the number is still open nobody else can
 * be given it, so a concurrent open cannot lose its new entry to us. */
int holdfs_close(int fd)
{
	hfc_dp_forget(fd);
	return (int)syscall(SYS_close, fd);
}

/* SEEK_SET and SEEK_CUR are the kernel's offset anyway, and never reach
 * the daemon; SEEK_END takes the size every process sees from the engine
 * instead of a FUSE getattr. */
static long serve_lseek(struct hfc_dp_ref *r, off_t off, int whence)
{
	int why = HOLDFS_DP_OTHER;
	int64_t size;
	off_t pos;

	if (whence == SEEK_SET || whence == SEEK_CUR) {
		hfc_dp_count(HFC_DPC_SEEKS, 1);
		return sys_lseek(r->fd, off, whence);
	}
	if (whence != SEEK_END || !hfc_dp_valid(r))
		return sys_lseek(r->fd, off, whence);
	size = hfc_dfile_size(r->f, r->fd, &why);
	if (size == HFC_DP_KERNEL) {
		hfc_dp_count_kernel(why);
		return sys_lseek(r->fd, off, whence);
	}
	if (size < 0)
		return size;
	if (__builtin_add_overflow(size, off, &pos) || pos < 0)
		return -EINVAL;
	hfc_dp_count(HFC_DPC_SEEKS, 1);
	return sys_lseek(r->fd, pos, SEEK_SET);
}

off_t holdfs_lseek(int fd, off_t off, int whence)
{
	struct hfc_dp_ref r;
	int saved = errno;
	long res;

	if (!hfc_dp_get(fd, &r))
		return hfc_ret(sys_lseek(fd, off, whence), saved);
	res = serve_lseek(&r, off, whence);
	hfc_dp_put(&r);
	return hfc_ret(res, saved);
}

/* fsync, fdatasync, sync_file_range: the engine's writes are durable when
 * they return, so it only has to make its times durable. */
struct dp_sync {
	long nr;
	int fd;
	off_t off, n;
	unsigned flags;
};

static long sys_sync(const struct dp_sync *s)
{
	if (s->nr == SYS_sync_file_range)
		return hfc_sys(syscall(s->nr, s->fd, s->off, s->n, s->flags));
	return hfc_sys(syscall(s->nr, s->fd));
}

static long serve_sync(const struct dp_sync *s, struct hfc_dp_ref *r)
{
	int why = HOLDFS_DP_OTHER;
	long res;
	off_t end;

	if (!hfc_dp_valid(r))
		return sys_sync(s);
	if (s->nr == SYS_sync_file_range &&
	    (s->off < 0 || s->n < 0 || __builtin_add_overflow(s->off, s->n, &end) ||
	     s->flags & ~(SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			  SYNC_FILE_RANGE_WAIT_AFTER)))
		return sys_sync(s);   /* the kernel's EINVAL */
	res = hfc_dfile_sync(r->f, s->fd, s->nr != SYS_fsync, &why);
	if (res == HFC_DP_KERNEL) {
		hfc_dp_count_kernel(why);
		return sys_sync(s);
	}
	if (res == 0)
		hfc_dp_count(HFC_DPC_SYNCS, 1);
	return res;
}

static int dp_sync(const struct dp_sync *s)
{
	struct hfc_dp_ref r;
	int saved = errno;
	long res;

	if (!hfc_dp_get(s->fd, &r))
		return (int)hfc_ret(sys_sync(s), saved);
	res = serve_sync(s, &r);
	hfc_dp_put(&r);
	return (int)hfc_ret(res, saved);
}

int holdfs_fsync(int fd)
{
	return dp_sync(&(struct dp_sync){ SYS_fsync, fd, 0, 0, 0 });
}

int holdfs_fdatasync(int fd)
{
	return dp_sync(&(struct dp_sync){ SYS_fdatasync, fd, 0, 0, 0 });
}

int holdfs_sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	return dp_sync(&(struct dp_sync){ SYS_sync_file_range, fd, off, n, flags });
}

/* Always the kernel's fstat; a served file's size is the engine's, which
 * may be newer than the size FUSE cached. */
int holdfs_fstat(int fd, struct stat *st)
{
	int saved = errno, why = HOLDFS_DP_OTHER;
	long res = hfc_sys(syscall(SYS_fstat, fd, st));
	struct hfc_dp_ref r;
	int64_t size;

	if (res == 0 && hfc_dp_get(fd, &r)) {
		if (hfc_dp_same(&r, st->st_dev, st->st_ino)) {
			size = hfc_dfile_size(r.f, fd, &why);
			if (size == HFC_DP_KERNEL)
				hfc_dp_count_kernel(why);
			else if (size >= 0)
				st->st_size = size;
		}
		hfc_dp_put(&r);
	}
	return (int)hfc_ret(res, saved);
}

/* The kernel changes size or layout; the engine forgets what it cached
 * (also after a failure: a fallocate may have done part of its work). */
static long changed_layout(int fd, long res, int saved)
{
	struct hfc_dp_ref r;

	if (hfc_dp_get(fd, &r)) {
		hfc_dfile_invalidate(r.f);
		hfc_dp_put(&r);
	}
	return hfc_ret(res, saved);
}

int holdfs_ftruncate(int fd, off_t len)
{
	int saved = errno;

	return (int)changed_layout(fd, hfc_sys(syscall(SYS_ftruncate, fd, len)),
				   saved);
}

int holdfs_fallocate(int fd, int mode, off_t off, off_t len)
{
	int saved = errno;

	return (int)changed_layout(fd, hfc_sys(syscall(SYS_fallocate, fd, mode,
							off, len)), saved);
}

/* copy_file_range, sendfile, splice go to the kernel, which clamps them
 * to its own cached size of the file (hfc_dp_kernel_size_fresh). */
ssize_t holdfs_copy_file_range(int fd_in, off_t *off_in, int fd_out,
			       off_t *off_out, size_t len, unsigned int flags)
{
	int saved = errno;

	hfc_dp_kernel_size_fresh(fd_in);
	hfc_dp_kernel_size_fresh(fd_out);
	return changed_layout(fd_out, hfc_sys(syscall(SYS_copy_file_range,
				fd_in, off_in, fd_out, off_out, len, flags)),
			      saved);
}

ssize_t holdfs_sendfile(int out_fd, int in_fd, off_t *off, size_t n)
{
	int saved = errno;

	hfc_dp_kernel_size_fresh(in_fd);
	hfc_dp_kernel_size_fresh(out_fd);
	return changed_layout(out_fd, hfc_sys(syscall(SYS_sendfile, out_fd,
						      in_fd, off, n)), saved);
}

ssize_t holdfs_splice(int fd_in, off_t *off_in, int fd_out, off_t *off_out,
		      size_t len, unsigned int flags)
{
	int saved = errno;

	hfc_dp_kernel_size_fresh(fd_in);
	hfc_dp_kernel_size_fresh(fd_out);
	return changed_layout(fd_out, hfc_sys(syscall(SYS_splice, fd_in, off_in,
						      fd_out, off_out, len,
						      flags)), saved);
}

/* dup, dup2, dup3, F_DUPFD, F_DUPFD_CLOEXEC (the system call nr with
 * a2, a3): the new descriptor shares the description, so it shares the
 * file.  closes: the number the call closes (dup2, dup3) or -1; a served
 * one loses its entry first. */
static int dp_dup(long nr, int fd, long a2, long a3, int closes)
{
	struct hfc_dp_ref r;
	int saved = errno;
	bool have = hfc_dp_get(fd, &r), share = have && hfc_dp_valid(&r);
	long nfd;

	if (closes >= 0 && closes != fd)
		hfc_dp_forget(closes);
	nfd = hfc_sys(syscall(nr, fd, a2, a3));
	if (nfd >= 0 && nfd != fd && share)
		hfc_dp_share((int)nfd, &r);
	if (have)
		hfc_dp_put(&r);
	return (int)hfc_ret(nfd, saved);
}

int holdfs_dup(int fd)
{
	return dp_dup(SYS_dup, fd, 0, 0, -1);
}

int holdfs_dup2(int fd, int fd2)
{
#ifdef SYS_dup2
	return dp_dup(SYS_dup2, fd, fd2, 0, fd2);
#else
	if (fd == fd2)   /* as glibc: fd2 if fd is open */
		return holdfs_fcntl(fd, F_GETFD) < 0 ? -1 : fd2;
	return dp_dup(SYS_dup3, fd, fd2, 0, fd2);
#endif
}

int holdfs_dup3(int fd, int fd2, int flags)
{
	/* a call the kernel refuses (fd == fd2, bad flags) closes nothing */
	return dp_dup(SYS_dup3, fd, fd2, flags,
		      fd == fd2 || (flags & ~O_CLOEXEC) ? -1 : fd2);
}

/* F_SETFL: the engine follows the flags the description has now. */
static int dp_setfl(int fd, int fl)
{
	struct hfc_dp_ref r;
	int saved = errno;
	long res = hfc_sys(syscall(SYS_fcntl, fd, F_SETFL, fl)), now;

	if (res == 0 && hfc_dp_get(fd, &r)) {
		if (hfc_dp_valid(&r) &&
		    (now = syscall(SYS_fcntl, fd, F_GETFL)) >= 0)
			hfc_dfile_setfl(r.f, (int)now);
		hfc_dp_put(&r);
	}
	return (int)hfc_ret(res, saved);
}

/* As glibc does: F_GETOWN cannot tell a process group from an error, so
 * it is asked with F_GETOWN_EX. */
static int getown(int fd)
{
	struct f_owner_ex ex;
	int saved = errno;
	long res = hfc_sys(syscall(SYS_fcntl, fd, F_GETOWN_EX, &ex));

	if (res < 0)
		return (int)hfc_ret(res, saved);
	return ex.type == F_OWNER_PGRP ? -ex.pid : ex.pid;
}

int holdfs_fcntl(int fd, int cmd, ...)
{
	enum hfc_fcntl_arg kind = hfc_fcntl_arg(cmd);
	void *parg = NULL;
	int iarg = 0, saved = errno;
	va_list ap;

	va_start(ap, cmd);
	if (kind == HFC_FCNTL_INT)
		iarg = va_arg(ap, int);
	else if (kind == HFC_FCNTL_PTR)
		parg = va_arg(ap, void *);
	va_end(ap);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return dp_dup(SYS_fcntl, fd, cmd, iarg, -1);
	case F_SETFL:
		return dp_setfl(fd, iarg);
	case F_GETOWN:
		return getown(fd);
	}
	if (kind == HFC_FCNTL_PTR)
		return (int)hfc_ret(hfc_sys(syscall(SYS_fcntl, fd, cmd, parg)), saved);
	return (int)hfc_ret(hfc_sys(syscall(SYS_fcntl, fd, cmd, iarg)), saved);
}
