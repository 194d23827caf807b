/* SPDX-License-Identifier: MIT */
/*
 * Region layer: the one place that opens, sizes, locks and maps the DAX
 * region, and the only code that touches region memory without a guard.
 *
 * A region is a device-dax node (/dev/daxX.Y; size and alignment from
 * sysfs through libsysfs), or a regular file (an fsdax file or a stand-in
 * on disk or /dev/shm).  It is mapped whole and shared with libpmem2; the
 * persistence functions libpmem2 picks for the mapping are exposed as
 * struct hfs_pmem_ops so the rest of the code never guesses whether a
 * cache flush is enough.  Unit tests build a region on a malloc'd buffer
 * (hfs_region_from_memory) and the crash-consistency harness swaps the
 * ops for tracing ones.
 *
 * Ownership: a writable open takes an exclusive flock on the region, a
 * read-only open a shared one; a second daemon, or mkfs/fsck in write
 * mode, fails with a message naming the holder (pid and command line,
 * found through /proc/locks).
 *
 * Guarded access: region memory can fault (device removed, file shrunk,
 * poisoned line).  hfs_region_read/write turn a SIGBUS inside the region
 * mapping into -EIO plus a recorded fault, never a crash.
 */
#ifndef HOLDFS_REGION_H
#define HOLDFS_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum hfs_region_kind {
	HFS_REGION_MEMORY = 0, /* unit tests: caller's buffer */
	HFS_REGION_FILE = 1,   /* regular file (fsdax or stand-in) */
	HFS_REGION_DEVDAX = 2, /* /dev/daxX.Y */
};

/* Persistence primitives, from libpmem2 (pmem2_get_*_fn) for real regions.
 * flags for memcpy/memset are PMEM2_F_MEM_* (0 = persist before return). */
struct hfs_pmem_ops {
	void (*persist)(const void *addr, size_t len);
	void (*flush)(const void *addr, size_t len);
	void (*drain)(void);
	void *(*memcpy)(void *dst, const void *src, size_t len, unsigned flags);
	void *(*memset)(void *dst, int c, size_t len, unsigned flags);
};

struct hfs_region_opts {
	const char *sysfs_root; /* NULL: $HOLDFS_SYSFS_ROOT, else "/sys" */
	bool readonly;          /* map read-only; shared ownership lock */
	bool no_lock;           /* no ownership lock at all (fsck -n on a
				 * mounted region, inspection tools) */
	bool check_private;     /* members of a volume (hfs_members_assemble)
				 * must pass hfs_region_check_private for
				 * private_uid */
	uid_t private_uid;
};

/* What a guarded access hit.  Filled by hfs_region_read/write on -EIO. */
struct hfs_fault {
	uint64_t off;   /* region offset of the faulting address */
	int si_code;    /* BUS_ADRERR, BUS_MCEERR_AR, BUS_MCEERR_AO, ... */
	unsigned lsb;   /* machine checks: the kernel's si_addr_lsb, log2 of
			 * the poisoned range around off (12: one page, 21:
			 * a 2 MiB mapping the kernel took away whole);
			 * 0 for other faults */
};

/* The range a machine-check fault names: [*off, *off + *len), 2^lsb
 * bytes aligned around f->off; lsb is taken between 12 and 30 (a page,
 * the largest device-dax mapping), 12 when the kernel gave none. */
void hfs_fault_range(const struct hfs_fault *f, uint64_t *off, uint64_t *len);

/* Ranges made to fail like poisoned media in the daemon's guarded
 * accesses (hfs_region_simulate_poison): drills where the kernel cannot
 * poison memory. */
#define HFS_SIM_POISON_MAX 16u
/* ranges of device 0's metadata a volume serves from its mirror */
#define HFS_SERVED_MAX 16u

struct hfs_region_member;

struct hfs_region {
	char *path;
	enum hfs_region_kind kind;
	int fd;                /* -1 for memory regions */
	uint8_t *base;         /* whole region, mapped shared */
	uint64_t size;         /* bytes mapped (file size or devdax size) */
	uint64_t align;        /* devdax mapping alignment; 4096 for files */
	bool readonly;
	const char *granularity; /* "byte", "cache line" or "page" (pmem2) */
	uint32_t flush_unit;   /* bytes one flush covers at least: the page
				* size for "page" (msync), a cache line
				* otherwise; what flushes are merged by */
	char devname[64];      /* "dax0.0" for devdax, "" otherwise */
	struct hfs_pmem_ops ops;
	void *priv;            /* libpmem2 objects, owned by region.c */
	/* simulated poison (guard.c): nsim entries of sim are set, each
	 * published before nsim grows; never removed while mapped */
	_Atomic unsigned nsim;
	struct {
		uint64_t off, len;
	} sim[HFS_SIM_POISON_MAX];
	/* ranges of device 0's metadata served from the mirror since a
	 * media error there (region_failover.c): same publication rule,
	 * never removed while mapped.  Simulated poison there no longer
	 * applies (the bytes are the mirror's), and the mirror wrapper does
	 * not copy them onto themselves (region_mirror.c). */
	_Atomic unsigned nserved;
	struct {
		uint64_t off, len;
	} served[HFS_SERVED_MAX];
	/* A volume over several devices (hfs_region_assemble): nmembers
	 * > 1, base and size cover them all, path/fd/kind/devname/align
	 * are member 0's.  nmembers 0: a region of one device. */
	unsigned nmembers;
	struct hfs_region_member *members;
	/* A slice of a device (hfs_region_open_slice): the mapping shows
	 * the device's bytes [slice_off, slice_off + size). */
	uint64_t slice_off;
};

