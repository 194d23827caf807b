/* SPDX-License-Identifier: MIT */
/*
 * Superblock: validation, checksum, reading the primary (block 0) with a
 * fallback to the backup (last 4 KiB block of the region), and writing
 * the backup.  The rules are in docs/format.md ("Superblocks").
 *
 * Checks run in this order, so that the first failure names the most
 * useful cause: magic, major version, checksum, region size (truncated
 * image), feature flags, geometry.  Version comes before the checksum so
 * a future format is reported as such rather than as corruption; the
 * checksum comes before the other fields because they mean nothing
 * without it.
 *
 * Errors: -EINVAL when the region is not (or not entirely) a holdfs this
 * code can read (bad magic, unsupported version or features, truncated
 * region); -EUCLEAN when it is one but the superblock is damaged
 * (checksum, geometry).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "media.h"
#include "mkfs.h"
#include "region.h"

#define SB_CRC_OFF offsetof(struct hfs_super, s_crc)
#define BLK ((uint64_t)HFS_BLOCK_SIZE)
/* Sanity bounds for the small fixed areas (they are read whole). */
#define SB_MAX_SMALL_AREA_BLOCKS (1ull << 20)

enum sb_verdict {
	SB_OK = 0,
	SB_MAGIC,
	SB_VERSION,
	SB_CRC,
	SB_TRUNCATED,
	SB_FEATURES,
	SB_GEOMETRY,
};

void hfs_super_set_crc(struct hfs_super *sb)
{
	sb->s_crc = hfs_crc_struct(sb, sizeof(*sb), SB_CRC_OFF);
}

static bool sb_crc_ok(const struct hfs_super *sb)
{
	return sb->s_crc == hfs_crc_struct(sb, sizeof(*sb), SB_CRC_OFF);
}

uint64_t hfs_super_backup_off(uint64_t rg_size)
{
	uint64_t end = rg_size & ~(BLK - 1);

	/* Regions too small for two blocks have no backup location. */
	return end >= 2 * BLK ? end - BLK : 0;
}

void hfs_super_pool_range(const struct hfs_super *sb, uint64_t *start,
			  uint64_t *end)
{
	*start = sb->s_pool_off / BLK;
	*end = sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV
		       ? sb->s_pool_end / BLK
		       : *start + sb->s_pool_blocks;
}

uint64_t hfs_super_volume_end(const struct hfs_super *sb)
{
	return sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV
		       ? sb->s_pool_end
		       : sb->s_region_size;
}

/* One area of the layout, in the order the layout comment gives. */
struct sb_area {
	const char *name;
	uint64_t off;
	uint64_t blocks;
	bool absent;    /* an optional area this filesystem does not have */
};

/* Check the areas are 4 KiB aligned, non-empty, in order, disjoint and
 * end before the backup superblock.  why gets the first problem. */
static bool sb_areas_ok(const struct hfs_super *sb, char *why, size_t wlen)
{
	uint64_t ibytes = sb->s_inode_count * HFS_INODE_SIZE;
	const struct sb_area a[] = {
		{ "health log", sb->s_health_off, sb->s_health_blocks },
		{ "bad-extent list", sb->s_badlist_off, sb->s_badlist_blocks },
		{ "journal", sb->s_journal_off, sb->s_journal_blocks },
		{ "inode table", sb->s_itable_off, (ibytes + BLK - 1) / BLK },
		{ "data-path slot area", sb->s_dslot_off,
		  ((uint64_t)sb->s_dslot_count * HFS_DSLOT_SIZE + BLK - 1) / BLK,
		  !(sb->s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) },
		/* several devices: the pool goes on past member 0, whose
		 * share the device table checks (lib/members.c) */
		{ "pool", sb->s_pool_off,
		  sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV
			  ? 1 : sb->s_pool_blocks },
	};
	uint64_t prev_end = BLK; /* block 0: primary superblock */

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		const struct sb_area *x = &a[i];

		if (x->absent)
			continue;

		if (x->off % BLK || x->blocks == 0 ||
		    x->blocks > (UINT64_MAX - x->off) / BLK) {
			snprintf(why, wlen, "%s at 0x%" PRIx64 " (%" PRIu64
				 " blocks) is misaligned or empty",
				 x->name, x->off, x->blocks);
			return false;
		}
		if (x->off < prev_end) {
			snprintf(why, wlen, "%s at 0x%" PRIx64
				 " overlaps the area before it (ends 0x%"
				 PRIx64 ")", x->name, x->off, prev_end);
			return false;
		}
		prev_end = x->off + x->blocks * BLK;
		if (prev_end > sb->s_backup_off) {
			snprintf(why, wlen, "%s ends at 0x%" PRIx64
				 ", past the backup superblock at 0x%" PRIx64,
				 x->name, prev_end, sb->s_backup_off);
			return false;
		}
	}
	return true;
}

