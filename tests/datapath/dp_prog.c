/* SPDX-License-Identifier: MIT */
/*
 * The data path's test program: every call the preload shim interposes,
 * with its result, errno and the file offset after it printed one line
 * each, so that test_datapath.py can run it without the shim, with it,
 * with HOLDFS_DATAPATH=0 and through libholdfs's holdfs_* functions
 * (DP_LIB=1) and require the same output from all.
 *
 *   dp_prog SCENARIO DIR      io, append, dup, fork, exec, reuse, stdio,
 *                             errors, plain, fortify, threads, sigclose,
 *                             badbuf, fsize, fsize-late, sigappend,
 *                             segv (reads and writes a file, then crashes:
 *                             test_datapath.py looks at its core)
 *   dp_prog child-read FD N   (exec scenario) read N bytes of FD
 *
 * Built twice: dp_prog, and dp_prog_fortify with -D_FORTIFY_SOURCE=2, in
 * which read() of a buffer of known size is glibc's __read_chk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

/* The calls under test: libc's (the shim's, when it is loaded) or
 * libholdfs's (DP_LIB=1). */
static struct ops {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*creat)(const char *, mode_t);
	int (*close)(int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	off_t (*lseek)(int, off_t, int);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*sync_file_range)(int, off_t, off_t, unsigned int);
	int (*fstat)(int, struct stat *);
	int (*ftruncate)(int, off_t);
	int (*fallocate)(int, int, off_t, off_t);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
} o;

static const struct ops libc_ops = {
	open, openat, creat, close, read, write, pread, pwrite, readv, writev, preadv,
	pwritev, preadv2, pwritev2, lseek, fsync, fdatasync, sync_file_range,
	fstat, ftruncate, fallocate, dup, dup2, dup3, fcntl,
};

static const struct ops holdfs_ops = {
	holdfs_open, holdfs_openat, holdfs_creat, holdfs_close, holdfs_read, holdfs_write, holdfs_pread,
	holdfs_pwrite, holdfs_readv, holdfs_writev, holdfs_preadv,
	holdfs_pwritev, holdfs_preadv2, holdfs_pwritev2, holdfs_lseek,
	holdfs_fsync, holdfs_fdatasync, holdfs_sync_file_range, holdfs_fstat,
	holdfs_ftruncate, holdfs_fallocate, holdfs_dup, holdfs_dup2,
	holdfs_dup3, holdfs_fcntl,
};

static const char *dir;
static char self[4096];

