/* SPDX-License-Identifier: MIT */
/*
 * mt_stress FILE THREADS ITERS [pread]: THREADS threads share one daemon
 * connection; each maps its own 64 KiB of FILE, stores a pattern,
 * persists, unmaps, ITERS times, and checks the data (with "pread": by
 * pread(2) after holdfs_persist, before the unmap; otherwise by mapping
 * the range again).  Prints "ok" or the first problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#define SPAN 65536

static int fd;
static int iters;
static int use_pread;
static char failure[256];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void set_failure(const char *what, long t, int i, int err)
{
	pthread_mutex_lock(&fail_lock);
	if (!failure[0])
		snprintf(failure, sizeof(failure), "thread %ld iteration %d: %s: %s",
			 t, i, what, strerror(err));
	pthread_mutex_unlock(&fail_lock);
}

/* Map [off, +SPAN) again (read lease) and compare with want. */
static int check_remapped(uint64_t off, const char *want)
{
	struct holdfs_mapping *m;
	int r = holdfs_map(fd, off, SPAN, PROT_READ, 0, &m);

	if (r)
		return r;
	r = memcmp(holdfs_addr(m), want, SPAN) ? -EIO : 0;
	holdfs_unmap(m);
	return r;
}

static void *worker(void *arg)
{
	long t = (long)arg;
	uint64_t off = (uint64_t)t * SPAN;
	char *back = malloc(SPAN);

	for (int i = 0; back && i < iters && !failure[0]; i++) {
		struct holdfs_mapping *m;
		int r = holdfs_map(fd, off, SPAN, PROT_READ | PROT_WRITE, 0, &m);
		uint8_t *p;

		if (r) {
			set_failure("holdfs_map", t, i, -r);
			break;
		}
		p = holdfs_addr(m);
		memset(p, (int)(t * 16 + i) & 0xff, SPAN);
		r = holdfs_persist(m, p, SPAN);
		if (r)
			set_failure("holdfs_persist", t, i, -r);
		if (!use_pread)
			memcpy(back, p, SPAN);
		else if (pread(fd, back, SPAN, (off_t)off) != SPAN)
			set_failure("pread", t, i, errno);
		else if (memcmp(back, p, SPAN))
			set_failure("pread after holdfs_persist differs from the "
				    "mapping", t, i, EIO);
		r = holdfs_unmap(m);
		if (r)
			set_failure("holdfs_unmap", t, i, -r);
		if (!use_pread)
			r = check_remapped(off, back);
		if (r)
			set_failure("data after unmap + map", t, i, -r);
	}
	free(back);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	long n;

	if (argc != 4 && argc != 5)
		return 2;
	use_pread = argc == 5 && !strcmp(argv[4], "pread");
	n = strtol(argv[2], NULL, 0);
	iters = atoi(argv[3]);
	if (n < 1 || n > 64)
		return 2;
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || ftruncate(fd, n * SPAN) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (long t = 0; t < n; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (long t = 0; t < n; t++)
		pthread_join(th[t], NULL);
	if (failure[0]) {
		printf("%s\n", failure);
		return 1;
	}
	printf("ok\n");
	return 0;
}
