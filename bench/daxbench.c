/* SPDX-License-Identifier: MIT */
/*
 * daxbench: libholdfs DAX access against a direct libpmem2 mapping of a
 * file of the same kind, in one run (issue 4).
 *
 *   daxbench MNT SCRATCH SHMFILE [SECS]
 *
 * MNT      a mounted holdfs (the bench files are made in it and removed)
 * SCRATCH  a file in the directory of the holdfs region image (made here,
 *          same filesystem, same libpmem2 granularity): the baseline of
 *          rows 1 and 2, mapped with pmem2_map_new
 * SHMFILE  a file on /dev/shm: the baseline of row 3 (mmap/munmap)
 * SECS     seconds per bandwidth measurement (each row takes 3 of
 *          holdfs and 3 of the baseline, alternating; medians) [0.5]
 *
 * Rows (see bench/README.md, "DAX benchmark"):
 *   bw.*      sequential write/read bandwidth, 1 and 2 threads, each thread
 *             its own 256 MiB file (baseline: its own 256 MiB range of
 *             SCRATCH); write = memcpy of 1 MiB + persist of that 1 MiB
 *   append.*  4 KiB store + persist at the next offset of a mapped range
 *   lease.*   holdfs_map + holdfs_unmap of a whole 1 GiB file
 *   revoke.*  truncate of a file whose 4 KiB units are leased by 8 client
 *             processes, until every client's revoke handler ran
 *
 * Prints one JSON object with every row on stdout; progress on stderr.
 * Built by bench/dax-bench.sh at run time; not part of the holdfs build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <holdfs/holdfs.h>
#include <libpmem2.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024)
#define BW_FILE (256 * MIB)
#define CHUNK MIB
#define APPEND_N 16384
#define APPEND_SZ 4096UL
#define LEASE_FILE (1024 * MIB)
#define LEASE_REPS 20
#define NPROC 8

static const char *mnt, *scratch, *shmfile;
static double secs = 0.5;
static int nrows;
static char rows[64][512];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "daxbench: %s: %s\n", what, strerror(err));
	exit(1);
}

static void say(const char *msg)
{
	fprintf(stderr, "daxbench: %s\n", msg);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_d);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* better: 'h' higher is better, 'l' lower is better; target < 0: none. */
static void row(const char *name, const char *unit, double h, double b,
		char better, double target, const char *note)
{
	char tgt[32] = "null";

	if (target >= 0)
		snprintf(tgt, sizeof(tgt), "%.3f", target);
	if (nrows < 64)
		snprintf(rows[nrows++], sizeof(rows[0]),
			 "{\"row\":\"%s\",\"unit\":\"%s\",\"holdfs\":%.6g,"
			 "\"baseline\":%.6g,\"ratio\":%.4f,\"better\":\"%s\","
			 "\"target\":%s,\"note\":\"%s\"}",
			 name, unit, h, b, b > 0 && h >= 0 ? h / b : 0,
			 better == 'h' ? "higher" : "lower", tgt, note);
	fprintf(stderr, "daxbench: %-22s holdfs %.4g %s, baseline %.4g\n",
		name, h, unit, b);
}

static int mkfile(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int r;

	if (fd < 0)
		die(path, errno);
	if (size && (r = posix_fallocate(fd, 0, size)))
		die("fallocate", r);
	return fd;
}

/* ---- libpmem2 mapping of SCRATCH ----------------------------------------- */

static struct pmem2_map *raw_map;
static uint8_t *raw_base;
static pmem2_persist_fn raw_persist;
static int raw_fd = -1;
static const char *gran_name = "?";

static void raw_open(size_t size)
{
	struct pmem2_source *src;
	struct pmem2_config *cfg;

	raw_fd = mkfile(scratch, (off_t)size);
	if (pmem2_source_from_fd(&src, raw_fd) || pmem2_config_new(&cfg) ||
	    pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) ||
	    pmem2_map_new(&raw_map, cfg, src)) {
		fprintf(stderr, "daxbench: pmem2: %s\n", pmem2_errormsg());
		exit(1);
	}
	pmem2_config_delete(&cfg);
	pmem2_source_delete(&src);
	raw_base = pmem2_map_get_address(raw_map);
	raw_persist = pmem2_get_persist_fn(raw_map);
	switch (pmem2_map_get_store_granularity(raw_map)) {
	case PMEM2_GRANULARITY_BYTE: gran_name = "BYTE"; break;
	case PMEM2_GRANULARITY_CACHE_LINE: gran_name = "CACHE_LINE"; break;
	case PMEM2_GRANULARITY_PAGE: gran_name = "PAGE"; break;
	}
}

