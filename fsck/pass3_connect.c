/* SPDX-License-Identifier: MIT */
/*
 * Pass 3: connectivity.
 *
 * Checks: every directory reaches the root by following the entries that
 *   name it (pass 2 left each directory's one parent entry); every live
 *   inode with a link count is named by some entry; i_parent of every
 *   directory is the directory whose entry names it (the root is its own
 *   parent).
 * Repairs: a directory that does not reach the root (its parent chain
 *   ends at an unnamed directory, or loops) is reconnected: the top of
 *   the chain gets an entry "#INO" in /lost+found (a loop is cut at the
 *   directory where the walk closed it, dropping the entry that closed
 *   it).  A file, symlink or device with links but no entry is
 *   reconnected the same way.  /lost+found is created under the root the
 *   first time it is needed.  i_parent is rewritten where it is wrong.
 *   Unnamed inodes with no links (orphans, HFS_IF_ORPHAN or not) are left
 *   to pass 4, which frees them, as mount would.
 * Needs: pass 2 (links, dparent, subdirs, f->lpf).
 * Leaves: every directory connected, links/subdirs updated for the
 *   reconnected entries (pass 4 fixes the counts).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"
#include "grow.h"

struct p3 {
	struct fsck *f;
	uint64_t *stack;
	size_t n, cap;
	struct fsck_nameset lpf_names;
	bool lpf_names_loaded;
};

/* ------------------------------------------------------ lost+found */

