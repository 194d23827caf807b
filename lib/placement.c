/* SPDX-License-Identifier: MIT */
/*
 * Which device new blocks go to, in a volume of several (docs/format.md
 * "Several devices", "Placement").
 *
 * The rule is simple so an operator can predict it:
 *  - metadata blocks (directories, extent overflow, xattrs) go to the
 *    metadata member (member 0), into its metadata zone when the volume
 *    keeps a mirror of it (s_meta_end): losing a data member must not
 *    cost a directory, and losing member 0 must not either;
 *  - a file's data goes where its data already is (the allocation hint,
 *    the end of its last extent, names the member), so a file stays on
 *    one device and a lost device fails only the files that had data on
 *    it;
 *  - a file's first data goes to the device its placement choice names
 *    (trusted.holdfs.device, place_choice.c) when it has one and that
 *    device is in service, else to the member with the most free
 *    blocks; so does data with nothing before it in the file, or only
 *    data on a device out of service;
 *  - only when that member is full does a file spill over to another
 *    one, the one with the most free blocks (space wins over failure
 *    isolation and over the choice: a write never fails with ENOSPC
 *    while the volume has room).
 */
#include "placement_i.h"

#include <errno.h>

#include "vol_i.h"

static void member_pool(const struct hfs_vol *vol, unsigned i, uint64_t *lo,
			uint64_t *hi)
{
	const struct hfs_dev_entry *d = &vol->devtab.t_dev[i];

	*lo = d->d_pool_off / HFS_BLOCK_SIZE;
	*hi = *lo + d->d_pool_blocks;
}

/* With a mirror, device 0's pool is two: the metadata zone (mirrored)
 * first, then room for data. */
static void zone_split(const struct hfs_vol *vol, bool meta, uint64_t *lo,
		       uint64_t *hi)
{
	uint64_t z = vol->sb.s_meta_end / HFS_BLOCK_SIZE;

	if (!z)
		return;
	if (meta)
		*hi = z;
	else
		*lo = z;
}

/* Where file data may go on device i. */
static void data_pool(const struct hfs_vol *vol, unsigned i, uint64_t *lo,
		      uint64_t *hi)
{
	member_pool(vol, i, lo, hi);
	if (i == 0)
		zone_split(vol, false, lo, hi);
}

int hfs_place_member_of(const struct hfs_vol *vol, uint64_t blk)
{
	for (uint32_t i = 0; i < vol->devtab.t_count; i++) {
		uint64_t lo, hi;

		member_pool(vol, i, &lo, &hi);
		if (blk >= lo && blk < hi)
			return (int)i;
	}
	return -1;
}

uint64_t hfs_place_member_free(const struct hfs_vol *vol, unsigned i)
{
	uint64_t lo, hi;

	member_pool(vol, i, &lo, &hi);
	return hfs_alloc_free_in(&vol->alloc, lo, hi);
}

uint64_t hfs_place_meta_free(const struct hfs_vol *vol)
{
	uint64_t lo, hi;

	member_pool(vol, 0, &lo, &hi);
	zone_split(vol, true, &lo, &hi);
	return hfs_alloc_free_in(&vol->alloc, lo, hi);
}

uint64_t hfs_place_data_free(const struct hfs_vol *vol)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < vol->devtab.t_count; i++) {
		uint64_t lo, hi;

		if (vol->devtab.t_dev[i].d_state != HFS_DEV_ACTIVE ||
		    !(vol->devtab.t_dev[i].d_role & HFS_DEV_ROLE_DATA))
			continue;
		data_pool(vol, i, &lo, &hi);
		sum += hfs_alloc_free_in(&vol->alloc, lo, hi);
	}
	return sum;
}

/* Can device i take new file data? */
static bool in_service(const struct hfs_vol *vol, int i)
{
	return i >= 0 && (uint32_t)i < vol->devtab.t_count &&
	       vol->devtab.t_dev[i].d_state == HFS_DEV_ACTIVE &&
	       (vol->devtab.t_dev[i].d_role & HFS_DEV_ROLE_DATA);
}

static unsigned emptiest(const struct hfs_vol *vol)
{
	uint64_t best = 0;
	unsigned m = 0;

	for (uint32_t i = 0; i < vol->devtab.t_count; i++) {
		uint64_t f;

		if (vol->devtab.t_dev[i].d_state != HFS_DEV_ACTIVE ||
		    !(vol->devtab.t_dev[i].d_role & HFS_DEV_ROLE_DATA))
			continue;
		{
			uint64_t lo, hi;

			data_pool(vol, i, &lo, &hi);
			f = hfs_alloc_free_in(&vol->alloc, lo, hi);
		}
		if (f > best) {
			best = f;
			m = i;
		}
	}
	return m;
}

int64_t hfs_place_alloc(struct hfs_vol *vol, enum hfs_rmap_kind kind,
			uint64_t want, uint64_t min, uint64_t align,
			uint64_t hint, int pref, uint64_t *got)
{
	uint64_t lo, hi;
	int64_t b;
	int m;

	if (!vol->devtab.t_count)
		return hfs_alloc_get(&vol->alloc, want, min, align, hint, got);
	if (kind != HFS_RMAP_DATA) {
		/* metadata: device 0's zone (or pool), never elsewhere */
		member_pool(vol, 0, &lo, &hi);
		zone_split(vol, true, &lo, &hi);
		return hfs_alloc_get_in(&vol->alloc, want, min, align, hint, lo,
					hi, got);
	}
	if ((m = hfs_place_member_of(vol, hint)) < 0 || hint == 0 ||
		 vol->devtab.t_dev[m].d_state != HFS_DEV_ACTIVE)
		m = in_service(vol, pref) ? pref : (int)emptiest(vol);
	data_pool(vol, (unsigned)m, &lo, &hi);
	b = hfs_alloc_get_in(&vol->alloc, want, min, align, hint, lo, hi, got);
	if (b != -ENOSPC)
		return b;
	/* full: spill over to whichever member has room */
	m = (int)emptiest(vol);
	data_pool(vol, (unsigned)m, &lo, &hi);
	return hfs_alloc_get_in(&vol->alloc, want, min, align, lo, lo, hi, got);
}
