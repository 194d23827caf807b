/* SPDX-License-Identifier: MIT */
/*
 * Directories.
 *
 * On media a directory is an array of fixed 272-byte dentry slots in 4 KiB
 * blocks listed by its extent map (format.h).  In DRAM each directory has
 * a hash index from name to slot (O(1) lookup at any size) and a stack of
 * free slots.  Entries never move, so a slot number is a stable readdir
 * cookie even while entries are added and removed.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blocks_i.h"
#include "dir_i.h"
#include "vol_heal_i.h"
#include "extent_i.h"
#include "inode_i.h"
#include "journal_i.h"
#include "media.h"
#include "region.h"
#include "vol_i.h"

struct hfs_dir {
	struct hfs_dent **bucket;
	uint32_t nbucket;
	uint64_t count;          /* live entries */
	struct hfs_dent **slot;  /* slot -> entry (NULL = free) */
	uint32_t nslot;          /* slots on media (blocks * 15) */
	uint32_t *freev;         /* free slot stack */
	uint32_t nfree;
};

static uint32_t name_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

struct hfs_dir *hfs_dir_new(void)
{
	struct hfs_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->nbucket = 16;
	d->bucket = calloc(d->nbucket, sizeof(*d->bucket));
	if (!d->bucket) {
		free(d);
		return NULL;
	}
	return d;
}

void hfs_dir_destroy(struct hfs_dir *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->nslot; i++)
		free(d->slot[i]);
	free(d->slot);
	free(d->freev);
	free(d->bucket);
	free(d);
}

uint64_t hfs_dir_count(const struct hfs_dir *d)
{
	return d->count;
}

bool hfs_dir_full(const struct hfs_dir *d)
{
	return d->nfree == 0;
}

struct hfs_dent *hfs_dir_lookup(const struct hfs_dir *d, const char *name)
{
	return hfs_dir_lookup_n(d, name, strlen(name));
}

static int rehash(struct hfs_dir *d)
{
	uint32_t nb = d->nbucket * 2;
	struct hfs_dent **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nbucket; i++) {
		struct hfs_dent *e = d->bucket[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash % nb];
			b[e->hash % nb] = e;
		}
	}
	free(d->bucket);
	d->bucket = b;
	d->nbucket = nb;
	return 0;
}

static void index_insert(struct hfs_dir *d, struct hfs_dent *e)
{
	uint32_t b = e->hash % d->nbucket;

	e->hnext = d->bucket[b];
	d->bucket[b] = e;
	d->slot[e->slot] = e;
	d->count++;
	if (d->count > (uint64_t)d->nbucket * 3 / 4)
		rehash(d); /* on failure lookups just get slower */
}

static void index_remove(struct hfs_dir *d, struct hfs_dent *e)
{
	struct hfs_dent **pp = &d->bucket[e->hash % d->nbucket];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	d->slot[e->slot] = NULL;
	d->count--;
}

static struct hfs_dent *dent_new(const char *name, size_t len, uint64_t ino,
				 uint8_t type, uint32_t slot)
{
	struct hfs_dent *e = malloc(sizeof(*e) + len + 1);

	if (!e)
		return NULL;
	e->hnext = NULL;
	e->ino = ino;
	e->slot = slot;
	e->type = type;
	e->len = (uint16_t)len;
	e->hash = name_hash(name, len);
	memcpy(e->name, name, len);
	e->name[len] = 0;
	return e;
}

/* Make room in the DRAM arrays for nslot slots. */
static int dir_grow_mem(struct hfs_dir *d, uint32_t nslot)
{
	struct hfs_dent **s = realloc(d->slot, nslot * sizeof(*s));
	uint32_t *f;

	if (!s)
		return -ENOMEM;
	d->slot = s;
	f = realloc(d->freev, nslot * sizeof(*f));
	if (!f)
		return -ENOMEM;
	d->freev = f;
	for (uint32_t i = d->nslot; i < nslot; i++)
		s[i] = NULL;
	/* push in reverse so the lowest slot is used first */
	for (uint32_t i = nslot; i > d->nslot; i--)
		d->freev[d->nfree++] = i - 1;
	d->nslot = nslot;
	return 0;
}

