/* SPDX-License-Identifier: MIT */
/*
 * datacheck's operations: each draws its arguments from the seeded
 * generator, makes the call, checks what it returned (and the bytes,
 * for a read) against the model, and updates the model.
 *
 * Reads and writes go through every call a program may use, drawn per
 * operation: pread/pwrite and read/write at the file offset (lseek
 * first), and, vectored over 1-4 iovecs of random lengths (empty ones
 * too), preadv/pwritev, readv/writev, preadv2/pwritev2 at an offset and
 * at the file offset (-1).  After every call the file offset must be
 * where POSIX puts it: unchanged by the positional calls, advanced by
 * the bytes done by the others.  Appends go through a second descriptor
 * opened O_APPEND (write or writev, its offset first moved anywhere):
 * they land at the end of file and leave the offset there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "datacheck.h"

/* Relative frequency of each operation (mapped ones only with --map,
 * the log only with --log). */
static const unsigned op_weight[OP_COUNT] = {
	[OP_READ] = 14, [OP_WRITE] = 14, [OP_READV] = 6, [OP_WRITEV] = 6,
	[OP_APPEND] = 4, [OP_MAPREAD] = 12, [OP_MAPWRITE] = 12,
	[OP_TRUNCATE] = 8, [OP_PUNCH] = 5, [OP_ZERO] = 5, [OP_FALLOC] = 4,
	[OP_COPY] = 5, [OP_EOFSTORE] = 4, [OP_REOPEN] = 1, [OP_FSYNC] = 1,
	[OP_LOGAPPEND] = 6,
};

#define MAXIOV 4

/* The calls a read or write goes through; the first two are not
 * vectored. */
enum io_call { IO_P, IO_PLAIN, IO_PV, IO_V, IO_PV2, IO_V2 };

static const char *const io_names[2][6] = {
	{ "pread", "read", "preadv", "readv", "preadv2", "preadv2(-1)" },
	{ "pwrite", "write", "pwritev", "writev", "pwritev2", "pwritev2(-1)" },
};

/* ------------------------------------------------------------ helpers */

/* A range to write: off in [lo, hi), len clipped to hi. */
static void write_span(struct dc *d, uint64_t *off, uint64_t *len)
{
	*off = d->lo + below(d, d->hi - d->lo);
	*len = below(d, d->maxlen) + 1;
	if (*off + *len > d->hi)
		*len = d->hi - *off;
}

/* A range to read: past EOF too, except in a part (whose end is not
 * EOF). */
static void read_span(struct dc *d, uint64_t *off, uint64_t *len)
{
	*len = below(d, d->maxlen) + 1;
	if (!d->parts) {
		*off = below(d, d->size + d->maxlen / 4 + 1);
		return;
	}
	*off = d->lo + below(d, d->hi - d->lo);
	if (*off + *len > d->hi)
		*len = d->hi - *off;
}

/* buf[0..len) cut into 1..MAXIOV iovecs of random lengths. */
static int split_iov(struct dc *d, uint8_t *buf, uint64_t len,
		     struct iovec *iov)
{
	int n = 1 + (int)below(d, MAXIOV);
	uint64_t at = 0;

	for (int i = 0; i < n; i++) {
		uint64_t k = i == n - 1 ? len - at : below(d, len - at + 1);

		iov[i] = (struct iovec){ buf + at, k };
		at += k;
	}
	return n;
}

static off_t offset_of(const struct dc *d, int fd, const char *when)
{
	off_t at = lseek(fd, 0, SEEK_CUR);

	if (at < 0)
		die(d, "lseek(SEEK_CUR) %s: %s", when, strerror(errno));
	return at;
}

/* Read (wr false) or write d->buf[0..len) at off through call c; the
 * result of the call, after checking the file offset it left. */
