/* SPDX-License-Identifier: MIT */
/*
 * Bytes past EOF: the zeroing rule (docs/lease-protocol.md, "Coherence").
 *
 * A DAX lease covers whole allocation units (it may end at the file size
 * rounded up to the unit), so a client's mapping shows, past EOF, the
 * bytes of the file's last unit that lie beyond i_size.  POSIX wants the
 * part of the last page past EOF to read as zeros in a mapping, and the
 * kernel's DAX filesystems zero the tail of the partial block on every
 * size change for exactly this reason.  The rule here:
 *
 *   On media, the bytes of a regular file's last allocation unit past its
 *   size are zeroed at every size change.
 *
 * Growing (write past EOF, truncate up, fallocate or zero range past EOF):
 * the part of [old size, unit end) the file now covers is zeroed *before*
 * the new size commits (file.c, zero_past_eof).  Until that commit those
 * bytes are past EOF, so a crash shows nothing of it, and whatever a DAX
 * client stored past EOF never becomes file content: a truncate up reads
 * zeros there, whoever stored what.
 *
 * Shrinking (truncate down): the new tail [new size, unit end) holds file
 * data until the size change commits, so it may only be zeroed *after*
 * the commit; zeroing it first would let a crash show the old size with
 * zeros inside it, and truncate would stop being atomic.  So truncate
 * zeroes right after its commit, still holding the inode's I/O lock and
 * the volume lock (no lease can be granted and no FUSE read can run in
 * between), and a crash between the commit and the zeroing is mended by
 * journal replay: the truncate's transaction is still the one in the
 * journal (the next commit overwrites it only after the zeroing is
 * persistent), and replay zeroes the EOF tail of every inode its
 * transaction wrote (hfs_eof_zero_replayed), for the mount and for fsck,
 * which both replay through lib/journal.c, before either clears the
 * journal.  Zeroing past EOF is always allowed, so replaying it for
 * inodes whose transaction did not shrink them is harmless.
 *
 * A client store past EOF that races a size change is ordered with it
 * like a racing write(2): before the zeroing it is wiped, after it the
 * bytes belong to the grown file.  Lost media (HFS_EXT_LOST) is never
 * written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dslot_i.h"
#include "eof_tail_i.h"
#include "extent_i.h"
#include "inode_i.h"
#include "media.h"
#include "vol_i.h"

#define BLK ((uint64_t)HFS_BLOCK_SIZE)

struct tail {
	struct hfs_region *rg;
	uint64_t from, to;          /* file bytes to zero */
	int err;
};

/* Zero what extent e maps of [t->from, t->to); lost media is skipped.
 * Returns 1 (stop) once extents start past the range: they are sorted. */
static int zero_piece(void *ctx, const struct hfs_extent *e)
{
	struct tail *t = ctx;
	uint64_t s = e->e_lblk * BLK, end = (e->e_lblk + e->e_len) * BLK;
	int r;

	if (s >= t->to)
		return 1;
	if (end <= t->from || (e->e_flags & HFS_EXT_LOST))
		return 0;
	if (s < t->from)
		s = t->from;
	if (end > t->to)
		end = t->to;
	/* guarded: a media error is -EIO (and reported by the caller's
	 * guard), never a crash */
	r = hfs_region_zero(t->rg, e->e_pblk * BLK + (s - e->e_lblk * BLK),
			    end - s, NULL);
	if (r && !t->err)
		t->err = r;
	return 0;
}

/* The file bytes a size of `size` leaves past EOF in its last unit. */
static bool tail_of(uint64_t size, uint64_t unit, struct tail *t)
{
	t->from = size;
	t->to = (size + unit - 1) / unit * unit;
	t->err = 0;
	return t->from < t->to;
}

int hfs_eof_tail_zero_locked(struct hfs_vol *vol, struct hfs_inode *ip)
{
	struct tail t = { .rg = vol->rg };
	const struct hfs_emap *m = &ip->em;

	if (!S_ISREG(ip->d.i_mode) ||
	    !tail_of(ip->d.i_size, vol->unit_blocks * BLK, &t))
		return 0;
	for (uint32_t i = hfs_emap_find(m, t.from / BLK); i < m->n; i++)
		if (zero_piece(&t, &m->v[i]))
			break;
	return t.err;
}

/* Inode slot ino as replay left it on media: a regular file?  Then zero
 * its EOF tail through its on-media extents. */
static void zero_slot(struct hfs_region *rg, const struct hfs_super *sb,
		      uint64_t ino)
{
	struct hfs_inode_disk d;
	struct tail t = { .rg = rg };
	uint64_t size;

	if (hfs_region_read(rg, sb->s_itable_off + ino * HFS_INODE_SIZE, &d,
			    sizeof(d), NULL) || !S_ISREG(d.i_mode))
		return;
	/* the size as the mount will see it: a data-path slot may have
	 * published more than the inode says (docs/data-path.md), and those
	 * bytes are file data */
	size = hfs_dslot_media_size(rg, sb, ino, &d);
	if (size < d.i_size)
		size = d.i_size;
	if (!tail_of(size, sb->s_alloc_unit, &t))
		return;
	/* a damaged inode is the mount's (or fsck's) to report; a media
	 * error in the tail is the failure pipeline's: best effort here */
	(void)hfs_inode_media_extents(rg, sb, ino, &d, zero_piece, &t);
}

void hfs_eof_zero_replayed(struct hfs_region *rg, const struct hfs_super *sb,
			   uint64_t off, uint64_t len)
{
	uint64_t it = sb->s_itable_off;
	uint64_t ie = it + sb->s_inode_count * HFS_INODE_SIZE;
	uint64_t end = off + len;

	if (end <= it || off >= ie || sb->s_alloc_unit < BLK)
		return;
	if (off < it)
		off = it;
	if (end > ie)
		end = ie;
	for (uint64_t ino = (off - it) / HFS_INODE_SIZE;
	     ino * HFS_INODE_SIZE + it < end; ino++)
		if (ino >= HFS_ROOT_INO)
			zero_slot(rg, sb, ino);
}