/* Region offset of a slot: slot -> (file block, index) -> extent map. */
static uint64_t slot_off(const struct hfs_inode *dip, uint32_t slot)
{
	uint64_t lblk = slot / HFS_DENTRIES_PER_BLOCK;
	uint32_t i = hfs_emap_find(&dip->em, lblk);
	const struct hfs_extent *e = &dip->em.v[i];

	return (e->e_pblk + (lblk - e->e_lblk)) * HFS_BLOCK_SIZE +
	       (slot % HFS_DENTRIES_PER_BLOCK) * sizeof(struct hfs_dentry_disk);
}

static void dentry_encode(struct hfs_dentry_disk *dd, const struct hfs_dent *e)
{
	memset(dd, 0, sizeof(*dd));
	if (e) {
		dd->d_ino = e->ino;
		dd->d_name_len = e->len;
		dd->d_type = e->type;
		memcpy(dd->d_name, e->name, e->len);
	}
	dd->d_crc = hfs_crc_struct(dd, sizeof(*dd),
				   offsetof(struct hfs_dentry_disk, d_crc));
}

static int stage_slot(struct hfs_vol *vol, struct hfs_inode *dip,
		      uint32_t slot, const struct hfs_dent *e)
{
	struct hfs_dentry_disk dd;

	dentry_encode(&dd, e);
	return hfs_tx_add(&vol->tx, slot_off(dip, slot), &dd, sizeof(dd));
}

/* Add one block to the directory: allocate near the last one, stage it
 * zeroed (all slots free), update the extent map and size. */
static int dir_add_block(struct hfs_vol *vol, struct hfs_inode *dip)
{
	struct hfs_dir *d = dip->dir;
	uint64_t lblk = d->nslot / HFS_DENTRIES_PER_BLOCK, got, hint = 0;
	static const uint8_t zero[HFS_BLOCK_SIZE];
	int64_t b;
	int ret;

	if (dip->em.n) {
		const struct hfs_extent *last = &dip->em.v[dip->em.n - 1];

		hint = last->e_pblk + last->e_len;
	}
	ret = dir_grow_mem(d, d->nslot + HFS_DENTRIES_PER_BLOCK);
	if (ret)
		return ret;
	b = hfs_vol_alloc(vol, dip->ino, HFS_RMAP_DIR, lblk, 1, 1, 1, hint, &got);
	if (b < 0)
		goto undo;
	ret = hfs_emap_insert(&dip->em, lblk, (uint64_t)b, 1, 0);
	if (!ret) {
		ret = hfs_inode_stage_extents(vol, dip);
		if (ret)
			hfs_emap_remove(&dip->em, lblk, 1, NULL, NULL);
	}
	if (ret) {
		hfs_vol_release_blocks(vol, (uint64_t)b, 1);
		b = ret;
		goto undo;
	}
	dip->d.i_size = (lblk + 1) * HFS_BLOCK_SIZE;
	return hfs_tx_add(&vol->tx, (uint64_t)b * HFS_BLOCK_SIZE, zero,
			  sizeof(zero));
undo:
	d->nslot -= HFS_DENTRIES_PER_BLOCK;
	d->nfree -= HFS_DENTRIES_PER_BLOCK;
	return (int)b;
}

/* e is one of its target's names: remember it for reports (the name
 * hint of struct hfs_inode, used by hfs_vol_ino_path). */
static void hint_name(struct hfs_vol *vol, const struct hfs_inode *dip,
		      const struct hfs_dent *e)
{
	struct hfs_inode *ip = hfs_iget(vol, e->ino);

	if (ip) {
		ip->name_dir = dip->ino;
		ip->name_slot = e->slot;
	}
}

int hfs_dir_add_locked(struct hfs_vol *vol, struct hfs_inode *dip,
		       const char *name, uint64_t ino, uint8_t type)
{
	struct hfs_dir *d = dip->dir;
	struct hfs_dent *e;
	int ret;

	if (!d->nfree) {
		ret = dir_add_block(vol, dip);
		if (ret)
			return ret;
	}
	e = dent_new(name, strlen(name), ino, type, d->freev[d->nfree - 1]);
	if (!e)
		return -ENOMEM;
	d->nfree--;
	index_insert(d, e);
	hint_name(vol, dip, e);
	return stage_slot(vol, dip, e->slot, e);
}

int hfs_dir_remove_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			  struct hfs_dent *e)
{
	struct hfs_dir *d = dip->dir;
	uint32_t slot = e->slot;

	index_remove(d, e);
	free(e);
	d->freev[d->nfree++] = slot;
	return stage_slot(vol, dip, slot, NULL);
}

