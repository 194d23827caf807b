/* SPDX-License-Identifier: MIT */
/*
 * A new mirror of device 0's metadata (docs/format.md "A new mirror"):
 * once the device holding the mirror is lost, device 0's metadata has one
 * copy; this makes a new device a member of the volume laid out as mkfs
 * lays out device 1 (header, the mirror one allocation unit after its
 * start, then its pool) and points the device table at it.
 *
 * Offline only: the caller holds the ownership lock of every device of
 * the volume (no mount, no fsck meanwhile), and the volume was cleanly
 * unmounted, so device 0's bytes [0, s_meta_end) are settled and a byte
 * copy of them is the mirror.
 *
 * Crash safety without the journal: the switch is device 0's primary
 * device table, then its primary superblock.  The two describe the pool
 * together (the table's pools must add up to s_pool_blocks and end at
 * s_pool_end, hfs_devtab_ok), and the new device adds pool, so a new
 * table never passes beside the old superblock nor the old table beside
 * the new one.  Until the new primary superblock is whole, every reader
 * (mount, fsck, this code run again) finds the old superblock (the
 * primary, or the backup when the primary is torn) and, of the two
 * tables, only the backup's (old) passes with it: the old volume, in
 * which the new device is no member.  From then on the new pair is the
 * primary's; the backup's, written last, follows.  The journal is not
 * used because a mount assembles the devices from the table before it
 * replays the journal: a committed, unapplied transaction adding a
 * device would be replayed into a volume assembled without it.
 */
#include "mirror_add.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "media.h"
#include "members.h"
#include "mkfs.h"
#include "mkfs_members_i.h"

#define BLK HFS_BLOCK_SIZE

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static const char *member_path(struct hfs_region *rg, unsigned i)
{
	struct hfs_region *m = hfs_region_member(rg, i);

	return m && m->path ? m->path : "not given";
}

/* Does the journal hold a transaction (committed or not)?  A cleanly
 * unmounted volume's is cleared. */
static int journal_pending(struct hfs_region *rg, const struct hfs_super *sb)
{
	struct hfs_jheader h;
	int ret = hfs_region_read(rg, sb->s_journal_off, &h, sizeof(h), NULL);

	if (ret)
		return ret;
	return h.j_magic != 0 || h.j_bytes != 0;
}

int hfs_mirror_add_check(struct hfs_region *rg, const struct hfs_super *sb,
			 const struct hfs_devtab *t, struct hfs_err *err)
{
	uint32_t md = t->t_mirror_dev;
	int ret;

	if (!(sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV) || !t->t_count)
		return hfs_err_set(err, -EINVAL, "%s: a holdfs of one device: "
				   "it has no mirror to replace; a mirror of "
				   "the metadata needs a volume of several "
				   "devices, made by mkfs.holdfs REGION "
				   "DEVICE... (no conversion exists: back up, "
				   "format, restore)", rg->path);
	if (!md)
		return hfs_err_set(err, -EINVAL, "%s: made with --no-mirror: "
				   "device 0 has no metadata zone (its "
				   "directory, extent and xattr blocks may lie "
				   "anywhere in its pool), so there is no range "
				   "to mirror; a mirrored volume takes a new "
				   "mkfs.holdfs REGION DEVICE... without "
				   "--no-mirror and a restore from backup",
				   rg->path);
	if (t->t_dev[0].d_state != HFS_DEV_ACTIVE)
		return hfs_err_set(err, -EINVAL, "%s: the first device is "
				   "recorded lost: the volume runs from the "
				   "mirror on device %u, and a new mirror of "
				   "that one is not built; back up and format "
				   "a new volume", rg->path, md);
	if (md < t->t_count && t->t_dev[md].d_state == HFS_DEV_ACTIVE)
		return hfs_err_set(err, -EEXIST, "%s: the mirror of its "
				   "metadata on device %u (%s) still works: "
				   "nothing to replace; a new mirror is for a "
				   "volume whose mirror's device is lost "
				   "(holdfsctl devices shows it lost or "
				   "retired)", rg->path, md,
				   member_path(rg, md));
	if (t->t_count >= HFS_MEMBERS_MAX)
		return hfs_err_set(err, -ENOSPC, "%s: the device table is full "
				   "(%u devices, the most a volume has; lost "
				   "and retired devices keep their entries): "
				   "no room for a new device; back up and "
				   "format a new volume", rg->path,
				   t->t_count);
	if (sb->s_state & HFS_STATE_ERRORS)
		return hfs_err_set(err, -EUCLEAN, "%s: the volume has errors "
				   "recorded; run fsck.holdfs -y on it first",
				   rg->path);
	ret = journal_pending(rg, sb);
	if (ret < 0)
		return hfs_err_set(err, ret, "%s: cannot read the journal: %s; "
				   "run fsck.holdfs", rg->path, strerror(-ret));
	if (ret || !(sb->s_state & HFS_STATE_CLEAN))
		return hfs_err_set(err, -EBUSY, "%s: not cleanly unmounted "
				   "(%s): mount and unmount it, or run "
				   "fsck.holdfs -y, first; the mirror is a copy "
				   "of settled metadata", rg->path,
				   ret ? "its journal holds a transaction"
				       : "no clean flag");
	return 0;
}

