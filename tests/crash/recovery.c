/* SPDX-License-Identifier: MIT */
/*
 * Crashes during recovery (recovery.h).
 */
#include "recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "workload.h"

void recovery_init(struct recovery *rc, uint64_t size, bool probe)
{
	memset(rc, 0, sizeof(*rc));
	rc->size = size;
	rc->probe = probe;
	rc->K = 8;
	rc->R = 16;
	rc->only_epoch = UINT64_MAX;
	rc->state = malloc(size);
	rc->live = malloc(size);
	rc->work = malloc(size);
	if (!rc->state || !rc->live || !rc->work)
		abort();
	undo_init(&rc->undo, rc->work, size);
	if (checker_init(&rc->ck, rc->work, size, &rc->undo))
		abort();
	rc->ck.probe = probe;
}

void recovery_free(struct recovery *rc)
{
	checker_free(&rc->ck);
	undo_free(&rc->undo);
	free(rc->state);
	free(rc->live);
	free(rc->work);
	free(rc->masks.buf);
	memset(rc, 0, sizeof(*rc));
}

static void check_nested(struct recovery *rc, struct gen *g, uint64_t e,
			 const struct spec *s)
{
	struct expect ex = { rc->exp, NULL, OPC_NONE, -1 };
	char msg[1500], mask[4096];

	gen_apply(g, s);
	rc->generated++;
	rc->checked++;
	if (check_state(&rc->ck, &ex, msg, sizeof(msg))) {
		rc->failed++;
		spec_format(s, g->np, mask, sizeof(mask));
		if (rc->report)
			rc->report(rc->ctx, e, mask, msg);
	}
	undo_rollback(&rc->undo);
}

static int nested_cb(void *ctx, struct gen *g, uint64_t e)
{
	struct recovery *rc = ctx;
	uint64_t n = gen_cand_count(g, rc->K, rc->R);
	struct spec s;

	if (rc->only_epoch != UINT64_MAX) {
		uint8_t *m;

		if (e != rc->only_epoch)
			return 0;
		if (spec_parse(rc->only_mask, g->np, &s, &m)) {
			rc->failed++;
			if (rc->report)
				rc->report(rc->ctx, e, rc->only_mask,
					   "mask does not fit the pending units");
			return 1;
		}
		check_nested(rc, g, e, &s);
		free(m);
		return 1;
	}
	for (uint64_t j = 0; j < n; j++) {
		/* the fence states (j == 0) are the recovery's own
		 * persisted steps; skip the final one, the outer check */
		gen_cand_build(g, rc->seed, e, j, rc->K, rc->R, &s, &rc->masks);
		check_nested(rc, g, e, &s);
	}
	return 0;
}

uint64_t recovery_run(struct recovery *rc, const uint8_t *img,
		      const struct model *exp, uint64_t seed)
{
	struct hfs_region *rg;
	struct hfs_vol *vol = NULL;
	struct hfs_err err = { 0 };
	struct trace tr;
	struct gen g;
	uint64_t failed0 = rc->failed;
	int ret;

	rc->exp = exp;
	rc->seed = seed;
	memcpy(rc->state, img, rc->size);
	memcpy(rc->live, img, rc->size);
	if (hfs_region_from_memory(rc->live, rc->size, &rg))
		abort();
	trace_init(&tr);
	trace_attach(&tr, rg);
	ret = hfs_vol_open(rg, NULL, &vol, NULL, &err);
	trace_detach(&tr);
	if (ret) {
		rc->failed++;
		if (rc->report)
			rc->report(rc->ctx, 0, "-", "traced recovery failed");
	} else {
		hfs_vol_close(vol);
		memcpy(rc->work, rc->state, rc->size);
		gen_init(&g, &tr, rc->work, rc->size, &rc->undo, false);
		/* every state of the recovery but its last (the mounted
		 * volume, which the outer check already saw) */
		g.stop = tr.fences ? tr.fences - 1 : 0;
		if (rc->only_epoch != UINT64_MAX)
			g.stop = rc->only_epoch;
		gen_walk(&g, nested_cb, rc);
		gen_free(&g);
	}
	hfs_region_close(rg);
	trace_free(&tr);
	return rc->failed - failed0;
}

bool recovery_dslot_pending(const uint8_t *img, uint64_t size)
{
	const struct hfs_super *sb = (const void *)img;
	uint64_t end = sb->s_dslot_off +
		       (uint64_t)sb->s_dslot_count * HFS_DSLOT_SIZE;

	if (!(sb->s_feat_compat & HFS_FEAT_COMPAT_DSLOTS) || end > size)
		return false;
	for (uint32_t i = 0; i < sb->s_dslot_count; i++) {
		const struct hfs_dslot *s = (const void *)(img + sb->s_dslot_off +
					   (uint64_t)i * HFS_DSLOT_SIZE);

		if (s->ds_ino)
			return true;
	}
	return false;
}

bool recovery_journal_pending(const uint8_t *img, uint64_t size)
{
	const struct hfs_super *sb = (const void *)img;
	struct hfs_jheader h;
	uint64_t jcap = sb->s_journal_blocks * HFS_BLOCK_SIZE;

	if (sb->s_journal_off + jcap > size)
		return false;
	memcpy(&h, img + sb->s_journal_off, sizeof(h));
	if (h.j_magic != HFS_JOURNAL_MAGIC || h.j_bytes == 0 ||
	    h.j_bytes > jcap - sizeof(h))
		return false;
	{
		struct hfs_jheader c = h;

		c.j_crc = 0;
		return hfs_crc32c_cont(hfs_crc32c(&c, sizeof(c)),
				       img + sb->s_journal_off + sizeof(h),
				       h.j_bytes) == h.j_crc;
	}
}
