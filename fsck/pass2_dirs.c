/* SPDX-License-Identifier: MIT */
/*
 * Pass 2: directory entries.
 *
 * Checks every slot of every directory block (the maps pass 1b left):
 *   - all-zero slots are free; others need a matching checksum;
 *   - d_ino 0 with a good checksum is a freed slot;
 *   - the name: 1..255 bytes, no '/' or NUL, not "." or ".." (never
 *     stored: "." is the directory, ".." is i_parent);
 *   - the target: a live inode of pass 1, not the root;
 *   - no two entries of one directory with the same name;
 *   - d_type matches the target's file type;
 *   - a directory is named by one entry only (the one in its i_parent
 *     directory wins, else the first found).
 * Repairs: an entry that fails any of these is cleared (rewritten as a
 *   freed slot); its target, if it is live and now unnamed, is reconnected
 *   by pass 3.  A wrong d_type is corrected.  An unreadable block is
 *   rewritten empty.
 * Needs: pass 1 (live inodes and types), pass 1b (f->dirs).
 * Leaves: for each inode, the number of entries naming it (links) and
 *   the first one (dparent, doff: paths and pass 3); for each directory,
 *   its subdirectories and entries; /lost+found if the root holds one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"

/* ------------------------------------------------------ one entry */

struct p2 {
	struct fsck *f;
	struct fsck_dir *d;
	struct fsck_nameset names;
};

static void clear_entry(struct fsck *f, uint64_t off)
{
	struct hfs_dentry_disk dd;
	int ret;

	fsck_dentry_encode(&dd, 0, NULL, 0, 0);
	ret = fsck_write(f, off, &dd, sizeof(dd));
	if (ret)
		fsck_fix_failed(f, ret);
}

static const char *name_why(const struct hfs_dentry_disk *dd)
{
	uint16_t len = dd->d_name_len;

	if (len == 0 || len > HFS_NAME_MAX)
		return "has an invalid name length";
	if (memchr(dd->d_name, '/', len) || memchr(dd->d_name, 0, len))
		return "has a name with '/' or NUL";
	if ((len == 1 && dd->d_name[0] == '.') ||
	    (len == 2 && dd->d_name[0] == '.' && dd->d_name[1] == '.'))
		return "is named \".\" or \"..\"";
	return NULL;
}

/* Is the entry itself valid (checksum, name, target)?  Clears it if
 * not and returns false. */
static bool entry_valid(struct p2 *p, const struct hfs_dentry_disk *dd,
			uint64_t off)
{
	struct fsck *f = p->f;
	uint64_t dino = p->d->ino, t = dd->d_ino;
	const char *why = NULL;
	enum hfs_fsck_code code = HFS_P2_DENTRY_NAME;
	int nlen = dd->d_name_len <= HFS_NAME_MAX ? dd->d_name_len : 0;

	if (dd->d_crc != hfs_crc_struct(dd, sizeof(*dd),
					offsetof(struct hfs_dentry_disk,
						 d_crc))) {
		if (fix_problem(f, HFS_P2_DENTRY_CRC, dino, off, "directory %"
				PRIu64 ": entry at 0x%" PRIx64 " has a bad "
				"checksum", dino, off))
			clear_entry(f, off);
		return false;
	}
	if (t == 0)
		return false; /* a freed slot */
	if ((why = name_why(dd)) == NULL) {
		code = t == HFS_ROOT_INO ? HFS_P2_DENTRY_ROOT
					 : HFS_P2_DENTRY_DANGLING;
		why = t == HFS_ROOT_INO ? "names the root directory" :
		      fsck_live(f, t) ? NULL : "names a free or invalid inode";
	}
	if (!why)
		return true;
	if (fix_problem(f, code, dino, off, "directory %" PRIu64 ": entry '%.*s'"
			" (inode %" PRIu64 ") %s", dino, nlen, dd->d_name, t,
			why))
		clear_entry(f, off);
	return false;
}

static void fix_type(struct fsck *f, uint64_t dino, uint64_t off,
		     const struct hfs_dentry_disk *dd, uint8_t want)
{
	struct hfs_dentry_disk n;
	int ret;

	if (!fix_problem(f, HFS_P2_DENTRY_TYPE, dino, off, "directory %" PRIu64
			 ": entry '%.*s' has type %u, inode %" PRIu64 " is %u",
			 dino, dd->d_name_len, dd->d_name, dd->d_type,
			 dd->d_ino, want))
		return;
	fsck_dentry_encode(&n, dd->d_ino, dd->d_name, dd->d_name_len, want);
	ret = fsck_write(f, off, &n, sizeof(n));
	if (ret)
		fsck_fix_failed(f, ret);
}

/* A directory named twice: keep the entry in its i_parent directory if
 * that is one of them, else the first one found. */
