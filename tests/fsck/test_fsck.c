/* SPDX-License-Identifier: MIT */
/*
 * The fsck corruption corpus, in e2fsprogs' f_* spirit but as a table.
 *
 * Each case builds a fresh populated image in memory (image.c), damages
 * one kind of metadata in a targeted way, and then:
 *   1. mounts a copy of the damaged image: hfs_vol_open must refuse it or
 *      mount it and survive a walk of the tree (run under ASan in CI);
 *   2. fsck -n (forced): exit code as the table says, the expected
 *      problem code reported, and not one byte of the image changed
 *      (the region is marked read-only, and the bytes are compared);
 *   3. fsck -y: exit 1 (or as the table says);
 *   4. fsck -n again: exit 0;
 *   5. mount the repaired image: every object the damage did not touch
 *      reads back byte for byte; unmount; fsck -n once more: exit 0.
 * The data-path slot cases (dslot_*) arm a slot on a read-write mount of
 * the image, take the bytes as a power cut leaves them, then play the
 * client (data, then size) and damage the slot; dslot_fold checks that
 * fsck folds a pending slot exactly as mount does, dslot_live_flag what
 * becomes of HFS_FEAT_INCOMPAT_DSLOTS_LIVE.
 *
 *   test_fsck                          run every case
 *   test_fsck NAME...                  run the named cases
 *   test_fsck --list
 *   test_fsck --write-image PATH [--corrupt NAME]
 *                                      write an image file (CLI test)
 * TEST_FSCK_VERBOSE=1 prints every fsck report.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsck.h"
#include "image.h"
#include "media.h"
#include "vol_i.h"
#include "fail.h"

static int failures; /* FAIL (fail.h) counts here */

/* ------------------------------------------------------ the image */

struct img {
	uint8_t *mem;
	uint64_t size;
	struct hfs_super sb;
};

static struct hfs_super *sb_of(struct img *im)
{
	return (struct hfs_super *)im->mem;
}

static struct hfs_inode_disk *inode_at(struct img *im, uint64_t ino)
{
	return (struct hfs_inode_disk *)(im->mem + im->sb.s_itable_off +
					 ino * HFS_INODE_SIZE);
}

static void inode_recrc(struct hfs_inode_disk *d)
{
	d->i_crc = hfs_crc_struct(d, sizeof(*d),
				  offsetof(struct hfs_inode_disk, i_crc));
}

static void sb_recrc(struct hfs_super *s)
{
	hfs_super_set_crc(s);
}

static void dentry_recrc(struct hfs_dentry_disk *dd)
{
	dd->d_crc = hfs_crc_struct(dd, sizeof(*dd),
				   offsetof(struct hfs_dentry_disk, d_crc));
}

static void blk_recrc(uint8_t *blk)
{
	struct hfs_blkhdr *h = (struct hfs_blkhdr *)blk;

	h->b_crc = hfs_crc_struct(blk, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
}

/* Inode of path, by a read-only mount (changes nothing). */
static uint64_t ino_of(struct img *im, const char *path)
{
	struct hfs_vol_opts vo = { .readonly = true };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	uint64_t ino = 0;

	if (hfs_region_from_memory(im->mem, im->size, &rg))
		return 0;
	if (!hfs_vol_open(rg, &vo, &vol, NULL, NULL)) {
		ino = image_lookup(vol, path);
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
	if (!ino)
		FAIL("setup: %s not found", path);
	return ino;
}

/* The slot naming name in directory dir (by scanning its blocks). */
static struct hfs_dentry_disk *dentry_find(struct img *im, const char *dir,
					   const char *name)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, dir));

	for (uint32_t i = 0; i < d->i_nextents && i < HFS_INLINE_EXTENTS; i++)
		for (uint64_t b = 0; b < d->i_extents[i].e_len; b++)
			for (uint32_t k = 0; k < HFS_DENTRIES_PER_BLOCK; k++) {
				struct hfs_dentry_disk *dd = (void *)(im->mem +
					(d->i_extents[i].e_pblk + b) *
					HFS_BLOCK_SIZE + k * sizeof(*dd));

				if (dd->d_ino && dd->d_name_len == strlen(name) &&
				    !memcmp(dd->d_name, name, strlen(name)))
					return dd;
			}
	FAIL("setup: entry %s/%s not found", dir, name);
	return NULL;
}

static struct hfs_dentry_disk *dentry_free(struct img *im, const char *dir)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, dir));

	for (uint32_t i = 0; i < d->i_nextents && i < HFS_INLINE_EXTENTS; i++) {
		struct hfs_extent *e = &d->i_extents[i];

		for (uint32_t k = 0; k < e->e_len * HFS_DENTRIES_PER_BLOCK; k++) {
			struct hfs_dentry_disk *dd = (void *)(im->mem +
				e->e_pblk * HFS_BLOCK_SIZE + k * sizeof(*dd));

			if (!dd->d_ino)
				return dd;
		}
	}
	FAIL("setup: no free slot in %s", dir);
	return NULL;
}

/* ------------------------------------------------------ corruptions */

static void c_none(struct img *im) { (void)im; }

static void c_sb_primary_crc(struct img *im)
{
	sb_of(im)->s_label[3] ^= 0x40;
}

static void c_sb_primary_magic(struct img *im)
{
	sb_of(im)->s_magic = 0;
}

static void c_sb_primary_geometry(struct img *im)
{
	sb_of(im)->s_pool_off += 3 * HFS_BLOCK_SIZE;
	sb_of(im)->s_alloc_unit = 3 * HFS_BLOCK_SIZE;
	sb_recrc(sb_of(im));
}

static struct hfs_super *backup(struct img *im)
{
	return (struct hfs_super *)(im->mem + im->sb.s_backup_off);
}

static void c_sb_backup_crc(struct img *im)
{
	backup(im)->s_crc ^= 1;
}

static void c_sb_backup_geometry(struct img *im)
{
	backup(im)->s_journal_blocks -= 8;
	sb_recrc(backup(im));
}

static void c_sb_both(struct img *im)
{
	sb_of(im)->s_crc ^= 1;
	backup(im)->s_inode_count = 1;
	sb_recrc(backup(im));
}

static void c_sb_version(struct img *im)
{
	sb_of(im)->s_version_major = 7;
	sb_recrc(sb_of(im));
	backup(im)->s_version_major = 7;
	sb_recrc(backup(im));
}

static void c_counters(struct img *im)
{
	sb_of(im)->s_used_inodes += 3;
	sb_of(im)->s_used_blocks -= 2;
	sb_recrc(sb_of(im));
}

static void c_inode_crc(struct img *im)
{
	inode_at(im, ino_of(im, "/a/f1"))->i_crc ^= 0x100;
}

static void c_inode_mode(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f2"));

	d->i_mode = 0170644;
	inode_recrc(d);
}

static void c_inode_crc_insane(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f2"));

	d->i_extents[0].e_pblk = 1ull << 40;
}

static void c_inode_nlink(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f1"));

	d->i_nlink = 7;
	inode_recrc(d);
}

static void c_dir_nlink(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a"));

	d->i_nlink = 2;
	inode_recrc(d);
}

static void c_inode_size(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/many"));

	d->i_size = 4096;
	inode_recrc(d);
}

static void c_inode_nextents(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f1"));

	d->i_nextents = 4;
	inode_recrc(d);
}

static void c_inode_flags(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f1"));

	d->i_flags |= 0x80 | HFS_IF_INLINE_DATA;
	inode_recrc(d);
}

/* chattr flags on a FIFO (the superblock says IFLAGS): cleared */
static void c_iflags_misplaced(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/fifo"));
	struct hfs_super *s = sb_of(im);

	s->s_feat_ro_compat |= HFS_FEAT_RO_COMPAT_IFLAGS;
	sb_recrc(s);
	d->i_flags |= HFS_IF_IMMUTABLE;
	inode_recrc(d);
}

/* an append-only file on a superblock without IFLAGS: the flag is
 * set, the file keeps its flag */
static void c_iflags_feature(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f1"));

	d->i_flags |= HFS_IF_APPEND | HFS_IF_NODUMP;
	inode_recrc(d);
}

static void c_special_data(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/fifo"));

	d->i_size = 77;
	inode_recrc(d);
}

static void c_symlink_empty(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/link"));

	memset(d->i_symlink, 0, sizeof(d->i_symlink));
	inode_recrc(d);
}

static void c_extent_out_of_pool(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/big"));

	d->i_extents[2].e_pblk = im->sb.s_backup_off / HFS_BLOCK_SIZE + 5;
	inode_recrc(d);
}

static void c_extent_overlap(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f1"));

	d->i_extents[1] = d->i_extents[0];
	d->i_extents[1].e_lblk = 1;
	d->i_extents[1].e_len = 1;
	d->i_nextents = 2;
	inode_recrc(d);
}

static void c_extent_crosslink(struct img *im)
{
	struct hfs_inode_disk *f1 = inode_at(im, ino_of(im, "/a/f1"));
	struct hfs_inode_disk *f2 = inode_at(im, ino_of(im, "/a/f2"));

	f2->i_extents[0].e_pblk = f1->i_extents[0].e_pblk;
	inode_recrc(f2);
}

