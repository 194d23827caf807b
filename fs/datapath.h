/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the direct data path that is not a message
 * (fs/datapath.c; docs/data-path.md): work that must not run on the ring
 * thread or inside a FUSE request of the inode.
 */
#ifndef HOLDFS_FS_DATAPATH_H
#define HOLDFS_FS_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

struct hfsd_ctl;

/* Start and stop the worker (from hfsd_lease_init/fini).  Work still
 * queued at stop is dropped: the unmount disarms every slot. */
int hfsd_datapath_start(struct hfsd_ctl *c);
void hfsd_datapath_stop(struct hfsd_ctl *c);
/* A data-path lease of ino (slot idx) ended: detach it from the slot
 * (the last one disarms it, which may wait for a client's slot lock).
 * Any thread, ctl->lock may be held. */
void hfsd_datapath_detach(struct hfsd_ctl *c, uint64_t ino, uint64_t gen,
			  uint32_t idx);
/* Drop the kernel's cached attributes of ino (attrs_only), or its
 * attributes and pages: after a slot was armed, or after a write through
 * FUSE landed elsewhere than the kernel thinks (O_APPEND).  Any thread. */
void hfsd_datapath_inval(struct hfsd_ctl *c, uint64_t ino, bool attrs_only);

#endif
