/* SPDX-License-Identifier: MIT */
/*
 * fsck.holdfs: check and repair a holdfs region.
 *
 *   fsck.holdfs [-n|-y|-p|-a] [-f] [--json] [-v] REGION
 *
 * A thin tool over hfs_fsck() (fsck/fsck.c): it opens the region (-n
 * read-only and without the ownership lock, so it also works on a mounted
 * region, which it says; the repair modes with the exclusive lock, so a
 * mounted region is refused naming its holder), shows progress on a
 * terminal, turns SIGINT into a clean cancel, and prints the report.
 *
 * Exit status, the fsck(8) bitmask: 0 clean, 1 errors corrected, 2 unused
 * (holdfs is never the root filesystem), 4 errors left uncorrected,
 * 8 operational error, 16 usage error, 32 cancelled.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsck.h"
#include "members.h"
#include "mirror_heal.h"
#include "mkfs.h" /* hfs_super_probe */

#ifndef HOLDFS_VERSION
#define HOLDFS_VERSION "unknown"
#endif

struct args {
	enum hfs_fsck_mode mode;
	int nmodes;
	bool force, json, verbose;
	const char *region;
	const char *const *devices; /* the other members of a volume */
	unsigned ndevices;
};

struct progress {
	bool tty;
	bool shown;
	struct timespec start, last;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *out)
{
	fputs("Usage: fsck.holdfs [-n|-y|-p|-a] [-f] [--json] [-v] REGION "
	      "[DEVICE...]\n"
	      "Check (and repair) the holdfs filesystem in REGION, a region\n"
	      "file or a device-dax node; for a volume of several devices, the\n"
	      "first device as REGION and every other one after it, in any\n"
	      "order.\n\n"
	      "  -n          check only, change nothing (read-only, works on a\n"
	      "              mounted region)\n"
	      "  -y          repair every problem found\n"
	      "  -p, -a      repair what is safe without asking; stop at\n"
	      "              anything else (exit 4)\n"
	      "  -f          full check even if the filesystem is clean\n"
	      "      --json  print the report as JSON on stdout\n"
	      "  -v          verbose: pass timings and the health log\n"
	      "  -h, --help  this help\n"
	      "  -V, --version\n\n"
	      "Without -n, -y or -p: -n.\n"
	      "Exit status: 0 clean, 1 errors corrected, 4 errors left\n"
	      "uncorrected, 8 operational error, 16 usage error, 32 cancelled\n"
	      "(bits may combine).  See fsck.holdfs(8).\n", out);
}

static void set_mode(struct args *a, enum hfs_fsck_mode m)
{
	if (a->nmodes && a->mode != m)
		a->nmodes++;
	else if (!a->nmodes)
		a->nmodes = 1;
	a->mode = m;
}

/* 0: run; -1: help/version printed; HFS_FSCK_USAGE: bad usage. */
static int parse(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, "nypafvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'n': set_mode(a, HFS_FSCK_NO); break;
		case 'y': set_mode(a, HFS_FSCK_YES); break;
		case 'p': case 'a': set_mode(a, HFS_FSCK_PREEN); break;
		case 'f': a->force = true; break;
		case 'v': a->verbose = true; break;
		case 'J': a->json = true; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("fsck.holdfs %s\n", HOLDFS_VERSION); return -1;
		default: usage(stderr); return HFS_FSCK_USAGE;
		}
	}
	if (a->nmodes > 1) {
		fputs("fsck.holdfs: -n, -y and -p exclude each other\n", stderr);
		return HFS_FSCK_USAGE;
	}
	if (optind == argc) {
		fputs("fsck.holdfs: no region given\n", stderr);
		usage(stderr);
		return HFS_FSCK_USAGE;
	}
	if ((unsigned)(argc - optind) > HFS_MEMBERS_MAX) {
		fprintf(stderr, "fsck.holdfs: %d devices; a volume has at most "
			"%u\n", argc - optind, HFS_MEMBERS_MAX);
		return HFS_FSCK_USAGE;
	}
	a->region = argv[optind];
	a->devices = (const char *const *)argv + optind + 1;
	a->ndevices = (unsigned)(argc - optind - 1);
	return 0;
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* "pass N: x/y unit" in place on a terminal, once the run has taken more
 * than half a second (small regions print nothing), ten times a second. */
static int on_progress(void *ctx, int pass, const char *unit, uint64_t done,
		       uint64_t total)
{
	static const char *const label[HFS_FSCK_NPASS] = {
		"0", "1", "1b", "2", "3", "4", "5"
	};
	struct progress *p = ctx;
	struct timespec now;

	if (interrupted)
		return 1;
	if (!p->tty || !total)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (secs(&p->start, &now) < 0.5 || secs(&p->last, &now) < 0.1)
		return 0;
	p->last = now;
	p->shown = true; /* shown once the run has taken half a second */
	fprintf(stderr, "\r\033[Kpass %s: %llu/%llu %s",
		pass >= 0 && pass < HFS_FSCK_NPASS ? label[pass] : "?",
		(unsigned long long)done, (unsigned long long)total, unit);
	return 0;
}

/* REGION holds the mirror of a volume's first device, which is lost
 * (recorded so by a mount with -o degraded): check the volume built on
 * the mirror.  *vol gets that volume; rg stays ours (it holds the lock).
 * -ENOENT (err untouched) if rg holds no mirror. */
static int from_mirror(const struct args *a, struct hfs_region *rg,
		       struct hfs_region **vol, const struct hfs_region_opts *ro,
		       struct hfs_err *err)
{
	struct hfs_region *slice = NULL;
	struct hfs_devtab t;
	struct hfs_super sb;
	uint32_t missing;
	uint64_t rel;
	int ret = hfs_members_read_mirror(rg, &sb, &t, &rel, err);