/* The free runs of the pool, from a read-only mount. */
static size_t free_runs(struct img *im, struct hfs_run *out, size_t max)
{
	struct hfs_vol_opts vo = { .readonly = true };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	size_t n = 0;

	if (hfs_region_from_memory(im->mem, im->size, &rg))
		return 0;
	if (!hfs_vol_open(rg, &vo, &vol, NULL, NULL)) {
		for (n = 0; n < vol->alloc.n && n < max; n++)
			out[n] = vol->alloc.runs[n];
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
	return n;
}

/* The same on a full pool: /empty takes f2's own old blocks and what
 * the allocator's safety margin left free, so no block is free for a
 * private copy and the range must be cut. */
static void c_extent_crosslink_full(struct img *im)
{
	struct hfs_inode_disk *f2 = inode_at(im, ino_of(im, "/a/f2"));
	struct hfs_inode_disk *e = inode_at(im, ino_of(im, "/empty"));
	struct hfs_run r[4];
	size_t n = free_runs(im, r, 4);

	e->i_extents[0] = f2->i_extents[0];
	for (size_t i = 0; i < n && i < 4; i++)
		e->i_extents[i + 1] = (struct hfs_extent){ 100 + 100 * i,
							   r[i].start,
							   (uint32_t)r[i].len, 0 };
	e->i_nextents = 1 + (uint32_t)(n < 4 ? n : 4);
	inode_recrc(e);
	c_extent_crosslink(im);
}

static void c_extent_on_chain(struct img *im)
{
	struct hfs_inode_disk *big = inode_at(im, ino_of(im, "/big"));
	struct hfs_inode_disk *f2 = inode_at(im, ino_of(im, "/a/f2"));

	f2->i_extents[0].e_pblk = big->i_ext_blk;
	f2->i_extents[0].e_len = 1;
	inode_recrc(f2);
}

/* Add [pblk, pblk+len) to the bad-extent list (kept sorted). */
static void bad_add(struct img *im, uint64_t pblk, uint64_t len)
{
	uint8_t *bl = im->mem + im->sb.s_badlist_off;
	struct hfs_badlist_hdr *h = (struct hfs_badlist_hdr *)bl;
	struct hfs_bad_extent *v = (struct hfs_bad_extent *)(h + 1);
	uint32_t i = h->bl_count;

	while (i > 0 && v[i - 1].bx_off > pblk * HFS_BLOCK_SIZE) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = (struct hfs_bad_extent){ pblk * HFS_BLOCK_SIZE,
					  len * HFS_BLOCK_SIZE };
	h->bl_count++;
	h->bl_crc = hfs_crc_struct(bl, sizeof(*h) + h->bl_count * sizeof(*v),
				   offsetof(struct hfs_badlist_hdr, bl_crc));
}

static void c_extent_on_bad(struct img *im)
{
	bad_add(im, inode_at(im, ino_of(im, "/a/f1"))->i_extents[0].e_pblk, 1);
}

static void c_lost_extent_ok(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/a/f2"));

	bad_add(im, d->i_extents[0].e_pblk, d->i_extents[0].e_len);
	d->i_extents[0].e_flags = HFS_EXT_LOST;
	d->i_flags |= HFS_IF_LOSTDATA;
	inode_recrc(d);
}

static void c_dir_on_bad(struct img *im)
{
	bad_add(im, inode_at(im, ino_of(im, "/many"))->i_extents[0].e_pblk, 1);
}

static uint8_t *chain_block(struct img *im)
{
	return im->mem +
	       inode_at(im, ino_of(im, "/big"))->i_ext_blk * HFS_BLOCK_SIZE;
}

static void c_chain_crc(struct img *im)
{
	chain_block(im)[100] ^= 0xff;
}

static void c_chain_owner(struct img *im)
{
	uint8_t *b = chain_block(im);

	((struct hfs_blkhdr *)b)->b_owner = 3;
	blk_recrc(b);
}

static void c_chain_loop(struct img *im)
{
	uint64_t blk = inode_at(im, ino_of(im, "/big"))->i_ext_blk;
	uint8_t *b = chain_block(im);

	((struct hfs_blkhdr *)b)->b_next = blk;
	blk_recrc(b);
}

static void c_chain_count(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, ino_of(im, "/big"));

	d->i_nextents = 3;
	inode_recrc(d);
}

static void c_xattr_crc(struct img *im)
{
	uint64_t blk = inode_at(im, ino_of(im, "/x"))->i_xattr_blk;

	im->mem[blk * HFS_BLOCK_SIZE + 40] ^= 1;
}

/* /x's second xattr block. */
static uint8_t *xattr_block2(struct img *im)
{
	uint64_t blk = inode_at(im, ino_of(im, "/x"))->i_xattr_blk;
	struct hfs_blkhdr *h = (void *)(im->mem + blk * HFS_BLOCK_SIZE);

	return im->mem + h->b_next * HFS_BLOCK_SIZE;
}

/* /x's entry called name (in its chain), or NULL. */
static struct hfs_xattr_entry *xattr_entry(struct img *im, const char *name,
					   uint8_t **blk)
{
	uint64_t b = inode_at(im, ino_of(im, "/x"))->i_xattr_blk;

	for (int n = 0; b && n < 100; n++) {
		uint8_t *p = im->mem + b * HFS_BLOCK_SIZE;
		struct hfs_blkhdr *h = (void *)p;

		for (uint32_t pos = 0; pos < h->b_count;) {
			struct hfs_xattr_entry *e =
				(void *)(p + sizeof(*h) + pos);

			if (e->x_name_len == strlen(name) &&
			    !memcmp(e + 1, name, e->x_name_len)) {
				*blk = p;
				return e;
			}
			pos += (sizeof(*e) + e->x_name_len + e->x_value_len +
				3) & ~3u;
		}
		b = h->b_next;
	}
	return NULL;
}

/* The first value block of /x's user.v. */
static uint64_t xattr_vblk(struct img *im)
{
	uint8_t *blk;
	struct hfs_xattr_entry *e = xattr_entry(im, "user.v", &blk);
	uint64_t b = 0;

	if (e)
		memcpy(&b, (uint8_t *)(e + 1) + e->x_name_len +
		       sizeof(struct hfs_xattr_vref), sizeof(b));
	return b;
}

static void c_xattr_chain_crc(struct img *im)
{
	xattr_block2(im)[200] ^= 1;
}

static void c_xattr_chain_loop(struct img *im)
{
	uint8_t *b = xattr_block2(im);

	((struct hfs_blkhdr *)b)->b_next =
		inode_at(im, ino_of(im, "/x"))->i_xattr_blk;
	blk_recrc(b);
}

static void c_xattr_value_crc(struct img *im)
{
	im->mem[xattr_vblk(im) * HFS_BLOCK_SIZE + 1000] ^= 1;
}

static void c_xattr_value_owner(struct img *im)
{
	uint8_t *b = im->mem + xattr_vblk(im) * HFS_BLOCK_SIZE;

	((struct hfs_blkhdr *)b)->b_owner = 1;
	blk_recrc(b);
}

static void c_xattr_value_ref(struct img *im)
{
	uint8_t *blk;
	struct hfs_xattr_entry *e = xattr_entry(im, "user.v", &blk);
	uint32_t len = 20000;

	if (!e)
		return;
	memcpy((uint8_t *)(e + 1) + e->x_name_len, &len, sizeof(len));
	blk_recrc(blk);
}

static void c_xattr_dup_name(struct img *im)
{
	uint8_t *blk;
	struct hfs_xattr_entry *e = xattr_entry(im, "user.m001", &blk);

	if (!e)
		return;
	memcpy(e + 1, "user.m000", 9);
	blk_recrc(blk);
}

/* /x's access ACL with an unknown version (checksum kept right) */
static void c_acl_bad(struct img *im)
{
	uint8_t *blk;
	struct hfs_xattr_entry *e = xattr_entry(im, "system.posix_acl_access",
						&blk);

	if (!e)
		return;
	((uint8_t *)(e + 1))[e->x_name_len] = 3;
	blk_recrc(blk);
}

/* After the repair /x has no ACL, and its other attributes are all
 * there. */
static int post_acl_dropped(struct hfs_vol *vol, char *why, size_t len)
{
	uint64_t ino = image_lookup(vol, "/x");
	char v[64];

	if (!ino || hfs_getxattr(vol, ino, "system.posix_acl_access", v,
				 sizeof(v)) != -ENODATA) {
		snprintf(why, len, "/x: the malformed ACL is still there");
		return -1;
	}
	if (hfs_getxattr(vol, ino, "user.a", v, sizeof(v)) != 1 ||
	    hfs_getxattr(vol, ino, "user.m000", v, sizeof(v)) != 16 ||
	    hfs_getxattr(vol, ino, "user.v", NULL, 0) <= 0) {
		snprintf(why, len, "/x: other xattrs went with the ACL");
		return -1;
	}
	return 0;
}

/* /x's user.b replaced by a placement choice naming device 0: no value
 * is valid on a volume of one device (entries after it move up, the
 * checksum kept right) */
static void c_place_one_device(struct img *im)
{
	uint8_t *blk;
	struct hfs_xattr_entry *e = xattr_entry(im, "user.b", &blk);
	struct hfs_blkhdr *h = (void *)blk;
	uint8_t *pay = blk + sizeof(*h);
	size_t nlen = strlen(HFS_PLACE_XATTR), pos, old, neu;

	if (!e)
		return;
	pos = (size_t)((uint8_t *)e - pay);
	old = (sizeof(*e) + e->x_name_len + e->x_value_len + 3) & ~3u;
	neu = (sizeof(*e) + nlen + 1 + 3) & ~3u;
	memmove(pay + pos + neu, pay + pos + old, h->b_count - pos - old);
	h->b_count -= (uint32_t)(old - neu);
	memset(pay + h->b_count, 0, HFS_XATTR_SPACE - h->b_count);
	memset(e, 0, neu);
	e->x_name_len = (uint8_t)nlen;
	e->x_value_len = 1;
	memcpy(e + 1, HFS_PLACE_XATTR, nlen);
	((uint8_t *)(e + 1))[nlen] = '0';
	blk_recrc(blk);
}

/* After the repair /x has no placement choice, and its other attributes
 * (but the user.b it replaced) are there. */
