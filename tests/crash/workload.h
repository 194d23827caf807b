/* SPDX-License-Identifier: MIT */
/*
 * Workloads: deterministic, seeded sequences of volume operations run on
 * a traced memory region, each recorded with its effect on the model and
 * the fence counts at which it was called and returned.
 *
 * The lib API is called directly, and every call returns only after its
 * transaction committed and its data persisted: an operation that
 * returned at fence r is "completed" for every crash state after fence r.
 */
#ifndef CRASH_WORKLOAD_H
#define CRASH_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "trace.h"
#include "vol.h"

/* Geometry of every workload volume: the filesystem is WL_FS_SIZE; the
 * image (and region) WL_REGION_SIZE, larger by the mirror's space with
 * --mirror (mirror.h). */
#define WL_FS_SIZE (16ull << 20)
extern uint64_t wl_region_size;
#define WL_REGION_SIZE wl_region_size
#define WL_INODES 4096u
#define WL_JOURNAL_BLOCKS 64u

enum op_kind {
	OP_MOUNT = 1, OP_UNMOUNT, OP_REMOUNT,
	OP_CREATE, OP_MKFIFO, OP_MKDIR, OP_SYMLINK, OP_LINK,
	OP_UNLINK, OP_RMDIR, OP_RENAME,
	OP_WRITE, OP_FSYNC, OP_TRUNCATE, OP_PUNCH, OP_ZERO, OP_FALLOC,
	OP_SETXATTR, OP_RMXATTR, OP_CHMOD,
	OP_FORGET, OP_OPEN, OP_RELEASE, OP_COPY,
	OP_DAXSTORE,
	/* data-path slots (docs/data-path.md) */
	OP_DSATTACH, OP_DSRAISE, OP_DSDETACH, OP_DSWRITE, OP_APPEND,
	OP_SETFLAGS,  /* chattr: flags = HFS_IF_* (lib/iflags.c) */
};

/* What a crash during the operation may leave. */
enum op_class {
	OPC_NONE = 0,  /* no visible change: state before == after */
	OPC_ATOMIC,    /* all or nothing */
	OPC_DATA,      /* data of op.obj: each byte old or new */
};

struct wop {
	uint8_t kind;       /* enum op_kind */
	uint8_t cls;        /* enum op_class, set by wl_do */
	int expect;         /* expected return: 0 or -errno */
	int obj;            /* target object */
	int dir, ndir;      /* parent directories (model ids) */
	char *name, *nname;
	uint64_t off, len;  /* data ops; truncate: off = new size */
	uint8_t *buf;       /* write data, xattr value, symlink target */
	uint32_t flags;     /* rename / xattr / fallocate flags, chmod mode;
			       client write: DSW_APPEND */
	int newobj;         /* object created (set by op_apply) */
	int src;            /* copy: source object */
	uint64_t off2;      /* copy: source offset */
	uint64_t n;         /* copy: bytes it copies */
	bool flex;          /* ENOSPC is an acceptable answer (then no change) */
	uint64_t s, r;      /* fences when called and when it returned */
};

const char *op_name(int kind);
/* Apply a successful op to the model (no-op if op->expect != 0). */
void op_apply(struct model *m, struct wop *op);
/* One-line description for reports. */
void op_describe(const struct model *m, const struct wop *op, char *buf,
		 size_t len);

struct rng {
	uint64_t s;
};
uint64_t rng_next(struct rng *r);
uint64_t rng_below(struct rng *r, uint64_t n); /* [0, n) */
uint64_t splitmix64(uint64_t x);

struct wctx {
	const char *name;
	uint64_t seed;
	struct rng rng;
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct trace *tr;
	struct model live;     /* after every op so far */
	uint64_t *ino;         /* model id -> inode number */
	uint64_t *refs;        /* lookup references held, per model id */
	int *opened;           /* open handles held, per model id */
	uint32_t *dslot;       /* data-path slot attached + 1, per model id */
	uint64_t *dslot_gen;   /* the generation that attach said, per id */
	int ncap;
	struct wop *ops;
	int nops, cap;
	int nfile;             /* counter for fresh names */
	bool flex_next;        /* wl_flex() */
	uint8_t *img;          /* the traced region's memory */
	bool broken;           /* an op returned what the model did not expect */
	uint64_t limit;        /* broken: check only epochs before this fence */
	char why[2048];
	char namebuf[300];
};

/* Run op on the volume, check its return value, record it. */
int wl_do(struct wctx *w, struct wop *op);

/* Convenience wrappers: each builds one op and runs it. */
int wl_create(struct wctx *w, int dir, const char *name);
int wl_mkfifo(struct wctx *w, int dir, const char *name);
int wl_mkdir(struct wctx *w, int dir, const char *name);
int wl_symlink(struct wctx *w, int dir, const char *name, const char *target);
int wl_link(struct wctx *w, int obj, int dir, const char *name);
int wl_unlink(struct wctx *w, int dir, const char *name);
int wl_rmdir(struct wctx *w, int dir, const char *name);
int wl_rename(struct wctx *w, int dir, const char *name, int ndir,
	      const char *nname, unsigned flags);
