/* SPDX-License-Identifier: MIT */
/*
 * mkfs.holdfs: format a device-dax node or a region file.
 *
 *   mkfs.holdfs [options] REGION
 *
 * A thin tool: the layout and every write are lib/mkfs.c's (hfs_mkfs);
 * this file sizes a region file (--size), refuses to overwrite an existing
 * holdfs without -f, hands libpmem2's known bad ranges to the formatter,
 * and has the layout printed (report.c).  The command line is args.c's.
 *
 * Exit status: 0 formatted (or, with -n, would format), 1 error, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/format.h>

#include "err.h"
#include "grow.h"
#include "members.h"
#include "tool.h"

void mkfs_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mkfs.holdfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- bad ranges ---------------------------------------------------- */

static int bad_cb(void *ctx, uint64_t off, uint64_t len)
{
	struct badlist *bl = ctx;

	if (bl->n == bl->cap &&
	    hfs_grow(&bl->v, &bl->cap, (size_t)bl->n + 1, sizeof(*bl->v)))
		return -ENOMEM;
	bl->v[bl->n++] = (struct hfs_bad_extent){ .bx_off = off,
						  .bx_len = len };
	return 0;
}

/* Known bad media, rounded and merged by the formatter.  A platform that
 * cannot tell is a warning, not a failure: a file on a non-pmem
 * filesystem has no badblocks to report. */
int mkfs_collect_bad(const struct mkfs_args *a, struct hfs_region *rg,
		     struct badlist *bl)
{
	int r = hfs_region_badblocks(rg, bad_cb, bl);

	if (r == -ENOTSUP) {
		bl->n = 0;
		if (!a->quiet)
			fprintf(stderr, "mkfs.holdfs: %s: warning: the "
				"platform cannot list bad blocks; formatting "
				"without a bad-block check\n", rg->path);
		return 0;
	}
	if (r < 0) {
		mkfs_fail("%s: cannot read the bad-block list: %s", rg->path,
		     strerror(-r));
		return -1;
	}
	return 0;
}

/* ---- the region ---------------------------------------------------- */

int mkfs_open_region(const char *path, bool readonly, bool have_size,
		     struct hfs_region **rg)
{
	struct hfs_region_opts ro = { .readonly = readonly };
	struct hfs_err err = { 0 };
	int r;

	r = hfs_region_open(path, &ro, rg, &err);
	if (r == -ENOENT && !have_size) {
		mkfs_fail("%s: no such file or device; use --size SIZE to create "
		     "a region file", path);
		return -1;
	}
	if (r < 0) {
		if (err.code)
			mkfs_fail("%s", err.msg);
		else
			mkfs_fail("%s: cannot open: %s", path, strerror(-r));
		return -1;
	}
	return 0;
}

/* Whoever may read the region reads every file: refuse one other users
 * may reach, unless told otherwise. */
int mkfs_check_private(const struct mkfs_args *a, struct hfs_region *rg)
{
	struct hfs_err err = { 0 };

	if (a->unsafe_region_mode ||
	    hfs_region_check_private(rg, geteuid(), &err) == 0)
		return 0;
	mkfs_fail("%s", err.msg);
	return -1;
}

/* Refuse to overwrite a holdfs, or a device of a holdfs volume (its
 * member header), without -f.  Returns 1 if a superblock was found (and
 * -f allows overwriting it; *old filled), 0 if none (or a member header
 * -f allows overwriting: block 0, which every format rewrites), -1 if
 * refused. */
static int check_existing(const struct mkfs_args *a, struct hfs_region *rg,
			  struct hfs_super *old)
{
	struct hfs_member_super h;
	char id[37];

	if (hfs_super_probe(rg, old) != 1) {
		if (a->force || !hfs_member_probe(rg, &h))
			return 0;
		mkfs_fail("%s: device %u of a holdfs volume (uuid %s); use -f "
			  "to overwrite (the volume loses this device)",
			  rg->path, h.m_index,
			  mkfs_uuid_str(h.m_vol_uuid, id));
		return -1;
	}
	if (a->force)
		return 1;
	if (old->s_label[0])
		mkfs_fail("%s: already contains a holdfs (label \"%.*s\", "
			  "uuid %s); use -f to overwrite", rg->path,
			  HFS_LABEL_MAX, old->s_label,
			  mkfs_uuid_str(old->s_uuid, id));
	else
		mkfs_fail("%s: already contains a holdfs (no label, uuid %s); "
			  "use -f to overwrite", rg->path,
			  mkfs_uuid_str(old->s_uuid, id));
	return -1;
}

/* ---- --size -------------------------------------------------------- */

/* Grow a non-empty region file.  Under the ownership lock, so a mounted
 * region is refused; an old holdfs needs -f, and its backup superblock
 * (the last block, soon in the middle of the pool) is destroyed first so
 * no stale superblock outlives the format. */
