/* SPDX-License-Identifier: MIT */
/*
 * The human report: one line per problem (code, what was found, the
 * repair and whether it was made), the files that lost data, a summary
 * line, and the verdict in e2fsck's words where operators know them
 * ("FILESYSTEM WAS MODIFIED", "UNEXPECTED INCONSISTENCY; RUN fsck.holdfs
 * MANUALLY").  -v adds pass timings and the health log.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fsck_i.h"

int hfs_fsck_problem_print(const struct hfs_fsck_problem *p, FILE *out)
{
	unsigned flags = hfs_fsck_problem_desc(p->code)->flags;

	fprintf(out, "%s: %s", p->name, p->msg ? p->msg : "(no memory)");
	if (p->path)
		fprintf(out, " [%s]", p->path);
	if (flags & HFS_PR_FATAL)
		fputc('\n', out);
	else if (flags & HFS_PR_NO_FIX)
		fputs("; cannot be repaired\n", out);
	else
		fprintf(out, "; %s: %s\n", p->fix,
			p->fixed ? "fixed" : "not fixed");
	return ferror(out) ? -EIO : 0;
}

static void print_lost(const struct hfs_fsck_report *r, FILE *out)
{
	if (!r->nlost)
		return;
	fprintf(out, "%s: files with lost data:\n", r->region);
	for (size_t i = 0; i < r->nlost; i++) {
		const struct hfs_fsck_lost *l = &r->lost[i];

		fprintf(out, "  inode %" PRIu64 "  %s  (%s", l->ino,
			l->path ? l->path : "(no name)", l->source);
		if (l->len)
			fprintf(out, ", region 0x%" PRIx64 "+0x%" PRIx64,
				l->off, l->len);
		fputs(")\n", out);
	}
}

/* Data-path slots a crash left, where the journal replay is said. */
static void print_dslots(const struct hfs_fsck_report *r, FILE *out)
{
	if (!r->dslots_pending && !r->dslots_stale)
		return;
	if (r->mode == HFS_FSCK_NO)
		fprintf(out, "%s: data-path slots: %" PRIu64 " pending, %" PRIu64
			" stale (-n: not folded, not cleared)\n", r->region,
			r->dslots_pending, r->dslots_stale);
	else
		fprintf(out, "%s: data-path slots: %" PRIu64 " folded, %" PRIu64
			" stale cleared\n", r->region, r->dslots_pending,
			r->dslots_stale);
}

static void print_counts(const struct hfs_fsck_report *r, FILE *out)
{
	const struct hfs_fsck_counts *c = &r->counts;

	if (r->quick) {
		fprintf(out, "%s: clean, %" PRIu64 "/%" PRIu64 " inodes, %"
			PRIu64 "/%" PRIu64 " blocks\n", r->region, c->inodes,
			c->inode_count, c->blocks_used, c->pool_blocks);
		return;
	}
	fprintf(out, "%s: %" PRIu64 "/%" PRIu64 " inodes (%" PRIu64 " dirs, %"
		PRIu64 " files, %" PRIu64 " symlinks, %" PRIu64 " other), %"
		PRIu64 "/%" PRIu64 " blocks used (%" PRIu64 " bad in %" PRIu64
		" bad extents), %" PRIu64 " extents, %" PRIu64 " entries\n",
		r->region, c->inodes, c->inode_count, c->dirs, c->files,
		c->symlinks, c->special, c->blocks_used, c->pool_blocks,
		c->blocks_bad, c->bad_extents, c->extents, c->dentries);
}

static void print_verbose(const struct hfs_fsck_report *r, FILE *out)
{
	for (int i = 0; i < HFS_FSCK_NPASS; i++)
		fprintf(out, "  %-40s %10.3f ms\n", hfs_fsck_pass_name(i),
			r->pass_ms[i]);
	fprintf(out, "  %-40s %10.3f ms\n", "total", r->total_ms);
	if (r->nhealth)
		fprintf(out, "health log (%zu records):\n", r->nhealth);
	for (size_t i = 0; i < r->nhealth; i++) {
		const struct hfs_health_rec *h = &r->health[i];

		fprintf(out, "  #%" PRIu64 " %-17s ino %" PRIu64 " off 0x%"
			PRIx64 " len 0x%" PRIx64 " %.*s\n", h->h_seq,
			hfs_health_type_name(h->h_type), h->h_ino, h->h_off,
			h->h_len, (int)sizeof(h->h_msg), h->h_msg);
	}
}

static void print_verdict(const struct hfs_fsck_report *r, FILE *out)
{
	if (r->fatal[0])
		fprintf(out, "fsck.holdfs: %s\n", r->fatal);
	if (r->cancelled)
		fprintf(out, "%s: cancelled; the check is incomplete\n",
			r->region);
	if (r->modified)
		fprintf(out, "\n%s: ***** FILESYSTEM WAS MODIFIED *****\n",
			r->region);
	if (r->preen_halted)
		fprintf(out, "\n%s: UNEXPECTED INCONSISTENCY; RUN fsck.holdfs "
			"MANUALLY.\n\t(i.e., without -a or -p options)\n",
			r->region);
	else if (r->exit_code & HFS_FSCK_UNCORRECTED)
		fprintf(out, "\n%s: ********** WARNING: Filesystem still has "
			"errors **********\n%s", r->region,
			r->mode == HFS_FSCK_NO ?
			"(checked with -n: run fsck.holdfs -y to repair)\n" : "");
}

int hfs_fsck_report_print(const struct hfs_fsck_report *r, FILE *out,
			  bool verbose)
{
	for (size_t i = 0; i < r->nproblems; i++)
		hfs_fsck_problem_print(&r->problems[i], out);
	if (r->problems_dropped)
		fprintf(out, "... and %zu more problems\n", r->problems_dropped);
	if (r->replayed && r->mode != HFS_FSCK_NO)
		fprintf(out, "%s: journal replayed\n", r->region);
	print_dslots(r, out);
	if (r->used_backup_sb)
		fprintf(out, "%s: used the backup superblock\n", r->region);
	print_lost(r, out);
	if (!r->fatal[0])
		print_counts(r, out);
	if (verbose)
		print_verbose(r, out);
	print_verdict(r, out);
	return ferror(out) ? -EIO : 0;
}
