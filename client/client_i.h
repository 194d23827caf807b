/* SPDX-License-Identifier: MIT */
/*
 * libholdfs internals: daemon connections (conn.c), socket discovery
 * (discover.c), mappings and revocation (mapping.c), raw memory syscalls
 * and logging (sys.c).
 *
 * Locks, in order: hfc_conns_lock (the connection list) -> hfc_maps_lock
 * (every mapping of every connection) -> conn->send_lock.  conn->lock
 * protects a connection's pending requests and state and is never held
 * while taking another lock.  No lock is held while touching mapped memory.
 */
#ifndef HOLDFS_CLIENT_I_H
#define HOLDFS_CLIENT_I_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <holdfs/format.h>
#include <holdfs/holdfs.h>
#include <holdfs/proto.h>

struct pmem2_map;

/* Deadlines of the library's waits for the daemon, in milliseconds.
 *
 * A reply: HOLDFS_TIMEOUT_MS, by default 10 s.  The slowest reply is a
 * LEASE_OK that waits for a REMAP round, bounded by the daemon at
 * revoke_ms + max(4 x revoke_ms, 2 s) + 2 s (docs/lease-protocol.md),
 * 4.25 s with its defaults; a daemon silent for 10 s is not coming back.
 *
 * PERSISTED_OK: 4 x the daemon's revoke_ms, never under 1 s.  The
 * daemon's page-cache invalidation may wait for a WRITE that waits for a
 * REMAP round (one revoke_ms), so the wait scales with revoke_ms; the
 * floor keeps a small revoke_ms from turning an ordinary busy page cache
 * into -ETIMEDOUT.
 *
 * No wait is longer than an hour, whatever the environment or the daemon
 * says. */
#define HFC_TIMEOUT_MS_DEFAULT 10000
#define HFC_PERSIST_MIN_MS 1000
#define HFC_WAIT_MAX_MS 3600000

/* --- sys.c: memory syscalls that bypass any interposed mmap (the preload
 * shim), and the HOLDFS_LOG trace. */
void *hfc_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
/* A close-on-exec dup of fd at a high number (sys.c: out of the
 * program's way), or -1; and fd itself moved there (fd closed). */
int hfc_fd_dup(int fd);
int hfc_fd_high(int fd);
int hfc_munmap(void *addr, size_t len);
int hfc_msync(void *addr, size_t len, int flags);
int hfc_revoke_range(void *addr, size_t len);
/* The descriptor hfc_revoke_range maps: made at the first connection
 * (conn.c) or revocation, tried again while it fails; -1 if none can be
 * had now. */
int hfc_revoke_prepare(void);
void hfc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct hfc_conn;

/* A reply to one request, handed from the listener to the waiter. */
struct hfc_pending {
	uint64_t id;
	bool done;
	int err;             /* negative errno (ERROR reply, lost connection) */
	void *msg;           /* malloc'd reply, NULL on error */
	size_t len;
	int fd;              /* SCM_RIGHTS fd of the reply or -1 */
	/* Optional: run by the listener on the reply, before any later
	 * message of the daemon is read (a LEASE_OK is mapped before a REVOKE
	 * or REMAP of that lease can be processed).  Returns 0 or a negative
	 * errno (stored in err); takes ownership of fd. */
	int (*hook)(struct hfc_conn *c, void *arg, const void *msg,
		    size_t len, int fd);
	void *hook_arg;
	struct hfc_pending *next;
};

