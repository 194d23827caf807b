/* SPDX-License-Identifier: MIT */
/*
 * libholdfs's SIGBUS handler: poison seen first by the application.
 *
 * On real pmem or CXL memory a load from a poisoned line raises SIGBUS
 * with si_code BUS_MCEERR_AR at the faulting address, and the kernel may
 * send BUS_MCEERR_AO to other processes mapping the page.  When such a
 * signal names an address of a holdfs mapping, the daemon must learn of
 * it so that it can revoke every other holder of the range and mark the
 * file range lost (docs/failure-model.md, "Event sources").  The other
 * SIGBUS libholdfs knows, BUS_ADRERR, is its own doing: a revoked range
 * is an empty file mapped over the lease (mapping.c), and the signal
 * stays the application's business, as the SIGBUS contract promises.
 *
 * One process-wide handler, installed with the first lease (and the
 * data path's first file).  In order it
 *   1. lets the data path's copy guard (dp_guard.c, hfc_sigbus_set_catch)
 *      unwind a fault in a
 *      read(2)/write(2) served from a mapping; that path reports poison
 *      itself, from normal context;
 *   2. for BUS_MCEERR_AR/AO only: looks si_addr up in /proc/self/maps;
 *      a mapping of the region file of a connection, or of one device
 *      of a volume of several (its st_dev and st_ino, kept in a small
 *      lock-free table with the device's volume offset) gives the
 *      region offset (device offset, plus the mapping's file offset,
 *      plus the distance into it), and one
 *      POISON goes to that daemon on a private dup of the connection's
 *      socket (a SOCK_SEQPACKET send is one whole message, whatever
 *      other threads send);
 *   3. for a fault in libholdfs's own mapping of the data path's slot
 *      area (never the program's: the region is gone or poisoned there)
 *      lets the data path make the access good (dp_guard.c: zeros mapped
 *      over the area, the connection's calls sent to the kernel)
 *      and returns: the signal was libholdfs's alone;
 *   4. passes every other signal on, exactly as if libholdfs were not
 *      there: to the handler installed before ours, or the default
 *      action (re-queued with the same siginfo, so the process dies of
 *      the SIGBUS it got, whether it was a fault or a sent signal).
 * Only step 3 swallows a signal, one raised in a mapping the program
 * never had; a SIGBUS outside a holdfs mapping is only passed on.
 *
 * The data path also installs a SIGSEGV handler that does steps 1 and 4
 * only (hfc_sigbus_install_segv): a direct copy from or into a caller's
 * buffer that is not mapped, or not writable, faults with SIGSEGV where
 * the kernel's copy would have answered EFAULT, and a program that
 * passes write(2) a bad pointer must get its error, not die of it.
 * Every other SIGSEGV goes on, as above, to the program's handler or
 * the default action.
 *
 * Async-signal-safety: the handler uses atomics, open/read/close,
 * send, mmap, sigaction and rt_tgsigqueueinfo only; no lock, no allocation.
 * A connection's slot is cleared when it dies, then its socket dup is
 * closed once no handler is between reading the slot and sending
 * (an in-flight count, waited for at most HFC_SIG_DRAIN_MS; past that
 * the dup is left open rather than closed under a handler).
 *
 * If the application replaces our handler, ours is not put back over
 * it (a handler that chains to the one it replaced would then call us
 * in a loop); a handler reset to the default is replaced again at the
 * next lease.  Install SIGBUS handlers before the first mapping, or
 * chain to the previous one (libholdfs(3)).  Under the preload shim the
 * program's sigaction() and signal() for SIGBUS and SIGSEGV come here
 * instead (hfc_sigbus_adopt): while ours is installed, the program's handler
 * becomes the one we pass signals on to, and the program sees its own
 * handlers, as if we were not there; the shim hands us libc's
 * sigaction for our own calls (hfc_sigbus_set_real).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "client_i.h"

#define HFC_SIG_CONNS 64       /* devices mapped (one per region, or per
				  device of a volume of several), at once */
#define HFC_SIG_DRAIN_MS 1000  /* closing waits this long for handlers */
#define HFC_SIG_MAX_LEN (16u * HFS_FAIL_GRANULE) /* the daemon's cap */

