/* SPDX-License-Identifier: MIT */
/*
 * The data path engine's files (dp_engine.h, dp_i.h; docs/data-path.md):
 * one object per open file description served directly, its lease
 * windows, the inode's slot and its lock, and what a fork or a
 * revocation does to them.  The copies are dp_io.c.
 *
 * A file asks the daemon for nothing until its second call (or a first
 * one of HFC_DP_LAZY_BYTES or more): opening, reading a small file once
 * and closing it must cost no more than without the data path.  Then
 * every lease it takes carries HFS_LEASE_DATAPATH, which attaches the
 * inode's slot; the slot area is mapped once per connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "dp_i.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Every file object (the fork handler walks them), and the fork
 * generation: a file created or last used before a fork, in the child,
 * holds leases of the parent's connection, which it must forget. */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hfc_dfile *files;
static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

uint64_t hfc_dp_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

static void child_after_fork(void)
{
	pthread_mutex_init(&files_lock, NULL);
	atomic_fetch_add(&fork_gen, 1);
	hfc_dp_guard_after_fork();
	/* the locks may have been held by threads the child does not have */
	for (struct hfc_dfile *f = files; f; f = f->next) {
		pthread_mutex_init(&f->lock, NULL);
		pthread_rwlock_destroy(&f->io);
		{
			pthread_rwlockattr_t a;

			pthread_rwlockattr_init(&a);
			pthread_rwlockattr_setkind_np(
				&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
			pthread_rwlock_init(&f->io, &a);
			pthread_rwlockattr_destroy(&a);
		}
	}
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

/* The listener revoked [off, off+len) of window m (reason): mark it; the
 * next call drops it.  A connection lost or a shutdown fails the file
 * for good (its mount is gone); a media failure or a layout change only
 * the window (the next call asks again, or goes through FUSE, which
 * answers EIO for lost blocks and data elsewhere).  Runs with f->io held
 * for writing and the maps lock: takes no lock. */
static void on_revoked(void *arg, struct holdfs_mapping *m, uint64_t off,
		       uint64_t len, uint32_t reason)
{
	struct hfc_dfile *f = arg;

	(void)off;
	(void)len;
	atomic_fetch_add(&f->revokes, 1);
	for (unsigned i = 0; i < f->nwin; i++) {
		if (f->win[i].m != m)
			continue;
		f->win[i].dead = reason ? reason : HOLDFS_REVOKE_LAYOUT;
		/* A reservation taken away (a truncate or punch past the
		 * appends): the stream of appends it was sized for is over;
		 * the next one starts small again.  Kept doubled, every
		 * extend after a truncate leased (and had the daemon zero)
		 * 64 MiB, on the control thread that also reads the acks. */
		if (f->win[i].extend)
			atomic_store(&f->resv_next, HFC_DP_RESV_MIN);
	}
	if (reason == HOLDFS_REVOKE_CONNECTION_LOST ||
	    reason == HOLDFS_REVOKE_SHUTDOWN)
		atomic_store(&f->state, HFC_DF_GONE);
}

/* The listener mapped blocks over holes of window m (REMAP), f->io held
 * for writing: a direct read that ran across it copies again. */
static void on_remapped(void *arg, struct holdfs_mapping *m)
{
	struct hfc_dfile *f = arg;

	(void)m;
	atomic_fetch_add(&f->remaps, 1);
}

/* RLIMIT_FSIZE as last read (UINT64_MAX: none).  Read at every file and
 * after the shim's setrlimit/prlimit, not at every write (a system call
 * an append cannot afford): a limit that another process lowers with
 * prlimit(1), or that a program linking libholdfs lowers itself, counts
 * from the next file it opens (docs/data-path.md "Limits"). */
static _Atomic uint64_t fsize_limit = UINT64_MAX;

void hfc_dp_fsize_refresh(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0)
		atomic_store(&fsize_limit, rl.rlim_cur == RLIM_INFINITY ?
					   UINT64_MAX : (uint64_t)rl.rlim_cur);
}

bool hfc_dp_past_fsize(uint64_t end)
{
	return end > atomic_load_explicit(&fsize_limit, memory_order_relaxed);
}

struct hfc_dfile *hfc_dfile_new(dev_t dev, ino_t ino, int flags)
{
	struct hfc_dfile *f = calloc(1, sizeof(*f));
	pthread_rwlockattr_t a;

	if (!f)
		return NULL;
	hfc_dp_fsize_refresh();
	pthread_once(&atfork_once, register_atfork);
	atomic_init(&f->refs, 1);
	atomic_init(&f->flags, flags);
	atomic_init(&f->state, HFC_DF_NEW);
	f->dev = dev;
	f->ino = ino;
	pthread_mutex_init(&f->lock, NULL);
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&f->io, &a);
	pthread_rwlockattr_destroy(&a);
	f->owner = (struct hfc_dp_owner){ .io = &f->io, .revoked = on_revoked,
					  .remapped = on_remapped, .arg = f };
	f->resv_next = HFC_DP_RESV_MIN;
	pthread_mutex_lock(&files_lock);
	f->fork_gen = atomic_load(&fork_gen);
	f->next = files;
	if (files)
		files->prev = f;
	files = f;
	pthread_mutex_unlock(&files_lock);
	return f;
}

