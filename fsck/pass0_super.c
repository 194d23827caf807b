/* SPDX-License-Identifier: MIT */
/*
 * Pass 0: superblocks and journal.
 *
 * Checks: both superblock copies (magic, version, checksum, size,
 *   features, geometry: lib/super.c's rules, which accept
 *   HFS_FEAT_INCOMPAT_DSLOTS_LIVE: a mount may have left armed data-path
 *   slots, pass 1 folds them); the journal header and records
 *   (committed, torn, out of bounds, unreadable).
 * Needs: nothing.
 * Repairs: replays a committed transaction (-y/-p; -n lays it over every
 *   later read instead), clears a torn or invalid one, restores a damaged
 *   primary from the backup.  A region that is not a holdfs, is truncated,
 *   or needs features this build lacks is an operational error (exit 8):
 *   fsck refuses to touch it.
 * Leaves: f->sb (the primary to check against, from the backup if the
 *   primary was bad, in which case every inode slot is scanned since the
 *   backup's high-water mark may be stale), f->orig, f->backup and
 *   backup_ok for pass 5, the pool bounds, and the overlay in -n.
 *
 * The quick check of a cleanly unmounted filesystem (fsck_quick_ok) is
 * this pass plus the backup and the plausibility of the counters; a
 * superblock with DSLOTS_LIVE set always gets the full check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"
#include "mirror_heal.h"
#include "members.h"


struct sb_copy {
	struct hfs_super sb;
	uint64_t off;
	int io;           /* read error */
	int check;        /* hfs_super_check result */
	struct hfs_err err;
};

static void sb_load(struct fsck *f, uint64_t off, struct sb_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->off = off;
	c->io = fsck_read(f, off, &c->sb, sizeof(c->sb));
	/* device 0 served from its mirror: the mirror holds its first
	 * s_meta_end bytes only; the rest of it is lost, not truncated */
	if (!c->io)
		c->check = hfs_super_check(&c->sb,
					   f->rg->slice_off
						   ? c->sb.s_region_size
						   : hfs_region_member_size(f->rg, 0),
					   NULL, &c->err);
}

static const char *sb_why(const struct sb_copy *c)
{
	if (c->io)
		return c->io == -EIO ? "unreadable (media error)"
				     : "outside the region";
	return c->check ? c->err.msg : "valid";
}

static bool sb_good(const struct sb_copy *c)
{
	return !c->io && !c->check;
}

/* A copy with the magic that this build cannot use at all. */
static int sb_refuse(struct fsck *f, const struct sb_copy *c, const char *which)
{
	const struct hfs_super *s = &c->sb;

	if (c->io || s->s_magic != HFS_SB_MAGIC || c->check != -EINVAL)
		return 0;
	if (s->s_region_size > hfs_region_member_size(f->rg, 0) && s->s_version_major ==
	    HFS_VERSION_MAJOR) {
		fix_problem(f, HFS_P0_TRUNCATED, 0, c->off, "%s superblock: %s",
			    which, c->err.msg);
		return fsck_fatal(f, -EINVAL, "%s: %s", f->rg->path,
				  c->err.msg);
	}
	fix_problem(f, HFS_P0_UNSUPPORTED, 0, c->off, "%s superblock: %s",
		    which, c->err.msg);
	return fsck_fatal(f, -EINVAL, "%s: %s", f->rg->path, c->err.msg);
}

