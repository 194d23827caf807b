/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs --add-mirror NEWDEV REGION [DEVICE...]: give a volume whose
 * mirror's device is lost a new mirror of its metadata on NEWDEV
 * (docs/format.md "A new mirror"; the work is lib/mirror_add.c's).
 *
 * Offline, like the rest of mkfs.holdfs: every device of the volume is
 * opened read-write, so a mounted (or otherwise held) volume is refused
 * by the ownership lock before anything is read.  The volume's devices
 * are named as fsck.holdfs takes them (REGION the first, DEVICE... the
 * others in service, any order); NEWDEV follows mkfs's rules for a new
 * device: sized with --size, private to its owner, no known bad media,
 * and no holdfs on it unless -f.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/format.h>

#include "media.h"
#include "members.h"
#include "mirror_add.h"
#include "tool.h"

/* NEWDEV must not be one of the volume's own devices. */
static int not_a_volume_path(const struct mkfs_args *a)
{
	struct stat n, v;

	if (stat(a->add_mirror, &n) != 0)
		return 0; /* --size creates it, or the open says why */
	for (unsigned i = 0; i <= a->ndevices; i++) {
		const char *p = i ? a->devices[i - 1] : a->region;

		if (stat(p, &v) == 0 && n.st_dev == v.st_dev &&
		    n.st_ino == v.st_ino) {
			mkfs_fail("%s: is %s, a device of the volume; give a "
				  "new device for the mirror", a->add_mirror,
				  p);
			return -1;
		}
	}
	return 0;
}

/* REGION holds no superblock: say what it is when it is another device
 * of a volume, above all the one serving a volume whose first device is
 * lost (not covered: a new mirror of the mirror). */
static void not_the_first(const struct mkfs_args *a, struct hfs_region *rg,
			  const struct hfs_err *why)
{
	struct hfs_member_super h;
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	struct hfs_devtab t;
	uint64_t rel;

	if (!hfs_member_probe(rg, &h))
		mkfs_fail("%s", why->msg);
	else if (!hfs_members_read_mirror(rg, &sb, &t, &rel, &err) &&
		 t.t_dev[0].d_state != HFS_DEV_ACTIVE)
		mkfs_fail("%s: serves a volume whose first device is lost, "
			  "from the mirror of its metadata (one copy left); a "
			  "new mirror of that is not built: back up and "
			  "format a new volume", a->region);
	else
		mkfs_fail("%s: device %u of a holdfs volume, not its first; "
			  "give the first device as REGION", a->region,
			  h.m_index);
}

/* Device 0 of the volume, assembled with its other devices (each
 * opened, locked and recognised by its header), its superblock from the
 * primary (a volume read from its backup wants fsck first), and the
 * device table; then whether it can have a new mirror at all. */
static int open_volume(const struct mkfs_args *a, struct hfs_region **rg,
		       struct hfs_super *sb, struct hfs_devtab *t)
{
	struct hfs_region_opts ro = { .check_private = !a->unsafe_region_mode,
				      .private_uid = geteuid() };
	struct hfs_err err = { 0 };
	bool backup = false;
	uint32_t missing = 0;

	memset(t, 0, sizeof(*t));
	if (mkfs_open_region(a->region, false, false, rg) < 0 ||
	    mkfs_check_private(a, *rg) < 0)
		return -1;
	if (hfs_super_read(*rg, false, sb, &backup, &err)) {
		not_the_first(a, *rg, &err);
		return -1;
	}
	if (backup) {
		mkfs_fail("%s: its primary superblock is damaged; run "
			  "fsck.holdfs -y on the volume first", a->region);
		return -1;
	}
	if ((sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV) &&
	    hfs_members_assemble(*rg, sb, (const char *const *)a->devices,
				 a->ndevices, &ro, false, t, &missing, &err)) {
		mkfs_fail("%s", err.msg);
		return -1;
	}
	if (!(sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV) &&
	    a->ndevices) {
		mkfs_fail("%s: a holdfs of one device; it has no other devices "
			  "to give", a->region);
		return -1;
	}
	if (hfs_mirror_add_check(*rg, sb, t, &err)) {
		mkfs_fail("%s", err.msg);
		return -1;
	}
	return 0;
}

/* NEWDEV sized (--size), opened and locked, private, no bad media (not
 * recorded on a device other than the first yet, so refused, as mkfs
 * refuses it for any DEVICE). */
static int open_newdev(const struct mkfs_args *a, struct hfs_region **nd,
		       bool *created)
{
	struct badlist bl = { 0 };
	int bad;

	if (a->size && mkfs_size_region_file(a, a->add_mirror, created) < 0)
		return -1;
	if (mkfs_open_region(a->add_mirror, false, a->size != 0, nd) < 0 ||
	    mkfs_check_private(a, *nd) < 0)
		return -1;
	bad = mkfs_collect_bad(a, *nd, &bl);
	free(bl.v);
	if (bad < 0)
		return -1;
	if (bl.n) {
		mkfs_fail("%s: %u known bad ranges; bad media on a device other "
			  "than the first is not recorded yet, so it is refused",
			  a->add_mirror, bl.n);
		return -1;
	}
	return 0;
}

static void print_result(const struct mkfs_args *a,
			 const struct hfs_mirror_add_result *r)
{
	const struct hfs_dev_entry *d = &r->t.t_dev[r->index];
	char h1[32], h2[32], id[37];

	printf("%s: device %u of the volume on %s, mirror of device 0's "
	       "metadata\n", a->add_mirror, r->index, a->region);
	printf("  mirror       %s (device 0's bytes up to its metadata zone's "
	       "end) at volume offset 0x%" PRIx64 "\n",
	       mkfs_human(r->sb.s_meta_end, h1, sizeof(h1)),
	       r->t.t_mirror_off);
	printf("  pool         %s at volume offset 0x%" PRIx64 "\n",
	       mkfs_human(d->d_pool_blocks * HFS_BLOCK_SIZE, h2, sizeof(h2)),
	       d->d_pool_off);
	printf("  uuid         %s\n", mkfs_uuid_str(d->d_uuid, id));
	if (r->overwrote)
		printf("  note         what %s held before is gone (-f)\n",
		       a->add_mirror);
	printf("  mount with   -o device=%s besides the volume's other "
	       "devices\n", a->add_mirror);
}

int mkfs_add_mirror(struct mkfs_args *a)
{
	struct hfs_mirror_add_opts o = { .force = a->force };
	struct hfs_region *rg = NULL, *nd = NULL;
	struct hfs_mirror_add_result res = { 0 };
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	struct hfs_devtab t;
	bool created = false;
	int r = -1;

	if (not_a_volume_path(a) < 0 || open_volume(a, &rg, &sb, &t) < 0 ||
	    open_newdev(a, &nd, &created) < 0)
		goto out;
	if (hfs_mirror_add(rg, &sb, &t, nd, &o, &res, &err) < 0) {
		mkfs_fail("%s", err.code ? err.msg : "adding the mirror failed");
		goto out;
	}
	if (!a->quiet)
		print_result(a, &res);
	r = 0;
out:
	hfs_region_close(nd);
	hfs_region_close(rg);
	/* a file this run created and did not make a member is not left
	 * behind looking like one */
	if (r < 0 && created && !res.switching)
		unlink(a->add_mirror);
	return r;
}
