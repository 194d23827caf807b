/* SPDX-License-Identifier: MIT */
/*
 * Mappings: one lease = one contiguous address range.
 *
 * The range is reserved PROT_NONE (aligned to the allocation unit, so a
 * device-dax region can be mapped at huge-page alignment), then each extent
 * of the region is mapped at its place with MAP_FIXED: MAP_SHARED of the
 * region fd for data, a private read-only anonymous mapping (zero pages)
 * for a hole of a read lease.  Revocation maps an empty memfd over the
 * range (hfc_revoke_range: SIGBUS on access); REMAP maps the new extents
 * over the zero pages.  Every replacement is one mmap(MAP_FIXED): no
 * instant where the range is unmapped and another mmap could land there.
 *
 * The listener does the initial mapping itself (a hook on LEASE_OK), so a
 * REVOKE or REMAP of a lease is never processed before its mapping exists.
 *
 * maps_lock protects the list and every mapping's mutable fields.  A
 * mapping handed to the revoke handler is pinned (busy) so holdfs_unmap()
 * waits instead of freeing it under the handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_i.h"
#include "grow.h"

struct hfc_revoked {
	uint64_t off, len;   /* file range */
	uint32_t reason;
};

struct holdfs_mapping {
	struct hfc_conn *conn;
	uint64_t lease_id, ino;
	dev_t dev;
	uint64_t offset, length;
	uint32_t hprot;        /* HFS_PROT_* */
	int mprot;             /* PROT_* of the data mappings */
	uint8_t *base;
	uint32_t nextents, nholes;
	struct hfc_revoked *revoked;
	size_t nrevoked, caprevoked;
	uint64_t revoked_bytes;
	uint32_t last_reason;  /* of the latest revocation, 0: none yet;
				  atomic (hfc_map_revoked reads it unlocked) */
	int busy;              /* revoke handler calls in flight */
	int file_fd;           /* a dup of the leased file (coherence), or -1 */
	const _Atomic uint32_t *coh_word; /* the file's coherence word, or NULL */
	/* data-path mappings (dp_file.c): the owner's hook, the slot the
	 * daemon attached, the extents as granted (POISON reports) */
	const struct hfc_dp_owner *owner;
	uint32_t dslot;
	struct hfs_lease_extent *ext;
	char path[256];
	struct holdfs_mapping *next, *prev;  /* maps, doubly linked */
	struct holdfs_mapping *hnext;        /* lease-id hash chain */
	bool linked;
};

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maps_cond = PTHREAD_COND_INITIALIZER;
static struct holdfs_mapping *maps;

static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static holdfs_revoke_fn handler;
static void *handler_ctx;

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

void holdfs_set_revoke_handler(holdfs_revoke_fn fn, void *ctx)
{
	pthread_mutex_lock(&handler_lock);
	handler = fn;
	handler_ctx = ctx;
	pthread_mutex_unlock(&handler_lock);
}

static void call_handler(const struct holdfs_revoke_event *ev)
{
	holdfs_revoke_fn fn;
	void *ctx;

	pthread_mutex_lock(&handler_lock);
	fn = handler;
	ctx = handler_ctx;
	pthread_mutex_unlock(&handler_lock);
	if (fn)
		fn(ctx, ev);
}

/* ---- revocation ------------------------------------------------------- */

/* Record the revocation of the file range [off, off+len) of m (clipped,
 * widened to pages) and pin m; the caller maps the empty file over
 * ev->addr/ev->length (hfc_revoke_range) before it drops the maps lock.
 * Fills *ev for the handler (ev->mapping NULL: nothing to revoke). */
static void revoke_mark_locked(struct holdfs_mapping *m, uint64_t off,
			       uint64_t len, uint32_t reason,
			       struct holdfs_revoke_event *ev)
{
	uint64_t pg = page_size(), end = off + len;
	struct hfc_revoked *r;

	if (end < off || end > m->offset + m->length)
		end = m->offset + m->length;
	if (off < m->offset)
		off = m->offset;
	off &= ~(pg - 1);
	end = (end + pg - 1) & ~(pg - 1);
	if (end <= off)
		return;
	hfc_log("lease %llu: revoked file range %llu+%llu (reason %u)",
		(unsigned long long)m->lease_id, (unsigned long long)off,
		(unsigned long long)(end - off), reason);
	if (m->nrevoked < m->caprevoked ||
	    !hfs_grow(&m->revoked, &m->caprevoked, m->nrevoked + 1,
		      sizeof(*m->revoked))) {
		r = &m->revoked[m->nrevoked++];
		r->off = off;
		r->len = end - off;
		r->reason = reason;
	}
	m->revoked_bytes += end - off;
	__atomic_store_n(&m->last_reason, reason ? reason : HOLDFS_REVOKE_LAYOUT,
			 __ATOMIC_RELEASE);
	*ev = (struct holdfs_revoke_event){
		.mapping = m, .lease_id = m->lease_id, .ino = m->ino,
		.offset = off, .length = end - off,
		.addr = m->base + (off - m->offset), .reason = reason };
	m->busy++;
}

