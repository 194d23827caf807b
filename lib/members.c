/* SPDX-License-Identifier: MIT */
/*
 * Several devices in one volume: the device table and assembling a
 * volume from its members (docs/format.md, "Several devices").
 *
 * Member 0 carries the whole single-device layout (superblock, journal,
 * inode table, its share of the pool); the device table sits in the rest
 * of the superblock's block (both copies).  Every other member starts
 * with a header naming the volume and its own place in the table, and
 * the rest of it is pool.  Paths may change between boots (a renumbered
 * /dev/daxX.Y), so a mount recognises each device it is given by its
 * header, not by its position on the command line.
 */
#include "members.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "media.h"

#define BLK HFS_BLOCK_SIZE

void hfs_devtab_set_crc(struct hfs_devtab *t)
{
	t->t_crc = hfs_crc_struct(t, sizeof(*t),
				  offsetof(struct hfs_devtab, t_crc));
}

void hfs_member_super_set_crc(struct hfs_member_super *m)
{
	m->m_crc = hfs_crc_struct(m, sizeof(*m),
				  offsetof(struct hfs_member_super, m_crc));
}

static bool entry_ok(const struct hfs_devtab *t, uint32_t i, uint64_t prev_end,
		     char *why, size_t wlen)
{
	const struct hfs_dev_entry *d = &t->t_dev[i];
	uint64_t pool_end = d->d_pool_off + d->d_pool_blocks * HFS_BLOCK_SIZE;

	if (i == 0 ? d->d_base != 0
		   : d->d_base < prev_end ||
			     d->d_base % HFS_MEMBER_SPACING != 0)
		snprintf(why, wlen, "member %u: volume offset %#" PRIx64
			 " overlaps member %u or is not on a 1 GiB boundary",
			 i, d->d_base, i ? i - 1 : 0);
	else if (d->d_size < HFS_MIN_REGION || d->d_base + d->d_size <
		 d->d_base)
		snprintf(why, wlen, "member %u: bad size %" PRIu64, i,
			 d->d_size);
	else if (d->d_pool_off < d->d_base || d->d_pool_off % HFS_BLOCK_SIZE ||
		 pool_end > d->d_base + d->d_size || pool_end < d->d_pool_off)
		snprintf(why, wlen, "member %u: pool [%#" PRIx64 ", %#" PRIx64
			 ") outside the member", i, d->d_pool_off, pool_end);
	else if (d->d_state < HFS_DEV_ACTIVE || d->d_state > HFS_DEV_RETIRED)
		snprintf(why, wlen, "member %u: unknown state %u", i,
			 d->d_state);
	else
		return true;
	return false;
}