/* A connection to one daemon (one mount). */
struct hfc_conn {
	char path[108];      /* socket path */
	int sock;
	dev_t dev;           /* st_dev of the mount, 0 until a lease succeeded */
	atomic_bool dead;    /* set once, under lock and send_lock */
	/* a descriptor the daemon sent was lost (HFC_FD_LOST): the daemon
	 * believes we hold it and never sends it again, so leases that need
	 * it fail here; new files take a new connection (conn.c) */
	atomic_bool retired;
	uint64_t region_size;
	uint32_t alloc_unit;
	uint32_t revoke_ms;
	uint32_t client_id;  /* ours, for slot locks (HELLO_OK) */
	uint64_t dslot_off;  /* the data-path slot area; count 0: none */
	uint32_t dslot_count;
	/* its mapping (dp_file.c), made on first need: read-write once a
	 * read-write region fd is held */
	pthread_mutex_t slots_lock;
	uint8_t *slots;      /* the area's first byte in the mapping */
	uint8_t *slots_map;  /* the mapping (aligned down), slots_len bytes */
	size_t slots_len;
	bool slots_rw;
	/* the slot area faulted (device 0 is gone): zeros were mapped over
	 * it and every call of this connection goes to the kernel
	 * (dp_guard.c, dp_io.c) */
	atomic_bool slots_lost;
	uint8_t uuid[16];
	int region_fd[2];    /* [0] read-only, [1] read-write; -1 if none;
				on a volume of several devices: device 0's */
	/* A volume of several devices (HELLO_OK nmembers >= 2): each
	 * device's volume span, as its MEMBER told, and its descriptors
	 * ([0] read-only, [1] read-write, -1 if none; device 0's are
	 * region_fd).  size 0: not known (never sent: lost).  (lock) */
	uint32_t nmembers;
	struct hfc_member {
		uint64_t base, size;
		int fd[2];
	} mem[HFS_MEMBERS_MAX];
	struct pmem2_map *pmap;   /* small map of the rw region fd: persist fn */
	void (*persist)(const void *, size_t);  /* NULL: msync */
	/* libpmem2's memcpy for the region (non-temporal stores above a
	 * few hundred bytes), NULL: memcpy; known with persist */
	void *(*pmem_copy)(void *, const void *, size_t, unsigned);
	/* The daemon's coherence table (read-only map of its sealed memfd;
	 * proto.h HFS_COH_*), coh_slots words, or NULL */
	const _Atomic uint32_t *coh;
	uint32_t coh_slots;
	size_t coh_len;
	enum { HFC_PERSIST_UNKNOWN, HFC_PERSIST_LEARNING, HFC_PERSIST_KNOWN }
		persist_state;
	atomic_bool persist_known;  /* persist is final: read it unlocked */
	pthread_mutex_t lock;     /* pending, next_id, dead */
	pthread_cond_t cond;
	struct hfc_pending *pending;
	uint64_t next_id;
	pthread_mutex_t send_lock;
	/* REVOKEs that named a lease not mapped here yet (mapping.c, maps
	 * lock): the daemon holds a LEASE_OK back while a REMAP round it
	 * caused runs (fs/revoke_hooks.c), and may revoke the lease before
	 * it sends it.  Kept while a LEASE_REQ is in flight (lease_reqs);
	 * early_lost: one could not be kept, every lease mapped until then
	 * is born revoked whole. */
	struct hfc_early_revoke {
		uint64_t lease_id, off, len;
		uint32_t reason;
	} *early;
	size_t nearly, capearly;
	uint32_t lease_reqs;
	bool early_lost;
	void *lbuf;          /* the listener's receive buffer (a forked
				child frees it: it has no listener) */
	struct hfc_conn *next;
};

extern pthread_mutex_t hfc_conns_lock;

/* --- wire.c: framing (a packet per message, checked header, <= 1 fd) */
void hfc_fill_hdr(struct hfs_msg_hdr *h, size_t len, uint16_t type, uint64_t id);
int hfc_send_raw(int sock, const void *msg, size_t len, int send_fd);
/* *fd: the descriptor, -1 for none, or HFC_FD_LOST: the daemon sent one
 * the kernel could not install (EMFILE): the message itself is whole */
#define HFC_FD_LOST (-2)
ssize_t hfc_recv_msg(int sock, void *buf, size_t size, int *fd);
int hfc_check_hdr(const struct hfs_msg_hdr *h, size_t n);

