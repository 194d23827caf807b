/* SPDX-License-Identifier: MIT */
/*
 * Pass 1: inode slots, extent maps, overflow chains, xattr blocks and the
 * bad-extent list.
 *
 * Checks, for every slot in [1, scan_end) (the high-water mark: slots
 * above it are free by definition and never read, so the cost follows the
 * inodes in use, not the size of the table):
 *   - a free slot (i_mode 0) is zero but for its generation;
 *   - the checksum; the file type; the flags (attribute flags only on
 *     regular files and directories, and with the IFLAGS feature);
 *   - the extent map: inline extents plus the overflow chain (magic, crc,
 *     owner, count, inside the pool, no loop), every extent non-empty,
 *     inside the pool, sorted and not overlapping in the file;
 *   - per type: directories have no holes and i_size = blocks x 4 KiB;
 *     symlinks hold 1..4095 bytes inline or in one block; device nodes,
 *     FIFOs and sockets hold no data; regular files stay under 2^60;
 *   - the xattr block (magic, crc, owner, entries);
 *   - the bad-extent list (magic, crc, entries sorted and aligned);
 *   - the data-path slot area: every slot free, pending (valid by
 *     mount's rule for the inode as this pass leaves it) or stale.
 * Checksum policy: an inode whose checksum fails but whose fields all
 *   pass the checks above gets its checksum rewritten (the damage was the
 *   checksum, or a field it cannot tell); one that also fails any check is
 *   cleared, and pass 2 drops the entries naming it.
 * Repairs: drops what is invalid (an extent, the tail of a chain, the
 *   xattr block) and marks regular files that lost data (HFS_IF_LOSTDATA
 *   and a lost-data record in the health log); recreates the root.
 *   Folds each pending data-path slot into its inode as mount would
 *   (size, times, epoch, the reservation past EOF returned, the EOF tail
 *   zeroed, the slot cleared; in -n only in memory, so the rest of the
 *   run sees the folded size and map) and clears stale slots.
 * The extent map and xattr block of one inode are pass1_maps.c's, the
 * bad-extent list pass1_badlist.c's, the slot area pass1_dslots.c's
 * (pass1.h).
 * Needs: pass 0 (f->sb, the overlay).
 * Leaves: f->ino[] (type, link count, parent, flags of every slot),
 *   f->cl (every block range some inode or the bad list names, after the
 *   repairs), f->bad, f->max_gen, f->ds (pending_left: valid slots not
 *   folded, for pass 5's DSLOTS_LIVE).  Pass 1b checks the claims.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass1.h"

#define ITAB_CHUNK 256u
#define KNOWN_IFLAGS (HFS_IF_ORPHAN | HFS_IF_INLINE_DATA | HFS_IF_LOSTDATA | \
		      HFS_IF_USER)

void p1_find(struct p1_img *m, enum hfs_fsck_code code, uint64_t off,
	     const char *fmt, ...)
{
	struct p1_finding *x;
	va_list ap;

	if (m->nfind == P1_MAX_FIND) {
		m->more++;
		return;
	}
	x = &m->find[m->nfind++];
	x->code = code;
	x->off = off;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
}

void p1_must_clear(struct p1_img *m, enum hfs_fsck_code code,
		   const char *fmt, ...)
{
	va_list ap;

	if (m->clear)
		return;
	m->clear = true;
	m->clear_code = code;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------ per type */

static bool valid_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

static void check_dir(struct p1_img *m)
{
	uint64_t lblk = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		if (m->v[i].e_lblk != lblk && !m->map_dirty)
			p1_find(m, HFS_P1_DIR_HOLE, HFS_FSCK_NO_OFF, "directory "
			     "block map has a hole at block %" PRIu64, lblk);
		if (m->v[i].e_lblk != lblk)
			m->map_dirty = true;
		m->v[i].e_lblk = lblk; /* renumber: no holes */
		lblk += m->v[i].e_len;
	}
	if (m->d.i_size != lblk * BLK) {
		p1_find(m, HFS_P1_INODE_SIZE, HFS_FSCK_NO_OFF, "directory size %"
		     PRIu64 ", should be %" PRIu64, m->d.i_size, lblk * BLK);
		m->d.i_size = lblk * BLK;
		m->dirty = true;
	}
}