/* The same, mapping at once.  A data-path mapping's owner is told,
 * with its copies kept out: its I/O lock is taken for writing around
 * the change, so no copy in flight ever touches the revoked pages. */
static void revoke_locked(struct holdfs_mapping *m, uint64_t off, uint64_t len,
			  uint32_t reason, struct holdfs_revoke_event *ev)
{
	revoke_mark_locked(m, off, len, reason, ev);
	if (!ev->mapping)
		return;
	if (m->owner)
		pthread_rwlock_wrlock(m->owner->io);
	hfc_revoke_range(ev->addr, ev->length);
	if (m->owner) {
		m->owner->revoked(m->owner->arg, m, ev->offset, ev->length,
				  reason);
		pthread_rwlock_unlock(m->owner->io);
	}
}

/* ---- revocations that come before their LEASE_OK ---------------------
 *
 * The daemon publishes a lease (revocable from then on) before it sends
 * its LEASE_OK, and holds the LEASE_OK back while the REMAP round its
 * grant caused runs (fs/revoke_hooks.c, hfsd_lease_grant_defer).  A
 * truncate or punch in between revokes the lease: that REVOKE reaches us
 * first, names a lease we do not know, and is acked, so the daemon frees
 * and reuses the blocks -- which the late LEASE_OK then maps.  Seen as a
 * direct append landing in another file offset's blocks (dp_race: one
 * record at two offsets).  So such a revocation is kept while a
 * LEASE_REQ of the connection is in flight, and the lease it names is
 * born revoked when its LEASE_OK comes. */

/* A REVOKE of [off, off+len) of lease_id, not mapped here (maps lock). */
static void note_early_locked(struct hfc_conn *c, uint64_t lease_id,
			      uint64_t off, uint64_t len, uint32_t reason)
{
	if (!c->lease_reqs)
		return; /* no LEASE_OK is coming: released before */
	if (hfs_grow(&c->early, &c->capearly, c->nearly + 1,
		     sizeof(*c->early))) {
		c->early_lost = true;
		return;
	}
	c->early[c->nearly++] = (struct hfc_early_revoke){ lease_id, off, len,
							   reason };
}

/* Revoke [off, off+len) of m, just published (maps lock): nobody has
 * it yet, so nobody to tell but a data-path owner, whose window is then
 * born dead (dp_file.c lease_window reads hfc_map_revoked). */
static void born_revoked_range_locked(struct holdfs_mapping *m, uint64_t off,
				      uint64_t len, uint32_t reason)
{
	struct holdfs_revoke_event ev = { 0 };

	revoke_locked(m, off, len, reason, &ev);
	if (ev.mapping)
		m->busy--;
}

/* Revoke what came early of m, just published (maps lock). */
static void born_revoked_locked(struct hfc_conn *c, struct holdfs_mapping *m)
{
	for (size_t i = 0; i < c->nearly;) {
		const struct hfc_early_revoke *e = &c->early[i];

		if (e->lease_id != m->lease_id) {
			i++;
			continue;
		}
		born_revoked_range_locked(m, e->off, e->len, e->reason);
		c->early[i] = c->early[--c->nearly];
	}
	if (c->early_lost) /* one could not be kept: maybe this lease's */
		born_revoked_range_locked(m, m->offset, m->length,
					  HOLDFS_REVOKE_LAYOUT);
}

/* Around a LEASE_REQ: what came early is kept while one is in flight. */
static void lease_req_begin(struct hfc_conn *c)
{
	pthread_mutex_lock(&maps_lock);
	c->lease_reqs++;
	pthread_mutex_unlock(&maps_lock);
}

static void lease_req_end(struct hfc_conn *c)
{
	pthread_mutex_lock(&maps_lock);
	if (--c->lease_reqs == 0) {
		c->nearly = 0;
		c->early_lost = false;
	}
	pthread_mutex_unlock(&maps_lock);
}

struct va_run {
	uint8_t *a;
	size_t n;
};

static int cmp_run(const void *x, const void *y)
{
	const struct va_run *a = x, *b = y;

	return a->a < b->a ? -1 : a->a > b->a;
}

/* Map the empty file over runs[0..n) with as few mmap calls as possible:
 * leases mapped one after another are usually adjacent in the address
 * space, and every mmap costs a TLB shootdown on a multi-threaded
 * process.  Adjacent runs are all ours (pinned), so one mapping over
 * them is exactly the same as one each. */
static void revoke_runs(struct va_run *runs, size_t n)
{
	size_t i = 0;

	if (n > 1)
		qsort(runs, n, sizeof(*runs), cmp_run);
	while (i < n) {
		uint8_t *a = runs[i].a, *e = a + runs[i].n;

		for (i++; i < n && runs[i].a <= e; i++)
			if (runs[i].a + runs[i].n > e)
				e = runs[i].a + runs[i].n;
		hfc_revoke_range(a, (size_t)(e - a));
	}
}

