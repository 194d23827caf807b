/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs internals shared by its four files: mkfs.c (the flow),
 * args.c (command line and --help), report.c (the summary), add_mirror.c
 * (--add-mirror: a new mirror for a volume whose mirror was lost).
 */
#ifndef HOLDFS_MKFS_TOOL_H
#define HOLDFS_MKFS_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "mkfs.h"
#include "region.h"

#define EXIT_USAGE 2

struct mkfs_args {
	const char *region;     /* member 0: metadata and data */
	char **devices;         /* further members (data), may be empty */
	unsigned ndevices;
	uint64_t size;          /* --size, 0 = use the region as it is */
	struct hfs_mkfs_opts mo;
	bool force, quiet, dry_run;
	bool unsafe_region_mode; /* format a region others may reach */
	bool no_mirror;         /* several devices: no mirror of the first */
	uint64_t meta_size;     /* --meta-size: device 0's metadata zone */
	const char *add_mirror; /* --add-mirror NEWDEV: REGION DEVICE... is
				 * a volume to give a new mirror on NEWDEV */
	bool layout_opts;       /* an option that shapes a new filesystem
				 * (-b -L -N -J -m -D --no-mirror
				 * --meta-size): not with --add-mirror */
};

/* Growing list of bad ranges from hfs_region_badblocks. */
struct badlist {
	struct hfs_bad_extent *v;
	uint32_t n;
	size_t cap;
};

/* How the summary describes the region: the real one, even when a dry
 * run laid out a stand-in. */
struct region_desc {
	enum hfs_region_kind kind;
	const char *granularity; /* NULL: known once the file is mapped */
};

/* "mkfs.holdfs: <msg>" on stderr. */
void mkfs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 0: run; -1: --help or --version printed; EXIT_USAGE: usage error
 * printed. */
int mkfs_parse_args(int argc, char **argv, struct mkfs_args *a);

/* mkfs.c, for add_mirror.c: open a region (read-write: locked), refuse
 * one others may reach (unless --unsafe-region-mode), list its known
 * bad ranges, size a region file for --size (*created: a new file, to
 * remove if the run fails).  0 or -1 with the message printed. */
int mkfs_open_region(const char *path, bool readonly, bool have_size,
		     struct hfs_region **rg);
int mkfs_check_private(const struct mkfs_args *a, struct hfs_region *rg);
int mkfs_collect_bad(const struct mkfs_args *a, struct hfs_region *rg,
		     struct badlist *bl);
int mkfs_size_region_file(const struct mkfs_args *a, const char *path,
			  bool *created);

/* add_mirror.c: mkfs.holdfs --add-mirror NEWDEV REGION [DEVICE...].
 * 0 or -1 with the message printed. */
int mkfs_add_mirror(struct mkfs_args *a);

const char *mkfs_human(uint64_t bytes, char *buf, size_t len);
const char *mkfs_uuid_str(const uint8_t u[16], char out[37]);
void mkfs_print_summary(const struct mkfs_args *a,
			const struct region_desc *rd,
			const struct hfs_super *sb, const struct badlist *bl);
/* The members of a volume of several devices (after the summary). */
void mkfs_print_members(const struct mkfs_args *a, const struct hfs_super *sb,
			const struct hfs_devtab *t);

#endif
