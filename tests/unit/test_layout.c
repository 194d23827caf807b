/* SPDX-License-Identifier: MIT */
/*
 * On-media layout: every field offset and size of include/holdfs/format.h.
 *
 * The format is little-endian fixed-width and used in place, so a field
 * that moves is an incompatible format change.  This test pins each one;
 * if it fails, either the change was a mistake or the format version and
 * docs/format.md must change with it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <holdfs/format.h>

static int failures;

static void check(const char *what, size_t got, size_t want)
{
	if (got != want) {
		fprintf(stderr, "FAIL %s: %zu, expected %zu\n", what, got, want);
		failures++;
	}
}

#define SIZE(type, want) check("sizeof(" #type ")", sizeof(type), want)
#define FIELD(type, field, off, size)                                     \
	do {                                                              \
		check("offsetof(" #type ", " #field ")",                  \
		      offsetof(type, field), off);                        \
		check("sizeof(" #type "." #field ")",                     \
		      sizeof(((type *)0)->field), size);                  \
	} while (0)

static void test_super(void)
{
	typedef struct hfs_super s;

	SIZE(s, 512);
	FIELD(s, s_magic, 0, 8);
	FIELD(s, s_version_major, 8, 4);
	FIELD(s, s_version_minor, 12, 4);
	FIELD(s, s_feat_compat, 16, 4);
	FIELD(s, s_feat_incompat, 20, 4);
	FIELD(s, s_feat_ro_compat, 24, 4);
	FIELD(s, s_crc, 28, 4);
	FIELD(s, s_block_size, 32, 4);
	FIELD(s, s_alloc_unit, 36, 4);
	FIELD(s, s_region_size, 40, 8);
	FIELD(s, s_uuid, 48, 16);
	FIELD(s, s_label, 64, 64);
	FIELD(s, s_health_off, 128, 8);
	FIELD(s, s_health_blocks, 136, 8);
	FIELD(s, s_badlist_off, 144, 8);
	FIELD(s, s_badlist_blocks, 152, 8);
	FIELD(s, s_journal_off, 160, 8);
	FIELD(s, s_journal_blocks, 168, 8);
	FIELD(s, s_itable_off, 176, 8);
	FIELD(s, s_inode_count, 184, 8);
	FIELD(s, s_pool_off, 192, 8);
	FIELD(s, s_pool_blocks, 200, 8);
	FIELD(s, s_backup_off, 208, 8);
	FIELD(s, s_mkfs_time, 216, 8);
	FIELD(s, s_mount_time, 224, 8);
	FIELD(s, s_unmount_time, 232, 8);
	FIELD(s, s_mount_count, 240, 8);
	FIELD(s, s_state, 248, 4);
	FIELD(s, s_pad0, 252, 4);
	FIELD(s, s_inode_hwm, 256, 8);
	FIELD(s, s_used_blocks, 264, 8);
	FIELD(s, s_used_inodes, 272, 8);
	FIELD(s, s_journal_seq, 280, 8);
	FIELD(s, s_health_seq, 288, 8);
	FIELD(s, s_root_blocks, 296, 8);
	FIELD(s, s_root_inodes, 304, 8);
	FIELD(s, s_dslot_off, 312, 8);
	FIELD(s, s_dslot_count, 320, 4);
	FIELD(s, s_pad1, 324, 4);
	FIELD(s, s_pool_end, 328, 8);
	FIELD(s, s_meta_end, 336, 8);
	FIELD(s, s_reserved, 344, 168);
}

static void test_dslot(void)
{
	typedef struct hfs_dslot d;

	SIZE(d, 128);
	check("HFS_DSLOTS_PER_BLOCK", HFS_DSLOTS_PER_BLOCK, 32);
	FIELD(d, ds_ino, 0, 8);
	FIELD(d, ds_gen, 8, 8);
	FIELD(d, ds_epoch, 16, 8);
	FIELD(d, ds_base, 24, 8);
	FIELD(d, ds_crc, 32, 4);
	FIELD(d, ds_limit, 40, 8);
	FIELD(d, ds_resv, 48, 8);
	FIELD(d, ds_size, 64, 8);
	FIELD(d, ds_mtime, 72, 8);
	FIELD(d, ds_dirty, 80, 8);
	FIELD(d, ds_lock, 88, 4);
}

static void test_extent_inode(void)
{
	typedef struct hfs_extent e;
	typedef struct hfs_inode_disk i;

	SIZE(e, 24);
	FIELD(e, e_lblk, 0, 8);
	FIELD(e, e_pblk, 8, 8);
	FIELD(e, e_len, 16, 4);
	FIELD(e, e_flags, 20, 4);

	SIZE(i, 256);
	check("HFS_INODE_SIZE", HFS_INODE_SIZE, 256);
	check("HFS_INLINE_SYMLINK", HFS_INLINE_SYMLINK, 120);
	FIELD(i, i_crc, 0, 4);
	FIELD(i, i_mode, 4, 4);
	FIELD(i, i_uid, 8, 4);
	FIELD(i, i_gid, 12, 4);
	FIELD(i, i_nlink, 16, 4);
	FIELD(i, i_flags, 20, 4);
	FIELD(i, i_size, 24, 8);
	FIELD(i, i_generation, 32, 8);
	FIELD(i, i_atime, 40, 8);
	FIELD(i, i_mtime, 48, 8);
	FIELD(i, i_ctime, 56, 8);
	FIELD(i, i_btime, 64, 8);
	FIELD(i, i_atime_ns, 72, 4);
	FIELD(i, i_mtime_ns, 76, 4);
	FIELD(i, i_ctime_ns, 80, 4);
	FIELD(i, i_btime_ns, 84, 4);
	FIELD(i, i_rdev, 88, 8);
	FIELD(i, i_xattr_blk, 96, 8);
	FIELD(i, i_ext_blk, 104, 8);
	FIELD(i, i_nextents, 112, 4);
	FIELD(i, i_pad0, 116, 4);
	FIELD(i, i_parent, 120, 8);
	FIELD(i, i_extents, 128, 120);
	FIELD(i, i_symlink, 128, 120);
	FIELD(i, i_dp_epoch, 248, 8);
}

static void test_dentry_blocks(void)
{
	typedef struct hfs_dentry_disk d;
	typedef struct hfs_blkhdr b;
	typedef struct hfs_xattr_entry x;

	SIZE(d, 272);
	FIELD(d, d_ino, 0, 8);
	FIELD(d, d_crc, 8, 4);
	FIELD(d, d_name_len, 12, 2);
	FIELD(d, d_type, 14, 1);
	FIELD(d, d_pad, 15, 1);
	FIELD(d, d_name, 16, 256);
	check("HFS_DENTRIES_PER_BLOCK", HFS_DENTRIES_PER_BLOCK, 15);

	SIZE(b, 32);
	FIELD(b, b_magic, 0, 4);
	FIELD(b, b_crc, 4, 4);
	FIELD(b, b_owner, 8, 8);
	FIELD(b, b_next, 16, 8);
	FIELD(b, b_count, 24, 4);
	FIELD(b, b_pad, 28, 4);
	check("HFS_EXTENTS_PER_BLOCK", HFS_EXTENTS_PER_BLOCK, 169);

	SIZE(x, 4);
	FIELD(x, x_name_len, 0, 1);
	FIELD(x, x_flags, 1, 1);
	FIELD(x, x_value_len, 2, 2);
	check("HFS_XATTR_SPACE", HFS_XATTR_SPACE, 4064);
	check("sizeof(struct hfs_xattr_vref)", sizeof(struct hfs_xattr_vref), 8);
	FIELD(struct hfs_xattr_vref, v_len, 0, 4);
	FIELD(struct hfs_xattr_vref, v_nblk, 4, 4);
	check("offsetof(struct hfs_xattr_vref, v_blk)",
	      offsetof(struct hfs_xattr_vref, v_blk), 8);
	check("HFS_XATTR_F_VALBLK", HFS_XATTR_F_VALBLK, 1);
	check("HFS_XATTR_VALUE_MAX", HFS_XATTR_VALUE_MAX, 65536);
	check("HFS_XATTR_LIST_MAX", HFS_XATTR_LIST_MAX, 65536);
	check("HFS_XATTR_MAX_BLOCKS", HFS_XATTR_MAX_BLOCKS, 1024);
}

static void test_lists_journal(void)
{
	typedef struct hfs_badlist_hdr bh;
	typedef struct hfs_bad_extent bx;
	typedef struct hfs_health_rec h;
	typedef struct hfs_jheader jh;
	typedef struct hfs_jrecord jr;

	SIZE(bh, 16);
	FIELD(bh, bl_magic, 0, 4);
	FIELD(bh, bl_crc, 4, 4);
	FIELD(bh, bl_count, 8, 4);
	FIELD(bh, bl_pad, 12, 4);
	SIZE(bx, 16);
	FIELD(bx, bx_off, 0, 8);
	FIELD(bx, bx_len, 8, 8);

	SIZE(h, 128);
	FIELD(h, h_crc, 0, 4);
	FIELD(h, h_type, 4, 4);
	FIELD(h, h_seq, 8, 8);
	FIELD(h, h_time, 16, 8);
	FIELD(h, h_off, 24, 8);
	FIELD(h, h_len, 32, 8);
	FIELD(h, h_ino, 40, 8);
	FIELD(h, h_flags, 48, 4);
	FIELD(h, h_pad, 52, 4);
	FIELD(h, h_msg, 56, 72);

	SIZE(jh, 32);
	FIELD(jh, j_magic, 0, 8);
	FIELD(jh, j_seq, 8, 8);
	FIELD(jh, j_nrec, 16, 4);
	FIELD(jh, j_crc, 20, 4);
	FIELD(jh, j_bytes, 24, 8);
	SIZE(jr, 16);
	FIELD(jr, r_off, 0, 8);
	FIELD(jr, r_len, 8, 4);
	FIELD(jr, r_pad, 12, 4);
}

/* Several devices: the device table and member headers. */
static void test_members(void)
{
	typedef struct hfs_dev_entry de;
	typedef struct hfs_devtab dt;
	typedef struct hfs_member_super ms;

	SIZE(de, 64);
	FIELD(de, d_uuid, 0, 16);
	FIELD(de, d_base, 16, 8);
	FIELD(de, d_size, 24, 8);
	FIELD(de, d_pool_off, 32, 8);
	FIELD(de, d_pool_blocks, 40, 8);
	FIELD(de, d_align, 48, 4);
	FIELD(de, d_state, 52, 4);
	FIELD(de, d_role, 56, 4);
	FIELD(de, d_pad, 60, 4);
	SIZE(dt, 32 + 32 * 64);
	FIELD(dt, t_magic, 0, 4);
	FIELD(dt, t_count, 4, 4);
	FIELD(dt, t_crc, 8, 4);
	FIELD(dt, t_mirror_dev, 12, 4);
	FIELD(dt, t_gen, 16, 8);
	FIELD(dt, t_mirror_off, 24, 8);
	FIELD(dt, t_dev, 32, 32 * 64);
	SIZE(ms, 512);
	FIELD(ms, m_magic, 0, 8);
	FIELD(ms, m_index, 8, 4);
	FIELD(ms, m_crc, 12, 4);
	FIELD(ms, m_vol_uuid, 16, 16);
	FIELD(ms, m_uuid, 32, 16);
	FIELD(ms, m_mkfs_time, 48, 8);
	FIELD(ms, m_reserved, 56, 456);
	check("HFS_DEVTAB_OFF", HFS_DEVTAB_OFF, 512);
	check("HFS_MEMBERS_MAX", HFS_MEMBERS_MAX, 32);
	check("HFS_MEMBER_SPACING", HFS_MEMBER_SPACING, 1ull << 30);
	check("HFS_DEVTAB_MAGIC", HFS_DEVTAB_MAGIC, 0x42545644u);
	check("HFS_MEMBER_MAGIC", HFS_MEMBER_MAGIC == 0x424d4d53464448ull, 1);
	check("HFS_FEAT_INCOMPAT_MULTIDEV", HFS_FEAT_INCOMPAT_MULTIDEV, 4);
}

