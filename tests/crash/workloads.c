/* SPDX-License-Identifier: MIT */
/*
 * The workloads.  Each is deterministic given its seed; sizes are fixed
 * per workload name, so WORKLOAD:SEED names one exact trace.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include <holdfs/format.h>

#include "workload.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

#define KB 1024ull

static uint64_t rnd(struct wctx *w, uint64_t n)
{
	return rng_below(&w->rng, n);
}

static const char *pick_name(struct wctx *w, int type, int *dir)
{
	const char *name = NULL;

	if (wl_pick_entry(w, type, dir, &name) < 0)
		return NULL;
	return name;
}

/* Copy a name out of the model before an op frees it. */
static const char *keep(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s", name ? name : "");
	return buf;
}

static char *symlink_target(struct wctx *w, char *buf, size_t cap)
{
	/* inline (<= 120 bytes) or in a block (up to 1000) */
	size_t len = rnd(w, 3) ? 1 + rnd(w, 110) : 121 + rnd(w, 900);

	if (len >= cap)
		len = cap - 1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + rnd(w, 26));
	for (size_t i = 7; i < len; i += 9)
		buf[i] = '/';
	buf[len] = 0;
	return buf;
}

/* ------------------------------------------------------------- ns */

/* One random namespace operation (shared by ns and mixed). */
static void ns_step(struct wctx *w)
{
	char tgt[1100], nb[300];
	int dir, obj, n = 0;
	const char *name;

	for (int i = 0; i < w->live.n; i++)
		n += w->live.o[i].nnames > 0;
	switch (rnd(w, 14)) {
	case 0: case 1: case 2:
		dir = wl_pick_dir(w);
		wl_create(w, dir, wl_fresh_name(w, "f"));
		break;
	case 3:
		if (n < 40) {
			dir = wl_pick_dir(w);
			wl_mkdir(w, dir, wl_fresh_name(w, "d"));
		}
		break;
	case 4:
		dir = wl_pick_dir(w);
		wl_symlink(w, dir, wl_fresh_name(w, "s"),
			   symlink_target(w, tgt, sizeof(tgt)));
		break;
	case 5:
		dir = wl_pick_dir(w);
		wl_mkfifo(w, dir, wl_fresh_name(w, "p"));
		break;
	case 6:
		obj = wl_pick_file(w);
		if (obj >= 0)
			wl_link(w, obj, wl_pick_dir(w), wl_fresh_name(w, "l"));
		break;
	case 7: case 8:
		obj = wl_pick_entry(w, 0, &dir, &name);
		if (obj >= 0 && w->live.o[obj].type != MT_DIR)
			wl_unlink(w, dir, keep(nb, sizeof(nb), name));
		break;
	case 9:
		name = pick_name(w, MT_DIR, &dir);
		if (name)
			wl_rmdir(w, dir, keep(nb, sizeof(nb), name));
		break;
	case 10:
		obj = wl_pick_obj(w);
		wl_forget(w, obj);
		break;
	case 11:
		/* error paths: nothing may change */
		name = pick_name(w, 0, &dir);
		if (name) {
			keep(nb, sizeof(nb), name);
			if (rnd(w, 2))
				wl_create(w, dir, nb);        /* EEXIST */
			else
				wl_mkdir(w, dir, nb);         /* EEXIST */
		}
		wl_unlink(w, 0, "no-such-name");              /* ENOENT */
		break;
	case 12:
		obj = wl_pick_obj(w);
		if (obj >= 0)
			wl_chmod(w, obj, 0600 | (uint32_t)rnd(w, 0100));
		break;
	default:
		obj = wl_pick_file(w);
		if (obj >= 0)
			wl_write(w, obj, rnd(w, 3) * 4096 + rnd(w, 100),
				 1 + rnd(w, 6000));
		break;
	}
}

static void wl_ns(struct wctx *w)
{
	int d1, d2;

	wl_mkdir(w, 0, "a");
	d1 = w->live.n - 1;
	wl_mkdir(w, d1, "b");
	d2 = w->live.n - 1;
	wl_create(w, d2, "deep");
	wl_symlink(w, 0, "short", "a/b/deep");
	for (int i = 0; i < 140 && !w->broken; i++)
		ns_step(w);
}

/* ----------------------------------------------------------- data */

