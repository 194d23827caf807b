/* SPDX-License-Identifier: MIT */
/*
 * dp_client: plain POSIX file I/O driven line by line from stdin, for the
 * direct data path's multi-process tests (test_direct.py).  It uses only
 * libc calls: run under LD_PRELOAD=libholdfs-preload.so they are served
 * by the data path, without it by the kernel.  Every command answers one
 * line: "ok ..." or "err <errno> <text>".  A SIGBUS is reported as the
 * line "sigbus" and the process exits (the data path must never raise
 * one out of a read or write).
 *
 *   open PATH MODE        MODE: r, w, rw, a (O_WRONLY|O_APPEND),
 *                         ra (O_RDWR|O_APPEND); +c creates, +t truncates,
 *                         +s O_SYNC
 *   pread OFF LEN         "ok n=K sum=S first=XX crc=C" (sum: byte sum;
 *                         crc: zlib's CRC-32, 8 hex digits)
 *   read LEN              the same at the file offset
 *   pwrite OFF LEN BYTE   "ok n=K"
 *   write LEN BYTE        at the file offset (or the end, O_APPEND)
 *   seek OFF WHENCE       WHENCE: set, cur, end, data, hole; "ok pos=P"
 *   fsync | fdatasync
 *   ftruncate LEN
 *   fstat                 "ok size=S mtime=NS"
 *   stat PATH             the same through stat(2)
 *   close
 *   nofile N              the soft RLIMIT_NOFILE set to N
 *   hog                   open /dev/null until EMFILE: "ok hogged=K"
 *   unhog                 close those again
 *   quit
 *
 *   dp_client --append PATH ID N LEN [--sync]
 *       append N self-describing records of LEN bytes (writer ID) with
 *       write(2) on an O_APPEND descriptor; exit 0 or 1
 *   dp_client --mixed PATH N SEED
 *       N random calls on PATH (one O_RDWR and one O_APPEND descriptor):
 *       4 KiB preads and pwrites in the first 4 MiB, 4 KiB appends while
 *       the file is under 16 MiB, fsyncs; the first error ends it
 *       ("err <errno> <call> <offset>", exit 1), else "ok calls=N"
 *   dp_client --check-log PATH WRITERS N LEN
 *       every record of every writer present exactly once, intact, and
 *       nothing else; prints "ok records=R" or the first problem
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcrc32.h"

#define REC_MAGIC 0x52454344u /* "DCER" */

struct rec_hdr {
	uint32_t magic, writer, seq, len;
	uint64_t sum;
};

static void on_bus(int sig)
{
	static const char m[] = "sigbus\n";

	(void)sig;
	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(3);
}

static int fd = -1;
static int hogs[4096], nhog;

static void answer_err(int e)
{
	printf("err %d %s\n", e, strerror(e));
}

static int parse_mode(const char *m)
{
	int fl = 0;

	if (!strncmp(m, "rw", 2) || !strncmp(m, "ra", 2))
		fl = O_RDWR | (m[1] == 'a' ? O_APPEND : 0);
	else if (m[0] == 'r')
		fl = O_RDONLY;
	else if (m[0] == 'w')
		fl = O_WRONLY;
	else if (m[0] == 'a')
		fl = O_WRONLY | O_APPEND;
	if (strchr(m, 'c'))
		fl |= O_CREAT;
	if (strchr(m, 't'))
		fl |= O_TRUNC;
	if (strchr(m, 's'))
		fl |= O_SYNC;
	return fl;
}

