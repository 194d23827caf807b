/* SPDX-License-Identifier: MIT */
/*
 * Workload driver: run recorded operations on the traced volume and keep
 * the model in step (workload.h).
 */
#include "workload.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <holdfs/format.h>

#include "dpclient.h"
#include "fakeclock.h"
#include "mirror.h"
#include "mkfs.h"
#include "vol_i.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
static const struct hfs_flags_caller root_who = { 0, true, true };

/* snprintf without the truncation warnings: messages may be cut short. */
static void fmt(char *buf, size_t len, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

/* -------------------------------------------------------------- rng */

uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return splitmix64(r->s);
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* ------------------------------------------------------------ names */

static const char *const op_names[] = {
	[OP_MOUNT] = "mount", [OP_UNMOUNT] = "unmount",
	[OP_REMOUNT] = "remount", [OP_CREATE] = "create",
	[OP_MKFIFO] = "mkfifo", [OP_MKDIR] = "mkdir",
	[OP_SYMLINK] = "symlink", [OP_LINK] = "link", [OP_UNLINK] = "unlink",
	[OP_RMDIR] = "rmdir", [OP_RENAME] = "rename", [OP_WRITE] = "write",
	[OP_FSYNC] = "fsync", [OP_TRUNCATE] = "truncate",
	[OP_PUNCH] = "punch", [OP_ZERO] = "zero-range",
	[OP_FALLOC] = "fallocate", [OP_SETXATTR] = "setxattr",
	[OP_RMXATTR] = "removexattr", [OP_CHMOD] = "chmod",
	[OP_FORGET] = "forget", [OP_OPEN] = "open", [OP_RELEASE] = "release",
	[OP_COPY] = "copy_file_range", [OP_DAXSTORE] = "dax-store",
	[OP_DSATTACH] = "dslot-attach", [OP_DSRAISE] = "dslot-raise-limit",
	[OP_DSDETACH] = "dslot-detach", [OP_DSWRITE] = "client-write",
	[OP_APPEND] = "append", [OP_SETFLAGS] = "setflags",
};

const char *op_name(int kind)
{
	if (kind > 0 && kind <= OP_SETFLAGS && op_names[kind])
		return op_names[kind];
	return "?";
}

static int op_class(const struct wop *op)
{
	if (op->expect)
		return OPC_NONE;
	switch (op->kind) {
	case OP_CREATE: case OP_MKFIFO: case OP_MKDIR: case OP_SYMLINK:
	case OP_LINK: case OP_UNLINK: case OP_RMDIR: case OP_RENAME:
	case OP_TRUNCATE: case OP_FALLOC: case OP_SETXATTR: case OP_RMXATTR:
	case OP_CHMOD: case OP_SETFLAGS:
		return OPC_ATOMIC;
	case OP_WRITE: case OP_PUNCH: case OP_ZERO: case OP_DAXSTORE:
	case OP_DSWRITE: case OP_APPEND:
		return OPC_DATA;
	case OP_COPY:
		return op->n ? OPC_DATA : OPC_NONE;
	default:
		return OPC_NONE;
	}
}

void op_describe(const struct model *m, const struct wop *op, char *buf,
		 size_t len)
{
	char p1[512] = "", p2[512] = "";

	if (op->name && op->dir >= 0 && op->dir < m->n)
		model_path(m, op->dir, op->name, p1, sizeof(p1));
	if (op->nname && op->ndir >= 0 && op->ndir < m->n)
		model_path(m, op->ndir, op->nname, p2, sizeof(p2));
	switch (op->kind) {
	case OP_RENAME:
		snprintf(buf, len, "rename %s -> %s flags %u", p1, p2, op->flags);
		break;
	case OP_LINK:
		snprintf(buf, len, "link obj %d -> %s", op->obj, p2);
		break;
	case OP_WRITE: case OP_PUNCH: case OP_ZERO: case OP_FALLOC:
	case OP_DAXSTORE: case OP_APPEND:
		snprintf(buf, len, "%s obj %d off %llu len %llu flags %u",
			 op_name(op->kind), op->obj, (unsigned long long)op->off,
			 (unsigned long long)op->len, op->flags);
		break;
	case OP_DSWRITE:
		snprintf(buf, len, "client-%s obj %d off %llu len %llu",
			 op->flags & DSW_APPEND ? "append" : "write", op->obj,
			 (unsigned long long)op->off,
			 (unsigned long long)op->len);
		break;
	case OP_DSRAISE:
		snprintf(buf, len, "dslot-raise-limit obj %d [%llu, %llu)",
			 op->obj, (unsigned long long)op->off,
			 (unsigned long long)(op->off + op->len));
		break;
	case OP_COPY:
		snprintf(buf, len, "copy_file_range obj %d off %llu -> obj %d "
			 "off %llu len %llu (copies %llu)", op->src,
			 (unsigned long long)op->off2, op->obj,
			 (unsigned long long)op->off, (unsigned long long)op->len,
			 (unsigned long long)op->n);
		break;
	case OP_TRUNCATE:
		snprintf(buf, len, "truncate obj %d to %llu%s", op->obj,
			 (unsigned long long)op->off,
			 op->flags ? " and chmod" : "");
		break;
	case OP_SETXATTR: case OP_RMXATTR:
		snprintf(buf, len, "%s obj %d %s (%llu bytes, flags %u)",
			 op_name(op->kind), op->obj, op->nname,
			 (unsigned long long)op->len, op->flags);
		break;
	case OP_SETFLAGS:
		snprintf(buf, len, "%s obj %d flags 0x%x", op_name(op->kind),
			 op->obj, op->flags);
		break;
	case OP_CHMOD: case OP_FSYNC: case OP_FORGET: case OP_OPEN:
	case OP_RELEASE: case OP_DSATTACH: case OP_DSDETACH:
		snprintf(buf, len, "%s obj %d", op_name(op->kind), op->obj);
		break;
	default:
		snprintf(buf, len, "%s %s", op_name(op->kind), p1);
		break;
	}
	if (op->expect) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " (expect %s)", strerror(-op->expect));
	}
}

