/* SPDX-License-Identifier: MIT */
/*
 * The metadata redo journal.
 *
 * Every namespace and allocation change is one transaction: a list of
 * (region offset, new bytes) records staged in DRAM while the operation
 * runs under vol->lock, then committed here:
 *
 *   1. copy records + header into the journal area, one flush of that
 *      span, drain -> commit point: the crc over header and records
 *      now matches;
 *   2. copy each record to its home location; flush each page (or cache
 *      line) they touched once, drain;
 *   3. return.  The next transaction overwrites the journal area.
 *
 * Only one transaction is ever in the journal, and it has always been
 * fully applied before the next one starts writing, so mount-time replay
 * is simply "if the journal holds a committed transaction, apply it
 * again": records are absolute bytes, so re-applying an applied
 * transaction changes nothing, and a torn one fails its crc and is
 * ignored (its effects never reached home locations).
 *
 * File data is not journaled: it is written (and persisted) into blocks
 * no committed metadata points at yet, before the transaction that links
 * them commits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmem2.h>

#include "eof_tail_i.h"
#include "failure_i.h"
#include "grow.h"
#include "journal_i.h"
#include "media.h"
#include "region.h"
#include "vol_i.h"

#define JPAD(n) (((n) + 7u) & ~(size_t)7u)

void hfs_tx_init(struct hfs_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
}

void hfs_tx_free(struct hfs_tx *tx)
{
	free(tx->buf);
	hfs_tx_init(tx);
}

void hfs_tx_abort(struct hfs_tx *tx)
{
	tx->len = 0;
	tx->nrec = 0;
}

static int tx_reserve(struct hfs_tx *tx, size_t more)
{
	return hfs_grow(&tx->buf, &tx->cap, tx->len + more, 1);
}

int hfs_tx_add(struct hfs_tx *tx, uint64_t off, const void *src, size_t len)
{
	struct hfs_jrecord r = { .r_off = off, .r_len = (uint32_t)len };
	size_t need = sizeof(r) + JPAD(len);
	int ret;

	if (len == 0)
		return 0;
	if (len > UINT32_MAX)
		return -E2BIG;
	ret = tx_reserve(tx, need);
	if (ret)
		return ret;
	memcpy(tx->buf + tx->len, &r, sizeof(r));
	memcpy(tx->buf + tx->len + sizeof(r), src, len);
	memset(tx->buf + tx->len + sizeof(r) + len, 0, JPAD(len) - len);
	tx->len += need;
	tx->nrec++;
	return 0;
}

static uint32_t tx_crc(const struct hfs_jheader *h, const uint8_t *recs,
		       size_t len)
{
	struct hfs_jheader c = *h;

	c.j_crc = 0;
	return hfs_crc32c_cont(hfs_crc32c(&c, sizeof(c)), recs, len);
}

struct apply_ctx {
	struct hfs_region *rg;
	const uint8_t *recs;
	size_t len;
};

/* A range to flush, rounded out to the region's flush unit. */
struct frange {
	uint64_t s, e;
};

