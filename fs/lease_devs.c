/* SPDX-License-Identifier: MIT */
/*
 * Which leases map which device of a volume of several (lease_i.h): one
 * list per device, of a node per (lease, device it maps), so that losing
 * a device finds the leases to revoke in O(leases on that device) --
 * before the lost range is classified, without the rmap, and whatever
 * the number of leases and files elsewhere (docs/failure-model.md,
 * "Several devices").
 *
 * The lists may say more than the extents do (a lease whose range on a
 * device was revoked stays on that device's list until it goes), never
 * less: a lease is listed on a device before any of its extents there
 * is published (grant, REMAP), under ctl->lock.  The revocation checks
 * each candidate's extents against the lost range, so a spare entry
 * costs a look and nothing else.  A node that cannot be allocated marks
 * the index short for good: the device's loss then takes the leases
 * from the classification, as a range failure does.
 */
#include "lease_i.h"

#include <stdlib.h>

/* Device i's list gets l (not on it yet): false when out of memory. */
static bool link_dev(struct hfsd_ctl *c, struct hfsd_lease *l, unsigned i)
{
	struct hfsd_lease_dev *n = calloc(1, sizeof(*n));

	if (!n)
		return false;
	n->l = l;
	n->dev = i;
	n->next = c->dev_leases[i];
	if (n->next)
		n->next->prev = n;
	c->dev_leases[i] = n;
	n->sib = l->devs;
	l->devs = n;
	l->devmask |= 1u << i;
	return true;
}

void hfsd_lease_devs_note_locked(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	if (!hfsd_members_multi(c))
		return;
	for (uint32_t k = 0; k < l->n; k++) {
		const struct hfs_lease_extent *e = &l->ext[k];
		int i;

		if (e->flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED))
			continue;
		i = hfs_region_member_of(c->d->rg, e->region_off);
		if (i < 0 || i >= (int)HFS_MEMBERS_MAX ||
		    (l->devmask & (1u << i)))
			continue;
		if (!link_dev(c, l, (unsigned)i))
			c->dev_index_short = true;
	}
}

void hfsd_lease_devs_forget_locked(struct hfsd_ctl *c, struct hfsd_lease *l)
{
	struct hfsd_lease_dev *n, *sib;

	for (n = l->devs; n; n = sib) {
		sib = n->sib;
		if (n->prev)
			n->prev->next = n->next;
		else
			c->dev_leases[n->dev] = n->next;
		if (n->next)
			n->next->prev = n->prev;
		free(n);
	}
	l->devs = NULL;
	l->devmask = 0;
}

bool hfsd_lease_maps_failing_locked(const struct hfsd_ctl *c,
				    const struct hfsd_lease *l)
{
	if (!c->dev_lost && c->failing_rs >= c->failing_re)
		return false;
	for (uint32_t k = 0; k < l->n; k++) {
		const struct hfs_lease_extent *e = &l->ext[k];
		int i;

		if (e->flags & (HFS_LEXT_HOLE | HFSD_LEXT_REVOKED))
			continue;
		if (e->region_off < c->failing_re &&
		    c->failing_rs < e->region_off + e->len)
			return true;
		i = hfs_region_member_of(c->d->rg, e->region_off);
		if (i >= 0 && i < (int)HFS_MEMBERS_MAX &&
		    (c->dev_lost & (1u << i)))
			return true;
	}
	return false;
}
