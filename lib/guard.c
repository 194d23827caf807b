/* SPDX-License-Identifier: MIT */
/*
 * Guarded region access: a SIGBUS on region memory becomes -EIO.
 *
 * Region memory faults when the device-dax is disabled or removed, when a
 * region file is truncated (SIGBUS, BUS_ADRERR, exact si_addr) and when
 * a poisoned line is read (BUS_MCEERR_AR).  One process-wide handler is
 * installed on first use.  Each thread keeps a chain of guard frames on
 * its stack; a frame holds a jump buffer and the bounds of the region it
 * protects.  A kernel-generated SIGBUS whose address lies in the bounds
 * of a frame of the faulting thread is recorded and unwound to that
 * frame.  Anything else goes to the handler that was installed before
 * ours, or kills the process as it would have without us.
 *
 * Signal mask: guards use sigsetjmp(jb, 0), so entering a guard costs no
 * sigprocmask syscall.  Instead, the handler puts back the mask of the
 * faulting code (uc_sigmask) just before siglongjmp, on the fault path
 * only.  Without that SIGBUS would stay blocked after the first fault and
 * the next one would kill the process; SA_NODEFER alone is not enough,
 * because a wrapper such as ThreadSanitizer's runs handlers with more
 * signals blocked.  Not SA_ONSTACK: unwinding from an alternate stack
 * confuses AddressSanitizer, and a guarded copy never overflows.
 *
 * Action-optional machine checks (BUS_MCEERR_AO): with early kill
 * (PR_MCE_KILL_EARLY) the kernel tells every process mapping a page it
 * found poisoned, whatever the thread is doing; nothing faulted and
 * nothing is retried.  One in a region that has an AO hook
 * (hfs_region_set_ao_hook) goes to the hook, off the guard frames, and
 * the process goes on; the hook runs in the signal handler.  Without a
 * hook, or outside every hooked region, it is passed on like any other
 * signal (by default it kills).
 *
 * The guarded function must not take locks or allocate: a fault abandons
 * it mid-way.  It must return normally (no longjmp or exit out of it, or
 * its frame stays published) and must not change the signal mask.
 */
#include "region.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <libpmem2.h>

struct guard_frame {
	sigjmp_buf jb;
	uintptr_t lo, hi;            /* region mapping [lo, hi) */
	struct guard_frame *prev;    /* enclosing guard of this thread */
	volatile uint64_t off;       /* written by the handler */
	volatile int code;
	volatile unsigned lsb;
};

/* initial-exec: the handler reads it, and a dynamic TLS access could
 * allocate inside a signal handler. */
static __thread struct guard_frame *cur_frame
	__attribute__((tls_model("initial-exec")));

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static struct sigaction prev_action;
static int guard_install_err;

