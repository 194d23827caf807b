/* SPDX-License-Identifier: MIT */
/*
 * Lease mapping: the extent list a DAX lease hands to a client
 * (docs/lease-protocol.md).  Write leases get their holes allocated
 * first, through hfs_fallocate(KEEP_SIZE) so the allocation is one
 * journal transaction and the fill hook remaps read leases of those
 * holes; the list is then read, and published to the caller's lease
 * table, under the inode's I/O lock and the volume lock, so a release
 * of any of these blocks afterwards always finds the lease.
 */
#include <errno.h>
#include <linux/falloc.h>

#include <holdfs/proto.h>

#include "dslot_i.h"
#include "extent_i.h"
#include "inode_i.h"
#include "vol.h"
#include "vol_i.h"

#define LEASE_ALLOC_TRIES 4

/* How far a lease of ip may reach: the end of file rounded up to the
 * unit (as everyone sees it), or the data-path slot's limit (blocks
 * reserved past EOF for an extend lease) if further. */
static uint64_t lease_end(const struct hfs_vol *vol, const struct hfs_inode *ip)
{
	uint64_t ub = vol->unit_blocks * HFS_BLOCK_SIZE;
	uint64_t end = (hfs_dslot_size(vol, ip) + ub - 1) / ub * ub;
	uint64_t lim = hfs_dslot_limit(vol, ip);

	return lim > end ? lim : end;
}

/* Extents of [lblk, lblk+nblk) into out; *holes counts hole extents. */
static int collect(const struct hfs_inode *ip, uint64_t lblk, uint64_t nblk,
		   struct hfs_lease_extent *out, uint32_t max, uint32_t *n,
		   uint32_t *holes)
{
	uint64_t end = lblk + nblk;
	uint32_t i = hfs_emap_find(&ip->em, lblk);

	*n = 0;
	*holes = 0;
	while (lblk < end) {
		const struct hfs_extent *e = i < ip->em.n ? &ip->em.v[i] : NULL;
		struct hfs_lease_extent x = { 0 };
		uint64_t stop;

		if (!e || e->e_lblk > lblk) {
			stop = e && e->e_lblk < end ? e->e_lblk : end;
			x.file_off = lblk * HFS_BLOCK_SIZE;
			x.len = (stop - lblk) * HFS_BLOCK_SIZE;
			x.flags = HFS_LEXT_HOLE;
			(*holes)++;
		} else {
			if (e->e_flags & HFS_EXT_LOST)
				return -EIO;
			stop = e->e_lblk + e->e_len < end ? e->e_lblk + e->e_len
							  : end;
			x.file_off = lblk * HFS_BLOCK_SIZE;
			x.region_off = (e->e_pblk + (lblk - e->e_lblk)) *
				       HFS_BLOCK_SIZE;
			x.len = (stop - lblk) * HFS_BLOCK_SIZE;
			i++;
		}
		if (*n >= max)
			return -E2BIG;
		out[(*n)++] = x;
		lblk = stop;
	}
	return 0;
}

uint64_t hfs_lease_reach(struct hfs_vol *vol, uint64_t ino, bool past_eof)
{
	uint64_t ub = vol->unit_blocks * HFS_BLOCK_SIZE;
	struct hfs_inode *ip;
	uint64_t end = 0;

	if (hfs_vol_lock(vol, false))
		return 0;
	ip = hfs_iget(vol, ino);
	if (ip && S_ISREG(ip->d.i_mode))
		end = past_eof ? lease_end(vol, ip)
			       : (hfs_dslot_size(vol, ip) + ub - 1) / ub * ub;
	hfs_vol_unlock(vol);
	return end;
}

int hfs_lease_extents(struct hfs_vol *vol, uint64_t ino, uint64_t off,
		      uint64_t len, unsigned mode, struct hfs_lease_extent *out,
		      uint32_t max, uint32_t *n,
		      int (*publish)(void *ctx,
				     const struct hfs_lease_extent *ext,
				     uint32_t n),
		      void *ctx)
{
	uint64_t ub = vol->unit_blocks * HFS_BLOCK_SIZE;
	bool alloc = mode & HFS_LMAP_ALLOC;
	struct hfs_inode *ip;
	uint32_t holes;
	int ret;

	if (len == 0 || off % ub || len % ub || off >= HFS_MAX_FILE_SIZE ||
	    len > HFS_MAX_FILE_SIZE - off)
		return -EINVAL;
	for (int tries = 0;; tries++) {
		/* allocate outside the locks (fallocate takes them and calls
		 * the fill hook, which may wait for REMAP acks) */
		if (alloc) {
			uint64_t end = 0;

			ret = hfs_vol_lock(vol, false);
			if (ret)
				return ret;
			ip = hfs_iget(vol, ino);
			if (ip && S_ISREG(ip->d.i_mode))
				end = lease_end(vol, ip);
			hfs_vol_unlock(vol);
			if (!ip)
				return -ENOENT;
			if (off + len > end)
				return -EINVAL;
			ret = hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, off,
					    len);
			if (ret)
				return ret;
		}
		ret = hfs_vol_lock(vol, alloc);
		if (ret)
			return ret;
		/* pinned: the caller holds an open descriptor of the file */
		ip = hfs_iget(vol, ino);
		hfs_vol_unlock(vol);
		if (!ip)
			return -ENOENT;
		if (!S_ISREG(ip->d.i_mode))
			return -EINVAL;
		/* lock order: inode before volume */
		pthread_rwlock_rdlock(&ip->iolock);
		ret = hfs_vol_lock(vol, alloc);
		if (ret) {
			pthread_rwlock_unlock(&ip->iolock);
			return ret;
		}
		if ((mode & HFS_LMAP_WRITE) &&
		    (ip->d.i_flags & (HFS_IF_IMMUTABLE | HFS_IF_APPEND)))
			ret = -EPERM; /* chattr +i/+a (iflags.c) */
		else if (!(mode & HFS_LMAP_ANY_END) &&
			 off + len > lease_end(vol, ip))
			ret = -EINVAL; /* leases never extend a file */
		else
			ret = collect(ip, off / HFS_BLOCK_SIZE,
				      len / HFS_BLOCK_SIZE, out, max, n, &holes);
		if (!ret && alloc && holes) {
			/* punched between fallocate and here: again */
			ret = tries < LEASE_ALLOC_TRIES ? -EAGAIN : -EBUSY;
		}
		if (!ret && publish)
			ret = publish(ctx, out, *n);
		hfs_vol_unlock(vol);
		pthread_rwlock_unlock(&ip->iolock);
		if (ret != -EAGAIN)
			return ret;
	}
}