static int post_place_dropped(struct hfs_vol *vol, char *why, size_t len)
{
	uint64_t ino = image_lookup(vol, "/x");
	char v[64];

	if (!ino || hfs_getxattr(vol, ino, HFS_PLACE_XATTR, v, sizeof(v)) !=
		    -ENODATA) {
		snprintf(why, len, "/x: the placement choice is still there");
		return -1;
	}
	if (hfs_getxattr(vol, ino, "user.a", v, sizeof(v)) != 1 ||
	    hfs_getxattr(vol, ino, "user.m000", v, sizeof(v)) != 16 ||
	    hfs_getxattr(vol, ino, "user.v", NULL, 0) <= 0) {
		snprintf(why, len, "/x: other xattrs went with the choice");
		return -1;
	}
	return 0;
}

static void c_xattr_feature(struct img *im)
{
	struct hfs_super *s = sb_of(im);

	s->s_feat_incompat &= ~HFS_FEAT_INCOMPAT_XATTR_CHAIN;
	sb_recrc(s);
}

static void c_extent_on_xattr_value(struct img *im)
{
	struct hfs_inode_disk *f2 = inode_at(im, ino_of(im, "/a/f2"));

	f2->i_extents[0].e_pblk = xattr_vblk(im);
	f2->i_extents[0].e_len = 1;
	inode_recrc(f2);
}

static void c_dentry_crc(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/a", "f1");

	if (dd)
		dd->d_name[0] = 'g';
}

static void c_dentry_name(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/a", "f2");

	if (!dd)
		return;
	dd->d_name[1] = '/';
	dentry_recrc(dd);
}

static void c_dentry_dangling(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/many", "m07");

	if (!dd)
		return;
	dd->d_ino = im->sb.s_inode_count - 3;
	dentry_recrc(dd);
}

static void c_dentry_dup(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_free(im, "/a");

	if (!dd)
		return;
	memset(dd, 0, sizeof(*dd));
	dd->d_ino = ino_of(im, "/a/f2");
	dd->d_name_len = 2;
	memcpy(dd->d_name, "f1", 2);
	dd->d_type = DT_REG;
	dentry_recrc(dd);
}

static void c_dentry_type(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/", "link");

	if (!dd)
		return;
	dd->d_type = DT_REG;
	dentry_recrc(dd);
}

static void c_dir_unconnected(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/a", "sub");

	if (!dd)
		return;
	memset(dd, 0, sizeof(*dd));
	dentry_recrc(dd);
}

static void c_dir_linked_twice(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_free(im, "/many");

	if (!dd)
		return;
	memset(dd, 0, sizeof(*dd));
	dd->d_ino = ino_of(im, "/a/sub");
	dd->d_name_len = 3;
	memcpy(dd->d_name, "sub", 3);
	dd->d_type = DT_DIR;
	dentry_recrc(dd);
}

static void c_dir_loop(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/", "a"), *back;
	uint64_t a = ino_of(im, "/a");

	if (!dd)
		return;
	back = dentry_free(im, "/a/sub");
	memset(dd, 0, sizeof(*dd));
	dentry_recrc(dd);
	if (!back)
		return;
	/* nothing names /a but /a/sub, which /a names: a loop away from
	 * the root */
	memset(back, 0, sizeof(*back));
	back->d_ino = a;
	back->d_name_len = 4;
	memcpy(back->d_name, "loop", 4);
	back->d_type = DT_DIR;
	dentry_recrc(back);
}

static void c_orphan(struct img *im)
{
	uint64_t ino = ino_of(im, "/a/f2");
	struct hfs_dentry_disk *dd = dentry_find(im, "/a", "f2");
	struct hfs_inode_disk *d = inode_at(im, ino);

	if (dd) {
		memset(dd, 0, sizeof(*dd));
		dentry_recrc(dd);
	}
	d->i_nlink = 0;
	d->i_flags |= HFS_IF_ORPHAN;
	inode_recrc(d);
}

static uint64_t saved_ino; /* for the post checks */

static void c_unattached(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/a", "f2");

	saved_ino = ino_of(im, "/a/f2");
	if (!dd)
		return;
	memset(dd, 0, sizeof(*dd));
	dentry_recrc(dd);
}

/* /lost+found is a file: nowhere to reconnect /a/f2. */
static void c_lpf_not_dir(struct img *im)
{
	struct hfs_dentry_disk *dd = dentry_find(im, "/", "empty");

	if (!dd)
		return;
	dd->d_name_len = 10;
	memcpy(dd->d_name, "lost+found", 10);
	dentry_recrc(dd);
	c_unattached(im);
}

static void c_free_slot_dirty(struct img *im)
{
	inode_at(im, 0)->i_uid = 99;
}

/* A journal transaction in the journal area: record = the slot as it
 * should be; tear = spoil the crc. */
static void journal_put(struct img *im, uint64_t off, const void *data,
			uint32_t len, bool tear)
{
	uint8_t *j = im->mem + im->sb.s_journal_off;
	struct hfs_jheader h = { .j_magic = HFS_JOURNAL_MAGIC, .j_seq = 99,
				 .j_nrec = 1 };
	struct hfs_jrecord r = { .r_off = off, .r_len = len };
	size_t rl = sizeof(r) + ((len + 7) & ~7u);

	memset(j, 0, sizeof(h) + rl);
	memcpy(j + sizeof(h), &r, sizeof(r));
	memcpy(j + sizeof(h) + sizeof(r), data, len);
	h.j_bytes = rl;
	h.j_crc = hfs_crc32c_cont(hfs_crc32c(&h, sizeof(h)), j + sizeof(h), rl);
	if (tear)
		h.j_crc ^= 1;
	memcpy(j, &h, sizeof(h));
}

static void c_journal_pending(struct img *im)
{
	uint64_t ino = ino_of(im, "/a/f1");
	struct hfs_inode_disk good = *inode_at(im, ino);

	/* the home location is half-written, the journal has it whole */
	inode_at(im, ino)->i_crc ^= 0x55;
	journal_put(im, im->sb.s_itable_off + ino * HFS_INODE_SIZE, &good,
		    sizeof(good), false);
}

static void c_journal_torn(struct img *im)
{
	struct hfs_inode_disk junk;

	memset(&junk, 0xab, sizeof(junk));
	journal_put(im, im->sb.s_itable_off + 1 * HFS_INODE_SIZE, &junk,
		    sizeof(junk), true);
}

static void c_journal_outside(struct img *im)
{
	uint8_t x[8] = { 0 };

	journal_put(im, im->size - 4, x, sizeof(x), false);
}

static void c_health_torn(struct img *im)
{
	struct hfs_health_rec *r = (void *)(im->mem + im->sb.s_health_off);

	r[1].h_msg[5] ^= 0x20;
}

static void c_badlist_crc(struct img *im)
{
	((struct hfs_badlist_hdr *)(im->mem + im->sb.s_badlist_off))->bl_crc ^= 1;
}

static void c_root_not_dir(struct img *im)
{
	struct hfs_inode_disk *d = inode_at(im, 1);

	d->i_mode = S_IFREG | 0644;
	inode_recrc(d);
}

/* ------------------------------------------------------ data-path slots */

/* /dp: written through the volume, then armed for the data path with a
 * reservation to 1 MiB; a client published DP_SIZE bytes and left
 * DP_JUNK unpublished bytes past them; then the power cut. */
#define DP_BASE 5000u
#define DP_SIZE 15000u
#define DP_JUNK 100u
#define DP_LIMIT (1u << 20)
#define DP_MTIME (1900000000ull * 1000000000ull)

static const struct hfs_cred dp_cred = { 0, 0, 0, NULL, 0 };
static uint64_t dp_ino;
static uint32_t dp_idx;
static uint64_t dp_gen;      /* what the attach said; no detach follows */
static uint64_t dp_prealloc = DP_LIMIT; /* KEEP_SIZE allocation: [0, this) */

static struct hfs_dslot *slot_at(struct img *im, uint32_t k)
{
	return (struct hfs_dslot *)(im->mem + im->sb.s_dslot_off +
				    (uint64_t)k * HFS_DSLOT_SIZE);
}

/* Where byte off of ino lives in the image (inline extents), or NULL. */
static uint8_t *file_addr(struct img *im, uint64_t ino, uint64_t off)
{
	struct hfs_inode_disk *d = inode_at(im, ino);
	uint64_t lblk = off / HFS_BLOCK_SIZE;

	for (uint32_t i = 0; i < d->i_nextents && i < HFS_INLINE_EXTENTS; i++) {
		struct hfs_extent *e = &d->i_extents[i];

		if (lblk >= e->e_lblk && lblk < e->e_lblk + e->e_len)
			return im->mem + (e->e_pblk + lblk - e->e_lblk) *
			       HFS_BLOCK_SIZE + off % HFS_BLOCK_SIZE;
	}
	return NULL;
}

/* The journal holds the last transaction of the crashed mount, already
 * applied: clear it, so the slot is all fsck finds. */
static void journal_drop(struct img *im)
{
	struct hfs_region *rg;

	if (hfs_region_from_memory(im->mem, im->size, &rg))
		return;
	if (hfs_journal_clear(rg, sb_of(im)))
		FAIL("setup: cannot clear the journal");
	hfs_region_close(rg);
}

/* Mount a copy read-write, let setup() work on it, then take the bytes
 * as they are (a power cut) and throw the mount away. */
static void crash_after(struct img *im, void (*setup)(struct hfs_vol *vol))
{
	uint8_t *work = malloc(im->size);
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };

	if (!work || hfs_region_from_memory(work, im->size, &rg)) {
		free(work);
		FAIL("setup: no memory");
		return;
	}
	memcpy(work, im->mem, im->size);
	if (hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		FAIL("setup: mount: %s", err.msg);
	} else {
		if (setup)
			setup(vol);
		memcpy(im->mem, work, im->size);
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
	free(work);
	journal_drop(im);
}

