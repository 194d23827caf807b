/* SPDX-License-Identifier: MIT */
/*
 * holdfs_read, holdfs_write and their vector, positional and v2 forms
 * (docs/data-path.md "File offsets").
 *
 * Every call is described once (struct dp_io) as the caller made it, so
 * that whenever the data path does not serve it, the very same system
 * call is made: errno, partial results and odd arguments are the
 * kernel's own.  A call is served when its descriptor is in the table,
 * still names its file, its arguments are ordinary (screen()) and the
 * engine does not answer HFC_DP_KERNEL.
 *
 * Offsets stay the kernel's, so a description shared through dup, fork
 * or exec keeps one offset with every holder, shim or not:
 *  - read/write without an offset first reserve their bytes with
 *    lseek(fd, n, SEEK_CUR), which the kernel does atomically, then copy
 *    at the start of the reservation and give back what was not done;
 *    two threads or processes sharing the description never get the
 *    same bytes.  A read that ends at end of file moves the offset past
 *    it until it gives the rest back: a non-appending writer of the same
 *    description in that instant writes past the end, the one anomaly
 *    left (the kernel would have serialised the two calls).
 *  - appends (an O_APPEND description, RWF_APPEND, and pwrite on an
 *    O_APPEND description, which Linux appends) go to the engine's end of
 *    file; a call that uses the file offset then sets it past the bytes
 *    written, a positional one leaves it, as the kernel does.
 *  - when the engine answers HFC_DP_KERNEL after a reservation, the
 *    kernel call is made at the reserved offset (preadv2/pwritev2), the
 *    same bytes the kernel's read or write would have used.
 *
 * A write re-reads the description's flags (F_GETFL) every time: another
 * process sharing the description can toggle O_APPEND with F_SETFL where
 * this one cannot see it.
 *
 * Counted here: reads, writes, appends and their bytes, eio; every call
 * on a served descriptor that goes to the kernel, with its reason.
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dp_fd_i.h"

/* Calls longer than this are cut short by the kernel (MAX_RW_COUNT with
 * 64 KiB pages, the smallest there is): left to it. */
#define MAX_RW ((size_t)INT_MAX & ~(size_t)0xffff)
/* RWF_* a served call may carry: the engine's writes are durable when
 * they return, with their size, so DSYNC is met, and SYNC (as O_SYNC)
 * once the write's mtime is persisted too (serve()); reads ignore them
 * like the kernel does.  RWF_NOAPPEND (write in place on an O_APPEND description)
 * is served where the kernel knows it (6.9 and later; earlier ones say
 * EINVAL): through FUSE it could not be told from an append while the
 * file is written directly (vol.h hfs_append).  Any other flag
 * (RWF_NOWAIT, RWF_HIPRI, ...) is the kernel's to judge. */
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#define READ_RWF (RWF_DSYNC | RWF_SYNC)
#define WRITE_RWF (RWF_DSYNC | RWF_SYNC | RWF_APPEND)

static bool noappend_known;
static pthread_once_t noappend_once = PTHREAD_ONCE_INIT;

static void check_noappend(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2)
		noappend_known = maj > 6 || (maj == 6 && min >= 9);
}

static int write_rwf(void)
{
	pthread_once(&noappend_once, check_noappend);
	return WRITE_RWF | (noappend_known ? RWF_NOAPPEND : 0);
}

struct dp_io {
	long nr;                  /* the system call the caller made */
	int fd;
	const struct iovec *iov;
	int iovcnt;
	off_t off;                /* -1: the file offset (read, write, ...v2) */
	int flags;                /* RWF_* */
	bool write;
};

/* The low and high halves of an offset, as preadv(2) & co take it. */
#define LOHI(o) (long)(o), (long)((uint64_t)(o) >> 32)

static long sys_io(const struct dp_io *io)
{
	const struct iovec *v = io->iov;

	switch (io->nr) {
	case SYS_read:
	case SYS_write:
		return hfc_sys(syscall(io->nr, io->fd, v->iov_base, v->iov_len));
	case SYS_pread64:
	case SYS_pwrite64:
		return hfc_sys(syscall(io->nr, io->fd, v->iov_base, v->iov_len,
				       io->off));
	case SYS_readv:
	case SYS_writev:
		return hfc_sys(syscall(io->nr, io->fd, v, io->iovcnt));
	case SYS_preadv:
	case SYS_pwritev:
		return hfc_sys(syscall(io->nr, io->fd, v, io->iovcnt,
				       LOHI(io->off)));
	default:  /* SYS_preadv2, SYS_pwritev2 */
		return hfc_sys(syscall(io->nr, io->fd, v, io->iovcnt,
				       LOHI(io->off), io->flags));
	}
}

