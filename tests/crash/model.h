/* SPDX-License-Identifier: MIT */
/*
 * The oracle's model of a file tree, and the comparison of two trees.
 *
 * A model is an array of objects (files, directories, symlinks, fifos)
 * indexed by a stable id; object 0 is the root.  Objects are never
 * removed, so ids stay valid across copies: an object with no name left
 * is dead.  Workloads keep a model of what the volume must contain after
 * each operation; the checker builds the same structure from a recovered
 * volume (a snapshot, with inode numbers and reported link counts) and
 * compares the two.
 */
#ifndef CRASH_MODEL_H
#define CRASH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mtype {
	MT_NONE = 0,
	MT_REG,
	MT_DIR,
	MT_LNK,
	MT_FIFO,
	MT_CHR,   /* a whiteout (RENAME_WHITEOUT): character device 0:0 */
};

struct mxattr {
	char *name;
	uint8_t *val;
	size_t len;
};

struct mdent {
	char *name;
	int obj;
};

struct mobj {
	uint8_t type;        /* enum mtype */
	uint32_t perm;       /* mode & 07777 */
	uint32_t iflags;     /* attribute flags (HFS_IF_USER bits) */
	uint8_t *data;       /* regular file content / symlink target */
	uint64_t size;
	uint64_t cap;
	struct mxattr *xa;   /* sorted by name */
	int nxa;
	struct mdent *ent;   /* directories: entries, unsorted */
	int nent, ecap;
	int parent;          /* directories */
	int nnames;          /* names pointing at the object */
	/* snapshots of a volume only */
	uint64_t ino;
	uint32_t nlink;      /* as reported by getattr */
	uint64_t dotdot;     /* directories: inode of ".." */
	/* regular files: what a DAX mapping of the last allocation unit
	 * shows past EOF, bytes [size, size + ntail) (lib/eof_tail.c) */
	uint8_t *tail;
	uint64_t ntail;
	/* expected models: what DAX stores left past EOF, bytes
	 * [shadow_off, shadow_off + nshadow); a mapping may show them
	 * there, or zeros, never anything else */
	uint8_t *shadow;
	uint64_t shadow_off, nshadow;
};

struct model {
	struct mobj *o;
	int n, cap;
};

void model_init(struct model *m);      /* just the root directory */
void model_free(struct model *m);
void model_copy(struct model *dst, const struct model *src);
/* New object (no name yet); returns its id. */
int model_new(struct model *m, enum mtype type, uint32_t perm);
int model_lookup(const struct model *m, int dir, const char *name);
void model_add(struct model *m, int dir, const char *name, int obj);
/* Remove a name; returns the object it named, or -1. */
int model_remove(struct model *m, int dir, const char *name);
/* Point an existing name at another object. */
void model_retarget(struct model *m, int dir, const char *name, int obj);
bool model_alive(const struct model *m, int obj);
/* Is dir a or below it ancestor? */
bool model_is_ancestor(const struct model *m, int ancestor, int dir);
/* Path of a directory entry ("/a/b"), for messages. */
void model_path(const struct model *m, int dir, const char *name, char *buf,
		size_t len);

/* Data */
void model_write(struct model *m, int obj, uint64_t off, const uint8_t *buf,
		 uint64_t len);
void model_truncate(struct model *m, int obj, uint64_t size);
/* A DAX store of len bytes at off >= size, past EOF: the shadow. */
void model_store_past_eof(struct model *m, int obj, uint64_t off,
			  const uint8_t *buf, uint64_t len);
/* Zero [off, off+len) inside the file, size unchanged. */
void model_zero(struct model *m, int obj, uint64_t off, uint64_t len);
void model_set_target(struct model *m, int obj, const char *target);

/* Xattrs */
int model_xattr_find(const struct model *m, int obj, const char *name);
void model_xattr_set(struct model *m, int obj, const char *name,
		     const uint8_t *val, size_t len);
void model_xattr_remove(struct model *m, int obj, const char *name);
/* Bytes a listxattr of the object needs (every name and its NUL), with
 * name set (or removed if !set): the per-inode limit is
 * HFS_XATTR_LIST_MAX (format.md). */
size_t model_xattr_list(const struct model *m, int obj, const char *name,
			bool set);

/*
 * Compare a volume snapshot a with the expected model e.  If fuzzy >= 0,
 * object fuzzy of e is the target of a data operation that was in flight
 * at the crash, and alt is the model after that operation: its size may
 * be the old or the new one, and each byte may be old or new (a size
 * change implies the new bytes are all there).  Everything else must
 * match exactly: names, types, permissions, hard-link identity, content,
 * symlink targets, xattrs.  What a snapshot's regular file shows past EOF
 * in its last unit (tail) must be zeros or what DAX stores put there (the
 * expected shadow), except that the target of an in-flight data operation
 * may also show that operation's own new bytes there (its data is
 * written before its size commits).  Returns 0, or -1 with a message
 * naming the first difference.
 */
int model_compare(const struct model *a, const struct model *e,
		  const struct model *alt, int fuzzy, char *msg, size_t len);

#endif