/* Constants that are part of the format. */
static void test_constants(void)
{
	check("HFS_BLOCK_SIZE", HFS_BLOCK_SIZE, 4096);
	check("1 << HFS_BLOCK_SHIFT", 1u << HFS_BLOCK_SHIFT, 4096);
	check("HFS_MAX_FILE_SIZE == 2^60", HFS_MAX_FILE_SIZE == 1ull << 60, 1);
	check("HFS_MAX_FILE_BLOCKS", HFS_MAX_FILE_BLOCKS, 1ull << 48);
	check("HFS_SB_MAGIC", HFS_SB_MAGIC == 0x01005346444c4f48ull, 1);
	check("HFS_VERSION_MAJOR", HFS_VERSION_MAJOR, 1);
	check("HFS_ROOT_INO", HFS_ROOT_INO, 1);
	check("HFS_EXTBLK_MAGIC", HFS_EXTBLK_MAGIC, 0x4b425845u);
	check("HFS_XATTRBLK_MAGIC", HFS_XATTRBLK_MAGIC, 0x4b425858u);
	check("HFS_XATTRVAL_MAGIC", HFS_XATTRVAL_MAGIC, 0x4b425658u);
	check("HFS_FEAT_INCOMPAT_XATTR_CHAIN", HFS_FEAT_INCOMPAT_XATTR_CHAIN, 2);
	check("HFS_BADLIST_MAGIC", HFS_BADLIST_MAGIC, 0x4c444142u);
	check("HFS_FEAT_RO_COMPAT_IFLAGS", HFS_FEAT_RO_COMPAT_IFLAGS, 1);
	check("HFS_IF_IMMUTABLE (FS_IMMUTABLE_FL)", HFS_IF_IMMUTABLE, 0x10);
	check("HFS_IF_APPEND (FS_APPEND_FL)", HFS_IF_APPEND, 0x20);
	check("HFS_IF_NODUMP (FS_NODUMP_FL)", HFS_IF_NODUMP, 0x40);
	check("HFS_JOURNAL_MAGIC",
	      HFS_JOURNAL_MAGIC == 0x4c4e524a53464448ull, 1);
	check("health records per ring", HFS_HEALTH_BLOCKS * 4096 / 128, 512);
	check("bad extents per list", (HFS_BADLIST_BLOCKS * 4096 - 16) / 16,
	      1023);
}

int main(void)
{
	test_super();
	test_extent_inode();
	test_dslot();
	test_dentry_blocks();
	test_lists_journal();
	test_constants();
	test_members();
	if (failures) {
		fprintf(stderr, "test_layout: %d check(s) failed\n", failures);
		return EXIT_FAILURE;
	}
	printf("test_layout: all layout checks passed\n");
	return EXIT_SUCCESS;
}
