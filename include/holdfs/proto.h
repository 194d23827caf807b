/* SPDX-License-Identifier: MIT */
/*
 * The holdfs lease protocol, version 2 (docs/lease-protocol.md).
 *
 * Transport: a SOCK_SEQPACKET unix socket (message boundaries kept, so
 * every message is read whole and its length checked).  The daemon
 * listens at HFS_CTL_DIR "/<uuid>.sock", where <uuid> is the filesystem
 * UUID (32 lowercase hex digits).  FUSE does not pass f_fsid through
 * statfs(2), so clients find the socket from a file descriptor alone by
 * its device number: HFS_CTL_DIR "/dev/<major>:<minor>" (st_dev of the
 * file, decimal) is a symlink to it (docs/lease-protocol.md).
 *
 * Every message starts with struct hfs_msg_hdr.  Requests carry a
 * client-chosen id echoed in the reply.  File descriptors travel as
 * SCM_RIGHTS: the file being leased (client -> daemon, LEASE_REQ: its
 * open mode is the kernel's word on what the client may do), and the
 * region (daemon -> client, in LEASE_OK when the client does not yet
 * hold a region fd with the needed protection), and the coherence table
 * (daemon -> client, in HELLO_OK).
 *
 * All integers are little-endian; structures are packed by layout (no
 * implicit padding; static asserts below).
 */
#ifndef HOLDFS_PROTO_H
#define HOLDFS_PROTO_H

#include <assert.h>
#include <stdint.h>

#define HFS_PROTO_MAGIC 0x48464450u /* "PDFH" */
#define HFS_PROTO_VERSION 3u /* 2: batched REVOKE, coherence table;
				3: data-path slots (docs/data-path.md) */
#define HFS_CTL_DIR "/run/holdfs"
#define HFS_MSG_MAX 65536u          /* no message is longer */

enum hfs_msg_type {
	HFS_MSG_HELLO = 1,        /* c->d: hfs_msg_hello */
	HFS_MSG_HELLO_OK = 2,     /* d->c: hfs_msg_hello_ok [+ coherence fd] */
	HFS_MSG_LEASE_REQ = 3,    /* c->d: hfs_msg_lease_req + file fd */
	HFS_MSG_LEASE_OK = 4,     /* d->c: hfs_msg_lease_ok + extents [+ region fd] */
	HFS_MSG_ERROR = 5,        /* d->c: hfs_msg_error (reply to any request) */
	HFS_MSG_RELEASE = 6,      /* c->d: hfs_msg_lease_ref */
	HFS_MSG_RELEASE_OK = 7,   /* d->c: hfs_msg_lease_ref */
	HFS_MSG_REVOKE = 8,       /* d->c: hfs_msg_revoke + ranges */
	HFS_MSG_REVOKE_ACK = 9,   /* c->d: hfs_msg_lease_ref (id = revoke id,
				     lease_id zero) */
	HFS_MSG_REMAP = 10,       /* d->c: hfs_msg_remap + extents */
	HFS_MSG_REMAP_ACK = 11,   /* c->d: hfs_msg_lease_ref (id = remap id) */
	HFS_MSG_PERSISTED = 12,   /* c->d: hfs_msg_range (stores made durable) */
	HFS_MSG_POISON = 13,      /* c->d: hfs_msg_range (client hit poison) */
	HFS_MSG_PERSISTED_OK = 14, /* d->c: hfs_msg_lease_ref (id = PERSISTED
				      id): the kernel page cache of the range
				      was invalidated */
	HFS_MSG_OFFLINE_NOTICE = 15, /* d->c: hfs_msg_offline_notice (only
					to clients whose HELLO set
					HFS_HELLO_NOTICE) */
	HFS_MSG_MEMBER = 16,      /* d->c: hfs_msg_member + that device's fd
				     (volumes of several devices only;
				     before the LEASE_OK that needs it) */
	/* Administration (holdfsctl; uid 0 only; no HELLO needed). */
	HFS_MSG_ADMIN_LEASES = 100,  /* c->d: hfs_msg_hdr only */
	HFS_MSG_ADMIN_HOLDERS = 101, /* c->d: hfs_msg_range (region range;
					lease_id zero) */
	HFS_MSG_ADMIN_REPLY = 102,   /* d->c: hfs_msg_admin_reply + JSON */
	HFS_MSG_ADMIN_STATUS = 103,  /* c->d: hfs_msg_hdr only; failure state
					(docs/failure-model.md) */
	HFS_MSG_ADMIN_INJECT = 104,  /* c->d: hfs_msg_inject (drill) */
	HFS_MSG_ADMIN_OFFLINE = 105, /* c->d: hfs_msg_offline (planned
					removal); ADMIN_REPLY report */
	HFS_MSG_ADMIN_DEVICES = 106, /* c->d: hfs_msg_devices; ADMIN_REPLY:
					the volume's devices and, for an
					inode, its blocks on each */
	HFS_MSG_ADMIN_RETIRE = 107,  /* c->d: hfs_msg_retire: a lost device
					retired for good; ADMIN_REPLY */
};

