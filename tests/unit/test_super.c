/* SPDX-License-Identifier: MIT */
/*
 * Formatting, superblocks, bad-extent list and health log on a region in
 * a malloc'd buffer: mkfs, primary/backup fallback, truncated regions,
 * refused layouts, bad ranges, the health ring and bad-list merging.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mkfs.h"
#include "badlist_i.h"
#include "health_i.h"
#include "journal_i.h"
#include "media.h"
#include "vol_i.h"

#define MIB (1ull << 20)
#define RG_SIZE (64 * MIB)

static int failures;
static const char *current;

static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s (line %d): ", current, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

#define CHECK(cond, ...)                                 \
	do {                                             \
		if (!(cond))                             \
			fail(__LINE__, __VA_ARGS__);     \
	} while (0)

static uint8_t *mem;

static struct hfs_region *region(uint64_t size)
{
	struct hfs_region *rg;

	if (hfs_region_from_memory(mem, size, &rg)) {
		fprintf(stderr, "hfs_region_from_memory failed\n");
		exit(EXIT_FAILURE);
	}
	return rg;
}

/* Format a fresh 64 MiB region (old contents: garbage). */
static struct hfs_region *formatted(const struct hfs_mkfs_opts *o,
				    struct hfs_super *sb)
{
	struct hfs_region *rg = region(RG_SIZE);
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	int rc;

	memset(mem, 0xa5, RG_SIZE);
	rc = hfs_mkfs(rg, o, &res, &err);
	if (rc) {
		fprintf(stderr, "FAIL %s: mkfs: %d %s\n", current, rc, err.msg);
		exit(EXIT_FAILURE);
	}
	if (sb)
		*sb = res.sb;
	return rg;
}

static void test_mkfs_read(void)
{
	struct hfs_super sb, rd, probe;
	struct hfs_err err = { 0 };
	struct hfs_inode_disk root;
	struct hfs_region *rg;
	bool backup = true;
	int rc;

	current = "mkfs then read";
	rg = formatted(&(struct hfs_mkfs_opts){ .label = "test" }, &sb);
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == 0, "read: %d %s", rc, err.msg);
	CHECK(!backup, "primary should be used");
	CHECK(!memcmp(&rd, &sb, sizeof(sb)), "read differs from mkfs result");
	CHECK(!strcmp(rd.s_label, "test"), "label %s", rd.s_label);
	CHECK(rd.s_state == HFS_STATE_CLEAN, "state %u", rd.s_state);
	CHECK(rd.s_inode_hwm == 2 && rd.s_used_inodes == 1, "inode counts");
	CHECK(rd.s_pool_off % rd.s_alloc_unit == 0, "pool misaligned");
	CHECK(rd.s_backup_off == RG_SIZE - 4096, "backup at %#lx",
	      (unsigned long)rd.s_backup_off);
	CHECK(rd.s_journal_blocks == 256, "journal %lu blocks (want 1/64)",
	      (unsigned long)rd.s_journal_blocks);
	CHECK(rd.s_inode_count == 4096, "inode count %lu",
	      (unsigned long)rd.s_inode_count);
	CHECK((rd.s_uuid[6] >> 4) == 4, "uuid not version 4");
	CHECK(!memcmp(mem + rd.s_backup_off, &sb, sizeof(sb)),
	      "backup differs from primary");
	CHECK(hfs_super_probe(rg, &probe) == 1, "probe");

	memcpy(&root, mem + rd.s_itable_off + HFS_INODE_SIZE, sizeof(root));
	CHECK(root.i_mode == (S_IFDIR | 0755) && root.i_nlink == 2 &&
	      root.i_parent == HFS_ROOT_INO && root.i_generation == 1,
	      "root inode fields");
	CHECK(root.i_crc == hfs_crc_struct(&root, sizeof(root),
					   offsetof(struct hfs_inode_disk,
						    i_crc)), "root crc");
	for (uint64_t i = 2; i < rd.s_inode_count; i++)
		if (mem[rd.s_itable_off + i * HFS_INODE_SIZE + 4]) {
			fail(__LINE__, "inode slot %lu not cleared",
			     (unsigned long)i);
			break;
		}
	CHECK(mem[rd.s_journal_off] == 0, "journal not cleared");
	hfs_region_close(rg);
}

