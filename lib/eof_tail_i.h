/* SPDX-License-Identifier: MIT */
/*
 * The past-EOF zeroing rule (eof_tail.c, whose header explains it): the
 * bytes of a regular file's last allocation unit past its size are
 * zeroed at every size change.
 */
#ifndef HOLDFS_EOF_TAIL_I_H
#define HOLDFS_EOF_TAIL_I_H

#include <stdint.h>

#include <holdfs/format.h>

#include "region.h"

struct hfs_vol;
struct hfs_inode;

/* Zero the bytes of ip's last allocation unit past i_size (mapped, not
 * lost), after a truncate down commits.  Caller holds ip->iolock and
 * vol->lock.  0 or -EIO. */
int hfs_eof_tail_zero_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* Journal replay applied a record over region bytes [off, off+len):
 * zero the EOF tail of every regular file whose inode slot it wrote, as
 * replay left it on media (best effort). */
void hfs_eof_zero_replayed(struct hfs_region *rg, const struct hfs_super *sb,
			   uint64_t off, uint64_t len);

#endif