/* Data from the workload's generator (pattern never all-zero). */
int wl_write(struct wctx *w, int obj, uint64_t off, uint64_t len);
int wl_fsync(struct wctx *w, int obj);
int wl_truncate(struct wctx *w, int obj, uint64_t size);
/* One setattr of size and mode (EFBIG past the maximum file size). */
int wl_truncate_chmod(struct wctx *w, int obj, uint64_t size, uint32_t mode);
int wl_punch(struct wctx *w, int obj, uint64_t off, uint64_t len);
int wl_zero(struct wctx *w, int obj, uint64_t off, uint64_t len, bool keep);
int wl_falloc(struct wctx *w, int obj, uint64_t off, uint64_t len, bool keep);
int wl_setxattr(struct wctx *w, int obj, const char *name, size_t vlen,
		int flags);
int wl_rmxattr(struct wctx *w, int obj, const char *name);
int wl_chmod(struct wctx *w, int obj, uint32_t mode);
/* chattr as root: flags are HFS_IF_IMMUTABLE/APPEND/NODUMP (others:
 * EOPNOTSUPP).  While set, unlink and rmdir expect EPERM; the
 * workloads use no other refused operation on flagged objects. */
int wl_setflags(struct wctx *w, int obj, uint32_t flags);
int wl_forget(struct wctx *w, int obj);
int wl_open(struct wctx *w, int obj);
int wl_release(struct wctx *w, int obj);
int wl_remount(struct wctx *w);
/* copy_file_range of len bytes (short at the source's EOF). */
int wl_copy(struct wctx *w, int src, uint64_t off_in, int dst, uint64_t off_out,
	    uint64_t len);
/* What a DAX client with a write lease on the last unit does past EOF:
 * store len generator bytes at the size (stores into the region through
 * the lease's extents, traced like every region write).  No-op when the
 * size is unit-aligned or the last unit is a hole. */
int wl_daxstore(struct wctx *w, int obj, uint64_t len);
/*
 * Data-path slots (docs/data-path.md, dpclient.h).  attach arms the
 * file's slot (no-op if this workload attached it already); reserve is
 * an extend lease's grant: fallocate KEEP_SIZE over [off, off + len) in
 * whole units, then the slot's limit raised to its end; detach disarms.  A client
 * write goes to the data path the way libholdfs sends it: armed first,
 * an extend lease asked for when the write passes the limit or meets a
 * hole past EOF, and through FUSE (wl_write) when it would write into a
 * hole inside the file.  wl_append is an O_APPEND write through FUSE
 * (hfs_append).
 */
#define DSW_APPEND 1u
int wl_ds_attach(struct wctx *w, int obj);
int wl_ds_reserve(struct wctx *w, int obj, uint64_t off, uint64_t len);
int wl_ds_detach(struct wctx *w, int obj);
int wl_ds_write(struct wctx *w, int obj, uint64_t off, uint64_t len);
int wl_ds_append(struct wctx *w, int obj, uint64_t len);
int wl_append(struct wctx *w, int obj, uint64_t len);
/* The size the file's slot was armed (or last rearmed) with, or -1. */
int64_t wl_ds_base(struct wctx *w, int obj);
/* The next op may answer ENOSPC (a full volume): then it changes nothing. */
void wl_flex(struct wctx *w);

/* Random picks from the live model; -1 if none. */
int wl_pick_dir(struct wctx *w);
int wl_pick_file(struct wctx *w);              /* regular files */
int wl_pick_obj(struct wctx *w);               /* any live non-root */
/* A random existing (dir, name) entry; filter: 0 any, MT_* type. */
int wl_pick_entry(struct wctx *w, int type, int *dir, const char **name);
/* Fresh name with prefix (sometimes long). */
const char *wl_fresh_name(struct wctx *w, const char *prefix);

/* Workload table */
struct workload {
	const char *name;
	const char *desc;
	bool quick;            /* part of `all` in the quick run */
	void (*run)(struct wctx *w);
};
extern const struct workload workloads[];
const struct workload *workload_find(const char *name);

/* Run a workload from the initial image img0 (mkfs'd by the caller)
 * into w (trace in tr).  Returns 0, or -1 if the volume could not even
 * be set up (w->why says why); w->broken reports op failures. */
int workload_run(const struct workload *wl, uint64_t seed, uint8_t *img0,
		 struct trace *tr, struct wctx *w);
void workload_free(struct wctx *w);
/* Format img (WL_REGION_SIZE bytes) deterministically. */
int workload_mkfs(uint8_t *img, char *why, size_t len);

#endif