void hfc_dfile_hold(struct hfc_dfile *f)
{
	atomic_fetch_add(&f->refs, 1);
}

/* Forget every window: released (this process's leases) or, in a fork
 * child, only freed (they are the parent's).  f->lock held. */
static void drop_windows(struct hfc_dfile *f, bool release)
{
	unsigned n;

	pthread_rwlock_wrlock(&f->io);
	n = f->nwin;
	f->nwin = 0;
	pthread_rwlock_unlock(&f->io);
	for (unsigned i = 0; i < n; i++) {
		if (release)
			hfc_unmap_async(f->win[i].m);
		else
			hfc_map_forget(f->win[i].m);
	}
}

void hfc_dfile_drop(struct hfc_dfile *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	pthread_mutex_lock(&files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&files_lock);
	pthread_mutex_lock(&f->lock);
	/* the mtime of direct writes, durable by close at the latest */
	if (f->slot && f->slot_rw && atomic_load(&f->mtime_dirty) &&
	    f->fork_gen == atomic_load(&fork_gen))
		hfc_dp_persist(f, &f->slot->ds_size, 64);
	drop_windows(f, f->fork_gen == atomic_load(&fork_gen));
	pthread_mutex_unlock(&f->lock);
	pthread_rwlock_destroy(&f->io);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void hfc_dfile_setfl(struct hfc_dfile *f, int flags)
{
	atomic_store(&f->flags, flags);
}

int hfc_dfile_flags(const struct hfc_dfile *f)
{
	return atomic_load(&((struct hfc_dfile *)f)->flags);
}

void hfc_dfile_invalidate(struct hfc_dfile *f)
{
	/* Nothing is cached that a layout change could make wrong: the
	 * size is the slot's, and the daemon revokes what the change
	 * takes away.  Dead windows go now rather than at the next call. */
	hfc_dp_reap(f);
}

bool hfc_dp_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *e = getenv("HOLDFS_DATAPATH");

		enabled = !(e && !strcmp(e, "0"));
	}
	return enabled;
}

/* A holdfs daemon publishes HFS_CTL_DIR/dev/<major>:<minor> for its
 * mount (docs/lease-protocol.md); the answer is remembered for a few
 * seconds, so a daemon that starts or stops is noticed.  Keyed by the
 * mount as well as the device: anonymous device numbers are reused at
 * once, so a tmpfs unmounted a moment ago and the holdfs mounted after it
 * share one (mnt: statx's mount id, unique on 6.8+; 0 if unknown). */
#define DEV_CACHE 16
#define DEV_TTL_S 5

static struct {
	_Atomic uint64_t key;   /* dev + 1, 0: empty */
	_Atomic uint64_t mnt;
	_Atomic int64_t until;  /* monotonic seconds */
	atomic_bool yes;
} dev_cache[DEV_CACHE];

