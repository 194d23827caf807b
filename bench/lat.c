/* SPDX-License-Identifier: MIT */
/*
 * lat: per-operation latency of the small calls the direct data path
 * (docs/data-path.md) is meant to speed up, and their raw baseline.
 *
 *   lat append FILE N WARMUP   write(4 KiB) + fsync on an O_APPEND file
 *   lat raw FILE N WARMUP      the same loop as pmem2_memcpy (with its
 *                              persist) of 4 KiB into a libpmem2 mapping
 *   lat small DIR K PASSES     open + read 4 KiB + close of K small files
 *
 * append: creates FILE (O_WRONLY|O_APPEND|O_CREAT|O_EXCL), runs WARMUP
 *   iterations of write(fd, 4 KiB) + fsync(fd), then N timed ones; FILE
 *   is removed at the end.
 * raw: creates FILE of (WARMUP + N) x 4 KiB, maps it with libpmem2 (every
 *   page faulted in first), and copies 4 KiB with pmem2_memcpy, which
 *   persists, at an offset advancing by 4 KiB per iteration: an append
 *   into memory that needs no filesystem.  FILE is gone at exit.
 * small: makes DIR/lat-small.<pid> with K files of 4 KiB (written with
 *   open/write/close, not timed), one untimed pass over them, then PASSES
 *   timed passes of open(path, O_RDONLY) + read 4 KiB + close per file;
 *   removes them all.
 *
 * Every iteration is timed on its own with clock_gettime(CLOCK_MONOTONIC).
 * Prints one JSON object: "n" (timed operations), "p50_us", "p99_us",
 * "mean_us", "max_us", and "ops_per_s" (timed operations over the wall
 * time of the timed loop); raw adds "granularity", libpmem2's store
 * granularity of its mapping.  Any failing call ends the run with the
 * call, the path and errno, and a non-zero exit.
 *
 * Built by bench/run-bench.sh at run time; not part of the holdfs build.
 * run-bench.sh runs it with and without LD_PRELOAD=libholdfs-preload.so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmemscratch.h"

#define BS 4096UL

struct sample {
	double *t;	/* seconds per timed operation */
	long n;
	double wall;	/* seconds over the whole timed loop */
};

static void die(const char *call, const char *path)
{
	fprintf(stderr, "lat: %s %s: %s\n", call, path, strerror(errno));
	exit(1);
}

static void *xalloc(size_t n)
{
	void *p = aligned_alloc(BS, (n + BS - 1) / BS * BS);

	if (!p) {
		perror("lat: memory");
		exit(1);
	}
	return p;
}

