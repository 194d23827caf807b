/* SPDX-License-Identifier: MIT */
/*
 * A new mirror for a volume whose mirror's device was lost
 * (lib/mirror_add.c, mkfs.holdfs --add-mirror; docs/format.md "A new
 * mirror").
 *
 * A volume of three region files (mirror on device 1) gets files on each
 * device, then loses device 1 (its file truncated; a degraded mount
 * records it lost).  From that image:
 *   refusals: a volume with a working mirror, made --no-mirror, of one
 *     device, with device 0 lost, a full table, errors recorded, not
 *     cleanly unmounted, a journal holding a transaction, a new device
 *     too small, misaligned, holding a holdfs or another volume's member
 *     (without force): each refused with its errno, device 0 and the new
 *     device unchanged;
 *   the whole run: mount with the new device finds four devices, the
 *     mirror on device 3 and every file, writes mirror there (the mirror
 *     is device 0's bytes [0, s_meta_end) exactly, after the unmount
 *     too), fsck -n is clean; then the new device alone, device 0 lost,
 *     serves the namespace (-o degraded from the mirror);
 *   every crash point between two writes (stop_after 1..5): the volume
 *     mounts as the old one (the new device ignored; fsck -p leaves it
 *     clean; a run again finishes the job) or as the new one (complete;
 *     fsck -p rewrites the backup copy the crash left behind), never
 *     anything else;
 *   torn switch writes: device 0's block 0 with any mix of 8-byte words
 *     of the old and the new primary table and superblock (random
 *     subsets, each word landed or not) mounts as the old volume, or as
 *     the new one exactly when the new superblock landed whole.
 *
 * Each check fails without the feature: there is no other way to a
 * fourth device holding the mirror.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck.h"
#include "media.h"
#include "members.h"
#include "mirror_add.h"
#include "mkfs.h"
#include "vol_i.h"
#include "fail.h"

static int failures; /* FAIL (fail.h) counts here */

#define DEV_SIZE (32ull << 20)
#define NFILES 12

static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
static char dir[64], p0[96], p1[96], p2[96], pn[96];
static uint8_t *base0, *base2; /* devices 0 and 2 once device 1 is lost */
static struct hfs_super sb0;
static struct hfs_devtab t0;

/* ------------------------------------------------------ files */

static void file_io(const char *p, uint64_t off, void *buf, size_t len,
		    bool wr)
{
	int fd = open(p, O_RDWR);
	ssize_t n;

	if (fd < 0)
		abort();
	n = wr ? pwrite(fd, buf, len, (off_t)off)
	       : pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		abort();
	close(fd);
}

static uint8_t *slurp(const char *p)
{
	uint8_t *b = malloc(DEV_SIZE);

	if (!b)
		abort();
	file_io(p, 0, b, DEV_SIZE, false);
	return b;
}

static bool same_file(const char *p, const uint8_t *img)
{
	uint8_t *b = slurp(p);
	bool same = !memcmp(b, img, DEV_SIZE);

	free(b);
	return same;
}

/* The lost volume again, and a fresh (all-zero) new device. */
static void restore(void)
{
	file_io(p0, 0, base0, DEV_SIZE, true);
	file_io(p2, 0, base2, DEV_SIZE, true);
	if (truncate(pn, 0) || truncate(pn, DEV_SIZE))
		abort();
}

/* ------------------------------------------------------ volume */

static struct hfs_region *mounted_rg; /* the region mount_as opened */

static struct hfs_vol *mount_as(const char *region, const char *const *devs,
				unsigned n, bool degraded, struct hfs_err *err)
{
	struct hfs_vol_opts o = { .devices = devs, .ndevices = n,
				  .degraded = degraded };
	struct hfs_vol_info info;
	struct hfs_region *rg = NULL;
	struct hfs_vol *vol = NULL;

	if (hfs_region_open(region, NULL, &rg, err))
		return NULL;
	if (hfs_vol_open(rg, &o, &vol, &info, err)) {
		hfs_region_close(rg);
		return NULL;
	}
	mounted_rg = rg;
	return vol;
}

