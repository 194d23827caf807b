/* SPDX-License-Identifier: MIT */
/*
 * Mount picks the good copy of device 0's metadata (vol_heal.c over
 * mirror_heal.c).  Private to lib/.
 */
#ifndef HOLDFS_VOL_HEAL_I_H
#define HOLDFS_VOL_HEAL_I_H

#include "vol.h"
#include "vol_i.h"

/* Before the journal replays: superblock, device table, journal.  If the
 * primary superblock was rewritten from the mirror, vol->sb is read
 * again (and info->used_backup_sb cleared).  Nothing on a read-only
 * mount or a volume without a mirror.  0 or -errno with err set. */
int hfs_vol_heal_before_replay(struct hfs_vol *vol,
			       const struct hfs_vol_opts *opts,
			       struct hfs_vol_info *info, struct hfs_err *err);
/* Device 0's primary superblock or journal is unreadable and writing
 * the mirror's good copy over it failed (poison a write does not clear):
 * the mount goes on from the mirror's copies but ends read-only, since
 * every commit writes the journal and the mount writes the superblock
 * (docs/format.md "Which copy wins"). */
bool hfs_vol_heal_stuck(const struct hfs_vol *vol);
/* The replay: device 0's journal (hfs_journal_replay), or, when it
 * stays unreadable, the mirror's transaction if the rule chose it (none
 * otherwise).  hfs_journal_replay's returns; vol->jseq set. */
int hfs_vol_heal_replay(struct hfs_vol *vol, struct hfs_err *err);
/* After a replay, with device 0's primary stuck: vol->sb from the
 * mirror's primary again (the transaction may have changed it); 0, or
 * -errno with err set, or 1: device 0's primary is not stuck (read it
 * as usual). */
int hfs_vol_heal_reread_super(struct hfs_vol *vol, struct hfs_err *err);
/* After the replay and before the load: the rest of [0, s_meta_end). */
int hfs_vol_heal_after_replay(struct hfs_vol *vol,
			      const struct hfs_vol_opts *opts,
			      struct hfs_vol_info *info, struct hfs_err *err);
/* Read the 4 KiB block at off of a directory, an extent chain or an
 * xattr chain: inside the metadata zone of a mirrored volume, device 0's
 * copy is first checked against the mirror's (and rewritten from it if
 * bad and the mirror's good), so a mount reads both copies of the
 * metadata it loads and nothing more.  hfs_region_read's returns. */
int hfs_vol_meta_read(struct hfs_vol *vol, uint64_t off, void *buf);
/* Inode slots [off, off + n * size) of which some are unreadable on
 * device 0 (poison the rewrite could not clear): each unreadable one
 * read from the mirror instead.  0, or -EIO (no mirror, or it fails
 * too; *f: device 0's fault). */
int hfs_vol_heal_read_slots(struct hfs_vol *vol, uint64_t off, void *buf,
			    uint64_t n, size_t size, struct hfs_fault *f);
/* The check alone, for block blk (before a reader of its own). */
void hfs_vol_meta_check(struct hfs_vol *vol, uint64_t blk);
/* The counts so far into info. */
void hfs_vol_heal_info(struct hfs_vol *vol, struct hfs_vol_info *info);
/* One health record per copy picked (the first few), at mount's end;
 * from then on hfs_vol_meta_read logs each at once. */
void hfs_vol_heal_log(struct hfs_vol *vol);
void hfs_vol_heal_free(struct hfs_vol *vol);

#endif
