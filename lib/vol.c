/* SPDX-License-Identifier: MIT */
/*
 * Volume lifecycle: mount-time load, unmount, statfs.
 *
 * Mount reads the superblock (primary, else backup), replays the journal,
 * then walks the inode table up to the high-water mark, loading every live
 * inode, its extent map, directory index and xattrs, and reserving every
 * block it names in the free-space index (blocks.c).  That walk is the
 * whole cost of a mount: it follows the metadata in use, not the size of
 * the region.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "badlist_i.h"
#include "blocks_i.h"
#include "dir_i.h"
#include "dslot_i.h"
#include "health_i.h"
#include "inode_i.h"
#include "journal_i.h"
#include "media.h"
#include "members.h"
#include "mirror_heal.h"
#include "region.h"
#include "rmap_i.h"
#include "vol.h"
#include "vol_i.h"
#include "vol_heal_i.h"
#include "xattr_i.h"

#define ITAB_CHUNK 256 /* inode slots read per guarded copy */

int hfs_vol_lock(struct hfs_vol *vol, bool write)
{
	pthread_mutex_lock(&vol->lock);
	if (vol->failed) {
		pthread_mutex_unlock(&vol->lock);
		return -EIO;
	}
	if (write && vol->readonly) {
		pthread_mutex_unlock(&vol->lock);
		return -EROFS;
	}
	return 0;
}

int hfs_vol_lock_look(struct hfs_vol *vol, uint64_t ino)
{
	pthread_mutex_lock(&vol->lock);
	if (vol->failed && !(vol->shutdown && ino == HFS_ROOT_INO)) {
		pthread_mutex_unlock(&vol->lock);
		return -EIO;
	}
	return 0;
}

void hfs_vol_unlock(struct hfs_vol *vol)
{
	pthread_mutex_unlock(&vol->lock);
}

struct hfs_region *hfs_vol_region(struct hfs_vol *vol)
{
	return vol->rg;
}

int hfs_vol_fail(struct hfs_vol *vol, int ret)
{
	vol->failed = true;
	hfs_tx_abort(&vol->tx);
	return ret;
}

void hfs_vol_set_hooks(struct hfs_vol *vol, const struct hfs_vol_hooks *h)
{
	pthread_mutex_lock(&vol->lock);
	if (h)
		vol->hooks = *h;
	else
		memset(&vol->hooks, 0, sizeof(vol->hooks));
	pthread_mutex_unlock(&vol->lock);
}

uint64_t hfs_vol_alloc_unit(struct hfs_vol *vol)
{
	return vol->unit_blocks * HFS_BLOCK_SIZE;
}

void hfs_vol_uuid(struct hfs_vol *vol, uint8_t uuid[16])
{
	memcpy(uuid, vol->sb.s_uuid, 16);
}

/* ------------------------------------------------------------ mount */

static int load_slot(struct hfs_vol *vol, uint64_t ino,
		     const struct hfs_inode_disk *d)
{
	struct hfs_inode *ip;
	int ret;

	if (d->i_generation > vol->last_gen)
		vol->last_gen = d->i_generation;
	if (d->i_mode == 0) {
		vol->ifree[vol->nifree++] = ino;
		return 0;
	}
	ret = hfs_inode_load(vol, ino, d, &ip);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		/* Keep the slot out of use (neither free nor live) so fsck
		 * still finds it; the volume is marked as having errors. */
		vol->errors++;
		return 0;
	}
	vol->itab[ino] = ip;
	vol->used_inodes++;
	return hfs_vol_claim_blocks(vol, ip);
}

static int load_inodes(struct hfs_vol *vol, uint64_t hwm, struct hfs_err *err)
{
	struct hfs_inode_disk *buf = malloc(ITAB_CHUNK * sizeof(*buf));
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t first = 1; first < hwm && !ret; first += ITAB_CHUNK) {
		uint64_t n = hwm - first < ITAB_CHUNK ? hwm - first : ITAB_CHUNK;
		struct hfs_fault f;

		ret = hfs_region_read(vol->rg, hfs_inode_off(vol, first), buf,
				      n * sizeof(*buf), &f);
		if (ret == -EIO) /* poisoned on device 0: the mirror's slots */
			ret = hfs_vol_heal_read_slots(vol, hfs_inode_off(vol, first),
						      buf, n, sizeof(*buf), &f);
		if (ret) {
			hfs_err_set(err, ret, "%s: media error in the inode table at 0x%llx",
				    vol->rg->path, (unsigned long long)f.off);
			break;
		}
		for (uint64_t i = 0; i < n && !ret; i++)
			ret = load_slot(vol, first + i, &buf[i]);
	}
	free(buf);
	/* low slots first from the free stack */
	for (uint64_t a = 0, b = vol->nifree; a + 1 < b; a++, b--) {
		uint64_t t = vol->ifree[a];

		vol->ifree[a] = vol->ifree[b - 1];
		vol->ifree[b - 1] = t;
	}
	return ret;
}