static struct hfs_vol *mount_vol(const char *const *devs, unsigned n,
				 bool degraded, struct hfs_err *err)
{
	return mount_as(p0, devs, n, degraded, err);
}

/* vol->rg is the volume served from the mirror's slice, which the
 * volume closes itself, when the mount took it from there */
static void umount_vol(struct hfs_vol *vol)
{
	if (hfs_vol_close(vol))
		FAIL("unmount failed");
	hfs_region_close(mounted_rg);
	mounted_rg = NULL;
}

static uint8_t pat(uint64_t salt, size_t i)
{
	return (uint8_t)(i * 131 + salt * 7 + (i >> 9));
}

/* A file whose data goes to device dev (its placement choice). */
static void mk(struct hfs_vol *vol, const char *name, size_t len,
	       uint64_t salt, unsigned dev)
{
	static uint8_t buf[300000];
	struct hfs_attr a;
	char d[4];

	snprintf(d, sizeof(d), "%u", dev);
	if (hfs_mknod(vol, HFS_ROOT_INO, name, S_IFREG | 0644, 0, &cred, &a) ||
	    hfs_setxattr(vol, a.ino, HFS_PLACE_XATTR, d, strlen(d), 0))
		abort();
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(salt, i);
	if (hfs_write(vol, a.ino, buf, len, 0) != (ssize_t)len)
		abort();
}

/* Every file of the build: present with its size; its bytes read back
 * unless it had data on device 1 (lost), or device 0 when from_mirror. */
static int verify(struct hfs_vol *vol, const char *what)
{
	static uint8_t buf[300000];
	int bad = 0;

	for (int i = 0; i < NFILES; i++) {
		size_t len = 200000 + (size_t)i * 4096;
		struct hfs_attr a;
		char name[16];
		ssize_t n;

		snprintf(name, sizeof(name), "f%02d", i);
		if (hfs_lookup(vol, HFS_ROOT_INO, name, &a) || a.size != len) {
			FAIL("%s: %s missing or resized", what, name);
			bad++;
			continue;
		}
		n = hfs_read(vol, a.ino, buf, len, 0);
		if (n == -EIO)
			continue; /* on a lost device */
		for (size_t j = 0; n == (ssize_t)len && j < len; j++)
			if (buf[j] != pat((uint64_t)i, j)) {
				n = -1;
				break;
			}
		if (n != (ssize_t)len) {
			FAIL("%s: %s does not read back (%zd)", what, name, n);
			bad++;
		}
	}
	return bad;
}

/* The files whose data lies on device dev. */
static unsigned files_on(struct hfs_vol *vol, unsigned dev)
{
	unsigned n = 0;

	for (int i = 0; i < NFILES; i++) {
		uint64_t c[HFS_MEMBERS_MAX];
		struct hfs_attr a;
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		if (!hfs_lookup(vol, HFS_ROOT_INO, name, &a) &&
		    hfs_vol_file_devices(vol, a.ino, c, HFS_MEMBERS_MAX) > 0 &&
		    c[dev])
			n++;
	}
	return n;
}