static void data_step(struct wctx *w, int *files, int nfiles)
{
	int f = files[rnd(w, (uint64_t)nfiles)];
	uint64_t size = w->live.o[f].size;
	uint64_t off, len;

	switch (rnd(w, 12)) {
	case 0: case 1: /* overwrite in place or extend */
		off = size ? rnd(w, size) : 0;
		wl_write(w, f, off, 1 + rnd(w, 3 * 4096));
		break;
	case 2: /* append */
		wl_write(w, f, size, 1 + rnd(w, 9000));
		break;
	case 3: /* sparse write far away */
		wl_write(w, f, size + 4096 * (1 + rnd(w, 20)) + rnd(w, 4096),
			 1 + rnd(w, 5000));
		break;
	case 4: /* aligned block, or a big write over many units */
		if (rnd(w, 4))
			wl_write(w, f, rnd(w, 32) * 4096, 4096);
		else
			wl_write(w, f, rnd(w, 64) * 4096 + rnd(w, 2) * rnd(w, 4096),
				 64 * KB + rnd(w, 448 * KB));
		wl_fsync(w, f);
		break;
	case 5: /* truncate down */
		wl_truncate(w, f, size ? rnd(w, size) : 0);
		break;
	case 6: /* truncate up */
		wl_truncate(w, f, size + rnd(w, 40000));
		break;
	case 7: /* punch */
		if (size) {
			off = rnd(w, size);
			len = 1 + rnd(w, size - off + 8192);
			wl_punch(w, f, off, len);
		}
		break;
	case 8:
		off = size ? rnd(w, size) : 0;
		wl_zero(w, f, off, 1 + rnd(w, 10000), rnd(w, 2));
		break;
	case 9:
		off = rnd(w, size + 8192);
		wl_falloc(w, f, off, 1 + rnd(w, 20000), rnd(w, 2));
		break;
	case 10: {
		int g = files[rnd(w, (uint64_t)nfiles)];

		if (g != f && w->live.o[g].size)
			wl_copy(w, g, rnd(w, w->live.o[g].size), f,
				rnd(w, size + 4096), 1 + rnd(w, 20000));
		else
			wl_fsync(w, f);
		break;
	}
	default: /* small unaligned overwrite inside the file */
		if (size > 16) {
			off = rnd(w, size - 8);
			wl_write(w, f, off, 1 + rnd(w, size - off < 300 ? size - off : 300));
		}
		break;
	}
}

static void wl_data(struct wctx *w)
{
	int files[4], frag;

	for (int i = 0; i < 4; i++) {
		char n[16];

		snprintf(n, sizeof(n), "file%d", i);
		wl_create(w, 0, n);
		files[i] = w->live.n - 1;
	}
	/* a fragmented file: every other block, beyond the 5 inline extents
	 * and into an overflow extent block */
	wl_create(w, 0, "frag");
	frag = w->live.n - 1;
	for (int b = 0; b < 24 && !w->broken; b++)
		wl_write(w, frag, (uint64_t)b * 2 * 4096, 4096);
	wl_punch(w, frag, 4096 * 3, 4096 * 10);       /* splits extents */
	wl_write(w, frag, 4096 * 5, 4096 * 3);          /* fills some */
	for (int i = 0; i < 120 && !w->broken; i++)
		data_step(w, files, 4);
	wl_truncate(w, frag, 4096 * 9 + 100);          /* chain shrinks */
	wl_truncate(w, frag, 4096 * 40);               /* grows sparse */
	/* a refused setattr (EFBIG) must not change the mode either, not
	 * even when a later transaction writes the inode */
	wl_truncate_chmod(w, frag, 2 * HFS_MAX_FILE_SIZE, 0600);
	wl_truncate(w, frag, 4096 * 41);
}

/* --------------------------------------------------------- eoftail */

/* Past EOF (lib/eof_tail.c, docs/lease-protocol.md "Bytes past EOF"): a
 * DAX client stores past EOF, then the size changes every way it can.
 * After any crash a mapping past EOF shows zeros or those stores (never
 * old data), and the stores never become content. */
static void eoftail_step(struct wctx *w, int *files, int nfiles)
{
	int f = files[rnd(w, (uint64_t)nfiles)], g;
	uint64_t size = w->live.o[f].size;

	switch (rnd(w, 9)) {
	case 0: case 1:
		wl_daxstore(w, f, 1 + rnd(w, 4096));
		break;
	case 2: /* truncate down to an odd size, or up */
		wl_truncate(w, f, rnd(w, 2) && size ? rnd(w, size)
						    : size + rnd(w, 9000));
		break;
	case 3: /* write past EOF, with a gap */
		wl_write(w, f, size + rnd(w, 6000), 1 + rnd(w, 3000));
		break;
	case 4:
		wl_falloc(w, f, size ? rnd(w, size) : 0, 1 + rnd(w, 9000),
			  rnd(w, 2));
		break;
	case 5:
		wl_zero(w, f, size ? rnd(w, size) : 0, 1 + rnd(w, 9000),
			rnd(w, 2));
		break;
	case 6:
		wl_punch(w, f, size ? rnd(w, size) : 0, 1 + rnd(w, 9000));
		break;
	case 7:
		g = files[rnd(w, (uint64_t)nfiles)];
		if (g != f && w->live.o[g].size)
			wl_copy(w, g, rnd(w, w->live.o[g].size), f,
				size + rnd(w, 3000), 1 + rnd(w, 6000));
		break;
	default:
		wl_write(w, f, size ? rnd(w, size) : 0, 1 + rnd(w, 2000));
		break;
	}
}

