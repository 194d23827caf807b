/* SPDX-License-Identifier: MIT */
/*
 * The placement choice (lib/place_choice.c, lib/placement.c;
 * docs/format.md "Placement") on a volume of three region files with
 * the mirror: the stored form and its check, what setxattr takes and
 * refuses (nothing changed), inheritance at create (files,
 * subdirectories, O_TMPFILE; not symlinks), where a file's first data
 * goes, spill when the chosen device is full, a device out of service,
 * remount; and a volume of one device, which refuses the choice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"
#include "media.h"
#include "mkfs.h"
#include "region.h"
#include "vol.h"

#define NDEV 3
#define DEV_SIZE (32ull << 20)
#define CH HFS_PLACE_XATTR

static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
static char dir[64], path[NDEV][96];
static struct hfs_region *rg0; /* device 0, while mounted */

static void make_volume(void)
{
	struct hfs_mkfs_opts mo = { .label = "place" };
	struct hfs_region *r[NDEV] = { NULL };
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/test_place.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	for (int i = 0; i < NDEV; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/d%d", dir, i);
		if (hfs_region_create_file(path[i], DEV_SIZE, &err) ||
		    hfs_region_open(path[i], NULL, &r[i], &err)) {
			fprintf(stderr, "setup: %s\n", err.msg);
			exit(1);
		}
	}
	if (hfs_mkfs(r[0], &mo, &res, &err) ||
	    hfs_mkfs_members(r[0], &r[1], NDEV, true, 0, &res, &err)) {
		fprintf(stderr, "mkfs: %s\n", err.msg);
		exit(1);
	}
	for (int i = 0; i < NDEV; i++)
		hfs_region_close(r[i]);
}

static struct hfs_vol *mount_vol(void)
{
	const char *devs[NDEV - 1] = { path[1], path[2] };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = NDEV - 1 };
	struct hfs_vol *vol = NULL;
	struct hfs_err err = { 0 };

	if (hfs_region_open(path[0], NULL, &rg0, &err) ||
	    hfs_vol_open(rg0, &o, &vol, NULL, &err)) {
		fprintf(stderr, "mount: %s\n", err.msg);
		exit(1);
	}
	return vol;
}

static void umount_vol(struct hfs_vol *vol)
{
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg0);
}

static uint64_t mk(struct hfs_vol *vol, uint64_t parent, const char *name,
		   uint32_t mode)
{
	struct hfs_attr a;
	int r = S_ISDIR(mode) ? hfs_mkdir(vol, parent, name, mode & 07777,
					  &cred, &a)
			      : hfs_mknod(vol, parent, name, mode, 0, &cred, &a);

	CHECK_EQ(r, 0);
	return r ? 0 : a.ino;
}

/* The device holding all of ino's blocks, -1 for none, -2 for several. */
static int device_of(struct hfs_vol *vol, uint64_t ino)
{
	uint64_t c[HFS_MEMBERS_MAX];
	int n = hfs_vol_file_devices(vol, ino, c, HFS_MEMBERS_MAX), d = -1;

	for (int i = 0; i < n; i++)
		if (c[i])
			d = d == -1 ? i : -2;
	return d;
}

static int put(struct hfs_vol *vol, uint64_t ino, size_t len, uint64_t off)
{
	static char buf[1 << 20];

	memset(buf, 0x5a, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t w = hfs_write(vol, ino, buf, n, off);

		if (w != (ssize_t)n)
			return w < 0 ? (int)w : -EIO;
		len -= n;
		off += n;
	}
	return 0;
}

static uint64_t free_on(struct hfs_vol *vol, unsigned i)
{
	struct hfs_vol_device d[HFS_MEMBERS_MAX];

	hfs_vol_devices(vol, d, HFS_MEMBERS_MAX);
	return d[i].free_blocks;
}

static void expect_choice(struct hfs_vol *vol, uint64_t ino, const char *want)
{
	char v[64];
	ssize_t n = hfs_getxattr(vol, ino, CH, v, sizeof(v));

	if (!want) {
		CHECK_EQ(n, -ENODATA);
		CHECK_EQ(hfs_vol_place_choice(vol, ino), -ENODATA);
		return;
	}
	CHECK_EQ(n, (ssize_t)strlen(want));
	CHECK(n > 0 && !memcmp(v, want, (size_t)n));
	CHECK_EQ(hfs_vol_place_choice(vol, ino), atoi(want));
}

