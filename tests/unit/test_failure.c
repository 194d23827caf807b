/* SPDX-License-Identifier: MIT */
/*
 * lib/failure.c on a region in memory: classification of failed ranges
 * (fixed metadata areas, data pieces, free space), marking data lost
 * (EIO on reads and writes of the lost blocks only, flags on media,
 * survives remount), bad blocks never freed again, the shutdown state
 * (root getattr and statfs answer, the rest EIO), inode paths (through
 * the name hints, across rename, exchange, hard links and remount), the
 * list of inodes the kernel can read without asking (open handles,
 * cached symlink targets) that a shutdown invalidates, and one rmap read
 * per range failure (classification into pieces, then mark-lost on the
 * same pieces, re-checked: a piece that moved meanwhile is skipped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkfs.h"
#include "badlist_i.h"
#include "inode_i.h"
#include "rmap_i.h"
#include "vol_i.h"

#include "check.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define REGION_SIZE (64u << 20)
#define FSZ (64u * 1024)

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

static struct hfs_vol *mount_vol(struct hfs_region *rg)
{
	struct hfs_vol *vol = NULL;
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };

	if (hfs_vol_open(rg, NULL, &vol, &info, &err)) {
		fprintf(stderr, "mount: %s\n", err.msg);
		abort();
	}
	return vol;
}

static uint64_t mkfile(struct hfs_vol *vol, uint64_t dir, const char *name,
		       const uint8_t *data)
{
	struct hfs_attr a;

	CHECK_EQ(hfs_mknod(vol, dir, name, S_IFREG | 0644, 0, &root_cred, &a),
		 0);
	CHECK_EQ(hfs_write(vol, a.ino, data, FSZ, 0), FSZ);
	return a.ino;
}

/* Region offset of the block at file offset 0 of ino's pieces of that
 * kind (data: file byte 0; dir: the first dentry block). */
static uint64_t piece_off(struct hfs_vol *vol, uint64_t ino,
			  enum hfs_kind kind)
{
	struct hfs_fail_class fc;
	uint64_t roff = 0;

	for (uint64_t b = vol->sb.s_pool_off; b < REGION_SIZE && !roff;
	     b += HFS_BLOCK_SIZE) {
		CHECK_EQ(hfs_vol_classify_failure(vol, b, HFS_BLOCK_SIZE, &fc),
			 0);
		for (size_t i = 0; i < fc.n && !roff; i++)
			if (fc.v[i].kind == kind && fc.v[i].ino == ino &&
			    fc.v[i].file_off == 0)
				roff = fc.v[i].region_off;
		hfs_fail_class_free(&fc);
	}
	return roff;
}

static uint64_t data_off(struct hfs_vol *vol, uint64_t ino)
{
	return piece_off(vol, ino, HFS_KIND_DATA);
}

static int count_names(void *ctx, const char *name,
		       const struct hfs_attr *a, uint64_t next)
{
	(void)name;
	(void)a;
	(void)next;
	(*(int *)ctx)++;
	return 0;
}

static uint64_t mk(struct hfs_vol *vol, uint64_t dir, const char *name,
		   uint32_t mode)
{
	struct hfs_attr a = { 0 };

	if (S_ISDIR(mode))
		CHECK_EQ(hfs_mkdir(vol, dir, name, mode & 07777, &root_cred,
				   &a), 0);
	else
		CHECK_EQ(hfs_mknod(vol, dir, name, mode, 0, &root_cred, &a), 0);
	return a.ino;
}

static void check_path(struct hfs_vol *vol, uint64_t ino, const char *want)
{
	char path[256];

	CHECK_EQ(hfs_vol_ino_path(vol, ino, path, sizeof(path)), 0);
	if (strcmp(path, want)) {
		fprintf(stderr, "path of inode %llu: %s, expected %s\n",
			(unsigned long long)ino, path, want);
		failures++;
	}
}

