/* SPDX-License-Identifier: MIT */
/*
 * The populated test image (image.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "image.h"
#include "mkfs.h"
#include "vol.h"

#define XATTR_B_LEN 300

const struct image_obj image_tree[] = {
	{ "/a", O_DIR, 0, NULL },
	{ "/a/f1", O_FILE, 3 * 4096, NULL },
	{ "/a/f2", O_FILE, 5000, NULL },
	{ "/a/sub", O_DIR, 0, NULL },
	{ "/a/sub/deep", O_FILE, 100, NULL },
	{ "/big", O_SPARSE, 20, NULL },
	{ "/many", O_DIR, 0, NULL },
	{ "/link", O_SYMLINK, 0, "a/f1" },
	{ "/longlink", O_SYMLINK, 0,
	  "a/very/long/target/that/does/not/fit/in/the/inode/slot/so/it/"
	  "goes/into/a/block/of/its/own/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	{ "/x", O_FILE, 10, NULL },
	{ "/hard1", O_FILE, 20, NULL },
	{ "/a/hard2", O_HARDLINK, 0, "/hard1" },
	{ "/fifo", O_FIFO, 0, NULL },
	{ "/cdev", O_CHR, 0, NULL },
	{ "/empty", O_FILE, 0, NULL },
};
const size_t image_ntree = sizeof(image_tree) / sizeof(image_tree[0]);

#define MANY 40 /* /many/mNN: three directory blocks */

static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };

uint8_t image_pattern(const char *path, uint64_t i)
{
	uint32_t h = 2166136261u;

	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (uint8_t)(h + i * 31 + (i >> 12));
}

static void fill_pattern(const char *path, uint64_t off, uint8_t *buf,
			 size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = image_pattern(path, off + i);
}

uint64_t image_lookup(struct hfs_vol *vol, const char *path)
{
	char buf[256], *save = NULL, *tok;
	uint64_t ino = 1;
	struct hfs_attr a;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (hfs_lookup(vol, ino, tok, &a))
			return 0;
		ino = a.ino;
	}
	return ino;
}

/* Parent inode and the last component of path. */
static uint64_t parent_of(struct hfs_vol *vol, const char *path,
			  const char **name)
{
	char buf[256];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	*name = strrchr(path, '/') + 1;
	*slash = '\0';
	return buf[0] ? image_lookup(vol, buf) : 1;
}

static int write_file(struct hfs_vol *vol, uint64_t ino, const char *path,
		      uint64_t size)
{
	uint8_t buf[4096];

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		fill_pattern(path, off, buf, n);
		if (hfs_write(vol, ino, buf, n, off) != (ssize_t)n)
			return -EIO;
	}
	return 0;
}

/* Blocks at every other file block: one extent each. */
static int write_sparse(struct hfs_vol *vol, uint64_t ino, const char *path,
			uint64_t nextents)
{
	uint8_t buf[4096];

	for (uint64_t k = 0; k < nextents; k++) {
		fill_pattern(path, k * 8192, buf, sizeof(buf));
		if (hfs_write(vol, ino, buf, sizeof(buf), k * 8192) !=
		    (ssize_t)sizeof(buf))
			return -EIO;
	}
	return 0;
}

static int make_obj(struct hfs_vol *vol, const struct image_obj *o)
{
	const char *name;
	uint64_t dir = parent_of(vol, o->path, &name);
	struct hfs_attr a;
	int ret;

	switch (o->type) {
	case O_DIR:
		return hfs_mkdir(vol, dir, name, 0755, &cred, &a);
	case O_SYMLINK:
		return hfs_symlink(vol, dir, name, o->target, &cred, &a);
	case O_HARDLINK:
		return hfs_link(vol, image_lookup(vol, o->target), dir, name, &a);
	case O_FIFO:
		return hfs_mknod(vol, dir, name, S_IFIFO | 0644, 0, &cred, &a);
	case O_CHR:
		return hfs_mknod(vol, dir, name, S_IFCHR | 0600,
				 makedev(1, 3), &cred, &a);
	default:
		break;
	}
	ret = hfs_mknod(vol, dir, name, S_IFREG | 0644, 0, &cred, &a);
	if (ret)
		return ret;
	if (o->type == O_SPARSE)
		return write_sparse(vol, a.ino, o->path, o->size);
	return write_file(vol, a.ino, o->path, o->size);
}

