/* SPDX-License-Identifier: MIT */
/*
 * Pass 1 internals shared by its files:
 *   pass1_inodes.c   the scan of the inode table, per-type checks, the
 *                    checksum policy, repairs, claims
 *   pass1_maps.c     one inode's extent map (inline + overflow chain) and
 *                    xattr chain
 *   pass1_badlist.c  the bad-extent list
 *   pass1_dslots.c   the data-path slot area: pending slots folded into
 *                    their inodes during the scan, stale ones cleared
 * A struct p1_img is one inode being checked: a cleaned copy of its slot
 * and extent map, and what was found, reported only once the checksum
 * policy has decided (pass1_inodes.c, settle()).
 */
#ifndef HOLDFS_FSCK_PASS1_H
#define HOLDFS_FSCK_PASS1_H

#include "fsck_i.h"

#define P1_MAX_FIND 8u

struct p1_finding {
	enum hfs_fsck_code code;
	uint64_t off;
	char msg[200];
};

struct p1_img {
	uint64_t ino;
	struct hfs_inode_disk d;
	struct hfs_extent *v;
	uint32_t n;
	size_t cap;
	uint64_t *chain;
	uint32_t nchain;
	uint64_t *xa;       /* xattr and value blocks (p1_check_xattr) */
	uint32_t nxa;
	size_t capxa;
	bool dirty, map_dirty, clear, lost;
	/* a repair already agreed to changed the inode itself (an xattr
	 * drop that emptied the chain's first block): write it even when
	 * no finding of its own asks to */
	bool fixed_inode;
	enum hfs_fsck_code clear_code;
	char why[200];
	struct p1_finding find[P1_MAX_FIND];
	unsigned nfind, more;
};

/* Note a finding (reported later, by the checksum policy). */
void p1_find(struct p1_img *m, enum hfs_fsck_code code, uint64_t off,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The inode must be cleared; the first reason wins. */
void p1_must_clear(struct p1_img *m, enum hfs_fsck_code code,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* pass1_maps.c */
int p1_load_extents(struct fsck *f, struct p1_img *m);
void p1_check_extents(const struct fsck *f, struct p1_img *m);
/* The xattr chain and value blocks: every block into m->xa; a bad chain
 * is reported and dropped (HFS_P1_XATTR_BAD).  -ENOMEM only. */
int p1_check_xattr(struct fsck *f, struct p1_img *m);

/* pass1_badlist.c: load and check the list, claim its ranges. */
int p1_badlist(struct fsck *f);

/* pass1_dslots.c.  Before the scan: read the slot area, sort out the
 * slots whose own fields pass.  For each inode the scan keeps (after the
 * checksum policy): fold its valid slots into m.  After the scan: clear
 * every slot neither free nor folded. */
int p1_dslots_load(struct fsck *f);
void p1_dslots_fold(struct fsck *f, struct p1_img *m);
void p1_dslots_finish(struct fsck *f);

#endif
