/* SPDX-License-Identifier: MIT */
/*
 * The data path: read, write, truncate (setattr), fallocate, lseek,
 * copy_file_range, fsync, and the attribute and xattr entry points.
 *
 * Durability: data is copied into the region with libpmem2's memcpy,
 * which persists before returning, so write(2) data is durable when the
 * write returns.  A write that allocates or grows the file commits its
 * extent and size change in the same call; new blocks are filled (data
 * or zeros) before the transaction that links them commits, so no crash
 * can expose stale blocks.  Timestamp-only changes of in-place writes are
 * journaled at fsync, close, or unmount (docs/architecture.md).
 *
 * Bytes past EOF inside the last allocation unit are zero at every size
 * change (eof_tail.c): a truncate down zeroes the new tail after its
 * commit, and growing zeroes what the file is about to cover before the
 * new size commits (zero_past_eof), so neither read(2) nor a DAX mapping
 * past EOF ever shows old data or a client's stores past EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl_i.h"
#include "blocks_i.h"
#include "dslot_i.h"
#include "eof_tail_i.h"
#include "extent_i.h"
#include "failure_i.h"
#include "file_i.h"
#include "grow.h"
#include "inode_i.h"
#include "journal_i.h"
#include "place_choice_i.h"
#include "region.h"
#include "vol.h"
#include "vol_i.h"
#include "xattr_i.h"

static uint64_t unit_bytes(const struct hfs_vol *vol)
{
	return vol->unit_blocks * HFS_BLOCK_SIZE;
}

/* The inode of an open file.  The pointer is stable while the file is
 * open (an open inode is never freed), so callers may drop vol->lock. */
static int get_inode(struct hfs_vol *vol, uint64_t ino, bool write,
		     struct hfs_inode **out)
{
	int ret = hfs_vol_lock(vol, write);

	if (ret)
		return ret;
	*out = hfs_iget(vol, ino);
	hfs_vol_unlock(vol);
	if (!*out)
		return -ENOENT;
	if (S_ISDIR((*out)->d.i_mode))
		return -EISDIR;
	return 0;
}

/* Region offset of file byte off, and how many bytes from there stay in
 * the same extent (0 if off is in a hole; *hole then gets the hole's
 * length in bytes, capped at UINT64_MAX). */
static uint64_t map_off(const struct hfs_inode *ip, uint64_t off,
			uint64_t *run, uint64_t *hole, bool *lost)
{
	uint64_t lblk = off / HFS_BLOCK_SIZE;
	uint32_t i = hfs_emap_find(&ip->em, lblk);
	const struct hfs_extent *e;

	*run = 0;
	*hole = UINT64_MAX;
	*lost = false;
	if (i == ip->em.n)
		return 0; /* (em.v may be NULL: no &v[i] before this) */
	e = &ip->em.v[i];
	if (e->e_lblk > lblk) {
		*hole = e->e_lblk * HFS_BLOCK_SIZE - off;
		return 0;
	}
	*lost = e->e_flags & HFS_EXT_LOST;
	*run = (e->e_lblk + e->e_len) * HFS_BLOCK_SIZE - off;
	return (e->e_pblk + (lblk - e->e_lblk)) * HFS_BLOCK_SIZE +
	       off % HFS_BLOCK_SIZE;
}