static void test_backup_fallback(void)
{
	struct hfs_super sb, rd;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	bool backup = false;
	int rc;

	current = "primary bad magic -> backup";
	rg = formatted(NULL, &sb);
	mem[0] ^= 0xff;
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == 0 && backup, "rc %d backup %d %s", rc, backup, err.msg);
	CHECK(!memcmp(&rd, &sb, sizeof(sb)), "backup contents");
	CHECK(hfs_super_probe(rg, NULL) == 1, "probe via backup");

	current = "force backup";
	mem[0] ^= 0xff;
	backup = false;
	rc = hfs_super_read(rg, true, &rd, &backup, &err);
	CHECK(rc == 0 && backup, "rc %d backup %d", rc, backup);

	current = "primary bad crc -> backup";
	mem[offsetof(struct hfs_super, s_label)] ^= 1;
	backup = false;
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == 0 && backup, "rc %d backup %d %s", rc, backup, err.msg);

	current = "both bad crc";
	mem[sb.s_backup_off + offsetof(struct hfs_super, s_label)] ^= 1;
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == -EUCLEAN, "rc %d", rc);
	CHECK(strstr(err.msg, "checksum mismatch") &&
	      !strncmp(err.msg, "(memory): ", 10), "msg: %s", err.msg);

	current = "both bad magic";
	mem[0] ^= 0xff;
	mem[sb.s_backup_off] ^= 0xff;
	memset(&err, 0, sizeof(err));
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == -EINVAL, "rc %d", rc);
	CHECK(strstr(err.msg, "bad magic") && strstr(err.msg, "mkfs.holdfs"),
	      "msg: %s", err.msg);
	CHECK(hfs_super_probe(rg, NULL) == 0, "probe of garbage");
	hfs_region_close(rg);
}

static void test_truncated(void)
{
	struct hfs_super rd;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	bool backup = false;
	int rc;

	current = "truncated region";
	hfs_region_close(formatted(NULL, NULL));
	rg = region(RG_SIZE - 8 * MIB);
	rc = hfs_super_read(rg, false, &rd, &backup, &err);
	CHECK(rc == -EINVAL, "rc %d", rc);
	CHECK(strstr(err.msg, "truncated") && strstr(err.msg, "58720256"),
	      "msg: %s", err.msg);
	CHECK(hfs_super_probe(rg, NULL) == 1, "a truncated holdfs is a holdfs");
	hfs_region_close(rg);
}

static void test_check_rules(void)
{
	struct hfs_super sb, x;
	struct hfs_err err;

	current = "superblock checks";
	hfs_region_close(formatted(NULL, &sb));
	CHECK(hfs_super_check(&sb, RG_SIZE, "primary", NULL) == 0, "valid");

	x = sb;
	x.s_version_major = 2;
	hfs_super_set_crc(&x);
	err = (struct hfs_err){ 0 };
	CHECK(hfs_super_check(&x, RG_SIZE, "primary", &err) == -EINVAL &&
	      strstr(err.msg, "version"), "version: %s", err.msg);

	x = sb;
	x.s_feat_incompat = 0x80;
	hfs_super_set_crc(&x);
	err = (struct hfs_err){ 0 };
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, &err) == -EINVAL &&
	      strstr(err.msg, "incompatible"), "incompat: %s", err.msg);

	x = sb;
	x.s_feat_ro_compat = 0x80;
	x.s_feat_compat = 0x80;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == 0,
	      "unknown compat/ro_compat bits are the mount's decision");

	x = sb;
	x.s_pool_off += 4096;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == -EUCLEAN,
	      "misaligned pool");

	x = sb;
	x.s_journal_off = x.s_badlist_off;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == -EUCLEAN,
	      "overlapping areas");

	x = sb;
	x.s_pool_blocks += 1;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == -EUCLEAN,
	      "pool over the backup superblock");

	x = sb;
	x.s_alloc_unit = 12288;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == -EUCLEAN,
	      "alloc unit not a power of two");

	x = sb;
	x.s_inode_count = UINT64_MAX / 16;
	hfs_super_set_crc(&x);
	CHECK(hfs_super_check(&x, RG_SIZE, NULL, NULL) == -EUCLEAN,
	      "huge inode count");

	CHECK(hfs_super_check(&sb, RG_SIZE + 4096, NULL, NULL) == 0,
	      "a region larger than the filesystem is fine");
	CHECK(hfs_super_backup_off(RG_SIZE + 100) == RG_SIZE - 4096,
	      "backup offset rounds down");
}

