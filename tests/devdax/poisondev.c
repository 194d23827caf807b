/* SPDX-License-Identifier: MIT */
/*
 * poisondev: real hardware poison on a page of a device-dax node, for
 * the qemu rig (tests/devdax/guest-init.sh, scenario multidev0).
 *
 *   poisondev DEV OFF
 *
 * Maps DEV (MAP_SHARED, the 2 MiB-aligned window around OFF: a device
 * with 2 MiB alignment refuses smaller ones) and calls
 * madvise(MADV_HWPOISON) on the 4 KiB page at byte OFF (root,
 * CONFIG_MEMORY_FAILURE).  The kernel marks the page poisoned and sends
 * every process mapping it a machine-check SIGBUS -- the holdfs daemon
 * included, which is what the rig wants to see handled.  This process
 * maps it too, so it catches its own SIGBUS.
 *
 * Prints "ok madvise" (no signal here), "ok sigbus code=C lsb=L" or
 * "err WHAT: strerror"; exits 0 on the first two.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WINDOW (2u << 20)

static volatile sig_atomic_t got_code = -1, got_lsb;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_code = si->si_code;
	got_lsb = si->si_addr_lsb;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	unsigned long long off;
	uint8_t *p;
	char *end;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: poisondev DEV OFF\n");
		return 2;
	}
	errno = 0;
	off = strtoull(argv[2], &end, 0);
	if (errno || *end || off % 4096) {
		fprintf(stderr, "poisondev: %s: not a 4 KiB-aligned offset\n",
			argv[2]);
		return 2;
	}
	sigaction(SIGBUS, &sa, NULL);
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		printf("err open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	p = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)(off / WINDOW * WINDOW));
	if (p == MAP_FAILED) {
		printf("err mmap %s at %#llx: %s\n", argv[1], off / WINDOW * WINDOW,
		       strerror(errno));
		return 1;
	}
	if (madvise(p + off % WINDOW, 4096, MADV_HWPOISON)) {
		printf("err madvise(MADV_HWPOISON): %s\n", strerror(errno));
		return 1;
	}
	if (got_code >= 0)
		printf("ok sigbus code=%d lsb=%d\n", (int)got_code, (int)got_lsb);
	else
		printf("ok madvise\n");
	return 0;
}