static void unpin(struct holdfs_mapping *m)
{
	pthread_mutex_lock(&maps_lock);
	m->busy--;
	pthread_cond_broadcast(&maps_cond);
	pthread_mutex_unlock(&maps_lock);
}

/* Every published mapping is on the maps list (O(1) unlink) and in a
 * hash by (connection, lease id): one REVOKE may name thousands of
 * leases of a process holding thousands more. */
static struct holdfs_mapping **htab;
static size_t hcap, hcount;

static size_t hslot(const struct hfc_conn *c, uint64_t id, size_t cap)
{
	uint64_t h = ((uint64_t)(uintptr_t)c >> 4) ^ (id * 0x9e3779b97f4a7c15ull);

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static void hash_grow_locked(void)
{
	size_t cap = hcap ? hcap * 2 : 64;
	struct holdfs_mapping **t = calloc(cap, sizeof(*t));

	if (!t)
		return; /* longer chains; still correct */
	for (size_t i = 0; i < hcap; i++)
		while (htab[i]) {
			struct holdfs_mapping *m = htab[i];
			size_t k = hslot(m->conn, m->lease_id, cap);

			htab[i] = m->hnext;
			m->hnext = t[k];
			t[k] = m;
		}
	free(htab);
	htab = t;
	hcap = cap;
}

static void link_locked(struct holdfs_mapping *m)
{
	size_t k;

	m->prev = NULL;
	m->next = maps;
	if (maps)
		maps->prev = m;
	maps = m;
	if (hcount >= hcap)
		hash_grow_locked();
	if (hcap) {
		k = hslot(m->conn, m->lease_id, hcap);
		m->hnext = htab[k];
		htab[k] = m;
	}
	hcount++;
	m->linked = true;
}

static void unlink_locked(struct holdfs_mapping *m)
{
	struct holdfs_mapping **pp;

	if (!m->linked)
		return;
	if (m->prev)
		m->prev->next = m->next;
	else
		maps = m->next;
	if (m->next)
		m->next->prev = m->prev;
	if (hcap)
		for (pp = &htab[hslot(m->conn, m->lease_id, hcap)]; *pp;
		     pp = &(*pp)->hnext)
			if (*pp == m) {
				*pp = m->hnext;
				break;
			}
	hcount--;
	m->linked = false;
}

static struct holdfs_mapping *find_lease_locked(struct hfc_conn *c, uint64_t id)
{
	struct holdfs_mapping *m;

	if (!hcap) /* the table could never be allocated: walk the list */
		for (m = maps; m; m = m->next)
			if (m->conn == c && m->lease_id == id)
				return m;
	for (m = hcap ? htab[hslot(c, id, hcap)] : NULL; m; m = m->hnext)
		if (m->conn == c && m->lease_id == id)
			return m;
	return NULL;
}

/* Revoke [off, off+len) of lease lease_id of c and tell the handler. */
static void lose_range(struct hfc_conn *c, uint64_t lease_id, uint64_t off,
		       uint64_t len, uint32_t reason)
{
	struct holdfs_revoke_event ev = { 0 };
	struct holdfs_mapping *m;
	bool owned = false;

	pthread_mutex_lock(&maps_lock);
	m = find_lease_locked(c, lease_id);
	if (m)
		revoke_locked(m, off, len, reason, &ev);
	if (m && m->owner && ev.mapping) {	/* told through its hook */
		m->busy--;
		owned = true;
	}
	pthread_mutex_unlock(&maps_lock);
	if (owned)
		return;
	if (!ev.mapping) {
		hfc_log("revocation of unknown lease %llu (already released?)",
			(unsigned long long)lease_id);
		return;
	}
	call_handler(&ev);
	unpin(ev.mapping);
}

size_t hfc_on_revoke(struct hfc_conn *c, const struct hfs_msg_revoke *r,
		     struct holdfs_revoke_event **evs)
{
	const struct hfs_revoke_range *rr = (const void *)(r + 1);
	uint32_t reason = r->reason;
	size_t n = 0;

	if (reason < HOLDFS_REVOKE_LAYOUT || reason > HOLDFS_REVOKE_SHUTDOWN)
		reason = HOLDFS_REVOKE_FAILURE;
	struct va_run *runs = calloc(r->nranges, sizeof(*runs));
	size_t nruns = 0;

	*evs = calloc(r->nranges, sizeof(**evs));
	pthread_mutex_lock(&maps_lock);
	for (uint32_t i = 0; i < r->nranges; i++) {
		struct holdfs_mapping *m = find_lease_locked(c, rr[i].lease_id);
		struct holdfs_revoke_event ev = { 0 };

		if (!m) {
			hfc_log("revocation of unknown lease %llu (released, "
				"or its LEASE_OK is still to come)",
				(unsigned long long)rr[i].lease_id);
			note_early_locked(c, rr[i].lease_id, rr[i].offset,
					  rr[i].length, reason);
			continue;
		}
		if (m->owner) {
			/* one at a time, with the owner's copies kept out;
			 * the owner was told: no event for the handler */
			revoke_locked(m, rr[i].offset, rr[i].length, reason, &ev);
			if (ev.mapping)
				m->busy--;
			continue;
		} else {
			revoke_mark_locked(m, rr[i].offset, rr[i].length,
					   reason, &ev);
			if (ev.mapping && runs)
				runs[nruns++] = (struct va_run){ ev.addr,
								 ev.length };
			else if (ev.mapping)
				hfc_revoke_range(ev.addr, ev.length);
		}
		if (!ev.mapping)
			continue;
		if (*evs)
			(*evs)[n++] = ev;
		else
			m->busy--;  /* no memory for events: revoke silently */
	}
	revoke_runs(runs, nruns);
	pthread_mutex_unlock(&maps_lock);
	free(runs);
	return n;
}

void hfc_deliver_revoked(struct holdfs_revoke_event *evs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		call_handler(&evs[i]);
		unpin(evs[i].mapping);
	}
	free(evs);
}