static void build(void)
{
	struct hfs_mkfs_opts mo = { .label = "addmirror" };
	struct hfs_region *r[3] = { NULL };
	const char *devs[2] = { p1, p2 };
	const char *paths[3] = { p0, p1, p2 };
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol;

	for (int i = 0; i < 3; i++)
		if (hfs_region_create_file(paths[i], DEV_SIZE, &err) ||
		    hfs_region_open(paths[i], NULL, &r[i], &err)) {
			fprintf(stderr, "build: %s\n", err.msg);
			exit(1);
		}
	if (hfs_region_create_file(pn, DEV_SIZE, &err) ||
	    hfs_mkfs(r[0], &mo, &res, &err) ||
	    hfs_mkfs_members(r[0], r + 1, 3, true, 0, &res, &err)) {
		fprintf(stderr, "build: %s\n", err.msg);
		exit(1);
	}
	for (int i = 0; i < 3; i++)
		hfs_region_close(r[i]);
	vol = mount_vol(devs, 2, false, &err);
	if (!vol) {
		fprintf(stderr, "build: mount: %s\n", err.msg);
		exit(1);
	}
	for (int i = 0; i < NFILES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		mk(vol, name, 200000 + (size_t)i * 4096, (uint64_t)i,
		   (unsigned)i % 3);
	}
	if (!files_on(vol, 0) || !files_on(vol, 1) || !files_on(vol, 2))
		FAIL("build: files on every device (%u, %u, %u)",
		     files_on(vol, 0), files_on(vol, 1), files_on(vol, 2));
	umount_vol(vol);
	/* device 1, the mirror's, lost; a degraded mount records it */
	if (truncate(p1, 0))
		abort();
	vol = mount_vol(devs + 1, 1, true, &err);
	if (!vol || vol->devtab.t_dev[1].d_state != HFS_DEV_LOST) {
		fprintf(stderr, "build: degraded mount: %s\n",
			vol ? "device 1 not lost" : err.msg);
		exit(1);
	}
	verify(vol, "build, degraded");
	umount_vol(vol);
	base0 = slurp(p0);
	base2 = slurp(p2);
	memcpy(&sb0, base0, sizeof(sb0));
	memcpy(&t0, base0 + HFS_DEVTAB_OFF, sizeof(t0));
}

/* The volume of p0, p2 as the tool opens it. */
static struct hfs_region *open_volume(struct hfs_super *sb,
				      struct hfs_devtab *t)
{
	const char *devs[1] = { p2 };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	uint32_t missing;
	bool backup;

	if (hfs_region_open(p0, NULL, &rg, &err) ||
	    hfs_super_read(rg, false, sb, &backup, &err) ||
	    hfs_members_assemble(rg, sb, devs, 1, &(struct hfs_region_opts){0},
				 false, t, &missing, &err)) {
		FAIL("open the volume: %s", err.msg);
		hfs_region_close(rg);
		return NULL;
	}
	return rg;
}

/* hfs_mirror_add on the volume and pn; its return, err filled. */
static int add(const struct hfs_mirror_add_opts *o,
	       struct hfs_mirror_add_result *res, struct hfs_err *err)
{
	struct hfs_region *rg, *nd = NULL;
	struct hfs_devtab t;
	struct hfs_super sb;
	int ret;

	memset(err, 0, sizeof(*err));
	rg = open_volume(&sb, &t);
	if (!rg)
		return -EIO;
	ret = hfs_region_open(pn, NULL, &nd, err);
	if (!ret)
		ret = hfs_mirror_add(rg, &sb, &t, nd, o, res, err);
	hfs_region_close(nd);
	hfs_region_close(rg);
	return ret;
}

/* fsck of the volume (devices p2 and, when given, pn): its exit code;
 * *stale (when not NULL) gets whether P5_MIRROR_STALE came up. */
static int fsck_vol(enum hfs_fsck_mode mode, bool with_new, bool *stale)
{
	const char *devs[2] = { p2, pn };
	struct hfs_region_opts ro = { .readonly = mode == HFS_FSCK_NO,
				      .no_lock = mode == HFS_FSCK_NO };
	struct hfs_fsck_opts o = { .mode = mode, .force = true };
	struct hfs_fsck_report rep;
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_devtab t;
	struct hfs_super s;
	uint32_t missing;
	int code;

	if (hfs_region_open(p0, &ro, &rg, &err) ||
	    hfs_super_probe(rg, &s) != 1 ||
	    hfs_members_assemble(rg, &s, devs, with_new ? 2 : 1, &ro, false,
				 &t, &missing, &err)) {
		FAIL("fsck: cannot open the volume: %s", err.msg);
		hfs_region_close(rg);
		return -1;
	}
	code = hfs_fsck(rg, &o, &rep);
	hfs_region_close(rg);
	if (getenv("TEST_FSCK_VERBOSE"))
		hfs_fsck_report_print(&rep, stderr, true);
	if (stale)
		*stale = false;
	for (size_t i = 0; stale && i < rep.nproblems; i++)
		*stale |= rep.problems[i].code == HFS_P5_MIRROR_STALE;
	hfs_fsck_report_free(&rep);
	return code;
}

