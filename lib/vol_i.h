/* SPDX-License-Identifier: MIT */
/*
 * Volume internals shared by the lib/ sources.  Not installed, not for fs/.
 *
 * Map of the core (one job per file):
 *   crc.c      crc32c (ISA-L) and struct checksum helpers
 *   super.c    superblock: validate, checksum, read primary/backup, write
 *   journal.c  redo journal: stage records, commit, replay at mount
 *   alloc.c    free-space index of the pool (derived at mount)
 *   extent.c   per-inode extent maps in DRAM and their on-media chains
 *   inode.c    inode table slots, in-memory inodes, attributes
 *   holders.c  who holds an inode: open references, the kernel-readable
 *              list, owners of a region range (rmap + holders)
 *   dir.c      directory index (hash) and dentry slots on media
 *   xattr.c    extended attributes (one xattr block per inode)
 *   badlist.c  bad-extent list (never allocate known-bad media)
 *   health.c   persistent health/error log
 *   mkfs.c     formatting
 *   blocks.c   pool blocks of a mounted volume: allocate (free index +
 *              rmap), release (bad list, DAX release hook), claim at mount
 *   vol.c      mount-time load, unmount, statfs
 *   namei.c    namespace operations (create, link, unlink, rename, ...)
 *   namei_path.c  path of an inode, for reports (name hints)
 *   file.c     data path (read, write, truncate, fallocate, lseek, copy)
 *
 * The commit discipline every operation follows (see docs/architecture.md):
 *   1. validate and reserve (may fail with an errno; nothing changed yet);
 *   2. change the DRAM state and stage the new on-media bytes in a tx;
 *   3. hfs_tx_commit().  A commit can only fail if the media fails; the
 *      volume then enters the failed state (every later operation returns
 *      EIO) so the DRAM state never needs rolling back.
 */
#ifndef HOLDFS_VOL_I_H
#define HOLDFS_VOL_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "alloc.h"
#include "media.h"
#include "region.h"
#include "rmap.h"
#include "vol.h"

/* -------------------------------------------------------- journal.c */
struct hfs_tx {
	uint8_t *buf;    /* records (hfs_jrecord + data, 8-byte padded) */
	size_t len, cap;
	uint32_t nrec;
};

void hfs_tx_init(struct hfs_tx *tx);
void hfs_tx_free(struct hfs_tx *tx);
/* Drop everything staged (an operation failed before changing DRAM). */
void hfs_tx_abort(struct hfs_tx *tx);
/* An operation failed after changing DRAM: drop the tx and fail the
 * volume (vol_i.h header comment); returns ret. */
int hfs_vol_fail(struct hfs_vol *vol, int ret);
/* Stage: at commit, write len bytes from src to region offset off. */
int hfs_tx_add(struct hfs_tx *tx, uint64_t off, const void *src, size_t len);
/* Write the tx to the journal, persist (commit point), apply it to its
 * home locations, persist.  Caller holds vol->lock.  On failure the
 * volume is marked failed and -EIO returned.  An empty tx is a no-op.
 * The tx is reset (not freed) for reuse. */
int hfs_tx_commit(struct hfs_vol *vol, struct hfs_tx *tx);

/* --------------------------------------------------------- extent.c */
/* An extent map: extents sorted by e_lblk, non-overlapping. */
struct hfs_emap {
	struct hfs_extent *v;
	uint32_t n, cap;
	uint64_t *chain;   /* overflow extent blocks on media, in order */
	uint32_t nchain;
};
void hfs_emap_destroy(struct hfs_emap *m);
/* Index of the extent containing lblk, or of the first one after it
 * (== m->n if none). */
uint32_t hfs_emap_find(const struct hfs_emap *m, uint64_t lblk);
/* Insert a run mapping [lblk, lblk+len) -> pblk; the range must be
 * unmapped.  Merges with neighbours when contiguous. */
int hfs_emap_insert(struct hfs_emap *m, uint64_t lblk, uint64_t pblk,
		    uint32_t len, uint32_t flags);
/* Unmap [lblk, lblk+len): for every freed physical run call
 * put(ctx, pblk, n).  Splits extents as needed. */
