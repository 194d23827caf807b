/* SPDX-License-Identifier: MIT */
/*
 * The checker (check.h).
 */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <holdfs/proto.h> /* struct hfs_lease_extent */

#include "extent_i.h"
#include "mirror.h"
#include "mirror_heal.h"
#include "inode_i.h"
#include "vol_i.h"
#include "xattr_i.h"
#include "workload.h"

#define MAX_DEPTH 64

static int failf(char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int failf(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

int checker_init(struct checker *ck, uint8_t *img, uint64_t size,
		 struct undo_log *undo)
{
	memset(ck, 0, sizeof(*ck));
	ck->img = img;
	ck->size = size;
	ck->undo = undo;
	ck->probe = true;
	ck->fsck = crash_fsck_available();
	model_init(&ck->snap);
	if (hfs_region_from_memory(img, size, &ck->rg))
		return -1;
	undo_attach(undo, ck->rg);
	return 0;
}

void checker_free(struct checker *ck)
{
	model_free(&ck->snap);
	hfs_region_close(ck->rg);
	memset(ck, 0, sizeof(*ck));
}

/* ---------------------------------------------------------- snapshot */

struct dent_list {
	char **name;
	struct hfs_attr *attr;
	size_t n, cap;
	uint64_t self, dotdot;
	bool bad_order;
};

static int collect(void *ctx, const char *name, const struct hfs_attr *attr,
		   uint64_t next_off)
{
	struct dent_list *l = ctx;

	(void)next_off;
	if (!strcmp(name, ".")) {
		l->self = attr->ino;
		return 0;
	}
	if (!strcmp(name, "..")) {
		l->dotdot = attr->ino;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->name = realloc(l->name, l->cap * sizeof(*l->name));
		l->attr = realloc(l->attr, l->cap * sizeof(*l->attr));
		if (!l->name || !l->attr)
			abort();
	}
	l->name[l->n] = strdup(name);
	l->attr[l->n++] = *attr;
	return 0;
}

static void dent_list_free(struct dent_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->name[i]);
	free(l->name);
	free(l->attr);
}

struct snap {
	struct hfs_vol *vol;
	struct model *m;
	int *ino2obj;          /* inode number -> snapshot object, -1 */
	uint64_t ninos;
	int reachable;
	char *msg;
	size_t len;
};

static int mtype_of(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return MT_REG;
	case S_IFDIR: return MT_DIR;
	case S_IFLNK: return MT_LNK;
	case S_IFIFO: return MT_FIFO;
	case S_IFCHR: return MT_CHR;
	default: return MT_NONE;
	}
}

static int load_xattrs(struct snap *s, int obj, uint64_t ino, const char *path)
{
	ssize_t n = hfs_listxattr(s->vol, ino, NULL, 0);
	char *list;
	int ret = 0;

	if (n < 0)
		return failf(s->msg, s->len, "%s: listxattr: %s", path,
			     strerror((int)-n));
	if (n == 0)
		return 0;
	list = malloc((size_t)n);
	if (!list)
		abort();
	if (hfs_listxattr(s->vol, ino, list, (size_t)n) != n) {
		free(list);
		return failf(s->msg, s->len, "%s: listxattr size changed", path);
	}
	for (char *p = list; p < list + n && !ret; p += strlen(p) + 1) {
		static uint8_t val[HFS_XATTR_VALUE_MAX];
		ssize_t v = hfs_getxattr(s->vol, ino, p, val, sizeof(val));

		if (v < 0)
			ret = failf(s->msg, s->len, "%s: getxattr %s: %s", path,
				    p, strerror((int)-v));
		else
			model_xattr_set(s->m, obj, p, val, (size_t)v);
	}
	free(list);
	return ret;
}

/* What a DAX mapping of the file's last allocation unit shows past EOF
 * (lib/eof_tail.c), read the way a client maps it, through the lease
 * extent list; compared by model_compare. */
