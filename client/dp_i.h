/* SPDX-License-Identifier: MIT */
/*
 * Inside the data path engine (dp_engine.h; docs/data-path.md): the file
 * object and its lease windows (dp_file.c), the copies (dp_io.c), the
 * SIGBUS guard (dp_guard.c).
 *
 * Locks of a file, in order: f->lock (leasing and the windows' life; a
 * thread waiting for the daemon holds only this), the slot lock (in the
 * region, shared with every process writing the inode; never waited for
 * with f->io held), f->io (read: a copy into or out of a window; write:
 * the listener revoking a window, or a window added or dropped).  f->io
 * prefers writers, so a stream of copies cannot keep a revocation past
 * the daemon's deadline, and no copy holds it across anything that waits.
 */
#ifndef HOLDFS_DP_I_H
#define HOLDFS_DP_I_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client_i.h"
#include "dp_engine.h"

/* Lease windows: aligned ranges of the file, leased and mapped whole.
 * Between MIN and MAX by file size (a few per file, not thousands), at
 * most NWIN per file (the least recently used goes). */
#define HFC_DP_WIN_MIN (2ull << 20)
#define HFC_DP_WIN_MAX (64ull << 20)
#define HFC_DP_NWIN 64
/* Reservations past EOF start at this and double, up to WIN_MAX. */
#define HFC_DP_RESV_MIN (64ull << 10)
/* A file's first call below this goes to the kernel: a small file read
 * once must not pay for a lease. */
#define HFC_DP_LAZY_BYTES (64u << 10)
/* At most this much is copied per hold of f->io, so a revocation never
 * waits long behind a big read or write. */
#define HFC_DP_CHUNK (4u << 20)
/* How long a writer waits for the slot lock before going to the
 * kernel. */
#define HFC_DP_SLOT_WAIT_MS 2000
/* After the daemon refused a file (no slot, not allowed), ask again only
 * after this long. */
#define HFC_DP_RETRY_S 5

struct hfc_win {
	uint64_t off, len;        /* file range leased */
	uint8_t *base;            /* where off is mapped */
	struct holdfs_mapping *m;
	bool rw;
	bool extend;              /* reaches past EOF (HFS_LEASE_EXTEND) */
	uint32_t dead;            /* revoked (any part): the reason; the
				     window is dropped at the next call */
	bool anchor;              /* the lease that attached the slot: kept
				     (even revoked) until the file is
				     dropped, so the daemon keeps the slot
				     armed for it and f->slot stays good */
	uint64_t used;            /* for least-recently-used eviction */
};

enum hfc_df_state {
	HFC_DF_NEW,               /* no lease asked yet */
	HFC_DF_OK,                /* leased, slot mapped */
	HFC_DF_KERNEL,            /* refused: the kernel until retry_at */
	HFC_DF_GONE,              /* connection lost or filesystem shut
				     down: every call EIO */
};

struct hfc_dfile {
	atomic_int refs;
	dev_t dev;
	ino_t ino;
	atomic_int flags;         /* the description's F_GETFL */
	pthread_mutex_t lock;
	pthread_rwlock_t io;
	struct hfc_dp_owner owner;
	_Atomic int state;        /* enum hfc_df_state */
	int why;                  /* holdfs_dp_reason of KERNEL */
	uint64_t retry_at;        /* seconds (CLOCK_MONOTONIC) */
	atomic_uint calls;
	struct hfc_conn *conn;
	struct hfs_dslot *slot;   /* the inode's slot, mapped */
	uint32_t slot_idx;
	bool slot_rw;
	uint64_t win_size;
	_Atomic uint64_t resv_next; /* the next reservation's size (f->lock;
				     the listener resets it) */
	struct hfc_win win[HFC_DP_NWIN];
	unsigned nwin;
	atomic_uint_fast64_t tick;
	atomic_bool mtime_dirty;  /* ds_mtime stored, not yet persisted */
	atomic_uint revokes;      /* windows revoked so far (on_revoked) */
	atomic_uint remaps;       /* REMAPs of its windows (on_remapped) */
	atomic_bool kernel_wrote; /* a write went through the kernel since
				     the last sync: fsync must go there too */
	unsigned fork_gen;
	struct hfc_dfile *next, *prev; /* every file (fork) */
};