/* nd's entry as device i: mapped on the next 1 GiB boundary after the
 * last device, one allocation unit of header, the mirror (s_meta_end
 * bytes, whole units), then its pool to its last whole unit. */
static int plan(struct hfs_region *rg, const struct hfs_super *sb,
		const struct hfs_devtab *t, struct hfs_region *nd,
		struct hfs_dev_entry *d, struct hfs_err *err)
{
	const struct hfs_dev_entry *last = &t->t_dev[t->t_count - 1];
	uint64_t au = sb->s_alloc_unit, mlen = align_up(sb->s_meta_end, au);
	uint64_t need = au + mlen + au, end;

	if (strcmp(nd->granularity, rg->granularity) != 0)
		return hfs_err_set(err, -EINVAL, "%s: persists at %s "
				   "granularity, the volume's devices at %s; "
				   "the devices of a volume must offer the "
				   "same", nd->path, nd->granularity,
				   rg->granularity);
	if (!nd->align || nd->align > au || au % nd->align)
		return hfs_err_set(err, -EINVAL, "%s: its %" PRIu64 "-byte "
				   "alignment does not divide the volume's %"
				   PRIu64 "-byte allocation unit, which is "
				   "fixed at mkfs; give a device whose "
				   "alignment divides it", nd->path, nd->align,
				   au);
	if (need < HFS_MIN_REGION)
		need = HFS_MIN_REGION;
	if (nd->size < need || nd->size / au * au < au + mlen + au)
		return hfs_err_set(err, -ENOSPC, "%s: %" PRIu64 " bytes; the "
				   "mirror needs %" PRIu64 " (a header unit, "
				   "the %" PRIu64 " bytes of device 0's "
				   "metadata, one %" PRIu64 "-byte allocation "
				   "unit of pool; 16 MiB at least): give a "
				   "larger device", nd->path, nd->size, need,
				   mlen, au);
	memset(d, 0, sizeof(*d));
	d->d_base = align_up(last->d_base + last->d_size, HFS_MEMBER_SPACING);
	d->d_size = nd->size;
	d->d_pool_off = d->d_base + au + mlen;
	end = d->d_base + nd->size / au * au;
	d->d_pool_blocks = (end - d->d_pool_off) / BLK;
	d->d_align = (uint32_t)nd->align;
	d->d_state = HFS_DEV_ACTIVE;
	d->d_role = HFS_DEV_ROLE_DATA | HFS_DEV_ROLE_MIRROR;
	return hfs_member_random_uuid(d->d_uuid, nd->path, err);
}