/* --- listener.c */
int hfc_listener_start(struct hfc_conn *c);

/* --- conn.c */
int hfc_conn_get(int fd, dev_t dev, struct hfc_conn **out, bool connect_ok,
		 int (*try_fn)(struct hfc_conn *, void *), void *arg);
int hfc_request(struct hfc_conn *c, void *msg, size_t len, int send_fd,
		struct hfc_pending *p);
/* The same with a deadline of ms milliseconds (hfc_request: the
 * HOLDFS_TIMEOUT_MS default). */
int hfc_request_ms(struct hfc_conn *c, void *msg, size_t len, int send_fd,
		   struct hfc_pending *p, int ms);
int hfc_send(struct hfc_conn *c, void *msg, size_t len, uint16_t type,
	     uint64_t id, int send_fd);
void hfc_conn_region_fd(struct hfc_conn *c, uint32_t prot, int fd);
/* A MEMBER from the daemon (listener): keep the device's descriptor fd
 * (taken over).  0 or -EPROTO (a malformed one). */
int hfc_conn_member(struct hfc_conn *c, const struct hfs_msg_member *m,
		    size_t len, int fd);
/* A private dup of the descriptor that maps volume bytes [off, off +
 * len) for prot, and in *moff the offset to map them at: the region's
 * on one device, the device's holding them whole on a volume of
 * several.  -EPROTO: no device the client knows holds them. */
int hfc_conn_extent_fd(struct hfc_conn *c, uint32_t prot, uint64_t off,
		       uint64_t len, uint64_t *moff);
/* Close every device descriptor (lock held). */
void hfc_conn_close_fds_locked(struct hfc_conn *c);
int hfc_conn_region_dup(struct hfc_conn *c, uint32_t prot);
void hfc_persist_range(struct hfc_conn *c, const void *addr, size_t len);
/* Learn the persist function now, if not yet (what hfc_persist_range
 * does first): a caller that will persist under its own locks calls it
 * before taking them (see conn.c). */
void hfc_persist_learn(struct hfc_conn *c);
/* libpmem2's memcpy for stores into the region, once hfc_persist_range
 * has learnt it (NULL before, or without libpmem2). */
void *(*hfc_pmem_copy_fn(struct hfc_conn *c))(void *, const void *, size_t,
					     unsigned);

/* --- discover.c: candidate socket paths for fd, in order of preference.
 * Fills up to max paths; returns how many (0: none). */
int hfc_discover(int fd, char (*paths)[108], int max);

/* --- mapping.c: called by the listener of c. */
/* A REVOKE, its length checked: make every range inaccessible (done when
 * it returns) and return the handler events (malloc'd array in *evs, may
 * be NULL) to pass to hfc_deliver_revoked once the REVOKE is acked. */
size_t hfc_on_revoke(struct hfc_conn *c, const struct hfs_msg_revoke *r,
		     struct holdfs_revoke_event **evs);
/* Run the revoke handler for each event, unpin the mappings, free evs. */
void hfc_deliver_revoked(struct holdfs_revoke_event *evs, size_t n);
int hfc_on_remap(struct hfc_conn *c, const struct hfs_msg_remap *r, size_t len);
void hfc_on_conn_lost(struct hfc_conn *c);
void hfc_maps_after_fork(void);
uint64_t hfc_next_id(struct hfc_conn *c);

/* --- mapping.c, for the data path (dp_file.c) */
/* What a data-path mapping's owner gives: its I/O lock, taken for
 * writing around a revocation of the mapping (so no copy in flight
 * touches revoked pages), and a hook told of the revocation, run under
 * that lock and the maps lock (it must take no other lock). */