static void raw_close(void)
{
	pmem2_map_delete(&raw_map);
	close(raw_fd);
	unlink(scratch);
}

/* ---- 1. bandwidth --------------------------------------------------------- */

struct bw_arg {
	int holdfs, write, idx;
	uint8_t *base;
	struct holdfs_mapping *m;
	pthread_barrier_t *bar;
	double rate; /* bytes/s */
	int err;
};

static uint8_t *srcbuf[2], *dstbuf[2];

static int bw_pass(struct bw_arg *a)
{
	size_t off;
	int r;

	for (off = 0; off < BW_FILE; off += CHUNK) {
		if (a->write) {
			memcpy(a->base + off, srcbuf[a->idx], CHUNK);
			if (a->holdfs) {
				r = holdfs_persist(a->m, a->base + off, CHUNK);
				if (r)
					return r;
			} else {
				raw_persist(a->base + off, CHUNK);
			}
		} else {
			memcpy(dstbuf[a->idx], a->base + off, CHUNK);
			__asm__ volatile("" ::"r"(dstbuf[a->idx]) : "memory");
		}
	}
	return 0;
}

static void *bw_thread(void *p)
{
	struct bw_arg *a = p;
	double t0, t = 0;
	size_t bytes = 0;

	pthread_barrier_wait(a->bar);
	t0 = now();
	do {
		if ((a->err = bw_pass(a)))
			break;
		bytes += BW_FILE;
	} while ((t = now()) - t0 < secs);
	a->rate = (double)bytes / (t - t0);
	return NULL;
}

static double bw_run(int holdfs, int write, int nt, uint8_t **bases,
		     struct holdfs_mapping **ms)
{
	pthread_t th[2];
	struct bw_arg a[2];
	pthread_barrier_t bar;
	double total = 0;
	int i;

	pthread_barrier_init(&bar, NULL, (unsigned)nt);
	for (i = 0; i < nt; i++) {
		a[i] = (struct bw_arg){ .holdfs = holdfs, .write = write, .idx = i,
					.base = bases[i], .m = ms ? ms[i] : NULL,
					.bar = &bar };
		pthread_create(&th[i], NULL, bw_thread, &a[i]);
	}
	for (i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		if (a[i].err)
			die("holdfs_persist", -a[i].err);
		total += a[i].rate;
	}
	pthread_barrier_destroy(&bar);
	return total / MIB;
}

static void bench_bw(void)
{
	struct holdfs_mapping *ms[2];
	uint8_t *hb[2], *rb[2];
	char path[2][4096];
	int fd[2], i, r, nt, w;

	say("bandwidth: 2 x 256 MiB holdfs files, 2 x 256 MiB of the scratch file");
	for (i = 0; i < 2; i++) {
		srcbuf[i] = aligned_alloc(4096, CHUNK);
		dstbuf[i] = aligned_alloc(4096, CHUNK);
		memset(srcbuf[i], 0x5a + i, CHUNK);
		memset(dstbuf[i], 0, CHUNK);
		snprintf(path[i], sizeof(path[i]), "%s/daxbench.bw%d", mnt, i);
		fd[i] = mkfile(path[i], BW_FILE);
		r = holdfs_map(fd[i], 0, BW_FILE, PROT_READ | PROT_WRITE, 0, &ms[i]);
		if (r)
			die("holdfs_map (bandwidth file)", -r);
		hb[i] = holdfs_addr(ms[i]);
		rb[i] = raw_base + (size_t)i * BW_FILE;
	}
	/* Untimed first pass: page-table population of both mappings. */
	{
		struct bw_arg wa = { .holdfs = 1, .write = 1 };
		for (i = 0; i < 2; i++) {
			wa.idx = i;
			wa.base = hb[i];
			wa.m = ms[i];
			wa.holdfs = 1;
			if ((r = bw_pass(&wa)))
				die("holdfs_persist", -r);
			wa.base = rb[i];
			wa.holdfs = 0;
			bw_pass(&wa);
		}
	}
	for (w = 1; w >= 0; w--)
		for (nt = 1; nt <= 2; nt++) {
			double hv[3], bv[3], h, b;
			char name[64];

			/* Alternate holdfs and baseline three times, take
			 * each side's median: on a shared 2-CPU machine one
			 * long run of each drifts with the other load. */
			for (i = 0; i < 3; i++) {
				hv[i] = bw_run(1, w, nt, hb, ms);
				bv[i] = bw_run(0, w, nt, rb, NULL);
			}
			h = pct(hv, 3, 0.5);
			b = pct(bv, 3, 0.5);

			snprintf(name, sizeof(name), "bw.seq%s.%dthread",
				 w ? "write" : "read", nt);
			row(name, "MiB/s", h, b, 'h', 0.95,
			    w ? "memcpy 1 MiB + persist per 1 MiB chunk" :
				"memcpy 1 MiB out of the mapping");
		}
	for (i = 0; i < 2; i++) {
		holdfs_unmap(ms[i]);
		close(fd[i]);
		unlink(path[i]);
		free(srcbuf[i]);
		free(dstbuf[i]);
	}
}

