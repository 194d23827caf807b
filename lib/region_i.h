/* SPDX-License-Identifier: MIT */
/*
 * Region layer internals shared by region.c (open, lock, map),
 * devdax.c (device-dax through libsysfs) and region_holder.c (who holds
 * the ownership flock).
 */
#ifndef HOLDFS_REGION_I_H
#define HOLDFS_REGION_I_H

#include <stddef.h>
#include <sys/types.h>

#include <libpmem2.h>

#include "err.h"

struct hfs_region;

/* libpmem2 objects behind a mapped region (or member).  rsv: the
 * address range reserved for a volume of several members (member 0's
 * region owns it; every member, member 0 too, is mapped inside). */
struct region_priv {
	struct pmem2_source *src;
	struct pmem2_map *map;
	struct pmem2_vm_reservation *rsv;
	uint64_t slice_len;  /* a slice (hfs_region_open_slice): its bytes
			      * from rg->slice_off; 0: the whole source */
	int failover_dev;    /* member 0 of a volume whose metadata is now
			      * served from the mirror on this member
			      * (region_failover.c); 0: none */
};

/* base, size, granularity and persistence functions from a mapping */
void hfs_region_fill_ops(struct hfs_region *rg, struct pmem2_map *map);
/* Map rg's source whole, inside rsv at off if rsv is not NULL, replacing
 * any mapping it had; fills base, size and ops. */
int hfs_region_map_at(struct hfs_region *rg, struct pmem2_vm_reservation *rsv,
		      uint64_t off, struct hfs_err *err);
/* "PATH: WHAT: libpmem2: message", the errno of a PMEM2_E_* code */
int hfs_pmem2_fail(struct hfs_err *err, int ret, const char *path,
		   const char *what);
/* region_mirror.c: stop mirroring rg's stores (hfs_region_close) */
void hfs_region_mirror_free(struct hfs_region *rg);
/* region_members.c: unmap and close members 1.. (hfs_region_close) */
void hfs_region_members_free(struct hfs_region *rg);

/* The dax device name (e.g. "dax0.0") of the character node path with
 * device number rdev, under sysfs root; "" when it is not one. */
void hfs_devdax_name(const char *root, const char *path, dev_t rdev,
		     char *name, size_t len);

/* The pid holding the flock on (dev, ino), its command line in buf;
 * 0 when nobody holds it, -errno when /proc/locks cannot be read. */
int hfs_region_holder_of(dev_t dev, ino_t ino, char *buf, size_t len);

#endif