int hfs_emap_remove(struct hfs_emap *m, uint64_t lblk, uint64_t len,
		    void (*put)(void *ctx, uint64_t pblk, uint64_t n),
		    void *ctx);
/* Blocks mapped in total. */
uint64_t hfs_emap_blocks(const struct hfs_emap *m);

/* ---------------------------------------------------------- inode.c */
struct hfs_dir;

struct hfs_inode {
	uint64_t ino;
	struct hfs_inode_disk d;  /* DRAM image of the slot (last staged) */
	struct hfs_emap em;       /* data / directory blocks */
	struct hfs_dir *dir;      /* directories: the name index */
	uint8_t *xattr;           /* DRAM copy of the xattr block, or NULL */
	uint64_t nlookup;         /* kernel references (FUSE lookup count) */
	uint32_t nopen;           /* open handles; change with
				   * hfs_inode_open_get/put_locked
				   * (holders.c) */
	bool dirty_times;         /* times changed but not yet journaled */
	pthread_rwlock_t iolock;  /* data I/O vs truncate/extent changes */
	/* One of its names, for reports (hfs_vol_ino_path, namei_path.c):
	 * the directory and dentry slot that last named it (dir.c sets it
	 * whenever a dentry gets this inode: mount, create, link, rename).
	 * A hint, checked on use; a slot that was freed or now names
	 * another inode (its name was unlinked, a hard link lives on)
	 * means "unknown". */
	uint64_t name_dir;
	uint32_t name_slot;
	/* Kernel-readable cache (holders.c): on vol->kread while the kernel
	 * can serve cached pages of this inode without a request to us. */
	bool link_cached;         /* symlink target handed out since the
				   * last forget (FUSE caches it) */
	bool on_kread;
	struct hfs_inode *kread_prev, *kread_next;
};

struct hfs_vol {
	struct hfs_region *rg;
	struct hfs_super sb;      /* DRAM image of the primary superblock */
	pthread_mutex_t lock;     /* namespace, allocation, journal */
	bool readonly;
	bool failed;              /* media failed: every operation is EIO */
	struct hfs_inode **itab;  /* sb.s_inode_count slots */
	uint64_t *ifree;          /* free slots below the hwm (stack) */
	uint64_t nifree;
	uint64_t used_inodes;
	struct hfs_alloc alloc;
	struct hfs_rmap *rmap;    /* region block -> owner (rmap.h) */
	uint64_t unit_blocks;     /* data allocation unit in 4 KiB blocks */
	struct hfs_bad_extent *bad; /* bad-extent list (DRAM copy) */
	uint32_t nbad;
	uint64_t jseq;            /* journal sequence */
	uint64_t last_gen;        /* highest inode generation handed out */
	uint64_t health_seq;      /* last health record written (health.c;
				   * not in sb: it changes without vol->lock) */
	uint64_t errors;          /* inconsistencies seen at mount */
	struct hfs_tx tx;         /* reusable transaction (under lock) */
	struct hfs_vol_hooks hooks; /* DAX path (vol.h); zero = none */
	bool shutdown;            /* failure pipeline: failed + answers the
				   * root getattr (lib/failure.c) */
	struct hfs_inode *kread;  /* inodes the kernel can read cached
				   * pages of without asking (holders.c) */
	uint64_t nkread;
	void (*fault_hook)(void *ctx, uint64_t off, int si_code);
	void *fault_ctx;
};

/* failure.c: report a failed guarded access to the fault hook (no-op
 * without one or if f->si_code is 0).  Any locks may be held. */
void hfs_vol_fault(struct hfs_vol *vol, const struct hfs_fault *f);

static inline uint64_t hfs_inode_off(const struct hfs_vol *vol, uint64_t ino)
{
	return vol->sb.s_itable_off + ino * HFS_INODE_SIZE;
}

/* Look up a live inode (NULL if the slot is free or out of range). */
struct hfs_inode *hfs_iget(struct hfs_vol *vol, uint64_t ino);
/* Recompute the crc of ip->d and stage the slot in vol->tx. */
int hfs_inode_stage(struct hfs_vol *vol, struct hfs_inode *ip);
/* Stage the extent map (inline extents + overflow chain) and the slot.
 * Allocates/frees overflow blocks as needed; -ENOSPC before any change. */