static int64_t free_slot(struct fsck *f)
{
	struct fsck_ino *v;

	for (uint64_t ino = 2; ino < f->scan_end; ino++)
		if (!f->ino[ino].mode && !(f->ino[ino].flags & FI_USED))
			return (int64_t)ino;
	for (uint64_t ino = 2; ino < f->scan_end; ino++)
		if (!f->ino[ino].mode)
			return (int64_t)ino;
	if (f->scan_end >= f->sb.s_inode_count)
		return -ENOSPC;
	v = realloc(f->ino, (f->scan_end + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->ino = v;
	memset(&f->ino[f->scan_end], 0, sizeof(*v));
	f->sb.s_inode_hwm = f->scan_end + 1;
	return (int64_t)f->scan_end++;
}

int fsck_dirs_push(struct fsck *f, uint64_t ino)
{
	struct fsck_dir *d;

	if (f->ndirs == f->capdirs &&
	    hfs_grow(&f->dirs, &f->capdirs, f->ndirs + 1, sizeof(*f->dirs)))
		return -ENOMEM;
	d = &f->dirs[f->ndirs++];
	memset(d, 0, sizeof(*d));
	d->ino = ino;
	f->ino[ino].dir = (uint32_t)f->ndirs;
	return 0;
}

static int lpf_create(struct fsck *f)
{
	struct hfs_inode_disk d;
	struct timespec now;
	int64_t ino = free_slot(f);
	uint64_t off, gen = f->max_gen;
	int ret;

	if (ino < 0)
		return (int)ino;
	clock_gettime(CLOCK_REALTIME, &now);
	if (!fsck_read_inode(f, (uint64_t)ino, &d) && d.i_generation > gen)
		gen = d.i_generation;
	d = (struct hfs_inode_disk){
		.i_mode = S_IFDIR | 0700, .i_nlink = 2,
		.i_generation = gen + 1, .i_parent = HFS_ROOT_INO,
		.i_atime = (uint64_t)now.tv_sec, .i_mtime = (uint64_t)now.tv_sec,
		.i_ctime = (uint64_t)now.tv_sec, .i_btime = (uint64_t)now.tv_sec,
	};
	f->max_gen = d.i_generation;
	if ((ret = fsck_write_inode(f, (uint64_t)ino, &d)) ||
	    (ret = fsck_dirs_push(f, (uint64_t)ino)))
		return ret;
	f->ino[ino] = (struct fsck_ino){
		.mode = d.i_mode, .nlink = 2, .links = 1, .flags = FI_USED |
		FI_CONNECTED, .dir = f->ino[ino].dir, .parent = HFS_ROOT_INO,
		.dparent = HFS_ROOT_INO,
	};
	ret = fsck_dir_add(f, fsck_dir_of(f, HFS_ROOT_INO), "lost+found",
			   (uint64_t)ino, fsck_dtype(S_IFDIR), &off);
	if (ret)
		return ret;
	f->ino[ino].doff = off;
	f->ino[HFS_ROOT_INO].subdirs++;
	f->lpf = (uint64_t)ino;
	return 0;
}

/* /lost+found, created if needed; 0 if there is none (-n, or failed). */
static uint64_t get_lpf(struct fsck *f)
{
	int ret;

	if (f->lpf || f->lpf_failed)
		return f->lpf;
	f->lpf_failed = true; /* ask once */
	if (f->lpf_blocked) {
		fix_problem(f, HFS_P3_LPF_FAILED, HFS_ROOT_INO, HFS_FSCK_NO_OFF,
			    "/lost+found exists and is not a directory; rename "
			    "it and run fsck.holdfs again");
		return 0;
	}
	if (!fix_problem(f, HFS_P3_NO_LPF, HFS_ROOT_INO, HFS_FSCK_NO_OFF,
			 "/lost+found not found"))
		return 0;
	ret = lpf_create(f);
	if (ret) {
		fsck_fix_failed(f, ret);
		fix_problem(f, HFS_P3_LPF_FAILED, 0, HFS_FSCK_NO_OFF,
			    "cannot create /lost+found: %s", strerror(-ret));
		return 0;
	}
	f->lpf_failed = false;
	return f->lpf;
}

/* Names already in /lost+found, read once. */
static int lpf_names_load(struct p3 *p, uint64_t lpf)
{
	struct fsck_dir *d = fsck_dir_of(p->f, lpf);
	struct hfs_dentry_disk dd;
	int ret = 0;

	p->lpf_names_loaded = true;
	for (uint32_t i = 0; d && i < d->n && !ret; i++)
		for (uint64_t b = 0; b < d->v[i].e_len && !ret; b++)
			for (uint32_t k = 0; k < HFS_DENTRIES_PER_BLOCK && !ret;
			     k++) {
				uint64_t off = (d->v[i].e_pblk + b) * BLK +
					       k * sizeof(dd);

				if (fsck_read(p->f, off, &dd, sizeof(dd)) ||
				    !dd.d_ino || dd.d_name_len > HFS_NAME_MAX)
					continue;
				ret = fsck_nameset_add(&p->lpf_names, dd.d_name,
						       dd.d_name_len);
				ret = ret > 0 ? 0 : ret;
			}
	return ret;
}

/* Give ino the entry "#INO" (or "#INO.N") in /lost+found; without yes
 * (-n, or -p stopping) only as if it had. */
static int reconnect(struct p3 *p, uint64_t ino, bool yes)
{
	struct fsck *f = p->f;
	uint64_t lpf = get_lpf(f), off = 0; /* asks (and reports) once */
	struct fsck_ino *t = &f->ino[ino]; /* after get_lpf: f->ino moves */
	char name[48];
	int ret, n = 0;

	if (!lpf || !yes) {
		if (yes) /* no /lost+found to put it in */
			fsck_fix_failed(f, -ENOENT);
		t->dparent = lpf; /* as if reconnected */
		t->links++;
		f->ino[lpf].subdirs += lpf && S_ISDIR(t->mode);
		return 0;
	}
	if (!p->lpf_names_loaded && (ret = lpf_names_load(p, lpf)))
		return ret;
	do {
		if (n++)
			snprintf(name, sizeof(name), "#%" PRIu64 ".%d", ino, n);
		else
			snprintf(name, sizeof(name), "#%" PRIu64, ino);
		ret = fsck_nameset_add(&p->lpf_names, name, (uint16_t)strlen(name));
	} while (ret == 1);
	if (ret < 0)
		return ret;
	ret = fsck_dir_add(f, fsck_dir_of(f, lpf), name, ino,
			   fsck_dtype(t->mode), &off);
	if (ret)
		return ret;
	t->dparent = lpf;
	t->doff = off;
	t->links++;
	if (S_ISDIR(t->mode))
		f->ino[lpf].subdirs++;
	return 0;
}

/* ------------------------------------------------------ directories */

static int push(struct p3 *p, uint64_t ino)
{
	if (p->n == p->cap &&
	    hfs_grow(&p->stack, &p->cap, p->n + 1, sizeof(*p->stack)))
		return -ENOMEM;
	p->stack[p->n++] = ino;
	p->f->ino[ino].flags |= FI_VISITING;
	return 0;
}

/* The entry that closed a loop goes; the directory is unnamed again. */
static void cut_loop(struct fsck *f, uint64_t top, bool yes)
{
	struct fsck_ino *t = &f->ino[top];
	struct hfs_dentry_disk dd;
	struct fsck_dir *pd = fsck_dir_of(f, t->dparent);
	int ret;

	if (yes) {
		fsck_dentry_encode(&dd, 0, NULL, 0, 0);
		ret = fsck_write(f, t->doff, &dd, sizeof(dd));
		if (ret)
			fsck_fix_failed(f, ret);
	}
	f->ino[t->dparent].subdirs--;
	if (pd)
		pd->nent--;
	t->dparent = 0;
	t->links--;
}

static bool orphan_dir(struct fsck *f, uint64_t ino)
{
	struct fsck_dir *d = fsck_dir_of(f, ino);

	return f->ino[ino].nlink == 0 && (!d || d->nent == 0);
}

/* Walk up from ino; reconnect the top if the walk does not reach root. */
static int connect(struct p3 *p, uint64_t ino)
{
	struct fsck *f = p->f;
	uint64_t x = ino;
	bool loop = false;
	int ret = 0;

	p->n = 0;
	while (!(f->ino[x].flags & FI_CONNECTED)) {
		if (f->ino[x].flags & FI_VISITING) {
			loop = true;
			break;
		}
		if ((ret = push(p, x)))
			return ret;
		if (!f->ino[x].dparent)
			break;
		x = f->ino[x].dparent;
	}
	if (!(f->ino[x].flags & FI_CONNECTED) &&
	    !(!loop && orphan_dir(f, x))) {
		bool yes = fix_problem(f, HFS_P3_DIR_UNCONNECTED, x,
				       HFS_FSCK_NO_OFF, "directory %" PRIu64
				       " is not connected to the root (%s)", x,
				       loop ? "its parents form a loop"
					    : "it has no parent entry");

		if (loop)
			cut_loop(f, x, yes);
		ret = reconnect(p, x, yes && !f->halt);
	}
	for (size_t i = 0; i < p->n; i++)
		f->ino[p->stack[i]].flags = (f->ino[p->stack[i]].flags &
					     ~FI_VISITING) | FI_CONNECTED;
	return ret;
}

static void fix_parent(struct fsck *f, uint64_t ino, uint64_t want)
{
	struct hfs_inode_disk d;
	int ret;

	if (!fix_problem(f, HFS_P3_DIR_PARENT, ino, HFS_FSCK_NO_OFF,
			 "directory %" PRIu64 " has parent %" PRIu64 ", should "
			 "be %" PRIu64, ino, f->ino[ino].parent, want))
		return;
	f->ino[ino].parent = want;
	ret = fsck_read_inode(f, ino, &d);
	if (!ret) {
		d.i_parent = want;
		ret = fsck_write_inode(f, ino, &d);
	}
	if (ret)
		fsck_fix_failed(f, ret);
}

static void check_parents(struct fsck *f)
{
	for (size_t i = 0; i < f->ndirs && !f->halt; i++) {
		uint64_t ino = f->dirs[i].ino;
		uint64_t want = ino == HFS_ROOT_INO ? HFS_ROOT_INO
						    : f->ino[ino].dparent;

		if (want && f->ino[ino].mode && f->ino[ino].parent != want)
			fix_parent(f, ino, want);
	}
}

static int attach_files(struct p3 *p)
{
	struct fsck *f = p->f;
	int ret = 0;

	for (uint64_t ino = 2; ino < f->scan_end && !ret && !f->halt; ino++) {
		struct fsck_ino *t = &f->ino[ino];

		bool yes;

		if (!t->mode || S_ISDIR(t->mode) || t->links || !t->nlink)
			continue;
		yes = fix_problem(f, HFS_P3_UNATTACHED, ino, HFS_FSCK_NO_OFF,
				  "inode %" PRIu64 " (type 0%o, %" PRIu32 " links)"
				  " has no directory entry", ino,
				  t->mode & S_IFMT, t->nlink);
		ret = reconnect(p, ino, yes && !f->halt);
	}
	return ret;
}

int fsck_pass3(struct fsck *f)
{
	struct p3 p = { .f = f };
	int ret = 0;

	f->ino[HFS_ROOT_INO].flags |= FI_CONNECTED;
	for (size_t i = 0; i < f->ndirs && !ret && !f->halt; i++) {
		if (i % 1024 == 0 && fsck_progress(f, 4, "directories", i,
						   f->ndirs))
			break;
		ret = connect(&p, f->dirs[i].ino);
	}
	if (ret == -ENOMEM)
		goto out;
	if (ret)
		fsck_fix_failed(f, ret);
	ret = attach_files(&p);
	if (ret && ret != -ENOMEM) {
		fsck_fix_failed(f, ret);
		ret = 0;
	}
	if (!ret)
		check_parents(f);
out:
	free(p.stack);
	fsck_nameset_free(&p.lpf_names);
	return ret;
}
