/* SPDX-License-Identifier: MIT */
/*
 * The data path's descriptor table: descriptor number -> the engine's
 * file object (struct hfc_dfile, dp_engine.h) serving it, with the file's
 * device and inode when the entry was made.  Descriptors that share an
 * open file description through dup share one hfc_dfile (each entry holds
 * a reference); the last entry dropped releases it.
 *
 * Layout.  Chunk k holds CHUNK0 << k entries, for the descriptor numbers
 * [CHUNK0 * (2^k - 1), CHUNK0 * (2^(k+1) - 1)): 26 chunk pointers cover
 * every int, a chunk is allocated the first time one of its numbers is
 * served, and entries never move, so a lookup is two dependent loads and
 * the table grows without copying or a lock.  A process that never opens
 * a holdfs file has no chunk at all: its read() of a socket costs the
 * shim one load of a null pointer.
 *
 * Concurrency: a per-entry spin bit.  An entry is one word, the hfc_dfile
 * pointer with its low bit BUSY, plus dev and ino.  Whoever takes an
 * entry sets BUSY with a compare-and-swap: a call takes its own reference
 * on the file (hfc_dfile_hold) and copies dev and ino, then clears the
 * bit; a close swaps the pointer out under the bit and drops the table's
 * reference after clearing it.  So a close racing a read of the same
 * descriptor in another thread can only drop the table's reference,
 * never the one the read holds: no use after free, and no lock shared
 * between descriptors.  Why a bit and not a lock-free scheme: the bit is
 * held for a handful of instructions that never call out (an atomic
 * increment at most), the common case is one uncontended CAS on a line
 * only this descriptor's users touch, and the alternatives (hazard
 * pointers, split reference counts) need machinery the engine's opaque
 * reference count does not offer.  A call that finds the bit held spins
 * a bounded time and then takes the kernel path, which is always correct.
 * A close or dup2 must change the entry, though, and may come from a
 * signal handler that interrupted this very thread while it held the bit
 * (async-signal-safe calls, fair game in a handler): waiting would never
 * end.  So each thread knows the entry it holds (held), and a change that
 * finds its own thread holding the entry sets KILL instead; the holder,
 * when it lets go, empties the entry and drops the table's reference.
 * An emptied entry is always correct (the kernel serves the number).
 * A thread that forks while another holds a bit leaves the child a bit
 * nobody will clear: the child clears them all (fork_child).
 *
 * Validation: a descriptor can be closed behind our back (a raw close
 * system call, io_uring, glibc closing internally) and its number reused.
 * Before a call is served, hfc_dp_valid() compares dev and ino from
 * statx(AT_STATX_DONT_SYNC), which FUSE answers from the inode without a
 * round trip to the daemon; on a mismatch the entry is dropped and the
 * call goes to the kernel.  A number reused by the *same* file passes
 * (dev and ino are all statx can tell); writes re-read the description's
 * flags anyway (dp_fd_rw.c).
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "client_i.h"
#include "dp_fd_i.h"
#include "statx_mnt.h"

#define CHUNK0_SHIFT 6
#define CHUNK0 (1u << CHUNK0_SHIFT)
#define NCHUNKS (32 - CHUNK0_SHIFT)
#define BUSY ((uintptr_t)1)
/* Set on a held entry by a signal handler of its holder: empty it. */
#define KILL ((uintptr_t)2)
/* A call spins this many rounds on a held bit, then goes to the kernel. */
#define GET_ROUNDS 256
/* Every this many rounds a spinner yields (the holder may be preempted:
 * two threads on one core). */
#define YIELD_EVERY 64

struct dp_ent {
	_Atomic uintptr_t word;   /* struct hfc_dfile * | BUSY | KILL; 0: not
				     served */
	dev_t dev;                /* written and read with BUSY held */
	ino_t ino;
};

static struct dp_ent *_Atomic chunks[NCHUNKS];

/* Set while this thread holds a reference from hfc_dp_get(). */
static _Thread_local unsigned in_call;
/* The entry whose BUSY bit this thread holds, if any. */
static _Thread_local struct dp_ent *held;

static struct dp_ent *chunk_new(unsigned k)
{
	struct dp_ent *c = calloc((size_t)CHUNK0 << k, sizeof(*c)), *prev = NULL;