struct hfs_msg_hdr {
	uint32_t magic;   /*  0 HFS_PROTO_MAGIC */
	uint16_t version; /*  4 HFS_PROTO_VERSION */
	uint16_t type;    /*  6 enum hfs_msg_type */
	uint32_t len;     /*  8 whole message in bytes, header included */
	uint32_t pad;     /* 12 zero */
	uint64_t id;      /* 16 request id (echoed) or revoke/remap id */
};                        /* 24 */
static_assert(sizeof(struct hfs_msg_hdr) == 24, "hdr");

struct hfs_msg_hello {
	struct hfs_msg_hdr h;
	uint32_t pid;     /* 24 informational; the daemon uses SO_PEERCRED */
	uint32_t flags;   /* 28 HFS_HELLO_* */
};
static_assert(sizeof(struct hfs_msg_hello) == 32, "hello");

/* HELLO flags */
#define HFS_HELLO_NOTICE 0x1u /* the client handles OFFLINE_NOTICE; a
				 client without it only ever sees the
				 REVOKE of a planned removal */
#define HFS_HELLO_MEMBERS 0x2u /* the client maps each extent from the
				  device it lies on (HFS_MSG_MEMBER); a
				  volume of several devices refuses a
				  HELLO without it (EOPNOTSUPP) */
#define HFS_HELLO_FLAGS (HFS_HELLO_NOTICE | HFS_HELLO_MEMBERS)

struct hfs_msg_hello_ok {
	struct hfs_msg_hdr h;
	uint64_t region_size;    /* 24 */
	uint32_t alloc_unit;     /* 32 bytes; lease offsets are multiples */
	uint32_t revoke_ms;      /* 36 deadline for REVOKE/REMAP acks */
	uint8_t uuid[16];        /* 40 */
	uint32_t coh_slots;      /* 56 words in the coherence table (its fd
				    rides along); 0: no table */
	uint32_t client_id;      /* 60 this connection's id, nonzero: what
				    it stores in a slot's ds_lock */
	uint64_t dslot_off;      /* 64 region offset of the data-path slot
				    area (format.h struct hfs_dslot) */
	uint32_t dslot_count;    /* 72 slots in it; 0: no data path */
	uint32_t nmembers;       /* 76 0: one device (extents name offsets
				    of the region fd); 2..HFS_MEMBERS_MAX:
				    a volume of several devices, each
				    extent mapped from the device whose
				    HFS_MSG_MEMBER span holds it */
};
static_assert(sizeof(struct hfs_msg_hello_ok) == 80, "hello_ok");

/* The coherence table (docs/lease-protocol.md, "Coherence"): a sealed
 * memfd of coh_slots little-endian 32-bit words, mapped read-only by the
 * client.  LEASE_OK names the lease's word.  After its stores are
 * flushed and a full fence, a client that reads HFS_COH_CLEAN knows the
 * kernel caches no page of the file and holdfs_persist is complete; any
 * other value: send PERSISTED and wait for PERSISTED_OK. */
#define HFS_COH_CLEAN 0u
#define HFS_COH_CACHED 1u
#define HFS_COH_CLEARING 2u
#define HFS_COH_NONE 0xffffffffu /* coh_slot: no word; always ask */

#define HFS_PROT_READ 0x1u
#define HFS_PROT_WRITE 0x2u

/* LEASE_REQ flags (docs/data-path.md) */
#define HFS_LEASE_DATAPATH 0x1u /* attach the inode's data-path slot
				   (LEASE_OK.dslot) */
