/* SPDX-License-Identifier: MIT */
/*
 * Volume operations on a region in a malloc'd buffer: namespace, data,
 * remount persistence, journal replay of a committed-but-unapplied
 * transaction, allocator behaviour, and a 100k-entry directory.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/xattr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media.h"
#include "mkfs.h"
#include "acl_i.h"
#include "inode_i.h"
#include "rmap_i.h"
#include "vol_i.h"
#include "xattr_i.h"

#include "check.h"

#define REGION_SIZE (64u << 20)

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

static struct hfs_region *make_region_sized(void **mem, uint64_t size,
					   uint64_t inodes)
{
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t", .inode_count = inodes };

	*mem = calloc(1, size);
	if (!*mem || hfs_region_from_memory(*mem, size, &rg))
		abort();
	if (hfs_mkfs(rg, &o, &res, &err)) {
		fprintf(stderr, "mkfs: %s\n", err.msg);
		abort();
	}
	return rg;
}

static struct hfs_region *make_region(void **mem)
{
	return make_region_sized(mem, REGION_SIZE, 0);
}

static struct hfs_vol *mount_vol(struct hfs_region *rg, struct hfs_vol_info *info)
{
	struct hfs_vol *vol = NULL;
	struct hfs_err err = { 0 };
	int ret = hfs_vol_open(rg, NULL, &vol, info, &err);

	if (ret) {
		fprintf(stderr, "mount: %s\n", err.msg);
		abort();
	}
	return vol;
}

struct rmap_walk {
	uint64_t ino, lblk, blocks;
	int bad;
};

static int rmap_piece_ok(void *ctx, const struct hfs_rmap_piece *p)
{
	struct rmap_walk *w = ctx;

	if (p->ino != w->ino || (w->lblk != UINT64_MAX && p->lblk != w->lblk))
		w->bad++;
	if (w->lblk != UINT64_MAX)
		w->lblk += p->len;
	w->blocks += p->len;
	return 0;
}

static int count_piece(void *ctx, const struct hfs_rmap_piece *p)
{
	*(uint64_t *)ctx -= p->len;
	return 0;
}

/* Every block an inode names is in the rmap under that inode and file
 * block, and the rmap holds exactly the used blocks. */
static void check_rmap(struct hfs_vol *vol)
{
	uint64_t named = 0, left;

	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm; ino++) {
		struct hfs_inode *ip = vol->itab[ino];

		if (!ip)
			continue;
		for (uint32_t i = 0; i < ip->em.n; i++) {
			const struct hfs_extent *e = &ip->em.v[i];
			struct rmap_walk w = { ino, e->e_lblk, 0, 0 };

			hfs_rmap_query(vol->rmap, e->e_pblk, e->e_len,
				       rmap_piece_ok, &w);
			CHECK_EQ(w.bad, 0);
			CHECK_EQ(w.blocks, e->e_len);
			named += e->e_len;
		}
		named += ip->em.nchain + hfs_xattr_blocks(ip);
	}
	left = named;
	CHECK_EQ(hfs_rmap_query(vol->rmap, 0, UINT64_MAX / 2, count_piece,
				&left), 0);
	CHECK_EQ(left, 0); /* the rmap holds exactly the named blocks */
	CHECK_EQ(vol->sb.s_pool_blocks - vol->alloc.free_blocks, named);
}

static uint64_t mkfile(struct hfs_vol *vol, uint64_t dir, const char *name)
{
	struct hfs_attr a;
	int ret = hfs_mknod(vol, dir, name, S_IFREG | 0644, 0, &root_cred, &a);

	CHECK_EQ(ret, 0);
	return ret ? 0 : a.ino;
}

static void test_namespace(struct hfs_vol *vol)
{
	struct hfs_attr a, d;
	char buf[64];

	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755, &root_cred, &d), 0);
	CHECK_EQ(d.nlink, 2);
	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755, &root_cred, &a), -EEXIST);
	mkfile(vol, d.ino, "f");
	CHECK_EQ(hfs_lookup(vol, d.ino, "f", &a), 0);
	CHECK_EQ(hfs_link(vol, a.ino, HFS_ROOT_INO, "hard", &a), 0);
	CHECK_EQ(a.nlink, 2);
	CHECK_EQ(hfs_rmdir(vol, HFS_ROOT_INO, "d"), -ENOTEMPTY);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "d"), -EISDIR);
	CHECK_EQ(hfs_symlink(vol, HFS_ROOT_INO, "sl", "d/f", &root_cred, &a), 0);
	CHECK_EQ(hfs_readlink(vol, a.ino, buf, sizeof(buf)), 3);
	CHECK(!strcmp(buf, "d/f"));
	CHECK_EQ(hfs_rename(vol, d.ino, "f", HFS_ROOT_INO, "g", 0, NULL), 0);
	CHECK_EQ(hfs_lookup(vol, d.ino, "f", &a), -ENOENT);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "d", d.ino, "x", 0, NULL), -EINVAL);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "g", HFS_ROOT_INO, "hard",
			    RENAME_NOREPLACE, NULL), -EEXIST);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "g", HFS_ROOT_INO, "d",
			    RENAME_EXCHANGE, NULL), 0);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "g", &a), 0);
	CHECK(S_ISDIR(a.mode));
	CHECK_EQ(hfs_rmdir(vol, HFS_ROOT_INO, "g"), 0);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "d"), 0);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "hard", &a), 0);
	CHECK_EQ(a.nlink, 1);
}