	if (!c)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&chunks[k], &prev, c,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return c;
	free(c);  /* another thread made it first */
	return prev;
}

static struct dp_ent *ent(int fd, bool create)
{
	unsigned u, k;
	struct dp_ent *c;

	if (fd < 0)
		return NULL;
	u = (unsigned)fd / CHUNK0 + 1;
	k = 31 - (unsigned)__builtin_clz(u);
	c = atomic_load_explicit(&chunks[k], memory_order_acquire);
	if (!c && create)
		c = chunk_new(k);
	return c ? &c[(unsigned)fd - CHUNK0 * ((1u << k) - 1)] : NULL;
}

static void relax(unsigned round)
{
	if (round % YIELD_EVERY == YIELD_EVERY - 1)
		sched_yield();
#if defined(__x86_64__) || defined(__i386__)
	else
		__builtin_ia32_pause();
#elif defined(__aarch64__)
	else
		__asm__ __volatile__("yield");
#endif
}

/* Set e's BUSY bit; *old gets the word before.  rounds 0: until it is
 * ours; else false after that many rounds.  held names e from before the
 * attempt until ent_unlock, which gives it back *prev: a signal handler
 * landing anywhere in between, in this thread, finds held == e (and
 * leaves it as it found it). */
static bool ent_lock(struct dp_ent *e, unsigned rounds, uintptr_t *old,
		     struct dp_ent **prev)
{
	uintptr_t w;

	*prev = held;
	held = e;
	atomic_signal_fence(memory_order_seq_cst);
	w = atomic_load_explicit(&e->word, memory_order_relaxed);
	for (unsigned i = 0;; i++) {
		if (!(w & BUSY) &&
		    atomic_compare_exchange_weak_explicit(&e->word, &w, w | BUSY,
							  memory_order_acquire,
							  memory_order_relaxed)) {
			*old = w;
			return true;
		}
		if (rounds && i >= rounds) {
			held = *prev;
			return false;
		}
		relax(i);
		w = atomic_load_explicit(&e->word, memory_order_relaxed);
	}
}

static void drop(struct hfc_dfile *f)
{
	if (f)
		hfc_dfile_drop(f);
}

/* Let go of e, whose word becomes w (the table's reference) -- or 0 if a
 * signal handler of this thread asked for that meanwhile (KILL), the
 * reference w carried then dropped. */
static void ent_unlock(struct dp_ent *e, uintptr_t w, struct dp_ent *prev)
{
	uintptr_t cur = atomic_load_explicit(&e->word, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&e->word, &cur,
						      cur & KILL ? 0 : w,
						      memory_order_release,
						      memory_order_relaxed))
		;
	/* after the bit: a handler landing in between sees it clear */
	atomic_signal_fence(memory_order_seq_cst);
	held = prev;
	if (cur & KILL)
		drop((struct hfc_dfile *)w);
}

/* fd's entry becomes f (NULL: none), if it is `expect` now or expect is
 * ANY; the entry's old reference is dropped.  Takes the caller's
 * reference to f, and drops it if the entry is not changed (false). */
#define ANY ((struct hfc_dfile *)BUSY)

static bool ent_set(int fd, struct hfc_dfile *expect, struct hfc_dfile *f,
		    dev_t dev, ino_t ino)
{
	struct dp_ent *e = ent(fd, f != NULL);
	struct dp_ent *prev;
	uintptr_t old;

	if (!e || (!f && !atomic_load_explicit(&e->word, memory_order_relaxed))) {
		drop(f);   /* no memory for the chunk: not served */
		return !f;
	}
	if (held == e) {
		/* A signal handler of the entry's holder: the holder empties
		 * the entry when it lets go (a new file is not served).  If
		 * the bit is already clear, it has let go: on as usual. */
		uintptr_t w = atomic_load_explicit(&e->word,
						   memory_order_relaxed);

		while (w & BUSY)
			if (atomic_compare_exchange_weak_explicit(
				    &e->word, &w, w | KILL,
				    memory_order_relaxed,
				    memory_order_relaxed)) {
				drop(f);
				return !f;
			}
	}
	ent_lock(e, 0, &old, &prev);
	if (expect != ANY && old != (uintptr_t)expect) {
		ent_unlock(e, old, prev);
		drop(f);
		return false;
	}
	e->dev = dev;
	e->ino = ino;
	ent_unlock(e, (uintptr_t)f, prev);
	drop((struct hfc_dfile *)old);
	return true;
}