static int load_tail(struct snap *s, struct mobj *o, const struct hfs_attr *a,
		     const char *path)
{
	uint64_t unit = hfs_vol_alloc_unit(s->vol);
	uint64_t uoff = a->size / unit * unit, uend = uoff + unit;
	struct hfs_lease_extent ext[16];
	uint32_t n = 0;
	int r;

	if (a->size % unit == 0)
		return 0;
	r = hfs_lease_extents(s->vol, a->ino, uoff, unit, false, ext, 16, &n,
			      NULL, NULL);
	if (r)
		return failf(s->msg, s->len, "%s: lease extents of the last "
			     "unit: %s", path, strerror(-r));
	o->ntail = uend - a->size;
	o->tail = calloc(1, o->ntail);
	if (!o->tail)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		const struct hfs_lease_extent *x = &ext[i];
		uint64_t fs = x->file_off > a->size ? x->file_off : a->size;
		uint64_t fe = x->file_off + x->len < uend ? x->file_off + x->len
							  : uend;

		if ((x->flags & HFS_LEXT_HOLE) || fs >= fe)
			continue; /* a hole maps zeros */
		r = hfs_region_read(hfs_vol_region(s->vol),
				    x->region_off + (fs - x->file_off),
				    o->tail + (fs - a->size), fe - fs, NULL);
		if (r)
			return failf(s->msg, s->len, "%s: region read past "
				     "EOF: %s", path, strerror(-r));
	}
	return 0;
}

static int load_content(struct snap *s, int obj, const struct hfs_attr *a,
			const char *path)
{
	struct mobj *o = &s->m->o[obj];

	if (o->type == MT_REG && a->size) {
		uint8_t *buf;
		ssize_t n;

		if (a->size > WL_REGION_SIZE)
			return failf(s->msg, s->len, "%s: size %llu larger than "
				     "the region", path,
				     (unsigned long long)a->size);
		buf = malloc(a->size);
		if (!buf)
			abort();
		n = hfs_read(s->vol, a->ino, buf, a->size, 0);
		if (n != (ssize_t)a->size) {
			free(buf);
			return failf(s->msg, s->len, "%s: read of %llu bytes "
				     "returned %zd", path,
				     (unsigned long long)a->size, n);
		}
		model_write(s->m, obj, 0, buf, a->size);
		free(buf);
		if (load_tail(s, o, a, path))
			return -1;
	} else if (o->type == MT_LNK) {
		char t[HFS_PATH_MAX + 2];
		int n = hfs_readlink(s->vol, a->ino, t, sizeof(t));

		if (n < 0)
			return failf(s->msg, s->len, "%s: readlink: %s", path,
				     strerror(-n));
		if ((uint64_t)n != a->size)
			return failf(s->msg, s->len, "%s: readlink gave %d bytes, "
				     "size is %llu", path, n,
				     (unsigned long long)a->size);
		model_set_target(s->m, obj, t);
	}
	return load_xattrs(s, obj, a->ino, path);
}

static int walk_dir(struct snap *s, int dobj, uint64_t dino, const char *path,
		    int depth);

static int add_entry(struct snap *s, int dobj, const char *name,
		     const struct hfs_attr *a, const char *path, int depth)
{
	char sub[1024];
	int obj, t = mtype_of(a->mode);

	snprintf(sub, sizeof(sub), "%s/%s", path, name);
	if (a->ino == 0 || a->ino >= s->ninos)
		return failf(s->msg, s->len, "%s: inode %llu out of range", sub,
			     (unsigned long long)a->ino);
	if (t == MT_NONE)
		return failf(s->msg, s->len, "%s: unexpected mode 0%o", sub,
			     a->mode);
	obj = s->ino2obj[a->ino];
	if (obj >= 0) {
		if (t == MT_DIR || s->m->o[obj].type == MT_DIR)
			return failf(s->msg, s->len, "%s: directory inode %llu "
				     "has a second name", sub,
				     (unsigned long long)a->ino);
		model_add(s->m, dobj, name, obj);
		return 0;
	}
	obj = model_new(s->m, (enum mtype)t, a->mode);
	s->ino2obj[a->ino] = obj;
	s->reachable++;
	s->m->o[obj].ino = a->ino;
	s->m->o[obj].nlink = a->nlink;
	s->m->o[obj].iflags = a->flags;
	model_add(s->m, dobj, name, obj);
	if (load_content(s, obj, a, sub))
		return -1;
	if (t == MT_DIR)
		return walk_dir(s, obj, a->ino, sub, depth + 1);
	return 0;
}

