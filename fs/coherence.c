/* SPDX-License-Identifier: MIT */
/*
 * The page-cache coherence table: see coherence.h for the protocol and
 * why it is safe.  Here: the sealed memfd, the ino -> slot hash, and the
 * in-flight counts that decide when a slot may be cleared.
 *
 * One mutex (t->lock) guards the hash, the free slots and the counts; it
 * is a leaf lock (nothing else is taken under it), so FUSE threads, the
 * ring thread and the volume hooks may all call in with their own locks
 * held.  The slot words themselves are atomics: clients read them without
 * any lock.
 */
#include "coherence.h"
#include "deadline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#define NBUCKETS 4096u /* power of two */

struct hfsd_coh_ent {
	struct hfsd_coh_ent *next;  /* hash chain */
	uint64_t ino;
	uint32_t slot;
	uint32_t refs;      /* leases on ino */
	uint32_t inflight;  /* READ/WRITE of ino between begin and end */
};

struct hfsd_coh {
	pthread_mutex_t lock;
	pthread_cond_t idle;      /* signalled when nothing is in flight */
	uint64_t inflight_all;    /* every READ/WRITE between begin and end */
	int fd;
	uint32_t nslots;
	_Atomic uint32_t *words;  /* nslots, shared with clients */
	size_t map_len;
	uint32_t *free_slots;     /* stack */
	uint32_t nfree;
	uint64_t uncounted;       /* READ/WRITE in flight of slotless inodes */
	struct hfsd_coh_ent *bucket[NBUCKETS];
};

static struct hfsd_coh_ent **chain(struct hfsd_coh *t, uint64_t ino)
{
	return &t->bucket[(ino * 0x9e3779b97f4a7c15ull) >> 52 & (NBUCKETS - 1)];
}

static struct hfsd_coh_ent *find(struct hfsd_coh *t, uint64_t ino)
{
	struct hfsd_coh_ent *e;

	for (e = *chain(t, ino); e; e = e->next)
		if (e->ino == ino)
			return e;
	return NULL;
}