/* Copy [off, off+len) of the file to buf (holes read as zeros). */
static int read_range(struct hfs_vol *vol, struct hfs_inode *ip, uint8_t *buf,
		      uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t run, hole, n;
		bool lost;
		uint64_t roff = map_off(ip, off, &run, &hole, &lost);
		int ret;

		if (lost)
			return -EIO;
		if (run) {
			struct hfs_fault f = { 0 };

			n = run < len ? run : len;
			ret = hfs_region_read(vol->rg, roff, buf, n, &f);
			if (ret) {
				hfs_vol_fault(vol, &f);
				return ret;
			}
		} else {
			n = hole < len ? hole : len;
			memset(buf, 0, n);
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

ssize_t hfs_read(struct hfs_vol *vol, uint64_t ino, void *buf, size_t len,
		 uint64_t off)
{
	struct hfs_inode *ip;
	uint64_t size;
	int ret = get_inode(vol, ino, false, &ip);

	if (ret)
		return ret;
	pthread_rwlock_rdlock(&ip->iolock);
	size = hfs_dslot_size(vol, ip); /* what direct writers published */
	if (off >= size)
		len = 0;
	else if (len > size - off)
		len = size - off;
	ret = read_range(vol, ip, buf, off, len);
	pthread_rwlock_unlock(&ip->iolock);
	return ret ? ret : (ssize_t)len;
}

/* Write buf (or zeros when buf is NULL) over mapped bytes only; direct
 * readers see it happen (hfs_dslot_change_begin). */
static int write_mapped_now(struct hfs_vol *vol, struct hfs_inode *ip,
			    const uint8_t *buf, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t run, hole, n;
		bool lost;
		uint64_t roff = map_off(ip, off, &run, &hole, &lost);
		struct hfs_fault f = { 0 };
		int ret = 0;

		/* lost media is never written (docs/failure-model.md: no
		 * healing; truncate or punch the range to reuse it) */
		if (lost)
			return -EIO;
		n = run ? (run < len ? run : len) : (hole < len ? hole : len);
		if (run && buf)
			ret = hfs_region_write(vol->rg, roff, buf, n, &f);
		else if (run)
			ret = hfs_region_zero(vol->rg, roff, n, &f);
		if (ret) {
			hfs_vol_fault(vol, &f);
			return ret;
		}
		if (buf)
			buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int write_mapped(struct hfs_vol *vol, struct hfs_inode *ip,
			const uint8_t *buf, uint64_t off, uint64_t len)
{
	/* Bytes at or past the end of file are no direct reader's (it reads
	 * below the slot's size, which a growing write publishes after
	 * this): an append through FUSE, or zeros past EOF, must not send
	 * every direct read of the file to copy again.  The end of file as
	 * everyone sees it: the slot's size if direct appends went past
	 * i_size (a KEEP_SIZE fallocate does not fold them in). */
	uint32_t chg = off < hfs_dslot_size(vol, ip) ?
		       hfs_dslot_change_begin(vol, ip) : 0;
	int ret = write_mapped_now(vol, ip, buf, off, len);

	hfs_dslot_change_end(vol, chg);
	return ret;
}

/* Bytes between the old EOF and the end of its allocation unit may hold
 * what a DAX client stored past EOF; zero the part the file is about to
 * cover, before the new size commits (eof_tail.c). */
static int zero_past_eof(struct hfs_vol *vol, struct hfs_inode *ip,
			 uint64_t new_size)
{
	uint64_t old = ip->d.i_size, ub = unit_bytes(vol);
	uint64_t end = (old + ub - 1) / ub * ub;

	if (new_size <= old || old % ub == 0)
		return 0;
	if (end > new_size)
		end = new_size;
	return write_mapped(vol, ip, NULL, old, end - old);
}

/* Allocate every unmapped unit in [first, last] (unit-aligned file
 * blocks), zeroing each new unit except what [zoff, zoff+zlen) will be
 * written with right after.  Space was checked by the caller. */
static int fill_holes(struct hfs_vol *vol, struct hfs_inode *ip,
		      uint64_t first, uint64_t last, uint64_t zoff,
		      uint64_t zlen)
{
	uint64_t u = vol->unit_blocks;
	int pref = hfs_place_choice_pref(vol, ip);

	for (uint64_t lb = first; lb <= last;) {
		uint32_t i = hfs_emap_find(&ip->em, lb);
		uint64_t stop = last + 1, got, hint = 0;
		int64_t b;
		int ret;

		if (i < ip->em.n && ip->em.v[i].e_lblk <= lb) {
			lb = ip->em.v[i].e_lblk + ip->em.v[i].e_len;
			continue;
		}
		if (i < ip->em.n && ip->em.v[i].e_lblk < stop)
			stop = ip->em.v[i].e_lblk;
		if (i > 0)
			hint = ip->em.v[i - 1].e_pblk + ip->em.v[i - 1].e_len +
			       (lb - ip->em.v[i - 1].e_lblk - ip->em.v[i - 1].e_len);
		if (stop - lb > UINT32_MAX / 2)
			stop = lb + UINT32_MAX / 2 / u * u;
		b = hfs_vol_alloc_data(vol, ip->ino, lb, stop - lb, u, u, hint,
				       pref, &got);
		if (b < 0)
			return (int)b;
		ret = hfs_emap_insert(&ip->em, lb, (uint64_t)b, (uint32_t)got, 0);
		if (ret) {
			hfs_vol_release_blocks(vol, (uint64_t)b, got);
			return ret;
		}
		/* zero the new blocks outside the range about to be written */
		{
			uint64_t s = lb * HFS_BLOCK_SIZE, e = (lb + got) * HFS_BLOCK_SIZE;
			uint64_t ws = zoff > s ? zoff : s;
			uint64_t we = zoff + zlen < e ? zoff + zlen : e;
			uint64_t base = (uint64_t)b * HFS_BLOCK_SIZE;

			if (ws >= we)
				ret = hfs_region_zero(vol->rg, base, e - s, NULL);
			else {
				ret = hfs_region_zero(vol->rg, base, ws - s, NULL);
				if (!ret)
					ret = hfs_region_zero(vol->rg, base + (we - s),
							      e - we, NULL);
			}
			if (ret)
				return ret;
		}
		lb += got;
	}
	return 0;
}

/* ------------------------------------------------------------ setattr */

static void put_blocks(void *ctx, uint64_t pblk, uint64_t n)
{
	hfs_vol_release_blocks(ctx, pblk, n);
}

/* Unmapped blocks in [first, last] (an upper bound on what fill_holes
 * allocates). */
static uint64_t holes_in(const struct hfs_inode *ip, uint64_t first,
			 uint64_t last)
{
	uint64_t mapped = 0;

	for (uint32_t i = hfs_emap_find(&ip->em, first);
	     i < ip->em.n && ip->em.v[i].e_lblk <= last; i++) {
		const struct hfs_extent *e = &ip->em.v[i];
		uint64_t s = e->e_lblk > first ? e->e_lblk : first;
		uint64_t en = e->e_lblk + e->e_len - 1;

		mapped += (en < last ? en : last) - s + 1;
	}
	return last - first + 1 - mapped;
}

/* The whole allocation units [*first, *last] (file blocks) that
 * [off, off+len) touches. */
static void unit_span(const struct hfs_vol *vol, uint64_t off, uint64_t len,
		      uint64_t *first, uint64_t *last)
{
	uint64_t u = vol->unit_blocks;

	*first = off / HFS_BLOCK_SIZE / u * u;
	*last = ((off + len - 1) / HFS_BLOCK_SIZE / u + 1) * u - 1;
}

/*
 * The holes of a file range before a change that allocates there, to
 * undo it if a copy into the new blocks fails: an I/O error there is the
 * data's (a lost device of a volume of several, poisoned media), not the
 * metadata's, so the file goes back to what it was (the new blocks are
 * released; a bad one never returns to the free index), nothing is
 * committed, the caller gets the error and the volume goes on.
 */
struct holes {
	struct { uint64_t lblk, len; } *v;
	size_t n, cap;
};

static int holes_collect(const struct hfs_inode *ip, uint64_t first,
			 uint64_t last, struct holes *h)
{
	uint64_t lb = first;

	h->n = 0;
	while (lb <= last) {
		uint32_t i = hfs_emap_find(&ip->em, lb);
		uint64_t stop = last + 1;

		if (i < ip->em.n && ip->em.v[i].e_lblk <= lb) {
			lb = ip->em.v[i].e_lblk + ip->em.v[i].e_len;
			continue;
		}
		if (i < ip->em.n && ip->em.v[i].e_lblk < stop)
			stop = ip->em.v[i].e_lblk;
		if (hfs_grow(&h->v, &h->cap, h->n + 1, sizeof(*h->v)))
			return -ENOMEM;
		h->v[h->n].lblk = lb;
		h->v[h->n++].len = stop - lb;
		lb = stop;
	}
	return 0;
}

/* Unmap what was a hole.  0, or -ENOMEM (the map could not be split:
 * the caller must then fail the volume). */
static int holes_undo(struct hfs_vol *vol, struct hfs_inode *ip,
		      const struct holes *h)
{
	int ret = 0;

	for (size_t i = 0; i < h->n && !ret; i++)
		ret = hfs_emap_remove(&ip->em, h->v[i].lblk, h->v[i].len,
				      put_blocks, vol);
	hfs_tx_abort(&vol->tx);
	return ret;
}

/* Make [off, off+len) mapped (allocating units), zeroing what is new
 * except [zoff, zoff+zlen).  -ENOSPC before changing anything when the
 * data does not fit where data goes; after filling, when the extent
 * chain blocks the new extents need do not fit where metadata goes (on
 * a volume of several devices: device 0's zone), which the caller undoes
 * with the fill (holes_undo): a change never fails half-staged for
 * room. */
static int ensure_mapped(struct hfs_vol *vol, struct hfs_inode *ip,
			 uint64_t off, uint64_t len, uint64_t zoff,
			 uint64_t zlen)
{
	uint64_t first, last, need;
	int ret;

	unit_span(vol, off, len, &first, &last);
	need = holes_in(ip, first, last);

	if (need == 0)
		return 0;
	/* +2: the extent chain may need a block; keep one spare */
	if (hfs_vol_data_avail(vol) < need || hfs_vol_blocks_avail(vol) < need + 2)
		return -ENOSPC;
	ret = fill_holes(vol, ip, first, last, zoff, zlen);
	if (!ret && hfs_vol_meta_avail(vol) < hfs_inode_chain_more(ip, 0))
		ret = -ENOSPC;
	return ret;
}

static bool fully_mapped(const struct hfs_inode *ip, uint64_t off, uint64_t len)
{
	return holes_in(ip, off / HFS_BLOCK_SIZE,
			(off + len - 1) / HFS_BLOCK_SIZE) == 0;
}

/* Write that allocates or grows the file: one transaction. */
static int write_alloc(struct hfs_vol *vol, struct hfs_inode *ip,
		       const void *buf, size_t len, uint64_t off)
{
	struct holes h = { 0 };
	uint64_t first, last;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	unit_span(vol, off, len, &first, &last);
	ret = holes_collect(ip, first, last, &h);
	if (ret) { /* nothing changed yet */
		hfs_vol_unlock(vol);
		free(h.v);
		return ret;
	}
	ret = ensure_mapped(vol, ip, off, len, off, len);
	if (!ret && off + len > ip->d.i_size)
		ret = zero_past_eof(vol, ip, off + len);
	if (!ret)
		ret = write_mapped(vol, ip, buf, off, len);
	if (ret && holes_undo(vol, ip, &h) == 0) {
		/* the data's failure: the file is as it was */
	} else if (!ret) {
		if (off + len > ip->d.i_size)
			ip->d.i_size = off + len;
		hfs_inode_touch(ip, true, true);
		ret = hfs_inode_stage_extents(vol, ip);
		ret = ret ? ret : hfs_tx_commit(vol, &vol->tx);
		if (ret)
			hfs_vol_fail(vol, ret);
	} else {
		hfs_vol_fail(vol, ret);
	}
	hfs_vol_unlock(vol);
	free(h.v);
	return ret;
}

static uint64_t page_size(void)
{
	static uint64_t ps;

	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (uint64_t)v : 4096;
	}
	return ps;
}

/* Could this O_APPEND WRITE be one piece of a longer write(2) the kernel
 * split (hfs_dslot_hold)?  The kernel splits where the first page-cache
 * folio is only partly written -- that piece starts inside a page and
 * ends on the next page boundary -- and every HFS_WRITE_PIECE_MAX
 * bytes.  A page-aligned write that ends on a page boundary and is
 * shorter than that is a whole write(2): holding after it would send the
 * next direct appends to the kernel, whose 4 KiB appends would hold again
 * (seen: every append of bench/lat went through the kernel). */
static bool maybe_piece(uint64_t koff, size_t len)
{
	return len && (koff + len) % page_size() == 0 &&
	       (koff % page_size() != 0 || len >= HFS_WRITE_PIECE_MAX);
}

/* hfs_write and hfs_append: at *off, or at the end of file (append, which
 * sets *off; the caller's *off is where the kernel thought the end was). */
static ssize_t write_at(struct hfs_vol *vol, uint64_t ino, const void *buf,
			size_t len, uint64_t *offp, bool append)
{
	struct hfs_inode *ip;
	int ret = get_inode(vol, ino, true, &ip);
	bool filled = false, slot = false;
	uint64_t off = *offp, koff = *offp; /* koff: the kernel's offset */

	if (ret)
		return ret;
	if (len == 0 && !append)
		return 0;
	pthread_rwlock_wrlock(&ip->iolock);
	if (append && (ip->ds || __atomic_load_n(&ip->kernel_size_stale,
						  __ATOMIC_RELAXED))) {
		/* the end of file as direct writers left it, held still;
		 * without them (and once the kernel has asked for the size
		 * since) the kernel's offset is the end of file */
		ret = hfs_dslot_enter(vol, ip);
		slot = true;
		*offp = off = ip->d.i_size;
	}
	if (!ret)
		ret = hfs_iflags_may_write(ip, off);
	if (!ret && (off >= HFS_MAX_FILE_SIZE || len > HFS_MAX_FILE_SIZE - off))
		ret = -EFBIG;
	if (ret || len == 0) {
		/* nothing to write */
	} else if (off + len <= ip->d.i_size && fully_mapped(ip, off, len)) {
		/* in place: no metadata changes but the times */
		ret = write_mapped(vol, ip, buf, off, len);
		if (!ret) {
			pthread_mutex_lock(&vol->lock);
			hfs_inode_touch(ip, true, true);
			ip->dirty_times = true;
			pthread_mutex_unlock(&vol->lock);
		}
	} else {
		/* allocating or growing: direct writers hold still */
		if (!slot) {
			ret = hfs_dslot_enter(vol, ip);
			slot = true;
		}
		if (!ret)
			ret = write_alloc(vol, ip, buf, len, off);
		filled = !ret;
	}
	if (slot) {
		if (append) /* maybe a piece: see hfs_dslot_hold */
			hfs_dslot_hold(vol, ip, !ret && maybe_piece(koff, len));
		hfs_dslot_leave(vol, ip, false, false);
	}
	pthread_rwlock_unlock(&ip->iolock);
	/* holes may have got blocks: DAX read leases mapping them as zeros
	 * are remapped before the write returns (vol.h, fill hook) */
	if (filled && vol->hooks.fill)
		vol->hooks.fill(vol->hooks.ctx, ino, off, len);
	return ret ? ret : (ssize_t)len;
}

ssize_t hfs_write(struct hfs_vol *vol, uint64_t ino, const void *buf,
		  size_t len, uint64_t off)
{
	return write_at(vol, ino, buf, len, &off, false);
}

ssize_t hfs_append(struct hfs_vol *vol, uint64_t ino, const void *buf,
		   size_t len, uint64_t *off)
{
	return write_at(vol, ino, buf, len, off, true);
}

int hfs_fsync(struct hfs_vol *vol, uint64_t ino, bool datasync)
{
	struct hfs_inode *ip;
	int ret = hfs_vol_lock(vol, false);

	(void)datasync; /* data is already persistent; times are cheap */
	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	if (!ip)
		ret = -ENOENT;
	else if (!vol->readonly)
		ret = hfs_inode_flush_times_locked(vol, ip);
	hfs_vol_unlock(vol);
	return ret;
}


int hfs_file_zero_mapped_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				uint64_t off, uint64_t len)
{
	return write_mapped(vol, ip, NULL, off, len);
}

int hfs_file_drop_blocks_locked(struct hfs_vol *vol, struct hfs_inode *ip,
				uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	return hfs_emap_remove(&ip->em, from / HFS_BLOCK_SIZE,
			       (to - from) / HFS_BLOCK_SIZE, put_blocks, vol);
}

/* Change the size: drop whole units past the new EOF, or zero the stale
 * tail when growing.  Caller holds iolock (write) and vol->lock. */
static int resize_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			 uint64_t size)
{
	uint64_t ub = unit_bytes(vol);
	int ret = 0;

	if (size > HFS_MAX_FILE_SIZE)
		return -EFBIG;
	if (size < ip->d.i_size) {
		uint64_t keep = (size + ub - 1) / ub * vol->unit_blocks;

		ret = hfs_emap_remove(&ip->em, keep, UINT64_MAX, put_blocks, vol);
	} else {
		ret = zero_past_eof(vol, ip, size);
	}
	ip->d.i_size = size;
	return ret;
}