static void die(const char *what)
{
	printf("FATAL %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *path(const char *name)
{
	static char p[8][4096];
	static unsigned k;
	char *s = p[k++ % 8];

	snprintf(s, sizeof(p[0]), "%s/%s", dir, name);
	return s;
}

/* "what = r" or "what = -1 ENAME"; errno is left as it was. */
static long res(const char *what, long r)
{
	int e = errno;

	if (r < 0)
		printf("%s = %ld %s\n", what, r, strerrorname_np(e));
	else
		printf("%s = %ld\n", what, r);
	errno = e;
	return r;
}

static long off(int fd)
{
	return o.lseek(fd, 0, SEEK_CUR);
}

static long size(int fd)
{
	struct stat st;

	return o.fstat(fd, &st) < 0 ? -1 : (long)st.st_size;
}

/* result, then the bytes (printable, or as hex) and the offset after */
static void got(const char *what, int fd, const char *buf, long r)
{
	printf("%s = %ld '", what, r);
	for (long i = 0; i < r; i++)
		if (buf[i] >= 32 && buf[i] < 127)
			putchar(buf[i]);
		else
			printf("\\x%02x", (unsigned char)buf[i]);
	if (r < 0)
		printf("' %s", strerrorname_np(errno));
	else
		printf("'");
	printf(" off=%ld\n", off(fd));
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}

/* The whole file as the kernel has it (a fresh descriptor). */
static void content(const char *name)
{
	char buf[65536];
	uint64_t h = 14695981039346656037ull;
	long n, total = 0;
	int fd = o.open(path(name), O_RDONLY);

	if (fd < 0)
		die("open for content");
	while ((n = o.read(fd, buf, sizeof(buf))) > 0) {
		if (total + n <= 64) {
			got("  content", fd, buf, n);
		}
		h = fnv(buf, (size_t)n, h);
		total += n;
	}
	printf("  %s: %ld bytes, fnv %016llx\n", name, total, (unsigned long long)h);
	o.close(fd);
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* ---- scenarios ---- */

static void sc_io(void)
{
	static char big[300000], back[300000];
	char buf[64] = { 0 }, rb[9];
	struct iovec wv[2] = { { "-vec", 4 }, { "tor-", 4 } };
	struct iovec rv[2] = { { rb, 4 }, { rb + 4, 5 } };
	struct iovec one = { buf, 6 };
	int fd = o.open(path("io"), O_CREAT | O_RDWR | O_TRUNC, 0644), dfd;

	if (fd < 0)
		die("open io");
	res("write", o.write(fd, "hello world\n", 12));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("lseek set 0", o.lseek(fd, 0, SEEK_SET));
	got("read 5", fd, buf, o.read(fd, buf, 5));
	got("readv 4+5", fd, rb, o.readv(fd, rv, 2));
	res("lseek set 9", o.lseek(fd, 9, SEEK_SET));
	got("read at 9 for 64", fd, buf, o.read(fd, buf, sizeof(buf)));
	got("read at eof", fd, buf, o.read(fd, buf, sizeof(buf)));
	got("pread 4 at 6", fd, buf, o.pread(fd, buf, 4, 6));
	res("pwrite HELLO at 0", o.pwrite(fd, "HELLO", 5, 0));
	printf("off=%ld\n", off(fd));
	res("writev at eof", o.writev(fd, wv, 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("pwritev at 2", o.pwritev(fd, wv, 2, 2));
	got("preadv 6 at 1", fd, buf, o.preadv(fd, &one, 1, 1));
	res("lseek set 3", o.lseek(fd, 3, SEEK_SET));
	got("preadv2 -1", fd, buf, o.preadv2(fd, &one, 1, -1, 0));
	got("preadv2 at 0", fd, buf, o.preadv2(fd, &one, 1, 0, 0));
	res("pwritev2 -1 dsync", o.pwritev2(fd, wv, 2, -1, RWF_DSYNC));
	printf("off=%ld\n", off(fd));
	res("pwritev2 at 30 sync", o.pwritev2(fd, wv, 1, 30, RWF_SYNC));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("preadv2 nowait at 0", o.preadv2(fd, &one, 1, 0, RWF_NOWAIT));
	res("preadv2 flags 0x40000000", o.preadv2(fd, &one, 1, 0, 0x40000000));
	res("lseek end 0", o.lseek(fd, 0, SEEK_END));
	res("lseek end -3", o.lseek(fd, -3, SEEK_END));
	res("lseek cur 2", o.lseek(fd, 2, SEEK_CUR));
	res("lseek cur -40", o.lseek(fd, -40, SEEK_CUR));
	res("lseek end 100 (past eof)", o.lseek(fd, 100, SEEK_END));
	res("write past eof", o.write(fd, "Z", 1));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	got("pread the gap", fd, buf, o.pread(fd, buf, 4, 40));
	res("lseek data 0", o.lseek(fd, 0, SEEK_DATA));
	res("lseek hole 0", o.lseek(fd, 0, SEEK_HOLE));
	res("ftruncate 20", o.ftruncate(fd, 20));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("lseek end 0", o.lseek(fd, 0, SEEK_END));
	res("ftruncate 4096", o.ftruncate(fd, 4096));
	got("pread over the truncated end", fd, buf, o.pread(fd, buf, 8, 16));
	res("fallocate keep 8192", o.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
	res("fallocate 0..10000", o.fallocate(fd, 0, 0, 10000));
	printf("size=%ld\n", size(fd));
	res("fsync", o.fsync(fd));
	res("fdatasync", o.fdatasync(fd));
	res("sync_file_range", o.sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	res("ftruncate 0", o.ftruncate(fd, 0));
	res("lseek set 0", o.lseek(fd, 0, SEEK_SET));
	fill(big, sizeof(big), 3);
	res("write 300000", o.write(fd, big, sizeof(big)));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("pread 300000", o.pread(fd, back, sizeof(back), 0));
	printf("same bytes: %s\n", memcmp(big, back, sizeof(big)) ? "no" : "yes");
	res("lseek set 1000", o.lseek(fd, 1000, SEEK_SET));
	res("read 100000", o.read(fd, back, 100000));
	printf("same bytes: %s off=%ld\n", memcmp(big + 1000, back, 100000) ? "no" : "yes",
	    off(fd));
	res("close", o.close(fd));
	content("io");
	fd = o.creat(path("cr"), 0644);
	res("write to creat's fd", o.write(fd, "created", 7));
	res("read from creat's fd", o.read(fd, buf, 4));
	o.close(fd);
	dfd = o.open(dir, O_RDONLY | O_DIRECTORY);
	fd = o.openat(dfd, "cr", O_RDWR | O_APPEND);
	res("append through openat", o.write(fd, "+", 1));
	got("pread through openat", fd, buf, o.pread(fd, buf, 8, 0));
	o.close(fd);
	o.close(dfd);
}

static void sc_append(void)
{
	char buf[64] = { 0 };
	struct iovec v = { "ij", 2 }, r = { buf, 4 };
	int fd, fd2;

	fd = o.open(path("ap"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	res("write", o.write(fd, "0123456789", 10));
	o.close(fd);
	fd = o.open(path("ap"), O_WRONLY | O_APPEND);
	printf("off after open=%ld\n", off(fd));
	res("append ab", o.write(fd, "ab", 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("lseek set 0", o.lseek(fd, 0, SEEK_SET));
	res("append cd", o.write(fd, "cd", 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("pwrite ef at 0 (appends)", o.pwrite(fd, "ef", 2, 0));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("F_SETFL 0", o.fcntl(fd, F_SETFL, 0));
	printf("O_APPEND now %d\n", !!(o.fcntl(fd, F_GETFL) & O_APPEND));
	res("lseek set 0", o.lseek(fd, 0, SEEK_SET));
	res("write XY at 0", o.write(fd, "XY", 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("F_SETFL O_APPEND", o.fcntl(fd, F_SETFL, O_APPEND));
	printf("O_APPEND now %d\n", !!(o.fcntl(fd, F_GETFL) & O_APPEND));
	res("append gh", o.write(fd, "gh", 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("pwritev2 noappend at 4", o.pwritev2(fd, &v, 1, 4, RWF_NOAPPEND));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	o.close(fd);
	fd2 = o.open(path("ap"), O_RDWR);
	res("lseek set 3", o.lseek(fd2, 3, SEEK_SET));
	res("pwritev2 -1 RWF_APPEND", o.pwritev2(fd2, &v, 1, -1, RWF_APPEND));
	printf("off=%ld size=%ld\n", off(fd2), size(fd2));
	res("lseek set 3", o.lseek(fd2, 3, SEEK_SET));
	res("pwritev2 at 1 RWF_APPEND", o.pwritev2(fd2, &v, 1, 1, RWF_APPEND));
	printf("off=%ld size=%ld\n", off(fd2), size(fd2));
	got("preadv2 -1", fd2, buf, o.preadv2(fd2, &r, 1, -1, 0));
	got("read to eof", fd2, buf, o.read(fd2, buf, sizeof(buf)));
	o.close(fd2);
	content("ap");
}

static int make(const char *name, const char *data)
{
	int fd = o.open(path(name), O_CREAT | O_RDWR | O_TRUNC, 0644);

	if (fd < 0 || o.write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		die("make");
	o.lseek(fd, 0, SEEK_SET);
	return fd;
}

static void sc_dup(void)
{
	char buf[64];
	int fd = make("dup", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	int d, g;

	d = (int)res("dup", o.dup(fd));
	got("read fd 4", fd, buf, o.read(fd, buf, 4));
	got("read dup 4", d, buf, o.read(d, buf, 4));
	res("dup2 to 50", o.dup2(fd, 50));
	got("read 50", 50, buf, o.read(50, buf, 3));
	res("dup3 to 51 cloexec", o.dup3(fd, 51, O_CLOEXEC));
	printf("51 cloexec %d\n", o.fcntl(51, F_GETFD) & FD_CLOEXEC);
	got("read 51", 51, buf, o.read(51, buf, 3));
	printf("F_DUPFD >= 60 is %s\n", o.fcntl(fd, F_DUPFD, 60) == 60 ? "60" : "other");
	printf("F_DUPFD_CLOEXEC >= 70 is %s\n",
	    o.fcntl(fd, F_DUPFD_CLOEXEC, 70) == 70 ? "70" : "other");
	got("read 60", 60, buf, o.read(60, buf, 2));
	got("read 70", 70, buf, o.read(70, buf, 2));
	res("write through 70", o.write(70, "__", 2));
	res("close fd", o.close(fd));
	got("read dup after close", d, buf, o.read(d, buf, 4));
	g = make("other", "OTHER FILE");
	got("read other 2", g, buf, o.read(g, buf, 2));
	res("dup2 dup onto other", o.dup2(d, g));
	got("read the number now", g, buf, o.read(g, buf, 4));
	res("dup2 onto itself", o.dup2(g, g));
	got("read it again", g, buf, o.read(g, buf, 4));
	res("dup3 onto itself", o.dup3(g, g, 0));
	o.close(50), o.close(51), o.close(60), o.close(70), o.close(g);
	got("read dup at the end", d, buf, o.read(d, buf, 64));
	o.close(d);
	content("dup");
	content("other");
}

/* A child shares the description: offsets continue across processes,
 * and a flag a child sets is the parent's too. */
static void sc_fork(void)
{
	char buf[64];
	int fd = make("fork", "0123456789abcdefghijklmnopqrstuvwxyz"), st;
	pid_t pid;

	got("parent read 4", fd, buf, o.read(fd, buf, 4));
	fflush(stdout);
	if ((pid = fork()) == 0) {
		fprintf(stderr, "child pid %d\n", (int)getpid());
		got("child read 6", fd, buf, o.read(fd, buf, 6));
		res("child write CHILD", o.write(fd, "CHILD", 5));
		fflush(stdout);
		exit(0);   /* exit, not _exit: it reports its own counters */
	}
	waitpid(pid, &st, 0);
	got("parent read 4 after the child", fd, buf, o.read(fd, buf, 4));
	fflush(stdout);
	if ((pid = fork()) == 0) {
		res("child F_SETFL O_APPEND", o.fcntl(fd, F_SETFL, O_APPEND));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	printf("parent sees O_APPEND %d\n", !!(o.fcntl(fd, F_GETFL) & O_APPEND));
	res("lseek set 0", o.lseek(fd, 0, SEEK_SET));
	res("parent write PA (appends)", o.write(fd, "PA", 2));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	o.close(fd);
	content("fork");
}

/* An exec'ed child reads and writes an inherited descriptor, with the
 * shim (if the parent has it) and without. */
static void run_child(int fd, int n, int keep_env)
{
	char a[16], b[16];
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		snprintf(a, sizeof(a), "%d", fd);
		snprintf(b, sizeof(b), "%d", n);
		if (!keep_env)
			unsetenv("LD_PRELOAD");
		execl(self, self, "child-read", a, b, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int child_read(int fd, int n)
{
	char buf[64];

	fprintf(stderr, "exec child pid %d LD_PRELOAD %s\n", (int)getpid(),
		getenv("LD_PRELOAD") ? "set" : "unset");
	got("  child read", fd, buf, o.read(fd, buf, (size_t)n));
	res("  child write !", o.write(fd, "!", 1));
	printf("  child off=%ld\n", off(fd));
	return 0;
}

static void sc_exec(void)
{
	char buf[64];
	int fd = make("exec", "0123456789abcdefghijklmnopqrstuvwxyz");

	got("parent read 3", fd, buf, o.read(fd, buf, 3));
	run_child(fd, 5, 1);
	got("parent read 3", fd, buf, o.read(fd, buf, 3));
	run_child(fd, 5, 0);
	got("parent read 3", fd, buf, o.read(fd, buf, 3));
	o.close(fd);
	content("exec");
}

/* Descriptor numbers closed where the shim cannot see it and given to
 * something else. */
static void sc_reuse(void)
{
	char buf[64];
	int fd, p[2], sv[2];
	FILE *fp;
	long n;

	o.close(make("r1", "first file"));
	o.close(make("r2", "SECOND FILE"));

	fd = o.open(path("r1"), O_RDONLY);
	got("read 3", fd, buf, o.read(fd, buf, 3));
	fp = fdopen(fd, "r");
	printf("fgetc '%c'\n", fgetc(fp));
	res("fclose", fclose(fp));
	if (pipe(p))
		die("pipe");
	printf("the pipe took the number: %s\n", p[0] == fd ? "yes" : "no");
	res("write pipe", o.write(p[1], "pipe!", 5));
	got("read pipe", p[0], buf, o.read(p[0], buf, sizeof(buf)));
	res("pread pipe", o.pread(p[0], buf, 1, 0));
	res("fsync pipe", o.fsync(p[0]));
	o.close(p[0]), o.close(p[1]);

	fd = o.open(path("r1"), O_RDONLY);
	got("read 6", fd, buf, o.read(fd, buf, 6));
	syscall(SYS_close, fd);
	n = syscall(SYS_openat, AT_FDCWD, path("r2"), O_RDONLY);
	printf("raw open took the number: %s\n", n == fd ? "yes" : "no");
	got("read the number", fd, buf, o.read(fd, buf, 6));
	printf("size=%ld\n", size(fd));
	res("lseek end", o.lseek(fd, 0, SEEK_END));
	o.close(fd);

	fd = o.open(path("r1"), O_RDWR);
	got("read 2", fd, buf, o.read(fd, buf, 2));
	syscall(SYS_close, fd);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	printf("the socket took the number: %s\n", sv[0] == fd ? "yes" : "no");
	res("write socket", o.write(sv[0], "sock", 4));
	got("read socket", sv[1], buf, o.read(sv[1], buf, sizeof(buf)));
	o.close(sv[0]), o.close(sv[1]);

	fd = o.open(path("r1"), O_RDONLY);
	res("close_range cloexec", close_range((unsigned)fd, (unsigned)fd,
					      CLOSE_RANGE_CLOEXEC));
	got("read after cloexec", fd, buf, o.read(fd, buf, 4));
	res("close_range", close_range((unsigned)fd, (unsigned)fd, 0));
	n = syscall(SYS_openat, AT_FDCWD, path("r2"), O_RDONLY);
	printf("raw open took the number: %s\n", n == fd ? "yes" : "no");
	got("read the number", fd, buf, o.read(fd, buf, 4));
	o.close(fd);

	fd = o.open(path("r1"), O_RDONLY);
	res("dup2 to 150", o.dup2(fd, 150));
	closefrom(100);
	res("F_GETFD 150 after closefrom", o.fcntl(150, F_GETFD));
	got("read the low one", fd, buf, o.read(fd, buf, 5));
	o.close(fd);
}

/* stdio's own calls are not interposed; its streams go to the kernel. */
static void sc_stdio(void)
{
	char line[64];
	FILE *fp;
	int fd;

	if (!(fp = fopen(path("st"), "w")))
		die("fopen");
	fprintf(fp, "line %d\n", 1);
	res("fclose", fclose(fp));
	fp = fopen(path("st"), "a");
	fputs("line 2\n", fp);
	fclose(fp);
	fp = fopen(path("st"), "r");
	printf("fgets '%s'\n", fgets(line, sizeof(line), fp) ? strtok(line, "\n") : "(null)");
	printf("ftell %ld\n", ftell(fp));
	fclose(fp);
	fd = o.open(path("st"), O_RDWR | O_APPEND);
	fp = fdopen(fd, "a");
	fprintf(fp, "line 3\n");
	fflush(fp);
	res("write through the descriptor too", o.write(fd, "line 4\n", 7));
	res("fclose", fclose(fp));
	content("st");
}

static void sc_errors(void)
{
	struct iovec v = { "x", 1 };
	char buf[16];
	int fd = o.open(path("er"), O_CREAT | O_WRONLY | O_TRUNC, 0644);

	res("write", o.write(fd, "data", 4));
	res("read on O_WRONLY", o.read(fd, buf, 4));
	res("pread on O_WRONLY", o.pread(fd, buf, 4, 0));
	res("lseek whence 42", o.lseek(fd, 0, 42));
	res("lseek set -1", o.lseek(fd, -1, SEEK_SET));
	res("lseek end -100", o.lseek(fd, -100, SEEK_END));
	res("lseek data past eof", o.lseek(fd, 100, SEEK_DATA));
	res("pwrite at -1", o.pwrite(fd, "x", 1, -1));
	res("pwritev2 at -2", o.pwritev2(fd, &v, 1, -2, 0));
	res("pwritev2 bad flags", o.pwritev2(fd, &v, 1, 0, 0x40000000));
	res("writev iovcnt -1", o.writev(fd, &v, -1));
	res("writev iovcnt 0", o.writev(fd, &v, 0));
	res("write 0 bytes", o.write(fd, "", 0));
	res("sync_file_range bad flags", o.sync_file_range(fd, 0, 0, 0x100));
	res("sync_file_range at -1", o.sync_file_range(fd, -1, 0, 0));
	res("F_DUPFD -1", o.fcntl(fd, F_DUPFD, -1));
	res("dup2 to -1", o.dup2(fd, -1));
	res("dup3 onto itself", o.dup3(fd, fd, 0));
	res("dup3 bad flags", o.dup3(fd, 90, 0x1));
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	res("close", o.close(fd));
	res("read closed", o.read(fd, buf, 4));
	res("write closed", o.write(fd, "x", 1));
	res("lseek closed", o.lseek(fd, 0, SEEK_END));
	res("fstat closed", size(fd));
	res("fsync closed", o.fsync(fd));
	res("F_GETFL closed", o.fcntl(fd, F_GETFL));
	res("dup closed", o.dup(fd));
	res("close closed", o.close(fd));
	fd = o.open(path("er"), O_RDONLY);
	res("write on O_RDONLY", o.write(fd, "x", 1));
	res("ftruncate on O_RDONLY", o.ftruncate(fd, 0));
	res("fallocate on O_RDONLY", o.fallocate(fd, 0, 0, 10));
	res("fsync on O_RDONLY", o.fsync(fd));
	errno = 1234;
	o.read(fd, buf, 2);
	o.pread(fd, buf, 2, 0);
	o.lseek(fd, 0, SEEK_END);
	size(fd);
	o.fsync(fd);
	o.close(fd);
	printf("errno after calls that succeeded: %d\n", errno);
	res("open missing", o.open(path("missing"), O_RDONLY));
	fd = (int)res("open the directory", o.open(dir, O_RDONLY | O_DIRECTORY));
	res("read the directory", o.read(fd, buf, 4));
	o.close(fd);
	fd = (int)res("open O_PATH", o.open(path("er"), O_PATH));
	res("read O_PATH", o.read(fd, buf, 4));
	printf("size through O_PATH=%ld\n", size(fd));
	o.close(fd);
}

/* Descriptors that are no files of a mount: pipes and sockets. */
static void sc_plain(void)
{
	char buf[64] = { 0 };
	struct iovec v[2] = { { "ab", 2 }, { "cd", 2 } };
	struct iovec r = { buf, 3 };
	int p[2], sv[2], d;
	struct stat st;

	if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("pipe");
	res("write pipe", o.write(p[1], "hello", 5));
	res("writev pipe", o.writev(p[1], v, 2));
	got("read pipe", p[0], buf, o.read(p[0], buf, 3));
	got("readv pipe", p[0], buf, o.readv(p[0], &r, 1));
	res("lseek pipe", o.lseek(p[0], 0, SEEK_CUR));
	res("pwrite pipe", o.pwrite(p[1], "x", 1, 0));
	res("F_SETFL O_NONBLOCK", o.fcntl(p[0], F_SETFL, O_NONBLOCK));
	got("read pipe", p[0], buf, o.read(p[0], buf, sizeof(buf)));
	res("read empty nonblocking pipe", o.read(p[0], buf, sizeof(buf)));
	d = o.dup(p[1]);
	res("write the pipe's dup", o.write(d, "!", 1));
	got("read it", p[0], buf, o.read(p[0], buf, sizeof(buf)));
	o.close(d);
	res("write socket", o.write(sv[0], "sock", 4));
	got("read socket", sv[1], buf, o.read(sv[1], buf, sizeof(buf)));
	res("fsync socket", o.fsync(sv[0]));
	res("ftruncate socket", o.ftruncate(sv[0], 0));
	printf("socket is a socket: %d\n", o.fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode));
	errno = 4321;
	o.write(sv[0], "x", 1);
	o.read(sv[1], buf, 1);
	printf("errno after calls that succeeded: %d\n", errno);
	o.close(p[0]), o.close(p[1]), o.close(sv[0]), o.close(sv[1]);
}

/* Built with -D_FORTIFY_SOURCE=2, these are __read_chk, __pread64_chk,
 * __open64_2 and __openat64_2 (called by name: a call through a function
 * pointer is not fortified). */
static void sc_fortify(void)
{
	char buf[16];
	volatile size_t n = 8;
	volatile int rd = O_RDONLY;
	int fd = make("fo", "fortified read!!"), dfd;

	got("read", fd, buf, read(fd, buf, n));
	got("pread", fd, buf, pread(fd, buf, n, 2));
	close(fd);
	fd = open(path("fo"), rd);
	got("read after open", fd, buf, read(fd, buf, n));
	close(fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	fd = openat(dfd, "fo", rd);
	got("read after openat", fd, buf, read(fd, buf, n));
	close(fd);
	close(dfd);
}

/* Readers of one descriptor number while another thread keeps putting
 * other files on it: every byte read is one of the files', and nothing
 * is used after it was freed. */
static struct {
	int fd;
	volatile int stop;
	long bad, reads;
} race;

static void *reader(void *arg)
{
	char c;

	(void)arg;
	while (!race.stop) {
		if (o.pread(race.fd, &c, 1, 0) == 1 && c != 'A' && c != 'B')
			__atomic_add_fetch(&race.bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&race.reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void sc_threads(void)
{
	int a = make("ta", "AAAA"), b = make("tb", "BBBB");
	pthread_t t[3];

	race.fd = o.dup(a);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	for (int i = 0; i < 20000; i++) {
		if (i % 100 == 99)
			o.close(race.fd);
		o.dup2(i % 2 ? b : a, race.fd);
	}
	race.stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("bytes of neither file: %ld\n", race.bad);
	fprintf(stderr, "reads during the race: %ld\n", race.reads);
	o.close(race.fd), o.close(a), o.close(b);
}

/* A signal handler that closes a served descriptor (close is
 * async-signal-safe), landing anywhere in the calls this thread makes on
 * it -- while the descriptor table's entry is held by this very thread,
 * too: no hang, and every read gives the file's bytes or EBADF.  A
 * watchdog thread (SIGALRM blocked) ends a stuck run. */
static struct {
	volatile sig_atomic_t fd, closed;
	long closes, bad;
	volatile long progress;
} sig;

static void sig_close(int signo)
{
	int e = errno;

	(void)signo;
	if (!sig.closed) {
		o.close(sig.fd);
		sig.closed = 1;
	}
	errno = e;
}

static void *watchdog(void *arg)
{
	long last = -1;

	(void)arg;
	for (int still = 0; still < 10; still++) {
		sleep(1);
		if (sig.progress != last)
			still = 0;
		last = sig.progress;
	}
	printf("sigclose: stuck for 10 s after %ld closes\n", sig.closes);
	fflush(stdout);
	_exit(1);
}

static void sc_sigclose(void)
{
	struct sigaction sa = { .sa_handler = sig_close, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, off = { 0 };
	char buf[16];
	sigset_t alrm;
	pthread_t w;
	int fd = make("sigclose", "0123456789abcdef");

	sig.fd = fd;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	pthread_create(&w, NULL, watchdog, NULL);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (sig.closes < 2000) {
		ssize_t n;

		sig.progress++;
		if (sig.closed) {
			int nfd = o.open(path("sigclose"), O_RDONLY);

			if (nfd >= 0 && nfd != fd) {
				o.dup2(nfd, fd);
				o.close(nfd);
			}
			sig.closes++;
			sig.closed = 0;
			continue;
		}
		n = o.pread(fd, buf, sizeof(buf), 0);
		if (n >= 0 && (n != 16 || memcmp(buf, "0123456789abcdef", 16)))
			sig.bad++;
		else if (n < 0 && errno != EBADF)
			sig.bad++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN);
	printf("sigclose: %ld closes by the handler, %ld reads of other bytes\n",
	       sig.closes, sig.bad);
	if (!sig.closed)
		o.close(fd);
}

/* Buffers the kernel's copy answers with EFAULT (or a short count):
 * a served call must give the same, not kill the program with the
 * SIGSEGV its own copy takes there; and the program's own SIGSEGV
 * handler and the default action must be as without the data path. */
static sigjmp_buf segv_jb;
static volatile sig_atomic_t segv_seen;
static void *volatile nowhere = (void *)16; /* unmapped: page 0 */

static void own_segv(int signo)
{
	(void)signo;
	segv_seen++;
	siglongjmp(segv_jb, 1);
}

static void sc_badbuf(void)
{
	char buf[8192], *ro, *half;
	void *bad = nowhere;
	struct iovec v[3] = { { buf, 10 }, { bad, 10 }, { buf, 10 } };
	struct sigaction sa;
	int fd, ap, st;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = own_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);   /* before the data path's */
	ro = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	half = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED || half == MAP_FAILED)
		die("mmap");
	/* its second page inaccessible (not unmapped: a later mapping of
	 * the process could fill the hole) */
	if (mprotect(half + 4096, 4096, PROT_NONE))
		die("mprotect");
	fill(half, 4096, 5);
	fd = o.open(path("bb"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	fill(buf, sizeof(buf), 3);
	res("write 8192", o.write(fd, buf, 8192));
	res("pread 8192", o.pread(fd, buf, 8192, 0)); /* leased by now */
	res("write from a bad pointer", o.write(fd, bad, 4096));
	res("pwrite from a bad pointer", o.pwrite(fd, bad, 4096, 0));
	res("pwrite past eof from a bad pointer", o.pwrite(fd, bad, 4096, 9000));
	res("pread into a bad pointer", o.pread(fd, bad, 4096, 0));
	o.lseek(fd, 100, SEEK_SET);
	res("read into a bad pointer", o.read(fd, bad, 4096));
	res("pread into read-only memory", o.pread(fd, ro, 4096, 0));
	res("pwrite from half a buffer", o.pwrite(fd, half, 8192, 100));
	res("pwrite past eof from half a buffer",
	    o.pwrite(fd, half, 8192, 8000));
	res("pread into half a buffer", o.pread(fd, half, 8192, 4096));
	printf("half a buffer read: fnv %016llx\n",
	       (unsigned long long)fnv(half, 4096, 14695981039346656037ull));
	res("writev, bad second vector", o.writev(fd, v, 3));
	res("preadv, bad second vector", o.preadv(fd, v, 3, 0));
	ap = o.open(path("bb"), O_WRONLY | O_APPEND);
	res("append 10", o.write(ap, buf, 10));
	res("append from a bad pointer", o.write(ap, bad, 4096));
	res("append from half a buffer", o.write(ap, half, 8192));
	o.close(ap);
	printf("off=%ld size=%ld\n", off(fd), size(fd));
	o.close(fd);
	content("bb");
	if (!sigsetjmp(segv_jb, 1))
		*(volatile char *)bad = 1;
	printf("the program's own handler ran %d time(s)\n", (int)segv_seen);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)bad = 1;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		die("fork");
	printf("a fault with the default action: %s\n",
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? "killed by SIGSEGV"
							  : "survived");
	munmap(ro, 8192);
	munmap(half, 8192);
}

/* RLIMIT_FSIZE: the kernel sends SIGXFSZ and fails a write at or past
 * the limit with EFBIG, and writes short across it, whatever the file's
 * size; a served write must do the same. */
static volatile sig_atomic_t xfsz_seen;

static void on_xfsz(int signo)
{
	(void)signo;
	xfsz_seen++;
}

static void set_fsize(rlim_t lim)
{
	struct rlimit rl = { lim, RLIM_INFINITY };

	if (setrlimit(RLIMIT_FSIZE, &rl))
		die("setrlimit");
}

/* Writes against a limit of 20000 on fd (at least 8192 bytes long, its
 * offset at 0) and ap (the same file, O_APPEND). */
static void fsize_writes(int fd, int ap)
{
	char buf[8192];

	fill(buf, sizeof(buf), 11);
	res("pwrite below the limit", o.pwrite(fd, buf, 4096, 100));
	res("pwrite across the limit", o.pwrite(fd, buf, 8192, 16384));
	printf("SIGXFSZ %d\n", (int)xfsz_seen);
	res("pwrite past the limit", o.pwrite(fd, buf, 10, 30000));
	res("pwrite at the limit", o.pwrite(fd, buf, 10, 20000));
	printf("SIGXFSZ %d\n", (int)xfsz_seen);
	res("append at the limit", o.write(ap, buf, 10));
	o.lseek(fd, 19990, SEEK_SET);
	res("write across the limit", o.write(fd, buf, 100));
	printf("off=%ld size=%ld SIGXFSZ %d\n", off(fd), size(fd),
	       (int)xfsz_seen);
	res("ftruncate past the limit", o.ftruncate(fd, 30000));
	printf("SIGXFSZ %d\n", (int)xfsz_seen);
}

static void sc_fsize(void)
{
	char buf[8192];
	int fd, ap;

	signal(SIGXFSZ, on_xfsz);
	set_fsize(20000);   /* before the files: every mode sees it */
	fd = o.open(path("fs"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	ap = o.open(path("fs"), O_WRONLY | O_APPEND);
	fill(buf, sizeof(buf), 7);
	res("write 8192", o.write(fd, buf, 8192));
	res("pread 8192", o.pread(fd, buf, 8192, 0));
	o.lseek(fd, 0, SEEK_SET);
	fsize_writes(fd, ap);
	set_fsize(RLIM_INFINITY);   /* raised with the files open */
	res("pwrite past the old limit", o.pwrite(fd, buf, 8192, 30000));
	res("append past the old limit", o.write(ap, buf, 100));
	printf("size=%ld SIGXFSZ %d\n", size(fd), (int)xfsz_seen);
	o.close(ap);
	o.close(fd);
	content("fs");
}

/* The limit lowered while the files are open and leased: seen by the
 * shim's setrlimit (not by a program that links libholdfs: it counts
 * from its next file, docs/data-path.md). */
static void sc_fsize_late(void)
{
	char buf[8192];
	int fd, ap;

	signal(SIGXFSZ, on_xfsz);
	fd = o.open(path("fl"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	ap = o.open(path("fl"), O_WRONLY | O_APPEND);
	fill(buf, sizeof(buf), 7);
	res("write 8192", o.write(fd, buf, 8192));
	res("append 8192", o.write(ap, buf, 8192));
	res("pread 8192", o.pread(fd, buf, 8192, 0));
	o.ftruncate(fd, 8192);
	o.lseek(fd, 0, SEEK_SET);
	set_fsize(20000);
	fsize_writes(fd, ap);
	o.close(ap);
	o.close(fd);
	content("fl");
}

/* A signal handler that appends to the file the interrupted code is
 * appending to (write(2) is async-signal-safe: handlers log).  The
 * kernel finishes a write before a handler runs; a direct append holds
 * the inode's slot lock meanwhile, so its handler's append must wait for
 * the end of it, not for the lock its own thread holds. */
#define SA_MAIN 3000
#define SA_LEN 100

static int app_fd;
static volatile sig_atomic_t app_sent, app_failed;

static void app_handler(int signo)
{
	char rec[10] = "h00000000\n";
	int e = errno;
	long k = app_sent;

	(void)signo;
	for (int i = 8; i >= 1; i--, k /= 10)
		rec[i] = (char)('0' + k % 10);
	if (o.write(app_fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec))
		app_sent++;
	else
		app_failed++;
	errno = e;
}

static void sc_sigappend(void)
{
	struct itimerval every = { { 0, 1000 }, { 0, 1000 } }, stop = { 0 };
	struct sigaction sa;
	char rec[SA_LEN], *buf;
	long m = 0, h = 0, other = 0, len;
	struct timespec t0, t;
	int fd, rd;

	fd = o.open(path("sa"), O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
	app_fd = o.open(path("sa"), O_WRONLY | O_APPEND);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* SA_MAIN records, or 3 s: the kernel's FUSE writes may be slow */
	for (long i = 0; i < SA_MAIN; i++) {
		memset(rec, '.', sizeof(rec));
		snprintf(rec, sizeof(rec), "m%08ld", i);
		rec[9] = '.';
		rec[SA_LEN - 1] = '\n';
		if (o.write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			die("append");
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 3)
			break;
	}
	setitimer(ITIMER_REAL, &stop, NULL);
	signal(SIGALRM, SIG_IGN);
	o.close(fd);
	o.close(app_fd);
	/* every record whole, each writer's in order, nothing else */
	rd = o.open(path("sa"), O_RDONLY);
	len = size(rd);
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (!buf || o.pread(rd, buf, (size_t)len, 0) != len)
		die("read back");
	for (long at = 0; at < len;) {
		char *r = buf + at;
		if (*r == 'm' && len - at >= SA_LEN && r[SA_LEN - 1] == '\n' &&
		    strtol(r + 1, NULL, 10) == m) {
			m++;
			at += SA_LEN;
		} else if (*r == 'h' && len - at >= 10 && r[9] == '\n' &&
			   strtol(r + 1, NULL, 10) == h) {
			h++;
			at += 10;
		} else {
			other++;
			at++;
		}
	}
	o.close(rd);
	free(buf);
	printf("sigappend: main's records whole and in order: %s\n",
	       m > 0 ? "yes" : "none");
	printf("sigappend: the handler's records whole and in order: %s\n",
	       h == app_sent && !app_failed ? "yes" : "no");
	printf("sigappend: other bytes: %ld\n", other);
}

/* The data path's handlers installed, then a crash of the program's own:
 * it must die of it as without them, its core showing this function. */
__attribute__((noinline)) static void crash_here(void)
{
	*(volatile char *)nowhere = 1;
}

static void sc_segv(void)
{
	char buf[8192];
	int fd = o.open(path("segv"), O_CREAT | O_RDWR | O_TRUNC, 0644);

	fill(buf, sizeof(buf), 1);
	if (o.write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
	    o.pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    o.pwrite(fd, buf, 4096, 0) != 4096)
		die("segv: io");
	fflush(stdout);
	crash_here();
	printf("survived\n");
}

static const struct {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{ "io", sc_io }, { "append", sc_append }, { "dup", sc_dup },
	{ "fork", sc_fork }, { "exec", sc_exec }, { "reuse", sc_reuse },
	{ "stdio", sc_stdio }, { "errors", sc_errors }, { "plain", sc_plain },
	{ "fortify", sc_fortify }, { "threads", sc_threads },
	{ "sigclose", sc_sigclose }, { "badbuf", sc_badbuf },
	{ "fsize", sc_fsize }, { "fsize-late", sc_fsize_late },
	{ "sigappend", sc_sigappend }, { "segv", sc_segv },
};

int main(int argc, char **argv)
{
	const char *lib = getenv("DP_LIB");
	ssize_t n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	o = lib && !strcmp(lib, "1") ? holdfs_ops : libc_ops;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	if (argc == 4 && !strcmp(argv[1], "child-read"))
		return child_read(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3) {
		dir = argv[2];
		for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			if (!strcmp(argv[1], scenarios[i].name)) {
				scenarios[i].fn();
				return 0;
			}
	}
	fprintf(stderr, "usage: dp_prog SCENARIO DIR | child-read FD N\n");
	return 2;
}
