/* SPDX-License-Identifier: MIT */
/*
 * The data path's copies (dp_engine.h; docs/data-path.md "A direct
 * write"): reads out of lease windows, writes into them (durable before
 * they return), appends and writes past EOF under the slot lock, and
 * the size and sync calls.
 *
 * A copy holds f->io for reading for at most HFC_DP_CHUNK bytes, so a
 * revocation waits at most that long.  Nothing waits for the daemon with
 * f->io held; the slot lock is taken before f->io, never while holding
 * it (dp_i.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "dp_i.h"

static size_t iov_total(const struct iovec *iov, int cnt, bool *bad)
{
	size_t t = 0;

	*bad = cnt < 0 || cnt > IOV_MAX;
	for (int i = 0; !*bad && i < cnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - t)
			*bad = true;
		else
			t += iov[i].iov_len;
	}
	return t;
}

/* Copy n bytes between the caller's iovec (from byte skip) and the
 * mapping at map: into the mapping (to_map) or out of it. */
static int iov_copy(const struct iovec *iov, int cnt, size_t skip,
		    uint8_t *map, size_t n, bool to_map, void **fa, int *code,
		    hfc_pmem_copy_t pcopy)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < n; i++) {
		size_t l = iov[i].iov_len, k;
		uint8_t *u = iov[i].iov_base;
		int r;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		u += skip;
		l -= skip;
		skip = 0;
		k = l < n - done ? l : n - done;
		r = to_map ? hfc_dp_copy_in(map + done, u, k, map, n, pcopy,
					    fa, code)
			   : hfc_dp_copy(u, map + done, k, map, n, fa, code);
		if (r)
			return r;
		done += k;
	}
	return 0;
}

/* The file's mount is gone: its connection lost or shut down. */
static bool gone(const struct hfc_dfile *f)
{
	return atomic_load(&((struct hfc_dfile *)f)->state) == HFC_DF_GONE;
}

/* The slot area faulted (device 0 went: dp_guard.c): nothing is served
 * directly any more, the kernel answers (EIO once the daemon shut the
 * volume down; the data when it serves device 0 from its mirror).  A
 * call that read the slot asks this before it answers or publishes: the
 * size and lock it saw may have been the zeros mapped over the area.
 * Then the whole call is the kernel's, which is safe: nothing was
 * published, and bytes copied in place are the ones the kernel writes
 * again at the same offsets. */
static bool lost(const struct hfc_dfile *f, int *why)
{
	if (!hfc_dp_slots_lost(f))
		return false;
	*why = HOLDFS_DP_NO_SLOT;
	return true;
}