static void vol_init(struct hfs_vol *vol, struct hfs_region *rg,
		     const struct hfs_super *sb)
{
	memset(vol, 0, sizeof(*vol));
	vol->rg = rg;
	vol->sb = *sb;
	hfs_tx_init(&vol->tx);
}

static void expect_mkfs_error(uint64_t size, const struct hfs_mkfs_opts *o,
			      uint64_t align, const char *needle)
{
	struct hfs_region *rg = region(size);
	struct hfs_err err = { 0 };
	int rc;

	rg->align = align;
	memset(mem, 0x5a, size);
	rc = hfs_mkfs(rg, o, NULL, &err);
	CHECK(rc < 0, "mkfs should fail (%s)", needle);
	CHECK(strstr(err.msg, needle), "msg lacks \"%s\": %s", needle,
	      err.msg);
	/* Refused before writing anything: an old filesystem survives. */
	for (uint64_t i = 0; i < size; i += 512)
		if (mem[i] != 0x5a) {
			fail(__LINE__, "refused mkfs wrote at %#lx",
			     (unsigned long)i);
			break;
		}
	hfs_region_close(rg);
}

static void test_mkfs_refusals(void)
{
	struct hfs_bad_extent meta = { 64 * 1024, 4096 };
	struct hfs_bad_extent tail = { RG_SIZE - 4096, 4096 };

	current = "mkfs refusals";
	expect_mkfs_error(8 * MIB, NULL, 4096, "at least");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .alloc_unit = 12288 }, 4096,
			  "power of two");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .alloc_unit = 4096 }, 2 * MIB, "device-dax");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .alloc_unit = 16 * MIB }, 4096,
			  "too small");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .bad = &meta, .nbad = 1 }, 4096,
			  "inside the metadata area");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .bad = &tail, .nbad = 1 }, 4096,
			  "backup superblock");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .label = "0123456789012345678901234567890123"
					   "456789012345678901234567890123" },
			  4096, "label");
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .journal_blocks = 8 }, 4096, "journal");
}

static void test_bad_count(void)
{
	struct hfs_bad_extent *v = calloc(2048, sizeof(*v));
	struct hfs_region *rg;
	struct hfs_vol vol;
	struct hfs_err err = { 0 };
	struct hfs_super sb;
	uint64_t p;

	current = "mkfs bad-range count";
	hfs_region_close(formatted(NULL, &sb));
	p = sb.s_pool_off;
	for (uint32_t i = 0; i < 1024; i++)
		v[i] = (struct hfs_bad_extent){ p + 2 * i * 4096ull, 4096 };
	expect_mkfs_error(RG_SIZE, &(struct hfs_mkfs_opts){
				  .bad = v, .nbad = 1024 }, 4096,
			  "too many distinct bad ranges");
	/* 2048 ranges, adjacent pairs 4 blocks apart, the last pair a
	 * duplicate: they merge into 1023 runs, which fit. */
	for (uint32_t i = 0; i < 2048; i++)
		v[i] = (struct hfs_bad_extent){
			p + (i / 2) * 4 * 4096ull + (i % 2) * 4096, 4096 };
	v[2046] = v[2044];
	v[2047] = v[2045];
	rg = formatted(&(struct hfs_mkfs_opts){ .bad = v, .nbad = 2048 },
		       &sb);
	vol_init(&vol, rg, &sb);
	CHECK(hfs_badlist_load(&vol, &err) == 0 && vol.nbad == 1023,
	      "merged list: %u %s", vol.nbad, err.msg);
	free(vol.bad);
	hfs_tx_free(&vol.tx);
	hfs_region_close(rg);
	free(v);
}

