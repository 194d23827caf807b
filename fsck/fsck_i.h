/* SPDX-License-Identifier: MIT */
/*
 * fsck internals shared by the pass files.  Not installed.
 *
 * lib/ is reached through its public headers only: region.h, media.h
 * (superblock, journal, crc, bad list, health log on a region) and
 * alloc.h (the free-space index fsck builds for itself).
 *
 * Map of fsck/ (one job per file):
 *   fsck.c          the pass table, the quick check, exit status
 *   problem.c       the problem table and fix_problem() (-n/-y/-p)
 *   io.c            guarded reads (with the journal overlay of -n),
 *                   writes, inode slots, extent chains, allocation
 *   report.c        building and freeing the report, paths
 *   pass0_super.c   superblocks and journal
 *   pass0_mirror.c  device 0's bad copies from the mirror (mirrored
 *                   volumes; lib/mirror_heal.c decides)
 *   names.c         name sets (duplicates, lost+found names)
 *   pass1_inodes.c  inode slots: types, checksum policy, repairs; records
 *                   block claims (pass1.h)
 *   pass1_maps.c    one inode's extent map, overflow chain, xattr block
 *   pass1_badlist.c the bad-extent list
 *   pass1_dslots.c  the data-path slot area: fold, clear
 *   pass1b_blocks.c block ownership: cross-links, bad media (pass1b.h)
 *   pass1b_repair.c clone, cut or mark lost; rewrite those inodes
 *   pass2_dirs.c    directory entries
 *   pass3_connect.c connectivity from the root, lost+found
 *   pass4_counts.c  link counts, orphans
 *   pass5_summary.c counters, clean flag, backup superblock, health log
 *   print.c json.c  report writers;  main.c  the tool
 *
 * How a repair is written: in NO mode fix_problem() answers no and
 * nothing is written, but every pass goes on from the state the fix
 * would have produced (a dropped extent is not claimed, a cleared inode
 * is free), so one -n run reports what -y would do.  In YES/PREEN mode the
 * first write clears the journal and the clean flag (fsck_begin_write),
 * so an interrupted repair is never replayed over nor mistaken for clean.
 */
#ifndef HOLDFS_FSCK_I_H
#define HOLDFS_FSCK_I_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "fsck.h"
#include "alloc.h"
#include "media.h"

#define BLK ((uint64_t)HFS_BLOCK_SIZE)
#define FSCK_MAX_PROBLEMS 10000 /* kept in the report; the rest counted */
#define FSCK_MAX_HEALTH_FSCK 48 /* FSCK records written per run */

/* Per inode slot, [0, scan_end). */
struct fsck_ino {
	uint32_t mode;    /* 0: free, cleared or unreadable */
	uint32_t nlink;   /* i_nlink on media (after pass-1 repairs) */
	uint32_t links;   /* directory entries naming it */
	uint32_t subdirs; /* directories: subdirectories found */
	uint32_t flags;   /* FI_* */
	uint32_t dir;     /* directories: index in fsck.dirs + 1 */
	uint64_t parent;  /* directories: i_parent on media */
	uint64_t dparent; /* directory holding the first entry naming it */
	uint64_t doff;    /* region offset of that entry */
};

#define FI_LOSTDATA 0x01u  /* HFS_IF_LOSTDATA set (or set by fsck) */
#define FI_ORPHAN 0x02u    /* HFS_IF_ORPHAN set */
#define FI_CONNECTED 0x04u /* pass 3: reachable from the root */
#define FI_VISITING 0x08u  /* pass 3: on the current walk */
#define FI_USED 0x10u      /* slot not all-zero (generation or more) */

/* Something naming pool blocks.  The claims of pass 1 are kept sorted by
 * (ino, kind, lblk) from [0, nsorted); later additions are appended. */
enum claim_kind {
	CL_DATA = 0,  /* file data or symlink block (extent) */
	CL_DIR = 1,   /* directory block(s) (extent) */
	CL_CHAIN = 2, /* extent overflow block; lblk = chain index */
	CL_XATTR = 3, /* xattr block */
	CL_BAD = 4,   /* bad-extent list entry, ino 0 */
	CL_DEAD = 5,  /* dropped by a repair */
};

struct fsck_claim {
	uint64_t pblk, len; /* region blocks */
	uint64_t lblk;      /* extents: file block; chain: index */
	uint64_t ino;
	uint32_t eflags;    /* HFS_EXT_* of an extent */
	uint32_t kind;      /* enum claim_kind */
};

/* A directory's block map, mutable by passes 2 and 3. */
struct fsck_dir {
	uint64_t ino;
	struct hfs_extent *v; /* sorted, lblk 0.. without holes */
	uint32_t n;
	uint64_t *chain;      /* overflow blocks */
	uint32_t nchain;
	uint64_t nent;        /* live entries (pass 2) */
	uint64_t free_hint;   /* slots below are known used (dir_add) */
};

