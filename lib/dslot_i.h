/* SPDX-License-Identifier: MIT */
/*
 * Data-path slots of a mounted volume (dslot.c; docs/data-path.md): the
 * size, times and append lock of inodes that processes write directly.
 *
 * Locks: ip->ds and the DRAM slot change under ip->iolock (write) and
 * vol->lock.  The slot lock (ds_lock, shared with client processes)
 * nests inside ip->iolock and outside vol->lock: a daemon operation
 * that changes an armed inode's size takes it with hfs_dslot_enter
 * (iolock held, vol->lock not) and drops it with hfs_dslot_leave.
 */
#ifndef HOLDFS_DSLOT_I_H
#define HOLDFS_DSLOT_I_H

#include <stdbool.h>
#include <stdint.h>

struct hfs_vol;
struct hfs_inode;
struct hfs_inode_disk;
struct hfs_region;
struct hfs_super;
struct hfs_attr;
struct hfs_vol_info;

/* An armed slot, in DRAM: what the daemon wrote in its line. */
struct hfs_dslot_mem {
	uint64_t ino;        /* 0: free */
	uint64_t gen, epoch;
	uint64_t limit, resv, base;
	uint32_t refs;       /* data-path leases attached */
	uint64_t mtime_seen; /* the ds_mtime folded last: cleared after a
				commit of the inode if still there */
};

struct hfs_dslots {
	uint64_t off;        /* the area in the region; 0: none */
	uint32_t count;
	uint32_t armed;
	uint32_t hint;       /* where to look for a free slot next */
	struct hfs_dslot_mem *v;
	uint32_t wait_ms;    /* how long the daemon waits for a client's
				slot lock before the stuck hook */
};

/* Around every change of ip's bytes in place (ip's iolock held for
 * writing): begin returns what end takes (0: ip has no slot; end does
 * nothing).  Direct readers see the change happen (ds_chg, dslot.c). */
uint32_t hfs_dslot_change_begin(struct hfs_vol *vol, struct hfs_inode *ip);
void hfs_dslot_change_end(struct hfs_vol *vol, uint32_t ds);

/* Mount (after the inodes are loaded): fold every slot a crash left
 * armed into its inode and clear the area (read-write), or fold them
 * into DRAM only (read-only).  0 or -errno. */
int hfs_dslot_mount(struct hfs_vol *vol, struct hfs_vol_info *info);
/* Unmount (vol->lock held): disarm every armed slot. */
int hfs_dslot_unmount_locked(struct hfs_vol *vol);
void hfs_dslot_free(struct hfs_vol *vol);

/* Before a daemon operation that may change ip's size or times (ip's
 * iolock held for writing, vol->lock not): take the slot lock from the
 * clients and fold their size and mtime into ip.  0 (also when ip has no
 * slot) or -errno.  hfs_dslot_leave after it, whatever happened:
 * publishes ip's size to the slot and releases the lock; with rearm
 * (after a commit that bumped i_dp_epoch, hfs_dslot_bump_epoch) the
 * slot is rewritten for the new epoch.  shrunk: the size went down and
 * the blocks past it are gone. */
int hfs_dslot_enter(struct hfs_vol *vol, struct hfs_inode *ip);
void hfs_dslot_leave(struct hfs_vol *vol, struct hfs_inode *ip, bool rearm,
		     bool shrunk);
/* Between hfs_dslot_enter and hfs_dslot_leave of an O_APPEND write
 * through FUSE: hold (true) makes leave keep the lock as HFS_DSLOT_HOLD
 * for HFS_DSLOT_HOLD_MS, for the kernel's next piece of the same write;
 * false lets it go.  The kernel sends one write(2) as several WRITEs
 * when its first page-cache folio is only partly written (every piece
 * but the last then ends on a page boundary); it holds the inode lock
 * across them, so no other kernel write comes in between -- but a
 * direct appender would.  A client that finds the lock held so sends
 * its write through the kernel (which waits for the inode lock, so for
 * every piece) and may take the lock over once ds_hold has passed: a
 * guess that no piece follows costs direct writers of the file the
 * kernel path for at most that long. */
#define HFS_DSLOT_HOLD_MS 1000
void hfs_dslot_hold(struct hfs_vol *vol, struct hfs_inode *ip, bool hold);
/* The same guess for a file without a slot (hfs_dslot_hold calls it
 * then): an O_APPEND write through FUSE ended on a page boundary, so its
 * next piece may follow.  A slot armed before HFS_DSLOT_HOLD_MS have
 * passed starts held (arm_locked): otherwise the first direct append of
 * a new data-path client could land between the pieces.  iolock held. */
void hfs_dslot_note_piece(struct hfs_inode *ip);
/* The commit about to be staged overrides what the slot says (a smaller
 * size, explicit times): bump the epoch that validates the slot.  After
 * hfs_dslot_enter, under vol->lock, before staging ip. */
void hfs_dslot_bump_epoch(struct hfs_inode *ip);

/* ip's size as everyone sees it: the larger of i_size and the slot's
 * published size.  Under vol->lock or ip->iolock. */
uint64_t hfs_dslot_size(const struct hfs_vol *vol, const struct hfs_inode *ip);
/* The largest size a data-path client may publish (0: no slot). */
uint64_t hfs_dslot_limit(const struct hfs_vol *vol, const struct hfs_inode *ip);
/* Put the slot's size and times over a's (attributes as everyone sees
 * them). */
void hfs_dslot_overlay(const struct hfs_vol *vol, const struct hfs_inode *ip,
		       struct hfs_attr *a);
/* Journal replay, before any volume exists: the size a valid slot of
 * inode ino (slot d, as replay left it) published on media, or 0. */
uint64_t hfs_dslot_media_size(struct hfs_region *rg, const struct hfs_super *sb,
			      uint64_t ino, const struct hfs_inode_disk *d);
/* ip is being freed (vol->lock held): its slot goes with it. */
void hfs_dslot_inode_gone_locked(struct hfs_vol *vol, struct hfs_inode *ip);

#endif
