/* SPDX-License-Identifier: MIT */
/*
 * The data path engine's file objects (dp_engine.h).  For now every call
 * is answered HFC_DP_KERNEL: the descriptor layer above is complete and
 * correct on its own (every call goes to the kernel), and the engine
 * serves more as it grows.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "dp_engine.h"

struct hfc_dfile {
	atomic_int refs;
	dev_t dev;
	ino_t ino;
	atomic_int flags;
};

struct hfc_dfile *hfc_dfile_new(dev_t dev, ino_t ino, int flags)
{
	struct hfc_dfile *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	atomic_init(&f->flags, flags);
	f->dev = dev;
	f->ino = ino;
	return f;
}

void hfc_dfile_hold(struct hfc_dfile *f)
{
	atomic_fetch_add(&f->refs, 1);
}

void hfc_dfile_drop(struct hfc_dfile *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1)
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

ssize_t hfc_dfile_preadv(struct hfc_dfile *f, int fd, const struct iovec *iov,
			 int iovcnt, uint64_t off, int *why)
{
	(void)f, (void)fd, (void)iov, (void)iovcnt, (void)off;
	*why = HOLDFS_DP_OTHER;
	return HFC_DP_KERNEL;
}

ssize_t hfc_dfile_pwritev(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t off,
			  int *why)
{
	(void)f, (void)fd, (void)iov, (void)iovcnt, (void)off;
	*why = HOLDFS_DP_OTHER;
	return HFC_DP_KERNEL;
}

ssize_t hfc_dfile_appendv(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t *at,
			  int *why)
{
	(void)f, (void)fd, (void)iov, (void)iovcnt, (void)at;
	*why = HOLDFS_DP_OTHER;
	return HFC_DP_KERNEL;
}

int64_t hfc_dfile_size(struct hfc_dfile *f, int fd, int *why)
{
	(void)f, (void)fd;
	*why = HOLDFS_DP_OTHER;
	return HFC_DP_KERNEL;
}

int hfc_dfile_sync(struct hfc_dfile *f, int fd, bool data_only, int *why)
{
	(void)f, (void)fd, (void)data_only;
	*why = HOLDFS_DP_OTHER;
	return (int)HFC_DP_KERNEL;
}

void hfc_dfile_invalidate(struct hfc_dfile *f)
{
	(void)f;
}

bool hfc_dp_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *e = getenv("HOLDFS_DATAPATH");

		enabled = !(e && !strcmp(e, "0"));
	}
	return enabled;
}

/* A holdfs daemon publishes HFS_CTL_DIR/dev/<major>:<minor> for its
 * mount (docs/lease-protocol.md); remembered per device for a few
 * seconds, so a daemon that starts or stops is noticed. */
#define DEV_CACHE 16
#define DEV_TTL_S 5

static struct {
	_Atomic uint64_t key;   /* dev + 1, 0: empty */
	_Atomic int64_t until;  /* monotonic seconds */
	atomic_bool yes;
} dev_cache[DEV_CACHE];

bool hfc_dp_is_holdfs_dev(dev_t dev)
{
	struct timespec ts;
	char p[96];
	unsigned k = (unsigned)(dev ^ (dev >> 20)) % DEV_CACHE;
	bool yes;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (atomic_load(&dev_cache[k].key) == (uint64_t)dev + 1 &&
	    atomic_load(&dev_cache[k].until) > ts.tv_sec)
		return atomic_load(&dev_cache[k].yes);
	snprintf(p, sizeof(p), HFS_CTL_DIR "/dev/%u:%u", major(dev), minor(dev));
	yes = access(p, F_OK) == 0;
	atomic_store(&dev_cache[k].yes, yes);
	atomic_store(&dev_cache[k].until, (int64_t)ts.tv_sec + DEV_TTL_S);
	atomic_store(&dev_cache[k].key, (uint64_t)dev + 1);
	return yes;
}