bool hfs_devtab_ok(const struct hfs_devtab *t, const struct hfs_super *sb,
		   char *why, size_t wlen)
{
	const struct hfs_dev_entry *d0 = &t->t_dev[0];
	uint64_t end = 0, blocks = 0, au = sb->s_alloc_unit;

	if (t->t_count < 2 || t->t_count > HFS_MEMBERS_MAX) {
		snprintf(why, wlen, "device table names %u members (2 to %u)",
			 t->t_count, HFS_MEMBERS_MAX);
		return false;
	}
	for (uint32_t i = 0; i < t->t_count; i++) {
		const struct hfs_dev_entry *d = &t->t_dev[i];

		if (!entry_ok(t, i, end, why, wlen))
			return false;
		if (d->d_pool_off % au || d->d_pool_blocks * BLK % au ||
		    (i > 0 && d->d_pool_off < d->d_base + BLK)) {
			snprintf(why, wlen, "member %u: pool at %#" PRIx64
				 " misaligned or over its header", i,
				 d->d_pool_off);
			return false;
		}
		end = d->d_base + d->d_size;
		blocks += d->d_pool_blocks;
	}
	if (d0->d_size != sb->s_region_size || d0->d_pool_off != sb->s_pool_off ||
	    d0->d_pool_off + d0->d_pool_blocks * BLK > sb->s_backup_off) {
		snprintf(why, wlen, "member 0 does not match the superblock's "
			 "region and pool");
		return false;
	}
	if (blocks != sb->s_pool_blocks) {
		snprintf(why, wlen, "members' pools hold %" PRIu64 " blocks, "
			 "the superblock says %" PRIu64, blocks,
			 sb->s_pool_blocks);
		return false;
	}
	if (t->t_mirror_dev) {
		const struct hfs_dev_entry *dm = t->t_mirror_dev < t->t_count
							 ? &t->t_dev[t->t_mirror_dev]
							 : NULL;
		uint64_t mlen = (sb->s_meta_end + au - 1) / au * au;

		if (sb->s_meta_end <= sb->s_pool_off || sb->s_meta_end % au ||
		    sb->s_meta_end > d0->d_pool_off + d0->d_pool_blocks * BLK) {
			snprintf(why, wlen, "the metadata zone of device 0 "
				 "(up to %#" PRIx64 ") is not inside its pool",
				 sb->s_meta_end);
			return false;
		}
		if (!dm || !(dm->d_role & HFS_DEV_ROLE_MIRROR) ||
		    t->t_mirror_off < dm->d_base + BLK ||
		    t->t_mirror_off % au ||
		    t->t_mirror_off + mlen > dm->d_pool_off) {
			snprintf(why, wlen, "the mirror of device 0 (device %u "
				 "at %#" PRIx64 ") is not inside that device "
				 "before its pool", t->t_mirror_dev,
				 t->t_mirror_off);
			return false;
		}
	} else if (t->t_mirror_off || sb->s_meta_end) {
		snprintf(why, wlen, "a mirror offset or metadata zone without a "
			 "mirror device");
		return false;
	}
	{
		const struct hfs_dev_entry *dl = &t->t_dev[t->t_count - 1];

		if (dl->d_pool_off + dl->d_pool_blocks * BLK != sb->s_pool_end) {
			snprintf(why, wlen, "last member's pool ends at %#"
				 PRIx64 ", the superblock says %#" PRIx64,
				 dl->d_pool_off + dl->d_pool_blocks * BLK,
				 sb->s_pool_end);
			return false;
		}
	}
	return true;
}

int hfs_devtab_load(struct hfs_region *rg, uint64_t off,
		    const struct hfs_super *sb, struct hfs_devtab *t, char *why,
		    size_t wlen)
{
	uint32_t crc;
	int ret = hfs_region_read(rg, off, t, sizeof(*t), NULL);

	if (ret == -EIO) {
		snprintf(why, wlen, "device table at %#" PRIx64 ": media "
			 "error", off);
		return ret;
	}
	if (ret) {
		snprintf(why, wlen, "device table at %#" PRIx64 " is outside "
			 "the region", off);
		return -EUCLEAN;
	}
	crc = t->t_crc;
	hfs_devtab_set_crc(t);
	if (t->t_magic != HFS_DEVTAB_MAGIC || crc != t->t_crc) {
		snprintf(why, wlen, "device table at %#" PRIx64 ": %s", off,
			 t->t_magic != HFS_DEVTAB_MAGIC ? "bad magic"
							: "checksum mismatch");
		return -EUCLEAN;
	}
	return hfs_devtab_ok(t, sb, why, wlen) ? 0 : -EUCLEAN;
}

int hfs_devtab_reserve_gaps(const struct hfs_devtab *t, struct hfs_alloc *a)
{
	for (uint32_t i = 0; i + 1 < t->t_count; i++) {
		uint64_t end = t->t_dev[i].d_pool_off / BLK +
			       t->t_dev[i].d_pool_blocks;
		uint64_t next = t->t_dev[i + 1].d_pool_off / BLK;
		int ret = hfs_alloc_reserve(a, end, next - end);

		if (ret)
			return ret == -ENOMEM ? ret : -EUCLEAN;
	}
	return 0;
}

bool hfs_devtab_range_ok(const struct hfs_devtab *t, uint64_t blk,
			 uint64_t len)
{
	if (!t->t_count)
		return true;
	for (uint32_t i = 0; i < t->t_count && i < HFS_MEMBERS_MAX; i++) {
		uint64_t lo = t->t_dev[i].d_pool_off / BLK;
		uint64_t hi = lo + t->t_dev[i].d_pool_blocks;

		if (blk >= lo && blk < hi)
			return len <= hi - blk;
	}
	return false;
}

/* The table of member 0: the primary superblock's copy, else the
 * backup's. */
static int table_of_member0(struct hfs_region *rg, const struct hfs_super *sb,
			    struct hfs_devtab *t, struct hfs_err *err)
{
	char pwhy[200], bwhy[200];

