/* SPDX-License-Identifier: MIT */
/*
 * libholdfs-preload.so: run unmodified programs with DAX access to holdfs
 * files (LD_PRELOAD=libholdfs-preload.so prog ...).  This file is its
 * mapping half; preload_io.c routes read, write & co to the direct data
 * path.
 *
 * mmap/mmap64: a MAP_SHARED mapping (without MAP_FIXED, not executable) of
 * a file on a FUSE mount whose daemon is a holdfs daemon becomes a lease
 * mapped by libholdfs (offset must be a multiple of the allocation unit;
 * the length is rounded up to one).  Anything else, and any failure
 * (not holdfs, misaligned, daemon unreachable, lease refused), goes to the
 * real mmap: the page cache, exactly as without the shim.
 * munmap: a range that contains the start of a lease releases the lease;
 * a range inside a lease only gives up those pages (they stay reserved,
 * PROT_NONE, until the lease is released).
 * msync: inside a writable lease = holdfs_persist(); read lease = no-op.
 *
 * HOLDFS_PRELOAD_DISABLE=1 turns this half into a pass-through (the I/O
 * half has HOLDFS_DATAPATH=0).  mremap and
 * mprotect are not interposed: do not mremap a leased range, and a
 * read-only lease cannot be made writable with mprotect.
 *
 * Recursion: libholdfs issues its own mmap/munmap/msync as raw syscalls,
 * and calls into libholdfs run with a thread-local flag set, so libpmem2's
 * or malloc's mmaps inside them go straight to the real mmap.
 */
/* Define mmap and mmap64 as two symbols (with 64-bit off_t the header
 * would redirect mmap to mmap64). */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#include "grow.h"
#include "statx_mnt.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define NEG_CACHE 16
#define EXPORT __attribute__((visibility("default")))

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*msync_fn)(void *, size_t, int);

struct lease {
	uint8_t *base;
	size_t len;              /* the whole lease mapping */
	struct holdfs_mapping *m;
};

static mmap_fn real_mmap;
static munmap_fn real_munmap;
static msync_fn real_msync;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool disabled;
static _Thread_local int in_shim;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lease *leases;
static size_t nleases, capleases;
static atomic_size_t nleases_pub;      /* lock-free "any lease?" */
/* FUSE mounts where no holdfs daemon answered, remembered for NEG_TTL
 * seconds (so a FUSE filesystem of another kind costs one look-up, and a
 * holdfs daemon that comes back is found again). */
#define NEG_TTL 5
static struct {
	dev_t dev;
	uint64_t mnt;  /* anonymous device numbers are reused at once */
	time_t until;
} not_holdfs[NEG_CACHE];
static unsigned not_holdfs_next;

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static void child_after_fork(void)
{
	/* leases are not inherited (MADV_DONTFORK); forget them */
	pthread_mutex_init(&lock, NULL);
	nleases = 0;
	atomic_store(&nleases_pub, 0);
}

static void init(void)
{
	const char *e = getenv("HOLDFS_PRELOAD_DISABLE");

	in_shim++;
	disabled = e && *e && strcmp(e, "0") != 0;
	real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
	real_munmap = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
	real_msync = (msync_fn)dlsym(RTLD_NEXT, "msync");
	pthread_atfork(NULL, NULL, child_after_fork);
	in_shim--;
}

static void *sys_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	if (real_mmap)
		return real_mmap(a, l, p, f, fd, o);
	long r = syscall(SYS_mmap, a, l, p, f, fd, o);

	return r == -1 ? MAP_FAILED : (void *)r;
}

static int sys_munmap(void *a, size_t l)
{
	return real_munmap ? real_munmap(a, l) : (int)syscall(SYS_munmap, a, l);
}

static int sys_msync(void *a, size_t l, int f)
{
	return real_msync ? real_msync(a, l, f) : (int)syscall(SYS_msync, a, l, f);
}

/* Worth asking libholdfs?  (cheap checks first) */
static bool candidate(void *addr, int prot, int flags, int fd, dev_t *dev,
		      uint64_t *mnt)
{
	struct statfs sf;
	struct statx sx;
	unsigned i;

	(void)addr;
	if (fd < 0 || (flags & MAP_TYPE) != MAP_SHARED ||
	    (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_ANONYMOUS)) ||
	    (prot & ~(PROT_READ | PROT_WRITE)) || !(prot & (PROT_READ | PROT_WRITE)))
		return false;
	pthread_once(&once, init);
	if (disabled || in_shim)
		return false;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC)
		return false;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | HFC_STATX_MNT, &sx) < 0 ||
	    !(sx.stx_mask & STATX_TYPE) || !S_ISREG(sx.stx_mode))
		return false;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*mnt = sx.stx_mask & HFC_STATX_MNT ? sx.stx_mnt_id : 0;
	pthread_mutex_lock(&lock);
	for (i = 0; i < NEG_CACHE; i++)
		if (not_holdfs[i].dev == *dev && not_holdfs[i].mnt == *mnt &&
		    not_holdfs[i].until > now_s())
			break;
	pthread_mutex_unlock(&lock);
	return i == NEG_CACHE;
}

