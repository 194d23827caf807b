/* SPDX-License-Identifier: MIT */
/*
 * DAX leases on a volume of several devices (docs/lease-protocol.md,
 * "Volumes of several devices").
 *
 * Extents, the rmap and the lease table all speak volume offsets; a
 * client can only mmap a descriptor of one device.  So a client gets,
 * before the LEASE_OK of its first lease that needs a protection, one
 * MEMBER message per device in service (its volume span and a fresh
 * descriptor of it opened for that protection), and maps each extent
 * from the device whose span holds it.  Every descriptor is the
 * client's own open file description (as the region's is on one
 * device), so holder_scan.c can still tell who holds it.
 *
 * Never handed out: a descriptor of a lost or retired device; an extent
 * outside the span of a device in service whose descriptor the client
 * holds for the lease's protection (the grant is refused EIO).  Ring
 * thread, except hfsd_members_check (under the volume lock, touches
 * only the region's fixed member table and the client's descriptors,
 * which only the ring thread changes).
 */
#include "lease_i.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_send.h"

bool hfsd_members_multi(const struct hfsd_ctl *c)
{
	return hfs_region_nmembers(c->d->rg) > 1;
}

int *hfsd_member_fds(struct hfsd_client *cl, unsigned i)
{
	return i == 0 ? cl->region_fd : cl->member_fd[i];
}

/* A fresh open file description of device i, for writing if w. */
static int open_member(struct hfsd_ctl *c, unsigned i, bool w)
{
	const struct hfs_region *m = hfs_region_member(c->d->rg, i);
	char p[64];
	int src = i == 0 ? (w ? c->region_rw : c->region_ro) : m ? m->fd : -1;

	if (src < 0)
		return -EIO;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", src);
	src = open(p, (w ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	return src < 0 ? -errno : src;
}

/* A range of device 0's metadata served from the mirror (a media error
 * there: fail_failover.c) overlaps the data-path slots: a client maps
 * its slot through its own descriptor of device 0, which shows the
 * poisoned page, not the mirror's. */
static bool slots_served(struct hfsd_ctl *c)
{
	const struct hfs_region *rg = c->d->rg;
	unsigned n = atomic_load_explicit(&((struct hfs_region *)rg)->nserved,
					  memory_order_acquire);
	uint64_t so, se;
	uint32_t cnt;

	if (!n)
		return false;
	hfs_vol_dslot_area(c->d->vol, &so, &cnt);
	se = so + (uint64_t)cnt * HFS_DSLOT_SIZE;
	for (unsigned i = 0; i < n; i++)
		if (cnt && rg->served[i].off < se &&
		    so < rg->served[i].off + rg->served[i].len)
			return true;
	return false;
}

int hfsd_members_open(struct hfsd_ctl *c, struct hfsd_client *cl, bool w,
		      struct hfsd_member_pass *p)
{
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(c->d->vol, dv, HFS_MEMBERS_MAX);
	int k = w ? 1 : 0;

	memset(p, 0, sizeof(*p));
	p->w = w;
	if (n > hfs_region_nmembers(c->d->rg))
		n = hfs_region_nmembers(c->d->rg);
	for (unsigned i = 0; i < n; i++) {
		int *fds = hfsd_member_fds(cl, i), fd;

		/* in service and mapped: a descriptor of a lost device is
		 * never sent (its file may be gone or someone else's) */
		if (dv[i].state != HFS_DEV_ACTIVE ||
		    !hfs_region_member(c->d->rg, i) ||
		    !hfs_region_member_size(c->d->rg, i))
			continue;
		p->active |= 1u << i;
		if (fds[1] >= 0 || fds[k] >= 0)
			continue;
		fd = open_member(c, i, w);
		if (fd < 0) {
			hfsd_members_undo(cl, p);
			return fd;
		}
		fds[k] = fd;
		p->idx[p->n++] = i;
	}
	/* device 0 carries the metadata and the data-path slots: without
	 * it (or with its slots poisoned) nothing can be mapped */
	if (!(p->active & 1u) || slots_served(c)) {
		hfsd_members_undo(cl, p);
		return -EIO;
	}
	return 0;
}

void hfsd_members_undo(struct hfsd_client *cl, struct hfsd_member_pass *p)
{
	int k = p->w ? 1 : 0;

	for (unsigned j = 0; j < p->n; j++) {
		int *fds = hfsd_member_fds(cl, p->idx[j]);

		close(fds[k]);
		fds[k] = -1;
	}
	p->n = 0;
}

void hfsd_members_send(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const struct hfsd_member_pass *p, uint64_t req_id)
{
	int k = p->w ? 1 : 0;

	for (unsigned j = 0; j < p->n; j++) {
		unsigned i = p->idx[j];
		struct hfs_msg_member m;

		memset(&m, 0, sizeof(m));
		hfsd_msg_init(&m.h, HFS_MSG_MEMBER, sizeof(m), req_id);
		m.index = i;
		m.prot = p->w ? HFS_PROT_READ | HFS_PROT_WRITE : HFS_PROT_READ;
		m.base = hfs_region_member_off(c->d->rg, i);
		m.size = hfs_region_member_size(c->d->rg, i);
		hfsd_ctl_send(c, cl, &m, sizeof(m), hfsd_member_fds(cl, i)[k]);
	}
}

int hfsd_members_check(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const struct hfsd_member_pass *p,
		       const struct hfs_lease_extent *ext, uint32_t n)
{
	const struct hfs_region *rg = c->d->rg;
	int k = p->w ? 1 : 0;

	for (uint32_t j = 0; j < n; j++) {
		const struct hfs_lease_extent *e = &ext[j];
		int i;
		uint64_t base, size;
		int *fds;

		if (e->flags & HFS_LEXT_HOLE)
			continue;
		i = hfs_region_member_of(rg, e->region_off);
		if (i < 0 || !(p->active & (1u << i)))
			return -EIO; /* data on a device lost or retired */
		base = hfs_region_member_off(rg, (unsigned)i);
		size = hfs_region_member_size(rg, (unsigned)i);
		fds = hfsd_member_fds(cl, (unsigned)i);
		if (e->len > size - (e->region_off - base) ||
		    (fds[1] < 0 && fds[k] < 0)) {
			hfsd_log(LOG_ERR, "control: lease extent at volume "
				 "offset %#" PRIx64 " (+%" PRIu64 ") leaves "
				 "device %d or was not opened for the client; "
				 "refused", e->region_off, e->len, i);
			return -EIO;
		}
	}
	return 0;
}