/* "." of any node id, as the kernel asks when it decodes a file handle:
 * the inode itself while it has a name; a free, unlinked, forged or out
 * of range number is ENOENT (the kernel's ESTALE), never another inode;
 * a reused slot answers with its new generation. */
static void test_handle_lookup(struct hfs_vol *vol)
{
	struct hfs_attr a, b;
	uint64_t ino = mkfile(vol, HFS_ROOT_INO, "h");
	uint64_t gen;

	CHECK_EQ(hfs_lookup(vol, ino, ".", &a), 0);
	CHECK_EQ(a.ino, ino);
	gen = a.generation;
	hfs_forget(vol, ino, 2); /* mkfile's reference and this one */
	CHECK_EQ(hfs_lookup(vol, ino, "..", &a), -ENOTDIR);
	CHECK_EQ(hfs_lookup(vol, 0, ".", &a), -ENOENT);
	CHECK_EQ(hfs_lookup(vol, UINT64_MAX, ".", &a), -ENOENT);
	CHECK_EQ(hfs_lookup(vol, (uint64_t)1 << 40, ".", &a), -ENOENT);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, ".", &a), 0);
	CHECK_EQ(a.ino, (uint64_t)HFS_ROOT_INO);
	hfs_forget(vol, HFS_ROOT_INO, 1);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "h"), 0);
	CHECK_EQ(hfs_lookup(vol, ino, ".", &a), -ENOENT);
	/* the slot is reused (most recently freed first) with a new
	 * generation */
	CHECK_EQ(hfs_mknod(vol, HFS_ROOT_INO, "h2", S_IFREG | 0644, 0,
			   &root_cred, &b), 0);
	CHECK_EQ(b.ino, ino);
	CHECK(b.generation != gen);
	CHECK_EQ(hfs_lookup(vol, ino, ".", &a), 0);
	CHECK_EQ(a.generation, b.generation);
	hfs_forget(vol, ino, 2);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "h2"), 0);
}

static void test_data(struct hfs_vol *vol)
{
	static char big[300000], back[300000];
	uint64_t ino = mkfile(vol, HFS_ROOT_INO, "data"), pos;
	struct hfs_attr a;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	CHECK_EQ(hfs_write(vol, ino, big, sizeof(big), 1000), sizeof(big));
	CHECK_EQ(hfs_read(vol, ino, back, sizeof(back), 1000), sizeof(back));
	CHECK(!memcmp(big, back, sizeof(big)));
	CHECK_EQ(hfs_read(vol, ino, back, 1000, 0), 1000);
	CHECK(back[0] == 0 && back[999] == 0);
	/* sparse far away, holes read zero, SEEK_DATA/HOLE */
	CHECK_EQ(hfs_write(vol, ino, "xyz", 3, 5ull << 30), 3);
	CHECK_EQ(hfs_getattr(vol, ino, &a), 0);
	CHECK_EQ(a.size, (5ull << 30) + 3);
	CHECK_EQ(hfs_read(vol, ino, back, 10, (5ull << 30) - 7), 10);
	CHECK(!memcmp(back, "\0\0\0\0\0\0\0xyz", 10));
	CHECK_EQ(hfs_lseek(vol, ino, 400000, SEEK_DATA, &pos), 0);
	CHECK_EQ(pos, (5ull << 30) / 4096 * 4096);
	CHECK_EQ(hfs_lseek(vol, ino, 0, SEEK_HOLE, &pos), 0);
	CHECK_EQ(pos, 303104); /* end of the block holding byte 301000 */
	/* truncate down then up: the tail reads zeros */
	struct hfs_setattr sa = { .mask = HFS_SET_SIZE, .size = 2000 };
	CHECK_EQ(hfs_setattr(vol, ino, &sa, &a), 0);
	sa.size = 10000;
	CHECK_EQ(hfs_setattr(vol, ino, &sa, &a), 0);
	CHECK_EQ(hfs_read(vol, ino, back, 10000, 0), 10000);
	CHECK(!memcmp(back + 1000, big, 1000));
	for (int i = 2000; i < 10000; i++)
		if (back[i]) {
			CHECK(!"stale byte past old EOF");
			break;
		}
	/* punch */
	CHECK_EQ(hfs_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 8192), 0);
	CHECK_EQ(hfs_read(vol, ino, back, 10000, 0), 10000);
	CHECK(back[1500] == 0 && back[8191] == 0);
}

