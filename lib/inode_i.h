/* SPDX-License-Identifier: MIT */
/*
 * Inodes (inode.c): the in-memory inode, the inode table slots on media,
 * and the extent chains written back from the DRAM extent map.
 *
 * ip->d is the DRAM image of the 256-byte slot as last staged; changing
 * an inode means editing ip->d and staging it (hfs_inode_stage) in the
 * running transaction (journal_i.h).  Fields are protected by vol->lock,
 * except what ip->iolock orders (data I/O against extent changes).
 */
#ifndef HOLDFS_INODE_I_H
#define HOLDFS_INODE_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <holdfs/format.h>

#include "extent_i.h"
#include "vol_i.h"

struct hfs_dir;
struct hfs_xattrs;

struct hfs_inode {
	uint64_t ino;
	struct hfs_inode_disk d;  /* DRAM image of the slot (last staged) */
	struct hfs_emap em;       /* data / directory blocks */
	struct hfs_dir *dir;      /* directories: the name index (dir_i.h) */
	struct hfs_xattrs *xattr; /* DRAM copy of the xattr chain, or NULL
				   * (xattr_i.h) */
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
	/* Its armed data-path slot + 1, 0: none (dslot_i.h; changes under
	 * iolock and vol->lock). */
	uint32_t ds;
	/* Armed since the kernel last forgot the inode: the kernel's
	 * cached size may be older than the file's (direct writers grew
	 * it), so an O_APPEND write through FUSE goes to the real end
	 * (hfs_append) and attributes are not cached.  Set when a slot is
	 * armed, cleared when the kernel forgets the unarmed inode (FORGET):
	 * its cached size lives as long as its inode, across closes and
	 * opens -- a process that opens the file after the last direct
	 * writer closed it appends by the kernel's size too.  (Not at a
	 * getattr: the kernel drops a getattr's size that races a write of
	 * its own.) */
	bool kernel_size_stale;
	/* The slot lock is kept (HFS_DSLOT_HOLD) for the rest of an O_APPEND
	 * write the kernel may send in pieces (hfs_dslot_hold).  iolock. */
	bool split_hold;
	/* Made by hfs_tmpfile (O_TMPFILE) and not linked yet: a link may
	 * give it its first name (the kernel allows it only for a tmpfile
	 * opened without O_EXCL).  Not on media: an unnamed file is an
	 * orphan, freed at the next mount after a crash. */
	bool tmpfile;
	/* CLOCK_MONOTONIC ns until which a slot armed now starts held: the
	 * last O_APPEND write through FUSE, without a slot, may have been a
	 * piece (hfs_dslot_note_piece).  iolock. */
	uint64_t piece_until;
};

/* Region offset of inode slot ino. */
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
/* Extent chain blocks ip would need on top of those it has if it had
 * extra more extents (a check for room before a change). */
uint32_t hfs_inode_chain_more(const struct hfs_inode *ip, uint64_t extra);
/* In-memory inode objects. */
struct hfs_inode *hfs_inode_alloc_mem(uint64_t ino);
void hfs_inode_free_mem(struct hfs_inode *ip);
/* Every extent of on-media inode slot d (inode ino), inline then
 * overflow chain, in file order, read straight from the region: for
 * journal replay, before any volume exists.  Every chain block is checked
 * as at mount and every extent must lie in the pool; -EUCLEAN on damage,
 * -EIO if unreadable.  cb returns non-zero to stop (not an error). */
int hfs_inode_media_extents(struct hfs_region *rg, const struct hfs_super *sb,
			    uint64_t ino, const struct hfs_inode_disk *d,
			    int (*cb)(void *ctx, const struct hfs_extent *e),
			    void *ctx);
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

/* Attribute flags (iflags.c): 0, or -EPERM when ip's immutable or
 * append-only flag forbids the operation.  Callers hold ip's iolock or
 * vol->lock. */
/* any change but an append: attributes, xattrs, truncate, removal,
 * rename, a new link */
int hfs_iflags_may_change(const struct hfs_inode *ip);
/* data written at off (append-only: only at the end of file) */
int hfs_iflags_may_write(const struct hfs_inode *ip, uint64_t off);
/* a new name in directory dip (create, link or rename into it) */
int hfs_iflags_may_add_name(const struct hfs_inode *dip);
/* ip's name in dip removed (unlink, rmdir, rename away, replaced) */
int hfs_iflags_may_drop_name(const struct hfs_inode *dip,
			     const struct hfs_inode *ip);
/* open with these open(2) flags */
int hfs_iflags_may_open(const struct hfs_inode *ip, int oflags);
/* Update the access time by the volume's atime policy (hfs_accessed);
 * marks the times dirty, journals nothing. */
void hfs_inode_accessed_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* Journal dirty timestamps of ip (called before it is forgotten). */
int hfs_inode_flush_times_locked(struct hfs_vol *vol, struct hfs_inode *ip);

#endif
