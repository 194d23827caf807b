/* SPDX-License-Identifier: MIT */
/*
 * Formatting a volume of several devices (docs/format.md, "Several
 * devices"): member 0 gets the single-device layout from hfs_mkfs, each
 * other member a header and a pool, and member 0's superblock the device
 * table and the MULTIDEV feature.
 *
 * Write order: the member headers first, member 0's superblocks last.
 * Until the last write the volume reads as a single-device holdfs on
 * member 0 (the others are only unused space), so a crash or an error
 * half-way never leaves a volume that names members it does not have.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#include "media.h"
#include "members.h"
#include "mkfs.h"
#include "mkfs_members_i.h"

#define BLK HFS_BLOCK_SIZE

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

int hfs_member_random_uuid(uint8_t u[16], const char *path,
			   struct hfs_err *err)
{
	size_t got = 0;

	while (got < 16) {
		ssize_t n = getrandom(u + got, 16 - got, 0);

		if (n < 0 && errno != EINTR)
			return hfs_err_set(err, -errno, "%s: cannot generate "
					   "a UUID: %s", path, strerror(errno));
		if (n > 0)
			got += (size_t)n;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	return 0;
}

/* Member i's entry: mapped HFS_MEMBER_SPACING-aligned after the previous
 * member; one allocation unit of header, then mirror bytes (the mirror of
 * device 0, on device 1 only), then pool to the last whole unit. */
static int plan_member(const struct hfs_region *m, unsigned i,
		       const struct hfs_super *sb, uint64_t prev_end,
		       uint64_t mirror, struct hfs_dev_entry *d,
		       struct hfs_err *err)
{
	uint64_t au = sb->s_alloc_unit, end;

	if (m->align > au || au % m->align)
		return hfs_err_set(err, -EINVAL, "%s: its %" PRIu64 "-byte "
				   "alignment does not divide the %" PRIu64
				   "-byte allocation unit; give -a %" PRIu64,
				   m->path, m->align, au, m->align);
	if (m->size < HFS_MIN_REGION)
		return hfs_err_set(err, -EINVAL, "%s: %" PRIu64 " bytes; a "
				   "member needs at least %u", m->path,
				   m->size, HFS_MIN_REGION);
	d->d_base = align_up(prev_end, HFS_MEMBER_SPACING);
	d->d_size = m->size;
	d->d_pool_off = d->d_base + au + mirror;
	end = d->d_base + m->size / au * au;
	if (end < d->d_pool_off + 4 * au && mirror)
		return hfs_err_set(err, -EINVAL, "%s: too small to hold the "
				   "mirror of the first device (%" PRIu64
				   " bytes) and 4 allocation units of %" PRIu64
				   " bytes; give a larger device second, or "
				   "--no-mirror", m->path, mirror, au);
	if (end < d->d_pool_off + 4 * au)
		return hfs_err_set(err, -EINVAL, "%s: too small for 4 "
				   "allocation units of %" PRIu64 " bytes",
				   m->path, au);
	d->d_pool_blocks = (end - d->d_pool_off) / BLK;
	d->d_align = (uint32_t)m->align;
	d->d_state = HFS_DEV_ACTIVE;
	d->d_role = HFS_DEV_ROLE_DATA | (mirror ? HFS_DEV_ROLE_MIRROR : 0);
	(void)i;
	return hfs_member_random_uuid(d->d_uuid, m->path, err);
}

/* Block 0 of member i: header, then the table. */
int hfs_member_write_header(struct hfs_region *m, unsigned i,
			    const struct hfs_super *sb,
			    const struct hfs_devtab *t, struct hfs_err *err)
{
	static uint8_t blk[BLK];
	struct hfs_member_super h = { 0 };
	int ret;

	h.m_magic = HFS_MEMBER_MAGIC;
	h.m_index = i;
	memcpy(h.m_vol_uuid, sb->s_uuid, 16);
	memcpy(h.m_uuid, t->t_dev[i].d_uuid, 16);
	h.m_mkfs_time = sb->s_mkfs_time;
	hfs_member_super_set_crc(&h);
	memset(blk, 0, sizeof(blk));
	memcpy(blk, &h, sizeof(h));
	memcpy(blk + HFS_DEVTAB_OFF, t, sizeof(*t));
	ret = hfs_region_write(m, 0, blk, sizeof(blk), NULL);
	if (ret)
		return hfs_err_set(err, ret, "%s: cannot write the member "
				   "header: %s", m->path, strerror(-ret));
	return 0;
}