static void test_xattr(struct hfs_vol *vol)
{
	uint64_t ino = mkfile(vol, HFS_ROOT_INO, "xa");
	char buf[64];

	CHECK_EQ(hfs_setxattr(vol, ino, "user.k", "v1", 2, 0), 0);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.k", buf, sizeof(buf)), 2);
	CHECK_EQ(hfs_setxattr(vol, ino, "user.k", "v2", 2, XATTR_CREATE), -EEXIST);
	CHECK_EQ(hfs_removexattr(vol, ino, "user.k"), 0);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.k", buf, sizeof(buf)), -ENODATA);
	CHECK_EQ(hfs_setxattr(vol, ino, "user.keep", "yes", 3, 0), 0);
}

static void test_remount(struct hfs_region *rg)
{
	struct hfs_vol_info info;
	struct hfs_vol *vol = mount_vol(rg, &info);
	struct hfs_attr a;
	char buf[8];

	CHECK(info.was_clean);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "data", &a), 0);
	CHECK_EQ(a.size, 10000);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "hard", &a), 0);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "xa", &a), 0);
	CHECK_EQ(hfs_getxattr(vol, a.ino, "user.keep", buf, sizeof(buf)), 3);
	CHECK_EQ(hfs_vol_close(vol), 0);
}

/* A committed transaction whose home writes never happened must be
 * applied by the next mount. */
static void test_replay(struct hfs_region *rg)
{
	struct hfs_vol *vol = mount_vol(rg, NULL);
	struct hfs_vol_info info;
	struct hfs_attr a;
	void *saved = malloc(REGION_SIZE);

	memcpy(saved, rg->base, REGION_SIZE);
	mkfile(vol, HFS_ROOT_INO, "replayed");
	/* keep the journal, roll every home location back */
	{
		uint64_t jo = vol->sb.s_journal_off;
		uint64_t jl = vol->sb.s_journal_blocks * HFS_BLOCK_SIZE;

		memcpy((uint8_t *)saved + jo, rg->base + jo, jl);
	}
	memcpy(rg->base, saved, REGION_SIZE);
	free(saved);
	/* drop the DRAM volume without writing anything */
	vol->failed = true;
	hfs_vol_close(vol);
	vol = mount_vol(rg, &info);
	CHECK(info.replayed);
	CHECK(!info.was_clean);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "replayed", &a), 0);
	CHECK_EQ(hfs_vol_close(vol), 0);
}

static void test_big_dir(void)
{
	void *mem;
	struct hfs_region *rg = make_region_sized(&mem, 128u << 20, 110000);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	struct hfs_attr d, a;
	char name[32];
	int n = 100000;

	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "big", 0755, &root_cred, &d), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06d", i);
		int ret = hfs_mknod(vol, d.ino, name, S_IFREG | 0644, 0,
				    &root_cred, &a);

		if (ret) {
			fprintf(stderr, "create %s: %s\n", name, strerror(-ret));
			CHECK(!"create in big dir failed");
			break;
		}
	}
	CHECK_EQ(hfs_lookup(vol, d.ino, "f054321", &a), 0);
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL);
	CHECK_EQ(hfs_lookup(vol, d.ino, "f099999", &a), 0);
	CHECK_EQ(hfs_unlink(vol, d.ino, "f000000"), 0);
	CHECK_EQ(hfs_lookup(vol, d.ino, "f000000", &a), -ENOENT);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

static void test_enospc(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	static char chunk[1 << 20];
	uint64_t ino = mkfile(vol, HFS_ROOT_INO, "fill");
	ssize_t r = 0;
	uint64_t off = 0;
	struct statvfs st;

	memset(chunk, 0xab, sizeof(chunk));
	while ((r = hfs_write(vol, ino, chunk, sizeof(chunk), off)) > 0)
		off += (uint64_t)r;
	CHECK_EQ(r, -ENOSPC);
	CHECK(off > (32u << 20));
	CHECK_EQ(hfs_statfs(vol, &st), 0);
	CHECK(st.f_bfree < 300);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "fill"), 0);
	hfs_forget(vol, ino, 1);
	CHECK_EQ(hfs_statfs(vol, &st), 0);
	CHECK(st.f_bfree > st.f_blocks - 100);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

/* Many xattrs on one inode (a chain of xattr blocks), values up to the
 * VFS's 64 KiB in value blocks, replace/remove, the Linux errnos, the
 * name-list limit, a full region, space given back (also when an
 * unlinked inode goes), persistence and the rmap after each step. */
static void xa_pat(char *v, int i, size_t len)
{
	for (size_t k = 0; k < len; k++)
		v[k] = (char)(i * 31 + (int)k * 7 + 1);
}

static void check_many(struct hfs_vol *vol, uint64_t ino, int n, int skip2)
{
	char name[32], want[24], got[64];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		ssize_t r;

		snprintf(name, sizeof(name), "user.attr%04d", i);
		xa_pat(want, i, sizeof(want));
		r = hfs_getxattr(vol, ino, name, got, sizeof(got));
		if (skip2 && i % 2)
			bad += r != -ENODATA;
		else
			bad += r != (ssize_t)sizeof(want) ||
			       memcmp(got, want, sizeof(want));
	}
	CHECK_EQ(bad, 0);
}

