/* SPDX-License-Identifier: MIT */
/*
 * Data-path slots (docs/data-path.md, format.h struct hfs_dslot): for
 * every inode that processes write directly, 128 bytes of the region
 * where those processes publish the file's size and mtime and take the
 * append lock, without asking the daemon.  This file is the daemon's
 * half: arming a slot with the first data-path lease of an inode and
 * disarming it with the last (vol.h hfs_dslot_attach/detach), raising
 * its limit for a reservation past EOF, taking the lock before the
 * daemon itself changes the size (hfs_dslot_enter/leave), the size and
 * times everyone sees (hfs_dslot_size, hfs_dslot_overlay), and folding
 * what a crash left in the slots into their inodes at mount.
 *
 * Why a slot may be trusted after a crash: clients store ds_size only
 * after the bytes it covers are persistent, in one aligned 8-byte store,
 * and only up to ds_limit, below which the daemon allocated (and zeroed)
 * the blocks before any client could write there.  The slot is valid
 * while its ds_epoch equals the inode's i_dp_epoch; the daemon bumps the
 * inode's epoch in the same transaction whenever it commits something
 * the slot must not override (a smaller size, explicit times) and when
 * it disarms, so a stale slot can never resurrect an old size, even one
 * equal to the current size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocks_i.h"
#include "dslot_i.h"
#include "eof_tail_i.h"
#include "extent_i.h"
#include "file_i.h"
#include "holders_i.h"
#include "inode_i.h"
#include "journal_i.h"
#include "media.h"
#include "vol.h"
#include "vol_i.h"

/* the fixed part of the daemon's line: identity, crc-covered */
#define IDENT_LEN offsetof(struct hfs_dslot, ds_limit)
#define CRC_LEN offsetof(struct hfs_dslot, ds_crc)
#define F(field) offsetof(struct hfs_dslot, field)
/* The daemon's wait for a client's slot lock: spin a little (a client
 * holds it for one copy), then sleep, doubling up to this. */
#define LOCK_SPINS 200
/* Default of hfs_vol_set_dslot_wait: a client holds the lock for one
 * copy; two seconds is one stopped or dying. */
#define HFS_DSLOT_WAIT_MS 2000
#define LOCK_SLEEP_MAX_NS 1000000L

static uint64_t slot_off(const struct hfs_vol *vol, uint32_t idx)
{
	return vol->ds.off + (uint64_t)idx * HFS_DSLOT_SIZE;
}

static uint64_t unit_bytes(const struct hfs_vol *vol)
{
	return vol->unit_blocks * HFS_BLOCK_SIZE;
}

static uint64_t round_unit(const struct hfs_vol *vol, uint64_t off)
{
	uint64_t u = unit_bytes(vol);

	return off / u * u + (off % u ? u : 0);
}

static struct hfs_dslot_mem *mem_of(const struct hfs_vol *vol,
				    const struct hfs_inode *ip)
{
	return ip->ds ? &vol->ds.v[ip->ds - 1] : NULL;
}

static uint32_t crc_of(const struct hfs_dslot *s)
{
	return hfs_crc32c(s, CRC_LEN);
}

/* Write the identity of slot idx from m: inode, generation, epoch,
 * base and their crc (persisted; a torn write fails the crc, which makes
 * the slot invalid, never wrong).  The limit and the reservation start
 * are single words, stored on their own (set_limits). */
static int write_ident(struct hfs_vol *vol, uint32_t idx,
		       const struct hfs_dslot_mem *m)
{
	struct hfs_dslot s;

	memset(&s, 0, sizeof(s));
	s.ds_ino = m->ino;
	s.ds_gen = m->gen;
	s.ds_epoch = m->epoch;
	s.ds_base = m->base;
	s.ds_crc = crc_of(&s);
	return hfs_region_write(vol->rg, slot_off(vol, idx), &s, IDENT_LEN, NULL);
}