static bool add_lease(struct holdfs_mapping *m)
{
	if (nleases == capleases &&
	    hfs_grow(&leases, &capleases, nleases + 1, sizeof(*leases)))
		return false;
	leases[nleases++] = (struct lease){ holdfs_addr(m), holdfs_length(m), m };
	atomic_store(&nleases_pub, nleases);
	return true;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct holdfs_mapping *m;
	int saved = errno, r;
	uint64_t mnt = 0;
	dev_t dev = 0;
	bool ok;

	if (!candidate(addr, prot, flags, fd, &dev, &mnt) || off < 0)
		return sys_mmap(addr, len, prot, flags, fd, off);
	in_shim++;
	r = holdfs_map(fd, (uint64_t)off, len, prot, 0, &m);
	if (!r) {
		pthread_mutex_lock(&lock);
		ok = add_lease(m);
		pthread_mutex_unlock(&lock);
		if (!ok) {
			holdfs_unmap(m);
			r = -ENOMEM;
		}
	}
	in_shim--;
	errno = saved;
	if (!r)
		return holdfs_addr(m);
	if (r == -ENOTSUP) {
		pthread_mutex_lock(&lock);
		unsigned k = not_holdfs_next++ % NEG_CACHE;

		not_holdfs[k].dev = dev;
		not_holdfs[k].mnt = mnt;
		not_holdfs[k].until = now_s() + NEG_TTL;
		pthread_mutex_unlock(&lock);
	}
	return sys_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

struct span {
	uint8_t *lo, *hi;
};

static int span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Real munmap of the parts of [a, end) outside the (sorted) spans. */
static int unmap_gaps(uint8_t *a, uint8_t *end, struct span *sp, size_t n)
{
	uint8_t *pos = a;
	int r = 0;

	qsort(sp, n, sizeof(*sp), span_cmp);
	for (size_t i = 0; i <= n; i++) {
		uint8_t *stop = i < n ? sp[i].lo : end;

		if (stop > pos && sys_munmap(pos, (size_t)(stop - pos)) < 0)
			r = -1;
		if (i < n && sp[i].hi > pos)
			pos = sp[i].hi;
	}
	return r;
}

/*
 * A lease whose start lies in [addr, addr+len) is released whole; pages of
 * a lease whose start lies before addr are given up but stay reserved
 * (PROT_NONE) until that lease goes; the rest of the range is unmapped for
 * real.
 */
EXPORT int munmap(void *addr, size_t len)
{
	uint8_t *a = addr, *end = a + len;
	struct holdfs_mapping **drop = NULL;
	struct span *sp = NULL;
	size_t i, n = 0, ns = 0;
	int r;

	pthread_once(&once, init);
	if (!atomic_load(&nleases_pub) || in_shim || !len)
		return sys_munmap(addr, len);
	in_shim++;	/* malloc's own munmap must not come back here */
	pthread_mutex_lock(&lock);
	drop = malloc(nleases * sizeof(*drop));
	sp = malloc(nleases * sizeof(*sp));
	if (!drop || !sp) {
		pthread_mutex_unlock(&lock);
		free(drop);
		free(sp);
		in_shim--;
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nleases;) {
		struct lease *l = &leases[i];
		uint8_t *lend = l->base + l->len;

		if (l->base >= end || lend <= a) {
			i++;
			continue;
		}
		sp[ns++] = (struct span){ l->base > a ? l->base : a,
					  lend < end ? lend : end };
		if (l->base >= a) {
			drop[n++] = l->m;
			leases[i] = leases[--nleases];
			continue;
		}
		/* inside a lease: give the pages up, keep the range */
		sys_mmap(a, (size_t)(sp[ns - 1].hi - a), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		i++;
	}
	atomic_store(&nleases_pub, nleases);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < n; i++)
		holdfs_unmap(drop[i]);  /* releases even if the daemon is gone */
	r = ns ? unmap_gaps(a, end, sp, ns) : sys_munmap(addr, len);
	free(drop);
	free(sp);
	in_shim--;
	return r;
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	struct holdfs_mapping *m = NULL;
	struct holdfs_lease_info li;
	uint8_t *a = addr;
	size_t i, n = 0;
	int r = 0;

	pthread_once(&once, init);
	if (!atomic_load(&nleases_pub) || in_shim)
		return sys_msync(addr, len, flags);
	in_shim++;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nleases; i++)
		if (a >= leases[i].base && a < leases[i].base + leases[i].len) {
			m = leases[i].m;
			n = (size_t)(leases[i].base + leases[i].len - a);
			break;
		}
	/* Held across persist so a concurrent munmap cannot free m. */
	if (m) {
		holdfs_lease_info(m, &li);
		if (li.prot & PROT_WRITE)
			r = holdfs_persist(m, a, len < n ? len : n);
	}
	pthread_mutex_unlock(&lock);
	in_shim--;
	if (!m)
		return sys_msync(addr, len, flags);
	if (r == -ENOTCONN)
		r = 0;  /* durable anyway; the mapping is revoked */
	if (r) {
		errno = -r;
		return -1;
	}
	return 0;
}
