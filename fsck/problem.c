/* SPDX-License-Identifier: MIT */
/*
 * The problem table and fix_problem(), the one place where -n, -y and -p
 * differ.
 *
 * Every inconsistency fsck can find has one row: a stable code and name
 * (problem.h), the pass, flags, and the repair as a prompt.  The call
 * site supplies what exactly was found.  fix_problem() records the
 * problem in the report and answers:
 *   -n  no, every time: the problem stays (exit bit 4);
 *   -y  yes (exit bit 1), unless the row says nothing can be done;
 *   -p  yes for rows marked PREEN_OK; anything else stops the run with
 *       "UNEXPECTED INCONSISTENCY; RUN fsck.holdfs MANUALLY" (exit 4),
 *       after the safe repairs made so far.
 * A repair that then fails to write (media error) is turned back into an
 * uncorrected problem by fsck_fix_failed().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"

#define PREEN HFS_PR_PREEN_OK
#define FATAL HFS_PR_FATAL
#define NOFIX HFS_PR_NO_FIX
#define ROW(c, pass, flags, fix) { HFS_##c, #c, pass, flags, fix }

static const struct hfs_fsck_problem_desc table[] = {
	ROW(P0_NOT_HOLDFS, 0, FATAL, "none: not a holdfs region"),
	ROW(P0_UNSUPPORTED, 0, FATAL, "none: needs a newer fsck.holdfs"),
	ROW(P0_TRUNCATED, 0, FATAL, "none: restore the region's full size"),
	ROW(P0_NO_SUPER, 0, FATAL, "none: no usable superblock"),
	ROW(P0_PRIMARY_BAD, 0, PREEN, "restore it from the backup"),
	ROW(P0_JOURNAL_REPLAY, 0, PREEN, "replay the journal"),
	ROW(P0_JOURNAL_TORN, 0, PREEN, "clear the journal"),
	ROW(P0_JOURNAL_INVALID, 0, 0, "clear the journal"),
	ROW(P0_JOURNAL_IO, 0, 0, "clear the journal header"),
	ROW(P0_RO_FEATURES, 0, FATAL, "none: needs a newer fsck.holdfs"),
	ROW(P0_REPLAY_FAILED, 0, NOFIX, "none"),
	ROW(P0_DEVTAB_PRIMARY, 0, PREEN, "restore it from the backup"),
	ROW(P0_DEVTAB_BACKUP, 0, PREEN, "rewrite it from the primary"),
	ROW(P0_DEVTAB_BAD, 0, FATAL, "none: no usable device table"),
	ROW(P0_MEMBERS_MISSING, 0, FATAL,
	    "none: give every device of the volume"),
	ROW(P0_MIRROR_REPAIR, 0, PREEN,
	    "rewrite device 0's copy from the mirror"),
	ROW(P0_MIRROR_BOTH_BAD, 0, NOFIX,
	    "none: the passes below judge device 0's copy"),

	ROW(P1_ITABLE_IO, 1, 0, "clear the unreadable slots"),
	ROW(P1_FREE_DIRTY, 1, 0, "clear the slot"),
	ROW(P1_INODE_CRC, 1, 0, "rewrite the checksum"),
	ROW(P1_INODE_CLEAR, 1, 0, "clear the inode"),
	ROW(P1_INODE_MODE, 1, 0, "clear the inode"),
	ROW(P1_ROOT_BAD, 1, 0, "create a new root directory"),
	ROW(P1_INODE_FLAGS, 1, PREEN, "clear the flags"),
	ROW(P1_INODE_SIZE, 1, PREEN, "set the size"),
	ROW(P1_INODE_NEXTENTS, 1, 0, "rewrite the extent map"),
	ROW(P1_INODE_EXTBLK, 1, PREEN, "rewrite the extent map"),
	ROW(P1_EXTBLK_BAD, 1, 0, "truncate the extent map"),
	ROW(P1_EXTENT_BAD, 1, 0, "remove the extent"),
	ROW(P1_EXTENT_FLAGS, 1, PREEN, "clear the flags"),
	ROW(P1_LOSTDATA_FLAG, 1, PREEN, "set the flag"),
	ROW(P1_DIR_HOLE, 1, 0, "renumber the directory blocks"),
	ROW(P1_SYMLINK_BAD, 1, 0, "clear the inode"),
	ROW(P1_SPECIAL_DATA, 1, PREEN, "remove the data"),
	ROW(P1_XATTR_BAD, 1, 0, "drop the extended attributes"),
	ROW(P1_BADLIST_BAD, 1, 0, "rewrite the valid entries"),
	ROW(P1_DSLOT_PENDING, 1, PREEN, "fold it into the inode"),
	ROW(P1_DSLOT_STALE, 1, PREEN, "clear the slot"),
	ROW(P1_DSLOT_IO, 1, 0, "clear the block"),
	ROW(P1_XATTR_FEATURE, 1, PREEN, "set the feature flag"),
	ROW(P1_IFLAGS_FEATURE, 1, PREEN, "set the feature flag"),
	ROW(P1_ACL_BAD, 1, 0, "drop the ACL"),
	ROW(P1_META_PLACEMENT, 1, NOFIX,
	    "none: copy the files elsewhere before that device fails"),
	ROW(P1_PLACE_BAD, 1, PREEN, "drop the placement choice"),

	ROW(P1B_DUP_BLOCKS, 1, 0, "give the later owner its own copy"),
	ROW(P1B_ON_BAD, 1, 0, "mark the range lost"),
	ROW(P1B_META_ON_BAD, 1, 0, "move the block"),
	ROW(P1B_DATA_LOST, 1, 0, "cut the range out and mark the file"),

	ROW(P2_DIRBLOCK_IO, 2, 0, "clear the block"),
	ROW(P2_DENTRY_CRC, 2, 0, "clear the entry"),
	ROW(P2_DENTRY_NAME, 2, 0, "clear the entry"),
	ROW(P2_DENTRY_DANGLING, 2, 0, "clear the entry"),
	ROW(P2_DENTRY_DUP, 2, 0, "clear the entry"),
	ROW(P2_DENTRY_TYPE, 2, PREEN, "fix the type"),
	ROW(P2_DENTRY_ROOT, 2, 0, "clear the entry"),
	ROW(P2_DIR_LINKED_TWICE, 2, 0, "clear the entry"),

	ROW(P3_DIR_UNCONNECTED, 3, 0, "reconnect it to /lost+found"),
	ROW(P3_UNATTACHED, 3, 0, "reconnect it to /lost+found"),
	ROW(P3_NO_LPF, 3, 0, "create /lost+found"),
	ROW(P3_LPF_FAILED, 3, NOFIX, "none"),
	ROW(P3_DIR_PARENT, 3, PREEN, "set the parent"),

	ROW(P4_NLINK, 4, PREEN, "set the link count"),
	ROW(P4_ORPHAN, 4, PREEN, "free the inode"),
	ROW(P4_ORPHAN_FLAG, 4, PREEN, "clear the flag"),

	ROW(P5_COUNTERS, 5, PREEN, "update the superblock"),
	ROW(P5_HWM, 5, PREEN, "raise the high-water mark"),
	ROW(P5_BACKUP_BAD, 5, PREEN, "rewrite it from the primary"),
	ROW(P5_BACKUP_GEOMETRY, 5, PREEN, "rewrite it from the primary"),
	ROW(P5_HEALTH_TORN, 5, PREEN, "clear the slot"),
	ROW(P5_HEALTH_IO, 5, NOFIX, "none"),
	ROW(P5_MIRROR_STALE, 5, PREEN, "rewrite the mirror from device 0"),
};

const struct hfs_fsck_problem_desc *hfs_fsck_problem_table(unsigned *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct hfs_fsck_problem_desc *hfs_fsck_problem_desc(
	enum hfs_fsck_code code)
{
	static const struct hfs_fsck_problem_desc unknown = {
		0, "UNKNOWN", 0, NOFIX, "none"
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return &table[i];
	return &unknown;
}

/* Append to the report (bounded); NULL if dropped. */
static struct hfs_fsck_problem *record(struct fsck *f,
				       const struct hfs_fsck_problem_desc *d,
				       uint64_t ino, uint64_t off, char *msg)
{
	struct hfs_fsck_report *r = f->rep;
	struct hfs_fsck_problem *p;

	if (r->nproblems >= FSCK_MAX_PROBLEMS) {
		r->problems_dropped++;
		free(msg);
		return NULL;
	}
	if (r->nproblems % 64 == 0) {
		p = realloc(r->problems, (r->nproblems + 64) * sizeof(*p));
		if (!p) {
			r->problems_dropped++;
			free(msg);
			return NULL;
		}
		r->problems = p;
	}
	p = &r->problems[r->nproblems++];
	*p = (struct hfs_fsck_problem){
		.code = d->code, .name = d->name, .pass = d->pass,
		.msg = msg, .fix = d->fix, .ino = ino, .off = off,
	};
	return p;
}

