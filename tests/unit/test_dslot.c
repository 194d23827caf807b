/* SPDX-License-Identifier: MIT */
/*
 * Data-path slots (lib/dslot.c, docs/data-path.md) on a region in memory:
 * what a client publishes is what everyone sees; a crash leaves the
 * published size (and nothing past it) once mounted again; the
 * reservation past EOF is returned; a truncate is never undone by a slot
 * after a crash; appends through FUSE land at the published end; the
 * daemon's wait for a stuck client's slot lock ends; a punch or zero
 * range waits for it too, a plain KEEP_SIZE allocation does not.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <holdfs/proto.h>

#include "mkfs.h"
#include "inode_i.h"
#include "vol_i.h"

#include "check.h"

#define REGION_SIZE (64u << 20)
#define MIB (1ull << 20)

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

static struct hfs_region *make_region(void **mem)
{
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t" };

	*mem = calloc(1, REGION_SIZE);
	if (!*mem || hfs_region_from_memory(*mem, REGION_SIZE, &rg))
		abort();
	if (hfs_mkfs(rg, &o, &res, &err)) {
		fprintf(stderr, "mkfs: %s\n", err.msg);
		abort();
	}
	return rg;
}

static struct hfs_vol *mount_vol(struct hfs_region *rg,
				 struct hfs_vol_info *info)
{
	struct hfs_vol *vol = NULL;
	struct hfs_err err = { 0 };

	if (hfs_vol_open(rg, NULL, &vol, info, &err)) {
		fprintf(stderr, "mount: %s\n", err.msg);
		abort();
	}
	return vol;
}

/* The state a power cut leaves: a copy of the region's bytes now. */
static struct hfs_region *crash_copy(const void *mem, void **copy)
{
	struct hfs_region *rg;

	*copy = malloc(REGION_SIZE);
	if (!*copy)
		abort();
	memcpy(*copy, mem, REGION_SIZE);
	if (hfs_region_from_memory(*copy, REGION_SIZE, &rg))
		abort();
	return rg;
}

static struct hfs_dslot *slot_at(struct hfs_vol *vol, uint32_t idx)
{
	return (struct hfs_dslot *)(vol->rg->base + vol->ds.off +
				    (uint64_t)idx * HFS_DSLOT_SIZE);
}

/* Where file byte off of ino lives in the region (it must be mapped). */
static uint8_t *file_byte(struct hfs_vol *vol, uint64_t ino, uint64_t off)
{
	struct hfs_lease_extent ext[16];
	uint64_t au = hfs_vol_alloc_unit(vol), base = off / au * au;
	uint32_t n = 0;

	CHECK(hfs_lease_extents(vol, ino, base, au, false, ext, 16, &n, NULL,
				NULL) == 0);
	CHECK(n == 1 && !(ext[0].flags & HFS_LEXT_HOLE));
	return vol->rg->base + ext[0].region_off + (off - base);
}

static uint64_t mkfile(struct hfs_vol *vol, const char *name, uint64_t size)
{
	struct hfs_attr a;
	static char buf[1 << 16];

	memset(buf, 'a', sizeof(buf));
	CHECK(hfs_mknod(vol, HFS_ROOT_INO, name, S_IFREG | 0644, 0, &root_cred,
			&a) == 0);
	CHECK(hfs_open(vol, a.ino) == 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		CHECK(hfs_write(vol, a.ino, buf, n, off) == (ssize_t)n);
	}
	return a.ino;
}

/* A client's append of n bytes of c at the published end: data first,
 * then the size (docs/data-path.md). */
static void client_append(struct hfs_vol *vol, struct hfs_dslot *s,
			  uint64_t ino, size_t n, char c)
{
	uint64_t end = s->ds_size;

	CHECK(end + n <= s->ds_limit);
	memset(file_byte(vol, ino, end), c, n);
	s->ds_size = end + n;
	s->ds_mtime = 1900000000ull * 1000000000ull;
}