int hfs_inode_stage_extents(struct hfs_vol *vol, struct hfs_inode *ip);
/* In-memory inode objects. */
struct hfs_inode *hfs_inode_alloc_mem(uint64_t ino);
void hfs_inode_free_mem(struct hfs_inode *ip);
/* Mount: build an inode from its slot (checks crc, loads the extent
 * chain, validates extents).  -EUCLEAN if anything is inconsistent. */
int hfs_inode_load(struct hfs_vol *vol, uint64_t ino,
		   const struct hfs_inode_disk *d, struct hfs_inode **out);
/* Take a free slot and initialise it (times now, nlink 1 or 2, uid from
 * cred, gid given).  Stages the superblock when the hwm grows; the caller
 * stages the inode itself once it is filled in. */
int hfs_inode_new_locked(struct hfs_vol *vol, uint32_t mode,
			 const struct hfs_cred *cred, uint32_t gid,
			 struct hfs_inode **out);
/* Free the inode, its blocks, chain and xattrs; stage the freed slot. */
int hfs_inode_delete_locked(struct hfs_vol *vol, struct hfs_inode *ip);
void hfs_inode_to_attr(const struct hfs_vol *vol, const struct hfs_inode *ip,
		       struct hfs_attr *a);
void hfs_now(struct timespec *ts);
void hfs_inode_touch(struct hfs_inode *ip, bool m, bool c);
/* Journal dirty timestamps of ip (called before it is forgotten). */
int hfs_inode_flush_times_locked(struct hfs_vol *vol, struct hfs_inode *ip);

/* -------------------------------------------------------- holders.c */
/* Open references (an open FUSE handle, or a pin): nopen and the
 * kernel-readable list move together.  Caller holds vol->lock. */
void hfs_inode_open_get_locked(struct hfs_vol *vol, struct hfs_inode *ip);
void hfs_inode_open_put_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* Re-decide ip's place on vol->kread after nlookup or link_cached
 * changed.  Caller holds vol->lock. */
void hfs_inode_kread_update_locked(struct hfs_vol *vol, struct hfs_inode *ip);

/* ------------------------------------------------------------ dir.c */
struct hfs_dent {
	struct hfs_dent *hnext;   /* hash chain */
	uint64_t ino;
	uint32_t slot;            /* slot on media; readdir cookie */
	uint32_t hash;
	uint8_t type;             /* DT_* */
	uint16_t len;
	char name[];              /* NUL-terminated */
};

struct hfs_dir *hfs_dir_new(void);
void hfs_dir_destroy(struct hfs_dir *d);
uint64_t hfs_dir_count(const struct hfs_dir *d);
bool hfs_dir_full(const struct hfs_dir *d); /* next add needs a block */
struct hfs_dent *hfs_dir_lookup(const struct hfs_dir *d, const char *name);
struct hfs_dent *hfs_dir_lookup_n(const struct hfs_dir *d, const char *name,
				  size_t len);
/* First live entry at slot >= slot (its slot in *found), or NULL. */
struct hfs_dent *hfs_dir_at(const struct hfs_dir *d, uint64_t slot,
			    uint64_t *found);
/* The live entry at exactly slot, or NULL (O(1)). */
struct hfs_dent *hfs_dir_slot(const struct hfs_dir *d, uint64_t slot);
/* Changes: stage into vol->tx (growing the directory by a block when
 * full); the caller commits.  add and retarget (and load) make the entry
 * its target's name hint (struct hfs_inode). */
int hfs_dir_add_locked(struct hfs_vol *vol, struct hfs_inode *dip,
		       const char *name, uint64_t ino, uint8_t type);
int hfs_dir_remove_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			  struct hfs_dent *e);
int hfs_dir_retarget_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			    struct hfs_dent *e, uint64_t ino, uint8_t type);
/* Mount: build dip->dir from its blocks.  Bad or duplicate slots are
 * counted in *bad and treated as free. */
int hfs_dir_load(struct hfs_vol *vol, struct hfs_inode *dip, uint64_t *bad);

