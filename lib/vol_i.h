/* SPDX-License-Identifier: MIT */
/*
 * The volume core: struct hfs_vol and its lock (vol.c).  Private to
 * lib/.  The public headers are in lib/include/ (on every target's
 * include path): vol.h, the volume API; region.h, err.h, mkfs.h; media.h
 * and alloc.h, the API of the offline tools; grow.h, the header-only
 * grow-by-doubling step of arrays (libholdfs uses it too).  The private
 * headers of the modules (the _i.h files) sit beside their sources,
 * reachable only by the lib/ sources (and by white-box tests that ask
 * for them in their meson.build).
 *
 * Map of the core, one job per file, with the header that declares it
 * (a .c includes the headers of what it uses, nothing more):
 *   crc.c          crc32c (ISA-L), struct checksums          media.h
 *   super.c        superblock: check, crc, read, backup      media.h
 *   journal.c      transactions: stage, commit (the commit   journal_i.h
 *                  discipline); replay, clear at mount       media.h
 *   alloc.c        free-space index (sorted free runs)       alloc.h
 *   rmap.c         reverse map: region block -> owner        rmap_i.h
 *   blocks.c       pool blocks: allocate (free index +       blocks_i.h
 *                  rmap), release (bad list, DAX release     vol.h
 *                  hook), claim at mount
 *   extent.c       per-inode extent maps in DRAM             extent_i.h
 *   inode.c        in-memory inodes, inode table slots,      inode_i.h
 *                  extent chains on media
 *   holders.c      who holds an inode: open references, the  holders_i.h
 *                  kernel-readable list, owners of a range   vol.h
 *   dir.c          directory index (hash), dentry slots      dir_i.h
 *   xattr.c        extended attributes (a block chain/inode) xattr_i.h
 *   badlist.c      bad-extent list (never allocate known-    badlist_i.h
 *                  bad media)                                media.h
 *   health.c       persistent health/error log               health_i.h
 *                                                            media.h
 *   mkfs.c         formatting                                mkfs.h
 *   vol.c          mount-time load, unmount, statfs, the     vol_i.h
 *                  volume lock                               vol.h
 *   namei.c        namespace operations (create, link,       vol.h
 *                  unlink, rename, ...), inode lifetime
 *   namei_path.c   path of an inode, for reports             vol.h
 *   file.c         data path (read, write, truncate,         vol.h
 *                  fallocate, lseek, copy), xattr calls
 *   eof_tail.c     the past-EOF rule: zero the last unit's   eof_tail_i.h
 *                  bytes past the size (truncate, replay)
 *   lease_map.c    extent lists of DAX leases                vol.h
 *   dslot.c        data-path slots: size, times and append   dslot_i.h
 *                  lock of directly written inodes           vol.h
 *   mirror_heal.c  which copy of device 0's metadata wins    mirror_heal.h
 *   vol_heal.c     mount: device 0's bad copies from the     vol_heal_i.h
 *                  mirror (before/after replay, zone reads)
 *   failure.c      failure classification, mark lost,        failure_i.h
 *                  shutdown, the fault hook                  vol.h
 *   vol_failover.c device 0 lost while mounted: the switch   vol.h
 *                  to its mirror, a commit that faulted      journal_i.h
 *                  finished there
 * The region layer (region.c, devdax.c, region_holder.c, guard.c) is
 * region.h and region_i.h.
 *
 * Every metadata change follows the commit discipline in journal_i.h.
 */
#ifndef HOLDFS_VOL_I_H
#define HOLDFS_VOL_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "alloc.h"
#include "dslot_i.h"
#include "journal_i.h"
#include "region.h"
#include "vol.h"

struct hfs_inode;
struct hfs_rmap;

struct hfs_vol {
	struct hfs_region *rg;
	struct hfs_super sb;      /* DRAM image of the primary superblock */
	struct hfs_devtab devtab; /* several devices (members.c); t_count 0:
				   * a volume of one */
	uint32_t missing;         /* -o degraded: active devices not given
				   * (bit per device), lost at mount */
	bool from_mirror;         /* device 0 lost: served from its mirror
				   * (rg is that slice and the others) */
	bool own_rg;              /* rg is ours to close (from_mirror) */
	bool failover_ok;         /* device 0 lost while mounted may switch
				   * to its mirror (vol_failover.c) */
	unsigned served_rewritten; /* ... rewritten from it and read
				    * back: device 0's good again */
	unsigned serve_failed;     /* recorded poisoned ranges of device
				    * 0's metadata the mount could not
				    * serve from the mirror */
	bool live_failover;       /* it did: from_mirror since then, rg the
				   * same region with the mirror mapped in
				   * device 0's place */
	struct hfs_vol_heal *heal; /* copies picked at mount, to log
				   * (vol_heal.c); NULL: none */
	pthread_mutex_t lock;     /* namespace, allocation, journal */
	bool readonly;
	enum hfs_atime atime;     /* access-time policy (hfs_accessed) */
	bool nodiratime;
	bool failed;              /* media failed: every operation is EIO */
	struct hfs_inode **itab;  /* sb.s_inode_count slots (inode_i.h) */
	uint64_t *ifree;          /* free slots below the hwm (stack) */
	uint64_t nifree;
	uint64_t used_inodes;
	struct hfs_alloc alloc;
	struct hfs_rmap *rmap;    /* region block -> owner (rmap_i.h) */
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
	void (*fault_hook)(void *ctx, const struct hfs_fault *f);
	void *fault_ctx;
	struct hfs_dslots ds;     /* data-path slots (dslot_i.h) */
};

/* Lock the volume; returns -EIO if it has failed, -EROFS if write and the
 * volume is read-only.  On error the lock is not held. */
int hfs_vol_lock(struct hfs_vol *vol, bool write);
void hfs_vol_unlock(struct hfs_vol *vol);
/* Lock for a read-only look at inode ino (getattr, open, readdir).  Like
 * hfs_vol_lock(vol, false), except that a shut-down volume still answers
 * for the root, from DRAM without touching the media, so ls, stat and df
 * of the mount point return promptly (docs/failure-model.md). */
int hfs_vol_lock_look(struct hfs_vol *vol, uint64_t ino);
/* A guarded access faulted at f under vol->lock: if it is device 0
 * gone (not poison) and the volume may go on from the mirror, switch to
 * it now (vol_failover.c); true if the metadata is the mirror's now and
 * the access can be made again.  vol->lock held. */
bool hfs_vol_fail_over_for_fault(struct hfs_vol *vol,
				 const struct hfs_fault *f);
/* An operation failed after changing DRAM: drop the tx and fail the
 * volume (the commit discipline, journal_i.h); returns ret. */
int hfs_vol_fail(struct hfs_vol *vol, int ret);

/* vol_failover.c: at mount, after the bad-extent list is loaded, serve
 * the ranges of device 0's metadata recorded poisoned from the mirror;
 * their health records, once the log may be written. */
void hfs_vol_serve_recorded(struct hfs_vol *vol);
void hfs_vol_serve_log(struct hfs_vol *vol);
/* vol_failover.c: unmount, vol->lock held: the served ranges rewritten
 * on device 0 from the mirror and device 0's again. */
void hfs_vol_unserve(struct hfs_vol *vol);

#endif
