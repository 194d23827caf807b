/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs output: the layout summary and the size/uuid formatting it
 * uses.
 */
#include <inttypes.h>
#include <stdio.h>

#include <holdfs/format.h>

#include "tool.h"

/* "256 MiB", "1.5 GiB", "4 KiB", "512 B" */
const char *mkfs_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double v = (double)bytes;
	unsigned i = 0;

	while (v >= 1024 && i + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		i++;
	}
	if (i == 0 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[i]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

const char *mkfs_uuid_str(const uint8_t u[16], char out[37])
{
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", u[i]);
	}
	return out;
}

static const char *kind_name(enum hfs_region_kind kind)
{
	switch (kind) {
	case HFS_REGION_DEVDAX:
		return "device-dax";
	case HFS_REGION_FILE:
		return "file";
	default:
		return "memory";
	}
}


static uint64_t bad_bytes(const struct badlist *bl)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < bl->n; i++)
		sum += bl->v[i].bx_len;
	return sum;
}

/* What was (or, for -n, would be) laid out. */
void mkfs_print_summary(const struct mkfs_args *a,
			const struct region_desc *rd,
			const struct hfs_super *sb, const struct badlist *bl)
{
	char h1[32], h2[32], id[37];
	uint64_t bs = HFS_BLOCK_SIZE;

	if (a->dry_run)
		printf("Dry run: nothing was written to %s.\n", a->region);
	printf("%s holdfs on %s\n", a->dry_run ? "Would create" : "Created",
	       a->region);
	printf("  region       %s, %s (%" PRIu64 " bytes)\n",
	       kind_name(rd->kind), mkfs_human(sb->s_region_size, h1, sizeof(h1)),
	       sb->s_region_size);
	if (rd->granularity)
		printf("  persistence  %s granularity (libpmem2)\n",
		       rd->granularity);
	printf("  alloc unit   %s\n", mkfs_human(sb->s_alloc_unit, h1, sizeof(h1)));
	printf("  inodes       %" PRIu64 " (table %s at 0x%" PRIx64 ")\n",
	       sb->s_inode_count, mkfs_human(sb->s_inode_count * HFS_INODE_SIZE,
					h1, sizeof(h1)), sb->s_itable_off);
	printf("  journal      %s at 0x%" PRIx64 "\n",
	       mkfs_human(sb->s_journal_blocks * bs, h1, sizeof(h1)),
	       sb->s_journal_off);
	if (sb->s_dslot_count)
		printf("  data path    %" PRIu32 " slots at 0x%" PRIx64 "\n",
		       sb->s_dslot_count, sb->s_dslot_off);
	else
		printf("  data path    none (-D 0)\n");
	printf("  pool         %s at 0x%" PRIx64 " (%" PRIu64 " blocks)\n",
	       mkfs_human(sb->s_pool_blocks * bs, h2, sizeof(h2)), sb->s_pool_off,
	       sb->s_pool_blocks);
	printf("  for root     %s and %" PRIu64 " inodes (-m %u%%)\n",
	       mkfs_human(sb->s_root_blocks * bs, h1, sizeof(h1)),
	       sb->s_root_inodes, a->mo.root_pct);
	if (!a->dry_run)
		printf("  uuid         %s\n", mkfs_uuid_str(sb->s_uuid, id));
	printf("  label        %s%.*s%s\n", sb->s_label[0] ? "\"" : "(none)",
	       HFS_LABEL_MAX, sb->s_label, sb->s_label[0] ? "\"" : "");
	printf("  bad media    %" PRIu32 " range%s (%s) never allocated\n",
	       bl->n, bl->n == 1 ? "" : "s", mkfs_human(bad_bytes(bl), h1,
						   sizeof(h1)));
}

/* The members of a volume of several devices, and what losing each
 * costs (the metadata is on member 0 alone so far). */
void mkfs_print_members(const struct mkfs_args *a, const struct hfs_super *sb,
			const struct hfs_devtab *t)
{
	char h1[32], h2[32], id[37];

	printf("  devices      %u, each a failure domain for the file data on "
	       "it\n", t->t_count);
	for (uint32_t i = 0; i < t->t_count; i++) {
		const struct hfs_dev_entry *d = &t->t_dev[i];

		printf("    %-2u %s\n       %s, pool %s at volume offset 0x%"
		       PRIx64 ", uuid %s%s\n", i,
		       i == 0 ? a->region : a->devices[i - 1],
		       mkfs_human(d->d_size, h1, sizeof(h1)),
		       mkfs_human(d->d_pool_blocks * HFS_BLOCK_SIZE, h2,
				  sizeof(h2)),
		       d->d_pool_off, mkfs_uuid_str(d->d_uuid, id),
		       d->d_role & HFS_DEV_ROLE_META ? ", metadata"
		       : d->d_role & HFS_DEV_ROLE_MIRROR ? ", mirror of device 0"
							 : "");
	}
	if (t->t_mirror_dev)
		printf("  metadata     on device 0 (its areas and a %s zone for "
		       "directory, extent\n"
		       "               and xattr blocks), mirrored on device %u "
		       "(%s): losing any\n"
		       "               one device fails only the files with "
		       "data on it; without\n"
		       "               %s, mount %s with -o degraded\n",
		       mkfs_human(sb->s_meta_end - sb->s_pool_off, h1, sizeof(h1)),
		       t->t_mirror_dev, a->devices[t->t_mirror_dev - 1],
		       a->region, a->devices[t->t_mirror_dev - 1]);
	else
		printf("  metadata     on device 0 only (--no-mirror): losing %s "
		       "loses the volume;\n"
		       "               losing another device fails only the "
		       "files with data on it\n", a->region);
}