static long sys_lseek(int fd, off_t off, int whence)
{
	return hfc_sys(syscall(SYS_lseek, fd, off, whence));
}

/* Does the call use (and move) the file offset? */
static bool uses_offset(const struct dp_io *io)
{
	switch (io->nr) {
	case SYS_read:
	case SYS_write:
	case SYS_readv:
	case SYS_writev:
		return true;
	case SYS_preadv2:
	case SYS_pwritev2:
		return io->off == -1;
	default:
		return false;
	}
}

/* The kernel call for a served descriptor; a write through the kernel
 * may change the layout the engine caches. */
static long kernel_io(const struct dp_io *io, struct hfc_dp_ref *r, int why)
{
	long done;

	hfc_dp_count_kernel(why);
	done = sys_io(io);
	if (io->write)
		hfc_dfile_invalidate(r->f);
	return done;
}

static void account(const struct dp_io *io, long done, bool append)
{
	if (done == -EIO)
		hfc_dp_count(HFC_DPC_EIO, 1);
	if (done < 0)
		return;
	hfc_dp_count(io->write ? HFC_DPC_WRITES : HFC_DPC_READS, 1);
	hfc_dp_count(io->write ? HFC_DPC_WRITE_BYTES : HFC_DPC_READ_BYTES,
		     (uint64_t)done);
	if (append)
		hfc_dp_count(HFC_DPC_APPENDS, 1);
}

/* The description's status flags as they are now, for a write (another
 * holder may have changed them); the engine is told of a change. */
static int write_flags(struct hfc_dp_ref *r)
{
	long fl = syscall(SYS_fcntl, r->fd, F_GETFL);

	if (fl >= 0 && fl != hfc_dfile_flags(r->f))
		hfc_dfile_setfl(r->f, (int)fl);
	return fl < 0 ? hfc_dfile_flags(r->f) : (int)fl;
}

/* -1 if the data path may serve io, with *n its length and *append set;
 * otherwise the reason (enum holdfs_dp_reason) it goes to the kernel.
 * Anything unusual goes there, so the kernel reports it. */
static int screen(const struct dp_io *io, struct hfc_dp_ref *r, size_t *n,
		  bool *append, bool *sync)
{
	int fl, acc;

	*n = 0;
	*sync = false;
	if (io->iovcnt <= 0 || io->iovcnt > IOV_MAX ||
	    (!uses_offset(io) && io->off < 0))
		return HOLDFS_DP_OTHER;
	for (int i = 0; i < io->iovcnt; i++) {
		if (io->iov[i].iov_len > MAX_RW - *n)
			return HOLDFS_DP_OTHER;
		*n += io->iov[i].iov_len;
	}
	if (!*n)
		return HOLDFS_DP_OTHER;
	if (io->flags & ~(io->write ? write_rwf() : READ_RWF))
		return HOLDFS_DP_FLAGS;
	fl = io->write ? write_flags(r) : hfc_dfile_flags(r->f);
	acc = fl & O_ACCMODE;
	if (acc != O_RDWR && acc != (io->write ? O_WRONLY : O_RDONLY))
		return HOLDFS_DP_FLAGS;   /* the kernel says EBADF */
	*append = io->write && ((io->flags & RWF_APPEND) ||
				((fl & O_APPEND) && !(io->flags & RWF_NOAPPEND)));
	*sync = io->write && ((io->flags & RWF_SYNC) ||
			      (fl & O_SYNC) == O_SYNC);
	return -1;
}

static long engine_at(const struct dp_io *io, struct hfc_dp_ref *r,
		      uint64_t off, int *why)
{
	if (io->write)
		return hfc_dfile_pwritev(r->f, io->fd, io->iov, io->iovcnt,
					 off, why);
	return hfc_dfile_preadv(r->f, io->fd, io->iov, io->iovcnt, off, why);
}

