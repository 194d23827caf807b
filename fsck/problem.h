/* SPDX-License-Identifier: MIT */
/*
 * fsck.holdfs problem codes: one stable number and one row in the table of
 * fsck/problem.c per kind of inconsistency fsck can find.
 *
 * The number is pass << 8 | n (pass 1b is 0x18).  Numbers and names are
 * stable: tests, the JSON report and scripts key on them, so a code is
 * never renumbered or reused; new codes are appended to their pass.  The
 * name ("P1_INODE_CRC") is the code without the HFS_ prefix.
 */
#ifndef HOLDFS_FSCK_PROBLEM_H
#define HOLDFS_FSCK_PROBLEM_H

enum hfs_fsck_code {
	/* pass 0: superblocks and journal */
	HFS_P0_NOT_HOLDFS = 0x0001,      /* neither copy has the magic */
	HFS_P0_UNSUPPORTED = 0x0002,     /* other major version, incompat bits */
	HFS_P0_TRUNCATED = 0x0003,       /* region smaller than the fs */
	HFS_P0_NO_SUPER = 0x0004,        /* both copies damaged */
	HFS_P0_PRIMARY_BAD = 0x0005,     /* restore from the backup */
	HFS_P0_JOURNAL_REPLAY = 0x0006,  /* committed transaction pending */
	HFS_P0_JOURNAL_TORN = 0x0007,    /* torn (uncommitted) transaction */
	HFS_P0_JOURNAL_INVALID = 0x0008, /* crc ok, records out of bounds */
	HFS_P0_JOURNAL_IO = 0x0009,      /* journal header unreadable */
	HFS_P0_RO_FEATURES = 0x000a,     /* unknown ro_compat: no repairs */
	HFS_P0_REPLAY_FAILED = 0x000b,   /* media error replaying */
	HFS_P0_DEVTAB_PRIMARY = 0x000c,  /* device table: restore from backup */
	HFS_P0_DEVTAB_BACKUP = 0x000d,   /* backup device table: rewrite it */
	HFS_P0_DEVTAB_BAD = 0x000e,      /* both device tables damaged */
	HFS_P0_MEMBERS_MISSING = 0x000f, /* devices of the volume not given */
	HFS_P0_MIRROR_REPAIR = 0x0010,   /* device 0's copy bad, the mirror's
					  * good: rewrite device 0's */
	HFS_P0_MIRROR_BOTH_BAD = 0x0011, /* both copies bad: nothing to
					  * repair from */

	/* pass 1: inode table, extent maps, chains, xattr blocks */
	HFS_P1_ITABLE_IO = 0x0101,       /* inode slots unreadable */
	HFS_P1_FREE_DIRTY = 0x0102,      /* free slot with stray bytes */
	HFS_P1_INODE_CRC = 0x0103,       /* bad crc, fields sane */
	HFS_P1_INODE_CLEAR = 0x0104,     /* bad crc and insane: cleared */
	HFS_P1_INODE_MODE = 0x0105,      /* invalid file type */
	HFS_P1_ROOT_BAD = 0x0106,        /* root missing or not a dir */
	HFS_P1_INODE_FLAGS = 0x0107,     /* unknown or misplaced flags */
	HFS_P1_INODE_SIZE = 0x0108,
	HFS_P1_INODE_NEXTENTS = 0x0109,
	HFS_P1_INODE_EXTBLK = 0x010a,    /* stale overflow pointer */
	HFS_P1_EXTBLK_BAD = 0x010b,      /* overflow chain block damaged */
	HFS_P1_EXTENT_BAD = 0x010c,      /* extent invalid: dropped */
	HFS_P1_EXTENT_FLAGS = 0x010d,
	HFS_P1_LOSTDATA_FLAG = 0x010e,   /* lost extents, flag missing */
	HFS_P1_DIR_HOLE = 0x010f,        /* directory map not contiguous */
	HFS_P1_SYMLINK_BAD = 0x0110,
	HFS_P1_SPECIAL_DATA = 0x0111,    /* device/fifo/socket with data */
	HFS_P1_XATTR_BAD = 0x0112,
	HFS_P1_BADLIST_BAD = 0x0113,
	HFS_P1_DSLOT_PENDING = 0x0114,   /* valid data-path slot: fold it */
	HFS_P1_DSLOT_STALE = 0x0115,     /* stale or damaged slot: clear it */
	HFS_P1_DSLOT_IO = 0x0116,        /* slot area block unreadable */
	HFS_P1_XATTR_FEATURE = 0x0117,   /* xattr chain, XATTR_CHAIN unset */
	HFS_P1_IFLAGS_FEATURE = 0x0118,  /* chattr flags, IFLAGS unset */
	HFS_P1_ACL_BAD = 0x0119,         /* a malformed stored POSIX ACL */
	HFS_P1_META_PLACEMENT = 0x011a,  /* metadata on a data-only device */
	HFS_P1_PLACE_BAD = 0x011b,       /* a placement choice naming no device */