static int grow_file(const struct mkfs_args *a, const char *path)
{
	struct hfs_region *rg;
	struct hfs_super old;
	int found, r = -1;

	if (mkfs_open_region(path, false, true, &rg) < 0)
		return -1;
	found = check_existing(a, rg, &old);
	if (found < 0)
		goto out;
	if (found && old.s_backup_off + HFS_BLOCK_SIZE <= rg->size &&
	    hfs_region_zero(rg, old.s_backup_off, HFS_BLOCK_SIZE, NULL) < 0) {
		mkfs_fail("%s: cannot clear the old backup superblock", path);
		goto out;
	}
	if (ftruncate(rg->fd, (off_t)a->size) < 0) {
		mkfs_fail("%s: cannot grow to %" PRIu64 " bytes: %s", path,
		     a->size, strerror(errno));
		goto out;
	}
	r = 0;
out:
	hfs_region_close(rg);
	return r;
}

/* Is --size compatible with what is at the path?  Sets *cur to the
 * current size of an existing file (0 if none or empty). */
static int check_size_target(const struct mkfs_args *a, const char *path,
			     uint64_t *cur)
{
	char h1[32], h2[32];
	struct stat st;

	*cur = 0;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		mkfs_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		mkfs_fail("%s: --size applies to region files only; this is not a "
		     "regular file (a device's size is fixed)", path);
		return -1;
	}
	*cur = (uint64_t)st.st_size;
	if (a->size < *cur) {
		mkfs_fail("%s: file is %s; --size %s would shrink it (remove the "
		     "file first to start smaller)", path,
		     mkfs_human(*cur, h1, sizeof(h1)), mkfs_human(a->size, h2,
							 sizeof(h2)));
		return -1;
	}
	return 0;
}

/* Size the file for --size.  *created tells the caller it made a new
 * file, to remove again if formatting fails. */
int mkfs_size_region_file(const struct mkfs_args *a, const char *path,
			  bool *created)
{
	struct hfs_err err = { 0 };
	struct stat st;
	uint64_t cur;

	if (check_size_target(a, path, &cur) < 0)
		return -1;
	if (cur == a->size)
		return 0;
	if (cur > 0)
		return grow_file(a, path);
	*created = stat(path, &st) < 0 && errno == ENOENT;
	if (hfs_region_create_file(path, a->size, &err) < 0) {
		*created = false;
		mkfs_fail("%s", err.msg);
		return -1;
	}
	return 0;
}

/* ---- dry run ------------------------------------------------------- */

/* Lay the filesystem out on a stand-in of the region's size and
 * alignment: anonymous memory mapped without reserve, which reads as
 * zeros from the shared zero page, so only the few metadata blocks the
 * formatter writes ever take memory.  The real region, if it exists, is
 * opened read-only (no lock, nothing written) for its size, alignment,
 * bad ranges and an existing holdfs. */
static int layout_on_standin(struct mkfs_args *a, uint64_t size,
			     uint64_t align, const struct region_desc *rd,
			     const struct badlist *bl)
{
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct hfs_region *mem;
	void *base;
	int r;

	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		mkfs_fail("%s: cannot reserve %" PRIu64 " bytes of address space "
		     "for the dry run: %s", a->region, size, strerror(errno));
		return -1;
	}
	r = hfs_region_from_memory(base, size, &mem);
	if (r == 0) {
		/* Messages name the real region; the layout follows its
		 * alignment (hfs_region is a plain struct by design). */
		char *p = strdup(a->region);

		if (p) {
			free(mem->path);
			mem->path = p;
		}
		mem->align = align;
		r = hfs_mkfs(mem, &a->mo, &res, &err);
		hfs_region_close(mem);
	}
	munmap(base, size);
	if (r < 0) {
		if (err.code)
			mkfs_fail("%s", err.msg);
		else
			mkfs_fail("%s: %s", a->region, strerror(-r));
		return -1;
	}
	if (!a->quiet)
		mkfs_print_summary(a, rd, &res.sb, bl);
	return 0;
}

static int dry_run(struct mkfs_args *a)
{
	struct region_desc rd = { .kind = HFS_REGION_FILE };
	struct badlist bl = { 0 };
	struct hfs_region *rg = NULL;
	struct hfs_super old;
	uint64_t size = a->size, align = HFS_BLOCK_SIZE, cur = 0;
	int r = -1;

	if (a->size && check_size_target(a, a->region, &cur) < 0)
		return -1;
	if (!a->size || cur > 0) {
		if (mkfs_open_region(a->region, true, a->size != 0, &rg) < 0)
			return -1;
		rd.kind = rg->kind;
		rd.granularity = rg->granularity;
		align = rg->align;
		if (size < rg->size)
			size = rg->size;
		if (mkfs_check_private(a, rg) < 0 ||
		    check_existing(a, rg, &old) < 0 ||
		    mkfs_collect_bad(a, rg, &bl) < 0)
			goto out;
	}
	a->mo.bad = bl.v;
	a->mo.nbad = bl.n;
	r = layout_on_standin(a, size, align, &rd, &bl);
out:
	hfs_region_close(rg);
	free(bl.v);
	return r;
}

