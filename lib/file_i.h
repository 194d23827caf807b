/* SPDX-License-Identifier: MIT */
/*
 * What file.c lends the rest of lib/: block work on a file whose locks
 * the caller holds.
 */
#ifndef HOLDFS_FILE_I_H
#define HOLDFS_FILE_I_H

#include <stdint.h>

struct hfs_vol;
struct hfs_inode;

/* Drop ip's blocks of file bytes [from, to) (allocation-unit multiples)
 * from its extent map, releasing them (blocks_i.h).  Caller holds
 * ip->iolock (write) and vol->lock, and stages and commits ip. */
int hfs_file_drop_blocks_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				uint64_t from, uint64_t to);

/* Zero the mapped bytes of [off, off+len) of ip (holes stay holes).
 * Locks as above.  0, or -EIO (lost or faulting media: the rest is not
 * zeroed). */
int hfs_file_zero_mapped_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				uint64_t off, uint64_t len);

#endif
