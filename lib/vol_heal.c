/* SPDX-License-Identifier: MIT */
/*
 * Mount's side of picking the good copy (vol_heal_i.h): device 0's bad
 * copy of a metadata structure is rewritten from the mirror's good one
 * before anything reads it, and each such repair (or a structure whose
 * two copies are both bad, which is left as it is for fsck) goes into
 * the health log once the volume is mounted.
 */
#include "vol_heal_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_i.h"
#include "media.h"
#include "mirror_heal.h"

#define NOTES 16 /* health records per mount; the rest are counted */

struct hfs_vol_heal {
	const struct hfs_heal_io *inner; /* the caller's copies (testing) */
	struct hfs_vol *vol;            /* its rg, read at each access: a
					 * failover may change it */
	struct hfs_heal_io io;
	struct hfs_heal_sum sum;
	bool mounted;                   /* notes go to the health log now */
	bool journal_stuck;             /* device 0's journal does not read,
					 * even after the rewrite */
	unsigned n;
	uint64_t more;
	int *last;                      /* ret of the item just noted */
	struct {
		struct hfs_heal_item it;
		int ret;
	} note[NOTES];
};

static int in_read(void *ctx, int mirror, uint64_t off, void *buf, size_t len)
{
	const struct hfs_vol_heal *h = ctx;

	return h->inner->read(h->inner->ctx, mirror, off, buf, len);
}

static int in_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	const struct hfs_vol_heal *h = ctx;

	return h->inner->write(h->inner->ctx, off, buf, len);
}

static int reg_read(void *ctx, int mirror, uint64_t off, void *buf,
		    size_t len)
{
	struct hfs_vol_heal *h = ctx;
	uint64_t mlen, moff = 0;

	if (mirror && !hfs_region_mirrored(h->vol->rg, &mlen, &moff))
		return -ENODEV; /* the mirror stopped: no second copy */
	return hfs_region_read(h->vol->rg, off + moff, buf, len, NULL);
}

static int reg_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct hfs_vol_heal *h = ctx;

	return hfs_region_write(h->vol->rg, off, buf, len, NULL);
}

static bool found(void *ctx, const struct hfs_heal_item *it)
{
	struct hfs_vol_heal *h = ctx;

	h->last = NULL;
	if (h->n < NOTES) {
		h->note[h->n].it = *it;
		h->note[h->n].ret = 0;
		h->last = &h->note[h->n++].ret;
	} else {
		h->more++;
	}
	return true; /* a read-only mount never gets here */
}

static void done(void *ctx, const struct hfs_heal_item *it, int ret)
{
	struct hfs_vol_heal *h = ctx;

	(void)it;
	if (h->last)
		*h->last = ret;
}

/* The hooks for this mount in *out, NULL: nothing to compare (a
 * read-only mount cannot repair, and only reports what fsck would). */
static int heal_of(struct hfs_vol *vol, const struct hfs_vol_opts *opts,
		   struct hfs_vol_heal **out)
{
	struct hfs_vol_heal *h = vol->heal;
	uint64_t len, moff = 0;

	*out = h;
	if (h)
		return 0;
	if (vol->readonly || vol->from_mirror)
		return 0;
	if (!opts->heal_io && !hfs_region_mirrored(vol->rg, &len, &moff))
		return 0;
	(void)len;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (opts->heal_io) {
		h->inner = opts->heal_io;
		h->io.read = in_read;
		h->io.write = in_write;
	} else {
		h->io.read = reg_read;
		h->io.write = reg_write;
	}
	h->io.found = found;
	h->io.done = done;
	h->io.ctx = h;
	h->io.rg = vol->rg;
	h->vol = vol;
	vol->heal = h;
	*out = h;
	return 0;
}

/* Device 0's journal bytes [s_journal_off, + span) read now (the
 * rewrite from the mirror cleared what did not). */
static bool journal_reads(struct hfs_vol *vol, uint64_t span)
{
	uint8_t *buf = malloc(span);
	bool ok = buf && !hfs_region_read(vol->rg, vol->sb.s_journal_off, buf,
					  span, NULL);

	free(buf);
	return ok;
}

static void sum_info(const struct hfs_vol_heal *h, struct hfs_vol_info *info)
{
	info->mirror_repaired = h->sum.repaired;
	info->mirror_both_bad = h->sum.both_bad;
	info->mirror_failed = h->sum.failed;
}