/* Is ino on the kernel-readable list?  *count gets the list's length. */
static bool listed(struct hfs_vol *vol, uint64_t ino, size_t *count)
{
	uint64_t *v;
	size_t n;
	bool found = false;

	CHECK_EQ(hfs_vol_kernel_readable(vol, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		found |= v[i] == ino;
	free(v);
	if (count)
		*count = n;
	return found;
}

/* Paths are built from the name hints: they follow renames of the file
 * and of its directories, survive a remount, and a removed hinted name
 * of a hard-linked file falls back to the other name. */
static void test_paths(struct hfs_vol **volp, struct hfs_region *rg)
{
	struct hfs_vol *vol = *volp;
	uint64_t a, b, f, k;
	char path[64];

	a = mk(vol, HFS_ROOT_INO, "a", S_IFDIR | 0755);
	b = mk(vol, a, "b", S_IFDIR | 0755);
	f = mk(vol, b, "f", S_IFREG | 0644);
	CHECK_EQ(hfs_iget(vol, f)->name_dir, b);
	check_path(vol, f, "/a/b/f");
	CHECK_EQ(hfs_rename(vol, b, "f", a, "g", 0, NULL), 0);
	check_path(vol, f, "/a/g");
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "a", HFS_ROOT_INO, "z", 0, NULL), 0);
	check_path(vol, f, "/z/g");
	check_path(vol, b, "/z/b");
	/* a second name takes the hint; removing it leaves the first */
	CHECK_EQ(hfs_link(vol, f, b, "h", &(struct hfs_attr){ 0 }), 0);
	check_path(vol, f, "/z/b/h");
	CHECK_EQ(hfs_unlink(vol, b, "h"), 0);
	check_path(vol, f, "/z/g");
	CHECK_EQ(hfs_iget(vol, f)->name_dir, a); /* refreshed by the scan */
	/* exchange: both sides move */
	k = mk(vol, b, "k", S_IFREG | 0644);
	CHECK_EQ(hfs_rename(vol, a, "g", a, "b", RENAME_EXCHANGE, NULL), 0);
	check_path(vol, f, "/z/b");
	check_path(vol, k, "/z/g/k");
	/* after a remount the hints come from the directory load */
	CHECK_EQ(hfs_vol_close(vol), 0);
	*volp = vol = mount_vol(rg);
	CHECK_EQ(hfs_iget(vol, k)->name_dir, b);
	check_path(vol, k, "/z/g/k");
	check_path(vol, f, "/z/b");
	CHECK_EQ(hfs_unlink(vol, b, "k"), 0);
	CHECK_EQ(hfs_vol_ino_path(vol, k, path, sizeof(path)), -ENOENT);
}

/* The inodes a shutdown invalidates: open ones and symlinks whose target
 * was handed out and not yet forgotten; nothing else, however cached. */
static void test_kernel_readable(struct hfs_vol *vol)
{
	struct hfs_attr a;
	char buf[64];
	uint64_t f, l, g;
	size_t n;

	f = mk(vol, HFS_ROOT_INO, "kr", S_IFREG | 0644); /* nlookup 1 */
	CHECK(!listed(vol, f, &n));
	CHECK_EQ(n, 0);
	CHECK_EQ(hfs_open(vol, f), 0);
	CHECK_EQ(hfs_open(vol, f), 0);
	CHECK(listed(vol, f, &n));
	CHECK_EQ(n, 1);
	hfs_release(vol, f);
	CHECK(listed(vol, f, NULL));
	hfs_release(vol, f);
	CHECK(!listed(vol, f, &n));
	CHECK_EQ(n, 0);

	CHECK_EQ(hfs_symlink(vol, HFS_ROOT_INO, "kl", "somewhere", &root_cred,
			     &a), 0);
	l = a.ino;
	CHECK(!listed(vol, l, NULL));
	CHECK_EQ(hfs_readlink(vol, l, buf, sizeof(buf)), 9);
	CHECK(listed(vol, l, NULL));
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "kl", &a), 0);
	hfs_forget(vol, l, 1);
	CHECK(listed(vol, l, NULL)); /* still one kernel reference */
	hfs_forget(vol, l, 1);
	CHECK(!listed(vol, l, NULL));

	/* unlinked while open: listed until the last release frees it */
	CHECK_EQ(hfs_open(vol, f), 0);
	hfs_forget(vol, f, 1);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "kr"), 0);
	CHECK(listed(vol, f, NULL));
	hfs_release(vol, f);
	CHECK(hfs_iget(vol, f) == NULL);
	CHECK(!listed(vol, f, &n));
	CHECK_EQ(n, 0);

	/* shutdown: no new opens or symlink reads; the list still answers */
	g = mk(vol, HFS_ROOT_INO, "ks", S_IFREG | 0644);
	CHECK_EQ(hfs_open(vol, g), 0);
	hfs_vol_shutdown(vol);
	CHECK_EQ(hfs_open(vol, f), -EIO);
	CHECK_EQ(hfs_readlink(vol, l, buf, sizeof(buf)), -EIO);
	CHECK(listed(vol, g, &n));
	CHECK_EQ(n, 1);
	hfs_release(vol, g);
	CHECK(!listed(vol, g, &n));
	CHECK_EQ(n, 0);
}