static int walk_dir(struct snap *s, int dobj, uint64_t dino, const char *path,
		    int depth)
{
	struct dent_list l = { 0 };
	int ret;

	if (depth > MAX_DEPTH)
		return failf(s->msg, s->len, "%s: directory tree deeper than %d",
			     path, MAX_DEPTH);
	ret = hfs_readdir(s->vol, dino, 0, false, collect, &l);
	if (ret) {
		dent_list_free(&l);
		return failf(s->msg, s->len, "%s/: readdir: %s", path,
			     strerror(-ret));
	}
	s->m->o[dobj].dotdot = l.dotdot;
	if (l.self != dino)
		ret = failf(s->msg, s->len, "%s/.: inode %llu, expected %llu",
			    path, (unsigned long long)l.self,
			    (unsigned long long)dino);
	for (size_t i = 0; i < l.n && !ret; i++)
		ret = add_entry(s, dobj, l.name[i], &l.attr[i], path, depth);
	dent_list_free(&l);
	return ret;
}

static int snapshot(struct hfs_vol *vol, struct model *m, int *reachable,
		    char *msg, size_t len)
{
	struct snap s = { vol, m, NULL, vol->sb.s_inode_count, 0, msg, len };
	struct hfs_attr ra;
	int ret;

	model_free(m);
	model_init(m);
	s.ino2obj = malloc(s.ninos * sizeof(int));
	if (!s.ino2obj)
		abort();
	memset(s.ino2obj, 0xff, s.ninos * sizeof(int));
	s.ino2obj[HFS_ROOT_INO] = 0;
	s.reachable = 1;
	ret = hfs_getattr(vol, HFS_ROOT_INO, &ra);
	if (ret) {
		free(s.ino2obj);
		return failf(msg, len, "getattr of the root: %s", strerror(-ret));
	}
	m->o[0].ino = HFS_ROOT_INO;
	m->o[0].nlink = ra.nlink;
	m->o[0].perm = ra.mode & 07777;
	m->o[0].iflags = ra.flags;
	ret = load_xattrs(&s, 0, HFS_ROOT_INO, "/");
	if (!ret)
		ret = walk_dir(&s, 0, HFS_ROOT_INO, "", 0);
	free(s.ino2obj);
	*reachable = s.reachable;
	return ret;
}

/* -------------------------------------------------------- invariants */

static int check_links(const struct model *m, char *msg, size_t len)
{
	for (int i = 0; i < m->n; i++) {
		const struct mobj *o = &m->o[i];
		uint32_t want = (uint32_t)o->nnames;

		if (o->type == MT_DIR) {
			uint64_t parent = i ? m->o[o->parent].ino : HFS_ROOT_INO;

			want = 2;
			for (int k = 0; k < o->nent; k++)
				want += m->o[o->ent[k].obj].type == MT_DIR;
			if (o->dotdot != parent)
				return failf(msg, len, "directory inode %llu: '..' "
					     "is %llu, expected %llu",
					     (unsigned long long)o->ino,
					     (unsigned long long)o->dotdot,
					     (unsigned long long)parent);
		}
		if (o->nlink != want)
			return failf(msg, len, "%s inode %llu: nlink %u, found %u",
				     o->type == MT_DIR ? "directory" : "file",
				     (unsigned long long)o->ino, o->nlink, want);
	}
	return 0;
}