/* ---- 2. append latency ---------------------------------------------------- */

static void bench_append(void)
{
	struct holdfs_mapping *m;
	char path[4096];
	double *lh = malloc(APPEND_N * sizeof(double));
	double *lf = malloc(APPEND_N * sizeof(double));
	double *lb = malloc(APPEND_N * sizeof(double));
	uint8_t *src = aligned_alloc(4096, APPEND_SZ), *hb, *rb;
	size_t len = APPEND_N * APPEND_SZ, i;
	double t0, mh, mf, mb, ph, pf, pb;
	int fd, r;

	say("append: 16384 x 4 KiB store + persist, holdfs vs scratch mapping");
	memset(src, 0xa5, APPEND_SZ);
	snprintf(path, sizeof(path), "%s/daxbench.append", mnt);
	fd = mkfile(path, (off_t)len);
	if ((r = holdfs_map(fd, 0, len, PROT_READ | PROT_WRITE, 0, &m)))
		die("holdfs_map (append file)", -r);
	hb = holdfs_addr(m);
	/* Baseline range: beyond the 512 MiB the bandwidth rows used, as
	 * untouched in this mapping as the holdfs file's range is in its. */
	rb = raw_base + 2 * BW_FILE;
	for (i = 0; i < APPEND_N; i++) {
		t0 = now();
		memcpy(hb + i * APPEND_SZ, src, APPEND_SZ);
		if ((r = holdfs_persist(m, hb + i * APPEND_SZ, APPEND_SZ)))
			die("holdfs_persist", -r);
		lh[i] = now() - t0;
	}
	for (i = 0; i < APPEND_N; i++) {
		t0 = now();
		memcpy(rb + i * APPEND_SZ, src, APPEND_SZ);
		raw_persist(rb + i * APPEND_SZ, APPEND_SZ);
		lb[i] = now() - t0;
	}
	/* Flush only: the API has no flush-only call.  Measure what
	 * holdfs_persist runs before PERSISTED: libpmem2's persist function
	 * for this granularity (a plain function of the address, not of the
	 * map) applied to the DAX address, in a fresh lease of the same
	 * file so its page tables start as empty as in the first pass. */
	holdfs_unmap(m);
	if ((r = holdfs_map(fd, 0, len, PROT_READ | PROT_WRITE, 0, &m)))
		die("holdfs_map (append file)", -r);
	hb = holdfs_addr(m);
	for (i = 0; i < APPEND_N; i++) {
		t0 = now();
		memcpy(hb + i * APPEND_SZ, src, APPEND_SZ);
		raw_persist(hb + i * APPEND_SZ, APPEND_SZ);
		lf[i] = now() - t0;
	}
	holdfs_unmap(m);
	close(fd);
	unlink(path);
	mh = pct(lh, APPEND_N, 0.5) * 1e6;
	ph = pct(lh, APPEND_N, 0.99) * 1e6;
	mf = pct(lf, APPEND_N, 0.5) * 1e6;
	pf = pct(lf, APPEND_N, 0.99) * 1e6;
	mb = pct(lb, APPEND_N, 0.5) * 1e6;
	pb = pct(lb, APPEND_N, 0.99) * 1e6;
	row("append4k.persist.p50", "us", mh, mb, 'l', 1.2,
	    "store + holdfs_persist (flush + PERSISTED round trip)");
	row("append4k.persist.p99", "us", ph, pb, 'l', 1.2,
	    "store + holdfs_persist (flush + PERSISTED round trip)");
	row("append4k.flushonly.p50", "us", mf, mb, 'l', 1.2,
	    "store + libpmem2 persist on the DAX address (no API call)");
	row("append4k.flushonly.p99", "us", pf, pb, 'l', 1.2,
	    "store + libpmem2 persist on the DAX address (no API call)");
	free(lh);
	free(lf);
	free(lb);
	free(src);
}

/* ---- 3. lease setup + teardown ------------------------------------------- */