static void check_symlink_inline(struct p1_img *m)
{
	size_t len = strnlen(m->d.i_symlink, HFS_INLINE_SYMLINK);

	if (len == 0) {
		p1_must_clear(m, HFS_P1_SYMLINK_BAD, "empty inline symlink");
		return;
	}
	if (m->d.i_size != len) {
		p1_find(m, HFS_P1_INODE_SIZE, HFS_FSCK_NO_OFF, "symlink size %"
		     PRIu64 ", target holds %zu bytes", m->d.i_size, len);
		m->d.i_size = len;
		m->dirty = true;
	}
	if (m->d.i_nextents || m->d.i_ext_blk) {
		p1_find(m, HFS_P1_INODE_NEXTENTS, HFS_FSCK_NO_OFF, "inline symlink "
		     "with an extent count or overflow pointer");
		m->d.i_nextents = 0;
		m->d.i_ext_blk = 0;
		m->dirty = true;
	}
}

static void check_symlink_block(struct p1_img *m)
{
	if (m->d.i_size == 0 || m->d.i_size > HFS_PATH_MAX)
		p1_must_clear(m, HFS_P1_SYMLINK_BAD, "symlink size %" PRIu64
			   " does not fit a target block", m->d.i_size);
	else if (m->n == 0 || m->v[0].e_lblk != 0)
		p1_must_clear(m, HFS_P1_SYMLINK_BAD, "symlink has no target block");
	else if (m->n > 1 || m->v[0].e_len != 1 || m->v[0].e_flags) {
		p1_find(m, HFS_P1_EXTENT_BAD, HFS_FSCK_NO_OFF, "symlink maps %"
		     PRIu32 " extents; only its first block is kept", m->n);
		m->n = 1;
		m->v[0].e_len = 1;
		m->v[0].e_flags = 0;
		m->map_dirty = true;
	}
}

static void check_special(struct p1_img *m)
{
	if (m->n || m->d.i_nextents || m->d.i_ext_blk) {
		p1_find(m, HFS_P1_SPECIAL_DATA, HFS_FSCK_NO_OFF, "special file "
		     "(type 0%o) maps %" PRIu32 " extents",
		     m->d.i_mode & S_IFMT, m->n);
		m->n = 0;
		m->map_dirty = true;
	}
	if (m->d.i_size) {
		p1_find(m, HFS_P1_INODE_SIZE, HFS_FSCK_NO_OFF, "special file size %"
		     PRIu64 ", should be 0", m->d.i_size);
		m->d.i_size = 0;
		m->dirty = true;
	}
}

static void check_regular(struct p1_img *m)
{
	bool lost_ext = false;

	if (m->d.i_size > HFS_MAX_FILE_SIZE) {
		uint64_t end = m->n ? (m->v[m->n - 1].e_lblk +
				       m->v[m->n - 1].e_len) * BLK : 0;

		p1_find(m, HFS_P1_INODE_SIZE, HFS_FSCK_NO_OFF, "size %" PRIu64
		     " beyond the largest file; set to %" PRIu64, m->d.i_size,
		     end);
		m->d.i_size = end;
		m->dirty = true;
	}
	for (uint32_t i = 0; i < m->n; i++)
		lost_ext |= m->v[i].e_flags & HFS_EXT_LOST;
	if ((lost_ext || m->lost) && !(m->d.i_flags & HFS_IF_LOSTDATA)) {
		if (lost_ext)
			p1_find(m, HFS_P1_LOSTDATA_FLAG, HFS_FSCK_NO_OFF,
			     "file has lost extents but no lost-data flag");
		m->d.i_flags |= HFS_IF_LOSTDATA;
		m->dirty = true;
	}
}