/* --------------------------------------------------------- blocks.c */
/* Blocks leaving a file (truncate, punch, unlink, overwrite).  They go
 * back to the free index unless the release hook (vol.h, installed by the
 * DAX lease service) keeps them until every mapping of them is revoked;
 * it then frees them with hfs_vol_free_blocks. */
void hfs_vol_release_blocks(struct hfs_vol *vol, uint64_t pblk, uint64_t n);
/* Take the free blocks of region blocks [s, e) (clipped to the pool) out
 * of the free index, block by block: bad ranges are small, and blocks a
 * file still owns stay reserved by the file.  vol->lock held or mount. */
void hfs_vol_reserve_range(struct hfs_vol *vol, uint64_t s, uint64_t e);
/* Allocate blocks for inode ino (hfs_alloc_get semantics) and record
 * them in the rmap as kind, backing file block lblk onwards. */
int64_t hfs_vol_alloc(struct hfs_vol *vol, uint64_t ino,
		      enum hfs_rmap_kind kind, uint64_t lblk, uint64_t want,
		      uint64_t min, uint64_t align, uint64_t hint,
		      uint64_t *got);
/* Mount: claim every block the loaded inode ip names (extents, chain,
 * xattr block) in the free index and the rmap.  A block named twice
 * counts in vol->errors (fsck resolves it); -ENOMEM only. */
int hfs_vol_claim_blocks(struct hfs_vol *vol, struct hfs_inode *ip);
/* Mount: reserve every range of the loaded bad-extent list. */
void hfs_vol_reserve_bad(struct hfs_vol *vol);

/* ------------------------------------------------------------ vol.c */
/* Lock the volume; returns -EIO if it has failed, -EROFS if write and the
 * volume is read-only.  On error the lock is not held. */
int hfs_vol_lock(struct hfs_vol *vol, bool write);
void hfs_vol_unlock(struct hfs_vol *vol);
/* Lock for a read-only look at inode ino (getattr, open, readdir).  Like
 * hfs_vol_lock(vol, false), except that a shut-down volume still answers
 * for the root, from DRAM without touching the media, so ls, stat and df
 * of the mount point return promptly (docs/failure-model.md). */
int hfs_vol_lock_look(struct hfs_vol *vol, uint64_t ino);

/* ---------------------------------------------------------- xattr.c */
/* Load ip->xattr from media at mount (i_xattr_blk != 0).  -EUCLEAN on a
 * bad block (the volume then marks errors and drops the xattrs). */
int hfs_xattr_load(struct hfs_vol *vol, struct hfs_inode *ip);
/* Operations: caller holds vol->lock; they stage into vol->tx (the
 * caller commits).  Semantics as hfs_setxattr etc. in vol.h. */
int hfs_xattr_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			 const char *name, const void *value, size_t size,
			 int flags);
ssize_t hfs_xattr_get_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			     const char *name, void *buf, size_t size);
ssize_t hfs_xattr_list_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			      char *buf, size_t size);
int hfs_xattr_remove_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			    const char *name);
/* Free the inode's xattr block (inode being freed; stages nothing). */
void hfs_xattr_drop_locked(struct hfs_vol *vol, struct hfs_inode *ip);

/* -------------------------------------------------------- badlist.c */
int hfs_badlist_load(struct hfs_vol *vol, struct hfs_err *err);
/* Add [off, off+len) (4 KiB aligned outward) and stage the list. */
int hfs_badlist_add_locked(struct hfs_vol *vol, uint64_t off, uint64_t len);
bool hfs_badlist_overlaps(const struct hfs_vol *vol, uint64_t off,
			  uint64_t len);

/* --------------------------------------------------------- health.c */
/* Append a record (direct persisted write, not journaled).  Best effort:
 * returns -errno but callers may ignore it when the media is gone. */
int hfs_health_log(struct hfs_vol *vol, enum hfs_health_type type,
		   uint64_t off, uint64_t len, uint64_t ino, const char *msg);
/* Highest valid sequence number in the log (0 if empty). */
uint64_t hfs_health_last_seq(struct hfs_region *rg,
			     const struct hfs_super *sb);

#endif
