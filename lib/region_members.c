/* SPDX-License-Identifier: MIT */
/*
 * A volume over several devices: one address range for all of them.
 *
 * Every region offset in holdfs (extents, journal records, rmap keys,
 * lease ranges) is an offset from one base pointer.  A volume of several
 * members keeps that: libpmem2 reserves one range of address space
 * (pmem2_vm_reservation) and maps each member inside it at its volume
 * offset, with unmapped gaps between them.  The rest of holdfs keeps
 * doing base + offset; only what is about one device (its fd, its
 * backing, its loss) asks which member an offset belongs to.
 *
 * Where the members sit is the volume's business (the device table,
 * lib/members.c); this file only maps them where it is told.
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpmem2.h>

#define RSV_ALIGN (2ull << 20)

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* A reservation of span bytes at an address aligned to align.  libpmem2
 * places a reservation on its own 2 MiB boundary (and may reserve more
 * than asked: it rounds the size up), which is enough for files and most
 * devices; a larger alignment (1 GiB device-dax) needs a free aligned
 * range found with a throwaway PROT_NONE mapping of the size libpmem2
 * really reserves, then a reservation exactly there (refused if another
 * thread took the range meanwhile: try again). */
static int reserve_aligned(uint64_t span, uint64_t align,
			   struct pmem2_vm_reservation **rsv,
			   struct hfs_err *err, const char *path)
{
	size_t real;
	int ret = pmem2_vm_reservation_new(rsv, NULL, span);

	if (ret)
		return hfs_pmem2_fail(err, ret, path, "cannot reserve the "
				      "volume's address range");
	if ((uintptr_t)pmem2_vm_reservation_get_address(*rsv) % align == 0)
		return 0;
	real = pmem2_vm_reservation_get_size(*rsv);
	pmem2_vm_reservation_delete(rsv);
	for (int tries = 0; tries < 4; tries++) {
		size_t len = real + align;
		uint8_t *p = mmap(NULL, len, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				  -1, 0);
		uintptr_t a;

		if (p == MAP_FAILED)
			return hfs_err_set(err, -errno, "%s: cannot reserve "
					   "%zu bytes of address space for the "
					   "volume: %s", path, len,
					   strerror(errno));
		a = (uintptr_t)align_up((uintptr_t)p, align);
		munmap(p, len);
		ret = pmem2_vm_reservation_new(rsv, (void *)a, span);
		if (!ret)
			return 0;
	}
	return hfs_pmem2_fail(err, ret, path, "cannot reserve the volume's "
			      "address range");
}

static int check_layout(struct hfs_region *rg, struct hfs_region **others,
			const uint64_t *offs, unsigned n, struct hfs_err *err)
{
	uint64_t end = rg->size;

	if (n < 2 || n > 64 || offs[0] != 0)
		return hfs_err_set(err, -EINVAL, "%s: bad member list (%u "
				   "members)", rg->path, n);
	for (unsigned i = 1; i < n; i++) {
		struct hfs_region *m = others[i - 1];

		if (!m) {
			if (offs[i] < end)
				return hfs_err_set(err, -EINVAL, "%s: member "
						   "%u overlaps member %u",
						   rg->path, i, i - 1);
			end = offs[i];
			continue;
		}

		if (strcmp(m->granularity, rg->granularity) != 0)
			return hfs_err_set(err, -EINVAL, "%s: stores persist "
					   "at %s granularity, %s at %s; all "
					   "members of a volume must offer the "
					   "same", m->path, m->granularity,
					   rg->path, rg->granularity);
		if (offs[i] < end || offs[i] % m->align)
			return hfs_err_set(err, -EINVAL, "%s: member %u at "
					   "volume offset %#" PRIx64 " overlaps "
					   "member %u or breaks its %" PRIu64
					   "-byte alignment", m->path, i,
					   offs[i], i - 1, m->align);
		end = offs[i] + m->size;
	}
	return 0;
}

