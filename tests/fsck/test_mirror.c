/* SPDX-License-Identifier: MIT */
/*
 * The mirror-divergence rows of the fsck corruption corpus, and mount's
 * choice of the good copy (lib/mirror_heal.c, docs/format.md "Which copy
 * wins").
 *
 * A volume of two devices (region files in a temporary directory) with
 * the mirror of device 0's metadata on device 1 is made once and
 * populated: /a (a file), /d (a directory of 20 small files, with a
 * placement choice naming device 1), /x (a file with an xattr in value
 * blocks) and, written by a child process that
 * then dies without unmounting, /j: the journal still holds the
 * transaction that made it.  Each row damages device 0's copy of one
 * structure, the mirror's, or both, then twice from that image:
 *   mount: hfs_vol_open must take the mirror's copy of what device 0 has
 *     bad (info.mirror_repaired; a value block is read, and checked,
 *     only by the getxattr of the check after the mount), leave what
 *     both have bad
 *     (info.mirror_both_bad) and every object the damage did not touch
 *     reads back byte for byte; unmount; fsck -n: clean (rows where
 *     mount repaired everything);
 *   fsck: -n reports the row's code and changes not one byte of either
 *     device; -y exits as the row says; -n again: exit 0; a mount reads
 *     every object back; fsck -n once more: exit 0.
 *
 *   test_mirror             every row
 *   test_mirror NAME...     the named rows
 * TEST_FSCK_VERBOSE=1 prints every fsck report.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsck.h"
#include "inode_i.h"
#include "media.h"
#include "members.h"
#include "mirror_heal.h"
#include "mkfs.h"
#include "vol_i.h"
#include "fail.h"

static int failures; /* FAIL (fail.h) counts here */

#define DEV_SIZE (32ull << 20)
#define NDENT 20
#define XVAL_LEN 9000

static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };

static char dir[64], p0[96], p1[96];
static uint8_t *clean_img[2]; /* both files after a clean unmount */
static uint8_t *crash_img[2]; /* ... as the process making /j left them */
static uint8_t mirror_bad[HFS_INODE_SIZE]; /* see no_garbage */
static struct hfs_super sb;  /* device 0's, after the build */
static struct hfs_devtab dt;
static uint64_t mrel;        /* the mirror's offset in device 1's file */
static uint64_t ino_a, ino_d, ino_x, ino_j, ino_gone;
static uint8_t gone_live[HFS_INODE_SIZE]; /* /gone's slot before unlink */
static uint64_t dblk_d;      /* /d's first directory block */

static uint8_t pat(uint64_t ino_salt, uint64_t i)
{
	return (uint8_t)(i * 131 + ino_salt * 7 + (i >> 9));
}

/* ------------------------------------------------------ files */

static void file_io(int dev, uint64_t off, void *buf, size_t len, bool wr)
{
	int fd = open(dev ? p1 : p0, O_RDWR);
	ssize_t n;

	if (fd < 0)
		abort();
	n = wr ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		abort();
	close(fd);
}

static void save(uint8_t *img[2])
{
	for (int d = 0; d < 2; d++)
		file_io(d, 0, img[d], DEV_SIZE, false);
}

static void save_one0(uint8_t *img)
{
	file_io(0, 0, img, DEV_SIZE, false);
}

static void restore(uint8_t *img[2])
{
	for (int d = 0; d < 2; d++)
		file_io(d, 0, img[d], DEV_SIZE, true);
}

/* Device 0's byte off, in device 0 or in the mirror. */
static void flip(int mirror, uint64_t off, uint8_t x)
{
	uint8_t b;

	file_io(mirror, mirror ? mrel + off : off, &b, 1, false);
	b ^= x;
	file_io(mirror, mirror ? mrel + off : off, &b, 1, true);
}

static bool same_bytes(int mirror, uint64_t off, const void *want, size_t len)
{
	uint8_t buf[4096];

	file_io(mirror, mirror ? mrel + off : off, buf, len, false);
	return memcmp(buf, want, len) == 0;
}

/* ------------------------------------------------------ volume */

static struct hfs_vol *mount_vol(struct hfs_vol_info *info, struct hfs_err *err)
{
	const char *devs[1] = { p1 };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = 1 };
	struct hfs_region *rg = NULL;
	struct hfs_vol *vol = NULL;

	if (hfs_region_open(p0, NULL, &rg, err))
		return NULL;
	if (hfs_vol_open(rg, &o, &vol, info, err)) {
		hfs_region_close(rg);
		return NULL;
	}
	return vol;
}

static void umount_vol(struct hfs_vol *vol)
{
	struct hfs_region *rg = vol->rg;

	if (hfs_vol_close(vol))
		FAIL("unmount failed");
	hfs_region_close(rg);
}

static uint64_t mk(struct hfs_vol *vol, uint64_t parent, const char *name,
		   size_t len, uint64_t salt)
{
	struct hfs_attr a;
	uint8_t buf[12000];

	if (hfs_mknod(vol, parent, name, S_IFREG | 0644, 0, &cred, &a))
		abort();
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(salt, i);
	if (len && hfs_write(vol, a.ino, buf, len, 0) != (ssize_t)len)
		abort();
	return a.ino;
}

