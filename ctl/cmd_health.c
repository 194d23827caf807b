/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl health [--json] REGION|MOUNTPOINT: the persistent health log
 * of a region, mounted or not (read-only, without the ownership lock).  A
 * mount point is resolved to its region through mountinfo.
 *
 * The one holdfsctl file that uses lib/ (region, superblock, health log):
 * it decodes each record into a struct ctl_health_rec for the printers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conn.h"
#include "holdfsctl.h"
#include "json_print.h"
#include "media.h"

struct health_ctx {
	bool json;
	json_object *arr;           /* --json: the records so far */
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

/* Walk the health log of the region at path; 0 or -errno (printed). */
static int walk(const char *path, struct health_ctx *h)
{
	struct hfs_region_opts ro = { .readonly = true, .no_lock = true };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	bool backup;
	int r;

	r = hfs_region_open(path, &ro, &rg, &err);
	if (!r)
		r = hfs_super_read(rg, false, &sb, &backup, &err);
	if (!r)
		r = hfs_health_walk(rg, &sb, health_cb, h);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", CTL_PROG, err.code ? err.msg
			: strerror(-r));
	if (rg)
		hfs_region_close(rg);
	return r;
}

int cmd_health(int argc, char **argv)
{
	struct health_ctx h;
	struct ctl_args a;
	const char *what;
	char *region = NULL;
	struct stat st;
	int r = ctl_parse_args(argc, argv, 0, &a);

	if (r)
		return r < 0 ? 0 : r;
	what = a.target;
	if (stat(what, &st) == 0 && S_ISDIR(st.st_mode)) {
		region = ctl_region_of(what);
		if (!region) {
			fprintf(stderr, "%s: %s: not a holdfs mount point\n",
				CTL_PROG, what);
			return 1;
		}
		what = region;
	}
	h = (struct health_ctx){ a.json, json_object_new_array() };
	r = walk(what, &h);
	if (r >= 0 && a.json)
		ctl_print_json(h.arr);
	json_object_put(h.arr);
	free(region);
	return r < 0 ? 1 : 0;
}