static void test_check(void)
{
	CHECK_EQ(hfs_place_choice_check("0", 1, 3), 0);
	CHECK_EQ(hfs_place_choice_check("2", 1, 3), 2);
	CHECK_EQ(hfs_place_choice_check("31", 2, 32), 31);
	CHECK_EQ(hfs_place_choice_check("3", 1, 3), -EINVAL);
	CHECK_EQ(hfs_place_choice_check("0", 1, 0), -EINVAL); /* one device */
	CHECK_EQ(hfs_place_choice_check("02", 2, 3), -EINVAL);
	CHECK_EQ(hfs_place_choice_check("1\n", 2, 3), -EINVAL);
	CHECK_EQ(hfs_place_choice_check("1", 2, 3), -EINVAL); /* "1\0" */
	CHECK_EQ(hfs_place_choice_check("-1", 2, 3), -EINVAL);
	CHECK_EQ(hfs_place_choice_check("", 0, 3), -EINVAL);
	CHECK_EQ(hfs_place_choice_check("100", 3, 32), -EINVAL);
}

/* What setxattr refuses, with the stored value unchanged. */
static void test_refused(struct hfs_vol *vol, uint64_t d)
{
	static const char *const bad[] = {
		"3", "32", "-1", "+1", "01", " 1", "1 ", "1\n", "", "x",
		"00000000-0000-0000-0000-000000000000",
		"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
	};
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	char id[40];
	const uint8_t *u;

	CHECK_EQ(hfs_setxattr(vol, d, CH, "1", 1, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = hfs_setxattr(vol, d, CH, bad[i], strlen(bad[i]), 0);

		if (r != -EINVAL)
			fprintf(stderr, "value '%s': %d\n", bad[i], r);
		CHECK_EQ(r, -EINVAL);
	}
	CHECK_EQ(hfs_setxattr(vol, d, CH, "2\0", 2, 0), -EINVAL);
	expect_choice(vol, d, "1");
	/* a UUID of this volume is taken, stored as its index, either case */
	hfs_vol_devices(vol, dv, HFS_MEMBERS_MAX);
	u = dv[2].uuid;
	snprintf(id, sizeof(id), "%02X%02X%02X%02X-%02X%02X-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		 u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
	CHECK_EQ(hfs_setxattr(vol, d, CH, id, 36, 0), 0);
	expect_choice(vol, d, "2");
	/* XATTR_CREATE over one: EEXIST, as any attribute */
	CHECK_EQ(hfs_setxattr(vol, d, CH, "0", 1, XATTR_CREATE), -EEXIST);
	expect_choice(vol, d, "2");
	CHECK_EQ(hfs_removexattr(vol, d, CH), 0);
	expect_choice(vol, d, NULL);
}

static void test_inherit_and_place(struct hfs_vol *vol)
{
	uint64_t d = mk(vol, HFS_ROOT_INO, "d", S_IFDIR | 0755), s, f, g, t, x;
	struct hfs_attr a;

	test_refused(vol, d);
	/* device 1, which holds the mirror, is never the emptiest: without
	 * the choice nothing would go there first */
	CHECK_EQ(hfs_setxattr(vol, d, CH, "1", 1, 0), 0);
	/* inherited by files and subdirectories, down the tree */
	s = mk(vol, d, "s", S_IFDIR | 0755);
	f = mk(vol, s, "f", S_IFREG | 0644);
	expect_choice(vol, s, "1");
	expect_choice(vol, f, "1");
	CHECK_EQ(hfs_tmpfile(vol, s, 0600, &cred, &a), 0);
	expect_choice(vol, a.ino, "1");
	/* not by a symlink, a fifo */
	CHECK_EQ(hfs_symlink(vol, d, "l", "f", &cred, &a), 0);
	expect_choice(vol, a.ino, NULL);
	expect_choice(vol, mk(vol, d, "p", S_IFIFO | 0644), NULL);
	CHECK_EQ(hfs_setxattr(vol, a.ino, CH, "1", 1, 0), -EINVAL);
	/* data goes to the chosen device */
	CHECK_EQ(put(vol, f, 300000, 0), 0);
	CHECK_EQ(device_of(vol, f), 1);
	/* a file without a choice: the device with the most free blocks */
	x = mk(vol, HFS_ROOT_INO, "x", S_IFREG | 0644);
	CHECK_EQ(put(vol, x, 4096, 0), 0);
	CHECK_EQ(device_of(vol, x), 2);
	/* a file of its own choice, before its first data; not after */
	g = mk(vol, HFS_ROOT_INO, "g", S_IFREG | 0644);
	CHECK_EQ(hfs_setxattr(vol, g, CH, "0", 1, 0), 0);
	CHECK_EQ(put(vol, g, 8192, 0), 0);
	CHECK_EQ(device_of(vol, g), 0);
	CHECK_EQ(hfs_setxattr(vol, g, CH, "1", 1, 0), -EBUSY);
	CHECK_EQ(hfs_setxattr(vol, x, CH, "1", 1, 0), -EBUSY);
	expect_choice(vol, g, "0");
	expect_choice(vol, x, NULL);
	/* a file moved into the tree keeps what it had (none) */
	t = mk(vol, HFS_ROOT_INO, "t", S_IFREG | 0644);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "t", d, "t", 0, NULL), 0);
	expect_choice(vol, t, NULL);
	/* setting the choice moves nothing */
	CHECK_EQ(hfs_setxattr(vol, s, CH, "2", 1, 0), 0);
	CHECK_EQ(device_of(vol, f), 1);
	CHECK_EQ(hfs_setxattr(vol, s, CH, "1", 1, 0), 0);
}

