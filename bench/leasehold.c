/* SPDX-License-Identifier: MIT */
/*
 * leasehold: hold a read lease (holdfs_map) on every file listed, one
 * path a line in LIST, and record the revocations (bench/multidev-bench.sh:
 * time from losing a device to every affected lease revoked).
 *
 *   leasehold LIST
 *
 * Prints "ready N" once every file is mapped (N leases), then answers
 * each line on stdin with "revoked K first_ns F last_ns L": K revoke
 * handler calls so far, the CLOCK_MONOTONIC times of the first and last.
 * Exits at EOF on stdin.  A benchmark tool: no test relies on it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

static atomic_ulong nrev;
static _Atomic uint64_t first_ns, last_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_revoke(void *ctx, const struct holdfs_revoke_event *ev)
{
	uint64_t t = now_ns(), z = 0;

	(void)ctx;
	(void)ev;
	atomic_compare_exchange_strong(&first_ns, &z, t);
	atomic_store(&last_ns, t);
	atomic_fetch_add(&nrev, 1);
}

int main(int argc, char **argv)
{
	char line[4096];
	unsigned long n = 0;
	FILE *list;

	if (argc != 2 || !(list = fopen(argv[1], "re"))) {
		fprintf(stderr, "usage: leasehold LIST\n");
		return 2;
	}
	holdfs_set_revoke_handler(on_revoke, NULL);
	while (fgets(line, sizeof(line), list)) {
		struct holdfs_mapping *m;
		struct stat st;
		int fd, r;

		line[strcspn(line, "\n")] = '\0';
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(line);
			return 1;
		}
		r = holdfs_map(fd, 0, (size_t)st.st_size, PROT_READ, 0, &m);
		close(fd);
		if (r) {
			fprintf(stderr, "leasehold: %s: holdfs_map: %s\n", line,
				strerror(-r));
			return 1;
		}
		n++;
	}
	fclose(list);
	printf("ready %lu\n", n);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		printf("revoked %lu first_ns %llu last_ns %llu\n",
		       atomic_load(&nrev),
		       (unsigned long long)atomic_load(&first_ns),
		       (unsigned long long)atomic_load(&last_ns));
		fflush(stdout);
	}
	return 0;
}