static int populate(struct hfs_vol *vol)
{
	char xb[XATTR_B_LEN];
	int ret = 0;

	for (size_t i = 0; i < image_ntree && !ret; i++)
		ret = make_obj(vol, &image_tree[i]);
	for (int i = 0; i < MANY && !ret; i++) {
		char name[16], path[32];
		struct hfs_attr a;

		snprintf(name, sizeof(name), "m%02d", i);
		snprintf(path, sizeof(path), "/many/%s", name);
		ret = hfs_mknod(vol, image_lookup(vol, "/many"), name,
				S_IFREG | 0644, 0, &cred, &a);
		if (!ret)
			ret = write_file(vol, a.ino, path, 10);
	}
	fill_pattern("xattr", 0, (uint8_t *)xb, sizeof(xb));
	if (!ret)
		ret = hfs_setxattr(vol, image_lookup(vol, "/x"), "user.a", "1",
				   1, 0);
	if (!ret)
		ret = hfs_setxattr(vol, image_lookup(vol, "/x"), "user.b", xb,
				   sizeof(xb), 0);
	/* a chain of xattr blocks and a value in value blocks */
	for (int i = 0; i < IMAGE_XATTR_MANY && !ret; i++) {
		char name[16];

		snprintf(name, sizeof(name), "user.m%03d", i);
		ret = hfs_setxattr(vol, image_lookup(vol, "/x"), name, xb, 16,
				   0);
	}
	if (!ret) {
		static uint8_t v[IMAGE_XATTR_V_LEN];

		fill_pattern("xattr-v", 0, v, sizeof(v));
		ret = hfs_setxattr(vol, image_lookup(vol, "/x"), "user.v", v,
				   sizeof(v), 0);
	}
	/* an access ACL that says more than the mode (a named user), so it
	 * is stored: u:rw, u:1000:r, g:r, m:r, o:r */
	if (!ret) {
		static const uint8_t acl[] = {
			2, 0, 0, 0,
			0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
			0x02, 0, 4, 0, 0xe8, 0x03, 0, 0,
			0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
			0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
			0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		};

		ret = hfs_setxattr(vol, image_lookup(vol, "/x"),
				   "system.posix_acl_access", acl, sizeof(acl),
				   0);
	}
	return ret;
}

/* Write 4 KiB blocks to /fill until the pool is full. */
static int fill_pool(struct hfs_vol *vol)
{
	struct hfs_attr a;
	uint8_t buf[4096];
	int ret = hfs_mknod(vol, 1, "fill", S_IFREG | 0644, 0, &cred, &a);

	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t off = 0; !ret; off += sizeof(buf))
		if (hfs_write(vol, a.ino, buf, sizeof(buf), off) < 0)
			break;
	/* the last few blocks: one small file each, until nothing fits */
	for (int i = 0; !ret && i < 64; i++) {
		char name[16];

		snprintf(name, sizeof(name), "fill%d", i);
		if (hfs_mknod(vol, 1, name, S_IFREG | 0644, 0, &cred, &a) ||
		    hfs_write(vol, a.ino, buf, sizeof(buf), 0) < 0)
			break;
	}
	return ret;
}