int hfs_dir_retarget_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			    struct hfs_dent *e, uint64_t ino, uint8_t type)
{
	e->ino = ino;
	e->type = type;
	hint_name(vol, dip, e);
	return stage_slot(vol, dip, e->slot, e);
}

struct hfs_dent *hfs_dir_slot(const struct hfs_dir *d, uint64_t slot)
{
	return slot < d->nslot ? d->slot[slot] : NULL;
}

struct hfs_dent *hfs_dir_at(const struct hfs_dir *d, uint64_t slot,
			    uint64_t *found)
{
	for (; slot < d->nslot; slot++) {
		if (d->slot[slot]) {
			*found = slot;
			return d->slot[slot];
		}
	}
	return NULL;
}

/* ------------------------------------------------------ load at mount */

/* Validate one on-media slot; returns 1 live, 0 free, -EUCLEAN bad. */
static int dentry_check(const struct hfs_dentry_disk *dd)
{
	static const struct hfs_dentry_disk zero;

	if (dd->d_ino == 0 && !memcmp(dd, &zero, sizeof(*dd)))
		return 0; /* never used since the block was added */
	if (dd->d_crc != hfs_crc_struct(dd, sizeof(*dd),
					offsetof(struct hfs_dentry_disk, d_crc)))
		return -EUCLEAN;
	if (dd->d_ino == 0)
		return 0;
	if (dd->d_name_len == 0 || dd->d_name_len > HFS_NAME_MAX ||
	    memchr(dd->d_name, '/', dd->d_name_len) ||
	    memchr(dd->d_name, 0, dd->d_name_len))
		return -EUCLEAN;
	return 1;
}

int hfs_dir_load(struct hfs_vol *vol, struct hfs_inode *dip, uint64_t *bad)
{
	uint64_t nblk = hfs_emap_blocks(&dip->em);
	uint8_t *blk = malloc(HFS_BLOCK_SIZE);
	struct hfs_dir *d = hfs_dir_new();
	int ret = -ENOMEM;

	if (!blk || !d || dir_grow_mem(d, (uint32_t)(nblk * HFS_DENTRIES_PER_BLOCK)))
		goto out;
	d->nfree = 0;
	dip->dir = d;
	for (uint64_t lb = 0; lb < nblk; lb++) {
		uint32_t i = hfs_emap_find(&dip->em, lb);
		const struct hfs_extent *e = &dip->em.v[i];

		ret = -EUCLEAN; /* directories have no holes */
		if (i == dip->em.n || e->e_lblk > lb)
			goto out;
		ret = hfs_vol_meta_read(vol,
					(e->e_pblk + lb - e->e_lblk) *
						HFS_BLOCK_SIZE, blk);
		if (ret)
			goto out;
		for (uint32_t k = 0; k < HFS_DENTRIES_PER_BLOCK; k++) {
			const struct hfs_dentry_disk *dd =
				(const void *)(blk + k * sizeof(*dd));
			uint32_t slot = (uint32_t)(lb * HFS_DENTRIES_PER_BLOCK + k);
			int st = dentry_check(dd);
			struct hfs_dent *de;

			if (st == 1 && !hfs_dir_lookup_n(d, dd->d_name, dd->d_name_len)) {
				de = dent_new(dd->d_name, dd->d_name_len, dd->d_ino,
					      dd->d_type, slot);
				if (!de) {
					ret = -ENOMEM;
					goto out;
				}
				index_insert(d, de);
				hint_name(vol, dip, de);
				continue;
			}
			if (st != 0)
				(*bad)++; /* bad or duplicate: fsck repairs */
			d->freev[d->nfree++] = slot;
		}
	}
	/* lowest slots first */
	for (uint32_t a = 0, b = d->nfree; a + 1 < b; a++, b--) {
		uint32_t t = d->freev[a];

		d->freev[a] = d->freev[b - 1];
		d->freev[b - 1] = t;
	}
	ret = 0;
out:
	free(blk);
	if (ret) {
		dip->dir = NULL;
		hfs_dir_destroy(d);
	}
	return ret;
}

struct hfs_dent *hfs_dir_lookup_n(const struct hfs_dir *d, const char *name,
				  size_t len)
{
	uint32_t h = name_hash(name, len);

	for (struct hfs_dent *e = d->bucket[h % d->nbucket]; e; e = e->hnext)
		if (e->hash == h && e->len == len && !memcmp(e->name, name, len))
			return e;
	return NULL;
}