static void apply_times(struct hfs_inode *ip, const struct hfs_setattr *sa)
{
	struct timespec now;

	hfs_now(&now);
	if (sa->mask & HFS_SET_ATIME_NOW) {
		ip->d.i_atime = (uint64_t)now.tv_sec;
		ip->d.i_atime_ns = (uint32_t)now.tv_nsec;
	} else if (sa->mask & HFS_SET_ATIME) {
		ip->d.i_atime = (uint64_t)sa->atime.tv_sec;
		ip->d.i_atime_ns = (uint32_t)sa->atime.tv_nsec;
	}
	if (sa->mask & HFS_SET_MTIME_NOW) {
		ip->d.i_mtime = (uint64_t)now.tv_sec;
		ip->d.i_mtime_ns = (uint32_t)now.tv_nsec;
	} else if (sa->mask & HFS_SET_MTIME) {
		ip->d.i_mtime = (uint64_t)sa->mtime.tv_sec;
		ip->d.i_mtime_ns = (uint32_t)sa->mtime.tv_nsec;
	}
	if (sa->mask & HFS_SET_CTIME) {
		ip->d.i_ctime = (uint64_t)sa->ctime.tv_sec;
		ip->d.i_ctime_ns = (uint32_t)sa->ctime.tv_nsec;
	} else {
		ip->d.i_ctime = (uint64_t)now.tv_sec;
		ip->d.i_ctime_ns = (uint32_t)now.tv_nsec;
	}
}