/* ------------------------------------------------------------ model */

static void apply_rename(struct model *m, struct wop *op)
{
	int src = model_lookup(m, op->dir, op->name);
	int dst = model_lookup(m, op->ndir, op->nname);

	if (src == dst)
		return;
	if (op->flags & RENAME_EXCHANGE) {
		model_retarget(m, op->dir, op->name, dst);
		model_retarget(m, op->ndir, op->nname, src);
		return;
	}
	if (dst >= 0)
		model_retarget(m, op->ndir, op->nname, src);
	else
		model_add(m, op->ndir, op->nname, src);
	model_remove(m, op->dir, op->name);
	if (m->o[src].type == MT_DIR)
		m->o[src].parent = op->ndir;
	if (op->flags & RENAME_WHITEOUT) {
		op->newobj = model_new(m, MT_CHR, 0);
		model_add(m, op->dir, op->name, op->newobj);
	}
}

static void apply_new(struct model *m, struct wop *op, enum mtype t,
		      uint32_t perm)
{
	op->newobj = model_new(m, t, perm);
	if (t == MT_LNK)
		model_set_target(m, op->newobj, (const char *)op->buf);
	model_add(m, op->dir, op->name, op->newobj);
}

void op_apply(struct model *m, struct wop *op)
{
	uint64_t end = op->off + op->len;

	if (op->expect)
		return;
	switch (op->kind) {
	case OP_CREATE: apply_new(m, op, MT_REG, 0644); break;
	case OP_MKFIFO: apply_new(m, op, MT_FIFO, 0644); break;
	case OP_MKDIR: apply_new(m, op, MT_DIR, 0755); break;
	case OP_SYMLINK: apply_new(m, op, MT_LNK, 0777); break;
	case OP_LINK: model_add(m, op->ndir, op->nname, op->obj); break;
	case OP_UNLINK: case OP_RMDIR: model_remove(m, op->dir, op->name); break;
	case OP_RENAME: apply_rename(m, op); break;
	case OP_WRITE: case OP_DSWRITE: case OP_APPEND:
		model_write(m, op->obj, op->off, op->buf, op->len);
		break;
	case OP_DAXSTORE:
		model_store_past_eof(m, op->obj, op->off, op->buf, op->len);
		break;
	case OP_TRUNCATE:
		model_truncate(m, op->obj, op->off);
		if (op->flags)
			m->o[op->obj].perm = op->flags & 07777;
		break;
	case OP_PUNCH: model_zero(m, op->obj, op->off, op->len); break;
	case OP_ZERO:
		model_zero(m, op->obj, op->off, op->len);
		if (!(op->flags & FALLOC_FL_KEEP_SIZE) && end > m->o[op->obj].size)
			model_truncate(m, op->obj, end);
		break;
	case OP_FALLOC:
		if (!(op->flags & FALLOC_FL_KEEP_SIZE) && end > m->o[op->obj].size)
			model_truncate(m, op->obj, end);
		break;
	case OP_SETXATTR:
		model_xattr_set(m, op->obj, op->nname, op->buf, op->len);
		break;
	case OP_RMXATTR: model_xattr_remove(m, op->obj, op->nname); break;
	case OP_CHMOD: m->o[op->obj].perm = op->flags & 07777; break;
	case OP_SETFLAGS: m->o[op->obj].iflags = op->flags; break;
	case OP_COPY:
		if (op->n) {
			uint8_t *tmp = malloc(op->n);

			if (!tmp)
				abort();
			memcpy(tmp, m->o[op->src].data + op->off2, op->n);
			model_write(m, op->obj, op->off, tmp, op->n);
			free(tmp);
		}
		break;
	default: break;
	}
}

/* --------------------------------------------------------- executor */

static void grow_maps(struct wctx *w, int n)
{
	if (n <= w->ncap)
		return;
	int cap = w->ncap ? w->ncap : 256;

	while (cap < n)
		cap *= 2;
	w->ino = realloc(w->ino, (size_t)cap * sizeof(*w->ino));
	w->refs = realloc(w->refs, (size_t)cap * sizeof(*w->refs));
	w->opened = realloc(w->opened, (size_t)cap * sizeof(*w->opened));
	w->dslot = realloc(w->dslot, (size_t)cap * sizeof(*w->dslot));
	w->dslot_gen = realloc(w->dslot_gen,
			       (size_t)cap * sizeof(*w->dslot_gen));
	if (!w->ino || !w->refs || !w->opened || !w->dslot || !w->dslot_gen)
		abort();
	for (int i = w->ncap; i < cap; i++) {
		w->ino[i] = 0;
		w->refs[i] = 0;
		w->opened[i] = 0;
		w->dslot[i] = 0;
		w->dslot_gen[i] = 0;
	}
	w->ncap = cap;
}

