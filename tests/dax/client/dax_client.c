/* SPDX-License-Identifier: MIT */
/*
 * dax_client: a libholdfs client driven line by line from stdin, for the
 * multi-process tests (test_client.py).  One mapping at a time.  Every
 * command answers exactly one line on stdout: "ok ..." or "err <errno>".
 *
 *   map PATH OFF LEN r|rw   holdfs_map of PATH (opened O_RDONLY / O_RDWR)
 *   fill OFF LEN BYTE       memset at file offset OFF (a store)
 *   persist OFF LEN         holdfs_persist
 *   read OFF LEN            hex of the bytes at file offset OFF
 *   crc OFF LEN             zlib's CRC-32 of the mapped bytes, catching
 *                           SIGBUS: "ok crc=XXXXXXXX" or the touch answer
 *   touch OFF               load one byte, catching SIGBUS:
 *                           "ok sigbus code=C lsb=L addr=0|1 off=O
 *                            revoked=R reason=N path=P" or "ok byte XX"
 *                           (L: si_addr_lsb of a machine check, else 0)
 *   poke OFF BYTE           store one byte, catching SIGBUS (same answer)
 *   info                    holdfs_lease_info
 *   events                  revoke handler calls so far
 *   unmap                   holdfs_unmap
 *   hwpoison OFF            madvise(MADV_HWPOISON) of the page at file
 *                           offset OFF (root), catching SIGBUS: the
 *                           touch answer, or "ok madvise" if no signal
 *   ao                      action-optional machine-check SIGBUS
 *                           (BUS_MCEERR_AO) received outside a touch:
 *                           "ok ao=N addr=A" (A: the last one's si_addr
 *                           as a file offset, -1 if none or below the map)
 *   fork OFF                in a forked child: holdfs_unmap (must not
 *                           release the parent's lease), then load OFF;
 *                           "ok child unmap=R signal=S" (S: the signal
 *                           that killed the child, 0 if none)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#include "zcrc32.h"

static struct holdfs_mapping *map;
static uint64_t map_off;
static uint8_t *base;

static sigjmp_buf jb;
static volatile sig_atomic_t armed;
static void *volatile bus_addr;
static volatile int bus_code, bus_lsb, bus_info_rc;
static struct holdfs_fault bus_fault;

static atomic_int nevents;
static struct holdfs_revoke_event last_ev;

static volatile sig_atomic_t ao_count;
static void *volatile ao_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!armed && si->si_code == BUS_MCEERR_AO) {
		/* the kernel's notice that a page we map is poisoned: no
		 * fault to unwind, only count it */
		ao_addr = si->si_addr;
		ao_count++;
		return;
	}
	if (!armed)
		abort();
	bus_addr = si->si_addr;
	bus_code = si->si_code;
	bus_lsb = si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO ?
		  si->si_addr_lsb : 0;
	/* the contract under test: callable from a SIGBUS handler */
	bus_info_rc = holdfs_fault_info(si->si_addr, &bus_fault);
	armed = 0;
	siglongjmp(jb, 1);
}

static void on_revoke(void *ctx, const struct holdfs_revoke_event *ev)
{
	(void)ctx;
	last_ev = *ev;
	atomic_fetch_add(&nevents, 1);
}

/* store: 0 load, 1 store, 2 madvise(MADV_HWPOISON) of the page */
static int touch(uint64_t off, int store, int byte)
{
	volatile uint8_t *p = base + (off - map_off);

	if (sigsetjmp(jb, 1)) {
		printf("ok sigbus code=%d lsb=%d addr=%d off=%llu revoked=%d "
		       "reason=%u info=%d path=%s\n", bus_code, bus_lsb,
		       bus_addr == (void *)p,
		       (unsigned long long)bus_fault.file_offset,
		       bus_fault.revoked, bus_fault.reason, bus_info_rc,
		       bus_info_rc ? "-" : bus_fault.path);
		return 0;
	}
	armed = 1;
	if (store == 2) {
		long pg = sysconf(_SC_PAGESIZE);
		int r = madvise((void *)((uintptr_t)p & ~(uintptr_t)(pg - 1)),
				(size_t)pg, MADV_HWPOISON);
		int e = errno;

		armed = 0;
		if (r)
			return -e;
		printf("ok madvise\n");
		return 0;
	}
	if (store)
		*p = (uint8_t)byte;
	else
		byte = *p;
	armed = 0;
	printf("ok byte %02x\n", byte & 0xff);
	return 0;
}

static int cmd_crc(uint64_t off, uint64_t len)
{
	volatile uint8_t *p = base + (off - map_off);
	uint32_t c;

	if (sigsetjmp(jb, 1)) {
		printf("ok sigbus code=%d off=%llu revoked=%d reason=%u\n",
		       bus_code, (unsigned long long)bus_fault.file_offset,
		       bus_fault.revoked, bus_fault.reason);
		return 0;
	}
	armed = 1;
	c = zcrc32(p, len);
	armed = 0;
	printf("ok crc=%08x\n", c);
	return 0;
}

