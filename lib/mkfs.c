/* SPDX-License-Identifier: MIT */
/*
 * Formatting: compute the layout, clear the metadata areas, write the
 * bad-extent list, the root directory and the two superblocks.
 *
 * Crash safety: both old superblocks are destroyed first and the new
 * primary is written last, after everything it describes (backup
 * included).  A crash part-way leaves either no valid superblock, or
 * only a valid backup describing the complete new filesystem.
 *
 * Cost: the metadata areas are cleared, not the pool, so formatting is
 * O(metadata).  A chunk that already reads as zeros is not rewritten,
 * which keeps a fresh sparse image file sparse.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "media.h"
#include "mkfs.h"
#include "region.h"

#define BLK ((uint64_t)HFS_BLOCK_SIZE)
#define MIN_JOURNAL_BLOCKS 64u
#define MIN_POOL_BLOCKS 64u
#define MIN_POOL_UNITS 4u
#define BYTES_PER_INODE (16u << 10)
#define MAX_DEFAULT_INODES (4ull << 20)
#define MIN_INODES 64u
#define INODES_PER_BLOCK (HFS_BLOCK_SIZE / HFS_INODE_SIZE)
#define MAX_ALLOC_UNIT (1ull << 30)
#define ZERO_CHUNK (64u << 10)

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t round_down(uint64_t x, uint64_t a)
{
	return x / a * a;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int mkfs_alloc_unit(const struct hfs_region *rg,
			   const struct hfs_mkfs_opts *o, uint64_t *au,
			   struct hfs_err *err)
{
	uint64_t align = rg->align ? rg->align : BLK;

	*au = o->alloc_unit ? o->alloc_unit : (align > BLK ? align : BLK);
	if (!is_pow2(*au) || *au < BLK || *au > MAX_ALLOC_UNIT)
		return hfs_err_set(err, -EINVAL, "%s: allocation unit %" PRIu64
				   " must be a power of two between %" PRIu64
				   " and %llu bytes", rg->path, *au, BLK,
				   MAX_ALLOC_UNIT);
	if (*au % align)
		return hfs_err_set(err, -EINVAL, "%s: allocation unit %" PRIu64
				   " is not a multiple of the region's mapping "
				   "alignment %" PRIu64 " (device-dax can only "
				   "map extents aligned to it); use a multiple "
				   "of %" PRIu64, rg->path, *au, align, align);
	return 0;
}

/* Journal size: what was asked, or 1/64 of the region within
 * [MIN_JOURNAL_BLOCKS, HFS_JOURNAL_BLOCKS]. */
static int mkfs_journal_blocks(const struct hfs_region *rg,
			       const struct hfs_mkfs_opts *o, uint64_t *out,
			       struct hfs_err *err)
{
	uint64_t j = rg->size / 64 / BLK;

	if (o->journal_blocks) {
		if (o->journal_blocks < MIN_JOURNAL_BLOCKS)
			return hfs_err_set(err, -EINVAL, "%s: journal of %"
					   PRIu64 " blocks is too small; use "
					   "at least %u", rg->path,
					   o->journal_blocks,
					   MIN_JOURNAL_BLOCKS);
		*out = o->journal_blocks;
		return 0;
	}
	if (j > HFS_JOURNAL_BLOCKS)
		j = HFS_JOURNAL_BLOCKS;
	*out = j < MIN_JOURNAL_BLOCKS ? MIN_JOURNAL_BLOCKS : j;
	return 0;
}

/* Inode slots: what was asked, or one per 16 KiB of region within
 * [MIN_INODES, 4M]; rounded up to fill whole table blocks. */
static int mkfs_inode_count(const struct hfs_region *rg,
			    const struct hfs_mkfs_opts *o, uint64_t *out,
			    struct hfs_err *err)
{
	uint64_t n = rg->size / BYTES_PER_INODE;

	if (o->inode_count) {
		if (o->inode_count < INODES_PER_BLOCK ||
		    o->inode_count > UINT32_MAX)
			return hfs_err_set(err, -EINVAL, "%s: inode count %"
					   PRIu64 " out of range [%u, %u]",
					   rg->path, o->inode_count,
					   INODES_PER_BLOCK, UINT32_MAX);
		n = o->inode_count;
	} else {
		if (n > MAX_DEFAULT_INODES)
			n = MAX_DEFAULT_INODES;
		if (n < MIN_INODES)
			n = MIN_INODES;
	}
	*out = round_up(n, INODES_PER_BLOCK);
	return 0;
}