void hfc_on_conn_lost(struct hfc_conn *c)
{
	struct holdfs_revoke_event *evs = NULL;
	struct holdfs_mapping *m;
	size_t n = 0, i;

	pthread_mutex_lock(&maps_lock);
	for (m = maps; m; m = m->next)
		n += m->conn == c;
	if (n)
		evs = calloc(n, sizeof(*evs));
	i = 0;
	for (m = maps; m; m = m->next) {
		struct holdfs_revoke_event ev = { 0 };

		if (m->conn != c)
			continue;
		revoke_locked(m, m->offset, m->length,
			      HOLDFS_REVOKE_CONNECTION_LOST, &ev);
		if (!ev.mapping)
			continue;
		if (m->owner) {	/* told through its hook */
			m->busy--;
			continue;
		}
		if (evs)
			evs[i++] = ev;
		else
			m->busy--;  /* no memory for events: revoke silently */
	}
	pthread_mutex_unlock(&maps_lock);
	hfc_deliver_revoked(evs, i);
}

void hfc_maps_after_fork(void)
{
	pthread_mutex_init(&maps_lock, NULL);
	pthread_cond_init(&maps_cond, NULL);
	maps = NULL;	/* the structs leak in the child: a few hundred bytes */
	htab = NULL;	/* (and the table) */
	hcap = hcount = 0;
}

/* ---- mapping extents -------------------------------------------------- */

static int check_extent(const struct holdfs_mapping *m, const struct hfc_conn *c,
			const struct hfs_lease_extent *e)
{
	uint64_t pg = page_size();

	if (!e->len || (e->file_off | e->len) & (pg - 1) ||
	    e->file_off < m->offset || e->len > m->length ||
	    e->file_off - m->offset > m->length - e->len)
		return -EPROTO;
	if (e->flags & HFS_LEXT_HOLE)
		return (m->hprot & HFS_PROT_WRITE) ? -EPROTO : 0;
	if (e->region_off & (pg - 1) ||
	    (c->region_size && (e->region_off > c->region_size ||
				e->len > c->region_size - e->region_off)))
		return -EPROTO;
	return 0;
}

/* Map extent e of m: zeros for a hole, else its volume bytes from the
 * descriptor of the device holding them (the region's on one device;
 * hfc_conn_extent_fd), at their offset in that device. */
static int map_extent(struct holdfs_mapping *m, const struct hfs_lease_extent *e)
{
	void *addr = m->base + (e->file_off - m->offset), *p;
	uint64_t moff;
	int fd;

	if (e->flags & HFS_LEXT_HOLE) {
		p = hfc_mmap(addr, e->len, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	} else {
		fd = hfc_conn_extent_fd(m->conn, m->hprot, e->region_off,
					e->len, &moff);
		if (fd < 0)
			return fd;
		p = hfc_mmap(addr, e->len, m->mprot, MAP_SHARED | MAP_FIXED,
			     fd, (off_t)moff);
		close(fd);
	}
	if (p == MAP_FAILED)
		return -errno;
	madvise(addr, e->len, MADV_DONTFORK);
	return 0;
}

/* Reserve length bytes aligned to align (a power of two). */
static uint8_t *reserve(uint64_t length, uint64_t align)
{
	uint64_t pg = page_size(), extra = align > pg ? align : 0;
	uint8_t *p = hfc_mmap(NULL, length + extra, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + extra) & ~(uintptr_t)(extra ? extra - 1 : 0));
	if (!extra)
		return p;
	if (a > p)
		hfc_munmap(p, a - p);
	if (p + length + extra > a + length)
		hfc_munmap(a + length, p + length + extra - (a + length));
	return a;
}

/* The LEASE_OK hook, run by the listener: validate, reserve, map all
 * extents (they must cover the lease exactly, in order), publish. */