static void wl_eoftail(struct wctx *w)
{
	int f[3];

	for (int i = 0; i < 3; i++) {
		wl_create(w, 0, wl_fresh_name(w, "t"));
		f[i] = w->live.n - 1;
	}
	/* the cases first, in order */
	wl_write(w, f[0], 0, 20000);
	wl_truncate(w, f[0], 5003);          /* old data past the new EOF */
	/* another transaction, so the truncate's is no longer the one
	 * replay would finish: its own zeroing must have persisted */
	wl_write(w, f[1], 0, 6000);
	wl_daxstore(w, f[0], 3189);
	wl_truncate(w, f[0], 12000);         /* the stores: zeros now */
	wl_daxstore(w, f[0], 288);
	wl_write(w, f[0], 20000, 1);         /* grows over them */
	wl_remount(w);
	for (int i = 0; i < 90 && !w->broken; i++) {
		eoftail_step(w, f, 3);
		if (i % 30 == 29)
			wl_remount(w);
	}
}

/* ---------------------------------------------------------- dslot */

/* Data-path slots (docs/data-path.md): direct writers publish sizes in
 * the slot while the daemon changes sizes too.  After any crash a file
 * has the size before or after the operation in flight (a client's
 * append: old or new, never between) with all of an append's bytes
 * when its size is there, a truncate is never undone by a slot, even
 * back to the very size the slot was armed with, and mount folds or
 * clears every slot. */
static void dslot_step(struct wctx *w, int *files, int nfiles)
{
	int f = files[rnd(w, (uint64_t)nfiles)], g;
	uint64_t size = w->live.o[f].size, off, back;
	int64_t base;

	switch (rnd(w, 21)) {
	case 0: case 1: case 2: case 3:
		wl_ds_append(w, f, 1 + rnd(w, 6000));
		break;
	case 4: /* past EOF, with a gap */
		wl_ds_write(w, f, size + 1 + rnd(w, 6000), 1 + rnd(w, 3000));
		break;
	case 5: case 6: /* in place, or across EOF */
		back = rnd(w, size < 3000 ? size + 1 : 3000);
		wl_ds_write(w, f, size - back, 1 + rnd(w, 4000));
		break;
	case 7: case 8: /* O_APPEND through FUSE */
		wl_append(w, f, 1 + rnd(w, 3000));
		break;
	case 9: /* through FUSE, extending, maybe with a gap */
		off = size ? size - rnd(w, size < 500 ? size : 500) : 0;
		wl_write(w, f, off + rnd(w, 2) * rnd(w, 5000), 1 + rnd(w, 3000));
		break;
	case 10: /* truncate down: to the size the slot was armed with (the
		  * ABA case), or anywhere */
		base = wl_ds_base(w, f);
		if (base >= 0 && (uint64_t)base < size && rnd(w, 2))
			wl_truncate(w, f, (uint64_t)base);
		else
			wl_truncate(w, f, size ? rnd(w, size) : 0);
		break;
	case 11:
		wl_truncate(w, f, size + 1 + rnd(w, 9000));
		break;
	case 12:
		wl_ds_detach(w, f);
		break;
	case 13:
		wl_daxstore(w, f, 1 + rnd(w, 2000));
		break;
	case 14:
		wl_ds_reserve(w, f, size, 4096 * (1 + rnd(w, 8)));
		break;
	case 15:
		if (size)
			wl_punch(w, f, rnd(w, size), 1 + rnd(w, 9000));
		break;
	case 16: /* fallocate growing the file, or zeroing in it */
		if (rnd(w, 2))
			wl_falloc(w, f, size ? rnd(w, size) : 0,
				  1 + rnd(w, 9000), false);
		else if (size)
			wl_zero(w, f, rnd(w, size), 1 + rnd(w, 5000), true);
		break;
	case 17: /* copy_file_range from or into an armed file */
		g = files[rnd(w, (uint64_t)nfiles)];
		if (g != f && w->live.o[g].size)
			wl_copy(w, g, rnd(w, w->live.o[g].size), f,
				size ? rnd(w, size + 3000) : 0,
				1 + rnd(w, 6000));
		break;
	case 18:
		wl_fsync(w, f);
		break;
	default: /* in place through FUSE */
		if (size)
			wl_write(w, f, rnd(w, size), 1 + rnd(w, 2000));
		break;
	}
}