/* Attribute flags (iflags.c, as ext4): an immutable inode takes no
 * setattr at all; an append-only one only "now" times (touch). */
static int setattr_iflags(const struct hfs_inode *ip,
			  const struct hfs_setattr *sa)
{
	const unsigned forbidden = HFS_SET_SIZE | HFS_SET_MODE | HFS_SET_UID |
				   HFS_SET_GID | HFS_SET_ATIME | HFS_SET_MTIME |
				   HFS_SET_CTIME;

	if (ip->d.i_flags & HFS_IF_IMMUTABLE)
		return -EPERM;
	if ((ip->d.i_flags & HFS_IF_APPEND) && (sa->mask & forbidden))
		return -EPERM;
	return 0;
}

static int setattr_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			  const struct hfs_setattr *sa)
{
	bool shrink = false;
	int ret = setattr_iflags(ip, sa);

	if (ret) /* nothing changed */
		return ret;
	if (sa->mask & HFS_SET_SIZE) {
		shrink = sa->size < ip->d.i_size;
		if (S_ISDIR(ip->d.i_mode))
			return -EISDIR;
		if (!S_ISREG(ip->d.i_mode))
			return -EINVAL;
		ret = resize_locked(vol, ip, sa->size);
		/* EFBIG changed nothing: neither may the rest of the call
		 * (a later transaction would persist it) */
		if (ret)
			return ret;
		hfs_inode_touch(ip, true, false);
	}
	if (sa->mask & HFS_SET_MODE) {
		ip->d.i_mode = (ip->d.i_mode & S_IFMT) | (sa->mode & 07777);
		ret = hfs_acl_chmod_locked(vol, ip);
		if (ret)
			return ret;
	}
	if (sa->mask & HFS_SET_UID)
		ip->d.i_uid = sa->uid;
	if (sa->mask & HFS_SET_GID)
		ip->d.i_gid = sa->gid;
	if ((sa->mask & HFS_SET_KILL_SUIDGID) && !S_ISDIR(ip->d.i_mode)) {
		ip->d.i_mode &= ~(uint32_t)S_ISUID;
		if (ip->d.i_mode & S_IXGRP)
			ip->d.i_mode &= ~(uint32_t)S_ISGID;
	}
	if ((sa->mask & HFS_SET_KILL_SUID) && !S_ISDIR(ip->d.i_mode))
		ip->d.i_mode &= ~(uint32_t)S_ISUID;
	if ((sa->mask & HFS_SET_KILL_SGID) && !S_ISDIR(ip->d.i_mode))
		ip->d.i_mode &= ~(uint32_t)S_ISGID;
	apply_times(ip, sa);
	ret = (sa->mask & HFS_SET_SIZE) ? hfs_inode_stage_extents(vol, ip)
					: hfs_inode_stage(vol, ip);
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	/* The new EOF tail held file data until the commit; zero it now,
	 * before anyone can map it (eof_tail.c: replay covers a crash
	 * here).  A media error is the failure pipeline's (the guard
	 * reports it); the truncate itself has happened. */
	if (!ret && shrink) {
		uint32_t chg = hfs_dslot_change_begin(vol, ip);

		(void)hfs_eof_tail_zero_locked(vol, ip);
		hfs_dslot_change_end(vol, chg);
	}
	return ret;
}