/* One device of an assembled volume.  members[0].rg is the volume's own
 * region; the others were opened with hfs_region_open and belong to it
 * now.  Each member's rg->base points at its place inside the volume
 * mapping, rg->size is the device's size. */
struct hfs_region_member {
	struct hfs_region *rg;
	uint64_t off;  /* volume offset: rg->base == volume base + off */
	uint64_t size; /* the device's bytes (member 0's rg->size is the
			* whole volume's) */
};

/* Open and map a region.  On failure returns -errno and fills err with a
 * message such as "/dev/dax0.0: held by holdfs (pid 1234: holdfs /dev/dax0.0
 * /mnt); unmount it first". */
int hfs_region_open(const char *path, const struct hfs_region_opts *opts,
		    struct hfs_region **out, struct hfs_err *err);
void hfs_region_close(struct hfs_region *rg);

/* Make rg (member 0, opened with hfs_region_open) the volume of the n
 * devices others[0..n-2] (members 1..n-1, each opened with
 * hfs_region_open) mapped at volume offsets offs[1..n-1] (offs[0] is 0):
 * one reserved address range, each member mapped inside it at its
 * offset, the gaps left unmapped.  A NULL member (a device lost) is left
 * unmapped too: offsets there are -ERANGE to guarded accesses.  Takes ownership of others, success or
 * not.  The members must offer the same store granularity (one set of
 * persistence functions serves the whole range); offsets must increase,
 * not overlap, and fit each member's alignment.  rg->base changes:
 * nothing may hold a pointer into the region across the call.  0 or
 * -errno with err filled. */
int hfs_region_assemble(struct hfs_region *rg, struct hfs_region **others,
			const uint64_t *offs, unsigned n, struct hfs_err *err);
/* From now on every store rg persists into volume bytes [0, len) is
 * written at [mirror_off, mirror_off + len) too (lib/region_mirror.c:
 * the mirror of device 0's metadata, on another device of the volume).
 * One mirrored region per process.  0, -EINVAL (the mirror is not inside
 * a device after the first), -EBUSY. */
int hfs_region_set_mirror(struct hfs_region *rg, uint64_t len,
			  uint64_t mirror_off, struct hfs_err *err);
/* Stop writing the mirror (its device is lost): device 0 goes on alone. */
void hfs_region_mirror_stop(const struct hfs_region *rg);
/* Did a copy into the mirror fault (its device gone before the failure
 * monitor saw it)?  That stopped the mirror; *off: the volume offset. */
bool hfs_region_mirror_fault(const struct hfs_region *rg, uint64_t *off);
/* Is rg mirrored (and the mirror not stopped)?  Its length and where
 * (either pointer may be NULL). */
bool hfs_region_mirrored(const struct hfs_region *rg, uint64_t *len,
			 uint64_t *mirror_off);

/* Device 0 of rg (an assembled, mirrored volume) is lost while mounted:
 * map the mirror's bytes over device 0's metadata range [0, len) of the
 * volume, the same addresses, and make the rest of device 0's range
 * fault (guarded accesses there get -EIO); stop the mirror, which now
 * serves as device 0's metadata (lib/region_failover.c).  The caller
 * keeps every other access to that range out meanwhile, or accepts that
 * one in flight fails.  0; 1: done, but device 0's data range still
 * shows the dead device (err says why); -errno with err filled: nothing
 * changed (no working mirror, the mirror cannot be mapped). */
int hfs_region_fail_over(struct hfs_region *rg, struct hfs_err *err);
/* The member now serving device 0's metadata (hfs_region_fail_over), 0
 * if none.  hfs_region_check_member_backing(rg, 0) then checks that
 * member: it is what device 0's metadata range depends on. */
