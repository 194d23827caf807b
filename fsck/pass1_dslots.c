/* SPDX-License-Identifier: MIT */
/*
 * Pass 1, the data-path slot area (pass1.h; docs/data-path.md, format.h
 * struct hfs_dslot): 128-byte slots where processes writing directly
 * publish a file's size and mtime without the daemon.  A crash leaves
 * armed slots behind; mount folds the valid ones into their inodes and
 * clears the rest (lib/dslot.c), and fsck does exactly the same, so a
 * slot is to fsck what a committed journal transaction is.
 *
 * Each slot is one of:
 *   - free: all 128 bytes zero;
 *   - pending: valid by mount's rule (lib/dslot.c slot_inode): the crc
 *     over bytes [0, 32) holds, ds_size <= ds_limit <= HFS_MAX_FILE_SIZE,
 *     ds_resv <= ds_limit, and ds_ino names a regular inode that survives
 *     pass 1, with the slot's generation and with i_dp_epoch = ds_epoch;
 *   - stale: anything else (an older epoch, a reused or freed inode, a
 *     torn arm or disarm, garbage).
 * Slots are taken in index order, as mount takes them: folding bumps the
 * epoch, so a second slot of the same inode is stale unless it carries
 * the new epoch.
 *
 * Folding (P1_DSLOT_PENDING), as mount's replay_one/disarm_locked: the
 *   size becomes max(i_size, ds_size), mtime and ctime the slot's if
 *   newer, the reservation blocks from max(ds_resv, size rounded up to
 *   the allocation unit) to ds_limit leave the extent map, i_dp_epoch is
 *   incremented, the inode is written; then what the inode still maps
 *   past the new size is zeroed up to the end of its last allocation
 *   unit, or up to ds_dirty (bounded by ds_limit) if that is further:
 *   unpublished writes; and the slot is cleared.  The in-memory inode (struct p1_img) is folded in
 *   every mode, so -n goes on from the folded size and map and claims no
 *   returned block.  One case differs from mount: if returning the
 *   reservation would split an extent and the overflow chain has no room
 *   for the extra extent (pass 1 allocates nothing), that extent stays
 *   whole and its blocks past EOF stay mapped, as a KEEP_SIZE
 *   preallocation would.  An orphan's slot is folded too, and pass 4
 *   then frees the orphan: the end state of mount, which frees orphans
 *   first and clears their slots as stale.
 * Stale slots are cleared (P1_DSLOT_STALE); an unreadable block of the
 *   area is rewritten empty (P1_DSLOT_IO): the sizes it held are lost,
 *   the blocks they covered stay mapped past EOF.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pass1.h"

#define NS 1000000000ull
#define CRC_LEN offsetof(struct hfs_dslot, ds_crc)

/* What became of a slot (f->ds.st); the stale ones say why. */
enum ds_state {
	DS_FREE = 0,
	DS_CAND,     /* its own fields pass: the inode decides */
	DS_FOLDED,
	DS_CRC,
	DS_NO_INO,
	DS_INO_RANGE,
	DS_SIZE,
	DS_LIMIT,
	DS_RESV,
	DS_INO_FREE,
	DS_NOT_REG,
	DS_GEN,
	DS_EPOCH,
};

static const char *const why_stale[] = {
	[DS_CRC] = "its checksum does not match (torn or damaged)",
	[DS_NO_INO] = "it names no inode but holds stray bytes (a torn arm "
		      "or disarm)",
	[DS_INO_RANGE] = "its inode number is out of range",
	[DS_SIZE] = "its size is past its limit",
	[DS_LIMIT] = "its limit is beyond the largest file",
	[DS_RESV] = "its reservation starts past its limit",
	[DS_INO_FREE] = "its inode is free or cleared",
	[DS_NOT_REG] = "its inode is not a regular file",
	[DS_GEN] = "its inode was reused (generation differs)",
	[DS_EPOCH] = "its epoch is not the inode's (the daemon committed "
		     "past it)",
};

static uint64_t slot_off(const struct fsck *f, uint32_t k)
{
	return f->ds.off + (uint64_t)k * HFS_DSLOT_SIZE;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
	return v / unit * unit + (v % unit ? unit : 0);
}

