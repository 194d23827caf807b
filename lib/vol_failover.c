/* SPDX-License-Identifier: MIT */
/*
 * Device 0 lost while mounted: the volume's metadata goes on from its
 * mirror (docs/format.md "Device 0 lost while mounted",
 * docs/failure-model.md "Several devices").
 *
 * The switch itself is the region layer's (region_failover.c: the
 * mirror mapped over device 0's metadata addresses).  Here: when it may
 * happen, and the one thing that cannot wait for the failure monitor, a
 * journal commit that faulted on device 0.
 *
 * Quiescing: metadata changes all run under vol->lock (the commit
 * discipline, journal_i.h), and the health log's direct writes under its
 * own lock; both are held across the switch.  What runs without them --
 * reads and writes of file data, which never touch [0, s_meta_end) --
 * either finishes on the old mapping or faults (-EIO): file data of
 * device 0 is lost anyway.
 *
 * The commit in flight.  The mirror gets every store after device 0 got
 * it and before the persist returns (region_mirror.c), and a copy whose
 * read of device 0 faults raises that fault in the caller's guard
 * instead of passing for persisted.  So when a commit faults on device
 * 0, the mirror holds exactly what a crash of device 0 at that store
 * would have left: every earlier transaction whole, this one torn
 * (its journal record incomplete: ignored by replay) or committed and
 * partly applied (replay-safe: records are absolute bytes).  The commit
 * is then written again, journal record and home locations, through
 * the mirror now mapped in device 0's place: the transaction the
 * operation's DRAM changes already assume is on the media, and the
 * operation succeeds.  Were the machine to crash during that second
 * write, the next mount replays or ignores it like any commit.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "badlist_i.h"
#include "health_i.h"
#include "journal_i.h"
#include "region.h"
#include "vol_i.h"

void hfs_vol_allow_failover(struct hfs_vol *vol, bool on)
{
	pthread_mutex_lock(&vol->lock);
	vol->failover_ok = on;
	pthread_mutex_unlock(&vol->lock);
}

static void fill(const struct hfs_vol *vol, struct hfs_vol_failover *fo)
{
	if (!fo)
		return;
	fo->data_off = vol->sb.s_meta_end;
	fo->data_len = vol->sb.s_backup_off > vol->sb.s_meta_end
			       ? vol->sb.s_backup_off - vol->sb.s_meta_end : 0;
	fo->mirror_dev = vol->devtab.t_mirror_dev;
}

/* vol->lock held. */
static int fail_over_locked(struct hfs_vol *vol, struct hfs_vol_failover *fo,
			    struct hfs_err *err)
{
	int r;

	fill(vol, fo);
	if (fo)
		fo->already = vol->live_failover;
	if (vol->live_failover)
		return 0;
	if (vol->from_mirror) /* since the mount: the mirror is the last */
		return hfs_err_set(err, -ENODEV, "%s: the metadata is served "
				   "from the mirror already, its only copy",
				   vol->rg->path);
	if (!vol->failover_ok || !vol->devtab.t_mirror_dev)
		return hfs_err_set(err, -ENODEV, "%s: device 0 holds the only "
				   "copy of the metadata", vol->rg->path);
	if (vol->failed)
		return hfs_err_set(err, -EIO, "%s: the volume had already "
				   "failed", vol->rg->path);
	if (vol->readonly)
		return hfs_err_set(err, -EROFS, "%s: a read-only mount cannot "
				   "switch to the mirror", vol->rg->path);
	hfs_health_quiesce(true);
	r = hfs_region_fail_over(vol->rg, err);
	hfs_health_quiesce(false);
	if (r < 0)
		return r;
	vol->from_mirror = true;
	vol->live_failover = true;
	return r;
}

int hfs_vol_fail_over(struct hfs_vol *vol, struct hfs_vol_failover *fo,
		      struct hfs_err *err)
{
	int r;

	pthread_mutex_lock(&vol->lock);
	r = fail_over_locked(vol, fo, err);
	pthread_mutex_unlock(&vol->lock);
	return r;
}

bool hfs_vol_fail_over_for_fault(struct hfs_vol *vol,
				 const struct hfs_fault *f)
{
	uint64_t len;

	/* a poisoned line is not a lost device: the fault goes its usual
	 * way (and failing metadata shuts the volume down) */
	if (!vol->failover_ok || vol->from_mirror || !f->si_code ||
	    f->si_code == BUS_MCEERR_AR || f->si_code == BUS_MCEERR_AO ||
	    !hfs_region_mirrored(vol->rg, &len, NULL) || f->off >= len ||
	    hfs_region_check_member_backing(vol->rg, 0) != -ENXIO)
		return false;
	return fail_over_locked(vol, NULL, NULL) >= 0;
}

