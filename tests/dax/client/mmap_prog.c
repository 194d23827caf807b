/* SPDX-License-Identifier: MIT */
/*
 * mmap_prog FILE LEN SEED: an ordinary program (no libholdfs) that writes a
 * pattern through a MAP_SHARED mapping, msyncs, unmaps, and checks with
 * pread(2) that the file holds it.  Run under the preload shim.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len, i;
	unsigned seed;
	char *p, *back;
	int fd;

	if (argc != 4)
		return 2;
	len = strtoul(argv[2], NULL, 0);
	seed = (unsigned)strtoul(argv[3], NULL, 0);
	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
		perror(argv[1]);
		return 1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < len; i++)
		p[i] = (char)(i * 31 + seed);
	if (msync(p, len, MS_SYNC) < 0) {
		perror("msync");
		return 1;
	}
	if (munmap(p, len) < 0) {
		perror("munmap");
		return 1;
	}
	back = malloc(len);
	if (!back || pread(fd, back, len, 0) != (ssize_t)len) {
		perror("pread");
		return 1;
	}
	for (i = 0; i < len; i++)
		if (back[i] != (char)(i * 31 + seed)) {
			fprintf(stderr, "mismatch at %zu\n", i);
			return 1;
		}
	/* a read-only mapping at a page offset, given up in two pieces: the
	 * inner page first (the shim keeps the range reserved), then the
	 * start (the shim releases the lease) */
	if (len >= 3 * 4096) {
		char *q = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 4096);

		if (q == MAP_FAILED) {
			perror("mmap at offset 4096");
			return 1;
		}
		for (i = 0; i < 8192; i++)
			if (q[i] != (char)((i + 4096) * 31 + seed)) {
				fprintf(stderr, "offset mapping: mismatch at %zu\n", i);
				return 1;
			}
		if (munmap(q + 4096, 4096) < 0 || munmap(q, 4096) < 0) {
			perror("munmap pieces");
			return 1;
		}
	}
	printf("ok %zu\n", len);
	return 0;
}
