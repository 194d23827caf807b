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
#include <inttypes.h>
#include <signal.h>
#include <string.h>

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
	pthread_mutex_unlock(&vol->lock);
}