	if (!hfs_devtab_load(rg, HFS_DEVTAB_OFF, sb, t, pwhy, sizeof(pwhy)))
		return 0;
	if (!hfs_devtab_load(rg, sb->s_backup_off + HFS_DEVTAB_OFF, sb, t, bwhy,
			     sizeof(bwhy)))
		return 0;
	return hfs_err_set(err, -EUCLEAN, "%s: %s; backup: %s; run "
			   "fsck.holdfs", rg->path, pwhy, bwhy);
}

int hfs_member_probe(struct hfs_region *rg, struct hfs_member_super *h)
{
	uint32_t crc;

	if (rg->size < HFS_BLOCK_SIZE ||
	    hfs_region_read(rg, 0, h, sizeof(*h), NULL))
		return 0;
	crc = h->m_crc;
	hfs_member_super_set_crc(h);
	return h->m_magic == HFS_MEMBER_MAGIC && crc == h->m_crc;
}

/* Which member of the volume is m?  Its index, or -errno with err set. */
static int recognise(struct hfs_region *m, const struct hfs_super *sb,
		     const struct hfs_devtab *t, struct hfs_err *err)
{
	struct hfs_member_super h;

	if (!hfs_member_probe(m, &h))
		return hfs_err_set(err, -EINVAL, "%s: not a device of a holdfs "
				   "volume (no valid member header)", m->path);
	if (memcmp(h.m_vol_uuid, sb->s_uuid, 16) != 0)
		return hfs_err_set(err, -EINVAL, "%s: member of another holdfs "
				   "volume", m->path);
	if (h.m_index == 0 || h.m_index >= t->t_count ||
	    memcmp(t->t_dev[h.m_index].d_uuid, h.m_uuid, 16) != 0)
		return hfs_err_set(err, -EINVAL, "%s: says it is member %u, "
				   "which the device table does not know",
				   m->path, h.m_index);
	if (m->size < t->t_dev[h.m_index].d_size)
		return hfs_err_set(err, -EINVAL, "%s: member %u is %" PRIu64
				   " bytes, smaller than the %" PRIu64
				   " formatted (truncated?)", m->path,
				   h.m_index, m->size,
				   t->t_dev[h.m_index].d_size);
	return (int)h.m_index;
}

/* Is paths[i] the same node as rg or as an earlier path?  Opening it
 * again would only find our own ownership lock. */