/* Choose the copy to work from.  Returns 0 or an operational error. */
static int choose_super(struct fsck *f, struct sb_copy *p, struct sb_copy *b)
{
	int ret;

	sb_load(f, 0, p);
	if (f->rg->slice_off)
		*b = *p; /* from the mirror: no backup (it was at device 0's end) */
	else
		sb_load(f, hfs_super_backup_off(hfs_region_member_size(f->rg, 0)),
			b);
	if ((ret = sb_refuse(f, p, "primary")))
		return ret;
	f->backup = b->sb;
	f->backup_ok = sb_good(b);
	if (sb_good(p)) {
		f->sb = p->sb;
		return 0;
	}
	if (sb_good(b)) {
		f->sb = b->sb;
		f->rep->used_backup_sb = true;
		return 0;
	}
	/* a mirrored volume: the mirror's (pass0_mirror.c restores the
	 * primary from it) */
	if (fsck_mirror_super(f, &f->sb))
		return 0;
	if ((ret = sb_refuse(f, b, "backup")))
		return ret;
	if (p->sb.s_magic != HFS_SB_MAGIC && b->sb.s_magic != HFS_SB_MAGIC) {
		fix_problem(f, HFS_P0_NOT_HOLDFS, 0, 0,
			    "no holdfs superblock (bad magic in both copies)");
		return fsck_fatal(f, -EINVAL, "%s: not a holdfs region (no "
				  "superblock); run mkfs.holdfs", f->rg->path);
	}
	fix_problem(f, HFS_P0_NO_SUPER, 0, 0, "primary: %s; backup: %s",
		    sb_why(p), sb_why(b));
	return fsck_fatal(f, -EUCLEAN, "%s: both superblocks are damaged "
			  "(primary: %s; backup: %s)", f->rg->path, sb_why(p),
			  sb_why(b));
}

/* ------------------------------------------------------------ journal */

enum jstate { J_EMPTY, J_COMMITTED, J_TORN, J_INVALID, J_IO };

/* Classify the journal; a committed transaction's records go to *recs. */
static enum jstate journal_state(struct fsck *f, struct hfs_jheader *h,
				 uint8_t **recs)
{
	uint64_t jcap = f->sb.s_journal_blocks * BLK;
	struct hfs_jheader c;
	uint32_t crc;

	*recs = NULL;
	if (fsck_read(f, f->sb.s_journal_off, h, sizeof(*h)))
		return J_IO;
	if (h->j_magic != HFS_JOURNAL_MAGIC)
		return J_EMPTY;
	if (h->j_bytes == 0 || h->j_bytes > jcap - sizeof(*h))
		return J_INVALID;
	*recs = malloc(h->j_bytes);
	if (!*recs)
		return J_IO;
	if (fsck_read(f, f->sb.s_journal_off + sizeof(*h), *recs, h->j_bytes))
		return J_IO;
	c = *h;
	c.j_crc = 0;
	crc = hfs_crc32c_cont(hfs_crc32c(&c, sizeof(c)), *recs, h->j_bytes);
	if (crc != h->j_crc)
		return J_TORN;
	if (!hfs_journal_records_valid(f->rg, *recs, h->j_bytes, h->j_nrec))
		return J_INVALID;
	return J_COMMITTED;
}

/* Replay for real (-y/-p) or as an overlay (-n). */
static void journal_replay(struct fsck *f, const struct hfs_jheader *h,
			   uint8_t **recs)
{
	struct hfs_err err = { 0 };
	uint64_t seq;
	int ret;

	f->rep->replayed = true;
	if (!fix_problem(f, HFS_P0_JOURNAL_REPLAY, 0, f->sb.s_journal_off,
			 "journal holds committed transaction %" PRIu64
			 " (%" PRIu32 " records) not yet replayed", h->j_seq,
			 h->j_nrec)) {
		f->ov.recs = *recs; /* -n: check the state after replay */
		f->ov.len = h->j_bytes;
		*recs = NULL;
		return;
	}
	ret = hfs_journal_replay(f->rg, &f->sb, &seq, &err);
	f->rep->modified = true;
	if (ret < 0) {
		fsck_fix_failed(f, ret);
		fix_problem(f, HFS_P0_REPLAY_FAILED, 0, f->fault.off, "%s",
			    err.msg[0] ? err.msg : "journal replay failed");
	}
}

static void journal_clear(struct fsck *f)
{
	int ret = fsck_begin_write(f);

	if (ret)
		fsck_fix_failed(f, ret);
}

