/* SPDX-License-Identifier: MIT */
/*
 * libholdfs-fsck: check and repair a holdfs region, in-process.
 *
 *   struct hfs_fsck_opts o = { .mode = HFS_FSCK_YES, .force = true };
 *   struct hfs_fsck_report rep;
 *   int code = hfs_fsck(rg, &o, &rep);   // fsck(8) exit bitmask
 *   ... rep.problems, rep.lost, rep.counts ...
 *   hfs_fsck_report_free(&rep);
 *
 * The caller opens the region (read-only for HFS_FSCK_NO, writable with
 * the ownership lock otherwise); fsck.holdfs (fsck/main.c) is a thin tool
 * over this, and tests and the crash-consistency harness call it directly
 * on memory regions.  The library never prints; hfs_fsck_report_print()
 * and hfs_fsck_report_json() write a finished report to a stream the
 * caller chooses.
 *
 * The passes (one file each, see docs/fsck.md):
 *   0 superblocks and journal        pass0_super.c
 *   1 inodes, extent maps, chains    pass1_inodes.c
 *   1b block ownership               pass1b_blocks.c
 *   2 directory entries              pass2_dirs.c
 *   3 connectivity, lost+found       pass3_connect.c
 *   4 link counts, orphans           pass4_counts.c
 *   5 summary, backup, health log    pass5_summary.c
 */
#ifndef HOLDFS_FSCK_H
#define HOLDFS_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <holdfs/format.h>

#include "problem.h"
#include "region.h"

/* fsck(8) exit status bits */
#define HFS_FSCK_OK 0
#define HFS_FSCK_CORRECTED 1   /* errors found and corrected */
#define HFS_FSCK_REBOOT 2      /* unused: holdfs is never the root fs */
#define HFS_FSCK_UNCORRECTED 4 /* errors left uncorrected */
#define HFS_FSCK_OPERATIONAL 8 /* could not check (no fs, I/O, memory) */
#define HFS_FSCK_USAGE 16      /* command line (the tool only) */
#define HFS_FSCK_CANCELLED 32  /* interrupted */

enum hfs_fsck_mode {
	HFS_FSCK_NO = 0,    /* -n: change nothing, report */
	HFS_FSCK_YES = 1,   /* -y: fix everything */
	HFS_FSCK_PREEN = 2, /* -p: fix what is safe, stop at anything else */
};

#define HFS_FSCK_NPASS 7 /* 0, 1, 1b, 2, 3, 4, 5 (index 2 is pass 1b) */

struct hfs_fsck_problem;

struct hfs_fsck_opts {
	enum hfs_fsck_mode mode;
	bool force;   /* full check even if the clean flag is set */
	/* Called every few thousand objects and at every pass change: pass
	 * index as in HFS_FSCK_NPASS, done out of total (unit: unit).
	 * Non-zero return cancels the check (exit bit 32). */
	int (*progress)(void *ctx, int pass, const char *unit, uint64_t done,
			uint64_t total);
	/* Called once per problem as it is found and decided. */
	void (*on_problem)(void *ctx, const struct hfs_fsck_problem *p);
	void *ctx;
};

#define HFS_FSCK_NO_OFF UINT64_MAX

struct hfs_fsck_problem {
	enum hfs_fsck_code code;
	const char *name;  /* "P2_DENTRY_CRC", static */
	unsigned pass;
	char *msg;         /* what was found */
	const char *fix;   /* what the repair is, static */
	uint64_t ino;      /* 0: none */
	uint64_t off;      /* region offset, HFS_FSCK_NO_OFF: none */
	char *path;        /* NULL if unknown */
	bool fixed;
};

/* A file that lost data: from its inode flag, the health log, or this
 * run's repairs (a cross-linked range fsck could not clone). */
struct hfs_fsck_lost {
	uint64_t ino;
	char *path;        /* NULL if the file has no name */
	uint64_t off, len; /* region range if known, else 0, 0 */
	const char *source; /* "inode-flag", "health-log", "fsck" */
};

struct hfs_fsck_counts {
	uint64_t inodes, dirs, files, symlinks, special;
	uint64_t inode_count, inode_hwm, slots_checked;
	uint64_t pool_blocks, blocks_used, blocks_free, blocks_bad;
	uint64_t bad_extents, extents, dentries;
};

struct hfs_fsck_report {
	int exit_code;
	enum hfs_fsck_mode mode;
	bool quick;          /* clean flag set, no -f: quick check only */
	bool was_clean;      /* clean flag at start */
	bool had_errors;     /* ERRORS flag at start */
	bool replayed;       /* a journal transaction was (or would be) replayed */
	uint64_t dslots_pending; /* valid data-path slots folded (-n: to fold) */
	uint64_t dslots_stale;   /* stale or damaged slots cleared (-n: to
				  * clear) */
	bool used_backup_sb; /* the primary was bad */
	bool modified;       /* something was written */
	bool preen_halted;   /* -p met a problem it may not fix */
	bool cancelled;
	char fatal[512];     /* operational error, "" if none */
	uint8_t uuid[16];
	char label[HFS_LABEL_MAX];
	char *region;        /* path of the region */

	struct hfs_fsck_problem *problems;
	size_t nproblems;
	size_t problems_dropped; /* beyond the cap, counted only */
	struct hfs_fsck_lost *lost;
	size_t nlost;
	struct hfs_health_rec *health; /* valid records, oldest first */
	size_t nhealth;
	struct hfs_fsck_counts counts;
	double pass_ms[HFS_FSCK_NPASS];
	double total_ms;
};

/* Check (and with YES/PREEN repair) the filesystem in rg.  Fills *rep
 * (free it with hfs_fsck_report_free, also on error) and returns the
 * fsck(8) exit bitmask (also in rep->exit_code). */
int hfs_fsck(struct hfs_region *rg, const struct hfs_fsck_opts *o,
	     struct hfs_fsck_report *rep);
void hfs_fsck_report_free(struct hfs_fsck_report *rep);

/* Number of problems with this code in the report. */
size_t hfs_fsck_report_count(const struct hfs_fsck_report *rep,
			     enum hfs_fsck_code code);

/* Writers (fsck/print.c, fsck/json.c).  Return 0 or -errno (-EIO when
 * the stream failed). */
int hfs_fsck_report_print(const struct hfs_fsck_report *rep, FILE *out,
			  bool verbose);
int hfs_fsck_report_json(const struct hfs_fsck_report *rep, FILE *out);
/* One problem line as printed ("inode 12: ...; rewrite the checksum:
 * fixed"), for a streaming caller. */
int hfs_fsck_problem_print(const struct hfs_fsck_problem *p, FILE *out);
const char *hfs_fsck_mode_name(enum hfs_fsck_mode m);
const char *hfs_fsck_pass_name(int pass_index);

#endif