struct hfc_dp_owner {
	pthread_rwlock_t *io;
	void (*revoked)(void *arg, struct holdfs_mapping *m, uint64_t off,
			uint64_t len, uint32_t reason);
	/* holes of m got blocks (REMAP), mapped with io held for writing */
	void (*remapped)(void *arg, struct holdfs_mapping *m);
	void *arg;
};
struct hfc_lease_req {
	int fd;
	dev_t dev;
	uint64_t off, len;
	uint32_t hprot;      /* HFS_PROT_* */
	uint32_t lflags;     /* HFS_LEASE_* */
	const struct hfc_dp_owner *owner;
};
int hfc_lease(const struct hfc_lease_req *rq, struct holdfs_mapping **out);
/* The connection to the daemon serving fd (connecting if needed). */
int hfc_conn_of(int fd, dev_t dev, struct hfc_conn **out);
struct hfc_conn *hfc_map_conn(const struct holdfs_mapping *m);
uint64_t hfc_map_lease_id(const struct holdfs_mapping *m);
uint32_t hfc_map_dslot(const struct holdfs_mapping *m);
uint64_t hfc_map_ino(const struct holdfs_mapping *m);
/* The reason of m's latest revocation (any part of it), 0 if none.  No
 * lock: an owner reads it under its I/O lock, which the revocation holds
 * while it tells the owner, so a revocation told before the owner knew
 * of m is seen here, and one told after finds m among the owner's. */
uint32_t hfc_map_revoked(const struct holdfs_mapping *m);
const _Atomic uint32_t *hfc_map_coh(const struct holdfs_mapping *m);
/* The region offset of file byte file_off of m (-ENOENT: a hole). */
int hfc_map_region_off(const struct holdfs_mapping *m, uint64_t file_off,
		       uint64_t *roff);
void hfc_unmap_async(struct holdfs_mapping *m);
void hfc_map_forget(struct holdfs_mapping *m);
/* PERSISTED and its answer (the kernel cache of the range dropped). */
int hfc_persisted(struct hfc_conn *c, uint64_t lease_id, uint64_t off,
		  uint64_t len);
/* Tell the daemon of poison at region offset roff (no answer). */
void hfc_poison(struct hfc_conn *c, uint64_t lease_id, uint64_t roff);

/* --- sigbus.c: the process-wide SIGBUS handler (poison seen by the
 * application is reported to its daemon, then the signal is passed on).
 * Install: with every lease (put back only over a reset to default).
 * add_conn: c's region fd arrived (c reachable by the handler); drop:
 * c dies (waits, bounded, for handlers in flight); after_fork: in the
 * child. */
void hfc_sigbus_install(void);
/* The data path's SIGSEGV handler: the copy guard, then the signal passed
 * on as above (a caller's bad buffer in a direct copy) */
void hfc_sigbus_install_segv(void);
/* fn runs first in the handler (the data path's guard: jumps out of an
 * armed copy, returns otherwise) */
void hfc_sigbus_set_catch(void (*fn)(const siginfo_t *si));
/* fn runs after the poison report: true when the fault was in one of
 * libholdfs's own mappings and it made the access good (the data path's
 * slot area: dp_guard.c), so the signal ends there */
void hfc_sigbus_set_own(bool (*fn)(const siginfo_t *si));
/* For the preload shim (exported, HOLDFS_PRIVATE): libc's sigaction for
 * the library's own calls; and a program's sigaction(sig, act, old) for
 * SIGBUS or SIGSEGV taken over while our handler of sig is installed (act
 * becomes the handler we pass signals on to, old the one before): true
 * if taken, false to let libc do it. */
void hfc_sigbus_set_real(int (*fn)(int, const struct sigaction *,
				   struct sigaction *));
bool hfc_sigbus_adopt(int sig, const struct sigaction *act,
		      struct sigaction *old);
void hfc_sigbus_add_conn(struct hfc_conn *c, int region_fd, uint64_t base);
void hfc_sigbus_drop_conn(struct hfc_conn *c);
void hfc_sigbus_after_fork(void);

#endif
