/* SPDX-License-Identifier: MIT */
/*
 * Who holds an inode (holders.c): open references and the
 * kernel-readable list.  The public half (hfs_vol_owners,
 * hfs_vol_kernel_readable) is in vol.h.
 */
#ifndef HOLDFS_HOLDERS_I_H
#define HOLDFS_HOLDERS_I_H

#include "rmap_i.h"
#include "vol.h"

struct hfs_inode;
struct hfs_vol;

/* Open references (an open FUSE handle, or a pin): nopen and the
 * kernel-readable list move together.  Caller holds vol->lock. */
void hfs_inode_open_get_locked(struct hfs_vol *vol, struct hfs_inode *ip);
void hfs_inode_open_put_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* Re-decide ip's place on vol->kread after nlookup or link_cached
 * changed.  Caller holds vol->lock. */
void hfs_inode_kread_update_locked(struct hfs_vol *vol, struct hfs_inode *ip);
/* The kind (vol.h) of an rmap piece, as owners and failed ranges give it. */
enum hfs_kind hfs_owner_kind(enum hfs_rmap_kind k);

#endif
