/* SPDX-License-Identifier: MIT */
/*
 * Pass 4: link counts and orphans.
 *
 * Checks: i_nlink of every live inode against what passes 2 and 3 found:
 *   a directory has 2 + its subdirectories (its entry in the parent and
 *   ".", plus each child's ".."; neither "." nor ".." is stored), anything
 *   else has one link per entry naming it.  HFS_IF_ORPHAN only on inodes
 *   with no links.
 * Repairs: sets i_nlink; clears a stale orphan flag; frees inodes that
 *   nothing names and that have no links (unlinked while open before a
 *   crash, or an empty directory removed while open): mount would free
 *   them too, so this is safe to do in preen mode.
 * Needs: passes 2 and 3 (links, subdirs).
 * Leaves: f->ino[].mode 0 and claims dead for the freed inodes, so pass 5
 *   counts what remains.
 */
#include <inttypes.h>

#include "fsck_i.h"

static void free_orphan(struct fsck *f, uint64_t ino)
{
	struct fsck_ino *t = &f->ino[ino];
	int ret;

	if (!fix_problem(f, HFS_P4_ORPHAN, ino, fsck_inode_off(f, ino),
			 t->flags & FI_ORPHAN
				 ? "inode %" PRIu64 " was unlinked while open "
				   "(orphan)"
				 : "inode %" PRIu64 " has no links and no entry",
			 ino))
		return;
	t->mode = 0;
	fsck_claims_drop(f, ino);
	ret = fsck_free_inode(f, ino);
	if (ret)
		fsck_fix_failed(f, ret);
}

static void fix_inode(struct fsck *f, uint64_t ino, uint32_t nlink,
		      bool unorphan)
{
	struct hfs_inode_disk d;
	int ret = fsck_read_inode(f, ino, &d);

	if (!ret) {
		d.i_nlink = nlink;
		if (unorphan)
			d.i_flags &= ~HFS_IF_ORPHAN;
		ret = fsck_write_inode(f, ino, &d);
	}
	if (ret)
		fsck_fix_failed(f, ret);
}

static void check_inode(struct fsck *f, uint64_t ino)
{
	struct fsck_ino *t = &f->ino[ino];
	bool dir = S_ISDIR(t->mode), fix_n = false, fix_o = false;
	uint32_t want = dir ? 2 + t->subdirs : t->links;

	if (ino != HFS_ROOT_INO && t->links == 0) {
		if (t->nlink == 0)
			free_orphan(f, ino);
		return; /* else: could not be reconnected (pass 3 said) */
	}
	if (t->nlink != want)
		fix_n = fix_problem(f, HFS_P4_NLINK, ino, fsck_inode_off(f, ino),
				    "inode %" PRIu64 " has link count %" PRIu32
				    ", counted %" PRIu32, ino, t->nlink, want);
	if (t->flags & FI_ORPHAN)
		fix_o = fix_problem(f, HFS_P4_ORPHAN_FLAG, ino,
				    fsck_inode_off(f, ino), "inode %" PRIu64
				    " is marked orphan but has %" PRIu32
				    " links", ino, want);
	t->nlink = want;
	t->flags &= ~FI_ORPHAN;
	if (fix_n || fix_o)
		fix_inode(f, ino, want, fix_o);
}

int fsck_pass4(struct fsck *f)
{
	for (uint64_t ino = 1; ino < f->scan_end && !f->halt; ino++) {
		if (ino % 4096 == 0 &&
		    fsck_progress(f, 5, "inodes", ino, f->scan_end))
			break;
		if (f->ino[ino].mode)
			check_inode(f, ino);
	}
	return 0;
}