bool hfc_dp_is_holdfs_dev(dev_t dev, uint64_t mnt)
{
	char p[96];
	unsigned k = (unsigned)(dev ^ (dev >> 20) ^ mnt) % DEV_CACHE;
	int64_t now = (int64_t)hfc_dp_now_s();
	bool yes;

	if (atomic_load(&dev_cache[k].key) == (uint64_t)dev + 1 &&
	    atomic_load(&dev_cache[k].mnt) == mnt &&
	    atomic_load(&dev_cache[k].until) > now)
		return atomic_load(&dev_cache[k].yes);
	snprintf(p, sizeof(p), HFS_CTL_DIR "/dev/%u:%u", major(dev), minor(dev));
	yes = access(p, F_OK) == 0;
	atomic_store(&dev_cache[k].key, 0); /* no reader takes a torn entry */
	atomic_store(&dev_cache[k].yes, yes);
	atomic_store(&dev_cache[k].until, now + DEV_TTL_S);
	atomic_store(&dev_cache[k].mnt, mnt);
	atomic_store(&dev_cache[k].key, (uint64_t)dev + 1);
	return yes;
}

/* ------------------------------------------------------------ the slot */

/* Map the connection's slot area, read-write when it holds a read-write
 * region fd (once it does, a read-only map is replaced in place, so
 * pointers into it stay good).  0 or -errno. */
