/* SPDX-License-Identifier: MIT */
/*
 * pmemscratch.h: a scratch file mapped with libpmem2, the "raw" side of
 * bench/rawcopy.c and bench/lat.c, and the clock they read.  Header only:
 * the bench programs are single files compiled by bench/run-bench.sh
 * (gcc -I bench ... $(pkg-config --libs libpmem2)).
 *
 * The file is created (O_EXCL) and unlinked at once, so it is gone at
 * exit whatever happens; the mapping asks for PAGE store granularity,
 * which every mapping satisfies: libpmem2 then picks the finest the
 * file's medium offers (PMEM2_FORCE_GRANULARITY overrides, as for the
 * holdfs daemon's region mapping).
 */
#ifndef HOLDFS_BENCH_PMEMSCRATCH_H
#define HOLDFS_BENCH_PMEMSCRATCH_H

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct scratch_map {
	char *base;
	size_t size;
	pmem2_memcpy_fn copy;	/* with its persist unless flags say not */
	pmem2_memset_fn set;
	int fd;
	struct pmem2_config *cfg;
	struct pmem2_source *src;
	struct pmem2_map *map;
};

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void scratch_unmap(struct scratch_map *m)
{
	if (m->map)
		pmem2_map_delete(&m->map);
	if (m->src)
		pmem2_source_delete(&m->src);
	if (m->cfg)
		pmem2_config_delete(&m->cfg);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* Create PATH with SIZE bytes and map it; 0, or -1 after a message
 * prefixed with PROG on stderr (m is then unmapped). */
static inline int scratch_map(struct scratch_map *m, const char *path,
			      size_t size, const char *prog)
{
	memset(m, 0, sizeof(*m));
	m->size = size;
	m->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	unlink(path);
	if (ftruncate(m->fd, (off_t)size) < 0) {
		fprintf(stderr, "%s: ftruncate: %s\n", prog, strerror(errno));
		scratch_unmap(m);
		return -1;
	}
	if (pmem2_config_new(&m->cfg) || pmem2_source_from_fd(&m->src, m->fd) ||
	    pmem2_config_set_required_store_granularity(m->cfg,
						PMEM2_GRANULARITY_PAGE) ||
	    pmem2_map_new(&m->map, m->cfg, m->src)) {
		fprintf(stderr, "%s: mapping %s: %s\n", prog, path,
			pmem2_errormsg());
		scratch_unmap(m);
		return -1;
	}
	m->base = pmem2_map_get_address(m->map);
	m->copy = pmem2_get_memcpy_fn(m->map);
	m->set = pmem2_get_memset_fn(m->map);
	return 0;
}

/* Fault every page in first: a page's first touch is not a copy's cost
 * (rawcopy counts it as mkfs's). */
static inline void scratch_prefault(const struct scratch_map *m)
{
	m->set(m->base, 0, m->size, 0);
}

static inline const char *scratch_granularity(const struct scratch_map *m)
{
	switch (pmem2_map_get_store_granularity(m->map)) {
	case PMEM2_GRANULARITY_BYTE: return "BYTE";
	case PMEM2_GRANULARITY_CACHE_LINE: return "CACHE_LINE";
	case PMEM2_GRANULARITY_PAGE: return "PAGE";
	}
	return "unknown";
}

#endif
