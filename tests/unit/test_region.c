/* SPDX-License-Identifier: MIT */
/*
 * Region layer: memory and file regions, creation, ownership lock,
 * error messages, the SIGBUS guard (file shrunk behind a mapping is the
 * faithful stand-in for device-dax removal) and device-dax discovery on
 * a fake sysfs tree.
 *
 * Order matters for the signal tests: each runs in a forked child that
 * installs the guard itself, so they run before the parent first uses a
 * guard (the handler is installed once per process).
 */
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_sysfs.h"

/* Sanitizers install their own SIGBUS handler, which our guard then
 * chains to for faults that are not ours: a SIGBUS outside any guard
 * would become a sanitizer report with exit code 1 instead of the death
 * by SIGBUS these tests expect.  The guard itself works either way. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_sigbus=0";
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "handle_sigbus=0";
}

static int failures;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			failures++;                                        \
		}                                                          \
	} while (0)

#define MIB (1024u * 1024u)

static char tmpdir[PATH_MAX];

static void tmp_path(char *buf, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name) >= PATH_MAX)
		abort();
}

/* A fresh region file of size bytes, via hfs_region_create_file. */
static void make_region_file(char *path, const char *name, uint64_t size)
{
	struct hfs_err err = { 0 };

	tmp_path(path, name);
	unlink(path);
	if (hfs_region_create_file(path, size, &err)) {
		fprintf(stderr, "create %s: %s\n", path, err.msg);
		exit(1);
	}
}

static struct hfs_region *open_rw(const char *path)
{
	struct hfs_region_opts opts = { 0 };
	struct hfs_region *rg = NULL;
	struct hfs_err err = { 0 };

