/* SPDX-License-Identifier: MIT */
/*
 * Device 0 of a mirrored volume lost while mounted: its metadata served
 * from the mirror from now on, at the same addresses (docs/format.md,
 * "Device 0 lost while mounted").
 *
 * Every access to the volume is base + offset in one address range
 * (region_members.c), and every metadata structure of device 0 lies in
 * volume bytes [0, len) (len = s_meta_end), of which the mirror on
 * another device is a byte-for-byte copy (region_mirror.c).  So the
 * switch is two mmap(MAP_FIXED) calls and no pointer changes:
 *
 *   [0, len)          the mirror's bytes (the mirror device's own node,
 *                     from the mirror's offset in it), MAP_SHARED, with
 *                     MAP_SYNC when the device offers it;
 *   [len, device end) a mapping of an empty memfd: every access there
 *                     is past its end and faults with SIGBUS, which a
 *                     guarded access turns into -EIO like any lost range
 *                     (an anonymous PROT_NONE mapping would SIGSEGV,
 *                     which nothing catches).
 *
 * MAP_FIXED replaces a mapping atomically: a thread touching device 0's
 * addresses meanwhile sees the old mapping (a fault, -EIO) or the new
 * one, never a hole.  libpmem2's own objects are left as they are: its
 * map of device 0 still covers the range and, at close, puts its
 * reservation placeholder back over both of ours, which is what close
 * must do anyway.  Persisting through the new mapping works with the
 * persistence functions already chosen: they act on addresses (cache
 * flushes, or msync for page granularity), and the members of a volume
 * all offer the same granularity.
 *
 * Alignment: the mirror starts one allocation unit into its device and
 * len is a multiple of it, and mkfs makes the allocation unit a multiple
 * of every device's alignment (device-dax maps only aligned ranges); the
 * range's start, the volume base, is aligned to the largest alignment of
 * the members.  A trial mapping at a free address is made first, so a
 * refusal (alignment, a node that went away) leaves device 0's mapping
 * untouched and the caller shuts the volume down as before.
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpmem2.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

/* Map len bytes of fd from off at addr (NULL: anywhere).  MAP_SYNC
 * first: a mapping of byte or cache-line granularity must keep it; page
 * granularity (msync) may do without. */
static void *map_mirror(void *addr, size_t len, int fd, uint64_t off,
			bool page_gran)
{
	int fixed = addr ? MAP_FIXED : 0;
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED_VALIDATE | MAP_SYNC | fixed, fd, (off_t)off);

	if (p == MAP_FAILED && page_gran &&
	    (errno == EOPNOTSUPP || errno == EINVAL))
		p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | fixed,
			 fd, (off_t)off);
	return p;
}

/* [at, at + len): every access faults (SIGBUS), guarded ones get -EIO. */
static int map_lost(uint8_t *at, size_t len)
{
	int fd = memfd_create("holdfs-lost-device", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0);
	close(fd); /* the mapping keeps the (empty) file */
	return p == MAP_FAILED ? -errno : 0;
}

int hfs_region_fail_over(struct hfs_region *rg, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	const struct hfs_region *m;
	uint64_t len, moff, rel, dev0;
	bool page_gran;
	int mi, r;
	void *t;

	if (p->failover_dev)
		return 0;
	if (!hfs_region_mirrored(rg, &len, &moff))
		return hfs_err_set(err, -ENODEV, "%s: device 0 has no working "
				   "mirror (none, or its device was lost)",
				   rg->path);
	mi = hfs_region_member_of(rg, moff);
	m = mi > 0 ? hfs_region_member(rg, (unsigned)mi) : NULL;
	if (!m || m->fd < 0 || !p->map)
		return hfs_err_set(err, -ENODEV, "%s: the mirror's device is "
				   "not mapped", rg->path);
	rel = moff - hfs_region_member_off(rg, (unsigned)mi);
	dev0 = pmem2_map_get_size(p->map);
	page_gran = strcmp(rg->granularity, "page") == 0;
	if (len > dev0 || len % (uint64_t)sysconf(_SC_PAGESIZE))
		return hfs_err_set(err, -EINVAL, "%s: the mirror (%" PRIu64
				   " bytes) does not fit device 0's mapping",
				   rg->path, len);
	/* the trial: refused here, nothing of device 0's has changed */
	t = map_mirror(NULL, len, m->fd, rel, page_gran);
	if (t == MAP_FAILED)
		return hfs_err_set(err, -errno, "%s: cannot map the mirror of "
				   "device 0 (%s, bytes %#" PRIx64 "+%#" PRIx64
				   "): %s", rg->path, m->path, rel, len,
				   strerror(errno));
	munmap(t, len);
	if (map_mirror(rg->base, len, m->fd, rel, page_gran) == MAP_FAILED)
		return hfs_err_set(err, -errno, "%s: cannot map the mirror of "
				   "device 0 over it: %s", rg->path,
				   strerror(errno));
	/* from here on the metadata is the mirror's: copying into the
	 * mirror would copy it onto itself */
	hfs_region_mirror_stop(rg);
	p->failover_dev = mi;
	r = len < dev0 ? map_lost(rg->base + len, dev0 - len) : 0;
	if (r < 0) { /* what stays is the dead device's mapping: it faults
		      * or reads its old bytes, and its files are failed */
		hfs_err_set(err, r, "%s: device 0's data range could not be "
			    "made inaccessible (%s); its files are failed all "
			    "the same", rg->path, strerror(-r));
		return 1;
	}
	return 0;
}

int hfs_region_failed_over(const struct hfs_region *rg)
{
	const struct region_priv *p = rg->priv;

	return p ? p->failover_dev : 0;
}