static int do_remount(struct wctx *w)
{
	struct hfs_err err = { 0 };
	int ret = hfs_vol_close(w->vol);

	w->vol = NULL;
	if (ret) {
		fmt(w->why, sizeof(w->why), "unmount failed: %s",
			 strerror(-ret));
		return ret;
	}
	ret = hfs_vol_open(w->rg, NULL, &w->vol, NULL, &err);
	if (ret) {
		w->vol = NULL;
		fmt(w->why, sizeof(w->why), "mount failed: %s", err.msg);
		return ret;
	}
	/* the unmount disarmed every slot */
	for (int i = 0; i < w->ncap; i++)
		w->refs[i] = w->opened[i] = 0, w->dslot[i] = 0;
	return 0;
}

/* A DAX client's stores past EOF: through the lease extent list of the
 * last unit, as libholdfs maps it, into the region (rg->ops: traced). */
static int dax_store(struct hfs_vol *v, uint64_t ino, const struct wop *op)
{
	return dpc_store(v, ino, op->off, op->buf, op->len, 0);
}

/* A direct write through the file's slot (dpclient.h); an append must
 * land at the size the model expects. */
static int ds_write(struct wctx *w, uint64_t ino, const struct wop *op)
{
	uint64_t off = op->off;
	int r;

	if (!w->dslot[op->obj])
		return -ENOENT;
	r = dpc_write(w->vol, ino, w->dslot[op->obj] - 1, op->buf, op->len,
		      &off, op->flags & DSW_APPEND);
	return r ? r : off == op->off ? 0 : -EIO;
}

/* A slot armed (the workload keeps the slot number) or disarmed. */
static int ds_attach(struct wctx *w, uint64_t ino, const struct wop *op)
{
	uint32_t idx;
	int r;

	if (op->kind == OP_DSDETACH) {
		r = hfs_dslot_detach(w->vol, ino, w->dslot_gen[op->obj],
				     w->dslot[op->obj] - 1);
		if (!r)
			w->dslot[op->obj] = 0;
		return r;
	}
	r = hfs_dslot_attach(w->vol, ino, &idx, &w->dslot_gen[op->obj]);
	if (!r)
		w->dslot[op->obj] = idx + 1;
	return r;
}

/* An O_APPEND write through FUSE: the kernel's offset is the size it
 * knows, which the workload never lets go stale, and with direct
 * writers at work the daemon goes to the end of file as the slot has
 * it; either way the size the model expects. */
static int fuse_append(struct hfs_vol *v, uint64_t ino, const struct wop *op)
{
	uint64_t at = op->off;
	ssize_t n = hfs_append(v, ino, op->buf, op->len, &at);

	if (n < 0)
		return (int)n;
	return n == (ssize_t)op->len && at == op->off ? 0 : -EIO;
}

static int exec_op(struct wctx *w, struct wop *op, struct hfs_attr *a)
{
	struct hfs_vol *v = w->vol;
	uint64_t ino = op->obj >= 0 ? w->ino[op->obj] : 0;
	uint64_t dino = op->dir >= 0 ? w->ino[op->dir] : 0;
	uint64_t nino = op->ndir >= 0 ? w->ino[op->ndir] : 0;
	struct hfs_setattr sa = { 0 };
	ssize_t n;

	switch (op->kind) {
	case OP_CREATE:
		return hfs_mknod(v, dino, op->name, S_IFREG | 0644, 0, &cred, a);
	case OP_MKFIFO:
		return hfs_mknod(v, dino, op->name, S_IFIFO | 0644, 0, &cred, a);
	case OP_MKDIR:
		return hfs_mkdir(v, dino, op->name, 0755, &cred, a);
	case OP_SYMLINK:
		return hfs_symlink(v, dino, op->name, (const char *)op->buf,
				   &cred, a);
	case OP_LINK:
		return hfs_link(v, ino, nino, op->nname, a);
	case OP_UNLINK:
		return hfs_unlink(v, dino, op->name);
	case OP_RMDIR:
		return hfs_rmdir(v, dino, op->name);
	case OP_RENAME:
		return hfs_rename(v, dino, op->name, nino, op->nname, op->flags,
				  &cred);
	case OP_WRITE:
		n = hfs_write(v, ino, op->buf, op->len, op->off);
		return n < 0 ? (int)n : n == (ssize_t)op->len ? 0 : -EIO;
	case OP_FSYNC:
		return hfs_fsync(v, ino, false);
	case OP_TRUNCATE:
		sa.mask = HFS_SET_SIZE | (op->flags ? HFS_SET_MODE : 0);
		sa.size = op->off;
		sa.mode = op->flags & 07777;
		return hfs_setattr(v, ino, &sa, a);
	case OP_CHMOD:
		sa.mask = HFS_SET_MODE;
		sa.mode = op->flags;
		return hfs_setattr(v, ino, &sa, a);
	case OP_SETFLAGS:
		return hfs_setflags(v, ino, op->flags, &root_who, a);
	case OP_PUNCH:
		return hfs_fallocate(v, ino, FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE, op->off, op->len);
	case OP_ZERO:
		return hfs_fallocate(v, ino, FALLOC_FL_ZERO_RANGE |
				     (int)(op->flags & FALLOC_FL_KEEP_SIZE),
				     op->off, op->len);
	case OP_FALLOC:
		return hfs_fallocate(v, ino, (int)(op->flags & FALLOC_FL_KEEP_SIZE),
				     op->off, op->len);
	case OP_SETXATTR:
		return hfs_setxattr(v, ino, op->nname, op->buf, op->len,
				    (int)op->flags);
	case OP_RMXATTR:
		return hfs_removexattr(v, ino, op->nname);
	case OP_FORGET:
		hfs_forget(v, ino, w->refs[op->obj]);
		w->refs[op->obj] = 0;
		return 0;
	case OP_OPEN:
		return hfs_open(v, ino);
	case OP_RELEASE:
		hfs_release(v, ino);
		return 0;
	case OP_REMOUNT:
		return do_remount(w);
	case OP_COPY:
		n = hfs_copy_range(v, w->ino[op->src], op->off2, ino, op->off,
				   op->len);
		return n < 0 ? (int)n : (uint64_t)n == op->n ? 0 : -EIO;
	case OP_DAXSTORE:
		return dax_store(v, ino, op);
	case OP_DSATTACH: case OP_DSDETACH:
		return ds_attach(w, ino, op);
	case OP_DSRAISE:
		return hfs_dslot_raise_limit(v, ino, op->off, op->off + op->len);
	case OP_DSWRITE:
		return ds_write(w, ino, op);
	case OP_APPEND:
		return fuse_append(v, ino, op);
	default:
		return -EINVAL;
	}
}