#define HFS_LEASE_EXTEND 0x2u   /* write lease that may reach past EOF:
				   blocks up to offset + length are
				   allocated (zeroed, size unchanged) and
				   the slot's limit raised there; needs
				   HFS_LEASE_DATAPATH */
#define HFS_LEASE_NOALLOC 0x4u  /* write lease over blocks that exist:
				   ERROR ENODATA if the range has holes
				   (the client writes holes through FUSE,
				   which allocates only what it writes) */
#define HFS_LEASE_FLAGS (HFS_LEASE_DATAPATH | HFS_LEASE_EXTEND | \
			 HFS_LEASE_NOALLOC)

struct hfs_msg_lease_req {
	struct hfs_msg_hdr h;
	uint64_t offset;  /* 24 file offset, alloc_unit aligned */
	uint64_t length;  /* 32 bytes, alloc_unit multiple, > 0 */
	uint32_t prot;    /* 40 HFS_PROT_* */
	uint32_t flags;   /* 44 HFS_LEASE_* */
};
static_assert(sizeof(struct hfs_msg_lease_req) == 48, "lease_req");

#define HFS_LEXT_HOLE 0x1u /* no media: map zeros (read leases only) */

struct hfs_lease_extent {
	uint64_t file_off;   /*  0 */
	uint64_t region_off; /*  8 ignored for holes */
	uint64_t len;        /* 16 bytes */
	uint32_t flags;      /* 24 HFS_LEXT_* */
	uint32_t pad;        /* 28 */
};
static_assert(sizeof(struct hfs_lease_extent) == 32, "lease_extent");

struct hfs_msg_lease_ok {
	struct hfs_msg_hdr h;
	uint64_t lease_id;   /* 24 */
	uint64_t ino;        /* 32 */
	uint64_t offset;     /* 40 file range granted (== requested) */
	uint64_t length;     /* 48 */
	uint32_t prot;       /* 56 */
	uint32_t nextents;   /* 60 followed by nextents hfs_lease_extent */
	uint32_t coh_slot;   /* 64 word of the coherence table, or HFS_COH_NONE */
	uint32_t dslot;      /* 68 the inode's data-path slot (index in the
				HELLO_OK area), or HFS_DSLOT_NONE */
};
static_assert(sizeof(struct hfs_msg_lease_ok) == 72, "lease_ok");

/* Most extents one LEASE_OK carries: 72 + N * 32 <= HFS_MSG_MAX, so 2045.
 * A request needing more gets ERROR E2BIG. */
#define HFS_LEASE_MAX_EXTENTS                                               \
	((HFS_MSG_MAX - sizeof(struct hfs_msg_lease_ok)) /                  \
	 sizeof(struct hfs_lease_extent))
static_assert(HFS_LEASE_MAX_EXTENTS == 2045, "lease_ok extents");
static_assert(sizeof(struct hfs_msg_lease_ok) +
	      HFS_LEASE_MAX_EXTENTS * sizeof(struct hfs_lease_extent) <=
	      HFS_MSG_MAX, "LEASE_OK fits");

struct hfs_msg_error {
	struct hfs_msg_hdr h;
	int32_t err;         /* 24 positive errno */
	uint32_t pad;        /* 28 */
	char msg[96];        /* 32 NUL-terminated reason */
};
static_assert(sizeof(struct hfs_msg_error) == 128, "error");

struct hfs_msg_lease_ref {
	struct hfs_msg_hdr h;
	uint64_t lease_id;   /* 24 */
};
static_assert(sizeof(struct hfs_msg_lease_ref) == 32, "lease_ref");

#define HFS_REVOKE_LAYOUT 1u  /* blocks leaving the file (truncate, punch,
				 unlink, reallocation) */
#define HFS_REVOKE_FAILURE 2u /* media failure or device loss */
#define HFS_REVOKE_SHUTDOWN 3u

/* REVOKE: make every range listed inaccessible (any access raises
 * SIGBUS), then ACK once with h.id.  One message carries every range of
 * one client in one revocation round (up to HFS_REVOKE_MAX_RANGES; a
 * bigger round sends several), so a round costs a message per client,
 * not per lease.  Each lease stays valid for the rest of its range. */
struct hfs_revoke_range {
	uint64_t lease_id;   /*  0 */
	uint64_t offset;     /*  8 file range revoked */
	uint64_t length;     /* 16 */
};
static_assert(sizeof(struct hfs_revoke_range) == 24, "revoke_range");

