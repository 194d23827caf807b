/* SPDX-License-Identifier: MIT */
/*
 * The lease table (fs/lease_table.c): every lease granted, indexed so
 * that "who holds this range" never scans every lease.  Private to the
 * control side's files.  The functions ending in _locked want ctl->lock
 * held (ctl_i.h has the lock order).
 */
#ifndef HOLDFS_FS_LEASE_I_H
#define HOLDFS_FS_LEASE_I_H

#include "ctl_i.h"

#include <holdfs/format.h>
#include <holdfs/proto.h>

/* Internal extent flag: revoked part of a lease (never sent). */
#define HFSD_LEXT_REVOKED 0x100u

/* Leases are indexed (libbsd red-black trees, lease_table.c) by id
 * (messages name leases) and by (inode, id) (the volume hooks and the
 * failure pipeline go from the rmap's owning inode to its leases); leases
 * that map holes are also in a third tree by (inode, id), the only ones
 * the fill hook must look at. */
struct hfsd_lease {
	RB_ENTRY(hfsd_lease) by_id, by_ino, by_hole;
	bool holey;           /* in leases_with_holes */
	uint64_t id;
	struct hfsd_client *cl;
	pid_t pid;
	uid_t uid;
	uint64_t ino, off, len;
	uint32_t prot;
	uint32_t coh_slot;    /* coherence table word (HFS_COH_NONE: none) */
	uint32_t dslot;       /* data-path slot it is attached to
				 (HFS_DSLOT_NONE: none; datapath.c) */
	uint64_t dslot_gen;   /* the file's generation at the attach */
	uint32_t n;
	struct hfs_lease_extent *ext; /* file order; HOLE / REVOKED flags */
	uint32_t devmask;     /* bit i: on device i's list (lease_devs.c) */
	struct hfsd_lease_dev *devs; /* its nodes on those lists */
};

/* A lease on the list of one device it maps (lease_devs.c). */
struct hfsd_lease_dev {
	struct hfsd_lease_dev *prev, *next; /* c->dev_leases[dev] */
	struct hfsd_lease_dev *sib;         /* the lease's next node */
	struct hfsd_lease *l;
	unsigned dev;
};

void hfsd_lease_table_init(struct hfsd_ctl *c);

/* The device index of a volume of several (lease_devs.c; nothing on a
 * volume of one): put l on the list of every device its mapped extents
 * lie on that it is not on yet -- at the grant and whenever it gets
 * extents (REMAP), before they are sent; off every list when it goes.
 * Out of memory sets c->dev_index_short. */
void hfsd_lease_devs_note_locked(struct hfsd_ctl *c, struct hfsd_lease *l);
void hfsd_lease_devs_forget_locked(struct hfsd_ctl *c, struct hfsd_lease *l);
/* Does l map bytes whose loss is being handled: a device in
 * c->dev_lost, or the range failure in progress (c->failing_rs/re)?
 * (The grant asks, under the lock the revocation took to look for the
 * leases to revoke: a lease either was there to be found or is
 * refused.) */
bool hfsd_lease_maps_failing_locked(const struct hfsd_ctl *c,
				    const struct hfsd_lease *l);

/* Volumes of several devices (lease_members.c). */
struct hfsd_member_pass {
	bool w;               /* the protection opened: read-write */
	uint32_t active;      /* bit i: device i in service at the grant */
	unsigned n;           /* descriptors opened for this grant, */
	unsigned idx[HFS_MEMBERS_MAX]; /* of these devices */
};
bool hfsd_members_multi(const struct hfsd_ctl *c);
/* cl's descriptors of device i: [0] read-only, [1] read-write. */
int *hfsd_member_fds(struct hfsd_client *cl, unsigned i);
/* Open for cl, for protection w, every device in service it has no
 * descriptor of yet (a MEMBER each, sent by hfsd_members_send).  0, or
 * -errno (-EIO: device 0 out of service) with nothing left opened. */