static uint64_t load(const struct hfs_vol *vol, uint32_t idx, size_t field)
{
	uint64_t v = 0;

	/* A fault is the failure pipeline's (the slot area is metadata:
	 * a media error there shuts the volume down); read as 0 here. */
	if (hfs_region_load64(vol->rg, slot_off(vol, idx) + field, &v, NULL))
		return 0;
	return v;
}

static int store(struct hfs_vol *vol, uint32_t idx, size_t field, uint64_t v)
{
	return hfs_region_store64(vol->rg, slot_off(vol, idx) + field, v, NULL);
}

/* Store m's reservation start, then its limit: a limit is only raised
 * once the blocks below it exist, and a crash between the two stores
 * leaves a lower reservation start under the old limit, which returns
 * nothing more at disarm. */
static int set_limits(struct hfs_vol *vol, uint32_t idx,
		      const struct hfs_dslot_mem *m)
{
	int ret = store(vol, idx, F(ds_resv), m->resv);

	return ret ? ret : store(vol, idx, F(ds_limit), m->limit);
}

static uint64_t mem_limit(const struct hfs_dslot_mem *m)
{
	return __atomic_load_n(&m->limit, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------- the lock */

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take slot idx's lock for the daemon.  A client holds it for one copy;
 * one that keeps it past wait_ms is stopped or dying: the stuck hook
 * revokes the inode's data-path leases (the holder acks once its copy is
 * done, or is killed), then the lock is taken over.  ip->iolock is held
 * (write) and vol->lock is not. */
static int lock_slot(struct hfs_vol *vol, struct hfs_inode *ip, uint32_t idx)
{
	uint64_t off = slot_off(vol, idx) + F(ds_lock);
	uint64_t deadline = now_ms() + vol->ds.wait_ms;
	bool hooked = false;
	long sleep_ns = 1000;

	for (int i = 0;; i++) {
		uint32_t cur = 0;
		int r = hfs_region_cas32(vol->rg, off, &cur, HFS_DSLOT_DAEMON,
					 NULL);

		if (r < 0)
			return r;
		if (r == 1) {
			ip->split_hold = false; /* taken over meanwhile, or none */
			return 0;
		}
		if (cur == HFS_DSLOT_DAEMON)
			return 0; /* ours: a crash image or a forced take */
		if (cur == HFS_DSLOT_HOLD) {
			/* ours, between the pieces of an append (write_at):
			 * ours again unless a client takes it this instant */
			r = hfs_region_cas32(vol->rg, off, &cur,
					     HFS_DSLOT_DAEMON, NULL);
			if (r < 0)
				return r;
			if (r == 1)
				return 0;
			continue;
		}
		if (now_ms() < deadline) {
			if (i > LOCK_SPINS) {
				nap(sleep_ns);
				if (sleep_ns < LOCK_SLEEP_MAX_NS)
					sleep_ns *= 2;
			}
			continue;
		}
		if (!hooked && vol->hooks.dslot_stuck) {
			hooked = true;
			vol->hooks.dslot_stuck(vol->hooks.ctx, ip->ino, cur);
			deadline = now_ms() + vol->ds.wait_ms;
			continue;
		}
		/* the holder is gone (or was killed): take it over */
		r = hfs_region_cas32(vol->rg, off, &cur, HFS_DSLOT_DAEMON, NULL);
		if (r == 1)
			return 0;
		if (r < 0)
			return r;
	}
}

static void unlock_slot(struct hfs_vol *vol, uint32_t idx)
{
	uint32_t cur = HFS_DSLOT_DAEMON;

	(void)hfs_region_cas32(vol->rg, slot_off(vol, idx) + F(ds_lock), &cur,
			       0, NULL);
}

/* Keep the lock across the kernel's next WRITE of an O_APPEND write
 * (hfs_dslot_hold): HFS_DSLOT_HOLD, which a client may take once ds_hold
 * passed. */
static void hold_slot(struct hfs_vol *vol, uint32_t idx)
{
	uint32_t cur = HFS_DSLOT_DAEMON;

	(void)hfs_region_cas32(vol->rg, slot_off(vol, idx) + F(ds_lock), &cur,
			       HFS_DSLOT_HOLD, NULL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* When a hold taken now expires (ds_hold, piece_until). */
static uint64_t hold_until(void)
{
	return mono_ns() + (uint64_t)HFS_DSLOT_HOLD_MS * 1000000ull;
}

void hfs_dslot_note_piece(struct hfs_inode *ip)
{
	ip->piece_until = hold_until();
}

void hfs_dslot_hold(struct hfs_vol *vol, struct hfs_inode *ip, bool hold)
{
	if (!ip->ds) { /* for a slot armed before the next piece */
		if (hold)
			hfs_dslot_note_piece(ip);
		return;
	}
	if (hold)
		(void)store(vol, ip->ds - 1, F(ds_hold), hold_until());
	ip->split_hold = hold;
}

/* ----------------------------------------------------- size and times */

/* The published size of an armed slot if it is one the daemon may
 * take (never beyond its limit: a client that stored more is wrong), else
 * 0. */
static uint64_t published(const struct hfs_vol *vol,
			  const struct hfs_dslot_mem *m, uint32_t idx)
{
	uint64_t s = load(vol, idx, F(ds_size));

	return s <= mem_limit(m) ? s : 0;
}

uint64_t hfs_dslot_size(const struct hfs_vol *vol, const struct hfs_inode *ip)
{
	const struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint64_t s = m ? published(vol, m, ip->ds - 1) : 0;

	return s > ip->d.i_size ? s : ip->d.i_size;
}

uint64_t hfs_dslot_limit(const struct hfs_vol *vol, const struct hfs_inode *ip)
{
	const struct hfs_dslot_mem *m = mem_of(vol, ip);

	return m ? mem_limit(m) : 0;
}

static uint64_t ns_of(uint64_t s, uint32_t ns)
{
	return s * 1000000000ull + ns;
}

void hfs_dslot_overlay(const struct hfs_vol *vol, const struct hfs_inode *ip,
		       struct hfs_attr *a)
{
	const struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint64_t s, t;

	if (__atomic_load_n(&ip->kernel_size_stale, __ATOMIC_RELAXED))
		a->direct = true;
	if (!m)
		return;
	a->direct = true;
	s = published(vol, m, ip->ds - 1);
	if (s > a->size)
		a->size = s;
	t = load(vol, ip->ds - 1, F(ds_mtime));
	if (t > ns_of((uint64_t)a->mtime.tv_sec, (uint32_t)a->mtime.tv_nsec)) {
		a->mtime.tv_sec = (time_t)(t / 1000000000ull);
		a->mtime.tv_nsec = (long)(t % 1000000000ull);
	}
	if (t > ns_of((uint64_t)a->ctime.tv_sec, (uint32_t)a->ctime.tv_nsec)) {
		a->ctime.tv_sec = (time_t)(t / 1000000000ull);
		a->ctime.tv_nsec = (long)(t % 1000000000ull);
	}
}

/* Fold the slot's size and mtime into ip (vol->lock held). */
static void fold_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint64_t s, t;

	s = published(vol, m, ip->ds - 1);
	if (s > ip->d.i_size)
		ip->d.i_size = s;
	t = load(vol, ip->ds - 1, F(ds_mtime));
	if (t && t > ns_of(ip->d.i_mtime, ip->d.i_mtime_ns)) {
		ip->d.i_mtime = t / 1000000000ull;
		ip->d.i_mtime_ns = (uint32_t)(t % 1000000000ull);
		ip->dirty_times = true;
	}
	if (t && t > ns_of(ip->d.i_ctime, ip->d.i_ctime_ns)) {
		ip->d.i_ctime = t / 1000000000ull;
		ip->d.i_ctime_ns = (uint32_t)(t % 1000000000ull);
		ip->dirty_times = true;
	}
	m->mtime_seen = t;
}

/* What a direct writer wrote past the published size and never
 * published (it died, or gave up) must not become content when the
 * daemon grows the file: zero what is mapped of it beyond the last
 * unit, [roundup(size), ds_dirty).  The last unit's tail is every size
 * change's to zero (eof_tail.c), and until one a DAX client's stores
 * there stay (docs/lease-protocol.md, "Bytes past EOF").  Slot lock and
 * iolock held, vol->lock too. */
static void clear_dirty_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint32_t idx = ip->ds - 1;
	uint64_t dirty = load(vol, idx, F(ds_dirty)), lim = mem_limit(m);
	uint64_t from = round_unit(vol, ip->d.i_size);

	if (dirty > lim)
		dirty = lim;
	if (dirty > from)
		(void)hfs_file_zero_mapped_locked(vol, ip, from, dirty - from);
	if (dirty > ip->d.i_size)
		(void)store(vol, idx, F(ds_dirty), ip->d.i_size);
}

int hfs_dslot_enter(struct hfs_vol *vol, struct hfs_inode *ip)
{
	int ret;

	if (!ip->ds)
		return 0;
	ret = lock_slot(vol, ip, ip->ds - 1);
	if (ret)
		return ret;
	pthread_mutex_lock(&vol->lock);
	fold_locked(vol, ip);
	clear_dirty_locked(vol, ip);
	pthread_mutex_unlock(&vol->lock);
	return 0;
}

void hfs_dslot_bump_epoch(struct hfs_inode *ip)
{
	if (ip->ds)
		ip->d.i_dp_epoch++;
}

/* After a commit with a new epoch: the client line first (a crash
 * before the header is rewritten leaves a slot of the old epoch, which
 * mount ignores), then the header, valid again. */
static void rearm(struct hfs_vol *vol, struct hfs_inode *ip, bool shrunk)
{
	struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint32_t idx = ip->ds - 1;
	uint64_t end = round_unit(vol, ip->d.i_size);

	(void)store(vol, idx, F(ds_size), ip->d.i_size);
	(void)store(vol, idx, F(ds_dirty), ip->d.i_size);
	if (m->mtime_seen &&
	    load(vol, idx, F(ds_mtime)) == m->mtime_seen)
		(void)store(vol, idx, F(ds_mtime), 0);
	m->epoch = ip->d.i_dp_epoch;
	m->base = ip->d.i_size;
	if (shrunk || m->limit < end)
		__atomic_store_n(&m->limit, end, __ATOMIC_RELAXED);
	if (m->resv > m->limit)
		m->resv = m->limit;
	(void)set_limits(vol, idx, m);
	(void)write_ident(vol, idx, m);
}

void hfs_dslot_leave(struct hfs_vol *vol, struct hfs_inode *ip, bool rearm_it,
		     bool shrunk)
{
	struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint32_t idx;

	if (!m)
		return;
	idx = ip->ds - 1;
	pthread_mutex_lock(&vol->lock);
	if (rearm_it) {
		rearm(vol, ip, shrunk);
	} else {
		if (ip->d.i_size > m->limit) {
			/* the daemon grew the file past the limit (a write
			 * through FUSE), its blocks exist */
			__atomic_store_n(&m->limit, round_unit(vol, ip->d.i_size),
					 __ATOMIC_RELAXED);
			(void)set_limits(vol, idx, m);
		}
		if (load(vol, idx, F(ds_size)) != ip->d.i_size)
			(void)store(vol, idx, F(ds_size), ip->d.i_size);
	}
	pthread_mutex_unlock(&vol->lock);
	if (ip->split_hold)
		hold_slot(vol, idx);
	else
		unlock_slot(vol, idx);
}

/* ------------------------------------------------- changes in place */

/*
 * The daemon writes an armed file's bytes in place (a write through
 * FUSE, zero range, the zeroed part of a partial punch, the tail a
 * truncate zeroes) while processes may be copying them out through read
 * windows, which no lock of ours stops.  ds_chg tells them: made odd
 * before the first byte changes, even again once the last is persistent
 * (hfs_region_add64: a sequentially consistent store, not persisted;
 * with a full fence either side, as the zeroing uses non-temporal
 * stores).  A direct read notes it before its copy and does the copy
 * again if it changed, or asks the kernel if it was odd
 * (client/dp_io.c): it never returns half old bytes and half new.
 * Changes of one inode are serialised by its iolock (held for writing),
 * so one begin/end pair is in flight per slot.
 */
uint32_t hfs_dslot_change_begin(struct hfs_vol *vol, struct hfs_inode *ip)
{
	uint64_t off, v;

	if (!ip->ds)
		return 0;
	off = slot_off(vol, ip->ds - 1) + F(ds_chg);
	/* odd now; a value left odd by an end that faulted is skipped */
	if (hfs_region_add64(vol->rg, off, 1, &v, NULL) ||
	    (!(v & 1) && hfs_region_add64(vol->rg, off, 1, &v, NULL)))
		return 0; /* the slot area faulted: the failure pipeline's */
	atomic_thread_fence(memory_order_seq_cst);
	return ip->ds;
}

void hfs_dslot_change_end(struct hfs_vol *vol, uint32_t ds)
{
	uint64_t v;

	if (!ds)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	(void)hfs_region_add64(vol->rg, slot_off(vol, ds - 1) + F(ds_chg), 1,
			       &v, NULL);
}

/* ------------------------------------------------------ arm, disarm */

static int find_free(struct hfs_vol *vol, uint32_t *idx)
{
	struct hfs_dslots *ds = &vol->ds;

	for (uint32_t n = 0; n < ds->count; n++) {
		uint32_t i = (ds->hint + n) % ds->count;

		if (!ds->v[i].ino) {
			ds->hint = i + 1;
			*idx = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Arm a free slot for ip (iolock and vol->lock held). */
static int arm_locked(struct hfs_vol *vol, struct hfs_inode *ip, uint32_t *out)
{
	struct hfs_dslot_mem *m;
	uint32_t idx;
	int ret = find_free(vol, &idx);

	if (ret)
		return ret;
	m = &vol->ds.v[idx];
	*m = (struct hfs_dslot_mem){
		.ino = ip->ino, .gen = ip->d.i_generation,
		.epoch = ip->d.i_dp_epoch, .base = ip->d.i_size,
		.limit = round_unit(vol, ip->d.i_size), .refs = 1 };
	m->resv = m->limit;
	/* the clients' line (from zero: a lock word left by anyone goes),
	 * then the header that makes the slot valid */
	ret = hfs_region_zero(vol->rg, slot_off(vol, idx) + F(ds_size),
			      HFS_DSLOT_SIZE - F(ds_size), NULL);
	if (!ret)
		ret = store(vol, idx, F(ds_size), ip->d.i_size);
	if (!ret)
		ret = store(vol, idx, F(ds_mtime), 0);
	if (!ret)
		ret = store(vol, idx, F(ds_dirty), ip->d.i_size);
	if (!ret)
		ret = set_limits(vol, idx, m);
	if (!ret)
		ret = write_ident(vol, idx, m);
	if (ret) {
		memset(m, 0, sizeof(*m));
		return ret;
	}
	ip->ds = idx + 1;
	__atomic_store_n(&ip->kernel_size_stale, true, __ATOMIC_RELAXED);
	vol->ds.armed++;
	/* armed between two pieces of a kernel O_APPEND write, maybe:
	 * held until the guess expires, as if the first piece had found
	 * the slot (no client knows the slot yet: the lease that names it
	 * is granted after this returns) */
	if (ip->piece_until > mono_ns() &&
	    store(vol, idx, F(ds_hold), ip->piece_until) == 0) {
		uint32_t cur = 0;

		if (hfs_region_cas32(vol->rg, slot_off(vol, idx) + F(ds_lock),
				     &cur, HFS_DSLOT_HOLD, NULL) == 1)
			ip->split_hold = true;
	}
	*out = idx;
	return 0;
}

/* Lock order: iolock, then vol->lock.  *ipp pinned by the caller's open
 * file (a lease request passes the file's descriptor). */
/* The regular file ino, pinned (an open reference: a FORGET on another
 * thread cannot free it while we wait for its I/O lock; the detach runs
 * on the data-path worker, after the last close).  Unpin with
 * hfs_release(vol, ino). */
static int inode_for(struct hfs_vol *vol, uint64_t ino, struct hfs_inode **ipp)
{
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	*ipp = hfs_iget(vol, ino);
	if (*ipp && !S_ISREG((*ipp)->d.i_mode))
		ret = -EINVAL;
	else if (*ipp)
		hfs_inode_open_get_locked(vol, *ipp);
	hfs_vol_unlock(vol);
	if (!*ipp)
		return -ENOENT;
	return ret;
}

int hfs_dslot_attach(struct hfs_vol *vol, uint64_t ino, uint32_t *idx,
		     uint64_t *gen)
{
	struct hfs_inode *ip;
	int ret;

	if (!vol->ds.count)
		return -EOPNOTSUPP;
	ret = inode_for(vol, ino, &ip);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(&ip->iolock);
	ret = hfs_vol_lock(vol, true);
	if (!ret) {
		if (ip->ds) {
			vol->ds.v[ip->ds - 1].refs++;
			*idx = ip->ds - 1;
		} else {
			ret = arm_locked(vol, ip, idx);
		}
		*gen = ip->d.i_generation;
		hfs_vol_unlock(vol);
	}
	pthread_rwlock_unlock(&ip->iolock);
	hfs_release(vol, ino);
	return ret;
}

/* Blocks the reservation allocated past the new EOF go back; the inode
 * is committed with the slot's size and times and a new epoch; the slot
 * is cleared.  After a crash (mount) the last unit's tail past the size
 * is zeroed too: unpublished writes may be there, and ds_dirty, which
 * says how far, is not persisted.  iolock held, slot lock taken,
 * vol->lock held. */
static int disarm_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			 bool crashed)
{
	struct hfs_dslot_mem *m = mem_of(vol, ip);
	uint32_t idx = ip->ds - 1;
	uint64_t from = round_unit(vol, ip->d.i_size);
	int ret = 0;

	clear_dirty_locked(vol, ip);
	if (m->resv > from)
		from = m->resv;
	if (m->limit > from)
		ret = hfs_file_drop_blocks_locked(vol, ip, from, m->limit);
	ip->d.i_dp_epoch++;
	if (!ret)
		ret = hfs_inode_stage_extents(vol, ip);
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	if (ret)
		return ret;
	if (crashed)
		(void)hfs_eof_tail_zero_locked(vol, ip);
	(void)hfs_region_zero(vol->rg, slot_off(vol, idx), HFS_DSLOT_SIZE, NULL);
	memset(m, 0, sizeof(*m));
	ip->ds = 0;
	vol->ds.armed--;
	return 0;
}

int hfs_dslot_detach(struct hfs_vol *vol, uint64_t ino, uint64_t gen,
		     uint32_t idx)
{
	struct hfs_inode *ip;
	int ret;

	ret = inode_for(vol, ino, &ip);
	if (ret)
		return ret == -ENOENT ? 0 : ret; /* the file is gone: so is
						    its slot */
	pthread_rwlock_wrlock(&ip->iolock);
	/* Another file with the same number (the attached one was deleted,
	 * its slot freed with it, and both given out again while this
	 * detach waited in the queue): not ours to drop. */
	if (ip->ds != idx + 1 || ip->d.i_generation != gen) {
		pthread_rwlock_unlock(&ip->iolock);
		hfs_release(vol, ino);
		return 0;
	}
	ret = hfs_vol_lock(vol, true);
	if (!ret && --vol->ds.v[idx].refs > 0) {
		hfs_vol_unlock(vol);
		pthread_rwlock_unlock(&ip->iolock);
		hfs_release(vol, ino);
		return 0;
	}
	if (!ret) {
		hfs_vol_unlock(vol);
		ret = lock_slot(vol, ip, idx);
	}
	if (!ret) {
		ip->split_hold = false; /* no slot, nothing to hold */
		pthread_mutex_lock(&vol->lock);
		fold_locked(vol, ip);
		ret = disarm_locked(vol, ip, false);
		if (ret)
			hfs_vol_fail(vol, ret);
		pthread_mutex_unlock(&vol->lock);
	}
	pthread_rwlock_unlock(&ip->iolock);
	/* the last reference may go here: an unlinked file is deleted now,
	 * its slot disarmed above */
	hfs_release(vol, ino);
	return ret;
}

int hfs_dslot_raise_limit(struct hfs_vol *vol, uint64_t ino, uint64_t off,
			  uint64_t end)
{
	struct hfs_dslot_mem *m;
	struct hfs_inode *ip;
	uint64_t eof;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	m = ip ? mem_of(vol, ip) : NULL;
	if (!m) {
		hfs_vol_unlock(vol);
		return -ENOENT;
	}
	/* No slot lock: raising the limit changes nothing a direct writer
	 * does, and the two words are stored atomically (set_limits).  So
	 * the ring thread, which asks this for a lease, never waits for a
	 * client here. */
	if (end > mem_limit(m)) {
		eof = round_unit(vol, hfs_dslot_size(vol, ip));
		if (off < eof)
			off = eof;
		if (off < m->resv)
			m->resv = off;
		__atomic_store_n(&m->limit, end, __ATOMIC_RELAXED);
		ret = set_limits(vol, ip->ds - 1, m);
	}
	hfs_vol_unlock(vol);
	return ret;
}

void hfs_dslot_client_gone(struct hfs_vol *vol, uint32_t client_id)
{
	pthread_mutex_lock(&vol->lock);
	for (uint32_t i = 0; i < vol->ds.count && client_id; i++) {
		uint32_t cur = client_id;

		if (vol->ds.v[i].ino)
			(void)hfs_region_cas32(vol->rg, slot_off(vol, i) +
					       F(ds_lock), &cur, 0, NULL);
	}
	pthread_mutex_unlock(&vol->lock);
}

void hfs_dslot_inode_gone_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	if (!ip->ds)
		return;
	(void)hfs_region_zero(vol->rg, slot_off(vol, ip->ds - 1),
			      HFS_DSLOT_SIZE, NULL);
	memset(&vol->ds.v[ip->ds - 1], 0, sizeof(vol->ds.v[0]));
	ip->ds = 0;
	vol->ds.armed--;
}

void hfs_vol_dslot_area(struct hfs_vol *vol, uint64_t *off, uint32_t *count)
{
	*off = vol->ds.off;
	*count = vol->ds.count;
}

void hfs_vol_set_dslot_wait(struct hfs_vol *vol, uint32_t ms)
{
	vol->ds.wait_ms = ms;
}

/* ------------------------------------------------------ mount, unmount */

/* Is s a valid slot of inode slot d (docs/format.md, "Data-path
 * slots")? */
static bool slot_valid(const struct hfs_dslot *s, const struct hfs_inode_disk *d)
{
	return s->ds_crc == crc_of(s) && S_ISREG(d->i_mode) &&
	       d->i_generation == s->ds_gen && d->i_dp_epoch == s->ds_epoch &&
	       s->ds_size <= s->ds_limit && s->ds_limit <= HFS_MAX_FILE_SIZE &&
	       s->ds_resv <= s->ds_limit;
}

static bool slot_clear(const struct hfs_dslot *s)
{
	static const struct hfs_dslot zero;

	return !memcmp(s, &zero, sizeof(zero));
}

/* A slot a crash left: is it one to fold into its inode? */
static struct hfs_inode *slot_inode(struct hfs_vol *vol,
				    const struct hfs_dslot *s)
{
	struct hfs_inode *ip;

	if (s->ds_ino == 0 || s->ds_ino >= vol->sb.s_inode_count)
		return NULL;
	ip = vol->itab[s->ds_ino];
	return ip && slot_valid(s, &ip->d) ? ip : NULL;
}

uint64_t hfs_dslot_media_size(struct hfs_region *rg, const struct hfs_super *sb,
			      uint64_t ino, const struct hfs_inode_disk *d)
{
	struct hfs_dslot s;
	uint64_t size = 0, v;

	if (!(sb->s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) || !sb->s_dslot_off)
		return 0;
	for (uint32_t i = 0; i < sb->s_dslot_count; i++) {
		uint64_t off = sb->s_dslot_off + (uint64_t)i * HFS_DSLOT_SIZE;

		if (hfs_region_load64(rg, off, &v, NULL) || v != ino ||
		    hfs_region_read(rg, off, &s, sizeof(s), NULL))
			continue;
		if (slot_valid(&s, d) && s.ds_size > size)
			size = s.ds_size;
	}
	return size;
}

/* Read-write mount: fold slot idx (valid) into ip, as its disarm would
 * have. */
static int replay_one(struct hfs_vol *vol, struct hfs_inode *ip,
		      const struct hfs_dslot *s, uint32_t idx)
{
	struct hfs_dslot_mem *m = &vol->ds.v[idx];

	*m = (struct hfs_dslot_mem){ .ino = ip->ino, .gen = s->ds_gen,
				     .epoch = s->ds_epoch, .limit = s->ds_limit,
				     .resv = s->ds_resv, .refs = 0 };
	ip->ds = idx + 1;
	vol->ds.armed++;
	fold_locked(vol, ip);
	return disarm_locked(vol, ip, true);
}

int hfs_dslot_mount(struct hfs_vol *vol, struct hfs_vol_info *info)
{
	struct hfs_dslots *ds = &vol->ds;
	struct hfs_dslot s;
	int ret = 0;

	if (!(vol->sb.s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) ||
	    !vol->sb.s_dslot_off)
		return 0;
	ds->off = vol->sb.s_dslot_off;
	ds->count = vol->sb.s_dslot_count;
	if (!ds->wait_ms)
		ds->wait_ms = HFS_DSLOT_WAIT_MS;
	ds->v = calloc(ds->count, sizeof(*ds->v));
	if (!ds->v)
		return -ENOMEM;
	for (uint32_t i = 0; i < ds->count && !ret; i++) {
		struct hfs_inode *ip;

		ret = hfs_region_read(vol->rg, slot_off(vol, i), &s, sizeof(s),
				      NULL);
		if (ret)
			continue;
		if (!s.ds_ino) {
			/* free, or a torn arm or disarm: nothing to fold, and
			 * nothing (a lock word) may stay */
			if (!vol->readonly && !slot_clear(&s))
				ret = hfs_region_zero(vol->rg, slot_off(vol, i),
						      HFS_DSLOT_SIZE, NULL);
			continue;
		}
		ip = slot_inode(vol, &s);
		if (ip && vol->readonly) {
			/* fold into DRAM only: the media keeps the slot */
			if (s.ds_size > ip->d.i_size)
				ip->d.i_size = s.ds_size;
			info->dslots_folded++;
			continue;
		}
		if (vol->readonly)
			continue;
		if (ip) {
			ret = replay_one(vol, ip, &s, i);
			info->dslots_folded++;
		} else {
			ret = hfs_region_zero(vol->rg, slot_off(vol, i),
					      HFS_DSLOT_SIZE, NULL);
			info->dslots_stale++;
		}
	}
	/* A read-only mount changes no size: no slot is armed, and the
	 * data path reads through FUSE. */
	if (vol->readonly) {
		hfs_dslot_free(vol);
		ds->off = 0;
	}
	return ret;
}

int hfs_dslot_unmount_locked(struct hfs_vol *vol)
{
	int ret = 0;

	for (uint32_t i = 0; i < vol->ds.count && vol->ds.armed && !ret; i++) {
		struct hfs_inode *ip;

		if (!vol->ds.v[i].ino)
			continue;
		ip = hfs_iget(vol, vol->ds.v[i].ino);
		if (!ip || ip->ds != i + 1) {
			memset(&vol->ds.v[i], 0, sizeof(vol->ds.v[0]));
			continue;
		}
		/* no client is left to hold the lock at unmount */
		fold_locked(vol, ip);
		ret = disarm_locked(vol, ip, false);
	}
	return ret;
}

void hfs_dslot_free(struct hfs_vol *vol)
{
	free(vol->ds.v);
	vol->ds.v = NULL;
	vol->ds.count = 0;
}
