/* SPDX-License-Identifier: MIT */
/*
 * Device 0 of a volume of several lost while mounted
 * (docs/failure-model.md, "Several devices"): with a working mirror of
 * its metadata the volume goes on from the mirror, without one it is
 * the volume's loss as for a single region.
 *
 * Every source of device 0's loss (its region file, its device-dax's
 * uevents and sysfs, a SIGBUS whose backing is gone: fail_sources.c)
 * comes here.  The order:
 *
 *   1. the switch (hfs_vol_fail_over: the mirror mapped in device 0's
 *      place under the volume lock; a journal commit that faulted on
 *      device 0 may have made it already, lib/vol_failover.c);
 *   2. device 0 recorded lost in the device table (now in the mirror),
 *      first, so that placement stops choosing it at once and no DAX
 *      lease is granted any more;
 *   3. every DAX lease revoked (clients map the data-path slots, which
 *      live in device 0's metadata, through their own descriptor of
 *      device 0: theirs is dead now, and no lease is granted again
 *      while the metadata is the mirror's);
 *   4. a range failure over device 0's file data, as for any other
 *      device: its files' pieces marked lost, the bad-extent list, the
 *      health log.
 *
 * From then on the metadata has one copy: the mirror's device is the
 * volume (its loss shuts it down: fail_members.c), device 0's own
 * sources are not listened to any more (the same loss reported twice
 * changes nothing), and faults on device 0's data range are the lost
 * files' (they read EIO anyway).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "failure_i.h"

void hfsd_fail_device0(struct hfsd_fail *f, unsigned flags, const char *source)
{
	struct hfs_vol_failover fo = { 0 };
	struct hfs_vol_metadata md;
	struct hfs_err err = { 0 };
	struct hfsd_fail_event *e;
	char msg[72];
	int r;

	if (f->dev0_lost)
		return; /* the same loss, seen by another source */
	if (f->shutdown) {
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE | flags,
				    source); /* recorded as ignored */
		return;
	}
	hfs_vol_metadata(f->d->vol, &md);
	if (md.from_mirror && !md.live) {
		/* mounted from the mirror: "device 0" is the mirror's slice
		 * of its device, the last copy of the metadata (a commit's
		 * switch while mounted is md.live, and goes on below) */
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE | flags,
				    source);
		return;
	}
	r = hfs_vol_fail_over(f->d->vol, &fo, &err);
	if (r < 0) {
		if (r != -ENODEV || hfs_region_nmembers(f->d->rg) > 1)
			hfsd_log(LOG_CRIT, "failure: device 0 lost (%s) and the "
				 "volume cannot go on from a mirror: %s",
				 source, err.code ? err.msg : strerror(-r));
		hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE | flags,
				    source);
		return;
	}
	f->dev0_lost = true;
	f->dev0_data_off = fo.data_off;
	if (r > 0)
		hfsd_log(LOG_WARNING, "failure: %s", err.msg);
	hfsd_log(LOG_CRIT, "failure: device 0 of the volume (%s) lost: %s; "
		 "its metadata is served from its mirror on device %u from "
		 "now on (one copy left%s), its files' data is lost",
		 f->d->region_path, source, fo.mirror_dev, fo.already
		 ? "; a journal commit that faulted there switched first and "
		   "was finished on the mirror" : "");
	e = hfsd_fail_record(f, 0, fo.data_off + fo.data_len, flags, source);
	snprintf(msg, sizeof(msg), "device 0 lost; metadata served from its "
		 "mirror on device %u", fo.mirror_dev);
	if (hfs_vol_health_note(f->d->vol, true, 0, fo.data_off + fo.data_len,
				msg) < 0)
		hfsd_log(LOG_WARNING, "failure: health log not writable");
	r = hfs_vol_device_state(f->d->vol, 0, HFS_DEV_LOST);
	if (r < 0)
		hfsd_log(LOG_ERR, "failure: device 0: cannot record it lost in "
			 "the device table: %s", strerror(-r));
	/* every lease: each client maps the data-path slots (and device
	 * 0's extents) through its own descriptor of device 0, which is
	 * gone; with device 0 recorded lost no lease is granted again
	 * (lease_members.c) */
	hfsd_fail_revoke_all(f);
	hfsd_fail_set_outcome(f, e, "failover: metadata served from the mirror "
			      "on device %u (one copy left)%s; device 0's file "
			      "data failed next", fo.mirror_dev,
			      r < 0 ? "; not recorded lost in the table" : "");
	if (fo.data_len)
		hfsd_notify_failure(f, fo.data_off, fo.data_len, 0, source);
}

