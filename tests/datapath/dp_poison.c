/* SPDX-License-Identifier: MIT */
/*
 * dp_poison: a machine check during a direct read's copy (test_direct.py,
 * docs/data-path.md "Revocation and failures").
 *
 *   dp_poison PATH REGION ROFF LEN
 *
 * Runs under the preload shim, PATH at least LEN bytes, region offset
 * ROFF (page aligned) inside its first LEN bytes.  Reads [0, LEN) once
 * (the shim maps it), finds where the shim mapped ROFF of the region file
 * REGION (/proc/self/maps) and makes that page PROT_NONE.  The next read's
 * copy then faults on it; this program's SIGSEGV handler, installed over
 * libholdfs's with libc's own sigaction (the shim would chain it behind
 * the data path's guard, which ends a SIGSEGV in a copy as EIO itself),
 * gives the page back and sends its own thread the SIGBUS a load from
 * poisoned memory raises there (BUS_MCEERR_AR, si_addr on the page: a thread may send
 * itself any si_code; this kernel cannot poison memory for real).  That
 * SIGBUS arrives while the copy is under way, so the shim's guard must
 * turn it into EIO for the read and report the poison, never let the
 * signal through: this program's own SIGBUS handler counts what reaches
 * it.
 *
 * Prints "read EIO|OK|ERRNO handler H segv S" and exits 0 (1: setup
 * failed, 3: no window of ROFF mapped).  Dying of SIGBUS is the failure
 * the test looks for.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t handler_calls, segv_calls;
static uint8_t *page;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	handler_calls++;
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
	siginfo_t mce;

	(void)uc;
	if ((uint8_t *)si->si_addr < page || (uint8_t *)si->si_addr >= page + 4096) {
		signal(sig, SIG_DFL);   /* not ours: crash as usual */
		return;
	}
	segv_calls++;
	mprotect(page, 4096, PROT_READ);
	memset(&mce, 0, sizeof(mce));
	mce.si_signo = SIGBUS;
	mce.si_code = BUS_MCEERR_AR;
	mce.si_addr = si->si_addr;
	syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGBUS,
		&mce);
}

/* libc's sigaction, past the shim's (which would put the handler behind
 * libholdfs's) */
static int libc_sigaction(int sig, const struct sigaction *sa)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	int (*fn)(int, const struct sigaction *, struct sigaction *) =
		libc ? (int (*)(int, const struct sigaction *,
				struct sigaction *))dlsym(libc, "sigaction")
		     : NULL;

	return fn ? fn(sig, sa, NULL) : -1;
}

/* The address of region offset roff in a mapping of the region file. */
static uint8_t *window_of(const char *region, uint64_t roff)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	uint8_t *at = NULL;

	if (!f)
		return NULL;
	while (!at && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off;
		char path[4096] = "";

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095[^\n]", &lo, &hi,
			   &off, path) < 3)
			continue;
		if (strcmp(path, region) || roff < off || roff - off >= hi - lo)
			continue;
		at = (uint8_t *)(lo + (roff - off));
	}
	fclose(f);
	return at;
}

int main(int argc, char **argv)
{
	struct sigaction bus = { .sa_sigaction = on_sigbus,
				 .sa_flags = SA_SIGINFO };
	struct sigaction segv = { .sa_sigaction = on_sigsegv,
				  .sa_flags = SA_SIGINFO | SA_NODEFER };
	size_t len;
	ssize_t n;
	char *buf;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: dp_poison PATH REGION ROFF LEN\n");
		return 2;
	}
	len = strtoull(argv[4], NULL, 0);
	buf = malloc(len);
	fd = open(argv[1], O_RDONLY);
	if (!buf || fd < 0 || sigaction(SIGBUS, &bus, NULL)) {
		perror("dp_poison: setup");
		return 1;
	}
	if (pread(fd, buf, len, 0) != (ssize_t)len) {
		perror("dp_poison: first read");
		return 1;
	}
	if (libc_sigaction(SIGSEGV, &segv)) {
		perror("dp_poison: SIGSEGV handler");
		return 1;
	}
	page = window_of(argv[2], strtoull(argv[3], NULL, 0));
	if (!page) {
		fprintf(stderr, "dp_poison: no mapping of %s offset %s\n",
			argv[2], argv[3]);
		return 3;
	}
	if (mprotect(page, 4096, PROT_NONE)) {
		perror("dp_poison: mprotect");
		return 1;
	}
	n = pread(fd, buf, len, 0);
	printf("read %s handler %d segv %d\n",
	       n == (ssize_t)len ? "OK" : n >= 0 ? "SHORT" :
	       errno == EIO ? "EIO" : strerror(errno),
	       (int)handler_calls, (int)segv_calls);
	return 0;
}
