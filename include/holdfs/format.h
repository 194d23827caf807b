/* SPDX-License-Identifier: MIT */
/*
 * holdfs on-media format, version 1.
 *
 * Every structure the region holds is defined here, with fixed-width
 * little-endian fields and byte offsets in comments.  tests/unit/test_layout.c
 * asserts every offset and size; docs/format.md is the prose version of this
 * file and must change with it.
 *
 * Region layout (all offsets are multiples of HFS_BLOCK_SIZE = 4 KiB):
 *
 *   block 0                 primary superblock
 *   health_off              health/error log (ring of 128-byte records)
 *   badlist_off             bad-extent list (never allocated again)
 *   journal_off             metadata redo journal (one transaction at a time)
 *   itable_off              inode table (inode_count slots of 256 bytes)
 *   pool_off .. pool_end    allocation pool: file data and metadata blocks
 *                           (directory blocks, extent blocks, xattr blocks)
 *   backup_off              backup superblock (last 4 KiB of the region)
 *
 * Allocation state is not stored as a bitmap: a pool block is in use exactly
 * when an inode's extent map, directory/extent/xattr chain or the bad-extent
 * list names it.  Mount derives the free-space index from those (cost follows
 * metadata, not region size) and fsck checks that nothing is named twice.
 * The superblock keeps the summary counters (used blocks, used inodes) that
 * statfs reports; fsck verifies and fixes them.
 */
#ifndef HOLDFS_FORMAT_H
#define HOLDFS_FORMAT_H

#include <assert.h>
#include <stdint.h>

/* Fields are little-endian.  holdfs runs only on little-endian hosts
 * (x86-64, arm64, riscv64: every platform with pmem or CXL memory), so the
 * structs are used in place; this assert keeps a big-endian build honest. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "holdfs on-media structs assume a little-endian host");

#define HFS_BLOCK_SIZE 4096u
#define HFS_BLOCK_SHIFT 12

/* The largest file: 2^60 bytes.  A size (i_size) may reach it and no
 * extent maps a block at or past it (e_lblk + e_len <=
 * HFS_MAX_FILE_BLOCKS).  Beyond, byte offsets of file blocks overflow 64
 * bits and the data path's arithmetic breaks (found by fuzz_mount:
 * hfs_read looping forever on a huge e_lblk).  lib/ checks writes,
 * truncates, fallocates and leases against it, and every extent it loads;
 * fsck checks sizes and extents. */
#define HFS_MAX_FILE_SIZE (1ull << 60)
#define HFS_MAX_FILE_BLOCKS (HFS_MAX_FILE_SIZE / HFS_BLOCK_SIZE)

/* "HOLDFS\0\1" read as a little-endian u64 */
#define HFS_SB_MAGIC 0x01005346444c4f48ull
#define HFS_VERSION_MAJOR 1
#define HFS_VERSION_MINOR 0
/* written by mkfs for a volume of several devices (the MULTIDEV
 * feature, not the minor number, is what readers check) */
#define HFS_VERSION_MINOR_MULTIDEV 1

/* Feature flags.  A mount refuses unknown incompat bits, mounts read-only
 * with unknown ro_compat bits, and ignores unknown compat bits. */
/* s_root_blocks and s_root_inodes hold a reserve for root (mkfs -m).  A
 * holdfs that does not know it ignores it: everyone may use the reserve. */
#define HFS_FEAT_COMPAT_ROOT_RESERVE 0x1u
/* s_dslot_off/s_dslot_count name the data-path slot area
 * (docs/data-path.md).  A holdfs that does not know it ignores it; the
 * area is outside the pool, so nothing else uses its blocks. */
#define HFS_FEAT_COMPAT_DSLOTS 0x2u
#define HFS_FEAT_COMPAT_SUPPORTED \
	(HFS_FEAT_COMPAT_ROOT_RESERVE | HFS_FEAT_COMPAT_DSLOTS)
/* Set while a read-write mount may have armed slots, cleared at a clean
 * unmount: a slot may then hold a size or time not yet in its inode, so
 * a holdfs that cannot fold slots must not mount the region. */
#define HFS_FEAT_INCOMPAT_DSLOTS_LIVE 0x1u
/* Extended attributes may use a chain of xattr blocks and values stored
 * out of line in xattr value blocks (docs/format.md).  mkfs sets it; an
 * older filesystem gets it in the transaction of the first change that
 * needs it.  Without it an inode has at most one xattr block and every
 * value is inline (the version 1.0 layout, a special case of the new). */