static void wl_dslot(struct wctx *w)
{
	int f[3];
	int64_t base;

	for (int i = 0; i < 3; i++) {
		wl_create(w, 0, wl_fresh_name(w, "ds"));
		f[i] = w->live.n - 1;
	}
	wl_write(w, f[0], 0, 5000);
	wl_write(w, f[1], 0, 6000);
	/* the cases first, in order: armed at 5000, a reservation,
	 * client appends within and across units */
	wl_ds_attach(w, f[0]);
	base = wl_ds_base(w, f[0]);
	wl_ds_reserve(w, f[0], w->live.o[f[0]].size, 64 * KB);
	wl_ds_append(w, f[0], 3000);
	wl_ds_append(w, f[0], 7000);
	/* O_APPEND and an extending write through FUSE, between them */
	wl_append(w, f[0], 100);
	wl_ds_append(w, f[0], 500);
	wl_write(w, f[0], w->live.o[f[0]].size + 2000, 1500);
	/* a client's write past EOF (the gap zeroed), one in place */
	wl_ds_write(w, f[0], w->live.o[f[0]].size + 3000, 2000);
	wl_ds_write(w, f[0], 100, 3000);
	/* back to exactly the armed size, then appends again */
	wl_truncate(w, f[0], (uint64_t)(base < 0 ? 0 : base));
	wl_ds_append(w, f[0], 2500);
	wl_truncate(w, f[0], w->live.o[f[0]].size + 9000);
	wl_ds_append(w, f[0], 1000);
	wl_ds_detach(w, f[0]);
	/* DAX stores past EOF, then a client's write past them: zeros */
	wl_daxstore(w, f[1], 1000);
	wl_ds_write(w, f[1], w->live.o[f[1]].size + 1500, 700);
	/* an empty file */
	wl_ds_append(w, f[2], 10000);
	wl_remount(w);            /* the unmount disarms f[1] and f[2] */
	for (int i = 0; i < 60 && !w->broken; i++) {
		dslot_step(w, f, 3);
		if (i % 25 == 24)
			wl_remount(w);
	}
	wl_ds_detach(w, f[0]);
	/* an armed file (open: a lease holds it) unlinked, then closed
	 * while still armed: its slot goes with the orphan */
	wl_open(w, f[2]);
	wl_ds_append(w, f[2], 700);
	for (int i = 0; i < w->live.o[0].nent; i++) {
		if (w->live.o[0].ent[i].obj == f[2]) {
			char nb[300];

			wl_unlink(w, 0, keep(nb, sizeof(nb),
					     w->live.o[0].ent[i].name));
			wl_forget(w, f[2]);
			wl_release(w, f[2]);
			wl_ds_detach(w, f[2]);
			break;
		}
	}
	/* f[1] stays armed for the final unmount */
	wl_ds_append(w, f[1], 333);
}

/* The xattr chain (docs/format.md): enough attributes for several xattr
 * blocks, values in value blocks up to 64 KiB, replaced in and out of
 * line, a block emptied in the middle of the chain, a remount, and an
 * unlinked inode that still holds them freed at its last close/forget. */
static void wl_xattrchain(struct wctx *w)
{
	char n[32];
	int f, g;

	wl_create(w, 0, "xc");
	f = w->live.n - 1;
	for (int i = 0; i < 200 && !w->broken; i++) {
		snprintf(n, sizeof(n), "user.chain%03d", i);
		wl_setxattr(w, f, n, 10 + rnd(w, 30), XATTR_CREATE);
	}
	wl_setxattr(w, f, "user.v", 65536, 0);
	wl_setxattr(w, f, "user.v", 65537, 0);        /* E2BIG */
	wl_setxattr(w, f, "user.v", 5000, XATTR_REPLACE);
	wl_setxattr(w, f, "user.v", 100, 0);          /* back inline */
	wl_setxattr(w, f, "user.w", 4064, 0);         /* just too big inline */
	for (int i = 60; i < 130 && !w->broken; i++) { /* middle blocks */
		snprintf(n, sizeof(n), "user.chain%03d", i);
		wl_rmxattr(w, f, n);
	}
	for (int i = 0; i < 20 && !w->broken; i++) {
		snprintf(n, sizeof(n), "user.chain%03d", (int)rnd(w, 200));
		if (rnd(w, 2))
			wl_setxattr(w, f, n, rnd(w, 3) ? 20 : 9000, 0);
		else
			wl_rmxattr(w, f, n);
	}
	wl_remount(w);
	wl_create(w, 0, "xg");
	g = w->live.n - 1;
	for (int i = 0; i < 150 && !w->broken; i++) {
		snprintf(n, sizeof(n), "user.gone%03d", i);
		wl_setxattr(w, g, n, 30, 0);
	}
	wl_setxattr(w, g, "user.v", 30000, 0);
	wl_open(w, g);
	wl_unlink(w, 0, "xg");
	wl_setxattr(w, g, "user.late", 12000, 0);
	wl_release(w, g);
	wl_forget(w, g);                              /* all freed */
	for (int i = 0; i < 200 && !w->broken; i++) {
		snprintf(n, sizeof(n), "user.chain%03d", i);
		wl_rmxattr(w, f, n);
	}
	wl_rmxattr(w, f, "user.v");
	wl_rmxattr(w, f, "user.w");                   /* chain gone */
}

/* ---------------------------------------------------------- xattr */

static const char *const xnames[] = {
	"user.a", "user.bb", "user.checksum", "trusted.t1", "security.s",
	"user.long-attribute-name-for-the-block-layout-0123456789",
	"user.x1", "user.x2",
};
#define NXN (sizeof(xnames) / sizeof(xnames[0]))

static void xattr_step(struct wctx *w, int *objs, int nobjs)
{
	int o = objs[rnd(w, (uint64_t)nobjs)];
	const char *n = xnames[rnd(w, NXN)];
	size_t vlen = rnd(w, 4) ? rnd(w, 200) : 500 + rnd(w, 1200);

	switch (rnd(w, 6)) {
	case 0: wl_setxattr(w, o, n, vlen, XATTR_CREATE); break;
	case 1: wl_setxattr(w, o, n, vlen, XATTR_REPLACE); break;
	case 2: case 3: wl_setxattr(w, o, n, vlen, 0); break;
	default: wl_rmxattr(w, o, n); break;
	}
}