/* Data-path slots: as asked, or one per 256 KiB of region (a slot per
 * file written directly at the same time), at least a block's worth and
 * at most 4096 (512 KiB); whole blocks of them. */
static int mkfs_dslots(const struct hfs_region *rg,
		       const struct hfs_mkfs_opts *o, uint32_t *out,
		       struct hfs_err *err)
{
	uint64_t n = o->dslots;

	if (n == HFS_MKFS_NO_DSLOTS) {
		*out = 0;
		return 0;
	}
	if (n > HFS_MKFS_DSLOTS_MAX)
		return hfs_err_set(err, -EINVAL, "%s: %" PRIu64 " data-path "
				   "slots asked; at most %u", rg->path, n,
				   HFS_MKFS_DSLOTS_MAX);
	if (n == 0) {
		n = rg->size / (256u << 10);
		n = n < 64 ? 64 : n > 4096 ? 4096 : n;
	}
	*out = (uint32_t)round_up(n, HFS_DSLOTS_PER_BLOCK);
	return 0;
}

/* Fill the geometry fields of sb for rg. */
static int mkfs_layout(const struct hfs_region *rg,
		       const struct hfs_mkfs_opts *o, struct hfs_super *sb,
		       struct hfs_err *err)
{
	uint64_t au, jblocks = 0, icount = 0, pool_end, need, meta_end;
	uint32_t nslots = 0;
	int rc;

	if (rg->size < HFS_MIN_REGION)
		return hfs_err_set(err, -ENOSPC, "%s: region is %" PRIu64
				   " bytes; holdfs needs at least %u bytes "
				   "(16 MiB)", rg->path, rg->size,
				   HFS_MIN_REGION);
	if ((rc = mkfs_alloc_unit(rg, o, &au, err)) ||
	    (rc = mkfs_journal_blocks(rg, o, &jblocks, err)) ||
	    (rc = mkfs_inode_count(rg, o, &icount, err)))
		return rc;

	sb->s_block_size = HFS_BLOCK_SIZE;
	sb->s_alloc_unit = (uint32_t)au;
	sb->s_region_size = rg->size;
	sb->s_health_off = BLK;
	sb->s_health_blocks = HFS_HEALTH_BLOCKS;
	sb->s_badlist_off = sb->s_health_off + HFS_HEALTH_BLOCKS * BLK;
	sb->s_badlist_blocks = HFS_BADLIST_BLOCKS;
	sb->s_journal_off = sb->s_badlist_off + HFS_BADLIST_BLOCKS * BLK;
	sb->s_journal_blocks = jblocks;
	sb->s_itable_off = sb->s_journal_off + jblocks * BLK;
	sb->s_inode_count = icount;
	meta_end = round_up(sb->s_itable_off + icount * HFS_INODE_SIZE, BLK);
	if ((rc = mkfs_dslots(rg, o, &nslots, err)))
		return rc;
	if (nslots) {
		sb->s_feat_compat |= HFS_FEAT_COMPAT_DSLOTS;
		sb->s_dslot_off = meta_end;
		sb->s_dslot_count = nslots;
		meta_end += (uint64_t)nslots / HFS_DSLOTS_PER_BLOCK * BLK;
	}
	sb->s_pool_off = round_up(meta_end, au);
	sb->s_backup_off = hfs_super_backup_off(rg->size);
	pool_end = round_down(sb->s_backup_off, au);
	need = MIN_POOL_BLOCKS * BLK > MIN_POOL_UNITS * au ?
	       MIN_POOL_BLOCKS * BLK : MIN_POOL_UNITS * au;
	if (pool_end < sb->s_pool_off || pool_end - sb->s_pool_off < need)
		return hfs_err_set(err, -ENOSPC, "%s: region of %" PRIu64
				   " bytes is too small for this layout: "
				   "metadata ends at %" PRIu64 ", leaving %"
				   PRIu64 " bytes of pool; need at least %"
				   PRIu64 " (%u blocks and %u allocation units "
				   "of %" PRIu64 " bytes)", rg->path, rg->size,
				   sb->s_pool_off,
				   pool_end > sb->s_pool_off ?
				   pool_end - sb->s_pool_off : 0, need,
				   MIN_POOL_BLOCKS, MIN_POOL_UNITS, au);
	sb->s_pool_blocks = (pool_end - sb->s_pool_off) / BLK;
	if (o->root_pct > HFS_ROOT_RESERVE_MAX_PCT)
		return hfs_err_set(err, -EINVAL, "reserve for root of %u%% "
				   "(at most %u%%)", o->root_pct,
				   HFS_ROOT_RESERVE_MAX_PCT);
	if (o->root_pct) {
		sb->s_feat_compat |= HFS_FEAT_COMPAT_ROOT_RESERVE;
		sb->s_root_blocks = sb->s_pool_blocks * o->root_pct / 100;
		sb->s_root_inodes = (icount - 1) * o->root_pct / 100;
	}
	return 0;
}