/* Device 1 full: the next file with the choice of it spills, no
 * ENOSPC. */
static void test_spill(struct hfs_vol *vol)
{
	struct hfs_attr a, d;
	uint64_t left;

	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "d", &d), 0);
	a.ino = mk(vol, d.ino, "big", S_IFREG | 0644);
	left = free_on(vol, 1);
	CHECK(left > 0);
	CHECK_EQ(put(vol, a.ino, left * 4096, 0), 0);
	CHECK_EQ(device_of(vol, a.ino), 1);
	CHECK_EQ(free_on(vol, 1), 0);
	a.ino = mk(vol, d.ino, "after", S_IFREG | 0644);
	expect_choice(vol, a.ino, "1");
	CHECK_EQ(put(vol, a.ino, 65536, 0), 0);
	CHECK_EQ(device_of(vol, a.ino), 2);
}

/* Device 2 out of service: the choice of it stays, data goes by the
 * other rules, and a new choice of it is refused. */
static void test_out_of_service(struct hfs_vol *vol)
{
	uint64_t e = mk(vol, HFS_ROOT_INO, "e", S_IFDIR | 0755), f;

	CHECK_EQ(hfs_setxattr(vol, e, CH, "2", 1, 0), 0);
	CHECK_EQ(hfs_vol_device_state(vol, 2, HFS_DEV_LOST), 0);
	f = mk(vol, e, "f", S_IFREG | 0644);
	expect_choice(vol, e, "2");
	expect_choice(vol, f, "2"); /* copied as it is */
	CHECK_EQ(put(vol, f, 65536, 0), 0);
	CHECK(device_of(vol, f) == 0 || device_of(vol, f) == 1);
	CHECK_EQ(hfs_setxattr(vol, e, CH, "2", 1, 0), -EINVAL);
	expect_choice(vol, e, "2");
}

static void test_one_device(void)
{
	void *mem = calloc(1, 16 << 20);
	struct hfs_mkfs_opts o = { .label = "one" };
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	struct hfs_vol *vol = NULL;
	uint64_t d;

	if (!mem || hfs_region_from_memory(mem, 16 << 20, &rg) ||
	    hfs_mkfs(rg, &o, &res, &err) ||
	    hfs_vol_open(rg, NULL, &vol, NULL, &err))
		abort();
	d = mk(vol, HFS_ROOT_INO, "d", S_IFDIR | 0755);
	CHECK_EQ(hfs_setxattr(vol, d, CH, "0", 1, 0), -EOPNOTSUPP);
	expect_choice(vol, d, NULL);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

int main(void)
{
	struct hfs_vol *vol;
	struct hfs_attr a;

	test_check();
	test_one_device();
	make_volume();
	vol = mount_vol();
	test_inherit_and_place(vol);
	test_spill(vol);
	umount_vol(vol);
	/* the choice, and its inheritance, after a remount */
	vol = mount_vol();
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "d", &a), 0);
	expect_choice(vol, a.ino, "1");
	CHECK_EQ(hfs_lookup(vol, a.ino, "s", &a), 0);
	expect_choice(vol, a.ino, "1");
	expect_choice(vol, mk(vol, a.ino, "later", S_IFREG | 0644), "1");
	test_out_of_service(vol);
	umount_vol(vol);
	for (int i = 0; i < NDEV; i++)
		unlink(path[i]);
	rmdir(dir);
	if (failures) {
		fprintf(stderr, "test_place: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_place: ok\n");
	return 0;
}