/* ------------------------------------------------------ the area */

/* The slot's own fields, by mount's rule (lib/dslot.c slot_inode). */
static enum ds_state classify(const struct fsck *f, const struct hfs_dslot *s)
{
	static const struct hfs_dslot zero;

	if (!memcmp(s, &zero, sizeof(zero)))
		return DS_FREE;
	if (s->ds_ino == 0)
		return DS_NO_INO;
	if (s->ds_crc != hfs_crc32c(s, CRC_LEN))
		return DS_CRC;
	if (s->ds_ino >= f->sb.s_inode_count)
		return DS_INO_RANGE;
	if (s->ds_size > s->ds_limit)
		return DS_SIZE;
	if (s->ds_limit > HFS_MAX_FILE_SIZE)
		return DS_LIMIT;
	if (s->ds_resv > s->ds_limit)
		return DS_RESV;
	return DS_CAND;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct fsck_dslot_cand *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Block b of the area is unreadable: its slots count as free (cleared
 * with -y, which loses the sizes they may hold). */
static void block_unreadable(struct fsck *f, uint64_t b, size_t len)
{
	uint64_t off = f->ds.off + b * BLK;
	int ret;

	memset(&f->ds.v[b * HFS_DSLOTS_PER_BLOCK], 0, len);
	if (!fix_problem(f, HFS_P1_DSLOT_IO, 0, off, "data-path slot block at "
			 "0x%" PRIx64 " is unreadable (media error); the sizes "
			 "its slots may hold are lost", off))
		return;
	ret = fsck_write(f, off, &f->ds.v[b * HFS_DSLOTS_PER_BLOCK], len);
	if (ret) {
		fsck_fix_failed(f, ret);
		f->ds.pending_left++; /* unknown: keep DSLOTS_LIVE */
	}
}

int p1_dslots_load(struct fsck *f)
{
	struct fsck_dslots *ds = &f->ds;
	uint64_t nblk;

	if (!(f->sb.s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) ||
	    !f->sb.s_dslot_off || !f->sb.s_dslot_count)
		return 0;
	ds->off = f->sb.s_dslot_off;
	ds->count = f->sb.s_dslot_count;
	ds->v = calloc(ds->count, sizeof(*ds->v));
	ds->st = calloc(ds->count, sizeof(*ds->st));
	ds->cand = calloc(ds->count, sizeof(*ds->cand));
	if (!ds->v || !ds->st || !ds->cand)
		return -ENOMEM;
	nblk = (ds->count + HFS_DSLOTS_PER_BLOCK - 1) / HFS_DSLOTS_PER_BLOCK;
	for (uint64_t b = 0; b < nblk && !f->halt; b++) {
		uint64_t first = b * HFS_DSLOTS_PER_BLOCK;
		size_t len = (ds->count - first < HFS_DSLOTS_PER_BLOCK ?
			      ds->count - first : HFS_DSLOTS_PER_BLOCK) *
			     HFS_DSLOT_SIZE;

		if (fsck_read(f, ds->off + b * BLK, &ds->v[first], len))
			block_unreadable(f, b, len);
	}
	for (uint32_t k = 0; k < ds->count; k++) {
		ds->st[k] = (uint8_t)classify(f, &ds->v[k]);
		if (ds->st[k] == DS_CAND)
			ds->cand[ds->ncand++] = (struct fsck_dslot_cand){
				ds->v[k].ds_ino, k };
	}
	if (ds->ncand)
		qsort(ds->cand, ds->ncand, sizeof(*ds->cand), cand_cmp);
	return 0;
}

/* ------------------------------------------------------ folding */

/* Room for one more extent: in memory, and in the overflow chain the
 * inode already has (pass 1 allocates nothing). */
static bool room_for_one(struct p1_img *m)
{
	return fsck_chain_needed(m->n + 1) <= m->nchain &&
	       !hfs_grow(&m->v, &m->cap, (size_t)m->n + 1, sizeof(*m->v));
}

/* Remove file blocks [lo, hi) from m's map, as lib's hfs_emap_remove
 * does.  An extent that would split in two without room_for_one stays
 * whole; *kept gets its blocks.  True if the map changed. */
static bool map_cut(struct p1_img *m, uint64_t lo, uint64_t hi,
		    uint64_t *kept)
{
	bool changed = false;
	uint32_t i = 0;

	while (i < m->n) {
		struct hfs_extent *e = &m->v[i];
		uint64_t es = e->e_lblk, ee = es + e->e_len;
		uint64_t cs = es > lo ? es : lo, ce = ee < hi ? ee : hi;

		if (cs >= ce) {
			i++;
			continue;
		}
		if (cs == es && ce == ee) {
			memmove(e, e + 1, (m->n - i - 1) * sizeof(*e));
			m->n--;
			changed = true;
			continue;
		}
		if (cs > es && ce < ee && !room_for_one(m)) {
			*kept = ce - cs;
			i++;
			continue;
		}
		e = &m->v[i]; /* room_for_one may have moved the map */
		if (cs > es && ce < ee) {
			memmove(&m->v[i + 2], &m->v[i + 1],
				(m->n - i - 1) * sizeof(*e));
			m->v[i + 1] = (struct hfs_extent){
				ce, e->e_pblk + (ce - es), (uint32_t)(ee - ce),
				e->e_flags };
			m->n++;
			e->e_len = (uint32_t)(cs - es);
		} else if (cs > es) {
			e->e_len = (uint32_t)(cs - es);
		} else {
			e->e_pblk += ce - es;
			e->e_lblk = ce;
			e->e_len = (uint32_t)(ee - ce);
		}
		changed = true;
		i++;
	}
	return changed;
}

static uint64_t ns_of(uint64_t s, uint32_t ns)
{
	return s * NS + ns;
}

/* Size and times of slot s into d, as mount's fold_locked. */
static void fold_attrs(struct hfs_inode_disk *d, const struct hfs_dslot *s)
{
	uint64_t t = s->ds_mtime;

	if (s->ds_size > d->i_size)
		d->i_size = s->ds_size;
	if (t && t > ns_of(d->i_mtime, d->i_mtime_ns)) {
		d->i_mtime = t / NS;
		d->i_mtime_ns = (uint32_t)(t % NS);
	}
	if (t && t > ns_of(d->i_ctime, d->i_ctime_ns)) {
		d->i_ctime = t / NS;
		d->i_ctime_ns = (uint32_t)(t % NS);
	}
}

/* Zero what m maps (not lost) past its size, up to the end of its last
 * allocation unit or as far as slot s says unpublished writes reached
 * (ds_dirty, never past ds_limit), whichever is further: mount's
 * clear_dirty_locked and EOF tail.  Best effort, as at mount. */
static void zero_past_eof(struct fsck *f, const struct p1_img *m,
			  const struct hfs_dslot *slot)
{
	static const uint8_t zero[HFS_BLOCK_SIZE];
	uint64_t from = m->d.i_size;
	uint64_t to = round_up(from, f->unit_blocks * BLK);
	uint64_t dirty = slot->ds_dirty < slot->ds_limit ? slot->ds_dirty
							  : slot->ds_limit;

	if (dirty > to)
		to = dirty;

	for (uint32_t i = 0; i < m->n && from < to; i++) {
		const struct hfs_extent *e = &m->v[i];
		uint64_t s = e->e_lblk * BLK, end = s + (uint64_t)e->e_len * BLK;

		if (end <= from || s >= to || (e->e_flags & HFS_EXT_LOST))
			continue;
		s = s > from ? s : from;
		end = end < to ? end : to;
		for (uint64_t at = s; at < end;) {
			uint64_t n = end - at < BLK - at % BLK ? end - at
							       : BLK - at % BLK;

			(void)fsck_write(f, e->e_pblk * BLK +
					 (at - e->e_lblk * BLK), zero, n);
			at += n;
		}
	}
}

/* Write the folded inode, zero past its EOF, clear slot k. */
static void fold_write(struct fsck *f, struct p1_img *m, uint32_t k)
{
	static const struct hfs_dslot zero;
	int ret;

	if (m->map_dirty)
		ret = fsck_write_extents(f, m->ino, &m->d, m->v, m->n, m->chain);
	else
		ret = fsck_write_inode(f, m->ino, &m->d);
	if (ret) {
		fsck_fix_failed(f, ret);
		f->ds.pending_left++;
		return;
	}
	/* the inode's new epoch has made the slot stale already: like
	 * mount, the writes below are best effort */
	zero_past_eof(f, m, &f->ds.v[k]);
	(void)fsck_write(f, slot_off(f, k), &zero, sizeof(zero));
}

/* Fold valid slot k into m (every mode), report, write (-y/-p). */
static void fold_one(struct fsck *f, struct p1_img *m, uint32_t k)
{
	const struct hfs_dslot *s = &f->ds.v[k];
	uint64_t old = m->d.i_size, from, lo, hi, kept = 0;
	char resv[160] = "";
	int n = 0;

	fold_attrs(&m->d, s);
	m->d.i_dp_epoch++;
	from = round_up(m->d.i_size, f->unit_blocks * BLK);
	if (s->ds_resv > from)
		from = s->ds_resv;
	lo = from / BLK;
	hi = s->ds_limit > from ? lo + (s->ds_limit - from) / BLK : lo;
	if (map_cut(m, lo, hi, &kept))
		m->map_dirty = true;
	if (hi > lo)
		n = snprintf(resv, sizeof(resv), "; its reservation [%" PRIu64
			     ", %" PRIu64 ") past EOF goes back to the pool",
			     lo * BLK, hi * BLK);
	if (kept)
		snprintf(resv + n, sizeof(resv) - (size_t)n, " but for %" PRIu64
			 " blocks (no room to split their extent)", kept);
	f->ds.st[k] = DS_FOLDED;
	f->rep->dslots_pending++;
	if (fix_problem(f, HFS_P1_DSLOT_PENDING, m->ino, slot_off(f, k),
			"data-path slot %" PRIu32 " of inode %" PRIu64 " is "
			"pending: size %" PRIu64 ", inode says %" PRIu64 "%s",
			k, m->ino, m->d.i_size, old, resv))
		fold_write(f, m, k);
	else
		f->ds.pending_left++;
}

/* The scan meets inodes in ascending order, the candidates are sorted
 * by inode: one cursor walks them (those it skips name inodes the scan
 * did not keep, and stay candidates for p1_dslots_finish). */
void p1_dslots_fold(struct fsck *f, struct p1_img *m)
{
	struct fsck_dslots *ds = &f->ds;

	while (ds->next < ds->ncand && ds->cand[ds->next].ino < m->ino)
		ds->next++;
	for (; ds->next < ds->ncand && ds->cand[ds->next].ino == m->ino &&
	       !f->halt; ds->next++) {
		uint32_t k = ds->cand[ds->next].idx;

		if (!S_ISREG(m->d.i_mode))
			ds->st[k] = DS_NOT_REG;
		else if (ds->v[k].ds_gen != m->d.i_generation)
			ds->st[k] = DS_GEN;
		else if (ds->v[k].ds_epoch != m->d.i_dp_epoch)
			ds->st[k] = DS_EPOCH;
		else
			fold_one(f, m, k);
	}
}

/* ------------------------------------------------------ stale slots */

void p1_dslots_finish(struct fsck *f)
{
	static const struct hfs_dslot zero;
	struct fsck_dslots *ds = &f->ds;

	for (uint32_t k = 0; k < ds->count && !f->halt; k++) {
		uint8_t st = ds->st[k];
		uint64_t ino = ds->v[k].ds_ino;
		int ret;

		if (st == DS_FREE || st == DS_FOLDED)
			continue;
		if (st == DS_CAND)
			st = ds->st[k] = DS_INO_FREE; /* never met in the scan */
		f->rep->dslots_stale++;
		if (st < DS_INO_FREE)
			ino = 0; /* not an inode number to report */
		if (fix_problem(f, HFS_P1_DSLOT_STALE, ino, slot_off(f, k),
				"data-path slot %" PRIu32 " is stale: %s", k,
				why_stale[st]) &&
		    (ret = fsck_write(f, slot_off(f, k), &zero, sizeof(zero))))
			fsck_fix_failed(f, ret);
	}
}