int hfs_region_failed_over(const struct hfs_region *rg);
/* A media error at [off, off + len) of device 0's metadata (inside the
 * mirror's length): that range, rounded out to the mapping granularity
 * (a page, or the devices' alignment), is served from the mirror from
 * now on, mapped over device 0's addresses like hfs_region_fail_over
 * does for the whole; the mirror goes on for the rest.  *soff, *slen:
 * the range served.  0, or -errno with err filled and nothing changed
 * (no working mirror, a failover already, -ENOSPC: HFS_SERVED_MAX
 * ranges served, a refused mapping). */
int hfs_region_serve_from_mirror(struct hfs_region *rg, uint64_t off,
				 uint64_t len, uint64_t *soff, uint64_t *slen,
				 struct hfs_err *err);
/* Unmount: device 0's own bytes mapped back over every range served
 * from the mirror (none served from then on).  0, or -errno with err
 * (a mapping refused: ranges before it may show device 0 again, the
 * caller writes nothing more). */
int hfs_region_unserve(struct hfs_region *rg, struct hfs_err *err);
/* Is [off, off + len) wholly inside ranges served from the mirror? */
bool hfs_region_served(const struct hfs_region *rg, uint64_t off,
		       uint64_t len);

/* A region of dev's bytes [off, off + len): the same device opened again
 * (without an ownership lock: dev holds it) and mapped from off.  For a
 * volume whose device 0 is lost and served from its mirror on another
 * device (docs/format.md "Mirror of the metadata").  off must fit the
 * device's alignment.  0 or -errno with err filled. */
int hfs_region_open_slice(const struct hfs_region *dev, uint64_t off,
			  uint64_t len, struct hfs_region **out,
			  struct hfs_err *err);

/* The member holding volume offset off, or -1 (a gap, or past the end).
 * A region of one device: 0 for offsets inside it. */
int hfs_region_member_of(const struct hfs_region *rg, uint64_t off);
/* The number of devices: 1 for a plain region. */
unsigned hfs_region_nmembers(const struct hfs_region *rg);
/* Member i's own region (rg itself for i 0 of a plain region). */
struct hfs_region *hfs_region_member(const struct hfs_region *rg, unsigned i);
/* Member i's volume offset (0 for a plain region) and device size. */
uint64_t hfs_region_member_off(const struct hfs_region *rg, unsigned i);
uint64_t hfs_region_member_size(const struct hfs_region *rg, unsigned i);

/* Create a sparse regular file of the given size (mkfs --size).  Fails
 * with -EEXIST if the path exists and is not empty. */
int hfs_region_create_file(const char *path, uint64_t size,
			   struct hfs_err *err);

/* Wrap a caller-owned buffer (unit tests, fuzzers).  ops persist with
 * plain stores and a fence. */
int hfs_region_from_memory(void *base, uint64_t size,
			   struct hfs_region **out);

/* Guarded copies.  Return 0, or -EIO if the access faulted (fault filled
 * when non-NULL), or -ERANGE if [off, off+len) is outside the region. */
int hfs_region_read(const struct hfs_region *rg, uint64_t off, void *buf,
		    size_t len, struct hfs_fault *fault);
/* Write and persist (flush + drain) the range. */
int hfs_region_write(struct hfs_region *rg, uint64_t off, const void *buf,
		     size_t len, struct hfs_fault *fault);
/* Zero and persist the range. */
int hfs_region_zero(struct hfs_region *rg, uint64_t off, size_t len,
		    struct hfs_fault *fault);

/* One aligned word of the region shared with other processes that map
 * it (the data-path slots, docs/data-path.md), accessed atomically and
 * guarded: 0, -EIO (fault filled), -ERANGE, -EINVAL if misaligned.
 * store64 also persists the word, through ops.memcpy so that a tracing
 * region sees it.  cas32 sets *expected to the value found and returns
 * 1 if it stored desired, 0 if not; it is not persisted (a lock word
 * means nothing after a crash).  add64 adds delta and sets *v to the
 * sum: a load and a store, not one atomic instruction (one writer per
 * word: the caller serialises), the store sequentially consistent and
 * not persisted (a counter of changes in progress means nothing after a
 * crash; a tracing region sees it as a store never flushed). */
int hfs_region_load64(const struct hfs_region *rg, uint64_t off,
		      uint64_t *v, struct hfs_fault *fault);
int hfs_region_store64(struct hfs_region *rg, uint64_t off, uint64_t v,
		       struct hfs_fault *fault);
int hfs_region_cas32(struct hfs_region *rg, uint64_t off, uint32_t *expected,
		     uint32_t desired, struct hfs_fault *fault);
int hfs_region_add64(struct hfs_region *rg, uint64_t off, uint64_t delta,
		     uint64_t *v, struct hfs_fault *fault);

/* From now on, guarded copies (hfs_region_read/write/zero) that touch
 * [off, off+len) fail with -EIO and a fault of si_code BUS_MCEERR_AR at
 * the first such byte, as if the media there were poisoned.  For drills
 * and tests on machines whose kernel cannot poison memory
 * (MADV_HWPOISON); it affects this process's guarded copies only, not
 * other mappings of the region.  One writer at a time (the caller
 * serialises).  0, -ERANGE outside the region, -ENOSPC when
 * HFS_SIM_POISON_MAX ranges are set. */