/* Every inode in use is reachable; every allocated block is owned. */
static int check_accounting(struct hfs_vol *vol, int reachable, char *msg,
			    size_t len)
{
	uint64_t owned = 0, used;

	if (vol->used_inodes != (uint64_t)reachable)
		return failf(msg, len, "%llu inodes in use, %d reachable from "
			     "the root (leaked inodes)",
			     (unsigned long long)vol->used_inodes, reachable);
	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm; ino++) {
		const struct hfs_inode *ip = vol->itab[ino];

		if (!ip)
			continue;
		owned += hfs_emap_blocks(&ip->em) + ip->em.nchain +
			 hfs_xattr_blocks(ip);
	}
	used = vol->sb.s_pool_blocks - vol->alloc.free_blocks;
	if (vol->nbad == 0 && used != owned)
		return failf(msg, len, "%llu pool blocks allocated, %llu owned "
			     "by inodes", (unsigned long long)used,
			     (unsigned long long)owned);
	return 0;
}

/* Mount folds every data-path slot a crash left armed into its inode,
 * or clears it (lib/dslot.c hfs_dslot_mount): no slot may be left
 * holding anything, a stale lock word least of all. */
static int check_dslots(struct hfs_vol *vol, char *msg, size_t len)
{
	const struct hfs_super *sb = &vol->sb;
	const uint8_t *base = hfs_vol_region(vol)->base;

	if (!(sb->s_feat_compat & HFS_FEAT_COMPAT_DSLOTS))
		return 0;
	for (uint32_t i = 0; i < sb->s_dslot_count; i++) {
		const uint8_t *p = base + sb->s_dslot_off +
				   (uint64_t)i * HFS_DSLOT_SIZE;
		struct hfs_dslot s;

		if (p[0] == 0 && !memcmp(p, p + 1, HFS_DSLOT_SIZE - 1))
			continue;
		memcpy(&s, p, sizeof(s));
		return failf(msg, len, "data-path slot %u not cleared at mount: "
			     "ino %llu epoch %llu size %llu limit %llu dirty "
			     "%llu lock %u", i, (unsigned long long)s.ds_ino,
			     (unsigned long long)s.ds_epoch,
			     (unsigned long long)s.ds_size,
			     (unsigned long long)s.ds_limit,
			     (unsigned long long)s.ds_dirty, s.ds_lock);
	}
	return 0;
}

/* ------------------------------------------------------------- probe */

/*
 * The recovered volume must be usable: create, write and read back, set
 * an xattr, mkdir, rename across directories, unlink, rmdir.  A full
 * volume may refuse with ENOSPC (then the probe stops there and undoes
 * what it made); anything else is a failure, and so is a volume left in
 * the failed state.
 */
static int probe(struct hfs_vol *vol, char *msg, size_t len)
{
	static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
	uint8_t buf[10000], back[10000];
	struct hfs_attr f, d;
	const char *step = "create";
	const char *where = ".crash-probe";
	uint64_t dir = HFS_ROOT_INO;
	bool made_dir = false;
	ssize_t n;
	int ret;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	ret = hfs_mknod(vol, HFS_ROOT_INO, ".crash-probe", S_IFREG | 0600, 0,
			&cred, &f);
	if (ret == -ENOSPC)
		return vol->failed ? failf(msg, len, "probe: volume failed") : 0;
	if (ret)
		return failf(msg, len, "probe: create: %s", strerror(-ret));
	step = "write";
	n = hfs_write(vol, f.ino, buf, sizeof(buf), 0);
	ret = n < 0 ? (int)n : 0;
	if (!ret && (hfs_read(vol, f.ino, back, sizeof(back), 0) !=
		     (ssize_t)sizeof(back) || memcmp(buf, back, sizeof(buf))))
		return failf(msg, len, "probe: read back differs");
	if (!ret) {
		step = "setxattr";
		ret = hfs_setxattr(vol, f.ino, "user.probe", buf, 100, 0);
	}
	if (!ret) {
		step = "mkdir";
		ret = hfs_mkdir(vol, HFS_ROOT_INO, ".crash-probe-d", 0700, &cred,
				&d);
		made_dir = !ret;
	}
	if (!ret) {
		step = "rename";
		ret = hfs_rename(vol, HFS_ROOT_INO, ".crash-probe", d.ino, "p", 0,
				 NULL);
		if (!ret) {
			dir = d.ino;
			where = "p";
		}
	}
	if (ret && ret != -ENOSPC)
		return failf(msg, len, "probe: %s: %s", step, strerror(-ret));
	ret = hfs_unlink(vol, dir, where);
	if (!ret && made_dir)
		ret = hfs_rmdir(vol, HFS_ROOT_INO, ".crash-probe-d");
	if (ret)
		return failf(msg, len, "probe: cleanup: %s", strerror(-ret));
	hfs_forget(vol, f.ino, 1);
	if (made_dir)
		hfs_forget(vol, d.ino, 1);
	if (vol->failed)
		return failf(msg, len, "probe: the volume entered the failed state");
	return 0;
}

