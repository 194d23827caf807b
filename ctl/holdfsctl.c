/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl: administration of a mounted holdfs over its control socket
 * (docs/lease-protocol.md, admin messages; docs/man/holdfsctl.8).
 *
 *   holdfsctl leases [--json] MOUNTPOINT
 *   holdfsctl holders --range OFF,LEN [--json] MOUNTPOINT
 *   holdfsctl status [--json] MOUNTPOINT
 *   holdfsctl inject --whole-device | --range OFF,LEN [--media] MOUNTPOINT
 *   holdfsctl health [--json] REGION|MOUNTPOINT
 *   holdfsctl drill [OPTIONS] MOUNTPOINT      (ctl/drill.c)
 *
 * Exit status: 0 success, 1 failure (not a holdfs mount, daemon refused,
 * I/O error), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/proto.h>
#include <time.h>

#include "vol_i.h"
#include "conn.h"
#include "holdfsctl.h"
#include "json_print.h"

static const char *prog = "holdfsctl";

static void usage(FILE *f)
{
	fprintf(f,
"Usage: holdfsctl COMMAND [OPTIONS] MOUNTPOINT\n"
"\n"
"Query a mounted holdfs through its control socket (root only).\n"
"\n"
"Commands:\n"
"  leases                 list the DAX leases: id, pid, uid, inode, file\n"
"                         range, protection and extents\n"
"  holders --range OFF,LEN\n"
"                         who owns and who holds region bytes\n"
"                         [OFF, OFF+LEN): owning inodes (file offset, kind,\n"
"                         open handles) and the leases mapping them\n"
"  status                 failure state (ok, degraded, shutdown), failure\n"
"                         events with time and source, affected paths, bad\n"
"                         extents, revoked leases, killed holders, phase\n"
"                         timings (docs/failure-model.md)\n"
"  inject --whole-device | --range OFF,LEN [--media]\n"
"                         feed the failure pipeline as a drill: device loss\n"
"                         (shuts the filesystem down) or a failed region\n"
"                         range; waits for the outcome and prints it\n"
"  health REGION|MOUNTPOINT\n"
"                         print the persistent health log (read-only; works\n"
"                         on an unmounted region)\n"
"  drill [--help]         failure drill with DAX clients and writers, checks\n"
"                         and a report (holdfsctl drill --help)\n"
"\n"
"Options:\n"
"  --json                 print the daemon's JSON document\n"
"  --range OFF,LEN        byte range of the region; numbers may be hex (0x)\n"
"                         and take K, M, G, T suffixes (powers of 1024)\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, msg, prog);
	return 2;
}

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

/* Queue the injection, then wait (30 s) for its event to be handled. */
static int do_inject(const char *mnt, uint64_t off, uint64_t len,
		     uint32_t flags, bool json)
{
	struct hfs_msg_inject m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_INJECT, sizeof(m), 0, 1 },
				    off, len, flags, 0 };
	json_object *st = ctl_get_status(mnt), *ev;
	size_t before;
	char *txt;
	int fd;

	if (!st)
		return 1;
	before = jlen(jget(st, "events"));
	json_object_put(st);
	fd = ctl_connect(mnt);
	if (fd < 0)
		return 1;
	txt = ctl_query(fd, &m, sizeof(m));
	close(fd);
	if (!txt)
		return 1;
	free(txt);
	for (int i = 0; i < 3000; i++) {
		json_object *e;
		size_t n;

		st = ctl_get_status(mnt);
		if (!st)
			return 1;
		ev = jget(st, "events");
		n = jlen(ev);
		e = n > before ? json_object_array_get_idx(ev, n - 1) : NULL;
		if (e && strcmp(jstr(e, "outcome"), "in progress")) {
			if (json)
				ctl_print_json(e);
			else
				printf("%s\n", jstr(e, "outcome"));
			json_object_put(st);
			return fflush(stdout) ? 1 : 0;
		}
		json_object_put(st);
		usleep(10000);
	}
	fprintf(stderr, "%s: the injected failure was not handled within "
		"30 s\n", prog);
	return 1;
}

struct health_ctx {
	bool json;
	json_object *arr;
};

static int health_cb(void *ctx, const struct hfs_health_rec *r)
{
	struct health_ctx *h = ctx;
	char tb[64], msg[sizeof(r->h_msg) + 1];
	time_t t = (time_t)(r->h_time / 1000000000ull);
	struct ctl_health_rec x = { r->h_seq, tb,
				    hfs_health_type_name(r->h_type), r->h_off,
				    r->h_len, r->h_ino, msg };
	struct tm tm;

	memcpy(msg, r->h_msg, sizeof(r->h_msg));
	msg[sizeof(r->h_msg)] = '\0';
	gmtime_r(&t, &tm);
	strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (h->json)
		json_object_array_add(h->arr, ctl_health_json(&x));
	else
		ctl_print_health(&x);
	return 0;
}