static bool decide(struct fsck *f, const struct hfs_fsck_problem_desc *d)
{
	if (d->flags & FATAL) {
		f->exit |= HFS_FSCK_OPERATIONAL;
		f->halt = true;
		return false;
	}
	if (d->flags & NOFIX || f->o->mode == HFS_FSCK_NO || !f->writable)
		return false;
	if (f->o->mode == HFS_FSCK_PREEN && !(d->flags & PREEN)) {
		f->rep->preen_halted = true;
		f->halt = true;
		return false;
	}
	return true;
}

bool fix_problem(struct fsck *f, enum hfs_fsck_code code, uint64_t ino,
		 uint64_t off, const char *fmt, ...)
{
	const struct hfs_fsck_problem_desc *d = hfs_fsck_problem_desc(code);
	struct hfs_fsck_problem *p;
	char *msg = NULL;
	va_list ap;
	bool yes;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	yes = decide(f, d);
	if (!(d->flags & FATAL))
		yes ? f->nfixed++ : f->nunfixed++;
	p = record(f, d, ino, off, msg);
	if (p) {
		p->fixed = yes;
		if (f->o->on_problem)
			f->o->on_problem(f->o->ctx, p);
	}
	if (yes && d->pass > 0)
		fsck_hlog(f, HFS_HEALTH_FSCK, off == HFS_FSCK_NO_OFF ? 0 : off,
			  0, ino, "fsck: %s", d->name);
	return yes;
}

void fsck_fix_failed(struct fsck *f, int err)
{
	struct hfs_fsck_report *r = f->rep;

	(void)err;
	if (f->nfixed) {
		f->nfixed--;
		f->nunfixed++;
	}
	if (r->nproblems && r->problems[r->nproblems - 1].fixed)
		r->problems[r->nproblems - 1].fixed = false;
}

int fsck_fatal(struct fsck *f, int err, const char *fmt, ...)
{
	va_list ap;

	if (!f->rep->fatal[0]) {
		va_start(ap, fmt);
		vsnprintf(f->rep->fatal, sizeof(f->rep->fatal), fmt, ap);
		va_end(ap);
	}
	f->exit |= HFS_FSCK_OPERATIONAL;
	f->halt = true;
	return err;
}

bool fsck_progress(struct fsck *f, int pass, const char *unit, uint64_t done,
		   uint64_t total)
{
	if (f->halt)
		return true;
	if (!f->o->progress)
		return false;
	if (f->o->progress(f->o->ctx, pass, unit, done, total)) {
		f->rep->cancelled = true;
		f->exit |= HFS_FSCK_CANCELLED;
		f->halt = true;
		return true;
	}
	return false;
}