int hfs_vol_heal_before_replay(struct hfs_vol *vol,
			       const struct hfs_vol_opts *opts,
			       struct hfs_vol_info *info, struct hfs_err *err)
{
	struct hfs_vol_heal *h;
	int ret = heal_of(vol, opts, &h);

	if (ret || !h)
		return ret;
	ret = hfs_heal_before_replay(&vol->sb, &h->io, &h->sum);
	sum_info(h, info);
	if (ret)
		return hfs_err_set(err, ret, "%s: comparing device 0's "
				   "metadata with its mirror: %s",
				   vol->rg->path, strerror(-ret));
	if (h->sum.journal_both_bad)
		return hfs_err_set(err, -EIO, "%s: device 0's journal is "
				   "unreadable (media error) and the mirror's "
				   "fails its check: both copies are bad, a "
				   "committed transaction may be in neither; "
				   "run fsck.holdfs", vol->rg->path);
	if (h->sum.journal_io)
		h->journal_stuck = !journal_reads(vol, h->sum.journal_span);
	if (h->sum.super_stuck) {
		/* the mirror's primary wins over device 0's backup, as when
		 * device 0's primary fails its checksum; device 0's cannot
		 * be written, so the mount ends read-only
		 * (hfs_vol_heal_stuck) */
		vol->sb = h->sum.super_copy;
		info->used_backup_sb = false;
		return 0;
	}
	if (!h->sum.super)
		return 0;
	h->sum.super = false;
	/* the primary is the mirror's now: read it as a mount does */
	return hfs_super_read(vol->rg, false, &vol->sb, &info->used_backup_sb,
			      err);
}

bool hfs_vol_heal_stuck(const struct hfs_vol *vol)
{
	const struct hfs_vol_heal *h = vol->heal;

	return h && (h->journal_stuck || h->sum.super_stuck);
}

int hfs_vol_heal_replay(struct hfs_vol *vol, struct hfs_err *err)
{
	struct hfs_vol_heal *h = vol->heal;
	uint64_t joff = vol->sb.s_journal_off;
	struct hfs_jheader jh;
	uint8_t *copy;
	size_t len;
	int ret;

	if (!h || !h->journal_stuck)
		return hfs_journal_replay(vol->rg, &vol->sb, &vol->jseq, err);
	vol->jseq = 0;
	if (!h->sum.journal_mirror)
		return 0; /* the mirror's says: no transaction */
	/* device 0's journal still does not read: the mirror's, which the
	 * rule chose, replayed onto the home locations (both copies) */
	if (h->io.read(h, 1, joff, &jh, sizeof(jh)))
		return hfs_err_set(err, -EIO, "%s: the mirror's journal became "
				   "unreadable", vol->rg->path);
	len = sizeof(jh) + jh.j_bytes;
	if (jh.j_bytes > vol->sb.s_journal_blocks * HFS_BLOCK_SIZE)
		return hfs_err_set(err, -EIO, "%s: the mirror's journal "
				   "changed under the mount", vol->rg->path);
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	ret = h->io.read(h, 1, joff, copy, len);
	if (!ret)
		ret = hfs_journal_replay_copy(vol->rg, &vol->sb, copy, len,
					      &vol->jseq, err);
	else
		ret = hfs_err_set(err, -EIO, "%s: the mirror's journal became "
				  "unreadable", vol->rg->path);
	free(copy);
	return ret;
}

int hfs_vol_heal_reread_super(struct hfs_vol *vol, struct hfs_err *err)
{
	struct hfs_vol_heal *h = vol->heal;
	struct hfs_super s;

	if (!h || !h->sum.super_stuck)
		return 1;
	if (h->io.read(h, 1, 0, &s, sizeof(s)) ||
	    hfs_super_check(&s, vol->sb.s_region_size, NULL, NULL) ||
	    memcmp(s.s_uuid, vol->sb.s_uuid, sizeof(s.s_uuid)))
		return hfs_err_set(err, -EIO, "%s: device 0's primary "
				   "superblock is unreadable and the mirror's "
				   "went bad after the replay; run fsck.holdfs",
				   vol->rg->path);
	vol->sb = s;
	return 0;
}

int hfs_vol_heal_after_replay(struct hfs_vol *vol,
			      const struct hfs_vol_opts *opts,
			      struct hfs_vol_info *info, struct hfs_err *err)
{
	uint64_t hwm = vol->sb.s_inode_hwm;
	struct hfs_vol_heal *h;
	int ret = heal_of(vol, opts, &h);