bool hfsd_fail_device0_fault(struct hfsd_fail *f, uint64_t off)
{
	if (hfs_region_member_of(f->d->rg, off) != 0)
		return false;
	if (!f->dev0_lost && hfs_region_failed_over(f->d->rg)) {
		/* a journal commit that faulted on device 0 switched to the
		 * mirror already (lib/vol_failover.c): this is device 0's
		 * loss, which the rest of the steps still wait for (the
		 * backing check would now look at the mirror's device) */
		hfsd_fail_device0(f, 0, "sigbus (backing gone)");
		return true;
	}
	if (!f->dev0_lost)
		return false;
	if (off >= f->dev0_data_off)
		return true; /* a lost file's data: failed already */
	if (hfs_region_check_member_backing(f->d->rg, 0) != -ENXIO) {
		hfsd_log(LOG_WARNING, "failure: SIGBUS at %#" PRIx64 " (the "
			 "mirror serving device 0's metadata) but its device "
			 "is intact; ignored", off);
		return true;
	}
	hfsd_notify_failure(f, 0, 0, HFS_FAIL_WHOLE_DEVICE,
			    "sigbus (mirror's device gone)");
	return true;
}

/* Does [off, off + len) overlap the data-path slot area? */
static bool overlaps_slots(struct hfsd_fail *f, uint64_t off, uint64_t len)
{
	uint64_t so;
	uint32_t n;

	hfs_vol_dslot_area(f->d->vol, &so, &n);
	return n && off < so + (uint64_t)n * HFS_DSLOT_SIZE && so < off + len;
}

bool hfsd_fail_device0_poison(struct hfsd_fail *f, struct hfsd_fail_event *e)
{
	struct hfs_vol_metadata md;
	struct hfs_err err = { 0 };
	uint64_t s, l;
	char msg[72];
	int r;

	hfs_vol_metadata(f->d->vol, &md);
	if (f->dev0_lost || !(e->flags & HFS_FAIL_MEDIA) || !md.mirror_dev ||
	    e->off >= md.meta_end || e->len > md.meta_end - e->off)
		return false;
	r = hfs_vol_serve_from_mirror(f->d->vol, e->off, e->len, &s, &l, &err);
	if (r < 0) {
		hfsd_log(LOG_ERR, "failure: media error in device 0's metadata "
			 "area at %#" PRIx64 "+%#" PRIx64 ", which cannot be "
			 "served from the mirror: %s; handled as on one copy",
			 e->off, e->len, err.code ? err.msg : strerror(-r));
		return false;
	}
	if (r > 0)
		hfsd_log(LOG_ERR, "failure: %s", err.msg);
	hfsd_log(LOG_CRIT, "failure: media error in device 0's metadata at "
		 "%#" PRIx64 "+%#" PRIx64 "; bytes %#" PRIx64 "+%#" PRIx64
		 " are served from the mirror on device %u from now on (one "
		 "copy of them left)", e->off, e->len, s, l, md.mirror_dev);
	snprintf(msg, sizeof(msg), "device 0 poisoned; metadata there served "
		 "from the mirror");
	if (hfs_vol_health_note(f->d->vol, false, s, l, msg) < 0)
		hfsd_log(LOG_WARNING, "failure: health log not writable");
	/* clients map the data-path slots through their own descriptor of
	 * device 0: a slot in the range is the poisoned page to them, and
	 * the daemon no longer reads it there.  Every lease goes (which
	 * slot a lease has is the lease table's; all of them is simple and
	 * rare), and no lease is granted again (lease_members.c). */
	if (overlaps_slots(f, s, l))
		hfsd_fail_revoke_all(f);
	hfsd_fail_set_outcome(f, e, "served from the mirror: device 0's "
			      "metadata at %#" PRIx64 "+%#" PRIx64 " has one "
			      "copy (the mirror's on device %u)%s%s", s, l,
			      md.mirror_dev, overlaps_slots(f, s, l)
			      ? "; every lease revoked (data-path slots there)"
			      : "", r > 0 ? "; not in the bad-extent list" : "");
	return true;
}