/* A repair to log in the health log at the end of the run. */
struct fsck_hlog {
	uint32_t type;
	uint64_t off, len, ino;
	char msg[72];
};

/* The data-path slot area (docs/data-path.md) as pass 1 found it
 * (pass1_dslots.c).  Candidates are the slots whose own fields pass
 * mount's rule, sorted by (inode, slot): the inode scan, in inode order,
 * folds the ones its inode validates. */
struct fsck_dslot_cand {
	uint64_t ino;
	uint32_t idx;
};

struct fsck_dslots {
	uint64_t off;          /* region offset; 0: the filesystem has none */
	uint32_t count;
	struct hfs_dslot *v;   /* the slots as read (zero where unreadable) */
	uint8_t *st;           /* what became of each slot (pass1_dslots.c) */
	struct fsck_dslot_cand *cand;
	uint32_t ncand;
	uint32_t next;         /* the inode scan's cursor in cand */
	uint32_t pending_left; /* valid slots not folded (-n, a failed
				* write): HFS_FEAT_INCOMPAT_DSLOTS_LIVE stays */
};

/* An in-flight journal transaction applied virtually (NO mode). */
struct fsck_overlay {
	uint8_t *recs;
	size_t len;
};

struct fsck {
	struct hfs_region *rg;
	const struct hfs_fsck_opts *o;
	struct hfs_fsck_report *rep;
	struct hfs_super sb;      /* the primary as fsck will leave it */
	struct hfs_super orig;    /* the primary as found (after replay) */
	uint64_t pool_start, pool_end; /* blocks (every member's pool, and
				    * the gaps between them) */
	struct hfs_devtab devtab; /* several devices; t_count 0: one */
	uint64_t unit_blocks;
	uint64_t scan_end;        /* inode slots checked: [1, scan_end) */
	bool writable;            /* YES/PREEN on a writable region */
	bool write_started;
	bool halt;                /* fatal, preen stop or cancel */
	bool backup_ok;           /* backup copy valid (pass 0) */
	struct hfs_super backup;
	struct fsck_overlay ov;
	struct hfs_fault fault;   /* last fault of fsck_read */
	int exit;                 /* OPERATIONAL, CANCELLED; 1 and 4 come
				   * from the counts below at the end */
	uint64_t nfixed, nunfixed;

	struct fsck_ino *ino;
	uint64_t max_gen;
	struct fsck_claim *cl;
	size_t ncl, capcl, nsorted;
	struct hfs_bad_extent *bad;
	uint32_t nbad;
	struct fsck_dslots ds;
	struct hfs_alloc alloc;
	bool alloc_ready;
	struct fsck_dir *dirs;
	size_t ndirs, capdirs;
	uint64_t lpf;             /* /lost+found, 0 if none yet */
	bool lpf_failed;
	bool lpf_blocked;         /* root holds a non-directory lost+found */
	bool root_recreate;       /* pass 1: build a new root */
	struct fsck_hlog *hlog;
	size_t nhlog, caphlog, nhlog_fsck, hlog_dropped;
	struct timespec t0;
	uint64_t tick;            /* progress throttle */
};

/* ------------------------------------------------------------ passes */
int fsck_pass0(struct fsck *f);   /* also the quick check */
/* pass0_mirror.c: device 0's bad copies from the mirror; *sum says
 * what was found (sum->super: the primary superblock was rewritten,
 * choose again; super_stuck, journal_*: device 0's copy does not read,
 * lib/include/mirror_heal.h). */
struct hfs_heal_sum;
int fsck_mirror_before_replay(struct fsck *f, struct hfs_heal_sum *sum);
/* Device 0's journal does not read and the rule chose the mirror's
 * transaction: its header and records (malloc'd, *len bytes), or NULL. */
uint8_t *fsck_mirror_journal(struct fsck *f, size_t *len);
int fsck_mirror_after_replay(struct fsck *f);
/* Both of device 0's superblocks bad: the mirror's, if it is valid. */
bool fsck_mirror_super(struct fsck *f, struct hfs_super *sb);
bool fsck_quick_ok(struct fsck *f);
int fsck_pass1(struct fsck *f);
int fsck_pass1b(struct fsck *f);
int fsck_pass2(struct fsck *f);
int fsck_pass3(struct fsck *f);
int fsck_pass4(struct fsck *f);
int fsck_pass5(struct fsck *f);

/* --------------------------------------------------------- problem.c */
/* Record a problem and decide: true means "write the repair now".  In
 * every mode the caller goes on as if the repair were made. */