static void check_flags(struct p1_img *m)
{
	uint32_t fl = m->d.i_flags;

	if (fl & ~KNOWN_IFLAGS) {
		p1_find(m, HFS_P1_INODE_FLAGS, HFS_FSCK_NO_OFF, "unknown flags 0x%"
		     PRIx32, fl & ~KNOWN_IFLAGS);
		m->d.i_flags &= KNOWN_IFLAGS;
		m->dirty = true;
	}
	if ((fl & HFS_IF_INLINE_DATA) && !S_ISLNK(m->d.i_mode)) {
		p1_find(m, HFS_P1_INODE_FLAGS, HFS_FSCK_NO_OFF, "inline-data flag "
		     "on a file of type 0%o", m->d.i_mode & S_IFMT);
		m->d.i_flags &= ~HFS_IF_INLINE_DATA;
		m->dirty = true;
	}
	/* chattr flags: the kernel asks only regular files and directories
	 * (docs/semantics.md) */
	if ((fl & HFS_IF_USER) && !S_ISREG(m->d.i_mode) &&
	    !S_ISDIR(m->d.i_mode)) {
		p1_find(m, HFS_P1_INODE_FLAGS, HFS_FSCK_NO_OFF, "attribute "
			"flags 0x%" PRIx32 " on a file of type 0%o",
			fl & HFS_IF_USER, m->d.i_mode & S_IFMT);
		m->d.i_flags &= ~HFS_IF_USER;
		m->dirty = true;
	}
}

/* An attribute flag on a volume whose superblock does not say so: an
 * older holdfs would write it without enforcing the flag, an older fsck
 * would strip it.  Setting the feature is the safe repair. */
static void check_iflags_feature(struct fsck *f, const struct p1_img *m)
{
	if (!(m->d.i_flags & HFS_IF_USER) ||
	    (f->sb.s_feat_ro_compat & HFS_FEAT_RO_COMPAT_IFLAGS))
		return;
	if (fix_problem(f, HFS_P1_IFLAGS_FEATURE, m->ino, HFS_FSCK_NO_OFF,
			"inode %" PRIu64 " has attribute flags 0x%" PRIx32
			", the superblock lacks IFLAGS", m->ino,
			m->d.i_flags & HFS_IF_USER)) {
		f->sb.s_feat_ro_compat |= HFS_FEAT_RO_COMPAT_IFLAGS;
		f->rep->modified = true;
	}
}

/* In a volume of several devices every directory, extent-overflow and
 * xattr block lies on a metadata device (lib/placement.c): a data
 * device's loss must never cost more than file data.  Reported, not
 * moved. */
static bool on_meta_device(const struct fsck *f, uint64_t b)
{
	/* with a mirror: inside device 0's metadata zone, or it is not
	 * mirrored */
	if (f->sb.s_meta_end)
		return b >= f->sb.s_pool_off / HFS_BLOCK_SIZE &&
		       b < f->sb.s_meta_end / HFS_BLOCK_SIZE;
	for (uint32_t i = 0; i < f->devtab.t_count; i++) {
		const struct hfs_dev_entry *d = &f->devtab.t_dev[i];
		uint64_t lo = d->d_pool_off / HFS_BLOCK_SIZE;

		if (b >= lo && b < lo + d->d_pool_blocks)
			return d->d_role & HFS_DEV_ROLE_META;
	}
	return true; /* outside every pool: other checks say so */
}

