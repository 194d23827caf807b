/* SPDX-License-Identifier: MIT */
/*
 * The data path's copy guard: a read(2) or write(2) served from a
 * mapping must fail with EIO, never raise SIGBUS, when the media under
 * it is poisoned or the kernel took the device away (docs/data-path.md,
 * "Revocation and failures").  Revocations by the daemon never fault a
 * copy (the listener waits for copies in flight: dp_i.h), so only the
 * kernel's own faults reach here.  And it must not die of the caller's
 * buffer: where the kernel's copy answers EFAULT (a pointer to nothing,
 * a read into read-only memory) ours faults with SIGSEGV, or SIGBUS for
 * a buffer that is a mapping of a file past its end; the guard ends the
 * copy and the kernel answers the whole call (dp_io.c), so the program
 * gets exactly the kernel's EFAULT or short count.
 *
 * A copy runs with a per-thread jump buffer armed; libholdfs's SIGBUS
 * and SIGSEGV handlers (sigbus.c) ask hfc_dp_guard_catch() first, which
 * jumps back for a fault the kernel raised during an armed copy; every
 * other signal the handler reports (poison) and passes on to the
 * program's handler or the default action.
 *
 * The slot area (the inode slots every served file reads its size from
 * and locks: docs/data-path.md) is read and written outside copies, by
 * plain loads, stores and compare-and-swaps.  When device 0 goes (a
 * region file truncated, a device-dax removed) those fault too, at any
 * of them; jumping out is no option there (locks held, half a protocol
 * done).  So the handler asks hfc_dp_guard_own() last: a fault inside a
 * connection's slot area marks the connection's slots lost, maps zeros
 * over the area (the access that faulted then completes on them) and
 * ends the signal.  Every direct call checks the mark once it has read
 * the slot and leaves the call to the kernel (dp_io.c), so nothing read
 * from the zeros is ever returned or published.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

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

/* The slot areas mapped: one per connection (the area of a connection
 * is mapped once and stays, remapped read-write in place at most). */
#define HFC_DP_SLOT_AREAS 64

static struct slot_area {
	_Atomic uintptr_t lo;     /* 0: free; published last */
	_Atomic size_t len;
	struct hfc_conn *_Atomic conn;
} areas[HFC_DP_SLOT_AREAS];

static pthread_mutex_t areas_lock = PTHREAD_MUTEX_INITIALIZER;

void hfc_dp_guard_slots(struct hfc_conn *c, void *lo, size_t len)
{
	int free_i = -1;

	pthread_mutex_lock(&areas_lock);
	for (int i = 0; i < HFC_DP_SLOT_AREAS; i++) {
		uintptr_t l = atomic_load(&areas[i].lo);

		if (l == (uintptr_t)lo) {
			free_i = -2; /* remapped in place: known */
			break;
		}
		if (!l && free_i == -1)
			free_i = i;
	}
	if (free_i >= 0) {
		atomic_store(&areas[free_i].len, len);
		atomic_store(&areas[free_i].conn, c);
		atomic_store(&areas[free_i].lo, (uintptr_t)lo); /* last */
	}
	/* (more connections than that: a fault there stays a SIGBUS) */
	pthread_mutex_unlock(&areas_lock);
}

void hfc_dp_guard_after_fork(void)
{
	pthread_mutex_init(&areas_lock, NULL);
	/* the areas are MADV_DONTFORK: not mapped in the child, where the
	 * addresses may come to hold anything */
	for (int i = 0; i < HFC_DP_SLOT_AREAS; i++) {
		atomic_store(&areas[i].lo, 0);
		atomic_store(&areas[i].len, 0);
		atomic_store(&areas[i].conn, NULL);
	}
}

bool hfc_dp_guard_own(const siginfo_t *si)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	if (si->si_code == SI_USER || si->si_code == SI_QUEUE ||
	    si->si_code == SI_TKILL)
		return false; /* sent, not a fault */
	for (int i = 0; i < HFC_DP_SLOT_AREAS; i++) {
		uintptr_t lo = atomic_load(&areas[i].lo); /* then the rest */
		size_t len = atomic_load(&areas[i].len);
		struct hfc_conn *c = atomic_load(&areas[i].conn);

		if (!lo || a < lo || a - lo >= len || !c)
			continue;
		/* the mark first: a thread that reads the zeros finds it */
		atomic_store(&c->slots_lost, true);
		return mmap((void *)lo, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		       MAP_FAILED;
	}
	return false;
}

void hfc_dp_guard_catch(const siginfo_t *si)
{
	struct guard *g = &tls_guard;

	/* a fault, not a signal sent (kill -SEGV: the program's business,
	 * whatever this thread was doing) */
	if (!g->armed || si->si_code <= 0)
		return;
	g->armed = 0;
	g->addr = si->si_addr;
	g->code = si->si_code;
	g->mapping_side = (const uint8_t *)si->si_addr >= g->lo &&
			  (const uint8_t *)si->si_addr < g->hi;
	siglongjmp(g->jb, 1);
}

void hfc_dp_guard_install(void)
{
	hfc_sigbus_set_catch(hfc_dp_guard_catch);
	hfc_sigbus_set_own(hfc_dp_guard_own);
	hfc_sigbus_install();
	hfc_sigbus_install_segv();
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