static bool link_dir(struct p2 *p, const struct hfs_dentry_disk *dd,
		     uint64_t off)
{
	struct fsck *f = p->f;
	struct fsck_ino *t = &f->ino[dd->d_ino];
	uint64_t dino = p->d->ino, drop_dir = dino, drop_off = off;

	if (t->dparent) {
		if (dino == t->parent && t->dparent != t->parent) {
			drop_dir = t->dparent;
			drop_off = t->doff;
		}
		if (fix_problem(f, HFS_P2_DIR_LINKED_TWICE, drop_dir, drop_off,
				"directory %" PRIu64 " is named in directories %"
				PRIu64 " and %" PRIu64 "; the entry in %" PRIu64
				" goes", dd->d_ino, t->dparent, dino, drop_dir))
			clear_entry(f, drop_off);
		if (drop_dir == dino)
			return false;
		f->ino[drop_dir].subdirs--;
		t->links--;
		if (fsck_dir_of(f, drop_dir))
			fsck_dir_of(f, drop_dir)->nent--;
	}
	t->dparent = dino;
	t->doff = off;
	t->links++;
	f->ino[dino].subdirs++;
	return true;
}

static int check_entry(struct p2 *p, const struct hfs_dentry_disk *dd,
		       uint64_t off)
{
	static const struct hfs_dentry_disk zero;
	struct fsck *f = p->f;
	uint64_t dino = p->d->ino;
	struct fsck_ino *t;
	int dup;

	if (!memcmp(dd, &zero, sizeof(zero)) || !entry_valid(p, dd, off))
		return 0;
	t = &f->ino[dd->d_ino];
	dup = fsck_nameset_add(&p->names, dd->d_name, dd->d_name_len);
	if (dup < 0)
		return dup;
	if (dup) {
		if (fix_problem(f, HFS_P2_DENTRY_DUP, dino, off, "directory %"
				PRIu64 ": second entry named '%.*s' (inode %"
				PRIu64 ")", dino, dd->d_name_len, dd->d_name,
				dd->d_ino))
			clear_entry(f, off);
		return 0;
	}
	if (dd->d_type != fsck_dtype(t->mode))
		fix_type(f, dino, off, dd, fsck_dtype(t->mode));
	if (S_ISDIR(t->mode)) {
		if (!link_dir(p, dd, off))
			return 0;
	} else {
		if (!t->dparent) {
			t->dparent = dino;
			t->doff = off;
		}
		t->links++;
	}
	p->d->nent++;
	f->rep->counts.dentries++;
	if (dino == HFS_ROOT_INO && dd->d_name_len == 10 &&
	    !memcmp(dd->d_name, "lost+found", 10)) {
		if (S_ISDIR(t->mode))
			f->lpf = dd->d_ino;
		else
			f->lpf_blocked = true;
	}
	return 0;
}

/* ------------------------------------------------------ one directory */

static void block_unreadable(struct fsck *f, uint64_t dino, uint64_t pblk)
{
	static const uint8_t zero[HFS_BLOCK_SIZE];
	int ret;

	if (!fix_problem(f, HFS_P2_DIRBLOCK_IO, dino, pblk * BLK, "directory %"
			 PRIu64 ": block %" PRIu64 " is unreadable; its entries "
			 "are lost", dino, pblk))
		return;
	ret = fsck_write(f, pblk * BLK, zero, sizeof(zero));
	if (ret)
		fsck_fix_failed(f, ret);
}

static int check_block(struct p2 *p, uint64_t pblk, uint8_t *buf)
{
	int ret = 0;

	if (fsck_read(p->f, pblk * BLK, buf, HFS_BLOCK_SIZE)) {
		block_unreadable(p->f, p->d->ino, pblk);
		return 0;
	}
	for (uint32_t k = 0; k < HFS_DENTRIES_PER_BLOCK && !ret; k++) {
		const struct hfs_dentry_disk *dd =
			(const void *)(buf + k * sizeof(*dd));

		ret = check_entry(p, dd, pblk * BLK + k * sizeof(*dd));
	}
	return ret;
}

static int check_dir(struct p2 *p, uint8_t *buf)
{
	int ret = 0;

	fsck_nameset_reset(&p->names);
	p->d->nent = 0;
	for (uint32_t i = 0; i < p->d->n && !ret; i++) {
		const struct hfs_extent *e = &p->d->v[i];

		for (uint64_t b = 0; b < e->e_len && !ret && !p->f->halt; b++)
			ret = check_block(p, e->e_pblk + b, buf);
	}
	return ret;
}

int fsck_pass2(struct fsck *f)
{
	struct p2 p = { .f = f };
	uint8_t *buf = malloc(HFS_BLOCK_SIZE);
	int ret = buf ? 0 : -ENOMEM;

	for (size_t i = 0; i < f->ndirs && !ret && !f->halt; i++) {
		if (i % 256 == 0 && fsck_progress(f, 3, "directories", i,
						  f->ndirs))
			break;
		p.d = &f->dirs[i];
		ret = check_dir(&p, buf);
	}
	fsck_progress(f, 3, "directories", f->ndirs, f->ndirs);
	fsck_nameset_free(&p.names);
	free(buf);
	return ret;
}