static void check_placement(struct fsck *f, const struct p1_img *m)
{
	uint64_t b = 0;
	const char *what = NULL;

	if (!f->devtab.t_count || m->clear)
		return;
	for (uint32_t i = 0; S_ISDIR(m->d.i_mode) && i < m->n && !what; i++)
		if (!on_meta_device(f, m->v[i].e_pblk))
			b = m->v[i].e_pblk, what = "directory";
	for (uint32_t i = 0; i < m->nchain && !what; i++)
		if (!on_meta_device(f, m->chain[i]))
			b = m->chain[i], what = "extent overflow";
	for (uint32_t i = 0; i < m->nxa && !what; i++)
		if (!on_meta_device(f, m->xa[i]))
			b = m->xa[i], what = "xattr";
	if (what)
		fix_problem(f, HFS_P1_META_PLACEMENT, m->ino, b * HFS_BLOCK_SIZE,
			    "inode %" PRIu64 ": %s block %" PRIu64 " is outside "
			    "the metadata %s; losing a device would cost more "
			    "than file data", m->ino, what, b,
			    f->sb.s_meta_end ? "zone (not mirrored)"
					     : "device");
}


/* ------------------------------------------------------ one inode */

static int examine(struct fsck *f, struct p1_img *m)
{
	int ret = 0;

	if (!valid_type(m->d.i_mode)) {
		p1_must_clear(m, HFS_P1_INODE_MODE, "invalid file type 0%o",
			   m->d.i_mode & S_IFMT);
		return 0;
	}
	check_flags(m);
	check_iflags_feature(f, m);
	if (S_ISLNK(m->d.i_mode) && (m->d.i_flags & HFS_IF_INLINE_DATA)) {
		check_symlink_inline(m);
	} else {
		ret = p1_load_extents(f, m);
		if (ret)
			return ret;
		p1_check_extents(f, m);
		if (S_ISDIR(m->d.i_mode))
			check_dir(m);
		else if (S_ISLNK(m->d.i_mode))
			check_symlink_block(m);
		else if (S_ISREG(m->d.i_mode))
			check_regular(m);
		else
			check_special(m);
	}
	ret = p1_check_xattr(f, m);
	if (!ret)
		check_placement(f, m);
	return ret;
}

/* Write the repaired inode (YES/PREEN); failures become uncorrected. */
static void img_write(struct fsck *f, struct p1_img *m)
{
	int ret;

	if (m->clear)
		ret = fsck_free_inode(f, m->ino);
	else if (m->map_dirty)
		ret = fsck_write_extents(f, m->ino, &m->d, m->v, m->n, m->chain);
	else
		ret = fsck_write_inode(f, m->ino, &m->d);
	if (ret)
		fsck_fix_failed(f, ret);
}

/* Report what examine() found, by the checksum policy, and repair. */
static void settle(struct fsck *f, struct p1_img *m, bool crc_ok)
{
	bool fix = false;

	if (!crc_ok && (m->clear || m->nfind)) {
		p1_must_clear(m, HFS_P1_INODE_CLEAR, "%s",
			   m->nfind ? m->find[0].msg : m->why);
		fix = fix_problem(f, HFS_P1_INODE_CLEAR, m->ino,
				  fsck_inode_off(f, m->ino), "inode %" PRIu64
				  ": checksum mismatch and %s", m->ino, m->why);
	} else if (m->clear) {
		fix = fix_problem(f, m->clear_code, m->ino,
				  fsck_inode_off(f, m->ino), "inode %" PRIu64
				  ": %s", m->ino, m->why);
	} else if (!crc_ok) {
		fix = fix_problem(f, HFS_P1_INODE_CRC, m->ino,
				  fsck_inode_off(f, m->ino), "inode %" PRIu64
				  ": checksum mismatch; its fields are sane",
				  m->ino);
	} else {
		for (unsigned i = 0; i < m->nfind; i++)
			fix |= fix_problem(f, m->find[i].code, m->ino,
					   m->find[i].off, "inode %" PRIu64
					   ": %s%s", m->ino, m->find[i].msg,
					   i + 1 == m->nfind && m->more ?
					   " (and more)" : "");
	}
	if (!m->clear && m->lost && S_ISREG(m->d.i_mode)) {
		fsck_report_lost(f, m->ino, 0, 0, "fsck");
		fsck_hlog(f, HFS_HEALTH_LOST_DATA, 0, 0, m->ino,
			  "fsck: invalid extents removed");
	}
	if ((fix || (m->fixed_inode && !m->clear)) && !f->halt)
		img_write(f, m);
}