bool fix_problem(struct fsck *f, enum hfs_fsck_code code, uint64_t ino,
		 uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The repair just accepted could not be written (media error). */
void fsck_fix_failed(struct fsck *f, int err);
/* Operational error: stop, exit 8, message in the report. */
int fsck_fatal(struct fsck *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Progress and cancellation; true if the run must stop. */
bool fsck_progress(struct fsck *f, int pass, const char *unit,
		   uint64_t done, uint64_t total);

/* --------------------------------------------------------------- io.c */
int fsck_read(struct fsck *f, uint64_t off, void *buf, size_t len);
/* Read region bytes at off as if they were at at (the overlay of -n is
 * laid at at): the mirror's copy of device 0's bytes. */
int fsck_read_shifted(struct fsck *f, uint64_t off, uint64_t at, void *buf,
		      size_t len);
int fsck_write(struct fsck *f, uint64_t off, const void *buf, size_t len);
int fsck_begin_write(struct fsck *f);
int fsck_read_inode(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d);
/* Set the crc and write the slot. */
int fsck_write_inode(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d);
/* Free the slot (zero but the generation). */
int fsck_free_inode(struct fsck *f, uint64_t ino);
/* Blocks of overflow chain for n extents. */
uint32_t fsck_chain_needed(uint32_t n);
/* Grow *chain to fsck_chain_needed(n) blocks, allocating (and claiming
 * for ino) as needed.  -ENOSPC if the pool is full. */
int fsck_chain_fit(struct fsck *f, uint64_t ino, uint64_t **chain,
		   uint32_t *nchain, uint32_t n);
/* Write extents v[0..n) of d: overflow blocks chain[0..needed), then the
 * inline part and the slot.  The caller made chain big enough. */
int fsck_write_extents(struct fsck *f, uint64_t ino, struct hfs_inode_disk *d,
		       const struct hfs_extent *v, uint32_t n,
		       const uint64_t *chain);
/* Allocate n blocks aligned to align near hint; returns pblk or -ENOSPC. */
int64_t fsck_alloc(struct fsck *f, uint64_t n, uint64_t align, uint64_t hint);
int fsck_claim_add(struct fsck *f, const struct fsck_claim *c);
void fsck_claims_sort(struct fsck *f);
/* Mark every claim of ino dead (the inode was freed). */
void fsck_claims_drop(struct fsck *f, uint64_t ino);
/* Claims of ino in the sorted part: index of the first, count in *n. */
size_t fsck_claims_of(struct fsck *f, uint64_t ino, size_t *n);
/* Append a directory entry for ino to f->dirs (zeroed but for ino) and
 * point f->ino[ino].dir at it (pass3_connect.c).  0 or -ENOMEM. */
int fsck_dirs_push(struct fsck *f, uint64_t ino);
/* Pass 1's chain block check, for reuse. */
bool fsck_extblk_ok(const uint8_t *blk, uint64_t ino, uint32_t left);
struct fsck_dir *fsck_dir_of(struct fsck *f, uint64_t ino);
/* Add an entry to a directory (a free slot, else a new block). */
int fsck_dir_add(struct fsck *f, struct fsck_dir *d, const char *name,
		 uint64_t ino, uint8_t dtype, uint64_t *off);
void fsck_dentry_encode(struct hfs_dentry_disk *dd, uint64_t ino,
			const char *name, size_t len, uint8_t dtype);
/* Queue a health record (written by pass 5). */
void fsck_hlog(struct fsck *f, uint32_t type, uint64_t off, uint64_t len,
	       uint64_t ino, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static inline uint8_t fsck_dtype(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12);
}

static inline uint64_t fsck_inode_off(const struct fsck *f, uint64_t ino)
{
	return f->sb.s_itable_off + ino * HFS_INODE_SIZE;
}

static inline bool fsck_live(const struct fsck *f, uint64_t ino)
{
	return ino > 0 && ino < f->scan_end && f->ino[ino].mode != 0;
}

/* ------------------------------------------------------------ names.c */
struct fsck_nameset {
	uint32_t *slot;   /* arena offset + 1 of the name, 0 = empty */
	uint32_t *hash;
	size_t cap, n;
	char *arena;      /* u16 length, then bytes */
	size_t alen, acap;
};
/* Add name: 1 if it was there already, 0 if added, -ENOMEM. */
int fsck_nameset_add(struct fsck_nameset *s, const char *name, uint16_t len);
void fsck_nameset_reset(struct fsck_nameset *s);
void fsck_nameset_free(struct fsck_nameset *s);

/* ----------------------------------------------------------- report.c */
int fsck_report_lost(struct fsck *f, uint64_t ino, uint64_t off,
		     uint64_t len, const char *source);
/* "/a/b/name" of ino from the entries pass 2 found; NULL if it has none
 * (malloc'd). */
char *fsck_path(struct fsck *f, uint64_t ino);
void fsck_report_fill_paths(struct fsck *f);

#endif