/* Bad ranges must lie in the pool (or the unused tail before the backup
 * superblock): metadata cannot move around them. */
static int mkfs_check_bad(const struct hfs_region *rg,
			  const struct hfs_super *sb,
			  const struct hfs_mkfs_opts *o, struct hfs_err *err)
{
	for (uint32_t i = 0; i < o->nbad; i++) {
		uint64_t s = o->bad[i].bx_off, l = o->bad[i].bx_len;

		if (l == 0)
			continue;
		if (s + l < s || s + l > rg->size)
			return hfs_err_set(err, -EINVAL, "%s: bad range 0x%"
					   PRIx64 "+0x%" PRIx64 " lies outside "
					   "the region (%" PRIu64 " bytes)",
					   rg->path, s, l, rg->size);
		if (s < sb->s_pool_off)
			return hfs_err_set(err, -EIO, "%s: bad media at 0x%"
					   PRIx64 " inside the metadata area "
					   "(below 0x%" PRIx64 "); cannot "
					   "format", rg->path, s,
					   sb->s_pool_off);
		if (s < sb->s_backup_off + BLK && s + l > sb->s_backup_off)
			return hfs_err_set(err, -EIO, "%s: bad media at 0x%"
					   PRIx64 " under the backup superblock "
					   "(0x%" PRIx64 "); cannot format",
					   rg->path, s > sb->s_backup_off ? s :
					   sb->s_backup_off, sb->s_backup_off);
	}
	return 0;
}

static int cmp_bad(const void *a, const void *b)
{
	const struct hfs_bad_extent *x = a, *y = b;

	return x->bx_off < y->bx_off ? -1 : x->bx_off > y->bx_off;
}

/* Will the list fit once merged?  (Checked before anything is written;
 * hfs_badlist_format merges the same way.) */
static int mkfs_check_bad_count(const struct hfs_region *rg,
				const struct hfs_super *sb,
				const struct hfs_mkfs_opts *o,
				struct hfs_err *err)
{
	uint64_t cap = (sb->s_badlist_blocks * BLK -
			sizeof(struct hfs_badlist_hdr)) /
		       sizeof(struct hfs_bad_extent);
	struct hfs_bad_extent *v;
	uint64_t n = 0, end = 0;