/* ---- format -------------------------------------------------------- */

/* The devices after REGION: sized, opened, checked like it.  Each must
 * be private to its owner, hold no holdfs (without -f) and report no
 * bad media: bad ranges are recorded for member 0 only so far. */
static int open_members(struct mkfs_args *a, struct hfs_region **m,
			bool *created)
{
	for (unsigned i = 0; i < a->ndevices; i++) {
		struct badlist bl = { 0 };
		struct hfs_super old;
		int bad;

		if (a->size &&
		    mkfs_size_region_file(a, a->devices[i], &created[i]) < 0)
			return -1;
		if (mkfs_open_region(a->devices[i], false, a->size != 0,
				     &m[i]) < 0 ||
		    mkfs_check_private(a, m[i]) < 0 ||
		    check_existing(a, m[i], &old) < 0)
			return -1;
		bad = mkfs_collect_bad(a, m[i], &bl);
		free(bl.v);
		if (bad < 0)
			return -1;
		if (bl.n) {
			mkfs_fail("%s: %u known bad ranges; bad media on a "
				  "device other than the first is not "
				  "recorded yet, so it is refused", a->devices[i],
				  bl.n);
			return -1;
		}
	}
	return 0;
}

/* Default allocation unit of a volume: the largest alignment of its
 * devices (a DAX lease maps whole units, each device needs its own). */
static void members_alloc_unit(struct mkfs_args *a, struct hfs_region *rg,
			       struct hfs_region **m)
{
	uint64_t au = rg->align;

	if (a->mo.alloc_unit || !a->ndevices)
		return;
	for (unsigned i = 0; i < a->ndevices; i++)
		if (m[i]->align > au)
			au = m[i]->align;
	a->mo.alloc_unit = au < HFS_BLOCK_SIZE ? HFS_BLOCK_SIZE : au;
}

static int format(struct mkfs_args *a)
{
	struct hfs_region *m[HFS_MEMBERS_MAX] = { NULL };
	bool mcreated[HFS_MEMBERS_MAX] = { false };
	struct hfs_mkfs_result res;
	struct hfs_err err = { 0 };
	struct region_desc rd;
	struct badlist bl = { 0 };
	struct hfs_region *rg = NULL;
	struct hfs_super old;
	bool created = false;
	int r = -1;

	if (a->size && mkfs_size_region_file(a, a->region, &created) < 0)
		return -1;
	if (mkfs_open_region(a->region, false, a->size != 0, &rg) < 0)
		goto out;
	if (mkfs_check_private(a, rg) < 0 || check_existing(a, rg, &old) < 0 ||
	    mkfs_collect_bad(a, rg, &bl) < 0 || open_members(a, m, mcreated) < 0)
		goto out;
	a->mo.bad = bl.v;
	a->mo.nbad = bl.n;
	members_alloc_unit(a, rg, m);
	if (hfs_mkfs(rg, &a->mo, &res, &err) < 0 ||
	    (a->ndevices &&
	     hfs_mkfs_members(rg, m, a->ndevices + 1, !a->no_mirror,
			      a->meta_size, &res, &err) < 0)) {
		mkfs_fail("%s", err.code ? err.msg : "formatting failed");
		goto out;
	}
	rd.kind = rg->kind;
	rd.granularity = rg->granularity;
	if (!a->quiet) {
		mkfs_print_summary(a, &rd, &res.sb, &bl);
		if (a->ndevices)
			mkfs_print_members(a, &res.sb, &res.devtab);
	}
	r = 0;
out:
	hfs_region_close(rg);
	for (unsigned i = 0; i < a->ndevices; i++) {
		hfs_region_close(m[i]);
		if (r < 0 && mcreated[i])
			unlink(a->devices[i]);
	}
	free(bl.v);
	/* A file this run created and could not format is not left
	 * behind looking like a region. */
	if (r < 0 && created)
		unlink(a->region);
	return r;
}

int main(int argc, char *argv[])
{
	struct mkfs_args a = { .mo.root_pct = HFS_ROOT_RESERVE_PCT };
	int r;

	r = mkfs_parse_args(argc, argv, &a);
	if (r < 0) /* --help or --version */
		r = 0;
	else if (r == 0)
		r = (a.add_mirror ? mkfs_add_mirror(&a)
		     : a.dry_run ? dry_run(&a)
				 : format(&a)) < 0 ? 1 : 0;
	else if (r != EXIT_USAGE)
		r = 1;
	/* A summary lost to a full disk or a closed pipe is an error. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		mkfs_fail("write error: %s", strerror(errno));
		r = 1;
	}
	return r;
}
