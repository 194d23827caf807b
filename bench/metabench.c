/* SPDX-License-Identifier: MIT */
/*
 * metabench: namespace operation rate of a directory's filesystem.
 *
 *   metabench DIR [N]
 *
 * Makes DIR/metabench.<pid>, then in three timed phases creates N empty
 * files in it (open O_CREAT|O_EXCL + close), stats each one, and unlinks
 * each one; removes the directory and prints one JSON object with the
 * rate of every phase in operations per second.  Any failing call ends
 * the run with the call, the path and errno, and a non-zero exit.
 *
 * Built by bench/run-bench.sh at run time; not part of the holdfs build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_FMT "f%07ld"

enum phase { PH_CREATE, PH_STAT, PH_UNLINK, PH_COUNT };

static const char *const phase_name[PH_COUNT] = { "create", "stat", "unlink" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *call, const char *path)
{
	fprintf(stderr, "metabench: %s %s: %s\n", call, path, strerror(errno));
	exit(1);
}

/* One operation of phase ph on the file called name, relative to dfd. */
static void do_op(enum phase ph, int dfd, const char *name)
{
	struct stat st;
	int fd;

	switch (ph) {
	case PH_CREATE:
		fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
			    0644);
		if (fd < 0)
			die("create", name);
		if (close(fd) < 0)
			die("close", name);
		break;
	case PH_STAT:
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("stat", name);
		if (!S_ISREG(st.st_mode) || st.st_size != 0) {
			errno = EUCLEAN;
			die("stat (not an empty regular file)", name);
		}
		break;
	case PH_UNLINK:
		if (unlinkat(dfd, name, 0) < 0)
			die("unlink", name);
		break;
	default:
		abort();
	}
}

static double run_phase(enum phase ph, int dfd, long n)
{
	char name[32];
	double t0 = now_s();

	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), NAME_FMT, i);
		do_op(ph, dfd, name);
	}
	return (double)n / (now_s() - t0);
}

int main(int argc, char **argv)
{
	double rate[PH_COUNT];
	char sub[64];
	long n = 10000;
	int dfd;

	if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: metabench DIR [N]\n");
		return argc == 2 ? 0 : 2;
	}
	if (argc == 3) {
		char *end;

		n = strtol(argv[2], &end, 10);
		if (*end || n <= 0 || n > 9999999) {
			fprintf(stderr, "metabench: bad N: %s\n", argv[2]);
			return 2;
		}
	}

	snprintf(sub, sizeof(sub), "metabench.%ld", (long)getpid());
	if (chdir(argv[1]) < 0)
		die("chdir", argv[1]);
	if (mkdir(sub, 0755) < 0)
		die("mkdir", sub);
	dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open", sub);

	for (int ph = 0; ph < PH_COUNT; ph++)
		rate[ph] = run_phase((enum phase)ph, dfd, n);

	close(dfd);
	if (rmdir(sub) < 0)
		die("rmdir", sub);

	printf("{\"files\": %ld", n);
	for (int ph = 0; ph < PH_COUNT; ph++)
		printf(", \"%s\": %.1f", phase_name[ph], rate[ph]);
	printf("}\n");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("metabench: stdout");
		return 1;
	}
	return 0;
}