static void dp_setup(struct hfs_vol *vol)
{
	uint8_t buf[DP_BASE];
	struct hfs_attr a;

	for (uint64_t i = 0; i < DP_BASE; i++)
		buf[i] = image_pattern("/dp", i);
	if (hfs_mknod(vol, HFS_ROOT_INO, "dp", S_IFREG | 0644, 0, &dp_cred,
		      &a) || hfs_open(vol, a.ino) ||
	    hfs_write(vol, a.ino, buf, DP_BASE, 0) != DP_BASE ||
	    hfs_dslot_attach(vol, a.ino, &dp_idx, &dp_gen) ||
	    hfs_fallocate(vol, a.ino, FALLOC_FL_KEEP_SIZE, 0, dp_prealloc) ||
	    hfs_dslot_raise_limit(vol, a.ino, 8192, DP_LIMIT))
		FAIL("setup: /dp not armed");
	dp_ino = a.ino;
}

/* The client (docs/data-path.md): dirty raised, data, then the size and
 * mtime; and unpublished bytes up to junk_end that it never published. */
static void dp_client_to(struct img *im, uint64_t junk_end)
{
	struct hfs_dslot *s = slot_at(im, dp_idx);

	s->ds_dirty = junk_end;
	for (uint64_t off = s->ds_size; off < junk_end; off++) {
		uint8_t *p = file_addr(im, dp_ino, off);

		if (!p) {
			FAIL("setup: /dp byte %llu is not mapped",
			     (unsigned long long)off);
			return;
		}
		*p = off < DP_SIZE ? image_pattern("/dp", off) : 'X';
	}
	s->ds_size = DP_SIZE;
	s->ds_mtime = DP_MTIME;
}

static void dp_client(struct img *im)
{
	dp_client_to(im, DP_SIZE + DP_JUNK);
}

static void c_dslot_pending(struct img *im)
{
	crash_after(im, dp_setup);
	dp_client(im);
}

/* The daemon committed a new epoch (a truncate) and died before it
 * rewrote the slot. */
static void c_dslot_stale(struct img *im)
{
	struct hfs_inode_disk *d;

	c_dslot_pending(im);
	d = inode_at(im, dp_ino);
	d->i_dp_epoch++;
	inode_recrc(d);
}

/* A torn header, and junk in a free slot. */
static void c_dslot_garbage(struct img *im)
{
	c_dslot_pending(im);
	slot_at(im, dp_idx)->ds_base ^= 1;
	memset(slot_at(im, dp_idx + 3), 0xa5, HFS_DSLOT_SIZE);
}

static void c_dslot_past_limit(struct img *im)
{
	struct hfs_dslot *s;

	c_dslot_pending(im);
	s = slot_at(im, dp_idx);
	s->ds_size = s->ds_limit + 4096;
}

static void c_dslot_limit_max(struct img *im)
{
	c_dslot_pending(im);
	slot_at(im, dp_idx)->ds_limit = HFS_MAX_FILE_SIZE + HFS_BLOCK_SIZE;
}

/* A crash with no slot armed: DSLOTS_LIVE is set in the primary only. */
static void c_dslot_live(struct img *im)
{
	crash_after(im, NULL);
}

/* Blocks mapped past EOF, as fallocate(KEEP_SIZE) leaves them. */
static void pa_setup(struct hfs_vol *vol)
{
	struct hfs_attr a;

	if (hfs_mknod(vol, HFS_ROOT_INO, "pa", S_IFREG | 0644, 0, &dp_cred,
		      &a) || hfs_write(vol, a.ino, "pa", 2, 0) != 2 ||
	    hfs_fallocate(vol, a.ino, FALLOC_FL_KEEP_SIZE, 0, 256 << 10))
		FAIL("setup: /pa not preallocated");
}

static void c_prealloc(struct img *im)
{
	crash_after(im, pa_setup);
}

static void c_sb_backup_dslots(struct img *im)
{
	backup(im)->s_dslot_count -= HFS_DSLOTS_PER_BLOCK;
	sb_recrc(backup(im));
}

/* ------------------------------------------------------ post checks */

struct hfs_vol;
static int post_unattached(struct hfs_vol *vol, char *why, size_t len)
{
	struct image_obj o = { "/a/f2", O_FILE, 5000, NULL };
	char path[64];
	uint64_t ino;
	struct hfs_attr a;

	snprintf(path, sizeof(path), "/lost+found/#%llu",
		 (unsigned long long)saved_ino);
	ino = image_lookup(vol, path);
	if (ino != saved_ino || hfs_getattr(vol, ino, &a) || a.size != 5000) {
		snprintf(why, len, "%s missing", path);
		return -1;
	}
	/* the pattern is keyed by the old path */
	for (uint64_t off = 0; off < o.size; off++) {
		uint8_t c;

		if (hfs_read(vol, ino, &c, 1, off) != 1 ||
		    c != image_pattern(o.path, off)) {
			snprintf(why, len, "%s: content differs", path);
			return -1;
		}
	}
	return 0;
}

static int post_lost_f1(struct hfs_vol *vol, char *why, size_t len)
{
	uint8_t buf[4096];
	uint64_t ino = image_lookup(vol, "/a/f1");

	/* block 0 is on bad media: EIO; blocks 1 and 2 read back */
	if (!ino || hfs_read(vol, ino, buf, 4096, 0) != -EIO) {
		snprintf(why, len, "/a/f1: block 0 should fail with EIO");
		return -1;
	}
	for (uint64_t off = 4096; off < 3 * 4096; off += 4096) {
		if (hfs_read(vol, ino, buf, 4096, off) != 4096)
			goto bad;
		for (int i = 0; i < 4096; i++)
			if (buf[i] != image_pattern("/a/f1", off + i))
				goto bad;
	}
	return 0;
bad:
	snprintf(why, len, "/a/f1: blocks 1-2 differ");
	return -1;
}

/* /dp as the table says: size, bytes, mtime if folded. */
static int post_dp(struct hfs_vol *vol, uint64_t size, char *why, size_t len)
{
	uint64_t ino = image_lookup(vol, "/dp");
	struct hfs_attr a;
	uint8_t c;

	if (!ino || hfs_getattr(vol, ino, &a) || a.size != size) {
		snprintf(why, len, "/dp: size %llu, expected %llu",
			 (unsigned long long)(ino ? a.size : 0),
			 (unsigned long long)size);
		return -1;
	}
	if (size == DP_SIZE && a.mtime.tv_sec != (time_t)(DP_MTIME / 1000000000)) {
		snprintf(why, len, "/dp: the slot's mtime was not folded");
		return -1;
	}
	for (uint64_t off = 0; off < size; off++)
		if (hfs_read(vol, ino, &c, 1, off) != 1 ||
		    c != image_pattern("/dp", off)) {
			snprintf(why, len, "/dp: byte %llu differs",
				 (unsigned long long)off);
			return -1;
		}
	return 0;
}

static int post_dp_folded(struct hfs_vol *vol, char *why, size_t len)
{
	return post_dp(vol, DP_SIZE, why, len);
}

static int post_dp_cleared(struct hfs_vol *vol, char *why, size_t len)
{
	return post_dp(vol, DP_BASE, why, len);
}

/* ------------------------------------------------------ the table */

#define F_ALL 0x1u    /* every path may change (root rebuilt) */
#define F_FILL 0x2u   /* image with a full pool */
#define F_NOFIX 0x4u  /* cannot be repaired: -y exits as -n did */
#define F_PREEN 0x8u  /* also run -p: expect exit preen_code */
#define F_NOXATTR 0x10u /* the xattrs of /x may be gone */
#define F_LOST 0x20u  /* the report lists a file with lost data */
#define F_NOAREA 0x40u /* image made without the data-path slot area */

struct fcase {
	const char *name;
	void (*corrupt)(struct img *im);
	int code_no;                 /* first fsck -n */
	enum hfs_fsck_code problem;  /* must be reported (0: none) */
	/* objects the damage may change; "/d/" means everything below */
	const char *touched[4];
	unsigned flags;
	int preen_code;
	int (*post)(struct hfs_vol *vol, char *why, size_t len);
};

