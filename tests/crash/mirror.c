/* SPDX-License-Identifier: MIT */
/*
 * The harness's mirror (mirror.h): region_mirror.c's copying, over a
 * memory image.
 */
#include "mirror.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmem2.h>

#include "media.h"
#include "mirror_heal.h"
#include "mkfs.h"
#include "workload.h"

bool crash_mirror;
uint64_t mirror_len;
uint64_t wl_region_size = WL_FS_SIZE;

void mirror_enable(void)
{
	crash_mirror = true;
	wl_region_size = WL_FS_SIZE + MIRROR_SPACE;
}

static struct {
	struct hfs_region *rg;
	struct hfs_pmem_ops base;
} mir;

/* The part of [p, p + len) in device 0's mirrored bytes. */
static bool span(const void *p, size_t len, uint8_t **a, size_t *l)
{
	uint8_t *lo = mir.rg->base, *hi = lo + mirror_len;
	uint8_t *s = (uint8_t *)p, *e = s + len;

	if (s >= hi || e <= lo)
		return false;
	*a = s > lo ? s : lo;
	*l = (size_t)((e < hi ? e : hi) - *a);
	return true;
}

/* As region_mirror.c: the primary first, then the same store into the
 * mirror with the same flags (persist: a persisting copy; flush: a
 * flushed copy the caller's drain covers). */
static void m_persist(const void *addr, size_t len)
{
	uint8_t *a;
	size_t l;

	mir.base.persist(addr, len);
	if (span(addr, len, &a, &l))
		mir.base.memcpy(a + MIRROR_OFF, a, l, 0);
}

static void m_flush(const void *addr, size_t len)
{
	uint8_t *a;
	size_t l;

	mir.base.flush(addr, len);
	if (span(addr, len, &a, &l))
		mir.base.memcpy(a + MIRROR_OFF, a, l, PMEM2_F_MEM_NODRAIN);
}

static void m_drain(void)
{
	mir.base.drain();
}

static void *m_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	void *r = mir.base.memcpy(dst, src, len, flags);
	uint8_t *a;
	size_t l;

	if (span(dst, len, &a, &l))
		mir.base.memcpy(a + MIRROR_OFF, a, l, flags);
	return r;
}

static void *m_memset(void *dst, int c, size_t len, unsigned flags)
{
	void *r = mir.base.memset(dst, c, len, flags);
	uint8_t *a;
	size_t l;

	if (span(dst, len, &a, &l))
		mir.base.memset(a + MIRROR_OFF, c, l, flags);
	return r;
}

void mirror_attach(struct hfs_region *rg)
{
	if (mir.rg) {
		fprintf(stderr, "crashcheck: a mirror is already attached\n");
		abort();
	}
	mir.rg = rg;
	mir.base = rg->ops;
	rg->ops = (struct hfs_pmem_ops){ m_persist, m_flush, m_drain,
					 m_memcpy, m_memset };
}

void mirror_detach(struct hfs_region *rg)
{
	if (mir.rg != rg)
		return;
	rg->ops = mir.base;
	memset(&mir, 0, sizeof(mir));
}

int mirror_format(uint8_t *img, const struct hfs_super *sb, char *why,
		  size_t len)
{
	mirror_len = sb->s_pool_off;
	if (mirror_len + HFS_BLOCK_SIZE > MIRROR_SPACE) {
		snprintf(why, len, "the metadata areas (%llu bytes) do not fit "
			 "the mirror's space", (unsigned long long)mirror_len);
		return -ENOSPC;
	}
	memcpy(img + MIRROR_OFF, img, mirror_len);
	memcpy(img + WL_REGION_SIZE - HFS_BLOCK_SIZE, img + sb->s_backup_off,
	       HFS_BLOCK_SIZE);
	return 0;
}

static int h_read(void *ctx, int mirror, uint64_t off, void *buf, size_t len)
{
	struct hfs_region *rg = ctx;

	if (off > mirror_len || len > mirror_len - off)
		return -ERANGE;
	return hfs_region_read(rg, off + (mirror ? MIRROR_OFF : 0), buf, len,
			       NULL);
}

static int h_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	return hfs_region_write(ctx, off, buf, len, NULL);
}

void mirror_heal_io(struct hfs_region *rg, struct hfs_heal_io *io)
{
	memset(io, 0, sizeof(*io));
	io->read = h_read;
	io->write = h_write;
	io->ctx = rg;
	io->rg = rg;
}

void mirror_promote(struct hfs_region *rg)
{
	rg->ops.memcpy(rg->base, rg->base + MIRROR_OFF, mirror_len, 0);
}
