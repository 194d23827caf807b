/* SPDX-License-Identifier: MIT */
/*
 * The data path's SIGBUS guard: a read(2) or write(2) served from a
 * mapping must fail with EIO, never raise SIGBUS, when the media under
 * it is poisoned or the kernel took the device away (docs/data-path.md,
 * "Revocation and failures").  Revocations by the daemon never fault a
 * copy (the listener waits for copies in flight: dp_i.h), so only the
 * kernel's own faults reach here.
 *
 * A copy runs with a per-thread jump buffer armed; the handler jumps
 * back for a fault during an armed copy, and otherwise passes the signal
 * on to the handler the program had installed (or to the default
 * action).  The handler is installed with the first lease of a file and
 * again whenever a later one finds it replaced, chaining to the
 * replacement.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <libpmem2.h>

#include "dp_i.h"

struct guard {
	sigjmp_buf jb;
	volatile sig_atomic_t armed;
	const uint8_t *lo, *hi;   /* the mapping side of the copy */
	void *addr;
	int code;
	bool mapping_side;
};

static _Thread_local struct guard tls_guard;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction prev;     /* what we chain to */
static bool installed;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	struct guard *g = &tls_guard;

	if (g->armed) {
		g->armed = 0;
		g->addr = si->si_addr;
		g->code = si->si_code;
		g->mapping_side = (const uint8_t *)si->si_addr >= g->lo &&
				  (const uint8_t *)si->si_addr < g->hi;
		siglongjmp(g->jb, 1);
	}
	/* not ours: as if we were not there */
	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	/* default (or ignored, which a synchronous fault cannot be):
	 * restore the default; the faulting access runs again and the
	 * kernel kills the process as it would have */
	signal(SIGBUS, SIG_DFL);
}

void hfc_dp_guard_install(void)
{
	struct sigaction sa, cur;

	pthread_mutex_lock(&install_lock);
	if (sigaction(SIGBUS, NULL, &cur) == 0 &&
	    (!installed || !(cur.sa_flags & SA_SIGINFO) ||
	     cur.sa_sigaction != on_bus)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_bus;
		/* NODEFER: the jump leaves the handler without sigreturn,
		 * so SIGBUS must not stay blocked */
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, NULL) == 0) {
			prev = cur;
			installed = true;
		}
	}
	pthread_mutex_unlock(&install_lock);
}

/* Copy with the guard armed, by memcpy or (pcopy) libpmem2's memcpy
 * with non-temporal stores.  map_lo/map_len: the mapping's side (src
 * for a read, dst for a write), to tell whose fault it was. */
static int guarded_copy(void *dst, const void *src, size_t n,
			const void *map_lo, size_t map_len,
			hfc_pmem_copy_t pcopy, void **fault_addr, int *code)
{
	struct guard *g = &tls_guard;

	g->lo = map_lo;
	g->hi = (const uint8_t *)map_lo + map_len;
	if (sigsetjmp(g->jb, 0)) {
		*fault_addr = g->addr;
		*code = g->code;
		return g->mapping_side ? -EIO : -EFAULT;
	}
	g->armed = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (pcopy) /* no drain inside: the caller persists the range once */
		pcopy(dst, src, n,
		      PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NODRAIN);
	else
		memcpy(dst, src, n);
	atomic_signal_fence(memory_order_seq_cst);
	g->armed = 0;
	return 0;
}

int hfc_dp_copy(void *dst, const void *src, size_t n, const void *map_lo,
		size_t map_len, void **fault_addr, int *code)
{
	return guarded_copy(dst, src, n, map_lo, map_len, NULL, fault_addr,
			    code);
}

int hfc_dp_copy_in(void *dst, const void *src, size_t n, const void *map_lo,
		   size_t map_len, hfc_pmem_copy_t pcopy, void **fault_addr,
		   int *code)
{
	int r = guarded_copy(dst, src, n, map_lo, map_len, pcopy, fault_addr,
			     code);

	/* Non-temporal stores are weakly ordered: fence them before the
	 * size that publishes them (a plain release store) or a persist
	 * that is only an msync could be seen first. */
	if (!r && pcopy) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_sfence();
#else
		atomic_thread_fence(memory_order_seq_cst);
#endif
	}
	return r;
}

int hfc_dp_zero(void *dst, size_t n, void **fault_addr, int *code)
{
	struct guard *g = &tls_guard;

	g->lo = dst;
	g->hi = (uint8_t *)dst + n;
	if (sigsetjmp(g->jb, 0)) {
		*fault_addr = g->addr;
		*code = g->code;
		return -EIO;
	}
	g->armed = 1;
	atomic_signal_fence(memory_order_seq_cst);
	memset(dst, 0, n);
	atomic_signal_fence(memory_order_seq_cst);
	g->armed = 0;
	return 0;
}
