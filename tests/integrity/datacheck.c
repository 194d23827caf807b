/* SPDX-License-Identifier: MIT */
/*
 * datacheck: a data-integrity checker for one file, against an in-memory
 * model (in the spirit of fsx; our own code).
 *
 *   datacheck [OPTIONS] FILE
 *
 * A seeded random sequence of operations - read, write, mapped reads and
 * writes, truncate up and down, punch hole, zero range, fallocate,
 * copy_file_range, reopen, fsync and, for DAX mappings, stores past EOF -
 * runs on FILE while the model says what every byte and the size must be.
 * Every read (read(2) or through a mapping) is compared with the model, a
 * mapping's bytes past EOF in its last page (last allocation unit for a
 * DAX lease) must be zeros, and every --verify-every operations a forked
 * child checks the whole file through a fresh descriptor and a fresh
 * mapping (another process must see the same bytes and size).
 *
 * Mapped I/O goes through (--map):
 *   mmap       mmap(MAP_SHARED)/msync/munmap: the kernel page cache, or a
 *              DAX lease when libholdfs-preload.so is preloaded;
 *   libholdfs  holdfs_map/holdfs_persist/holdfs_unmap (DAX leases);
 *   none       no mapped I/O.
 * --dax says mappings are DAX leases (checked in /proc/self/maps: a lease
 * maps the region, not FILE) and turns on stores past EOF, which POSIX
 * leaves out of the file and which the page cache may write back as file
 * content after a later extension (kernel behaviour we do not test).
 *
 * The model also holds what a mapping shows past EOF in the last unit
 * (the "shadow"): zeros, except what --dax stores put there since the last
 * size change.  holdfs's rule (lib/eof_tail.c): a truncate down zeroes the
 * new tail; growing turns [old size, new size) into zeros before the new
 * size is visible, so stores past EOF never become file content, while
 * what lies past the new size stays as it was; punch hole and zero range
 * zero their whole range, past EOF too.
 *
 * On the first difference it prints the seed, the operation number and the
 * last operations, and exits 1.  Exit 2: usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

enum map_mode { MAP_NONE, MAP_MMAP, MAP_LIBHOLDFS };

enum op_kind {
	OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_PUNCH,
	OP_ZERO, OP_FALLOC, OP_COPY, OP_EOFSTORE, OP_REOPEN, OP_FSYNC,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"read", "write", "mapread", "mapwrite", "truncate", "punch", "zero",
	"falloc", "copy", "eofstore", "reopen", "fsync",
};

/* Relative frequency of each operation (mapped ones only with --map). */
static const unsigned op_weight[OP_COUNT] = {
	[OP_READ] = 20, [OP_WRITE] = 20, [OP_MAPREAD] = 12,
	[OP_MAPWRITE] = 12, [OP_TRUNCATE] = 8, [OP_PUNCH] = 5, [OP_ZERO] = 5,
	[OP_FALLOC] = 4, [OP_COPY] = 5, [OP_EOFSTORE] = 4, [OP_REOPEN] = 1,
	[OP_FSYNC] = 1,
};

#define HISTORY 64

struct logged {
	uint64_t n;
	int kind;
	uint64_t a, b, c;   /* offsets and lengths, per kind */
	uint64_t size;      /* model size after the operation */
};

struct dc {
	const char *path;
	int fd;
	uint64_t seed, rng;
	uint64_t ops, opn;
	uint64_t maxsize, maxlen;
	enum map_mode map;
	bool dax;
	bool excluded[OP_COUNT];
	unsigned verify_every;
	bool verbose;
	long page, unit;         /* mapping granularity */
	uint8_t *model, *buf;    /* model: content, then the shadow */
	uint64_t size, cap;      /* cap: bytes of model (max size + unit) */
	struct logged hist[HISTORY];
	uint64_t count[OP_COUNT], skipped;
};

/* A SIGBUS during a mapped access (bus_what set) jumps back to main,
 * which reports it; anywhere else it is a crash of the checker. */