static uint64_t size_of(const struct hfc_dfile *f)
{
	return atomic_load_explicit((_Atomic uint64_t *)&f->slot->ds_size,
				    memory_order_acquire);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A fault in a copy.  On the caller's side (-EFAULT: a bad buffer) the
 * kernel answers the whole call, EFAULT or the bytes before the bad
 * address, exactly as without the data path: nothing it did is visible
 * (bytes copied into the file lie under a write's own range, which the
 * kernel writes again, or past the size, unpublished).  On the mapping's
 * side poison is reported to the daemon (the region offset from the
 * window's extents), and the call fails. */
static long fault(struct hfc_dfile *f, const struct hfc_win *w, int r,
		  void *addr, int code, int *why)
{
	uint64_t roff;

	if (r == -EFAULT) {
		*why = HOLDFS_DP_OTHER;
		return HFC_DP_KERNEL;
	}
	if (r == -EIO && (code == BUS_MCEERR_AR || code == BUS_MCEERR_AO) &&
	    hfc_map_region_off(w->m, w->off + (uint64_t)((uint8_t *)addr -
							 w->base),
			       &roff) == 0)
		hfc_poison(f->conn, hfc_map_lease_id(w->m), roff);
	return r;
}

/* Every call's start: its length in *total (the kernel judges an odd
 * or empty vector), then the file ready for the data path.  0,
 * HFC_DP_KERNEL with *why, or -errno. */
static long begin(struct hfc_dfile *f, int fd, const struct iovec *iov,
		  int iovcnt, size_t *total, int *why)
{
	bool bad;

	*total = iov_total(iov, iovcnt, &bad);
	if (bad || *total == 0) {
		*why = HOLDFS_DP_OTHER; /* the kernel says EINVAL, or 0 */
		return HFC_DP_KERNEL;
	}
	return hfc_dp_ready(f, fd, *total, why);
}

/* Lease what [pos, end) needs before copying anything, so a call is
 * served whole or not at all (a short read or write of a regular file
 * surprises programs; only a revocation in between can still cut one
 * short).  rw: write windows.  0, HFC_DP_KERNEL with *why, or -errno. */
static long cover(struct hfc_dfile *f, int fd, uint64_t pos, uint64_t end,
		  bool rw, int *why)
{
	while (pos < end) {
		struct hfc_win *w;
		uint64_t stop = 0;
		long r;

		pthread_rwlock_rdlock(&f->io);
		if (f->slot && !rw && pos >= size_of(f)) {
			pthread_rwlock_unlock(&f->io);
			return 0; /* the rest is past EOF */
		}
		w = f->slot ? hfc_dp_find(f, pos, rw) : NULL;
		if (w)
			stop = w->off + w->len;
		pthread_rwlock_unlock(&f->io);
		if (w) {
			pos = stop;
			continue;
		}
		r = hfc_dp_get_window(f, fd, pos, end,
				      rw ? HFC_WANT_WRITE : HFC_WANT_READ, why);
		if (r)
			return r;
	}
	return 0;
}

/* The daemon's changes of the file's bytes in place (ds_chg, lib/dslot.c):
 * a copy notes the count before it starts (odd: one is in progress, the
 * kernel serves the call, after it) and compares after it ends. */
#define HFC_DP_CHANGE_TRIES 3

static uint64_t changes(const struct hfc_dfile *f)
{
	return atomic_load_explicit((_Atomic uint64_t *)&f->slot->ds_chg,
				    memory_order_acquire);
}

static bool unchanged(const struct hfc_dfile *f, uint64_t before)
{
	/* the copy's loads before the second look */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit((_Atomic uint64_t *)&f->slot->ds_chg,
				    memory_order_relaxed) == before;
}

/* The listener's changes of the file's windows: revocations (a layout
 * change) and REMAPs (holes given blocks), each made with f->io held
 * for writing, so between two chunks of a copy, never inside one. */
static unsigned window_changes(struct hfc_dfile *f)
{
	return atomic_load(&f->revokes) + atomic_load(&f->remaps);
}

/* ---------------------------------------------------------------- read */

/* One pass of a read: what hfc_dfile_preadv returns. */
static ssize_t read_pass(struct hfc_dfile *f, int fd, const struct iovec *iov,
			 int iovcnt, uint64_t off, size_t total, int *why)
{
	size_t done = 0;
	long r;

	while (done < total) {
		uint64_t pos = off + done, size;
		struct hfc_win *w;
		void *fa = NULL;
		size_t n;
		int code = 0, rc;

		pthread_rwlock_rdlock(&f->io);
		if (gone(f)) {
			pthread_rwlock_unlock(&f->io);
			return done ? (ssize_t)done : -EIO;
		}
		w = f->slot ? hfc_dp_find(f, pos, false) : NULL;
		size = f->slot ? size_of(f) : 0;
		if (w && pos >= size) {
			pthread_rwlock_unlock(&f->io);
			break; /* end of file */
		}
		if (!w) {
			pthread_rwlock_unlock(&f->io);
			if (f->slot && pos >= size_of(f))
				break;
			r = hfc_dp_get_window(f, fd, pos, off + total,
					      HFC_WANT_READ, why);
			if (r == HFC_DP_KERNEL && done)
				break; /* a short read; the rest next call */
			if (r)
				return done ? (ssize_t)done : r;
			continue;
		}
		n = total - done;
		if (n > size - pos)
			n = (size_t)(size - pos);
		if (n > w->off + w->len - pos)
			n = (size_t)(w->off + w->len - pos);
		if (n > HFC_DP_CHUNK)
			n = HFC_DP_CHUNK;
		rc = iov_copy(iov, iovcnt, done, w->base + (pos - w->off), n,
			      false, &fa, &code, NULL);
		if (rc) {
			r = fault(f, w, rc, fa, code, why);
			pthread_rwlock_unlock(&f->io);
			return done && r != HFC_DP_KERNEL ? (ssize_t)done : r;
		}
		pthread_rwlock_unlock(&f->io);
		done += n;
	}
	return (ssize_t)done;
}

/* A read never returns bytes the daemon was changing in place meanwhile
 * (a FUSE write, zero range, a partial punch, a truncate's tail): half
 * old, half new.  No lock of the daemon's stops a direct copy, so the
 * copy is done again when a change ran during it (ds_chg), and the
 * kernel serves the call when one is in progress or they keep coming.
 * The same for the listener's changes of the windows between two
 * chunks (a punch's revocation, a REMAP of holes a writer filled). */
ssize_t hfc_dfile_preadv(struct hfc_dfile *f, int fd, const struct iovec *iov,
			 int iovcnt, uint64_t off, int *why)
{
	size_t total;
	ssize_t n;
	long r;

	r = begin(f, fd, iov, iovcnt, &total, why);
	if (!r)
		r = cover(f, fd, off, off + total, false, why);
	if (r)
		return r;
	for (int tries = 0;; tries++) {
		uint64_t chg = f->slot ? changes(f) : 0;
		unsigned wins = window_changes(f);

		if (chg & 1) {
			*why = HOLDFS_DP_SLOT_BUSY;
			return HFC_DP_KERNEL;
		}
		n = read_pass(f, fd, iov, iovcnt, off, total, why);
		if (n < 0 || !f->slot ||
		    (unchanged(f, chg) && window_changes(f) == wins))
			break;
		if (tries + 1 == HFC_DP_CHANGE_TRIES) {
			*why = HOLDFS_DP_SLOT_BUSY;
			return HFC_DP_KERNEL;
		}
	}
	if (n >= 0 && lost(f, why))
		return HFC_DP_KERNEL; /* it may have gone by a size of zeros */
	return n;
}

/* --------------------------------------------------------------- write */

/* Tell page-cache readers: if the kernel caches pages of the file (the
 * coherence word is not CLEAN), PERSISTED and wait until they are gone,
 * as holdfs_persist does.  Not confirmed: drop this process's view. */
static void coherent(struct hfc_dfile *f, int fd, const _Atomic uint32_t *coh,
		     uint64_t lease_id, uint64_t pos, uint64_t n)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (coh && atomic_load(coh) == HFS_COH_CLEAN)
		return;
	if (hfc_persisted(f->conn, lease_id, pos, n))
		posix_fadvise(fd, (off_t)pos, (off_t)n, POSIX_FADV_DONTNEED);
}

/* Page-cache coherence owed for bytes copied under the slot lock: told
 * (coherent) only once the lock is dropped.  PERSISTED is a round trip,
 * and the daemon's invalidation may wait for a page a FUSE WRITE of the
 * file holds locked while that WRITE waits for the slot lock: holding
 * the lock across it would stall both until the daemon gives up on us
 * and takes the lock over. */
struct coh_owed {
	uint64_t lease_id;    /* any lease of the file names it */
	uint64_t lo, hi;      /* hi == lo: nothing owed */
};

static void owe(struct coh_owed *o, const _Atomic uint32_t *coh,
		uint64_t lease_id, uint64_t pos, uint64_t n)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (coh && atomic_load(coh) == HFS_COH_CLEAN)
		return;
	if (o->hi == o->lo) {
		*o = (struct coh_owed){ lease_id, pos, pos + n };
		return;
	}
	if (pos < o->lo)
		o->lo = pos;
	if (pos + n > o->hi)
		o->hi = pos + n;
}

