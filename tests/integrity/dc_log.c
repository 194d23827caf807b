/* SPDX-License-Identifier: MIT */
/*
 * The shared O_APPEND log of --part runs, and its checker (--check-log).
 *
 * Every writer of a --part run appends self-describing records to one
 * log file opened O_APPEND, concurrently with the other writers, with
 * write(2) of the whole record or writev(2) of the header and the
 * payload in two pieces.  Each record must land whole at the end of
 * file, never over or inside another: O_APPEND atomicity between
 * processes, whichever path (the kernel, the data path) each one takes.
 *
 * A record: a 24-byte header (magic, writer, flags, sequence number from
 * 1, payload length, FNV-1a 64 of the header and the payload), then the
 * payload, whose bytes follow from (writer, sequence number).  A
 * writer's last record has the flag END and, as payload, the hash of its
 * part of the data file as its model says, and how many records came
 * before it.
 *
 * The checker reads the log from the start once every writer has exited:
 * records back to back up to EOF, each intact; per writer, sequence
 * numbers 1, 2, ... in order, none missing or twice, the END record last;
 * then it hashes every writer's part of the data file and compares it
 * with that writer's END record.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "datacheck.h"

#define LOG_MAGIC 0x474c4344u /* "DCLG" */
#define LOG_END 1u
#define LOG_MAXLEN (1u << 20)

struct logrec {
	uint32_t magic;
	uint16_t writer;
	uint16_t flags;
	uint32_t seq;
	uint32_t len;           /* payload bytes after the header */
	uint64_t sum;           /* fnv64 of the header (sum 0) and payload */
};
_Static_assert(sizeof(struct logrec) == 24, "log record header");

struct logend {
	uint64_t hash;          /* fnv64 of the writer's part (its model) */
	uint64_t records;       /* records before this one */
};

static uint8_t logbyte(unsigned writer, uint32_t seq, uint64_t i)
{
	return (uint8_t)(writer * 151 + seq * 31 + i * 7 + (i >> 8) + 1);
}

static uint64_t rec_sum(const struct logrec *h, const uint8_t *payload)
{
	struct logrec z = *h;

	z.sum = 0;
	return fnv64(fnv64(FNV64_INIT, &z, sizeof(z)), payload, h->len);
}

/* ------------------------------------------------------------- writer */

/* One record, its payload at d->buf + sizeof(header), in one write or
 * writev: all of it, or the run fails. */
static void append_record(struct dc *d, uint16_t flags, uint32_t len)
{
	struct logrec h = { LOG_MAGIC, (uint16_t)d->part, flags,
			    d->logseq + 1, len, 0 };
	uint8_t *payload = d->buf + sizeof(h);
	size_t cut = below(d, len + 1);
	ssize_t n;

	h.sum = rec_sum(&h, payload);
	if (below(d, 2)) {
		struct iovec iov[3] = { { &h, sizeof(h) }, { payload, cut },
					{ payload + cut, len - cut } };

		n = writev(d->logfd, iov, 3);
	} else {
		memcpy(d->buf, &h, sizeof(h));
		n = write(d->logfd, d->buf, sizeof(h) + len);
	}
	if (n != (ssize_t)(sizeof(h) + len))
		die(d, "appending record %u (%zu bytes) to the log %s returned "
		    "%zd: %s", h.seq, sizeof(h) + len, d->log, n,
		    n < 0 ? strerror(errno) : "short write");
	d->logseq = h.seq;
}

void op_logappend(struct dc *d)
{
	uint32_t len = (uint32_t)below(d, d->maxlen / 8) + 1;
	uint8_t *p = d->buf + sizeof(struct logrec);

	for (uint32_t i = 0; i < len; i++)
		p[i] = logbyte(d->part, d->logseq + 1, i);
	log_op(d, OP_LOGAPPEND, d->logseq + 1, len, 0);
	append_record(d, 0, len);
}

void log_end(struct dc *d)
{
	struct logend e = { fnv64(FNV64_INIT, d->model + d->lo, d->hi - d->lo),
			    d->logseq };

	memcpy(d->buf + sizeof(struct logrec), &e, sizeof(e));
	append_record(d, LOG_END, sizeof(e));
}

/* ------------------------------------------------------------ checker */

struct writer {
	uint32_t last;          /* sequence number of its last record */
	bool ended;
	uint64_t hash, bytes;
};