	if (hfs_region_open(path, &opts, &rg, &err)) {
		fprintf(stderr, "open %s: %s\n", path, err.msg);
		exit(1);
	}
	return rg;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* --- signal tests (forked) ---------------------------------------- */

/* A faulting access outside any guard still kills with SIGBUS. */
static void test_unguarded_fault_kills(void)
{
	char path[PATH_MAX];
	pid_t pid;
	int st;

	make_region_file(path, "kill.img", 1 * MIB);
	pid = fork();
	if (pid == 0) {
		struct hfs_region *rg = open_rw(path);
		char c;

		truncate(path, 0);
		/* installs the handler; guarded fault is survived */
		if (hfs_region_read(rg, 0, &c, 1, NULL) != -EIO)
			_exit(2);
		c = *(volatile char *)(rg->base + 4096);
		_exit(c == 0 ? 3 : 4);
	}
	st = wait_child(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
}

static int touch_fn(void *arg)
{
	return *(volatile char *)arg;
}

/* Inside a guard, a fault just below or just past the guarded region is
 * not the region's: it must kill.  The guarded region is a window
 * [64K, 68K) of a mapping whose file was truncated away. */
static void test_fault_outside_window_kills(uint64_t touch_off)
{
	char path[PATH_MAX];
	pid_t pid;
	int st;

	make_region_file(path, "window.img", 1 * MIB);
	pid = fork();
	if (pid == 0) {
		struct hfs_region *rg = open_rw(path), *win;

		truncate(path, 0);
		hfs_region_from_memory(rg->base + 65536, 4096, &win);
		if (hfs_region_guard(win, touch_fn, win->base + 4095, NULL) !=
		    -EIO)
			_exit(2);
		hfs_region_guard(win, touch_fn, rg->base + touch_off, NULL);
		_exit(3);
	}
	st = wait_child(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
}

/* kill -BUS is not a fault: it must not be swallowed by a guard. */
static void test_sent_sigbus_kills(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		static uint8_t buf[4096];
		struct hfs_region *rg;
		char c;

		hfs_region_from_memory(buf, sizeof(buf), &rg);
		hfs_region_read(rg, 0, &c, 1, NULL);
		raise(SIGBUS);
		_exit(0);
	}
	st = wait_child(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
}

static sigjmp_buf prev_jb;
static volatile sig_atomic_t prev_calls;

static void prev_handler(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	(void)si;
	(void)uctx;
	prev_calls++;
	siglongjmp(prev_jb, 1);
}

/* A handler installed before ours still gets faults that are not ours,
 * and never the guarded ones. */
static int chain_child(const char *path)
{
	struct sigaction sa = { .sa_sigaction = prev_handler,
				.sa_flags = SA_SIGINFO };
	struct hfs_region *rg;
	struct hfs_fault f;
	char c;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	rg = open_rw(path);
	truncate(path, 0);
	if (hfs_region_read(rg, 100, &c, 1, &f) != -EIO || prev_calls != 0)
		return 2;
	if (sigsetjmp(prev_jb, 1) == 0)
		c = *(volatile char *)(rg->base + 8192);
	if (prev_calls != 1)
		return 3;
	/* and the guard still works after the chained fault */
	return hfs_region_read(rg, 5, &c, 1, &f) == -EIO && f.off == 5 ? 0 : 4;
}

static void test_chains_previous_handler(void)
{
	char path[PATH_MAX];
	pid_t pid;
	int st;

	make_region_file(path, "chain.img", 1 * MIB);
	pid = fork();
	if (pid == 0)
		_exit(chain_child(path));
	st = wait_child(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* An action-optional machine check (BUS_MCEERR_AO) in a region with an
 * AO hook goes to the hook, with the region offset, and the process goes
 * on; outside it, or once the hook is removed, it kills as before. */
static _Atomic uint64_t ao_off = UINT64_MAX;

static void ao_hook(void *ctx, const struct hfs_fault *f)
{
	(void)ctx;
	if (f->si_code == BUS_MCEERR_AO && f->lsb == 12)
		atomic_store(&ao_off, f->off);
}

static int ao_child(bool outside, bool removed)
{
	static uint8_t buf[65536], other[4096];
	struct hfs_region *rg, *og;

	hfs_region_from_memory(buf, sizeof(buf), &rg);
	hfs_region_from_memory(other, sizeof(other), &og);
	if (hfs_region_set_ao_hook(rg, ao_hook, NULL))
		return 2;
	if (removed && hfs_region_set_ao_hook(rg, NULL, NULL))
		return 3;
	if (outside)
		hfs_region_send_ao(og, 100, 12);  /* no hook there: kills */
	else
		hfs_region_send_ao(rg, 12345, 12);
	return atomic_load(&ao_off) == 12345 ? 0 : 4;
}

/* The range a machine check names: 2^lsb aligned around the address,
 * lsb taken between a page and 1 GiB. */
static void test_fault_range(void)
{
	struct hfs_fault f = { 0x3401234, BUS_MCEERR_AO, 21 };
	uint64_t off, len;

	hfs_fault_range(&f, &off, &len);
	CHECK(off == 0x3400000 && len == 2 * MIB);
	f.lsb = 12;
	hfs_fault_range(&f, &off, &len);
	CHECK(off == 0x3401000 && len == 4096);
	f.lsb = 0; /* the kernel gave none: a page */
	hfs_fault_range(&f, &off, &len);
	CHECK(off == 0x3401000 && len == 4096);
	f.lsb = 40; /* nonsense: at most 1 GiB */
	hfs_fault_range(&f, &off, &len);
	CHECK(off == 0 && len == 1ull << 30);
}

static void test_ao_hook(void)
{
	static const bool cases[][3] = {
		/* outside, removed, survives */
		{ false, false, true },
		{ true, false, false },
		{ false, true, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			_exit(ao_child(cases[i][0], cases[i][1]));
		st = wait_child(pid);
		if (cases[i][2])
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		else
			CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);
	}
}

/* --- memory and file regions -------------------------------------- */

static void test_memory_region(void)
{
	static uint8_t mem[64 * 1024];
	struct hfs_region *rg;
	uint8_t out[16];

	CHECK(hfs_region_from_memory(NULL, 10, &rg) == -EINVAL);
	CHECK(hfs_region_from_memory(mem, 0, &rg) == -EINVAL);
	CHECK(hfs_region_from_memory(mem, sizeof(mem), &rg) == 0);
	CHECK(rg->kind == HFS_REGION_MEMORY && rg->fd == -1);
	CHECK(rg->align == 4096 && rg->size == sizeof(mem));
	CHECK(hfs_region_write(rg, 100, "hello, region!!", 16, NULL) == 0);
	CHECK(memcmp(mem + 100, "hello, region!!", 16) == 0);
	CHECK(hfs_region_read(rg, 100, out, 16, NULL) == 0);
	CHECK(memcmp(out, "hello, region!!", 16) == 0);
	CHECK(hfs_region_zero(rg, 104, 4, NULL) == 0);
	CHECK(mem[104] == 0 && mem[107] == 0 && mem[108] == 'e');
	CHECK(hfs_region_badblocks(rg, NULL, NULL) == 0);
	CHECK(hfs_region_check_backing(rg) == 0);
	rg->ops.persist(mem, 16);
	hfs_region_close(rg);
}

static void check_ranges(struct hfs_region *rg)
{
	uint8_t b[8];

	CHECK(hfs_region_read(rg, rg->size, b, 0, NULL) == 0);
	CHECK(hfs_region_read(rg, rg->size - 4, b, 8, NULL) == -ERANGE);
	CHECK(hfs_region_read(rg, rg->size + 1, b, 0, NULL) == -ERANGE);
	CHECK(hfs_region_read(rg, UINT64_MAX, b, 8, NULL) == -ERANGE);
	CHECK(hfs_region_read(rg, 8, b, SIZE_MAX, NULL) == -ERANGE);
	CHECK(hfs_region_write(rg, UINT64_MAX - 2, b, 8, NULL) == -ERANGE);
	CHECK(hfs_region_zero(rg, rg->size, 1, NULL) == -ERANGE);
}

static void test_file_roundtrip(void)
{
	char path[PATH_MAX], buf[32];
	struct hfs_region_opts ro = { .readonly = true };
	struct hfs_region *rg;
	struct hfs_err err = { 0 };

	make_region_file(path, "rt.img", 4 * MIB);
	rg = open_rw(path);
	CHECK(rg->kind == HFS_REGION_FILE && rg->fd >= 0 && !rg->readonly);
	CHECK(rg->size == 4 * MIB && rg->align == 4096);
	CHECK(rg->granularity && rg->devname[0] == '\0');
	CHECK(rg->ops.persist && rg->ops.flush && rg->ops.drain &&
	      rg->ops.memcpy && rg->ops.memset);
	CHECK(hfs_region_write(rg, 3 * MIB, "persistent bytes", 17, NULL) == 0);
	CHECK(hfs_region_write(rg, 4096, "zero me", 8, NULL) == 0);
	CHECK(hfs_region_zero(rg, 4096, 4, NULL) == 0);
	check_ranges(rg);
	CHECK(hfs_region_check_backing(rg) == 0);
	hfs_region_close(rg);

	CHECK(hfs_region_open(path, &ro, &rg, &err) == 0);
	CHECK(rg && rg->readonly);
	CHECK(hfs_region_read(rg, 3 * MIB, buf, 17, NULL) == 0);
	CHECK(strcmp(buf, "persistent bytes") == 0);
	CHECK(hfs_region_read(rg, 4096, buf, 8, NULL) == 0);
	CHECK(memcmp(buf, "\0\0\0\0 me", 8) == 0);
	CHECK(hfs_region_write(rg, 0, buf, 1, NULL) == -EROFS);
	CHECK(hfs_region_zero(rg, 0, 1, NULL) == -EROFS);
	hfs_region_close(rg);
}

/* Three files mapped as one volume at 0, 1 GiB and 2 GiB: a store at a
 * member's offset lands in that member's file; the gaps and a range over
 * a member's end are -ERANGE (never a fault); the backing check looks at
 * each member with its own size; bad layouts are refused and close what
 * they were given. */
static void test_assemble(void)
{
	const uint64_t G = 1ull << 30, offs[3] = { 0, G, 2 * G };
	char p0[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], buf[8];
	struct hfs_region *rg, *others[2];
	struct hfs_err err = { 0 };
	int fd;

	make_region_file(p0, "m0.img", 4 * MIB);
	make_region_file(p1, "m1.img", 8 * MIB);
	make_region_file(p2, "m2.img", 4 * MIB);
	rg = open_rw(p0);
	others[0] = open_rw(p1);
	others[1] = open_rw(p2);
	CHECK(hfs_region_assemble(rg, others, offs, 3, &err) == 0);
	CHECK(hfs_region_nmembers(rg) == 3 && rg->size == 2 * G + 4 * MIB);
	CHECK((uintptr_t)rg->base % (2 * MIB) == 0);
	CHECK(hfs_region_member_of(rg, 0) == 0);
	CHECK(hfs_region_member_of(rg, G + 8 * MIB - 1) == 1);
	CHECK(hfs_region_member_of(rg, G + 8 * MIB) == -1);
	CHECK(hfs_region_member_of(rg, 4 * MIB) == -1);
	CHECK(hfs_region_member_size(rg, 1) == 8 * MIB);
	CHECK(hfs_region_write(rg, G + 4096, "member1", 8, NULL) == 0);
	CHECK(hfs_region_write(rg, 2 * G + 8, "member2", 8, NULL) == 0);
	CHECK(hfs_region_read(rg, 4 * MIB, buf, 1, NULL) == -ERANGE);
	CHECK(hfs_region_read(rg, G + 8 * MIB - 4, buf, 8, NULL) == -ERANGE);
	CHECK(hfs_region_write(rg, G - 4096, buf, 8, NULL) == -ERANGE);
	CHECK(hfs_region_check_backing(rg) == 0);
	/* member 2 shrinks: the volume's backing is gone */
	CHECK(truncate(p2, 4096) == 0);
	CHECK(hfs_region_check_backing(rg) == -ENXIO);
	CHECK(truncate(p2, 4 * MIB) == 0);
	hfs_region_close(rg);
	fd = open(p1, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, 8, 4096) == 8 &&
	      memcmp(buf, "member1", 8) == 0);
	close(fd);
	fd = open(p2, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, 8, 8) == 8 &&
	      memcmp(buf, "member2", 8) == 0);
	close(fd);

	/* overlapping members: refused, everything closed (the locks too) */
	rg = open_rw(p0);
	others[0] = open_rw(p1);
	CHECK(hfs_region_assemble(rg, others, (const uint64_t[]){ 0, 4096 }, 2,
				  &err) == -EINVAL);
	hfs_region_close(rg);
	rg = open_rw(p1); /* its lock was released */
	hfs_region_close(rg);
}

/* Device 0 of a mirrored volume lost (its file truncated): the mirror
 * mapped over device 0's metadata range serves the same offsets (reads
 * what was mirrored, writes land in the mirror's file), device 0's data
 * range fails with -EIO (a fault, never a crash), the mirror is stopped,
 * and device 0's backing check follows the mirror's device.  Without a
 * mirror the switch is refused and nothing changes. */
static void test_fail_over(void)
{
	const uint64_t G = 1ull << 30, offs[2] = { 0, G };
	char p0[PATH_MAX], p1[PATH_MAX], buf[8];
	struct hfs_region *rg, *others[1];
	struct hfs_fault f = { 0 };
	struct hfs_err err = { 0 };
	int fd;

	make_region_file(p0, "f0.img", 4 * MIB);
	make_region_file(p1, "f1.img", 8 * MIB);
	rg = open_rw(p0);
	others[0] = open_rw(p1);
	CHECK(hfs_region_assemble(rg, others, offs, 2, &err) == 0);
	CHECK(hfs_region_fail_over(rg, &err) == -ENODEV); /* no mirror */
	CHECK(hfs_region_failed_over(rg) == 0);
	CHECK(hfs_region_set_mirror(rg, MIB, G + MIB, &err) == 0);
	CHECK(hfs_region_write(rg, 4096, "meta-1", 7, NULL) == 0);
	CHECK(hfs_region_write(rg, 2 * MIB, "data-0", 7, NULL) == 0);
	CHECK(truncate(p0, 0) == 0);                 /* device 0 gone */
	CHECK(hfs_region_read(rg, 4096, buf, 7, &f) == -EIO);
	CHECK(hfs_region_check_member_backing(rg, 0) == -ENXIO);
	CHECK(hfs_region_fail_over(rg, &err) == 0);
	CHECK(hfs_region_failed_over(rg) == 1);
	CHECK(!hfs_region_mirrored(rg, NULL, NULL));
	CHECK(hfs_region_read(rg, 4096, buf, 7, NULL) == 0 &&
	      memcmp(buf, "meta-1", 7) == 0);
	CHECK(hfs_region_write(rg, 8192, "meta-2", 7, NULL) == 0);
	memset(&f, 0, sizeof(f));
	CHECK(hfs_region_read(rg, 2 * MIB, buf, 7, &f) == -EIO &&
	      f.off == 2 * MIB);
	CHECK(hfs_region_write(rg, 3 * MIB, "x", 1, NULL) == -EIO);
	CHECK(hfs_region_check_member_backing(rg, 0) == 0); /* the mirror's */
	CHECK(hfs_region_fail_over(rg, &err) == 0);          /* done already */
	fd = open(p1, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, 7, MIB + 8192) == 7 &&
	      memcmp(buf, "meta-2", 7) == 0);
	close(fd);
	CHECK(truncate(p1, 4096) == 0);              /* then the mirror's */
	CHECK(hfs_region_check_member_backing(rg, 0) == -ENXIO);
	CHECK(hfs_region_read(rg, 4096, buf, 7, NULL) == -EIO);
	hfs_region_close(rg);
}

static int count_bb(void *ctx, uint64_t off, uint64_t len)
{
	(void)off;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_file_badblocks(void)
{
	char path[PATH_MAX];
	struct hfs_region *rg;
	int n = 0;

	make_region_file(path, "bb.img", 1 * MIB);
	rg = open_rw(path);
	CHECK(hfs_region_badblocks(rg, count_bb, &n) == 0);
	CHECK(n == 0);
	hfs_region_close(rg);
}

static void test_create_file(void)
{
	char path[PATH_MAX];
	struct hfs_err err = { 0 };
	struct stat st;
	int fd;

	tmp_path(path, "sparse.img");
	CHECK(hfs_region_create_file(path, 64 * MIB, &err) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 64 * MIB);
	CHECK(st.st_blocks < 64); /* sparse: nothing allocated yet */
	CHECK((st.st_mode & 0777) == 0600);
	CHECK(hfs_region_create_file(path, 1 * MIB, &err) == -EEXIST);
	CHECK(strstr(err.msg, path) && strstr(err.msg, "already exists"));

	tmp_path(path, "empty.img");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	memset(&err, 0, sizeof(err));
	CHECK(hfs_region_create_file(path, 2 * MIB, &err) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 2 * MIB);
	CHECK(hfs_region_create_file(path, 0, &err) == -EINVAL);
	CHECK(hfs_region_create_file(tmpdir, 1 * MIB, &err) == -EEXIST);
}

/* --- ownership ----------------------------------------------------- */

static void test_lock(void)
{
	struct hfs_region_opts rw = { 0 }, ro = { .readonly = true },
			       nolock = { .no_lock = true };
	char path[PATH_MAX], who[256], want[64];
	struct hfs_region *rg, *rg2 = NULL;
	struct hfs_err err = { 0 };

	make_region_file(path, "lock.img", 1 * MIB);
	rg = open_rw(path);
	snprintf(want, sizeof(want), "pid %d (", (int)getpid());
	CHECK(hfs_region_open(path, &rw, &rg2, &err) == -EBUSY);
	CHECK(rg2 == NULL && err.code == -EBUSY);
	CHECK(strstr(err.msg, path) && strstr(err.msg, "held by"));
	CHECK(strstr(err.msg, want) && strstr(err.msg, program_invocation_name));
	CHECK(strstr(err.msg, "unmount it or stop that process first"));
	CHECK(hfs_region_holder(path, who, sizeof(who)) == getpid());
	CHECK(strncmp(who, want, strlen(want)) == 0);

	/* a read-only open takes a shared lock: refused while held */
	CHECK(hfs_region_open(path, &ro, &rg2, NULL) == -EBUSY);
	CHECK(hfs_region_open(path, &nolock, &rg2, NULL) == 0);
	hfs_region_close(rg2);

	hfs_region_close(rg);
	/* readers share; a writer is refused while a reader holds it */
	CHECK(hfs_region_open(path, &ro, &rg, NULL) == 0);
	CHECK(hfs_region_open(path, &ro, &rg2, NULL) == 0);
	hfs_region_close(rg2);
	rg2 = NULL;
	CHECK(hfs_region_open(path, &rw, &rg2, NULL) == -EBUSY);
	hfs_region_close(rg);
	CHECK(hfs_region_holder(path, who, sizeof(who)) == 0);
	CHECK(hfs_region_open(path, &rw, &rg2, NULL) == 0);
	hfs_region_close(rg2);
	CHECK(hfs_region_holder("/nonexistent/x", who, sizeof(who)) == -ENOENT);
}

/* --- open errors --------------------------------------------------- */

static int open_err(const char *path, bool readonly, struct hfs_err *err)
{
	struct hfs_region_opts opts = { .readonly = readonly };
	struct hfs_region *rg = (struct hfs_region *)1;
	int ret;

	memset(err, 0, sizeof(*err));
	ret = hfs_region_open(path, &opts, &rg, err);
	CHECK(rg == NULL);
	CHECK(ret == err->code && strstr(err->msg, path));
	return ret;
}

static void test_open_errors(void)
{
	char path[PATH_MAX];
	struct hfs_err err;
	int fd;

	tmp_path(path, "missing.img");
	CHECK(open_err(path, false, &err) == -ENOENT);
	CHECK(strstr(err.msg, "no such file"));
	CHECK(open_err(tmpdir, false, &err) == -EINVAL);
	CHECK(strstr(err.msg, "not a regular file or device-dax node"));
	CHECK(open_err(tmpdir, true, &err) == -EINVAL);
	CHECK(strstr(err.msg, "directory"));
	CHECK(open_err("/dev/null", false, &err) == -EINVAL);
	CHECK(strstr(err.msg, "not a regular file or device-dax node"));

	tmp_path(path, "empty0.img");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK(open_err(path, false, &err) == -EINVAL);
	CHECK(strstr(err.msg, "empty region"));
	tmp_path(path, "fifo");
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(open_err(path, true, &err) == -EINVAL); /* must not hang */
	CHECK(strstr(err.msg, "FIFO"));
}

/* As root, drop to nobody in a child to see the permission message. */
static void test_permission_error(void)
{
	char path[PATH_MAX];
	pid_t pid;
	int st;

	if (getuid() != 0) {
		printf("SKIP permission test: needs root to drop to nobody\n");
		return;
	}
	make_region_file(path, "perm.img", 1 * MIB);
	chmod(tmpdir, 0755);
	pid = fork();
	if (pid == 0) {
		struct hfs_err err = { 0 };
		struct hfs_region *rg;
		int ret;

		if (setuid(65534))
			_exit(2);
		ret = hfs_region_open(path, NULL, &rg, &err);
		_exit(ret == -EACCES && strstr(err.msg, "permission denied") &&
		      strstr(err.msg, path) ? 0 : 1);
	}
	st = wait_child(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	chmod(tmpdir, 0700);
}

/* --- the guard ----------------------------------------------------- */

static bool sigbus_unblocked(void)
{
	sigset_t set;

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	return !sigismember(&set, SIGBUS);
}

static int guarded_fn(void *arg)
{
	return *(int *)arg;
}

static void test_guard_truncated(void)
{
	char path[PATH_MAX], buf[300];
	struct hfs_region *rg;
	struct hfs_fault f = { 0 };
	int v = 42;

	make_region_file(path, "guard.img", 1 * MIB);
	rg = open_rw(path);
	CHECK(hfs_region_write(rg, 8192, "data", 4, NULL) == 0);
	CHECK(hfs_region_guard(rg, guarded_fn, &v, &f) == 42);
	CHECK(truncate(path, 0) == 0); /* the device-loss drill */

	CHECK(hfs_region_read(rg, 8197, buf, 1, &f) == -EIO);
	CHECK(f.si_code == BUS_ADRERR && f.off == 8197);
	memset(&f, 0, sizeof(f));
	CHECK(hfs_region_read(rg, 65536 + 10, buf, sizeof(buf), &f) == -EIO);
	CHECK(f.si_code == BUS_ADRERR);
	CHECK(f.off >= 65536 + 10 && f.off < 65536 + 10 + sizeof(buf));
	CHECK(hfs_region_write(rg, 12345, "x", 1, &f) == -EIO);
	CHECK(f.off == 12345);
	CHECK(hfs_region_zero(rg, 20000, 100, &f) == -EIO);
	CHECK(f.off >= 20000 && f.off < 20100);
	CHECK(hfs_region_read(rg, 0, buf, 1, NULL) == -EIO); /* fault NULL */
	CHECK(sigbus_unblocked()); /* the unwind restored the mask */
	CHECK(hfs_region_check_backing(rg) == -ENXIO);
	hfs_region_close(rg);
}

/* Frames are per thread: concurrent faults land in the right thread. */
struct fault_worker {
	struct hfs_region *rg;
	uint64_t base_off;
	int bad;
};

static void *fault_worker_run(void *arg)
{
	struct fault_worker *w = arg;
	struct hfs_fault f;
	char c;

	for (uint64_t i = 0; i < 2000; i++) {
		uint64_t off = w->base_off + i * 7;

		if (hfs_region_read(w->rg, off, &c, 1, &f) != -EIO ||
		    f.off != off || f.si_code != BUS_ADRERR)
			w->bad++;
	}
	return NULL;
}

static void test_guard_threads(void)
{
	struct fault_worker w[4];
	pthread_t t[4];
	char path[PATH_MAX];
	struct hfs_region *rg;

	make_region_file(path, "threads.img", 1 * MIB);
	rg = open_rw(path);
	CHECK(truncate(path, 0) == 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct fault_worker){ rg, (uint64_t)i * 65536, 0 };
		CHECK(pthread_create(&t[i], NULL, fault_worker_run, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].bad == 0);
	}
	hfs_region_close(rg);
}

/* --- device-dax on a fake sysfs -------------------------------------- */

static const struct fake_devdax dax90 = {
	.size = 1006 * MIB, .align = 2 * MIB, .resource = 0x240000000ull,
	.target_node = 1, .bound = true,
};

static void test_devdax_probe(const char *root)
{
	struct hfs_devdax_info info;
	struct hfs_err err = { 0 };

	CHECK(hfs_devdax_probe(root, "dax9.0", &info, &err) == 0);
	CHECK(info.size == 1006 * MIB && info.align == 2 * MIB);
	CHECK(info.resource == 0x240000000ull && info.target_node == 1);
	CHECK(info.bound);
	CHECK(fake_sysfs_set_bound(root, "dax9.0", false) == 0);
	CHECK(hfs_devdax_probe(root, "dax9.0", &info, &err) == 0);
	CHECK(!info.bound);
	CHECK(fake_sysfs_set_bound(root, "dax9.0", true) == 0);

	CHECK(hfs_devdax_probe(root, "dax9.1", &info, &err) == -ENODEV);
	CHECK(strstr(err.msg, "dax9.1") && strstr(err.msg, "no such device-dax"));
	memset(&err, 0, sizeof(err));
	CHECK(hfs_devdax_probe(root, "../x", &info, &err) == -EINVAL);

	setenv("HOLDFS_SYSFS_ROOT", root, 1);
	CHECK(hfs_devdax_probe(NULL, "dax9.0", &info, NULL) == 0);
	CHECK(info.size == 1006 * MIB);
	unsetenv("HOLDFS_SYSFS_ROOT");
	CHECK(strcmp(hfs_region_sysfs_root(NULL), "/sys") == 0);
}

static void test_devdax_bad_attrs(const char *root)
{
	struct fake_devdax d = dax90;
	struct hfs_devdax_info info;
	struct hfs_err err = { 0 };
	char path[PATH_MAX];

	CHECK(fake_sysfs_add_devdax(root, "dax9.2", &d) == 0);
	CHECK(fake_sysfs_write(root, "bus/dax/devices/dax9.2/size", "lots\n") == 0);
	CHECK(hfs_devdax_probe(root, "dax9.2", &info, &err) == -EINVAL);
	CHECK(strstr(err.msg, "dax9.2/size"));
	CHECK(fake_sysfs_path(path, root, "bus/dax/devices/dax9.2/size") == 0);
	unlink(path);
	memset(&err, 0, sizeof(err));
	CHECK(hfs_devdax_probe(root, "dax9.2", &info, &err) == -ENOENT);
	CHECK(strstr(err.msg, "dax9.2/size"));
	/* resource and target_node are optional */
	d.resource = 0;
	CHECK(fake_sysfs_add_devdax(root, "dax9.3", &d) == 0);
	CHECK(fake_sysfs_path(path, root, "bus/dax/devices/dax9.3/target_node") == 0);
	unlink(path);
	CHECK(hfs_devdax_probe(root, "dax9.3", &info, &err) == 0);
	CHECK(info.target_node == -1 && info.resource == 0);
}

/* A char node whose dev/char link names dax9.0 in the fake tree is
 * classified as device-dax; libpmem2 then checks the real device.  The
 * node is /dev/null's numbers, so mapping must fail cleanly. */
static void test_devdax_open(const char *root)
{
	struct hfs_region_opts opts = { .sysfs_root = root };
	struct fake_devdax d = dax90;
	char node[PATH_MAX];
	struct hfs_region *rg;
	struct hfs_err err = { 0 };

	d.major = 1, d.minor = 3;
	CHECK(fake_sysfs_add_devdax(root, "dax9.5", &d) == 0);
	tmp_path(node, "daxnode");
	if (mknod(node, S_IFCHR | 0600, makedev(1, 3))) {
		printf("SKIP devdax open: mknod: %s\n", strerror(errno));
		return;
	}
	CHECK(fake_sysfs_set_bound(root, "dax9.5", false) == 0);
	CHECK(hfs_region_open(node, &opts, &rg, &err) == -ENXIO);
	CHECK(strstr(err.msg, node) && strstr(err.msg, "daxctl enable-device dax9.5"));
	CHECK(fake_sysfs_set_bound(root, "dax9.5", true) == 0);
	memset(&err, 0, sizeof(err));
	CHECK(hfs_region_open(node, &opts, &rg, &err) < 0);
	CHECK(strstr(err.msg, node) && strstr(err.msg, "libpmem2"));
	memset(&err, 0, sizeof(err));
	CHECK(hfs_region_open("/dev/null", &opts, &rg, &err) < 0);
	CHECK(strstr(err.msg, "libpmem2")); /* same numbers: dax9.5 */
}

static void test_devdax(void)
{
	char root[PATH_MAX];

	if (fake_sysfs_init(root, sizeof(root))) {
		CHECK(!"fake sysfs init");
		return;
	}
	CHECK(fake_sysfs_add_devdax(root, "dax9.0", &dax90) == 0);
	test_devdax_probe(root);
	test_devdax_bad_attrs(root);
	test_devdax_open(root);
	fake_sysfs_destroy(root);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/holdfs-test-region.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	/* forked signal tests first: see the header comment */
	test_unguarded_fault_kills();
	test_fault_outside_window_kills(65536 - 1);
	test_fault_outside_window_kills(65536 + 4096);
	test_sent_sigbus_kills();
	test_chains_previous_handler();
	test_ao_hook();

	test_fault_range();
	test_memory_region();
	test_file_roundtrip();
	test_assemble();
	test_fail_over();
	test_file_badblocks();
	test_create_file();
	test_lock();
	test_open_errors();
	test_permission_error();
	test_guard_truncated();
	test_guard_threads();
	test_devdax();

	fake_sysfs_destroy(tmpdir);
	if (failures) {
		fprintf(stderr, "test_region: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_region: all checks passed\n");
	return 0;
}