/* Is the mirror on pn device 0's [0, s_meta_end) byte for byte? */
static bool mirror_equal(void)
{
	struct hfs_super sb;
	struct hfs_devtab t;
	uint8_t *a, *b;
	uint64_t rel;
	bool eq;

	file_io(p0, 0, &sb, sizeof(sb), false);
	file_io(p0, HFS_DEVTAB_OFF, &t, sizeof(t), false);
	if (t.t_mirror_dev != 3)
		return false;
	rel = t.t_mirror_off - t.t_dev[3].d_base;
	a = malloc(sb.s_meta_end);
	b = malloc(sb.s_meta_end);
	if (!a || !b)
		abort();
	file_io(p0, 0, a, sb.s_meta_end, false);
	file_io(pn, rel, b, sb.s_meta_end, false);
	eq = !memcmp(a, b, sb.s_meta_end);
	free(a);
	free(b);
	return eq;
}

/* ------------------------------------------------------ refusals */

static void refused(const char *what, int got, int want,
		    struct hfs_err *err, const char *needle)
{
	if (got != want)
		FAIL("%s: %d, want %d (%s)", what, got, want, err->msg);
	else if (needle && !strstr(err->msg, needle))
		FAIL("%s: message without \"%s\": %s", what, needle, err->msg);
	if (!same_file(p0, base0))
		FAIL("%s: device 0 changed", what);
	memset(err, 0, sizeof(*err)); /* the next message, not this one */
}

static void check_refusals(void)
{
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_devtab t, t2;
	struct hfs_super sb, s2;
	struct hfs_mirror_add_result res;
	uint64_t jmagic = HFS_JOURNAL_MAGIC, zero = 0;
	int r;

	restore();
	rg = open_volume(&sb, &t);
	if (!rg)
		return;
	t2 = t;
	t2.t_dev[1].d_state = HFS_DEV_ACTIVE;
	r = hfs_mirror_add_check(rg, &sb, &t2, &err);
	refused("a working mirror", r, -EEXIST, &err, "still works");
	t2 = t;
	t2.t_mirror_dev = 0;
	r = hfs_mirror_add_check(rg, &sb, &t2, &err);
	refused("--no-mirror", r, -EINVAL, &err, "--no-mirror");
	s2 = sb;
	s2.s_feat_incompat &= ~HFS_FEAT_INCOMPAT_MULTIDEV;
	memset(&t2, 0, sizeof(t2));
	r = hfs_mirror_add_check(rg, &s2, &t2, &err);
	refused("one device", r, -EINVAL, &err, "one device");
	t2 = t;
	t2.t_dev[0].d_state = HFS_DEV_LOST;
	r = hfs_mirror_add_check(rg, &sb, &t2, &err);
	refused("device 0 lost", r, -EINVAL, &err, "first device");
	t2 = t;
	t2.t_count = HFS_MEMBERS_MAX;
	r = hfs_mirror_add_check(rg, &sb, &t2, &err);
	refused("a full table", r, -ENOSPC, &err, "full");
	s2 = sb;
	s2.s_state |= HFS_STATE_ERRORS;
	r = hfs_mirror_add_check(rg, &s2, &t, &err);
	refused("errors recorded", r, -EUCLEAN, &err, "fsck.holdfs -y");
	s2 = sb;
	s2.s_state &= ~HFS_STATE_CLEAN;
	r = hfs_mirror_add_check(rg, &s2, &t, &err);
	refused("not clean", r, -EBUSY, &err, "not cleanly unmounted");
	hfs_region_close(rg);
	file_io(p0, sb0.s_journal_off, &jmagic, 8, true);
	rg = open_volume(&sb, &t);
	r = rg ? hfs_mirror_add_check(rg, &sb, &t, &err) : -EIO;
	hfs_region_close(rg);
	file_io(p0, sb0.s_journal_off, &zero, 8, true);
	refused("a journal holding a transaction", r, -EBUSY, &err,
		"journal holds");

	/* the new device */
	if (truncate(pn, 8 << 20))
		abort();
	r = add(NULL, &res, &err);
	refused("a new device too small", r, -ENOSPC, &err, "larger device");
	if (truncate(pn, 0) || truncate(pn, DEV_SIZE))
		abort();
	{
		struct hfs_region *rg2 = open_volume(&sb, &t), *nd = NULL;

		if (rg2 && !hfs_region_open(pn, NULL, &nd, &err)) {
			nd->align = 2ull * sb.s_alloc_unit;
			r = hfs_mirror_add(rg2, &sb, &t, nd, NULL, &res, &err);
			refused("a misaligned new device", r, -EINVAL, &err,
				"alignment");
		}
		hfs_region_close(nd);
		hfs_region_close(rg2);
	}
	{
		struct hfs_mkfs_opts mo = { 0 };
		struct hfs_mkfs_result mr;
		struct hfs_region *nd = NULL;
		struct hfs_mirror_add_opts force = { .force = true };
		uint8_t *before;

		if (hfs_region_open(pn, NULL, &nd, &err) ||
		    hfs_mkfs(nd, &mo, &mr, &err))
			abort();
		hfs_region_close(nd);
		before = slurp(pn);
		r = add(NULL, &res, &err);
		refused("a holdfs on the new device", r, -EEXIST, &err, "-f");
		if (!same_file(pn, before))
			FAIL("the holdfs on the new device was touched");
		free(before);
		r = add(&force, &res, &err);
		if (r || !res.overwrote)
			FAIL("with force: %d %s", r, err.msg);
	}
}