struct hfs_msg_revoke {
	struct hfs_msg_hdr h;
	uint32_t reason;     /* 24 HFS_REVOKE_* */
	uint32_t nranges;    /* 28 > 0, followed by hfs_revoke_range[] */
};
static_assert(sizeof(struct hfs_msg_revoke) == 32, "revoke");

/* Most ranges one REVOKE carries: (65536 - 32) / 24 = 2729. */
#define HFS_REVOKE_MAX_RANGES                                               \
	((HFS_MSG_MAX - sizeof(struct hfs_msg_revoke)) /                    \
	 sizeof(struct hfs_revoke_range))
static_assert(HFS_REVOKE_MAX_RANGES == 2729, "revoke ranges");

/* REMAP: a hole of a read lease got blocks; map the new extents over it
 * (MAP_FIXED, no gap), then ACK with h.id. */
struct hfs_msg_remap {
	struct hfs_msg_hdr h;
	uint64_t lease_id;   /* 24 */
	uint32_t nextents;   /* 32 followed by hfs_lease_extent[] */
	uint32_t pad;        /* 36 */
};
static_assert(sizeof(struct hfs_msg_remap) == 40, "remap");

/* Most extents one REMAP carries: (65536 - 40) / 32 = 2046. */
#define HFS_REMAP_MAX_EXTENTS                                               \
	((HFS_MSG_MAX - sizeof(struct hfs_msg_remap)) /                     \
	 sizeof(struct hfs_lease_extent))
static_assert(HFS_REMAP_MAX_EXTENTS == 2046, "remap extents");
static_assert(sizeof(struct hfs_msg_remap) +
	      HFS_REMAP_MAX_EXTENTS * sizeof(struct hfs_lease_extent) <=
	      HFS_MSG_MAX, "REMAP fits");

struct hfs_msg_range {
	struct hfs_msg_hdr h;
	uint64_t lease_id;   /* 24 */
	uint64_t offset;     /* 32 file offset (PERSISTED) or region offset (POISON) */
	uint64_t length;     /* 40 (POISON: 0 = HFS_FAIL_GRANULE) */
};
static_assert(sizeof(struct hfs_msg_range) == 48, "range");

/* A media error known only by an address (a POISON of length 0, a
 * machine-check SIGBUS in the daemon) is taken to fail the 4 KiB around
 * it: the kernel reports memory errors by page, and a base page is one
 * block of the format (HFS_BLOCK_SIZE), the unit the failure pipeline
 * marks lost in. */
#define HFS_FAIL_GRANULE 4096u

/* ADMIN_INJECT: feed notify_failure as an operator or drill would.
 * Replied to with ADMIN_REPLY {"queued": true} once queued; the outcome
 * shows in ADMIN_STATUS. */
#define HFS_FAIL_PRE_REMOVE 0x1u   /* the device is going away */
#define HFS_FAIL_WHOLE_DEVICE 0x2u /* offset/length ignored: everything */
#define HFS_FAIL_MEDIA 0x4u        /* media error (poison, badblocks) */
/* ADMIN_INJECT only: run nothing, make the daemon's guarded accesses of
 * the range fail as poisoned media from now on (drills where the kernel
 * cannot poison memory; hfs_region_simulate_poison) */
#define HFS_FAIL_SIMULATE_POISON 0x8u
/* ADMIN_INJECT only: the daemon sends itself the SIGBUS the kernel sends
 * for an action-optional machine check (BUS_MCEERR_AO) at its mapping of
 * region byte offset (a drill of that signal path: the kernel's early
 * notice of poison, which a host without memory-failure support never
 * sends); the failure pipeline then handles it as that signal */
#define HFS_FAIL_SIGBUS_AO 0x10u
struct hfs_msg_inject {
	struct hfs_msg_hdr h;
	uint64_t offset;     /* 24 region bytes */
	uint64_t length;     /* 32 */
	uint32_t flags;      /* 40 HFS_FAIL_* */
	uint32_t pad;        /* 44 zero */
};
static_assert(sizeof(struct hfs_msg_inject) == 48, "inject");