#define HFS_FEAT_INCOMPAT_XATTR_CHAIN 0x2u
/* The volume spans several devices ("members"): bytes [512, 4096) of the
 * superblock's block (primary and backup) hold the device table (struct
 * hfs_devtab), block 0 of every other member holds a member header
 * (struct hfs_member_super), and region offsets are volume offsets (each
 * member mapped at its d_base).  A holdfs that does not know it would see
 * only the first member and lose the others' files: it must refuse. */
#define HFS_FEAT_INCOMPAT_MULTIDEV 0x4u
#define HFS_FEAT_INCOMPAT_SUPPORTED \
	(HFS_FEAT_INCOMPAT_DSLOTS_LIVE | HFS_FEAT_INCOMPAT_XATTR_CHAIN | \
	 HFS_FEAT_INCOMPAT_MULTIDEV)
/* Some inode may carry an attribute flag a user set with chattr(1)
 * (HFS_IF_IMMUTABLE, HFS_IF_APPEND, HFS_IF_NODUMP).  Set in the
 * transaction of the first SETFLAGS that sets one; never cleared.
 * Read-only compatible: a holdfs that does not know the flags can read
 * every file as it is (the flags forbid changes, not reads), but must not
 * write, or it would change an immutable or append-only file; and an
 * older fsck, which strips unknown i_flags, repairs nothing while the bit
 * is unknown to it. */
#define HFS_FEAT_RO_COMPAT_IFLAGS 0x1u
#define HFS_FEAT_RO_COMPAT_SUPPORTED HFS_FEAT_RO_COMPAT_IFLAGS

/* sb.state bits */
#define HFS_STATE_CLEAN 0x1u  /* set at clean unmount, cleared at mount */
#define HFS_STATE_ERRORS 0x2u /* inconsistency or media loss seen: run fsck */

#define HFS_LABEL_MAX 64
#define HFS_NAME_MAX 255
#define HFS_PATH_MAX 4095

#define HFS_ROOT_INO 1u       /* slot 0 is never used */
#define HFS_FIRST_INO 1u

/* ------------------------------------------------------------------ */
/* Superblock: the first 512 bytes of block 0 (primary) and of the last
 * block (backup).  crc covers bytes [0, 512) with the crc field zeroed. */
struct hfs_super {
	uint64_t s_magic;          /*   0 */
	uint32_t s_version_major;  /*   8 */
	uint32_t s_version_minor;  /*  12 */
	uint32_t s_feat_compat;    /*  16 */
	uint32_t s_feat_incompat;  /*  20 */
	uint32_t s_feat_ro_compat; /*  24 */
	uint32_t s_crc;            /*  28 crc32c of [0,512) with this zeroed */
	uint32_t s_block_size;     /*  32 always HFS_BLOCK_SIZE */
	uint32_t s_alloc_unit;     /*  36 data allocation unit in bytes */
	uint64_t s_region_size;    /*  40 bytes of region formatted */
	uint8_t s_uuid[16];        /*  48 */
	char s_label[HFS_LABEL_MAX]; /* 64 NUL-padded */
	uint64_t s_health_off;     /* 128 byte offsets and block counts */
	uint64_t s_health_blocks;  /* 136 */
	uint64_t s_badlist_off;    /* 144 */
	uint64_t s_badlist_blocks; /* 152 */
	uint64_t s_journal_off;    /* 160 */
	uint64_t s_journal_blocks; /* 168 */
	uint64_t s_itable_off;     /* 176 */
	uint64_t s_inode_count;    /* 184 slots in the inode table */
	uint64_t s_pool_off;       /* 192 first pool byte (alloc_unit aligned) */
	uint64_t s_pool_blocks;    /* 200 4 KiB blocks in the pool (of every
				    * member: HFS_FEAT_INCOMPAT_MULTIDEV) */
	uint64_t s_backup_off;     /* 208 backup superblock */
	uint64_t s_mkfs_time;      /* 216 ns since epoch */
	uint64_t s_mount_time;     /* 224 */
	uint64_t s_unmount_time;   /* 232 */
	uint64_t s_mount_count;    /* 240 */
	uint32_t s_state;          /* 248 HFS_STATE_* */
	uint32_t s_pad0;           /* 252 */
	uint64_t s_inode_hwm;      /* 256 slots [0,hwm) may be in use */
	uint64_t s_used_blocks;    /* 264 pool blocks in use (summary) */
	uint64_t s_used_inodes;    /* 272 inodes in use (summary) */
	uint64_t s_journal_seq;    /* 280 last sequence number written */
	uint64_t s_health_seq;     /* 288 last health record sequence */
	uint64_t s_root_blocks;    /* 296 pool blocks only root may take
				    * (HFS_FEAT_COMPAT_ROOT_RESERVE) */
	uint64_t s_root_inodes;    /* 304 inodes only root may take */
	uint64_t s_dslot_off;      /* 312 data-path slot area, 0: none
				    * (HFS_FEAT_COMPAT_DSLOTS) */
	uint32_t s_dslot_count;    /* 320 slots in it */
	uint32_t s_pad1;           /* 324 */
	uint64_t s_pool_end;       /* 328 HFS_FEAT_INCOMPAT_MULTIDEV: volume
				    * byte offset past the last member's
				    * pool; 0 otherwise (the pool ends at
				    * s_pool_off + s_pool_blocks blocks) */
	uint64_t s_meta_end;       /* 336 MULTIDEV with a mirror: device 0's
				    * metadata zone is [s_pool_off,
				    * s_meta_end) (directory, extent and
				    * xattr blocks only, never file data);
				    * [0, s_meta_end) is what the mirror
				    * copies.  0: no zone, no mirror */
	uint8_t s_reserved[168];   /* 344 zero */
};                                 /* 512 */
static_assert(sizeof(struct hfs_super) == 512, "superblock is 512 bytes");