	if (ret || !h)
		return ret;
	/* from the backup, the high-water mark may be stale */
	if (info->used_backup_sb || hwm > vol->sb.s_inode_count || hwm < 2)
		hwm = vol->sb.s_inode_count;
	ret = hfs_heal_after_replay(&vol->sb, hwm, false, &h->io, &h->sum);
	sum_info(h, info);
	if (ret)
		return hfs_err_set(err, ret, "%s: comparing device 0's "
				   "metadata with its mirror: %s",
				   vol->rg->path, strerror(-ret));
	return 0;
}

static void log_note(struct hfs_vol *vol, const struct hfs_heal_item *it,
		     int ret)
{
	char msg[sizeof(((struct hfs_health_rec *)0)->h_msg)];

	snprintf(msg, sizeof(msg), "%s: %s", hfs_heal_what_name(it->what),
		 it->both_bad ? "both copies bad, left for fsck"
		 : ret ? "bad; rewrite from mirror failed"
		       : "bad on device 0, mirror's taken");
	hfs_health_log(vol, HFS_HEALTH_CORRUPTION, it->off, it->len, it->ino,
		       msg);
}

void hfs_vol_heal_info(struct hfs_vol *vol, struct hfs_vol_info *info)
{
	if (vol->heal)
		sum_info(vol->heal, info);
}

void hfs_vol_heal_log(struct hfs_vol *vol)
{
	struct hfs_vol_heal *h = vol->heal;
	char msg[sizeof(((struct hfs_health_rec *)0)->h_msg)];

	if (!h)
		return;
	for (unsigned i = 0; i < h->n; i++)
		log_note(vol, &h->note[i].it, h->note[i].ret);
	h->n = 0;
	h->mounted = true;
	if (h->more) {
		snprintf(msg, sizeof(msg), "and %llu more metadata copies "
			 "picked from the mirror", (unsigned long long)h->more);
		hfs_health_log(vol, HFS_HEALTH_CORRUPTION, 0, 0, 0, msg);
	}
}

void hfs_vol_meta_check(struct hfs_vol *vol, uint64_t blk)
{
	struct hfs_vol_heal *h = vol->heal;
	unsigned n0;

	if (!h || blk < vol->sb.s_pool_off / HFS_BLOCK_SIZE ||
	    blk >= vol->sb.s_meta_end / HFS_BLOCK_SIZE)
		return;
	n0 = h->n;
	h->io.rg = vol->rg;
	/* ENOMEM: device 0's is read as it is */
	(void)hfs_heal_zone_block(blk * HFS_BLOCK_SIZE, &h->io, &h->sum);
	if (h->mounted) {
		/* after the mount: log at once */
		for (unsigned i = n0; i < h->n; i++)
			log_note(vol, &h->note[i].it, h->note[i].ret);
		h->n = n0;
	}
}

int hfs_vol_meta_read(struct hfs_vol *vol, uint64_t off, void *buf)
{
	struct hfs_vol_heal *h = vol->heal;
	int ret;

	hfs_vol_meta_check(vol, off / HFS_BLOCK_SIZE);
	ret = hfs_region_read(vol->rg, off, buf, HFS_BLOCK_SIZE, NULL);
	/* still unreadable (the rewrite could not clear the poison): the
	 * mirror's bytes, which the caller checks like device 0's */
	if (ret == -EIO && h && off >= vol->sb.s_pool_off &&
	    off + HFS_BLOCK_SIZE <= vol->sb.s_meta_end &&
	    !h->io.read(h, 1, off, buf, HFS_BLOCK_SIZE))
		ret = 0;
	return ret;
}

int hfs_vol_heal_read_slots(struct hfs_vol *vol, uint64_t off, void *buf,
			    uint64_t n, size_t size, struct hfs_fault *f)
{
	struct hfs_vol_heal *h = vol->heal;
	uint8_t *p = buf;

	if (!h)
		return -EIO;
	for (uint64_t i = 0; i < n; i++, p += size) {
		uint64_t o = off + i * size;

		if (!hfs_region_read(vol->rg, o, p, size, f))
			continue;
		if (h->io.read(h, 1, o, p, size))
			return -EIO; /* f: device 0's fault */
	}
	return 0;
}

void hfs_vol_heal_free(struct hfs_vol *vol)
{
	free(vol->heal);
	vol->heal = NULL;
}