bool hfc_dp_served(int fd)
{
	struct dp_ent *e = ent(fd, false);

	return e && atomic_load_explicit(&e->word, memory_order_relaxed);
}

bool hfc_dp_get(int fd, struct hfc_dp_ref *r)
{
	struct dp_ent *e = ent(fd, false);
	struct dp_ent *prev;
	uintptr_t w;

	if (!e || !atomic_load_explicit(&e->word, memory_order_relaxed) ||
	    in_call || held || !ent_lock(e, GET_ROUNDS, &w, &prev))
		return false;
	if (w) {
		r->f = (struct hfc_dfile *)w;
		r->fd = fd;
		r->dev = e->dev;
		r->ino = e->ino;
		hfc_dfile_hold(r->f);
	}
	ent_unlock(e, w, prev);
	if (w)
		in_call++;
	return w != 0;
}

void hfc_dp_put(struct hfc_dp_ref *r)
{
	in_call--;
	hfc_dfile_drop(r->f);
}

bool hfc_dp_same(struct hfc_dp_ref *r, dev_t dev, ino_t ino)
{
	if (dev == r->dev && ino == r->ino)
		return true;
	ent_set(r->fd, r->f, NULL, 0, 0);
	hfc_dp_count_kernel(HOLDFS_DP_CHANGED);
	hfc_log("fd %d no longer names inode %llu: not served", r->fd,
		(unsigned long long)r->ino);
	return false;
}

/*
 * statx of a descriptor, as cheaply as the kernel allows: a NULL path
 * (Linux 6.11 and later) skips copying and looking up "", ~10% of the
 * call on a FUSE file; older kernels answer EFAULT, once, and then get
 * "" for the life of the process.
 */
static int fd_statx(int fd, int flags, unsigned mask, struct statx *sx)
{
	static _Atomic int null_path = 1;   /* 1: try NULL, 0: use "" */
	long r;

	if (atomic_load_explicit(&null_path, memory_order_relaxed)) {
		r = syscall(SYS_statx, fd, NULL, AT_EMPTY_PATH | flags, mask, sx);
		if (r == 0 || errno != EFAULT)
			return (int)r;
		atomic_store_explicit(&null_path, 0, memory_order_relaxed);
	}
	return (int)syscall(SYS_statx, fd, "", AT_EMPTY_PATH | flags, mask, sx);
}

bool hfc_dp_valid(struct hfc_dp_ref *r)
{
	struct statx sx;
	int saved = errno;

	if (fd_statx(r->fd, AT_STATX_DONT_SYNC, STATX_INO, &sx) < 0 ||
	    !(sx.stx_mask & STATX_INO))
		sx.stx_ino = 0, sx.stx_dev_major = sx.stx_dev_minor = 0;
	errno = saved;
	return hfc_dp_same(r, makedev(sx.stx_dev_major, sx.stx_dev_minor),
			   sx.stx_ino);
}

void hfc_dp_share(int nfd, const struct hfc_dp_ref *r)
{
	hfc_dfile_hold(r->f);
	ent_set(nfd, ANY, r->f, r->dev, r->ino);
}

void hfc_dp_forget(int fd)
{
	ent_set(fd, ANY, NULL, 0, 0);
}

void hfc_dp_forget_range(unsigned first, unsigned last)
{
	for (unsigned k = 0; k < NCHUNKS; k++) {
		unsigned lo = CHUNK0 * ((1u << k) - 1), n = CHUNK0 << k;

		if (lo > last)
			break;
		if (!atomic_load_explicit(&chunks[k], memory_order_acquire))
			continue;
		for (unsigned i = 0; i < n && lo + i <= last; i++)
			if (lo + i >= first)
				hfc_dp_forget((int)(lo + i));
	}
}