static void wl_xattr(struct wctx *w)
{
	int objs[4];

	wl_create(w, 0, "x0");
	objs[0] = w->live.n - 1;
	wl_create(w, 0, "x1");
	objs[1] = w->live.n - 1;
	wl_mkdir(w, 0, "xd");
	objs[2] = w->live.n - 1;
	wl_symlink(w, 0, "xl", "x0");
	objs[3] = w->live.n - 1;
	for (int i = 0; i < 110 && !w->broken; i++)
		xattr_step(w, objs, 4);
	/* fill a block to the last byte, then past it (a second block) */
	for (int i = 0; i < (int)NXN; i++)
		wl_rmxattr(w, objs[0], xnames[i]);
	wl_setxattr(w, objs[0], "user.big1", 2000, 0);
	wl_setxattr(w, objs[0], "user.big2", 2064 - 4 - 9 - 4, 0);
	wl_setxattr(w, objs[0], "user.big3", 10, 0);
	wl_rmxattr(w, objs[0], "user.big1");
	wl_rmxattr(w, objs[0], "user.big2");
	wl_rmxattr(w, objs[0], "user.big3"); /* last one: chain freed */
	wl_unlink(w, 0, "x1");               /* inode with xattrs freed */
	wl_forget(w, objs[1]);
}

/* --------------------------------------------------------- bigdir */

static void bigdir(struct wctx *w, int n)
{
	char nb[300], nn[300];
	int big, other, frags = 0;

	wl_mkdir(w, 0, "big");
	big = w->live.n - 1;
	wl_mkdir(w, 0, "other");
	other = w->live.n - 1;
	for (int i = 0; i < n && !w->broken; i++) {
		snprintf(nb, sizeof(nb), "entry-%05d%s", i,
			 i % 97 == 0 ? "-with-a-much-longer-name-to-fill-the-slot-"
				       "0123456789abcdef0123456789abcdef" : "");
		wl_create(w, big, nb);
		wl_forget(w, w->live.n - 1);
		/* a data block right after each full directory block, so
		 * the next directory block is not contiguous: many extents,
		 * an overflow extent chain */
		if (i % 15 == 14) {
			snprintf(nn, sizeof(nn), "frag%d", frags++);
			wl_create(w, other, nn);
			wl_write(w, w->live.n - 1, 0, 4096);
			wl_forget(w, w->live.n - 1);
		}
	}
	/* churn: unlink every third entry, reuse the slots */
	for (int i = 0; i < n && !w->broken; i += 3) {
		snprintf(nb, sizeof(nb), "entry-%05d%s", i,
			 i % 97 == 0 ? "-with-a-much-longer-name-to-fill-the-slot-"
				       "0123456789abcdef0123456789abcdef" : "");
		wl_unlink(w, big, nb);
	}
	for (int i = 0; i < n / 6 && !w->broken; i++) {
		snprintf(nb, sizeof(nb), "again-%d", i);
		wl_create(w, big, nb);
	}
	/* renames inside and out of the big directory */
	for (int i = 1; i < n && !w->broken; i += 7) {
		snprintf(nb, sizeof(nb), "entry-%05d", i);
		if (i % 3 == 0 || model_lookup(&w->live, big, nb) < 0)
			continue;
		snprintf(nn, sizeof(nn), "moved-%d", i);
		wl_rename(w, big, nb, i % 2 ? big : other, nn, 0);
	}
	/* empty the other directory and remove it: its blocks are freed */
	while (!w->broken && w->live.o[other].nent) {
		snprintf(nb, sizeof(nb), "%s", w->live.o[other].ent[0].name);
		wl_unlink(w, other, nb);
	}
	wl_rmdir(w, 0, "other");
}

static void wl_bigdir(struct wctx *w)
{
	bigdir(w, 240);
}

static void wl_bigdir_large(struct wctx *w)
{
	bigdir(w, 3000);
}

/* --------------------------------------------------------- rename */

/* RENAME_WHITEOUT (what overlayfs does in its upper layer): the source
 * name becomes a whiteout in the same transaction.  After the random
 * renames, so that the ops before keep their numbers (crash_regressions
 * in meson.build name them). */
static void rename_whiteouts(struct wctx *w)
{
	int wd, x;

	wl_mkdir(w, 0, "W");
	wd = w->live.n - 1;
	wl_mkdir(w, wd, "X");
	x = w->live.n - 1;
	wl_create(w, wd, "w0");
	wl_write(w, w->live.n - 1, 0, 5000);
	wl_create(w, wd, "w1");
	wl_create(w, x, "w2");
	wl_rename(w, wd, "w0", wd, "w0-moved", RENAME_WHITEOUT);  /* same dir */
	wl_rename(w, wd, "w1", x, "w2", RENAME_WHITEOUT);         /* over a file */
	wl_rename(w, x, "w2", wd, "w1", RENAME_WHITEOUT |
		  RENAME_NOREPLACE);                              /* EEXIST */
	wl_rename(w, x, "w2", wd, "w3", RENAME_WHITEOUT |
		  RENAME_NOREPLACE);                              /* across */
	wl_rename(w, wd, "X", 0, "X-moved", RENAME_WHITEOUT);     /* a directory */
	wl_rename(w, wd, "w3", wd, "w0", RENAME_WHITEOUT);        /* over a whiteout */
	wl_rename(w, wd, "w0", wd, "w1", RENAME_WHITEOUT |
		  RENAME_EXCHANGE);                               /* EINVAL */
	wl_unlink(w, wd, "w3");                                   /* a whiteout goes */
	wl_rename(w, wd, "none", wd, "w9", RENAME_WHITEOUT);      /* ENOENT */
}