static void test_publish_and_replay(void)
{
	void *mem, *copy;
	struct hfs_region *rg = make_region(&mem), *crg;
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info), *cvol;
	uint64_t ino = mkfile(vol, "f", 5000), free_before, free_after;
	struct hfs_dslot *s;
	struct hfs_attr a;
	char buf[8192];
	uint32_t idx;
	uint64_t gen;

	CHECK(vol->ds.count > 0);
	CHECK(vol->sb.s_feat_incompat & HFS_FEAT_INCOMPAT_DSLOTS_LIVE);
	CHECK(hfs_dslot_attach(vol, ino, &idx, &gen) == 0);
	s = slot_at(vol, idx);
	CHECK(s->ds_ino == ino && s->ds_size == 5000 && s->ds_lock == 0);
	CHECK(s->ds_limit == 8192); /* the end of the last unit */
	/* a reservation past EOF: blocks first, then the limit */
	CHECK(hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, 0, 1 * MIB) == 0);
	CHECK(hfs_dslot_raise_limit(vol, ino, 8192, 1 * MIB) == 0);
	CHECK(s->ds_limit == 1 * MIB && s->ds_resv == 8192);
	client_append(vol, s, ino, 10000, 'b');
	/* everyone sees it at once: getattr, read, a lease's reach */
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 15000 && a.direct);
	CHECK(a.mtime.tv_sec == 1900000000);
	CHECK(hfs_read(vol, ino, buf, sizeof(buf), 10000) == 5000);
	CHECK(buf[0] == 'b' && buf[4999] == 'b');
	/* unpublished bytes past the size (a writer that died) */
	memset(file_byte(vol, ino, 15000), 'X', 100);

	/* power cut: the slot is folded at mount */
	crg = crash_copy(mem, &copy);
	cvol = mount_vol(crg, &info);
	CHECK(info.dslots_folded == 1);
	CHECK(hfs_getattr(cvol, ino, &a) == 0 && a.size == 15000 && !a.direct);
	CHECK(a.mtime.tv_sec == 1900000000);
	CHECK(hfs_read(cvol, ino, buf, 100, 14950) == 50 && buf[0] == 'b');
	/* journal replay zeroes EOF tails of the inodes it wrote: by the
	 * size the slot published, not the inode's (5000) */
	CHECK(hfs_read(cvol, ino, buf, 4000, 5000) == 4000);
	CHECK(buf[0] == 'b' && buf[3191] == 'b' && buf[3999] == 'b');
	/* nothing of the unpublished write past EOF survives */
	CHECK(*file_byte(cvol, ino, 15000) == 0);
	/* the reservation past the new end went back */
	free_before = cvol->alloc.free_blocks;
	CHECK(hfs_emap_blocks(&cvol->itab[ino]->em) == 4); /* 16 KiB */
	CHECK(slot_at(cvol, idx)->ds_ino == 0);
	hfs_vol_close(cvol);
	hfs_region_close(crg);
	free(copy);
	(void)free_before;

	/* a clean detach commits the same, and frees the reservation */
	free_before = vol->alloc.free_blocks;
	CHECK(hfs_dslot_detach(vol, ino, gen, idx) == 0);
	free_after = vol->alloc.free_blocks;
	CHECK(free_after > free_before);
	CHECK(s->ds_ino == 0);
	/* attributes stay uncached until the kernel forgets the inode: its
	 * cached size may be old, and it outlives every close (inode_i.h) */
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 15000 && a.direct);
	hfs_release(vol, ino);
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 15000 && a.direct);
	hfs_forget(vol, ino, 1);
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 15000 && !a.direct);
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

static void test_truncate_not_undone(void)
{
	void *mem, *copy;
	struct hfs_region *rg = make_region(&mem), *crg;
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info), *cvol;
	uint64_t ino = mkfile(vol, "t", 8192);
	struct hfs_setattr sa = { .mask = HFS_SET_SIZE, .size = 8192 };
	struct hfs_dslot *s;
	struct hfs_attr a;
	uint32_t idx;
	uint64_t gen;

	CHECK(hfs_dslot_attach(vol, ino, &idx, &gen) == 0);
	s = slot_at(vol, idx);
	CHECK(hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, 8192, 64 << 10) == 0);
	CHECK(hfs_dslot_raise_limit(vol, ino, 8192, 8192 + (64 << 10)) == 0);
	client_append(vol, s, ino, 20000, 'c');
	/* truncate back to the very size the slot was armed with: the slot
	 * must not bring the appended bytes back after a crash */
	CHECK(hfs_setattr(vol, ino, &sa, &a) == 0 && a.size == 8192);
	CHECK(s->ds_size == 8192);
	CHECK(vol->itab[ino]->d.i_dp_epoch == s->ds_epoch);
	crg = crash_copy(mem, &copy);
	cvol = mount_vol(crg, &info);
	CHECK(hfs_getattr(cvol, ino, &a) == 0 && a.size == 8192);
	hfs_vol_close(cvol);
	hfs_region_close(crg);
	free(copy);

	/* a slot of an older epoch is ignored: a crash between a commit
	 * and the slot's rewrite */
	s->ds_epoch--;
	s->ds_size = 9000;
	crg = crash_copy(mem, &copy);
	cvol = mount_vol(crg, &info);
	CHECK(info.dslots_stale == 1);
	CHECK(hfs_getattr(cvol, ino, &a) == 0 && a.size == 8192);
	hfs_vol_close(cvol);
	hfs_region_close(crg);
	free(copy);
	s->ds_epoch++;
	s->ds_size = 8192;

	/* a size past the limit is never taken */
	s->ds_size = s->ds_limit + 4096;
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 8192);
	s->ds_size = 8192;
	hfs_release(vol, ino);
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