static const struct fcase cases[] = {
	{ "clean", c_none, 0, 0, { NULL }, F_PREEN, 0, NULL },
	{ "sb_primary_crc", c_sb_primary_crc, 4, HFS_P0_PRIMARY_BAD, { NULL },
	  F_PREEN, 1, NULL },
	{ "sb_primary_magic", c_sb_primary_magic, 4, HFS_P0_PRIMARY_BAD,
	  { NULL }, 0, 0, NULL },
	{ "sb_primary_geometry", c_sb_primary_geometry, 4, HFS_P0_PRIMARY_BAD,
	  { NULL }, 0, 0, NULL },
	{ "sb_backup_crc", c_sb_backup_crc, 4, HFS_P5_BACKUP_BAD, { NULL },
	  F_PREEN, 1, NULL },
	{ "sb_backup_geometry", c_sb_backup_geometry, 4,
	  HFS_P5_BACKUP_GEOMETRY, { NULL }, 0, 0, NULL },
	{ "sb_both_bad", c_sb_both, 8, HFS_P0_NO_SUPER, { NULL }, F_NOFIX, 0,
	  NULL },
	{ "sb_version", c_sb_version, 8, HFS_P0_UNSUPPORTED, { NULL }, F_NOFIX,
	  0, NULL },
	{ "counters_clean", c_counters, 4, HFS_P5_COUNTERS, { NULL }, F_PREEN,
	  1, NULL },
	{ "inode_crc", c_inode_crc, 4, HFS_P1_INODE_CRC, { NULL }, 0, 0, NULL },
	{ "inode_crc_insane", c_inode_crc_insane, 4, HFS_P1_INODE_CLEAR,
	  { "/a/f2" }, 0, 0, NULL },
	{ "inode_mode", c_inode_mode, 4, HFS_P1_INODE_MODE, { "/a/f2" },
	  F_PREEN, 4, NULL },
	{ "inode_nlink", c_inode_nlink, 4, HFS_P4_NLINK, { NULL }, F_PREEN, 1,
	  NULL },
	{ "dir_nlink", c_dir_nlink, 4, HFS_P4_NLINK, { NULL }, 0, 0, NULL },
	{ "inode_size_dir", c_inode_size, 4, HFS_P1_INODE_SIZE, { NULL }, 0, 0,
	  NULL },
	{ "inode_nextents", c_inode_nextents, 4, HFS_P1_INODE_NEXTENTS,
	  { NULL }, 0, 0, NULL },
	{ "inode_flags", c_inode_flags, 4, HFS_P1_INODE_FLAGS, { NULL }, 0, 0,
	  NULL },
	{ "iflags_misplaced", c_iflags_misplaced, 4, HFS_P1_INODE_FLAGS,
	  { NULL }, F_PREEN, 1, NULL },
	{ "iflags_feature", c_iflags_feature, 4, HFS_P1_IFLAGS_FEATURE,
	  { NULL }, F_PREEN, 1, NULL },
	{ "special_size", c_special_data, 4, HFS_P1_INODE_SIZE, { NULL }, 0, 0,
	  NULL },
	{ "symlink_empty", c_symlink_empty, 4, HFS_P1_SYMLINK_BAD, { "/link" },
	  0, 0, NULL },
	{ "extent_out_of_pool", c_extent_out_of_pool, 4, HFS_P1_EXTENT_BAD,
	  { "/big" }, F_LOST, 0, NULL },
	{ "extent_overlap", c_extent_overlap, 4, HFS_P1_EXTENT_BAD, { NULL },
	  0, 0, NULL },
	{ "extent_crosslink", c_extent_crosslink, 4, HFS_P1B_DUP_BLOCKS,
	  { "/a/f2" }, 0, 0, NULL },
	{ "extent_crosslink_full", c_extent_crosslink_full, 4,
	  HFS_P1B_DUP_BLOCKS,
	  { "/a/f2" }, F_FILL | F_LOST, 0, NULL },
	{ "extent_on_chain", c_extent_on_chain, 4, HFS_P1B_DUP_BLOCKS,
	  { "/a/f2" }, F_LOST, 0, NULL },
	{ "extent_on_bad", c_extent_on_bad, 4, HFS_P1B_ON_BAD, { "/a/f1" },
	  F_LOST, 0, post_lost_f1 },
	{ "lost_extent_ok", c_lost_extent_ok, 0, 0, { "/a/f2" }, F_LOST, 0,
	  NULL },
	{ "dir_block_on_bad", c_dir_on_bad, 4, HFS_P1B_META_ON_BAD, { NULL },
	  0, 0, NULL },
	{ "chain_crc", c_chain_crc, 4, HFS_P1_EXTBLK_BAD, { "/big" }, F_LOST, 0,
	  NULL },
	{ "chain_owner", c_chain_owner, 4, HFS_P1_EXTBLK_BAD, { "/big" },
	  F_LOST, 0, NULL },
	{ "chain_loop", c_chain_loop, 4, HFS_P1_EXTBLK_BAD, { NULL }, 0, 0,
	  NULL },
	{ "chain_count", c_chain_count, 4, HFS_P1_INODE_NEXTENTS, { NULL }, 0,
	  0, NULL },
	{ "xattr_crc", c_xattr_crc, 4, HFS_P1_XATTR_BAD, { NULL }, F_NOXATTR, 0,
	  NULL },
	{ "xattr_chain_crc", c_xattr_chain_crc, 4, HFS_P1_XATTR_BAD, { NULL },
	  F_NOXATTR, 0, NULL },
	{ "xattr_chain_loop", c_xattr_chain_loop, 4, HFS_P1_XATTR_BAD,
	  { NULL }, F_NOXATTR, 0, NULL },
	{ "xattr_value_crc", c_xattr_value_crc, 4, HFS_P1_XATTR_BAD, { NULL },
	  F_NOXATTR, 0, NULL },
	{ "xattr_value_owner", c_xattr_value_owner, 4, HFS_P1_XATTR_BAD,
	  { NULL }, F_NOXATTR, 0, NULL },
	{ "xattr_value_ref", c_xattr_value_ref, 4, HFS_P1_XATTR_BAD, { NULL },
	  F_NOXATTR, 0, NULL },
	{ "xattr_dup_name", c_xattr_dup_name, 4, HFS_P1_XATTR_BAD, { NULL },
	  F_NOXATTR, 0, NULL },
	{ "acl_bad", c_acl_bad, 4, HFS_P1_ACL_BAD, { NULL }, F_NOXATTR, 0,
	  post_acl_dropped },
	{ "place_one_device", c_place_one_device, 4, HFS_P1_PLACE_BAD,
	  { NULL }, F_NOXATTR | F_PREEN, 1, post_place_dropped },
	{ "xattr_feature", c_xattr_feature, 4, HFS_P1_XATTR_FEATURE, { NULL },
	  F_PREEN, 1, NULL },
	{ "extent_on_xattr_value", c_extent_on_xattr_value, 4,
	  HFS_P1B_DUP_BLOCKS, { "/a/f2" }, F_LOST, 0, NULL },
	{ "dentry_crc", c_dentry_crc, 4, HFS_P2_DENTRY_CRC, { "/a/f1" }, 0, 0,
	  NULL },
	{ "dentry_name", c_dentry_name, 4, HFS_P2_DENTRY_NAME, { "/a/f2" }, 0,
	  0, NULL },
	{ "dentry_dangling", c_dentry_dangling, 4, HFS_P2_DENTRY_DANGLING,
	  { "/many/m07" }, 0, 0, NULL },
	{ "dentry_dup", c_dentry_dup, 4, HFS_P2_DENTRY_DUP, { NULL }, 0, 0,
	  NULL },
	{ "dentry_type", c_dentry_type, 4, HFS_P2_DENTRY_TYPE, { NULL },
	  F_PREEN, 1, NULL },
	{ "dir_unconnected", c_dir_unconnected, 4, HFS_P3_DIR_UNCONNECTED,
	  { "/a/sub", "/a/sub/" }, 0, 0, NULL },
	{ "dir_linked_twice", c_dir_linked_twice, 4, HFS_P2_DIR_LINKED_TWICE,
	  { NULL }, 0, 0, NULL },
	{ "dir_loop", c_dir_loop, 4, HFS_P3_DIR_UNCONNECTED, { "/a", "/a/" },
	  0, 0, NULL },
	{ "unattached", c_unattached, 4, HFS_P3_UNATTACHED, { "/a/f2" }, 0, 0,
	  post_unattached },
	{ "lpf_not_dir", c_lpf_not_dir, 4, HFS_P3_LPF_FAILED, { NULL },
	  F_NOFIX, 0, NULL },
	{ "orphan", c_orphan, 4, HFS_P4_ORPHAN, { "/a/f2" }, F_PREEN, 1, NULL },
	{ "free_slot_dirty", c_free_slot_dirty, 4, HFS_P1_FREE_DIRTY, { NULL },
	  0, 0, NULL },
	{ "journal_pending", c_journal_pending, 4, HFS_P0_JOURNAL_REPLAY,
	  { NULL }, F_PREEN, 1, NULL },
	{ "journal_torn", c_journal_torn, 4, HFS_P0_JOURNAL_TORN, { NULL },
	  F_PREEN, 1, NULL },
	{ "journal_outside", c_journal_outside, 4, HFS_P0_JOURNAL_INVALID,
	  { NULL }, 0, 0, NULL },
	{ "health_torn", c_health_torn, 4, HFS_P5_HEALTH_TORN, { NULL },
	  F_PREEN, 1, NULL },
	{ "badlist_crc", c_badlist_crc, 4, HFS_P1_BADLIST_BAD, { NULL }, 0, 0,
	  NULL },
	{ "root_not_dir", c_root_not_dir, 4, HFS_P1_ROOT_BAD, { NULL }, F_ALL,
	  0, NULL },
	{ "dslot_pending", c_dslot_pending, 4, HFS_P1_DSLOT_PENDING, { NULL },
	  F_PREEN, 1, post_dp_folded },
	{ "dslot_stale", c_dslot_stale, 4, HFS_P1_DSLOT_STALE, { NULL },
	  F_PREEN, 1, post_dp_cleared },
	{ "dslot_garbage", c_dslot_garbage, 4, HFS_P1_DSLOT_STALE, { NULL },
	  F_PREEN, 1, post_dp_cleared },
	{ "dslot_past_limit", c_dslot_past_limit, 4, HFS_P1_DSLOT_STALE,
	  { NULL }, F_PREEN, 1, post_dp_cleared },
	{ "dslot_limit_max", c_dslot_limit_max, 4, HFS_P1_DSLOT_STALE,
	  { NULL }, F_PREEN, 1, post_dp_cleared },
	{ "dslot_live", c_dslot_live, 0, 0, { NULL }, F_PREEN, 0, NULL },
	{ "prealloc_past_eof", c_prealloc, 0, 0, { NULL }, F_PREEN, 0, NULL },
	{ "sb_backup_dslots", c_sb_backup_dslots, 4, HFS_P5_BACKUP_GEOMETRY,
	  { NULL }, 0, 0, NULL },
	{ "no_dslot_area", c_none, 0, 0, { NULL }, F_NOAREA | F_PREEN, 0,
	  NULL },
	{ "no_dslot_area_crash", c_dslot_live, 0, 0, { NULL },
	  F_NOAREA | F_PREEN, 0, NULL },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ------------------------------------------------------ running */

static uint8_t *pristine[3]; /* normal, full pool, no slot area */

static int build_pristine(int which)
{
	struct image_opts o = { .fill = which == 1, .bad_range = true,
				.no_dslots = which == 2 };

	if (pristine[which])
		return 0;
	pristine[which] = calloc(1, IMAGE_SIZE);
	if (!pristine[which])
		return -ENOMEM;
	return image_build(pristine[which], IMAGE_SIZE, &o);
}

static int run_fsck(uint8_t *mem, enum hfs_fsck_mode mode,
		    struct hfs_fsck_report *rep)
{
	struct hfs_fsck_opts o = { .mode = mode, .force = true };
	struct hfs_region *rg;
	int code;

	if (hfs_region_from_memory(mem, IMAGE_SIZE, &rg))
		return -1;
	rg->readonly = mode == HFS_FSCK_NO; /* a write would fail loudly */
	code = hfs_fsck(rg, &o, rep);
	hfs_region_close(rg);
	return code;
}

static void dump(const struct hfs_fsck_report *rep)
{
	if (getenv("TEST_FSCK_VERBOSE"))
		hfs_fsck_report_print(rep, stderr, false);
}

/* Any problem with this code in the report? */
static bool reported(const struct hfs_fsck_report *rep,
		     enum hfs_fsck_code code)
{
	return hfs_fsck_report_count(rep, code) > 0;
}

static int readdir_cb(void *ctx, const char *name, const struct hfs_attr *a,
		      uint64_t next)
{
	(void)name;
	(void)a;
	(void)next;
	++*(int *)ctx;
	return 0;
}

/* Mount a copy of the damaged image and walk it: refusing is fine,
 * crashing is not (ASan). */
static void mount_damaged(const uint8_t *mem)
{
	uint8_t *copy = malloc(IMAGE_SIZE);
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };
	char why[256];
	int n = 0;

	if (!copy || hfs_region_from_memory(copy, IMAGE_SIZE, &rg)) {
		free(copy);
		return;
	}
	memcpy(copy, mem, IMAGE_SIZE);
	if (!hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		hfs_readdir(vol, 1, 0, false, readdir_cb, &n);
		for (size_t i = 0; i < image_ntree; i++)
			image_verify_obj(vol, &image_tree[i], why, sizeof(why));
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
	free(copy);
}

static bool touched(const struct fcase *c, const char *path)
{
	if (c->flags & F_ALL)
		return true;
	for (int i = 0; i < 4 && c->touched[i]; i++) {
		size_t n = strlen(c->touched[i]);

		if (c->touched[i][n - 1] == '/'
			    ? !strncmp(path, c->touched[i], n)
			    : !strcmp(path, c->touched[i]))
			return true;
	}
	return false;
}

static void verify_xattrs(struct hfs_vol *vol)
{
	char buf[512];
	uint64_t ino = image_lookup(vol, "/x");

	if (hfs_getxattr(vol, ino, "user.a", buf, sizeof(buf)) != 1 ||
	    buf[0] != '1' ||
	    hfs_getxattr(vol, ino, "user.b", buf, sizeof(buf)) != 300)
		FAIL("/x: xattrs lost");
	for (int i = 0; i < 300; i++)
		if ((uint8_t)buf[i] != image_pattern("xattr", (uint64_t)i)) {
			FAIL("/x: xattr user.b differs");
			break;
		}
	for (int i = 0; i < IMAGE_XATTR_MANY; i++) {
		char name[16];

		snprintf(name, sizeof(name), "user.m%03d", i);
		if (hfs_getxattr(vol, ino, name, buf, sizeof(buf)) != 16) {
			FAIL("/x: xattr %s lost", name);
			break;
		}
	}
	{
		static char v[IMAGE_XATTR_V_LEN];

		if (hfs_getxattr(vol, ino, "user.v", v, sizeof(v)) !=
		    IMAGE_XATTR_V_LEN)
			FAIL("/x: xattr user.v lost");
		for (int i = 0; i < IMAGE_XATTR_V_LEN; i++)
			if ((uint8_t)v[i] != image_pattern("xattr-v",
							   (uint64_t)i)) {
				FAIL("/x: xattr user.v differs");
				break;
			}
	}
}

/* Everything the damage did not touch reads back as built. */
static void verify_tree(const struct fcase *c, uint8_t *mem)
{
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };
	char why[256];

	if (hfs_region_from_memory(mem, IMAGE_SIZE, &rg))
		return;
	if (hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		FAIL("%s: repaired image does not mount: %s", c->name, err.msg);
		hfs_region_close(rg);
		return;
	}
	for (size_t i = 0; i < image_ntree; i++)
		if (!touched(c, image_tree[i].path) &&
		    image_verify_obj(vol, &image_tree[i], why, sizeof(why)))
			FAIL("%s: %s", c->name, why);
	for (int i = 0; i < 40 && !(c->flags & F_ALL); i++) {
		char path[32];
		struct image_obj o = { path, O_FILE, 10, NULL };

		snprintf(path, sizeof(path), "/many/m%02d", i);
		if (!touched(c, path) &&
		    image_verify_obj(vol, &o, why, sizeof(why)))
			FAIL("%s: %s", c->name, why);
	}
	if (!(c->flags & (F_NOXATTR | F_ALL)))
		verify_xattrs(vol);
	if (c->post && c->post(vol, why, sizeof(why)))
		FAIL("%s: %s", c->name, why);
	if (hfs_vol_close(vol))
		FAIL("%s: unmount of the repaired image failed", c->name);
	hfs_region_close(rg);
}