static long arg_count(const char *s, const char *what, long min)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < min || v > 100000000L) {
		fprintf(stderr, "lat: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]. */
static double pct(const double *v, long n, double p)
{
	long k = (long)(p * (double)n + 0.999999);

	return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

static int report(struct sample *s, const char *extra)
{
	double sum = 0;

	for (long i = 0; i < s->n; i++)
		sum += s->t[i];
	qsort(s->t, (size_t)s->n, sizeof(*s->t), cmp_double);
	printf("{\"n\": %ld, \"p50_us\": %.3f, \"p99_us\": %.3f, "
	       "\"mean_us\": %.3f, \"max_us\": %.3f, \"ops_per_s\": %.1f%s}\n",
	       s->n, pct(s->t, s->n, 0.50) * 1e6, pct(s->t, s->n, 0.99) * 1e6,
	       sum / (double)s->n * 1e6, s->t[s->n - 1] * 1e6,
	       (double)s->n / s->wall, extra);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("lat: stdout");
		return 1;
	}
	return 0;
}

static int run_append(const char *path, long n, long warm)
{
	struct sample s = { xalloc((size_t)n * sizeof(double)), n, 0 };
	char *buf = xalloc(BS);
	double t0, t1, start = 0;
	int fd;

	memset(buf, 0x5a, BS);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
		  0644);
	if (fd < 0)
		die("open", path);
	for (long i = -warm; i < n; i++) {
		if (i == 0)
			start = bench_now_s();
		t0 = bench_now_s();
		if (write(fd, buf, BS) != (ssize_t)BS)
			die("write", path);
		if (fsync(fd) < 0)
			die("fsync", path);
		t1 = bench_now_s();
		if (i >= 0)
			s.t[i] = t1 - t0;
	}
	s.wall = bench_now_s() - start;
	if (close(fd) < 0)
		die("close", path);
	if (unlink(path) < 0)
		die("unlink", path);
	return report(&s, "");
}

static int run_raw(const char *path, long n, long warm)
{
	struct sample s = { xalloc((size_t)n * sizeof(double)), n, 0 };
	struct scratch_map m;
	char extra[64], *buf = xalloc(BS), *p;
	double t0, t1, start = 0;
	int ret;

	memset(buf, 0x5a, BS);
	if (scratch_map(&m, path, (size_t)(n + warm) * BS, "lat"))
		return 1;
	scratch_prefault(&m);
	p = m.base;
	for (long i = -warm; i < n; i++, p += BS) {
		if (i == 0)
			start = bench_now_s();
		t0 = bench_now_s();
		m.copy(p, buf, BS, 0);
		t1 = bench_now_s();
		if (i >= 0)
			s.t[i] = t1 - t0;
	}
	s.wall = bench_now_s() - start;
	snprintf(extra, sizeof(extra), ", \"granularity\": \"%s\"",
		 scratch_granularity(&m));
	ret = report(&s, extra);
	scratch_unmap(&m);
	return ret;
}

/* One open + read 4 KiB + close of path into buf. */
static void small_read(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("open", path);
	if (read(fd, buf, BS) != (ssize_t)BS)
		die("read", path);
	if (close(fd) < 0)
		die("close", path);
}

static int run_small(const char *dir, long k, long passes)
{
	struct sample s = { xalloc((size_t)(k * passes) * sizeof(double)),
			    k * passes, 0 };
	char *buf = xalloc(BS), sub[4096], **name = xalloc((size_t)k * sizeof(char *));
	double t0, t1, start;
	int fd;

	snprintf(sub, sizeof(sub), "%s/lat-small.%ld", dir, (long)getpid());
	if (mkdir(sub, 0755) < 0)
		die("mkdir", sub);
	memset(buf, 0x5a, BS);
	for (long i = 0; i < k; i++) {
		if (asprintf(&name[i], "%s/f%07ld", sub, i) < 0) {
			perror("lat: memory");
			exit(1);
		}
		fd = open(name[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  0644);
		if (fd < 0)
			die("create", name[i]);
		if (write(fd, buf, BS) != (ssize_t)BS)
			die("write", name[i]);
		if (close(fd) < 0)
			die("close", name[i]);
	}
	for (long i = 0; i < k; i++)
		small_read(name[i], buf);
	start = bench_now_s();
	for (long p = 0; p < passes; p++) {
		for (long i = 0; i < k; i++) {
			t0 = bench_now_s();
			small_read(name[i], buf);
			t1 = bench_now_s();
			s.t[p * k + i] = t1 - t0;
		}
	}
	s.wall = bench_now_s() - start;
	for (long i = 0; i < k; i++) {
		if (unlink(name[i]) < 0)
			die("unlink", name[i]);
		free(name[i]);
	}
	if (rmdir(sub) < 0)
		die("rmdir", sub);
	return report(&s, "");
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: lat append FILE N WARMUP\n"
				"       lat raw FILE N WARMUP\n"
				"       lat small DIR K PASSES\n");
		return 2;
	}
	if (!strcmp(argv[1], "append"))
		return run_append(argv[2], arg_count(argv[3], "N", 1),
				  arg_count(argv[4], "WARMUP", 0));
	if (!strcmp(argv[1], "raw"))
		return run_raw(argv[2], arg_count(argv[3], "N", 1),
			       arg_count(argv[4], "WARMUP", 0));
	if (!strcmp(argv[1], "small"))
		return run_small(argv[2], arg_count(argv[3], "K", 1),
				 arg_count(argv[4], "PASSES", 1));
	fprintf(stderr, "lat: unknown mode %s\n", argv[1]);
	return 2;
}
