/* SPDX-License-Identifier: MIT */
/*
 * The command line of leases, holders, status, inject and health:
 *
 *   holdfsctl COMMAND [--json] [--range OFF,LEN] [--whole-device] [--media]
 *             [--simulate-poison | --sigbus-ao] MOUNTPOINT
 *
 * Every command parses with the one option table below and says which of
 * the options it takes, so an option of another command is still
 * recognised (also abbreviated, by getopt_long) and refused with a message
 * naming the commands it is for.  Options go before the operand: the scan
 * stops at the first non-option (getopt "+"), as main's scan before the
 * command does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "holdfsctl.h"

const struct option ctl_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "range", required_argument, NULL, 'r' },
	{ "whole-device", no_argument, NULL, 'W' },
	{ "media", no_argument, NULL, 'M' },
	{ "simulate-poison", no_argument, NULL, 'P' },
	{ "sigbus-ao", no_argument, NULL, 'A' },
	{ "deadline-ms", required_argument, NULL, 'D' },
	{ "device", required_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A byte count: decimal, 0x hex or 0 octal, with a K, M, G or T suffix
 * (powers of 1024). */
static int parse_num(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* --range OFF,LEN: LEN > 0 and the end within 2^64. */
static int parse_range(char *arg, struct ctl_args *a)
{
	char *comma = strchr(arg, ',');

	if (!comma)
		return ctl_usage_error("--range wants OFF,LEN");
	*comma = '\0';
	if (parse_num(arg, &a->off) || parse_num(comma + 1, &a->len) ||
	    a->len == 0 || a->off + a->len < a->off)
		return ctl_usage_error("--range: bad OFF,LEN");
	a->have_range = true;
	return 0;
}

static int parse_opt(int c, struct ctl_args *a)
{
	switch (c) {
	case 'h':
		ctl_usage(stdout);
		return -1;
	case 'j':
		a->json = true;
		return 0;
	case 'W':
		a->whole = true;
		return 0;
	case 'M':
		a->media = true;
		return 0;
	case 'P':
		a->simulate = true;
		return 0;
	case 'A':
		a->sigbus_ao = true;
		return 0;
	case 'r':
		return parse_range(optarg, a);
	case 'v': {
		uint64_t v;

		if (parse_num(optarg, &v) || v >= HFS_MEMBERS_MAX)
			return ctl_usage_error("--device: a device index, 0 to "
					       "31 (holdfsctl devices)");
		a->device = (int)v;
		return 0;
	}
	case 'D': {
		uint64_t v;

		if (parse_num(optarg, &v) || v == 0 ||
		    v > HFS_OFFLINE_DEADLINE_MAX)
			return ctl_usage_error("--deadline-ms: 1 to 600000");
		a->deadline_ms = (uint32_t)v;
		return 0;
	}
	default:
		return ctl_usage_error("bad option");
	}
}

int ctl_parse_args(int argc, char **argv, unsigned takes, struct ctl_args *a)
{
	int c, r;

	*a = (struct ctl_args){ .device = -1 };
	optind = 0;             /* a fresh scan of this argv (glibc) */
	while ((c = getopt_long(argc, argv, "+hj", ctl_options, NULL)) != -1)
		if ((r = parse_opt(c, a)))
			return r;
	if (optind != argc - 1)
		return ctl_usage_error(optind >= argc ? "missing MOUNTPOINT"
					      : "too many arguments");
	a->target = argv[optind];
	if ((a->whole || a->media || a->simulate || a->sigbus_ao) &&
	    !(takes & CTL_OPT_INJECT))
		return ctl_usage_error("--whole-device, --media, "
				       "--simulate-poison and --sigbus-ao are "
				       "for inject");
	if (a->device >= 0 && !(takes & CTL_OPT_DEVICE))
		return ctl_usage_error("--device is for retire and inject");
	if (a->deadline_ms && !(takes & CTL_OPT_OFFLINE))
		return ctl_usage_error("--deadline-ms is for offline");
	if (a->have_range && !(takes & CTL_OPT_RANGE))
		return ctl_usage_error("--range is for holders and inject");
	return 0;
}