static int record(struct fsck *f, const struct p1_img *m)
{
	struct fsck_ino *fi = &f->ino[m->ino];
	uint32_t nchain = m->map_dirty ? fsck_chain_needed(m->n) : m->nchain;
	int ret = 0;

	fi->mode = m->d.i_mode;
	fi->nlink = m->d.i_nlink;
	fi->parent = m->d.i_parent;
	fi->flags |= (m->d.i_flags & HFS_IF_LOSTDATA ? FI_LOSTDATA : 0) |
		     (m->d.i_flags & HFS_IF_ORPHAN ? FI_ORPHAN : 0);
	for (uint32_t i = 0; i < m->n && !ret; i++) {
		struct fsck_claim c = {
			.pblk = m->v[i].e_pblk, .len = m->v[i].e_len,
			.lblk = m->v[i].e_lblk, .ino = m->ino,
			.eflags = m->v[i].e_flags,
			.kind = S_ISDIR(m->d.i_mode) ? CL_DIR : CL_DATA,
		};
		ret = fsck_claim_add(f, &c);
	}
	for (uint32_t k = 0; k < nchain && !ret; k++) {
		struct fsck_claim c = { .pblk = m->chain[k], .len = 1,
					.lblk = k, .ino = m->ino,
					.kind = CL_CHAIN };
		ret = fsck_claim_add(f, &c);
	}
	for (uint32_t k = 0; k < m->nxa && !ret; k++) {
		struct fsck_claim c = { .pblk = m->xa[k], .len = 1,
					.lblk = k, .ino = m->ino,
					.kind = CL_XATTR };
		ret = fsck_claim_add(f, &c);
	}
	f->rep->counts.extents += m->n;
	return ret;
}

static bool slot_free_clean(const struct hfs_inode_disk *d)
{
	struct hfs_inode_disk z;

	memset(&z, 0, sizeof(z));
	z.i_generation = d->i_generation;
	return !memcmp(d, &z, sizeof(z));
}

static int check_free_slot(struct fsck *f, uint64_t ino,
			   const struct hfs_inode_disk *d)
{
	int ret;

	if (slot_free_clean(d))
		return 0;
	if (fix_problem(f, HFS_P1_FREE_DIRTY, ino, fsck_inode_off(f, ino),
			"free inode slot %" PRIu64 " holds stray bytes", ino) &&
	    (ret = fsck_free_inode(f, ino)))
		fsck_fix_failed(f, ret);
	return 0;
}

static int check_slot(struct fsck *f, uint64_t ino,
		      const struct hfs_inode_disk *d)
{
	struct p1_img m = { .ino = ino, .d = *d };
	bool crc_ok;
	int ret;

	if (d->i_generation > f->max_gen)
		f->max_gen = d->i_generation;
	if (d->i_generation || d->i_mode)
		f->ino[ino].flags |= FI_USED;
	if (d->i_mode == 0 || ino == 0)
		return check_free_slot(f, ino, d);
	crc_ok = d->i_crc == hfs_crc_struct(d, sizeof(*d),
					    offsetof(struct hfs_inode_disk,
						     i_crc));
	ret = examine(f, &m);
	if (!ret)
		settle(f, &m, crc_ok);
	if (!ret && !m.clear && !f->halt)
		p1_dslots_fold(f, &m);
	if (!ret && !m.clear)
		ret = record(f, &m);
	free(m.v);
	free(m.chain);
	free(m.xa);
	return ret;
}

/* ------------------------------------------------------ the scan */

