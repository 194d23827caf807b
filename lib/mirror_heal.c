/* SPDX-License-Identifier: MIT */
/*
 * Which copy of device 0's metadata wins (mirror_heal.h, docs/format.md
 * "Which copy wins").
 *
 * Rule: device 0's copy wins whenever it passes its own check.  The
 * mirror is written after device 0, store by store (region_mirror.c), so
 * it can only lag: two valid copies that differ mean the mirror missed
 * the last store before a crash, and fsck rewrites it from device 0
 * (P5_MIRROR_STALE).  The mirror's copy is taken only when device 0's
 * fails and the mirror's passes the same check.  Every structure in
 * [0, s_meta_end) carries a checksum of its own, so the decision is made
 * per structure: one inode slot, one health record, one directory entry,
 * one chained block, never "all of device 0 or all of the mirror".
 *
 * The journal is the one place where "valid" is not enough: a torn
 * commit on device 0 (a crash) leaves the mirror with the previous
 * transaction, which has already been applied; replaying it again is
 * what every mount after a crash does anyway (replay is idempotent), so
 * taking it is safe.  What must not happen is replaying a transaction
 * older than device 0's (a mirror left behind), so the mirror's is taken
 * only if its sequence number is not below the one in device 0's header
 * (when that header is readable) nor below the superblock's
 * s_journal_seq.  A journal header that is all zeros is a cleared
 * journal, not a damaged one: device 0 has no transaction, whatever the
 * mirror still holds.  A journal of device 0 that does not read says
 * nothing: the mirror's decides alone (its transaction, or none when it
 * is cleared or behind), and when the mirror's fails its check too the
 * caller is told both are bad (a committed transaction may be in
 * neither).  An unreadable device-0 superblock or journal whose rewrite
 * fails is reported in hfs_heal_sum (super_stuck, journal_*), so the
 * caller can go on from the mirror's copy.
 */
#include "mirror_heal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "members.h"

#define BLK HFS_BLOCK_SIZE
#define ITAB_CHUNK 256 /* slots compared per read */

