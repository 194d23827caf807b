/* SPDX-License-Identifier: MIT */
/*
 * A populated holdfs image in memory, for the fsck corruption corpus, the
 * fuzzers' seed image and the CLI test: a known tree of directories,
 * files (one with an overflow extent chain), symlinks (inline and in a
 * block), hard links, device nodes, xattrs and a bad-extent list entry,
 * made through the lib/vol.h API and cleanly unmounted.
 *
 * Every file's content is a function of its path (image_pattern), so a
 * check after repair needs nothing but the table.
 */
#ifndef HOLDFS_TEST_FSCK_IMAGE_H
#define HOLDFS_TEST_FSCK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define IMAGE_SIZE (32u << 20)
/* /x: user.a, user.b (300 bytes), user.m000.. (16 bytes each, enough for
 * a chain of xattr blocks) and user.v (in value blocks) */
#define IMAGE_XATTR_MANY 150
#define IMAGE_XATTR_V_LEN 10000

enum obj_type { O_DIR, O_FILE, O_SPARSE, O_SYMLINK, O_HARDLINK, O_FIFO,
		O_CHR };

struct image_obj {
	const char *path;
	enum obj_type type;
	uint64_t size;        /* files: bytes; sparse: extents */
	const char *target;   /* symlink target or hard link source */
};

extern const struct image_obj image_tree[];
extern const size_t image_ntree;

struct image_opts {
	bool fill;        /* fill the pool with /fill (no free space left) */
	bool bad_range;   /* a bad-extent list entry in the pool */
	bool small;       /* 16 MiB, 128 inodes (fuzz seed) */
	bool no_dslots;   /* no data-path slot area, as older mkfs made */
};

/* Build a fresh image into mem (size bytes, zeroed by the caller). */
int image_build(void *mem, uint64_t size, const struct image_opts *o);

/* Byte i of the file at path. */
uint8_t image_pattern(const char *path, uint64_t i);

/* Walk path from the root of a mounted volume; returns the inode or 0. */
struct hfs_vol;
uint64_t image_lookup(struct hfs_vol *vol, const char *path);

/* Compare the object against the table; returns 0 or a negative number
 * and a message in why. */
int image_verify_obj(struct hfs_vol *vol, const struct image_obj *o,
		     char *why, size_t len);

#endif
