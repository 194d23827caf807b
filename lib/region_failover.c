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
#include <stdatomic.h>
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

/* The mirror's member and its offset there: 0, or -ENODEV with err. */
static int mirror_member(struct hfs_region *rg, const struct hfs_region **m,
			 uint64_t *len, uint64_t *rel, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	uint64_t moff;
	int mi;

	if (!hfs_region_mirrored(rg, len, &moff))
		return hfs_err_set(err, -ENODEV, "%s: device 0 has no working "
				   "mirror (none, or its device was lost)",
				   rg->path);
	mi = hfs_region_member_of(rg, moff);
	*m = mi > 0 ? hfs_region_member(rg, (unsigned)mi) : NULL;
	if (!*m || (*m)->fd < 0 || !p->map)
		return hfs_err_set(err, -ENODEV, "%s: the mirror's device is "
				   "not mapped", rg->path);
	*rel = moff - hfs_region_member_off(rg, (unsigned)mi);
	return mi;
}

/* Map the mirror's bytes [rel + off, rel + off + len) over volume bytes
 * [off, off + len): a trial mapping first, so that a refusal changes
 * nothing of device 0's. */
static int map_over(struct hfs_region *rg, const struct hfs_region *m,
		    uint64_t rel, uint64_t off, uint64_t len,
		    struct hfs_err *err)
{
	bool page_gran = strcmp(rg->granularity, "page") == 0;
	void *t = map_mirror(NULL, len, m->fd, rel + off, page_gran);

	if (t == MAP_FAILED)
		return hfs_err_set(err, -errno, "%s: cannot map the mirror of "
				   "device 0 (%s, bytes %#" PRIx64 "+%#" PRIx64
				   "): %s", rg->path, m->path, rel + off, len,
				   strerror(errno));
	munmap(t, len);
	if (map_mirror(rg->base + off, len, m->fd, rel + off, page_gran) ==
	    MAP_FAILED)
		return hfs_err_set(err, -errno, "%s: cannot map the mirror of "
				   "device 0 over it: %s", rg->path,
				   strerror(errno));
	return 0;
}

int hfs_region_fail_over(struct hfs_region *rg, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	const struct hfs_region *m;
	uint64_t len, rel, dev0;
	int mi, r;

	if (p->failover_dev)
		return 0;
	mi = mirror_member(rg, &m, &len, &rel, err);
	if (mi < 0)
		return mi;
	dev0 = pmem2_map_get_size(p->map);
	if (len > dev0 || len % (uint64_t)sysconf(_SC_PAGESIZE))
		return hfs_err_set(err, -EINVAL, "%s: the mirror (%" PRIu64
				   " bytes) does not fit device 0's mapping",
				   rg->path, len);
	r = map_over(rg, m, rel, 0, len, err);
	if (r < 0)
		return r;
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

/*
 * A media error in device 0's metadata: the same technique over just
 * the range.  The unit is the largest of the page size and the two
 * devices' alignments (a device-dax maps only whole aligned units);
 * the mirror's offset and its length are multiples of the allocation
 * unit, which mkfs makes a multiple of every device's alignment, so the
 * rounded range stays inside the mirror and both ends are aligned on
 * both devices.  The mirror wrapper goes on for the rest of the
 * metadata; the range itself has one copy from now on.
 */
int hfs_region_serve_from_mirror(struct hfs_region *rg, uint64_t off,
				 uint64_t len, uint64_t *soff, uint64_t *slen,
				 struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	unsigned n = atomic_load_explicit(&rg->nserved, memory_order_relaxed);
	const struct hfs_region *m;
	uint64_t mlen, rel, unit, s, e;
	int mi, r;

	if (p->failover_dev)
		return hfs_err_set(err, -ENODEV, "%s: device 0's metadata is "
				   "the mirror's already", rg->path);
	mi = mirror_member(rg, &m, &mlen, &rel, err);
	if (mi < 0)
		return mi;
	unit = (uint64_t)sysconf(_SC_PAGESIZE);
	if (rg->align > unit)
		unit = rg->align;
	if (m->align > unit)
		unit = m->align;
	if (!len || off >= mlen || len > mlen - off)
		return hfs_err_set(err, -ERANGE, "%s: bytes %#" PRIx64 "+%#"
				   PRIx64 " are not inside device 0's mirrored "
				   "metadata", rg->path, off, len);
	s = off / unit * unit;
	e = (off + len + unit - 1) / unit * unit;
	if (e > mlen || rel % unit)
		return hfs_err_set(err, -EINVAL, "%s: the mirror is not "
				   "aligned to %" PRIu64 " bytes", rg->path,
				   unit);
	if (hfs_region_served(rg, s, e - s))
		goto done;
	if (n == HFS_SERVED_MAX)
		return hfs_err_set(err, -ENOSPC, "%s: %u ranges of device 0's "
				   "metadata are served from the mirror "
				   "already", rg->path, n);
	r = map_over(rg, m, rel, s, e - s, err);
	if (r < 0)
		return r;
	rg->served[n].off = s;
	rg->served[n].len = e - s;
	atomic_store_explicit(&rg->nserved, n + 1, memory_order_release);
done:
	*soff = s;
	*slen = e - s;
	return 0;
}

/*
 * Unmount: device 0's own bytes mapped back over every range served
 * from the mirror, so that the caller can copy the mirror's bytes onto
 * them (device 0 a true copy again where the write takes, which is what
 * fsck compares).  Trial mappings first; a refusal changes nothing.
 */
int hfs_region_unserve(struct hfs_region *rg, struct hfs_err *err)
{
	unsigned n = atomic_load_explicit(&rg->nserved, memory_order_acquire);
	bool page_gran = strcmp(rg->granularity, "page") == 0;

	for (unsigned i = 0; i < n; i++) {
		void *t = map_mirror(NULL, rg->served[i].len, rg->fd,
				     rg->served[i].off, page_gran);

		if (t == MAP_FAILED)
			return hfs_err_set(err, -errno, "%s: cannot map device "
					   "0's bytes %#" PRIx64 "+%#" PRIx64
					   " back: %s", rg->path,
					   rg->served[i].off, rg->served[i].len,
					   strerror(errno));
		munmap(t, rg->served[i].len);
	}
	for (unsigned i = 0; i < n; i++)
		if (map_mirror(rg->base + rg->served[i].off, rg->served[i].len,
			       rg->fd, rg->served[i].off, page_gran) ==
		    MAP_FAILED)
			return hfs_err_set(err, -errno, "%s: cannot map device "
					   "0's bytes %#" PRIx64 " back: %s",
					   rg->path, rg->served[i].off,
					   strerror(errno));
	atomic_store_explicit(&rg->nserved, 0, memory_order_release);
	return 0;
}

bool hfs_region_served(const struct hfs_region *rg, uint64_t off,
		       uint64_t len)
{
	unsigned n = atomic_load_explicit(&((struct hfs_region *)rg)->nserved,
					  memory_order_acquire);
	uint64_t pos = off, end = off + len;
	bool moved = true;

	/* the served ranges may adjoin: walk from range to range */
	while (pos < end && moved) {
		moved = false;
		for (unsigned i = 0; i < n; i++)
			if (rg->served[i].off <= pos &&
			    pos < rg->served[i].off + rg->served[i].len) {
				pos = rg->served[i].off + rg->served[i].len;
				moved = true;
			}
	}
	return n && pos >= end;
}

int hfs_region_failed_over(const struct hfs_region *rg)
{
	const struct region_priv *p = rg->priv;

	return p ? p->failover_dev : 0;
}