/* OFFLINE_NOTICE: the filesystem goes offline (holdfsctl offline).  No
 * new lease is granted; every lease still held deadline_ms after this
 * was sent is revoked (REVOKE reason HFS_REVOKE_SHUTDOWN) and its holder
 * killed if it does not ACK that.  Not answered: the client persists and
 * RELEASEs its leases. */
#define HFS_OFFLINE_PLANNED 1u
struct hfs_msg_offline_notice {
	struct hfs_msg_hdr h;
	uint32_t reason;      /* 24 HFS_OFFLINE_* */
	uint32_t deadline_ms; /* 28 */
};
static_assert(sizeof(struct hfs_msg_offline_notice) == 32, "notice");

/* MEMBER (volumes of several devices): one device of the volume and,
 * as SCM_RIGHTS, a descriptor of it opened for prot.  Sent before the
 * LEASE_OK of the client's first lease that needs prot, once for every
 * device in service then (never for a lost or retired one; device 0
 * included, its descriptor also maps the data-path slot area).  The
 * extents of leases and REMAPs keep naming volume offsets: a client maps
 * volume bytes [base, base + size) from this descriptor at offset
 * (volume offset - base).  An extent outside every span the client was
 * sent is the daemon's error (the client treats it as lost). */
struct hfs_msg_member {
	struct hfs_msg_hdr h; /*  0 id: the LEASE_REQ's */
	uint32_t index;       /* 24 < HELLO_OK nmembers */
	uint32_t prot;        /* 28 HFS_PROT_READ, or READ|WRITE */
	uint64_t base;        /* 32 volume offset of its first byte */
	uint64_t size;        /* 40 bytes, > 0 */
};
static_assert(sizeof(struct hfs_msg_member) == 48, "member");

/* ADMIN_OFFLINE: planned removal.  Replied to with ADMIN_REPLY (the
 * report, JSON) once the leases are gone, in-flight I/O drained and the
 * region synced; then the daemon unmounts and exits 0. */
#define HFS_OFFLINE_DEADLINE_MAX 600000u
struct hfs_msg_offline {
	struct hfs_msg_hdr h;
	uint32_t deadline_ms; /* 24 1..HFS_OFFLINE_DEADLINE_MAX */
	uint32_t flags;       /* 28 zero */
};
static_assert(sizeof(struct hfs_msg_offline) == 32, "offline");

/* ADMIN_DEVICES: the devices of the volume (docs/format.md "Several
 * devices") with their usage, and for ino (not 0) how many of that
 * inode's blocks lie on each. */
struct hfs_msg_devices {
	struct hfs_msg_hdr h;
	uint64_t ino;   /* 24 0: the devices only */
	uint64_t flags; /* 32 zero */
};
static_assert(sizeof(struct hfs_msg_devices) == 40, "devices");

/* ADMIN_RETIRE: device (not 0 unless served from its mirror), which
 * must already be lost, is retired: the volume stops counting it as
 * degraded; what was lost on it stays lost. */
struct hfs_msg_retire {
	struct hfs_msg_hdr h;
	uint32_t device; /* 24 index in the device table */
	uint32_t flags;  /* 28 zero */
};
static_assert(sizeof(struct hfs_msg_retire) == 32, "retire");

/* ADMIN_REPLY: a JSON document in one or more chunks (more != 0: another
 * ADMIN_REPLY with the same id follows); concatenate the text. */
struct hfs_msg_admin_reply {
	struct hfs_msg_hdr h;
	uint32_t more;       /* 24 */
	uint32_t pad;        /* 28 */
	/* 32: UTF-8 text, h.len - 32 bytes, not NUL-terminated */
};
static_assert(sizeof(struct hfs_msg_admin_reply) == 32, "admin_reply");

/* Every message type: who sends it and the struct it starts with.  A
 * message to the daemon is exactly that long; one to a client at least
 * that long (LEASE_OK, REVOKE and REMAP are followed by an array,
 * ADMIN_REPLY by text).  Both ends take received lengths from here: the
 * daemon's validator (fs/proto_check.c, with its message table
 * fs/msg_table.h) and libholdfs (client/wire.c).
 *   X(type, direction, struct) */