/* ------------------------------------------------------------------ */
/* Several devices in one volume (HFS_FEAT_INCOMPAT_MULTIDEV,
 * docs/format.md "Several devices").  Member 0 holds the v1 layout
 * (superblock, journal, inode table, pool); every other member is a
 * header block and pool.  Member i is mapped at volume offset d_base,
 * a multiple of HFS_MEMBER_SPACING after the end of member i-1, so every
 * device-dax alignment (up to 1 GiB) holds; the gaps are never used. */
#define HFS_MEMBERS_MAX 32u
#define HFS_MEMBER_SPACING (1ull << 30)
#define HFS_DEVTAB_OFF 512u          /* in the superblock's block */
#define HFS_DEVTAB_MAGIC 0x42545644u /* "DVTB" */
#define HFS_MEMBER_MAGIC 0x424d4d53464448ull /* "HDFSMMB\0" */

#define HFS_DEV_ACTIVE 1u  /* present and serving */
#define HFS_DEV_LOST 2u    /* lost: its files' data there reads EIO */
#define HFS_DEV_RETIRED 3u /* lost for good; a mount no longer asks for it */

#define HFS_DEV_ROLE_META 0x1u /* holds metadata (member 0) */
#define HFS_DEV_ROLE_DATA 0x2u /* holds file data */
#define HFS_DEV_ROLE_MIRROR 0x4u /* holds the mirror of device 0 */

struct hfs_dev_entry {
	uint8_t d_uuid[16];     /*  0 the member's own UUID (its header's) */
	uint64_t d_base;        /* 16 volume byte offset it is mapped at */
	uint64_t d_size;        /* 24 bytes of the device formatted */
	uint64_t d_pool_off;    /* 32 volume byte offset of its pool */
	uint64_t d_pool_blocks; /* 40 4 KiB blocks in its pool */
	uint32_t d_align;       /* 48 device alignment at mkfs (bytes) */
	uint32_t d_state;       /* 52 HFS_DEV_* */
	uint32_t d_role;        /* 56 HFS_DEV_ROLE_* */
	uint32_t d_pad;         /* 60 */
};                              /* 64 */
static_assert(sizeof(struct hfs_dev_entry) == 64, "device table entry");

/* At byte HFS_DEVTAB_OFF of the superblock's block (both copies) and of
 * every member header's block.  crc covers the header and the t_count
 * entries with t_crc zeroed.  t_gen grows with every change (a member
 * lost or retired); the copy with the highest valid t_gen wins. */