static int do_health(const char *what, bool json)
{
	struct hfs_region_opts ro = { .readonly = true, .no_lock = true };
	struct health_ctx h = { json, json_object_new_array() };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	char *region = NULL;
	bool backup;
	struct stat st;
	int r;

	if (stat(what, &st) == 0 && S_ISDIR(st.st_mode)) {
		region = ctl_region_of(what);
		if (!region) {
			fprintf(stderr, "%s: %s: not a holdfs mount point\n",
				prog, what);
			json_object_put(h.arr);
			return 1;
		}
		what = region;
	}
	r = hfs_region_open(what, &ro, &rg, &err);
	if (!r)
		r = hfs_super_read(rg, false, &sb, &backup, &err);
	if (!r)
		r = hfs_health_walk(rg, &sb, health_cb, &h);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", prog, err.code ? err.msg
			: strerror(-r));
	else if (json)
		ctl_print_json(h.arr);
	if (rg)
		hfs_region_close(rg);
	json_object_put(h.arr);
	free(region);
	return r < 0 || fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "range", required_argument, NULL, 'r' },
		{ "whole-device", no_argument, NULL, 'W' },
		{ "media", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, have_range = false, whole = false, media = false;
	uint64_t off = 0, len = 0;
	const char *cmd, *mnt;
	json_object *doc;
	char *txt;
	int c, fd, status = 1;

	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return fflush(stdout) ? 1 : 0;
		}
		return usage_error("options go after the command");
	}
	if (optind >= argc)
		return usage_error("missing COMMAND");
	cmd = argv[optind++];
	if (!strcmp(cmd, "drill"))
		return hfsctl_drill(argc - optind + 1, argv + optind - 1);
	if (strcmp(cmd, "leases") && strcmp(cmd, "holders") &&
	    strcmp(cmd, "status") && strcmp(cmd, "inject") &&
	    strcmp(cmd, "health")) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
		return usage_error("commands: leases, holders, status, inject, "
				   "health, drill");
	}
	optind--; /* getopt_long skips argv[0] of the sub-vector */
	argc -= optind;
	argv += optind;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj", lo, NULL)) != -1) {
		char *comma;

		switch (c) {
		case 'h':
			usage(stdout);
			return fflush(stdout) ? 1 : 0;
		case 'j':
			json = true;
			break;
		case 'W':
			whole = true;
			break;
		case 'M':
			media = true;
			break;
		case 'r':
			comma = strchr(optarg, ',');
			if (!comma)
				return usage_error("--range wants OFF,LEN");
			*comma = '\0';
			if (parse_num(optarg, &off) || parse_num(comma + 1, &len) ||
			    len == 0 || off + len < off)
				return usage_error("--range: bad OFF,LEN");
			have_range = true;
			break;
		default:
			return usage_error("bad option");
		}
	}
	if (optind != argc - 1)
		return usage_error(optind >= argc ? "missing MOUNTPOINT"
						  : "too many arguments");
	mnt = argv[optind];
	if ((whole || media) && strcmp(cmd, "inject"))
		return usage_error("--whole-device and --media are for inject");
	if (!strcmp(cmd, "inject")) {
		if (whole == have_range)
			return usage_error("inject needs --whole-device or "
					   "--range OFF,LEN");
		return do_inject(mnt, off, len,
				 (whole ? HFS_FAIL_WHOLE_DEVICE |
					  HFS_FAIL_PRE_REMOVE : 0) |
				 (media ? HFS_FAIL_MEDIA : 0), json);
	}
	if (have_range && strcmp(cmd, "holders"))
		return usage_error("--range is for holders and inject");
	if (!strcmp(cmd, "health"))
		return do_health(mnt, json);
	if (!strcmp(cmd, "status")) {
		doc = ctl_get_status(mnt);
		if (!doc)
			return 1;
		if (json)
			ctl_print_json(doc);
		else
			ctl_print_status(doc);
		json_object_put(doc);
		return fflush(stdout) || ferror(stdout) ? 1 : 0;
	}
	if (!strcmp(cmd, "holders") && !have_range)
		return usage_error("holders needs --range OFF,LEN");
	if (!strcmp(cmd, "leases") && have_range)
		return usage_error("leases takes no --range");
	fd = ctl_connect(mnt);
	if (fd < 0)
		return 1;
	if (!strcmp(cmd, "leases")) {
		struct hfs_msg_hdr h = { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
					 HFS_MSG_ADMIN_LEASES, sizeof(h), 0, 1 };

		txt = ctl_query(fd, &h, sizeof(h));
	} else {
		struct hfs_msg_range r = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
					     HFS_MSG_ADMIN_HOLDERS, sizeof(r),
					     0, 1 }, 0, off, len };

		txt = ctl_query(fd, &r, sizeof(r));
	}
	close(fd);
	if (!txt)
		return 1;
	doc = json_tokener_parse(txt);
	if (!doc) {
		fprintf(stderr, "%s: the daemon sent invalid JSON\n", prog);
	} else {
		if (json)
			ctl_print_json(doc);
		else if (!strcmp(cmd, "leases"))
			ctl_print_leases(jget(doc, "leases"));
		else
			ctl_print_holders(doc);
		json_object_put(doc);
		status = fflush(stdout) || ferror(stdout) ? 1 : 0;
	}
	free(txt);
	return status;
}