static int map_slots(struct hfc_conn *c)
{
	uint64_t au = c->alloc_unit, off = c->dslot_off / au * au;
	size_t len = (size_t)(c->dslot_off - off +
			      (uint64_t)c->dslot_count * HFS_DSLOT_SIZE);
	bool rw;
	int fd, r = 0;
	void *p;

	len = (len + au - 1) / au * au;
	pthread_mutex_lock(&c->slots_lock);
	pthread_mutex_lock(&c->lock);
	rw = c->region_fd[1] >= 0;
	pthread_mutex_unlock(&c->lock);
	if (c->slots && (c->slots_rw || !rw))
		goto out;
	fd = hfc_conn_region_dup(c, rw ? HFS_PROT_WRITE : HFS_PROT_READ);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	p = hfc_mmap(c->slots_map, len, PROT_READ | (rw ? PROT_WRITE : 0),
		     MAP_SHARED | (c->slots_map ? MAP_FIXED : 0), fd,
		     (off_t)off);
	close(fd);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	madvise(p, len, MADV_DONTFORK);
	hfc_dp_guard_slots(c, p, len);
	c->slots_map = p;
	c->slots_len = len;
	c->slots = (uint8_t *)p + (c->dslot_off - off);
	c->slots_rw = rw;
out:
	pthread_mutex_unlock(&c->slots_lock);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The daemon keeps the lock (HFS_DSLOT_HOLD) between the pieces of an
 * O_APPEND write the kernel split; past ds_hold none is coming
 * (docs/data-path.md, "Appends through the kernel"). */
static bool hold_passed(const struct hfc_dfile *f)
{
	struct timespec ts;
	uint64_t until = atomic_load((const _Atomic uint64_t *)
				     &f->slot->ds_hold);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec >=
	       until;
}

/* Asynchronous signals wait while this thread holds a slot lock, as
 * they wait for a write(2) in the kernel.  A handler that writes to the
 * same file (write(2) is async-signal-safe: handlers log) would otherwise
 * wait for the lock its own interrupted thread holds, give up after
 * HFC_DP_SLOT_WAIT_MS, and its kernel write then wait for the daemon to
 * take the lock over: seconds per signal.  Faults are never blocked: the
 * copy guard needs SIGBUS and SIGSEGV, and the kernel kills for a fault
 * whose signal is blocked.  glibc's pthread_sigmask keeps its own
 * internal signals unblocked. */
static void block_async_signals(sigset_t *old)
{
	static const int faults[] = { SIGBUS, SIGSEGV, SIGILL, SIGFPE,
				      SIGTRAP, SIGSYS, SIGABRT };
	sigset_t s;

	sigfillset(&s);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&s, faults[i]);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

long hfc_dp_slot_lock(struct hfc_dfile *f, sigset_t *sigs, int *why)
{
	_Atomic uint32_t *lk = (_Atomic uint32_t *)&f->slot->ds_lock;
	uint32_t me = f->conn->client_id;
	uint64_t deadline = 0;
	long ns = 1000;

	block_async_signals(sigs);
	for (unsigned i = 0;; i++) {
		uint32_t cur = 0;

		if (atomic_compare_exchange_weak(lk, &cur, me))
			return 0;
		if (cur == HFS_DSLOT_HOLD) {
			if (hold_passed(f) &&
			    atomic_compare_exchange_strong(lk, &cur, me))
				return 0; /* no piece of a kernel append came */
			/* a kernel O_APPEND write may be between its pieces:
			 * the kernel call waits for it (the inode lock), this
			 * lock would not */
			*why = HOLDFS_DP_SLOT_BUSY;
			break;
		}
		if (i < 100)
			continue;
		if (!deadline)
			deadline = now_ms() + HFC_DP_SLOT_WAIT_MS;
		else if (now_ms() > deadline) {
			*why = HOLDFS_DP_SLOT_BUSY;
			break;
		}
		/* signals are delivered while we wait for another holder */
		pthread_sigmask(SIG_SETMASK, sigs, NULL);
		nanosleep(&(struct timespec){ 0, ns }, NULL);
		block_async_signals(NULL);
		if (ns < 1000000)
			ns *= 2;
	}
	pthread_sigmask(SIG_SETMASK, sigs, NULL);
	return HFC_DP_KERNEL;
}

void hfc_dp_slot_unlock(struct hfc_dfile *f, const sigset_t *sigs)
{
	uint32_t me = f->conn->client_id;

	/* Only if still ours: the daemon takes a lock over from a holder it
	 * found stuck (after revoking its windows), and a plain store here
	 * would then free whatever holder came next. */
	(void)atomic_compare_exchange_strong_explicit(
		(_Atomic uint32_t *)&f->slot->ds_lock, &me, 0,
		memory_order_release, memory_order_relaxed);
	pthread_sigmask(SIG_SETMASK, sigs, NULL);
}

void hfc_dp_persist(struct hfc_dfile *f, const void *addr, size_t len)
{
	hfc_persist_range(f->conn, addr, len);
}

/* ------------------------------------------------------------ windows */

struct hfc_win *hfc_dp_find(struct hfc_dfile *f, uint64_t pos, bool rw)
{
	struct hfc_win *best = NULL;

	for (unsigned i = 0; i < f->nwin; i++) {
		struct hfc_win *w = &f->win[i];

		if (w->dead || pos < w->off || pos - w->off >= w->len ||
		    (rw && !w->rw))
			continue;
		/* the one reaching furthest: fewer calls cross windows */
		if (!best || w->off + w->len > best->off + best->len)
			best = w;
	}
	if (best) {
		/* An LRU hint only, so no locked instruction (this runs twice
		 * per call): racing threads may lose a tick or store in any
		 * order, and the window most used stays the most recent. */
		uint64_t t = atomic_load_explicit(&f->tick,
						  memory_order_relaxed);

		if (__atomic_load_n(&best->used, __ATOMIC_RELAXED) != t) {
			atomic_store_explicit(&f->tick, t + 1,
					      memory_order_relaxed);
			__atomic_store_n(&best->used, t + 1, __ATOMIC_RELAXED);
		}
	}
	return best;
}

/* Drop the dead windows (revoked: their ranges are the empty memfd
 * already) and release their leases, f->lock held: the daemon lists a
 * lease until its RELEASE. */
static void reap_locked(struct hfc_dfile *f)
{
	struct holdfs_mapping *gone[HFC_DP_NWIN];
	unsigned n = 0;

	pthread_rwlock_wrlock(&f->io);
	for (unsigned i = 0; i < f->nwin;)
		if (f->win[i].dead && !f->win[i].anchor) {
			gone[n++] = f->win[i].m;
			f->win[i] = f->win[--f->nwin];
		} else {
			i++;
		}
	pthread_rwlock_unlock(&f->io);
	for (unsigned i = 0; i < n; i++)
		hfc_unmap_async(gone[i]);
}

void hfc_dp_reap(struct hfc_dfile *f)
{
	pthread_mutex_lock(&f->lock);
	reap_locked(f);
	pthread_mutex_unlock(&f->lock);
}

/* Room for one more window (f->lock held): the least recently used goes
 * when all are taken. */
static void make_room(struct hfc_dfile *f)
{
	struct holdfs_mapping *m;
	unsigned lru = f->win[0].anchor ? 1 : 0;

	if (f->nwin < HFC_DP_NWIN)
		return;
	for (unsigned i = lru + 1; i < f->nwin; i++)
		if (!f->win[i].anchor && f->win[i].used < f->win[lru].used)
			lru = i;
	pthread_rwlock_wrlock(&f->io);
	m = f->win[lru].m;
	f->win[lru] = f->win[--f->nwin];
	pthread_rwlock_unlock(&f->io);
	hfc_unmap_async(m);
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x / a * a;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* The size the file has now, as every process sees it. */
static uint64_t cur_size(const struct hfc_dfile *f)
{
	return atomic_load_explicit((_Atomic uint64_t *)&f->slot->ds_size,
				    memory_order_acquire);
}

static uint64_t cur_limit(const struct hfc_dfile *f)
{
	return atomic_load_explicit((_Atomic uint64_t *)&f->slot->ds_limit,
				    memory_order_acquire);
}

/* Which range to lease for want at pos..end, the file being size bytes
 * with the slot's limit at lim: [*off, *off + *len). */
static void window_range(struct hfc_dfile *f, uint64_t pos, uint64_t end,
			 enum hfc_want want, uint64_t size, uint64_t lim,
			 uint64_t *off, uint64_t *len)
{
	uint64_t au = f->conn->alloc_unit;
	uint64_t w = f->win_size, eof = align_up(size, au);
	uint64_t a = align_down(pos, w), b = a + w;

	if (want == HFC_WANT_EXTEND) {
		/* from the unit holding pos, past the end asked for by the
		 * next reservation's size (doubling: few round trips for a
		 * stream of appends, little held for one small append) */
		a = align_down(pos, au);
		b = align_up(end, au) + align_up(atomic_load(&f->resv_next), au);
		*off = a;
		*len = b - a;
		return;
	}
	/* read and write windows end at the end of file (a read lease may
	 * not reach further; a write window there would need a reservation,
	 * which is the extend window's) */
	(void)lim;
	if (b > eof)
		b = eof;
	if (b <= a)
		b = a + au;
	*off = a;
	*len = b - a;
}

/* Lease [off, off+len) and add it as a window.  f->lock held. */
static long lease_window(struct hfc_dfile *f, int fd, uint64_t off,
			 uint64_t len, enum hfc_want want, int *why)
{
	struct hfc_lease_req rq = {
		.fd = fd, .dev = f->dev, .off = off, .len = len,
		.hprot = want == HFC_WANT_READ ? HFS_PROT_READ
					       : HFS_PROT_READ | HFS_PROT_WRITE,
		.lflags = HFS_LEASE_DATAPATH |
			  (want == HFC_WANT_EXTEND ? HFS_LEASE_EXTEND : 0) |
			  (want == HFC_WANT_WRITE ? HFS_LEASE_NOALLOC : 0),
		.owner = &f->owner };
	struct holdfs_mapping *m;
	struct hfc_win *w;
	uint32_t rev;
	int r;

	r = hfc_lease(&rq, &m);
	if (r == -ENODATA) {
		*why = HOLDFS_DP_HOLE;
		return HFC_DP_KERNEL;
	}
	if (r == -EIO || r == -ESHUTDOWN || r == -ENOTCONN) {
		*why = HOLDFS_DP_NO_LEASE;
		return HFC_DP_KERNEL; /* FUSE answers EIO where it must */
	}
	if (r) {
		*why = HOLDFS_DP_NO_LEASE;
		return HFC_DP_KERNEL;
	}
	if (hfc_map_ino(m) != (uint64_t)f->ino) {
		/* the descriptor number names another file by now (a dup2
		 * or close raced this call): not this file's lease */
		hfc_unmap_async(m);
		*why = HOLDFS_DP_CHANGED;
		return HFC_DP_KERNEL;
	}
	if (hfc_map_dslot(m) == HFS_DSLOT_NONE ||
	    (f->conn && hfc_map_conn(m) != f->conn) ||
	    (f->slot && hfc_map_dslot(m) != f->slot_idx)) {
		/* a daemon without slots, or a new connection under an old
		 * file: do not mix */
		hfc_unmap_async(m);
		*why = HOLDFS_DP_NO_SLOT;
		return HFC_DP_KERNEL;
	}
	hfc_dp_count(HFC_DPC_LEASES, 1);
	if (want == HFC_WANT_EXTEND) {
		hfc_dp_count(HFC_DPC_RESERVATIONS, 1);
		uint64_t resv = atomic_load(&f->resv_next);

		if (resv < HFC_DP_WIN_MAX)
			atomic_store(&f->resv_next, 2 * resv);
		/* Appends touch every page of a reservation once, in order:
		 * one batched page-table fill now instead of a fault per
		 * page later (advice only; older kernels say EINVAL). */
		(void)madvise(holdfs_addr(m), len, MADV_POPULATE_WRITE);
	}
	make_room(f);
	pthread_rwlock_wrlock(&f->io);
	w = &f->win[f->nwin++];
	*w = (struct hfc_win){ .off = off, .len = len, .m = m,
			       .base = holdfs_addr(m),
			       .rw = want != HFC_WANT_READ,
			       .extend = want == HFC_WANT_EXTEND,
			       .used = atomic_fetch_add(&f->tick, 1) };
	/* The listener maps a lease before hfc_lease() returns, so a
	 * revocation can reach m before it is a window here: on_revoked
	 * found nothing to mark, and the window would serve copies from
	 * pages already replaced by SIGBUS ones.  Under f->io, which every
	 * revocation holds while it tells us: seen now, or it finds w. */
	rev = hfc_map_revoked(m);
	if (rev)
		on_revoked(f, m, 0, 0, rev);
	pthread_rwlock_unlock(&f->io);
	return 0;
}

/* The file's size from the daemon (one getattr: before the slot is
 * known). */
static int daemon_size(int fd, uint64_t *size)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_SIZE,
		  &sx) < 0)
		return -errno;
	*size = sx.stx_size;
	return 0;
}