	/* pass 1b: block ownership */
	HFS_P1B_DUP_BLOCKS = 0x1801,     /* blocks claimed twice */
	HFS_P1B_ON_BAD = 0x1802,         /* file data on bad media */
	HFS_P1B_META_ON_BAD = 0x1803,    /* metadata block on bad media */
	HFS_P1B_DATA_LOST = 0x1804,      /* could not clone: range cut */

	/* pass 2: directory entries */
	HFS_P2_DIRBLOCK_IO = 0x0201,
	HFS_P2_DENTRY_CRC = 0x0202,
	HFS_P2_DENTRY_NAME = 0x0203,
	HFS_P2_DENTRY_DANGLING = 0x0204,
	HFS_P2_DENTRY_DUP = 0x0205,
	HFS_P2_DENTRY_TYPE = 0x0206,
	HFS_P2_DENTRY_ROOT = 0x0207,
	HFS_P2_DIR_LINKED_TWICE = 0x0208,

	/* pass 3: connectivity */
	HFS_P3_DIR_UNCONNECTED = 0x0301,
	HFS_P3_UNATTACHED = 0x0302,
	HFS_P3_NO_LPF = 0x0303,
	HFS_P3_LPF_FAILED = 0x0304,
	HFS_P3_DIR_PARENT = 0x0305,

	/* pass 4: link counts */
	HFS_P4_NLINK = 0x0401,
	HFS_P4_ORPHAN = 0x0402,
	HFS_P4_ORPHAN_FLAG = 0x0403,

	/* pass 5: summary, backup superblock, health log */
	HFS_P5_COUNTERS = 0x0501,
	HFS_P5_HWM = 0x0502,
	HFS_P5_BACKUP_BAD = 0x0503,
	HFS_P5_BACKUP_GEOMETRY = 0x0504,
	HFS_P5_HEALTH_TORN = 0x0505,
	HFS_P5_HEALTH_IO = 0x0506,
	HFS_P5_MIRROR_STALE = 0x0507,    /* mirror of device 0's metadata
					    differs: rewrite it */
};

/* Table row flags */
#define HFS_PR_PREEN_OK 0x1u /* safe to fix without asking (-p) */
#define HFS_PR_FATAL 0x2u    /* cannot go on: operational error (exit 8) */
#define HFS_PR_NO_FIX 0x4u   /* reported; nothing fsck can do about it */

struct hfs_fsck_problem_desc {
	enum hfs_fsck_code code;
	const char *name;   /* "P1_INODE_CRC" */
	unsigned pass;      /* 0..5; 1b is reported as 1 */
	unsigned flags;     /* HFS_PR_* */
	const char *fix;    /* the repair, as a prompt: "rewrite the checksum" */
};

/* The table row of code (never NULL: unknown codes get a generic row). */
const struct hfs_fsck_problem_desc *hfs_fsck_problem_desc(
	enum hfs_fsck_code code);
/* Every row, for documentation and tests; *n gets the count. */
const struct hfs_fsck_problem_desc *hfs_fsck_problem_table(unsigned *n);

#endif