static sigjmp_buf bus_jb;
static const char *volatile bus_what;
static void *volatile bus_addr;

/* ------------------------------------------------------------ helpers */

static uint64_t rnd(struct dc *d)
{
	/* splitmix64: small, seedable, good enough for a test */
	uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(struct dc *d, uint64_t n)
{
	return n ? rnd(d) % n : 0;
}

/* A byte for operation opn at file offset off: tells, in a dump, which
 * operation wrote it. */
static uint8_t pattern(uint64_t opn, uint64_t off)
{
	uint8_t v = (uint8_t)(opn * 31 + off * 7 + (off >> 8));

	return v ? v : 1;
}

static void fill(uint8_t *p, uint64_t off, uint64_t len, uint64_t opn)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = pattern(opn, off + i);
}

static void log_op(struct dc *d, int kind, uint64_t a, uint64_t b, uint64_t c)
{
	struct logged *l = &d->hist[d->opn % HISTORY];

	*l = (struct logged){ d->opn, kind, a, b, c, d->size };
	if (d->verbose)
		fprintf(stderr, "%8" PRIu64 " %-9s %#" PRIx64 " %#" PRIx64
			" %#" PRIx64 " -> size %#" PRIx64 "\n", d->opn,
			op_names[kind], a, b, c, d->size);
}

static void dump_history(const struct dc *d)
{
	uint64_t first = d->opn >= HISTORY ? d->opn - HISTORY + 1 : 1;

	fprintf(stderr, "datacheck: last operations (op kind a b c -> size):\n");
	for (uint64_t n = first; n <= d->opn; n++) {
		const struct logged *l = &d->hist[n % HISTORY];

		if (l->n != n)
			continue;
		fprintf(stderr, "  %8" PRIu64 " %-9s %#" PRIx64 " %#" PRIx64
			" %#" PRIx64 " -> size %#" PRIx64 "\n", l->n,
			op_names[l->kind], l->a, l->b, l->c, l->size);
	}
}

static void replay_hint(const struct dc *d)
{
	fprintf(stderr, "datacheck: replay with --seed %" PRIu64
		" --ops %" PRIu64 " (op %" PRIu64 " failed)\n", d->seed,
		d->opn, d->opn);
}

static void die(const struct dc *d, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
static void die(const struct dc *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "datacheck: %s: op %" PRIu64 ": ", d->path, d->opn);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_history(d);
	replay_hint(d);
	exit(1);
}

/* Compare got[0..len) with what the model holds at off (past EOF: the
 * shadow).  what names the path for the message. */
static void compare(const struct dc *d, const uint8_t *got, uint64_t off,
		    uint64_t len, const char *what)
{
	for (uint64_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint8_t want = o < d->cap ? d->model[o] : 0;

		if (got[i] == want)
			continue;
		die(d, "%s: byte at offset %#" PRIx64 " is 0x%02x, expected "
		    "0x%02x%s (size %#" PRIx64 ")", what, o, got[i], want,
		    o >= d->size ? " (past EOF)" : "", d->size);
	}
}

/* Growing: [old, new) reads zeros, the shadow past the new size stays.
 * Shrinking: everything past the new size reads zeros (the new tail is
 * zeroed, whole units past it are freed). */
static void set_size(struct dc *d, uint64_t size)
{
	if (size > d->size)
		memset(d->model + d->size, 0, size - d->size);
	else
		memset(d->model + size, 0, d->cap - size);
	d->size = size;
}

/* ------------------------------------------------------------ mapping */

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!bus_what)
		_exit(3);
	bus_addr = si->si_addr;
	siglongjmp(bus_jb, 1);
}

struct map {
	uint8_t *base;           /* file offset off0 */
	uint64_t off0, len;
	struct holdfs_mapping *m;
};

/* Is the mapping at addr one of FILE itself (the page cache)?  A DAX
 * lease maps the region instead. */