	if (o->nbad <= cap)
		return 0;
	v = malloc((size_t)o->nbad * sizeof(*v));
	if (!v)
		return hfs_err_set(err, -ENOMEM, "%s: out of memory", rg->path);
	memcpy(v, o->bad, (size_t)o->nbad * sizeof(*v));
	qsort(v, o->nbad, sizeof(*v), cmp_bad);
	for (uint32_t i = 0; i < o->nbad; i++) {
		uint64_t s = round_down(v[i].bx_off, BLK);
		uint64_t e = round_up(v[i].bx_off + v[i].bx_len, BLK);

		if (v[i].bx_len == 0)
			continue;
		if (n == 0 || s > end)
			n++;
		if (e > end)
			end = e;
	}
	free(v);
	if (n > cap)
		return hfs_err_set(err, -ENOSPC, "%s: too many distinct bad "
				   "ranges (%" PRIu64 "); the bad-extent list "
				   "holds %" PRIu64, rg->path, n, cap);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Zero [off, off+len) chunk by chunk, skipping chunks already zero. */
static int mkfs_zero(struct hfs_region *rg, uint64_t off, uint64_t len,
		     const char *what, struct hfs_err *err)
{
	uint8_t *buf = malloc(ZERO_CHUNK);
	struct hfs_fault f = { 0 };
	int rc = 0;

	if (!buf)
		return hfs_err_set(err, -ENOMEM, "%s: out of memory",
				   rg->path);
	while (len && !rc) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;

		if (hfs_region_read(rg, off, buf, n, NULL) ||
		    !all_zero(buf, n))
			rc = hfs_region_zero(rg, off, n, &f);
		off += n;
		len -= n;
	}
	free(buf);
	if (rc)
		return hfs_err_set(err, rc, "%s: cannot clear the %s: %s at 0x%"
				   PRIx64, rg->path, what,
				   rc == -EIO ? "media error" : "range error",
				   f.off);
	return 0;
}

static int mkfs_root(struct hfs_region *rg, const struct hfs_super *sb,
		     const struct timespec *now, struct hfs_err *err)
{
	struct hfs_inode_disk d = {
		.i_mode = S_IFDIR | 0755,
		.i_uid = (uint32_t)getuid(),
		.i_gid = (uint32_t)getgid(),
		.i_nlink = 2,
		.i_generation = 1,
		.i_parent = HFS_ROOT_INO,
		.i_atime = (uint64_t)now->tv_sec,
		.i_mtime = (uint64_t)now->tv_sec,
		.i_ctime = (uint64_t)now->tv_sec,
		.i_btime = (uint64_t)now->tv_sec,
		.i_atime_ns = (uint32_t)now->tv_nsec,
		.i_mtime_ns = (uint32_t)now->tv_nsec,
		.i_ctime_ns = (uint32_t)now->tv_nsec,
		.i_btime_ns = (uint32_t)now->tv_nsec,
	};
	uint64_t off = sb->s_itable_off + HFS_ROOT_INO * HFS_INODE_SIZE;
	int rc;

	d.i_crc = hfs_crc_struct(&d, sizeof(d),
				 offsetof(struct hfs_inode_disk, i_crc));
	rc = hfs_region_write(rg, off, &d, sizeof(d), NULL);
	if (rc)
		return hfs_err_set(err, rc, "%s: cannot write the root inode "
				   "at 0x%" PRIx64, rg->path, off);
	return 0;
}

/* UUID, label and times. */
static int mkfs_identity(const struct hfs_region *rg,
			 const struct hfs_mkfs_opts *o, struct hfs_super *sb,
			 const struct timespec *now, struct hfs_err *err)
{
	size_t got = 0;

	if (o->label && strlen(o->label) >= HFS_LABEL_MAX)
		return hfs_err_set(err, -EINVAL, "%s: label is %zu bytes; at "
				   "most %d allowed", rg->path,
				   strlen(o->label), HFS_LABEL_MAX - 1);
	if (o->label)
		memcpy(sb->s_label, o->label, strlen(o->label));
	if (o->uuid) {
		memcpy(sb->s_uuid, o->uuid, sizeof(sb->s_uuid));
	} else {
		while (got < sizeof(sb->s_uuid)) {
			ssize_t n = getrandom(sb->s_uuid + got,
					      sizeof(sb->s_uuid) - got, 0);

			if (n < 0 && errno != EINTR)
				return hfs_err_set(err, -errno, "%s: cannot "
						   "generate a UUID: %s",
						   rg->path, strerror(errno));
			if (n > 0)
				got += (size_t)n;
		}
		sb->s_uuid[6] = (uint8_t)((sb->s_uuid[6] & 0x0f) | 0x40);
		sb->s_uuid[8] = (uint8_t)((sb->s_uuid[8] & 0x3f) | 0x80);
	}
	sb->s_mkfs_time = (uint64_t)now->tv_sec * 1000000000ull +
			  (uint64_t)now->tv_nsec;
	return 0;
}

