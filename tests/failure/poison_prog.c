/* SPDX-License-Identifier: MIT */
/*
 * A libholdfs client that sees "poison": it maps FILE [0, LEN) with
 * holdfs_map() and sends itself the SIGBUS a machine check would raise
 * (rt_tgsigqueueinfo to its own thread may carry any si_code, so
 * si_code BUS_MCEERR_AR/AO and si_addr inside the mapping are exactly
 * what the kernel would deliver; this host cannot poison memory).
 *
 *   poison_prog [--handler] [--code ar|ao|adrerr] [--where inside|outside]
 *               [--off N] [--wait-ms N] [--no-map] FILE LEN
 *
 * --handler   install the program's own SIGBUS handler (SA_SIGINFO)
 *             before mapping: it prints what it got
 * --late-handler  the same, installed after mapping, without chaining
 *             (under the preload shim it is chained behind libholdfs's);
 *             then "query ok" if sigaction() reports it installed
 * --where     si_addr inside the mapping (at file offset --off) or in a
 *             page of the program's own (outside any holdfs mapping)
 * --no-map    do not use libholdfs at all (the baseline)
 * --wait-ms   after the signal, wait this long for a revocation
 *
 * Output lines: "mapped", "handler code=C addr_ok=0|1", then
 * "revoked off=O len=L reason=R" or "no revoke"; without a handler the
 * default action ends the process (killed by SIGBUS).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

static volatile sig_atomic_t got_code = -1;
static void *volatile got_addr;
static atomic_int revokes;
static uint64_t rv_off, rv_len;
static uint32_t rv_reason;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_addr = si->si_addr;
	got_code = si->si_code;
}

static void on_revoke(void *ctx, const struct holdfs_revoke_event *ev)
{
	(void)ctx;
	if (atomic_load(&revokes) == 0) {
		rv_off = ev->offset;
		rv_len = ev->length;
		rv_reason = ev->reason;
	}
	atomic_fetch_add(&revokes, 1);
}

static void install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static int code_of(const char *s)
{
	if (!strcmp(s, "ar"))
		return BUS_MCEERR_AR;
	if (!strcmp(s, "ao"))
		return BUS_MCEERR_AO;
	if (!strcmp(s, "adrerr"))
		return BUS_ADRERR;
	fprintf(stderr, "poison_prog: --code ar|ao|adrerr\n");
	exit(2);
}

static void wait_revoke(int ms)
{
	struct timespec t = { 0, 10 * 1000000 };

	for (int i = 0; i < ms / 10 && !atomic_load(&revokes); i++)
		nanosleep(&t, NULL);
	if (atomic_load(&revokes))
		printf("revoked off=%llu len=%llu reason=%u\n",
		       (unsigned long long)rv_off, (unsigned long long)rv_len,
		       rv_reason);
	else
		printf("no revoke\n");
}

int main(int argc, char **argv)
{
	bool handler = false, late = false, inside = true, map = true;
	int code = BUS_MCEERR_AR, wait_ms = 0, i, fd, r;
	unsigned long long off = 0;
	struct holdfs_mapping *m = NULL;
	siginfo_t si;
	uint8_t *addr;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--handler"))
			handler = true;
		else if (!strcmp(argv[i], "--late-handler"))
			late = true;
		else if (!strcmp(argv[i], "--no-map"))
			map = false;
		else if (!strcmp(argv[i], "--code") && i + 1 < argc)
			code = code_of(argv[++i]);
		else if (!strcmp(argv[i], "--where") && i + 1 < argc)
			inside = !strcmp(argv[++i], "inside");
		else if (!strcmp(argv[i], "--off") && i + 1 < argc)
			off = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--wait-ms") && i + 1 < argc)
			wait_ms = atoi(argv[++i]);
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: poison_prog [options] FILE LEN\n");
		return 2;
	}
	if (handler)
		install_handler();
	addr = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return 1;
	if (map) {
		holdfs_set_revoke_handler(on_revoke, NULL);
		fd = open(argv[i], O_RDONLY);
		if (fd < 0) {
			perror(argv[i]);
			return 1;
		}
		r = holdfs_map(fd, 0, strtoull(argv[i + 1], NULL, 0),
			       PROT_READ, 0, &m);
		if (r) {
			fprintf(stderr, "holdfs_map: %s\n", strerror(-r));
			return 1;
		}
		if (inside)
			addr = (uint8_t *)holdfs_addr(m) + off;
	}
	if (late) {
		struct sigaction q;

		install_handler();
		if (sigaction(SIGBUS, NULL, &q) == 0 &&
		    (q.sa_flags & SA_SIGINFO) && q.sa_sigaction == on_bus)
			printf("query ok\n");
	}
	printf("mapped\n");
	fflush(stdout);
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = addr;
	si.si_addr_lsb = 12;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid),
		    SIGBUS, &si)) {
		perror("rt_tgsigqueueinfo");
		return 1;
	}
	if (got_code != -1)
		printf("handler code=%d addr_ok=%d\n", (int)got_code,
		       got_addr == addr);
	if (m && wait_ms)
		wait_revoke(wait_ms);
	fflush(stdout);
	return 0;
}