int hfs_region_simulate_poison(struct hfs_region *rg, uint64_t off,
			       uint64_t len);
/* Does [off, off+len) touch simulated poison?  -EIO with *fault set at
 * its first poisoned byte (as a machine check would report it), else 0.
 * hfs_region_read/write check it; so must a guarded access of its own. */
int hfs_region_sim_poisoned(const struct hfs_region *rg, uint64_t off,
			    size_t len, struct hfs_fault *fault);

/* Action-optional machine checks (SIGBUS, BUS_MCEERR_AO) at an address
 * of rg's mapping, outside any guarded access, call fn(ctx, fault: the
 * region offset, BUS_MCEERR_AO and the kernel's si_addr_lsb) from the
 * signal handler instead of being passed on (which by default kills): fn
 * must be async-signal-safe.  fn NULL removes rg's
 * hook (waiting, at most 1 s, for a call in flight).  0, -ENOSPC (four
 * regions hooked), or the handler's install error. */
int hfs_region_set_ao_hook(const struct hfs_region *rg,
			   void (*fn)(void *ctx, const struct hfs_fault *f),
			   void *ctx);
/* Send the calling thread the SIGBUS the kernel sends for an
 * action-optional machine check at region offset off naming 2^lsb bytes
 * (si_addr_lsb: 12 for a page, 21 for a 2 MiB mapping; a drill of the AO
 * path where the kernel cannot poison memory).  0, -ERANGE, -EINVAL (lsb
 * not 12 to 30), -errno. */
int hfs_region_send_ao(const struct hfs_region *rg, uint64_t off,
		       unsigned lsb);

/* Run fn(arg) with SIGBUS in the region turned into -EIO.  fn must not
 * take locks or allocate: a fault unwinds it with siglongjmp.  Returns
 * fn's result, or -EIO with *fault filled. */
int hfs_region_guard(const struct hfs_region *rg, int (*fn)(void *arg),
		     void *arg, struct hfs_fault *fault);

/* Is addr inside a guard of the calling thread (a fault there would
 * unwind to it rather than kill)? */
bool hfs_region_guarded(const void *addr);

/* Known bad ranges of the region (libpmem2 badblocks: nd region badblocks
 * for devdax, the fs's bad blocks for fsdax files; none for plain files).
 * cb returns non-zero to stop.  Returns 0, or -errno if the query failed
 * (-ENOTSUP where the platform cannot tell). */
int hfs_region_badblocks(struct hfs_region *rg,
			 int (*cb)(void *ctx, uint64_t off, uint64_t len),
			 void *ctx);

/* Who holds the ownership lock on path (pid and command line), written
 * into buf; returns the pid or 0 if nobody holds it. */
int hfs_region_holder(const char *path, char *buf, size_t len);
/* Is the region at path held with a shared lock (by read-only mounts)?
 * 1 shared, 0 exclusive or not held, -errno if it cannot be told. */
int hfs_region_held_shared(const char *path);

/* Device-dax discovery through libsysfs, exposed for tools and tests.
 * name is "dax0.0"; sysfs_root as in hfs_region_opts. */
struct hfs_devdax_info {
	uint64_t size;
	uint64_t align;
	uint64_t resource;  /* physical address, 0 if unknown */
	int target_node;    /* -1 if unknown */
	bool bound;         /* driver link present */
};
int hfs_devdax_probe(const char *sysfs_root, const char *name,
		     struct hfs_devdax_info *info, struct hfs_err *err);

/* The sysfs root in effect: override if non-empty, else
 * $HOLDFS_SYSFS_ROOT (ignored in setuid programs), else "/sys". */
const char *hfs_region_sysfs_root(const char *override);

/* Is the region private to uid (or root)?  -EPERM with a message naming
 * the mode or owner when users other than its owner may read or write
 * it, or when it belongs to someone other than root and uid (they could
 * read or change every file).  Memory regions: 0. */
int hfs_region_check_private(const struct hfs_region *rg, uid_t uid,
			     struct hfs_err *err);

/* Cheap probe after a SIGBUS: is the region still backed?  Returns 0 if
 * so, -ENXIO if the backing is gone (file shorter than the mapping, or
 * device-dax refusing a fresh mmap because it was disabled or removed),
 * or another -errno if the probe itself failed.  Memory regions: 0. */
int hfs_region_check_backing(const struct hfs_region *rg);
/* The same for device i of a volume alone (0 for a device not mapped:
 * nothing of it can fault). */
int hfs_region_check_member_backing(const struct hfs_region *rg, unsigned i);

#endif