static int lease_hook(struct hfc_conn *c, void *arg, const void *msg,
		      size_t len, int fd)
{
	const struct hfs_msg_lease_ok *ok = msg;
	const struct hfs_lease_extent *e = (const void *)(ok + 1);
	struct holdfs_mapping *m = arg;
	uint64_t pos;
	uint32_t i;
	int r = 0;

	if (ok->h.type != HFS_MSG_LEASE_OK) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	m->lease_id = ok->lease_id;  /* set first: the caller releases it */
	m->ino = ok->ino;
	m->dslot = ok->dslot;
	/* a word outside the table is the daemon's bug: ask every time */
	m->coh_word = c->coh && ok->coh_slot < c->coh_slots ?
		      &c->coh[ok->coh_slot] : NULL;
	hfc_conn_region_fd(c, ok->prot, fd);
	hfc_sigbus_install();  /* before the mapping exists */
	if (ok->nextents > HFS_LEASE_MAX_EXTENTS ||
	    len != sizeof(*ok) + (size_t)ok->nextents * sizeof(*e) ||
	    ok->offset != m->offset || ok->length != m->length ||
	    (ok->prot & m->hprot) != m->hprot)
		return -EPROTO;
	for (i = 0, pos = m->offset; i < ok->nextents; pos += e[i].len, i++) {
		if (e[i].file_off != pos || check_extent(m, c, &e[i]))
			return -EPROTO;
		m->nholes += !!(e[i].flags & HFS_LEXT_HOLE);
	}
	if (pos != m->offset + m->length)
		return -EPROTO;
	m->nextents = ok->nextents;
	if (m->owner && !(m->ext = malloc(ok->nextents * sizeof(*e))))
		return -ENOMEM;
	if (m->ext)
		memcpy(m->ext, e, ok->nextents * sizeof(*e));
	m->base = reserve(m->length, c->alloc_unit);
	if (!m->base)
		r = -ENOMEM;
	for (i = 0; !r && i < ok->nextents; i++)
		r = map_extent(m, &e[i]);
	if (r) {
		if (m->base)
			hfc_munmap(m->base, m->length);
		m->base = NULL;
		return r;
	}
	pthread_mutex_lock(&maps_lock);
	link_locked(m);
	born_revoked_locked(c, m);
	pthread_mutex_unlock(&maps_lock);
	return 0;
}

/* After a remap of [x, y): what was revoked stays revoked. */
static void keep_revoked_locked(struct holdfs_mapping *m, uint64_t x, uint64_t y)
{
	for (size_t k = 0; k < m->nrevoked; k++) {
		uint64_t a = m->revoked[k].off, b = a + m->revoked[k].len;

		if (a < y && x < b) {
			uint64_t lo = a > x ? a : x, hi = b < y ? b : y;

			hfc_revoke_range(m->base + (lo - m->offset), hi - lo);
		}
	}
}

/* Map the extents of a REMAP over the lease's zero pages; returns how
 * many failed, their indexes in bad[] (maps lock held). */
static uint32_t remap_locked(struct hfc_conn *c, struct holdfs_mapping *m,
			     const struct hfs_lease_extent *e, uint32_t n,
			     uint32_t *bad)
{
	uint32_t i, nbad = 0;

	for (i = 0; i < n; i++) {
		int r = check_extent(m, c, &e[i]);

		if (!r && !(e[i].flags & HFS_LEXT_HOLE))
			r = map_extent(m, &e[i]);
		if (r) {
			hfc_log("lease %llu: REMAP extent %u failed (%s)",
				(unsigned long long)m->lease_id, i, strerror(-r));
			bad[nbad++] = i;
			continue;
		}
		m->nholes -= m->nholes > 0 && !(e[i].flags & HFS_LEXT_HOLE);
		keep_revoked_locked(m, e[i].file_off, e[i].file_off + e[i].len);
	}
	return nbad;
}

/*
 * REMAP: holes of a read lease got blocks.  An extent that cannot be
 * mapped (or a message that cannot be parsed) makes the range lost
 * (SIGBUS, reason FAILURE) rather than leave possibly stale zeros.
 */
int hfc_on_remap(struct hfc_conn *c, const struct hfs_msg_remap *rm, size_t len)
{
	const struct hfs_lease_extent *e = (const void *)(rm + 1);
	struct holdfs_mapping *m;
	uint32_t *bad, nbad = 0, i;

	if (rm->nextents > HFS_REMAP_MAX_EXTENTS ||
	    len != sizeof(*rm) + (size_t)rm->nextents * sizeof(*e)) {
		lose_range(c, rm->lease_id, 0, UINT64_MAX, HOLDFS_REVOKE_FAILURE);
		return -EPROTO;
	}
	bad = malloc((rm->nextents + 1) * sizeof(*bad));
	if (!bad) {
		lose_range(c, rm->lease_id, 0, UINT64_MAX, HOLDFS_REVOKE_FAILURE);
		return -ENOMEM;
	}
	pthread_mutex_lock(&maps_lock);
	m = find_lease_locked(c, rm->lease_id);
	/* a data-path owner's copies are kept out while the holes change
	 * to blocks (one mapping after another), and it is told: a direct
	 * read must not return part zeros, part the writer's new bytes */
	if (m && m->owner)
		pthread_rwlock_wrlock(m->owner->io);
	if (m)
		nbad = remap_locked(c, m, e, rm->nextents, bad);
	if (m && m->owner) {
		m->owner->remapped(m->owner->arg, m);
		pthread_rwlock_unlock(m->owner->io);
	}
	pthread_mutex_unlock(&maps_lock);
	if (!m)
		hfc_log("REMAP of unknown lease %llu", (unsigned long long)rm->lease_id);
	for (i = 0; i < nbad; i++)
		lose_range(c, rm->lease_id, e[bad[i]].file_off, e[bad[i]].len,
			   HOLDFS_REVOKE_FAILURE);
	free(bad);
	return nbad ? -EIO : 0;
}

