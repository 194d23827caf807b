/* SPDX-License-Identifier: MIT */
/*
 * The simulated data-path client (dpclient.h).
 */
#include "dpclient.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <libpmem2.h>

#include <holdfs/format.h>
#include <holdfs/proto.h> /* struct hfs_lease_extent */

#define MAX_EXT 256

static struct hfs_lease_extent ext[MAX_EXT];

static uint64_t round_down(uint64_t x, uint64_t u)
{
	return x / u * u;
}

static uint64_t round_up(uint64_t x, uint64_t u)
{
	return (x + u - 1) / u * u;
}

/* The lease extents of the units covering [off, off + len) into ext. */
static int extents(struct hfs_vol *v, uint64_t ino, uint64_t off,
		   uint64_t len, uint32_t *n)
{
	uint64_t unit = hfs_vol_alloc_unit(v), s = round_down(off, unit);

	*n = 0;
	return hfs_lease_extents(v, ino, s, round_up(off + len, unit) - s,
				 false, ext, MAX_EXT, n, NULL, NULL);
}

int dpc_store(struct hfs_vol *v, uint64_t ino, uint64_t off,
	      const uint8_t *buf, uint64_t len, unsigned flags)
{
	struct hfs_region *rg = hfs_vol_region(v);
	uint32_t n;
	int r;

	if (len == 0)
		return 0;
	r = extents(v, ino, off, len, &n);
	for (uint32_t i = 0; !r && i < n; i++) {
		const struct hfs_lease_extent *x = &ext[i];
		uint64_t s = x->file_off > off ? x->file_off : off;
		uint64_t e = off + len < x->file_off + x->len
				     ? off + len : x->file_off + x->len;
		uint8_t *dst = rg->base + x->region_off + (s - x->file_off);

		if ((x->flags & HFS_LEXT_HOLE) || s >= e)
			continue;
		if (buf)
			rg->ops.memcpy(dst, buf + (s - off), e - s, flags);
		else
			rg->ops.memset(dst, 0, e - s, flags);
	}
	return r;
}

bool dpc_has_holes(struct hfs_vol *v, uint64_t ino, uint64_t off,
		   uint64_t len)
{
	uint32_t n;

	if (len == 0)
		return false;
	if (extents(v, ino, off, len, &n))
		return true;
	for (uint32_t i = 0; i < n; i++)
		if (ext[i].flags & HFS_LEXT_HOLE)
			return true;
	return false;
}

const struct hfs_dslot *dpc_slot(struct hfs_vol *v, uint32_t idx)
{
	uint64_t off;
	uint32_t count;

	hfs_vol_dslot_area(v, &off, &count);
	if (!off || idx >= count)
		return NULL;
	return (const struct hfs_dslot *)(hfs_vol_region(v)->base + off +
					  (uint64_t)idx * HFS_DSLOT_SIZE);
}

/* A word of the slot, stored (and flushed per flags) through rg->ops:
 * what the client's atomic stores are, seen by the tracer. */
static void put(struct hfs_region *rg, const struct hfs_dslot *s,
		size_t field, const void *v, size_t n, unsigned flags)
{
	rg->ops.memcpy((uint8_t *)s + field, v, n, flags);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts); /* the fake clock (fakeclock.h) */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* stamp(): the time of the last direct write, stored, not persisted
 * (fsync persists the line) */
static void stamp(struct hfs_region *rg, const struct hfs_dslot *s)
{
	uint64_t t = now_ns();

	put(rg, s, offsetof(struct hfs_dslot, ds_mtime), &t, sizeof(t),
	    PMEM2_F_MEM_NOFLUSH);
}

int dpc_write(struct hfs_vol *v, uint64_t ino, uint32_t idx,
	      const uint8_t *buf, uint64_t len, uint64_t *off, bool append)
{
	struct hfs_region *rg = hfs_vol_region(v);
	const struct hfs_dslot *s = dpc_slot(v, idx);
	uint64_t unit = hfs_vol_alloc_unit(v), size, end, dirty, zend;
	uint32_t id = DPC_CLIENT_ID, free_lock = 0;
	int r = 0;

	if (!s || s->ds_ino != ino)
		return -ENOENT;
	size = __atomic_load_n(&s->ds_size, __ATOMIC_ACQUIRE);
	/* the client copies only into windows over blocks: a hole under
	 * the data or the gap sends it to the daemon for a lease first */
	if (append)
		*off = size;
	if (*off + len > s->ds_limit && *off + len > size)
		return -ENOSPC;
	if (dpc_has_holes(v, ino, *off < size ? *off : size,
			  *off + len - (*off < size ? *off : size)))
		return -ENODATA;
	if (!append && *off + len <= size) {
		/* in place: no lock */
		r = dpc_store(v, ino, *off, buf, len, 0);
		if (!r)
			stamp(rg, s);
		return r;
	}
	/* The lock word is never persisted on purpose, but the client's
	 * persist of its line below covers it: a crash may find it set. */
	if (s->ds_lock)
		return -EBUSY;
	put(rg, s, offsetof(struct hfs_dslot, ds_lock), &id, sizeof(id),
	    PMEM2_F_MEM_NOFLUSH);
	size = s->ds_size;
	if (append)
		*off = size;
	end = *off + len;
	if (end > s->ds_limit) {
		r = -ENOSPC;
		goto unlock;
	}
	if (end > size) {
		/* raise ds_dirty first: a writer that dies before it
		 * publishes leaves its bytes past the size known */
		dirty = s->ds_dirty;
		if (dirty < end)
			put(rg, s, offsetof(struct hfs_dslot, ds_dirty), &end,
			    sizeof(end), PMEM2_F_MEM_NOFLUSH);
		/* the gap: the last unit's tail (DAX stores past EOF) and
		 * what an unpublished write may have left */
		zend = round_up(size, unit);
		if (dirty > zend)
			zend = dirty;
		if (zend > *off)
			zend = *off;
		if (zend > size)
			r = dpc_store(v, ino, size, NULL, zend - size, 0);
	}
	if (!r)
		r = dpc_store(v, ino, *off, buf, len, 0);
	if (!r && end > size) {
		put(rg, s, offsetof(struct hfs_dslot, ds_size), &end,
		    sizeof(end), PMEM2_F_MEM_NOFLUSH);
		stamp(rg, s);
		rg->ops.persist(&s->ds_size, 64);
	} else if (!r) {
		stamp(rg, s);
	}
unlock:
	put(rg, s, offsetof(struct hfs_dslot, ds_lock), &free_lock,
	    sizeof(free_lock), PMEM2_F_MEM_NOFLUSH);
	return r;
}
