/* SPDX-License-Identifier: MIT */
/*
 * datacheck: a data-integrity checker for one file, against an in-memory
 * model (in the spirit of fsx; our own code).
 *
 *   datacheck [OPTIONS] FILE
 *   datacheck --check-log LOG --parts N [--max-size S] FILE
 *
 * A seeded random sequence of operations - reads and writes through every
 * call (pread/pwrite, read/write at the file offset, preadv/pwritev,
 * readv/writev, preadv2/pwritev2; dc_ops.c), O_APPEND writes, mapped
 * reads and writes, truncate up and down, punch hole, zero range,
 * fallocate, copy_file_range, reopen, fsync and, for DAX mappings, stores
 * past EOF - runs on FILE while the model says what every byte and the
 * size must be.  Every read (a call or through a mapping) is compared
 * with the model, every call must leave the file offset where POSIX puts
 * it, a mapping's bytes past EOF in its last page (last allocation unit
 * for a DAX lease) must be zeros, and every --verify-every operations a
 * forked child checks the whole file through a fresh descriptor and a
 * fresh mapping (another process must see the same bytes and size).
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
 * --direct says the process runs under the preload shim, so its plain
 * calls go through the direct data path (docs/data-path.md): datacheck
 * refuses to run without the shim mapped, and prints the data path's
 * counters at the end when libholdfs has them (holdfs_dp_stats).
 *
 * The model also holds what a mapping shows past EOF in the last unit
 * (the "shadow"): zeros, except what --dax stores put there since the last
 * size change.  holdfs's rule (lib/eof_tail.c): a truncate down zeroes the
 * new tail; growing turns [old size, new size) into zeros before the new
 * size is visible, so stores past EOF never become file content, while
 * what lies past the new size stays as it was; punch hole and zero range
 * zero their whole range, past EOF too.
 *
 * Several processes on one file (--part I/N, --log LOG): writer I owns
 * bytes [I, I+1) * max-size of FILE, whose size stays N * max-size (it is
 * made so, never truncated: no truncate, append or store past EOF), and
 * runs the other operations there while the others run theirs, plus
 * appends of self-describing records to the shared O_APPEND log LOG
 * (dc_log.c).  Its verifications cover its part only.  Once all writers
 * have exited, --check-log checks that every record of every writer is in
 * LOG exactly once, in order and intact, and that every part of FILE is
 * what its writer's model says.
 *
 * On the first difference it prints the seed, the operation number and the
 * last operations, and exits 1.  Exit 2: usage or setup error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "datacheck.h"

const char *const op_names[OP_COUNT] = {
	"read", "write", "readv", "writev", "append", "mapread", "mapwrite",
	"truncate", "punch", "zero", "falloc", "copy", "eofstore", "reopen",
	"fsync", "logappend",
};

sigjmp_buf bus_jb;
const char *volatile bus_what;
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

uint64_t below(struct dc *d, uint64_t n)
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

void fill(uint8_t *p, uint64_t off, uint64_t len, uint64_t opn)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = pattern(opn, off + i);
}

void log_op(struct dc *d, int kind, uint64_t a, uint64_t b, uint64_t c)
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

void replay_hint(const struct dc *d)
{
	fprintf(stderr, "datacheck: replay with --seed %" PRIu64
		" --ops %" PRIu64 " (op %" PRIu64 " failed)", d->seed,
		d->opn, d->opn);
	if (d->parts)
		fprintf(stderr, "; a writer of %u: run all with the same "
			"seeds (the interleaving is not replayed)", d->parts);
	fputc('\n', stderr);
}

uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

void die(const struct dc *d, const char *fmt, ...)
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
void compare(const struct dc *d, const uint8_t *got, uint64_t off,
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
void set_size(struct dc *d, uint64_t size)
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
void map_range(struct dc *d, uint64_t off0, uint64_t len, bool rw,
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

void map_persist(struct dc *d, struct map *mp, uint64_t off,
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

void unmap_range(struct dc *d, struct map *mp)
{
	int r = d->map == MAP_LIBHOLDFS ? holdfs_unmap(mp->m)
		: (munmap(mp->base, mp->len) < 0 ? -errno : 0);

	if (r < 0)
		die(d, "unmap: %s", strerror(-r));
}

/* Mapped bytes [size, end of the last page/unit) must match the shadow
 * (zeros unless stored past EOF) when the mapping covers the end of the
 * file (a lease maps whole units). */