static void test_xattr_many(void)
{
	enum { N = 1200, BIG = 65536 };
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	static char big[BIG + 8], back[BIG + 1], list[N * 16];
	uint64_t ino = mkfile(vol, HFS_ROOT_INO, "many"), ino2;
	struct statvfs st0, st;
	struct hfs_attr a;
	char name[300], v[24];
	size_t want = 0;
	ssize_t r;
	int ret = 0;

	CHECK(vol->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_XATTR_CHAIN);
	CHECK_EQ(hfs_statfs(vol, &st0), 0);
	for (int i = 0; i < N && !ret; i++) {
		snprintf(name, sizeof(name), "user.attr%04d", i);
		xa_pat(v, i, sizeof(v));
		ret = hfs_setxattr(vol, ino, name, v, sizeof(v), XATTR_CREATE);
		want += strlen(name) + 1;
	}
	CHECK_EQ(ret, 0);
	CHECK(hfs_xattr_blocks(vol->itab[ino]) > 5);
	check_many(vol, ino, N, 0);
	CHECK_EQ(hfs_listxattr(vol, ino, NULL, 0), (ssize_t)want);
	CHECK_EQ(hfs_listxattr(vol, ino, list, want - 1), -ERANGE);
	CHECK_EQ(hfs_listxattr(vol, ino, list, sizeof(list)), (ssize_t)want);
	CHECK(!memcmp(list, "user.attr0000", 14));
	CHECK_EQ(hfs_setxattr(vol, ino, "user.attr0007", v, 3, XATTR_CREATE),
		 -EEXIST);
	CHECK_EQ(hfs_setxattr(vol, ino, "user.nope", v, 3, XATTR_REPLACE),
		 -ENODATA);
	check_rmap(vol);

	/* 64 KiB: the VFS limit; one byte more is E2BIG */
	for (int i = 0; i <= BIG; i++)
		big[i] = (char)(i * 13 + i / 4093);
	CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big, BIG + 1, 0), -E2BIG);
	CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big, BIG, 0), 0);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", NULL, 0), BIG);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", back, BIG - 1), -ERANGE);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", back, sizeof(back)), BIG);
	CHECK(!memcmp(back, big, BIG));
	check_rmap(vol);
	/* replace: smaller out of line, then inline, then large again */
	CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big + 1, 10000,
			      XATTR_REPLACE), 0);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", back, sizeof(back)),
		 10000);
	CHECK(!memcmp(back, big + 1, 10000));
	CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big + 2, 100, 0), 0);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", back, sizeof(back)), 100);
	CHECK(!memcmp(back, big + 2, 100));
	CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big + 3, BIG, 0), 0);
	check_rmap(vol);
	/* remove every other small one */
	for (int i = 1; i < N; i += 2) {
		snprintf(name, sizeof(name), "user.attr%04d", i);
		ret |= hfs_removexattr(vol, ino, name);
	}
	CHECK_EQ(ret, 0);
	check_many(vol, ino, N, 1);
	check_rmap(vol);

	/* persistence */
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL);
	check_rmap(vol);
	check_many(vol, ino, N, 1);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.big", back, sizeof(back)), BIG);
	CHECK(!memcmp(back, big + 3, BIG));

	/* removing everything gives every block back */
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "user.attr%04d", i);
		ret |= hfs_removexattr(vol, ino, name);
	}
	CHECK_EQ(hfs_removexattr(vol, ino, "user.big"), 0);
	CHECK_EQ(ret, 0);
	CHECK(vol->itab[ino]->xattr == NULL);
	CHECK_EQ(vol->itab[ino]->d.i_xattr_blk, 0);
	CHECK_EQ(hfs_statfs(vol, &st), 0);
	CHECK_EQ(st.f_bfree, st0.f_bfree);

	/* an unlinked inode still open keeps its xattrs until it goes */
	ino2 = mkfile(vol, HFS_ROOT_INO, "gone");
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "gone", &a), 0);
	CHECK_EQ(hfs_open(vol, ino2), 0);
	for (int i = 0; i < 300 && !ret; i++) {
		snprintf(name, sizeof(name), "user.g%04d", i);
		ret = hfs_setxattr(vol, ino2, name, big, 40, 0);
	}
	CHECK_EQ(hfs_setxattr(vol, ino2, "user.big", big, BIG, 0), 0);
	CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "gone"), 0);
	CHECK_EQ(hfs_getxattr(vol, ino2, "user.big", back, sizeof(back)), BIG);
	hfs_release(vol, ino2);
	hfs_forget(vol, ino2, 2);
	CHECK_EQ(hfs_statfs(vol, &st), 0);
	CHECK_EQ(st.f_bfree, st0.f_bfree);
	check_rmap(vol);

	/* the names must fit one listxattr answer (XATTR_LIST_MAX) */
	ino2 = mkfile(vol, HFS_ROOT_INO, "names");
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[255] = 0;
	for (int i = 0; i < 256; i++) {
		snprintf(name + 5, 5, "%04d", i);
		name[9] = 'n';
		CHECK_EQ(hfs_setxattr(vol, ino2, name, "", 0, 0), 0);
	}
	snprintf(name + 5, 5, "%04d", 256);
	name[9] = 'n';
	CHECK_EQ(hfs_setxattr(vol, ino2, name, "", 0, 0), -ENOSPC);
	CHECK_EQ(hfs_listxattr(vol, ino2, NULL, 0), 65536);

	/* a full region: refused with nothing changed, works once freed */
	{
		static char chunk[1 << 20];
		uint64_t f = mkfile(vol, HFS_ROOT_INO, "fill"), off = 0;

		while ((r = hfs_write(vol, f, chunk, sizeof(chunk), off)) > 0)
			off += (uint64_t)r;
		do {
			r = hfs_write(vol, f, chunk, 4096, off);
			off += r > 0 ? (uint64_t)r : 0;
		} while (r > 0);
		CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big, BIG, 0),
			 -ENOSPC);
		CHECK_EQ(hfs_getxattr(vol, ino, "user.big", NULL, 0), -ENODATA);
		ret = 0;
		for (int i = 0; i < 2000 && !ret; i++) {
			snprintf(name, sizeof(name), "user.full%04d", i);
			ret = hfs_setxattr(vol, ino, name, big, 200, 0);
		}
		CHECK_EQ(ret, -ENOSPC);
		check_rmap(vol);
		CHECK_EQ(hfs_unlink(vol, HFS_ROOT_INO, "fill"), 0);
		hfs_forget(vol, f, 1);
		CHECK_EQ(hfs_setxattr(vol, ino, "user.big", big, BIG, 0), 0);
	}
	check_rmap(vol);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