static void record(struct wctx *w, const struct wop *op)
{
	if (w->nops == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->ops = realloc(w->ops, (size_t)w->cap * sizeof(*w->ops));
		if (!w->ops)
			abort();
	}
	w->ops[w->nops++] = *op;
}

static void free_op(struct wop *op)
{
	free(op->name);
	free(op->nname);
	free(op->buf);
}

/* The whiteout a rename left: its inode number, found by a lookup (which
 * takes a reference like the one a create hands out). */
static int record_whiteout(struct wctx *w, struct wop *op)
{
	struct hfs_attr a;
	int ret = hfs_lookup(w->vol, w->ino[op->dir], op->name, &a);

	if (!ret && !S_ISCHR(a.mode))
		ret = -EIO;
	if (ret) {
		w->broken = true;
		w->limit = op->r;
		fmt(w->why, sizeof(w->why), "op %d: no whiteout at %s after "
		    "the rename (%d)", w->nops, op->name, ret);
		free_op(op);
		return ret;
	}
	grow_maps(w, op->newobj + 1);
	w->ino[op->newobj] = a.ino;
	w->refs[op->newobj]++;
	return 0;
}

int wl_do(struct wctx *w, struct wop *op)
{
	struct hfs_attr a;
	int ret;

	if (w->broken || !w->vol) {
		free_op(op);
		return -ECANCELED;
	}
	op->flex = w->flex_next;
	w->flex_next = false;
	op->cls = (uint8_t)op_class(op);
	op->s = w->tr->fences;
	ret = exec_op(w, op, &a);
	op->r = w->tr->fences;
	if (op->flex && !op->expect && ret == -ENOSPC) {
		/* the volume is full: a refused operation changes nothing */
		op->expect = -ENOSPC;
		op->cls = (uint8_t)op_class(op);
	}
	if (ret != op->expect) {
		char d[600], detail[sizeof(w->why)];

		snprintf(detail, sizeof(detail), "%s", w->why);
		op_describe(&w->live, op, d, sizeof(d));
		w->broken = true;
		w->limit = op->s;
		fmt(w->why, sizeof(w->why), "op %d (%s) returned %d (%s), "
			 "expected %d%s%s", w->nops, d, ret,
			 ret ? strerror(-ret) : "success", op->expect,
			 detail[0] ? ": " : "", detail);
		free_op(op);
		return ret;
	}
	if (w->vol && w->vol->failed) {
		char d[600];

		/* an operation that failed validation must change nothing,
		 * least of all fail the volume (every later call EIO) */
		op_describe(&w->live, op, d, sizeof(d));
		w->broken = true;
		w->limit = op->s;
		fmt(w->why, sizeof(w->why), "op %d (%s) returned %d as "
		    "expected but left the volume failed", w->nops, d, ret);
		free_op(op);
		return -EIO;
	}
	op_apply(&w->live, op);
	if (!op->expect) {
		switch (op->kind) {
		case OP_CREATE: case OP_MKFIFO: case OP_MKDIR: case OP_SYMLINK:
			grow_maps(w, op->newobj + 1);
			w->ino[op->newobj] = a.ino;
			w->refs[op->newobj]++;
			break;
		case OP_LINK:
			w->refs[op->obj]++;
			break;
		case OP_RENAME:
			if (op->newobj >= 0 &&
			    (ret = record_whiteout(w, op)) != 0)
				return ret;
			break;
		case OP_OPEN:
			w->opened[op->obj]++;
			break;
		case OP_RELEASE:
			w->opened[op->obj]--;
			break;
		default:
			break;
		}
	}
	record(w, op);
	return ret;
}

/* --------------------------------------------------------- wrappers */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct wop new_op(int kind, int dir, const char *name)
{
	struct wop op = { .kind = (uint8_t)kind, .obj = -1, .dir = dir,
			  .ndir = -1, .newobj = -1 };

	op.name = dup_or_null(name);
	return op;
}

static int create_expect(struct wctx *w, int dir, const char *name)
{
	if (!model_alive(&w->live, dir) || w->live.o[dir].type != MT_DIR)
		return -ENOENT;
	return model_lookup(&w->live, dir, name) >= 0 ? -EEXIST : 0;
}