int hfs_setattr(struct hfs_vol *vol, uint64_t ino, const struct hfs_setattr *sa,
		struct hfs_attr *out)
{
	struct hfs_inode *ip;
	uint64_t old_size;
	int ret = hfs_vol_lock(vol, true);

	if (ret)
		return ret;
	ip = hfs_iget(vol, ino);
	hfs_vol_unlock(vol);
	if (!ip)
		return -ENOENT;
	/* iolock before vol->lock (vol.h lock order) */
	pthread_rwlock_wrlock(&ip->iolock);
	/* Direct writers hold still, their size and times are folded in,
	 * and this commit gets a new epoch: what it sets (a smaller size,
	 * explicit times) is never overridden by the slot after a crash
	 * (docs/data-path.md). */
	ret = hfs_dslot_enter(vol, ip);
	old_size = ip->d.i_size;
	if (!ret)
		ret = hfs_vol_lock(vol, true);
	if (!ret) {
		hfs_dslot_bump_epoch(ip);
		ret = setattr_locked(vol, ip, sa);
		if (ret && ret != -EFBIG && ret != -EISDIR && ret != -EINVAL &&
		    ret != -EPERM)
			hfs_vol_fail(vol, ret);
		if (ret) /* nothing was committed: the epoch stays */
			ip->d.i_dp_epoch -= ip->ds ? 1 : 0;
		hfs_vol_unlock(vol);
	}
	hfs_dslot_leave(vol, ip, !ret, ip->d.i_size < old_size);
	if (!ret) { /* after the slot says the new size too */
		pthread_mutex_lock(&vol->lock);
		hfs_inode_to_attr(vol, ip, out);
		pthread_mutex_unlock(&vol->lock);
	}
	pthread_rwlock_unlock(&ip->iolock);
	return ret;
}