static bool maps_file(const struct dc *d, const void *addr)
{
	char line[512];
	struct stat st;
	bool own = false;
	FILE *f;

	if (fstat(d->fd, &st) < 0 || !(f = fopen("/proc/self/maps", "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, maj, min, ino;

		if (sscanf(line, "%lx-%lx %*s %*s %lx:%lx %lu", &lo, &hi, &maj,
			   &min, &ino) != 5)
			continue;
		if ((uintptr_t)addr < lo || (uintptr_t)addr >= hi)
			continue;
		own = ino == st.st_ino && makedev(maj, min) == st.st_dev;
		break;
	}
	fclose(f);
	return own;
}

/* Map [off0, off0+len) (off0 aligned to the mapping granularity). */
static void map_range(struct dc *d, uint64_t off0, uint64_t len, bool rw,
		      struct map *mp)
{
	int prot = PROT_READ | (rw ? PROT_WRITE : 0);

	*mp = (struct map){ NULL, off0, len, NULL };
	if (d->map == MAP_LIBHOLDFS) {
		int r = holdfs_map(d->fd, off0, len, prot, 0, &mp->m);

		if (r < 0)
			die(d, "holdfs_map(%#" PRIx64 ", %#" PRIx64 ", %s): %s",
			    off0, len, rw ? "rw" : "r", strerror(-r));
		mp->base = holdfs_addr(mp->m);
		return;
	}
	mp->base = mmap(NULL, len, prot, MAP_SHARED, d->fd, (off_t)off0);
	if (mp->base == MAP_FAILED)
		die(d, "mmap(%#" PRIx64 ", %#" PRIx64 ", %s): %s", off0, len,
		    rw ? "rw" : "r", strerror(errno));
	/* the shim falls back to the page cache silently: with --dax, a
	 * mapping of FILE itself means the test is not testing DAX */
	if (d->dax && maps_file(d, mp->base))
		die(d, "--dax: mmap at %#" PRIx64 " is a page-cache mapping of "
		    "the file, not a DAX lease (is libholdfs-preload.so "
		    "preloaded and the lease server running?)", off0);
}

static void map_persist(struct dc *d, struct map *mp, uint64_t off,
			uint64_t len)
{
	uint64_t a = (off - mp->off0) / (uint64_t)d->page * (uint64_t)d->page;
	int r;

	if (d->map == MAP_LIBHOLDFS)
		r = holdfs_persist(mp->m, mp->base + (off - mp->off0), len);
	else
		r = msync(mp->base + a, off - mp->off0 + len - a, MS_SYNC) < 0
			    ? -errno : 0;
	if (r < 0)
		die(d, "persist/msync of %#" PRIx64 "+%#" PRIx64 ": %s", off,
		    len, strerror(-r));
}

static void unmap_range(struct dc *d, struct map *mp)
{
	int r = d->map == MAP_LIBHOLDFS ? holdfs_unmap(mp->m)
		: (munmap(mp->base, mp->len) < 0 ? -errno : 0);

	if (r < 0)
		die(d, "unmap: %s", strerror(-r));
}

/* Mapped bytes [size, end of the last page/unit) must match the shadow
 * (zeros unless stored past EOF) when the mapping covers the end of the
 * file (a lease maps whole units). */
static void check_eof_tail(struct dc *d, const struct map *mp)
{
	uint64_t g = (uint64_t)(d->map == MAP_MMAP && !d->dax ? d->page
							      : d->unit);
	uint64_t end = (d->size + g - 1) / g * g;

	if (d->size % g == 0 || d->size < mp->off0 ||
	    end > mp->off0 + mp->len)
		return;
	compare(d, mp->base + (d->size - mp->off0), d->size, end - d->size,
		"mapping past EOF");
}

/* off rounded down to the mapping granularity, and the length from there
 * to off+len rounded up (whole units: a lease is never partial). */
static void map_bounds(const struct dc *d, uint64_t off, uint64_t len,
		       uint64_t *off0, uint64_t *mlen)
{
	uint64_t g = (uint64_t)d->unit;

	*off0 = off / g * g;
	*mlen = (off + len - *off0 + g - 1) / g * g;
}

/* Run body with a SIGBUS reported as a failure (main's sigsetjmp). */
#define GUARDED(what, body)                                                 \
	do {                                                                \
		bus_what = (what);                                          \
		body;                                                       \
		bus_what = NULL;                                            \
	} while (0)

/* ---------------------------------------------------------- operations */

static void op_read(struct dc *d)
{
	uint64_t off = below(d, d->size + d->maxlen / 4 + 1);
	uint64_t len = below(d, d->maxlen) + 1;
	uint64_t want = off >= d->size ? 0 : (d->size - off < len ? d->size - off : len);
	ssize_t n = pread(d->fd, d->buf, len, (off_t)off);

	log_op(d, OP_READ, off, len, 0);
	if (n < 0)
		die(d, "pread(%#" PRIx64 ", %#" PRIx64 "): %s", off, len,
		    strerror(errno));
	if ((uint64_t)n != want)
		die(d, "pread(%#" PRIx64 ", %#" PRIx64 ") returned %zd, "
		    "expected %" PRIu64 " (size %#" PRIx64 ")", off, len, n,
		    want, d->size);
	compare(d, d->buf, off, (uint64_t)n, "read(2)");
}

static void op_write(struct dc *d)
{
	uint64_t off = below(d, d->maxsize);
	uint64_t len = below(d, d->maxlen) + 1;
	ssize_t n;

	if (off + len > d->maxsize)
		len = d->maxsize - off;
	fill(d->buf, off, len, d->opn);
	n = pwrite(d->fd, d->buf, len, (off_t)off);
	if (n != (ssize_t)len)
		die(d, "pwrite(%#" PRIx64 ", %#" PRIx64 ") returned %zd: %s",
		    off, len, n, n < 0 ? strerror(errno) : "short write");
	if (off + len > d->size)
		set_size(d, off + len);
	memcpy(d->model + off, d->buf, len);
	log_op(d, OP_WRITE, off, len, 0);
}

static void op_mapread(struct dc *d)
{
	uint64_t off, len, off0, mlen;
	struct map mp;

	if (d->size == 0) {
		d->skipped++;
		return;
	}
	off = below(d, d->size);
	len = below(d, d->size - off < d->maxlen ? d->size - off : d->maxlen) + 1;
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
	uint64_t off = below(d, d->maxsize), len = below(d, d->maxlen) + 1;
	uint64_t off0, mlen;
	struct map mp;

	if (off + len > d->maxsize)
		len = d->maxsize - off;
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
	uint64_t off = below(d, d->maxsize), len = below(d, d->maxlen) + 1;
	uint64_t end;

	if (off + len > d->maxsize)
		len = d->maxsize - off;
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

/* copy_file_range inside the file, source and destination apart. */
static void op_copy(struct dc *d)
{
	uint64_t len = below(d, d->maxlen) + 1, in, out, want;
	loff_t oi, oo;
	ssize_t n;

	if (d->size == 0) {
		d->skipped++;
		return;
	}
	in = below(d, d->size);
	out = below(d, d->maxsize);
	if (out + len > d->maxsize)
		len = d->maxsize - out;
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
	d->fd = open(d->path, O_RDWR);
	if (d->fd < 0)
		die(d, "reopen: %s", strerror(errno));
}

static void op_fsync(struct dc *d)
{
	log_op(d, OP_FSYNC, 0, 0, 0);
	if (fsync(d->fd) < 0)
		die(d, "fsync: %s", strerror(errno));
}

/* ------------------------------------------------------------- verify */

/* In a forked child: a fresh descriptor and a fresh mapping must show
 * exactly the model (size, every byte, zeros past EOF). */
static void verify_child(struct dc *d)
{
	struct stat st;
	ssize_t n;

	d->fd = open(d->path, O_RDONLY);
	if (d->fd < 0)
		die(d, "verify: open: %s", strerror(errno));
	if (fstat(d->fd, &st) < 0 || (uint64_t)st.st_size != d->size)
		die(d, "verify: another process sees size %#" PRIx64
		    ", expected %#" PRIx64, (uint64_t)st.st_size, d->size);
	for (uint64_t off = 0; off < d->size; off += (uint64_t)n) {
		n = pread(d->fd, d->buf, d->maxlen, (off_t)off);
		if (n <= 0)
			die(d, "verify: pread at %#" PRIx64 ": %s", off,
			    n < 0 ? strerror(errno) : "unexpected EOF");
		compare(d, d->buf, off, (uint64_t)n, "verify read(2)");
	}
	if (d->map != MAP_NONE && d->size) {
		uint64_t off0, mlen;
		struct map mp;

		map_bounds(d, 0, d->size, &off0, &mlen);
		map_range(d, off0, mlen, false, &mp);
		GUARDED("the verify mapping", {
			compare(d, mp.base, 0, d->size, "verify mapping");
			check_eof_tail(d, &mp);
		});
		unmap_range(d, &mp);
	}
	_exit(0); /* the parent's atexit work (and leak checks) is not ours */
}

static void verify(struct dc *d)
{
	pid_t pid;
	int st;

	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die(d, "fork: %s", strerror(errno));
	if (pid == 0)
		verify_child(d);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "datacheck: the verifying child failed (%s %d)\n",
			WIFSIGNALED(st) ? "signal" : "exit",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		replay_hint(d);
		exit(1);
	}
}

/* ---------------------------------------------------------------- run */

static int pick(struct dc *d)
{
	unsigned total = 0, w[OP_COUNT];
	uint64_t r;

	for (int k = 0; k < OP_COUNT; k++) {
		bool mapped = k == OP_MAPREAD || k == OP_MAPWRITE ||
			      k == OP_EOFSTORE;

		w[k] = op_weight[k];
		if ((mapped && d->map == MAP_NONE) ||
		    (k == OP_EOFSTORE && !d->dax) || d->excluded[k])
			w[k] = 0;
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

static void step(struct dc *d)
{
	int k = pick(d);

	d->count[k]++;
	switch (k) {
	case OP_READ: op_read(d); break;
	case OP_WRITE: op_write(d); break;
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
	default: op_fsync(d); break;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: datacheck [OPTIONS] FILE\n"
"\n"
"Random read/write/mapped/size-changing operations on FILE (created or\n"
"truncated to 0), checked against an in-memory model.\n"
"\n"
"  -n, --ops N            operations (default 100000)\n"
"  -s, --seed S           seed (default: from the clock; always printed)\n"
"  -S, --max-size N       largest file size (default 262144)\n"
"  -l, --max-len N        largest single read/write (default 65536)\n"
"  -m, --map MODE         mapped I/O: mmap (default), libholdfs, none\n"
"      --dax              mappings must be DAX leases; also store past EOF\n"
"      --verify-every N   a child re-checks the whole file (default 1000;\n"
"                         0: only at the end)\n"
"  -x, --exclude K[,K..]  leave out these operations (read, write, mapread,\n"
"                         mapwrite, truncate, punch, zero, falloc, copy,\n"
"                         eofstore, reopen, fsync)\n"
"  -v, --verbose          print every operation\n"
"  -h, --help             this help\n"
"\n"
"Exit status: 0 all operations matched the model, 1 a difference (the seed,\n"
"operation number and recent operations are printed), 2 usage or setup\n"
"error.\n");
}

static bool num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && end != s && !*end && *s != '-';
}

/* --exclude: a comma-separated list of operation names. */
static int exclude(struct dc *d, char *list)
{
	for (char *sv, *t = strtok_r(list, ",", &sv); t;
	     t = strtok_r(NULL, ",", &sv)) {
		int k = 0;

		while (k < OP_COUNT && strcmp(t, op_names[k]))
			k++;
		if (k == OP_COUNT) {
			fprintf(stderr, "datacheck: unknown operation '%s'\n", t);
			return -1;
		}
		d->excluded[k] = true;
	}
	return 0;
}

static int parse(struct dc *d, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ops", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "max-len", required_argument, NULL, 'l' },
		{ "map", required_argument, NULL, 'm' },
		{ "dax", no_argument, NULL, 'D' },
		{ "verify-every", required_argument, NULL, 'V' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "n:s:S:l:m:x:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'n': if (!num(optarg, &d->ops)) return -1; break;
		case 's': if (!num(optarg, &d->seed)) return -1; break;
		case 'S': if (!num(optarg, &d->maxsize) || !d->maxsize) return -1; break;
		case 'l': if (!num(optarg, &d->maxlen) || !d->maxlen) return -1; break;
		case 'V': if (!num(optarg, &v) || v > 1u << 30) return -1;
			d->verify_every = (unsigned)v; break;
		case 'D': d->dax = true; break;
		case 'x': if (exclude(d, optarg)) return -1; break;
		case 'v': d->verbose = true; break;
		case 'm':
			if (!strcmp(optarg, "mmap")) d->map = MAP_MMAP;
			else if (!strcmp(optarg, "libholdfs")) d->map = MAP_LIBHOLDFS;
			else if (!strcmp(optarg, "none")) d->map = MAP_NONE;
			else return -1;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1 || (d->dax && d->map == MAP_NONE))
		return -1;
	d->path = argv[optind];
	return 0;
}

static int setup(struct dc *d)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	d->fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (d->fd < 0) {
		fprintf(stderr, "datacheck: %s: %s\n", d->path, strerror(errno));
		return -1;
	}
	d->page = sysconf(_SC_PAGESIZE);
	d->unit = d->page;
	if (d->map == MAP_LIBHOLDFS || d->dax) {
		long u = holdfs_alloc_unit(d->fd);

		if (u < 0) {
			fprintf(stderr, "datacheck: %s: not served by a holdfs "
				"lease server: %s\n", d->path, strerror((int)-u));
			return -1;
		}
		d->unit = u > d->page ? u : d->page;
	}
	if (d->maxlen > d->maxsize)
		d->maxlen = d->maxsize;
	d->cap = d->maxsize + (uint64_t)d->unit;
	d->model = calloc(1, d->cap);
	d->buf = malloc(d->cap);
	if (!d->model || !d->buf || sigaction(SIGBUS, &sa, NULL) < 0) {
		fprintf(stderr, "datacheck: out of memory\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct dc d = { .ops = 100000, .maxsize = 256 << 10, .maxlen = 64 << 10,
			.map = MAP_MMAP, .verify_every = 1000 };
	struct timespec t0, t1;

	d.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (parse(&d, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (setup(&d) < 0)
		return 2;
	d.rng = d.seed;
	printf("datacheck: %s: seed %" PRIu64 ", %" PRIu64 " operations, map "
	       "%s%s, unit %ld\n", d.path, d.seed, d.ops,
	       d.map == MAP_NONE ? "none" : d.map == MAP_MMAP ? "mmap"
				  : "libholdfs", d.dax ? " (dax)" : "", d.unit);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (sigsetjmp(bus_jb, 1))
		die(&d, "SIGBUS at %p during %s", bus_addr, bus_what);
	for (d.opn = 1; d.opn <= d.ops; d.opn++) {
		step(&d);
		if (d.verify_every && d.opn % d.verify_every == 0)
			verify(&d);
	}
	d.opn = d.ops;
	verify(&d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("datacheck: ok: %" PRIu64 " operations in %.1f s (", d.ops,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (int k = 0; k < OP_COUNT; k++)
		if (d.count[k])
			printf("%s%s %" PRIu64, k ? ", " : "", op_names[k],
			       d.count[k]);
	printf("; %" PRIu64 " skipped)\n", d.skipped);
	close(d.fd);
	free(d.model);
	free(d.buf);
	return 0;
}