static bool sb_geometry_ok(const struct hfs_super *sb, char *why,
			   size_t wlen)
{
	uint32_t au = sb->s_alloc_unit;

	if (sb->s_block_size != HFS_BLOCK_SIZE) {
		snprintf(why, wlen, "block size %" PRIu32 " is not %u",
			 sb->s_block_size, HFS_BLOCK_SIZE);
		return false;
	}
	if (au < HFS_BLOCK_SIZE || (au & (au - 1))) {
		snprintf(why, wlen, "allocation unit %" PRIu32
			 " is not a power of two >= %u", au, HFS_BLOCK_SIZE);
		return false;
	}
	if (sb->s_backup_off != hfs_super_backup_off(sb->s_region_size) ||
	    sb->s_backup_off == 0) {
		snprintf(why, wlen, "backup superblock offset 0x%" PRIx64
			 " does not match the region size %" PRIu64,
			 sb->s_backup_off, sb->s_region_size);
		return false;
	}
	if (sb->s_health_blocks > SB_MAX_SMALL_AREA_BLOCKS ||
	    sb->s_badlist_blocks > SB_MAX_SMALL_AREA_BLOCKS) {
		snprintf(why, wlen, "health log or bad-extent list too large");
		return false;
	}
	if (sb->s_inode_count < 2 ||
	    sb->s_inode_count > UINT64_MAX / HFS_INODE_SIZE) {
		snprintf(why, wlen, "inode count %" PRIu64 " out of range",
			 sb->s_inode_count);
		return false;
	}
	if (!sb_areas_ok(sb, why, wlen))
		return false;
	if (sb->s_pool_off % au) {
		snprintf(why, wlen, "pool offset 0x%" PRIx64
			 " is not aligned to the allocation unit %" PRIu32,
			 sb->s_pool_off, au);
		return false;
	}
	if ((sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV) &&
	    (sb->s_pool_end % au || sb->s_pool_end <= sb->s_region_size ||
	     (sb->s_pool_end - sb->s_pool_off) / BLK < sb->s_pool_blocks)) {
		snprintf(why, wlen, "pool end 0x%" PRIx64 " of a volume of "
			 "several devices is misaligned, inside the first, or "
			 "too close for %" PRIu64 " pool blocks", sb->s_pool_end,
			 sb->s_pool_blocks);
		return false;
	}
	if (sb->s_inode_hwm < HFS_ROOT_INO + 1 ||
	    sb->s_inode_hwm > sb->s_inode_count) {
		snprintf(why, wlen, "inode high-water mark %" PRIu64
			 " out of range (inode count %" PRIu64 ")",
			 sb->s_inode_hwm, sb->s_inode_count);
		return false;
	}
	if (sb->s_root_blocks > sb->s_pool_blocks ||
	    sb->s_root_inodes >= sb->s_inode_count) {
		snprintf(why, wlen, "root reserve (%" PRIu64 " blocks, %"
			 PRIu64 " inodes) larger than the filesystem",
			 sb->s_root_blocks, sb->s_root_inodes);
		return false;
	}
	return true;
}

static enum sb_verdict sb_check(const struct hfs_super *sb, uint64_t rg_size,
				char *why, size_t wlen)
{
	uint32_t unknown;

	if (sb->s_magic != HFS_SB_MAGIC) {
		snprintf(why, wlen,
			 "not a holdfs region (bad magic); run mkfs.holdfs");
		return SB_MAGIC;
	}
	if (sb->s_version_major != HFS_VERSION_MAJOR) {
		snprintf(why, wlen, "unsupported format version %" PRIu32
			 ".%" PRIu32 " (this build reads %d.x)",
			 sb->s_version_major, sb->s_version_minor,
			 HFS_VERSION_MAJOR);
		return SB_VERSION;
	}
	if (!sb_crc_ok(sb)) {
		snprintf(why, wlen, "superblock checksum mismatch");
		return SB_CRC;
	}
	if (sb->s_region_size > rg_size) {
		snprintf(why, wlen, "region is smaller than the filesystem "
			 "(truncated image?): %" PRIu64 " < %" PRIu64 " bytes",
			 rg_size, sb->s_region_size);
		return SB_TRUNCATED;
	}
	unknown = sb->s_feat_incompat & ~HFS_FEAT_INCOMPAT_SUPPORTED;
	if (unknown) {
		snprintf(why, wlen, "unsupported incompatible features 0x%"
			 PRIx32 "; a newer holdfs is needed", unknown);
		return SB_FEATURES;
	}
	if (!sb_geometry_ok(sb, why, wlen))
		return SB_GEOMETRY;
	return SB_OK;
}

static int sb_verdict_errno(enum sb_verdict v)
{
	switch (v) {
	case SB_OK:
		return 0;
	case SB_CRC:
	case SB_GEOMETRY:
		return -EUCLEAN;
	default:
		return -EINVAL;
	}
}

