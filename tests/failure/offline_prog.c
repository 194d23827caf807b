/* SPDX-License-Identifier: MIT */
/*
 * A libholdfs client of a planned removal (holdfsctl offline): it maps
 * FILE [0, LEN) read-write with holdfs_map(), installs an offline and a
 * revoke handler, says "mapped" (and creates --ready PATH), and waits at
 * most --wait-ms for the mapping to go.
 *
 *   offline_prog [--ignore] [--leases K] [--ready PATH] [--wait-ms N]
 *                FILE LEN
 *
 * --leases K  K mappings (leases) of LEN bytes each, at file offsets 0,
 *             LEN, ... (the file holds K * LEN bytes): the benchmark's
 *             many leases per client (bench/failure-bench.sh)
 *
 * On the notice it prints "notice seq=S reason=R deadline_ms=D" and
 * (unless --ignore) stores a byte pattern ('N') into the mapping,
 * persists it, prints "persisted seq=S", unmaps and prints
 * "released seq=S".  A revocation prints "revoked seq=S reason=R".
 * S is one counter shared by all these lines, so a test can tell their
 * order.  Exits 0 once released or revoked, 1 if neither came in time.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

static atomic_int seq;
static atomic_bool done;
static bool ignore;
#define MAXL 4096
static struct holdfs_mapping *maps[MAXL];
static unsigned nmaps = 1;
static size_t maplen;

static void on_offline(void *ctx, const struct holdfs_offline_event *ev)
{
	(void)ctx;
	printf("notice seq=%d reason=%u deadline_ms=%u\n",
	       atomic_fetch_add(&seq, 1), ev->reason, ev->deadline_ms);
	fflush(stdout);
	if (ignore)
		return;
	bool ok = true;

	for (unsigned i = 0; i < nmaps; i++) {
		memset(holdfs_addr(maps[i]), 'N', maplen);
		ok &= holdfs_persist(maps[i], holdfs_addr(maps[i]), maplen) == 0;
	}
	if (ok)
		printf("persisted seq=%d\n", atomic_fetch_add(&seq, 1));
	for (unsigned i = 0; i < nmaps; i++)
		ok &= holdfs_unmap(maps[i]) == 0;
	if (ok)
		printf("released seq=%d\n", atomic_fetch_add(&seq, 1));
	fflush(stdout);
	atomic_store(&done, true);
}

static void on_revoke(void *ctx, const struct holdfs_revoke_event *ev)
{
	(void)ctx;
	printf("revoked seq=%d reason=%u\n", atomic_fetch_add(&seq, 1),
	       ev->reason);
	fflush(stdout);
	atomic_store(&done, true);
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	long wait_ms = 30000;
	int i, fd;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--ignore"))
			ignore = true;
		else if (!strcmp(argv[i], "--leases") && i + 1 < argc)
			nmaps = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--wait-ms") && i + 1 < argc)
			wait_ms = atol(argv[++i]);
		else
			break;
	}
	if (argc - i != 2 || nmaps < 1 || nmaps > MAXL) {
		fprintf(stderr, "usage: offline_prog [--ignore] [--leases K] "
			"[--ready PATH] [--wait-ms N] FILE LEN\n");
		return 2;
	}
	maplen = (size_t)strtoull(argv[i + 1], NULL, 0);
	fd = open(argv[i], O_RDWR);
	if (fd < 0) {
		perror(argv[i]);
		return 1;
	}
	holdfs_set_offline_handler(on_offline, NULL);
	holdfs_set_revoke_handler(on_revoke, NULL);
	for (unsigned k = 0; k < nmaps; k++) {
		int r = holdfs_map(fd, (uint64_t)k * maplen, maplen,
				   PROT_READ | PROT_WRITE, 0, &maps[k]);

		if (r < 0) {
			fprintf(stderr, "holdfs_map %u: %s\n", k, strerror(-r));
			return 1;
		}
	}
	close(fd);
	printf("mapped\n");
	fflush(stdout);
	if (ready)
		close(open(ready, O_WRONLY | O_CREAT, 0600));
	for (long t = 0; t < wait_ms && !atomic_load(&done); t++)
		usleep(1000);
	/* the handler's last line is out before done is set */
	return atomic_load(&done) ? 0 : 1;
}
