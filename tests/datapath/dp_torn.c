/* SPDX-License-Identifier: MIT */
/*
 * dp_torn: reads racing the daemon's changes of the same bytes in place
 * (test_direct.py, docs/data-path.md "Changes in place").
 *
 *   dp_torn change PATH LEN SECS   for SECS seconds, over [0, LEN):
 *                                  pwrite LEN bytes all equal to g (g
 *                                  1, 2, ... 255, 1, ...), then zero them
 *                                  with fallocate(FALLOC_FL_ZERO_RANGE),
 *                                  again and again.  O_DIRECT: each is
 *                                  one request to the daemon, which does
 *                                  it under the file's I/O lock.
 *   dp_torn punch PATH LEN SECS    the same with FALLOC_FL_PUNCH_HOLE in
 *                                  place of the zeroing: the blocks go
 *                                  (the reader's window is revoked, its
 *                                  next lease maps a hole) and the write
 *                                  fills the hole again (a REMAP).
 *   dp_torn read PATH LEN SECS     for SECS seconds, pread [0, LEN) and
 *                                  check every byte of it is the same:
 *                                  one whole state of the file.
 *
 * The reader runs under the preload shim: its reads are copies out of a
 * mapping of the blocks, which the daemon's writes and zeroing change
 * in place without revoking anything, and which the listener remaps when
 * a hole gets blocks.  A read that saw part of a change
 * (some bytes g, some zero, or some g and some g+1) is torn.  The reader
 * uses O_DIRECT too, so that a read the shim hands to the kernel goes
 * to the daemon whole rather than through page-cache pages a write is
 * filling.
 *
 * Exit 0 with "reads N" (read), "changes N" (change); 1 with the first
 * torn read described on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int change(int fd, uint8_t *buf, size_t len, double secs, bool punch)
{
	double end = now() + secs;
	unsigned long n = 0;
	uint8_t g = 0;

	while (now() < end) {
		g = g == 255 ? 1 : g + 1;
		memset(buf, g, len);
		if (pwrite(fd, buf, len, 0) != (ssize_t)len) {
			perror("dp_torn change: pwrite");
			return 1;
		}
		if (fallocate(fd, (punch ? FALLOC_FL_PUNCH_HOLE
				       : FALLOC_FL_ZERO_RANGE) |
				      FALLOC_FL_KEEP_SIZE, 0, (off_t)len)) {
			perror("dp_torn change: fallocate");
			return 1;
		}
		n += 2;
	}
	printf("changes %lu\n", n);
	return 0;
}

static int check(int fd, uint8_t *buf, size_t len, double secs)
{
	double end = now() + secs;
	unsigned long n = 0;

	while (now() < end) {
		ssize_t k = pread(fd, buf, len, 0);

		if (k != (ssize_t)len) {
			fprintf(stderr, "dp_torn read: pread returned %zd (%s)\n",
				k, k < 0 ? strerror(errno) : "short");
			return 1;
		}
		for (size_t i = 1; i < len; i++) {
			if (buf[i] == buf[0])
				continue;
			fprintf(stderr, "dp_torn read: torn read %lu: byte 0 "
				"is %u, byte %zu is %u\n", n, buf[0], i,
				buf[i]);
			return 1;
		}
		n++;
	}
	printf("reads %lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	bool writer;
	size_t len;
	double secs;
	void *buf;
	int fd, r;

	if (argc != 5 || (strcmp(argv[1], "change") && strcmp(argv[1], "punch") &&
			  strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: dp_torn change|punch|read PATH LEN SECS\n");
		return 2;
	}
	writer = strcmp(argv[1], "read") != 0;
	len = strtoul(argv[3], NULL, 0);
	secs = strtod(argv[4], NULL);
	if (!len || len % 4096) {
		fprintf(stderr, "dp_torn: LEN must be a multiple of 4096\n");
		return 2;
	}
	fd = open(argv[2], (writer ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (posix_memalign(&buf, 4096, len)) {
		fprintf(stderr, "dp_torn: out of memory\n");
		return 1;
	}
	r = writer ? change(fd, buf, len, secs, !strcmp(argv[1], "punch"))
		   : check(fd, buf, len, secs);
	free(buf);
	close(fd);
	return r;
}