/* ---------------------------------------------------------- fallocate */

static int punch_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			uint64_t off, uint64_t len)
{
	uint64_t ub = unit_bytes(vol);
	uint64_t s = (off + ub - 1) / ub * ub, e = (off + len) / ub * ub;
	int ret;

	if (s >= e) /* inside one unit: just zero */
		return write_mapped(vol, ip, NULL, off, len);
	ret = write_mapped(vol, ip, NULL, off, s - off);
	if (!ret)
		ret = write_mapped(vol, ip, NULL, e, off + len - e);
	if (!ret)
		ret = hfs_emap_remove(&ip->em, s / HFS_BLOCK_SIZE,
				      (e - s) / HFS_BLOCK_SIZE, put_blocks, vol);
	return ret;
}

static int fallocate_locked(struct hfs_vol *vol, struct hfs_inode *ip,
			    int mode, uint64_t off, uint64_t len, bool *undone)
{
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	uint64_t first, last, old_size = ip->d.i_size;
	struct holes h = { 0 };
	int ret;

	/* attribute flags, as the VFS: append-only takes only what keeps
	 * or grows the data (mode 0 or KEEP_SIZE) */
	if ((ip->d.i_flags & HFS_IF_IMMUTABLE) ||
	    ((ip->d.i_flags & HFS_IF_APPEND) && (mode & ~FALLOC_FL_KEEP_SIZE)))
		return -EPERM;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (!keep)
			return -EOPNOTSUPP;
		ret = punch_locked(vol, ip, off, len);
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		ret = write_mapped(vol, ip, NULL, off, len);
	} else {
		unit_span(vol, off, len, &first, &last);
		ret = holes_collect(ip, first, last, &h);
		if (ret) { /* nothing changed yet */
			*undone = true;
			free(h.v);
			return ret;
		}
		ret = ensure_mapped(vol, ip, off, len, 0, 0);
	}
	if (!ret && !keep && off + len > ip->d.i_size) {
		ret = zero_past_eof(vol, ip, off + len);
		ip->d.i_size = off + len;
	}
	if (ret && h.v && holes_undo(vol, ip, &h) == 0) {
		ip->d.i_size = old_size; /* the data's failure: as it was */
		*undone = true;
	}
	free(h.v);
	if (ret)
		return ret;
	hfs_inode_touch(ip, !(mode == 0 || mode == FALLOC_FL_KEEP_SIZE), true);
	ret = hfs_inode_stage_extents(vol, ip);
	return ret ? ret : hfs_tx_commit(vol, &vol->tx);
}