const char *hfs_heal_what_name(enum hfs_heal_what w)
{
	switch (w) {
	case HFS_HEAL_SUPER: return "superblock";
	case HFS_HEAL_DEVTAB: return "device table";
	case HFS_HEAL_JOURNAL: return "journal";
	case HFS_HEAL_HEALTH: return "health record";
	case HFS_HEAL_BADLIST: return "bad-extent list";
	case HFS_HEAL_INODE: return "inode slot";
	case HFS_HEAL_DENTRY: return "directory entry";
	case HFS_HEAL_CHAIN: return "metadata block";
	}
	return "?";
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Report an item; repair it if the caller says so and it can be. */
static int settle(const struct hfs_heal_io *io, struct hfs_heal_item *it,
		  const void *good, struct hfs_heal_sum *sum)
{
	int ret;

	if (it->both_bad) {
		io->found(io->ctx, it);
		sum->both_bad++;
		return 0;
	}
	if (!io->found(io->ctx, it))
		return 0;
	ret = io->write(io->ctx, it->off, good, it->len);
	if (io->done)
		io->done(io->ctx, it, ret);
	if (ret) {
		sum->failed++;
		return ret == -ENOMEM ? ret : 0;
	}
	sum->repaired++;
	if (it->what == HFS_HEAL_SUPER)
		sum->super = true;
	return 0;
}

/* ------------------------------------------------ superblock, table */

static bool super_good(const struct hfs_super *c, const struct hfs_super *sb)
{
	return hfs_super_check(c, sb->s_region_size, NULL, NULL) == 0 &&
	       memcmp(c->s_uuid, sb->s_uuid, sizeof(c->s_uuid)) == 0;
}

static int heal_super(const struct hfs_super *sb, const struct hfs_heal_io *io,
		      struct hfs_heal_sum *sum)
{
	struct hfs_super a, b;
	int ra = io->read(io->ctx, 0, 0, &a, sizeof(a));
	int rb = io->read(io->ctx, 1, 0, &b, sizeof(b));
	struct hfs_heal_item it = { HFS_HEAL_SUPER, false, 0, sizeof(a), 0,
				    NULL };

	if (!ra && super_good(&a, sb))
		return 0;
	if (ra == -ENOMEM || rb == -ENOMEM)
		return -ENOMEM;
	it.why = ra ? "unreadable" : a.s_magic != HFS_SB_MAGIC
					     ? "bad magic"
					     : "checksum or geometry wrong";
	it.both_bad = rb || !super_good(&b, sb);
	if (!it.both_bad && io->found(io->ctx, &it)) {
		/* settle's write, and if it fails (poison a write does not
		 * clear) the mirror's copy still wins: never the backup */
		int ret = io->write(io->ctx, it.off, &b, it.len);

		if (io->done)
			io->done(io->ctx, &it, ret);
		if (ret) {
			sum->failed++;
			sum->super_stuck = true;
			sum->super_copy = b;
			return ret == -ENOMEM ? ret : 0;
		}
		sum->repaired++;
		sum->super = true;
		return 0;
	}
	if (!it.both_bad)
		return 0; /* not to be repaired (fsck -n) */
	return settle(io, &it, &b, sum);
}

static bool devtab_good(struct hfs_devtab *t, const struct hfs_super *sb)
{
	uint32_t crc = t->t_crc;
	char why[200];
	bool ok;

	hfs_devtab_set_crc(t);
	ok = t->t_magic == HFS_DEVTAB_MAGIC && crc == t->t_crc &&
	     hfs_devtab_ok(t, sb, why, sizeof(why));
	t->t_crc = crc;
	return ok;
}

static int heal_devtab(const struct hfs_super *sb, const struct hfs_heal_io *io,
		       struct hfs_heal_sum *sum)
{
	struct hfs_devtab *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct hfs_heal_item it = { HFS_HEAL_DEVTAB, false, HFS_DEVTAB_OFF,
				    sizeof(*a), 0, NULL };
	int ra, rb, ret = 0;

	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	ra = io->read(io->ctx, 0, HFS_DEVTAB_OFF, a, sizeof(*a));
	rb = io->read(io->ctx, 1, HFS_DEVTAB_OFF, b, sizeof(*b));
	if (ra || !devtab_good(a, sb)) {
		it.why = ra ? "unreadable" : a->t_magic != HFS_DEVTAB_MAGIC
						     ? "bad magic"
						     : "checksum or layout wrong";
		it.both_bad = rb || !devtab_good(b, sb);
		ret = settle(io, &it, b, sum);
	}
	free(a);
	free(b);
	return ret;
}

/* ------------------------------------------------------------ journal */

enum jcopy { J_EMPTY, J_GOOD, J_BAD };

/* One copy of the journal: its header and, if good, the whole
 * transaction (header + records) in *bytes. */
static enum jcopy journal_copy(const struct hfs_super *sb,
			       const struct hfs_heal_io *io, int mirror,
			       struct hfs_jheader *h, uint8_t **bytes,
			       bool *readable, bool *ioerr)
{
	uint64_t jcap = sb->s_journal_blocks * BLK;
	struct hfs_jheader c;
	uint8_t *buf;

	*bytes = NULL;
	*readable = !io->read(io->ctx, mirror, sb->s_journal_off, h, sizeof(*h));
	*ioerr = !*readable;
	if (!*readable)
		return J_BAD;
	if (all_zero(h, sizeof(*h)))
		return J_EMPTY;
	if (h->j_magic != HFS_JOURNAL_MAGIC || h->j_bytes == 0 ||
	    h->j_bytes > jcap - sizeof(*h))
		return J_BAD;
	buf = malloc(sizeof(*h) + h->j_bytes);
	if (!buf)
		return J_BAD;
	if (io->read(io->ctx, mirror, sb->s_journal_off, buf,
		     sizeof(*h) + h->j_bytes)) {
		*ioerr = true;
		free(buf);
		return J_BAD;
	}
	memcpy(&c, buf, sizeof(c));
	c.j_crc = 0;
	if (hfs_crc32c_cont(hfs_crc32c(&c, sizeof(c)), buf + sizeof(c),
			    h->j_bytes) != h->j_crc ||
	    !hfs_journal_records_valid(io->rg, buf + sizeof(c), h->j_bytes,
				       h->j_nrec)) {
		free(buf);
		return J_BAD;
	}
	*bytes = buf;
	return J_GOOD;
}

/* Device 0's journal did not read and the mirror's holds no transaction
 * to replay (cleared, or one device 0 had already gone past): device 0's
 * gets a cleared header, which is what the mirror's says. */
static int journal_clear_unreadable(const struct hfs_super *sb,
				    const struct hfs_heal_io *io,
				    struct hfs_heal_sum *sum)
{
	static const struct hfs_jheader zero;
	struct hfs_heal_item it = { HFS_HEAL_JOURNAL, false, sb->s_journal_off,
				    sizeof(zero), 0, "unreadable" };

	return settle(io, &it, &zero, sum);
}

static int heal_journal(const struct hfs_super *sb,
			const struct hfs_heal_io *io, struct hfs_heal_sum *sum)
{
	uint64_t jcap = sb->s_journal_blocks * BLK;
	struct hfs_jheader h0, hm;
	uint8_t *b0, *bm;
	bool r0, rm, io0, iom;
	enum jcopy c0 = journal_copy(sb, io, 0, &h0, &b0, &r0, &io0), cm;
	struct hfs_heal_item it = { HFS_HEAL_JOURNAL, false, sb->s_journal_off,
				    0, 0, NULL };
	int ret = 0;

	free(b0);
	if (c0 != J_BAD)
		return 0; /* a transaction, or none: device 0's word */
	cm = journal_copy(sb, io, 1, &hm, &bm, &rm, &iom);
	if (io0) {
		/* device 0's copy is no copy: the mirror's decides alone */
		sum->journal_io = true;
		sum->journal_span = sizeof(h0);
		if (r0 && h0.j_magic == HFS_JOURNAL_MAGIC && h0.j_bytes &&
		    h0.j_bytes <= jcap - sizeof(h0))
			sum->journal_span += h0.j_bytes;
	}
	if (cm != J_GOOD) {
		free(bm);
		if (!io0)
			/* a torn commit (the mirror never saw it, or holds a
			 * cleared journal): not a divergence, the transaction
			 * never committed; replay ignores it as on one
			 * device */
			return 0;
		if (cm == J_EMPTY)
			return journal_clear_unreadable(sb, io, sum);
		/* device 0's unreadable, the mirror's fails its check or
		 * does not read either: a committed transaction may be in
		 * neither copy */
		sum->journal_both_bad = true;
		it.len = sizeof(hm);
		it.why = "unreadable";
		it.both_bad = true;
		return settle(io, &it, NULL, sum);
	}
	if (hm.j_seq < sb->s_journal_seq ||
	    (r0 && h0.j_magic == HFS_JOURNAL_MAGIC && hm.j_seq < h0.j_seq)) {
		/* device 0 began a later commit and tore it; the mirror's is
		 * older: nothing committed is lost by ignoring both */
		free(bm);
		return io0 ? journal_clear_unreadable(sb, io, sum) : 0;
	}
	it.len = sizeof(hm) + hm.j_bytes;
	it.why = io0 ? "unreadable"
		     : h0.j_magic != HFS_JOURNAL_MAGIC ? "bad magic"
						       : "checksum mismatch";
	if (io0) {
		sum->journal_mirror = true;
		if (it.len > sum->journal_span)
			sum->journal_span = it.len;
	}
	ret = settle(io, &it, bm, sum);
	free(bm);
	return ret;
}

int hfs_heal_before_replay(const struct hfs_super *sb,
			   const struct hfs_heal_io *io,
			   struct hfs_heal_sum *sum)
{
	int ret = heal_super(sb, io, sum);
	bool multi = sb->s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV;

	if (!ret && multi)
		ret = heal_devtab(sb, io, sum);
	return ret ? ret : heal_journal(sb, io, sum);
}

/* ------------------------------------------------- health, bad list */

static bool health_good(const struct hfs_health_rec *r, uint64_t slot,
			uint64_t nslots)
{
	if (all_zero(r, sizeof(*r)))
		return true;
	return r->h_seq != 0 && (r->h_seq - 1) % nslots == slot &&
	       r->h_crc == hfs_crc_struct(r, sizeof(*r),
					  offsetof(struct hfs_health_rec,
						   h_crc));
}

/* Per record: a torn or damaged record on device 0 gets the mirror's
 * (the record it overwrote, or the same one intact). */
static int heal_health(const struct hfs_super *sb,
		       const struct hfs_heal_io *io, struct hfs_heal_sum *sum)
{
	uint64_t nslots = sb->s_health_blocks * BLK / sizeof(struct hfs_health_rec);
	struct hfs_health_rec a[BLK / sizeof(struct hfs_health_rec)];
	struct hfs_health_rec b[BLK / sizeof(struct hfs_health_rec)];
	int ret = 0;

	for (uint64_t blk = 0; blk < sb->s_health_blocks && !ret; blk++) {
		uint64_t off = sb->s_health_off + blk * BLK;
		int ra = io->read(io->ctx, 0, off, a, BLK);
		int rb = io->read(io->ctx, 1, off, b, BLK);

		if (!ra && !rb && !memcmp(a, b, BLK))
			continue;
		for (unsigned i = 0; i < BLK / sizeof(a[0]) && !ret; i++) {
			uint64_t slot = blk * (BLK / sizeof(a[0])) + i;
			struct hfs_heal_item it = {
				HFS_HEAL_HEALTH, false,
				off + i * sizeof(a[0]), sizeof(a[0]), 0,
				ra ? "unreadable" : "torn or damaged"
			};

			if (!ra && (health_good(&a[i], slot, nslots) ||
				    (!rb && !memcmp(&a[i], &b[i], sizeof(a[i])))))
				continue;
			it.both_bad = rb || !health_good(&b[i], slot, nslots);
			ret = settle(io, &it, &b[i], sum);
		}
	}
	return ret;
}

/* The list with its checksum, or NULL (*len set to what was read). */
static uint8_t *badlist_copy(const struct hfs_super *sb,
			     const struct hfs_heal_io *io, int mirror,
			     size_t *len, bool *readable)
{
	uint64_t cap = (sb->s_badlist_blocks * BLK -
			sizeof(struct hfs_badlist_hdr)) /
		       sizeof(struct hfs_bad_extent);
	struct hfs_badlist_hdr h;
	uint8_t *buf;

	*len = 0;
	*readable = !io->read(io->ctx, mirror, sb->s_badlist_off, &h,
			      sizeof(h));
	if (!*readable || h.bl_magic != HFS_BADLIST_MAGIC || h.bl_count > cap)
		return NULL;
	*len = sizeof(h) + (size_t)h.bl_count * sizeof(struct hfs_bad_extent);
	buf = malloc(*len);
	if (!buf)
		return NULL;
	if (io->read(io->ctx, mirror, sb->s_badlist_off, buf, *len)) {
		*readable = false;
		free(buf);
		return NULL;
	}
	if (h.bl_crc != hfs_crc_struct(buf, *len,
				       offsetof(struct hfs_badlist_hdr,
						bl_crc))) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int heal_badlist(const struct hfs_super *sb,
			const struct hfs_heal_io *io, struct hfs_heal_sum *sum)
{
	size_t l0, lm;
	bool r0, rm;
	uint8_t *a = badlist_copy(sb, io, 0, &l0, &r0), *b;
	struct hfs_heal_item it = { HFS_HEAL_BADLIST, false, sb->s_badlist_off,
				    0, 0, NULL };
	int ret;

	if (a) {
		free(a);
		return 0;
	}
	b = badlist_copy(sb, io, 1, &lm, &rm);
	it.why = r0 ? "bad magic, count or checksum" : "unreadable";
	it.both_bad = !b;
	it.len = b ? lm : sizeof(struct hfs_badlist_hdr);
	ret = settle(io, &it, b, sum);
	free(b);
	return ret;
}

/* ---------------------------------------------------------- inodes */

/* A live slot passes its checksum; a free one is zero but for its
 * generation (lib/inode.c: no checksum). */
static bool slot_good(const struct hfs_inode_disk *d)
{
	struct hfs_inode_disk z = *d;

	z.i_generation = 0;
	return all_zero(&z, sizeof(z)) ||
	       d->i_crc == hfs_crc_struct(d, sizeof(*d),
					  offsetof(struct hfs_inode_disk,
						   i_crc));
}

static int heal_inodes(const struct hfs_super *sb, uint64_t hwm,
		       const struct hfs_heal_io *io, struct hfs_heal_sum *sum)
{
	size_t bytes = ITAB_CHUNK * sizeof(struct hfs_inode_disk);
	struct hfs_inode_disk *a = malloc(bytes), *b = malloc(bytes);
	int ret = 0;

	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	if (hwm > sb->s_inode_count)
		hwm = sb->s_inode_count;
	for (uint64_t first = 1; first < hwm && !ret; first += ITAB_CHUNK) {
		uint64_t n = hwm - first < ITAB_CHUNK ? hwm - first : ITAB_CHUNK;
		uint64_t off = sb->s_itable_off + first * sizeof(*a);
		int ra = io->read(io->ctx, 0, off, a, n * sizeof(*a));
		int rb = io->read(io->ctx, 1, off, b, n * sizeof(*a));

		if (!ra && !rb && !memcmp(a, b, n * sizeof(*a)))
			continue;
		for (uint64_t i = 0; i < n && !ret; i++) {
			struct hfs_inode_disk d0, dm;
			uint64_t so = off + i * sizeof(d0);
			struct hfs_heal_item it = { HFS_HEAL_INODE, false, so,
						    sizeof(d0), first + i,
						    NULL };
			int r0 = ra ? io->read(io->ctx, 0, so, &d0, sizeof(d0))
				    : 0;
			int rm = rb ? io->read(io->ctx, 1, so, &dm, sizeof(dm))
				    : 0;

			if (!ra)
				d0 = a[i];
			if (!rb)
				dm = b[i];
			if (!r0 && (slot_good(&d0) ||
				    (!rm && !memcmp(&d0, &dm, sizeof(d0)))))
				continue;
			it.why = r0 ? "unreadable" : "checksum mismatch";
			it.both_bad = rm || !slot_good(&dm);
			ret = settle(io, &it, &dm, sum);
		}
	}
	free(a);
	free(b);
	return ret;
}

/* ---------------------------------------------------- metadata zone */

static bool is_chain_magic(uint32_t m)
{
	return m == HFS_EXTBLK_MAGIC || m == HFS_XATTRBLK_MAGIC ||
	       m == HFS_XATTRVAL_MAGIC;
}

static bool chain_good(const uint8_t *blk)
{
	struct hfs_blkhdr h;

	memcpy(&h, blk, sizeof(h));
	return is_chain_magic(h.b_magic) &&
	       h.b_crc == hfs_crc_struct(blk, BLK,
					 offsetof(struct hfs_blkhdr, b_crc));
}

static bool dentry_good(const struct hfs_dentry_disk *d)
{
	return all_zero(d, sizeof(*d)) ||
	       d->d_crc == hfs_crc_struct(d, sizeof(*d),
					  offsetof(struct hfs_dentry_disk,
						   d_crc));
}

#define DENTRIES (BLK / sizeof(struct hfs_dentry_disk))

/* A zone block whose copies differ.  A block either copy marks as a
 * chained block (extent, xattr, value: magic and a checksum over all
 * 4096 bytes) is judged whole; any other is a directory block, judged
 * entry by entry (each has its own checksum). */
static int judge_zone_block(uint64_t off, const uint8_t *a, const uint8_t *b,
			    const struct hfs_heal_io *io,
			    struct hfs_heal_sum *sum)
{
	uint32_t ma, mb;

	memcpy(&ma, a, sizeof(ma));
	memcpy(&mb, b, sizeof(mb));
	if (is_chain_magic(ma) || (is_chain_magic(mb) && chain_good(b))) {
		struct hfs_heal_item it = { HFS_HEAL_CHAIN, false, off, BLK, 0,
					    "checksum mismatch" };

		if (chain_good(a))
			return 0;
		if (!is_chain_magic(ma))
			it.why = "bad magic";
		/* the mirror's must be the same kind of block */
		it.both_bad = !chain_good(b) ||
			      (is_chain_magic(ma) && ma != mb);
		return settle(io, &it, b, sum);
	}
	for (unsigned i = 0; i < DENTRIES; i++) {
		const struct hfs_dentry_disk *da =
			(const void *)(a + i * sizeof(*da));
		const struct hfs_dentry_disk *db =
			(const void *)(b + i * sizeof(*db));
		struct hfs_heal_item it = { HFS_HEAL_DENTRY, false,
					    off + i * sizeof(*da), sizeof(*da),
					    0, "checksum mismatch" };
		int ret;

		if (!memcmp(da, db, sizeof(*da)) || dentry_good(da))
			continue;
		it.both_bad = !dentry_good(db);
		if ((ret = settle(io, &it, db, sum)))
			return ret;
	}
	return 0;
}

/* An unreadable zone block: the mirror's, whole, if it passes as a
 * chained block or as a directory block. */
static int heal_zone_unreadable(uint64_t off, const uint8_t *b, bool rb,
				const struct hfs_heal_io *io,
				struct hfs_heal_sum *sum)
{
	struct hfs_heal_item it = { HFS_HEAL_CHAIN, false, off, BLK, 0,
				    "unreadable" };
	bool good = rb && chain_good(b);

	for (unsigned i = 0; rb && !good && i < DENTRIES; i++)
		if (!dentry_good((const void *)(b + i * sizeof(struct hfs_dentry_disk))))
			break;
		else if (i + 1 == DENTRIES)
			good = true;
	it.both_bad = !good;
	return settle(io, &it, b, sum);
}

/* Compared a chunk at a time (reading both copies is the whole cost:
 * the zone is identical on both in the common case), then block by
 * block where the chunks differ or one does not read. */
#define ZONE_CHUNK (64 * BLK)

static int heal_zone_chunk(uint64_t off, uint64_t len, uint8_t *a, uint8_t *b,
			   const struct hfs_heal_io *io,
			   struct hfs_heal_sum *sum)
{
	int ra = io->read(io->ctx, 0, off, a, len);
	int rb = io->read(io->ctx, 1, off, b, len);
	int ret = 0;

	if (!ra && !rb && !memcmp(a, b, len))
		return 0;
	for (uint64_t o = 0; o < len && !ret; o += BLK) {
		uint8_t *x = a + o, *y = b + o;
		int rx = ra ? io->read(io->ctx, 0, off + o, x, BLK) : 0;
		int ry = rb ? io->read(io->ctx, 1, off + o, y, BLK) : 0;

		if (rx)
			ret = heal_zone_unreadable(off + o, y, !ry, io, sum);
		else if (!ry && memcmp(x, y, BLK))
			ret = judge_zone_block(off + o, x, y, io, sum);
		/* mirror unreadable, device 0 fine: fsck's P5 says so */
	}
	return ret;
}

int hfs_heal_zone_block(uint64_t off, const struct hfs_heal_io *io,
			struct hfs_heal_sum *sum)
{
	uint8_t *a = malloc(BLK), *b = malloc(BLK);
	int ret = a && b ? heal_zone_chunk(off, BLK, a, b, io, sum) : -ENOMEM;

	free(a);
	free(b);
	return ret;
}

static int heal_zone(const struct hfs_super *sb, const struct hfs_heal_io *io,
		     struct hfs_heal_sum *sum)
{
	uint8_t *a = malloc(ZONE_CHUNK), *b = malloc(ZONE_CHUNK);
	int ret = 0;

	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	for (uint64_t off = sb->s_pool_off; off < sb->s_meta_end && !ret;
	     off += ZONE_CHUNK) {
		uint64_t len = sb->s_meta_end - off < ZONE_CHUNK
				       ? sb->s_meta_end - off : ZONE_CHUNK;

		ret = heal_zone_chunk(off, len, a, b, io, sum);
	}
	free(a);
	free(b);
	return ret;
}

int hfs_heal_after_replay(const struct hfs_super *sb, uint64_t hwm,
			  bool zone, const struct hfs_heal_io *io,
			  struct hfs_heal_sum *sum)
{
	int ret = heal_health(sb, io, sum);

	if (!ret)
		ret = heal_badlist(sb, io, sum);
	if (!ret)
		ret = heal_inodes(sb, hwm, io, sum);
	if (!ret && zone && sb->s_meta_end > sb->s_pool_off)
		ret = heal_zone(sb, io, sum);
	return ret;
}

/* ------------------------------- device 0's superblocks both bad */

/* Is rg the device 0 of the volume whose table t is?  Its own table
 * (primary or backup copy) must be t. */
static bool table_is(struct hfs_region *rg, const struct hfs_super *sb,
		     const struct hfs_devtab *t)
{
	uint64_t offs[2] = { HFS_DEVTAB_OFF, sb->s_backup_off + HFS_DEVTAB_OFF };
	struct hfs_devtab *own = malloc(sizeof(*own));
	char why[200];
	bool same = false;

	for (int i = 0; own && i < 2 && !same; i++)
		same = !hfs_devtab_load(rg, offs[i], sb, own, why, sizeof(why)) &&
		       own->t_gen == t->t_gen &&
		       !memcmp(own->t_dev, t->t_dev, sizeof(t->t_dev));
	free(own);
	return same;
}

int hfs_mirror_find_super(struct hfs_region *rg, const char *const *paths,
			  unsigned n, struct hfs_super *sb)
{
	struct hfs_devtab *t = malloc(sizeof(*t));
	int ret = -ENOENT;

	for (unsigned i = 0; t && i < n && ret; i++) {
		struct hfs_region_opts o = { .readonly = true, .no_lock = true };
		struct hfs_region *m = NULL;
		struct hfs_err err = { 0 };
		struct hfs_super s;
		uint64_t rel;

		if (hfs_region_open(paths[i], &o, &m, &err))
			continue;
		if (!hfs_members_read_mirror(m, &s, t, &rel, &err) &&
		    t->t_dev[0].d_state == HFS_DEV_ACTIVE &&
		    s.s_region_size <= hfs_region_member_size(rg, 0) &&
		    table_is(rg, &s, t)) {
			*sb = s;
			ret = 0;
		}
		hfs_region_close(m);
	}
	free(t);
	return t ? ret : -ENOMEM;
}