static void wl_rename_w(struct wctx *w)
{
	int a, b, c, sub;
	char n1[300], n2[300];

	wl_mkdir(w, 0, "A");
	a = w->live.n - 1;
	wl_mkdir(w, 0, "B");
	b = w->live.n - 1;
	wl_mkdir(w, a, "C");
	c = w->live.n - 1;
	wl_mkdir(w, c, "sub");
	sub = w->live.n - 1;
	for (int i = 0; i < 12; i++) {
		snprintf(n1, sizeof(n1), "f%d", i);
		wl_create(w, i % 3 == 0 ? a : i % 3 == 1 ? b : c, n1);
		wl_write(w, w->live.n - 1, 0, 100 + (uint64_t)i * 300);
	}
	wl_link(w, model_lookup(&w->live, a, "f0"), b, "f0-link");
	/* the fixed cases first */
	wl_rename(w, a, "f0", a, "f0-renamed", 0);              /* same dir */
	wl_rename(w, b, "f1", a, "f1-moved", 0);                /* across */
	wl_rename(w, c, "f2", b, "f4", 0);                      /* over a file */
	wl_rename(w, a, "f3", b, "f7", RENAME_NOREPLACE);       /* EEXIST */
	wl_rename(w, a, "f3", b, "f3-new", RENAME_NOREPLACE);
	wl_rename(w, a, "f6", c, "f5", RENAME_EXCHANGE);        /* files */
	wl_rename(w, b, "f0-link", a, "f0-renamed", 0);         /* same inode */
	wl_rename(w, a, "f0-renamed", b, "f0-link", 0);         /* same inode */
	wl_mkdir(w, b, "D");
	wl_rename(w, a, "C", b, "C2", 0);                       /* dir across */
	wl_rename(w, b, "C2", b, "D", 0);                       /* over an empty dir */
	wl_rename(w, b, "D", sub, "loop", 0);                   /* into itself: EINVAL */
	wl_mkdir(w, a, "E");
	wl_rename(w, b, "D", a, "E", RENAME_EXCHANGE);          /* dirs */
	wl_rename(w, a, "E", a, "f9", RENAME_EXCHANGE);         /* dir<->file */
	wl_rename(w, b, "f4", a, "f9", 0);                      /* file over dir: EISDIR */
	/* then random renames among all entries */
	for (int i = 0; i < 120 && !w->broken; i++) {
		int sd, dd, obj;
		const char *sn;
		unsigned fl = 0;

		obj = wl_pick_entry(w, 0, &sd, &sn);
		if (obj < 0)
			break;
		keep(n1, sizeof(n1), sn);
		dd = wl_pick_dir(w);
		switch (rnd(w, 5)) {
		case 0: {
			int od;
			const char *on;

			if (wl_pick_entry(w, 0, &od, &on) >= 0) {
				dd = od;
				keep(n2, sizeof(n2), on);
				fl = rnd(w, 2) ? RENAME_EXCHANGE : 0;
				break;
			}
		}
			/* fall through */
		case 1:
			fl = RENAME_NOREPLACE;
			/* fall through */
		default:
			keep(n2, sizeof(n2), wl_fresh_name(w, "r"));
			break;
		}
		wl_rename(w, sd, n1, dd, n2, fl);
		if (rnd(w, 8) == 0) {
			obj = wl_pick_file(w);
			if (obj >= 0)
				wl_write(w, obj, 0, 1 + rnd(w, 3000));
		}
	}
	rename_whiteouts(w);
}

/* ---------------------------------------------------------- links */