int hfs_fallocate(struct hfs_vol *vol, uint64_t ino, int mode, uint64_t off,
		  uint64_t len)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_ZERO_RANGE;
	struct hfs_inode *ip;
	bool slot;
	int ret;

	if (mode & ~known)
		return -EOPNOTSUPP;
	if (len == 0)
		return -EINVAL;
	if (off >= HFS_MAX_FILE_SIZE || len > HFS_MAX_FILE_SIZE - off)
		return -EFBIG;
	ret = get_inode(vol, ino, true, &ip);
	if (ret)
		return ret;
	if (!S_ISREG(ip->d.i_mode))
		return -ENODEV;
	pthread_rwlock_wrlock(&ip->iolock);
	/* Direct writers hold still while the size may grow and while bytes
	 * change in place: a punch or zero range, KEEP_SIZE or not, may
	 * zero the reservation past EOF that a direct append is copying
	 * into and would publish (the kernel orders the two under the
	 * inode lock; a FUSE thread may wait for a client).  Only a plain
	 * KEEP_SIZE allocation goes without: it changes no byte anyone can
	 * read, and a write lease grant, on the control thread, which must
	 * never wait for a client, allocates with it. */
	slot = mode != FALLOC_FL_KEEP_SIZE;
	if (slot)
		ret = hfs_dslot_enter(vol, ip);
	if (!ret)
		ret = hfs_vol_lock(vol, true);
	if (!ret) {
		bool undone = false;

		ret = fallocate_locked(vol, ip, mode, off, len, &undone);
		if (ret && !undone && ret != -ENOSPC && ret != -EOPNOTSUPP &&
		    ret != -EPERM)
			hfs_vol_fail(vol, ret);
		hfs_vol_unlock(vol);
	}
	if (slot)
		hfs_dslot_leave(vol, ip, false, false);
	pthread_rwlock_unlock(&ip->iolock);
	if (!ret && !(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) &&
	    vol->hooks.fill) /* see hfs_write */
		vol->hooks.fill(vol->hooks.ctx, ino, off, len);
	return ret;
}

/* -------------------------------------------------------------- lseek */

/* SEEK_DATA / SEEK_HOLE: the first data (hole) byte at or after off.
 * Past the last extent there is the implicit hole at EOF. */