/* Copy [pos, pos+n) of iov (from byte skip) into the file through write
 * windows, persisted.  With the slot lock held (extending), the windows
 * must reach (1 asks the caller for an extend lease), and the coherence
 * owed is added to *owed rather than told.  Returns 0, HFC_DP_KERNEL
 * (*why), or -errno; *done the bytes copied. */
static long copy_in(struct hfc_dfile *f, int fd, const struct iovec *iov,
		    int iovcnt, size_t skip, uint64_t pos, size_t n,
		    struct coh_owed *owed, size_t *done, int *why)
{
	bool locked = owed != NULL;

	*done = 0;
	while (*done < n) {
		uint64_t p = pos + *done, lease_id;
		const _Atomic uint32_t *coh;
		struct hfc_win *w;
		void *fa = NULL;
		size_t k;
		int code = 0, rc;
		long r;

		pthread_rwlock_rdlock(&f->io);
		if (gone(f)) {
			pthread_rwlock_unlock(&f->io);
			return -EIO;
		}
		w = f->slot ? hfc_dp_find(f, p, true) : NULL;
		if (!w) {
			pthread_rwlock_unlock(&f->io);
			if (locked) {
				*why = HOLDFS_DP_OTHER;
				return 1; /* the caller leases, unlocked */
			}
			r = hfc_dp_get_window(f, fd, p, pos + n,
					      HFC_WANT_WRITE, why);
			if (r)
				return r;
			continue;
		}
		k = n - *done;
		if (k > w->off + w->len - p)
			k = (size_t)(w->off + w->len - p);
		if (k > HFC_DP_CHUNK)
			k = HFC_DP_CHUNK;
		rc = iov_copy(iov, iovcnt, skip + *done,
			      w->base + (p - w->off), k, true, &fa, &code,
			      hfc_pmem_copy_fn(f->conn));
		if (!rc)
			hfc_dp_persist(f, w->base + (p - w->off), k);
		coh = hfc_map_coh(w->m);
		lease_id = hfc_map_lease_id(w->m);
		if (rc) {
			r = fault(f, w, rc, fa, code, why);
			pthread_rwlock_unlock(&f->io);
			if (r == HFC_DP_KERNEL)
				*done = 0;   /* the kernel writes it all again */
			return r;
		}
		pthread_rwlock_unlock(&f->io);
		if (owed)
			owe(owed, coh, lease_id, p, k);
		else
			coherent(f, fd, coh, lease_id, p, k);
		*done += k;
	}
	return 0;
}

