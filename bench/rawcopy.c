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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmemscratch.h"

#define SEQ_BS (1UL << 20)
#define RAND_BS 4096UL

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

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64: cheap enough not to show in a 4 KiB copy */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Run one load for `secs` seconds; returns MiB/s or ops/s. */
static double run_load(const struct scratch_map *m, const struct rc_load *ld,
		       char *buf, double secs)
{
	size_t slots = m->size / ld->bs, slot = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, ops = 0;
	double t0 = bench_now_s(), t;

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
		t = bench_now_s() - t0;
	} while (t < secs);

	if (ld->random)
		return (double)ops / t;
	return (double)ops * (double)ld->bs / (double)(1UL << 20) / t;
}

int main(int argc, char **argv)
{
	struct scratch_map m;
	size_t size;
	double secs;
	char *buf, *end;
	int ret = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: rawcopy FILE SIZE SECONDS\n");
		return 2;
	}
	size = strtoull(argv[2], &end, 10);
	secs = strtod(argv[3], NULL);
	if (*end || size < SEQ_BS || secs < 0) {
		fprintf(stderr, "rawcopy: bad SIZE or SECONDS\n");
		return 2;
	}
	if (scratch_map(&m, argv[1], size & ~(SEQ_BS - 1), "rawcopy"))
		return 1;

	printf("{\"granularity\": \"%s\"", scratch_granularity(&m));
	if (secs > 0) {
		buf = aligned_alloc(4096, SEQ_BS);
		if (!buf) {
			perror("rawcopy: buffer");
			goto out;
		}
		memset(buf, 0xa5, SEQ_BS);
		scratch_prefault(&m);
		for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
			printf(", \"%s\": %.1f", loads[i].name,
			       run_load(&m, &loads[i], buf, secs));
		free(buf);
	}
	printf("}\n");
	ret = fflush(stdout) != 0;
out:
	scratch_unmap(&m);
	return ret;
}
