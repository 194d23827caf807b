/* SPDX-License-Identifier: MIT */
/*
 * eof_prog: an ordinary program (no libholdfs) that looks past EOF through
 * a MAP_SHARED mapping of the whole file, for the past-EOF tests under the
 * preload shim (test_client.py).  The mapping is the file size rounded up
 * to a page; bytes past EOF in that last page are reachable.
 *
 *   eof_prog read FILE OFF LEN         print the LEN bytes at OFF in hex
 *   eof_prog store FILE OFF LEN BYTE   store BYTE there, msync
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	bool store = argc == 6 && !strcmp(argv[1], "store");
	size_t off, len, mlen, page = (size_t)sysconf(_SC_PAGESIZE);
	struct stat st;
	uint8_t *p;
	int fd;

	if (!store && (argc != 5 || strcmp(argv[1], "read")))
		return 2;
	off = strtoul(argv[3], NULL, 0);
	len = strtoul(argv[4], NULL, 0);
	fd = open(argv[2], store ? O_RDWR : O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[2]);
		return 1;
	}
	mlen = ((size_t)st.st_size + page - 1) / page * page;
	if (!mlen || off + len > mlen) {
		fprintf(stderr, "eof_prog: %zu+%zu is beyond the last page\n",
			off, len);
		return 2;
	}
	p = mmap(NULL, mlen, PROT_READ | (store ? PROT_WRITE : 0), MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (store) {
		memset(p + off, (int)strtoul(argv[5], NULL, 0), len);
		if (msync(p, mlen, MS_SYNC) < 0) {
			perror("msync");
			return 1;
		}
		printf("stored\n");
	} else {
		for (size_t i = 0; i < len; i++)
			printf("%02x", p[off + i]);
		printf("\n");
	}
	munmap(p, mlen);
	close(fd);
	return 0;
}