struct hfs_devtab {
	uint32_t t_magic; /*  0 HFS_DEVTAB_MAGIC */
	uint32_t t_count; /*  4 members, 2..HFS_MEMBERS_MAX */
	uint32_t t_crc;   /*  8 */
	uint32_t t_mirror_dev; /* 12 the device holding the mirror of device
				* 0, 0: no mirror (mkfs --no-mirror) */
	uint64_t t_gen;   /* 16 */
	uint64_t t_mirror_off; /* 24 volume offset of that mirror: a copy of
				* device 0's bytes [0, s_meta_end), written
				* with every persisted store there */
	struct hfs_dev_entry t_dev[HFS_MEMBERS_MAX]; /* 32 */
};
static_assert(HFS_DEVTAB_OFF + sizeof(struct hfs_devtab) <= HFS_BLOCK_SIZE,
	      "device table fits its block");

/* Block 0 of members 1..n-1: which volume, which member.  crc covers the
 * 512 bytes with m_crc zeroed; a device table copy follows at
 * HFS_DEVTAB_OFF so a member can be recognised on its own. */
struct hfs_member_super {
	uint64_t m_magic;       /*   0 HFS_MEMBER_MAGIC */
	uint32_t m_index;       /*   8 position in the device table */
	uint32_t m_crc;         /*  12 */
	uint8_t m_vol_uuid[16]; /*  16 the volume's s_uuid */
	uint8_t m_uuid[16];     /*  32 this member's d_uuid */
	uint64_t m_mkfs_time;   /*  48 */
	uint8_t m_reserved[456]; /* 56 zero */
};                              /* 512 */
static_assert(sizeof(struct hfs_member_super) == 512, "member header");

/* ------------------------------------------------------------------ */
/* Extent: a run of 4 KiB blocks of a file (or a directory/xattr chain). */
struct hfs_extent {
	uint64_t e_lblk;  /*  0 first file block (4 KiB units) */
	uint64_t e_pblk;  /*  8 first region block (4 KiB units from offset 0) */
	uint32_t e_len;   /* 16 blocks */
	uint32_t e_flags; /* 20 HFS_EXT_* */
};                        /* 24 */
static_assert(sizeof(struct hfs_extent) == 24, "extent is 24 bytes");

#define HFS_EXT_LOST 0x1u /* media under this extent was lost: reads EIO */

/* ------------------------------------------------------------------ */
/* Inode: 256-byte slot in the inode table.  crc covers the whole slot
 * with i_crc zeroed.  A free slot is all zeros (i_mode == 0). */
#define HFS_INODE_SIZE 256u
#define HFS_INLINE_EXTENTS 5u
#define HFS_INLINE_SYMLINK (HFS_INLINE_EXTENTS * sizeof(struct hfs_extent))

struct hfs_inode_disk {
	uint32_t i_crc;        /*   0 */
	uint32_t i_mode;       /*   4 file type and permissions; 0 = free */
	uint32_t i_uid;        /*   8 */
	uint32_t i_gid;        /*  12 */
	uint32_t i_nlink;      /*  16 */
	uint32_t i_flags;      /*  20 HFS_IF_* */
	uint64_t i_size;       /*  24 bytes */
	uint64_t i_generation; /*  32 bumped on every reuse of the slot */
	uint64_t i_atime;      /*  40 seconds */
	uint64_t i_mtime;      /*  48 */
	uint64_t i_ctime;      /*  56 */
	uint64_t i_btime;      /*  64 */
	uint32_t i_atime_ns;   /*  72 */
	uint32_t i_mtime_ns;   /*  76 */
	uint32_t i_ctime_ns;   /*  80 */
	uint32_t i_btime_ns;   /*  84 */
	uint64_t i_rdev;       /*  88 device number for block/char nodes */
	uint64_t i_xattr_blk;  /*  96 xattr block (region block no.), 0 none */
	uint64_t i_ext_blk;    /* 104 first overflow extent block, 0 none */
	uint32_t i_nextents;   /* 112 extents in total (inline + overflow) */
	uint32_t i_pad0;       /* 116 */
	uint64_t i_parent;     /* 120 directories: parent inode (for fsck) */
	union {                /* 128 */
		struct hfs_extent i_extents[HFS_INLINE_EXTENTS];
		char i_symlink[HFS_INLINE_SYMLINK]; /* HFS_IF_INLINE_DATA */
	};
	uint64_t i_dp_epoch;   /* 248 a data-path slot is valid only while
				  its ds_epoch equals this */
};                             /* 256 */
static_assert(sizeof(struct hfs_inode_disk) == HFS_INODE_SIZE, "inode slot");

