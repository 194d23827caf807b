/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes (xattr.c): a chain of xattr blocks per inode, values
 * too large for a block in value blocks of their own; a DRAM copy of the
 * chain in ip->xattr.  The entry points (hfs_setxattr, ...) are file.c's.
 */
#ifndef HOLDFS_XATTR_I_H
#define HOLDFS_XATTR_I_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hfs_inode;
struct hfs_vol;

/* An inode's xattr blocks as last staged (NULL in ip->xattr: none). */
struct hfs_xattrs {
	uint32_t n;     /* blocks in the chain, >= 1 */
	uint64_t *bno;  /* their block numbers, chain order */
	uint8_t **img;  /* their 4 KiB images (sealed) */
	size_t list;    /* bytes a listxattr needs: every name + NUL */
};

/* Load ip->xattr from media at mount (i_xattr_blk != 0) and claim every
 * xattr and value block it names (blocks_i.h claim rules).  -EUCLEAN on
 * a bad chain (the volume then marks errors and drops the xattrs; the
 * blocks read so far stay claimed). */
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
/* Free the inode's xattr and value blocks (inode being freed; stages
 * nothing). */
void hfs_xattr_drop_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* Free the DRAM copy only. */
void hfs_xattr_free(struct hfs_xattrs *xs);
/* Pool blocks the inode's xattrs use (xattr + value blocks). */
uint64_t hfs_xattr_blocks(const struct hfs_inode *ip);

#endif