static void test_mkfs_odd_size(void)
{
	struct hfs_region *rg = region(RG_SIZE - 1000);
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_super rd;
	bool backup = false;

	current = "mkfs on a region that is not a multiple of 4 KiB";
	CHECK(hfs_mkfs(rg, NULL, &res, &err) == 0, "mkfs: %s", err.msg);
	CHECK(res.sb.s_backup_off == RG_SIZE - 2 * 4096, "backup %#lx",
	      (unsigned long)res.sb.s_backup_off);
	mem[0] ^= 1;
	CHECK(hfs_super_read(rg, false, &rd, &backup, &err) == 0 && backup,
	      "backup found: %s", err.msg);
	hfs_region_close(rg);
}

static void test_mkfs_devdax_align(void)
{
	struct hfs_region *rg = region(RG_SIZE);
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	int rc;

	current = "mkfs on a 2 MiB aligned region";
	rg->align = 2 * MIB;
	rc = hfs_mkfs(rg, NULL, &res, &err);
	CHECK(rc == 0, "mkfs: %s", err.msg);
	CHECK(res.sb.s_alloc_unit == 2 * MIB, "alloc unit %u",
	      res.sb.s_alloc_unit);
	CHECK(res.sb.s_pool_off % (2 * MIB) == 0, "pool alignment");
	CHECK((res.sb.s_pool_off + res.sb.s_pool_blocks * 4096) % (2 * MIB)
	      == 0, "pool end alignment");
	hfs_region_close(rg);
}

/* Apply a staged transaction straight to the region (what commit does,
 * without the journal). */
static void apply_tx(struct hfs_vol *vol)
{
	size_t pos = 0;

	while (pos < vol->tx.len) {
		struct hfs_jrecord r;

		memcpy(&r, vol->tx.buf + pos, sizeof(r));
		pos += sizeof(r);
		if (hfs_region_write(vol->rg, r.r_off, vol->tx.buf + pos,
				     r.r_len, NULL))
			fail(__LINE__, "apply tx record");
		pos += (r.r_len + 7u) & ~7u;
	}
	vol->tx.len = 0;
	vol->tx.nrec = 0;
}

static void test_badlist_mkfs(void)
{
	struct hfs_super sb;
	struct hfs_region *rg;
	struct hfs_vol vol;
	struct hfs_err err = { 0 };
	uint64_t p;
	int rc;

	current = "bad ranges recorded by mkfs";
	/* Layout first, to know where the pool is. */
	hfs_region_close(formatted(NULL, &sb));
	p = sb.s_pool_off;
	struct hfs_bad_extent bad[] = {
		{ p + 10 * 4096 + 100, 10 },     /* rounded outward */
		{ p, 4096 },
		{ p + 4096, 8192 },              /* adjacent: merged */
		{ p + 40 * 4096, 4096 },
		{ p + 40 * 4096 + 512, 100 },    /* inside: merged */
		{ p + 50 * 4096, 0 },            /* empty: dropped */
	};
	rg = formatted(&(struct hfs_mkfs_opts){ .bad = bad, .nbad = 6 }, &sb);
	vol_init(&vol, rg, &sb);
	rc = hfs_badlist_load(&vol, &err);
	CHECK(rc == 0, "load: %s", err.msg);
	CHECK(vol.nbad == 3, "nbad %u", vol.nbad);
	if (vol.nbad == 3) {
		CHECK(vol.bad[0].bx_off == p && vol.bad[0].bx_len == 3 * 4096,
		      "entry 0");
		CHECK(vol.bad[1].bx_off == p + 10 * 4096 &&
		      vol.bad[1].bx_len == 4096, "entry 1");
		CHECK(vol.bad[2].bx_off == p + 40 * 4096 &&
		      vol.bad[2].bx_len == 4096, "entry 2");
	}
	CHECK(hfs_badlist_overlaps(&vol, p + 2 * 4096 + 4095, 1), "overlap");
	CHECK(!hfs_badlist_overlaps(&vol, p + 3 * 4096, 7 * 4096),
	      "gap between entries");
	CHECK(hfs_badlist_overlaps(&vol, p + 3 * 4096, 7 * 4096 + 1),
	      "touching the next entry");
	CHECK(!hfs_badlist_overlaps(&vol, 0, p), "before the first");
	CHECK(!hfs_badlist_overlaps(&vol, p + 41 * 4096, 1 << 20), "after");

	current = "bad-extent list corruption";
	mem[sb.s_badlist_off + 16] ^= 1;
	err = (struct hfs_err){ 0 };
	CHECK(hfs_badlist_load(&vol, &err) == -EUCLEAN &&
	      strstr(err.msg, "checksum"), "crc: %s", err.msg);
	mem[sb.s_badlist_off] ^= 1;
	err = (struct hfs_err){ 0 };
	CHECK(hfs_badlist_load(&vol, &err) == -EUCLEAN &&
	      strstr(err.msg, "magic"), "magic: %s", err.msg);
	free(vol.bad);
	hfs_tx_free(&vol.tx);
	hfs_region_close(rg);
}