/* The first contact of a file: its connection (HELLO if this process
 * has none to that daemon yet), its size from the daemon (one getattr:
 * the slot is not known before the first lease), the window size, the
 * SIGBUS guard.  f->lock held.  0, HFC_DP_KERNEL with *why, or -errno. */
static long first_contact(struct hfc_dfile *f, int fd, uint64_t *size,
			  int *why)
{
	struct hfc_conn *c;
	uint64_t w;
	int r;

	/* f->conn only once all of it is known: it means "set up" */
	r = hfc_conn_of(fd, f->dev, &c);
	if (r) {
		f->why = r == -EACCES ? HOLDFS_DP_NOT_ALLOWED : HOLDFS_DP_NO_LEASE;
		goto refused;
	}
	if (!c->dslot_count) {
		f->why = HOLDFS_DP_NO_SLOT;
		goto refused;
	}
	r = daemon_size(fd, size);
	if (r)
		return r;
	/* A quarter of the file (2 MiB to 64 MiB): few windows to look
	 * through per call and few lease round trips, while a punch or
	 * truncate revokes no more than that much at once. */
	for (w = HFC_DP_WIN_MIN; w < HFC_DP_WIN_MAX && w < *size / 4; w *= 2)
		;
	f->win_size = w < c->alloc_unit ? c->alloc_unit : w;
	hfc_dp_guard_install();
	f->conn = c;
	return 0;
refused:
	f->retry_at = hfc_dp_now_s() + HFC_DP_RETRY_S;
	atomic_store(&f->state, HFC_DF_KERNEL);
	*why = f->why;
	return HFC_DP_KERNEL;
}

