/* SPDX-License-Identifier: MIT */
/*
 * What the descriptor layer costs, in ns per call (not a test: numbers
 * for people, on a machine whose noise makes thresholds meaningless).
 *
 *   dp_bench HOLDFS_FILE OTHER_FILE [ITERATIONS]
 *
 * HOLDFS_FILE: a file of at least one byte on a holdfs mount, opened with
 * holdfs_open (served); OTHER_FILE: any file, opened with open(2) (not
 * served).  Each figure is the best of five rounds.  Run it once plain
 * and once under LD_PRELOAD=libholdfs-preload.so: "libc pread" then
 * shows what the shim adds to a call on a descriptor it does not serve.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

bool hfc_dp_served(int fd);   /* libholdfs's private lookup (dp_fd_i.h) */

static int hfd, ofd;
static char c;

static void statx_check(void)
{
	struct statx sx;

	statx(hfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &sx);
}

static void getfl(void)
{
	syscall(SYS_fcntl, hfd, F_GETFL);
}

static void lseek_cur(void)
{
	syscall(SYS_lseek, hfd, 0, SEEK_CUR);
}

static void lookup(void)
{
	__asm__ __volatile__("" : : "r"(hfc_dp_served(ofd)));
}

static void sys_pread_other(void)
{
	syscall(SYS_pread64, ofd, &c, 1, 0);
}

static void libc_pread_other(void)
{
	pread(ofd, &c, 1, 0);
}

static void holdfs_pread_other(void)
{
	holdfs_pread(ofd, &c, 1, 0);
}

static void sys_pread_holdfs(void)
{
	syscall(SYS_pread64, hfd, &c, 1, 0);
}

static void holdfs_pread_holdfs(void)
{
	holdfs_pread(hfd, &c, 1, 0);
}

static double ns_per_call(void (*fn)(void), long n)
{
	double best = 1e30;

	for (int round = 0; round < 5; round++) {
		struct timespec a, b;
		double ns;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++)
			fn();
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 +
		      (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} rows[] = {
		{ "table lookup, fd not served (hfc_dp_served)", lookup },
		{ "validation: statx(DONT_SYNC, STATX_INO), holdfs fd", statx_check },
		{ "fcntl(F_GETFL), holdfs fd (every write)", getfl },
		{ "lseek(0, SEEK_CUR), holdfs fd (reservation)", lseek_cur },
		{ "raw pread 1 B, other fd", sys_pread_other },
		{ "libc pread 1 B, other fd", libc_pread_other },
		{ "holdfs_pread 1 B, other fd", holdfs_pread_other },
		{ "raw pread 1 B, holdfs fd (FUSE)", sys_pread_holdfs },
		{ "holdfs_pread 1 B, holdfs fd (served)", holdfs_pread_holdfs },
	};
	long n = argc > 3 ? atol(argv[3]) : 200000;

	if (argc < 3) {
		fprintf(stderr, "usage: dp_bench HOLDFS_FILE OTHER_FILE [ITERATIONS]\n");
		return 2;
	}
	hfd = holdfs_open(argv[1], O_RDONLY);
	ofd = open(argv[2], O_RDONLY);
	if (hfd < 0 || ofd < 0) {
		perror("open");
		return 1;
	}
	printf("holdfs fd served: %s; other fd served: %s; %ld calls x 5\n",
	       hfc_dp_served(hfd) ? "yes" : "NO", hfc_dp_served(ofd) ? "YES" : "no",
	       n);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("%8.1f ns  %s\n", ns_per_call(rows[i].fn, n), rows[i].name);
	return 0;
}