#define HFS_IF_ORPHAN 0x1u      /* nlink 0 but still open at last commit */
#define HFS_IF_INLINE_DATA 0x2u /* symlink target lives in the inode */
#define HFS_IF_LOSTDATA 0x4u    /* some extent is HFS_EXT_LOST */
/* Attribute flags (chattr(1); docs/semantics.md), only on regular files
 * and directories; the same values as the kernel's FS_*_FL.  Their
 * presence on a volume is HFS_FEAT_RO_COMPAT_IFLAGS. */
#define HFS_IF_IMMUTABLE 0x10u  /* no change at all, no new or removed name */
#define HFS_IF_APPEND 0x20u     /* data only appended; names only added */
#define HFS_IF_NODUMP 0x40u     /* dump(8) skips it; nothing enforced */
#define HFS_IF_USER (HFS_IF_IMMUTABLE | HFS_IF_APPEND | HFS_IF_NODUMP)

/* ------------------------------------------------------------------ */
/* Data-path slot (docs/data-path.md): the size, times and append lock of
 * an inode that processes write directly, without the daemon.  128 bytes,
 * two cache lines: the first is the daemon's (written when it arms the
 * slot, CRC-covered), the second the clients' (each field one aligned
 * store, persisted by whoever stores it).  A free slot has ds_ino 0. */
#define HFS_DSLOT_SIZE 128u
#define HFS_DSLOTS_PER_BLOCK (HFS_BLOCK_SIZE / HFS_DSLOT_SIZE)
#define HFS_DSLOT_NONE 0xffffffffu   /* "no slot" in protocol messages */
#define HFS_DSLOT_DAEMON 0xffffffffu /* ds_lock value of the daemon */
/* ds_lock value of the daemon between the pieces of one O_APPEND write
 * the kernel sent as several WRITEs (docs/data-path.md, "Appends through
 * the kernel"): a client may take it over (CAS) once ds_hold passed. */
#define HFS_DSLOT_HOLD 0xfffffffeu

struct hfs_dslot {
	/* the daemon's line */
	uint64_t ds_ino;     /*   0 inode number, 0: free */
	uint64_t ds_gen;     /*   8 its i_generation */
	uint64_t ds_epoch;   /*  16 valid while equal to the inode's i_dp_epoch */
	uint64_t ds_base;    /*  24 i_size when armed (for fsck's report) */
	uint32_t ds_crc;     /*  32 crc32c of bytes [0, 32): fixed while armed */
	uint32_t ds_pad0;    /*  36 */
	uint64_t ds_limit;   /*  40 bytes: ds_size never goes beyond; raised
				    (one atomic store) only after the blocks
				    below it were allocated */
	uint64_t ds_resv;    /*  48 first byte a reservation past EOF
				    allocated (returned at disarm from the
				    end of file to ds_limit); ds_limit if
				    none */
	uint64_t ds_chg;     /*  56 the daemon's changes of the file's bytes
				    in place: odd while one is in progress
				    (a read served directly that saw it
				    change is done again); not persisted */
	/* the clients' line */
	uint64_t ds_size;    /*  64 published size, stored after the bytes
				    it covers are persistent */
	uint64_t ds_mtime;   /*  72 ns since the epoch of the last direct
				    write; 0: none since the last fold */
	uint64_t ds_dirty;   /*  80 unpublished writes past ds_size may have
				    reached this offset */
	uint32_t ds_lock;    /*  88 client id of the holder, 0: free (reset
				    at mount) */
	uint32_t ds_pad2;    /*  92 */
	uint64_t ds_hold;    /*  96 with ds_lock HFS_DSLOT_HOLD: CLOCK_MONOTONIC
				    ns after which a client may take the lock */
	uint64_t ds_pad3[3]; /* 104 */
};                           /* 128 */
static_assert(sizeof(struct hfs_dslot) == HFS_DSLOT_SIZE, "dslot");

/* ------------------------------------------------------------------ */
/* Directory block: a 4 KiB block of a directory's extent map holding
 * HFS_DENTRIES_PER_BLOCK fixed slots.  A free slot has d_ino == 0.
 * Entries never move, so a slot index is a stable readdir cookie. */