/* A filesystem made before XATTR_CHAIN (the bit clear) keeps the old
 * layout until a change needs the new one; that change sets the bit in
 * its own transaction. */
static void test_xattr_upgrade(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_super *sb = mem;
	struct hfs_vol *vol;
	static char big[8000];
	uint64_t ino;

	sb->s_feat_incompat &= ~HFS_FEAT_INCOMPAT_XATTR_CHAIN;
	hfs_super_set_crc(sb);
	vol = mount_vol(rg, NULL);
	ino = mkfile(vol, HFS_ROOT_INO, "old");
	CHECK_EQ(hfs_setxattr(vol, ino, "user.a", big, 4000, 0), 0);
	CHECK(!(vol->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_XATTR_CHAIN));
	CHECK(!(sb->s_feat_incompat & HFS_FEAT_INCOMPAT_XATTR_CHAIN));
	CHECK_EQ(hfs_setxattr(vol, ino, "user.b", big, 8000, 0), 0);
	CHECK(sb->s_feat_incompat & HFS_FEAT_INCOMPAT_XATTR_CHAIN);
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL);
	CHECK_EQ(hfs_getxattr(vol, ino, "user.b", big, sizeof(big)), 8000);
	check_rmap(vol);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

/* RENAME_WHITEOUT: the source name becomes a character device 0:0 of mode
 * 0 owned by the caller (the group of a setgid directory), as tmpfs and
 * ext4 make it; with no inode left the rename is refused before anything
 * changes, and the volume stays usable. */
static void test_whiteout(void)
{
	void *mem;
	struct hfs_region *rg = make_region_sized(&mem, REGION_SIZE, 16);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	const struct hfs_cred user = { 1000, 1000, 022, NULL, 0 };
	const struct hfs_cred grp = { 0, 777, 0, NULL, 0 };
	struct hfs_attr a, d, f;
	char n[32];
	int ret = 0;

	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "sg", 02777, &grp, &d), 0);
	CHECK_EQ(hfs_mknod(vol, d.ino, "a", S_IFREG | 0644, 0, &user, &f), 0);
	CHECK_EQ(hfs_rename(vol, d.ino, "a", HFS_ROOT_INO, "b",
			    RENAME_WHITEOUT, &user), 0);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "b", &a), 0);
	CHECK_EQ(a.ino, f.ino);
	CHECK_EQ(hfs_lookup(vol, d.ino, "a", &a), 0);
	CHECK_EQ(a.mode, S_IFCHR);
	CHECK_EQ(a.rdev, 0);
	CHECK_EQ(a.uid, 1000);
	CHECK_EQ(a.gid, 777);
	CHECK_EQ(a.nlink, 1);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "b", d.ino, "a",
			    RENAME_WHITEOUT | RENAME_EXCHANGE, &user), -EINVAL);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "b", d.ino, "a",
			    RENAME_WHITEOUT | RENAME_NOREPLACE, &user), -EEXIST);
	/* use up the inodes, then a whiteout cannot be made */
	for (int i = 0; !ret; i++) {
		snprintf(n, sizeof(n), "fill%d", i);
		ret = hfs_mknod(vol, HFS_ROOT_INO, n, S_IFREG | 0644, 0,
				&root_cred, &a);
	}
	CHECK_EQ(ret, -ENOSPC);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "b", HFS_ROOT_INO, "c",
			    RENAME_WHITEOUT, &user), -ENOSPC);
	CHECK(!vol->failed);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "b", &a), 0);
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "c", &a), -ENOENT);
	CHECK_EQ(hfs_rename(vol, HFS_ROOT_INO, "b", HFS_ROOT_INO, "c", 0,
			    NULL), 0);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

