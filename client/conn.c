/* SPDX-License-Identifier: MIT */
/*
 * Daemon connections: one SOCK_SEQPACKET connection per daemon, shared by
 * every thread of the process, with one listener thread each.
 *
 * Callers send requests (hfc_request) and sleep until the listener
 * (listener.c) hands them the reply with the same id.  This file also
 * keeps the region fds and the persist function, connects (HELLO), and
 * finds the connection serving a file descriptor (hfc_conn_get).
 *
 * Connections are never freed: a dead one keeps its (small) struct, which
 * mappings may still point at, but gives back its socket and region fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libpmem2.h>

#include "client_i.h"

#define MAX_CANDIDATES 16

pthread_mutex_t hfc_conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hfc_conn *conns;

static int timeout_ms(void)
{
	const char *e = getenv("HOLDFS_TIMEOUT_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 && v < HFC_WAIT_MAX_MS ? (int)v : HFC_TIMEOUT_MS_DEFAULT;
}


int hfc_send(struct hfc_conn *c, void *msg, size_t len, uint16_t type,
	     uint64_t id, int send_fd)
{
	int r;

	hfc_fill_hdr(msg, len, type, id);
	pthread_mutex_lock(&c->send_lock);
	r = c->dead ? -ENOTCONN : hfc_send_raw(c->sock, msg, len, send_fd);
	pthread_mutex_unlock(&c->send_lock);
	return r;
}

/* ---- region fds and the persist function ---------------------------- */

/*
 * Ask libpmem2 how to persist stores to the region: map a small piece of
 * the read-write region fd and look at the map's store granularity.
 *
 * Cache line or byte: take the map's persist function (flush + drain, or
 * a drain alone), which works on any address of the region, so the piece
 * stays mapped only to keep it alive.
 *
 * Page (a region file in the page cache, /dev/shm or a disk): *fn stays
 * NULL and hfc_persist_range msyncs the range itself.  libpmem2's page
 * persist cannot be used here: it msyncs only the parts of the range that
 * lie in mappings libpmem2 made (PMDK 1.12 looks the address up among
 * its own maps) and silently does nothing elsewhere -- and every address
 * we persist (data-path windows, lease mappings, slots) is a mapping of
 * ours.  Its memcpy is kept: the non-temporal stores are what makes big
 * copies fast, whatever makes them durable.
 */
static struct pmem2_map *learn_persist(int fd, pmem2_persist_fn *fn,
					pmem2_memcpy_fn *copy)
{
	struct pmem2_source *src = NULL;
	struct pmem2_config *cfg = NULL;
	struct pmem2_map *map = NULL;
	enum pmem2_granularity g;
	size_t align = 0;

	if (pmem2_source_from_fd(&src, fd) || pmem2_source_alignment(src, &align) ||
	    pmem2_config_new(&cfg) ||
	    pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) ||
	    pmem2_config_set_length(cfg, align) ||
	    pmem2_map_new(&map, cfg, src)) {
		hfc_log("libpmem2 cannot map the region (%s): persisting with msync",
			pmem2_errormsg());
		map = NULL;
	} else {
		g = pmem2_map_get_store_granularity(map);
		*fn = g == PMEM2_GRANULARITY_PAGE ? NULL :
		      pmem2_get_persist_fn(map);
		*copy = pmem2_get_memcpy_fn(map);
		hfc_log("region store granularity %d (0 byte, 1 cache line, 2 page): "
			"persisting with %s", (int)g, *fn ? "libpmem2" : "msync");
	}
	if (cfg)
		pmem2_config_delete(&cfg);
	if (src)
		pmem2_source_delete(&src);
	return map;
}

/* Keep a region fd the daemon sent with a lease of protection prot. */
void hfc_conn_region_fd(struct hfc_conn *c, uint32_t prot, int fd)
{
	int i = (prot & HFS_PROT_WRITE) ? 1 : 0;

	if (fd < 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->region_fd[i] >= 0 || c->dead) {
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return;
	}
	c->region_fd[i] = fd;
	pthread_mutex_unlock(&c->lock);
	hfc_sigbus_add_conn(c, fd, 0);  /* poison on its mappings: reported */
}

