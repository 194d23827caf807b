/* SPDX-License-Identifier: MIT */
/*
 * The fuzzers' seed image and patch lists (fuzz_image.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_image.h"
#include "image.h"
#include "inode_i.h"
#include "media.h"
#include "vol_i.h"

#define SEED_SIZE (16u << 20)
#define PAGE 4096u
#define NPAGES (SEED_SIZE / PAGE)

static uint8_t *seed, *work;
static uint64_t dirty[NPAGES / 64];
static struct hfs_region *rg;
static struct hfs_super sb;             /* the seed's */
static struct fuzz_area areas[FUZZ_AREAS];
static uint64_t *meta;                   /* pool metadata blocks */
static size_t nmeta;

/* ------------------------------------------------ tracing persistence */

static void mark(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)work;

	if (a < b || a >= b + SEED_SIZE || !len)
		return;
	for (uint64_t p = (a - b) / PAGE;
	     p <= (a - b + len - 1) / PAGE && p < NPAGES; p++)
		dirty[p / 64] |= 1ull << (p % 64);
}

static void t_flush(const void *addr, size_t len)
{
	mark(addr, len);
}

static void t_drain(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void t_persist(const void *addr, size_t len)
{
	mark(addr, len);
	t_drain();
}

static void *t_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	(void)flags;
	mark(dst, len);
	return memcpy(dst, src, len);
}

static void *t_memset(void *dst, int c, size_t len, unsigned flags)
{
	(void)flags;
	mark(dst, len);
	return memset(dst, c, len);
}

void fuzz_restore(void)
{
	for (uint64_t w = 0; w < NPAGES / 64; w++) {
		while (dirty[w]) {
			uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(dirty[w]);

			memcpy(work + p * PAGE, seed + p * PAGE, PAGE);
			dirty[w] &= dirty[w] - 1;
		}
	}
}

/* ------------------------------------------------------ the seed */

static void meta_add(uint64_t b)
{
	uint64_t *v = realloc(meta, (nmeta + 1) * sizeof(*v));

	if (v) {
		meta = v;
		meta[nmeta++] = b;
	}
}

/* Every pool block holding metadata (or a symlink target), and the end
 * of the used pool, from a read-only mount of the seed. */
static uint64_t scan_meta(void)
{
	struct hfs_vol_opts vo = { .readonly = true };
	struct hfs_region *srg;
	struct hfs_vol *vol;
	uint64_t end = sb.s_pool_off / PAGE + 1;

	if (hfs_region_from_memory(seed, SEED_SIZE, &srg))
		return end;
	if (hfs_vol_open(srg, &vo, &vol, NULL, NULL)) {
		hfs_region_close(srg);
		return end;
	}
	for (uint64_t ino = 1; ino < vol->sb.s_inode_hwm; ino++) {
		struct hfs_inode *ip = vol->itab[ino];

		if (!ip)
			continue;
		for (uint32_t i = 0; i < ip->em.n; i++) {
			const struct hfs_extent *e = &ip->em.v[i];

			if (S_ISDIR(ip->d.i_mode) || S_ISLNK(ip->d.i_mode))
				for (uint64_t b = 0; b < e->e_len; b++)
					meta_add(e->e_pblk + b);
			if (e->e_pblk + e->e_len > end)
				end = e->e_pblk + e->e_len;
		}
		for (uint32_t i = 0; i < ip->em.nchain; i++)
			meta_add(ip->em.chain[i]);
		if (ip->d.i_xattr_blk)
			meta_add(ip->d.i_xattr_blk);
	}
	for (size_t i = 0; i < nmeta; i++)
		end = meta[i] + 1 > end ? meta[i] + 1 : end;
	hfs_vol_close(vol);
	hfs_region_close(srg);
	return end;
}

static void set_areas(uint64_t used_end)
{
	areas[0] = (struct fuzz_area){ 0, sizeof(struct hfs_super) };
	areas[1] = (struct fuzz_area){ sb.s_itable_off,
				       sb.s_inode_hwm * HFS_INODE_SIZE };
	areas[2] = (struct fuzz_area){ 0, nmeta * PAGE }; /* via meta[] */
	areas[3] = (struct fuzz_area){ sb.s_journal_off, PAGE };
	areas[4] = (struct fuzz_area){ sb.s_badlist_off, PAGE };
	areas[5] = (struct fuzz_area){ sb.s_health_off, 2 * PAGE };
	areas[6] = (struct fuzz_area){ sb.s_backup_off, sizeof(struct hfs_super) };
	areas[7] = (struct fuzz_area){ 0, used_end * PAGE };
}

static int init(void)
{
	struct image_opts o = { .small = true, .bad_range = true };

	seed = calloc(1, SEED_SIZE);
	work = mmap(NULL, SEED_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!seed || work == MAP_FAILED || image_build(seed, SEED_SIZE, &o)) {
		fprintf(stderr, "fuzz: cannot build the seed image\n");
		return -1;
	}
	memcpy(&sb, seed, sizeof(sb));
	memcpy(work, seed, SEED_SIZE);
	set_areas(scan_meta());
	if (hfs_region_from_memory(work, SEED_SIZE, &rg))
		return -1;
	rg->ops = (struct hfs_pmem_ops){ t_persist, t_flush, t_drain,
					 t_memcpy, t_memset };
	return 0;
}

struct hfs_region *fuzz_image_get(void)
{
	static int state; /* 0 not yet, 1 ready, -1 failed */