static void wl_links(struct wctx *w)
{
	int d[3], f[6];
	char n[64];

	for (int i = 0; i < 3; i++) {
		snprintf(n, sizeof(n), "dir%d", i);
		wl_mkdir(w, 0, n);
		d[i] = w->live.n - 1;
	}
	for (int i = 0; i < 6; i++) {
		snprintf(n, sizeof(n), "file%d", i);
		wl_create(w, d[i % 3], n);
		f[i] = w->live.n - 1;
		wl_write(w, f[i], 0, 2000 + (uint64_t)i * 1000);
	}
	for (int i = 0; i < 100 && !w->broken; i++) {
		int dir, obj = f[rnd(w, 6)];
		const char *name;

		switch (rnd(w, 8)) {
		case 0: case 1: case 2:
			if (model_alive(&w->live, obj))
				wl_link(w, obj, d[rnd(w, 3)], wl_fresh_name(w, "h"));
			break;
		case 3: case 4:
			if (wl_pick_entry(w, MT_REG, &dir, &name) >= 0) {
				keep(n, sizeof(n), name);
				wl_unlink(w, dir, n);
			}
			break;
		case 5: /* open, unlink the last name, write, release: orphan */
			if (wl_pick_entry(w, MT_REG, &dir, &name) >= 0) {
				int o = model_lookup(&w->live, dir, name);

				keep(n, sizeof(n), name);
				wl_open(w, o);
				wl_unlink(w, dir, n);
				if (rnd(w, 2))
					wl_forget(w, o);
				if (rnd(w, 3) == 0)
					wl_remount(w);
				wl_release(w, o);
			}
			break;
		case 6:
			wl_forget(w, obj);
			break;
		default:
			if (wl_pick_entry(w, MT_REG, &dir, &name) >= 0) {
				int od;
				const char *on;
				char n2[300];

				keep(n, sizeof(n), name);
				if (wl_pick_entry(w, MT_REG, &od, &on) >= 0) {
					keep(n2, sizeof(n2), on);
					wl_rename(w, dir, n, od, n2, 0);
				}
			}
			break;
		}
		/* recreate files that went away */
		for (int k = 0; k < 6; k++) {
			if (!model_alive(&w->live, f[k]) && rnd(w, 2)) {
				wl_create(w, d[k % 3], wl_fresh_name(w, "file"));
				f[k] = w->live.n - 1;
				wl_write(w, f[k], 0, 1 + rnd(w, 5000));
			}
		}
	}
}

/* ---------------------------------------------------------- mixed */

static void wl_mixed(struct wctx *w)
{
	int files[3], m;

	wl_mkdir(w, 0, "m");
	m = w->live.n - 1;
	for (int i = 0; i < 3; i++) {
		char n[16];

		snprintf(n, sizeof(n), "data%d", i);
		wl_create(w, i ? m : 0, n);
		files[i] = w->live.n - 1;
	}
	for (int i = 0; i < 200 && !w->broken; i++) {
		int k = (int)rnd(w, 20);

		if (k < 9) {
			ns_step(w);
		} else if (k < 15) {
			int live = 0;

			for (int j = 0; j < 3; j++)
				live += model_alive(&w->live, files[j]);
			if (live == 3)
				data_step(w, files, 3);
			else
				ns_step(w);
		} else if (k < 18) {
			int objs[1] = { wl_pick_obj(w) };

			if (objs[0] >= 0)
				xattr_step(w, objs, 1);
		} else if (k == 18) {
			int sd, dd = wl_pick_dir(w);
			const char *sn;
			char n1[300];

			if (wl_pick_entry(w, 0, &sd, &sn) >= 0) {
				keep(n1, sizeof(n1), sn);
				wl_rename(w, sd, n1, dd, wl_fresh_name(w, "mv"),
					  0);
			}
		} else if (rnd(w, 4) == 0) {
			wl_remount(w);
		}
	}
}

/* ------------------------------------------------------ manyclose */

/* Many inodes with journaled-at-close timestamps: the unmount batches
 * them into transactions that must fit the (smallest) journal. */
static void wl_manyclose(struct wctx *w)
{
	int first = w->live.n;
	char n[32];

	for (int i = 0; i < 1100 && !w->broken; i++) {
		snprintf(n, sizeof(n), "c%04d", i);
		wl_create(w, 0, n);
		wl_write(w, w->live.n - 1, 0, 64);
	}
	/* in-place overwrites: timestamps dirty, not journaled */
	for (int i = first; i < w->live.n && !w->broken; i++)
		wl_write(w, i, 8, 16);
	wl_remount(w);
}

/* ----------------------------------------------------------- fill */

/* Fill the volume: every allocating operation may meet ENOSPC, which
 * must leave everything as it was (and the volume usable). */
static void wl_fill(struct wctx *w)
{
	int files[80], nf = 0, full = 0, d;
	char n[32];

	wl_mkdir(w, 0, "fill");
	d = w->live.n - 1;
	while (full < 3 && nf < 80 && !w->broken) {
		snprintf(n, sizeof(n), "big%02d", nf);
		wl_create(w, d, n);
		files[nf++] = w->live.n - 1;
		wl_flex(w);
		wl_write(w, files[nf - 1], 0, 256 * KB + rnd(w, 64 * KB));
		full += w->ops[w->nops - 1].expect == -ENOSPC;
	}
	for (int i = 0; i < 100 && !w->broken; i++) {
		int f = files[rnd(w, (uint64_t)nf)];
		uint64_t size = w->live.o[f].size;

		wl_flex(w);
		switch (rnd(w, 7)) {
		case 0:
			wl_write(w, f, size, 1 + rnd(w, 64 * KB));
			break;
		case 1:
			wl_setxattr(w, f, "user.fill", 1 + rnd(w, 3000), 0);
			break;
		case 2:
			wl_mkdir(w, d, wl_fresh_name(w, "fd"));
			break;
		case 3: {
			char t[1100];

			memset(t, 'x', 600);
			t[600] = 0;
			wl_symlink(w, d, wl_fresh_name(w, "fs"), t);
			break;
		}
		case 4:
			wl_falloc(w, f, size, 1 + rnd(w, 128 * KB), rnd(w, 2));
			break;
		case 5:
			if (size > 8192)
				wl_punch(w, f, rnd(w, size / 2), size / 4);
			break;
		default:
			wl_create(w, d, wl_fresh_name(w, "fc"));
			break;
		}
		if (i == 60) { /* free a third of the space, refill */
			for (int k = 0; k < nf; k += 3) {
				snprintf(n, sizeof(n), "big%02d", k);
				if (model_lookup(&w->live, d, n) >= 0)
					wl_unlink(w, d, n);
			}
		}
	}
}