static int cmd_map(const char *path, uint64_t off, uint64_t len, const char *mode)
{
	int rw = !strcmp(mode, "rw");
	int fd = open(path, rw ? O_RDWR : O_RDONLY);
	int r;

	if (fd < 0)
		return -errno;
	r = holdfs_map(fd, off, len, rw ? PROT_READ | PROT_WRITE : PROT_READ, 0,
		       &map);
	close(fd);	/* the lease does not need the fd */
	if (r)
		return r;
	map_off = off;
	base = holdfs_addr(map);
	printf("ok mapped\n");
	return 0;
}

static int cmd_info(void)
{
	struct holdfs_lease_info li;
	int r = holdfs_lease_info(map, &li);

	if (r)
		return r;
	printf("ok lease=%llu ino=%llu off=%llu len=%llu prot=%d extents=%u "
	       "holes=%u revoked=%llu path=%s\n",
	       (unsigned long long)li.lease_id, (unsigned long long)li.ino,
	       (unsigned long long)li.offset, (unsigned long long)li.length,
	       li.prot, li.nextents, li.nholes,
	       (unsigned long long)li.revoked_bytes, li.path);
	return 0;
}

static int dispatch(char *line)
{
	char cmd[16], s[4096];
	unsigned long long a = 0, b = 0;
	unsigned c = 0;
	int n = sscanf(line, "%15s", cmd);

	if (n != 1)
		return -EINVAL;
	if (!strcmp(cmd, "map") && sscanf(line, "%*s %4095s %llu %llu %3s", s, &a, &b,
					  cmd) == 4)
		return cmd_map(s, a, b, cmd);
	if (!map && strcmp(cmd, "events"))
		return -ENOENT;
	if (!strcmp(cmd, "fill") && sscanf(line, "%*s %llu %llu %u", &a, &b, &c) == 3) {
		memset(base + (a - map_off), (int)c, b);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(cmd, "persist") && sscanf(line, "%*s %llu %llu", &a, &b) == 2) {
		int r = holdfs_persist(map, base + (a - map_off), b);

		if (!r)
			printf("ok\n");
		return r;
	}
	if (!strcmp(cmd, "read") && sscanf(line, "%*s %llu %llu", &a, &b) == 2 &&
	    b <= 2000) {
		printf("ok ");
		for (unsigned long long i = 0; i < b; i++)
			printf("%02x", base[a - map_off + i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(cmd, "crc") && sscanf(line, "%*s %llu %llu", &a, &b) == 2)
		return cmd_crc(a, b);
	if (!strcmp(cmd, "touch") && sscanf(line, "%*s %llu", &a) == 1)
		return touch(a, 0, 0);
	if (!strcmp(cmd, "poke") && sscanf(line, "%*s %llu %u", &a, &c) == 2)
		return touch(a, 1, (int)c);
	if (!strcmp(cmd, "hwpoison") && sscanf(line, "%*s %llu", &a) == 1)
		return touch(a, 2, 0);
	if (!strcmp(cmd, "ao")) {
		uint8_t *x = ao_addr;

		printf("ok ao=%d addr=%lld\n", (int)ao_count,
		       x >= base && ao_count ? (long long)(x - base) +
						(long long)map_off : -1LL);
		return 0;
	}
	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "events")) {
		printf("ok n=%d off=%llu len=%llu reason=%u lease=%llu\n",
		       atomic_load(&nevents), (unsigned long long)last_ev.offset,
		       (unsigned long long)last_ev.length, last_ev.reason,
		       (unsigned long long)last_ev.lease_id);
		return 0;
	}
	if (!strcmp(cmd, "fork") && sscanf(line, "%*s %llu", &a) == 1) {
		int pfd[2], st, r = 0;
		pid_t pid;

		if (pipe(pfd) < 0)
			return -errno;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			signal(SIGSEGV, SIG_DFL);
			signal(SIGBUS, SIG_DFL);
			r = holdfs_unmap(map);
			(void)!write(pfd[1], &r, sizeof(r));
			close(pfd[1]);
			(void)*(volatile uint8_t *)(base + (a - map_off));
			_exit(0);
		}
		close(pfd[1]);
		if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
			r = 1;
		close(pfd[0]);
		waitpid(pid, &st, 0);
		printf("ok child unmap=%d signal=%d\n", r,
		       WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		return 0;
	}
	if (!strcmp(cmd, "unmap")) {
		int r = holdfs_unmap(map);

		map = NULL;
		printf("ok %d\n", r);
		return 0;
	}
	return -EINVAL;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	char line[8192];

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGBUS, &sa, NULL);
	holdfs_set_revoke_handler(on_revoke, NULL);
	while (fgets(line, sizeof(line), stdin)) {
		int r;

		if (!strncmp(line, "quit", 4))
			break;
		r = dispatch(line);
		if (r)
			printf("err %d %s\n", -r, strerror(-r));
	}
	return 0;
}