void hfs_vol_metadata(struct hfs_vol *vol, struct hfs_vol_metadata *m)
{
	pthread_mutex_lock(&vol->lock);
	memset(m, 0, sizeof(*m));
	m->mirror_dev = vol->devtab.t_mirror_dev;
	m->from_mirror = vol->from_mirror;
	m->live = vol->live_failover;
	m->copies = !vol->from_mirror && vol->devtab.t_mirror_dev &&
				    hfs_region_mirrored(vol->rg, NULL, NULL)
			    ? 2 : 1;
	m->meta_end = vol->sb.s_meta_end;
	m->nserved = atomic_load_explicit(&vol->rg->nserved,
					  memory_order_acquire);
	m->served_off = m->nserved ? vol->rg->served[0].off : 0;
	for (unsigned i = 0; i < m->nserved; i++)
		m->served += vol->rg->served[i].len;
	pthread_mutex_unlock(&vol->lock);
}

/*
 * A media error (poison) in device 0's metadata, with a working mirror:
 * just that range is served from the mirror, at the same addresses, the
 * way the whole of it is when device 0 goes (docs/failure-model.md
 * "Several devices", "Poison in device 0's metadata").  The same locks
 * as the whole switch: no metadata change and no health-log write runs
 * while the mapping changes.  The range is then recorded in the
 * bad-extent list (one journaled transaction: the list itself is
 * outside the range, or the mirror's now), so that every later mount
 * takes the mirror's bytes there (hfs_vol_serve_recorded).
 */
int hfs_vol_serve_from_mirror(struct hfs_vol *vol, uint64_t off, uint64_t len,
			      uint64_t *soff, uint64_t *slen,
			      struct hfs_err *err)
{
	int r;

	pthread_mutex_lock(&vol->lock);
	if (vol->from_mirror)
		r = hfs_err_set(err, -ENODEV, "%s: the metadata is served "
				"from the mirror already, its only copy",
				vol->rg->path);
	else if (!vol->failover_ok || !vol->devtab.t_mirror_dev)
		r = hfs_err_set(err, -ENODEV, "%s: device 0 holds the only "
				"copy of the metadata", vol->rg->path);
	else if (vol->failed)
		r = hfs_err_set(err, -EIO, "%s: the volume had already failed",
				vol->rg->path);
	else if (vol->readonly)
		r = hfs_err_set(err, -EROFS, "%s: a read-only mount cannot "
				"serve metadata from the mirror",
				vol->rg->path);
	else if (off >= vol->sb.s_meta_end ||
		 len > vol->sb.s_meta_end - off)
		r = hfs_err_set(err, -ERANGE, "%s: bytes %#" PRIx64 "+%#"
				PRIx64 " are not all device 0's metadata",
				vol->rg->path, off, len);
	else {
		hfs_health_quiesce(true);
		r = hfs_region_serve_from_mirror(vol->rg, off, len, soff, slen,
						 err);
		hfs_health_quiesce(false);
	}
	if (!r) {
		r = hfs_badlist_add_locked(vol, *soff, *slen);
		if (!r)
			r = hfs_tx_commit(vol, &vol->tx);
		else
			hfs_tx_abort(&vol->tx);
		if (r) {
			hfs_err_set(err, r, "%s: served from the mirror, but "
				    "not recorded in the bad-extent list (%s): "
				    "a later mount reads device 0's copy there",
				    vol->rg->path, strerror(-r));
			r = 1;
		}
	}
	pthread_mutex_unlock(&vol->lock);
	return r;
}

/*
 * Mount: the ranges of device 0's metadata recorded poisoned (bad-extent
 * entries below s_meta_end) are the mirror's.  Their bytes on device 0
 * are what they were when the media error came, so the mirror's are
 * copied back over them first (a drill's simulated poison is gone after
 * a restart, and a write may clear real poison: then device 0 is a true
 * copy again, which is what fsck compares), and the range is served
 * from the mirror all the same (a read of real poison would fault).
 * Runs before the inode table, the metadata zone and the data-path slots
 * are loaded; the superblock, the device table, the journal, the health
 * log and the list itself were read before (from the mirror where
 * device 0's copy fails its check: mirror_heal.c).  Best effort: what
 * cannot be served is logged, and the mount goes on with device 0's
 * copy as before.
 */
struct store {
	struct hfs_region *rg;
	uint64_t off, len, moff;
};

static int do_store(void *arg)
{
	struct store *k = arg;

	k->rg->ops.memcpy(k->rg->base + k->off, k->rg->base + k->moff + k->off,
			  k->len, 0); /* 0: persist */
	return 0;
}

