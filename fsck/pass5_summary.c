/* SPDX-License-Identifier: MIT */
/*
 * Pass 5: summary counters, clean flag, backup superblock, health log.
 *
 * Checks: s_used_inodes and s_used_blocks against what passes 1-4 leave
 *   (used blocks = the union of every claim and every bad range inside the
 *   pool, exactly what mount's statfs counts); they are only promised to
 *   be right on a cleanly unmounted filesystem, so a mismatch is a problem
 *   only when the clean flag was set.  The high-water mark covers every
 *   used slot.  The backup superblock is valid and has the primary's
 *   geometry, data-path slot area included (counters, state and
 *   DSLOTS_LIVE in it are a snapshot and may be stale).
 *   Every health log slot is empty or a valid record in its own slot.
 * Repairs: the counters; a torn health record is cleared; the backup is
 *   rewritten from the primary.  Then, if anything was written (or the
 *   filesystem was not clean), the final primary: counters, CLEAN and no
 *   ERRORS if nothing is left uncorrected (else ERRORS), DSLOTS_LIVE
 *   cleared unless a valid data-path slot is left unfolded, and a copy
 *   to the backup, as a clean unmount would.  Repairs are logged in the
 *   health log (HFS_HEALTH_FSCK, and HFS_HEALTH_LOST_DATA per file fsck
 *   made lose data).
 * Needs: every earlier pass.
 * Leaves: the report's counts, health records and files with lost data
 *   (by HFS_IF_LOSTDATA or a lost-data record).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsck_i.h"

#define REC_SIZE sizeof(struct hfs_health_rec)

struct summary {
	uint64_t used_inodes, used_blocks, top_slot;
	uint64_t health_seq;
};

/* ------------------------------------------------------ counting */

static int by_pblk(const void *a, const void *b)
{
	const struct fsck_claim *x = a, *y = b;

	return x->pblk < y->pblk ? -1 : x->pblk > y->pblk;
}

/* Union of the claims (sorts them by block: claims are done with). */
static uint64_t used_blocks(struct fsck *f)
{
	uint64_t used = 0, end = 0;

	fsck_claims_sort(f);
	if (f->ncl) /* cl may be NULL */
		qsort(f->cl, f->ncl, sizeof(*f->cl), by_pblk);
	f->nsorted = 0;
	for (size_t i = 0; i < f->ncl; i++) {
		uint64_t s = f->cl[i].pblk, e = s + f->cl[i].len;

		s = s > end ? s : end;
		if (e > s)
			used += e - s;
		end = e > end ? e : end;
	}
	return used;
}

static void count_inodes(struct fsck *f, struct summary *s)
{
	struct hfs_fsck_counts *c = &f->rep->counts;

	for (uint64_t ino = 1; ino < f->scan_end; ino++) {
		uint32_t m = f->ino[ino].mode;

		if (f->ino[ino].flags & FI_USED || m)
			s->top_slot = ino;
		if (!m)
			continue;
		s->used_inodes++;
		c->dirs += S_ISDIR(m);
		c->files += S_ISREG(m);
		c->symlinks += S_ISLNK(m);
		c->special += !S_ISDIR(m) && !S_ISREG(m) && !S_ISLNK(m);
		if (f->ino[ino].flags & FI_LOSTDATA)
			fsck_report_lost(f, ino, 0, 0, "inode-flag");
	}
	c->inodes = s->used_inodes;
}

static void check_counters(struct fsck *f, struct summary *s)
{
	struct hfs_super *sb = &f->sb;

	if (s->top_slot + 1 > sb->s_inode_hwm) {
		fix_problem(f, HFS_P5_HWM, 0, 0, "inode high-water mark %" PRIu64
			    " below used slot %" PRIu64, sb->s_inode_hwm,
			    s->top_slot);
		sb->s_inode_hwm = s->top_slot + 1;
	}
	if ((f->orig.s_state & HFS_STATE_CLEAN) &&
	    (sb->s_used_inodes != s->used_inodes ||
	     sb->s_used_blocks != s->used_blocks))
		fix_problem(f, HFS_P5_COUNTERS, 0, 0, "superblock counts %"
			    PRIu64 " inodes and %" PRIu64 " blocks in use, "
			    "found %" PRIu64 " and %" PRIu64, sb->s_used_inodes,
			    sb->s_used_blocks, s->used_inodes, s->used_blocks);
}

