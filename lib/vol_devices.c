/* SPDX-License-Identifier: MIT */
/*
 * The devices of a mounted volume (docs/format.md "Several devices"):
 * what holdfsctl devices shows, and the one change a mount makes to the
 * device table: a device lost (or retired), journaled with both copies
 * of the table on device 0.  The copies in the other devices' headers
 * only identify them and are not rewritten.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "inode_i.h"
#include "journal_i.h"
#include "members.h"
#include "place_choice_i.h"
#include "placement_i.h"
#include "vol_i.h"

unsigned hfs_vol_devices(struct hfs_vol *vol, struct hfs_vol_device *out,
			 unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&vol->lock);
	n = vol->devtab.t_count ? vol->devtab.t_count : 1;
	for (unsigned i = 0; i < n && i < max; i++) {
		struct hfs_vol_device *o = &out[i];
		struct hfs_region *m = hfs_region_member(vol->rg, i);

		o->path = m ? m->path : "";
		o->base = hfs_region_member_off(vol->rg, i);
		o->size = hfs_region_member_size(vol->rg, i);
		if (!vol->devtab.t_count) {
			memcpy(o->uuid, vol->sb.s_uuid, 16);
			o->state = HFS_DEV_ACTIVE;
			o->role = HFS_DEV_ROLE_META | HFS_DEV_ROLE_DATA;
			o->pool_blocks = vol->sb.s_pool_blocks;
			o->free_blocks = vol->alloc.free_blocks;
			continue;
		}
		o->base = vol->devtab.t_dev[i].d_base;
		o->size = vol->devtab.t_dev[i].d_size;
		memcpy(o->uuid, vol->devtab.t_dev[i].d_uuid, 16);
		o->state = vol->devtab.t_dev[i].d_state;
		o->role = vol->devtab.t_dev[i].d_role;
		o->pool_blocks = vol->devtab.t_dev[i].d_pool_blocks;
		o->free_blocks = hfs_place_member_free(vol, i);
	}
	pthread_mutex_unlock(&vol->lock);
	return n;
}

int hfs_vol_file_devices(struct hfs_vol *vol, uint64_t ino, uint64_t *counts,
			 unsigned max)
{
	struct hfs_inode *ip;
	unsigned n;

	pthread_mutex_lock(&vol->lock);
	n = vol->devtab.t_count ? vol->devtab.t_count : 1;
	for (unsigned i = 0; i < max; i++)
		counts[i] = 0;
	ip = hfs_iget(vol, ino);
	if (!ip) {
		pthread_mutex_unlock(&vol->lock);
		return -ENOENT;
	}
	for (uint32_t i = 0; i < ip->em.n; i++) {
		const struct hfs_extent *e = &ip->em.v[i];
		int m = vol->devtab.t_count
				? hfs_place_member_of(vol, e->e_pblk) : 0;

		if (m >= 0 && (unsigned)m < max)
			counts[m] += e->e_len;
	}
	pthread_mutex_unlock(&vol->lock);
	return (int)n;
}

int hfs_vol_place_choice(struct hfs_vol *vol, uint64_t ino)
{
	struct hfs_inode *ip;
	int r;

	pthread_mutex_lock(&vol->lock);
	ip = hfs_iget(vol, ino);
	r = ip ? hfs_place_choice_get_locked(vol, ip) : -ENOENT;
	pthread_mutex_unlock(&vol->lock);
	return r;
}

int hfs_vol_device_state(struct hfs_vol *vol, unsigned i, uint32_t state)
{
	struct hfs_devtab t;
	int r;

	if (state < HFS_DEV_ACTIVE || state > HFS_DEV_RETIRED)
		return -EINVAL;
	if ((r = hfs_vol_lock(vol, true)))
		return r;
	if (!vol->devtab.t_count || i >= vol->devtab.t_count ||
	    (i == 0 && !vol->from_mirror)) {
		hfs_vol_unlock(vol);
		/* device 0 holds the metadata: "lost" only once it is
		 * served from its mirror */
		return -EINVAL;
	}
	if (vol->devtab.t_dev[i].d_state == state) {
		hfs_vol_unlock(vol);
		return 0;
	}
	t = vol->devtab;
	t.t_dev[i].d_state = state;
	t.t_gen++;
	hfs_devtab_set_crc(&t);
	r = hfs_tx_add(&vol->tx, HFS_DEVTAB_OFF, &t, sizeof(t));
	if (!r && !vol->from_mirror) /* no backup in the mirror */
		r = hfs_tx_add(&vol->tx, vol->sb.s_backup_off + HFS_DEVTAB_OFF,
			       &t, sizeof(t));
	if (!r)
		r = hfs_tx_commit(vol, &vol->tx);
	else
		hfs_tx_abort(&vol->tx);
	if (!r)
		vol->devtab = t;
	hfs_vol_unlock(vol);
	return r;
}