static ssize_t rw_call(struct dc *d, bool wr, enum io_call c, uint64_t off,
		       uint64_t len)
{
	const char *name = io_names[wr][c];
	bool pos = c == IO_P || c == IO_PV || c == IO_PV2;
	struct iovec iov[MAXIOV];
	int n = c >= IO_PV ? split_iov(d, d->buf, len, iov) : 0;
	int fd = d->fd;
	off_t at;
	ssize_t r;

	if (pos)
		at = offset_of(d, fd, "before a positional call");
	else if ((at = lseek(fd, (off_t)off, SEEK_SET)) != (off_t)off)
		die(d, "lseek(%#" PRIx64 ") before %s: %s", off, name,
		    at < 0 ? strerror(errno) : "wrong offset");
	switch (c) {
	case IO_P:
		r = wr ? pwrite(fd, d->buf, len, (off_t)off)
		       : pread(fd, d->buf, len, (off_t)off);
		break;
	case IO_PLAIN:
		r = wr ? write(fd, d->buf, len) : read(fd, d->buf, len);
		break;
	case IO_PV:
		r = wr ? pwritev(fd, iov, n, (off_t)off)
		       : preadv(fd, iov, n, (off_t)off);
		break;
	case IO_V:
		r = wr ? writev(fd, iov, n) : readv(fd, iov, n);
		break;
	case IO_PV2:
		r = wr ? pwritev2(fd, iov, n, (off_t)off, 0)
		       : preadv2(fd, iov, n, (off_t)off, 0);
		break;
	default:
		r = wr ? pwritev2(fd, iov, n, -1, 0) : preadv2(fd, iov, n, -1, 0);
		break;
	}
	if (r < 0)
		die(d, "%s(%#" PRIx64 ", %#" PRIx64 "): %s", name, off, len,
		    strerror(errno));
	if (offset_of(d, fd, "after a read or write") !=
	    (pos ? at : (off_t)off + r))
		die(d, "%s(%#" PRIx64 ", %#" PRIx64 ") returned %zd and left "
		    "the file offset at %jd, expected %jd", name, off, len, r,
		    (intmax_t)offset_of(d, fd, "again"),
		    (intmax_t)(pos ? at : (off_t)off + r));
	return r;
}

/* ---------------------------------------------------------- operations */

static void op_read(struct dc *d, int kind)
{
	enum io_call c = kind == OP_READV ? IO_PV + below(d, 4) : below(d, 2);
	uint64_t off, len, want;
	ssize_t n;

	read_span(d, &off, &len);
	want = off >= d->size ? 0 : (d->size - off < len ? d->size - off : len);
	log_op(d, kind, off, len, c);
	n = rw_call(d, false, c, off, len);
	if ((uint64_t)n != want)
		die(d, "%s(%#" PRIx64 ", %#" PRIx64 ") returned %zd, "
		    "expected %" PRIu64 " (size %#" PRIx64 ")",
		    io_names[0][c], off, len, n, want, d->size);
	compare(d, d->buf, off, (uint64_t)n, io_names[0][c]);
}

static void op_write(struct dc *d, int kind)
{
	enum io_call c = kind == OP_WRITEV ? IO_PV + below(d, 4) : below(d, 2);
	uint64_t off, len;
	ssize_t n;

	write_span(d, &off, &len);
	fill(d->buf, off, len, d->opn);
	log_op(d, kind, off, len, c);
	n = rw_call(d, true, c, off, len);
	if (n != (ssize_t)len)
		die(d, "%s(%#" PRIx64 ", %#" PRIx64 ") returned %zd: short "
		    "write", io_names[1][c], off, len, n);
	if (off + len > d->size)
		set_size(d, off + len);
	memcpy(d->model + off, d->buf, len);
	d->hist[d->opn % HISTORY].size = d->size;
}

/* Through the O_APPEND descriptor, its offset first moved anywhere: the
 * bytes land at the end of file, and the offset is left after them. */
static void op_append(struct dc *d)
{
	uint64_t off = d->size, len = below(d, d->maxlen) + 1;
	uint64_t pos = below(d, d->maxsize);
	bool vec = below(d, 2);
	struct iovec iov[MAXIOV];
	ssize_t n;

	if (off >= d->maxsize) {
		d->skipped++;
		return;
	}
	if (off + len > d->maxsize)
		len = d->maxsize - off;
	fill(d->buf, off, len, d->opn);
	log_op(d, OP_APPEND, off, len, vec);
	if (lseek(d->afd, (off_t)pos, SEEK_SET) != (off_t)pos)
		die(d, "lseek(%#" PRIx64 ") on the O_APPEND descriptor: %s",
		    pos, strerror(errno));
	n = vec ? writev(d->afd, iov, split_iov(d, d->buf, len, iov))
		: write(d->afd, d->buf, len);
	if (n != (ssize_t)len)
		die(d, "O_APPEND %s of %#" PRIx64 " bytes returned %zd: %s",
		    vec ? "writev" : "write", len, n,
		    n < 0 ? strerror(errno) : "short write");
	set_size(d, off + len);
	memcpy(d->model + off, d->buf, len);
	d->hist[d->opn % HISTORY].size = d->size;
	if (offset_of(d, d->afd, "after an append") != (off_t)(off + len))
		die(d, "O_APPEND %s left the offset at %jd, expected the end "
		    "of file %#" PRIx64, vec ? "writev" : "write",
		    (intmax_t)offset_of(d, d->afd, "again"), off + len);
}

