/* SPDX-License-Identifier: MIT */
/*
 * The mirror of device 0's metadata (docs/format.md "Several devices",
 * "Mirror"): every store the volume persists into [0, s_meta_end) of the
 * volume -- superblock, health log, bad-extent list, journal, inode
 * table, data-path slots, the metadata zone -- is also written at the
 * same place in the mirror on device 1, before the persist returns.
 *
 * Why at the persistence functions: every durable store of holdfs goes
 * through them (that is the commit discipline of lib/journal.c), so
 * wrapping them catches every one, whatever wrote the bytes, and keeps
 * the mirror's order the primary's: a journal commit record reaches the
 * mirror only after the records before it did.  A crash between the two
 * copies of one persist is the crash of an operation that had not
 * returned; the next mount replays from device 0 and the replay's own
 * stores bring the mirror along.
 *
 * The functions take no context (libpmem2's signatures), so the mirror
 * is per process: one mirrored volume at a time (the daemon, fsck and
 * mkfs open one).
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <libpmem2.h>
#include <string.h>

static struct {
	const struct hfs_region *rg; /* the mirrored volume, NULL: none */
	uint8_t *lo;                 /* primary [lo, lo + len) */
	uint64_t len;
	uint64_t delta;              /* mirror = primary + delta */
	struct hfs_pmem_ops base;    /* libpmem2's */
	_Atomic bool stopped;        /* the mirror's device is gone */
	_Atomic uint64_t fault_off;  /* + 1: where a copy faulted */
} mir;

/* One copy into the mirror, guarded: the mirror's device may be gone
 * (a file truncated, a device-dax disabled) before the failure monitor
 * has noticed; its loss must not stop device 0's metadata, so the fault
 * only stops the mirror (hfs_region_mirror_fault tells the monitor).
 * The copy reads device 0 too: a fault there is device 0's, and goes
 * back to the caller (mirror_copy). */
struct copy {
	uint8_t *a;
	size_t l;
	int c;          /* memset value, or -1 for a copy of a */
	unsigned flags;
};

static int do_copy(void *arg)
{
	struct copy *k = arg;

	if (k->c < 0)
		mir.base.memcpy(k->a + mir.delta, k->a, k->l, k->flags);
	else
		mir.base.memset(k->a + mir.delta, k->c, k->l, k->flags);
	return 0;
}

static void mirror_copy(uint8_t *a, size_t l, int c, unsigned flags)
{
	struct copy k = { a, l, c, flags };
	struct hfs_fault f = { 0 };
	uint64_t none = 0;

	if (atomic_load(&mir.stopped))
		return;
	/* a range served from the mirror (a media error on device 0
	 * there: region_failover.c) is the mirror's own bytes at both
	 * addresses: the store is in the mirror already */
	if (hfs_region_served(mir.rg, (uint64_t)(a - mir.lo), l))
		return;
	if (hfs_region_guard(mir.rg, do_copy, &k, &f) != -EIO)
		return;
	if (f.off < mir.len) {
		/* Reading the primary faulted: device 0 went away after the
		 * store that is being copied.  Not the mirror's fault, so it
		 * goes on (it may be all that is left of the metadata), and
		 * the store must not pass for persisted: the fault is raised
		 * again, unguarded here, so that the caller's own guard
		 * gets it, as if its store had faulted (a journal commit
		 * then finishes on the mirror: lib/vol_failover.c). */
		volatile const uint8_t *v = mir.lo + f.off;

		if (hfs_region_guarded((const void *)v))
			(void)*v;
		return;  /* no guard, or it reads again: nothing to undo */
	}
	atomic_store(&mir.stopped, true);
	atomic_compare_exchange_strong(&mir.fault_off, &none, f.off + 1);
}

/* The part of [addr, addr + len) in the primary range. */
static bool span(const void *addr, size_t len, uint8_t **a, size_t *l)
{
	uint8_t *p = (uint8_t *)addr, *hi = mir.lo + mir.len;
	uint8_t *s, *e;

	if (!mir.rg || p >= hi || p + len <= mir.lo)
		return false;
	s = p > mir.lo ? p : mir.lo;
	e = p + len < hi ? p + len : hi;
	*a = s;
	*l = (size_t)(e - s);
	return true;
}

static void m_persist(const void *addr, size_t len)
{
	uint8_t *a;
	size_t l;

	mir.base.persist(addr, len);
	if (span(addr, len, &a, &l))
		mirror_copy(a, l, -1, 0);
}

static void m_flush(const void *addr, size_t len)
{
	uint8_t *a;
	size_t l;

	mir.base.flush(addr, len);
	if (span(addr, len, &a, &l)) /* the caller's drain covers it */
		mirror_copy(a, l, -1, PMEM2_F_MEM_NODRAIN);
}

static void m_drain(void)
{
	mir.base.drain();
}

static void *m_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	void *r = mir.base.memcpy(dst, src, len, flags);
	uint8_t *a;
	size_t l;

	if (span(dst, len, &a, &l))
		mirror_copy(a, l, -1, flags);
	return r;
}

static void *m_memset(void *dst, int c, size_t len, unsigned flags)
{
	void *r = mir.base.memset(dst, c, len, flags);
	uint8_t *a;
	size_t l;

	if (span(dst, len, &a, &l))
		mirror_copy(a, l, c & 0xff, flags);
	return r;
}

int hfs_region_set_mirror(struct hfs_region *rg, uint64_t len,
			  uint64_t mirror_off, struct hfs_err *err)
{
	int m = hfs_region_member_of(rg, mirror_off);

	if (mir.rg && mir.rg != rg)
		return hfs_err_set(err, -EBUSY, "%s: another mirrored volume is "
				   "open in this process", rg->path);
	if (!len || mirror_off < len || m <= 0 ||
	    mirror_off + len > hfs_region_member_off(rg, (unsigned)m) +
				       hfs_region_member_size(rg, (unsigned)m))
		return hfs_err_set(err, -EINVAL, "%s: the mirror at %#" PRIx64
				   " (%" PRIu64 " bytes) is not inside a device "
				   "after the first", rg->path, mirror_off, len);
	mir.base = rg->ops;
	mir.lo = rg->base;
	mir.len = len;
	mir.delta = mirror_off;
	atomic_store(&mir.stopped, false);
	atomic_store(&mir.fault_off, 0);
	mir.rg = rg;
	rg->ops.persist = m_persist;
	rg->ops.flush = m_flush;
	rg->ops.drain = m_drain;
	rg->ops.memcpy = m_memcpy;
	rg->ops.memset = m_memset;
	return 0;
}

void hfs_region_mirror_free(struct hfs_region *rg)
{
	if (mir.rg != rg)
		return;
	rg->ops = mir.base;
	memset(&mir, 0, sizeof(mir));
}

void hfs_region_mirror_stop(const struct hfs_region *rg)
{
	if (mir.rg == rg)
		atomic_store(&mir.stopped, true);
}

bool hfs_region_mirror_fault(const struct hfs_region *rg, uint64_t *off)
{
	uint64_t v = mir.rg == rg ? atomic_load(&mir.fault_off) : 0;

	if (v && off)
		*off = v - 1;
	return v != 0;
}

bool hfs_region_mirrored(const struct hfs_region *rg, uint64_t *len,
			 uint64_t *mirror_off)
{
	if (mir.rg != rg || atomic_load(&mir.stopped))
		return false;
	if (len)
		*len = mir.len;
	if (mirror_off)
		*mirror_off = mir.delta;
	return true;
}
