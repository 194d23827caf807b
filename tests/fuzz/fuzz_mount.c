/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for mount: the patches of fuzz_image.h to a small
 * valid image, then hfs_vol_open; if it mounts, a walk of the root
 * (readdir, lookup, getattr, read, readlink, xattrs), a create, write,
 * read back and unlink, and the unmount.  Refusing a damaged image is
 * fine; crashing, hanging or tripping ASan/UBSan is not.
 *
 *   tests/fuzz/run-fuzz.sh [seconds]
 *   build-fuzz/tests/fuzz/fuzz_mount -max_total_time=60 tests/fuzz/corpus/mount
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_image.h"
#include "vol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 64

struct names {
	char v[MAX_NAMES][256];
	int n;
};

static int collect(void *ctx, const char *name, const struct hfs_attr *a,
		   uint64_t next)
{
	struct names *nm = ctx;

	(void)a;
	(void)next;
	if (nm->n == MAX_NAMES)
		return 1;
	snprintf(nm->v[nm->n++], sizeof(nm->v[0]), "%s", name);
	return 0;
}

static void visit(struct hfs_vol *vol, uint64_t dir, const char *name)
{
	static char buf[8192];
	struct hfs_attr a;

	if (hfs_lookup(vol, dir, name, &a))
		return;
	if (S_ISREG(a.mode))
		hfs_read(vol, a.ino, buf, sizeof(buf), 0);
	else if (S_ISLNK(a.mode))
		hfs_readlink(vol, a.ino, buf, sizeof(buf));
	hfs_listxattr(vol, a.ino, buf, sizeof(buf));
	hfs_getxattr(vol, a.ino, "user.a", buf, sizeof(buf));
	if (S_ISDIR(a.mode) && strcmp(name, ".") && strcmp(name, "..")) {
		struct names sub = { .n = 0 };

		hfs_readdir(vol, a.ino, 0, true, collect, &sub);
		for (int i = 0; i < sub.n && i < 8; i++) {
			struct hfs_attr b;

			if (!hfs_lookup(vol, a.ino, sub.v[i], &b))
				hfs_forget(vol, b.ino, 1);
		}
	}
	hfs_forget(vol, a.ino, 1);
}

static void change(struct hfs_vol *vol)
{
	static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
	static char buf[5000];
	struct hfs_attr a;

	if (hfs_mknod(vol, 1, "fz", S_IFREG | 0644, 0, &cred, &a))
		return;
	memset(buf, 0x3c, sizeof(buf));
	hfs_write(vol, a.ino, buf, sizeof(buf), 4096);
	hfs_read(vol, a.ino, buf, sizeof(buf), 0);
	hfs_unlink(vol, 1, "fz");
	hfs_forget(vol, a.ino, 1);
	if (!hfs_mkdir(vol, 1, "fzd", 0755, &cred, &a)) {
		hfs_forget(vol, a.ino, 1);
		hfs_rmdir(vol, 1, "fzd");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hfs_region *rg = fuzz_image_get();
	struct names root = { .n = 0 };
	struct hfs_vol *vol;
	struct statvfs st;

	if (!rg)
		return 0;
	fuzz_apply(data, size);
	if (!hfs_vol_open(rg, NULL, &vol, NULL, NULL)) {
		hfs_statfs(vol, &st);
		hfs_readdir(vol, 1, 0, false, collect, &root);
		for (int i = 0; i < root.n; i++)
			visit(vol, 1, root.v[i]);
		change(vol);
		hfs_vol_close(vol);
	}
	fuzz_restore();
	return 0;
}