int hfsd_members_open(struct hfsd_ctl *c, struct hfsd_client *cl, bool w,
		      struct hfsd_member_pass *p);
/* The grant failed: close what hfsd_members_open opened. */
void hfsd_members_undo(struct hfsd_client *cl, struct hfsd_member_pass *p);
/* One MEMBER (with its descriptor) per device opened, before the
 * LEASE_OK of request req_id. */
void hfsd_members_send(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const struct hfsd_member_pass *p, uint64_t req_id);
/* Every media extent lies inside one device in service whose descriptor
 * cl holds for the protection: 0, else -EIO. */
int hfsd_members_check(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const struct hfsd_member_pass *p,
		       const struct hfs_lease_extent *ext, uint32_t n);

struct hfsd_lease *hfsd_lease_find_locked(struct hfsd_ctl *c, uint64_t id);
/* Every lease in id order: first, then next. */
struct hfsd_lease *hfsd_lease_first_locked(struct hfsd_ctl *c);
struct hfsd_lease *hfsd_lease_next_locked(struct hfsd_ctl *c,
					  struct hfsd_lease *l);
/* The leases of inode ino, in id order: first_of_ino, then next_of_ino
 * (O(log n) to start, O(1) amortised per step). */
struct hfsd_lease *hfsd_lease_first_of_ino_locked(struct hfsd_ctl *c,
						  uint64_t ino);
struct hfsd_lease *hfsd_lease_next_of_ino_locked(struct hfsd_ctl *c,
						 struct hfsd_lease *l);
/* The leases of ino that map holes (read leases): first, then next. */
struct hfsd_lease *hfsd_lease_first_holey_locked(struct hfsd_ctl *c,
						 uint64_t ino);
struct hfsd_lease *hfsd_lease_next_holey_locked(struct hfsd_ctl *c,
						struct hfsd_lease *l);

/* Put l (its extents set) into the table. */
void hfsd_lease_insert_locked(struct hfsd_ctl *c, struct hfsd_lease *l);
/* Take l out of the table and free it. */
void hfsd_lease_drop_locked(struct hfsd_ctl *c, struct hfsd_lease *l);
/* Drop every lease of cl (NULL: every lease); returns how many. */
unsigned hfsd_lease_drop_client_locked(struct hfsd_ctl *c,
				       const struct hfsd_client *cl);

/* Does l map (media, not revoked) any of region bytes [rs, re)? */
bool hfsd_lease_maps_locked(const struct hfsd_lease *l, uint64_t rs,
			    uint64_t re);
/* The first run of region bytes [rs, re) that cl maps through one of
 * its leases (media, not revoked), clipped, in [*ms, *me); false if it
 * maps none of it.  O(leases): POISON reports are rate-limited. */
bool hfsd_lease_client_maps_locked(struct hfsd_ctl *c,
				   const struct hfsd_client *cl, uint64_t rs,
				   uint64_t re, uint64_t *ms, uint64_t *me);
/* Mark [rs, re) (region bytes) of l revoked; file range touched in
 * [*fs, *fe).  Returns true if anything of l mapped it. */
bool hfsd_lease_revoke_range_locked(struct hfsd_lease *l, uint64_t rs,
				    uint64_t re, uint64_t *fs, uint64_t *fe);

/* The data-owning inodes of region bytes [rs, re), from the rmap
 * (O(log n + k)), sorted and unique.  Takes the volume lock: call
 * without ctl->lock.  s->v is malloc'd (NULL when none); 0 or -errno. */
struct hfsd_ino_set {
	uint64_t *v;
	size_t n, cap;
	int err;
};
int hfsd_lease_owner_inos(struct hfsd_ctl *c, uint64_t rs, uint64_t re,
			  struct hfsd_ino_set *s);
/* The same from pieces a failed range was classified into (no rmap
 * read, no lock): the inodes of its data pieces. */
int hfsd_lease_piece_inos(const struct hfs_fail_piece *v, size_t n,
			  struct hfsd_ino_set *s);

#endif
