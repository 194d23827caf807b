/* SPDX-License-Identifier: MIT */
/*
 * dp_race: layout changes by one process racing appends and reads of
 * another (test_race.py, docs/data-path.md "Revocation and failures").
 *
 * The file is a sequence of SLOT-byte slots.  Only one process appends,
 * whole records of SLOT bytes each with a sequence number one higher than
 * the last; the other process only truncates (down or up), punches, zeroes
 * or extends with fallocate, always at slot boundaries.  So, whatever the
 * interleaving, at every moment:
 *
 *   - the size is a multiple of SLOT;
 *   - every slot is all zeros or one intact record;
 *   - the records' sequence numbers grow with their offset: a record at
 *     a higher offset than another was appended after it (a truncation
 *     below a record removes it before any later append lands there).
 *
 * A reader that reads the file from offset 0 to end of file, in order,
 * must find the same, even while both others run: what it read at a lower
 * offset it read earlier, so an older record seen at a higher offset
 * would be stale bytes (a removed record read back from a freed block or
 * a stale mapping).  Reads and writes must be whole: a short write, or a
 * read returning a count that is not a multiple of SLOT, is a failure.
 *
 *   dp_race append PATH N SEED   N O_APPEND records, a reader thread
 *                                checking the file the whole time; then a
 *                                last check
 *   dp_race mangle PATH N SEED   N random layout changes
 *   dp_race check PATH           one check pass
 *
 * Exit 0, or 1 with the first problem on stderr; a SIGBUS (never allowed
 * out of a read or write) kills the process with it.  DP_RACE_TRACE=DIR
 * (for diagnosis) logs every change and append there, and a failure
 * stops the mangler while it looks again and prints the last of both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOT 4096u
#define MAGIC 0x43415244u   /* "DRAC" */
/* Slots read per pread in a check pass. */
#define CHUNK_SLOTS 16u
/* The mangler keeps the file below this many slots. */
#define MAX_SLOTS 1024u

static _Atomic bool appending = true;
/* The file the checks read, for a failure report's second look. */
static const char *path_checked = "";

/* DP_RACE_TRACE=DIR (diagnosis, not needed by the test): the mangler
 * writes its pid to DIR/mangler.pid and every change to DIR/ops; a
 * failure stops the mangler (SIGSTOP) before it looks again, so what it
 * reads then is one state of the file, and prints the last changes. */
static void trace_path(char *buf, size_t n, const char *name)
{
	const char *d = getenv("DP_RACE_TRACE");

	snprintf(buf, n, "%s/%s", d ? d : "", name);
}

/* sig to the mangler, if it left its pid (SIGSTOP, then SIGCONT once
 * the report is out). */
/* CLOCK_MONOTONIC in ns: the two trace logs merge into one order. */
static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	       (unsigned long long)ts.tv_nsec;
}

static void signal_mangler(int sig)
{
	char p[4096];
	FILE *f;
	int pid = 0;

	if (!getenv("DP_RACE_TRACE"))
		return;
	trace_path(p, sizeof(p), "mangler.pid");
	f = fopen(p, "r");
	if (f && fscanf(f, "%d", &pid) == 1 && pid > 0)
		kill(pid, sig);
	if (f)
		fclose(f);
}