/* A device a connection maps (its region, or one device of a volume of
 * several at volume offset base), which the handler may report to.
 * sock holds the socket dup plus one (0: free), published last. */
struct sig_conn {
	_Atomic uintptr_t conn;
	_Atomic unsigned maj, min;
	_Atomic uint64_t ino;
	_Atomic uint64_t base;
	atomic_int sock1;
};

static struct sig_conn sconns[HFC_SIG_CONNS];
static atomic_int inflight;
static atomic_uint_fast64_t report_ids;

/* the data path's copy guard (dp_guard.c), once it is in use */
static void (*_Atomic catch_fn)(const siginfo_t *si);
static bool (*_Atomic own_fn)(const siginfo_t *si);

/* libc's sigaction (the shim's interposed one would come back to us) */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static _Atomic sigaction_fn real_sa;

static int sa_call(int sig, const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn fn = atomic_load(&real_sa);

	return fn ? fn(sig, act, old) : sigaction(sig, act, old);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc);
static void on_sigsegv(int sig, siginfo_t *si, void *uc);

/* A signal we handle: our handler, and what it passes signals on to. */
struct chain {
	int sig;
	void (*handler)(int, siginfo_t *, void *);
	struct sigaction prev;
	atomic_bool installed;
};

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chain bus_chain = { .sig = SIGBUS, .handler = on_sigbus };
static struct chain segv_chain = { .sig = SIGSEGV, .handler = on_sigsegv };

static struct chain *chain_of(int sig)
{
	return sig == SIGBUS ? &bus_chain : sig == SIGSEGV ? &segv_chain : NULL;
}

/* ---- the connection table ------------------------------------------- */

void hfc_sigbus_add_conn(struct hfc_conn *c, int region_fd, uint64_t base)
{
	struct stat st;
	int s, i;

	if (fstat(region_fd, &st) < 0)
		return;
	for (i = 0; i < HFC_SIG_CONNS; i++)
		if (atomic_load(&sconns[i].conn) == (uintptr_t)c &&
		    atomic_load(&sconns[i].ino) == (uint64_t)st.st_ino &&
		    atomic_load(&sconns[i].maj) == major(st.st_dev) &&
		    atomic_load(&sconns[i].min) == minor(st.st_dev))
			return;   /* known (its other descriptor) */
	s = hfc_fd_dup(c->sock);
	if (s < 0)
		return;
	for (i = 0; i < HFC_SIG_CONNS; i++) {
		uintptr_t none = 0;

		if (!atomic_compare_exchange_strong(&sconns[i].conn, &none,
						    (uintptr_t)c))
			continue;
		atomic_store(&sconns[i].maj, major(st.st_dev));
		atomic_store(&sconns[i].min, minor(st.st_dev));
		atomic_store(&sconns[i].ino, (uint64_t)st.st_ino);
		atomic_store(&sconns[i].base, base);
		atomic_store(&sconns[i].sock1, s + 1);
		return;
	}
	hfc_log("more than %d connections: poison on %s goes unreported",
		HFC_SIG_CONNS, c->path);
	close(s);
}

void hfc_sigbus_drop_conn(struct hfc_conn *c)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < HFC_SIG_CONNS; i++) {
		int s;

		if (atomic_load(&sconns[i].conn) != (uintptr_t)c)
			continue;
		s = atomic_exchange(&sconns[i].sock1, 0) - 1;
		for (int k = 0; atomic_load(&inflight) && k < HFC_SIG_DRAIN_MS;
		     k++)
			nanosleep(&ms, NULL);
		if (s >= 0 && !atomic_load(&inflight))
			close(s);
		else if (s >= 0)
			hfc_log("a SIGBUS handler still runs: its socket stays open");
		atomic_store(&sconns[i].ino, 0);
		atomic_store(&sconns[i].conn, 0);
	}
}

/* In a child after fork: the parent's connections are not ours. */
void hfc_sigbus_after_fork(void)
{
	for (int i = 0; i < HFC_SIG_CONNS; i++) {
		int s = atomic_exchange(&sconns[i].sock1, 0) - 1;

		if (s >= 0)
			close(s);
		atomic_store(&sconns[i].conn, 0);
	}
	atomic_store(&inflight, 0);
}