/* ---- the API ---------------------------------------------------------- */

struct lease_try {
	int fd;
	struct holdfs_mapping *proto;  /* fields to copy into each attempt */
	size_t length;
	uint32_t lflags;               /* HFS_LEASE_* */
	struct holdfs_mapping *m;      /* out */
};

static int release(struct hfc_conn *c, uint64_t lease_id)
{
	struct hfs_msg_lease_ref ref = { .lease_id = lease_id };
	struct hfc_pending p = { 0 };
	int r;

	ref.h.type = HFS_MSG_RELEASE;
	r = hfc_request(c, &ref, sizeof(ref), -1, &p);
	free(p.msg);
	if (p.fd >= 0)
		close(p.fd);
	return r;
}

static int try_lease(struct hfc_conn *c, void *arg)
{
	struct lease_try *t = arg;
	struct hfs_msg_lease_req req = { 0 };
	struct hfc_pending p = { 0 };
	struct holdfs_mapping *m;
	uint64_t au = c->alloc_unit;
	int r;

	if (t->proto->offset % au)
		return -EINVAL;
	if (t->length > UINT64_MAX - au)
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = *t->proto;
	m->conn = c;
	m->length = (t->length + au - 1) / au * au;
	req.h.type = HFS_MSG_LEASE_REQ;
	req.offset = m->offset;
	req.length = m->length;
	req.prot = m->hprot;
	req.flags = t->lflags;
	p.hook = lease_hook;
	p.hook_arg = m;
	lease_req_begin(c);
	r = hfc_request(c, &req, sizeof(req), t->fd, &p);
	lease_req_end(c);
	if (r) {
		hfc_log("lease of [%llu, +%llu) prot %u flags %#x failed: %s",
			(unsigned long long)m->offset,
			(unsigned long long)m->length, m->hprot, t->lflags,
			strerror(-r));
		if (m->lease_id)
			release(c, m->lease_id);
		free(m->ext);
		free(m);
		return r;
	}
	m->file_fd = (m->hprot & HFS_PROT_WRITE) && !m->owner ?
		     hfc_fd_dup(t->fd) : -1;
	t->m = m;
	return 0;
}