static int wl_new(struct wctx *w, int kind, int dir, const char *name)
{
	struct wop op = new_op(kind, dir, name);

	op.expect = create_expect(w, dir, name);
	return wl_do(w, &op);
}

int wl_create(struct wctx *w, int dir, const char *name)
{
	return wl_new(w, OP_CREATE, dir, name);
}

int wl_mkfifo(struct wctx *w, int dir, const char *name)
{
	return wl_new(w, OP_MKFIFO, dir, name);
}

int wl_mkdir(struct wctx *w, int dir, const char *name)
{
	return wl_new(w, OP_MKDIR, dir, name);
}

int wl_symlink(struct wctx *w, int dir, const char *name, const char *target)
{
	struct wop op = new_op(OP_SYMLINK, dir, name);

	op.buf = (uint8_t *)strdup(target);
	op.len = strlen(target);
	op.expect = create_expect(w, dir, name);
	return wl_do(w, &op);
}

int wl_link(struct wctx *w, int obj, int dir, const char *name)
{
	struct wop op = new_op(OP_LINK, -1, NULL);

	op.obj = obj;
	op.ndir = dir;
	op.nname = strdup(name);
	op.expect = create_expect(w, dir, name);
	if (!op.expect && w->live.o[obj].type == MT_DIR)
		op.expect = -EPERM;
	return wl_do(w, &op);
}

static int remove_expect(struct wctx *w, int dir, const char *name, bool rmdir)
{
	int obj = model_lookup(&w->live, dir, name);

	if (obj < 0)
		return -ENOENT;
	/* chattr +i/+a of the directory or the victim (lib/iflags.c) */
	if ((w->live.o[dir].iflags | w->live.o[obj].iflags) &
	    (HFS_IF_IMMUTABLE | HFS_IF_APPEND))
		return -EPERM;
	if (rmdir && w->live.o[obj].type != MT_DIR)
		return -ENOTDIR;
	if (!rmdir && w->live.o[obj].type == MT_DIR)
		return -EISDIR;
	if (rmdir && w->live.o[obj].nent)
		return -ENOTEMPTY;
	return 0;
}

int wl_unlink(struct wctx *w, int dir, const char *name)
{
	struct wop op = new_op(OP_UNLINK, dir, name);

	op.expect = remove_expect(w, dir, name, false);
	return wl_do(w, &op);
}

int wl_rmdir(struct wctx *w, int dir, const char *name)
{
	struct wop op = new_op(OP_RMDIR, dir, name);

	op.expect = remove_expect(w, dir, name, true);
	return wl_do(w, &op);
}

/* The errno hfs_rename gives, in its order of checks (namei.c). */
static int rename_expect(struct wctx *w, int dir, const char *name, int ndir,
			 const char *nname, unsigned flags)
{
	const struct model *m = &w->live;
	int src = model_lookup(m, dir, name), dst = model_lookup(m, ndir, nname);
	bool sdir, ddir;

	if ((flags & RENAME_EXCHANGE) &&
	    (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))
		return -EINVAL;
	if (src < 0)
		return -ENOENT;
	if (dst >= 0 && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (src == dst)
		return 0;
	sdir = m->o[src].type == MT_DIR;
	ddir = dst >= 0 && m->o[dst].type == MT_DIR;
	if (flags & RENAME_EXCHANGE) {
		if (dst < 0)
			return -ENOENT;
		if (sdir && model_is_ancestor(m, src, ndir))
			return -EINVAL;
		if (ddir && model_is_ancestor(m, dst, dir))
			return -EINVAL;
		return 0;
	}
	if (dst >= 0) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (sdir && m->o[dst].nent)
			return -ENOTEMPTY;
		if (!sdir && ddir)
			return -EISDIR;
	}
	if (sdir && model_is_ancestor(m, src, ndir))
		return -EINVAL;
	return 0;
}

int wl_rename(struct wctx *w, int dir, const char *name, int ndir,
	      const char *nname, unsigned flags)
{
	struct wop op = new_op(OP_RENAME, dir, name);

	op.ndir = ndir;
	op.nname = strdup(nname);
	op.flags = flags;
	op.expect = rename_expect(w, dir, name, ndir, nname, flags);
	return wl_do(w, &op);
}

static struct wop obj_op(int kind, int obj, uint64_t off, uint64_t len)
{
	struct wop op = new_op(kind, -1, NULL);

	op.obj = obj;
	op.off = off;
	op.len = len;
	return op;
}

/* len generator bytes, never zero */
static uint8_t *gen_data(struct wctx *w, uint64_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		abort();
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v = rng_next(&w->rng);

		for (uint64_t k = 0; k < 8 && i + k < len; k++)
			buf[i + k] = (uint8_t)(1 + ((v >> (8 * k)) & 0xff) % 255);
	}
	return buf;
}

int wl_write(struct wctx *w, int obj, uint64_t off, uint64_t len)
{
	struct wop op = obj_op(OP_WRITE, obj, off, len);

	op.buf = gen_data(w, len);
	return wl_do(w, &op);
}