static int frange_cmp(const void *a, const void *b)
{
	const struct frange *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

/* Flush what the records wrote home, each flush unit once: the ranges
 * are rounded out to rg->flush_unit (a page where a flush is an msync, a
 * cache line otherwise), sorted and merged, so the inode slots, dentry
 * slots and bitmap words a transaction touches in one page cost one
 * msync, not one each.  Flushing a whole unit is what the hardware (or
 * msync) does anyway.  Without memory for the sort each record is
 * flushed on its own: more flushes, the same persistence. */
static void flush_records(struct hfs_region *rg, const uint8_t *recs,
			  size_t len)
{
	uint64_t unit = rg->flush_unit ? rg->flush_unit : 64;
	struct frange stack[32], *v = stack;
	size_t n = 0, cap = 32, pos;

	for (pos = 0; pos < len; n++) {
		struct hfs_jrecord r;

		memcpy(&r, recs + pos, sizeof(r));
		pos += sizeof(r) + JPAD(r.r_len);
	}
	if (n > cap) {
		v = malloc(n * sizeof(*v));
		cap = n;
	}
	for (pos = 0, n = 0; pos < len; n++) {
		struct hfs_jrecord r;

		memcpy(&r, recs + pos, sizeof(r));
		pos += sizeof(r) + JPAD(r.r_len);
		if (!v) {
			rg->ops.flush(rg->base + r.r_off, r.r_len);
			continue;
		}
		v[n].s = r.r_off / unit * unit;
		v[n].e = r.r_off + r.r_len;
		v[n].e = (v[n].e + unit - 1) / unit * unit;
		if (v[n].e > rg->size)
			v[n].e = rg->size;
	}
	if (!v)
		return;
	qsort(v, n, sizeof(*v), frange_cmp);
	for (size_t i = 0; i < n;) {
		uint64_t s0 = v[i].s, e0 = v[i].e;

		for (i++; i < n && v[i].s <= e0; i++)
			if (v[i].e > e0)
				e0 = v[i].e;
		rg->ops.flush(rg->base + s0, e0 - s0);
	}
	if (v != stack)
		free(v);
}

/* Copy every record to its home location, then flush what they wrote
 * (flush_records) and drain once.  Runs under the SIGBUS guard.  The
 * stores go through rg->ops like every other write to region memory, so
 * a persistence tracer sees them (tests/crash). */
static int apply_records(void *arg)
{
	struct apply_ctx *a = arg;
	size_t pos = 0;

	while (pos < a->len) {
		struct hfs_jrecord r;

		memcpy(&r, a->recs + pos, sizeof(r));
		pos += sizeof(r);
		a->rg->ops.memcpy(a->rg->base + r.r_off, a->recs + pos, r.r_len,
				  PMEM2_F_MEM_NOFLUSH);
		pos += JPAD(r.r_len);
	}
	flush_records(a->rg, a->recs, a->len);
	a->rg->ops.drain();
	return 0;
}

/* Check that every record lies inside the region; a crafted journal must
 * not be able to write anywhere else.  Shared with fsck. */
bool hfs_journal_records_valid(const struct hfs_region *rg,
			       const uint8_t *recs, size_t len, uint32_t nrec)
{
	size_t pos = 0;
	uint32_t n = 0;

	while (pos < len) {
		struct hfs_jrecord r;

		if (len - pos < sizeof(r))
			return false;
		memcpy(&r, recs + pos, sizeof(r));
		pos += sizeof(r);
		if (r.r_len == 0 || JPAD(r.r_len) > len - pos ||
		    r.r_off > rg->size || r.r_len > rg->size - r.r_off)
			return false;
		pos += JPAD(r.r_len);
		n++;
	}
	return n == nrec;
}

struct jwrite_ctx {
	struct hfs_region *rg;
	uint8_t *at;                 /* the journal area */
	const struct hfs_jheader *h;
	const uint8_t *recs;
	size_t len;
};

/* Records, then the header, then one flush of the whole span and one
 * drain: the crc over header and records makes them one commit record
 * whatever order the stores persist in (a torn one fails the crc and is
 * never applied), so nothing needs ordering inside it. */
static int jwrite(void *arg)
{
	struct jwrite_ctx *c = arg;
	size_t hl = sizeof(*c->h);

	c->rg->ops.memcpy(c->at + hl, c->recs, c->len, PMEM2_F_MEM_NOFLUSH);
	c->rg->ops.memcpy(c->at, c->h, hl, PMEM2_F_MEM_NOFLUSH);
	c->rg->ops.flush(c->at, hl + c->len);
	c->rg->ops.drain();
	return 0;
}

static int journal_write(struct hfs_vol *vol, struct hfs_tx *tx,
			 struct hfs_fault *fp)
{
	struct hfs_region *rg = vol->rg;
	uint64_t joff = vol->sb.s_journal_off;
	struct hfs_jheader h = {
		.j_magic = HFS_JOURNAL_MAGIC,
		.j_seq = vol->jseq + 1,
		.j_nrec = tx->nrec,
		.j_bytes = tx->len,
	};
	struct jwrite_ctx c = { rg, rg->base + joff, &h, tx->buf, tx->len };
	struct hfs_fault f = { 0 };
	int ret;

	h.j_crc = tx_crc(&h, tx->buf, tx->len);
	ret = hfs_region_sim_poisoned(rg, joff, sizeof(h) + tx->len, &f);
	if (!ret)
		ret = hfs_region_guard(rg, jwrite, &c, &f);
	if (ret) {
		*fp = f;
		return ret;
	}
	vol->jseq = h.j_seq;
	return 0;
}

int hfs_tx_commit(struct hfs_vol *vol, struct hfs_tx *tx)
{
	struct apply_ctx a = { vol->rg, tx->buf, tx->len };
	uint64_t jcap = vol->sb.s_journal_blocks * HFS_BLOCK_SIZE;
	struct hfs_fault f = { 0 };
	uint64_t seq;
	int ret;

	if (tx->nrec == 0)
		return 0;
	if (vol->failed) {
		ret = -EIO;
		goto out;
	}
	if (vol->readonly) {
		ret = -EROFS;
		goto out;
	}
	if (tx->len + sizeof(struct hfs_jheader) > jcap) {
		/* Operations are sized so this cannot happen; if it does, it
		 * is a bug, and refusing is the only safe answer. */
		ret = -E2BIG;
		goto out;
	}
	seq = vol->jseq;
	ret = journal_write(vol, tx, &f);
	if (!ret)
		ret = hfs_region_guard(vol->rg, apply_records, &a, &f);
	if (ret == -EIO && hfs_vol_fail_over_for_fault(vol, &f)) {
		/* device 0 went away under this commit and its mirror is
		 * mapped in its place now: write the commit again there
		 * (lib/vol_failover.c has why that is sound); the failure
		 * pipeline hears of the fault and does the rest */
		hfs_vol_fault(vol, &f);
		vol->jseq = seq;
		ret = journal_write(vol, tx, &f);
		if (!ret)
			ret = hfs_region_guard(vol->rg, apply_records, &a, &f);
	}
	if (ret) {
		if (ret == -EIO)
			hfs_vol_fault(vol, &f); /* failure pipeline */
		vol->failed = true;
		ret = -EIO;
	}
out:
	hfs_tx_abort(tx);
	return ret;
}

/* A truncate zeroes the new EOF tail only after its commit (eof_tail.c):
 * a crash in between leaves that transaction here, so replay finishes the
 * job for every inode slot the transaction wrote.  Before the caller
 * clears the journal, so a crash during replay replays this too. */
static void zero_replayed_tails(struct hfs_region *rg,
				const struct hfs_super *sb,
				const uint8_t *recs, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		struct hfs_jrecord r;

		memcpy(&r, recs + pos, sizeof(r));
		pos += sizeof(r) + JPAD(r.r_len);
		hfs_eof_zero_replayed(rg, sb, r.r_off, r.r_len);
	}
}