/* ------------------------------------------------------- remounts */

/* Short bursts of everything between clean unmounts and mounts: the
 * mount/unmount paths (clean flag, backup superblock, journal clear,
 * health log records wrapping the ring) under crash. */
static void wl_remounts(struct wctx *w)
{
	int files[3];

	for (int i = 0; i < 3; i++) {
		char n[16];

		snprintf(n, sizeof(n), "r%d", i);
		wl_create(w, 0, n);
		files[i] = w->live.n - 1;
	}
	for (int round = 0; round < 40 && !w->broken; round++) {
		for (int k = 0; k < 4 && !w->broken; k++) {
			if (rnd(w, 2))
				ns_step(w);
			else if (model_alive(&w->live, files[0]) &&
				 model_alive(&w->live, files[1]) &&
				 model_alive(&w->live, files[2]))
				data_step(w, files, 3);
		}
		wl_remount(w);
	}
}

/* chattr: flags set and cleared atomically, across a remount, and the
 * removals they refuse change nothing. */
static void wl_chattr(struct wctx *w)
{
	int d, f, g;

	wl_mkdir(w, 0, "cd");
	d = w->live.n - 1;
	wl_create(w, d, "cf");
	f = w->live.n - 1;
	wl_write(w, f, 0, 5000);
	wl_create(w, 0, "cg");
	g = w->live.n - 1;
	wl_setxattr(w, g, "user.keep", 20, 0);
	wl_setflags(w, f, HFS_IF_APPEND);
	wl_append(w, f, 3000);
	wl_setflags(w, g, HFS_IF_IMMUTABLE | HFS_IF_NODUMP);
	wl_setflags(w, g, HFS_IF_IMMUTABLE);          /* EPERM */
	wl_setflags(w, f, HFS_IF_APPEND | 0x80000u);  /* EOPNOTSUPP */
	wl_unlink(w, d, "cf");                        /* EPERM */
	wl_unlink(w, 0, "cg");                        /* EPERM */
	wl_setflags(w, d, HFS_IF_APPEND | HFS_IF_NODUMP);
	wl_create(w, d, "cn");
	wl_unlink(w, d, "cn");                        /* EPERM */
	wl_rmdir(w, 0, "cd");                         /* EPERM */
	wl_remount(w);
	wl_setflags(w, g, HFS_IF_NODUMP);
	wl_setflags(w, d, 0);
	wl_setflags(w, f, 0);
	wl_unlink(w, d, "cn");
	wl_unlink(w, d, "cf");
	wl_rmdir(w, 0, "cd");
	wl_unlink(w, 0, "cg");
}

const struct workload workloads[] = {
	{ "ns", "namespace: create, mkdir, symlink, mkfifo, link, unlink, "
	  "rmdir, chmod, error paths", true, wl_ns },
	{ "data", "writes (in place, extending, sparse), fsync, truncate, "
	  "punch, zero range, fallocate, fragmented extents", true, wl_data },
	{ "xattr", "xattr set/replace/remove, full block, freeing", true,
	  wl_xattr },
	{ "xattrchain", "xattr chains: 200 attributes, 64 KiB values in "
	  "value blocks, a middle block emptied, an unlinked holder freed",
	  true, wl_xattrchain },
	{ "rename", "renames across directories, over files, "
	  "RENAME_EXCHANGE, NOREPLACE, directory moves, RENAME_WHITEOUT",
	  true, wl_rename_w },
	{ "links", "hard links, unlink while open (orphans), forget, "
	  "remount", true, wl_links },
	{ "bigdir", "a directory of 240 entries over a fragmented extent "
	  "chain, churn, renames, rmdir", true, wl_bigdir },
	{ "eoftail", "DAX stores past EOF and every size change: what a "
	  "mapping shows past EOF", true, wl_eoftail },
	{ "dslot", "data-path slots: client appends and writes past EOF "
	  "through the slot, FUSE appends and writes, truncates (ABA), "
	  "reservations, detach", true, wl_dslot },
	{ "chattr", "attribute flags (immutable, append-only, nodump) set, "
	  "refused changes and removals, cleared across a remount", true,
	  wl_chattr },
	{ "mixed", "everything, with remounts", true, wl_mixed },
	{ "remounts", "bursts of operations between 40 remounts (clean "
	  "unmount, mount, health log ring)", true, wl_remounts },
	{ "fill", "fill the volume: ENOSPC on writes, xattrs, mkdir, "
	  "symlinks, fallocate; free and refill", false, wl_fill },
	{ "manyclose", "1100 inodes with dirty times at unmount", false,
	  wl_manyclose },
	{ "bigdir-large", "a directory of 3000 entries (two overflow "
	  "extent blocks)", false, wl_bigdir_large },
	{ NULL, NULL, false, NULL },
};