/* ---- the handler's lookup: /proc/self/maps ------------------------- */

/* One mapping line's fields up to the inode. */
struct vma {
	uint64_t start, end, pgoff, ino;
	unsigned maj, min;
};

static const char *hex(const char *p, const char *e, uint64_t *v)
{
	const char *s = p;

	for (*v = 0; p < e; p++) {
		unsigned d = *p >= '0' && *p <= '9' ? (unsigned)(*p - '0') :
			     *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10)
						    : 16u;
		if (d == 16)
			break;
		*v = *v << 4 | d;
	}
	return p == s ? NULL : p;
}

static const char *dec(const char *p, const char *e, uint64_t *v)
{
	const char *s = p;

	for (*v = 0; p < e && *p >= '0' && *p <= '9'; p++)
		*v = *v * 10 + (uint64_t)(*p - '0');
	return p == s ? NULL : p;
}

static const char *expect(const char *p, const char *e, char c)
{
	return p && p < e && *p == c ? p + 1 : NULL;
}

/* "start-end perms pgoff maj:min ino ..." */
static bool parse_vma(const char *p, const char *e, struct vma *v)
{
	uint64_t maj = 0, min = 0;

	p = hex(p, e, &v->start);
	p = p ? hex(expect(p, e, '-'), e, &v->end) : NULL;
	p = expect(p, e, ' ');
	if (!p || e - p < 5)
		return false;
	p = hex(expect(p + 4, e, ' '), e, &v->pgoff);
	p = p ? hex(expect(p, e, ' '), e, &maj) : NULL;
	p = p ? hex(expect(p, e, ':'), e, &min) : NULL;
	p = p ? dec(expect(p, e, ' '), e, &v->ino) : NULL;
	v->maj = (unsigned)maj;
	v->min = (unsigned)min;
	return p != NULL;
}

/* The mapping line holding addr: true and *v filled. */
static bool find_vma(uintptr_t addr, struct vma *v)
{
	char buf[2048], line[128];
	size_t n = 0;
	bool found = false;
	ssize_t got;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	while (!found && (got = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got && !found; i++) {
			if (buf[i] != '\n') {
				if (n < sizeof(line))
					line[n++] = buf[i];
				continue;
			}
			found = parse_vma(line, line + n, v) &&
				addr >= v->start && addr < v->end;
			n = 0;
		}
	}
	close(fd);
	return found;
}

/* Poison at addr (BUS_MCEERR_AR/AO): a POISON to the daemon whose
 * region it maps, if any. */