static int check_file(struct hfs_vol *vol, uint64_t parent, const char *name,
		      size_t len, uint64_t salt, char *why, size_t wl)
{
	struct hfs_attr a;
	uint8_t buf[12000];

	if (hfs_lookup(vol, parent, name, &a)) {
		snprintf(why, wl, "%s: missing", name);
		return -1;
	}
	if (a.size != len || hfs_read(vol, a.ino, buf, len, 0) != (ssize_t)len) {
		snprintf(why, wl, "%s: size %llu", name,
			 (unsigned long long)a.size);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pat(salt, i)) {
			snprintf(why, wl, "%s: byte %zu differs", name, i);
			return -1;
		}
	return 0;
}

static char xval(size_t i)
{
	return (char)('a' + i % 23);
}

/* Every object but the ones a row says it destroyed (skip: "a", "x";
 * "p": /d's placement choice). */
static int verify(struct hfs_vol *vol, const char *skip, char *why, size_t wl)
{
	struct hfs_attr d;
	char name[16], v[XVAL_LEN];

	if (!strchr(skip, 'a') &&
	    check_file(vol, HFS_ROOT_INO, "a", 10000, 1, why, wl))
		return -1;
	if (check_file(vol, HFS_ROOT_INO, "j", 0, 0, why, wl))
		return -1;
	if (hfs_lookup(vol, HFS_ROOT_INO, "d", &d)) {
		snprintf(why, wl, "d: missing");
		return -1;
	}
	for (int i = 0; i < NDENT; i++) {
		snprintf(name, sizeof(name), "e%02d", i);
		if (check_file(vol, d.ino, name, 100 + (size_t)i, 10 + (uint64_t)i,
			       why, wl))
			return -1;
	}
	if (!strchr(skip, 'p') && hfs_vol_place_choice(vol, ino_d) != 1) {
		snprintf(why, wl, "d: placement choice %d, expected 1",
			 hfs_vol_place_choice(vol, ino_d));
		return -1;
	}
	if (!strchr(skip, 'x')) {
		if (hfs_getxattr(vol, ino_x, "user.v", v, sizeof(v)) != XVAL_LEN) {
			snprintf(why, wl, "x: xattr missing");
			return -1;
		}
		for (size_t i = 0; i < XVAL_LEN; i++)
			if (v[i] != xval(i)) {
				snprintf(why, wl, "x: xattr byte %zu", i);
				return -1;
			}
	}
	return 0;
}

static uint64_t sb_itable_off(void)
{
	struct hfs_super s;

	file_io(0, 0, &s, sizeof(s), false);
	return s.s_itable_off;
}

static void build(void)
{
	struct hfs_mkfs_opts mo = { .label = "mirror" };
	struct hfs_region *r0 = NULL, *r1 = NULL;
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct hfs_vol_info info;
	struct hfs_vol *vol;
	struct hfs_attr a;
	char v[XVAL_LEN];
	int st;
	pid_t pid;

	if (hfs_region_create_file(p0, DEV_SIZE, &err) ||
	    hfs_region_create_file(p1, DEV_SIZE, &err) ||
	    hfs_region_open(p0, NULL, &r0, &err) ||
	    hfs_region_open(p1, NULL, &r1, &err) ||
	    hfs_mkfs(r0, &mo, &res, &err) ||
	    hfs_mkfs_members(r0, &r1, 2, true, 0, &res, &err)) {
		fprintf(stderr, "build: %s\n", err.msg);
		exit(1);
	}
	hfs_region_close(r1);
	hfs_region_close(r0);
	vol = mount_vol(&info, &err);
	if (!vol) {
		fprintf(stderr, "build: mount: %s\n", err.msg);
		exit(1);
	}
	ino_a = mk(vol, HFS_ROOT_INO, "a", 10000, 1);
	if (hfs_mkdir(vol, HFS_ROOT_INO, "d", 0755, &cred, &a))
		abort();
	ino_d = a.ino;
	for (int i = 0; i < NDENT; i++) {
		char name[16];

		snprintf(name, sizeof(name), "e%02d", i);
		mk(vol, ino_d, name, 100 + (size_t)i, 10 + (uint64_t)i);
	}
	if (hfs_setxattr(vol, ino_d, HFS_PLACE_XATTR, "1", 1, 0))
		abort();
	ino_x = mk(vol, HFS_ROOT_INO, "x", 0, 0);
	for (size_t i = 0; i < XVAL_LEN; i++)
		v[i] = xval(i);
	if (hfs_setxattr(vol, ino_x, "user.v", v, sizeof(v), 0))
		abort();
	dblk_d = vol->itab[ino_d]->em.v[0].e_pblk;
	umount_vol(vol);

	/* /j, made by a process that dies without unmounting: the journal
	 * keeps the transaction that made it */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		vol = mount_vol(&info, &err);
		if (!vol)
			_exit(200);
		_exit((int)mk(vol, HFS_ROOT_INO, "j", 0, 0));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) == 200) {
		fprintf(stderr, "build: the child making /j failed\n");
		exit(1);
	}
	ino_j = (uint64_t)WEXITSTATUS(st);
	for (int d = 0; d < 2; d++)
		if (!(crash_img[d] = malloc(DEV_SIZE)) ||
		    !(clean_img[d] = malloc(DEV_SIZE)))
			abort();
	save(crash_img);
	vol = mount_vol(&info, &err);
	if (!vol || !info.replayed) {
		fprintf(stderr, "build: remount: %s\n", vol ? "no replay"
							    : err.msg);
		exit(1);
	}
	/* /gone: made and unlinked; its slot stays free (zero but for the
	 * generation, no checksum) */
	ino_gone = mk(vol, HFS_ROOT_INO, "gone", 500, 3);
	file_io(0, sb_itable_off() + ino_gone * HFS_INODE_SIZE, gone_live,
		sizeof(gone_live), false);
	if (hfs_unlink(vol, HFS_ROOT_INO, "gone"))
		abort();
	umount_vol(vol);
	save(clean_img);
	file_io(0, 0, &sb, sizeof(sb), false);
	file_io(0, HFS_DEVTAB_OFF, &dt, sizeof(dt), false);
	mrel = dt.t_mirror_off - dt.t_dev[1].d_base;
}