int hfs_super_check(const struct hfs_super *sb, uint64_t rg_size,
		    const char *which, struct hfs_err *err)
{
	char why[400];
	enum sb_verdict v = sb_check(sb, rg_size, why, sizeof(why));

	if (v == SB_OK)
		return 0;
	if (which)
		return hfs_err_set(err, sb_verdict_errno(v), "%s: %s", which,
				   why);
	return hfs_err_set(err, sb_verdict_errno(v), "%s", why);
}

/* Read and check the superblock copy at off.  Returns a verdict, or -1
 * with why filled if it could not be read at all. */
static int sb_load(struct hfs_region *rg, uint64_t off, struct hfs_super *sb,
		   char *why, size_t wlen)
{
	struct hfs_fault f = { 0 };
	int rc;

	if (off + sizeof(*sb) > rg->size) {
		snprintf(why, wlen, "region too small (%" PRIu64 " bytes) to "
			 "hold a holdfs; run mkfs.holdfs", rg->size);
		return SB_MAGIC;
	}
	rc = hfs_region_read(rg, off, sb, sizeof(*sb), &f);
	if (rc) {
		snprintf(why, wlen, "superblock at 0x%" PRIx64
			 " unreadable (%s at 0x%" PRIx64 ")", off,
			 rc == -EIO ? "media error" : "range error", f.off);
		return -1;
	}
	return sb_check(sb, hfs_region_member_size(rg, 0), why, wlen);
}

int hfs_super_read(struct hfs_region *rg, bool force_backup,
		   struct hfs_super *sb, bool *used_backup,
		   struct hfs_err *err)
{
	char pwhy[400] = "", bwhy[400];
	int pv = SB_MAGIC, bv;
	uint64_t boff = hfs_super_backup_off(hfs_region_member_size(rg, 0));
	struct hfs_super b;

	if (used_backup)
		*used_backup = false;
	if (!force_backup) {
		pv = sb_load(rg, 0, sb, pwhy, sizeof(pwhy));
		if (pv == SB_OK)
			return 0;
		/* A truncated region lost its backup with its tail. */
		if (pv == SB_TRUNCATED)
			return hfs_err_set(err, -EINVAL, "%s: %s", rg->path,
					   pwhy);
	}
	if (boff == 0) {
		snprintf(bwhy, sizeof(bwhy), "region too small (%" PRIu64
			 " bytes) for a backup superblock", rg->size);
		bv = SB_MAGIC;
	} else {
		bv = sb_load(rg, boff, &b, bwhy, sizeof(bwhy));
	}
	if (bv == SB_OK) {
		*sb = b;
		if (used_backup)
			*used_backup = true;
		return 0;
	}
	if (force_backup)
		return hfs_err_set(err, bv < 0 ? -EIO : sb_verdict_errno(bv),
				   "%s: backup superblock: %s", rg->path, bwhy);
	if (pv == SB_MAGIC && bv == SB_MAGIC)
		return hfs_err_set(err, -EINVAL, "%s: %s", rg->path, pwhy);
	if (pv == SB_MAGIC) /* a holdfs whose primary was overwritten */
		return hfs_err_set(err, bv < 0 ? -EIO : sb_verdict_errno(bv),
				   "%s: primary superblock has a bad magic "
				   "number and the backup at 0x%" PRIx64
				   " is bad too (%s); run fsck.holdfs",
				   rg->path, boff, bwhy);
	return hfs_err_set(err, pv < 0 ? -EIO : sb_verdict_errno(pv),
			   "%s: %s; backup superblock at 0x%" PRIx64
			   " is bad too (%s); run fsck.holdfs",
			   rg->path, pwhy, boff, bwhy);
}

int hfs_super_write_backup(struct hfs_region *rg, struct hfs_super *sb)
{
	if (sb->s_backup_off < BLK ||
	    sb->s_backup_off + BLK > rg->size)
		return -ERANGE;
	hfs_super_set_crc(sb);
	return hfs_region_write(rg, sb->s_backup_off, sb, sizeof(*sb), NULL);
}

/* Magic and checksum only: any holdfs, even one this build cannot mount
 * or one on a truncated region, counts as "a filesystem is here". */
static bool sb_probe_at(struct hfs_region *rg, uint64_t off,
			struct hfs_super *sb)
{
	if (off + sizeof(*sb) > rg->size)
		return false;
	if (hfs_region_read(rg, off, sb, sizeof(*sb), NULL))
		return false;
	return sb->s_magic == HFS_SB_MAGIC && sb_crc_ok(sb);
}

int hfs_super_probe(struct hfs_region *rg, struct hfs_super *sb)
{
	struct hfs_super tmp;
	uint64_t boff = hfs_super_backup_off(hfs_region_member_size(rg, 0));

	if (!sb)
		sb = &tmp;
	if (sb_probe_at(rg, 0, sb))
		return 1;
	if (boff && sb_probe_at(rg, boff, sb))
		return 1;
	return 0;
}