static void corrupt(const struct fcase *c, uint8_t *mem)
{
	struct img im = { mem, IMAGE_SIZE, { 0 } };
	int which = c->flags & F_FILL ? 1 : c->flags & F_NOAREA ? 2 : 0;

	memcpy(mem, pristine[which], IMAGE_SIZE);
	im.sb = *sb_of(&im);
	c->corrupt(&im);
}

/* fsck -n: the expected code and problem, and not a byte changed. */
static void step_no(const struct fcase *c, uint8_t *mem, uint8_t *copy,
		    int want, bool first)
{
	struct hfs_fsck_report rep;
	int code;

	memcpy(copy, mem, IMAGE_SIZE);
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	dump(&rep);
	if (code != want)
		FAIL("%s: fsck -n %s exited %d, expected %d%s%s", c->name,
		     first ? "(first)" : "(after repair)", code, want,
		     rep.nproblems ? "; first problem: " : "",
		     rep.nproblems ? rep.problems[0].msg : "");
	if (first && c->problem && !reported(&rep, c->problem))
		FAIL("%s: %s not reported", c->name,
		     hfs_fsck_problem_desc(c->problem)->name);
	if (first && (c->flags & F_LOST) && !rep.nlost)
		FAIL("%s: no file with lost data reported", c->name);
	if (memcmp(copy, mem, IMAGE_SIZE))
		FAIL("%s: fsck -n changed the image", c->name);
	hfs_fsck_report_free(&rep);
}

static void step_preen(const struct fcase *c, uint8_t *mem)
{
	struct hfs_fsck_report rep;
	int code;

	corrupt(c, mem);
	code = run_fsck(mem, HFS_FSCK_PREEN, &rep);
	dump(&rep);
	if (code != c->preen_code)
		FAIL("%s: fsck -p exited %d, expected %d", c->name, code,
		     c->preen_code);
	if ((code & HFS_FSCK_UNCORRECTED) && !rep.preen_halted)
		FAIL("%s: fsck -p left errors without halting", c->name);
	hfs_fsck_report_free(&rep);
	if (!(code & HFS_FSCK_UNCORRECTED)) {
		code = run_fsck(mem, HFS_FSCK_NO, &rep);
		if (code)
			FAIL("%s: fsck -n after -p exited %d", c->name, code);
		hfs_fsck_report_free(&rep);
	}
}

static void run_case(const struct fcase *c, uint8_t *mem, uint8_t *copy)
{
	struct hfs_fsck_report rep;
	int before = failures, code;

	corrupt(c, mem);
	mount_damaged(mem);
	step_no(c, mem, copy, c->code_no, true);
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	dump(&rep);
	if (code != (c->flags & F_NOFIX ? c->code_no : c->code_no ? 1 : 0))
		FAIL("%s: fsck -y exited %d", c->name, code);
	hfs_fsck_report_free(&rep);
	if (!(c->flags & F_NOFIX)) {
		step_no(c, mem, copy, 0, false);
		verify_tree(c, mem);
		step_no(c, mem, copy, 0, false); /* mount + unmount: still clean */
	}
	if (c->flags & F_PREEN)
		step_preen(c, mem);
	printf("%s %s\n", failures == before ? "ok  " : "FAIL", c->name);
}

/* ------------------------------------------------------ poisoned media */

/* Make the page at addr fault with SIGBUS, as a poisoned line does: map
 * a one-page memfd over it, then shrink the memfd to nothing. */
static int poison(void *addr)
{
	int fd = memfd_create("poison", MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, 4096))
		return -1;
	p = mmap(addr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED || ftruncate(fd, 0))
		return -1;
	close(fd);
	return 0;
}