int holdfs_map(int fd, uint64_t offset, size_t length, int prot,
	       unsigned flags, struct holdfs_mapping **out)
{
	struct holdfs_mapping proto = { 0 };
	struct lease_try t = { .fd = fd, .proto = &proto, .length = length };
	struct hfc_conn *c;
	struct stat st;
	char link[64];
	ssize_t n;
	int r;

	if (!out || fd < 0 || !length || (flags & ~HOLDFS_MAP_NOWAIT_CONNECT) ||
	    !(prot & (PROT_READ | PROT_WRITE)) ||
	    (prot & ~(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	proto.offset = offset;
	proto.dev = st.st_dev;
	proto.hprot = (prot & PROT_WRITE) ? HFS_PROT_READ | HFS_PROT_WRITE : HFS_PROT_READ;
	proto.mprot = (prot & PROT_WRITE) ? PROT_READ | PROT_WRITE : PROT_READ;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, proto.path, sizeof(proto.path) - 1);
	proto.path[n > 0 ? n : 0] = '\0';
	r = hfc_conn_get(fd, st.st_dev, &c, !(flags & HOLDFS_MAP_NOWAIT_CONNECT),
			 try_lease, &t);
	if (r)
		return r;
	hfc_log("mapped %s [%llu, +%llu) prot %d at %p: lease %llu, %u extents (%u holes)",
		t.m->path, (unsigned long long)t.m->offset,
		(unsigned long long)t.m->length, prot, (void *)t.m->base,
		(unsigned long long)t.m->lease_id, t.m->nextents, t.m->nholes);
	*out = t.m;
	return 0;
}

void *holdfs_addr(const struct holdfs_mapping *m)
{
	return m ? m->base : NULL;
}

size_t holdfs_length(const struct holdfs_mapping *m)
{
	return m ? (size_t)m->length : 0;
}

/* Out of the list (no revocation finds it any more), no listener
 * callback running on it, and its pages gone. */
static void take_down(struct holdfs_mapping *m)
{
	pthread_mutex_lock(&maps_lock);
	unlink_locked(m);
	while (m->busy)
		pthread_cond_wait(&maps_cond, &maps_lock);
	pthread_mutex_unlock(&maps_lock);
	hfc_munmap(m->base, m->length);
}

static void free_mapping(struct holdfs_mapping *m)
{
	if (m->file_fd >= 0)
		close(m->file_fd);
	free(m->revoked);
	free(m->ext);
	free(m);
}

int holdfs_unmap(struct holdfs_mapping *m)
{
	int r = 0;

	if (!m)
		return -EINVAL;
	/* unmap first: once the daemon hears RELEASE it may reuse blocks */
	take_down(m);
	r = release(m->conn, m->lease_id);	/* -ENOTCONN if it died */
	hfc_log("released lease %llu (%s)", (unsigned long long)m->lease_id,
		r ? strerror(-r) : "ok");
	free_mapping(m);
	return r;
}

/* ---- data-path mappings (dp_file.c) ------------------------------------ */

int hfc_lease(const struct hfc_lease_req *rq, struct holdfs_mapping **out)
{
	struct holdfs_mapping proto = { 0 };
	struct lease_try t = { .fd = rq->fd, .proto = &proto,
			       .length = rq->len, .lflags = rq->lflags };
	struct hfc_conn *c;
	int r;

	proto.offset = rq->off;
	proto.dev = rq->dev;
	proto.hprot = rq->hprot;
	proto.mprot = (rq->hprot & HFS_PROT_WRITE) ? PROT_READ | PROT_WRITE
						   : PROT_READ;
	proto.owner = rq->owner;
	proto.dslot = HFS_DSLOT_NONE;
	r = hfc_conn_get(rq->fd, rq->dev, &c, true, try_lease, &t);
	if (r)
		return r;
	hfc_log("data path: lease %llu [%llu, +%llu) prot %u flags %#x at %p, "
		"slot %u", (unsigned long long)t.m->lease_id,
		(unsigned long long)t.m->offset,
		(unsigned long long)t.m->length, rq->hprot, rq->lflags,
		(void *)t.m->base, t.m->dslot);
	*out = t.m;
	return 0;
}

struct hfc_conn *hfc_map_conn(const struct holdfs_mapping *m)
{
	return m->conn;
}

uint64_t hfc_map_lease_id(const struct holdfs_mapping *m)
{
	return m->lease_id;
}

uint64_t hfc_map_ino(const struct holdfs_mapping *m)
{
	return m->ino;
}

uint32_t hfc_map_dslot(const struct holdfs_mapping *m)
{
	return m->dslot;
}

uint32_t hfc_map_revoked(const struct holdfs_mapping *m)
{
	return __atomic_load_n(&m->last_reason, __ATOMIC_ACQUIRE);
}

const _Atomic uint32_t *hfc_map_coh(const struct holdfs_mapping *m)
{
	return m->coh_word;
}

int hfc_map_region_off(const struct holdfs_mapping *m, uint64_t file_off,
		       uint64_t *roff)
{
	for (uint32_t i = 0; m->ext && i < m->nextents; i++) {
		const struct hfs_lease_extent *e = &m->ext[i];

		if (file_off - e->file_off < e->len) {
			if (e->flags & HFS_LEXT_HOLE)
				return -ENOENT;
			*roff = e->region_off + (file_off - e->file_off);
			return 0;
		}
	}
	return -ENOENT;
}

/* Unmap first, then tell the daemon without waiting for RELEASE_OK (the
 * listener drops the reply): a file's close must not wait a round trip.
 * The pages are gone before the daemon can reuse the blocks. */
void hfc_unmap_async(struct holdfs_mapping *m)
{
	struct hfs_msg_lease_ref ref = { .lease_id = m->lease_id };

	take_down(m);
	if (!m->conn->dead)
		(void)hfc_send(m->conn, &ref, sizeof(ref), HFS_MSG_RELEASE,
			       hfc_next_id(m->conn), -1);
	free_mapping(m);
}

/* The forked child's copy of m: its pages were not inherited, its lease
 * is the parent's.  Free the struct only. */
void hfc_map_forget(struct holdfs_mapping *m)
{
	free(m->revoked);
	free(m->ext);
	free(m);
}

int hfc_persisted(struct hfc_conn *c, uint64_t lease_id, uint64_t off,
		  uint64_t len)
{
	struct hfs_msg_range pr = { 0 };
	struct hfc_pending p = { 0 };
	uint32_t rms = c->revoke_ms;
	int r, ms;

	pr.h.type = HFS_MSG_PERSISTED;
	pr.lease_id = lease_id;
	pr.offset = off;
	pr.length = len;
	ms = rms <= HFC_PERSIST_MIN_MS / 4 ? HFC_PERSIST_MIN_MS :
	     rms > HFC_WAIT_MAX_MS / 4 ? HFC_WAIT_MAX_MS : (int)rms * 4;
	r = hfc_request_ms(c, &pr, sizeof(pr), -1, &p, ms);
	if (!r && (!p.msg || p.len != sizeof(struct hfs_msg_lease_ref) ||
		   ((struct hfs_msg_hdr *)p.msg)->type != HFS_MSG_PERSISTED_OK))
		r = -EPROTO;
	free(p.msg);
	if (p.fd >= 0)
		close(p.fd);
	return r;
}

void hfc_poison(struct hfc_conn *c, uint64_t lease_id, uint64_t roff)
{
	struct hfs_msg_range pr = { .lease_id = lease_id, .offset = roff };

	if (!c->dead)
		(void)hfc_send(c, &pr, sizeof(pr), HFS_MSG_POISON,
			       hfc_next_id(c), -1);
}

int holdfs_persist(struct holdfs_mapping *m, const void *addr, size_t len)
{
	struct hfs_msg_range pr = { 0 };
	struct hfc_pending p = { 0 };
	const uint8_t *a = addr;
	uint32_t rms;
	int r, ms;

	if (!m || !(m->hprot & HFS_PROT_WRITE) || a < m->base ||
	    len > m->length || (uint64_t)(a - m->base) > m->length - len)
		return -EINVAL;
	if (!len)
		return 0;
	hfc_persist_range(m->conn, addr, len);
	/* The stores are durable.  If the kernel caches no page of the file
	 * (the daemon's word says CLEAN), nothing can be stale: done.  The
	 * fence orders the stores above before the load of the word; the
	 * daemon stores the word before it reads the file for the kernel
	 * (docs/lease-protocol.md, "Coherence"). */
	atomic_thread_fence(memory_order_seq_cst);
	if (m->coh_word && !atomic_load(&m->conn->dead) &&
	    atomic_load(m->coh_word) == HFS_COH_CLEAN)
		return 0;
	/* PERSISTED, then wait for PERSISTED_OK: the daemon sends it after
	 * the kernel invalidated its cached pages of the range (including
	 * pages a readahead was filling, and pages other processes have
	 * mapped), so a read(2) that starts after we return reads the
	 * region.  Deadline: 4 x the daemon's revoke_ms, at least 1 s, at
	 * most an hour (client_i.h). */
	pr.h.type = HFS_MSG_PERSISTED;
	pr.lease_id = m->lease_id;
	pr.offset = m->offset + (uint64_t)(a - m->base);
	pr.length = len;
	rms = m->conn->revoke_ms;
	ms = rms <= HFC_PERSIST_MIN_MS / 4 ? HFC_PERSIST_MIN_MS :
	     rms > HFC_WAIT_MAX_MS / 4 ? HFC_WAIT_MAX_MS : (int)rms * 4;
	r = hfc_request_ms(m->conn, &pr, sizeof(pr), -1, &p, ms);
	if (!r && (!p.msg || p.len != sizeof(struct hfs_msg_lease_ref) ||
		   ((struct hfs_msg_hdr *)p.msg)->type != HFS_MSG_PERSISTED_OK))
		r = -EPROTO;
	free(p.msg);
	if (p.fd >= 0)
		close(p.fd);
	if (r && m->file_fd >= 0)
		/* Not confirmed (the data is durable anyway): at least drop
		 * this process's view of clean, unmapped cached pages. */
		posix_fadvise(m->file_fd, (off_t)pr.offset, (off_t)len,
			      POSIX_FADV_DONTNEED);
	return r;
}

int holdfs_lease_info(const struct holdfs_mapping *m,
		      struct holdfs_lease_info *info)
{
	if (!m || !info)
		return -EINVAL;
	pthread_mutex_lock(&maps_lock);
	*info = (struct holdfs_lease_info){
		.lease_id = m->lease_id, .ino = m->ino, .dev = m->dev,
		.offset = m->offset, .length = m->length, .addr = m->base,
		.prot = m->mprot, .nextents = m->nextents, .nholes = m->nholes,
		.revoked_bytes = m->revoked_bytes, .path = m->path };
	pthread_mutex_unlock(&maps_lock);
	return 0;
}

int holdfs_fault_info(const void *addr, struct holdfs_fault *out)
{
	const uint8_t *a = addr;
	struct holdfs_mapping *m;
	size_t k;

	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&maps_lock);
	for (m = maps; m; m = m->next)
		if (a >= m->base && (uint64_t)(a - m->base) < m->length)
			break;
	if (m) {
		*out = (struct holdfs_fault){
			.mapping = m, .lease_id = m->lease_id, .ino = m->ino,
			.dev = m->dev, .path = m->path,
			.file_offset = m->offset + (uint64_t)(a - m->base) };
		for (k = 0; k < m->nrevoked; k++)
			if (out->file_offset - m->revoked[k].off < m->revoked[k].len) {
				out->revoked = 1;
				out->reason = m->revoked[k].reason;
			}
	}
	pthread_mutex_unlock(&maps_lock);
	return m ? 0 : -ENOENT;
}

static int au_try(struct hfc_conn *c, void *arg)
{
	*(long *)arg = (long)c->alloc_unit;
	return 1;  /* success, but no proof the daemon serves this mount */
}

int hfc_conn_of(int fd, dev_t dev, struct hfc_conn **out)
{
	long au = 0;

	return hfc_conn_get(fd, dev, out, true, au_try, &au);
}

long holdfs_alloc_unit(int fd)
{
	struct hfc_conn *c;
	struct stat st;
	long au = 0;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	r = hfc_conn_get(fd, st.st_dev, &c, true, au_try, &au);
	return r ? r : au;
}