static int load_dirs_and_xattrs(struct hfs_vol *vol, struct hfs_vol_info *info)
{
	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm; ino++) {
		struct hfs_inode *ip = vol->itab[ino];
		int ret;

		if (!ip)
			continue;
		info->inodes++;
		if (S_ISDIR(ip->d.i_mode)) {
			info->dirs++;
			ret = hfs_dir_load(vol, ip, &vol->errors);
			if (ret == -ENOMEM)
				return ret;
			if (ret) { /* unreadable directory: empty, errors */
				vol->errors++;
				ip->dir = hfs_dir_new();
				if (!ip->dir)
					return -ENOMEM;
			}
		} else if (S_ISREG(ip->d.i_mode)) {
			info->files++;
		}
		if (ip->d.i_xattr_blk) {
			ret = hfs_xattr_load(vol, ip);
			if (ret == -ENOMEM)
				return ret;
			/* unreadable: no xattrs in DRAM, the block stays
			 * reserved and on media for fsck */
			if (ret)
				vol->errors++;
		}
	}
	return 0;
}

/* Unlinked inodes still open at the last commit (or at a crash). */
static int free_orphans(struct hfs_vol *vol, struct hfs_vol_info *info)
{
	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm; ino++) {
		struct hfs_inode *ip = vol->itab[ino];
		int ret;

		if (!ip || ip->d.i_nlink != 0 || ino == HFS_ROOT_INO)
			continue;
		ret = hfs_inode_delete_locked(vol, ip);
		if (!ret)
			ret = hfs_tx_commit(vol, &vol->tx);
		if (ret)
			return ret;
		info->orphans_freed++;
	}
	return 0;
}

static int vol_alloc_tables(struct hfs_vol *vol)
{
	uint64_t start, end;
	int ret;

	vol->itab = calloc(vol->sb.s_inode_count, sizeof(*vol->itab));
	vol->ifree = malloc(vol->sb.s_inode_count * sizeof(*vol->ifree));
	if (!vol->itab || !vol->ifree)
		return -ENOMEM;
	vol->unit_blocks = vol->sb.s_alloc_unit / HFS_BLOCK_SIZE;
	vol->rmap = hfs_rmap_new();
	if (!vol->rmap)
		return -ENOMEM;
	hfs_super_pool_range(&vol->sb, &start, &end);
	ret = hfs_alloc_init(&vol->alloc, start, end);
	return ret ? ret : hfs_devtab_reserve_gaps(&vol->devtab, &vol->alloc);
}

/* A volume of several devices: map the others next to member 0 before
 * the journal replays into any of them. */
static int assemble(struct hfs_vol *vol, const struct hfs_vol_opts *opts,
		    struct hfs_err *err)
{
	static const struct hfs_region_opts none;
	bool multi = vol->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV;

	if (!multi && opts->ndevices)
		return hfs_err_set(err, -EINVAL, "%s: a holdfs of one device; "
				   "it has no members to give with -o device=",
				   vol->rg->path);
	if (!multi || vol->rg->nmembers)
		return 0;
	return hfs_members_assemble(vol->rg, &vol->sb, opts->devices,
				    opts->ndevices,
				    opts->region_opts ? opts->region_opts
						      : &none,
				    opts->degraded, &vol->devtab,
				    &vol->missing, err);
}

/* Device i lost at mount: [off, off + len) of the volume fails like a
 * range lost while mounted (the files with data there lose it, the range
 * goes on the bad-extent list), then the table records the device lost.
 * -EUCLEAN if metadata lies there. */
static int lose_device_range(struct hfs_vol *vol, unsigned i, uint64_t off,
			     uint64_t len)
{
	struct hfs_fail_class fc;
	int r = hfs_vol_classify_failure(vol, off, len, &fc);

	if (!r && fc.metadata)
		r = -EUCLEAN;
	if (!r)
		r = hfs_vol_mark_lost(vol, &fc, NULL, NULL);
	hfs_fail_class_free(&fc);
	return r ? r : hfs_vol_device_state(vol, i, HFS_DEV_LOST);
}