int wl_daxstore(struct wctx *w, int obj, uint64_t len)
{
	uint64_t unit, size = w->live.o[obj].size, room;
	struct wop op;

	if (w->broken || !w->vol)
		return -ECANCELED;
	unit = hfs_vol_alloc_unit(w->vol);
	room = (size + unit - 1) / unit * unit - size;
	if (!room)
		return 0;
	op = obj_op(OP_DAXSTORE, obj, size, len < room ? len : room);
	op.buf = gen_data(w, op.len);
	return wl_do(w, &op);
}

/* ------------------------------------------------- data-path slots */

static const struct hfs_dslot *ds_slot(struct wctx *w, int obj)
{
	return w->dslot[obj] ? dpc_slot(w->vol, w->dslot[obj] - 1) : NULL;
}

int64_t wl_ds_base(struct wctx *w, int obj)
{
	const struct hfs_dslot *s = w->vol ? ds_slot(w, obj) : NULL;

	return s ? (int64_t)s->ds_base : -1;
}

int wl_ds_attach(struct wctx *w, int obj)
{
	struct wop op;

	if (w->broken || !w->vol)
		return -ECANCELED;
	if (w->dslot[obj])
		return 0;
	op = obj_op(OP_DSATTACH, obj, 0, 0);
	return wl_do(w, &op);
}

int wl_ds_detach(struct wctx *w, int obj)
{
	struct wop op;

	if (w->broken || !w->vol)
		return -ECANCELED;
	if (!w->dslot[obj])
		return 0;
	op = obj_op(OP_DSDETACH, obj, 0, 0);
	return wl_do(w, &op);
}

int wl_ds_reserve(struct wctx *w, int obj, uint64_t off, uint64_t len)
{
	uint64_t unit, end;
	struct wop op;
	int r = wl_ds_attach(w, obj);

	if (r)
		return r;
	unit = hfs_vol_alloc_unit(w->vol);
	end = (off + len + unit - 1) / unit * unit;
	off = off / unit * unit;
	len = end - off;
	/* the blocks first, then the limit (fs/lease_req.c) */
	r = wl_falloc(w, obj, off, len, true);
	if (r)
		return r;
	op = obj_op(OP_DSRAISE, obj, off, len);
	return wl_do(w, &op);
}

/* A direct write (or append) as libholdfs routes it. */
static int ds_write_op(struct wctx *w, int obj, uint64_t off, uint64_t len,
		       uint32_t flags)
{
	const struct hfs_dslot *s;
	uint64_t size = w->live.o[obj].size, from;
	struct wop op;
	int r = wl_ds_attach(w, obj);

	if (r)
		return r;
	if (flags & DSW_APPEND)
		off = size;
	from = off < size ? off : size;
	s = ds_slot(w, obj);
	if (off + len <= size) {
		/* a write lease never allocates a hole inside the file:
		 * that write goes through FUSE */
		if (dpc_has_holes(w->vol, w->ino[obj], off, len))
			return wl_write(w, obj, off, len);
	} else if (off + len > s->ds_limit ||
		   dpc_has_holes(w->vol, w->ino[obj], from, off + len - from)) {
		/* an extend lease from the write (or EOF) past its end */
		r = wl_ds_reserve(w, obj, from, off + len - from + 16 * 1024);
		if (r)
			return r;
	}
	op = obj_op(OP_DSWRITE, obj, off, len);
	op.flags = flags;
	op.buf = gen_data(w, len);
	return wl_do(w, &op);
}

int wl_ds_write(struct wctx *w, int obj, uint64_t off, uint64_t len)
{
	return ds_write_op(w, obj, off, len, 0);
}

int wl_ds_append(struct wctx *w, int obj, uint64_t len)
{
	return ds_write_op(w, obj, 0, len, DSW_APPEND);
}

int wl_append(struct wctx *w, int obj, uint64_t len)
{
	struct wop op = obj_op(OP_APPEND, obj, w->live.o[obj].size, len);

	op.buf = gen_data(w, len);
	return wl_do(w, &op);
}

int wl_fsync(struct wctx *w, int obj)
{
	struct wop op = obj_op(OP_FSYNC, obj, 0, 0);

	return wl_do(w, &op);
}

int wl_truncate(struct wctx *w, int obj, uint64_t size)
{
	struct wop op = obj_op(OP_TRUNCATE, obj, size, 0);

	return wl_do(w, &op);
}

int wl_truncate_chmod(struct wctx *w, int obj, uint64_t size, uint32_t mode)
{
	struct wop op = obj_op(OP_TRUNCATE, obj, size, 0);

	op.flags = (mode & 07777) ? mode & 07777 : 0400;
	if (size > HFS_MAX_FILE_SIZE)
		op.expect = -EFBIG;
	return wl_do(w, &op);
}

int wl_punch(struct wctx *w, int obj, uint64_t off, uint64_t len)
{
	struct wop op = obj_op(OP_PUNCH, obj, off, len);

	return wl_do(w, &op);
}

int wl_zero(struct wctx *w, int obj, uint64_t off, uint64_t len, bool keep)
{
	struct wop op = obj_op(OP_ZERO, obj, off, len);

	op.flags = keep ? FALLOC_FL_KEEP_SIZE : 0;
	return wl_do(w, &op);
}

int wl_falloc(struct wctx *w, int obj, uint64_t off, uint64_t len, bool keep)
{
	struct wop op = obj_op(OP_FALLOC, obj, off, len);

	op.flags = keep ? FALLOC_FL_KEEP_SIZE : 0;
	return wl_do(w, &op);
}