static int stuck_calls;

static void stuck_hook(void *ctx, uint64_t ino, uint32_t client)
{
	struct hfs_dslot *s = ctx;

	(void)ino;
	CHECK(client == 7);
	stuck_calls++;
	s->ds_lock = 0; /* as if the holder acked or was killed */
}

static void test_append_and_stuck_lock(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info);
	uint64_t ino = mkfile(vol, "a", 4096), at = 0;
	struct hfs_vol_hooks h = { .dslot_stuck = stuck_hook };
	struct hfs_dslot *s;
	struct hfs_attr a;
	char buf[16];
	uint32_t idx;
	uint64_t gen;

	CHECK(hfs_dslot_attach(vol, ino, &idx, &gen) == 0);
	s = slot_at(vol, idx);
	CHECK(hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, 4096, 8192) == 0);
	CHECK(hfs_dslot_raise_limit(vol, ino, 4096, 12288) == 0);
	client_append(vol, s, ino, 100, 'd');
	/* an O_APPEND write through FUSE: after the published end */
	CHECK(hfs_append(vol, ino, "EFGH", 4, &at) == 4 && at == 4196);
	CHECK(s->ds_size == 4200);
	CHECK(hfs_read(vol, ino, buf, 8, 4192) == 8);
	CHECK(!memcmp(buf, "ddddEFGH", 8));
	/* a client holding the lock past the wait: the hook, then on */
	h.ctx = s;
	hfs_vol_set_hooks(vol, &h);
	hfs_vol_set_dslot_wait(vol, 50);
	s->ds_lock = 7;
	CHECK(hfs_write(vol, ino, "Z", 1, 5000) == 1);
	CHECK(stuck_calls == 1 && s->ds_lock == 0);
	CHECK(hfs_getattr(vol, ino, &a) == 0 && a.size == 5001);
	/* a client's connection closed: its locks go */
	s->ds_lock = 9;
	hfs_dslot_client_gone(vol, 9);
	CHECK(s->ds_lock == 0);
	hfs_vol_set_hooks(vol, NULL);
	/* the inode goes away with its slot */
	hfs_release(vol, ino);
	CHECK(hfs_unlink(vol, HFS_ROOT_INO, "a") == 0);
	hfs_forget(vol, ino, 1);
	CHECK(s->ds_ino == 0);
	CHECK(hfs_dslot_detach(vol, ino, gen, idx) == 0); /* harmless now */
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

/* A punch or zero range that keeps the size still changes bytes a direct
 * append may be copying into (the reservation past EOF) and would then
 * publish: it waits for the slot lock like a write.  A plain KEEP_SIZE
 * allocation changes nothing anyone reads and must not wait (a lease
 * grant allocates with it on the control thread). */
static void test_keep_size_changes_wait(void)
{
	static const int waits[] = {
		FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
		FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE,
	};
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info);
	uint64_t ino = mkfile(vol, "k", 4096);
	struct hfs_vol_hooks h = { .dslot_stuck = stuck_hook };
	struct hfs_dslot *s;
	uint32_t idx;
	uint64_t gen;

	CHECK(hfs_dslot_attach(vol, ino, &idx, &gen) == 0);
	s = slot_at(vol, idx);
	CHECK(hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, 4096, 3 * MIB) == 0);
	CHECK(hfs_dslot_raise_limit(vol, ino, 4096, 3 * MIB) == 0);
	h.ctx = s;
	hfs_vol_set_hooks(vol, &h);
	hfs_vol_set_dslot_wait(vol, 50);
	stuck_calls = 0;
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		s->ds_lock = 7;   /* a client copying an append */
		CHECK(hfs_fallocate(vol, ino, waits[i], 8192, 4096) == 0);
		if (stuck_calls != (int)i + 1 || s->ds_lock != 0)
			fprintf(stderr, "fallocate mode %#x did not wait for "
				"the slot lock (stuck hook calls %d)\n",
				waits[i], stuck_calls);
		CHECK(stuck_calls == (int)i + 1 && s->ds_lock == 0);
	}
	s->ds_lock = 7;
	CHECK(hfs_fallocate(vol, ino, FALLOC_FL_KEEP_SIZE, 2 * MIB, MIB) == 0);
	CHECK(stuck_calls == 3 && s->ds_lock == 7);
	s->ds_lock = 0;
	hfs_vol_set_hooks(vol, NULL);
	hfs_release(vol, ino);
	CHECK(hfs_dslot_detach(vol, ino, gen, idx) == 0);
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