/* -o degraded: the devices not given are lost now, as if they had gone
 * while mounted: their range fails (the files with data there lose it,
 * the range goes on the bad-extent list) and the table records them
 * lost, so the next mount no longer asks for them. */
static int lose_missing(struct hfs_vol *vol, struct hfs_vol_info *info,
			struct hfs_err *err)
{
	for (uint32_t i = 1; i < vol->devtab.t_count; i++) {
		const struct hfs_dev_entry *d = &vol->devtab.t_dev[i];
		int r;

		if (!(vol->missing & (1u << i)))
			continue;
		r = lose_device_range(vol, i, d->d_base, d->d_size);
		if (r)
			return hfs_err_set(err, r, "%s: cannot mount without "
					   "device %u: %s", vol->rg->path, i,
					   r == -EUCLEAN ? "metadata on it"
							 : strerror(-r));
		info->devices_lost++;
	}
	return 0;
}

/* Device 0 served from its mirror for the first time: the file data on
 * it is lost (its areas and metadata zone live on in the mirror), the
 * table records it lost. */
static int lose_device0(struct hfs_vol *vol, struct hfs_vol_info *info,
			struct hfs_err *err)
{
	int r;

	if (!vol->from_mirror ||
	    vol->devtab.t_dev[0].d_state != HFS_DEV_ACTIVE)
		return 0;
	if (vol->readonly)
		return hfs_err_set(err, -EROFS, "%s: the first device is lost: "
				   "a read-only mount cannot record it; mount "
				   "read-write with -o degraded", vol->rg->path);
	r = lose_device_range(vol, 0, vol->sb.s_meta_end,
			      vol->sb.s_backup_off - vol->sb.s_meta_end);
	if (r)
		return hfs_err_set(err, r, "%s: cannot record the first device "
				   "lost: %s", vol->rg->path,
				   r == -EUCLEAN ? "metadata outside its zone"
						 : strerror(-r));
	info->devices_lost++;
	return 0;
}

/* No superblock: say so plainly if rg is another device of a volume. */
static int not_the_first(struct hfs_region *rg, int ret, struct hfs_err *err)
{
	struct hfs_member_super h;

	if (ret != -EINVAL || !hfs_member_probe(rg, &h))
		return ret;
	if (err) /* this says more than "bad magic" */
		memset(err, 0, sizeof(*err));
	return hfs_err_set(err, -EINVAL, "%s: device %u of a holdfs volume, "
			   "not its first; mount the first device and name "
			   "this one with -o device=%s", rg->path, h.m_index,
			   rg->path);
}

/* The superblock as device 0 has it: from device 0, or from its mirror
 * (no backup there: it was at device 0's end). */
static int read_primary(struct hfs_vol *vol, const struct hfs_vol_opts *opts,
			struct hfs_vol_info *info, struct hfs_err *err)
{
	if (!vol->from_mirror)
		return hfs_super_read(vol->rg, opts->force_backup, &vol->sb,
				      &info->used_backup_sb, err);
	if (hfs_region_read(vol->rg, 0, &vol->sb, sizeof(vol->sb), NULL))
		return hfs_err_set(err, -EIO, "%s: the mirror's superblock is "
				   "unreadable", vol->rg->path);
	return hfs_super_check(&vol->sb, vol->sb.s_region_size,
			       vol->rg->path, err);
}

/* Device 0 is gone and rg is the device that holds its mirror: serve
 * device 0 from the mirror (docs/format.md "Mirror of the metadata").
 * Allowed when the table already says device 0 is lost, or with -o
 * degraded.  vol->rg becomes the volume made of the mirror as device 0
 * and the other devices; the caller's rg stays the caller's (it holds
 * the ownership lock). */