int wl_setxattr(struct wctx *w, int obj, const char *name, size_t vlen,
		int flags)
{
	struct wop op = obj_op(OP_SETXATTR, obj, 0, vlen);
	bool exists = model_xattr_find(&w->live, obj, name) >= 0;

	op.nname = strdup(name);
	op.flags = (uint32_t)flags;
	op.buf = malloc(vlen ? vlen : 1);
	if (!op.buf)
		abort();
	for (size_t i = 0; i < vlen; i++)
		op.buf[i] = (uint8_t)rng_next(&w->rng);
	if (exists && (flags & XATTR_CREATE))
		op.expect = -EEXIST;
	else if (!exists && (flags & XATTR_REPLACE))
		op.expect = -ENODATA;
	else if (vlen > HFS_XATTR_VALUE_MAX)
		op.expect = -E2BIG;
	else if (model_xattr_list(&w->live, obj, name, true) >
		 HFS_XATTR_LIST_MAX)
		op.expect = -ENOSPC;
	return wl_do(w, &op);
}

int wl_rmxattr(struct wctx *w, int obj, const char *name)
{
	struct wop op = obj_op(OP_RMXATTR, obj, 0, 0);

	op.nname = strdup(name);
	if (model_xattr_find(&w->live, obj, name) < 0)
		op.expect = -ENODATA;
	return wl_do(w, &op);
}

int wl_chmod(struct wctx *w, int obj, uint32_t mode)
{
	struct wop op = obj_op(OP_CHMOD, obj, 0, 0);

	op.flags = mode & 07777;
	return wl_do(w, &op);
}

/* The errno hfs_setflags gives root (lib/iflags.c, setflags_check). */
int wl_setflags(struct wctx *w, int obj, uint32_t flags)
{
	struct wop op = obj_op(OP_SETFLAGS, obj, 0, 0);
	const struct mobj *o = &w->live.o[obj];

	op.flags = flags;
	if (o->type != MT_REG && o->type != MT_DIR)
		op.expect = -ENOTTY;
	else if (flags & ~HFS_IF_USER)
		op.expect = -EOPNOTSUPP;
	else if ((o->iflags & flags & HFS_IF_IMMUTABLE) && o->iflags != flags)
		op.expect = -EPERM;
	return wl_do(w, &op);
}

int wl_forget(struct wctx *w, int obj)
{
	struct wop op = obj_op(OP_FORGET, obj, 0, 0);

	if (obj < 0 || obj >= w->ncap || !w->refs[obj]) {
		free_op(&op);
		return 0;
	}
	return wl_do(w, &op);
}

int wl_open(struct wctx *w, int obj)
{
	struct wop op = obj_op(OP_OPEN, obj, 0, 0);

	return wl_do(w, &op);
}

int wl_release(struct wctx *w, int obj)
{
	struct wop op = obj_op(OP_RELEASE, obj, 0, 0);

	if (obj < 0 || obj >= w->ncap || !w->opened[obj]) {
		free_op(&op);
		return 0;
	}
	return wl_do(w, &op);
}

void wl_flex(struct wctx *w)
{
	w->flex_next = true;
}

int wl_copy(struct wctx *w, int src, uint64_t off_in, int dst, uint64_t off_out,
	    uint64_t len)
{
	struct wop op = obj_op(OP_COPY, dst, off_out, len);
	uint64_t size = w->live.o[src].size;

	op.src = src;
	op.off2 = off_in;
	op.n = off_in >= size ? 0 : len < size - off_in ? len : size - off_in;
	return wl_do(w, &op);
}

int wl_remount(struct wctx *w)
{
	struct wop op = new_op(OP_REMOUNT, -1, NULL);

	return wl_do(w, &op);
}

/* ------------------------------------------------------------ picks */

static int pick(struct wctx *w, bool (*ok)(const struct mobj *o))
{
	const struct model *m = &w->live;
	int n = 0, k;

	for (int i = 1; i < m->n; i++)
		if (m->o[i].nnames > 0 && ok(&m->o[i]))
			n++;
	if (n == 0)
		return -1;
	k = (int)rng_below(&w->rng, (uint64_t)n);
	for (int i = 1; i < m->n; i++)
		if (m->o[i].nnames > 0 && ok(&m->o[i]) && k-- == 0)
			return i;
	return -1;
}

static bool is_dir(const struct mobj *o) { return o->type == MT_DIR; }
static bool is_reg(const struct mobj *o) { return o->type == MT_REG; }
static bool is_any(const struct mobj *o) { (void)o; return true; }

int wl_pick_dir(struct wctx *w)
{
	/* the root counts as much as any other directory */
	int d = pick(w, is_dir);

	return d < 0 || rng_below(&w->rng, 4) == 0 ? 0 : d;
}

int wl_pick_file(struct wctx *w)
{
	return pick(w, is_reg);
}

int wl_pick_obj(struct wctx *w)
{
	return pick(w, is_any);
}

int wl_pick_entry(struct wctx *w, int type, int *dir, const char **name)
{
	const struct model *m = &w->live;
	uint64_t n = 0, k;

	for (int d = 0; d < m->n; d++) {
		if (m->o[d].type != MT_DIR || !model_alive(m, d))
			continue;
		for (int i = 0; i < m->o[d].nent; i++)
			if (!type || m->o[m->o[d].ent[i].obj].type == type)
				n++;
	}
	if (n == 0)
		return -1;
	k = rng_below(&w->rng, n);
	for (int d = 0; d < m->n; d++) {
		if (m->o[d].type != MT_DIR || !model_alive(m, d))
			continue;
		for (int i = 0; i < m->o[d].nent; i++) {
			if (type && m->o[m->o[d].ent[i].obj].type != type)
				continue;
			if (k-- == 0) {
				*dir = d;
				*name = m->o[d].ent[i].name;
				return m->o[d].ent[i].obj;
			}
		}
	}
	return -1;
}

