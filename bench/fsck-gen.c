/* SPDX-License-Identifier: MIT */
/*
 * fsck-gen: populate a region file with N empty files, fast, for the fsck
 * benchmark (bench/fsck-bench.sh).
 *
 *   fsck-gen -f FILES -s BYTES [-N INODES] [-k PER_DIR] REGION
 *
 * Works through the lib API (hfs_mkfs, hfs_vol_open, hfs_mknod, ...) on a
 * sparse anonymous mapping rather than through FUSE or a mapped file (a
 * persist per operation on a file mapping is an msync), then writes only
 * the pages that were written (tracing persistence ops) into REGION, a
 * sparse file of BYTES.  Files go K per directory (default 1000) under
 * /dNNNNN.  Prints the time taken to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mkfs.h"
#include "vol.h"

#define PAGE 4096u

static uint8_t *base;
static uint64_t size;
static uint64_t *dirty; /* bitmap of written pages */

static void mark(const void *addr, size_t len)
{
	uint64_t a = (uint64_t)((const uint8_t *)addr - base);

	if (!len || (const uint8_t *)addr < base || a >= size)
		return;
	for (uint64_t p = a / PAGE; p <= (a + len - 1) / PAGE; p++)
		dirty[p / 64] |= 1ull << (p % 64);
}

static void t_flush(const void *addr, size_t len) { mark(addr, len); }
static void t_drain(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static void t_persist(const void *addr, size_t len) { mark(addr, len); }

static void *t_memcpy(void *d, const void *s, size_t n, unsigned flags)
{
	(void)flags;
	mark(d, n);
	return memcpy(d, s, n);
}

static void *t_memset(void *d, int c, size_t n, unsigned flags)
{
	(void)flags;
	mark(d, n);
	return memset(d, c, n);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int populate(struct hfs_vol *vol, uint64_t files, uint64_t per_dir)
{
	static const struct hfs_cred cred = { 0, 0, 0, NULL, 0 };
	struct hfs_attr a;
	uint64_t dir = 0;
	char name[32];
	int ret = 0;

	for (uint64_t i = 0; i < files && !ret; i++) {
		if (i % per_dir == 0) {
			snprintf(name, sizeof(name), "d%05llu",
				 (unsigned long long)(i / per_dir));
			ret = hfs_mkdir(vol, 1, name, 0755, &cred, &a);
			if (ret)
				break;
			hfs_forget(vol, a.ino, 1);
			dir = a.ino;
		}
		snprintf(name, sizeof(name), "f%07llu", (unsigned long long)i);
		ret = hfs_mknod(vol, dir, name, S_IFREG | 0644, 0, &cred, &a);
		if (!ret)
			hfs_forget(vol, a.ino, 1);
	}
	return ret;
}

/* Write the dirty pages into a sparse file of the region's size. */
static int dump(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint64_t pages = size / PAGE;

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -errno;
	for (uint64_t p = 0; p < pages; p++) {
		if (!(dirty[p / 64] >> (p % 64) & 1))
			continue;
		if (pwrite(fd, base + p * PAGE, PAGE, (off_t)(p * PAGE)) != PAGE) {
			close(fd);
			return -EIO;
		}
	}
	return close(fd) ? -errno : 0;
}

int main(int argc, char **argv)
{
	uint64_t files = 0, inodes = 0, per_dir = 1000;
	struct hfs_mkfs_opts mo = { .label = "fsck-bench" };
	struct hfs_region *rg;
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };
	double t0 = now();
	int c, ret;

	while ((c = getopt(argc, argv, "f:s:N:k:")) != -1) {
		switch (c) {
		case 'f': files = strtoull(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		case 'N': inodes = strtoull(optarg, NULL, 0); break;
		case 'k': per_dir = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || !size || !per_dir)
		goto usage;
	mo.inode_count = inodes;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	dirty = calloc(size / PAGE / 64 + 1, sizeof(*dirty));
	if (base == MAP_FAILED || !dirty ||
	    hfs_region_from_memory(base, size, &rg))
		return 1;
	rg->ops = (struct hfs_pmem_ops){ t_persist, t_flush, t_drain,
					 t_memcpy, t_memset };
	if ((ret = hfs_mkfs(rg, &mo, NULL, &err)) ||
	    (ret = hfs_vol_open(rg, NULL, &vol, NULL, &err))) {
		fprintf(stderr, "fsck-gen: %s\n", err.msg);
		return 1;
	}
	ret = populate(vol, files, per_dir);
	if (hfs_vol_close(vol) || ret) {
		fprintf(stderr, "fsck-gen: populate: %s\n", strerror(-ret));
		return 1;
	}
	ret = dump(argv[optind]);
	if (ret) {
		fprintf(stderr, "fsck-gen: %s: %s\n", argv[optind], strerror(-ret));
		return 1;
	}
	fprintf(stderr, "fsck-gen: %llu files in %.1f s\n",
		(unsigned long long)files, now() - t0);
	return 0;
usage:
	fprintf(stderr, "usage: fsck-gen -f FILES -s BYTES [-N INODES] "
		"[-k PER_DIR] REGION\n");
	return 2;
}