static int from_mirror(struct hfs_vol *vol, const struct hfs_vol_opts *opts,
		       int why, struct hfs_err *err)
{
	static const struct hfs_region_opts none;
	struct hfs_region *held = vol->rg, *slice = NULL;
	struct hfs_err e2 = { 0 };
	struct hfs_super sb;
	struct hfs_devtab t;
	uint64_t rel;
	int ret = hfs_members_read_mirror(held, &sb, &t, &rel, &e2);

	if (ret == -ENOENT)
		return not_the_first(held, why, err);
	if (ret) {
		if (err)
			*err = e2;
		return ret;
	}
	if (t.t_dev[0].d_state == HFS_DEV_ACTIVE && !opts->degraded) {
		if (err)
			memset(err, 0, sizeof(*err));
		return hfs_err_set(err, -EINVAL, "%s: device %u of a holdfs "
				   "volume, not its first; mount the first "
				   "device and name this one with -o device=%s; "
				   "if the first device is lost, this one holds "
				   "its mirror: mount it with -o degraded (the "
				   "file data on the first device is lost)",
				   held->path, t.t_mirror_dev, held->path);
	}
	if (err)
		memset(err, 0, sizeof(*err));
	ret = hfs_region_open_slice(held, rel, sb.s_meta_end, &slice, err);
	if (!ret)
		ret = hfs_members_assemble_from_mirror(
			slice, &sb, held, opts->devices, opts->ndevices,
			opts->region_opts ? opts->region_opts : &none,
			opts->degraded, &t, &vol->missing, err);
	if (ret) {
		hfs_region_close(slice);
		return ret;
	}
	vol->rg = slice;
	vol->own_rg = true;
	vol->from_mirror = true;
	vol->devtab = t;
	vol->sb = sb;
	return 0;
}

static int read_super_and_replay(struct hfs_vol *vol,
				 const struct hfs_vol_opts *opts,
				 struct hfs_vol_info *info, struct hfs_err *err)
{
	struct hfs_region *rg = vol->rg;
	int ret;

	ret = hfs_super_read(rg, opts->force_backup, &vol->sb,
			     &info->used_backup_sb, err);
	/* both bad: the superblock of the mirror on a device given */
	if (ret && opts->ndevices &&
	    !hfs_mirror_find_super(rg, opts->devices, opts->ndevices,
				   &vol->sb)) {
		if (err)
			memset(err, 0, sizeof(*err));
		ret = 0;
	}
	if (ret && (ret = from_mirror(vol, opts, ret, err)))
		return ret;
	rg = vol->rg;
	if (vol->sb.s_feat_ro_compat & ~HFS_FEAT_RO_COMPAT_SUPPORTED)
		vol->readonly = true;
	ret = assemble(vol, opts, err);
	if (!ret) /* device 0's bad superblock, table or journal */
		ret = hfs_vol_heal_before_replay(vol, opts, info, err);
	if (ret)
		return ret;
	/* device 0's journal, or the mirror's if device 0's stays
	 * unreadable */
	ret = hfs_vol_heal_replay(vol, err);
	if (ret < 0)
		return ret;
	info->replayed = ret == 1;
	if (info->replayed) {
		/* the transaction may have changed the superblock */
		ret = hfs_vol_heal_reread_super(vol, err);
		if (ret > 0) /* device 0's primary reads */
			ret = read_primary(vol, opts, info, err);
		if (ret)
			return ret;
	}
	/* device 0's superblock or journal cannot be written: read-only */
	if (hfs_vol_heal_stuck(vol)) {
		vol->readonly = true;
		info->ro_unwritable = true;
	}
	if (!vol->readonly && (ret = hfs_journal_clear(rg, &vol->sb)))
		return hfs_err_set(err, ret, "%s: cannot clear the journal",
				   rg->path);
	/* the rest of device 0's metadata, before anything loads it */
	ret = hfs_vol_heal_after_replay(vol, opts, info, err);
	if (ret)
		return ret;
	info->was_clean = vol->sb.s_state & HFS_STATE_CLEAN;
	return 0;
}

static int load_all(struct hfs_vol *vol, struct hfs_vol_info *info,
		    struct hfs_err *err)
{
	uint64_t hwm = vol->sb.s_inode_hwm;
	int ret = vol_alloc_tables(vol);

	if (ret)
		return ret;
	ret = hfs_badlist_load(vol, err);
	if (ret == -ENOMEM)
		return ret;
	if (ret) { /* a damaged list loses nothing yet: fsck rebuilds it */
		vol->errors++;
		vol->nbad = 0;
	}
	/* before the inode table, the zone and the slots are read */
	hfs_vol_serve_recorded(vol);
	/* Mounted from the backup: its hwm may be stale, scan every slot. */
	if (info->used_backup_sb || hwm > vol->sb.s_inode_count || hwm < 2)
		hwm = vol->sb.s_inode_count;
	vol->sb.s_inode_hwm = hwm;
	ret = load_inodes(vol, hwm, err);
	if (ret)
		return ret;
	hfs_vol_reserve_bad(vol);
	{
		struct hfs_inode *root = vol->itab[HFS_ROOT_INO];

		if (!root || !S_ISDIR(root->d.i_mode))
			return hfs_err_set(err, -EUCLEAN,
					   "%s: root directory is damaged; run fsck.holdfs",
					   vol->rg->path);
	}
	return load_dirs_and_xattrs(vol, info);
}