/* Device 0's journal does not read; the rule chose the mirror's
 * transaction (lib/mirror_heal.c): replay that one, for real (-y/-p:
 * home locations on both copies) or as the overlay (-n). */
static void mirror_journal_replay(struct fsck *f)
{
	struct hfs_err err = { 0 };
	struct hfs_jheader h;
	uint8_t *copy;
	size_t len = 0;
	uint64_t seq;
	int ret;

	copy = fsck_mirror_journal(f, &len);
	if (!copy) {
		fix_problem(f, HFS_P0_REPLAY_FAILED, 0, f->sb.s_journal_off,
			    "device 0's journal is unreadable and the "
			    "mirror's could not be read again");
		return;
	}
	memcpy(&h, copy, sizeof(h));
	f->rep->replayed = true;
	if (!fix_problem(f, HFS_P0_JOURNAL_REPLAY, 0, f->sb.s_journal_off,
			 "journal holds committed transaction %" PRIu64
			 " (%" PRIu32 " records) not yet replayed (the "
			 "mirror's copy: device 0's is unreadable)", h.j_seq,
			 h.j_nrec)) {
		f->ov.recs = malloc(h.j_bytes);
		if (f->ov.recs) {
			memcpy(f->ov.recs, copy + sizeof(h), h.j_bytes);
			f->ov.len = h.j_bytes;
		}
		free(copy);
		return;
	}
	ret = hfs_journal_replay_copy(f->rg, &f->sb, copy, len, &seq, &err);
	free(copy);
	f->rep->modified = true;
	if (ret < 0) {
		fsck_fix_failed(f, ret);
		fix_problem(f, HFS_P0_REPLAY_FAILED, 0, f->fault.off, "%s",
			    err.msg[0] ? err.msg : "journal replay failed");
	}
}

/* Returns true if the journal must be cleared (after the primary is
 * settled, so the clear writes the right superblock). */
static bool journal_check(struct fsck *f, const struct hfs_heal_sum *sum)
{
	struct hfs_jheader h;
	uint8_t *recs;
	enum jstate st = journal_state(f, &h, &recs);
	uint64_t joff = f->sb.s_journal_off;
	bool clear = false;

	switch (st) {
	case J_EMPTY:
		break;
	case J_COMMITTED:
		journal_replay(f, &h, &recs);
		break;
	case J_TORN:
		clear = fix_problem(f, HFS_P0_JOURNAL_TORN, 0, joff,
				    "journal holds a torn transaction %" PRIu64
				    " (never committed, never applied)",
				    h.j_seq);
		break;
	case J_INVALID:
		clear = fix_problem(f, HFS_P0_JOURNAL_INVALID, 0, joff,
				    "journal header or records are invalid "
				    "(length %" PRIu64 ", %" PRIu32 " records)",
				    h.j_bytes, h.j_nrec);
		break;
	case J_IO:
		if (sum->journal_mirror)
			mirror_journal_replay(f);
		clear = fix_problem(f, HFS_P0_JOURNAL_IO, 0, f->fault.off,
				    "journal unreadable at 0x%" PRIx64,
				    f->fault.off);
		break;
	}
	free(recs);
	return clear;
}

/* After replay: the primary may have been rewritten by the transaction.
 * mirror_sb: device 0's primary failed, the mirror's passed and could
 * not be written over it: the mirror's wins, not the backup. */
static void primary_settle(struct fsck *f, const struct sb_copy *b,
			   bool mirror_sb)
{
	struct sb_copy p;

	sb_load(f, 0, &p);
	if (sb_good(&p)) {
		f->sb = p.sb;
		f->rep->used_backup_sb = false;
		return;
	}
	/* The mirror's (read again: the replay may have changed it), the
	 * backup, or (backup bad too) the copy chosen before replay. */
	if (mirror_sb) {
		struct hfs_super s;

		if (fsck_mirror_super(f, &s) &&
		    !memcmp(s.s_uuid, f->sb.s_uuid, sizeof(s.s_uuid)))
			f->sb = s;
	} else if (sb_good(b)) {
		f->rep->used_backup_sb = true;
		f->sb = b->sb;
	}
	if (fix_problem(f, HFS_P0_PRIMARY_BAD, 0, 0,
			"primary superblock is damaged (%s)%s", sb_why(&p),
			mirror_sb ? "; the mirror's copy is used" : "")) {
		struct hfs_super s = f->sb;
		int ret;

		hfs_super_set_crc(&s);
		ret = fsck_write(f, 0, &s, sizeof(s));
		if (ret)
			fsck_fix_failed(f, ret);
	}
}

