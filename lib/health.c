/* SPDX-License-Identifier: MIT */
/*
 * Persistent health/error log: a ring of 128-byte self-validating records
 * at sb.s_health_off (nrec = s_health_blocks * 4096 / 128).
 *
 * Record n (n = 1, 2, ...) lives in slot (n - 1) % nrec, so the ring
 * overwrites the oldest record.  Records are written directly and
 * persisted, not journaled: a record torn by a crash fails its crc and is
 * skipped, and the others are untouched.  A slot is valid when h_seq != 0,
 * its crc matches and it sits in the slot its sequence number names.
 *
 * The next sequence number comes from vol->health_seq, which the
 * volume sets at mount from hfs_health_last_seq().  hfs_health_log()
 * serialises itself on a private mutex (failure paths call it without
 * vol->lock) and bumps s_health_seq atomically.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health_i.h"
#include "media.h"
#include "region.h"
#include "vol_i.h"

#define REC_SIZE sizeof(struct hfs_health_rec)
#define REC_CRC_OFF offsetof(struct hfs_health_rec, h_crc)
#define RECS_PER_BLOCK (HFS_BLOCK_SIZE / REC_SIZE)

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t health_nrec(const struct hfs_super *sb)
{
	return sb->s_health_blocks * RECS_PER_BLOCK;
}

const char *hfs_health_type_name(uint32_t type)
{
	static const char *const names[] = {
		[HFS_HEALTH_MOUNT] = "mount",
		[HFS_HEALTH_UNMOUNT] = "unmount",
		[HFS_HEALTH_REPLAY] = "journal-replay",
		[HFS_HEALTH_MEDIA_ERROR] = "media-error",
		[HFS_HEALTH_DEVICE_LOSS] = "device-loss",
		[HFS_HEALTH_LOST_DATA] = "lost-data",
		[HFS_HEALTH_FSCK] = "fsck",
		[HFS_HEALTH_BACKUP_SB] = "backup-superblock",
		[HFS_HEALTH_CORRUPTION] = "corruption",
		[HFS_HEALTH_OFFLINE] = "offline",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hfs_health_quiesce(bool hold)
{
	if (hold)
		pthread_mutex_lock(&health_lock);
	else
		pthread_mutex_unlock(&health_lock);
}

int hfs_health_log(struct hfs_vol *vol, enum hfs_health_type type,
		   uint64_t off, uint64_t len, uint64_t ino, const char *msg)
{
	uint64_t nrec = health_nrec(&vol->sb);
	struct hfs_health_rec r = {
		.h_type = (uint32_t)type,
		.h_off = off,
		.h_len = len,
		.h_ino = ino,
	};
	int rc;

	if (vol->readonly || vol->rg->readonly)
		return -EROFS;
	if (nrec == 0)
		return -EINVAL;
	if (msg) /* keep a terminating NUL: readers may print it as is */
		strncpy(r.h_msg, msg, sizeof(r.h_msg) - 1);
	r.h_time = now_ns();

	pthread_mutex_lock(&health_lock);
	r.h_seq = __atomic_add_fetch(&vol->health_seq, 1,
				     __ATOMIC_RELAXED);
	r.h_crc = hfs_crc_struct(&r, REC_SIZE, REC_CRC_OFF);
	rc = hfs_region_write(vol->rg, vol->sb.s_health_off +
			      ((r.h_seq - 1) % nrec) * REC_SIZE,
			      &r, REC_SIZE, NULL);
	pthread_mutex_unlock(&health_lock);
	return rc;
}

static bool rec_valid(const struct hfs_health_rec *r, uint64_t slot,
		      uint64_t nrec)
{
	return r->h_seq != 0 && (r->h_seq - 1) % nrec == slot &&
	       r->h_crc == hfs_crc_struct(r, REC_SIZE, REC_CRC_OFF);
}

static int rec_cmp(const void *a, const void *b)
{
	const struct hfs_health_rec *x = a, *y = b;

	return x->h_seq < y->h_seq ? -1 : x->h_seq > y->h_seq;
}

/* Read the ring block by block (a poisoned block loses only its own
 * records) and keep the valid records, compacted at the front of *out.
 * Returns the number kept, or -ENOMEM; *faulted set if a block could
 * not be read. */
static int64_t health_collect(struct hfs_region *rg,
			      const struct hfs_super *sb,
			      struct hfs_health_rec **out, bool *faulted)
{
	uint64_t nrec = health_nrec(sb), kept = 0;
	struct hfs_health_rec *v;

	*faulted = false;
	*out = NULL;
	if (nrec == 0)
		return 0;
	v = malloc(nrec * REC_SIZE);
	if (!v)
		return -ENOMEM;
	for (uint64_t b = 0; b < sb->s_health_blocks; b++) {
		struct hfs_health_rec *blk = &v[kept];

		if (hfs_region_read(rg, sb->s_health_off + b * HFS_BLOCK_SIZE,
				    blk, HFS_BLOCK_SIZE, NULL)) {
			*faulted = true;
			continue;
		}
		for (uint64_t i = 0; i < RECS_PER_BLOCK; i++) {
			if (rec_valid(&blk[i], b * RECS_PER_BLOCK + i, nrec))
				v[kept++] = blk[i];
		}
	}
	*out = v;
	return (int64_t)kept;
}

int hfs_health_walk(struct hfs_region *rg, const struct hfs_super *sb,
		    int (*cb)(void *ctx, const struct hfs_health_rec *r),
		    void *ctx)
{
	struct hfs_health_rec *v;
	bool faulted;
	int64_t n = health_collect(rg, sb, &v, &faulted);

	if (n < 0)
		return (int)n;
	qsort(v, (size_t)n, REC_SIZE, rec_cmp);
	for (int64_t i = 0; i < n; i++) {
		if (cb(ctx, &v[i]))
			break;
	}
	free(v);
	return faulted ? -EIO : 0;
}

uint64_t hfs_health_last_seq(struct hfs_region *rg,
			     const struct hfs_super *sb)
{
	struct hfs_health_rec *v;
	bool faulted;
	uint64_t max = 0;
	int64_t n = health_collect(rg, sb, &v, &faulted);

	for (int64_t i = 0; i < n; i++) {
		if (v[i].h_seq > max)
			max = v[i].h_seq;
	}
	free(v);
	return max;
}
