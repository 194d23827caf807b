/* SPDX-License-Identifier: MIT */
/*
 * hfs_fsck(): the pass table.
 *
 * Passes run in order; each file opens with what it checks, what it
 * needs from the passes before it and what it leaves behind.  A pass
 * returns 0 or -errno (only for an operational failure such as
 * -ENOMEM); what it finds goes through fix_problem().  The run stops
 * early on an operational error, a -p run meeting a problem it may not
 * fix, or a cancel from the progress callback.
 *
 * A filesystem whose clean flag is set (and ERRORS is not) gets the
 * quick check only, unless force is set: pass 0 plus the backup
 * superblock, the bad-extent list header and the plausibility of the
 * counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsck_i.h"

static const struct {
	const char *name;
	int (*run)(struct fsck *f);
} passes[HFS_FSCK_NPASS] = {
	{ "pass 0: superblocks and journal", fsck_pass0 },
	{ "pass 1: inodes, extent maps, chains", fsck_pass1 },
	{ "pass 1b: block ownership", fsck_pass1b },
	{ "pass 2: directory entries", fsck_pass2 },
	{ "pass 3: connectivity", fsck_pass3 },
	{ "pass 4: link counts", fsck_pass4 },
	{ "pass 5: summary, backup, health log", fsck_pass5 },
};

const char *hfs_fsck_pass_name(int i)
{
	return i >= 0 && i < HFS_FSCK_NPASS ? passes[i].name : "?";
}

const char *hfs_fsck_mode_name(enum hfs_fsck_mode m)
{
	switch (m) {
	case HFS_FSCK_NO: return "no";
	case HFS_FSCK_YES: return "yes";
	case HFS_FSCK_PREEN: return "preen";
	}
	return "?";
}

static double ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static void quick_counts(struct fsck *f)
{
	struct hfs_fsck_counts *c = &f->rep->counts;

	f->rep->quick = true;
	c->inodes = f->sb.s_used_inodes;
	c->inode_hwm = f->sb.s_inode_hwm;
	c->blocks_used = f->sb.s_used_blocks;
	c->blocks_free = f->sb.s_pool_blocks - f->sb.s_used_blocks;
}

static void fsck_free(struct fsck *f)
{
	for (size_t i = 0; i < f->ndirs; i++) {
		free(f->dirs[i].v);
		free(f->dirs[i].chain);
	}
	free(f->dirs);
	free(f->ino);
	free(f->cl);
	free(f->bad);
	free(f->ds.v);
	free(f->ds.st);
	free(f->ds.cand);
	free(f->hlog);
	free(f->ov.recs);
	if (f->alloc_ready)
		hfs_alloc_destroy(&f->alloc);
}

static void run_passes(struct fsck *f)
{
	struct timespec t;
	int ret;

	for (int i = 0; i < HFS_FSCK_NPASS && !f->halt; i++) {
		if (fsck_progress(f, i, "", 0, 0))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ret = passes[i].run(f);
		f->rep->pass_ms[i] = ms_since(&t);
		if (ret) {
			fsck_fatal(f, ret, "%s: %s: %s", f->rg->path,
				   passes[i].name, ret == -ENOMEM ?
				   "out of memory" : strerror(-ret));
			break;
		}
		if (i == 0 && !f->halt && fsck_quick_ok(f)) {
			quick_counts(f);
			break;
		}
	}
}

int hfs_fsck(struct hfs_region *rg, const struct hfs_fsck_opts *o,
	     struct hfs_fsck_report *rep)
{
	static const struct hfs_fsck_opts defaults;
	struct fsck f;

	if (!o)
		o = &defaults;
	memset(rep, 0, sizeof(*rep));
	memset(&f, 0, sizeof(f));
	rep->mode = o->mode;
	rep->region = strdup(rg->path ? rg->path : "(region)");
	f.rg = rg;
	f.o = o;
	f.rep = rep;
	f.writable = o->mode != HFS_FSCK_NO && !rg->readonly;
	clock_gettime(CLOCK_MONOTONIC, &f.t0);
	run_passes(&f);
	if (!(f.exit & HFS_FSCK_OPERATIONAL) && f.ino)
		fsck_report_fill_paths(&f);
	rep->total_ms = ms_since(&f.t0);
	fsck_free(&f);
	if (f.nfixed)
		f.exit |= HFS_FSCK_CORRECTED;
	if (f.nunfixed)
		f.exit |= HFS_FSCK_UNCORRECTED;
	rep->exit_code = f.exit;
	return f.exit;
}