static long serve_append(const struct dp_io *io, struct hfc_dp_ref *r)
{
	uint64_t at = 0;
	int why = HOLDFS_DP_OTHER;
	long done = hfc_dfile_appendv(r->f, io->fd, io->iov, io->iovcnt, &at,
				      &why);

	if (done == HFC_DP_KERNEL) {
		/* the kernel appends by its cached size (the data lands at
		 * the daemon's end of file whatever it is, but the offset the
		 * call leaves is the kernel's) */
		int w2;
		int64_t want = hfc_dfile_size(r->f, io->fd, &w2);

		hfc_dp_kernel_size_fresh_to(io->fd, want < 0 ? -1 : want);
		return kernel_io(io, r, why);
	}
	account(io, done, true);
	if (done >= 0 && uses_offset(io))
		sys_lseek(io->fd, (off_t)(at + (uint64_t)done), SEEK_SET);
	return done;
}

/* Reserve [at, at + n) of the file offset, copy there, give back the
 * rest. */
static long serve_reserved(const struct dp_io *io, struct hfc_dp_ref *r,
			   size_t n)
{
	long end = sys_lseek(io->fd, (off_t)n, SEEK_CUR), done;
	int why = HOLDFS_DP_OTHER;
	struct dp_io at = *io;

	if (end < 0)   /* past the largest offset: the kernel's error */
		return kernel_io(io, r, HOLDFS_DP_OTHER);
	at.nr = io->write ? SYS_pwritev2 : SYS_preadv2;
	at.off = end - (off_t)n;
	done = engine_at(io, r, (uint64_t)at.off, &why);
	if (done == HFC_DP_KERNEL)
		done = kernel_io(&at, r, why);
	else
		account(io, done, false);
	if (done < (long)n)
		sys_lseek(io->fd, -(off_t)(n - (size_t)(done > 0 ? done : 0)),
			  SEEK_CUR);
	return done;
}

static long serve(const struct dp_io *io, struct hfc_dp_ref *r)
{
	bool append = false, sync = false;
	size_t n;
	int why;
	long done;

	if (!hfc_dp_valid(r))
		return sys_io(io);
	why = screen(io, r, &n, &append, &sync);
	if (why >= 0)
		return kernel_io(io, r, why);
	if (append) {
		done = serve_append(io, r);
	} else if (uses_offset(io)) {
		done = serve_reserved(io, r, n);
	} else {
		done = engine_at(io, r, (uint64_t)io->off, &why);
		if (done == HFC_DP_KERNEL)
			return kernel_io(io, r, why);
		account(io, done, false);
	}
	if (sync && done > 0)
		hfc_dfile_sync_times(r->f);
	return done;
}

static ssize_t dp_io(const struct dp_io *io)
{
	struct hfc_dp_ref r;
	int saved = errno;
	long done;

	if (!hfc_dp_get(io->fd, &r))
		return hfc_ret(sys_io(io), saved);
	done = serve(io, &r);
	hfc_dp_put(&r);
	return hfc_ret(done, saved);
}

static ssize_t dp_buf(long nr, int fd, const void *buf, size_t n, off_t off)
{
	struct iovec v = { (void *)buf, n };

	return dp_io(&(struct dp_io){ nr, fd, &v, 1, off, 0,
				      nr == SYS_write || nr == SYS_pwrite64 });
}

ssize_t holdfs_read(int fd, void *buf, size_t n)
{
	return dp_buf(SYS_read, fd, buf, n, -1);
}

ssize_t holdfs_write(int fd, const void *buf, size_t n)
{
	return dp_buf(SYS_write, fd, buf, n, -1);
}

ssize_t holdfs_pread(int fd, void *buf, size_t n, off_t off)
{
	return dp_buf(SYS_pread64, fd, buf, n, off);
}

ssize_t holdfs_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return dp_buf(SYS_pwrite64, fd, buf, n, off);
}

ssize_t holdfs_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return dp_io(&(struct dp_io){ SYS_readv, fd, iov, iovcnt, -1, 0, false });
}

ssize_t holdfs_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return dp_io(&(struct dp_io){ SYS_writev, fd, iov, iovcnt, -1, 0, true });
}

ssize_t holdfs_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return dp_io(&(struct dp_io){ SYS_preadv, fd, iov, iovcnt, off, 0, false });
}

ssize_t holdfs_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return dp_io(&(struct dp_io){ SYS_pwritev, fd, iov, iovcnt, off, 0, true });
}

ssize_t holdfs_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		       int flags)
{
	return dp_io(&(struct dp_io){ SYS_preadv2, fd, iov, iovcnt, off, flags,
				      false });
}

ssize_t holdfs_pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
			int flags)
{
	return dp_io(&(struct dp_io){ SYS_pwritev2, fd, iov, iovcnt, off, flags,
				      true });
}