/* An O_APPEND write through FUSE on a file without a slot that ends on a
 * page boundary may be the first piece of a longer write(2): a slot armed
 * before its next piece starts held, so no direct append lands between
 * them (seen as a torn record in the two-writer integrity test). */
static void test_arm_between_pieces(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info);
	uint64_t a = mkfile(vol, "a", 100), b = mkfile(vol, "b", 100), at;
	static char piece[4096];
	struct hfs_dslot *s;
	struct timespec ts;
	uint32_t idx;
	uint64_t gen;

	memset(piece, 'p', sizeof(piece));
	/* the kernel's first piece: from 100 to the page boundary */
	at = 100;
	CHECK(hfs_append(vol, a, piece, 4096 - 100, &at) == 4096 - 100);
	CHECK(hfs_dslot_attach(vol, a, &idx, &gen) == 0);
	s = slot_at(vol, idx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	CHECK(s->ds_lock == HFS_DSLOT_HOLD);
	CHECK(s->ds_hold > (uint64_t)ts.tv_sec * 1000000000ull +
				   (uint64_t)ts.tv_nsec);
	/* the next piece takes the hold and lands at the end */
	at = 4096;
	CHECK(hfs_append(vol, a, "rest", 4, &at) == 4 && at == 4096);
	CHECK(s->ds_size == 4100);
	/* a whole page-aligned append (what the first call of a data-path
	 * client sends through the kernel): no hold */
	{
		uint64_t c = mkfile(vol, "c", 4096);

		at = 4096;
		CHECK(hfs_append(vol, c, piece, 4096, &at) == 4096);
		CHECK(hfs_dslot_attach(vol, c, &idx, &gen) == 0);
		CHECK(slot_at(vol, idx)->ds_lock == 0);
		hfs_release(vol, c);
	}
	/* an append that does not end on a page boundary: no hold */
	at = 100;
	CHECK(hfs_append(vol, b, piece, 50, &at) == 50);
	CHECK(hfs_dslot_attach(vol, b, &idx, &gen) == 0);
	CHECK(slot_at(vol, idx)->ds_lock == 0);
	hfs_release(vol, a);
	hfs_release(vol, b);
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

/* A detach queued for a file that is then deleted, while its inode
 * number and its slot both go to a new file with a lease of its own: the
 * late detach must leave the new file's slot armed (the daemon queues
 * detaches to a worker, fs/datapath.c, so they can come that late). */
static void test_late_detach_after_reuse(void)
{
	void *mem;
	struct hfs_region *rg = make_region(&mem);
	struct hfs_vol_info info = { 0 };
	struct hfs_vol *vol = mount_vol(rg, &info);
	uint64_t a = mkfile(vol, "a", 100), b, gen_a, gen_b;
	uint32_t idx_a, idx_b;
	char name[16];

	CHECK(hfs_dslot_attach(vol, a, &idx_a, &gen_a) == 0);
	/* a's lease ends, its detach waits in the queue; a is deleted */
	hfs_release(vol, a);
	CHECK(hfs_unlink(vol, HFS_ROOT_INO, "a") == 0);
	hfs_forget(vol, a, 1);
	CHECK(slot_at(vol, idx_a)->ds_ino == 0);
	/* a new file gets the number (and a new generation) */
	b = 0;
	for (int i = 0; i < 64 && b != a; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		b = mkfile(vol, name, 100);
	}
	CHECK(b == a);
	/* slots go round robin: a's is next, as after a wrap */
	vol->ds.hint = idx_a;
	CHECK(hfs_dslot_attach(vol, b, &idx_b, &gen_b) == 0);
	CHECK(idx_b == idx_a && gen_b != gen_a);
	CHECK(slot_at(vol, idx_b)->ds_ino == b);
	/* the late detach of a: nothing of b's goes */
	CHECK(hfs_dslot_detach(vol, a, gen_a, idx_a) == 0);
	CHECK(slot_at(vol, idx_b)->ds_ino == b);
	/* b's own detach disarms it */
	CHECK(hfs_dslot_detach(vol, b, gen_b, idx_b) == 0);
	CHECK(slot_at(vol, idx_b)->ds_ino == 0);
	CHECK(hfs_vol_close(vol) == 0);
	hfs_region_close(rg);
	free(mem);
}

int main(void)
{
	test_publish_and_replay();
	test_truncate_not_undone();
	test_append_and_stuck_lock();
	test_keep_size_changes_wait();
	test_arm_between_pieces();
	test_late_detach_after_reuse();
	if (failures) {
		fprintf(stderr, "test_dslot: %d check(s) failed\n", failures);
		return EXIT_FAILURE;
	}
	return 0;
}