static void test_badlist_add(void)
{
	struct hfs_super sb;
	struct hfs_region *rg;
	struct hfs_vol vol;
	struct hfs_err err = { 0 };
	uint64_t p;
	uint32_t i;
	int rc;

	current = "bad-extent list add";
	rg = formatted(NULL, &sb);
	p = sb.s_pool_off;
	vol_init(&vol, rg, &sb);
	CHECK(hfs_badlist_load(&vol, &err) == 0 && vol.nbad == 0, "empty");
	CHECK(hfs_badlist_add_locked(&vol, p + 5 * 4096 + 1, 4096) == 0 &&
	      vol.nbad == 1 && vol.bad[0].bx_off == p + 5 * 4096 &&
	      vol.bad[0].bx_len == 8192, "outward rounding");
	CHECK(vol.tx.nrec == 1, "staged %u records", vol.tx.nrec);
	CHECK(hfs_badlist_add_locked(&vol, p + 2 * 4096, 3 * 4096) == 0 &&
	      vol.nbad == 1 && vol.bad[0].bx_off == p + 2 * 4096 &&
	      vol.bad[0].bx_len == 5 * 4096, "adjacent merge");
	CHECK(hfs_badlist_add_locked(&vol, p + 20 * 4096, 4096) == 0 &&
	      vol.nbad == 2, "second range");
	CHECK(hfs_badlist_add_locked(&vol, p + 4 * 4096, 17 * 4096) == 0 &&
	      vol.nbad == 1 && vol.bad[0].bx_len == 19 * 4096,
	      "bridging merge");
	rc = (int)vol.tx.nrec;
	CHECK(hfs_badlist_add_locked(&vol, p + 3 * 4096, 10) == 0 &&
	      (int)vol.tx.nrec == rc, "covered range stages nothing");
	apply_tx(&vol);
	free(vol.bad);
	vol.bad = NULL;
	vol.nbad = 0;
	rc = hfs_badlist_load(&vol, &err);
	CHECK(rc == 0 && vol.nbad == 1 && vol.bad[0].bx_off == p + 2 * 4096 &&
	      vol.bad[0].bx_len == 19 * 4096, "reload: %d %s", rc, err.msg);

	current = "bad-extent list full";
	for (i = 1; vol.nbad < 1023; i++) {
		rc = hfs_badlist_add_locked(&vol, p + (100 + 2 * i) * 4096, 1);
		if (rc) {
			fail(__LINE__, "add %u: %d", i, rc);
			break;
		}
	}
	CHECK(hfs_badlist_add_locked(&vol, p + 99 * 4096, 1) == -ENOSPC,
	      "1024th distinct range");
	CHECK(vol.nbad == 1023, "list unchanged after ENOSPC");
	CHECK(hfs_badlist_add_locked(&vol, p + 103 * 4096, 1) == 0 &&
	      vol.nbad == 1022, "merging still works when full");
	CHECK(hfs_badlist_add_locked(&vol, RG_SIZE, 4096) == -ERANGE,
	      "outside the region");
	apply_tx(&vol);
	CHECK(hfs_badlist_load(&vol, &err) == 0 && vol.nbad == 1022,
	      "reload full list: %s", err.msg);
	free(vol.bad);
	hfs_tx_free(&vol.tx);
	hfs_region_close(rg);
}