/* ------------------------------------------------------ backup */

/* Layout and incompatible features.  DSLOTS_LIVE is run-time state,
 * not layout: set in the primary by every read-write mount, cleared at
 * clean unmount, while the backup is written only when clean. */
static bool same_geometry(const struct hfs_super *a, const struct hfs_super *b)
{
	uint32_t live = HFS_FEAT_INCOMPAT_DSLOTS_LIVE;

	/* XATTR_CHAIN reaches the primary of an older filesystem with the
	 * first change that needs it, the backup at the next clean
	 * unmount (a: the backup, b: the primary) */
	if ((b->s_feat_incompat & ~a->s_feat_incompat) ==
	    HFS_FEAT_INCOMPAT_XATTR_CHAIN)
		live |= HFS_FEAT_INCOMPAT_XATTR_CHAIN;

	return a->s_block_size == b->s_block_size &&
	       a->s_alloc_unit == b->s_alloc_unit &&
	       a->s_region_size == b->s_region_size &&
	       !memcmp(a->s_uuid, b->s_uuid, sizeof(a->s_uuid)) &&
	       a->s_health_off == b->s_health_off &&
	       a->s_health_blocks == b->s_health_blocks &&
	       a->s_badlist_off == b->s_badlist_off &&
	       a->s_badlist_blocks == b->s_badlist_blocks &&
	       a->s_journal_off == b->s_journal_off &&
	       a->s_journal_blocks == b->s_journal_blocks &&
	       a->s_itable_off == b->s_itable_off &&
	       a->s_inode_count == b->s_inode_count &&
	       a->s_pool_off == b->s_pool_off &&
	       a->s_pool_blocks == b->s_pool_blocks &&
	       a->s_backup_off == b->s_backup_off &&
	       !((a->s_feat_compat ^ b->s_feat_compat) &
		 HFS_FEAT_COMPAT_DSLOTS) &&
	       a->s_dslot_off == b->s_dslot_off &&
	       a->s_dslot_count == b->s_dslot_count &&
	       (a->s_feat_incompat & ~live) == (b->s_feat_incompat & ~live);
}

/* True if the backup must be rewritten. */
static bool check_backup(struct fsck *f)
{
	if (!f->backup_ok)
		return fix_problem(f, HFS_P5_BACKUP_BAD, 0, f->sb.s_backup_off,
				   "backup superblock at 0x%" PRIx64 " is damaged",
				   f->sb.s_backup_off);
	if (!same_geometry(&f->backup, &f->sb))
		return fix_problem(f, HFS_P5_BACKUP_GEOMETRY, 0,
				   f->sb.s_backup_off, "backup superblock "
				   "describes another layout than the primary");
	return false;
}

/* ------------------------------------------------------ health log */

static int rec_cmp(const void *a, const void *b)
{
	const struct hfs_health_rec *x = a, *y = b;

	return x->h_seq < y->h_seq ? -1 : x->h_seq > y->h_seq;
}