static void print_tail(const char *name, const char *who)
{
	char p[4096], line[256], ring[120][256];
	unsigned n = 0;
	FILE *f;

	if (!getenv("DP_RACE_TRACE"))
		return;
	trace_path(p, sizeof(p), name);
	f = fopen(p, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		memcpy(ring[n++ % 120], line, sizeof(line));
	fclose(f);
	for (unsigned i = n > 120 ? n - 120 : 0; i < n; i++)
		fprintf(stderr, "dp_race: %s: %s", who, ring[i % 120]);
}

static void print_ops_tail(void)
{
	print_tail("ops", "mangler");
	print_tail("appends", "appender");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dp_race: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Record seq: magic, seq, then words derived from seq and their index. */
static void fill(uint8_t *r, uint64_t seq)
{
	uint32_t m = MAGIC;

	memcpy(r, &m, 4);
	memset(r + 4, 0, 4);
	memcpy(r + 8, &seq, 8);
	for (unsigned i = 2; i < SLOT / 8; i++) {
		uint64_t w = mix(seq * 1024 + i);

		memcpy(r + i * 8, &w, 8);
	}
}

/* 0: all zeros; 1: an intact record (*seq set); -1: neither. */
static int slot_kind(const uint8_t *s, uint64_t *seq)
{
	static _Thread_local uint8_t want[SLOT];
	uint32_t m;

	memcpy(&m, s, 4);
	if (m == MAGIC) {
		memcpy(seq, s + 8, 8);
		fill(want, *seq);
		return memcmp(s, want, SLOT) == 0 ? 1 : -1;
	}
	for (unsigned i = 0; i < SLOT; i++)
		if (s[i])
			return -1;
	return 0;
}

static void dump_slot(const uint8_t *s, uint64_t off)
{
	static _Thread_local uint8_t want[SLOT];
	unsigned first = SLOT, last = 0, differ = 0, zero = 0;
	uint64_t seq;

	memcpy(&seq, s + 8, 8);
	fill(want, seq);
	for (unsigned i = 0; i < SLOT; i++)
		if (s[i] != want[i]) {
			if (first == SLOT)
				first = i;
			last = i;
			differ++;
			zero += !s[i];
		}
	fprintf(stderr, "dp_race: slot at %" PRIu64 ": first bytes", off);
	for (unsigned i = 0; i < 16; i++)
		fprintf(stderr, " %02x", s[i]);
	fprintf(stderr, "; against record %" PRIu64 ": %u bytes differ, in [%u, %u], "
		"%u of them zero\n", seq, differ, first, last, zero);
}

/* What the file holds now at the two offsets of a stale find, and its
 * size then and now: a failure report that tells a stale read from stale
 * content. */
static void stale_report(int fd, const char *what, uint64_t off, uint64_t seq,
			 uint64_t last_off, uint64_t last, off_t size0,
			 uint64_t call_off, ssize_t call_n)
{
	static _Thread_local uint8_t s[SLOT] __attribute__((aligned(4096)));
	uint64_t now[2] = { 0, 0 };
	uint64_t at[2] = { last_off, off };
	struct stat st = { 0 };

	signal_mangler(SIGSTOP);
	fprintf(stderr, "dp_race: failure seen at %llu\n", mono_ns());
	for (int k = 0; k < 2; k++) {
		if (pread(fd, s, SLOT, (off_t)at[k]) == (ssize_t)SLOT &&
		    slot_kind(s, &now[k]) == 0)
			now[k] = 0;
	}
	fstat(fd, &st);
	/* the same two slots as the kernel's page cache and as the daemon
	 * (O_DIRECT) have them, by raw system calls the shim cannot serve */
	for (int direct = 0; direct < 2; direct++) {
		long kfd = syscall(SYS_openat, AT_FDCWD, path_checked,
				   O_RDONLY | (direct ? O_DIRECT : 0));
		uint64_t q[2] = { 0, 0 };
		long got[2] = { -1, -1 };

		if (kfd < 0)
			continue;
		for (int k = 0; k < 2; k++) {
			got[k] = syscall(SYS_pread64, (int)kfd, s, SLOT, (off_t)at[k]);
			if (got[k] == (long)SLOT && slot_kind(s, &q[k]) <= 0)
				q[k] = 0;
		}
		syscall(SYS_close, (int)kfd);
		fprintf(stderr, "dp_race: through the kernel%s: %" PRIu64 " at %" PRIu64
			" (%ld bytes), %" PRIu64 " at %" PRIu64 " (%ld bytes)\n",
			direct ? " with O_DIRECT" : " (page cache)", q[0], at[0], got[0],
			q[1], at[1], got[1]);
	}
	print_ops_tail();
	fprintf(stderr, "dp_race: %s: record %" PRIu64 " at %" PRIu64 " after record %"
		PRIu64 " at %" PRIu64 ", a lower offset: stale bytes (size %lld at the"
		" pass's start, %lld now; the read: %zd bytes at %" PRIu64 "; now %"
		PRIu64 " at %" PRIu64 " and %" PRIu64 " at %" PRIu64 ")\n", what, seq,
		off, last, last_off, (long long)size0, (long long)st.st_size, call_n,
		call_off, now[0], last_off, now[1], off);
	signal_mangler(SIGCONT);
}

/* One pass from offset 0 to end of file; what = who checks. */
static void check_pass(int fd, const char *what)
{
	static _Thread_local uint8_t buf[SLOT * CHUNK_SLOTS];
	uint64_t off = 0, last = 0, last_off = 0, seq;
	bool have_last = false;
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("%s: fstat: %s", what, strerror(errno));
	if (st.st_size % SLOT)
		die("%s: size %lld is not a multiple of %u", what,
		    (long long)st.st_size, SLOT);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n < 0)
			die("%s: pread at %" PRIu64 ": %s", what, off, strerror(errno));
		if (n == 0)
			return;
		if (n % SLOT)
			die("%s: pread at %" PRIu64 " returned %zd bytes, not whole slots",
			    what, off, n);
		for (ssize_t i = 0; i < n; i += SLOT, off += SLOT) {
			int k = slot_kind(buf + i, &seq);

			if (k < 0) {
				signal_mangler(SIGSTOP);
				dump_slot(buf + i, off);
				print_ops_tail();
				signal_mangler(SIGCONT);
				die("%s: slot at %" PRIu64 " is neither zeros nor an intact record",
				    what, off);
			}
			if (k == 0)
				continue;
			if (have_last && seq <= last) {
				stale_report(fd, what, off, seq, last_off, last, st.st_size,
					     off - (uint64_t)i, n);
				exit(1);
			}
			last = seq;
			last_off = off;
			have_last = true;
		}
	}
}

static void *reader(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_RDONLY);
	unsigned long passes = 0;

	if (fd < 0)
		die("reader: open %s: %s", path, strerror(errno));
	path_checked = path;
	while (atomic_load(&appending)) {
		check_pass(fd, "reader");
		passes++;
	}
	close(fd);
	printf("reader passes=%lu\n", passes);
	return NULL;
}