struct hfs_dentry_disk {
	uint64_t d_ino;       /*   0 */
	uint32_t d_crc;       /*   8 crc32c of the slot with d_crc zeroed */
	uint16_t d_name_len;  /*  12 */
	uint8_t d_type;       /*  14 DT_* of the target */
	uint8_t d_pad;        /*  15 */
	char d_name[HFS_NAME_MAX + 1]; /* 16 not NUL-terminated at 255 */
};                            /* 272 */
static_assert(sizeof(struct hfs_dentry_disk) == 272, "dentry slot");
#define HFS_DENTRIES_PER_BLOCK (HFS_BLOCK_SIZE / sizeof(struct hfs_dentry_disk))

/* ------------------------------------------------------------------ */
/* Chained metadata block header (extent overflow, xattr). crc covers the
 * whole 4 KiB block with b_crc zeroed. */
struct hfs_blkhdr {
	uint32_t b_magic; /*  0 HFS_*_MAGIC */
	uint32_t b_crc;   /*  4 */
	uint64_t b_owner; /*  8 owning inode */
	uint64_t b_next;  /* 16 next block in chain, 0 = end */
	uint32_t b_count; /* 24 entries (extents) or bytes used (xattrs) */
	uint32_t b_pad;   /* 28 */
};                        /* 32 */
static_assert(sizeof(struct hfs_blkhdr) == 32, "block header");

#define HFS_EXTBLK_MAGIC 0x4b425845u   /* "EXBK" */
#define HFS_XATTRBLK_MAGIC 0x4b425858u /* "XXBK" */
#define HFS_XATTRVAL_MAGIC 0x4b425658u /* "XVBK" */
#define HFS_EXTENTS_PER_BLOCK \
	((HFS_BLOCK_SIZE - sizeof(struct hfs_blkhdr)) / sizeof(struct hfs_extent))

/* An xattr block holds packed entries after the header:
 *   u8 name_len, u8 flags, le16 value_len, name bytes, value bytes,
 *   padded to 4 bytes.  b_count is the number of payload bytes used.
 * With HFS_XATTR_F_VALBLK the value bytes are a struct hfs_xattr_vref
 * naming the value blocks (XATTR_CHAIN filesystems only). */
struct hfs_xattr_entry {
	uint8_t x_name_len;
	uint8_t x_flags;
	uint16_t x_value_len;
};
static_assert(sizeof(struct hfs_xattr_entry) == 4, "xattr entry header");
#define HFS_XATTR_SPACE (HFS_BLOCK_SIZE - sizeof(struct hfs_blkhdr))
#define HFS_XATTR_F_VALBLK 0x1u /* value out of line, in value blocks */
/* Out-of-line value: v_len bytes in v_nblk = ceil(v_len / HFS_XATTR_SPACE)
 * value blocks (header magic XVBK, b_owner the inode, b_next 0, b_count
 * the value bytes in that block), v_blk[i] holding bytes
 * [i * HFS_XATTR_SPACE, ...). */
struct hfs_xattr_vref {
	uint32_t v_len;
	uint32_t v_nblk;
	uint64_t v_blk[];
};
static_assert(sizeof(struct hfs_xattr_vref) == 8, "xattr value reference");
#define HFS_XATTR_VALUE_MAX 65536u   /* XATTR_SIZE_MAX of the VFS */
#define HFS_XATTR_LIST_MAX 65536u    /* XATTR_LIST_MAX: all names + NULs */
#define HFS_XATTR_MAX_BLOCKS 1024u   /* xattr (index) blocks per inode */
/* The placement choice of a directory or regular file (docs/format.md
 * "Placement"): an xattr whose value is a device index in decimal ASCII
 * (lib/include/media.h, hfs_place_choice_check). */
#define HFS_PLACE_XATTR "trusted.holdfs.device"
#define HFS_PLACE_VALUE_MAX 36 /* what setxattr takes: a device UUID */