/* A member header of another volume on the new device: refused. */
static void check_foreign_member(void)
{
	struct hfs_mirror_add_result res;
	struct hfs_member_super h = { 0 };
	struct hfs_err err = { 0 };
	int r;

	restore();
	h.m_magic = HFS_MEMBER_MAGIC;
	h.m_index = 1;
	memset(h.m_vol_uuid, 0x5a, 16);
	memset(h.m_uuid, 0xa5, 16);
	hfs_member_super_set_crc(&h);
	file_io(pn, 0, &h, sizeof(h), true);
	r = add(NULL, &res, &err);
	refused("another volume's member", r, -EEXIST, &err, "another");
}

/* ------------------------------------------------------ the whole run */

static void check_whole_run(void)
{
	const char *devs[2] = { p2, pn };
	struct hfs_mirror_add_result res;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol;
	uint64_t len, moff;
	bool stale;
	int r;

	restore();
	r = add(NULL, &res, &err);
	if (r || res.index != 3 || res.t.t_mirror_dev != 3) {
		FAIL("add: %d %s (device %u)", r, err.msg, res.index);
		return;
	}
	if (!mirror_equal())
		FAIL("right after: the mirror differs from device 0");
	r = fsck_vol(HFS_FSCK_NO, true, &stale);
	if (r != 0 || stale)
		FAIL("fsck -n right after: exit %d%s", r,
		     stale ? ", P5_MIRROR_STALE" : "");
	vol = mount_vol(devs, 2, false, &err);
	if (!vol) {
		FAIL("mount with the new device: %s", err.msg);
		return;
	}
	if (vol->devtab.t_count != 4 || vol->devtab.t_mirror_dev != 3 ||
	    vol->devtab.t_dev[3].d_state != HFS_DEV_ACTIVE ||
	    (vol->devtab.t_dev[1].d_role & HFS_DEV_ROLE_MIRROR))
		FAIL("device table after: %u devices, mirror %u",
		     vol->devtab.t_count, vol->devtab.t_mirror_dev);
	if (!hfs_region_mirrored(vol->rg, &len, &moff) ||
	    moff != vol->devtab.t_mirror_off || len != vol->sb.s_meta_end)
		FAIL("the mount does not mirror onto the new device");
	verify(vol, "mounted with the new mirror");
	for (int i = 0; i < 40; i++) {
		char name[16];
		struct hfs_attr a;

		snprintf(name, sizeof(name), "new%02d", i);
		if (hfs_mknod(vol, HFS_ROOT_INO, name, S_IFREG | 0644, 0,
			      &cred, &a))
			FAIL("create %s after", name);
	}
	if (!mirror_equal())
		FAIL("while mounted: the mirror differs from device 0");
	umount_vol(vol);
	if (!mirror_equal())
		FAIL("after the unmount: the mirror differs from device 0");
	r = fsck_vol(HFS_FSCK_NO, true, &stale);
	if (r != 0 || stale)
		FAIL("fsck -n after use: exit %d%s", r,
		     stale ? ", P5_MIRROR_STALE" : "");
	/* device 0 lost: the new device serves the volume */
	{
		const char *d2[1] = { p2 };
		uint8_t *keep0 = slurp(p0);
		struct hfs_attr a;

		if (truncate(p0, 0))
			abort();
		vol = mount_as(pn, d2, 1, true, &err);
		if (!vol) {
			FAIL("device 0 lost: the new mirror does not mount: %s",
			     err.msg);
		} else {
			if (!vol->from_mirror)
				FAIL("device 0 lost: not from the mirror");
			verify(vol, "from the new mirror");
			if (hfs_lookup(vol, HFS_ROOT_INO, "new39", &a))
				FAIL("from the new mirror: new39 missing");
			umount_vol(vol);
		}
		file_io(p0, 0, keep0, DEV_SIZE, true);
		free(keep0);
	}
}

