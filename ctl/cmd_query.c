/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl leases, holders, status: one admin query each, printed as the
 * daemon's JSON document (--json) or as a table (ctl/json_print.c).
 *
 *   leases [--json] MOUNTPOINT                   ADMIN_LEASES
 *   holders --range OFF,LEN [--json] MOUNTPOINT  ADMIN_HOLDERS
 *   status [--json] MOUNTPOINT                   ADMIN_STATUS
 *   devices [--json] MOUNTPOINT|PATH             ADMIN_DEVICES
 *   retire --device N [--json] MOUNTPOINT        ADMIN_RETIRE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <holdfs/proto.h>

#include "conn.h"
#include "holdfsctl.h"
#include "json_print.h"

/* Print doc (NULL: the query failed, already said) as asked. */
static int show(json_object *doc, bool json, void (*human)(json_object *))
{
	if (!doc)
		return 1;
	if (json)
		ctl_print_json(doc);
	else
		human(doc);
	json_object_put(doc);
	return 0;
}

static void print_leases_doc(json_object *doc)
{
	ctl_print_leases(jget(doc, "leases"));
}

int cmd_leases(int argc, char **argv)
{
	struct hfs_msg_hdr h = { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				 HFS_MSG_ADMIN_LEASES, sizeof(h), 0, 1 };
	struct ctl_args a;
	int r = ctl_parse_args(argc, argv, 0, &a);

	if (r)
		return r < 0 ? 0 : r;
	return show(ctl_parse_reply(ctl_query_mnt(a.target, &h, sizeof(h))),
		    a.json, print_leases_doc);
}

int cmd_holders(int argc, char **argv)
{
	struct hfs_msg_range m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				     HFS_MSG_ADMIN_HOLDERS, sizeof(m), 0, 1 },
				   0, 0, 0 };
	struct ctl_args a;
	int r = ctl_parse_args(argc, argv, CTL_OPT_RANGE, &a);

	if (r)
		return r < 0 ? 0 : r;
	if (!a.have_range)
		return ctl_usage_error("holders needs --range OFF,LEN");
	m.offset = a.off;
	m.length = a.len;
	return show(ctl_parse_reply(ctl_query_mnt(a.target, &m, sizeof(m))),
		    a.json, ctl_print_holders);
}

int cmd_status(int argc, char **argv)
{
	struct ctl_args a;
	int r = ctl_parse_args(argc, argv, 0, &a);

	if (r)
		return r < 0 ? 0 : r;
	return show(ctl_get_status(a.target), a.json, ctl_print_status);
}

/* The target is the mount point (the volume's devices) or a path inside
 * the mount (its inode's blocks on each device as well). */
int cmd_devices(int argc, char **argv)
{
	struct hfs_msg_devices m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				       HFS_MSG_ADMIN_DEVICES, sizeof(m), 0, 1 },
				     0, 0 };
	struct ctl_args a;
	struct stat st, up;
	char *parent;
	int r = ctl_parse_args(argc, argv, 0, &a);

	if (r)
		return r < 0 ? 0 : r;
	if (stat(a.target, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", CTL_PROG, a.target,
			strerror(errno));
		return 1;
	}
	/* the mount point itself: the same device as its parent's? no */
	if (asprintf(&parent, "%s/..", a.target) < 0)
		return 1;
	if (stat(parent, &up) < 0 || up.st_dev == st.st_dev)
		m.ino = st.st_ino;
	free(parent);
	return show(ctl_parse_reply(ctl_query_mnt(a.target, &m, sizeof(m))),
		    a.json, ctl_print_devices);
}

static void print_retired(json_object *doc)
{
	printf("device %" PRIu64 " retired\n", ju64(doc, "device"));
}

/* A lost device given up for good: the volume no longer counts it as
 * degraded. */
int cmd_retire(int argc, char **argv)
{
	struct hfs_msg_retire m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				      HFS_MSG_ADMIN_RETIRE, sizeof(m), 0, 1 },
				    0, 0 };
	struct ctl_args a;
	int r = ctl_parse_args(argc, argv, CTL_OPT_DEVICE, &a);

	if (r)
		return r < 0 ? 0 : r;
	if (a.device < 0)
		return ctl_usage_error("retire needs --device N (holdfsctl "
				       "devices shows them)");
	m.device = (uint32_t)a.device;
	return show(ctl_parse_reply(ctl_query_mnt(a.target, &m, sizeof(m))),
		    a.json, print_retired);
}