static int do_append(const char *path, unsigned long n)
{
	static uint8_t rec[SLOT];
	int fd = open(path, O_WRONLY | O_APPEND);
	pthread_t th;

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	char tp[4096];
	FILE *log = NULL;

	if (getenv("DP_RACE_TRACE")) {
		trace_path(tp, sizeof(tp), "appends");
		log = fopen(tp, "w");
		if (log)
			setvbuf(log, NULL, _IOLBF, 0);
	}
	if (pthread_create(&th, NULL, reader, (void *)path))
		die("pthread_create failed");
	for (uint64_t seq = 1; seq <= n; seq++) {
		ssize_t w;
		off_t pos;

		unsigned long long t0;

		fill(rec, seq);
		t0 = mono_ns();
		w = write(fd, rec, SLOT);
		if (w != (ssize_t)SLOT)
			die("append %" PRIu64 ": write returned %zd (%s)", seq, w,
			    w < 0 ? strerror(errno) : "short");
		pos = lseek(fd, 0, SEEK_CUR);
		if (log)
			fprintf(log, "%llu-%llu record %" PRIu64 " ends at slot %lld (file offset)\n",
				t0, mono_ns(), seq, (long long)(pos / SLOT));
		if (pos < 0 || pos % SLOT)
			die("append %" PRIu64 ": file offset %lld after it", seq,
			    (long long)pos);
	}
	atomic_store(&appending, false);
	pthread_join(th, NULL);
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	check_pass(fd, "appender");
	close(fd);
	printf("appended=%lu\n", n);
	return 0;
}

static int do_mangle(const char *path, unsigned long n, uint64_t seed)
{
	int fd = open(path, O_RDWR);
	unsigned long counts[5] = { 0 };

	char tp[4096];
	FILE *ops = NULL;

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (getenv("DP_RACE_TRACE")) {
		FILE *pf;

		trace_path(tp, sizeof(tp), "mangler.pid");
		pf = fopen(tp, "w");
		if (pf) {
			fprintf(pf, "%d\n", (int)getpid());
			fclose(pf);
		}
		trace_path(tp, sizeof(tp), "ops");
		ops = fopen(tp, "w");
		if (ops)
			setvbuf(ops, NULL, _IOLBF, 0);
	}
	for (unsigned long i = 0; i < n; i++) {
		uint64_t r = mix(seed + i);
		struct stat st;
		uint64_t slots, at, len;
		unsigned op = (unsigned)(r % 5);
		int res = 0;

		unsigned long long t0 = mono_ns();

		if (fstat(fd, &st) < 0)
			die("mangle: fstat: %s", strerror(errno));
		slots = (uint64_t)st.st_size / SLOT;
		at = slots ? (r >> 8) % (slots + 1) : 0;
		len = 1 + (r >> 24) % 8;
		if (slots > MAX_SLOTS)
			op = 0, at = (r >> 8) % 64;
		switch (op) {
		case 0:  /* truncate down (or to the same size) */
			res = ftruncate(fd, (off_t)(at * SLOT));
			break;
		case 1:  /* truncate up: zeros past the old end */
			res = ftruncate(fd, (off_t)((slots + len) * SLOT));
			break;
		case 2:
			res = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)(at * SLOT), (off_t)(len * SLOT));
			break;
		case 3:
			res = fallocate(fd, FALLOC_FL_ZERO_RANGE | ((r >> 40) & 1 ?
					FALLOC_FL_KEEP_SIZE : 0),
					(off_t)(at * SLOT), (off_t)(len * SLOT));
			break;
		default:  /* allocate, maybe past the end */
			res = fallocate(fd, (r >> 40) & 1 ? FALLOC_FL_KEEP_SIZE : 0,
					(off_t)(at * SLOT), (off_t)(len * SLOT));
			break;
		}
		if (res < 0)
			die("mangle op %u at slot %" PRIu64 " (+%" PRIu64 "): %s", op, at,
			    len, strerror(errno));
		counts[op]++;
		if (ops)
			fprintf(ops, "%llu-%llu change %lu op %u at slot %" PRIu64 " +%" PRIu64
				" (flags %s), size before %" PRIu64 " slots\n", t0, mono_ns(), i, op,
				at, len,
				(r >> 40) & 1 ? "keep" : "-", slots);
		if ((r >> 48) % 4 == 0)
			usleep((useconds_t)((r >> 50) % 2000));
	}
	close(fd);
	printf("truncate_down=%lu truncate_up=%lu punch=%lu zero=%lu allocate=%lu\n",
	       counts[0], counts[1], counts[2], counts[3], counts[4]);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "append"))
		return do_append(argv[2], strtoul(argv[3], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "mangle"))
		return do_mangle(argv[2], strtoul(argv[3], NULL, 0),
				 strtoull(argv[4], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "check")) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0)
			die("open %s: %s", argv[2], strerror(errno));
		path_checked = argv[2];
		check_pass(fd, "check");
		close(fd);
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "usage: dp_race append|mangle PATH N SEED | check PATH\n");
	return 2;
}