struct walk {
	uint64_t n, first, last;
	bool ordered;
};

static int walk_cb(void *ctx, const struct hfs_health_rec *r)
{
	struct walk *w = ctx;

	if (w->n == 0)
		w->first = r->h_seq;
	else if (r->h_seq <= w->last)
		w->ordered = false;
	w->last = r->h_seq;
	w->n++;
	return 0;
}

static void test_health(void)
{
	struct hfs_super sb;
	struct hfs_region *rg;
	struct hfs_vol vol;
	struct walk w = { .ordered = true };
	uint64_t slot;
	char msg[32];
	int rc;

	current = "health log ring";
	rg = formatted(NULL, &sb);
	vol_init(&vol, rg, &sb);
	CHECK(hfs_health_last_seq(rg, &sb) == 0, "fresh log not empty");
	CHECK(hfs_health_walk(rg, &sb, walk_cb, &w) == 0 && w.n == 0,
	      "fresh log walk");
	for (int i = 1; i <= 600; i++) {
		snprintf(msg, sizeof(msg), "event %d", i);
		rc = hfs_health_log(&vol, HFS_HEALTH_MEDIA_ERROR, 4096u * i,
				    4096, 0, msg);
		if (rc) {
			fail(__LINE__, "log %d: %d", i, rc);
			break;
		}
	}
	rc = hfs_health_walk(rg, &sb, walk_cb, &w);
	CHECK(rc == 0 && w.n == 512 && w.ordered && w.first == 89 &&
	      w.last == 600, "walk: rc %d n %lu first %lu last %lu ordered %d",
	      rc, (unsigned long)w.n, (unsigned long)w.first,
	      (unsigned long)w.last, w.ordered);
	CHECK(hfs_health_last_seq(rg, &sb) == 600, "last seq");

	current = "health log torn record";
	slot = (595 - 1) % 512;
	mem[sb.s_health_off + slot * 128 + 60] ^= 0x20; /* in h_msg */
	w = (struct walk){ .ordered = true };
	rc = hfs_health_walk(rg, &sb, walk_cb, &w);
	CHECK(rc == 0 && w.n == 511 && w.ordered && w.last == 600,
	      "walk: n %lu", (unsigned long)w.n);
	CHECK(!strcmp(hfs_health_type_name(HFS_HEALTH_DEVICE_LOSS),
		      "device-loss") &&
	      !strcmp(hfs_health_type_name(HFS_HEALTH_LOST_DATA), "lost-data") &&
	      !strcmp(hfs_health_type_name(999), "unknown"), "type names");
	hfs_tx_free(&vol.tx);
	hfs_region_close(rg);
}

int main(void)
{
	mem = malloc(RG_SIZE);
	if (!mem) {
		fprintf(stderr, "test_super: out of memory\n");
		return EXIT_FAILURE;
	}
	test_mkfs_read();
	test_backup_fallback();
	test_truncated();
	test_check_rules();
	test_mkfs_refusals();
	test_mkfs_devdax_align();
	test_bad_count();
	test_mkfs_odd_size();
	test_badlist_mkfs();
	test_badlist_add();
	test_health();
	free(mem);
	if (failures) {
		fprintf(stderr, "test_super: %d check(s) failed\n", failures);
		return EXIT_FAILURE;
	}
	printf("test_super: all checks passed\n");
	return EXIT_SUCCESS;
}