static int owner_kind(void *ctx, const struct hfs_owner *o)
{
	*(enum hfs_kind *)ctx = o->kind;
	return 1;
}

/* One range failure reads the rmap once: the classification returns
 * every piece (kind as an enum), and marking them lost (what the daemon
 * does after revoking the leases of the same pieces' inodes, with no
 * lookup of its own: fs/revoke.c) reads it no more. */
static void test_one_rmap_read(struct hfs_vol *vol)
{
	static uint8_t d[FSZ], buf[FSZ];
	struct hfs_fail_class fc;
	uint64_t dir, f, g, off, q;
	enum hfs_kind k = HFS_KIND_FIXED;

	memset(d, 'c', sizeof(d));
	dir = mk(vol, HFS_ROOT_INO, "one", S_IFDIR | 0755);
	f = mkfile(vol, dir, "f", d);
	off = data_off(vol, f);
	CHECK(off != 0);

	/* all of f's 64 KiB, and the free block after it */
	q = hfs_rmap_queries(vol->rmap);
	CHECK_EQ(hfs_vol_classify_failure(vol, off, FSZ + HFS_BLOCK_SIZE, &fc), 0);
	CHECK_EQ(hfs_rmap_queries(vol->rmap), q + 1);
	CHECK(!fc.metadata && !strcmp(fc.what, "data"));
	CHECK_EQ(fc.off, off);
	CHECK_EQ(fc.len, FSZ + HFS_BLOCK_SIZE);
	CHECK_EQ(fc.free_blocks, 1);
	CHECK(fc.n >= 1);
	{
		uint64_t bytes = 0, next = off;

		for (size_t i = 0; i < fc.n; i++) {
			CHECK_EQ(fc.v[i].ino, f);
			CHECK_EQ(fc.v[i].kind, HFS_KIND_DATA);
			CHECK_EQ(fc.v[i].region_off, next);
			CHECK_EQ(fc.v[i].file_off, next - off);
			next += fc.v[i].len;
			bytes += fc.v[i].len;
		}
		CHECK_EQ(bytes, FSZ);
	}
	CHECK_EQ(hfs_vol_mark_lost(vol, &fc, NULL, NULL), 0);
	hfs_fail_class_free(&fc);
	CHECK_EQ(hfs_rmap_queries(vol->rmap), q + 1);
	CHECK(hfs_iget(vol, f)->d.i_flags & HFS_IF_LOSTDATA);
	CHECK_EQ(hfs_read(vol, f, buf, HFS_BLOCK_SIZE, 0), -EIO);
	CHECK_EQ(hfs_read(vol, f, buf, HFS_BLOCK_SIZE, FSZ - HFS_BLOCK_SIZE), -EIO);
	CHECK(hfs_badlist_overlaps(vol, off, FSZ));

	/* a piece that moved between classification and marking (here:
	 * truncated away) is skipped; the range still goes bad */
	g = mkfile(vol, dir, "g", d);
	off = data_off(vol, g);
	CHECK_EQ(hfs_vol_classify_failure(vol, off, HFS_BLOCK_SIZE, &fc), 0);
	CHECK_EQ(fc.data_pieces, 1);
	CHECK_EQ(hfs_setattr(vol, g, &(struct hfs_setattr){
			.mask = HFS_SET_SIZE, .size = 0 }, &(struct hfs_attr){ 0 }),
		 0);
	q = hfs_rmap_queries(vol->rmap);
	CHECK_EQ(hfs_vol_mark_lost(vol, &fc, NULL, NULL), 0);
	hfs_fail_class_free(&fc);
	CHECK_EQ(hfs_rmap_queries(vol->rmap), q);
	CHECK(!(hfs_iget(vol, g)->d.i_flags & HFS_IF_LOSTDATA));
	CHECK(hfs_badlist_overlaps(vol, off, HFS_BLOCK_SIZE));

	/* metadata: a directory block, a fixed area; kinds as enums */
	off = piece_off(vol, dir, HFS_KIND_DIR);
	CHECK(off != 0);
	CHECK_EQ(hfs_vol_classify_failure(vol, off, HFS_BLOCK_SIZE, &fc), 0);
	CHECK(fc.metadata && !strcmp(fc.what, "directory"));
	CHECK(fc.n == 1 && fc.v[0].kind == HFS_KIND_DIR && fc.v[0].ino == dir);
	hfs_fail_class_free(&fc);
	CHECK_EQ(hfs_vol_owners(vol, off, HFS_BLOCK_SIZE, owner_kind, &k), 1);
	CHECK_EQ(k, HFS_KIND_DIR);
	CHECK_EQ(hfs_vol_classify_failure(vol, vol->sb.s_itable_off + 100, 1,
					  &fc), 0);
	CHECK(fc.metadata && !strcmp(fc.what, "inode table"));
	CHECK(fc.n == 1 && fc.v[0].kind == HFS_KIND_FIXED &&
	      fc.v[0].region_off == vol->sb.s_itable_off &&
	      fc.v[0].len == HFS_BLOCK_SIZE && fc.v[0].ino == 0);
	hfs_fail_class_free(&fc);

	/* the names holdfsctl holders prints */
	CHECK(!strcmp(hfs_kind_name(HFS_KIND_DATA), "data"));
	CHECK(!strcmp(hfs_kind_name(HFS_KIND_DIR), "dir"));
	CHECK(!strcmp(hfs_kind_name(HFS_KIND_CHAIN), "extent-chain"));
	CHECK(!strcmp(hfs_kind_name(HFS_KIND_XATTR), "xattr"));
}

