/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs command line: getopt_long, size suffixes, --help.  Usage
 * errors print a hint to --help and make the tool exit 2.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <holdfs/format.h>

#include "tool.h"

#ifndef HOLDFS_VERSION
#define HOLDFS_VERSION "unknown"
#endif

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt,
							      ...)
{
	va_list ap;

	fputs("mkfs.holdfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mkfs.holdfs --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static void usage(FILE *f)
{
	fputs(
"Usage: mkfs.holdfs [options] REGION [DEVICE...]\n"
"       mkfs.holdfs --add-mirror NEWDEV [-f] [-s SIZE] REGION [DEVICE...]\n"
"\n"
"Create a holdfs filesystem on REGION: a device-dax node (/dev/daxX.Y), a\n"
"file on an fsdax filesystem, or a plain file standing in for one.  With\n"
"DEVICEs (same kinds), one volume spans them all, each a failure domain for\n"
"the file data on it; the metadata is on REGION, with a copy on the first\n"
"DEVICE, so the volume's namespace survives losing any one device\n"
"(docs/format.md).\n"
"\n"
"Options:\n"
"  -s, --size SIZE         create REGION (and each DEVICE) as a sparse file\n"
"                          of SIZE bytes, or grow an existing file to SIZE\n"
"                          (never shrinks it)\n"
"  -b, --block-size SIZE   data allocation unit: a power of two, at least\n"
"                          4K and a multiple of the region's mapping\n"
"                          alignment (default: that alignment, e.g. 2M for\n"
"                          device-dax, 4K for files; the largest of the\n"
"                          devices' alignments for several)\n"
"  -L, --label LABEL       volume label, at most 63 bytes\n"
"  -N, --inodes N          number of inodes (default: one per 16 KiB of\n"
"                          region, at most 4194304)\n"
"  -J, --journal-size SIZE metadata journal size, a multiple of 4K (default:\n"
"                          1/64 of the region, between 256K and 4M)\n"
"  -m, --reserved-percent PCT\n"
"                          percentage of the blocks and of the inodes only\n"
"                          root may use, so a user who fills the filesystem\n"
"                          leaves root room to work (default 5, at most 50;\n"
"                          0 for none)\n"
"  -D, --data-path-slots N files written directly at the same time\n"
"                          (docs/data-path.md; default: one per 256K of\n"
"                          region, 64 to 4096; 0: no direct data path)\n"
"  -f, --force             overwrite an existing holdfs\n"
"      --no-mirror         with DEVICEs: keep no copy of REGION's metadata\n"
"                          on the first DEVICE; losing REGION then loses the\n"
"                          volume\n"
"      --meta-size SIZE    with DEVICEs: REGION's metadata zone (directories,\n"
"                          extent and xattr blocks), mirrored on the first\n"
"                          DEVICE (default 1/32 of REGION's pool, 4M to 8G)\n"
"      --add-mirror NEWDEV make NEWDEV a new device of the (unmounted)\n"
"                          volume REGION DEVICE... holding the copy of\n"
"                          REGION's metadata, when the device that held it\n"
"                          is lost or retired; with -s, NEWDEV is created\n"
"                          (or grown) to SIZE, with -f it may hold another\n"
"                          holdfs; DEVICE... are the volume's devices in\n"
"                          service, as for fsck.holdfs\n"
"      --unsafe-region-mode\n"
"                          format REGION even if users other than its owner\n"
"                          may read or write it, or it belongs to someone\n"
"                          other than root or you (they could read or\n"
"                          change every file); refused otherwise\n"
"  -q, --quiet             print nothing but errors\n"
"  -n, --dry-run           print the layout that would be written; write\n"
"                          nothing (not even --size)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show version information and exit\n"
"\n"
"SIZE is a number of bytes with an optional suffix K, M, G, T or P (powers\n"
"of 1024; KiB, MiB, ... are accepted too), e.g. 1G.\n"
"\n"
"Known bad media (libpmem2 badblocks) is recorded in the bad-extent list\n"
"and never allocated.  A region in use by a mounted holdfs is refused.  A\n"
"region file created with --size is mode 0600; an existing one that other\n"
"users may read or write is refused (see --unsafe-region-mode).\n"
"\n"
"Examples:\n"
"  mkfs.holdfs --size 1G /var/tmp/holdfs/region.img\n"
"  mkfs.holdfs -L cache /dev/dax0.0\n"
"  mkfs.holdfs -n /dev/dax0.0\n"
"  mkfs.holdfs -f -b 2M -N 100000 /dev/dax1.0\n"
"  mkfs.holdfs -L pool /dev/dax0.0 /dev/dax1.0 /dev/dax2.0\n"
"  mkfs.holdfs --add-mirror /dev/dax3.0 /dev/dax0.0 /dev/dax2.0\n"
"\n"
"Exit status:\n"
"  0  the filesystem was created (with -n: would be created), or the\n"
"     new mirror added\n"
"  1  error: the region cannot be opened or sized, already holds a holdfs\n"
"     (without -f), or formatting failed; --add-mirror refused (the\n"
"     message says why and what to do) or failed\n"
"  2  usage error\n", f);
}

/* "1G", "256MiB", "4096": a byte count with a binary suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	const char *u;
	char *end;
	uint64_t v;
	int shift = 0;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end) {
		u = strchr(units, toupper((unsigned char)end[0]));
		if (!u || !*u)
			return -1;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (*end == 'i' && (end[1] == 'B'))
			end += 2;
		else if (*end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int mkfs_parse_args(int argc, char **argv, struct mkfs_args *a)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'L' },
		{ "inodes", required_argument, NULL, 'N' },
		{ "journal-size", required_argument, NULL, 'J' },
		{ "reserved-percent", required_argument, NULL, 'm' },
		{ "data-path-slots", required_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "unsafe-region-mode", no_argument, NULL, 'U' },
		{ "no-mirror", no_argument, NULL, 'M' },
		{ "meta-size", required_argument, NULL, 'Z' },
		{ "add-mirror", required_argument, NULL, 'A' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	opterr = 0; /* our own messages, with the --help hint */
	while ((c = getopt_long(argc, argv, ":s:b:L:N:J:m:D:fqnhV", lopts,
				NULL)) != -1) {
		if (c && strchr("bLNJmDMZ", c))
			a->layout_opts = true;
		switch (c) {
		case 'A':
			a->add_mirror = optarg;
			break;
		case 's':
			if (parse_size(optarg, &a->size) || a->size == 0)
				return usage_error("invalid size '%s'", optarg);
			if (a->size < HFS_MIN_REGION)
				return usage_error("size '%s' is too small; "
						   "holdfs needs at least 16M",
						   optarg);
			break;
		case 'b':
			if (parse_size(optarg, &a->mo.alloc_unit) ||
			    a->mo.alloc_unit == 0)
				return usage_error("invalid block size '%s'",
						   optarg);
			break;
		case 'L':
			if (strlen(optarg) >= HFS_LABEL_MAX)
				return usage_error("label '%s' is %zu bytes; "
						   "at most %d allowed", optarg,
						   strlen(optarg),
						   HFS_LABEL_MAX - 1);
			a->mo.label = optarg;
			break;
		case 'N':
			if (parse_count(optarg, &a->mo.inode_count) ||
			    a->mo.inode_count == 0)
				return usage_error("invalid inode count '%s'",
						   optarg);
			break;
		case 'J':
			if (parse_size(optarg, &v) || v == 0 ||
			    v % HFS_BLOCK_SIZE)
				return usage_error("invalid journal size '%s' "
						   "(a multiple of 4K)", optarg);
			a->mo.journal_blocks = v / HFS_BLOCK_SIZE;
			break;
		case 'm':
			if (parse_count(optarg, &v) ||
			    v > HFS_ROOT_RESERVE_MAX_PCT)
				return usage_error("invalid reserved percentage "
						   "'%s' (0 to %u)", optarg,
						   HFS_ROOT_RESERVE_MAX_PCT);
			a->mo.root_pct = (unsigned)v;
			break;
		case 'D':
			if (parse_count(optarg, &v) || v > HFS_MKFS_DSLOTS_MAX)
				return usage_error("invalid data-path slot count "
						   "'%s' (0 to %u)", optarg,
						   HFS_MKFS_DSLOTS_MAX);
			a->mo.dslots = v ? (uint32_t)v : HFS_MKFS_NO_DSLOTS;
			break;
		case 'f':
			a->force = true;
			break;
		case 'M':
			a->no_mirror = true;
			break;
		case 'Z':
			if (parse_size(optarg, &a->meta_size) || !a->meta_size)
				return usage_error("invalid --meta-size '%s'",
						   optarg);
			break;
		case 'U':
			a->unsafe_region_mode = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("mkfs.holdfs %s (on-media format %d.%d)\n",
			       HOLDFS_VERSION, HFS_VERSION_MAJOR,
			       HFS_VERSION_MINOR);
			return -1;
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'",
						   optopt);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error(a->add_mirror ? "missing REGION (the first "
					   "device of the volume to give a "
					   "new mirror)"
					 : "missing REGION");
	if ((unsigned)(argc - optind) > HFS_MEMBERS_MAX)
		return usage_error("%d devices: a volume has at most %u",
				   argc - optind, HFS_MEMBERS_MAX);
	a->region = argv[optind];
	a->devices = argv + optind + 1;
	a->ndevices = (unsigned)(argc - optind - 1);
	if (a->add_mirror && a->layout_opts)
		return usage_error("--add-mirror changes an existing volume: "
				   "-b, -L, -N, -J, -m, -D, --no-mirror and "
				   "--meta-size shape a new one");
	if (a->add_mirror && a->dry_run)
		return usage_error("--dry-run with --add-mirror is not "
				   "supported");
	if ((a->no_mirror || a->meta_size) && !a->ndevices)
		return usage_error("--no-mirror and --meta-size are for a volume "
				   "of several devices (REGION DEVICE...)");
	if (a->no_mirror && a->meta_size)
		return usage_error("--meta-size sizes the mirrored metadata "
				   "zone: not with --no-mirror");
	if (a->no_mirror && !a->ndevices)
		return usage_error("--no-mirror is for a volume of several "
				   "devices (REGION DEVICE...)");
	if (a->ndevices && a->dry_run)
		return usage_error("--dry-run of a volume of several devices is "
				   "not supported yet");
	return 0;
}
