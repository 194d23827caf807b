/* SPDX-License-Identifier: MIT */
/*
 * The drill's worker processes, forked by the parent (drill_steps.c) and
 * reporting over a pipe with CLOCK_MONOTONIC times (struct dmsg); they die
 * with the parent (PR_SET_PDEATHSIG) and end on SIGTERM.
 *
 * A client (libholdfs) maps K read leases of its file, touches every page
 * of each in a loop, and reports its revoke callbacks (M_REVOKED) and
 * SIGBUS faults (M_SIGBUS: the handler longjmps out of the touch and the
 * lease counts as lost); it stays after losing everything, since the
 * daemon revokes or kills.  On SIGUSR1 (a poison drill) a client sends
 * itself, while touching its first lease, the SIGBUS a machine check on
 * that lease's first page raises (BUS_MCEERR_AR, rt_tgsigqueueinfo to
 * its own thread): libholdfs's handler reports the poison to the daemon
 * and passes the signal on to the client's handler, as a real one would
 * go; every other client of a poison drill also maps client 0's first
 * lease (the poisoned block's other holders).  In an offline drill a
 * client's offline handler (its own thread) reports the notice
 * (M_NOTICE), has the loop stop touching, unmaps every lease and reports
 * it (M_RELEASED); a stubborn client reports the notice and stops
 * itself (SIGSTOP): it keeps its leases and cannot ACK the revoke that
 * follows the deadline, so the daemon kills it.  A writer pwrites its file's pattern and
 * fsyncs in a loop and reports its first error (M_ERROR).  Both send
 * M_BEAT every BEAT_NS of progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

#include "drill.h"

static int g_wfd = -1;
static unsigned g_me;

static void say(uint32_t type, uint32_t lease, int32_t val, uint64_t aux)
{
	struct dmsg m = { type, g_me, lease, val, now_ns(), aux };
	ssize_t r;

	do
		r = write(g_wfd, &m, sizeof(m));
	while (r < 0 && errno == EINTR);
}

/* ----------------------------------------------------- client process */

static struct holdfs_mapping *g_map[MAXK + 1];
static volatile sig_atomic_t g_dead[MAXK + 1];
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_poison;   /* SIGUSR1: touch poison */
static volatile unsigned g_cur;
static unsigned g_k;
static bool g_stubborn;
static atomic_bool g_offline;   /* the notice came: stop touching */
static atomic_bool g_quiet;     /* the loop stopped touching */
static sigjmp_buf g_jb;

static void on_term(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	g_poison = 1;
}

/* The machine check of a load from poisoned memory at p, as the kernel
 * delivers it: to this thread, si_code BUS_MCEERR_AR, si_addr p. */
static void touch_poison(const volatile uint8_t *p)
{
	siginfo_t si = { 0 };

	g_poison = 0;
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AR;
	si.si_addr = (void *)p;
	si.si_addr_lsb = 12;
	syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGBUS,
		&si);
}

static void on_revoke(void *ctx, const struct holdfs_revoke_event *ev)
{
	(void)ctx;
	for (unsigned i = 0; i < g_k; i++)
		if (g_map[i] == ev->mapping) {
			say(M_REVOKED, i, (int32_t)ev->reason, ev->offset);
			return;
		}
}

/* The offline notice (a thread of libholdfs's): let go of everything,
 * once the loop no longer touches it (bounded). */
static void on_offline(void *ctx, const struct holdfs_offline_event *ev)
{
	(void)ctx;
	say(M_NOTICE, 0, (int32_t)ev->deadline_ms, 0);
	if (g_stubborn) {
		/* libholdfs ACKs a REVOKE before any handler runs: only a
		 * process that cannot run at all keeps it from that */
		kill(getpid(), SIGSTOP);
		return;
	}
	atomic_store(&g_offline, true);
	for (int i = 0; i < 1000 && !atomic_load(&g_quiet); i++)
		usleep(1000);
	for (unsigned i = 0; i < g_k; i++)
		holdfs_unmap(g_map[i]);
	say(M_RELEASED, 0, 0, 0);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct holdfs_fault f;
	int32_t reason = -1;

	(void)sig;
	(void)uc;
	if (holdfs_fault_info(si->si_addr, &f) == 0)
		reason = (int32_t)f.reason;
	say(M_SIGBUS, g_cur, reason, 0);
	siglongjmp(g_jb, 1);
}