/* Store the direct write's mtime in the slot; persisted (and so owed to
 * fsync) unless the caller persists the line right after. */
static void stamp_mtime(struct hfc_dfile *f, bool persisted_next)
{
	atomic_store_explicit((_Atomic uint64_t *)&f->slot->ds_mtime, now_ns(),
			      memory_order_relaxed);
	if (!persisted_next)
		atomic_store(&f->mtime_dirty, true);
}

static void stamp(struct hfc_dfile *f)
{
	stamp_mtime(f, false);
}

/* Zero what lies between the old end of file and pos: the tail of its
 * last unit (a DAX client may have stored past EOF there) and what an
 * unpublished write may have left (ds_dirty).  Slot lock held.  0,
 * 1 when a window is missing, or -errno. */
static long zero_gap(struct hfc_dfile *f, uint64_t size, uint64_t pos,
		     uint64_t dirty)
{
	uint64_t au = f->conn->alloc_unit;
	uint64_t end = (size + au - 1) / au * au;

	if (dirty > end)
		end = dirty;
	if (end > pos)
		end = pos;
	while (size < end) {
		struct hfc_win *w;
		void *fa = NULL;
		int code = 0, rc;
		uint64_t k;

		pthread_rwlock_rdlock(&f->io);
		w = hfc_dp_find(f, size, true);
		if (!w) {
			pthread_rwlock_unlock(&f->io);
			return 1;
		}
		k = end - size;
		if (k > w->off + w->len - size)
			k = w->off + w->len - size;
		rc = hfc_dp_zero(w->base + (size - w->off), (size_t)k, &fa,
				 &code);
		if (!rc)
			hfc_dp_persist(f, w->base + (size - w->off), (size_t)k);
		pthread_rwlock_unlock(&f->io);
		if (rc)
			return rc;
		size += k;
	}
	return 0;
}

/* A write that may move the end of file, or an append (*at set to where
 * it went): under the slot lock, published once persistent. */