/* Replace the media: a fresh zero page. */
static void unpoison(void *addr)
{
	mmap(addr, 4096, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static void test_poisoned(void)
{
	uint8_t *mem = mmap(NULL, IMAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct img im = { mem, IMAGE_SIZE, { 0 } };
	struct hfs_fsck_report rep;
	uint8_t *pages[4];
	int before = failures, code;

	if (mem == MAP_FAILED)
		return;
	memcpy(mem, pristine[0], IMAGE_SIZE);
	im.sb = *sb_of(&im);
	pages[0] = mem + im.sb.s_itable_off + 32 * HFS_INODE_SIZE;
	pages[1] = mem + inode_at(&im, ino_of(&im, "/many"))->i_extents[0]
			 .e_pblk * HFS_BLOCK_SIZE;
	pages[2] = mem + im.sb.s_backup_off;
	pages[3] = mem + im.sb.s_dslot_off;
	for (int i = 0; i < 4; i++)
		if (poison(pages[i])) {
			printf("skip poisoned (memfd: %s)\n", strerror(errno));
			munmap(mem, IMAGE_SIZE);
			return;
		}
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	dump(&rep);
	if (code != 4 || !reported(&rep, HFS_P1_ITABLE_IO) ||
	    !reported(&rep, HFS_P2_DIRBLOCK_IO) ||
	    !reported(&rep, HFS_P5_BACKUP_BAD) ||
	    !reported(&rep, HFS_P1_DSLOT_IO))
		FAIL("poisoned: fsck -n exited %d without the media errors", code);
	hfs_fsck_report_free(&rep);
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	dump(&rep);
	if (!(code & HFS_FSCK_UNCORRECTED))
		FAIL("poisoned: fsck -y exited %d: writes to poisoned media "
		     "cannot have worked", code);
	hfs_fsck_report_free(&rep);
	for (int i = 0; i < 4; i++)
		unpoison(pages[i]);
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	dump(&rep);
	hfs_fsck_report_free(&rep);
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	dump(&rep);
	if (code)
		FAIL("poisoned: after new media and fsck -y, fsck -n exited %d",
		     code);
	hfs_fsck_report_free(&rep);
	munmap(mem, IMAGE_SIZE);
	printf("%s poisoned\n", failures == before ? "ok  " : "FAIL");
}

/* ------------------------------------------------------ cancel */

static const struct fcase *find_case(const char *name)
{
	for (size_t i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}


static int cancel_at_pass2(void *ctx, int pass, const char *unit,
			   uint64_t done, uint64_t total)
{
	(void)unit;
	(void)done;
	(void)total;
	++*(int *)ctx;
	return pass >= 3;
}

/* A progress callback that says stop: exit 32, the run stops, the
 * filesystem is left flagged (repairs already written stay). */
static void test_cancel(uint8_t *mem)
{
	int calls = 0, before = failures;
	struct hfs_fsck_opts o = { .mode = HFS_FSCK_YES, .force = true,
				   .progress = cancel_at_pass2,
				   .ctx = &calls };
	struct hfs_fsck_report rep;
	struct hfs_region *rg;
	int code;

	corrupt(find_case("inode_crc"), mem);
	if (hfs_region_from_memory(mem, IMAGE_SIZE, &rg))
		return;
	code = hfs_fsck(rg, &o, &rep);
	if (!(code & HFS_FSCK_CANCELLED) || !rep.cancelled || calls < 3)
		FAIL("cancel: exit %d, cancelled %d, %d calls", code,
		     rep.cancelled, calls);
	if (rep.pass_ms[4] != 0 || rep.pass_ms[6] != 0)
		FAIL("cancel: passes ran after the cancel");
	hfs_fsck_report_free(&rep);
	if (!(((struct hfs_super *)mem)->s_state & HFS_STATE_ERRORS))
		FAIL("cancel: a cut-short repair must leave ERRORS set");
	hfs_region_close(rg);
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	hfs_fsck_report_free(&rep);
	if (run_fsck(mem, HFS_FSCK_NO, &rep))
		FAIL("cancel: not clean after a full -y run (exit %d)", code);
	hfs_fsck_report_free(&rep);
	printf("%s cancel\n", failures == before ? "ok  " : "FAIL");
}

/* ------------------------------------------------------ slots vs mount */

static bool live(const uint8_t *mem, uint64_t off)
{
	return ((const struct hfs_super *)(mem + off))->s_feat_incompat &
	       HFS_FEAT_INCOMPAT_DSLOTS_LIVE;
}

/* The fields a fold writes, as mount wrote them and as fsck did. */
static bool same_fold(const struct hfs_inode_disk *a,
		      const struct hfs_inode_disk *b)
{
	return a->i_size == b->i_size && a->i_mtime == b->i_mtime &&
	       a->i_mtime_ns == b->i_mtime_ns && a->i_ctime == b->i_ctime &&
	       a->i_ctime_ns == b->i_ctime_ns &&
	       a->i_dp_epoch == b->i_dp_epoch &&
	       a->i_nextents == b->i_nextents && a->i_ext_blk == b->i_ext_blk &&
	       !memcmp(a->i_extents, b->i_extents, sizeof(a->i_extents));
}

/* Mount a copy of the image read-write (it folds the slots): the inode
 * dp_ino and the pool blocks in use as mount leaves them. */
static void mount_fold(const uint8_t *mem, uint8_t *copy,
		       struct hfs_inode_disk *d, uint64_t *used)
{
	struct img im = { copy, IMAGE_SIZE, { 0 } };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };

	memcpy(copy, mem, IMAGE_SIZE);
	im.sb = *sb_of(&im);
	if (hfs_region_from_memory(copy, IMAGE_SIZE, &rg))
		return;
	if (hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		FAIL("dslot_fold: mount: %s", err.msg);
	} else {
		*d = *inode_at(&im, dp_ino);
		*used = vol->sb.s_pool_blocks - vol->alloc.free_blocks;
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
}

/* A pending slot, three ways. */
struct fold_case {
	const char *name;
	uint64_t prealloc; /* KEEP_SIZE allocation [0, this) before arming */
	uint64_t resv;     /* ds_resv set by hand (crafted); 0: as armed */
	uint64_t junk_end; /* unpublished bytes [DP_SIZE, this), ds_dirty */
};

static const struct fold_case fold_cases[] = {
	{ "dslot_fold", DP_LIMIT, 0, DP_SIZE + DP_JUNK },
	/* the reservation ends inside an extent that goes on past it */
	{ "dslot_fold_split", 2 * DP_LIMIT, 0, DP_SIZE + DP_JUNK },
	/* blocks kept past the last unit hold unpublished bytes (ds_dirty) */
	{ "dslot_fold_dirty", DP_LIMIT, 64 << 10, 40000 },
};

/* The file bytes of dp_ino in a and b, block by block over [0, end):
 * mapped in both or in neither, and equal. */
static bool same_bytes(uint8_t *a, uint8_t *b, uint64_t end)
{
	struct img ia = { a, IMAGE_SIZE, *(struct hfs_super *)a };
	struct img ib = { b, IMAGE_SIZE, *(struct hfs_super *)b };

	for (uint64_t off = 0; off < end; off += HFS_BLOCK_SIZE) {
		uint8_t *pa = file_addr(&ia, dp_ino, off);
		uint8_t *pb = file_addr(&ib, dp_ino, off);

		if (!pa != !pb || (pa && memcmp(pa, pb, HFS_BLOCK_SIZE)))
			return false;
	}
	return true;
}

/* What fsck does with a pending slot is what mount does with it: the
 * inode (size, times, epoch, the extent map without the reservation),
 * the blocks in use (in -n already), the file's bytes (EOF tail and
 * unpublished writes zeroed), the empty area, DSLOTS_LIVE cleared in
 * both superblocks. */
static void test_dslot_fold(uint8_t *mem, uint8_t *copy,
			    const struct fold_case *fc)
{
	const char *name = fc->name;
	struct img im = { mem, IMAGE_SIZE, { 0 } };
	struct hfs_inode_disk by_mount = { 0 };
	struct hfs_fsck_report rep;
	uint64_t used_mount = 0, used_n, end;
	int before = failures, code;

	memcpy(mem, pristine[0], IMAGE_SIZE);
	im.sb = *sb_of(&im);
	dp_prealloc = fc->prealloc;
	crash_after(&im, dp_setup);
	dp_prealloc = DP_LIMIT;
	dp_client_to(&im, fc->junk_end);
	if (fc->resv)
		slot_at(&im, dp_idx)->ds_resv = fc->resv;
	end = (DP_SIZE + im.sb.s_alloc_unit - 1) / im.sb.s_alloc_unit *
	      im.sb.s_alloc_unit;
	if (!live(mem, 0) || slot_at(&im, dp_idx)->ds_ino != dp_ino)
		FAIL("%s: setup: no armed slot, or DSLOTS_LIVE clear", name);
	mount_fold(mem, copy, &by_mount, &used_mount);
	if (by_mount.i_size != DP_SIZE)
		FAIL("%s: mount folded size %llu", name,
		     (unsigned long long)by_mount.i_size);

	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	dump(&rep);
	used_n = rep.counts.blocks_used;
	if (code != 4 || rep.dslots_pending != 1 || rep.dslots_stale ||
	    used_n != used_mount)
		FAIL("%s: -n exit %d, %llu pending, %llu stale, %llu blocks "
		     "used (mount: %llu)", name, code,
		     (unsigned long long)rep.dslots_pending,
		     (unsigned long long)rep.dslots_stale,
		     (unsigned long long)used_n,
		     (unsigned long long)used_mount);
	hfs_fsck_report_free(&rep);

	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	dump(&rep);
	if (code != 1 || rep.dslots_pending != 1 ||
	    rep.counts.blocks_used != used_n)
		FAIL("%s: -y exit %d, %llu pending, %llu blocks used", name,
		     code, (unsigned long long)rep.dslots_pending,
		     (unsigned long long)rep.counts.blocks_used);
	hfs_fsck_report_free(&rep);
	if (!same_fold(inode_at(&im, dp_ino), &by_mount))
		FAIL("%s: fsck's fold differs from mount's (size %llu, "
		     "epoch %llu, %u extents; mount: %llu, %llu, %u)", name,
		     (unsigned long long)inode_at(&im, dp_ino)->i_size,
		     (unsigned long long)inode_at(&im, dp_ino)->i_dp_epoch,
		     inode_at(&im, dp_ino)->i_nextents,
		     (unsigned long long)by_mount.i_size,
		     (unsigned long long)by_mount.i_dp_epoch,
		     by_mount.i_nextents);
	if (!same_bytes(mem, copy, fc->prealloc))
		FAIL("%s: the file's bytes differ from mount's", name);
	if (!fc->resv && file_addr(&im, dp_ino, end))
		FAIL("%s: the reservation past EOF is still mapped", name);
	for (uint64_t off = DP_SIZE; off < fc->junk_end; off++) {
		uint8_t *p = file_addr(&im, dp_ino, off);

		if (p && *p) {
			FAIL("%s: byte %llu past EOF not zeroed", name,
			     (unsigned long long)off);
			break;
		}
	}
	for (uint32_t k = 0; k < im.sb.s_dslot_count; k++) {
		static const struct hfs_dslot zero;

		if (memcmp(slot_at(&im, k), &zero, sizeof(zero)))
			FAIL("%s: slot %u not cleared", name, k);
	}
	if (live(mem, 0) || live(mem, im.sb.s_backup_off))
		FAIL("%s: DSLOTS_LIVE left set after -y", name);
	if (!(sb_of(&im)->s_state & HFS_STATE_CLEAN))
		FAIL("%s: not marked clean after -y", name);
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	if (code || rep.dslots_pending || rep.dslots_stale)
		FAIL("%s: second run exit %d", name, code);
	hfs_fsck_report_free(&rep);
	if (fc->prealloc > DP_LIMIT && !file_addr(&im, dp_ino, DP_LIMIT))
		FAIL("%s: the preallocation past the reservation went too", name);
	printf("%s %s\n", failures == before ? "ok  " : "FAIL", name);
}

/* /dq: five blocks one apart (five inline extents, no overflow chain),
 * the last one followed by a preallocation to 2 MiB: returning a
 * reservation inside that extent would split it into a sixth. */
#define DQ_BASE (9u * 4096)
#define DQ_SIZE 40000u

static void dq_setup(struct hfs_vol *vol)
{
	uint8_t buf[4096];
	struct hfs_attr a;
	int bad = hfs_mknod(vol, HFS_ROOT_INO, "dq", S_IFREG | 0644, 0,
			    &dp_cred, &a) || hfs_open(vol, a.ino);

	for (uint64_t k = 0; k < 5 && !bad; k++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = image_pattern("/dq", 2 * k * 4096 + i);
		bad = hfs_write(vol, a.ino, buf, sizeof(buf), 2 * k * 4096) !=
		      (ssize_t)sizeof(buf);
	}
	if (bad || hfs_dslot_attach(vol, a.ino, &dp_idx, &dp_gen) ||
	    hfs_fallocate(vol, a.ino, FALLOC_FL_KEEP_SIZE, DQ_BASE,
			  2 * DP_LIMIT - DQ_BASE) ||
	    hfs_dslot_raise_limit(vol, a.ino, DQ_BASE, DP_LIMIT))
		FAIL("setup: /dq not armed");
	dp_ino = a.ino;
}

/* The one fold that differs from mount's, by design (pass1_dslots.c):
 * pass 1 has no block for a sixth extent's overflow chain, so the
 * extent stays whole and its blocks past EOF stay preallocated.  The
 * rest is the fold: size, tail, slot, and a clean second run. */
static void test_dslot_nosplit(uint8_t *mem)
{
	struct img im = { mem, IMAGE_SIZE, { 0 } };
	struct hfs_inode_disk *d;
	struct hfs_dslot *s;
	struct hfs_fsck_report rep;
	int before = failures, code;

	memcpy(mem, pristine[0], IMAGE_SIZE);
	im.sb = *sb_of(&im);
	crash_after(&im, dq_setup);
	d = inode_at(&im, dp_ino);
	s = slot_at(&im, dp_idx);
	if (d->i_nextents != 5 || d->i_ext_blk || s->ds_ino != dp_ino)
		FAIL("dslot_nosplit: setup: %u extents, chain %llu",
		     d->i_nextents, (unsigned long long)d->i_ext_blk);
	for (uint64_t off = DQ_BASE; off < DQ_SIZE; off++)
		*file_addr(&im, dp_ino, off) = image_pattern("/dq", off);
	*file_addr(&im, dp_ino, DQ_SIZE) = 'X';
	s->ds_size = DQ_SIZE;
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	dump(&rep);
	if (code != 1 || !reported(&rep, HFS_P1_DSLOT_PENDING) ||
	    !strstr(rep.problems[0].msg, "no room to split"))
		FAIL("dslot_nosplit: -y exit %d", code);
	hfs_fsck_report_free(&rep);
	if (d->i_size != DQ_SIZE || d->i_nextents != 5 || d->i_ext_blk ||
	    !file_addr(&im, dp_ino, DP_LIMIT - 1) ||
	    *file_addr(&im, dp_ino, DQ_SIZE) || s->ds_ino)
		FAIL("dslot_nosplit: size %llu, %u extents, tail %d, slot %llu",
		     (unsigned long long)d->i_size, d->i_nextents,
		     *file_addr(&im, dp_ino, DQ_SIZE),
		     (unsigned long long)s->ds_ino);
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	if (code)
		FAIL("dslot_nosplit: second run exit %d", code);
	hfs_fsck_report_free(&rep);
	printf("%s dslot_nosplit\n", failures == before ? "ok  " : "FAIL");
}

/* DSLOTS_LIVE: accepted; kept by -n; cleared by -y when no valid slot is
 * left; kept when one is (here: -y cannot write). */
static void test_dslot_live(uint8_t *mem)
{
	struct img im = { mem, IMAGE_SIZE, { 0 } };
	struct hfs_fsck_report rep;
	struct hfs_fsck_opts o = { .mode = HFS_FSCK_YES };
	struct hfs_region *rg;
	int before = failures, code;

	corrupt(find_case("dslot_live"), mem);
	im.sb = *sb_of(&im);
	if (!live(mem, 0) || live(mem, im.sb.s_backup_off))
		FAIL("dslot_live: setup: DSLOTS_LIVE not in the primary only");
	code = run_fsck(mem, HFS_FSCK_NO, &rep);
	hfs_fsck_report_free(&rep);
	if (code || !live(mem, 0))
		FAIL("dslot_live: -n exit %d", code);
	code = run_fsck(mem, HFS_FSCK_YES, &rep);
	hfs_fsck_report_free(&rep);
	if (code || live(mem, 0) || live(mem, im.sb.s_backup_off))
		FAIL("dslot_live: -y exit %d, DSLOTS_LIVE %s", code,
		     live(mem, 0) ? "left set" : "cleared");
	/* a pending slot on a region fsck may not write: kept */
	corrupt(find_case("dslot_pending"), mem);
	if (!hfs_region_from_memory(mem, IMAGE_SIZE, &rg)) {
		rg->readonly = true;
		code = hfs_fsck(rg, &o, &rep);
		hfs_fsck_report_free(&rep);
		hfs_region_close(rg);
		if (code != 4 || !live(mem, 0))
			FAIL("dslot_live: -y read-only exit %d", code);
	}
	/* a quick check would not see a pending slot */
	sb_of(&im)->s_state |= HFS_STATE_CLEAN;
	sb_recrc(sb_of(&im));
	o.mode = HFS_FSCK_NO;
	if (!hfs_region_from_memory(mem, IMAGE_SIZE, &rg)) {
		code = hfs_fsck(rg, &o, &rep);
		if (code != 4 || rep.quick)
			FAIL("dslot_live: clean flag and DSLOTS_LIVE: exit %d, "
			     "quick %d", code, rep.quick);
		hfs_fsck_report_free(&rep);
		hfs_region_close(rg);
	}
	printf("%s dslot_live_flag\n", failures == before ? "ok  " : "FAIL");
}

/* ------------------------------------------------------ main */

/* --write-image PATH [--corrupt NAME] (for the CLI test) */
static int write_image(const char *path, const char *name)
{
	const struct fcase *c = name ? find_case(name) : &cases[0];
	uint8_t *mem = calloc(1, IMAGE_SIZE);
	int fd, ret = 1;

	if (!c || !mem) {
		fprintf(stderr, "test_fsck: unknown case %s\n", name);
		free(mem);
		return 2;
	}
	corrupt(c, mem);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && write(fd, mem, IMAGE_SIZE) == IMAGE_SIZE)
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(mem);
	return ret;
}

int main(int argc, char **argv)
{
	uint8_t *mem = malloc(IMAGE_SIZE), *copy = malloc(IMAGE_SIZE);
	int ran = 0;

	if (!mem || !copy || build_pristine(0) || build_pristine(1) ||
	    build_pristine(2)) {
		fprintf(stderr, "test_fsck: cannot build the test images\n");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < NCASES; i++)
			printf("%s\n", cases[i].name);
		argc = -1;
	}
	if (argc > 2 && !strcmp(argv[1], "--write-image")) {
		ran = write_image(argv[2], argc > 4 ? argv[4] : NULL);
		argc = -1;
	}
	if (argc < 0) {
		free(mem);
		free(copy);
		for (int i = 0; i < 3; i++)
			free(pristine[i]);
		return ran;
	}
	for (size_t i = 0; i < NCASES; i++) {
		bool want = argc == 1;

		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], cases[i].name);
		if (want) {
			run_case(&cases[i], mem, copy);
			ran++;
		}
	}
	for (int a = 1; a < argc || argc == 1; a++)
		if (argc == 1 || !strcmp(argv[a], "poisoned")) {
			test_poisoned();
			break;
		}
	for (int a = 1; a < argc || argc == 1; a++)
		if (argc == 1 || !strcmp(argv[a], "dslot_fold")) {
			for (size_t i = 0; i < sizeof(fold_cases) /
						   sizeof(fold_cases[0]); i++)
				test_dslot_fold(mem, copy, &fold_cases[i]);
			test_dslot_nosplit(mem);
			test_dslot_live(mem);
			break;
		}
	for (int a = 1; a < argc || argc == 1; a++)
		if (argc == 1 || !strcmp(argv[a], "cancel")) {
			test_cancel(mem);
			break;
		}
	printf("%d cases, %d failures\n", ran, failures);
	free(mem);
	free(copy);
	for (int i = 0; i < 3; i++)
		free(pristine[i]);
	return failures ? 1 : 0;
}