	if (ret)
		return ret == -ENOENT ? -ENOENT : err->code;
	if (t.t_dev[0].d_state == HFS_DEV_ACTIVE) {
		hfs_err_set(err, -ENODEV, "%s: holds the mirror of the volume's "
			    "first device, which is not recorded lost; check "
			    "the volume with its first device, or mount it "
			    "once with -o degraded to serve it from the "
			    "mirror", a->region);
		return -ENODEV;
	}
	ret = hfs_region_open_slice(rg, rel, sb.s_meta_end, &slice, err);
	if (!ret)
		ret = hfs_members_assemble_from_mirror(
			slice, &sb, rg, a->devices, a->ndevices, ro, false, &t,
			&missing, err);
	if (ret) {
		hfs_region_close(slice);
		return err->code ? err->code : ret;
	}
	*vol = slice;
	return 0;
}

/* A volume of several devices: map the others (given after REGION, in
 * any order) next to it.  The device table comes from the superblock
 * that a mount would use; fsck checks and repairs the rest. */
static int assemble(const struct args *a, struct hfs_region *rg,
		    struct hfs_region **mirror_vol,
		    const struct hfs_region_opts *ro, struct hfs_err *err)
{
	struct hfs_member_super h;
	struct hfs_devtab t;
	struct hfs_super sb;
	int found = hfs_super_probe(rg, &sb);
	bool multi;

	/* both superblocks bad: the mirror's, if a device given holds the
	 * mirror of this device 0 (pass 0 then restores the primary) */
	if (found != 1 && a->ndevices &&
	    !hfs_mirror_find_super(rg, a->devices, a->ndevices, &sb))
		found = 1;
	multi = found == 1 &&
		     (sb.s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV);

	if (found != 1 && hfs_member_probe(rg, &h))
		return from_mirror(a, rg, mirror_vol, ro, err) == -ENOENT
			       ? hfs_err_set(err, -EINVAL, "%s: device %u of "
					     "a holdfs volume, not its first; "
					     "give the first device first",
					     a->region, h.m_index)
			       : err->code;

	if (!multi && a->ndevices)
		return hfs_err_set(err, -EINVAL, "%s: not a holdfs of several "
				   "devices; check it alone", a->region);
	if (!multi)
		return 0;
	uint32_t missing;

	return hfs_members_assemble(rg, &sb, a->devices, a->ndevices, ro,
				    false, &t, &missing, err);
}

/* *rg: REGION as opened (it holds the lock); *vol: the region to check
 * (the volume built on the mirror of a lost first device), or *rg. */
static int open_region(const struct args *a, struct hfs_region **rg,
		       struct hfs_region **vol)
{
	/* -n: read-only and no lock at all, so a mounted region (held
	 * exclusively by its daemon) can be checked live */
	struct hfs_region_opts ro = { .readonly = a->mode == HFS_FSCK_NO,
				      .no_lock = a->mode == HFS_FSCK_NO };
	struct hfs_err err = { 0 };
	int ret = hfs_region_open(a->region, &ro, rg, &err);

	*vol = NULL;
	if (!ret)
		ret = assemble(a, *rg, vol, &ro, &err);
	if (!ret && !*vol)
		*vol = *rg;
	if (ret) {
		hfs_region_close(*rg);
		*rg = NULL;
		fprintf(stderr, "fsck.holdfs: %s\n",
			err.code ? err.msg : strerror(-ret));
		if (ret == -EBUSY)
			fputs("fsck.holdfs: repairs need the region unmounted; "
			      "-n checks a mounted region read-only\n", stderr);
		return HFS_FSCK_OPERATIONAL;
	}
	return 0;
}

static void note_holder(const struct args *a)
{
	char who[256];

	if (a->mode == HFS_FSCK_NO &&
	    hfs_region_holder(a->region, who, sizeof(who)) > 0)
		fprintf(stderr, "fsck.holdfs: %s is mounted (held by %s); "
			"checking it live, read-only: results may be "
			"inaccurate\n", a->region, who);
}

static int report(const struct args *a, const struct hfs_fsck_report *rep)
{
	int ret = a->json ? hfs_fsck_report_json(rep, stdout)
			  : hfs_fsck_report_print(rep, stdout, a->verbose);

	if (!ret && fflush(stdout))
		ret = -errno;
	if (ret) {
		fprintf(stderr, "fsck.holdfs: cannot write the report: %s\n",
			strerror(-ret));
		return HFS_FSCK_OPERATIONAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct progress prog = { .tty = isatty(STDERR_FILENO) };
	struct hfs_fsck_opts o = { .progress = on_progress, .ctx = &prog };
	struct sigaction sa = { .sa_handler = on_signal };
	struct hfs_fsck_report rep;
	struct hfs_region *rg, *vol;
	struct args a;
	int code = parse(argc, argv, &a);

	if (code)
		return code < 0 ? 0 : code;
	o.mode = a.mode;
	o.force = a.force;
	if ((code = open_region(&a, &rg, &vol)))
		return code;
	note_holder(&a);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &prog.start);
	code = hfs_fsck(vol, &o, &rep);
	if (prog.shown)
		fputs("\r\033[K", stderr);
	if (vol != rg)
		hfs_region_close(vol);
	hfs_region_close(rg);
	code |= report(&a, &rep);
	if (rep.fatal[0] && a.json)
		fprintf(stderr, "fsck.holdfs: %s\n", rep.fatal);
	hfs_fsck_report_free(&rep);
	return code;
}