static void op_mapread(struct dc *d)
{
	uint64_t end = d->size < d->hi ? d->size : d->hi;
	uint64_t off, len, off0, mlen;
	struct map mp;

	if (end <= d->lo) {
		d->skipped++;
		return;
	}
	off = d->lo + below(d, end - d->lo);
	len = below(d, end - off < d->maxlen ? end - off : d->maxlen) + 1;
	map_bounds(d, off, len, &off0, &mlen);
	log_op(d, OP_MAPREAD, off, len, off0);
	map_range(d, off0, mlen, false, &mp);
	GUARDED("a mapped read", {
		compare(d, mp.base + (off - off0), off, len, "mapped read");
		check_eof_tail(d, &mp);
	});
	unmap_range(d, &mp);
}

/* Like fsx: extend with ftruncate first, then store through a mapping. */
static void op_mapwrite(struct dc *d)
{
	uint64_t off, len, off0, mlen;
	struct map mp;

	write_span(d, &off, &len);
	if (off + len > d->size) {
		if (ftruncate(d->fd, (off_t)(off + len)) < 0)
			die(d, "ftruncate(%#" PRIx64 ") before a mapped write: %s",
			    off + len, strerror(errno));
		set_size(d, off + len);
	}
	map_bounds(d, off, len, &off0, &mlen);
	log_op(d, OP_MAPWRITE, off, len, off0);
	fill(d->buf, off, len, d->opn);
	map_range(d, off0, mlen, true, &mp);
	GUARDED("a mapped write", {
		memcpy(mp.base + (off - off0), d->buf, len);
		map_persist(d, &mp, off, len);
		memcpy(d->model + off, d->buf, len);
		check_eof_tail(d, &mp);
	});
	unmap_range(d, &mp);
}

/* DAX only: store garbage past EOF in the last unit; POSIX keeps it out
 * of the file, so the model does not change.  A later extension must
 * read zeros there. */
static void op_eofstore(struct dc *d)
{
	uint64_t g = (uint64_t)d->unit, off0, end;
	struct map mp;

	if (d->size % g == 0) {
		d->skipped++;
		return;
	}
	off0 = d->size / g * g;
	end = off0 + g;
	log_op(d, OP_EOFSTORE, d->size, end - d->size, off0);
	map_range(d, off0, g, true, &mp);
	fill(d->buf, d->size, end - d->size, d->opn);
	GUARDED("a store past EOF", {
		memcpy(mp.base + (d->size - off0), d->buf, end - d->size);
		map_persist(d, &mp, d->size, end - d->size);
	});
	memcpy(d->model + d->size, d->buf, end - d->size); /* the shadow */
	unmap_range(d, &mp);
}

static void op_truncate(struct dc *d)
{
	uint64_t size = below(d, d->maxsize + 1);

	if (below(d, 4) == 0) /* often an odd size inside a unit */
		size = size / (uint64_t)d->unit * (uint64_t)d->unit +
		       below(d, (uint64_t)d->unit - 1) + 1;
	if (size > d->maxsize)
		size = d->maxsize;
	if (ftruncate(d->fd, (off_t)size) < 0)
		die(d, "ftruncate(%#" PRIx64 "): %s", size, strerror(errno));
	set_size(d, size);
	log_op(d, OP_TRUNCATE, size, 0, 0);
}

/* fallocate with mode; the model follows (keep: size unchanged). */
static void op_fallocate(struct dc *d, int kind, int mode)
{
	uint64_t off, len, end;

	write_span(d, &off, &len);
	end = off + len;
	log_op(d, kind, off, len, (uint64_t)mode);
	if (fallocate(d->fd, mode, (off_t)off, (off_t)len) < 0)
		die(d, "fallocate(mode %#x, %#" PRIx64 ", %#" PRIx64 "): %s",
		    mode, off, len, strerror(errno));
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		memset(d->model + off, 0, len); /* past EOF too */
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > d->size)
		set_size(d, end);
	d->hist[d->opn % HISTORY].size = d->size;
}