static int bad(const char *log, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(const char *log, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "datacheck: %s: at offset %#" PRIx64 ": ", log, off);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* The whole file in memory (*n bytes); NULL with a message. */
static uint8_t *slurp(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	ssize_t r = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !(b = malloc((size_t)st.st_size + 1)))
		goto fail;
	while (got < (size_t)st.st_size &&
	       (r = read(fd, b + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	if (got != (size_t)st.st_size)
		goto fail;
	close(fd);
	*n = got;
	return b;
fail:
	fprintf(stderr, "datacheck: %s: %s\n", path,
		r < 0 || fd < 0 || !b ? strerror(errno) : "shorter than its size");
	if (fd >= 0)
		close(fd);
	free(b);
	return NULL;
}

/* One record at b[off..n) of writer state w[parts]; 0 and *next set, or
 * 1 with the reason printed. */
static int check_record(const char *log, const uint8_t *b, size_t n,
			uint64_t off, struct writer *w, unsigned parts,
			uint64_t *next)
{
	const uint8_t *p = b + off + sizeof(struct logrec);
	struct logrec h;
	struct logend e;

	if (n - off < sizeof(h))
		return bad(log, off, "a torn header: %zu bytes before EOF",
			   (size_t)(n - off));
	memcpy(&h, b + off, sizeof(h));
	if (h.magic != LOG_MAGIC)
		return bad(log, off, "no record here (magic %#x): a gap, "
			   "garbage or two records overlapping", h.magic);
	if (h.len > LOG_MAXLEN || h.len > n - off - sizeof(h))
		return bad(log, off, "payload length %u runs past EOF", h.len);
	if (rec_sum(&h, p) != h.sum)
		return bad(log, off, "checksum mismatch (writer %u, record "
			   "%u, %u bytes): torn or overwritten", h.writer,
			   h.seq, h.len);
	if (h.writer >= parts)
		return bad(log, off, "writer %u of %u", h.writer, parts);
	if (w[h.writer].ended)
		return bad(log, off, "writer %u: record %u after its END",
			   h.writer, h.seq);
	if (h.seq != w[h.writer].last + 1)
		return bad(log, off, "writer %u: record %u, expected %u (%s)",
			   h.writer, h.seq, w[h.writer].last + 1,
			   h.seq <= w[h.writer].last ? "twice or out of order"
						     : "records missing");
	if (h.flags & LOG_END) {
		memcpy(&e, p, sizeof(e));
		if (h.len != sizeof(e) || e.records != h.seq - 1)
			return bad(log, off, "writer %u: a bad END record",
				   h.writer);
		w[h.writer].ended = true;
		w[h.writer].hash = e.hash;
	}
	for (uint32_t i = 0; !(h.flags & LOG_END) && i < h.len; i++)
		if (p[i] != logbyte(h.writer, h.seq, i))
			return bad(log, off, "writer %u record %u: payload "
				   "byte %u is %#x, expected %#x", h.writer,
				   h.seq, i, p[i], logbyte(h.writer, h.seq, i));
	w[h.writer].last = h.seq;
	w[h.writer].bytes += h.len;
	*next = off + sizeof(h) + h.len;
	return 0;
}

/* Every part of data hashes as its writer said. */
static int check_parts(const char *data, const struct writer *w,
		       unsigned parts, uint64_t partsize)
{
	size_t n;
	uint8_t *b = slurp(data, &n);
	int bads = 0;

	if (!b)
		return 1;
	if (n != parts * partsize) {
		fprintf(stderr, "datacheck: %s: size %zu, expected %u parts of "
			"%" PRIu64 "\n", data, n, parts, partsize);
		bads++;
	}
	for (unsigned i = 0; !bads && i < parts; i++) {
		if (fnv64(FNV64_INIT, b + i * partsize, partsize) == w[i].hash)
			continue;
		fprintf(stderr, "datacheck: %s: part %u [%#" PRIx64 ", %#"
			PRIx64 ") differs from its writer's model (hash in its "
			"END record)\n", data, i, i * partsize,
			(i + 1) * partsize);
		bads++;
	}
	free(b);
	return bads != 0;
}

int check_log(const char *log, const char *data, unsigned parts,
	      uint64_t partsize)
{
	struct writer *w = calloc(parts, sizeof(*w));
	uint64_t off = 0, records = 0;
	size_t n = 0;
	uint8_t *b = slurp(log, &n);
	int r = !b || !w;

	while (!r && off < n && !(r = check_record(log, b, n, off, w, parts,
						   &off)))
		records++;
	for (unsigned i = 0; !r && i < parts; i++)
		if (!w[i].ended)
			r = bad(log, off, "writer %u has no END record (its "
				"last is %u)", i, w[i].last);
	if (!r)
		r = check_parts(data, w, parts, partsize);
	if (!r) {
		printf("datacheck: %s: %" PRIu64 " records of %u writers (",
		       log, records, parts);
		for (unsigned i = 0; i < parts; i++)
			printf("%s%u: %u", i ? ", " : "", i, w[i].last);
		printf("), %zu bytes: every record once, in order, intact; "
		       "every part of %s as its writer's model\n", n, data);
	}
	free(b);
	free(w);
	return r;
}