static ssize_t extend(struct hfc_dfile *f, int fd, const struct iovec *iov,
		      int iovcnt, size_t total, uint64_t off, bool append,
		      uint64_t *at, int *why)
{
	/* copies persist under the slot lock and f->io: learn how first */
	hfc_persist_learn(f->conn);
	for (int tries = 0;; tries++) {
		_Atomic uint64_t *sz = (_Atomic uint64_t *)&f->slot->ds_size;
		struct coh_owed owed = { 0 };
		uint64_t size, end, lim;
		unsigned revokes;
		size_t done = 0;
		sigset_t sigs;
		long r;

		r = hfc_dp_slot_lock(f, &sigs, why);
		if (r)
			return r;
		revokes = atomic_load(&f->revokes);
		size = atomic_load_explicit(sz, memory_order_acquire);
		lim = atomic_load((_Atomic uint64_t *)&f->slot->ds_limit);
		if (lost(f, why)) {
			/* zeros, perhaps: an append would go to offset 0 */
			hfc_dp_slot_unlock(f, &sigs);
			return HFC_DP_KERNEL;
		}
		if (append)
			off = size;
		end = off + total;
		if (end < off || hfc_dp_past_fsize(end)) {
			hfc_dp_slot_unlock(f, &sigs);
			/* the kernel says EFBIG, or for RLIMIT_FSIZE sends
			 * SIGXFSZ or writes short */
			*why = HOLDFS_DP_OTHER;
			return HFC_DP_KERNEL;
		}
		r = end <= lim ? 0 : 1;
		if (!r && end > size) {
			/* raise ds_dirty first: a writer that dies before it
			 * publishes leaves its bytes past the size known;
			 * what an earlier one left there is zeroed */
			_Atomic uint64_t *d = (_Atomic uint64_t *)
					      &f->slot->ds_dirty;
			uint64_t dirty = atomic_load(d);

			if (dirty < end)
				atomic_store(d, end);
			if (off > size)
				r = zero_gap(f, size, off, dirty);
		}
		if (!r)
			r = copy_in(f, fd, iov, iovcnt, 0, off, total, &owed,
				    &done, why);
		if (!r && end > size && atomic_load(&f->revokes) != revokes) {
			/* Revoked meanwhile: the daemon may be about to take
			 * the lock over from a holder it thinks stuck.  Publish
			 * nothing; the kernel does the whole write (what was
			 * copied lies past the size, under ds_dirty). */
			*why = HOLDFS_DP_REVOKED;
			r = HFC_DP_KERNEL;
		} else if (!r && end > size) {
			atomic_store_explicit(sz, end, memory_order_release);
			stamp_mtime(f, true);   /* same line as the size */
			hfc_dp_persist(f, &f->slot->ds_size, 64);
		} else if (!r) {
			stamp(f);
		}
		hfc_dp_slot_unlock(f, &sigs);
		if (owed.hi > owed.lo)
			coherent(f, fd, NULL, owed.lease_id, owed.lo,
				 owed.hi - owed.lo);
		if (r < 0 || r == HFC_DP_KERNEL)
			return r;
		if (r == 0) {
			*at = off;
			return (ssize_t)total;
		}
		/* a window or the limit is missing: lease, then again */
		if (tries == 3) {
			*why = HOLDFS_DP_NO_LEASE;
			return HFC_DP_KERNEL;
		}
		r = hfc_dp_get_window(f, fd, off, end, HFC_WANT_EXTEND, why);
		if (r)
			return r;
	}
}