/* copy_file_range inside the file (inside the part), source and
 * destination apart. */
static void op_copy(struct dc *d)
{
	uint64_t end = d->size < d->hi ? d->size : d->hi;
	uint64_t in, out, len, want;
	loff_t oi, oo;
	ssize_t n;

	if (end <= d->lo) {
		d->skipped++;
		return;
	}
	in = d->lo + below(d, end - d->lo);
	write_span(d, &out, &len);
	if (d->parts && in + len > d->hi) /* (else: short at EOF) */
		len = d->hi - in;
	if (in < out + len && out < in + len) { /* overlap: EINVAL */
		d->skipped++;
		return;
	}
	want = d->size - in < len ? d->size - in : len;
	oi = (loff_t)in;
	oo = (loff_t)out;
	log_op(d, OP_COPY, in, out, len);
	n = copy_file_range(d->fd, &oi, d->fd, &oo, len, 0);
	if (n != (ssize_t)want)
		die(d, "copy_file_range(%#" PRIx64 " -> %#" PRIx64 ", %#" PRIx64
		    ") returned %zd, expected %" PRIu64 "%s%s", in, out, len, n,
		    want, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	memmove(d->buf, d->model + in, want);
	if (out + want > d->size)
		set_size(d, out + want);
	memcpy(d->model + out, d->buf, want);
	d->hist[d->opn % HISTORY].size = d->size;
}

static void op_reopen(struct dc *d)
{
	log_op(d, OP_REOPEN, 0, 0, 0);
	close(d->fd);
	close(d->afd);
	d->fd = open(d->path, O_RDWR);
	d->afd = open(d->path, O_WRONLY | O_APPEND);
	if (d->fd < 0 || d->afd < 0)
		die(d, "reopen: %s", strerror(errno));
}

static void op_fsync(struct dc *d)
{
	log_op(d, OP_FSYNC, 0, 0, 0);
	if (fsync(d->fd) < 0)
		die(d, "fsync: %s", strerror(errno));
}

/* ---------------------------------------------------------------- pick */

static bool allowed(const struct dc *d, int k)
{
	bool mapped = k == OP_MAPREAD || k == OP_MAPWRITE || k == OP_EOFSTORE;

	if (d->excluded[k] || (mapped && d->map == MAP_NONE) ||
	    (k == OP_EOFSTORE && !d->dax) || (k == OP_LOGAPPEND && !d->log))
		return false;
	/* a part's file keeps its size: nothing may change it */
	return !d->parts || (k != OP_TRUNCATE && k != OP_APPEND &&
			     k != OP_EOFSTORE);
}

static int pick(struct dc *d)
{
	unsigned total = 0, w[OP_COUNT];
	uint64_t r;

	for (int k = 0; k < OP_COUNT; k++) {
		w[k] = allowed(d, k) ? op_weight[k] : 0;
		total += w[k];
	}
	r = below(d, total);
	for (int k = 0; k < OP_COUNT; k++) {
		if (r < w[k])
			return k;
		r -= w[k];
	}
	return OP_READ;
}

void step(struct dc *d)
{
	int k = pick(d);

	d->count[k]++;
	switch (k) {
	case OP_READ: case OP_READV: op_read(d, k); break;
	case OP_WRITE: case OP_WRITEV: op_write(d, k); break;
	case OP_APPEND: op_append(d); break;
	case OP_MAPREAD: op_mapread(d); break;
	case OP_MAPWRITE: op_mapwrite(d); break;
	case OP_TRUNCATE: op_truncate(d); break;
	case OP_PUNCH:
		op_fallocate(d, k, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		break;
	case OP_ZERO:
		op_fallocate(d, k, FALLOC_FL_ZERO_RANGE |
				   (below(d, 2) ? FALLOC_FL_KEEP_SIZE : 0));
		break;
	case OP_FALLOC:
		op_fallocate(d, k, below(d, 2) ? FALLOC_FL_KEEP_SIZE : 0);
		break;
	case OP_COPY: op_copy(d); break;
	case OP_EOFSTORE: op_eofstore(d); break;
	case OP_REOPEN: op_reopen(d); break;
	case OP_LOGAPPEND: op_logappend(d); break;
	default: op_fsync(d); break;
	}
}