static void settle_geometry(struct fsck *f)
{
	struct hfs_fsck_report *r = f->rep;

	f->orig = f->sb;
	r->was_clean = f->sb.s_state & HFS_STATE_CLEAN;
	r->had_errors = f->sb.s_state & HFS_STATE_ERRORS;
	memcpy(r->uuid, f->sb.s_uuid, sizeof(r->uuid));
	memcpy(r->label, f->sb.s_label, sizeof(r->label));
	r->label[sizeof(r->label) - 1] = '\0';
	hfs_super_pool_range(&f->sb, &f->pool_start, &f->pool_end);
	f->unit_blocks = f->sb.s_alloc_unit / BLK;
	/* The backup's high-water mark may be stale: scan every slot. */
	f->scan_end = r->used_backup_sb ? f->sb.s_inode_count
					: f->sb.s_inode_hwm;
	r->counts.inode_count = f->sb.s_inode_count;
	r->counts.pool_blocks = f->sb.s_pool_blocks;
}

/* A volume of several devices: every member mapped (fsck.holdfs was
 * given them all, main.c assembled them), one good device table, and
 * both copies on member 0 the same. */
static int devices_check(struct fsck *f)
{
	uint64_t boff = f->sb.s_backup_off + HFS_DEVTAB_OFF;
	struct hfs_devtab b;
	char pwhy[200], bwhy[200];
	bool pok, bok;

	if (!(f->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV))
		return 0;
	if (!f->rg->nmembers) {
		fix_problem(f, HFS_P0_MEMBERS_MISSING, 0, 0, "a volume of "
			    "several devices, checked without them");
		return fsck_fatal(f, -EINVAL, "%s: a volume of several "
				  "devices; give every device after it "
				  "(fsck.holdfs REGION DEVICE...)",
				  f->rg->path);
	}
	pok = !hfs_devtab_load(f->rg, HFS_DEVTAB_OFF, &f->sb, &f->devtab, pwhy,
			       sizeof(pwhy));
	if (f->rg->slice_off) { /* from the mirror: one table */
		if (pok)
			return 0;
		fix_problem(f, HFS_P0_DEVTAB_BAD, 0, 0, "%s", pwhy);
		return fsck_fatal(f, -EUCLEAN, "%s: no usable device table in "
				  "the mirror (%s)", f->rg->path, pwhy);
	}
	bok = !hfs_devtab_load(f->rg, boff, &f->sb, &b, bwhy, sizeof(bwhy));
	if (!pok && !bok) {
		fix_problem(f, HFS_P0_DEVTAB_BAD, 0, 0, "%s; backup: %s", pwhy,
			    bwhy);
		return fsck_fatal(f, -EUCLEAN, "%s: no usable device table "
				  "(%s; backup: %s)", f->rg->path, pwhy, bwhy);
	}
	if (!pok) {
		f->devtab = b;
		if (fix_problem(f, HFS_P0_DEVTAB_PRIMARY, 0, 0,
				"device table damaged (%s)", pwhy)) {
			int ret = fsck_write(f, HFS_DEVTAB_OFF, &b, sizeof(b));

			if (ret)
				fsck_fix_failed(f, ret);
		}
	} else if (!bok || memcmp(&b, &f->devtab, sizeof(b)) != 0) {
		if (fix_problem(f, HFS_P0_DEVTAB_BACKUP, 0, 0,
				"backup device table %s", bok ? "differs"
							      : bwhy)) {
			int ret = fsck_write(f, boff, &f->devtab,
					     sizeof(f->devtab));

			if (ret)
				fsck_fix_failed(f, ret);
		}
	}
	return 0;
}