const char *wl_fresh_name(struct wctx *w, const char *prefix)
{
	int n = w->nfile++;

	if (rng_below(&w->rng, 12) == 0) {
		/* a long name: up to the 255-byte limit */
		size_t len = 60 + rng_below(&w->rng, 196);
		int k = snprintf(w->namebuf, sizeof(w->namebuf), "%s%d-", prefix, n);

		while ((size_t)k < len)
			w->namebuf[k++] = (char)('a' + rng_below(&w->rng, 26));
		w->namebuf[len] = 0;
	} else {
		snprintf(w->namebuf, sizeof(w->namebuf), "%s%d", prefix, n);
	}
	return w->namebuf;
}

/* -------------------------------------------------------------- run */

/* Format img; with --mirror only its first WL_FS_SIZE bytes (device
 * 0), then the mirror's copy (mirror_format). */
int workload_mkfs(uint8_t *img, char *why, size_t len)
{
	static const uint8_t uuid[16] = { 0xc7, 0x45, 0x4a, 0x53, 0x48, 0x43,
					  0x48, 0x4b, 0x80, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t muuid[16] = { 0xc7, 0x45, 0x4a, 0x53, 0x48, 0x43,
					   0x48, 0x4b, 0x80, 0, 0, 0, 0, 0, 0, 2 };
	struct hfs_mkfs_opts o = {
		.label = crash_mirror ? "crash-mirror" : "crash",
		.inode_count = WL_INODES,
		.journal_blocks = WL_JOURNAL_BLOCKS,
		.uuid = crash_mirror ? muuid : uuid,
	};
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	int ret;

	memset(img, 0, WL_REGION_SIZE);
	fakeclock_reset();
	ret = hfs_region_from_memory(img, crash_mirror ? WL_FS_SIZE
						       : WL_REGION_SIZE, &rg);
	if (ret) {
		fmt(why, len, "region: %s", strerror(-ret));
		return ret;
	}
	ret = hfs_mkfs(rg, &o, &res, &err);
	hfs_region_close(rg);
	if (ret) {
		fmt(why, len, "mkfs: %s", err.msg);
		return ret;
	}
	return crash_mirror ? mirror_format(img, &res.sb, why, len) : 0;
}

int workload_run(const struct workload *wl, uint64_t seed, uint8_t *img0,
		 struct trace *tr, struct wctx *w)
{
	struct hfs_err err = { 0 };
	struct wop op;
	int ret;

	memset(w, 0, sizeof(*w));
	w->name = wl->name;
	w->seed = seed;
	w->rng.s = splitmix64(seed ^ 0x6372617368ull);
	w->tr = tr;
	w->limit = UINT64_MAX;
	model_init(&w->live);
	grow_maps(w, 1);
	w->ino[0] = HFS_ROOT_INO;
	w->img = malloc(WL_REGION_SIZE);
	if (!w->img)
		abort();
	memcpy(w->img, img0, WL_REGION_SIZE);
	ret = hfs_region_from_memory(w->img, WL_REGION_SIZE, &w->rg);
	if (ret) {
		fmt(w->why, sizeof(w->why), "region: %s", strerror(-ret));
		return -1;
	}
	fakeclock_reset();
	trace_attach(tr, w->rg);
	if (crash_mirror) /* over the trace: both copies are traced */
		mirror_attach(w->rg);

	op = new_op(OP_MOUNT, -1, NULL);
	op.s = tr->fences;
	ret = hfs_vol_open(w->rg, NULL, &w->vol, NULL, &err);
	op.r = tr->fences;
	if (ret) {
		mirror_detach(w->rg);
		trace_detach(tr);
		fmt(w->why, sizeof(w->why), "mount: %s", err.msg);
		return -1;
	}
	record(w, &op);

	wl->run(w);

	if (w->vol) {
		op = new_op(OP_UNMOUNT, -1, NULL);
		op.s = tr->fences;
		ret = hfs_vol_close(w->vol);
		op.r = tr->fences;
		w->vol = NULL;
		if (ret && !w->broken) {
			w->broken = true;
			w->limit = op.s;
			fmt(w->why, sizeof(w->why),
				 "final unmount failed: %s", strerror(-ret));
		} else if (!ret) {
			record(w, &op);
		}
	}
	mirror_detach(w->rg);
	trace_detach(tr);
	return 0;
}

void workload_free(struct wctx *w)
{
	if (w->vol)
		hfs_vol_close(w->vol);
	for (int i = 0; i < w->nops; i++)
		free_op(&w->ops[i]);
	free(w->ops);
	model_free(&w->live);
	free(w->ino);
	free(w->refs);
	free(w->opened);
	free(w->dslot);
	free(w->dslot_gen);
	if (w->rg)
		hfs_region_close(w->rg);
	free(w->img);
	memset(w, 0, sizeof(*w));
}

const struct workload *workload_find(const char *name)
{
	for (const struct workload *wl = workloads; wl->name; wl++)
		if (!strcmp(wl->name, name))
			return wl;
	return NULL;
}