/* ------------------------------------------------------ fsck */

static char fsck_label[80];  /* the superblock the last fsck worked from */
static char fsck_y_label[80]; /* ... fsck_poisoned's -y */

/* fsck with device 0's [poff, poff + plen) unreadable (plen 0: none) */
static int run_fsck_p(enum hfs_fsck_mode mode, uint64_t poff, uint64_t plen,
		      enum hfs_fsck_code want, bool *found_want,
		      bool *want_fixed);

static int run_fsck(enum hfs_fsck_mode mode, enum hfs_fsck_code want,
		    bool *found_want, bool *want_fixed)
{
	return run_fsck_p(mode, 0, 0, want, found_want, want_fixed);
}

static int run_fsck_p(enum hfs_fsck_mode mode, uint64_t poff, uint64_t plen,
		      enum hfs_fsck_code want, bool *found_want,
		      bool *want_fixed)
{
	const char *devs[1] = { p1 };
	struct hfs_region_opts ro = { .readonly = mode == HFS_FSCK_NO,
				      .no_lock = mode == HFS_FSCK_NO };
	struct hfs_fsck_opts o = { .mode = mode, .force = true };
	struct hfs_fsck_report rep;
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_devtab t;
	struct hfs_super s;
	uint32_t missing;
	int code;

	/* as fsck.holdfs assembles (fsck/main.c) */
	if (hfs_region_open(p0, &ro, &rg, &err) ||
	    (plen && hfs_region_simulate_poison(rg, poff, plen)) ||
	    (hfs_super_probe(rg, &s) != 1 &&
	     hfs_mirror_find_super(rg, devs, 1, &s)) ||
	    hfs_members_assemble(rg, &s, devs, 1, &ro, false, &t, &missing,
				 &err)) {
		FAIL("fsck: cannot open the volume: %s", err.msg);
		hfs_region_close(rg);
		return -1;
	}
	code = hfs_fsck(rg, &o, &rep);
	hfs_region_close(rg);
	snprintf(fsck_label, sizeof(fsck_label), "%s", rep.label);
	if (getenv("TEST_FSCK_VERBOSE"))
		hfs_fsck_report_print(&rep, stderr, true);
	if (found_want) {
		*found_want = false;
		for (size_t i = 0; i < rep.nproblems; i++)
			if (rep.problems[i].code == want) {
				*found_want = true;
				if (want_fixed)
					*want_fixed = rep.problems[i].fixed;
			}
	}
	hfs_fsck_report_free(&rep);
	return code;
}

/* ------------------------------------------------------ rows */

static uint64_t slot_off(uint64_t ino)
{
	return sb.s_itable_off + ino * HFS_INODE_SIZE;
}

/* The first zone block holding a chained block of this magic and owner. */
static uint64_t find_chain(uint32_t magic, uint64_t owner)
{
	struct hfs_blkhdr h;

	for (uint64_t off = sb.s_pool_off; off < sb.s_meta_end;
	     off += HFS_BLOCK_SIZE) {
		file_io(0, off, &h, sizeof(h), false);
		if (h.b_magic == magic && h.b_owner == owner)
			return off;
	}
	abort();
}

static void c_none(void) {}
static void c_sb_d0(void) { flip(0, offsetof(struct hfs_super, s_label), 0x5a); }
static void c_sb_d0_magic(void) { flip(0, 0, 0xff); }
/* both of device 0's copies: only the mirror's is left */
static void c_sb_d0_both(void)
{
	flip(0, 0, 0xff);
	flip(0, sb.s_backup_off, 0xff);
}
static void c_devtab_d0(void) { flip(0, HFS_DEVTAB_OFF + 40, 0x33); }
static void c_devtab_backup(void)
{
	flip(0, sb.s_backup_off + HFS_DEVTAB_OFF + 40, 0x33);
}
static void c_devtab_both(void)
{
	flip(0, HFS_DEVTAB_OFF + 40, 0x33);
	flip(1, HFS_DEVTAB_OFF + 48, 0x11);
}
/* the record bytes of the transaction that made /j */
static void c_journal_d0(void) { flip(0, sb.s_journal_off + 64, 0x40); }
/* ... whose home copy is then gone on both devices: only a replay of
 * the mirror's journal brings /j back */
