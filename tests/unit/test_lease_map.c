/* SPDX-License-Identifier: MIT */
/*
 * The volume side of the DAX path: hfs_lease_extents (extent lists,
 * allocation of holes, range checks, publish under the volume lock) and
 * the release/fill hooks (blocks kept back until the daemon frees them;
 * fills reported with no lock held).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <holdfs/proto.h>

#include "mkfs.h"
#include "inode_i.h"
#include "vol_i.h"

#include "check.h"

#define REGION_SIZE (64u << 20)

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

struct hook_state {
	struct hfs_vol *vol;
	bool keep;
	uint64_t kept, kept_pblk, pieces, ino, lblk;
	uint64_t pp[16], pn[16];  /* kept pieces */
	uint64_t fills, fill_ino, fill_off, fill_len;
	int fill_lock;      /* trylock result inside the fill hook */
	int publish_lock;   /* trylock result inside publish */
};

static bool release_cb(void *ctx, uint64_t pblk, uint64_t n, uint64_t ino,
		       uint64_t lblk, bool data)
{
	struct hook_state *h = ctx;

	if (!data || !h->keep)
		return false;
	if (h->pieces < 16) {
		h->pp[h->pieces] = pblk;
		h->pn[h->pieces] = n;
	}
	if (!h->pieces++) {
		h->kept_pblk = pblk;
		h->ino = ino;
		h->lblk = lblk;
	}
	h->kept += n;
	return true;
}

static void fill_cb(void *ctx, uint64_t ino, uint64_t off, uint64_t len)
{
	struct hook_state *h = ctx;

	h->fills++;
	h->fill_ino = ino;
	h->fill_off = off;
	h->fill_len = len;
	h->fill_lock = pthread_mutex_trylock(&h->vol->lock);
	if (!h->fill_lock)
		pthread_mutex_unlock(&h->vol->lock);
}

static int publish_cb(void *ctx, const struct hfs_lease_extent *e, uint32_t n)
{
	struct hook_state *h = ctx;

	(void)e;
	(void)n;
	h->publish_lock = pthread_mutex_trylock(&h->vol->lock);
	if (!h->publish_lock)
		pthread_mutex_unlock(&h->vol->lock);
	return 0;
}

static uint64_t free_blocks(struct hfs_vol *vol)
{
	struct statvfs st;

	hfs_statfs(vol, &st);
	return st.f_bfree;
}