static int mkfs_build_super(struct hfs_region *rg,
			    const struct hfs_mkfs_opts *o, struct hfs_super *sb,
			    const struct timespec *now, struct hfs_err *err)
{
	int rc;

	memset(sb, 0, sizeof(*sb));
	sb->s_magic = HFS_SB_MAGIC;
	sb->s_version_major = HFS_VERSION_MAJOR;
	sb->s_version_minor = HFS_VERSION_MINOR;
	sb->s_feat_incompat = HFS_FEAT_INCOMPAT_XATTR_CHAIN;
	sb->s_state = HFS_STATE_CLEAN;
	sb->s_inode_hwm = HFS_ROOT_INO + 1;
	sb->s_used_inodes = 1;
	if ((rc = mkfs_layout(rg, o, sb, err)) ||
	    (rc = mkfs_check_bad(rg, sb, o, err)) ||
	    (rc = mkfs_check_bad_count(rg, sb, o, err)) ||
	    (rc = mkfs_identity(rg, o, sb, now, err)))
		return rc;
	hfs_super_set_crc(sb);
	/* Self-check: a layout this file computed must pass the mount
	 * checks, or the bug is here. */
	return hfs_super_check(sb, rg->size, "mkfs: computed superblock",
			       err);
}

/* Destroy the old superblocks, then clear every metadata area. */
static int mkfs_clear(struct hfs_region *rg, const struct hfs_super *sb,
		      struct hfs_err *err)
{
	int rc;

	if ((rc = mkfs_zero(rg, 0, BLK, "primary superblock", err)) ||
	    (rc = mkfs_zero(rg, sb->s_backup_off, BLK, "backup superblock",
			    err)) ||
	    (rc = mkfs_zero(rg, sb->s_health_off,
			    sb->s_health_blocks * BLK, "health log", err)) ||
	    (rc = mkfs_zero(rg, sb->s_badlist_off,
			    sb->s_badlist_blocks * BLK, "bad-extent list",
			    err)) ||
	    (rc = mkfs_zero(rg, sb->s_journal_off,
			    sb->s_journal_blocks * BLK, "journal", err)) ||
	    (rc = mkfs_zero(rg, sb->s_itable_off,
			    sb->s_inode_count * HFS_INODE_SIZE, "inode table",
			    err)) ||
	    (rc = mkfs_zero(rg, sb->s_dslot_off,
			    (uint64_t)sb->s_dslot_count * HFS_DSLOT_SIZE,
			    "data-path slot area", err)))
		return rc;
	return 0;
}

static int mkfs_write_lists(struct hfs_region *rg, const struct hfs_super *sb,
			    const struct hfs_mkfs_opts *o, struct hfs_err *err)
{
	int rc = hfs_badlist_format(rg, sb, o->bad, o->nbad);

	if (rc)
		return hfs_err_set(err, rc, "%s: cannot write the bad-extent "
				   "list at 0x%" PRIx64, rg->path,
				   sb->s_badlist_off);
	return 0;
}

int hfs_mkfs(struct hfs_region *rg, const struct hfs_mkfs_opts *opts,
	     struct hfs_mkfs_result *res, struct hfs_err *err)
{
	static const struct hfs_mkfs_opts defaults;
	const struct hfs_mkfs_opts *o = opts ? opts : &defaults;
	struct hfs_super sb, backup;
	struct timespec now;
	int rc;

	if (rg->readonly)
		return hfs_err_set(err, -EROFS, "%s: region is opened "
				   "read-only; cannot format", rg->path);
	clock_gettime(CLOCK_REALTIME, &now);
	if ((rc = mkfs_build_super(rg, o, &sb, &now, err)) ||
	    (rc = mkfs_clear(rg, &sb, err)) ||
	    (rc = mkfs_write_lists(rg, &sb, o, err)) ||
	    (rc = mkfs_root(rg, &sb, &now, err)))
		return rc;
	backup = sb;
	rc = hfs_super_write_backup(rg, &backup);
	if (rc)
		return hfs_err_set(err, rc, "%s: cannot write the backup "
				   "superblock at 0x%" PRIx64, rg->path,
				   sb.s_backup_off);
	rc = hfs_region_write(rg, 0, &sb, sizeof(sb), NULL);
	if (rc)
		return hfs_err_set(err, rc, "%s: cannot write the primary "
				   "superblock", rg->path);
	if (res)
		res->sb = sb;
	return 0;
}