/* Set ino's atime, mtime and ctime to now minus the given seconds. */
static void set_times(struct hfs_vol *vol, uint64_t ino, long a, long m,
		      long c)
{
	struct hfs_setattr sa = { .mask = HFS_SET_ATIME | HFS_SET_MTIME |
					  HFS_SET_CTIME };
	struct hfs_attr out;
	time_t now = time(NULL);

	sa.atime.tv_sec = now - a;
	sa.mtime.tv_sec = now - m;
	sa.ctime.tv_sec = now - c;
	CHECK_EQ(hfs_setattr(vol, ino, &sa, &out), 0);
}

/* hfs_accessed moved the atime of ino to about now */
static bool atime_moved(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_attr a;

	CHECK_EQ(hfs_accessed(vol, ino), 0);
	CHECK_EQ(hfs_getattr(vol, ino, &a), 0);
	return a.atime.tv_sec >= time(NULL) - 5;
}

/* The relatime rule (the kernel's relatime_need_update), including the
 * day rule a mounted test cannot reach (utime sets ctime to now), and
 * the other policies; ctime never moves. */
static void test_atime(void)
{
	static const struct {
		enum hfs_atime pol;
		bool nodiratime;
		long a, m, c;   /* seconds ago */
		bool dir, moved;
	} t[] = {
		{ HFS_ATIME_RELATIME, false, 100, 200, 300, false, false },
		{ HFS_ATIME_RELATIME, false, 200, 100, 300, false, true },
		{ HFS_ATIME_RELATIME, false, 200, 300, 100, false, true },
		{ HFS_ATIME_RELATIME, false, 200, 200, 300, false, true },
		{ HFS_ATIME_RELATIME, false, 86400, 90000, 90000, false, true },
		{ HFS_ATIME_RELATIME, false, 86300, 90000, 90000, false, false },
		{ HFS_ATIME_RELATIME, false, 200, 100, 300, true, true },
		{ HFS_ATIME_RELATIME, true, 200, 100, 300, true, false },
		{ HFS_ATIME_RELATIME, true, 200, 100, 300, false, true },
		{ HFS_ATIME_STRICT, false, 100, 200, 300, false, true },
		{ HFS_ATIME_STRICT, false, 100, 200, 300, true, true },
		{ HFS_ATIME_NEVER, false, 200, 100, 100, false, false },
		{ HFS_ATIME_NEVER, false, 90000, 100, 100, true, false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		void *mem;
		struct hfs_region *rg = make_region(&mem);
		struct hfs_vol_opts o = { .atime = t[i].pol,
					  .nodiratime = t[i].nodiratime };
		struct hfs_vol *vol = NULL;
		struct hfs_err err = { 0 };
		struct hfs_attr a, b;
		uint64_t ino;

		CHECK_EQ(hfs_vol_open(rg, &o, &vol, NULL, &err), 0);
		if (t[i].dir) {
			CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755,
					   &root_cred, &a), 0);
			ino = a.ino;
		} else {
			ino = mkfile(vol, HFS_ROOT_INO, "f");
		}
		set_times(vol, ino, t[i].a, t[i].m, t[i].c);
		CHECK_EQ(hfs_getattr(vol, ino, &a), 0);
		if (atime_moved(vol, ino) != t[i].moved)
			fprintf(stderr, "test_atime: row %zu\n", i),
				failures++;
		CHECK_EQ(hfs_getattr(vol, ino, &b), 0);
		CHECK_EQ(b.ctime.tv_sec, a.ctime.tv_sec);
		CHECK_EQ(hfs_vol_close(vol), 0);
		hfs_region_close(rg);
		free(mem);
	}
}

/* A POSIX ACL xattr value: version 2, then (tag, perm, id) entries. */
static size_t acl_value(uint8_t *v, const uint16_t (*e)[3], size_t n)
{
	uint32_t ver = htole32(2);

	memcpy(v, &ver, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = htole16(e[i][0]), perm = htole16(e[i][1]);
		uint32_t id = htole32(e[i][2]);

		memcpy(v + 4 + i * 8, &tag, 2);
		memcpy(v + 4 + i * 8 + 2, &perm, 2);
		memcpy(v + 4 + i * 8 + 4, &id, 4);
	}
	return 4 + n * 8;
}

static uint32_t mode_of(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_attr a;

	CHECK_EQ(hfs_getattr(vol, ino, &a), 0);
	return a.mode & 07777;
}

/* POSIX ACLs through the volume (lib/acl.c): checks, the mode an access
 * ACL sets, an ACL the mode says all of is not stored, chmod rewrites
 * the ACL, default ACLs are inherited with the umask ignored, and the
 * umask applies without one. */