static void io_answer(ssize_t n, const uint8_t *buf)
{
	uint64_t sum = 0;

	if (n < 0) {
		answer_err(errno);
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		sum += buf[i];
	printf("ok n=%zd sum=%" PRIu64 " first=%02x crc=%08x\n", n, sum,
	       n ? buf[0] : 0, zcrc32(buf, (size_t)n));
}

static void stat_answer(int r, const struct stat *st)
{
	if (r < 0)
		answer_err(errno);
	else
		printf("ok size=%lld mtime=%lld%09ld\n", (long long)st->st_size,
		       (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static int whence_of(const char *w)
{
	return !strcmp(w, "cur") ? SEEK_CUR : !strcmp(w, "end") ? SEEK_END :
	       !strcmp(w, "data") ? SEEK_DATA : !strcmp(w, "hole") ? SEEK_HOLE
	       : SEEK_SET;
}

static void command(char *line)
{
	char a[4096], b[64];
	long long x, y, z;
	static uint8_t buf[16 << 20];
	struct stat st;

	if (sscanf(line, "open %4095s %63s", a, b) == 2) {
		if (fd >= 0)
			close(fd);
		fd = open(a, parse_mode(b), 0644);
		if (fd < 0)
			answer_err(errno);
		else
			printf("ok fd=%d\n", fd);
	} else if (sscanf(line, "pread %lld %lld", &x, &y) == 2) {
		io_answer(pread(fd, buf, (size_t)y, (off_t)x), buf);
	} else if (sscanf(line, "read %lld", &x) == 1) {
		io_answer(read(fd, buf, (size_t)x), buf);
	} else if (sscanf(line, "pwrite %lld %lld %lli", &x, &y, &z) == 3) {
		ssize_t n;

		memset(buf, (int)z, (size_t)y);
		n = pwrite(fd, buf, (size_t)y, (off_t)x);
		if (n < 0)
			answer_err(errno);
		else
			printf("ok n=%zd\n", n);
	} else if (sscanf(line, "write %lld %lli", &y, &z) == 2) {
		ssize_t n;

		memset(buf, (int)z, (size_t)y);
		n = write(fd, buf, (size_t)y);
		if (n < 0)
			answer_err(errno);
		else
			printf("ok n=%zd\n", n);
	} else if (sscanf(line, "seek %lld %63s", &x, b) == 2) {
		off_t p = lseek(fd, (off_t)x, whence_of(b));

		if (p < 0)
			answer_err(errno);
		else
			printf("ok pos=%lld\n", (long long)p);
	} else if (!strcmp(line, "fsync")) {
		if (fsync(fd) < 0)
			answer_err(errno);
		else
			printf("ok\n");
	} else if (!strcmp(line, "fdatasync")) {
		if (fdatasync(fd) < 0)
			answer_err(errno);
		else
			printf("ok\n");
	} else if (sscanf(line, "ftruncate %lld", &x) == 1) {
		if (ftruncate(fd, (off_t)x) < 0)
			answer_err(errno);
		else
			printf("ok\n");
	} else if (!strcmp(line, "fstat")) {
		stat_answer(fstat(fd, &st), &st);
	} else if (sscanf(line, "stat %4095s", a) == 1) {
		stat_answer(stat(a, &st), &st);
	} else if (sscanf(line, "nofile %lld", &x) == 1) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)x;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			answer_err(errno);
		else
			printf("ok\n");
	} else if (!strcmp(line, "hog")) {
		int h;

		while (nhog < (int)(sizeof(hogs) / sizeof(hogs[0])) &&
		       (h = open("/dev/null", O_RDONLY)) >= 0)
			hogs[nhog++] = h;
		printf("ok hogged=%d errno=%d\n", nhog, errno);
	} else if (!strcmp(line, "unhog")) {
		while (nhog > 0)
			close(hogs[--nhog]);
		printf("ok\n");
	} else if (!strcmp(line, "close")) {
		if (close(fd) < 0)
			answer_err(errno);
		else
			printf("ok\n");
		fd = -1;
	} else {
		printf("err %d unknown command\n", EINVAL);
	}
}

static uint64_t rec_sum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static void fill_rec(uint8_t *r, uint32_t writer, uint32_t seq, uint32_t len)
{
	struct rec_hdr h = { REC_MAGIC, writer, seq, len, 0 };

	for (uint32_t i = sizeof(h); i < len; i++)
		r[i] = (uint8_t)(writer * 7 + seq * 13 + i);
	h.sum = rec_sum(r + sizeof(h), len - sizeof(h));
	memcpy(r, &h, sizeof(h));
}

static int appender(const char *path, int writer, int n, int len, bool sync)
{
	uint8_t *r = malloc((size_t)len);
	int f = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644), ret = 1;

	if (!r || f < 0 || len < (int)sizeof(struct rec_hdr)) {
		perror("appender");
		goto out;
	}
	for (int s = 0; s < n; s++) {
		fill_rec(r, (uint32_t)writer, (uint32_t)s, (uint32_t)len);
		if (write(f, r, (size_t)len) != len) {
			perror("append");
			goto out;
		}
		if (sync && fsync(f) < 0) {
			perror("fsync");
			goto out;
		}
	}
	ret = close(f) < 0;
	f = -1;
out:
	if (f >= 0)
		close(f);
	free(r);
	return ret;
}

static int check_log(const char *path, int writers, int n, int len)
{
	int f = open(path, O_RDONLY), ret = 1;
	uint8_t *seen = calloc((size_t)writers * (size_t)n, 1);
	uint8_t *r = malloc((size_t)len);
	long long off = 0, count = 0;
	struct stat st;

	if (f < 0 || !seen || !r || fstat(f, &st) < 0) {
		perror("check-log");
		goto out;
	}
	if (st.st_size != (off_t)writers * n * len) {
		printf("size %lld, expected %lld\n", (long long)st.st_size,
		       (long long)writers * n * len);
		goto out;
	}
	for (; off < st.st_size; off += len) {
		struct rec_hdr h;

		if (pread(f, r, (size_t)len, (off_t)off) != len) {
			printf("short read at %lld\n", off);
			goto out;
		}
		memcpy(&h, r, sizeof(h));
		if (h.magic != REC_MAGIC || h.len != (uint32_t)len ||
		    h.writer >= (uint32_t)writers || h.seq >= (uint32_t)n ||
		    h.sum != rec_sum(r + sizeof(h), (size_t)len - sizeof(h))) {
			printf("bad record at %lld (magic %#x writer %u seq %u)\n",
			       off, h.magic, h.writer, h.seq);
			goto out;
		}
		if (seen[h.writer * (uint32_t)n + h.seq]++) {
			printf("record %u/%u twice (at %lld)\n", h.writer, h.seq,
			       off);
			goto out;
		}
		count++;
	}
	printf("ok records=%lld\n", count);
	ret = 0;
out:
	if (f >= 0)
		close(f);
	free(seen);
	free(r);
	return ret;
}

static int mixed(const char *path, long n, unsigned seed)
{
	static uint8_t b[4096];
	int f = open(path, O_RDWR), a = open(path, O_WRONLY | O_APPEND);
	const char *what = "open";
	long long off = 0;
	struct stat st;

	if (f < 0 || a < 0)
		goto err;
	srand(seed);
	memset(b, 0x5a, sizeof(b));
	for (long i = 0; i < n; i++) {
		off = (long long)(rand() % 1024) * 4096;
		switch (rand() % 4) {
		case 0:
			what = "pread";
			if (pread(f, b, sizeof(b), (off_t)off) < 0)
				goto err;
			break;
		case 1:
			what = "pwrite";
			if (pwrite(f, b, sizeof(b), (off_t)off) < 0)
				goto err;
			break;
		case 2:
			what = "append";
			off = -1;
			if (fstat(a, &st) < 0)
				goto err;
			if (st.st_size < (16 << 20) &&
			    write(a, b, sizeof(b)) < 0)
				goto err;
			break;
		default:
			what = "fsync";
			off = -1;
			if (fsync(f) < 0)
				goto err;
		}
	}
	printf("ok calls=%ld\n", n);
	return 0;
err:
	printf("err %d %s %lld\n", errno, what, off);
	return 1;
}

int main(int argc, char **argv)
{
	char line[8192];

	signal(SIGBUS, on_bus);
	if (argc >= 6 && !strcmp(argv[1], "--append"))
		return appender(argv[2], atoi(argv[3]), atoi(argv[4]),
				atoi(argv[5]), argc > 6);
	if (argc == 5 && !strcmp(argv[1], "--mixed"))
		return mixed(argv[2], atol(argv[3]), (unsigned)atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "--check-log"))
		return check_log(argv[2], atoi(argv[3]), atoi(argv[4]),
				 atoi(argv[5]));
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "quit"))
			break;
		command(line);
	}
	return 0;
}