static void health_slot(struct fsck *f, struct summary *s,
			const struct hfs_health_rec *r, uint64_t slot,
			uint64_t nrec)
{
	static const struct hfs_health_rec zero;
	struct hfs_fsck_report *rep = f->rep;
	uint64_t off = f->sb.s_health_off + slot * REC_SIZE;
	int ret;

	if (!memcmp(r, &zero, sizeof(zero)))
		return;
	if (r->h_seq == 0 || (r->h_seq - 1) % nrec != slot ||
	    r->h_crc != hfs_crc_struct(r, REC_SIZE,
				       offsetof(struct hfs_health_rec, h_crc))) {
		if (fix_problem(f, HFS_P5_HEALTH_TORN, 0, off, "health log slot "
				"%" PRIu64 " holds a torn or misplaced record",
				slot) &&
		    (ret = fsck_write(f, off, &zero, sizeof(zero))))
			fsck_fix_failed(f, ret);
		return;
	}
	rep->health[rep->nhealth++] = *r;
	if (r->h_seq > s->health_seq)
		s->health_seq = r->h_seq;
	if (r->h_type == HFS_HEALTH_LOST_DATA && r->h_ino)
		fsck_report_lost(f, r->h_ino, r->h_off, r->h_len, "health-log");
}

static int health_scan(struct fsck *f, struct summary *s)
{
	uint64_t nrec = f->sb.s_health_blocks * (BLK / REC_SIZE);
	struct hfs_health_rec *blk = malloc(BLK);
	struct hfs_fsck_report *rep = f->rep;

	rep->health = malloc((nrec ? nrec : 1) * REC_SIZE);
	if (!blk || !rep->health) {
		free(blk);
		return -ENOMEM;
	}
	for (uint64_t b = 0; b < f->sb.s_health_blocks; b++) {
		uint64_t off = f->sb.s_health_off + b * BLK;

		if (fsck_read(f, off, blk, BLK)) {
			fix_problem(f, HFS_P5_HEALTH_IO, 0, off, "health log "
				    "block at 0x%" PRIx64 " is unreadable", off);
			continue;
		}
		for (uint64_t i = 0; i < BLK / REC_SIZE; i++)
			health_slot(f, s, &blk[i], b * (BLK / REC_SIZE) + i,
				    nrec);
	}
	free(blk);
	qsort(rep->health, rep->nhealth, REC_SIZE, rec_cmp);
	return 0;
}

static void health_append(struct fsck *f, struct summary *s,
			  const struct fsck_hlog *h)
{
	uint64_t nrec = f->sb.s_health_blocks * (BLK / REC_SIZE);
	struct hfs_health_rec r = {
		.h_type = h->type, .h_off = h->off, .h_len = h->len,
		.h_ino = h->ino,
	};
	struct timespec now;

	if (!nrec)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	r.h_time = (uint64_t)now.tv_sec * 1000000000ull +
		   (uint64_t)now.tv_nsec;
	r.h_seq = ++s->health_seq;
	memcpy(r.h_msg, h->msg, sizeof(r.h_msg) - 1);
	r.h_crc = hfs_crc_struct(&r, REC_SIZE,
				 offsetof(struct hfs_health_rec, h_crc));
	/* best effort, like the daemon's log: a failure loses the record */
	if (!fsck_write(f, f->sb.s_health_off + ((r.h_seq - 1) % nrec) *
			REC_SIZE, &r, REC_SIZE) && f->rep->nhealth < nrec)
		f->rep->health[f->rep->nhealth++] = r;
}

static void health_log_run(struct fsck *f, struct summary *s)
{
	struct fsck_hlog done = { .type = HFS_HEALTH_FSCK };
	size_t nfixed = 0, nleft = 0;

	for (size_t i = 0; i < f->nhlog; i++)
		health_append(f, s, &f->hlog[i]);
	for (size_t i = 0; i < f->rep->nproblems; i++)
		f->rep->problems[i].fixed ? nfixed++ : nleft++;
	snprintf(done.msg, sizeof(done.msg), "fsck: %zu repaired, %zu left%s",
		 nfixed, nleft + f->rep->problems_dropped,
		 f->hlog_dropped ? " (log shortened)" : "");
	health_append(f, s, &done);
}

/* ------------------------------------------------------ final write */