static void test_acl(void)
{
	static const uint16_t named[][3] = {
		{ 1, 6, 0 }, { 2, 4, 1000 }, { 4, 0, 0 }, { 0x10, 4, 0 },
		{ 0x20, 0, 0 },
	};
	static const uint16_t plain[][3] = {
		{ 1, 7, 0 }, { 4, 5, 0 }, { 0x20, 0, 0 },
	};
	static const uint16_t nomask[][3] = {
		{ 1, 6, 0 }, { 2, 4, 1000 }, { 4, 0, 0 }, { 0x20, 0, 0 },
	};
	struct hfs_cred um = { 0, 0, 022, NULL, 0 };
	uint8_t v[256], got[256];
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	struct hfs_setattr sa = { .mask = HFS_SET_MODE, .mode = 0750 };
	struct hfs_attr a;
	uint64_t f = mkfile(vol, HFS_ROOT_INO, "af"), d;
	size_t n;

	n = acl_value(v, nomask, 4);
	CHECK_EQ(hfs_setxattr(vol, f, HFS_ACL_ACCESS, v, n, 0), -EINVAL);
	n = acl_value(v, named, 5);
	CHECK_EQ(hfs_setxattr(vol, f, HFS_ACL_ACCESS, v, n, 0), 0);
	CHECK_EQ(mode_of(vol, f), 0640);
	CHECK_EQ(hfs_setxattr(vol, f, HFS_ACL_DEFAULT, v, n, 0), -EACCES);
	CHECK_EQ(hfs_setattr(vol, f, &sa, &a), 0);
	CHECK_EQ(hfs_getxattr(vol, f, HFS_ACL_ACCESS, got, sizeof(got)),
		 (ssize_t)n);
	CHECK_EQ(got[4 + 2], 7);          /* owner rwx */
	CHECK_EQ(got[4 + 3 * 8 + 2], 5);  /* the mask takes the group bits */
	CHECK_EQ(got[4 + 4 * 8 + 2], 0);
	n = acl_value(v, plain, 3);
	CHECK_EQ(hfs_setxattr(vol, f, HFS_ACL_ACCESS, v, n, 0), 0);
	CHECK_EQ(mode_of(vol, f), 0750);
	CHECK_EQ(hfs_getxattr(vol, f, HFS_ACL_ACCESS, got, sizeof(got)),
		 -ENODATA);
	/* inheritance */
	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "ad", 0755, &root_cred, &a), 0);
	d = a.ino;
	CHECK_EQ(hfs_mknod(vol, d, "plain", S_IFREG | 0666, 0, &um, &a), 0);
	CHECK_EQ(a.mode & 07777, 0644);
	n = acl_value(v, named, 5);
	CHECK_EQ(hfs_setxattr(vol, d, HFS_ACL_DEFAULT, v, n, 0), 0);
	CHECK_EQ(hfs_mknod(vol, d, "inh", S_IFREG | 0666, 0, &um, &a), 0);
	CHECK_EQ(a.mode & 07777, 0640);   /* the ACL's bits, not the umask's */
	CHECK_EQ(hfs_getxattr(vol, a.ino, HFS_ACL_ACCESS, got, sizeof(got)),
		 (ssize_t)n);
	CHECK_EQ(hfs_getxattr(vol, a.ino, HFS_ACL_DEFAULT, got, sizeof(got)),
		 -ENODATA);
	CHECK_EQ(hfs_mkdir(vol, d, "sub", 0777, &um, &a), 0);
	CHECK_EQ(hfs_getxattr(vol, a.ino, HFS_ACL_DEFAULT, got, sizeof(got)),
		 (ssize_t)n);
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL); /* persisted */
	CHECK_EQ(hfs_lookup(vol, HFS_ROOT_INO, "ad", &a), 0);
	CHECK_EQ(hfs_getxattr(vol, a.ino, HFS_ACL_DEFAULT, got, sizeof(got)),
		 (ssize_t)n);
	hfs_forget(vol, a.ino, 1);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

/* Attribute flags (lib/iflags.c): who may set them, and what each
 * refuses, through the volume's own checks (the daemon's callers are
 * checked by the kernel first). */