/* ------------------------------------------------------ crashes */

/* Which volume do the images hold now: 3 (the old: mounts without the
 * new device), 4 (the new: mounts with it, mirrored onto it), -1
 * neither, or a file does not read back. */
static int which_volume(const char *what)
{
	const char *devs[2] = { p2, pn };
	struct hfs_err err = { 0 }, err2 = { 0 };
	struct hfs_vol *vol = mount_vol(devs, 1, false, &err);
	int n = -1;

	if (vol) {
		n = (int)vol->devtab.t_count;
		if (verify(vol, what))
			n = -1;
		umount_vol(vol);
		return n;
	}
	vol = mount_vol(devs, 2, false, &err2);
	if (!vol) {
		FAIL("%s: mounts neither without the new device (%s) nor with "
		     "it (%s)", what, err.msg, err2.msg);
		return -1;
	}
	n = (int)vol->devtab.t_count;
	if (vol->devtab.t_mirror_dev != 3 ||
	    !hfs_region_mirrored(vol->rg, NULL, NULL))
		n = -1;
	if (verify(vol, what))
		n = -1;
	umount_vol(vol);
	return n;
}

static void check_crash_points(void)
{
	for (unsigned k = 1; k < HFS_MIRROR_ADD_STEPS; k++) {
		struct hfs_mirror_add_opts o = { .stop_after = k };
		struct hfs_mirror_add_result res;
		struct hfs_err err = { 0 };
		char what[64];
		bool stale;
		int r, n, want = k < HFS_MIRROR_ADD_SUPER ? 3 : 4;

		snprintf(what, sizeof(what), "stopped after step %u", k);
		restore();
		r = add(&o, &res, &err);
		if (r != -EINTR) {
			FAIL("%s: %d %s", what, r, err.msg);
			continue;
		}
		n = which_volume(what);
		if (n != want) {
			FAIL("%s: the volume has %d devices, want %d", what, n,
			     want);
			continue;
		}
		/* fsck -p leaves it clean (the crash may leave device 0's
		 * primary table, or its backup copies, for it to rewrite) */
		r = fsck_vol(HFS_FSCK_PREEN, n == 4, NULL);
		if (r != 0 && r != 1)
			FAIL("%s: fsck -p: exit %d", what, r);
		r = fsck_vol(HFS_FSCK_NO, n == 4, &stale);
		if (r != 0 || stale)
			FAIL("%s: fsck -n after -p: exit %d%s", what, r,
			     stale ? ", P5_MIRROR_STALE" : "");
		if (n == 4) {
			if (!mirror_equal())
				FAIL("%s: the mirror differs", what);
			continue;
		}
		/* the old volume: running it again finishes the job (the
		 * new device's header from this run is taken) */
		r = add(NULL, &res, &err);
		if (r || (k >= HFS_MIRROR_ADD_HEADER) != res.reused_own)
			FAIL("%s: run again: %d %s (reused %d)", what, r,
			     err.msg, res.reused_own);
		else if (which_volume(what) != 4 || !mirror_equal())
			FAIL("%s: run again: not the new volume", what);
	}
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Device 0's block 0 with a random subset of the 8-byte words of the new
 * table and superblock landed over the old ones: the old volume, or the
 * new one exactly when the whole new superblock landed.  The new device
 * is complete (stopped after the switch's first write). */
static void check_torn_switch(void)
{
	struct hfs_mirror_add_opts o = { .stop_after = HFS_MIRROR_ADD_SUPER };
	struct hfs_mirror_add_result res;
	struct hfs_err err = { 0 };
	uint8_t oldb[HFS_BLOCK_SIZE], newb[HFS_BLOCK_SIZE];
	uint8_t *img0, *img2, *imgn;
	unsigned states = 0;

	restore();
	if (add(&o, &res, &err) != -EINTR) {
		FAIL("torn: stop after the superblock: %s", err.msg);
		return;
	}
	memcpy(oldb, base0, sizeof(oldb));
	file_io(p0, 0, newb, sizeof(newb), false);
	img0 = slurp(p0);
	img2 = slurp(p2);
	imgn = slurp(pn);
	for (int s = 0; s < 48; s++) {
		uint8_t b[HFS_BLOCK_SIZE];
		/* even: a crash while the table is written (the superblock
		 * old); odd: while the superblock is (the table whole, as
		 * the table's write was persisted first); each word landed
		 * with probability p% */
		bool in_table = s % 2 == 0;
		unsigned p = s % 6 == 1 ? 100 : (unsigned)(rnd() % 101);
		size_t lo = in_table ? HFS_DEVTAB_OFF : 0;
		size_t hi = in_table ? HFS_DEVTAB_OFF + sizeof(struct hfs_devtab)
				     : sizeof(struct hfs_super);
		bool sb_whole = !in_table;
		char what[64];
		int n;

		memcpy(b, oldb, sizeof(b));
		if (!in_table)
			memcpy(b + HFS_DEVTAB_OFF, newb + HFS_DEVTAB_OFF,
			       sizeof(struct hfs_devtab));
		for (size_t w = lo; w < hi; w += 8) {
			if (rnd() % 100 < p)
				memcpy(b + w, newb + w, 8);
			else if (!in_table && memcmp(oldb + w, newb + w, 8))
				sb_whole = false;
		}
		memcpy(img0, b, sizeof(b));
		file_io(p0, 0, img0, DEV_SIZE, true);
		file_io(p2, 0, img2, DEV_SIZE, true);
		file_io(pn, 0, imgn, DEV_SIZE, true);
		snprintf(what, sizeof(what), "torn %s, state %d (%u%%)",
			 in_table ? "table" : "superblock", s, p);
		n = which_volume(what);
		if (n != (sb_whole ? 4 : 3))
			FAIL("%s: %d devices, want %d", what, n,
			     sb_whole ? 4 : 3);
		states++;
	}
	free(img0);
	free(img2);
	free(imgn);
	if (states < 48)
		FAIL("torn: %u states checked", states);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/addmirror.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(p0, sizeof(p0), "%s/d0", dir);
	snprintf(p1, sizeof(p1), "%s/d1", dir);
	snprintf(p2, sizeof(p2), "%s/d2", dir);
	snprintf(pn, sizeof(pn), "%s/new", dir);
	build();
	check_refusals();
	check_foreign_member();
	check_whole_run();
	check_crash_points();
	check_torn_switch();
	unlink(p0);
	unlink(p1);
	unlink(p2);
	unlink(pn);
	rmdir(dir);
	free(base0);
	free(base2);
	printf("%s\n", failures ? "FAILED" : "all passed");
	return failures ? 1 : 0;
}