/* What nd holds now.  0: nothing of holdfs, or (force) whatever; 1: a
 * header of this volume as device t_count, which no table names: a run
 * that stopped before the switch.  -EEXIST with err otherwise. */
static int check_target(const struct hfs_super *sb, const struct hfs_devtab *t,
			struct hfs_region *nd, bool force,
			struct hfs_mirror_add_result *res, struct hfs_err *err)
{
	struct hfs_member_super h;
	struct hfs_super old;

	if (hfs_member_probe(nd, &h)) {
		bool ours = !memcmp(h.m_vol_uuid, sb->s_uuid, 16);
		bool known = false;

		for (uint32_t i = 0; i < t->t_count; i++)
			known |= !memcmp(t->t_dev[i].d_uuid, h.m_uuid, 16);
		if (ours && h.m_index == t->t_count && !known) {
			res->reused_own = true;
			return 1;
		}
		if (!force)
			return hfs_err_set(err, -EEXIST, "%s: device %u of %s "
					   "holdfs volume%s; use -f to "
					   "overwrite it", nd->path, h.m_index,
					   ours ? "this" : "another",
					   ours ? " (recorded lost or retired: "
						  "its contents are stale)"
						: "");
		res->overwrote = true;
		return 0;
	}
	if (hfs_super_probe(nd, &old)) {
		if (!force)
			return hfs_err_set(err, -EEXIST, "%s: already contains "
					   "a holdfs%s; use -f to overwrite",
					   nd->path,
					   !memcmp(old.s_uuid, sb->s_uuid, 16)
						   ? " (this volume's first "
						     "device?)"
						   : "");
		res->overwrote = true;
	}
	return 0;
}

/* The new table and superblock: device i appended and holding the
 * mirror (the old mirror's device keeps its entry, without the role),
 * its pool added to the volume's (the root reserve grows with it, as
 * mkfs -m reserves a share of every device's pool). */
static int new_layout(struct hfs_region *rg, const struct hfs_super *sb,
		      const struct hfs_devtab *t, const struct hfs_dev_entry *d,
		      struct hfs_super *nsb, struct hfs_devtab *nt,
		      struct hfs_err *err)
{
	uint32_t i = t->t_count;
	char why[200];

	*nt = *t;
	nt->t_dev[i] = *d;
	nt->t_dev[t->t_mirror_dev].d_role &= ~HFS_DEV_ROLE_MIRROR;
	nt->t_count = i + 1;
	nt->t_mirror_dev = i;
	nt->t_mirror_off = d->d_base + sb->s_alloc_unit;
	nt->t_gen = t->t_gen + 1;
	hfs_devtab_set_crc(nt);
	*nsb = *sb;
	nsb->s_pool_blocks = sb->s_pool_blocks + d->d_pool_blocks;
	nsb->s_root_blocks = (uint64_t)((unsigned __int128)sb->s_root_blocks *
					nsb->s_pool_blocks / sb->s_pool_blocks);
	nsb->s_pool_end = d->d_pool_off + d->d_pool_blocks * BLK;
	hfs_super_set_crc(nsb);
	/* what this file computed must pass every reader's checks */
	if (hfs_super_check(nsb, hfs_region_member_size(rg, 0),
			    "new superblock", err))
		return -EINVAL;
	if (!hfs_devtab_ok(nt, nsb, why, sizeof(why)))
		return hfs_err_set(err, -EINVAL, "new device table: %s", why);
	/* the switch relies on it: neither table passes beside the other
	 * superblock */
	if (hfs_devtab_ok(nt, sb, why, sizeof(why)) ||
	    hfs_devtab_ok(t, nsb, why, sizeof(why)))
		return hfs_err_set(err, -EINVAL, "new device table: not told "
				   "apart from the old one");
	return 0;
}

