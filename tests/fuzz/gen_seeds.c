/* SPDX-License-Identifier: MIT */
/*
 * Write the seed corpus of fuzz_fsck and fuzz_mount: small patch lists
 * (fuzz_image.h), one per kind of metadata, not whole images.
 *
 *   gen_seeds DIR...      (run-fuzz.sh writes tests/fuzz/corpus/{fsck,mount})
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <holdfs/format.h>

#include "fuzz_image.h"

struct seed {
	const char *name;
	uint8_t flags;
	unsigned area;
	uint32_t off;
	uint8_t bytes[32];
	unsigned len;
};

#define INO(n, field) ((n) * 256u + offsetof(struct hfs_inode_disk, field))
#define SB(field) offsetof(struct hfs_super, field)

static const struct seed seeds[] = {
	{ "none", 0, 0, 0, { 0 }, 0 },
	{ "sb_crc", 0, 0, SB(s_crc), { 0xff }, 1 },
	{ "sb_inode_count", 1, 0, SB(s_inode_count), { 0x10 }, 1 },
	{ "sb_hwm", 1, 0, SB(s_inode_hwm), { 0x7f }, 1 },
	{ "sb_state", 1, 0, SB(s_state), { 0x02 }, 1 },
	{ "backup_zero", 0, 6, 0, { 0 }, 8 },
	{ "root_mode", 1, 1, INO(1, i_mode) + 1, { 0x80 }, 1 },
	{ "inode_mode", 1, 1, INO(3, i_mode) + 1, { 0xf0 }, 1 },
	{ "inode_nlink", 1, 1, INO(3, i_nlink), { 9 }, 1 },
	{ "inode_size", 1, 1, INO(2, i_size) + 2, { 0x77 }, 1 },
	{ "inode_nextents", 1, 1, INO(3, i_nextents), { 100 }, 1 },
	{ "inode_extent", 1, 1, INO(3, i_extents) + 8, { 0x10 }, 1 },
	{ "inode_ext_blk", 1, 1, INO(3, i_ext_blk), { 0x33 }, 1 },
	{ "inode_xattr", 1, 1, INO(3, i_xattr_blk), { 0x21 }, 1 },
	{ "inode_parent", 1, 1, INO(2, i_parent), { 4 }, 1 },
	{ "inode_flags", 1, 1, INO(3, i_flags), { 0x07 }, 1 },
	{ "inode_crc", 0, 1, INO(3, i_crc), { 0x5a }, 1 },
	{ "dentry_ino", 1, 2, 0, { 5 }, 1 },
	{ "dentry_name", 1, 2, 16, { '/' }, 1 },
	{ "dentry_len", 1, 2, 12, { 0 }, 1 },
	{ "dentry_type", 1, 2, 14, { 4 }, 1 },
	{ "dentry_crc", 0, 2, 8, { 0x11 }, 1 },
	{ "journal_magic", 1, 3, 0, { 'H', 'D', 'F', 'S', 'J', 'R', 'N', 'L',
				      1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
				      0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0 },
	  32 },
	{ "badlist_count", 1, 4, 8, { 3 }, 1 },
	{ "badlist_entry", 1, 4, 16, { 0, 0x30 }, 2 },
	{ "health_seq", 1, 5, 8, { 7 }, 1 },
	{ "health_torn", 0, 5, 60, { 0x41 }, 1 },
	{ "meta_byte", 1, 2, 4096 + 300, { 0x99 }, 1 },
	{ "anywhere", 1, 7, 0x8010, { 1, 2, 3, 4 }, 4 },
};

static int write_seed(const char *dir, const struct seed *s)
{
	uint8_t buf[64];
	size_t n = 1;
	char path[4096];
	FILE *f;

	buf[0] = s->flags;
	if (s->len)
		n += fuzz_patch(buf + 1, s->area, s->off, s->bytes, s->len);
	snprintf(path, sizeof(path), "%s/%s", dir, s->name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int d = 1; d < argc; d++)
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
			if (write_seed(argv[d], &seeds[i]))
				return 1;
	return 0;
}
