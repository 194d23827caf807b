/* SPDX-License-Identifier: MIT */
/*
 * On-media access for tools: the fixed areas of a holdfs region
 * (superblocks, journal, bad-extent list, health log) and the checksums
 * that guard every metadata structure, on a region that is not mounted.
 *
 * This is the public face of crc.c, super.c, journal.c, badlist.c and
 * health.c for fsck.holdfs and holdfsctl (and for mkfs.c in lib/).  The
 * structures are include/holdfs/format.h (prose: docs/format.md); the
 * functions that touch the media take a struct hfs_region (region.h)
 * and, where they need the layout, a superblock image.  None takes a
 * mounted struct hfs_vol: its internals stay private to lib/ (the _i.h
 * headers).
 *
 * Two halves:
 *  - reading (holdfsctl health uses only these): checksums, superblock
 *    read and check, journal record validation, health log walk;
 *  - writing, for fsck repairs and formatting: superblock crc and
 *    backup, journal replay and clear, a whole bad-extent list.  These
 *    write the region directly and persisted, outside any journal
 *    transaction: a tool uses them only on a region no daemon has
 *    mounted (the ownership flock of region.h sees to that); the volume
 *    itself uses them at mount and unmount (vol.c).
 *
 * Returns: 0 or a negative errno, as everywhere in lib/.
 */
#ifndef HOLDFS_MEDIA_H
#define HOLDFS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <holdfs/format.h>

#include "err.h"
#include "region.h"

/* ------------------------------------------------------------ reading */

/* crc32c (crc.c) of buf. */
uint32_t hfs_crc32c(const void *buf, size_t len);
/* crc32c of (earlier bytes || buf), given prev = crc32c of earlier bytes */
uint32_t hfs_crc32c_cont(uint32_t prev, const void *buf, size_t len);
/* crc32c of a struct of size len whose 32-bit crc field at crc_off is
 * treated as zero. */
uint32_t hfs_crc_struct(const void *p, size_t len, size_t crc_off);

/* Superblock (super.c).  Check magic, version, features, crc and
 * geometry against a region of rg_size bytes.  Returns 0 or
 * -EINVAL/-EUCLEAN with a reason in err, prefixed by which (the copy
 * checked, or the region path; may be NULL). */
int hfs_super_check(const struct hfs_super *sb, uint64_t rg_size,
		    const char *which, struct hfs_err *err);
/* Offset of the backup superblock for a region of rg_size bytes. */
uint64_t hfs_super_backup_off(uint64_t rg_size);
/* The pool as a range of region blocks [*start, *end): one member's pool,
 * or (a volume of several devices) from member 0's pool to the end of
 * the last member's, gaps between members included (never allocated:
 * lib/vol.c reserves them). */
void hfs_super_pool_range(const struct hfs_super *sb, uint64_t *start,
			  uint64_t *end);
/* Bytes of volume a range may name (the bad-extent list, failures):
 * the region formatted, or the end of the last device's pool. */
uint64_t hfs_super_volume_end(const struct hfs_super *sb);
/* Read the primary, falling back to the backup.  *used_backup set when the
 * primary was bad.  Returns 0 or -errno with a message. */
int hfs_super_read(struct hfs_region *rg, bool force_backup,
		   struct hfs_super *sb, bool *used_backup,
		   struct hfs_err *err);

/* Journal (journal.c).  Do nrec redo records fill exactly
 * [recs, recs+len), each inside rg?  A crafted journal must not be able
 * to write anywhere else. */
bool hfs_journal_records_valid(const struct hfs_region *rg,
			       const uint8_t *recs, size_t len, uint32_t nrec);

/* Health log (health.c).  Iterate valid records oldest first.  cb
 * returns non-zero to stop.  -EIO if a block of the log could not be
 * read (the records of the others are still walked), -ENOMEM. */
int hfs_health_walk(struct hfs_region *rg, const struct hfs_super *sb,
		    int (*cb)(void *ctx, const struct hfs_health_rec *r),
		    void *ctx);
/* Short stable name of an HFS_HEALTH_* type for tools ("mount",
 * "media-error", "device-loss", "lost-data", ...; "unknown" otherwise). */
const char *hfs_health_type_name(uint32_t type);

/* ------------------------------------------------------------ writing */

/* Superblock (super.c).  Set sb's crc over its current contents. */
void hfs_super_set_crc(struct hfs_super *sb);
/* Write sb (crc set here) to the backup location directly, persisted. */
int hfs_super_write_backup(struct hfs_region *rg, struct hfs_super *sb);

/* Journal (journal.c).  Replay the committed transaction in the journal,
 * if any (mount; fsck before it reads anything).  Returns 1 if one was
 * replayed, 0 if none (or a torn one), -errno on fault with a message;
 * *seq gets the journal's sequence number. */
int hfs_journal_replay(struct hfs_region *rg, const struct hfs_super *sb,
		       uint64_t *seq, struct hfs_err *err);
/* The same for a copy of the journal (header and records, len bytes)
 * read from elsewhere: the mirror's, when device 0's journal does not
 * read (lib/vol_heal.c, fsck pass 0).  The home locations are rg's. */
int hfs_journal_replay_copy(struct hfs_region *rg, const struct hfs_super *sb,
			    const uint8_t *copy, size_t len, uint64_t *seq,
			    struct hfs_err *err);
/* Invalidate the journal (after replay, at clean unmount, before fsck
 * repairs) so an old transaction is never applied over later writes. */
int hfs_journal_clear(struct hfs_region *rg, const struct hfs_super *sb);

/* Bad-extent list (badlist.c).  Write a whole list (mkfs, fsck
 * rebuilding a damaged one): the nbad ranges are rounded out to 4 KiB,
 * sorted and merged first.  -EINVAL if one lies outside the region,
 * -ENOSPC if they do not fit the list's blocks. */
int hfs_badlist_format(struct hfs_region *rg, const struct hfs_super *sb,
		       const struct hfs_bad_extent *bad, uint32_t nbad);

/* POSIX ACLs stored as xattrs (lib/acl.c; docs/format.md): the names,
 * the largest value, and the check every stored value passes.  Number of
 * entries of a well-formed ACL value, or -EINVAL (bad size, version, tag
 * or permission; a required entry missing or repeated; a named entry
 * without a mask).  fsck drops a stored value that fails it. */
#define HFS_ACL_ACCESS "system.posix_acl_access"
#define HFS_ACL_DEFAULT "system.posix_acl_default"
#define HFS_ACL_MAX 4096 /* the kernel sends at most a page */
int hfs_acl_check(const void *v, size_t len);

/* The placement choice (lib/place_choice.c; docs/format.md "Placement"):
 * the xattr by which a directory or a regular file names the device its
 * new data goes to first, inherited by what is created in a directory.
 * The stored value is the device's index in the device table in decimal
 * ASCII: digits only, no sign, no leading zero, no NUL or newline.
 * hfs_place_choice_check returns that index, or -EINVAL when the value
 * is not in that form or not below ndev, the volume's devices (0 for a
 * volume of one device, where no value is valid).  fsck drops a stored
 * value that fails it; the state of the device named (lost, retired) is
 * not checked: a choice stays valid, and unused, once its device left
 * service. */
/* HFS_PLACE_XATTR, HFS_PLACE_VALUE_MAX: holdfs/format.h */
int hfs_place_choice_check(const void *v, size_t len, uint32_t ndev);

#endif
