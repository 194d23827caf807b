/* SPDX-License-Identifier: MIT */
/*
 * rawcopy: the ceiling for data rows — memcpy straight into and out of a
 * region file mapped with libpmem2, no filesystem in between.
 *
 *   rawcopy FILE SIZE SECONDS
 *
 * Creates FILE (SIZE bytes), maps it with libpmem2 and prints one JSON
 * object: the store granularity libpmem2 chose for the mapping (which
 * honours PMEM2_FORCE_GRANULARITY) and, unless SECONDS is 0, the rate of
 * four loads each run for SECONDS:
 *   seqwrite  1 MiB pmem2_memcpy (with its persist) at increasing offsets
 *   seqread   1 MiB memcpy out of the region at increasing offsets
 *   randread  4 KiB memcpy out of the region at random aligned offsets
 *   randwrite 4 KiB pmem2_memcpy (with its persist) at random offsets
 * Sequential rates are MiB/s, random ones operations/s, the units fio
 * reports for the same jobs.  FILE is removed before exit.
 *
 * Built by bench/run-bench.sh at run time; not part of the holdfs build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BS (1UL << 20)
#define RAND_BS 4096UL

struct rc_map {
	char *base;
	size_t size;
	pmem2_memcpy_fn copy;
};

struct rc_load {
	const char *name;
	size_t bs;
	int write;
	int random;
};

static const struct rc_load loads[] = {
	{ "seqwrite", SEQ_BS, 1, 0 },
	{ "seqread", SEQ_BS, 0, 0 },
	{ "randread", RAND_BS, 0, 1 },
	{ "randwrite", RAND_BS, 1, 1 },
};

static volatile unsigned char sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64: cheap enough not to show in a 4 KiB copy */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *gran_name(enum pmem2_granularity g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE: return "BYTE";
	case PMEM2_GRANULARITY_CACHE_LINE: return "CACHE_LINE";
	case PMEM2_GRANULARITY_PAGE: return "PAGE";
	}
	return "unknown";
}

static int fail(const char *what)
{
	fprintf(stderr, "rawcopy: %s: %s\n", what, pmem2_errormsg());
	return 1;
}

/* Run one load for `secs` seconds; returns MiB/s or ops/s. */
static double run_load(const struct rc_map *m, const struct rc_load *ld,
		       char *buf, double secs)
{
	size_t slots = m->size / ld->bs, slot = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, ops = 0;
	double t0 = now_s(), t;

	do {
		for (int k = 0; k < 64; k++, ops++) {
			slot = ld->random ? next_rand(&seed) % slots
					  : (slot + 1) % slots;
			char *p = m->base + slot * ld->bs;
			if (ld->write) {
				m->copy(p, buf, ld->bs, 0);
			} else {
				memcpy(buf, p, ld->bs);
				sink ^= (unsigned char)buf[ops % ld->bs];
			}
		}
		t = now_s() - t0;
	} while (t < secs);

	if (ld->random)
		return (double)ops / t;
	return (double)ops * (double)ld->bs / (double)(1UL << 20) / t;
}

int main(int argc, char **argv)
{
	struct pmem2_config *cfg = NULL;
	struct pmem2_source *src = NULL;
	struct pmem2_map *map = NULL;
	struct rc_map m;
	double secs;
	char *buf, *end;
	int fd, ret = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: rawcopy FILE SIZE SECONDS\n");
		return 2;
	}
	m.size = strtoull(argv[2], &end, 10);
	secs = strtod(argv[3], NULL);
	if (*end || m.size < SEQ_BS || secs < 0) {
		fprintf(stderr, "rawcopy: bad SIZE or SECONDS\n");
		return 2;
	}
	m.size &= ~(SEQ_BS - 1);

	fd = open(argv[1], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "rawcopy: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	unlink(argv[1]);	/* gone at exit, whatever happens */
	if (ftruncate(fd, (off_t)m.size) < 0) {
		fprintf(stderr, "rawcopy: ftruncate: %s\n", strerror(errno));
		goto out;
	}
	if (pmem2_config_new(&cfg) || pmem2_source_from_fd(&src, fd) ||
	    pmem2_config_set_required_store_granularity(cfg,
						PMEM2_GRANULARITY_PAGE) ||
	    pmem2_map_new(&map, cfg, src)) {
		ret = fail("mapping the region file");
		goto out;
	}
	m.base = pmem2_map_get_address(map);
	m.copy = pmem2_get_memcpy_fn(map);

	printf("{\"granularity\": \"%s\"",
	       gran_name(pmem2_map_get_store_granularity(map)));
	if (secs > 0) {
		buf = aligned_alloc(4096, SEQ_BS);
		if (!buf) {
			perror("rawcopy: buffer");
			goto out;
		}
		memset(buf, 0xa5, SEQ_BS);
		/* fault every page in first: that is mkfs's cost, not a copy's */
		pmem2_get_memset_fn(map)(m.base, 0, m.size, 0);
		for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
			printf(", \"%s\": %.1f", loads[i].name,
			       run_load(&m, &loads[i], buf, secs));
		free(buf);
	}
	printf("}\n");
	ret = fflush(stdout) != 0;
out:
	if (map)
		pmem2_map_delete(&map);
	if (src)
		pmem2_source_delete(&src);
	if (cfg)
		pmem2_config_delete(&cfg);
	close(fd);
	return ret;
}