/* HOLDFS_DATAPATH_EAGER=1: lease from a file's first call (tests that
 * want every call served; the default keeps one-shot small files off the
 * daemon). */
static size_t lazy_bytes(void)
{
	static int eager = -1;

	if (eager < 0) {
		const char *e = getenv("HOLDFS_DATAPATH_EAGER");

		eager = e && !strcmp(e, "1");
	}
	return eager ? 0 : HFC_DP_LAZY_BYTES;
}

bool hfc_dp_usable(const struct hfc_dfile *f)
{
	return atomic_load(&((struct hfc_dfile *)f)->state) == HFC_DF_OK &&
	       f->slot && f->fork_gen == atomic_load(&fork_gen);
}

long hfc_dp_ready(struct hfc_dfile *f, int fd, size_t n, int *why)
{
	int st;

	(void)fd;
	if (f->fork_gen != atomic_load(&fork_gen)) {
		/* a fork child: the windows and the slot mapping are the
		 * parent's and not mapped here; start again */
		pthread_mutex_lock(&f->lock);
		if (f->fork_gen != atomic_load(&fork_gen)) {
			drop_windows(f, false);
			f->conn = NULL;
			f->slot = NULL;
			atomic_store(&f->state, HFC_DF_NEW);
			atomic_store(&f->calls, 0);
			f->fork_gen = atomic_load(&fork_gen);
		}
		pthread_mutex_unlock(&f->lock);
	}
	if (hfc_dp_slots_lost(f)) {
		/* the slot area faulted: device 0 is gone (dp_guard.c); the
		 * kernel answers from now on */
		*why = HOLDFS_DP_NO_SLOT;
		return HFC_DP_KERNEL;
	}
	st = atomic_load(&f->state);
	if (st == HFC_DF_OK)
		return 0;
	if (st == HFC_DF_GONE)
		return -EIO;
	if (st == HFC_DF_KERNEL) {
		if (hfc_dp_now_s() < f->retry_at) {
			*why = f->why;
			return HFC_DP_KERNEL;
		}
		atomic_store(&f->state, HFC_DF_NEW);
	}
	/* the first small call: no lease for a file read once */
	if (atomic_fetch_add(&f->calls, 1) == 0 && n < lazy_bytes()) {
		*why = HOLDFS_DP_FIRST_CALL;
		return HFC_DP_KERNEL;
	}
	return 0; /* NEW: the first window sets the file up */
}