/* Device 0's metadata zone, at the start of its pool: meta_size bytes,
 * or by default 1/32 of its pool (at least 4 MiB, at most 8 GiB), whole
 * allocation units; 4 units at least are left for data. */
static int meta_zone(const struct hfs_region *rg, struct hfs_super *sb,
		     uint64_t meta_size, struct hfs_err *err)
{
	uint64_t au = sb->s_alloc_unit, pool = sb->s_pool_blocks * BLK;
	uint64_t z = meta_size ? meta_size : pool / 32;

	if (!meta_size)
		z = z < (4ull << 20) ? 4ull << 20 : z > (8ull << 30) ? 8ull << 30 : z;
	z = align_up(z, au);
	if (z + 4 * au > pool)
		return hfs_err_set(err, -EINVAL, "%s: a metadata zone of %" PRIu64
				   " bytes leaves no room for data in its pool "
				   "of %" PRIu64 " bytes; give --meta-size, a "
				   "larger first device or --no-mirror",
				   rg->path, z, pool);
	sb->s_meta_end = sb->s_pool_off + z;
	return 0;
}

/* Superblock and device table into the copy of device 0 that starts at
 * byte at of dst: backup then primary on device 0 itself (at 0), the
 * primary's only in the mirror (which ends at s_meta_end). */
int hfs_member_write_super_and_table(struct hfs_region *dst, uint64_t at,
				     const struct hfs_super *sb,
				     const struct hfs_devtab *t)
{
	int ret;

	if (at == 0 &&
	    ((ret = hfs_region_write(dst, sb->s_backup_off + HFS_DEVTAB_OFF,
				     t, sizeof(*t), NULL)) ||
	     (ret = hfs_region_write(dst, sb->s_backup_off, sb, sizeof(*sb),
				     NULL))))
		return ret;
	if ((ret = hfs_region_write(dst, at + HFS_DEVTAB_OFF, t, sizeof(*t),
				    NULL)))
		return ret;
	return hfs_region_write(dst, at, sb, sizeof(*sb), NULL);
}

/* Device 0's bytes [0, s_meta_end) into the mirror at byte at of m: its
 * metadata areas and the metadata zone, whatever the zone holds (a device
 * used before has old bytes there): the mirror is a copy of all of it, so
 * fsck, which compares every block of it, finds the free ones equal. */
int hfs_member_copy_metadata(struct hfs_region *rg, struct hfs_region *m,
			     uint64_t at, const struct hfs_super *sb,
			     struct hfs_err *err)
{
	static uint8_t buf[1 << 20];
	int ret = 0;

	for (uint64_t off = 0; off < sb->s_meta_end && !ret;
	     off += sizeof(buf)) {
		size_t n = sb->s_meta_end - off < sizeof(buf)
				   ? (size_t)(sb->s_meta_end - off) : sizeof(buf);

		ret = hfs_region_read(rg, off, buf, n, NULL);
		if (!ret)
			ret = hfs_region_write(m, at + off, buf, n, NULL);
	}
	if (ret)
		return hfs_err_set(err, ret, "%s: cannot copy the metadata of "
				   "%s into its mirror: %s", m->path, rg->path,
				   strerror(-ret));
	return 0;
}

int hfs_mkfs_members(struct hfs_region *rg, struct hfs_region **others,
		     unsigned n, bool mirror, uint64_t meta_size,
		     struct hfs_mkfs_result *res, struct hfs_err *err)
{
	struct hfs_super sb = res->sb;
	struct hfs_devtab t = { 0 };
	uint64_t end = sb.s_region_size, pool = sb.s_pool_blocks;
	char why[200];
	int ret;