#define HFS_TO_DAEMON 1
#define HFS_TO_CLIENT 2
#define HFS_MSG_TYPES(X)                                                    \
	X(HFS_MSG_HELLO, HFS_TO_DAEMON, struct hfs_msg_hello)               \
	X(HFS_MSG_HELLO_OK, HFS_TO_CLIENT, struct hfs_msg_hello_ok)         \
	X(HFS_MSG_LEASE_REQ, HFS_TO_DAEMON, struct hfs_msg_lease_req)       \
	X(HFS_MSG_LEASE_OK, HFS_TO_CLIENT, struct hfs_msg_lease_ok)         \
	X(HFS_MSG_ERROR, HFS_TO_CLIENT, struct hfs_msg_error)               \
	X(HFS_MSG_RELEASE, HFS_TO_DAEMON, struct hfs_msg_lease_ref)         \
	X(HFS_MSG_RELEASE_OK, HFS_TO_CLIENT, struct hfs_msg_lease_ref)      \
	X(HFS_MSG_REVOKE, HFS_TO_CLIENT, struct hfs_msg_revoke)             \
	X(HFS_MSG_REVOKE_ACK, HFS_TO_DAEMON, struct hfs_msg_lease_ref)      \
	X(HFS_MSG_REMAP, HFS_TO_CLIENT, struct hfs_msg_remap)               \
	X(HFS_MSG_REMAP_ACK, HFS_TO_DAEMON, struct hfs_msg_lease_ref)       \
	X(HFS_MSG_PERSISTED, HFS_TO_DAEMON, struct hfs_msg_range)           \
	X(HFS_MSG_POISON, HFS_TO_DAEMON, struct hfs_msg_range)              \
	X(HFS_MSG_PERSISTED_OK, HFS_TO_CLIENT, struct hfs_msg_lease_ref)    \
	X(HFS_MSG_OFFLINE_NOTICE, HFS_TO_CLIENT,                            \
	  struct hfs_msg_offline_notice)                                    \
	X(HFS_MSG_MEMBER, HFS_TO_CLIENT, struct hfs_msg_member)             \
	X(HFS_MSG_ADMIN_LEASES, HFS_TO_DAEMON, struct hfs_msg_hdr)          \
	X(HFS_MSG_ADMIN_HOLDERS, HFS_TO_DAEMON, struct hfs_msg_range)       \
	X(HFS_MSG_ADMIN_REPLY, HFS_TO_CLIENT, struct hfs_msg_admin_reply)   \
	X(HFS_MSG_ADMIN_STATUS, HFS_TO_DAEMON, struct hfs_msg_hdr)          \
	X(HFS_MSG_ADMIN_INJECT, HFS_TO_DAEMON, struct hfs_msg_inject)       \
	X(HFS_MSG_ADMIN_OFFLINE, HFS_TO_DAEMON, struct hfs_msg_offline)     \
	X(HFS_MSG_ADMIN_DEVICES, HFS_TO_DAEMON, struct hfs_msg_devices)     \
	X(HFS_MSG_ADMIN_RETIRE, HFS_TO_DAEMON, struct hfs_msg_retire)

/* No client-to-daemon message is longer: the daemon receives requests
 * into buffers of this size (plus one byte, to see an oversized one). */
#define HFS_REQ_MAX 64u
#define HFS_REQ_MAX_ASSERT(t, dir, st)                                      \
	static_assert((dir) != HFS_TO_DAEMON || sizeof(st) <= HFS_REQ_MAX,   \
		      #t " fits HFS_REQ_MAX");
HFS_MSG_TYPES(HFS_REQ_MAX_ASSERT)
#undef HFS_REQ_MAX_ASSERT

/* The fixed length of a message of this type (its struct); 0: unknown. */
static inline uint32_t hfs_msg_fixed_len(uint32_t type)
{
	switch (type) {
#define HFS_MSG_LEN_CASE(t, dir, st)                                        \
	case t:                                                             \
		return (uint32_t)sizeof(st);
		HFS_MSG_TYPES(HFS_MSG_LEN_CASE)
#undef HFS_MSG_LEN_CASE
	default:
		return 0;
	}
}

/* Who sends this type: HFS_TO_DAEMON, HFS_TO_CLIENT; 0: unknown. */
static inline int hfs_msg_direction(uint32_t type)
{
	switch (type) {
#define HFS_MSG_DIR_CASE(t, dir, st)                                        \
	case t:                                                             \
		return dir;
		HFS_MSG_TYPES(HFS_MSG_DIR_CASE)
#undef HFS_MSG_DIR_CASE
	default:
		return 0;
	}
}

#endif