/* Drop an entry nobody needs any more (t->lock held). */
static void maybe_free(struct hfsd_coh *t, struct hfsd_coh_ent *e)
{
	struct hfsd_coh_ent **pp;

	if (e->refs || e->inflight)
		return;
	for (pp = chain(t, e->ino); *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	if (e->slot != HFS_COH_NONE)
		t->free_slots[t->nfree++] = e->slot;
	free(e);
}

int hfsd_coh_new(uint32_t nslots, struct hfsd_coh **out)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct hfsd_coh *t;
	int err;

	if (!nslots || nslots > (1u << 24))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	t->nslots = nslots;
	t->map_len = ((size_t)nslots * 4 + (size_t)pg - 1) / (size_t)pg *
		     (size_t)pg;
	t->free_slots = malloc((size_t)nslots * sizeof(*t->free_slots));
	if (!t->free_slots) {
		err = -ENOMEM;
		goto fail;
	}
	/* highest first, so slot 0 is handed out first */
	for (uint32_t i = 0; i < nslots; i++)
		t->free_slots[t->nfree++] = nslots - 1 - i;
	t->fd = memfd_create("holdfs-coherence", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (t->fd < 0 || ftruncate(t->fd, (off_t)t->map_len) < 0) {
		err = -errno;
		goto fail;
	}
	t->words = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			t->fd, 0);
	if (t->words == MAP_FAILED) {
		t->words = NULL;
		err = -errno;
		goto fail;
	}
	/* Clients may map it, never change it: F_SEAL_FUTURE_WRITE refuses
	 * every new writable shared mapping and write(2), while ours (made
	 * above) keeps working. */
	if (fcntl(t->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		err = -errno;
		goto fail;
	}
	for (uint32_t i = 0; i < nslots; i++)
		atomic_store(&t->words[i], HFS_COH_CACHED);
	pthread_mutex_init(&t->lock, NULL);
	hfsd_cond_init_monotonic(&t->idle);
	*out = t;
	return 0;
fail:
	if (t->words)
		munmap((void *)t->words, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	free(t->free_slots);
	free(t);
	return err;
}

void hfsd_coh_free(struct hfsd_coh *t)
{
	if (!t)
		return;
	for (uint32_t b = 0; b < NBUCKETS; b++)
		while (t->bucket[b]) {
			struct hfsd_coh_ent *e = t->bucket[b];

			t->bucket[b] = e->next;
			free(e);
		}
	munmap((void *)t->words, t->map_len);
	close(t->fd);
	free(t->free_slots);
	pthread_cond_destroy(&t->idle);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int hfsd_coh_fd(const struct hfsd_coh *t)
{
	return t->fd;
}

uint32_t hfsd_coh_nslots(const struct hfsd_coh *t)
{
	return t->nslots;
}

uint32_t hfsd_coh_get(struct hfsd_coh *t, uint64_t ino)
{
	struct hfsd_coh_ent *e;
	uint32_t slot;

	if (!t)
		return HFS_COH_NONE;
	pthread_mutex_lock(&t->lock);
	e = find(t, ino);
	if (!e && (e = calloc(1, sizeof(*e)))) {
		e->ino = ino;
		e->slot = t->nfree ? t->free_slots[--t->nfree] : HFS_COH_NONE;
		if (e->slot != HFS_COH_NONE)
			atomic_store(&t->words[e->slot], HFS_COH_CACHED);
		e->next = *chain(t, ino);
		*chain(t, ino) = e;
	}
	if (e)
		e->refs++;
	slot = e ? e->slot : HFS_COH_NONE;
	pthread_mutex_unlock(&t->lock);
	return slot;
}

void hfsd_coh_put(struct hfsd_coh *t, uint64_t ino)
{
	struct hfsd_coh_ent *e;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	e = find(t, ino);
	if (e && e->refs) {
		e->refs--;
		maybe_free(t, e);
	}
	pthread_mutex_unlock(&t->lock);
}

struct hfsd_coh_ent *hfsd_coh_io_begin(struct hfsd_coh *t, uint64_t ino)
{
	struct hfsd_coh_ent *e;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	t->inflight_all++;
	e = find(t, ino);
	if (e) {
		e->inflight++;
		if (e->slot != HFS_COH_NONE)
			atomic_store(&t->words[e->slot], HFS_COH_CACHED);
	} else {
		t->uncounted++;
	}
	pthread_mutex_unlock(&t->lock);
	/* the store above before any load of file data (coherence.h) */
	atomic_thread_fence(memory_order_seq_cst);
	return e;
}

void hfsd_coh_io_end(struct hfsd_coh *t, struct hfsd_coh_ent *e)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (e) {
		e->inflight--;
		maybe_free(t, e);
	} else {
		t->uncounted--;
	}
	if (!--t->inflight_all)
		pthread_cond_broadcast(&t->idle);
	pthread_mutex_unlock(&t->lock);
}

int hfsd_coh_persisted(struct hfsd_coh *t, uint64_t ino, uint64_t off,
		       uint64_t len,
		       int (*inval)(void *ctx, uint64_t ino, uint64_t off,
				    uint64_t len),
		       void *ctx)
{
	struct hfsd_coh_ent *e;
	uint32_t slot = HFS_COH_NONE;
	bool clearing = false;
	int r;

	if (t) {
		pthread_mutex_lock(&t->lock);
		e = find(t, ino);
		if (e && e->slot != HFS_COH_NONE) {
			slot = e->slot;
			if (atomic_load(&t->words[slot]) == HFS_COH_CLEAN) {
				/* cleared since the client looked: nothing
				 * is cached (a READ would have set CACHED) */
				pthread_mutex_unlock(&t->lock);
				return 0;
			}
			if (!e->inflight && !t->uncounted) {
				atomic_store(&t->words[slot], HFS_COH_CLEARING);
				clearing = true;
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	/* Clearing drops every page of the inode, not just the range: a
	 * CLEAN word promises there is none. */
	r = clearing ? inval(ctx, ino, 0, 0) : inval(ctx, ino, off, len);
	if (clearing) {
		uint32_t want = HFS_COH_CLEARING;

		pthread_mutex_lock(&t->lock);
		atomic_compare_exchange_strong(&t->words[slot], &want,
					       r ? HFS_COH_CACHED : HFS_COH_CLEAN);
		pthread_mutex_unlock(&t->lock);
	}
	return r;
}

bool hfsd_coh_drain(struct hfsd_coh *t, unsigned ms)
{
	struct timespec dl;
	bool idle;

	if (!t)
		return true;
	dl = hfsd_deadline_ms(ms);
	pthread_mutex_lock(&t->lock);
	while (t->inflight_all &&
	       pthread_cond_timedwait(&t->idle, &t->lock, &dl) != ETIMEDOUT)
		;
	idle = !t->inflight_all;
	pthread_mutex_unlock(&t->lock);
	return idle;
}

uint32_t hfsd_coh_state(struct hfsd_coh *t, uint64_t ino)
{
	struct hfsd_coh_ent *e;
	uint32_t s = HFS_COH_NONE;

	if (!t)
		return s;
	pthread_mutex_lock(&t->lock);
	e = find(t, ino);
	if (e && e->slot != HFS_COH_NONE)
		s = atomic_load(&t->words[e->slot]);
	pthread_mutex_unlock(&t->lock);
	return s;
}
