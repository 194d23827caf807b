/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill: what the options ask of this mount, checked before
 * anything is created (drill.h).  A combination the mount cannot run is
 * refused here with a message saying why, exit status 2, instead of
 * failing a check half-way through (docs/failure-model.md, "Runbook").
 *
 *   unit    the allocation unit: a client lease is FSIZE rounded up to
 *           it, and a client's file holds K such leases
 *   space   every drill file must fit in the free space (with room for
 *           the directory and extent blocks)
 *   range   --range must lie in the pool (the superblock, read from the
 *           region, says where it is: before it are the fixed metadata
 *           areas, after it the backup superblock) and hold file data
 *           or free space only (ADMIN_HOLDERS: no directory, extent
 *           chain or xattr block): a range drill over metadata would
 *           shut the filesystem down, which is a whole-device drill
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <endian.h>

#include <holdfs/format.h>
#include <holdfs/holdfs.h>
#include <holdfs/proto.h>

#include "conn.h"
#include "drill.h"
#include "holdfsctl.h"
#include "json_print.h"

/* Bytes a drill needs besides its files: directory, extent and inode
 * blocks, generously. */
#define PLAN_SLACK (4ull << 20)

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", DPROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
	return (v + unit - 1) / unit * unit;
}

/* The allocation unit, and the client lease length that follows. */
static int plan_unit(struct drill *d)
{
	int fd = open(d->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long au = fd < 0 ? -errno : holdfs_alloc_unit(fd);

	if (fd >= 0)
		close(fd);
	if (au <= 0) {
		fprintf(stderr, "%s: %s: cannot learn the allocation unit: %s\n",
			DPROG, d->mnt, strerror((int)-au));
		return 1;
	}
	d->unit = (uint64_t)au;
	d->lsz = round_up(FSIZE, d->unit);
	if (d->k * d->lsz > (1ull << 30))
		return refuse("--leases-per-client %u: %u leases of %" PRIu64
			      " KiB (the allocation unit) are more than 1 GiB "
			      "per client", d->k, d->k, d->lsz >> 10);
	return 0;
}

static int plan_space(struct drill *d)
{
	struct statvfs sv;
	uint64_t need, have;

	if (statvfs(d->mnt, &sv) < 0) {
		fprintf(stderr, "%s: %s: %s\n", DPROG, d->mnt, strerror(errno));
		return 1;
	}
	need = (uint64_t)d->n * d->k * d->lsz +
	       (uint64_t)(d->w + NSTATIC) * round_up(FSIZE, d->unit) +
	       PLAN_SLACK;
	have = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (need > have)
		return refuse("%u clients x %u leases of %" PRIu64 " KiB and "
			      "%u writers need %" PRIu64 " MiB, %s has %"
			      PRIu64 " MiB free: fewer clients or leases, or a "
			      "bigger filesystem", d->n, d->k, d->lsz >> 10,
			      d->w, need >> 20, d->mnt, have >> 20);
	return 0;
}

/* ADMIN_HOLDERS of the drill's range: the document, or NULL (printed). */
static json_object *holders_of(const struct drill *d)
{
	struct hfs_msg_range q = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				     HFS_MSG_ADMIN_HOLDERS, sizeof(q), 0, 1 },
				   0, d->roff, d->rlen };

	return ctl_parse_reply(ctl_query_mnt(d->mnt, &q, sizeof(q)));
}

int drill_range_owned(const struct drill *d)
{
	json_object *doc = holders_of(d);
	int r = doc ? jlen(jget(doc, "owners")) > 0 : -1;

	json_object_put(doc);
	return r;
}

/* The pool [*lo, *hi) from the region's superblock; 0 or the exit
 * status after a message. */
static int pool_of(const struct drill *d, uint64_t *lo, uint64_t *hi)
{
	struct hfs_super sb;
	int fd = open(d->region, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &sb, sizeof(sb), 0);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(sb) || le64toh(sb.s_magic) != HFS_SB_MAGIC) {
		fprintf(stderr, "%s: %s: cannot read the superblock\n", DPROG,
			d->region);
		return 1;
	}
	*lo = le64toh(sb.s_pool_off);
	*hi = *lo + le64toh(sb.s_pool_blocks) * HFS_BLOCK_SIZE;
	return 0;
}

/* --range: inside the pool, and no metadata in it. */
static int plan_range(struct drill *d)
{
	json_object *doc, *own;
	uint64_t lo, hi;
	int r = 0;

	if (!d->range || !d->have_range)
		return 0;
	r = pool_of(d, &lo, &hi);
	if (r)
		return r;
	if (d->roff < lo || d->roff >= hi || d->rlen > hi - d->roff)
		return refuse("--range %#" PRIx64 ",%#" PRIx64 " is not in the "
			      "pool [%#" PRIx64 ", %#" PRIx64 ") where file data "
			      "lives: %s", d->roff, d->rlen, lo, hi,
			      d->roff < lo ? "failing the fixed metadata shuts "
			      "the filesystem down (--kind whole)"
			      : "outside the filesystem");
	doc = holders_of(d);
	if (!doc)
		return refuse("--range %#" PRIx64 ",%#" PRIx64 ": the daemon "
			      "cannot tell who holds it (outside the region?)",
			      d->roff, d->rlen);
	own = jget(doc, "owners");
	for (size_t i = 0; i < jlen(own) && !r; i++) {
		json_object *o = json_object_array_get_idx(own, i);

		if (strcmp(jstr(o, "kind"), "data"))
			r = refuse("--range %#" PRIx64 ",%#" PRIx64 " holds "
				   "metadata (%s at region byte %#" PRIx64 "): "
				   "failing it shuts the filesystem down; "
				   "that is --kind whole (--inject-only), or "
				   "choose file data (holdfsctl holders)",
				   d->roff, d->rlen, jstr(o, "kind"),
				   ju64(o, "region_off"));
	}
	json_object_put(doc);
	return r;
}

int drill_plan(struct drill *d)
{
	int r = plan_unit(d);

	if (!r)
		r = plan_space(d);
	if (!r)
		r = plan_range(d);
	return r;
}