static void slot_unreadable(struct fsck *f, uint64_t ino)
{
	int ret;

	if (fix_problem(f, HFS_P1_ITABLE_IO, ino, fsck_inode_off(f, ino),
			"inode slot %" PRIu64 " is unreadable (media error)",
			ino) &&
	    (ret = fsck_free_inode(f, ino)))
		fsck_fix_failed(f, ret);
}

static int scan_chunk(struct fsck *f, uint64_t first, uint64_t n,
		      struct hfs_inode_disk *buf)
{
	bool whole = !fsck_read(f, fsck_inode_off(f, first), buf,
				n * sizeof(*buf));
	int ret = 0;

	for (uint64_t i = 0; i < n && !ret && !f->halt; i++) {
		if (!whole && fsck_read_inode(f, first + i, &buf[i])) {
			slot_unreadable(f, first + i);
			continue;
		}
		ret = check_slot(f, first + i, &buf[i]);
	}
	return ret;
}

/* A new, empty root directory. */
static void root_recreate(struct fsck *f)
{
	struct hfs_inode_disk d;
	struct timespec now;
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(&d, 0, sizeof(d));
	d.i_mode = S_IFDIR | 0755;
	d.i_nlink = 2;
	d.i_parent = HFS_ROOT_INO;
	d.i_generation = ++f->max_gen;
	d.i_atime = d.i_mtime = d.i_ctime = d.i_btime = (uint64_t)now.tv_sec;
	f->ino[HFS_ROOT_INO] = (struct fsck_ino){
		.mode = d.i_mode, .nlink = 2, .parent = HFS_ROOT_INO,
		.flags = FI_USED,
	};
	if (!f->writable || f->o->mode == HFS_FSCK_NO)
		return;
	ret = fsck_write_inode(f, HFS_ROOT_INO, &d);
	if (ret)
		fsck_fix_failed(f, ret);
}

static void check_root(struct fsck *f)
{
	const struct fsck_ino *r = &f->ino[HFS_ROOT_INO];
	size_t n, first;

	if (r->mode && S_ISDIR(r->mode))
		return;
	if (fix_problem(f, HFS_P1_ROOT_BAD, HFS_ROOT_INO,
			fsck_inode_off(f, HFS_ROOT_INO), "root inode is %s",
			r->mode ? "not a directory" : "missing or cleared") ||
	    f->o->mode == HFS_FSCK_NO) {
		/* forget what the old root claimed: the new one is empty */
		fsck_claims_sort(f);
		first = fsck_claims_of(f, HFS_ROOT_INO, &n);
		for (size_t i = 0; i < n; i++)
			f->cl[first + i].kind = CL_DEAD;
		if (r->mode && f->writable && f->o->mode != HFS_FSCK_NO)
			fsck_free_inode(f, HFS_ROOT_INO);
		root_recreate(f);
	}
}

int fsck_pass1(struct fsck *f)
{
	struct hfs_inode_disk *buf = malloc(ITAB_CHUNK * sizeof(*buf));
	int ret;

	f->ino = calloc(f->scan_end, sizeof(*f->ino));
	if (!buf || !f->ino) {
		free(buf);
		return -ENOMEM;
	}
	ret = p1_badlist(f);
	if (!ret)
		ret = p1_dslots_load(f);
	for (uint64_t first = 0; !ret && first < f->scan_end;
	     first += ITAB_CHUNK) {
		uint64_t n = f->scan_end - first < ITAB_CHUNK
				     ? f->scan_end - first : ITAB_CHUNK;

		if (fsck_progress(f, 1, "inodes", first, f->scan_end))
			break;
		ret = scan_chunk(f, first, n, buf);
	}
	free(buf);
	if (!ret && !f->halt)
		check_root(f);
	if (!ret && !f->halt)
		p1_dslots_finish(f);
	f->rep->counts.slots_checked = f->scan_end;
	return ret;
}
