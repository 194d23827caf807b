/* SPDX-License-Identifier: MIT */
/*
 * metabench: namespace operation rate of a directory's filesystem.
 *
 *   metabench DIR [N]
 *
 * Makes DIR/metabench.<pid>, then in three timed phases creates N empty
 * files in it (open O_CREAT|O_EXCL + close), stats each one, and unlinks
 * each one; then two threads create N files each, each in its own
 * subdirectory, at the same time ("create_2dirs", the rate of both
 * together, and "create_2dirs_scale", that rate over the one-thread
 * create rate: what namespace operations in different directories gain
 * from a second thread).  Removes everything and prints one JSON object
 * with the rate of every phase in operations per second.  Any failing call ends
 * the run with the call, the path and errno, and a non-zero exit.
 *
 * Built by bench/run-bench.sh at run time; not part of the holdfs build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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

struct worker {
	pthread_t t;
	int dfd;
	long n;
	pthread_barrier_t *start;
};

static void *create_worker(void *arg)
{
	struct worker *w = arg;
	char name[32];

	pthread_barrier_wait(w->start);
	for (long i = 0; i < w->n; i++) {
		snprintf(name, sizeof(name), NAME_FMT, i);
		do_op(PH_CREATE, w->dfd, name);
	}
	return NULL;
}

/* Two threads, each creating n files in its own subdirectory of dfd;
 * their combined rate.  Untimed: making and emptying the directories. */
static double run_create_2dirs(int dfd, long n)
{
	static const char *const dirs[2] = { "t0", "t1" };
	struct worker w[2];
	pthread_barrier_t start;
	char name[32];
	double t0;
	int i;

	if (pthread_barrier_init(&start, NULL, 3) != 0)
		die("pthread_barrier_init", "");
	for (i = 0; i < 2; i++) {
		if (mkdirat(dfd, dirs[i], 0755) < 0)
			die("mkdir", dirs[i]);
		w[i].dfd = openat(dfd, dirs[i], O_RDONLY | O_DIRECTORY |
						   O_CLOEXEC);
		if (w[i].dfd < 0)
			die("open", dirs[i]);
		w[i].n = n;
		w[i].start = &start;
		errno = pthread_create(&w[i].t, NULL, create_worker, &w[i]);
		if (errno)
			die("pthread_create", dirs[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now_s();
	for (i = 0; i < 2; i++)
		pthread_join(w[i].t, NULL);
	t0 = now_s() - t0;
	for (i = 0; i < 2; i++) {
		for (long k = 0; k < n; k++) {
			snprintf(name, sizeof(name), NAME_FMT, k);
			do_op(PH_UNLINK, w[i].dfd, name);
		}
		close(w[i].dfd);
		if (unlinkat(dfd, dirs[i], AT_REMOVEDIR) < 0)
			die("rmdir", dirs[i]);
	}
	pthread_barrier_destroy(&start);
	return (double)(2 * n) / t0;
}

int main(int argc, char **argv)
{
	double two;
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
	two = run_create_2dirs(dfd, n);

	close(dfd);
	if (rmdir(sub) < 0)
		die("rmdir", sub);

	printf("{\"files\": %ld", n);
	for (int ph = 0; ph < PH_COUNT; ph++)
		printf(", \"%s\": %.1f", phase_name[ph], rate[ph]);
	printf(", \"create_2dirs\": %.1f, \"create_2dirs_scale\": %.3f}\n", two,
	       two / rate[PH_CREATE]);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("metabench: stdout");
		return 1;
	}
	return 0;
}