/* ------------------------------------------------------------------ */
/* Bad-extent list: header then entries, one crc over header + entries. */
struct hfs_badlist_hdr {
	uint32_t bl_magic; /*  0 HFS_BADLIST_MAGIC */
	uint32_t bl_crc;   /*  4 crc32c of header (crc zeroed) + entries */
	uint32_t bl_count; /*  8 */
	uint32_t bl_pad;   /* 12 */
};                         /* 16 */
struct hfs_bad_extent {
	uint64_t bx_off; /* 0 byte offset in the region (4 KiB aligned) */
	uint64_t bx_len; /* 8 bytes */
};
static_assert(sizeof(struct hfs_badlist_hdr) == 16, "badlist header");
static_assert(sizeof(struct hfs_bad_extent) == 16, "bad extent");
#define HFS_BADLIST_MAGIC 0x4c444142u /* "BADL" */

/* ------------------------------------------------------------------ */
/* Health log: a ring of self-validating records, newest = highest seq.
 * Written directly (not journaled): a torn record fails its crc and is
 * ignored, older records stay intact. */
struct hfs_health_rec {
	uint32_t h_crc;     /*   0 crc32c of the record with h_crc zeroed */
	uint32_t h_type;    /*   4 HFS_HEALTH_* */
	uint64_t h_seq;     /*   8 0 = empty slot */
	uint64_t h_time;    /*  16 ns since epoch */
	uint64_t h_off;     /*  24 region offset affected */
	uint64_t h_len;     /*  32 bytes affected */
	uint64_t h_ino;     /*  40 inode that lost data, 0 if none/many */
	uint32_t h_flags;   /*  48 */
	uint32_t h_pad;     /*  52 */
	char h_msg[72];     /*  56 NUL-padded text */
};                          /* 128 */
static_assert(sizeof(struct hfs_health_rec) == 128, "health record");

enum hfs_health_type {
	HFS_HEALTH_MOUNT = 1,
	HFS_HEALTH_UNMOUNT = 2,
	HFS_HEALTH_REPLAY = 3,      /* journal replayed at mount */
	HFS_HEALTH_MEDIA_ERROR = 4, /* range failure */
	HFS_HEALTH_DEVICE_LOSS = 5, /* whole device */
	HFS_HEALTH_LOST_DATA = 6,   /* a file lost data (h_ino) */
	HFS_HEALTH_FSCK = 7,
	HFS_HEALTH_BACKUP_SB = 8,   /* mounted from the backup superblock */
	HFS_HEALTH_CORRUPTION = 9,
	HFS_HEALTH_OFFLINE = 10,    /* planned removal (holdfsctl offline) */
};

/* ------------------------------------------------------------------ */
/* Journal.  One transaction at a time lives at journal_off: a header
 * followed by redo records.  The transaction is committed when the
 * whole of it (header included) is durable; the crc over header and
 * records tells a committed transaction from a torn one.  Records hold
 * absolute bytes, so replaying an already-applied transaction is a
 * no-op, and mount simply replays whatever committed transaction it
 * finds (see lib/journal.c). */
struct hfs_jheader {
	uint64_t j_magic; /*  0 HFS_JOURNAL_MAGIC */
	uint64_t j_seq;   /*  8 */
	uint32_t j_nrec;  /* 16 */
	uint32_t j_crc;   /* 20 crc32c of header (crc zeroed) + record bytes */
	uint64_t j_bytes; /* 24 bytes of records following the header */
};                        /* 32 */
struct hfs_jrecord {
	uint64_t r_off;   /* 0 region byte offset to write */
	uint32_t r_len;   /* 8 bytes of data following, padded to 8 */
	uint32_t r_pad;   /* 12 */
};                        /* 16 */
static_assert(sizeof(struct hfs_jheader) == 32, "journal header");
static_assert(sizeof(struct hfs_jrecord) == 16, "journal record");
#define HFS_JOURNAL_MAGIC 0x4c4e524a53464448ull /* "HDFSJRNL" */

/* Defaults and limits chosen by mkfs */
#define HFS_HEALTH_BLOCKS 16u      /* 512 records */
#define HFS_BADLIST_BLOCKS 4u      /* 1023 bad extents */
#define HFS_JOURNAL_BLOCKS 1024u   /* 4 MiB */
#define HFS_MIN_REGION (16u << 20) /* 16 MiB */
#define HFS_ROOT_RESERVE_PCT 5u     /* mkfs -m default, as ext4's */
#define HFS_ROOT_RESERVE_MAX_PCT 50u

#endif /* HOLDFS_FORMAT_H */