/* Mark the volume mounted (clean flag off) and restore the primary
 * superblock if it was bad: one transaction. */
static int mark_mounted(struct hfs_vol *vol)
{
	struct timespec now;

	hfs_now(&now);
	vol->sb.s_state &= ~HFS_STATE_CLEAN;
	if (vol->errors)
		vol->sb.s_state |= HFS_STATE_ERRORS;
	vol->sb.s_mount_count++;
	/* slots may hold sizes not yet in their inodes until a clean
	 * unmount: a holdfs that cannot fold them must not mount this */
	if (vol->ds.count)
		vol->sb.s_feat_incompat |= HFS_FEAT_INCOMPAT_DSLOTS_LIVE;
	vol->sb.s_mount_time = (uint64_t)now.tv_sec * 1000000000ull +
			       (uint64_t)now.tv_nsec;
	vol->sb.s_journal_seq = vol->jseq;
	hfs_super_set_crc(&vol->sb);
	if (hfs_tx_add(&vol->tx, 0, &vol->sb, sizeof(vol->sb)))
		return -ENOMEM;
	return hfs_tx_commit(vol, &vol->tx);
}

static void log_mount(struct hfs_vol *vol, const struct hfs_vol_info *info)
{
	if (info->used_backup_sb)
		hfs_health_log(vol, HFS_HEALTH_BACKUP_SB, 0, HFS_BLOCK_SIZE, 0,
			       "primary superblock bad; used the backup");
	if (info->replayed)
		hfs_health_log(vol, HFS_HEALTH_REPLAY, vol->sb.s_journal_off, 0,
			       0, "journal replayed at mount");
	hfs_vol_heal_log(vol);
	hfs_vol_serve_log(vol);
	if (vol->errors)
		hfs_health_log(vol, HFS_HEALTH_CORRUPTION, 0, 0, 0,
			       "inconsistencies found at mount; run fsck.holdfs");
	hfs_health_log(vol, HFS_HEALTH_MOUNT, 0, 0, 0, "mounted");
}

int hfs_vol_open(struct hfs_region *rg, const struct hfs_vol_opts *opts,
		 struct hfs_vol **out, struct hfs_vol_info *info,
		 struct hfs_err *err)
{
	static const struct hfs_vol_opts defaults;
	struct hfs_vol_info dummy;
	struct hfs_vol *vol = calloc(1, sizeof(*vol));
	int ret;

	if (!opts)
		opts = &defaults;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (!vol)
		return -ENOMEM;
	vol->rg = rg;
	vol->readonly = opts->readonly || rg->readonly;
	vol->atime = opts->atime;
	vol->nodiratime = opts->nodiratime;
	pthread_mutex_init(&vol->lock, NULL);
	hfs_tx_init(&vol->tx);
	ret = read_super_and_replay(vol, opts, info, err);
	if (!ret)
		ret = load_all(vol, info, err);
	hfs_vol_heal_info(vol, info); /* with the zone blocks the load read */
	if (!ret)
		vol->health_seq = hfs_health_last_seq(rg, &vol->sb);
	if (!ret && !vol->readonly)
		ret = free_orphans(vol, info);
	if (!ret)
		ret = hfs_dslot_mount(vol, info);
	if (!ret)
		ret = lose_device0(vol, info, err);
	if (!ret && vol->missing)
		ret = vol->readonly ? hfs_err_set(err, -EROFS, "%s: a device "
						  "is missing: a read-only "
						  "mount cannot record it "
						  "lost; mount read-write "
						  "with -o degraded",
						  rg->path)
				    : lose_missing(vol, info, err);
	if (!ret && !vol->readonly)
		ret = mark_mounted(vol);
	if (ret) {
		if (ret == -ENOMEM)
			hfs_err_set(err, ret, "%s: out of memory loading metadata",
				    rg->path);
		hfs_err_set(err, ret, "%s: mount failed: %s", rg->path,
			    strerror(-ret));
		vol->failed = true;
		hfs_vol_close(vol);
		return ret;
	}
	if (!vol->readonly)
		log_mount(vol, info);
	*out = vol;
	return 0;
}

/* ------------------------------------------------------------ unmount */