ssize_t hfc_dfile_pwritev(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t off,
			  int *why)
{
	size_t total, done = 0;
	uint64_t at;
	long r;

	r = begin(f, fd, iov, iovcnt, &total, why);
	if (!r && !f->slot)
		r = hfc_dp_get_window(f, fd, off, off + total, HFC_WANT_WRITE,
				      why);
	if (!r && !f->slot_rw)
		r = hfc_dp_get_window(f, fd, off, off + total, HFC_WANT_WRITE,
				      why);
	if (!r && !f->slot_rw) {
		*why = HOLDFS_DP_OTHER; /* no read-write view of the slot */
		r = HFC_DP_KERNEL;
	}
	if (!r && hfc_dp_past_fsize(off + total)) {
		*why = HOLDFS_DP_OTHER;   /* RLIMIT_FSIZE: the kernel's */
		r = HFC_DP_KERNEL;
	}
	if (r)
		goto out;
	if (off + total > size_of(f)) {
		r = extend(f, fd, iov, iovcnt, total, off, false, &at, why);
	} else {
		r = cover(f, fd, off, off + total, true, why);
		if (!r)
			hfc_persist_learn(f->conn); /* before f->io (conn.c) */
		/* a change in place by the daemon (a FUSE write, zero range)
		 * during the copy may have mixed with it: copied again, ours
		 * is the later of the two (see hfc_dfile_preadv) */
		for (int tries = 0; !r; tries++) {
			uint64_t chg = changes(f);

			if (chg & 1) {
				*why = HOLDFS_DP_SLOT_BUSY;
				r = HFC_DP_KERNEL;
				break;
			}
			r = copy_in(f, fd, iov, iovcnt, 0, off, total, NULL,
				    &done, why);
			if (r || unchanged(f, chg))
				break;
			if (tries + 1 == HFC_DP_CHANGE_TRIES) {
				*why = HOLDFS_DP_SLOT_BUSY;
				r = HFC_DP_KERNEL;
				done = 0;
			}
		}
		if (!r || done) {
			stamp(f);
			r = (ssize_t)done;
		}
	}
out:
	if (r >= 0 && lost(f, why))
		r = HFC_DP_KERNEL; /* it may have gone by a size of zeros */
	if (r == HFC_DP_KERNEL)
		atomic_store(&f->kernel_wrote, true);
	return r;
}

ssize_t hfc_dfile_appendv(struct hfc_dfile *f, int fd,
			  const struct iovec *iov, int iovcnt, uint64_t *at,
			  int *why)
{
	size_t total;
	long r;

	r = begin(f, fd, iov, iovcnt, &total, why);
	if (!r && (!f->slot || !f->slot_rw))
		r = hfc_dp_get_window(f, fd, f->slot ? size_of(f) : 0,
				      (f->slot ? size_of(f) : 0) + total,
				      HFC_WANT_EXTEND, why);
	if (!r && !f->slot_rw) {
		*why = HOLDFS_DP_OTHER;
		r = HFC_DP_KERNEL;
	}
	if (!r)
		r = extend(f, fd, iov, iovcnt, total, 0, true, at, why);
	if (r >= 0 && lost(f, why))
		r = HFC_DP_KERNEL; /* as in hfc_dfile_pwritev */
	if (r == HFC_DP_KERNEL)
		atomic_store(&f->kernel_wrote, true);
	return r;
}

/* ------------------------------------------------------ size and sync */

int64_t hfc_dfile_size(struct hfc_dfile *f, int fd, int *why)
{
	uint64_t size;

	(void)fd;
	if (gone(f))
		return -EIO;
	if (lost(f, why))
		return HFC_DP_KERNEL;
	if (!hfc_dp_usable(f)) {
		*why = HOLDFS_DP_OTHER;
		return HFC_DP_KERNEL;
	}
	size = size_of(f);
	return lost(f, why) ? HFC_DP_KERNEL : (int64_t)size;
}

/* The mtime direct writes stored since it was last persisted, made
 * durable with the rest of the slot's client line. */
static void persist_mtime(struct hfc_dfile *f)
{
	if (f->slot_rw && atomic_exchange(&f->mtime_dirty, false))
		hfc_dp_persist(f, &f->slot->ds_size, 64);
}

void hfc_dfile_sync_times(struct hfc_dfile *f)
{
	if (!gone(f) && hfc_dp_usable(f))
		persist_mtime(f);
}

int hfc_dfile_sync(struct hfc_dfile *f, int fd, bool data_only, int *why)
{
	(void)fd;
	(void)data_only;
	if (gone(f))
		return -EIO; /* as every direct call of a mount gone */
	if (lost(f, why))
		return (int)HFC_DP_KERNEL;
	/* Writes that went through the kernel had their times kept by the
	 * daemon, journaled by its fsync: let the kernel call run. */
	if (atomic_exchange(&f->kernel_wrote, false) || !hfc_dp_usable(f)) {
		*why = HOLDFS_DP_OTHER;
		return (int)HFC_DP_KERNEL;
	}
	/* every direct write was persistent when it returned; its mtime
	 * is now too */
	persist_mtime(f);
	return lost(f, why) ? (int)HFC_DP_KERNEL : 0;
}
