/* SPDX-License-Identifier: MIT */
/*
 * Pass 1b internals: the decisions pass1b_blocks.c takes for each claim
 * that loses a group of overlapping claims, and pass1b_repair.c, which
 * carries them out inode by inode.
 */
#ifndef HOLDFS_FSCK_PASS1B_H
#define HOLDFS_FSCK_PASS1B_H

#include "fsck_i.h"

enum p1b_act_type {
	A_LOST, /* file data on bad media: flag the range lost in place */
	A_MOVE, /* clone to fresh space, else cut */
};

struct p1b_act {
	uint64_t ino;
	size_t claim;       /* index in f->cl (sorted part) */
	enum p1b_act_type type;
	uint64_t os, oe;    /* blocks overlapping the other owners */
	bool cut;           /* lost to a chain/xattr block: its bytes are
			     * not this file's data, so no copy */
};

struct p1b_acts {
	struct p1b_act *v;
	size_t n, cap;
};

/* Carry out every act (sorted by inode), rewriting each inode once. */
int p1b_apply(struct fsck *f, struct p1b_acts *acts);

#endif