/* Not ours: behave as if our handler were not there. */
static void guard_chain(int sig, siginfo_t *si, void *uctx)
{
	struct sigaction dfl;
	bool async = si->si_code <= 0 || si->si_code == BUS_MCEERR_AO;

	if ((prev_action.sa_flags & SA_SIGINFO) && prev_action.sa_sigaction) {
		prev_action.sa_sigaction(sig, si, uctx);
		return;
	}
	if (prev_action.sa_handler != SIG_DFL &&
	    prev_action.sa_handler != SIG_IGN) {
		prev_action.sa_handler(sig);
		return;
	}
	/* The kernel forces a faulting SIGBUS through SIG_IGN; only a sent
	 * or action-optional one can really be ignored. */
	if (prev_action.sa_handler == SIG_IGN && async)
		return;
	/* Default action.  After a fault, returning re-executes the access,
	 * which now dies with the original address in the core; a sent or
	 * action-optional signal would not repeat, so raise it. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	if (async)
		raise(SIGBUS);
}

/* Regions with an AO hook.  fn is published last and cleared first;
 * ao_inflight counts handlers between reading an entry and returning
 * from its hook, so a hook is not removed under a running call. */
#define GUARD_AO_MAX 4
static struct {
	_Atomic uintptr_t lo, hi;
	void (*_Atomic fn)(void *ctx, const struct hfs_fault *f);
	void *_Atomic ctx;
} ao_hooks[GUARD_AO_MAX];
static atomic_int ao_inflight;
static pthread_mutex_t ao_lock = PTHREAD_MUTEX_INITIALIZER;

/* An action-optional machine check in a hooked region: true if a hook
 * took it. */
static bool ao_take(uintptr_t addr, unsigned lsb)
{
	bool taken = false;

	atomic_fetch_add(&ao_inflight, 1);
	for (int i = 0; i < GUARD_AO_MAX && !taken; i++) {
		void (*fn)(void *, const struct hfs_fault *) =
			atomic_load(&ao_hooks[i].fn);
		uintptr_t lo = atomic_load(&ao_hooks[i].lo);

		if (fn && addr >= lo && addr < atomic_load(&ao_hooks[i].hi)) {
			struct hfs_fault f = { addr - lo, BUS_MCEERR_AO, lsb };

			fn(atomic_load(&ao_hooks[i].ctx), &f);
			taken = true;
		}
	}
	atomic_fetch_sub(&ao_inflight, 1);
	return taken;
}

static bool mce(const siginfo_t *si)
{
	return si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO;
}

void hfs_fault_range(const struct hfs_fault *f, uint64_t *off, uint64_t *len)
{
	unsigned lsb = f->lsb < 12 ? 12 : f->lsb > 30 ? 30 : f->lsb;

	*len = 1ull << lsb;
	*off = f->off & ~(*len - 1);
}

static void guard_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t addr = (uintptr_t)si->si_addr;
	int saved_errno = errno;

	/* si_addr is meaningful only for kernel-generated SIGBUS. */
	for (struct guard_frame *fr = cur_frame; fr && si->si_code > 0;
	     fr = fr->prev) {
		if (addr >= fr->lo && addr < fr->hi) {
			fr->off = addr - fr->lo;
			fr->code = si->si_code;
			fr->lsb = mce(si) ? si->si_addr_lsb : 0;
			sigprocmask(SIG_SETMASK,
				    &((ucontext_t *)uctx)->uc_sigmask, NULL);
			siglongjmp(fr->jb, 1);
		}
	}
	if (si->si_code == BUS_MCEERR_AO && ao_take(addr, si->si_addr_lsb)) {
		errno = saved_errno;
		return;
	}
	errno = saved_errno;
	guard_chain(sig, si, uctx);
}

static void guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGBUS, &sa, &prev_action))
		guard_install_err = -errno;
}

int hfs_region_set_ao_hook(const struct hfs_region *rg,
			   void (*fn)(void *ctx, const struct hfs_fault *f),
			   void *ctx)
{
	struct timespec ms = { 0, 1000000 };
	uintptr_t lo = (uintptr_t)rg->base;
	int r = -ENOSPC;

	pthread_once(&guard_once, guard_install);
	if (guard_install_err)
		return guard_install_err;
	pthread_mutex_lock(&ao_lock);
	for (int i = 0; i < GUARD_AO_MAX; i++) {
		if (atomic_load(&ao_hooks[i].lo) != lo ||
		    !atomic_load(&ao_hooks[i].fn))
			continue;
		atomic_store(&ao_hooks[i].fn, NULL);  /* replaced or removed */
		for (int k = 0; atomic_load(&ao_inflight) && k < 1000; k++)
			nanosleep(&ms, NULL);
		atomic_store(&ao_hooks[i].lo, 0);
	}
	if (!fn)
		r = 0;
	for (int i = 0; fn && i < GUARD_AO_MAX; i++) {
		if (atomic_load(&ao_hooks[i].fn) || atomic_load(&ao_hooks[i].lo))
			continue;
		atomic_store(&ao_hooks[i].lo, lo);
		atomic_store(&ao_hooks[i].hi, lo + rg->size);
		atomic_store(&ao_hooks[i].ctx, ctx);
		atomic_store(&ao_hooks[i].fn, fn);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&ao_lock);
	return r;
}

int hfs_region_send_ao(const struct hfs_region *rg, uint64_t off,
		       unsigned lsb)
{
	siginfo_t si;

	if (!rg->base || off >= rg->size)
		return -ERANGE;
	if (lsb < 12 || lsb > 30)
		return -EINVAL;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AO;
	si.si_addr = rg->base + off;
	si.si_addr_lsb = (short)lsb;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid),
		    SIGBUS, &si))
		return -errno;
	return 0;
}

bool hfs_region_guarded(const void *addr)
{
	for (struct guard_frame *fr = cur_frame; fr; fr = fr->prev)
		if ((uintptr_t)addr >= fr->lo && (uintptr_t)addr < fr->hi)
			return true;
	return false;
}

