/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs internals shared by its three files: mkfs.c (the flow),
 * args.c (command line and --help), report.c (the summary).
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

const char *mkfs_human(uint64_t bytes, char *buf, size_t len);
const char *mkfs_uuid_str(const uint8_t u[16], char out[37]);
void mkfs_print_summary(const struct mkfs_args *a,
			const struct region_desc *rd,
			const struct hfs_super *sb, const struct badlist *bl);
/* The members of a volume of several devices (after the summary). */
void mkfs_print_members(const struct mkfs_args *a, const struct hfs_super *sb,
			const struct hfs_devtab *t);

#endif