	if (!state)
		state = init() ? -1 : 1;
	rg->readonly = false;
	return state > 0 ? rg : NULL;
}

const struct fuzz_area *fuzz_areas(void)
{
	return areas;
}

/* ------------------------------------------------------ patches */

/* Region offset of byte off of an area. */
static uint64_t area_off(unsigned a, uint64_t off)
{
	if (a == 2)
		return nmeta ? meta[off / PAGE] * PAGE + off % PAGE : 0;
	return areas[a].off + off;
}

static void recrc_blocks(void)
{
	for (size_t i = 0; i < nmeta; i++) {
		uint8_t *blk = work + meta[i] * PAGE;
		struct hfs_blkhdr *h = (struct hfs_blkhdr *)blk;

		if (h->b_magic == HFS_EXTBLK_MAGIC ||
		    h->b_magic == HFS_XATTRBLK_MAGIC) {
			h->b_crc = hfs_crc_struct(blk, PAGE,
						  offsetof(struct hfs_blkhdr, b_crc));
			continue;
		}
		for (uint32_t k = 0; k < HFS_DENTRIES_PER_BLOCK; k++) {
			struct hfs_dentry_disk *dd = (void *)(blk + k * sizeof(*dd));

			if (dd->d_ino || dd->d_name_len)
				dd->d_crc = hfs_crc_struct(dd, sizeof(*dd),
					offsetof(struct hfs_dentry_disk, d_crc));
		}
	}
}

static void recrc_lists(void)
{
	struct hfs_badlist_hdr *bl = (void *)(work + sb.s_badlist_off);
	struct hfs_health_rec *hr = (void *)(work + sb.s_health_off);
	struct hfs_jheader *jh = (void *)(work + sb.s_journal_off);
	uint32_t cap = (PAGE * 4 - sizeof(*bl)) / sizeof(struct hfs_bad_extent);
	struct hfs_jheader c;

	if (bl->bl_count <= cap)
		bl->bl_crc = hfs_crc_struct(bl, sizeof(*bl) + bl->bl_count *
					    sizeof(struct hfs_bad_extent),
					    offsetof(struct hfs_badlist_hdr,
						     bl_crc));
	for (size_t i = 0; i < 2 * PAGE / sizeof(*hr); i++)
		if (hr[i].h_seq)
			hr[i].h_crc = hfs_crc_struct(&hr[i], sizeof(hr[i]),
				offsetof(struct hfs_health_rec, h_crc));
	if (jh->j_magic == HFS_JOURNAL_MAGIC &&
	    jh->j_bytes < sb.s_journal_blocks * PAGE - sizeof(*jh)) {
		c = *jh;
		c.j_crc = 0;
		jh->j_crc = hfs_crc32c_cont(hfs_crc32c(&c, sizeof(c)),
					    (uint8_t *)(jh + 1), jh->j_bytes);
	}
}

/* Recompute every checksum of the seed's structures (see the header). */
static void recrc(void)
{
	hfs_super_set_crc((struct hfs_super *)work);
	hfs_super_set_crc((struct hfs_super *)(work + sb.s_backup_off));
	for (uint64_t i = 0; i < sb.s_inode_hwm; i++) {
		struct hfs_inode_disk *d = (void *)(work + sb.s_itable_off +
						    i * HFS_INODE_SIZE);

		if (d->i_mode)
			d->i_crc = hfs_crc_struct(d, sizeof(*d),
				offsetof(struct hfs_inode_disk, i_crc));
	}
	recrc_blocks();
	recrc_lists();
	mark(work, PAGE);
	mark(work + sb.s_backup_off, PAGE);
	mark(work + sb.s_itable_off, sb.s_inode_hwm * HFS_INODE_SIZE);
	for (size_t i = 0; i < nmeta; i++)
		mark(work + meta[i] * PAGE, PAGE);
	mark(work + sb.s_badlist_off, PAGE);
	mark(work + sb.s_health_off, 2 * PAGE);
	mark(work + sb.s_journal_off, PAGE);
}

void fuzz_apply(const uint8_t *data, size_t size)
{
	size_t pos = 1;

	if (!size)
		return;
	while (pos + 4 <= size) {
		unsigned a = data[pos] >> 5, len = (data[pos] & 31u) + 1;
		uint64_t off = data[pos + 1] | (uint64_t)data[pos + 2] << 8 |
			       (uint64_t)data[pos + 3] << 16;
		uint64_t at;

		pos += 4;
		if (len > size - pos)
			len = (unsigned)(size - pos);
		if (!areas[a].len || !len)
			break;
		off %= areas[a].len;
		if (len > areas[a].len - off)
			len = (unsigned)(areas[a].len - off);
		at = area_off(a, off);
		if (at + len <= SEED_SIZE) {
			memcpy(work + at, data + pos, len);
			mark(work + at, len);
		}
		pos += len;
	}
	if (data[0] & FUZZ_F_RECRC)
		recrc();
}

size_t fuzz_patch(uint8_t *out, unsigned area, uint32_t off,
		  const void *bytes, unsigned len)
{
	out[0] = (uint8_t)(area << 5 | (len - 1));
	out[1] = (uint8_t)off;
	out[2] = (uint8_t)(off >> 8);
	out[3] = (uint8_t)(off >> 16);
	memcpy(out + 4, bytes, len);
	return 4 + len;
}