int fsck_pass0(struct fsck *f)
{
	struct sb_copy p, b;
	int ret = choose_super(f, &p, &b);
	struct hfs_heal_sum sum;
	bool clear;

	if (ret)
		return ret;
	if (f->writable &&
	    (f->sb.s_feat_ro_compat & ~HFS_FEAT_RO_COMPAT_SUPPORTED)) {
		fix_problem(f, HFS_P0_RO_FEATURES, 0, 0,
			    "unknown read-only-compatible features 0x%" PRIx32,
			    f->sb.s_feat_ro_compat);
		return fsck_fatal(f, -EROFS, "%s: unknown read-only-compatible "
				  "features 0x%" PRIx32 "; a newer fsck.holdfs "
				  "is needed to repair it (-n can check it)",
				  f->rg->path, f->sb.s_feat_ro_compat);
	}
	/* with a mirror: device 0's bad superblock, table or journal from
	 * the mirror's, before the journal is looked at */
	ret = fsck_mirror_before_replay(f, &sum);
	if (!ret && sum.super && !f->halt) {
		f->rep->used_backup_sb = false; /* the primary is good now */
		ret = choose_super(f, &p, &b);
	}
	if (!ret && sum.super_stuck) {
		/* device 0's primary stays unreadable: the mirror's wins
		 * (docs/format.md "Which copy wins"), not the backup */
		f->sb = sum.super_copy;
		f->rep->used_backup_sb = false;
	}
	if (ret || f->halt)
		return ret;
	clear = journal_check(f, &sum);
	if (f->halt)
		return 0;
	primary_settle(f, &b, sum.super_stuck);
	if (clear)
		journal_clear(f);
	settle_geometry(f);
	ret = devices_check(f);
	if (ret || f->halt)
		return ret;
	/* the rest of device 0's metadata, before pass 1 reads it */
	return fsck_mirror_after_replay(f);
}

/* ------------------------------------------------------- quick check */

static bool badlist_header_ok(struct fsck *f)
{
	struct hfs_badlist_hdr h;
	uint8_t *buf;
	size_t len;
	bool ok;

	if (fsck_read(f, f->sb.s_badlist_off, &h, sizeof(h)) ||
	    h.bl_magic != HFS_BADLIST_MAGIC ||
	    h.bl_count > (f->sb.s_badlist_blocks * BLK - sizeof(h)) /
				 sizeof(struct hfs_bad_extent))
		return false;
	len = sizeof(h) + (size_t)h.bl_count * sizeof(struct hfs_bad_extent);
	buf = malloc(len);
	ok = buf && !fsck_read(f, f->sb.s_badlist_off, buf, len) &&
	     h.bl_crc == hfs_crc_struct(buf, len,
					offsetof(struct hfs_badlist_hdr,
						 bl_crc));
	free(buf);
	return ok;
}

bool fsck_quick_ok(struct fsck *f)
{
	const struct hfs_super *s = &f->sb;

	if (f->o->force || f->halt || f->rep->nproblems ||
	    !(s->s_state & HFS_STATE_CLEAN) || (s->s_state & HFS_STATE_ERRORS) ||
	    (s->s_feat_incompat & HFS_FEAT_INCOMPAT_DSLOTS_LIVE))
		return false;
	if (!f->backup_ok || f->backup.s_inode_count != s->s_inode_count ||
	    f->backup.s_pool_off != s->s_pool_off ||
	    memcmp(f->backup.s_uuid, s->s_uuid, sizeof(s->s_uuid)))
		return false;
	return s->s_used_inodes >= 1 && s->s_used_inodes < s->s_inode_hwm &&
	       s->s_used_blocks <= s->s_pool_blocks && badlist_header_ok(f);
}
