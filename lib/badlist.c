/* SPDX-License-Identifier: MIT */
/*
 * Bad-extent list: region ranges known to be bad, never allocated again.
 *
 * On media (at sb.s_badlist_off): struct hfs_badlist_hdr, then bl_count
 * struct hfs_bad_extent entries, sorted by offset, 4 KiB aligned,
 * disjoint and not adjacent (adjacent ranges are merged).  One crc32c
 * covers the header (with bl_crc zeroed) and the bl_count entries; bytes
 * after the last entry are ignored.  The whole list is rewritten on every
 * change, through the journal (hfs_badlist_add_locked) or directly by
 * mkfs (hfs_badlist_format).
 *
 * In DRAM: vol->bad / vol->nbad, the same sorted array, protected by
 * vol->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "badlist_i.h"
#include "journal_i.h"
#include "media.h"
#include "region.h"
#include "vol_i.h"

#define BLK ((uint64_t)HFS_BLOCK_SIZE)
#define HDR_SIZE sizeof(struct hfs_badlist_hdr)
#define ENT_SIZE sizeof(struct hfs_bad_extent)

static uint32_t bl_capacity(const struct hfs_super *sb)
{
	uint64_t bytes = sb->s_badlist_blocks * BLK;

	if (bytes < HDR_SIZE)
		return 0;
	return (uint32_t)((bytes - HDR_SIZE) / ENT_SIZE);
}

static int bl_cmp(const void *a, const void *b)
{
	const struct hfs_bad_extent *x = a, *y = b;

	return x->bx_off < y->bx_off ? -1 : x->bx_off > y->bx_off;
}

/* Round every range outward to 4 KiB (clamped to limit, the region size
 * rounded up), drop empty ones, sort, merge overlapping and adjacent
 * ranges in place.  Returns the new count, or -EINVAL if a range lies
 * (partly) outside [0, limit). */
static int64_t bl_normalize(struct hfs_bad_extent *v, uint32_t n,
			    uint64_t limit)
{
	uint32_t i, out = 0;

	for (i = 0; i < n; i++) {
		uint64_t s = v[i].bx_off, e = s + v[i].bx_len;

		if (e < s || e > limit)
			return -EINVAL;
		s &= ~(BLK - 1);
		e = (e + BLK - 1) & ~(BLK - 1);
		v[i].bx_off = s;
		v[i].bx_len = e - s;
	}
	qsort(v, n, ENT_SIZE, bl_cmp);
	for (i = 0; i < n; i++) {
		struct hfs_bad_extent *last = out ? &v[out - 1] : NULL;

		if (v[i].bx_len == 0)
			continue;
		if (last && v[i].bx_off <= last->bx_off + last->bx_len) {
			uint64_t e = v[i].bx_off + v[i].bx_len;

			if (e > last->bx_off + last->bx_len)
				last->bx_len = e - last->bx_off;
			continue;
		}
		v[out++] = v[i];
	}
	return out;
}

/* Build the on-media image (header + n entries, crc set) in a new
 * buffer of *len bytes. */
static uint8_t *bl_image(const struct hfs_bad_extent *v, uint32_t n,
			 size_t *len)
{
	struct hfs_badlist_hdr h = {
		.bl_magic = HFS_BADLIST_MAGIC,
		.bl_count = n,
	};
	uint8_t *buf;

	*len = HDR_SIZE + (size_t)n * ENT_SIZE;
	buf = malloc(*len);
	if (!buf)
		return NULL;
	memcpy(buf, &h, HDR_SIZE);
	if (n)
		memcpy(buf + HDR_SIZE, v, (size_t)n * ENT_SIZE);
	h.bl_crc = hfs_crc_struct(buf, *len,
				  offsetof(struct hfs_badlist_hdr, bl_crc));
	memcpy(buf, &h, HDR_SIZE);
	return buf;
}

/* Round limit up to a block so a region whose size is not a multiple of
 * 4 KiB can still record its last partial block. */
static uint64_t bl_limit(uint64_t region_size)
{
	return (region_size + BLK - 1) & ~(BLK - 1);
}

static bool bl_entries_ok(const struct hfs_bad_extent *v, uint32_t n,
			  uint64_t limit, uint32_t *bad)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = v[i].bx_off, l = v[i].bx_len;

		*bad = i;
		if (s % BLK || l == 0 || l % BLK || s + l < s ||
		    s + l > limit)
			return false;
		if (i && s < v[i - 1].bx_off + v[i - 1].bx_len)
			return false;
	}
	return true;
}

static int bl_unreadable(struct hfs_region *rg, uint64_t off, int rc,
			 struct hfs_err *err)
{
	return hfs_err_set(err, rc, "%s: bad-extent list at 0x%" PRIx64
			   " unreadable (media error)", rg->path, off);
}

/* Read the list at sb->s_badlist_off and check magic, count and crc.
 * Returns the entries (NULL if none) in *out and their count in *n. */