#define STEP(k)                                                          \
	do {                                                             \
		if (opts->stop_after == (k))                             \
			return hfs_err_set(err, -EINTR, "stopped after " \
					   "step %u (test)", (k));       \
	} while (0)

/* The mirror's bytes on nd: any old superblock there destroyed (block 0
 * and the last block, where a probe or a mount looks), device 0's
 * [0, s_meta_end) at one allocation unit, with the new superblock and
 * table in its first block. */
static int write_mirror(struct hfs_region *rg, struct hfs_region *nd,
			const struct hfs_super *nsb,
			const struct hfs_devtab *nt, struct hfs_err *err)
{
	uint64_t at = nsb->s_alloc_unit;
	int ret = hfs_region_zero(nd, 0, BLK, NULL);

	if (!ret)
		ret = hfs_region_zero(nd, hfs_super_backup_off(nd->size), BLK,
				      NULL);
	if (ret)
		return hfs_err_set(err, ret, "%s: cannot clear its first and "
				   "last blocks: %s", nd->path, strerror(-ret));
	ret = hfs_member_copy_metadata(rg, nd, at, nsb, err);
	if (ret)
		return ret;
	ret = hfs_member_write_super_and_table(nd, at, nsb, nt);
	if (ret)
		return hfs_err_set(err, ret, "%s: cannot write the mirror's "
				   "superblock: %s", nd->path, strerror(-ret));
	return 0;
}

int hfs_mirror_add(struct hfs_region *rg, const struct hfs_super *sb,
		   const struct hfs_devtab *t, struct hfs_region *nd,
		   const struct hfs_mirror_add_opts *opts,
		   struct hfs_mirror_add_result *res, struct hfs_err *err)
{
	static const struct hfs_mirror_add_opts none;
	uint64_t boff = sb->s_backup_off;
	struct hfs_dev_entry d;
	struct hfs_super nsb;
	struct hfs_devtab nt;
	int ret;

	if (!opts)
		opts = &none;
	memset(res, 0, sizeof(*res));
	if ((ret = hfs_mirror_add_check(rg, sb, t, err)) ||
	    (ret = plan(rg, sb, t, nd, &d, err)) ||
	    (ret = check_target(sb, t, nd, opts->force, res, err)) < 0 ||
	    (ret = new_layout(rg, sb, t, &d, &nsb, &nt, err)))
		return ret;
	/* everything on the new device first: until device 0 names it,
	 * it is no member, whatever it holds */
	if ((ret = write_mirror(rg, nd, &nsb, &nt, err)))
		return ret;
	STEP(HFS_MIRROR_ADD_COPY);
	if ((ret = hfs_member_write_header(nd, t->t_count, &nsb, &nt, err)))
		return ret;
	STEP(HFS_MIRROR_ADD_HEADER);
	/* the switch: primary table, primary superblock (the file comment
	 * says why a crash between any two leaves one whole volume) */
	res->switching = true;
	if ((ret = hfs_region_write(rg, HFS_DEVTAB_OFF, &nt, sizeof(nt), NULL)))
		goto fail;
	STEP(HFS_MIRROR_ADD_TABLE);
	if ((ret = hfs_region_write(rg, 0, &nsb, sizeof(nsb), NULL)))
		goto fail;
	STEP(HFS_MIRROR_ADD_SUPER);
	if ((ret = hfs_region_write(rg, boff + HFS_DEVTAB_OFF, &nt, sizeof(nt),
				    NULL)))
		goto fail;
	STEP(HFS_MIRROR_ADD_BACKUP_TABLE);
	if ((ret = hfs_region_write(rg, boff, &nsb, sizeof(nsb), NULL)))
		goto fail;
	res->sb = nsb;
	res->t = nt;
	res->index = t->t_count;
	return 0;
fail:
	return hfs_err_set(err, ret, "%s: cannot write its device table or "
			   "superblock: %s; run fsck.holdfs, then this again",
			   rg->path, strerror(-ret));
}