static void bench_lease(void)
{
	double th[LEASE_REPS], tb[LEASE_REPS], t0;
	struct holdfs_mapping *m;
	char path[4096];
	int fd, sfd, i, r;
	void *p;

	say("lease: holdfs_map + holdfs_unmap of 1 GiB vs mmap + munmap of 1 GiB on /dev/shm");
	snprintf(path, sizeof(path), "%s/daxbench.lease", mnt);
	fd = mkfile(path, LEASE_FILE);
	sfd = mkfile(shmfile, LEASE_FILE);
	for (i = 0; i < LEASE_REPS; i++) {
		t0 = now();
		if ((r = holdfs_map(fd, 0, LEASE_FILE, PROT_READ | PROT_WRITE, 0, &m)))
			die("holdfs_map (1 GiB)", -r);
		if ((r = holdfs_unmap(m)))
			die("holdfs_unmap (1 GiB)", -r);
		th[i] = now() - t0;
		t0 = now();
		p = mmap(NULL, LEASE_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
		if (p == MAP_FAILED)
			die("mmap", errno);
		munmap(p, LEASE_FILE);
		tb[i] = now() - t0;
	}
	close(fd);
	unlink(path);
	close(sfd);
	unlink(shmfile);
	row("lease.map+unmap.1GiB.p50", "us", pct(th, LEASE_REPS, 0.5) * 1e6,
	    pct(tb, LEASE_REPS, 0.5) * 1e6, 'l', -1,
	    "preallocated file; baseline mmap+munmap of a /dev/shm file");
}

/* ---- 4. revocation -------------------------------------------------------- */

static atomic_long rv_count;
static long rv_want;
static _Atomic double rv_last;
static sem_t rv_done;

static void rv_handler(void *ctx, const struct holdfs_revoke_event *ev)
{
	double t = now();

	(void)ctx;
	(void)ev;
	/* Only this (listener) thread writes rv_last. */
	if (t > rv_last)
		rv_last = t;
	/* wake the waiting main thread once, at the last one: no polling
	 * thread competes with the 8 listeners for the CPUs */
	if (atomic_fetch_add(&rv_count, 1) + 1 == rv_want)
		sem_post(&rv_done);
}

/* Child k of NPROC: lease units k, k+NPROC, ... of path (nunits units of
 * unit bytes), say "ready" on wfd, wait for all revocations, report the
 * time of the last one, then release everything. */
static void rv_child(const char *path, long nunits, long unit, int k, int wfd,
		     int rfd)
{
	long n = 0, i, mine = 0;
	struct holdfs_mapping **ms;
	double msg;
	int fd, r;
	char c;

	for (i = k; i < nunits; i += NPROC)
		mine++;
	ms = calloc((size_t)mine + 1, sizeof(*ms));
	rv_want = mine;
	sem_init(&rv_done, 0, 0);
	holdfs_set_revoke_handler(rv_handler, NULL);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path, errno);
	for (i = k; i < nunits; i += NPROC) {
		if ((r = holdfs_map(fd, (uint64_t)(i * unit), (size_t)unit,
				    PROT_READ | PROT_WRITE, 0, &ms[n])))
			die("holdfs_map (revoke lease)", -r);
		n++;
	}
	msg = (double)n;
	if (write(wfd, &msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	if (read(rfd, &c, 1) != 1) /* truncate has started */
		_exit(1);
	if (n) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 10;
		while (sem_timedwait(&rv_done, &dl) < 0 && errno == EINTR)
			;
	}
	msg = atomic_load(&rv_count) < n ? -1 : n ? rv_last : 0;
	if (write(wfd, &msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	for (i = 0; i < n; i++)
		holdfs_unmap(ms[i]);
	close(fd);
	_exit(0);
}

static void bench_revoke(void)
{
	static const long counts[] = { 1, 100, 10000 };
	char path[4096];
	long unit;
	size_t ci;
	int fd;

	snprintf(path, sizeof(path), "%s/daxbench.revoke", mnt);
	for (ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
		long n = counts[ci];
		int reps = n >= 10000 ? 3 : 5, rep, k, failed = 0, killed = 0;
		double all[5], ret[5], base[5];
		char name[64], note[160];

		fprintf(stderr, "daxbench: revoke: %ld leases over %d processes, %d runs\n",
			n, NPROC, reps);
		for (rep = 0; rep < reps; rep++) {
			int up[NPROC][2], down[2];
			pid_t pid[NPROC];
			double t0, t1, msg, mx = 0;
			int st;

			/* the unit size: ask in a child so this process never
			 * connects (the children are forked from it) */
			fd = mkfile(path, 0);
			unit = 4096;
			if (posix_fallocate(fd, 0, (off_t)(n * unit)))
				die("fallocate", errno);
			if (pipe(down))
				die("pipe", errno);
			for (k = 0; k < NPROC; k++) {
				if (pipe(up[k]))
					die("pipe", errno);
				pid[k] = fork();
				if (pid[k] < 0)
					die("fork", errno);
				if (!pid[k]) {
					close(down[1]);
					close(up[k][0]);
					rv_child(path, n, unit, k, up[k][1], down[0]);
				}
				close(up[k][1]);
			}
			close(down[0]);
			for (k = 0; k < NPROC; k++)
				if (read(up[k][0], &msg, sizeof(msg)) != sizeof(msg))
					die("child setup", EPIPE);
			/* Release the children to wait, then truncate. */
			{
				char go[NPROC];
				memset(go, 'g', sizeof(go));
				if (write(down[1], go, sizeof(go)) != sizeof(go))
					die("pipe", errno);
			}
			t0 = now();
			if (ftruncate(fd, 0))
				die("ftruncate", errno);
			t1 = now();
			for (k = 0; k < NPROC; k++) {
				/* EOF: the daemon killed the client (it did
				 * not ack within revoke_ms); -1: no revoke
				 * within 10 s. */
				if (read(up[k][0], &msg, sizeof(msg)) != sizeof(msg) ||
				    msg < 0)
					failed++;
				else if (msg > mx)
					mx = msg;
				close(up[k][0]);
			}
			close(down[1]);
			for (k = 0; k < NPROC; k++) {
				waitpid(pid[k], &st, 0);
				if (WIFSIGNALED(st))
					killed++;
			}
			all[rep] = mx - t0;
			ret[rep] = t1 - t0;
			/* baseline: the same truncate with no leases */
			if (posix_fallocate(fd, 0, (off_t)(n * unit)))
				die("fallocate", errno);
			t0 = now();
			if (ftruncate(fd, 0))
				die("ftruncate", errno);
			base[rep] = now() - t0;
			close(fd);
			unlink(path);
			if (failed) {
				reps = rep + 1;
				break;
			}
		}
		snprintf(name, sizeof(name), "revoke.%ld.all_handled.p50", n);
		snprintf(note, sizeof(note),
			 "truncate start -> last client revoke handler; baseline "
			 "truncate without leases; %d runs", reps);
		if (failed) {
			snprintf(note, sizeof(note),
				 "FAILED: %d of %d client runs got no full revocation "
				 "(%d killed by the daemon: no ack within revoke_ms)",
				 failed, reps * NPROC, killed);
			fprintf(stderr, "daxbench: %s: %s\n", name, note);
		}
		row(name, "us", failed ? -1 : pct(all, (size_t)reps, 0.5) * 1e6,
		    pct(base, (size_t)reps, 0.5) * 1e6, 'l', -1, note);
		snprintf(name, sizeof(name), "revoke.%ld.truncate_ret.p50", n);
		row(name, "us", pct(ret, (size_t)reps, 0.5) * 1e6,
		    pct(base, (size_t)reps, 0.5) * 1e6, 'l', -1,
		    "truncate(2) call to return (does not wait for acks)");
	}
}

/* BENCH_ROWS: comma-separated groups to run (revoke,bw,append,lease);
 * unset or empty: all. */
static int want(const char *group)
{
	const char *rows = getenv("BENCH_ROWS"), *p;
	size_t n = strlen(group);

	if (!rows || !*rows)
		return 1;
	for (p = rows; (p = strstr(p, group)); p += n)
		if ((p == rows || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int i;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: daxbench MNT SCRATCH SHMFILE [SECS]\n");
		return 2;
	}
	mnt = argv[1];
	scratch = argv[2];
	shmfile = argv[3];
	if (argc == 5 && (secs = atof(argv[4])) <= 0)
		secs = 0.5;
	signal(SIGPIPE, SIG_IGN);
	/* Revocation first: its 8 clients are forked from this process,
	 * which must not have a daemon connection yet. */
	if (want("revoke"))
		bench_revoke();
	raw_open(2 * BW_FILE + APPEND_N * APPEND_SZ);
	if (want("bw"))
		bench_bw();
	if (want("append"))
		bench_append();
	raw_close();
	if (want("lease"))
		bench_lease();
	printf("{\"granularity\":\"%s\",\"secs\":%g,\"rows\":[", gran_name, secs);
	for (i = 0; i < nrows; i++)
		printf("%s%s", i ? "," : "", rows[i]);
	printf("]}\n");
	return 0;
}