	if (n < 2 || n > HFS_MEMBERS_MAX)
		return hfs_err_set(err, -EINVAL, "%u devices: a volume has 2 "
				   "to %u", n, HFS_MEMBERS_MAX);
	if (mirror && (ret = meta_zone(rg, &sb, meta_size, err)))
		return ret;
	t.t_magic = HFS_DEVTAB_MAGIC;
	t.t_count = n;
	t.t_gen = 1;
	t.t_dev[0] = (struct hfs_dev_entry){
		.d_size = sb.s_region_size,
		.d_pool_off = sb.s_pool_off,
		.d_pool_blocks = sb.s_pool_blocks,
		.d_align = (uint32_t)rg->align,
		.d_state = HFS_DEV_ACTIVE,
		.d_role = HFS_DEV_ROLE_META | HFS_DEV_ROLE_DATA,
	};
	ret = hfs_member_random_uuid(t.t_dev[0].d_uuid, rg->path, err);
	for (unsigned i = 1; !ret && i < n; i++) {
		if (strcmp(others[i - 1]->granularity, rg->granularity) != 0)
			return hfs_err_set(err, -EINVAL, "%s: persists at %s "
					   "granularity, %s at %s; the members "
					   "of a volume must offer the same",
					   others[i - 1]->path,
					   others[i - 1]->granularity,
					   rg->path, rg->granularity);
		/* device 1 holds the mirror of device 0's metadata, whole
		 * allocation units after its header */
		ret = plan_member(others[i - 1], i, &sb, end,
				  i == 1 && mirror
					  ? align_up(sb.s_meta_end,
						     sb.s_alloc_unit)
					  : 0,
				  &t.t_dev[i], err);
		end = t.t_dev[i].d_base + t.t_dev[i].d_size;
	}
	if (ret)
		return ret;
	if (mirror) {
		t.t_mirror_dev = 1;
		t.t_mirror_off = t.t_dev[1].d_base + sb.s_alloc_unit;
	}
	hfs_devtab_set_crc(&t);
	for (unsigned i = 1; i < n; i++) {
		struct hfs_region *m = others[i - 1];

		/* an old holdfs's backup superblock (its last block, in the
		 * pool now) must not outlive the format: a probe or a mount
		 * of the device would find it; block 0 is the header */
		ret = hfs_region_zero(m, hfs_super_backup_off(m->size), BLK,
				      NULL);
		if (ret)
			return hfs_err_set(err, ret, "%s: cannot clear its last "
					   "block: %s", m->path,
					   strerror(-ret));
		ret = hfs_member_write_header(m, i, &sb, &t, err);
		if (ret)
			return ret;
	}
	/* the pool is every member's; mkfs -m reserves a share of it all */
	for (unsigned i = 1; i < n; i++)
		pool += t.t_dev[i].d_pool_blocks;
	sb.s_root_blocks = (uint64_t)((unsigned __int128)sb.s_root_blocks *
				      pool / sb.s_pool_blocks);
	sb.s_pool_blocks = pool;
	sb.s_pool_end = t.t_dev[n - 1].d_pool_off +
			t.t_dev[n - 1].d_pool_blocks * BLK;
	sb.s_feat_incompat |= HFS_FEAT_INCOMPAT_MULTIDEV;
	sb.s_version_minor = HFS_VERSION_MINOR_MULTIDEV;
	hfs_super_set_crc(&sb);
	/* what this file computed must pass the mount's checks */
	if (hfs_super_check(&sb, rg->size, "mkfs: computed superblock", err))
		return -EINVAL;
	if (!hfs_devtab_ok(&t, &sb, why, sizeof(why)))
		return hfs_err_set(err, -EINVAL, "mkfs: computed device table: "
				   "%s", why);
	/* the mirror first: a copy of device 0's [0, s_meta_end) (what
	 * hfs_mkfs wrote, and the zone as it is), then the table and
	 * superblock in both, device 0's primary last */
	if (mirror && (ret = hfs_member_copy_metadata(rg, others[0],
						      sb.s_alloc_unit, &sb,
						      err)))
		return ret;
	if (mirror &&
	    (ret = hfs_member_write_super_and_table(others[0], sb.s_alloc_unit,
						    &sb, &t)))
		return hfs_err_set(err, ret, "%s: cannot write the mirror's "
				   "device table: %s", others[0]->path,
				   strerror(-ret));
	if ((ret = hfs_member_write_super_and_table(rg, 0, &sb, &t)))
		return hfs_err_set(err, ret, "%s: cannot write the device "
				   "table: %s", rg->path, strerror(-ret));
	res->sb = sb;
	res->devtab = t;
	return 0;
}