static int seek_locked(const struct hfs_vol *vol, const struct hfs_inode *ip,
		       uint64_t off, int whence, uint64_t *out)
{
	uint64_t size = hfs_dslot_size(vol, ip), run, hole;
	bool lost;

	if (off >= size)
		return -ENXIO;
	while (off < size) {
		map_off(ip, off, &run, &hole, &lost);
		if ((whence == SEEK_DATA) == (run != 0)) {
			*out = off;
			return 0;
		}
		if (run)
			off += run;
		else
			off = hole > size - off ? size : off + hole;
	}
	if (whence == SEEK_DATA)
		return -ENXIO;
	*out = size;
	return 0;
}

int hfs_lseek(struct hfs_vol *vol, uint64_t ino, uint64_t off, int whence,
	      uint64_t *out)
{
	struct hfs_inode *ip;
	int ret = get_inode(vol, ino, false, &ip);

	if (ret)
		return ret;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	pthread_rwlock_rdlock(&ip->iolock);
	ret = seek_locked(vol, ip, off, whence, out);
	pthread_rwlock_unlock(&ip->iolock);
	return ret;
}

/* ------------------------------------------------------- copy_file_range */

ssize_t hfs_copy_range(struct hfs_vol *vol, uint64_t ino_in, uint64_t off_in,
		       uint64_t ino_out, uint64_t off_out, size_t len)
{
	size_t chunk = 1u << 20, done = 0;
	uint8_t *buf = malloc(chunk);

	if (!buf)
		return -ENOMEM;
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t r = hfs_read(vol, ino_in, buf, n, off_in + done);
		ssize_t w;

		if (r <= 0) {
			if (r < 0 && done == 0)
				done = (size_t)r;
			break;
		}
		w = hfs_write(vol, ino_out, buf, (size_t)r, off_out + done);
		if (w < 0) {
			if (done == 0)
				done = (size_t)w;
			break;
		}
		done += (size_t)w;
		if (r < (ssize_t)n)
			break;
	}
	free(buf);
	return (ssize_t)done;
}

/* ------------------------------------------------------------- xattrs */

static int xattr_begin(struct hfs_vol *vol, uint64_t ino, bool write,
		       struct hfs_inode **ip)
{
	int ret = hfs_vol_lock(vol, write);

	if (ret)
		return ret;
	*ip = hfs_iget(vol, ino);
	if (!*ip) {
		hfs_vol_unlock(vol);
		return -ENOENT;
	}
	return 0;
}

int hfs_setxattr(struct hfs_vol *vol, uint64_t ino, const char *name,
		 const void *value, size_t size, int flags)
{
	struct hfs_inode *ip;
	int ret = xattr_begin(vol, ino, true, &ip);

	if (!ret && (ret = hfs_iflags_may_change(ip)))
		hfs_vol_unlock(vol);
	if (ret)
		return ret;
	if (name && (!strcmp(name, HFS_ACL_ACCESS) ||
		     !strcmp(name, HFS_ACL_DEFAULT)))
		ret = hfs_acl_set_locked(vol, ip, name, value, size);
	else if (name && !strcmp(name, HFS_PLACE_XATTR))
		ret = vol->readonly ? -EROFS
		      : hfs_place_choice_set_locked(vol, ip, value, size, flags);
	else
		ret = hfs_xattr_set_locked(vol, ip, name, value, size, flags);
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	else
		hfs_tx_abort(&vol->tx);
	hfs_vol_unlock(vol);
	return ret;
}

ssize_t hfs_getxattr(struct hfs_vol *vol, uint64_t ino, const char *name,
		     void *buf, size_t size)
{
	struct hfs_inode *ip;
	ssize_t ret = xattr_begin(vol, ino, false, &ip);

	if (ret)
		return ret;
	ret = hfs_xattr_get_locked(vol, ip, name, buf, size);
	hfs_vol_unlock(vol);
	return ret;
}

ssize_t hfs_listxattr(struct hfs_vol *vol, uint64_t ino, char *buf,
		      size_t size)
{
	struct hfs_inode *ip;
	ssize_t ret = xattr_begin(vol, ino, false, &ip);

	if (ret)
		return ret;
	ret = hfs_xattr_list_locked(vol, ip, buf, size);
	hfs_vol_unlock(vol);
	return ret;
}

int hfs_removexattr(struct hfs_vol *vol, uint64_t ino, const char *name)
{
	struct hfs_inode *ip;
	int ret = xattr_begin(vol, ino, true, &ip);

	if (!ret && (ret = hfs_iflags_may_change(ip)))
		hfs_vol_unlock(vol);
	if (ret)
		return ret;
	ret = hfs_xattr_remove_locked(vol, ip, name);
	if (!ret)
		ret = hfs_tx_commit(vol, &vol->tx);
	else
		hfs_tx_abort(&vol->tx);
	hfs_vol_unlock(vol);
	return ret;
}