static int write_clean(struct hfs_vol *vol)
{
	struct timespec now;
	int ret = hfs_dslot_unmount_locked(vol);

	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm && !ret; ino++) {
		struct hfs_inode *ip = vol->itab[ino];

		if (!ip)
			continue;
		if (ip->d.i_nlink == 0 && ino != HFS_ROOT_INO)
			ret = hfs_inode_delete_locked(vol, ip);
		else if (ip->dirty_times)
			ret = hfs_inode_stage(vol, ip);
		/* keep transactions well inside the journal: commit at half
		 * of it (a fixed 256 KiB overflowed the smallest journal,
		 * 64 blocks, and failed the unmount with E2BIG) */
		if (!ret && vol->tx.len > vol->sb.s_journal_blocks *
					  HFS_BLOCK_SIZE / 2)
			ret = hfs_tx_commit(vol, &vol->tx);
	}
	hfs_now(&now);
	vol->sb.s_state |= HFS_STATE_CLEAN;
	if (!ret)
		vol->sb.s_feat_incompat &= ~HFS_FEAT_INCOMPAT_DSLOTS_LIVE;
	vol->sb.s_unmount_time = (uint64_t)now.tv_sec * 1000000000ull +
				 (uint64_t)now.tv_nsec;
	vol->sb.s_used_inodes = vol->used_inodes;
	vol->sb.s_used_blocks = vol->sb.s_pool_blocks - vol->alloc.free_blocks;
	vol->sb.s_journal_seq = vol->jseq;
	vol->sb.s_health_seq = vol->health_seq;
	hfs_super_set_crc(&vol->sb);
	if (!ret)
		ret = hfs_tx_add(&vol->tx, 0, &vol->sb, sizeof(vol->sb));
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	if (!ret)
		ret = hfs_journal_clear(vol->rg, &vol->sb);
	/* served from the mirror: the backup was at device 0's end */
	if (!ret && !vol->from_mirror)
		ret = hfs_super_write_backup(vol->rg, &vol->sb);
	return ret;
}

int hfs_vol_close(struct hfs_vol *vol)
{
	int ret = 0;

	if (!vol)
		return 0;
	pthread_mutex_lock(&vol->lock);
	if (!vol->readonly && !vol->failed && vol->itab) {
		ret = write_clean(vol);
		if (!ret)
			hfs_health_log(vol, HFS_HEALTH_UNMOUNT, 0, 0, 0,
				       "clean unmount");
		/* last: nothing reads device 0's range after this */
		hfs_vol_unserve(vol);
	} else if (vol->failed) {
		ret = -EIO;
	}
	pthread_mutex_unlock(&vol->lock);
	if (vol->itab)
		for (uint64_t i = 0; i < vol->sb.s_inode_count; i++)
			hfs_inode_free_mem(vol->itab[i]);
	free(vol->itab);
	hfs_dslot_free(vol);
	free(vol->ifree);
	free(vol->bad);
	hfs_alloc_destroy(&vol->alloc);
	hfs_rmap_free(vol->rmap);
	hfs_tx_free(&vol->tx);
	hfs_vol_heal_free(vol);
	pthread_mutex_destroy(&vol->lock);
	if (vol->own_rg)
		hfs_region_close(vol->rg);
	free(vol);
	return ret;
}

bool hfs_vol_from_mirror(struct hfs_vol *vol)
{
	return vol->from_mirror;
}

int hfs_statfs(struct hfs_vol *vol, struct statvfs *st)
{
	pthread_mutex_lock(&vol->lock);
	memset(st, 0, sizeof(*st));
	st->f_bsize = HFS_BLOCK_SIZE;
	st->f_frsize = HFS_BLOCK_SIZE;
	st->f_blocks = vol->sb.s_pool_blocks;
	st->f_bfree = vol->alloc.free_blocks;
	/* what users other than root may still take (mkfs -m) */
	st->f_bavail = st->f_bfree > vol->sb.s_root_blocks
			       ? st->f_bfree - vol->sb.s_root_blocks : 0;
	st->f_files = vol->sb.s_inode_count - 1;
	st->f_ffree = st->f_files - vol->used_inodes;
	st->f_favail = st->f_ffree > vol->sb.s_root_inodes
			       ? st->f_ffree - vol->sb.s_root_inodes : 0;
	memcpy(&st->f_fsid, vol->sb.s_uuid, sizeof(st->f_fsid));
	st->f_namemax = HFS_NAME_MAX;
	if (vol->readonly)
		st->f_flag |= ST_RDONLY;
	pthread_mutex_unlock(&vol->lock);
	return 0;
}