int hfc_conn_member(struct hfc_conn *c, const struct hfs_msg_member *m,
		    size_t len, int fd)
{
	uint32_t prot = m->prot;
	struct hfc_member *d;
	int i = (prot & HFS_PROT_WRITE) ? 1 : 0, *slot;

	/* a span we would map extents from: it must be sane */
	if (len != sizeof(*m) || fd < 0 || m->index >= c->nmembers ||
	    (prot != HFS_PROT_READ && prot != (HFS_PROT_READ | HFS_PROT_WRITE)) ||
	    !m->size || m->base > c->region_size ||
	    m->size > c->region_size - m->base || (m->index == 0) != !m->base) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	pthread_mutex_lock(&c->lock);
	d = &c->mem[m->index];
	if (d->size && (d->base != m->base || d->size != m->size)) {
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return -EPROTO; /* a device does not move */
	}
	d->base = m->base;
	d->size = m->size;
	slot = m->index == 0 ? &c->region_fd[i] : &d->fd[i];
	if (*slot >= 0 || c->dead) {
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return 0;
	}
	*slot = fd;
	pthread_mutex_unlock(&c->lock);
	/* poison on its mappings: reported at its volume offsets */
	hfc_sigbus_add_conn(c, fd, m->base);
	return 0;
}

int hfc_conn_extent_fd(struct hfc_conn *c, uint32_t prot, uint64_t off,
		       uint64_t len, uint64_t *moff)
{
	int fd = -EPROTO, *fds = c->region_fd;

	pthread_mutex_lock(&c->lock);
	*moff = off;
	if (c->nmembers) {
		fds = NULL;
		for (uint32_t i = 0; i < c->nmembers; i++) {
			const struct hfc_member *d = &c->mem[i];

			if (d->size && off >= d->base && off - d->base < d->size &&
			    len <= d->size - (off - d->base)) {
				fds = i == 0 ? c->region_fd : c->mem[i].fd;
				*moff = off - d->base;
				break;
			}
		}
	}
	if (fds) {
		fd = fds[1];
		if (!(prot & HFS_PROT_WRITE) && fds[0] >= 0)
			fd = fds[0];
		fd = fd < 0 ? -EPROTO : hfc_fd_dup(fd);
		if (fd == -1)
			fd = -errno;
	}
	if (c->dead) {
		if (fd >= 0)
			close(fd);
		fd = -ENOTCONN;
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

void hfc_conn_close_fds_locked(struct hfc_conn *c)
{
	for (int i = 0; i < 2; i++) {
		if (c->region_fd[i] >= 0)
			close(c->region_fd[i]);
		c->region_fd[i] = -1;
		for (unsigned m = 0; m < HFS_MEMBERS_MAX; m++) {
			if (c->mem[m].fd[i] >= 0)
				close(c->mem[m].fd[i]);
			c->mem[m].fd[i] = -1;
		}
	}
}

/* A private dup of the region fd that can back a mapping of prot, or a
 * negative errno.  (A dup, so a dying connection closing its fds cannot
 * pull the number from under a concurrent mmap.) */
int hfc_conn_region_dup(struct hfc_conn *c, uint32_t prot)
{
	int fd;

	pthread_mutex_lock(&c->lock);
	fd = c->region_fd[1];
	if (!(prot & HFS_PROT_WRITE) && c->region_fd[0] >= 0)
		fd = c->region_fd[0];
	fd = c->dead ? -ENOTCONN : fd < 0 ? -EPROTO :
	     hfc_fd_dup(fd);
	if (fd == -1)
		fd = -errno;
	pthread_mutex_unlock(&c->lock);
	return fd;
}

void *(*hfc_pmem_copy_fn(struct hfc_conn *c))(void *, const void *, size_t,
					     unsigned)
{
	return atomic_load_explicit(&c->persist_known, memory_order_acquire) ?
	       c->pmem_copy : NULL;
}

/*
 * The persist function is learnt on first use, by the application thread
 * and with no lock held: libpmem2's own mmap may pass through the preload
 * shim, which must never run from the listener (it could wait for a reply
 * only the listener can read) or under our locks.
 */
void hfc_persist_learn(struct hfc_conn *c)
{
	pmem2_persist_fn fn = NULL;
	pmem2_memcpy_fn copy = NULL;
	struct pmem2_map *map = NULL;
	bool learn;
	int fd;

	if (atomic_load_explicit(&c->persist_known, memory_order_acquire))
		return;
	pthread_mutex_lock(&c->lock);
	learn = c->persist_state == HFC_PERSIST_UNKNOWN;
	if (learn)
		c->persist_state = HFC_PERSIST_LEARNING;
	fd = learn && c->region_fd[1] >= 0 ?
	     hfc_fd_dup(c->region_fd[1]) : -1;
	pthread_mutex_unlock(&c->lock);
	if (learn) {
		map = fd >= 0 ? learn_persist(fd, &fn, &copy) : NULL;
		if (fd >= 0)
			close(fd);
		pthread_mutex_lock(&c->lock);
		c->persist = fn;
		c->pmem_copy = copy;
		c->persist_state = HFC_PERSIST_KNOWN;
		atomic_store_explicit(&c->persist_known, true,
				      memory_order_release);
		if (!c->dead) {
			c->pmap = map;
			map = NULL;
		}
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		if (map)	/* died meanwhile; unmap outside the lock */
			pmem2_map_delete(&map);
	}
	pthread_mutex_lock(&c->lock);
	while (c->persist_state == HFC_PERSIST_LEARNING)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void hfc_persist_range(struct hfc_conn *c, const void *addr, size_t len)
{
	pmem2_persist_fn fn;
	uintptr_t pg, a;

	/* the hot path of every direct write: no lock once learnt */
	hfc_persist_learn(c);
	fn = c->persist;
	if (fn) {
		fn(addr, len);
		return;
	}
	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	a = (uintptr_t)addr & ~(pg - 1);
	hfc_msync((void *)a, (uintptr_t)addr + len - a, MS_SYNC);
}

/* ---- requests -------------------------------------------------------- */

int hfc_request(struct hfc_conn *c, void *msg, size_t len, int send_fd,
		struct hfc_pending *p)
{
	return hfc_request_ms(c, msg, len, send_fd, p, timeout_ms());
}

int hfc_request_ms(struct hfc_conn *c, void *msg, size_t len, int send_fd,
		   struct hfc_pending *p, int ms)
{
	uint16_t type = ((struct hfs_msg_hdr *)msg)->type;
	struct timespec dl;
	int r = 0;

	p->done = false;
	p->err = 0;
	p->msg = NULL;
	p->fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		return -ENOTCONN;
	}
	p->id = ++c->next_id;
	p->next = c->pending;
	c->pending = p;
	pthread_mutex_unlock(&c->lock);

	r = hfc_send(c, msg, len, type, p->id, send_fd);

	pthread_mutex_lock(&c->lock);
	while (!r && !p->done)
		r = pthread_cond_timedwait(&c->cond, &c->lock, &dl);
	if (!p->done) {
		struct hfc_pending **pp;
		bool found = false;

		for (pp = &c->pending; *pp; pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				found = true;
				break;
			}
		if (!found && r == ETIMEDOUT) {
			/* The listener already took the reply and is running
			 * its hook: that is bounded, wait for it. */
			while (!p->done)
				pthread_cond_wait(&c->cond, &c->lock);
			pthread_mutex_unlock(&c->lock);
			return p->err;
		}
		pthread_mutex_unlock(&c->lock);
		hfc_log("request type %u id %llu: %s", type,
			(unsigned long long)p->id, r == ETIMEDOUT ?
			"no reply before the deadline" : "send failed");
		return r == ETIMEDOUT ? -ETIMEDOUT : r > 0 ? -r : r;
	}
	pthread_mutex_unlock(&c->lock);
	return p->err;
}

uint64_t hfc_next_id(struct hfc_conn *c)
{
	uint64_t id;

	pthread_mutex_lock(&c->lock);
	id = ++c->next_id;
	pthread_mutex_unlock(&c->lock);
	return id;
}

/* ---- connecting ------------------------------------------------------ */

/* The daemon's coherence table (proto.h): map it read-only.  Without it
 * every holdfs_persist asks the daemon (correct, slower).  Takes fd. */
static void map_coherence(struct hfc_conn *c, int fd, uint32_t slots)
{
	struct stat st;
	void *p;

	c->coh = NULL;
	c->coh_slots = 0;
	if (fd < 0 || !slots)
		goto out;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < (uint64_t)slots * 4) {
		hfc_log("coherence table too small; persist always asks");
		goto out;
	}
	p = hfc_mmap(NULL, (size_t)slots * 4, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		hfc_log("coherence table: mmap: %s", strerror(errno));
		goto out;
	}
	c->coh = p;
	c->coh_slots = slots;
	c->coh_len = (size_t)slots * 4;
out:
	if (fd >= 0)
		close(fd);
}

static int hello(struct hfc_conn *c)
{
	struct hfs_msg_hello m = { .pid = (uint32_t)getpid(),
				   .flags = HFS_HELLO_NOTICE |
					    HFS_HELLO_MEMBERS };
	struct hfs_msg_hello_ok ok;
	struct timeval tv = { .tv_sec = timeout_ms() / 1000,
			      .tv_usec = (timeout_ms() % 1000) * 1000 };
	struct timeval zero = { 0 };
	ssize_t n;
	int fd, r;

	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	hfc_fill_hdr(&m.h, sizeof(m), HFS_MSG_HELLO, 0);
	r = hfc_send_raw(c->sock, &m, sizeof(m), -1);
	if (r)
		return r;
	n = hfc_recv_msg(c->sock, &ok, sizeof(ok), &fd);
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
	if (n < 0) {
		if (fd >= 0)
			close(fd);
		return n == -EAGAIN ? -ETIMEDOUT : (int)n;
	}
	if (fd == HFC_FD_LOST)
		return -EMFILE; /* the coherence table's: try again later */
	if (hfc_check_hdr(&ok.h, (size_t)n) || ok.h.type != HFS_MSG_HELLO_OK ||
	    !ok.alloc_unit || (ok.alloc_unit & (ok.alloc_unit - 1)) ||
	    ok.nmembers == 1 || ok.nmembers > HFS_MEMBERS_MAX ||
	    ok.alloc_unit % (uint32_t)sysconf(_SC_PAGESIZE)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	c->region_size = ok.region_size;
	c->nmembers = ok.nmembers;
	c->alloc_unit = ok.alloc_unit;
	c->revoke_ms = ok.revoke_ms;
	c->client_id = ok.client_id;
	/* a slot area outside the region, misaligned or from a daemon
	 * without a client id: no data path on this connection */
	if (ok.client_id && ok.client_id != HFS_DSLOT_DAEMON &&
	    ok.dslot_count && !(ok.dslot_off % HFS_BLOCK_SIZE) &&
	    ok.dslot_off < ok.region_size &&
	    (uint64_t)ok.dslot_count * HFS_DSLOT_SIZE <=
	    ok.region_size - ok.dslot_off) {
		c->dslot_off = ok.dslot_off;
		c->dslot_count = ok.dslot_count;
	}
	memcpy(c->uuid, ok.uuid, sizeof(c->uuid));
	map_coherence(c, fd, ok.coh_slots);
	return 0;
}


/*
 * fork(): the child has no listener thread and no leased pages (they are
 * MADV_DONTFORK), and must never speak on the parent's connections (a
 * RELEASE from the child would release the parent's lease).  So in the
 * child every connection is dead and every mapping forgotten; the child
 * connects anew if it maps again.
 */
static void child_after_fork(void)
{
	struct hfc_conn *c;

	pthread_mutex_init(&hfc_conns_lock, NULL);
	for (c = conns; c; c = c->next) {
		pthread_mutex_init(&c->lock, NULL);
		pthread_mutex_init(&c->send_lock, NULL);
		pthread_mutex_init(&c->slots_lock, NULL);
		c->slots = c->slots_map = NULL; /* MADV_DONTFORK'd */
		c->pending = NULL;
		free(c->lbuf);  /* its listener thread was not inherited */
		c->lbuf = NULL;
		c->lease_reqs = 0; /* nor its requests */
		c->nearly = 0;
		c->early_lost = false;
		if (c->dead)
			continue;
		c->dead = true;
		close(c->sock);
		c->sock = -1;
		hfc_conn_close_fds_locked(c);
		c->pmap = NULL;  /* its pages were not inherited either */
	}
	hfc_maps_after_fork();
	hfc_sigbus_after_fork();
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

static int conn_open(const char *path, struct hfc_conn **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hfc_conn *c;
	int r;

	pthread_once(&once, register_atfork);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	strcpy(c->path, path);
	c->region_fd[0] = c->region_fd[1] = -1;
	for (unsigned m = 0; m < HFS_MEMBERS_MAX; m++)
		c->mem[m].fd[0] = c->mem[m].fd[1] = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->slots_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->sock = hfc_fd_high(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	if (c->sock < 0) {
		r = -errno;
		goto fail;
	}
	if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = hello(c);
	if (!r)
		r = hfc_listener_start(c);
	/* before anything is mapped: what revocations map over it */
	if (!r && hfc_revoke_prepare() < 0)
		hfc_log("no memfd for revocations (%s): a revoked range will "
			"be PROT_NONE until one can be made", strerror(errno));
	if (r)
		goto fail;
	hfc_log("connected to %s (alloc unit %u, region %llu bytes, revoke %u ms)",
		path, c->alloc_unit, (unsigned long long)c->region_size, c->revoke_ms);
	*out = c;
	return 0;
fail:
	hfc_log("cannot use %s: %s", path, strerror(-r));
	if (c->sock >= 0)
		close(c->sock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return r;
}

/* A live connection for path, connecting if allowed (conns lock held). */
static int conn_for_path_locked(const char *path, bool connect_ok,
				struct hfc_conn **out)
{
	struct hfc_conn *c;
	int r;

	for (c = conns; c; c = c->next)
		if (!c->dead && !c->retired && !strcmp(c->path, path)) {
			*out = c;
			return 0;
		}
	if (!connect_ok)
		return -ENOTCONN;
	r = conn_open(path, &c);
	if (r)
		return r;
	c->next = conns;
	conns = c;
	*out = c;
	return 0;
}

/* Errors by which a daemon says "that file is not mine". */
static bool foreign(int r)
{
	return r == -EXDEV || r == -EBADF || r == -ENODEV || r == -ESTALE;
}

/*
 * Find the daemon serving fd (on the mount with st_dev dev) and run try_fn
 * on its connection.  A connection that already served this mount is used
 * directly; otherwise each discovered socket is tried until one does not
 * answer "foreign file".  try_fn's result is returned; the connection used
 * in *out.  try_fn returns 0 (success: the daemon accepted the file, so
 * the mount is bound to this connection), 1 (success that proves nothing
 * about ownership), or a negative errno.
 */
int hfc_conn_get(int fd, dev_t dev, struct hfc_conn **out, bool connect_ok,
		 int (*try_fn)(struct hfc_conn *, void *), void *arg)
{
	char (*paths)[108];
	struct hfc_conn *c;
	int i, n, r = -ENOTSUP;

	pthread_mutex_lock(&hfc_conns_lock);
	for (c = conns; c; c = c->next)
		if (!c->dead && !c->retired && c->dev == dev)
			break;
	pthread_mutex_unlock(&hfc_conns_lock);
	if (c) {
		*out = c;
		r = try_fn(c, arg);
		return r > 0 ? 0 : r;
	}
	paths = calloc(MAX_CANDIDATES, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	n = hfc_discover(fd, paths, MAX_CANDIDATES);
	for (i = 0; i < n; i++) {
		int e;

		pthread_mutex_lock(&hfc_conns_lock);
		e = conn_for_path_locked(paths[i], connect_ok, &c);
		pthread_mutex_unlock(&hfc_conns_lock);
		if (e) {
			if (e == -ENOTCONN && r == -ENOTSUP)
				r = e;
			continue;
		}
		r = try_fn(c, arg);
		if (foreign(r))
			continue;
		if (r > 0) {	/* success without proof of ownership */
			r = 0;
			*out = c;
			break;
		}
		if (r == 0) {	/* the daemon took the file: remember */
			pthread_mutex_lock(&hfc_conns_lock);
			c->dev = dev;
			pthread_mutex_unlock(&hfc_conns_lock);
		}
		*out = c;
		break;
	}
	free(paths);
	if (foreign(r))
		r = -ENOTSUP;
	return r;
}