static void c_journal_d0_needed(void)
{
	uint8_t zero[HFS_INODE_SIZE] = { 0 };

	file_io(0, slot_off(ino_j), zero, sizeof(zero), true);
	file_io(1, mrel + slot_off(ino_j), zero, sizeof(zero), true);
	flip(0, sb.s_journal_off + 64, 0x40);
}
static void c_inode_d0(void) { flip(0, slot_off(ino_a) + 24, 0x10); }
static void c_inode_both(void)
{
	flip(0, slot_off(ino_a) + 24, 0x10);
	flip(1, slot_off(ino_a) + 40, 0x22);
}
static void c_mirror_stale(void) { flip(1, slot_off(ino_a) + 24, 0x10); }
/* the mirror left behind with /gone still live: device 0's free slot
 * (no checksum) must win, never the mirror's valid old inode */
static void c_mirror_stale_freed(void)
{
	file_io(1, mrel + slot_off(ino_gone), gone_live, sizeof(gone_live),
		true);
}
static void c_dentry_d0(void)
{
	flip(0, dblk_d * HFS_BLOCK_SIZE + 3 * sizeof(struct hfs_dentry_disk) + 20,
	     0x01);
}
/* /x's xattr block (loaded at mount) */
static void c_chain_d0(void)
{
	flip(0, find_chain(HFS_XATTRBLK_MAGIC, ino_x) + 40, 0x80);
}
static void c_chain_both(void)
{
	uint64_t off = find_chain(HFS_XATTRBLK_MAGIC, ino_x);

	flip(0, off + 40, 0x80);
	flip(1, off + 44, 0x80);
}
/* a value block of /x: read only by getxattr, after the mount */
static void c_xvalue_d0(void)
{
	flip(0, find_chain(HFS_XATTRVAL_MAGIC, ino_x) + 1000, 0x80);
}
/* /d's placement choice made to name device 7 of two, on both copies
 * (checksums right): what a tool writing past the checks would leave */
static void c_place_bad(void)
{
	uint8_t b[HFS_BLOCK_SIZE];
	struct hfs_blkhdr *h = (void *)b;
	uint64_t off = find_chain(HFS_XATTRBLK_MAGIC, ino_d);
	size_t nlen = strlen(HFS_PLACE_XATTR);
	uint32_t pos = 0;

	file_io(0, off, b, sizeof(b), false);
	while (pos < h->b_count) {
		struct hfs_xattr_entry *e = (void *)(b + sizeof(*h) + pos);

		if (e->x_name_len == nlen &&
		    !memcmp(e + 1, HFS_PLACE_XATTR, nlen)) {
			((uint8_t *)(e + 1))[nlen] = '7';
			break;
		}
		pos += (uint32_t)(sizeof(*e) + e->x_name_len +
				  e->x_value_len + 3) & ~3u;
	}
	if (pos >= h->b_count)
		abort();
	h->b_crc = hfs_crc_struct(b, HFS_BLOCK_SIZE,
				  offsetof(struct hfs_blkhdr, b_crc));
	file_io(0, off, b, sizeof(b), true);
	file_io(1, mrel + off, b, sizeof(b), true);
}

/* Before the repair the mount reports the value as one fsck drops (and
 * places nothing by it); after, there is none. */
static int place_check(struct hfs_vol *vol, bool repaired, char *why,
		       size_t wl)
{
	int r = hfs_vol_place_choice(vol, ino_d), want = repaired ? -ENODATA
								  : -EUCLEAN;

	if (r != want) {
		snprintf(why, wl, "d: placement choice %d, expected %d", r,
			 want);
		return -1;
	}
	return 0;
}

static void c_badlist_d0(void) { flip(0, sb.s_badlist_off + 4, 0x01); }
static void c_health_d0(void) { flip(0, sb.s_health_off + 60, 0x01); }

struct mrow {
	const char *name;
	void (*corrupt)(void);
	enum hfs_fsck_code code; /* 0: none */
	int n_exit, y_exit;      /* fsck -n, -y (forced) */
	int repaired, both_bad;  /* what mount finds (-1: at least one) */
	const char *lost;        /* objects the damage destroys ("a", "x") */
	bool crash;              /* on the image the process making /j left */
	bool mount_clean;        /* fsck -n after the mount: exit 0 */
	/* after either repair, device 0's copy at this offset (+1; 0: none)
	 * must not be the mirror's bad bytes */
	uint64_t (*no_garbage)(void);
	/* more to check after the mount (repaired false) or after fsck -y
	 * (true); may be NULL */
	int (*check)(struct hfs_vol *vol, bool repaired, char *why, size_t wl);
};

static uint64_t slot_a(void) { return slot_off(ino_a) + 1; }

