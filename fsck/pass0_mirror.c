/* SPDX-License-Identifier: MIT */
/*
 * Pass 0, with a mirror: device 0's bad copies from the mirror's good
 * ones (lib/mirror_heal.c decides which copy wins; docs/fsck.md).
 *
 * Checks: every structure in device 0's bytes [0, s_meta_end) against
 *   its copy in the mirror, in two steps as mount does: the primary
 *   superblock, the device table and the journal before the journal is
 *   replayed; the health log, the bad-extent list, the inode slots and
 *   the metadata zone after it (the replay rewrites, on both copies,
 *   every home location a crash may have torn).
 * Repairs: device 0's copy that fails its check, when the mirror's
 *   passes (P0_MIRROR_REPAIR).  Both copies bad: reported
 *   (P0_MIRROR_BOTH_BAD), nothing written; the passes after judge device
 *   0's copy like any damaged structure, and pass 5 then rewrites the
 *   mirror from device 0 (P5_MIRROR_STALE).
 * Writes before the replay go straight to the region (a copy from the
 *   mirror is a state the journal may still be replayed over, so the
 *   journal must not be cleared first); writes after it are ordinary
 *   fsck writes.  In -n, reads of both copies see the journal overlay.
 * Needs: f->sb (pass 0's choice).  Leaves: nothing but the repairs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"
#include "mirror_heal.h"

struct mctx {
	struct fsck *f;
	uint64_t moff;
	bool replayed; /* after the replay: ordinary fsck writes */
};

static int m_read(void *ctx, int mirror, uint64_t off, void *buf, size_t len)
{
	struct mctx *m = ctx;

	return mirror ? fsck_read_shifted(m->f, m->moff + off, off, buf, len)
		      : fsck_read(m->f, off, buf, len);
}

static int m_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct mctx *m = ctx;

	if (m->replayed)
		return fsck_write(m->f, off, buf, len);
	m->f->rep->modified = true;
	return hfs_region_write(m->f->rg, off, buf, len, &m->f->fault);
}

static bool m_found(void *ctx, const struct hfs_heal_item *it)
{
	struct mctx *m = ctx;
	const char *what = hfs_heal_what_name(it->what);

	if (it->both_bad) {
		fix_problem(m->f, HFS_P0_MIRROR_BOTH_BAD, it->ino, it->off,
			    "both copies of device 0's %s at %#" PRIx64
			    " are bad (device 0's: %s; the mirror's fails its "
			    "check too): nothing to repair it from", what,
			    it->off, it->why);
		return false;
	}
	return fix_problem(m->f, HFS_P0_MIRROR_REPAIR, it->ino, it->off,
			   "device 0's %s at %#" PRIx64 " is bad (%s); the "
			   "mirror's copy is good", what, it->off, it->why);
}

static void m_done(void *ctx, const struct hfs_heal_item *it, int ret)
{
	struct mctx *m = ctx;

	(void)it;
	if (ret)
		fsck_fix_failed(m->f, ret);
}

static bool io_of(struct fsck *f, struct mctx *m, struct hfs_heal_io *io)
{
	uint64_t len;

	if (f->rg->slice_off || !hfs_region_mirrored(f->rg, &len, &m->moff))
		return false;
	m->f = f;
	*io = (struct hfs_heal_io){ m_read, m_write, m_found, m_done, m,
				    f->rg };
	return true;
}

int fsck_mirror_before_replay(struct fsck *f, struct hfs_heal_sum *sum)
{
	struct hfs_heal_io io;
	struct mctx m = { 0 };

	memset(sum, 0, sizeof(*sum));
	if (!io_of(f, &m, &io))
		return 0;
	return hfs_heal_before_replay(&f->sb, &io, sum);
}

uint8_t *fsck_mirror_journal(struct fsck *f, size_t *len)
{
	uint64_t joff = f->sb.s_journal_off;
	uint64_t jcap = f->sb.s_journal_blocks * BLK;
	struct hfs_heal_io io;
	struct mctx m = { 0 };
	struct hfs_jheader h;
	uint8_t *buf;

	if (!io_of(f, &m, &io) || m_read(&m, 1, joff, &h, sizeof(h)) ||
	    h.j_bytes > jcap - sizeof(h))
		return NULL;
	*len = sizeof(h) + h.j_bytes;
	buf = malloc(*len);
	if (buf && m_read(&m, 1, joff, buf, *len)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

int fsck_mirror_after_replay(struct fsck *f)
{
	struct hfs_heal_sum sum = { 0 };
	struct hfs_heal_io io;
	struct mctx m = { 0 };

	if (!io_of(f, &m, &io))
		return 0;
	m.replayed = true;
	return hfs_heal_after_replay(&f->sb, f->scan_end, true, &io, &sum);
}

bool fsck_mirror_super(struct fsck *f, struct hfs_super *sb)
{
	struct hfs_heal_io io;
	struct mctx m = { 0 };
	struct hfs_super s;

	if (!io_of(f, &m, &io) || m_read(&m, 1, 0, &s, sizeof(s)) ||
	    hfs_super_check(&s, s.s_region_size, NULL, NULL) ||
	    s.s_region_size > hfs_region_member_size(f->rg, 0) ||
	    !(s.s_feat_incompat & HFS_FEAT_INCOMPAT_MULTIDEV))
		return false;
	*sb = s;
	return true;
}