void check_eof_tail(struct dc *d, const struct map *mp)
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
void map_bounds(const struct dc *d, uint64_t off, uint64_t len,
		       uint64_t *off0, uint64_t *mlen)
{
	uint64_t g = (uint64_t)d->unit;

	*off0 = off / g * g;
	*mlen = (off + len - *off0 + g - 1) / g * g;
}

/* ------------------------------------------------------------- verify */

/* In a forked child: a fresh descriptor and a fresh mapping must show
 * exactly the model (size, every byte of the part, zeros past EOF). */
static void verify_child(struct dc *d)
{
	uint64_t lo = d->lo, hi = d->parts ? d->hi : d->size;
	struct stat st;
	ssize_t n;

	d->fd = open(d->path, O_RDONLY);
	if (d->fd < 0)
		die(d, "verify: open: %s", strerror(errno));
	if (fstat(d->fd, &st) < 0 || (uint64_t)st.st_size != d->size)
		die(d, "verify: another process sees size %#" PRIx64
		    ", expected %#" PRIx64, (uint64_t)st.st_size, d->size);
	for (uint64_t off = lo; off < hi; off += (uint64_t)n) {
		n = pread(d->fd, d->buf, hi - off < d->maxlen ? hi - off
							     : d->maxlen,
			  (off_t)off);
		if (n <= 0)
			die(d, "verify: pread at %#" PRIx64 ": %s", off,
			    n < 0 ? strerror(errno) : "unexpected EOF");
		compare(d, d->buf, off, (uint64_t)n, "verify read(2)");
	}
	if (d->map != MAP_NONE && hi > lo) {
		uint64_t off0, mlen;
		struct map mp;

		map_bounds(d, lo, hi - lo, &off0, &mlen);
		map_range(d, off0, mlen, false, &mp);
		GUARDED("the verify mapping", {
			compare(d, mp.base + (lo - off0), lo, hi - lo,
				"verify mapping");
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

/* ---------------------------------------------------------- data path */

/* --direct: the shim must be mapped, or the run would quietly test the
 * kernel path. */
static bool shim_loaded(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libholdfs-preload.so") != NULL;
	if (f)
		fclose(f);
	return found;
}

/* The data path's counters of this process, when libholdfs has them
 * (looked up at run time: a libholdfs without them still runs us). */
static void print_dp_stats(void)
{
	void (*get)(struct holdfs_dp_stats *) =
		(void (*)(struct holdfs_dp_stats *))dlsym(RTLD_DEFAULT,
							  "holdfs_dp_stats");
	const char *(*why)(int) =
		(const char *(*)(int))dlsym(RTLD_DEFAULT, "holdfs_dp_reason_name");
	struct holdfs_dp_stats s;

	if (!get) {
		printf("datacheck: data path: no counters (this libholdfs does "
		       "not export holdfs_dp_stats)\n");
		return;
	}
	get(&s);
	printf("datacheck: data path: files %" PRIu64 ", reads %" PRIu64
	       " (%" PRIu64 " bytes), writes %" PRIu64 " (%" PRIu64
	       " bytes, appends %" PRIu64 "), syncs %" PRIu64 ", seeks %"
	       PRIu64 ", leases %" PRIu64 ", reservations %" PRIu64 ", eio %"
	       PRIu64 ", kernel %" PRIu64, s.files, s.reads, s.read_bytes,
	       s.writes, s.write_bytes, s.appends, s.syncs, s.seeks, s.leases,
	       s.reservations, s.eio, s.kernel);
	for (int k = 0; k < HOLDFS_DP_NREASONS; k++)
		if (s.kernel_why[k])
			printf(" %s %" PRIu64, why ? why(k) : "?",
			       s.kernel_why[k]);
	printf("\n");
}

/* ---------------------------------------------------------------- run */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: datacheck [OPTIONS] FILE\n"
"       datacheck --check-log LOG --parts N [--max-size S] FILE\n"
"\n"
"Random read/write/mapped/size-changing operations on FILE (created or\n"
"truncated to 0), checked against an in-memory model.\n"
"\n"
"  -n, --ops N            operations (default 100000)\n"
"  -s, --seed S           seed (default: from the clock; always printed)\n"
"  -S, --max-size N       largest file size, or size of a part (default\n"
"                         262144)\n"
"  -l, --max-len N        largest single read/write (default 65536)\n"
"  -m, --map MODE         mapped I/O: mmap (default), libholdfs, none\n"
"      --dax              mappings must be DAX leases; also store past EOF\n"
"      --direct           run only under the preload shim (the direct data\n"
"                         path); print its counters at the end\n"
"      --verify-every N   a child re-checks the whole file (default 1000;\n"
"                         0: only at the end)\n"
"  -x, --exclude K[,K..]  leave out these operations (read, write, readv,\n"
"                         writev, append, mapread, mapwrite, truncate,\n"
"                         punch, zero, falloc, copy, eofstore, reopen, fsync,\n"
"                         logappend)\n"
"      --part I/N         be writer I of N on FILE (not truncated; made\n"
"                         N * max-size bytes): only bytes [I, I+1) * max-size,\n"
"                         no size changes\n"
"      --log LOG          with --part: also append records to LOG (O_APPEND)\n"
"      --check-log LOG    after a --part run: check LOG and FILE's parts\n"
"      --parts N          with --check-log: how many writers\n"
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

/* --part I/N */
static int part(struct dc *d, const char *s)
{
	unsigned i, n;
	int end = 0;

	if (sscanf(s, "%u/%u%n", &i, &n, &end) != 2 || s[end] || !n ||
	    i >= n || n > 1024)
		return -1;
	d->part = i;
	d->parts = n;
	return 0;
}

static int set_map(struct dc *d, const char *s)
{
	if (!strcmp(s, "mmap"))
		d->map = MAP_MMAP;
	else if (!strcmp(s, "libholdfs"))
		d->map = MAP_LIBHOLDFS;
	else if (!strcmp(s, "none"))
		d->map = MAP_NONE;
	else
		return -1;
	return 0;
}

enum { OPT_DAX = 256, OPT_VERIFY, OPT_DIRECT, OPT_PART, OPT_LOG, OPT_CHECKLOG, OPT_PARTS };

static int parse(struct dc *d, int argc, char **argv, const char **check)
{
	static const struct option lo[] = {
		{ "ops", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "max-len", required_argument, NULL, 'l' },
		{ "map", required_argument, NULL, 'm' },
		{ "dax", no_argument, NULL, OPT_DAX },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "verify-every", required_argument, NULL, OPT_VERIFY },
		{ "exclude", required_argument, NULL, 'x' },
		{ "part", required_argument, NULL, OPT_PART },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "check-log", required_argument, NULL, OPT_CHECKLOG },
		{ "parts", required_argument, NULL, OPT_PARTS },
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
		case OPT_VERIFY: if (!num(optarg, &v) || v > 1u << 30) return -1;
			d->verify_every = (unsigned)v; break;
		case OPT_DAX: d->dax = true; break;
		case OPT_DIRECT: d->direct = true; break;
		case 'x': if (exclude(d, optarg)) return -1; break;
		case OPT_PART: if (part(d, optarg)) return -1; break;
		case OPT_LOG: d->log = optarg; break;
		case OPT_CHECKLOG: *check = optarg; break;
		case OPT_PARTS: if (!num(optarg, &v) || !v || v > 1024) return -1;
			d->parts = (unsigned)v; break;
		case 'v': d->verbose = true; break;
		case 'm': if (set_map(d, optarg)) return -1; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1 || (d->dax && d->map == MAP_NONE) ||
	    (d->log && !d->parts) || (*check && !d->parts))
		return -1;
	d->path = argv[optind];
	return 0;
}

/* Open FILE (and the log): a single run truncates it, a part makes it
 * parts * maxsize bytes (every writer does, idempotently). */
static int open_files(struct dc *d)
{
	uint64_t total = (uint64_t)d->parts * d->maxsize;
	struct stat st;

	d->fd = open(d->path, O_RDWR | O_CREAT | (d->parts ? 0 : O_TRUNC), 0644);
	if (d->fd < 0 || fstat(d->fd, &st) < 0)
		goto fail;
	if (d->parts && (uint64_t)st.st_size != total &&
	    ((uint64_t)st.st_size > total || ftruncate(d->fd, (off_t)total) < 0)) {
		fprintf(stderr, "datacheck: %s: size %jd, cannot be made %" PRIu64
			"\n", d->path, (intmax_t)st.st_size, total);
		return -1;
	}
	d->size = d->parts ? total : 0;
	d->afd = open(d->path, O_WRONLY | O_APPEND);
	if (d->afd < 0)
		goto fail;
	if (d->log &&
	    (d->logfd = open(d->log, O_WRONLY | O_APPEND | O_CREAT, 0644)) < 0) {
		fprintf(stderr, "datacheck: %s: %s\n", d->log, strerror(errno));
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "datacheck: %s: %s\n", d->path, strerror(errno));
	return -1;
}

static int setup(struct dc *d)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	if (d->direct && !shim_loaded()) {
		fprintf(stderr, "datacheck: --direct: libholdfs-preload.so is not "
			"loaded (run with LD_PRELOAD=.../libholdfs-preload.so)\n");
		return -1;
	}
	if (open_files(d) < 0)
		return -1;
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
	if (d->parts && d->maxsize % (uint64_t)d->unit) {
		fprintf(stderr, "datacheck: --part: --max-size %" PRIu64 " is not "
			"a multiple of the mapping unit %ld\n", d->maxsize, d->unit);
		return -1;
	}
	if (d->maxlen > d->maxsize)
		d->maxlen = d->maxsize;
	d->lo = (uint64_t)d->part * d->maxsize;
	d->hi = d->lo + d->maxsize;
	d->cap = (d->parts ? d->parts : 1) * d->maxsize + (uint64_t)d->unit;
	d->model = calloc(1, d->cap);
	d->buf = malloc(d->cap);
	if (!d->model || !d->buf || sigaction(SIGBUS, &sa, NULL) < 0) {
		fprintf(stderr, "datacheck: out of memory\n");
		return -1;
	}
	return 0;
}

static void report(const struct dc *d, double secs)
{
	printf("datacheck: ok: %" PRIu64 " operations in %.1f s (", d->ops, secs);
	for (int k = 0, first = 1; k < OP_COUNT; k++) {
		if (!d->count[k])
			continue;
		printf("%s%s %" PRIu64, first ? "" : ", ", op_names[k], d->count[k]);
		first = 0;
	}
	printf("; %" PRIu64 " skipped)\n", d->skipped);
	if (d->direct)
		print_dp_stats();
}

int main(int argc, char **argv)
{
	struct dc d = { .ops = 100000, .maxsize = 256 << 10, .maxlen = 64 << 10,
			.map = MAP_MMAP, .verify_every = 1000, .logfd = -1 };
	const char *check = NULL;
	struct timespec t0, t1;

	d.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (parse(&d, argc, argv, &check) < 0) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_log(check, d.path, d.parts, d.maxsize);
	if (setup(&d) < 0)
		return 2;
	/* writers of one run with one seed draw different sequences */
	d.rng = d.seed + d.part * 0xd1b54a32d192ed03ull;
	printf("datacheck: %s: seed %" PRIu64 ", %" PRIu64 " operations, map "
	       "%s%s%s, unit %ld", d.path, d.seed, d.ops,
	       d.map == MAP_NONE ? "none" : d.map == MAP_MMAP ? "mmap"
				  : "libholdfs", d.dax ? " (dax)" : "",
	       d.direct ? ", direct data path" : "", d.unit);
	if (d.parts)
		printf(", writer %u of %u on [%#" PRIx64 ", %#" PRIx64 ")%s%s",
		       d.part, d.parts, d.lo, d.hi, d.log ? ", log " : "",
		       d.log ? d.log : "");
	printf("\n");
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
	if (d.log)
		log_end(&d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report(&d, (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	close(d.fd);
	close(d.afd);
	free(d.model);
	free(d.buf);
	return 0;
}