int image_build(void *mem, uint64_t size, const struct image_opts *o)
{
	static const uint8_t uuid[16] = { 0x48, 0x4f, 0x4c, 0x44, 0x46, 0x53,
					  0x40, 0x00, 0x80, 1, 2, 3, 4, 5, 6, 7 };
	struct hfs_bad_extent bad = { size - 16 * 4096 - (2u << 20), 8192 };
	struct hfs_mkfs_opts mo = { .label = "fsck-test", .uuid = uuid,
				    .inode_count = o->small ? 128 : 0,
				    .dslots = o->no_dslots ? HFS_MKFS_NO_DSLOTS : 0,
				    .bad = &bad, .nbad = o->bad_range };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };
	int ret;

	if (hfs_region_from_memory(mem, size, &rg))
		return -ENOMEM;
	ret = hfs_mkfs(rg, &mo, NULL, &err);
	if (!ret)
		ret = hfs_vol_open(rg, NULL, &vol, NULL, &err);
	if (ret) {
		fprintf(stderr, "image: %s\n", err.msg);
		hfs_region_close(rg);
		return ret;
	}
	ret = populate(vol);
	if (!ret && o->fill)
		ret = fill_pool(vol);
	if (hfs_vol_close(vol) && !ret)
		ret = -EIO;
	hfs_region_close(rg);
	return ret;
}

/* ------------------------------------------------------ verification */

/* Compare [off, off + n) of the file with its pattern. */
static int verify_range(struct hfs_vol *vol, uint64_t ino, const char *path,
			uint64_t off, uint64_t n, char *why, size_t len)
{
	uint8_t buf[4096];

	while (n) {
		size_t want = n < sizeof(buf) ? n : sizeof(buf);
		ssize_t got = hfs_read(vol, ino, buf, want, off);

		if (got != (ssize_t)want) {
			snprintf(why, len, "%s: read at %llu: %zd", path,
				 (unsigned long long)off, got);
			return -1;
		}
		for (size_t i = 0; i < want; i++)
			if (buf[i] != image_pattern(path, off + i)) {
				snprintf(why, len, "%s: byte %llu differs",
					 path, (unsigned long long)(off + i));
				return -1;
			}
		off += want;
		n -= want;
	}
	return 0;
}

static int verify_data(struct hfs_vol *vol, uint64_t ino,
		       const struct image_obj *o, char *why, size_t len)
{
	if (o->type != O_SPARSE)
		return verify_range(vol, ino, o->path, 0, o->size, why, len);
	for (uint64_t k = 0; k < o->size; k++)
		if (verify_range(vol, ino, o->path, k * 8192, 4096, why, len))
			return -1;
	return 0;
}

int image_verify_obj(struct hfs_vol *vol, const struct image_obj *o,
		     char *why, size_t len)
{
	uint64_t ino = image_lookup(vol, o->path);
	struct hfs_attr a;
	char buf[4096];

	if (!ino || hfs_getattr(vol, ino, &a)) {
		snprintf(why, len, "%s: missing", o->path);
		return -1;
	}
	switch (o->type) {
	case O_DIR:
		return S_ISDIR(a.mode) ? 0 : (snprintf(why, len, "%s: not a "
					       "dir", o->path), -1);
	case O_SYMLINK:
		if (hfs_readlink(vol, ino, buf, sizeof(buf)) < 0 ||
		    strcmp(buf, o->target)) {
			snprintf(why, len, "%s: wrong target", o->path);
			return -1;
		}
		return 0;
	case O_HARDLINK:
		if (ino != image_lookup(vol, o->target) || a.nlink != 2) {
			snprintf(why, len, "%s: not linked", o->path);
			return -1;
		}
		return 0;
	case O_FIFO:
	case O_CHR:
		return (a.mode & S_IFMT) == (o->type == O_FIFO ? S_IFIFO
							       : S_IFCHR)
			       ? 0 : (snprintf(why, len, "%s: type", o->path), -1);
	default:
		if (o->type == O_FILE && a.size != o->size) {
			snprintf(why, len, "%s: size %llu", o->path,
				 (unsigned long long)a.size);
			return -1;
		}
		return verify_data(vol, ino, o, why, len);
	}
}