/* Map k leases of FSIZE (rounded up to the allocation unit) of path, with
 * the revoke and SIGBUS handlers in place; their length.  Exits on
 * failure, after M_FATAL. */
static uint64_t client_map(const char *path, unsigned k)
{
	struct sigaction sa = { 0 };
	uint64_t lsz;
	long unit;
	int fd;

	g_k = k;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say(M_FATAL, 0, errno, 0);
		_exit(1);
	}
	unit = holdfs_alloc_unit(fd);
	if (unit <= 0) {
		say(M_FATAL, 0, unit ? (int32_t)-unit : EINVAL, 0);
		_exit(1);
	}
	lsz = ((FSIZE + (uint64_t)unit - 1) / (uint64_t)unit) * (uint64_t)unit;
	holdfs_set_revoke_handler(on_revoke, NULL);
	holdfs_set_offline_handler(on_offline, NULL);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	for (unsigned i = 0; i < k; i++) {
		int r = holdfs_map(fd, i * lsz, lsz, PROT_READ, 0, &g_map[i]);

		if (r < 0) {
			say(M_FATAL, i, -r, lsz);
			_exit(1);
		}
	}
	return lsz;
}

/* A poison drill: map client 0's first lease too, as lease k (shared:
 * its other holders). */
static void client_share(const char *path, uint64_t lsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = fd < 0 ? -errno : holdfs_map(fd, 0, lsz, PROT_READ, 0,
					     &g_map[g_k]);

	if (r < 0) {
		say(M_FATAL, g_k, -r, lsz);
		_exit(1);
	}
	g_k++;
}

static void client_main(const char *path, unsigned nown, const char *share)
{
	volatile unsigned ndead = 0;
	static uint64_t last;
	uint64_t lsz = client_map(path, nown);
	unsigned k;

	if (share)
		client_share(share, lsz);
	k = g_k;

	say(M_READY, 0, 0, lsz);
	while (!g_stop) {
		if (atomic_load(&g_offline))
			atomic_store(&g_quiet, true);
		for (volatile unsigned i = 0; i < k && !g_quiet; i++) {
			const volatile uint8_t *p;

			if (g_dead[i])
				continue;
			g_cur = i;
			if (sigsetjmp(g_jb, 1)) {
				g_dead[i] = 1;
				ndead = ndead + 1;
				continue;
			}
			p = holdfs_addr(g_map[i]);
			if (i == 0 && g_poison)
				touch_poison(p);  /* the handler jumps */
			for (uint64_t o = 0; o < lsz; o += DRILL_PAGE)
				(void)p[o];
		}
		if (now_ns() - last >= BEAT_NS) {
			last = now_ns();
			say(M_BEAT, 0, (int32_t)ndead, 0);
		}
		/* stay: the daemon revokes */
		usleep(ndead == k || g_quiet ? 10000 : 1000);
	}
	_exit(0);
}

/* ----------------------------------------------------- writer process */

static void writer_main(const char *path, unsigned seed)
{
	static uint8_t buf[FSIZE];
	uint64_t last = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		say(M_ERROR, 0, errno, 0);
		_exit(1);
	}
	fill(buf, sizeof(buf), seed, 0);
	say(M_READY, 0, 0, 0);
	while (!g_stop) {
		if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
		    fsync(fd) < 0) {
			say(M_ERROR, 0, errno ? errno : EIO, 0);
			_exit(0);
		}
		if (now_ns() - last >= BEAT_NS) {
			last = now_ns();
			say(M_BEAT, 0, 0, 0);
		}
		usleep(2000);
	}
	_exit(0);
}

pid_t drill_fork_worker(struct drill *d, unsigned i, int wfd)
{
	struct worker *w = &d->wk[i];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(d->rfd);
	g_wfd = wfd;
	g_me = i;
	signal(SIGTERM, on_term);
	signal(SIGUSR1, on_usr1);
	g_stubborn = w->stubborn;
	if (w->writer)
		writer_main(w->path, w->seed);
	else
		client_main(w->path, d->k, d->poison && i > 0 ?
			    d->wk[0].path : NULL);
	_exit(1);
}