int hfs_region_assemble(struct hfs_region *rg, struct hfs_region **others,
			const uint64_t *offs, unsigned n, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	struct hfs_region_member *mem = NULL;
	uint64_t span, align = rg->align;
	int ret;

	ret = rg->nmembers || rg->kind == HFS_REGION_MEMORY
		      ? hfs_err_set(err, -EINVAL, "%s: cannot assemble this "
				    "region", rg->path)
		      : check_layout(rg, others, offs, n, err);
	if (ret)
		goto fail;
	span = rg->size;
	for (unsigned i = 1; i < n; i++) {
		if (!others[i - 1])
			continue;
		if (others[i - 1]->align > align)
			align = others[i - 1]->align;
		span = offs[i] + others[i - 1]->size;
	}
	/* libpmem2 wants reservations on its own 2 MiB boundary */
	align = align > RSV_ALIGN ? align : RSV_ALIGN;
	span = align_up(span, RSV_ALIGN);
	mem = calloc(n, sizeof(*mem));
	if (!mem) {
		ret = hfs_err_set(err, -ENOMEM, "%s: out of memory", rg->path);
		goto fail;
	}
	ret = reserve_aligned(span, align, &p->rsv, err, rg->path);
	if (ret)
		goto fail;
	/* every member, member 0 too, moves into the reservation */
	mem[0] = (struct hfs_region_member){ rg, 0, rg->size };
	for (unsigned i = 1; i < n; i++)
		mem[i] = (struct hfs_region_member){
			others[i - 1], offs[i],
			others[i - 1] ? others[i - 1]->size : 0 };
	rg->members = mem;
	rg->nmembers = n;
	ret = hfs_region_map_at(rg, p->rsv, 0, err);
	for (unsigned i = 1; !ret && i < n; i++)
		if (mem[i].rg)
			ret = hfs_region_map_at(mem[i].rg, p->rsv, offs[i], err);
	if (ret)
		return ret; /* hfs_region_close undoes it all */
	rg->base = pmem2_vm_reservation_get_address(p->rsv);
	rg->size = 0;
	for (unsigned i = 0; i < n; i++)
		if (mem[i].size)
			rg->size = mem[i].off + mem[i].size;
	return 0;
fail:
	for (unsigned i = 1; i < n; i++)
		hfs_region_close(others[i - 1]);
	free(mem);
	return ret;
}

void hfs_region_members_free(struct hfs_region *rg)
{
	for (unsigned i = 1; i < rg->nmembers; i++)
		hfs_region_close(rg->members[i].rg);
	free(rg->members);
	rg->members = NULL;
	rg->nmembers = 0;
}

int hfs_region_member_of(const struct hfs_region *rg, uint64_t off)
{
	if (!rg->nmembers)
		return off < rg->size ? 0 : -1;
	for (unsigned i = 0; i < rg->nmembers; i++)
		if (off >= rg->members[i].off &&
		    off - rg->members[i].off < rg->members[i].size)
			return (int)i;
	return -1;
}

unsigned hfs_region_nmembers(const struct hfs_region *rg)
{
	return rg->nmembers ? rg->nmembers : 1;
}

struct hfs_region *hfs_region_member(const struct hfs_region *rg, unsigned i)
{
	if (!rg->nmembers)
		return i == 0 ? (struct hfs_region *)rg : NULL;
	return i < rg->nmembers ? rg->members[i].rg : NULL;
}

uint64_t hfs_region_member_off(const struct hfs_region *rg, unsigned i)
{
	return rg->nmembers && i < rg->nmembers ? rg->members[i].off : 0;
}

uint64_t hfs_region_member_size(const struct hfs_region *rg, unsigned i)
{
	if (!rg->nmembers)
		return i == 0 ? rg->size : 0;
	return i < rg->nmembers ? rg->members[i].size : 0;
}