int main(void)
{
	void *mem = calloc(1, REGION_SIZE);
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t" };
	struct hfs_vol *vol = NULL;
	struct hook_state hs = { 0 };
	struct hfs_vol_hooks hooks = { .release = release_cb, .fill = fill_cb,
				       .ctx = &hs };
	struct hfs_lease_extent ext[64];
	struct hfs_setattr sa = { 0 };
	struct hfs_attr a;
	uint64_t u, ino, f0;
	uint32_t n = 0;
	char buf[4096];
	int ret;

	if (!mem || hfs_region_from_memory(mem, REGION_SIZE, &rg) ||
	    hfs_mkfs(rg, &o, &res, &err) ||
	    hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	hs.vol = vol;
	u = hfs_vol_alloc_unit(vol);
	CHECK_EQ(hfs_mknod(vol, HFS_ROOT_INO, "f", S_IFREG | 0644, 0, &root_cred,
			   &a), 0);
	ino = a.ino;
	CHECK_EQ(hfs_open(vol, ino), 0);
	/* 8 units: [data unit][hole x 7] */
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ(hfs_write(vol, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	sa.mask = HFS_SET_SIZE;
	sa.size = 8 * u;
	CHECK_EQ(hfs_setattr(vol, ino, &sa, &a), 0);

	/* read: data then one hole, publish under the volume lock */
	ret = hfs_lease_extents(vol, ino, 0, 8 * u, false, ext, 64, &n,
				publish_cb, &hs);
	CHECK_EQ(ret, 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(ext[0].flags, 0);
	CHECK_EQ(ext[0].len, u);
	CHECK_EQ(ext[1].flags, HFS_LEXT_HOLE);
	CHECK_EQ(ext[1].file_off, u);
	CHECK_EQ(ext[1].len, 7 * u);
	CHECK_EQ(hs.publish_lock, EBUSY);
	/* range checks */
	CHECK_EQ(hfs_lease_extents(vol, ino, 1, u, false, ext, 64, &n, NULL,
				   NULL), -EINVAL);
	CHECK_EQ(hfs_lease_extents(vol, ino, 0, 0, false, ext, 64, &n, NULL,
				   NULL), -EINVAL);
	CHECK_EQ(hfs_lease_extents(vol, ino, 0, 9 * u, true, ext, 64, &n, NULL,
				   NULL), -EINVAL);
	CHECK_EQ(hfs_lease_extents(vol, ino, 0, 8 * u, false, ext, 1, &n, NULL,
				   NULL), -E2BIG);

	/* write lease: holes allocated and zeroed, fill hook told */
	hfs_vol_set_hooks(vol, &hooks);
	f0 = free_blocks(vol);
	ret = hfs_lease_extents(vol, ino, 0, 8 * u, true, ext, 64, &n, NULL,
				NULL);
	CHECK_EQ(ret, 0);
	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(ext[i].flags, 0);
	CHECK_EQ(f0 - free_blocks(vol), 7 * u / 4096);
	CHECK_EQ(hs.fills, 1);
	CHECK_EQ(hs.fill_ino, ino);
	CHECK_EQ(hs.fill_len, 8 * u);
	CHECK_EQ(hs.fill_lock, 0); /* called with no lock held */
	CHECK_EQ(hfs_read(vol, ino, buf, sizeof(buf), 3 * u), (ssize_t)sizeof(buf));
	CHECK_EQ(buf[0] | buf[4095], 0);
	CHECK_EQ(hfs_getattr(vol, ino, &a), 0);
	CHECK_EQ(a.size, 8 * u); /* a lease never extends the file */

	/* release hook keeps the blocks until hfs_vol_free_blocks */
	hs.keep = true;
	f0 = free_blocks(vol);
	sa.size = 0;
	CHECK_EQ(hfs_setattr(vol, ino, &sa, &a), 0);
	CHECK_EQ(free_blocks(vol), f0);
	CHECK_EQ(hs.kept, 8 * u / 4096);
	CHECK_EQ(hs.ino, ino);
	/* the blocks are out of the rmap and not reusable */
	{
		struct hfs_inode *ip;
		uint64_t got;
		int64_t b;

		pthread_mutex_lock(&vol->lock);
		ip = hfs_iget(vol, ino);
		CHECK_EQ(ip->em.n, 0);
		for (uint64_t i = 0; i < hs.pieces && i < 16; i++) {
			b = hfs_alloc_get(&vol->alloc, 1, 1, 1, hs.pp[i], &got);
			CHECK_EQ(b >= (int64_t)hs.pp[i] &&
				 b < (int64_t)(hs.pp[i] + hs.pn[i]), 0);
			hfs_alloc_put(&vol->alloc, (uint64_t)b, got);
		}
		pthread_mutex_unlock(&vol->lock);
	}
	/* the daemon frees them after revocation */
	for (uint64_t i = 0; i < hs.pieces && i < 16; i++)
		hfs_vol_free_blocks(vol, hs.pp[i], hs.pn[i]);
	CHECK_EQ(free_blocks(vol), f0 + hs.kept);

	/* a write into a hole reports the fill */
	hs.fills = 0;
	CHECK_EQ(hfs_write(vol, ino, buf, sizeof(buf), 2 * u), (ssize_t)sizeof(buf));
	CHECK_EQ(hs.fills, 1);
	CHECK_EQ(hs.fill_off, 2 * u);
	CHECK_EQ(hs.fill_len, sizeof(buf));
	/* an in-place overwrite does not */
	CHECK_EQ(hfs_write(vol, ino, buf, sizeof(buf), 2 * u), (ssize_t)sizeof(buf));
	CHECK_EQ(hs.fills, 1);

	hfs_vol_set_hooks(vol, NULL);
	hfs_release(vol, ino);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
	if (failures) {
		fprintf(stderr, "test_lease_map: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_lease_map: ok\n");
	return 0;
}