/* Apply a committed transaction whose records are recs (checked here:
 * torn or out of bounds is "none"). */
static int replay_recs(struct hfs_region *rg, const struct hfs_super *sb,
		       const struct hfs_jheader *h, const uint8_t *recs,
		       struct hfs_err *err)
{
	struct apply_ctx a = { rg, recs, h->j_bytes };
	struct hfs_fault f;
	int ret;

	if (tx_crc(h, recs, h->j_bytes) != h->j_crc ||
	    !hfs_journal_records_valid(rg, recs, h->j_bytes, h->j_nrec))
		return 0; /* torn: never applied anywhere */
	if (rg->readonly)
		return hfs_err_set(err, -EROFS,
				   "%s: journal needs replay but the region is read-only",
				   rg->path);
	ret = hfs_region_guard(rg, apply_records, &a, &f);
	if (!ret)
		zero_replayed_tails(rg, sb, recs, h->j_bytes);
	if (ret)
		return hfs_err_set(err, -EIO, "%s: media error replaying the journal at 0x%llx",
				   rg->path, (unsigned long long)f.off);
	return 1;
}

static bool header_usable(const struct hfs_super *sb,
			  const struct hfs_jheader *h)
{
	uint64_t jcap = sb->s_journal_blocks * HFS_BLOCK_SIZE;

	return h->j_magic == HFS_JOURNAL_MAGIC && h->j_bytes != 0 &&
	       h->j_bytes <= jcap - sizeof(*h);
}

int hfs_journal_replay(struct hfs_region *rg, const struct hfs_super *sb,
		       uint64_t *seq, struct hfs_err *err)
{
	uint64_t joff = sb->s_journal_off;
	struct hfs_jheader h;
	struct hfs_fault f;
	uint8_t *recs;
	int ret;

	*seq = 0;
	ret = hfs_region_read(rg, joff, &h, sizeof(h), &f);
	if (ret)
		return hfs_err_set(err, ret, "%s: journal unreadable at 0x%llx",
				   rg->path, (unsigned long long)f.off);
	if (!header_usable(sb, &h))
		return 0;
	*seq = h.j_seq;
	recs = malloc(h.j_bytes);
	if (!recs)
		return -ENOMEM;
	ret = hfs_region_read(rg, joff + sizeof(h), recs, h.j_bytes, &f);
	if (ret) {
		free(recs);
		return hfs_err_set(err, ret, "%s: journal unreadable at 0x%llx",
				   rg->path, (unsigned long long)f.off);
	}
	ret = replay_recs(rg, sb, &h, recs, err);
	free(recs);
	return ret;
}

int hfs_journal_replay_copy(struct hfs_region *rg, const struct hfs_super *sb,
			    const uint8_t *copy, size_t len, uint64_t *seq,
			    struct hfs_err *err)
{
	struct hfs_jheader h;

	*seq = 0;
	if (len < sizeof(h))
		return 0;
	memcpy(&h, copy, sizeof(h));
	if (!header_usable(sb, &h))
		return 0;
	*seq = h.j_seq;
	if (h.j_bytes > len - sizeof(h))
		return 0; /* the copy is short: no transaction to trust */
	return replay_recs(rg, sb, &h, copy + sizeof(h), err);
}

/*
 * Forget the transaction in the journal.  Called after mount-time replay,
 * at clean unmount and by fsck before it repairs anything: from then on
 * home locations may be written outside the journal (fsck repairs, the
 * backup superblock), and an old transaction must not be applied again
 * over them.
 */
int hfs_journal_clear(struct hfs_region *rg, const struct hfs_super *sb)
{
	struct hfs_jheader h;

	memset(&h, 0, sizeof(h));
	return hfs_region_write(rg, sb->s_journal_off, &h, sizeof(h), NULL);
}