static const struct mrow rows[] = {
	/* name, damage, code, -n, -y, mount: repaired, both bad, lost,
	 * crash image, fsck clean after the mount, no garbage at */
	{ "clean", c_none, 0, 0, 0, 0, 0, "", false, true, NULL },
	{ "clean_crash", c_none, HFS_P0_JOURNAL_REPLAY, 4, 1, 0, 0, "", true,
	  true, NULL },
	{ "mirror_sb_d0", c_sb_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0, "", false,
	  true, NULL },
	{ "mirror_sb_d0_magic", c_sb_d0_magic, HFS_P0_MIRROR_REPAIR, 4, 1, 1,
	  0, "", false, true, NULL },
	{ "mirror_sb_d0_both", c_sb_d0_both, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", false, true, NULL },
	{ "mirror_devtab_d0", c_devtab_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", false, true, NULL },
	{ "mirror_devtab_backup", c_devtab_backup, HFS_P0_DEVTAB_BACKUP, 4, 1,
	  0, 0, "", false, false, NULL },
	{ "mirror_devtab_both", c_devtab_both, HFS_P0_MIRROR_BOTH_BAD, 4, 5,
	  0, 1, "", false, false, NULL },
	{ "mirror_journal_d0", c_journal_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", true, true, NULL },
	{ "mirror_journal_d0_needed", c_journal_d0_needed,
	  HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0, "", true, true, NULL },
	{ "mirror_inode_d0", c_inode_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0, "",
	  false, true, NULL },
	{ "mirror_inode_both", c_inode_both, HFS_P0_MIRROR_BOTH_BAD, 4, 5, 0,
	  1, "a", false, false, slot_a },
	{ "mirror_stale", c_mirror_stale, HFS_P5_MIRROR_STALE, 4, 1, 0, 0, "",
	  false, false, NULL },
	{ "mirror_stale_freed", c_mirror_stale_freed, HFS_P5_MIRROR_STALE, 4,
	  1, 0, 0, "", false, false, NULL },
	{ "mirror_dentry_d0", c_dentry_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", false, true, NULL },
	{ "mirror_chain_d0", c_chain_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0, "",
	  false, true, NULL },
	{ "mirror_xvalue_d0", c_xvalue_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 0, 0,
	  "", false, true, NULL },
	{ "mirror_chain_both", c_chain_both, HFS_P0_MIRROR_BOTH_BAD, 4, 5, 0,
	  1, "x", false, false, NULL },
	{ "mirror_badlist_d0", c_badlist_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", false, true, NULL },
	{ "mirror_health_d0", c_health_d0, HFS_P0_MIRROR_REPAIR, 4, 1, 1, 0,
	  "", false, true, NULL },
	/* not a divergence: both copies hold the bad value */
	{ "place_bad", c_place_bad, HFS_P1_PLACE_BAD, 4, 1, 0, 0, "p", false,
	  false, NULL, place_check },
};

static void check_no_garbage(const struct mrow *r)
{
	uint8_t m[HFS_INODE_SIZE];
	uint64_t off;

	if (!r->no_garbage)
		return;
	off = r->no_garbage() - 1;
	(void)m;
	/* the mirror's bad copy must not have been written to device 0 */
	if (same_bytes(0, off, mirror_bad, sizeof(mirror_bad)))
		FAIL("%s: device 0 at %#llx holds the mirror's bad copy",
		     r->name, (unsigned long long)off);
}

static void damage(const struct mrow *r)
{
	restore(r->crash ? crash_img : clean_img);
	r->corrupt();
	if (r->no_garbage)
		file_io(1, mrel + r->no_garbage() - 1, mirror_bad,
			sizeof(mirror_bad), false);
}

static void row_mount(const struct mrow *r)
{
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol;
	char why[200];
	int code;

	damage(r);
	vol = mount_vol(&info, &err);
	if (!vol) {
		FAIL("%s: mount refused: %s", r->name, err.msg);
		return;
	}
	if (r->repaired >= 0 ? info.mirror_repaired != (uint64_t)r->repaired
			     : info.mirror_repaired == 0)
		FAIL("%s: mount took %llu copies from the mirror, expected %d",
		     r->name, (unsigned long long)info.mirror_repaired,
		     r->repaired);
	if (info.mirror_both_bad != (uint64_t)r->both_bad)
		FAIL("%s: mount found %llu structures bad on both copies, "
		     "expected %d", r->name,
		     (unsigned long long)info.mirror_both_bad, r->both_bad);
	if (info.used_backup_sb)
		FAIL("%s: mounted from the backup superblock", r->name);
	if (verify(vol, r->lost, why, sizeof(why)))
		FAIL("%s: after mount: %s", r->name, why);
	if (r->check && r->check(vol, false, why, sizeof(why)))
		FAIL("%s: after mount: %s", r->name, why);
	if (vol->itab[ino_gone])
		FAIL("%s: the unlinked inode %llu is live again", r->name,
		     (unsigned long long)ino_gone);
	umount_vol(vol);
	check_no_garbage(r);
	if (r->mount_clean &&
	    (code = run_fsck(HFS_FSCK_NO, 0, NULL, NULL)) != 0)
		FAIL("%s: fsck -n after the mount exited %d", r->name, code);
}

static void row_fsck(const struct mrow *r)
{
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	uint8_t *before[2], *after[2];
	bool found = false, fixed = false;
	struct hfs_vol *vol;
	char why[200];
	int code;

	damage(r);
	for (int d = 0; d < 2; d++) {
		before[d] = malloc(DEV_SIZE);
		after[d] = malloc(DEV_SIZE);
		if (!before[d] || !after[d])
			abort();
	}
	save(before);
	code = run_fsck(HFS_FSCK_NO, r->code, &found, NULL);
	if (code != r->n_exit)
		FAIL("%s: fsck -n exited %d, expected %d", r->name, code,
		     r->n_exit);
	if (r->code && !found)
		FAIL("%s: fsck -n did not report %#x", r->name, r->code);
	save(after);
	if (memcmp(before[0], after[0], DEV_SIZE) ||
	    memcmp(before[1], after[1], DEV_SIZE))
		FAIL("%s: fsck -n changed the devices", r->name);
	for (int d = 0; d < 2; d++) {
		free(before[d]);
		free(after[d]);
	}
	code = run_fsck(HFS_FSCK_YES, r->code, &found, &fixed);
	if (code != r->y_exit)
		FAIL("%s: fsck -y exited %d, expected %d", r->name, code,
		     r->y_exit);
	if (r->code && (!found || fixed != (r->code != HFS_P0_MIRROR_BOTH_BAD)))
		FAIL("%s: fsck -y: %#x %s", r->name, r->code,
		     !found ? "not reported" : fixed ? "repaired from garbage"
						     : "not repaired");
	check_no_garbage(r);
	if ((code = run_fsck(HFS_FSCK_NO, 0, NULL, NULL)) != 0)
		FAIL("%s: fsck -n after -y exited %d", r->name, code);
	vol = mount_vol(&info, &err);
	if (!vol) {
		FAIL("%s: mount after fsck -y refused: %s", r->name, err.msg);
		return;
	}
	if (info.mirror_repaired || info.mirror_both_bad)
		FAIL("%s: copies still differ after fsck -y", r->name);
	if (verify(vol, r->lost, why, sizeof(why)))
		FAIL("%s: after fsck -y: %s", r->name, why);
	if (r->check && r->check(vol, true, why, sizeof(why)))
		FAIL("%s: after fsck -y: %s", r->name, why);
	umount_vol(vol);
	if ((code = run_fsck(HFS_FSCK_NO, 0, NULL, NULL)) != 0)
		FAIL("%s: fsck -n after the mount exited %d", r->name, code);
}

/* Device 0's copies unreadable (simulated poison, which a rewrite does
 * not clear): /a's inode slot and /d's directory block.  The mount must
 * still serve both from the mirror's copies, and say the rewrites
 * failed. */
static void poisoned(void)
{
	const char *devs[1] = { p1 };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = 1 };
	struct hfs_region *rg = NULL;
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol = NULL;
	char why[200];
	int before = failures;

	restore(clean_img);
	if (hfs_region_open(p0, NULL, &rg, &err) ||
	    hfs_region_simulate_poison(rg, slot_off(ino_a), HFS_INODE_SIZE) ||
	    hfs_region_simulate_poison(rg, dblk_d * HFS_BLOCK_SIZE,
				       HFS_BLOCK_SIZE)) {
		FAIL("poisoned: setup: %s", err.msg);
		hfs_region_close(rg);
		return;
	}
	if (hfs_vol_open(rg, &o, &vol, &info, &err)) {
		FAIL("poisoned: mount refused: %s", err.msg);
		hfs_region_close(rg);
		return;
	}
	if (info.mirror_failed != 2 || info.mirror_repaired != 0)
		FAIL("poisoned: %llu rewrites failed, %llu done; expected 2, 0",
		     (unsigned long long)info.mirror_failed,
		     (unsigned long long)info.mirror_repaired);
	if (verify(vol, "", why, sizeof(why)))
		FAIL("poisoned: %s", why);
	hfs_vol_close(vol);
	hfs_region_close(rg);
	printf("%s poisoned\n", failures == before ? "ok  " : "FAIL");
}

/* Device 0 opened with [off, off + len) unreadable (simulated poison,
 * which no write clears: the rewrite from the mirror always fails). */
static struct hfs_region *open_poisoned(uint64_t off, uint64_t len,
					struct hfs_err *err)
{
	struct hfs_region *rg = NULL;

	if (hfs_region_open(p0, NULL, &rg, err))
		return NULL;
	if (hfs_region_simulate_poison(rg, off, len)) {
		hfs_region_close(rg);
		return NULL;
	}
	return rg;
}

/* Poisoned device 0 mounted: must go on from the mirror's copies,
 * read-only (a write is refused), and read everything back. */
static struct hfs_vol *mount_poisoned(const char *name, struct hfs_region *rg,
				      struct hfs_vol_info *info)
{
	const char *devs[1] = { p1 };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = 1 };
	struct hfs_err err = { 0 };
	struct hfs_vol *vol = NULL;
	struct hfs_attr a;
	char why[200];
	int ret;

	if (hfs_vol_open(rg, &o, &vol, info, &err)) {
		FAIL("%s: mount refused: %s", name, err.msg);
		return NULL;
	}
	if (!info->ro_unwritable)
		FAIL("%s: not mounted read-only for the unwritable copy", name);
	if (info->mirror_failed < 1)
		FAIL("%s: no failed rewrite counted", name);
	if (verify(vol, "", why, sizeof(why)))
		FAIL("%s: %s", name, why);
	ret = hfs_mknod(vol, HFS_ROOT_INO, "new", S_IFREG | 0644, 0, &cred, &a);
	if (ret != -EROFS)
		FAIL("%s: a create returned %d, expected -EROFS", name, ret);
	return vol;
}

/* After the poison is gone (a fresh region: simulated poison was that
 * mapping's): a plain mount reads everything, fsck is clean after. */
static void after_poison(const char *name)
{
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol = mount_vol(&info, &err);
	char why[200];
	int code;

	if (!vol) {
		FAIL("%s: mount without the poison refused: %s", name, err.msg);
		return;
	}
	if (verify(vol, "", why, sizeof(why)))
		FAIL("%s: without the poison: %s", name, why);
	umount_vol(vol);
	if ((code = run_fsck(HFS_FSCK_NO, 0, NULL, NULL)) != 0)
		FAIL("%s: fsck -n after exited %d", name, code);
}

/* fsck -n then -y with device 0's [off, off + len) unreadable: -n
 * reports P0_MIRROR_REPAIR and want and changes no byte; -y ends (the
 * poison stays, so it cannot fix everything), and then, the poison
 * gone, a mount reads every object back. */
static void fsck_poisoned(const char *name, uint64_t off, uint64_t len,
			  enum hfs_fsck_code want)
{
	uint8_t *img[2], *now[2];
	bool found = false;
	int code;

	for (int d = 0; d < 2; d++)
		if (!(img[d] = malloc(DEV_SIZE)) || !(now[d] = malloc(DEV_SIZE)))
			abort();
	save(img);
	code = run_fsck_p(HFS_FSCK_NO, off, len, HFS_P0_MIRROR_REPAIR, &found,
			  NULL);
	if (code != 4 || !found)
		FAIL("%s: fsck -n exited %d, %s P0_MIRROR_REPAIR", name, code,
		     found ? "with" : "without");
	if (want != HFS_P0_MIRROR_REPAIR) {
		code = run_fsck_p(HFS_FSCK_NO, off, len, want, &found, NULL);
		if (!found)
			FAIL("%s: fsck -n did not report %#x", name, want);
	}
	save(now);
	if (memcmp(img[0], now[0], DEV_SIZE) || memcmp(img[1], now[1], DEV_SIZE))
		FAIL("%s: fsck -n changed the devices", name);
	for (int d = 0; d < 2; d++) {
		free(img[d]);
		free(now[d]);
	}
	code = run_fsck_p(HFS_FSCK_YES, off, len, want, &found, NULL);
	if (code < 0 || !found)
		FAIL("%s: fsck -y exited %d, %s %#x", name, code,
		     found ? "with" : "without", want);
	memcpy(fsck_y_label, fsck_label, sizeof(fsck_label));
	after_poison(name);
}

/* Device 0's journal unreadable while it holds the committed
 * transaction that made /j, whose home inode slot is gone on both
 * devices: only a replay of the mirror's journal brings /j back. */
static void poisoned_journal(void)
{
	uint8_t zero[HFS_INODE_SIZE] = { 0 };
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	int before = failures;

	restore(crash_img);
	file_io(0, slot_off(ino_j), zero, sizeof(zero), true);
	file_io(1, mrel + slot_off(ino_j), zero, sizeof(zero), true);
	rg = open_poisoned(sb.s_journal_off, HFS_BLOCK_SIZE, &err);
	if (!rg) {
		FAIL("poisoned_journal: setup: %s", err.msg);
		return;
	}
	vol = mount_poisoned("poisoned_journal", rg, &info);
	if (vol && !info.replayed)
		FAIL("poisoned_journal: nothing replayed");
	if (vol)
		hfs_vol_close(vol);
	hfs_region_close(rg);
	after_poison("poisoned_journal");
	/* fsck on the same state: -n reports and writes nothing, -y
	 * replays the mirror's transaction (the clear of device 0's journal
	 * fails: the poison stays) */
	restore(crash_img);
	file_io(0, slot_off(ino_j), zero, sizeof(zero), true);
	file_io(1, mrel + slot_off(ino_j), zero, sizeof(zero), true);
	fsck_poisoned("poisoned_journal", sb.s_journal_off, HFS_BLOCK_SIZE,
		      HFS_P0_JOURNAL_REPLAY);
	printf("%s poisoned_journal\n", failures == before ? "ok  " : "FAIL");
}

/* ... and with no transaction (a clean unmount cleared both journals):
 * the mirror's says there is none. */
static void poisoned_journal_empty(void)
{
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	int before = failures;

	restore(clean_img);
	rg = open_poisoned(sb.s_journal_off, HFS_BLOCK_SIZE, &err);
	if (!rg) {
		FAIL("poisoned_journal_empty: setup: %s", err.msg);
		return;
	}
	vol = mount_poisoned("poisoned_journal_empty", rg, &info);
	if (vol && info.replayed)
		FAIL("poisoned_journal_empty: replayed a transaction");
	if (vol)
		hfs_vol_close(vol);
	hfs_region_close(rg);
	after_poison("poisoned_journal_empty");
	printf("%s poisoned_journal_empty\n",
	       failures == before ? "ok  " : "FAIL");
}

/* Device 0's journal unreadable and the mirror's damaged: both copies
 * bad, a committed transaction may be in neither: the mount is refused
 * saying so, and nothing is written to either device. */
static void poisoned_journal_both(void)
{
	const char *devs[1] = { p1 };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = 1 };
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	struct hfs_vol *vol = NULL;
	uint8_t *img[2], *now[2];
	int before = failures;

	restore(crash_img);
	flip(1, sb.s_journal_off + 64, 0x40);
	for (int d = 0; d < 2; d++)
		if (!(img[d] = malloc(DEV_SIZE)) || !(now[d] = malloc(DEV_SIZE)))
			abort();
	save(img);
	rg = open_poisoned(sb.s_journal_off, HFS_BLOCK_SIZE, &err);
	if (!rg) {
		FAIL("poisoned_journal_both: setup: %s", err.msg);
	} else if (!hfs_vol_open(rg, &o, &vol, NULL, &err)) {
		FAIL("poisoned_journal_both: mounted");
		hfs_vol_close(vol);
	} else if (!strstr(err.msg, "both copies are bad")) {
		FAIL("poisoned_journal_both: refused without saying why: %s",
		     err.msg);
	}
	hfs_region_close(rg);
	save(now);
	if (memcmp(img[0], now[0], DEV_SIZE) || memcmp(img[1], now[1], DEV_SIZE))
		FAIL("poisoned_journal_both: the refused mount wrote");
	for (int d = 0; d < 2; d++) {
		free(img[d]);
		free(now[d]);
	}
	printf("%s poisoned_journal_both\n",
	       failures == before ? "ok  " : "FAIL");
}

/* Device 0's primary superblock unreadable: the mirror's primary wins,
 * as when device 0's fails its checksum, not device 0's backup (here
 * made to differ: another label, valid checksum). */
static void poisoned_super(void)
{
	struct hfs_vol_info info;
	struct hfs_err err = { 0 };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_super b;
	int before = failures;

	restore(clean_img);
	file_io(0, sb.s_backup_off, &b, sizeof(b), false);
	snprintf((char *)b.s_label, sizeof(b.s_label), "backup");
	hfs_super_set_crc(&b);
	file_io(0, sb.s_backup_off, &b, sizeof(b), true);
	fsck_poisoned("poisoned_super", 0, sizeof(struct hfs_super),
		      HFS_P0_MIRROR_REPAIR);
	if (strcmp(fsck_y_label, "mirror"))
		FAIL("poisoned_super: fsck -y worked from the superblock "
		     "labelled \"%s\", not the mirror's", fsck_y_label);
	restore(clean_img);
	file_io(0, sb.s_backup_off, &b, sizeof(b), true);
	rg = open_poisoned(0, sizeof(struct hfs_super), &err);
	if (!rg) {
		FAIL("poisoned_super: setup: %s", err.msg);
		return;
	}
	vol = mount_poisoned("poisoned_super", rg, &info);
	if (vol) {
		if (info.used_backup_sb)
			FAIL("poisoned_super: mounted from device 0's backup");
		if (strcmp((const char *)vol->sb.s_label, "mirror"))
			FAIL("poisoned_super: superblock labelled \"%.16s\", "
			     "not the mirror's", (const char *)vol->sb.s_label);
		hfs_vol_close(vol);
	}
	hfs_region_close(rg);
	printf("%s poisoned_super\n", failures == before ? "ok  " : "FAIL");
}

/* A region that is not this volume's device 0 (both superblocks gone,
 * and no device table of this volume either), given with the mirror's
 * device: the mount must refuse it and write nothing to it, never
 * "restore" the mirror's superblock onto a stranger.  (Two checks refuse
 * it: hfs_mirror_find_super wants device 0's own table to be the
 * mirror's, and the assembly wants a table at all.) */
static void foreign(void)
{
	const char *devs[1] = { p1 };
	struct hfs_vol_opts o = { .devices = devs, .ndevices = 1 };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };
	struct hfs_vol *vol = NULL;
	uint8_t *img = calloc(1, DEV_SIZE);
	int before = failures;

	restore(clean_img);
	if (!img)
		abort();
	/* device 0 with its superblocks and device tables destroyed */
	file_io(0, 0, img, HFS_BLOCK_SIZE, true);
	file_io(0, sb.s_backup_off, img, HFS_BLOCK_SIZE, true);
	save_one0(img);
	if (hfs_region_open(p0, NULL, &rg, &err)) {
		FAIL("foreign: open: %s", err.msg);
	} else if (!hfs_vol_open(rg, &o, &vol, NULL, &err)) {
		FAIL("foreign: mounted a region with no table of this volume");
		hfs_vol_close(vol);
		hfs_region_close(rg);
	} else {
		uint8_t *now = malloc(DEV_SIZE);

		hfs_region_close(rg);
		if (!now)
			abort();
		file_io(0, 0, now, DEV_SIZE, false);
		if (memcmp(now, img, DEV_SIZE))
			FAIL("foreign: the refused region was written");
		free(now);
	}
	free(img);
	printf("%s foreign\n", failures == before ? "ok  " : "FAIL");
}

static bool wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/hfs-mirror-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(p0, sizeof(p0), "%s/dev0", dir);
	snprintf(p1, sizeof(p1), "%s/dev1", dir);
	build();
	if (wanted("foreign", argc, argv)) {
		n++;
		foreign();
	}
	if (wanted("poisoned", argc, argv)) {
		n++;
		poisoned();
	}
	if (wanted("poisoned_journal", argc, argv)) {
		n++;
		poisoned_journal();
	}
	if (wanted("poisoned_journal_empty", argc, argv)) {
		n++;
		poisoned_journal_empty();
	}
	if (wanted("poisoned_journal_both", argc, argv)) {
		n++;
		poisoned_journal_both();
	}
	if (wanted("poisoned_super", argc, argv)) {
		n++;
		poisoned_super();
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int before = failures;

		if (!wanted(rows[i].name, argc, argv))
			continue;
		n++;
		row_mount(&rows[i]);
		row_fsck(&rows[i]);
		printf("%s %s\n", failures == before ? "ok  " : "FAIL",
		       rows[i].name);
	}
	unlink(p0);
	unlink(p1);
	rmdir(dir);
	for (int d = 0; d < 2; d++) {
		free(clean_img[d]);
		free(crash_img[d]);
	}
	if (!n) {
		fprintf(stderr, "no such row\n");
		return 1;
	}
	printf("%d row%s, %d failure%s\n", n, n == 1 ? "" : "s", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
