/* SPDX-License-Identifier: MIT */
/*
 * Memory syscalls issued straight to the kernel, so that libholdfs's own
 * mappings never re-enter an interposed mmap/munmap/msync (the preload
 * shim), and the optional trace (HOLDFS_LOG=1 -> stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client_i.h"

/* Where libholdfs keeps its own descriptors: high, out of the way of the
 * program's.  A program that closes a number and dup2()s onto it (a
 * shell redirecting, the data path's tests) must not find one of ours
 * there in between: libholdfs makes descriptors inside the program's
 * read(2) and mmap(2) calls, where the kernel would make none.  Half the
 * soft limit, at most 65536, at least 3. */
static int fd_floor(void)
{
	static int floor_fd;
	struct rlimit rl;

	if (!floor_fd) {
		int f = 3;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 6)
			f = rl.rlim_cur / 2 > 65536 ? 65536 : (int)(rl.rlim_cur / 2);
		floor_fd = f;
	}
	return floor_fd;
}

int hfc_fd_dup(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor());

	if (r < 0 && errno == EINVAL) /* the floor is past the limit now */
		r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return r;
}

int hfc_fd_high(int fd)
{
	int r;

	if (fd < 0 || fd >= fd_floor())
		return fd;
	r = hfc_fd_dup(fd);
	if (r < 0)
		return fd; /* keep the low one: better than none */
	close(fd);
	return r;
}

void *hfc_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	if (r == -1)
		return MAP_FAILED;
	return (void *)r;
}

int hfc_munmap(void *addr, size_t len)
{
	return syscall(SYS_munmap, addr, len) == 0 ? 0 : -errno;
}

int hfc_msync(void *addr, size_t len, int flags)
{
	return syscall(SYS_msync, addr, len, flags) == 0 ? 0 : -errno;
}

/*
 * Make [addr, addr+len) raise SIGBUS (BUS_ADRERR at the faulting address)
 * on any access: a shared mapping of an empty memfd, every page of which
 * lies beyond end of file.  One mmap(MAP_FIXED) replaces whatever was
 * there atomically.  If no memfd can be had (EMFILE), the range becomes
 * PROT_NONE (SIGSEGV instead of SIGBUS, but never stale data).
 */
/* One empty memfd per process serves every revocation: a shared mapping
 * of a zero-length file raises SIGBUS (BUS_ADRERR) on any access, like
 * lost memory.  Sealed against growing, so it stays empty; made once,
 * because a revocation round may cover thousands of leases.  Made when
 * the process first connects to a daemon (hfc_revoke_prepare), before it
 * maps anything: a process that reaches its RLIMIT_NOFILE later would
 * otherwise find no descriptor for it at its first revocation, and every
 * revoked range of its life would be PROT_NONE -- a SIGSEGV, which the
 * data path's copy guard (SIGBUS only) does not catch.  A failed attempt
 * is tried again at the next connection or revocation. */
static pthread_mutex_t empty_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int empty_fd = -1;

int hfc_revoke_prepare(void)
{
	int fd = atomic_load(&empty_fd);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&empty_lock);
	fd = atomic_load(&empty_fd);
	if (fd < 0) {
		fd = hfc_fd_high(memfd_create("holdfs-revoked",
					      MFD_CLOEXEC | MFD_ALLOW_SEALING));
		if (fd >= 0 &&
		    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK |
			  F_SEAL_SEAL) < 0) {
			int e = errno;

			close(fd);
			fd = -1;
			errno = e;
		}
		if (fd >= 0)
			atomic_store(&empty_fd, fd);
	}
	pthread_mutex_unlock(&empty_lock);
	return fd;
}

int hfc_revoke_range(void *addr, size_t len)
{
	int fd = hfc_revoke_prepare();
	void *p;

	if (fd >= 0) {
		p = hfc_mmap(addr, len, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, fd, 0);
		/* (no MADV_DONTFORK: a child inheriting an empty file's
		 * mapping inherits nothing of the region) */
		if (p != MAP_FAILED)
			return 0;
	}
	hfc_log("revoke %p+%zu: memfd unavailable (%s), using PROT_NONE",
		addr, len, strerror(errno));
	p = hfc_mmap(addr, len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED)
		return 0;
	/* Last resort: no mapping at all (still never stale data). */
	return hfc_munmap(addr, len);
}

void hfc_log(const char *fmt, ...)
{
	static atomic_int enabled = -1;
	char buf[512];
	va_list ap;
	int n;

	if (enabled < 0) {
		const char *e = getenv("HOLDFS_LOG");

		enabled = e && *e && strcmp(e, "0") != 0;
	}
	if (!enabled)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write(2): lines of concurrent threads do not interleave */
	dprintf(STDERR_FILENO, "libholdfs[%d]: %.*s", (int)getpid(), n, buf);
}