/* dp_file.c */
uint64_t hfc_dp_now_s(void);
/* Would a write ending at end cross RLIMIT_FSIZE (as last read)? */
bool hfc_dp_past_fsize(uint64_t end);
/* Make f usable for a call of n bytes: the fork generation checked,
 * the lazy first call, a connection and slot (the first lease).  0, or
 * HFC_DP_KERNEL with *why, or -EIO for a file whose mount is gone. */
long hfc_dp_ready(struct hfc_dfile *f, int fd, size_t n, int *why);
/* Is f leased and its slot mapped in this process (not a fork child's
 * copy)?  For the calls that lease nothing (size, sync). */
bool hfc_dp_usable(const struct hfc_dfile *f);
/* The window covering file byte pos (read: any; rw: a write window;
 * ext: one reaching past EOF), or NULL.  f->io held. */
struct hfc_win *hfc_dp_find(struct hfc_dfile *f, uint64_t pos, bool rw);
/* Lease a window over pos (and up to end, for writes): read, write
 * within EOF, or extend past it.  f->io not held.  0, HFC_DP_KERNEL with
 * *why, or -errno. */
enum hfc_want { HFC_WANT_READ, HFC_WANT_WRITE, HFC_WANT_EXTEND };
long hfc_dp_get_window(struct hfc_dfile *f, int fd, uint64_t pos,
		       uint64_t end, enum hfc_want want, int *why);
/* Drop dead windows (f->io not held). */
void hfc_dp_reap(struct hfc_dfile *f);
/* The slot lock (docs/data-path.md): 0, or HFC_DP_KERNEL with *why.
 * Asynchronous signals are blocked while it is held (*sigs: the mask
 * before, which unlock puts back). */
long hfc_dp_slot_lock(struct hfc_dfile *f, sigset_t *sigs, int *why);
void hfc_dp_slot_unlock(struct hfc_dfile *f, const sigset_t *sigs);
void hfc_dp_persist(struct hfc_dfile *f, const void *addr, size_t len);

/* dp_guard.c: copies that turn a SIGBUS or SIGSEGV into an error.
 * Install the handlers (sigbus.c) before a file's first lease; they call
 * hfc_dp_guard_catch() first, which jumps out of an armed copy (and
 * returns otherwise).
 * A copy returns 0, or -EIO with *fault_addr and *code (si_code) set
 * when the mapping side faulted, or -EFAULT when the caller's side did. */
void hfc_dp_guard_install(void);
void hfc_dp_guard_catch(const siginfo_t *si);
/* The slot area of c, mapped at lo (len bytes): a fault there is
 * device 0 gone.  hfc_dp_guard_own (the handler's last say) marks
 * c->slots_lost, maps zeros over the area and returns true for such a
 * fault; hfc_dp_slots_lost() is the mark.  after_fork: in the child. */
void hfc_dp_guard_slots(struct hfc_conn *c, void *lo, size_t len);
bool hfc_dp_guard_own(const siginfo_t *si);
void hfc_dp_guard_after_fork(void);

static inline bool hfc_dp_slots_lost(const struct hfc_dfile *f)
{
	return f->conn && atomic_load(&f->conn->slots_lost);
}
int hfc_dp_copy(void *dst, const void *src, size_t n, const void *map_lo,
		size_t map_len, void **fault_addr, int *code);
int hfc_dp_zero(void *dst, size_t n, void **fault_addr, int *code);
/* The same into the region with libpmem2's memcpy (non-temporal stores,
 * no drain: hfc_dp_persist after), or hfc_dp_copy when pcopy is NULL. */
typedef void *(*hfc_pmem_copy_t)(void *, const void *, size_t, unsigned);
int hfc_dp_copy_in(void *dst, const void *src, size_t n, const void *map_lo,
		   size_t map_len, hfc_pmem_copy_t pcopy, void **fault_addr,
		   int *code);

#endif