/* ------------------------------------------------------------- check */

static int compare(const struct model *snap, const struct expect *ex,
		   char *msg, size_t len)
{
	char m1[700], m2[700];

	if (ex->cls == OPC_DATA)
		return model_compare(snap, ex->cur, ex->next, ex->fuzzy, msg, len);
	if (!model_compare(snap, ex->cur, NULL, -1, m1, sizeof(m1)))
		return 0;
	if (ex->cls != OPC_ATOMIC || !ex->next)
		return failf(msg, len, "%s", m1);
	if (!model_compare(snap, ex->next, NULL, -1, m2, sizeof(m2)))
		return 0;
	return failf(msg, len, "neither before nor after the in-flight "
		     "operation: before: %s; after: %s", m1, m2);
}

static int check_mounted(struct checker *ck, struct hfs_vol *vol,
			 const struct expect *ex, char *msg, size_t len)
{
	int reachable = 0;

	if (vol->errors)
		return failf(msg, len, "mount found %llu inconsistencies",
			     (unsigned long long)vol->errors);
	if (vol->sb.s_state & HFS_STATE_ERRORS)
		return failf(msg, len, "superblock has the ERRORS flag");
	if (check_dslots(vol, msg, len) ||
	    snapshot(vol, &ck->snap, &reachable, msg, len) ||
	    check_links(&ck->snap, msg, len) ||
	    check_accounting(vol, reachable, msg, len))
		return -1;
	if (ex && compare(&ck->snap, ex, msg, len))
		return -1;
	if (ck->probe && probe(vol, msg, len))
		return -1;
	return 0;
}

static int check_recovered(struct checker *ck, const struct hfs_vol_opts *vo,
			   const struct expect *ex, char *msg, size_t len);

int check_state(struct checker *ck, const struct expect *ex, char *msg,
		size_t len)
{
	struct hfs_vol_opts vo = { 0 };
	struct hfs_heal_io hio;
	int ret;

	ck->nchecks++;
	if (ck->mirror) {
		/* as a mirrored volume mounts: both copies written, device
		 * 0's bad ones taken from the mirror (lib/vol_heal.c) */
		mirror_heal_io(ck->rg, &hio);
		vo.heal_io = &hio;
		mirror_attach(ck->rg);
	}
	ret = check_recovered(ck, &vo, ex, msg, len);
	mirror_detach(ck->rg);
	return ret;
}

static int check_recovered(struct checker *ck, const struct hfs_vol_opts *vo,
			   const struct expect *ex, char *msg, size_t len)
{
	struct hfs_err err = { 0 };
	struct hfs_vol *vol = NULL;
	char fm[400];
	int ret;

	ret = hfs_vol_open(ck->rg, vo, &vol, NULL, &err);
	if (ret)
		return failf(msg, len, "mount failed: %s", err.msg);
	ret = check_mounted(ck, vol, ex, msg, len);
	if (ret) {
		hfs_vol_close(vol);
		return ret;
	}
	ret = hfs_vol_close(vol);
	if (ret)
		return failf(msg, len, "clean unmount after recovery failed: %s",
			     strerror(-ret));
	if (ck->fsck) {
		ret = crash_fsck(ck->rg, fm, sizeof(fm));
		if (ret)
			return failf(msg, len, "fsck after recovery: exit %d: %s",
				     ret, fm);
	}
	return 0;
}