static int bl_read(struct hfs_region *rg, const struct hfs_super *sb,
		   struct hfs_bad_extent **out, uint32_t *n,
		   struct hfs_err *err)
{
	uint64_t off = sb->s_badlist_off;
	struct hfs_badlist_hdr h;
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = hfs_region_read(rg, off, &h, HDR_SIZE, NULL)))
		return bl_unreadable(rg, off, rc, err);
	if (h.bl_magic != HFS_BADLIST_MAGIC)
		return hfs_err_set(err, -EUCLEAN, "%s: bad-extent list at 0x%"
				   PRIx64 ": bad magic", rg->path, off);
	if (h.bl_count > bl_capacity(sb))
		return hfs_err_set(err, -EUCLEAN, "%s: bad-extent list: %"
				   PRIu32 " entries exceed its capacity %"
				   PRIu32, rg->path, h.bl_count,
				   bl_capacity(sb));
	len = HDR_SIZE + (size_t)h.bl_count * ENT_SIZE;
	if (!(buf = malloc(len)))
		return hfs_err_set(err, -ENOMEM, "%s: out of memory", rg->path);
	if ((rc = hfs_region_read(rg, off, buf, len, NULL))) {
		free(buf);
		return bl_unreadable(rg, off, rc, err);
	}
	if (h.bl_crc != hfs_crc_struct(buf, len, offsetof(struct hfs_badlist_hdr,
							  bl_crc))) {
		free(buf);
		return hfs_err_set(err, -EUCLEAN, "%s: bad-extent list: "
				   "checksum mismatch", rg->path);
	}
	/* The entries slide to the front of the buffer, which becomes *out. */
	*n = h.bl_count;
	memmove(buf, buf + HDR_SIZE, len - HDR_SIZE);
	if (*n)
		*out = (struct hfs_bad_extent *)buf;
	else
		free(buf);
	return 0;
}

int hfs_badlist_load(struct hfs_vol *vol, struct hfs_err *err)
{
	struct hfs_bad_extent *v;
	uint32_t n = 0, bad;
	int rc = bl_read(vol->rg, &vol->sb, &v, &n, err);

	if (rc)
		return rc;
	if (!bl_entries_ok(v, n, bl_limit(hfs_super_volume_end(&vol->sb)), &bad)) {
		rc = hfs_err_set(err, -EUCLEAN, "%s: bad-extent list: entry %"
				 PRIu32 " (0x%" PRIx64 "+0x%" PRIx64 ") is "
				 "misaligned, unsorted or outside the region",
				 vol->rg->path, bad, v[bad].bx_off,
				 v[bad].bx_len);
		free(v);
		return rc;
	}
	free(vol->bad);
	vol->bad = v;
	vol->nbad = n;
	return 0;
}

int hfs_badlist_add_locked(struct hfs_vol *vol, uint64_t off, uint64_t len)
{
	uint64_t limit = bl_limit(hfs_super_volume_end(&vol->sb));
	struct hfs_bad_extent *v;
	uint8_t *img;
	size_t ilen;
	int64_t n;
	int rc;

	if (vol->readonly)
		return -EROFS;
	if (off >= limit)
		return -ERANGE;
	if (len > limit - off)
		len = limit - off;
	if (len == 0)
		return 0;
	v = malloc(((size_t)vol->nbad + 1) * ENT_SIZE);
	if (!v)
		return -ENOMEM;
	if (vol->nbad)
		memcpy(v, vol->bad, (size_t)vol->nbad * ENT_SIZE);
	v[vol->nbad] = (struct hfs_bad_extent){ .bx_off = off, .bx_len = len };
	n = bl_normalize(v, vol->nbad + 1, limit);
	if (n < 0 || n > bl_capacity(&vol->sb)) {
		free(v);
		return n < 0 ? (int)n : -ENOSPC;
	}
	/* Already covered: nothing to write. */
	if ((uint32_t)n == vol->nbad &&
	    (n == 0 || !memcmp(v, vol->bad, (size_t)n * ENT_SIZE))) {
		free(v);
		return 0;
	}
	img = bl_image(v, (uint32_t)n, &ilen);
	if (!img) {
		free(v);
		return -ENOMEM;
	}
	rc = hfs_tx_add(&vol->tx, vol->sb.s_badlist_off, img, ilen);
	free(img);
	if (rc) {
		free(v);
		return rc;
	}
	free(vol->bad);
	vol->bad = v;
	vol->nbad = (uint32_t)n;
	return 0;
}

bool hfs_badlist_overlaps(const struct hfs_vol *vol, uint64_t off,
			  uint64_t len)
{
	uint32_t lo = 0, hi = vol->nbad;
	uint64_t end = off + len < off ? UINT64_MAX : off + len;

	if (len == 0)
		return false;
	/* First entry that ends after off. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct hfs_bad_extent *x = &vol->bad[mid];

		if (x->bx_off + x->bx_len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < vol->nbad && vol->bad[lo].bx_off < end;
}

int hfs_badlist_format(struct hfs_region *rg, const struct hfs_super *sb,
		       const struct hfs_bad_extent *bad, uint32_t nbad)
{
	struct hfs_bad_extent *v = NULL;
	uint8_t *img;
	size_t ilen;
	int64_t n = 0;
	int rc;

	if (nbad) {
		v = malloc((size_t)nbad * ENT_SIZE);
		if (!v)
			return -ENOMEM;
		memcpy(v, bad, (size_t)nbad * ENT_SIZE);
		n = bl_normalize(v, nbad, bl_limit(hfs_super_volume_end(sb)));
	}
	if (n < 0 || n > bl_capacity(sb)) {
		free(v);
		return n < 0 ? (int)n : -ENOSPC;
	}
	img = bl_image(v, (uint32_t)n, &ilen);
	free(v);
	if (!img)
		return -ENOMEM;
	rc = hfs_region_write(rg, sb->s_badlist_off, img, ilen, NULL);
	free(img);
	return rc;
}
