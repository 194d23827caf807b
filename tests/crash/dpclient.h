/* SPDX-License-Identifier: MIT */
/*
 * A data-path client simulated on the traced region (docs/data-path.md,
 * client/dp_io.c): its stores into file blocks through the lease extent
 * list, and the slot protocol of a direct write (the lock, ds_dirty, the
 * gap, the data, then ds_size and ds_mtime), every store through
 * rg->ops so the tracer sees it and the crash states cover it.
 */
#ifndef CRASH_DPCLIENT_H
#define CRASH_DPCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "vol.h"

/* The client id the simulated client takes the slot lock with. */
#define DPC_CLIENT_ID 7u

/* Store len bytes of buf (zeros when buf is NULL) at file offset off of
 * ino, as a process that maps the file's units does: through the lease
 * extents of the units covering the range, one store call with flags
 * (libpmem2) per extent piece.  Holes are skipped (nothing maps there).
 * 0 or -errno from hfs_lease_extents. */
int dpc_store(struct hfs_vol *v, uint64_t ino, uint64_t off,
	      const uint8_t *buf, uint64_t len, unsigned flags);

/* Does a lease of the units covering [off, off + len) of ino map a
 * hole (or fail)?  A direct write needs blocks under every byte. */
bool dpc_has_holes(struct hfs_vol *v, uint64_t ino, uint64_t off,
		   uint64_t len);

/* The slot idx of the volume, as clients map it (read-only use). */
const struct hfs_dslot *dpc_slot(struct hfs_vol *v, uint32_t idx);

/* A direct write of len bytes of buf to ino through slot idx, as
 * client/dp_io.c does it: in place (*off + len within the published
 * size): the data, persisted, then ds_mtime (stored, not persisted).
 * Extending, or append (*off set to the published size): the slot lock,
 * ds_dirty raised (stored, not persisted), the gap [size, min(*off,
 * max(old ds_dirty, size rounded up to the unit)))) zeroed and
 * persisted, the data persisted, then ds_size and ds_mtime stored and
 * their line persisted, the lock released.  0, -ENOSPC if the write
 * would pass the slot's limit, -ENODATA if a hole lies under the data
 * or the gap (nothing done then: the client asks for a lease first),
 * -EBUSY if the lock is held, or -errno. */
int dpc_write(struct hfs_vol *v, uint64_t ino, uint32_t idx,
	      const uint8_t *buf, uint64_t len, uint64_t *off, bool append);

#endif