void hfc_dp_adopt(int fd)
{
	struct hfc_dfile *f = NULL;
	struct statx sx;
	int saved = errno;
	long fl;

	if (!hfc_dp_enabled())
		return;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | STATX_INO | HFC_STATX_MNT, &sx) == 0 &&
	    (sx.stx_mask & (STATX_TYPE | STATX_INO)) == (STATX_TYPE | STATX_INO) &&
	    S_ISREG(sx.stx_mode) &&
	    hfc_dp_is_holdfs_dev(makedev(sx.stx_dev_major, sx.stx_dev_minor),
				 sx.stx_mask & HFC_STATX_MNT ? sx.stx_mnt_id : 0) &&
	    (fl = syscall(SYS_fcntl, fd, F_GETFL)) >= 0 && !(fl & O_PATH))
		f = hfc_dfile_new(makedev(sx.stx_dev_major, sx.stx_dev_minor),
				  sx.stx_ino, (int)fl);
	if (!f) {
		hfc_dp_forget(fd);   /* a stale entry of a number reused */
	} else if (ent_set(fd, ANY, f,
			   makedev(sx.stx_dev_major, sx.stx_dev_minor),
			   sx.stx_ino)) {
		hfc_dp_count(HFC_DPC_FILES, 1);
		hfc_log("fd %d: inode %llu served by the data path", fd,
			(unsigned long long)sx.stx_ino);
	}
	errno = saved;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Raw getdents64 rather than opendir: no allocation, and nothing that
 * could come back through the shim. */
void hfc_dp_adopt_all(void)
{
	char buf[4096];
	int saved = errno;
	long dir, n;

	if (!hfc_dp_enabled())
		return;
	dir = syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		goto out;
	while ((n = syscall(SYS_getdents64, (int)dir, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			char *end;
			long fd = strtol(d->d_name, &end, 10);

			off += d->d_reclen;
			if (*end || end == d->d_name || fd == dir || fd > INT32_MAX ||
			    hfc_dp_served((int)fd))
				continue;
			hfc_dp_adopt((int)fd);
		}
	syscall(SYS_close, (int)dir);
out:
	errno = saved;
}

/* Every descriptor stays open in the child, with the offset it shares
 * with the parent, so the table stays; only a bit held by a thread that
 * does not exist here must go.  (An entry a writer was changing keeps its
 * old file and maybe the new dev/ino: validation drops it then.) */
static void fork_child(void)
{
	for (unsigned k = 0; k < NCHUNKS; k++) {
		struct dp_ent *c = atomic_load_explicit(&chunks[k],
							memory_order_relaxed);

		for (unsigned i = 0; c && i < CHUNK0 << k; i++)
			if (atomic_fetch_and(&c[i].word, ~BUSY) & KILL)
				/* a close was on its way: not served
				 * (the reference is left, not freed
				 * here, an atfork handler) */
				atomic_store(&c[i].word, 0);
	}
}

__attribute__((constructor)) static void dp_fd_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

/* The kernel clamps copy_file_range, sendfile, splice and computes an
 * O_APPEND write's offset by its own cached size of the file: direct
 * writers may have grown the file since.  A getattr first (the daemon
 * answers a file written directly with no caching, docs/data-path.md)
 * brings it up to date. */
void hfc_dp_kernel_size_fresh_to(int fd, int64_t want)
{
	struct statx sx;

	/* The kernel drops a GETATTR's size when anything bumped the
	 * inode's attribute version meanwhile (an invalidation the daemon
	 * sent for an earlier write, say), though the caller gets the
	 * daemon's answer: ask again, a few times, until the cached size
	 * holds at least that and the size this process knows. */
	for (int i = 0; i < 8; i++) {
		int64_t target = want;

		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC,
			  STATX_SIZE, &sx) < 0)
			break;
		if ((int64_t)sx.stx_size > target)
			target = (int64_t)sx.stx_size;
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
			  STATX_SIZE, &sx) < 0 || (int64_t)sx.stx_size >= target)
			break;
	}
}

void hfc_dp_kernel_size_fresh(int fd)
{
	struct hfc_dp_ref r;
	int64_t want = -1;
	int why;

	if (fd < 0 || !hfc_dp_served(fd))
		return;
	if (hfc_dp_get(fd, &r)) {
		want = hfc_dfile_size(r.f, fd, &why);
		hfc_dp_put(&r);
	}
	hfc_dp_kernel_size_fresh_to(fd, want < 0 ? -1 : want);
}