int hfs_region_guard(const struct hfs_region *rg, int (*fn)(void *arg),
		     void *arg, struct hfs_fault *fault)
{
	struct guard_frame fr;
	int ret;

	pthread_once(&guard_once, guard_install);
	if (guard_install_err)
		return guard_install_err;
	fr.lo = (uintptr_t)rg->base;
	fr.hi = fr.lo + rg->size;
	fr.prev = cur_frame;
	fr.off = 0;
	fr.code = 0;
	fr.lsb = 0;
	if (sigsetjmp(fr.jb, 0)) {
		cur_frame = fr.prev;
		if (fault) {
			fault->off = fr.off;
			fault->si_code = fr.code;
			fault->lsb = fr.lsb;
		}
		return -EIO;
	}
	cur_frame = &fr;
	/* Keep the frame published for exactly the span of fn. */
	atomic_signal_fence(memory_order_seq_cst);
	ret = fn(arg);
	atomic_signal_fence(memory_order_seq_cst);
	cur_frame = fr.prev;
	return ret;
}

/* --- guarded copies ---------------------------------------------------- */

struct copy_args {
	const struct hfs_region *rg;
	void *dst;
	const void *src;
	size_t len;
};

static int do_read(void *arg)
{
	struct copy_args *a = arg;

	memcpy(a->dst, a->src, a->len);
	return 0;
}

static int do_write(void *arg)
{
	struct copy_args *a = arg;

	a->rg->ops.memcpy(a->dst, a->src, a->len, 0); /* 0: persist */
	return 0;
}

static int do_zero(void *arg)
{
	struct copy_args *a = arg;

	a->rg->ops.memset(a->dst, 0, a->len, 0);
	return 0;
}

/* [off, off + len) inside the region, without overflowing; in a volume
 * of several devices, inside one of them (the gaps between members are
 * not mapped: a stray offset there must be -ERANGE, not a SIGSEGV). */
static bool in_region(const struct hfs_region *rg, uint64_t off, size_t len)
{
	int m;

	if (!rg->base || off > rg->size || len > rg->size - off)
		return false;
	if (!rg->nmembers || len == 0)
		return true;
	m = hfs_region_member_of(rg, off);
	return m >= 0 && len <= hfs_region_member_off(rg, (unsigned)m) +
				 hfs_region_member_size(rg, (unsigned)m) - off;
}

int hfs_region_simulate_poison(struct hfs_region *rg, uint64_t off,
			       uint64_t len)
{
	unsigned n = atomic_load_explicit(&rg->nsim, memory_order_relaxed);

	if (len == 0 || !in_region(rg, off, len))
		return -ERANGE;
	if (n == HFS_SIM_POISON_MAX)
		return -ENOSPC;
	rg->sim[n].off = off;
	rg->sim[n].len = len;
	atomic_store_explicit(&rg->nsim, n + 1, memory_order_release);
	return 0;
}

/* Does [off, off+len) touch simulated poison?  Then -EIO, the fault at
 * its first poisoned byte, as a machine check would report it. */
int hfs_region_sim_poisoned(const struct hfs_region *rg, uint64_t off,
			    size_t len, struct hfs_fault *fault)
{
	unsigned n = atomic_load_explicit(&((struct hfs_region *)rg)->nsim,
					  memory_order_acquire);

	for (unsigned i = 0; i < n; i++) {
		uint64_t s = rg->sim[i].off, e = s + rg->sim[i].len;

		if (off < e && s < off + len) {
			uint64_t lo = off > s ? off : s;
			uint64_t hi = off + len < e ? off + len : e;

			/* the mirror's bytes are mapped there now */
			if (hfs_region_served(rg, lo, hi - lo))
				continue;
			if (fault) {
				fault->off = off > s ? off : s;
				fault->si_code = BUS_MCEERR_AR;
				fault->lsb = 12;
			}
			return -EIO;
		}
	}
	return 0;
}

int hfs_region_read(const struct hfs_region *rg, uint64_t off, void *buf,
		    size_t len, struct hfs_fault *fault)
{
	struct copy_args a = { rg, buf, NULL, len };

	if (!in_region(rg, off, len))
		return -ERANGE;
	if (len == 0)
		return 0;
	if (hfs_region_sim_poisoned(rg, off, len, fault))
		return -EIO;
	a.src = rg->base + off;
	return hfs_region_guard(rg, do_read, &a, fault);
}

int hfs_region_write(struct hfs_region *rg, uint64_t off, const void *buf,
		     size_t len, struct hfs_fault *fault)
{
	struct copy_args a = { rg, NULL, buf, len };

	if (rg->readonly)
		return -EROFS;
	if (!in_region(rg, off, len))
		return -ERANGE;
	if (len == 0)
		return 0;
	if (hfs_region_sim_poisoned(rg, off, len, fault))
		return -EIO;
	a.dst = rg->base + off;
	return hfs_region_guard(rg, do_write, &a, fault);
}