long hfc_dp_get_window(struct hfc_dfile *f, int fd, uint64_t pos,
		       uint64_t end, enum hfc_want want, int *why)
{
	uint64_t size, lim, off, len, au;
	long r = 0;

	pthread_mutex_lock(&f->lock);
	if (atomic_load(&f->state) == HFC_DF_GONE) {
		pthread_mutex_unlock(&f->lock);
		return -EIO;
	}
	/* another thread may have leased it meanwhile */
	pthread_rwlock_rdlock(&f->io);
	if (f->slot && hfc_dp_find(f, pos, want != HFC_WANT_READ) &&
	    (want != HFC_WANT_EXTEND || end <= cur_limit(f))) {
		pthread_rwlock_unlock(&f->io);
		if (want != HFC_WANT_READ && !f->slot_rw &&
		    map_slots(f->conn) == 0)
			f->slot_rw = f->conn->slots_rw;
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	pthread_rwlock_unlock(&f->io);
	/* windows revoked since the last lease go before the next: their
	 * leases would otherwise stay in the daemon's table (and in
	 * holdfsctl leases) until the file's next layout change or close,
	 * and take slots of f->win */
	reap_locked(f);
	lim = 0;
	if (!f->conn) {
		r = first_contact(f, fd, &size, why);
	} else if (!f->slot) {
		/* leased before, never got the slot: the daemon's size */
		r = daemon_size(fd, &size);
	} else {
		size = cur_size(f);
		lim = cur_limit(f);
	}
	if (r)
		goto out;
	if (want == HFC_WANT_READ && pos >= size && pos >= lim) {
		*why = HOLDFS_DP_OTHER; /* at or past EOF: nothing to map */
		r = HFC_DP_KERNEL;
		goto out;
	}
	if (want == HFC_WANT_WRITE && end > align_up(size, f->conn->alloc_unit))
		want = HFC_WANT_EXTEND;
	window_range(f, pos, end, want, size, lim, &off, &len);
	r = lease_window(f, fd, off, len, want, why);
	au = f->conn->alloc_unit;
	if (r == HFC_DP_KERNEL && *why == HOLDFS_DP_HOLE &&
	    len > align_up(end, au) - align_down(pos, au)) {
		/* holes elsewhere in the window: just the units written */
		off = align_down(pos, au);
		len = align_up(end, au) - off;
		r = lease_window(f, fd, off, len, want, why);
	}
	if (r == 0 && !f->slot) {
		struct hfc_win *w = &f->win[f->nwin - 1];
		uint32_t idx = hfc_map_dslot(w->m);

		w->anchor = true;
		r = idx < f->conn->dslot_count ? map_slots(f->conn) : -EPROTO;
		if (r == 0) {
			f->slot_idx = idx;
			f->slot = (struct hfs_dslot *)(f->conn->slots +
						       (uint64_t)idx *
						       HFS_DSLOT_SIZE);
			f->slot_rw = f->conn->slots_rw;
			atomic_store(&f->state, HFC_DF_OK);
		} else {
			drop_windows(f, true);
			*why = HOLDFS_DP_NO_SLOT;
			r = HFC_DP_KERNEL;
		}
	} else if (r == 0 && want != HFC_WANT_READ && !f->slot_rw) {
		/* a write lease brought a read-write region fd: the slot
		 * area is remapped read-write in place */
		if (map_slots(f->conn) == 0)
			f->slot_rw = f->conn->slots_rw;
	}
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}