/* A fresh filesystem in a malloc'd region (*mem, *rg), mounted. */
static struct hfs_vol *fresh_vol(void **mem, struct hfs_region **rg)
{
	struct hfs_mkfs_opts mo = { .label = "t" };
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };

	*mem = calloc(1, REGION_SIZE);
	if (!*mem || hfs_region_from_memory(*mem, REGION_SIZE, rg) ||
	    hfs_mkfs(*rg, &mo, &res, &err))
		abort();
	return mount_vol(*rg);
}

int main(void)
{
	void *mem = calloc(1, REGION_SIZE);
	struct hfs_mkfs_opts mo = { .label = "t" };
	struct hfs_mkfs_result res;
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol;
	struct hfs_fail_class fc;
	struct hfs_attr a;
	struct statvfs sv;
	static uint8_t d1[FSZ], d2[FSZ], buf[FSZ];
	uint64_t dir, f1, f2, off;
	char path[256];

	memset(d1, 'a', sizeof(d1));
	memset(d2, 'b', sizeof(d2));
	if (!mem || hfs_region_from_memory(mem, REGION_SIZE, &rg) ||
	    hfs_mkfs(rg, &mo, &res, &err))
		abort();
	vol = mount_vol(rg);
	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755, &root_cred, &a), 0);
	dir = a.ino;
	f1 = mkfile(vol, dir, "f1", d1);
	f2 = mkfile(vol, HFS_ROOT_INO, "f2", d2);

	/* classification */
	CHECK_EQ(hfs_vol_classify_failure(vol, vol->sb.s_itable_off, HFS_BLOCK_SIZE, &fc),
		 0);
	CHECK(fc.metadata && !strcmp(fc.what, "inode table"));
	hfs_fail_class_free(&fc);
	CHECK_EQ(hfs_vol_classify_failure(vol, vol->sb.s_journal_off + 8192, 1,
					  &fc), 0);
	CHECK(fc.metadata && !strcmp(fc.what, "journal"));
	hfs_fail_class_free(&fc);
	CHECK_EQ(hfs_vol_classify_failure(vol, REGION_SIZE - 8u * HFS_BLOCK_SIZE * 64,
					  HFS_BLOCK_SIZE, &fc), 0);
	CHECK(!fc.metadata);
	hfs_fail_class_free(&fc);
	off = data_off(vol, f1);
	CHECK(off != 0);
	CHECK_EQ(hfs_vol_classify_failure(vol, off, HFS_BLOCK_SIZE, &fc), 0);
	CHECK(!fc.metadata && fc.data_pieces == 1);
	hfs_fail_class_free(&fc);

	/* paths */
	CHECK_EQ(hfs_vol_ino_path(vol, f1, path, sizeof(path)), 0);
	CHECK(!strcmp(path, "/d/f1"));
	CHECK_EQ(hfs_vol_ino_path(vol, dir, path, sizeof(path)), 0);
	CHECK(!strcmp(path, "/d"));
	CHECK_EQ(hfs_vol_ino_path(vol, HFS_ROOT_INO, path, sizeof(path)), 0);
	CHECK(!strcmp(path, "/"));

	/* mark block 2 of f1 lost */
	CHECK_EQ(hfs_vol_classify_failure(vol, off + 8192, HFS_BLOCK_SIZE, &fc), 0);
	CHECK_EQ(hfs_vol_mark_lost(vol, &fc, NULL, NULL), 0);
	hfs_fail_class_free(&fc);
	CHECK(hfs_iget(vol, f1)->d.i_flags & HFS_IF_LOSTDATA);
	CHECK_EQ(hfs_read(vol, f1, buf, HFS_BLOCK_SIZE, 8192), -EIO);
	CHECK_EQ(hfs_read(vol, f1, buf, FSZ, 0), -EIO);
	CHECK_EQ(hfs_read(vol, f1, buf, 8192, 0), 8192);
	CHECK(!memcmp(buf, d1, 8192));
	CHECK_EQ(hfs_read(vol, f1, buf, HFS_BLOCK_SIZE, 12288), HFS_BLOCK_SIZE);
	CHECK_EQ(hfs_write(vol, f1, d1, HFS_BLOCK_SIZE, 8192), -EIO);
	CHECK_EQ(hfs_read(vol, f2, buf, FSZ, 0), FSZ);
	CHECK(!memcmp(buf, d2, FSZ));
	CHECK(hfs_badlist_overlaps(vol, off + 8192, HFS_BLOCK_SIZE));
	CHECK_EQ(hfs_vol_close(vol), 0);

	/* persists; unlink never frees the bad block */
	vol = mount_vol(rg);
	CHECK_EQ(hfs_read(vol, f1, buf, HFS_BLOCK_SIZE, 8192), -EIO);
	CHECK_EQ(hfs_read(vol, f1, buf, HFS_BLOCK_SIZE, 12288), HFS_BLOCK_SIZE);
	CHECK_EQ(hfs_unlink(vol, dir, "f1"), 0);
	CHECK_EQ(hfs_alloc_reserve(&vol->alloc, (off + 8192) / HFS_BLOCK_SIZE, 1),
		 -EEXIST);
	CHECK_EQ(hfs_alloc_reserve(&vol->alloc, off / HFS_BLOCK_SIZE, 1), 0);
	hfs_alloc_put(&vol->alloc, off / HFS_BLOCK_SIZE, 1);

	/* shutdown: the root answers (getattr, open, readdir: ls works),
	 * statfs answers, the rest EIO */
	hfs_vol_shutdown(vol);
	CHECK(hfs_vol_is_shutdown(vol));
	CHECK_EQ(hfs_getattr(vol, HFS_ROOT_INO, &a), 0);
	CHECK_EQ(hfs_statfs(vol, &sv), 0);
	CHECK_EQ(hfs_open(vol, HFS_ROOT_INO), 0);
	{
		int names = 0;

		CHECK_EQ(hfs_readdir(vol, HFS_ROOT_INO, 0, false, count_names,
				     &names), 0);
		CHECK(names >= 3); /* ".", "..", and the files */
	}
	hfs_release(vol, HFS_ROOT_INO);
	CHECK_EQ(hfs_readdir(vol, dir, 0, false, count_names, &(int){ 0 }),
		 -EIO);
	CHECK_EQ(hfs_getattr(vol, f2, &a), -EIO);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "f2", &a), -EIO);
	CHECK_EQ(hfs_read(vol, f2, buf, 10, 0), -EIO);
	CHECK_EQ(hfs_vol_close(vol), -EIO);
	vol = mount_vol(rg); /* nothing half-written */
	CHECK_EQ(hfs_read(vol, f2, buf, FSZ, 0), FSZ);
	CHECK(!memcmp(buf, d2, FSZ));
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);

	vol = fresh_vol(&mem, &rg);
	test_paths(&vol, rg);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);

	vol = fresh_vol(&mem, &rg);
	test_one_rmap_read(vol);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);

	vol = fresh_vol(&mem, &rg);
	test_kernel_readable(vol);
	CHECK_EQ(hfs_vol_close(vol), -EIO); /* it ends shut down */
	hfs_region_close(rg);
	free(mem);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