int hfs_region_zero(struct hfs_region *rg, uint64_t off, size_t len,
		    struct hfs_fault *fault)
{
	struct copy_args a = { rg, NULL, NULL, len };

	if (rg->readonly)
		return -EROFS;
	if (!in_region(rg, off, len))
		return -ERANGE;
	if (len == 0)
		return 0;
	if (hfs_region_sim_poisoned(rg, off, len, fault))
		return -EIO;
	a.dst = rg->base + off;
	return hfs_region_guard(rg, do_zero, &a, fault);
}

/* --- shared words ------------------------------------------------------ */

struct word_args {
	struct hfs_region *rg;
	void *p;
	uint64_t v;
	uint32_t expected, desired;
	int result;
};

static int do_load64(void *arg)
{
	struct word_args *a = arg;

	a->v = __atomic_load_n((uint64_t *)a->p, __ATOMIC_ACQUIRE);
	return 0;
}

static int do_store64(void *arg)
{
	struct word_args *a = arg;

	/* The atomic store is what readers see; the same bytes again
	 * through ops.memcpy persist them, and let a tracing region (the
	 * crash harness) record the store. */
	__atomic_store_n((uint64_t *)a->p, a->v, __ATOMIC_RELEASE);
	a->rg->ops.memcpy(a->p, &a->v, sizeof(a->v), 0);
	return 0;
}

static int do_add64(void *arg)
{
	struct word_args *a = arg;
	uint64_t v = __atomic_load_n((uint64_t *)a->p, __ATOMIC_ACQUIRE) + a->v;

	/* Through ops.memcpy without a flush, so that a tracing region (the
	 * crash harness) records the store and an undo log saves what it
	 * overwrites; then the atomic store, what readers see whole. */
	a->rg->ops.memcpy(a->p, &v, sizeof(v), PMEM2_F_MEM_NOFLUSH);
	__atomic_store_n((uint64_t *)a->p, v, __ATOMIC_SEQ_CST);
	a->v = v;
	return 0;
}

static int do_cas32(void *arg)
{
	struct word_args *a = arg;

	a->result = __atomic_compare_exchange_n((uint32_t *)a->p, &a->expected,
						a->desired, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE);
	return 0;
}

static int word_check(const struct hfs_region *rg, uint64_t off, size_t len)
{
	if (!in_region(rg, off, len))
		return -ERANGE;
	return off % len ? -EINVAL : 0;
}

int hfs_region_load64(const struct hfs_region *rg, uint64_t off,
		      uint64_t *v, struct hfs_fault *fault)
{
	struct word_args a = { .p = rg->base + off };
	int r = word_check(rg, off, sizeof(uint64_t));

	if (!r && hfs_region_sim_poisoned(rg, off, sizeof(uint64_t), fault))
		r = -EIO;
	if (!r)
		r = hfs_region_guard(rg, do_load64, &a, fault);
	if (!r)
		*v = a.v;
	return r;
}

int hfs_region_store64(struct hfs_region *rg, uint64_t off, uint64_t v,
		       struct hfs_fault *fault)
{
	struct word_args a = { .rg = rg, .p = rg->base + off, .v = v };
	int r = rg->readonly ? -EROFS : word_check(rg, off, sizeof(v));

	if (!r && hfs_region_sim_poisoned(rg, off, sizeof(v), fault))
		r = -EIO;
	return r ? r : hfs_region_guard(rg, do_store64, &a, fault);
}

int hfs_region_add64(struct hfs_region *rg, uint64_t off, uint64_t delta,
		     uint64_t *v, struct hfs_fault *fault)
{
	struct word_args a = { .rg = rg, .p = rg->base + off, .v = delta };
	int r = rg->readonly ? -EROFS : word_check(rg, off, sizeof(delta));

	if (!r && hfs_region_sim_poisoned(rg, off, sizeof(delta), fault))
		r = -EIO;
	if (!r)
		r = hfs_region_guard(rg, do_add64, &a, fault);
	if (!r)
		*v = a.v;
	return r;
}

int hfs_region_cas32(struct hfs_region *rg, uint64_t off, uint32_t *expected,
		     uint32_t desired, struct hfs_fault *fault)
{
	struct word_args a = { .rg = rg, .p = rg->base + off,
			       .expected = *expected, .desired = desired };
	int r = rg->readonly ? -EROFS : word_check(rg, off, sizeof(uint32_t));

	if (!r && hfs_region_sim_poisoned(rg, off, sizeof(uint32_t), fault))
		r = -EIO;
	if (!r)
		r = hfs_region_guard(rg, do_cas32, &a, fault);
	if (r)
		return r;
	*expected = a.expected;
	return a.result;
}