static int same_node_twice(const struct hfs_region *rg, const char *const *paths,
			   unsigned i, struct hfs_err *err)
{
	struct stat a, b;

	if (stat(paths[i], &a) != 0)
		return 0; /* the open says why */
	if (rg->fd >= 0 && fstat(rg->fd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return hfs_err_set(err, -EINVAL, "%s: is the first device of "
				   "the volume (%s), given again", paths[i],
				   rg->path);
	for (unsigned j = 0; j < i; j++)
		if (stat(paths[j], &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return hfs_err_set(err, -EINVAL, "%s: given twice (also "
					   "as %s)", paths[i], paths[j]);
	return 0;
}

/* Is node path one of the regions already open (rg, or a member)? */
static bool already_open(const char *path, const struct hfs_region *rg,
			 struct hfs_region *const *by_index)
{
	struct stat a, b;

	if (stat(path, &a) != 0)
		return true; /* nothing to try */
	if (rg->fd >= 0 && fstat(rg->fd, &b) == 0 && a.st_rdev == b.st_rdev &&
	    S_ISCHR(b.st_mode))
		return true;
	for (uint32_t i = 0; i < HFS_MEMBERS_MAX; i++)
		if (by_index[i] && by_index[i]->fd >= 0 &&
		    fstat(by_index[i]->fd, &b) == 0 && a.st_rdev == b.st_rdev)
			return true;
	return false;
}

/* Active device-dax members the paths given did not name: a device that
 * got another number since (/dev/dax1.0 now /dev/dax2.0) is found among
 * the machine's /dev/daxX.Y by its header's UUID.  Files cannot be
 * searched for: their path must be given. */
static void find_renamed(struct hfs_region *rg, const struct hfs_super *sb,
			 const struct hfs_devtab *t,
			 struct hfs_region **by_index,
			 const struct hfs_region_opts *ropts)
{
	struct dirent *e;
	bool want = false;
	DIR *d;

	for (uint32_t i = 1; i < t->t_count; i++)
		want |= t->t_dev[i].d_state == HFS_DEV_ACTIVE && !by_index[i];
	if (!want || !(d = opendir("/dev")))
		return;
	while ((e = readdir(d))) {
		struct hfs_region *m = NULL;
		struct hfs_err err = { 0 };
		char path[300];
		int idx;

		if (strncmp(e->d_name, "dax", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		if (already_open(path, rg, by_index) ||
		    hfs_region_open(path, ropts, &m, &err))
			continue; /* not a region, or someone else's */
		idx = recognise(m, sb, t, &err);
		if (idx > 0 && !by_index[idx] &&
		    t->t_dev[idx].d_state == HFS_DEV_ACTIVE)
			by_index[idx] = m;
		else
			hfs_region_close(m);
	}
	closedir(d);
}

static int assemble(struct hfs_region *rg, const struct hfs_super *sb,
		    const struct hfs_region *held, const char *const *paths,
		    unsigned npaths, const struct hfs_region_opts *ropts,
		    bool degraded, struct hfs_devtab *t, uint32_t *missing,
		    struct hfs_err *err);

int hfs_members_assemble(struct hfs_region *rg, const struct hfs_super *sb,
			 const char *const *paths, unsigned npaths,
			 const struct hfs_region_opts *ropts, bool degraded,
			 struct hfs_devtab *t, uint32_t *missing,
			 struct hfs_err *err)
{
	int ret = table_of_member0(rg, sb, t, err);

	return ret ? ret : assemble(rg, sb, NULL, paths, npaths, ropts,
				    degraded, t, missing, err);
}

int hfs_members_assemble_from_mirror(struct hfs_region *rg,
				     const struct hfs_super *sb,
				     const struct hfs_region *held,
				     const char *const *paths, unsigned npaths,
				     const struct hfs_region_opts *ropts,
				     bool degraded, struct hfs_devtab *t,
				     uint32_t *missing, struct hfs_err *err)
{
	return assemble(rg, sb, held, paths, npaths, ropts, degraded, t,
			missing, err);
}

int hfs_members_read_mirror(struct hfs_region *held, struct hfs_super *sb,
			    struct hfs_devtab *t, uint64_t *rel,
			    struct hfs_err *err)
{
	struct hfs_member_super h;
	struct hfs_devtab hdr;
	char why[200];
	uint32_t crc;

	if (!hfs_member_probe(held, &h) ||
	    hfs_region_read(held, HFS_DEVTAB_OFF, &hdr, sizeof(hdr), NULL))
		return -ENOENT;
	crc = hdr.t_crc;
	hfs_devtab_set_crc(&hdr);
	if (hdr.t_magic != HFS_DEVTAB_MAGIC || crc != hdr.t_crc ||
	    hdr.t_count > HFS_MEMBERS_MAX || !hdr.t_mirror_dev ||
	    hdr.t_mirror_dev != h.m_index)
		return -ENOENT;
	*rel = hdr.t_mirror_off - hdr.t_dev[h.m_index].d_base;
	if (hfs_region_read(held, *rel, sb, sizeof(*sb), NULL) ||
	    hfs_super_check(sb, sb->s_region_size, NULL, err) ||
	    !(sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV) ||
	    memcmp(sb->s_uuid, h.m_vol_uuid, 16) != 0)
		return hfs_err_set(err, -EUCLEAN, "%s: the mirror of the "
				   "first device holds no valid superblock; "
				   "run fsck.holdfs", held->path);
	/* the table in the mirror is the volume's own (kept current); the
	 * one in the header only identifies the device */
	if (hfs_devtab_load(held, *rel + HFS_DEVTAB_OFF, sb, t, why,
			    sizeof(why)))
		return hfs_err_set(err, -EUCLEAN, "%s: the mirror's device "
				   "table: %s", held->path, why);
	return 0;
}

/* Device 0 comes back after the volume went on from its mirror (a
 * device-dax enabled again, a region file restored): its metadata is
 * older than the mirror's, which recorded it lost.  Mirroring it now
 * would overwrite everything done since; refuse and say what to mount.
 * A mirror whose table cannot be read says nothing (fsck compares). */
static int device0_not_stale(struct hfs_region *rg, const struct hfs_super *sb,
			     const struct hfs_devtab *t,
			     const struct hfs_region *mdev, struct hfs_err *err)
{
	struct hfs_devtab mt;
	char why[200];

	if (hfs_devtab_load(rg, t->t_mirror_off + HFS_DEVTAB_OFF, sb, &mt, why,
			    sizeof(why)) ||
	    mt.t_dev[0].d_state == HFS_DEV_ACTIVE)
		return 0;
	return hfs_err_set(err, -ESTALE, "%s: recorded lost by the volume, "
			   "which went on from the mirror of its metadata on "
			   "%s (device table generation %" PRIu64 " there, %"
			   PRIu64 " here): what it holds is stale; mount %s "
			   "as the volume (holdfs %s MNT), and format this "
			   "device anew to use it again", rg->path, mdev->path,
			   mt.t_gen, t->t_gen, mdev->path, mdev->path);
}

static int assemble(struct hfs_region *rg, const struct hfs_super *sb,
		    const struct hfs_region *held, const char *const *paths,
		    unsigned npaths, const struct hfs_region_opts *ropts,
		    bool degraded, struct hfs_devtab *t, uint32_t *missing,
		    struct hfs_err *err)
{
	struct hfs_region *by_index[HFS_MEMBERS_MAX] = { NULL };
	uint64_t offs[HFS_MEMBERS_MAX];
	int ret = 0;

	if (held) {
		/* the mirror's device, held (and locked) by the caller */
		struct hfs_region_opts o = *ropts;
		struct hfs_region *m = NULL;

		o.no_lock = true;
		ret = hfs_region_open(held->path, &o, &m, err);
		if (!ret) {
			int idx = recognise(m, sb, t, err);

			if (idx > 0)
				by_index[idx] = m;
			else {
				hfs_region_close(m);
				ret = idx ? idx : -EINVAL;
			}
		}
	}

	for (unsigned i = 0; !ret && i < npaths; i++) {
		struct hfs_region *m = NULL;
		int idx;

		ret = same_node_twice(held ? held : rg, paths, i, err);
		if (!ret)
			ret = hfs_region_open(paths[i], ropts, &m, err);
		if (ret)
			break;
		idx = ropts->check_private
			      ? hfs_region_check_private(m, ropts->private_uid,
							 err)
			      : 0;
		if (!idx)
			idx = recognise(m, sb, t, err);
		if (idx > 0 && by_index[idx])
			idx = hfs_err_set(err, -EINVAL, "%s: member %d given "
					  "twice (also as %s)", paths[i], idx,
					  by_index[idx]->path);
		if (idx < 0) {
			hfs_region_close(m);
			ret = idx;
			break;
		}
		by_index[idx] = m;
	}
	if (!ret)
		find_renamed(rg, sb, t, by_index, ropts);
	*missing = 0;
	for (uint32_t i = 1; !ret && i < t->t_count; i++) {
		offs[i] = t->t_dev[i].d_base;
		if (t->t_dev[i].d_state != HFS_DEV_ACTIVE) {
			/* lost or retired: its files' data there is marked
			 * lost already; never mapped again */
			hfs_region_close(by_index[i]);
			by_index[i] = NULL;
			continue;
		}
		if (by_index[i])
			continue;
		if (degraded)
			*missing |= 1u << i;
		else
			ret = hfs_err_set(err, -ENODEV, "%s: device %u of the "
					  "volume (%u after this one) is "
					  "missing; name every device (holdfs "
					  "-o device=PATH, fsck.holdfs REGION "
					  "DEVICE...), or mount without it "
					  "with -o degraded (its files' data "
					  "is then lost)", rg->path, i,
					  t->t_count - 1);
	}
	if (ret) {
		for (uint32_t i = 1; i < HFS_MEMBERS_MAX; i++)
			hfs_region_close(by_index[i]);
		return ret;
	}
	offs[0] = 0;
	ret = hfs_region_assemble(rg, by_index + 1, offs, t->t_count, err);
	if (ret || !t->t_mirror_dev || held)
		return ret; /* from the mirror: nothing to mirror to */
	if (!by_index[t->t_mirror_dev]) {
		/* the mirror's device is lost (recorded, or missing with -o
		 * degraded): device 0 goes on alone */
		return 0;
	}
	ret = device0_not_stale(rg, sb, t, by_index[t->t_mirror_dev], err);
	return ret ? ret
		   : hfs_region_set_mirror(rg, sb->s_meta_end, t->t_mirror_off,
					   err);
}