static void test_iflags(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol *vol = mount_vol(rg, NULL);
	const struct hfs_flags_caller root = { 0, true, true };
	const struct hfs_flags_caller owner = { 1000, false, false };
	const struct hfs_flags_caller stranger = { 2000, false, true };
	const struct hfs_cred user = { 1000, 1000, 0, NULL, 0 };
	struct hfs_setattr sa = { .mask = HFS_SET_MODE, .mode = 0600 };
	struct hfs_attr a, d;
	uint64_t f, g, off;
	uint32_t fl = 99;

	CHECK_EQ(hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755, &root_cred, &d), 0);
	CHECK_EQ(hfs_mknod(vol, d.ino, "f", S_IFREG | 0644, 0, &user, &a), 0);
	f = a.ino;
	g = mkfile(vol, d.ino, "g");
	CHECK_EQ(hfs_write(vol, g, "0123", 4, 0), 4);
	CHECK_EQ(hfs_write(vol, f, "hello", 5, 0), 5);
	CHECK_EQ(hfs_getflags(vol, f, &fl), 0);
	CHECK_EQ(fl, 0);
	CHECK_EQ(vol->sb.s_feat_ro_compat & HFS_FEAT_RO_COMPAT_IFLAGS, 0);
	/* who */
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_NODUMP, &stranger, NULL), -EPERM);
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_APPEND, &owner, NULL), -EPERM);
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_NODUMP, &owner, &a), 0);
	CHECK_EQ(a.flags, HFS_IF_NODUMP);
	CHECK(vol->sb.s_feat_ro_compat & HFS_FEAT_RO_COMPAT_IFLAGS);
	CHECK_EQ(hfs_setflags(vol, f, 0x80, &root, NULL), -EOPNOTSUPP);
	/* append-only */
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_APPEND, &root, NULL), 0);
	CHECK_EQ(hfs_write(vol, f, "x", 1, 0), -EPERM);
	CHECK_EQ(hfs_write(vol, f, "x", 1, 5), 1);
	off = 0; /* pwritev2(RWF_NOAPPEND) on an O_APPEND descriptor */
	CHECK_EQ(hfs_append(vol, f, "y", 1, &off), -EPERM);
	off = 6;
	CHECK_EQ(hfs_append(vol, f, "y", 1, &off), 1);
	CHECK_EQ(hfs_setattr(vol, f, &sa, &a), -EPERM);
	CHECK_EQ(hfs_fallocate(vol, f, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 0, 4096), -EPERM);
	CHECK_EQ(hfs_fallocate(vol, f, FALLOC_FL_KEEP_SIZE, 0, 8192), 0);
	CHECK_EQ(hfs_setxattr(vol, f, "user.a", "1", 1, 0), -EPERM);
	CHECK_EQ(hfs_copy_range(vol, g, 0, f, 0, 1), -EPERM);
	CHECK_EQ(hfs_open_flags(vol, f, O_WRONLY), -EPERM);
	CHECK_EQ(hfs_open_flags(vol, f, O_WRONLY | O_APPEND), 0);
	hfs_release(vol, f);
	CHECK_EQ(hfs_unlink(vol, d.ino, "f"), -EPERM);
	CHECK_EQ(hfs_link(vol, f, HFS_ROOT_INO, "l", &a), -EPERM);
	CHECK_EQ(hfs_rename(vol, d.ino, "f", d.ino, "f2", 0, NULL), -EPERM);
	CHECK_EQ(hfs_rename(vol, d.ino, "g", d.ino, "f", 0, NULL), -EPERM);
	/* immutable; while immutable nothing else changes */
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_IMMUTABLE, &root, NULL), 0);
	CHECK_EQ(hfs_setflags(vol, f, HFS_IF_IMMUTABLE | HFS_IF_NODUMP, &root,
			      NULL), -EPERM);
	CHECK_EQ(hfs_append(vol, f, "y", 1, &off), -EPERM);
	CHECK_EQ(hfs_open_flags(vol, f, O_RDONLY), 0);
	hfs_release(vol, f);
	/* a directory: append-only takes names, loses none */
	CHECK_EQ(hfs_setflags(vol, d.ino, HFS_IF_APPEND, &root, NULL), 0);
	CHECK(mkfile(vol, d.ino, "new") != 0);
	CHECK_EQ(hfs_unlink(vol, d.ino, "new"), -EPERM);
	CHECK_EQ(hfs_setflags(vol, d.ino, HFS_IF_IMMUTABLE, &root, NULL), 0);
	CHECK_EQ(hfs_mknod(vol, d.ino, "n2", S_IFREG | 0644, 0, &root_cred,
			   &a), -EPERM);
	/* kept across a remount */
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL);
	CHECK_EQ(hfs_getflags(vol, f, &fl), 0);
	CHECK_EQ(fl, HFS_IF_IMMUTABLE);
	CHECK_EQ(hfs_getflags(vol, d.ino, &fl), 0);
	CHECK_EQ(fl, HFS_IF_IMMUTABLE);
	CHECK_EQ(hfs_getattr(vol, f, &a), 0);
	CHECK_EQ(a.size, 7);
	CHECK_EQ(hfs_setflags(vol, d.ino, 0, &root, NULL), 0);
	CHECK_EQ(hfs_setflags(vol, f, 0, &root, NULL), 0);
	CHECK_EQ(hfs_unlink(vol, d.ino, "f"), 0);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
}

int main(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol *vol = mount_vol(rg, NULL);

	test_namespace(vol);
	check_rmap(vol);
	test_handle_lookup(vol);
	check_rmap(vol);
	test_data(vol);
	check_rmap(vol);
	test_xattr(vol);
	check_rmap(vol);
	CHECK_EQ(hfs_vol_close(vol), 0);
	vol = mount_vol(rg, NULL);
	check_rmap(vol); /* rebuilt at mount */
	CHECK_EQ(hfs_vol_close(vol), 0);
	test_remount(rg);
	test_replay(rg);
	hfs_region_close(rg);
	free(mem);
	test_big_dir();
	test_enospc();
	test_xattr_many();
	test_xattr_upgrade();
	test_whiteout();
	test_atime();
	test_acl();
	test_iflags();
	if (failures) {
		fprintf(stderr, "test_vol: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_vol: ok\n");
	return 0;
}
