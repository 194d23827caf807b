/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the data path's engine (client/dp_engine.h) that serves
 * every call, for testing the descriptor layer above it: each copy is a
 * positional kernel call at the offset the layer chose (preadv2 /
 * pwritev2 with RWF_NOAPPEND), appends go to the kernel's end of file.
 * A layer that moves offsets wrongly, appends in the wrong place or
 * counts a served call as a kernel one shows up against the FUSE path.
 *
 * libholdfs-stand-in (tests/datapath/meson.build) is libholdfs with this
 * file in place of the engine: same soname, so preloading it ahead of
 * the shim replaces libholdfs in the whole process.  Appends are atomic
 * only among the threads of one process (a mutex), enough for the tests.
 * Writes at an offset use RWF_NOAPPEND (Linux 6.9) so that they land at
 * the offset whatever the description's flags, as an engine's copy does.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "dp_engine.h"

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

struct hfc_dfile {
	atomic_int refs, flags;
};

static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;

struct hfc_dfile *hfc_dfile_new(dev_t dev, ino_t ino, int flags)
{
	struct hfc_dfile *f = malloc(sizeof(*f));

	(void)dev, (void)ino;
	if (f) {
		atomic_init(&f->refs, 1);
		atomic_init(&f->flags, flags);
	}
	return f;
}

void hfc_dfile_hold(struct hfc_dfile *f)
{
	atomic_fetch_add(&f->refs, 1);
}

void hfc_dfile_drop(struct hfc_dfile *f)
{
	if (atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

void hfc_dfile_setfl(struct hfc_dfile *f, int flags)
{
	atomic_store(&f->flags, flags);
}

int hfc_dfile_flags(const struct hfc_dfile *f)
{
	return atomic_load(&((struct hfc_dfile *)f)->flags);
}

static long done(long r)
{
	return r < 0 ? -errno : r;
}

ssize_t hfc_dfile_preadv(struct hfc_dfile *f, int fd, const struct iovec *iov,
			 int iovcnt, uint64_t off, int *why)
{
	(void)f, (void)why;
	return done(syscall(SYS_preadv2, fd, iov, iovcnt, (long)off, 0L, 0));
}

ssize_t hfc_dfile_pwritev(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t off,
			  int *why)
{
	(void)f, (void)why;
	return done(syscall(SYS_pwritev2, fd, iov, iovcnt, (long)off, 0L,
			    RWF_NOAPPEND));
}

int64_t hfc_dfile_size(struct hfc_dfile *f, int fd, int *why)
{
	struct stat st;

	(void)f, (void)why;
	return syscall(SYS_fstat, fd, &st) < 0 ? -errno : (int64_t)st.st_size;
}

ssize_t hfc_dfile_appendv(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t *at,
			  int *why)
{
	sigset_t all, old;
	int64_t size;
	long r;

	/* a signal handler's append would land between the size and the
	 * write (or wait for the lock): signals wait, as the engine's do */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&append_lock);
	size = hfc_dfile_size(f, fd, why);
	*at = (uint64_t)size;
	r = size < 0 ? size : hfc_dfile_pwritev(f, fd, iov, iovcnt, *at, why);
	pthread_mutex_unlock(&append_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int hfc_dfile_sync(struct hfc_dfile *f, int fd, bool data_only, int *why)
{
	(void)f, (void)why;
	return (int)done(syscall(data_only ? SYS_fdatasync : SYS_fsync, fd));
}

void hfc_dfile_invalidate(struct hfc_dfile *f)
{
	(void)f;
}

/* Every write is a kernel call here, which honours O_SYNC itself. */
void hfc_dfile_sync_times(struct hfc_dfile *f)
{
	(void)f;
}

/* Every call is a kernel call here, which enforces RLIMIT_FSIZE itself. */
void hfc_dp_fsize_refresh(void)
{
}

bool hfc_dp_enabled(void)
{
	const char *e = getenv("HOLDFS_DATAPATH");

	return !e || strcmp(e, "0");
}

bool hfc_dp_is_holdfs_dev(dev_t dev, uint64_t mnt)
{
	char p[96];

	(void)mnt;
	snprintf(p, sizeof(p), HFS_CTL_DIR "/dev/%u:%u", major(dev), minor(dev));
	return access(p, F_OK) == 0;
}
