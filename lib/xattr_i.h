/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes (xattr.c): one xattr block per inode, a DRAM copy
 * in ip->xattr.  The entry points (hfs_setxattr, ...) are file.c's.
 */
#ifndef HOLDFS_XATTR_I_H
#define HOLDFS_XATTR_I_H

#include <stddef.h>
#include <sys/types.h>

struct hfs_inode;
struct hfs_vol;

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

#endif