/* Copy the mirror's bytes [off, off + len) onto device 0's (mapped
 * there, not served): stores, guarded, as a write would be.  A store
 * does not consume poison (a drill's simulated poison is the daemon's
 * reads only), so it lands; whether a read of it still faults is the
 * next mount's to find out (rewrite_device0).  The write goes through
 * the mirror wrapper, which copies the same bytes onto the mirror:
 * nothing changes there. */
static int store_device0(struct hfs_vol *vol, uint64_t moff, uint64_t off,
			 uint64_t len)
{
	struct store k = { vol->rg, off, len, moff };
	struct hfs_fault f = { 0 };

	return hfs_region_guard(vol->rg, do_store, &k, &f);
}

/* The same at mount, read back: true if device 0 now holds the mirror's
 * bytes (a drill's simulated poison is gone after a restart; a write
 * may clear real poison). */
static bool rewrite_device0(struct hfs_vol *vol, uint64_t moff, uint64_t off,
			    uint64_t len)
{
	uint8_t a[4096];
	struct hfs_fault f = { 0 };

	if (store_device0(vol, moff, off, len))
		return false;
	for (uint64_t o = off; o < off + len; o += sizeof(a)) {
		size_t l = off + len - o < sizeof(a) ? off + len - o : sizeof(a);

		if (hfs_region_read(vol->rg, o, a, l, &f) ||
		    memcmp(a, vol->rg->base + moff + o, l))
			return false;
	}
	return true;
}

void hfs_vol_serve_recorded(struct hfs_vol *vol)
{
	uint64_t mlen, moff, end = vol->sb.s_meta_end;

	if (vol->from_mirror || vol->readonly || !vol->devtab.t_mirror_dev ||
	    !hfs_region_mirrored(vol->rg, &mlen, &moff) || mlen < end)
		return;
	for (uint32_t i = 0; i < vol->nbad && vol->bad[i].bx_off < end; i++) {
		uint64_t off = vol->bad[i].bx_off, len = vol->bad[i].bx_len;
		struct hfs_err err = { 0 };
		uint64_t s, l;

		if (len > end - off)
			len = end - off;
		if (rewrite_device0(vol, moff, off, len)) {
			vol->served_rewritten++;
			continue; /* two good copies again */
		}
		if (hfs_region_serve_from_mirror(vol->rg, off, len, &s, &l,
						 &err) < 0)
			vol->serve_failed++;
	}
}

/* Unmount (vol->lock held): the ranges served from the mirror are
 * device 0's again, rewritten from the mirror, so that device 0 is a
 * true copy for fsck and the next mount (which does the same again:
 * hfs_vol_serve_recorded).  Where that fails, device 0's bytes there
 * are older than the mirror's until the next mount rewrites them. */
void hfs_vol_unserve(struct hfs_vol *vol)
{
	const struct hfs_region *rg = vol->rg;
	unsigned n = atomic_load_explicit(&vol->rg->nserved,
					  memory_order_acquire);
	struct { uint64_t off, len; } v[HFS_SERVED_MAX];
	struct hfs_err err = { 0 };
	uint64_t mlen, moff;

	if (!n || vol->from_mirror || !hfs_region_mirrored(rg, &mlen, &moff))
		return;
	for (unsigned i = 0; i < n; i++) {
		v[i].off = rg->served[i].off;
		v[i].len = rg->served[i].len;
	}
	hfs_health_quiesce(true);
	if (hfs_region_unserve(vol->rg, &err) < 0) {
		hfs_health_quiesce(false);
		hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, v[0].off, v[0].len,
			       0, "poisoned metadata not mapped back: device "
			       "0 older there");
		return;
	}
	hfs_health_quiesce(false);
	for (unsigned i = 0; i < n; i++)
		if (store_device0(vol, moff, v[i].off, v[i].len))
			hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, v[i].off,
				       v[i].len, 0, "poisoned metadata not "
				       "rewritten at unmount: device 0 older");
}

/* The health records of hfs_vol_serve_recorded (the log is written
 * only once the mount has found its end: log_mount). */
void hfs_vol_serve_log(struct hfs_vol *vol)
{
	const struct hfs_region *rg = vol->rg;
	unsigned n = atomic_load_explicit(&((struct hfs_region *)rg)->nserved,
					  memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, rg->served[i].off,
			       rg->served[i].len, 0, "device 0 poisoned: metadata "
			       "served from the mirror (one copy)");
	if (vol->served_rewritten)
		hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, 0, 0, 0,
			       "poisoned metadata rewritten from the mirror: "
			       "two copies");
	if (vol->serve_failed)
		hfs_health_log(vol, HFS_HEALTH_MEDIA_ERROR, 0, 0, 0,
			       "device 0 poisoned; the mirror's copy could "
			       "not be mapped there");
}