static void report(const siginfo_t *si)
{
	uintptr_t addr = (uintptr_t)si->si_addr;
	struct hfs_msg_range m;
	struct vma v;
	uint64_t len;

	if (!find_vma(addr, &v))
		return;
	len = si->si_addr_lsb > 12 && si->si_addr_lsb < 32 ?
	      1ull << si->si_addr_lsb : 0;   /* 0: one granule */
	if (len > HFC_SIG_MAX_LEN)
		len = HFC_SIG_MAX_LEN;
	for (int i = 0; i < HFC_SIG_CONNS; i++) {
		struct sig_conn *sc = &sconns[i];
		int s = atomic_load(&sc->sock1) - 1;

		if (s < 0 || atomic_load(&sc->maj) != v.maj ||
		    atomic_load(&sc->min) != v.min ||
		    atomic_load(&sc->ino) != v.ino)
			continue;
		memset(&m, 0, sizeof(m));
		/* the daemon speaks volume offsets */
		m.offset = (atomic_load(&sc->base) + v.pgoff +
			    (addr - v.start)) &
			   ~((uint64_t)HFS_FAIL_GRANULE - 1);
		if (len)
			m.offset &= ~(len - 1);
		m.length = len;
		hfc_fill_hdr(&m.h, sizeof(m), HFS_MSG_POISON,
			     atomic_fetch_add(&report_ids, 1) | 1ull << 63);
		(void)send(s, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
}

/* ---- passing the signal on ----------------------------------------- */

/* The default action for the signal we got: die of it, with its
 * siginfo (re-queued to this thread: a fault would repeat, a sent
 * signal would not).  Blocked until the handler returns: the signal
 * then arrives as the interrupted context is put back, so a core dump
 * shows the faulting instruction on top, not this handler. */
static void die_of(int sig, siginfo_t *si)
{
	struct sigaction dfl;
	sigset_t one;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sa_call(sig, &dfl, NULL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, si);
}

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	/* the kernel forces a synchronous fault through SIG_IGN; only a
	 * sent signal or an action-optional SIGBUS can really be ignored */
	bool sync = si->si_code > 0 &&
		    !(sig == SIGBUS && si->si_code == BUS_MCEERR_AO);
	const struct sigaction prev = chain_of(sig)->prev;

	if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction)
		prev.sa_sigaction(sig, si, uc);
	else if (prev.sa_handler == SIG_IGN && !sync)
		return;
	else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN)
		prev.sa_handler(sig);
	else
		die_of(sig, si);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	void (*fn)(const siginfo_t *) = atomic_load(&catch_fn);
	bool (*own)(const siginfo_t *) = atomic_load(&own_fn);

	if (fn)
		fn(si);   /* returns unless a data-path copy was armed */
	if (si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO) {
		atomic_fetch_add(&inflight, 1);
		report(si);
		atomic_fetch_sub(&inflight, 1);
	}
	errno = saved;
	if (own && own(si))
		return;   /* libholdfs's own mapping, made good */
	pass_on(sig, si, uc);
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	void (*fn)(const siginfo_t *) = atomic_load(&catch_fn);

	if (fn)
		fn(si);   /* returns unless a data-path copy was armed */
	errno = saved;
	pass_on(sig, si, uc);
}

static bool is_ours(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) &&
	       (a->sa_sigaction == on_sigbus || a->sa_sigaction == on_sigsegv);
}

static bool is_default(const struct sigaction *a)
{
	return !(a->sa_flags & SA_SIGINFO) &&
	       (a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN);
}

void hfc_sigbus_set_catch(void (*fn)(const siginfo_t *si))
{
	atomic_store(&catch_fn, fn);
}

void hfc_sigbus_set_own(bool (*fn)(const siginfo_t *si))
{
	atomic_store(&own_fn, fn);
}

static void install(struct chain *ch)
{
	struct sigaction sa, cur;

	pthread_mutex_lock(&install_lock);
	/* the first time, or over a reset to the default; never over a
	 * handler that replaced ours (it may chain to us: a loop) */
	if (sa_call(ch->sig, NULL, &cur) == 0 && !is_ours(&cur) &&
	    (!atomic_load(&ch->installed) || is_default(&cur))) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = ch->handler;
		/* NODEFER: the data path's guard leaves the handler by a
		 * jump, so the signal must not stay blocked; ONSTACK: a
		 * program's alternate stack (for a stack overflow's
		 * SIGSEGV) serves its handler behind ours too */
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sa_call(ch->sig, &sa, NULL) == 0) {
			ch->prev = cur;
			atomic_store(&ch->installed, true);
		}
	}
	pthread_mutex_unlock(&install_lock);
}

void hfc_sigbus_install(void)
{
	install(&bus_chain);
}

void hfc_sigbus_install_segv(void)
{
	install(&segv_chain);
}

/* ---- the preload shim's sigaction and signal for SIGBUS ------------- */

void hfc_sigbus_set_real(int (*fn)(int, const struct sigaction *,
				   struct sigaction *))
{
	atomic_store(&real_sa, fn);
}

bool hfc_sigbus_adopt(int sig, const struct sigaction *act,
		      struct sigaction *old)
{
	struct chain *ch = chain_of(sig);
	struct sigaction cur;
	bool ours;

	if (!ch)
		return false;
	/* sigaction may be called from a signal handler: never wait */
	if (pthread_mutex_trylock(&install_lock))
		return false;
	ours = atomic_load(&ch->installed) &&
	       sa_call(sig, NULL, &cur) == 0 && is_ours(&cur) &&
	       !(act && is_ours(act));
	if (ours) {
		if (old)
			*old = ch->prev;
		if (act)
			ch->prev = *act;
	}
	pthread_mutex_unlock(&install_lock);
	return ours;
}