static void write_final(struct fsck *f, struct summary *s, bool backup)
{
	struct hfs_super *sb = &f->sb;
	/* no valid slot is left unfolded: nothing a holdfs that cannot fold
	 * slots would miss */
	bool unlive = (sb->s_feat_incompat & HFS_FEAT_INCOMPAT_DSLOTS_LIVE) &&
		      !f->ds.pending_left;
	bool dirty = f->rep->modified || backup || unlive ||
		     !(f->orig.s_state & HFS_STATE_CLEAN) ||
		     (f->orig.s_state & HFS_STATE_ERRORS) ||
		     sb->s_used_inodes != s->used_inodes ||
		     sb->s_used_blocks != s->used_blocks ||
		     sb->s_inode_hwm != f->orig.s_inode_hwm;
	int ret;

	if (!dirty || !f->writable || f->o->mode == HFS_FSCK_NO || f->halt)
		return;
	if (f->rep->modified)
		health_log_run(f, s);
	sb->s_used_inodes = s->used_inodes;
	sb->s_used_blocks = s->used_blocks;
	sb->s_health_seq = s->health_seq;
	sb->s_state &= ~(HFS_STATE_CLEAN | HFS_STATE_ERRORS);
	sb->s_state |= f->nunfixed ? HFS_STATE_ERRORS : HFS_STATE_CLEAN;
	if (unlive)
		sb->s_feat_incompat &= ~HFS_FEAT_INCOMPAT_DSLOTS_LIVE;
	hfs_super_set_crc(sb);
	ret = fsck_write(f, 0, sb, sizeof(*sb));
	if (!ret)
		ret = hfs_super_write_backup(f->rg, sb);
	if (ret)
		fsck_fix_failed(f, ret);
}

/* A volume of several devices with a mirror: the mirror holds device 0's
 * bytes [0, s_meta_end) as they are now (everything fsck wrote went to
 * both).  Blocks that differ (a crash between the two copies of a
 * store, media trouble on one side) are rewritten from device 0, which
 * the passes before have just checked. */
static int check_mirror(struct fsck *f)
{
	uint64_t len, moff, ndiff = 0, first = 0;
	uint8_t *a, *b;
	int ret = 0;

	if (!hfs_region_mirrored(f->rg, &len, &moff))
		return 0;
	a = malloc(BLK);
	b = malloc(BLK);
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	for (uint64_t off = 0; off < len; off += BLK) {
		if (fsck_read(f, off, a, BLK) || fsck_read(f, moff + off, b, BLK))
			continue; /* unreadable: the passes said so */
		if (memcmp(a, b, BLK) == 0)
			continue;
		if (!ndiff++)
			first = off;
	}
	if (ndiff && fix_problem(f, HFS_P5_MIRROR_STALE, 0, moff + first,
				 "%" PRIu64 " block%s of the mirror of device 0 "
				 "(at %#" PRIx64 ") differ%s from device 0, "
				 "the first at %#" PRIx64, ndiff,
				 ndiff == 1 ? "" : "s", moff,
				 ndiff == 1 ? "s" : "", first)) {
		for (uint64_t off = first; off < len && !ret; off += BLK) {
			if (fsck_read(f, off, a, BLK) ||
			    fsck_read(f, moff + off, b, BLK) ||
			    memcmp(a, b, BLK) == 0)
				continue;
			ret = fsck_write(f, moff + off, a, BLK);
		}
		if (ret)
			fsck_fix_failed(f, ret);
	}
	free(a);
	free(b);
	return 0;
}

int fsck_pass5(struct fsck *f)
{
	struct summary s = { 0 };
	struct hfs_fsck_counts *c = &f->rep->counts;
	bool backup;
	int ret;

	count_inodes(f, &s);
	s.used_blocks = used_blocks(f);
	c->blocks_used = s.used_blocks;
	c->blocks_free = f->sb.s_pool_blocks - s.used_blocks;
	check_counters(f, &s);
	c->inode_hwm = f->sb.s_inode_hwm;
	backup = check_backup(f);
	ret = health_scan(f, &s);
	if (ret)
		return ret;
	write_final(f, &s, backup);
	return check_mirror(f);
}
