/* SPDX-License-Identifier: MIT */
/*
 * What DAX clients ask (docs/lease-protocol.md): HELLO (who may use DAX
 * at all: root, or the dax_group), LEASE_REQ (the checks, the grant and
 * its LEASE_OK), RELEASE, the acks of REVOKE and REMAP, PERSISTED and
 * POISON.  Ring thread; every message here has been validated and
 * passed its row of the message table (msg_table.h): all but HELLO come
 * after HELLO.
 */
#include "lease_i.h"
#include "msg_table.h"

/* A client's POISON reports: a burst, then one per period; refusals are
 * logged at most once per HFSD_POISON_LOG_MS. */
#define HFSD_POISON_BURST 8u
#define HFSD_POISON_PERIOD_MS 100u
#define HFSD_POISON_LOG_MS 10000u
/* The most of one report the daemon reads to confirm it. */
#define HFSD_POISON_MAX_LEN (16u * HFS_FAIL_GRANULE)

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/format.h>

#include "coherence.h"
#include "datapath.h"
#include "ctl_send.h"
#include "failure.h"
#include "persisted.h"
#include "revoke.h"

/* ------------------------------------------------------------- HELLO */

/* Is gid among the supplementary groups of pid?  Read after the pidfd
 * was opened and re-validated with it, so the pid is still the peer. */
static bool pid_in_group(const struct hfsd_client *cl, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)cl->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
	}
	fclose(f);
	/* still the same process? */
	return found && syscall(SYS_pidfd_send_signal, cl->pidfd, 0, NULL,
				0) == 0;
}

static bool dax_allowed(const struct hfsd_ctl *c, const struct hfsd_client *cl)
{
	if (cl->uid == 0)
		return true;
	if (!c->dax_gid_set)
		return false;
	return cl->gid == c->dax_gid || pid_in_group(cl, c->dax_gid);
}

void hfsd_on_hello(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const void *msg, int fd)
{
	const struct hfs_msg_hello *m = msg;
	struct hfs_msg_hello_ok r;

	(void)fd;
	if (cl->hello) {
		hfsd_ctl_drop(c, cl, "second HELLO");
		return;
	}
	if (!dax_allowed(c, cl)) {
		hfsd_log(LOG_NOTICE, "control: pid %d uid %u refused: DAX "
			 "access is for root%s%s", (int)cl->pid,
			 (unsigned)cl->uid, c->dax_gid_set ? " and group " : "",
			 c->dax_gid_set ? "dax_group" : " only");
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "DAX access needs root or dax_group");
		cl->closing = true; /* no more requests; EOF when sent */
		shutdown(cl->fd, SHUT_RD);
		hfsd_lease_client_gone(c, cl);
		return;
	}
	if (hfsd_members_multi(c) && !(m->flags & HFS_HELLO_MEMBERS)) {
		/* it would map every extent from one descriptor: on a volume
		 * of several devices that is other devices' memory */
		hfsd_log(LOG_NOTICE, "control: pid %d refused: its HELLO does "
			 "not handle volumes of several devices", (int)cl->pid);
		hfsd_ctl_send_error(c, cl, m->h.id, EOPNOTSUPP,
				    "client cannot map a volume of several "
				    "devices (no HFS_HELLO_MEMBERS); update it");
		cl->closing = true;
		shutdown(cl->fd, SHUT_RD);
		hfsd_lease_client_gone(c, cl);
		return;
	}
	cl->hello = true;
	cl->notice = (m->flags & HFS_HELLO_NOTICE) != 0;
	memset(&r, 0, sizeof(r));
	hfsd_msg_init(&r.h, HFS_MSG_HELLO_OK, sizeof(r), m->h.id);
	r.region_size = c->region_size;
	r.alloc_unit = (uint32_t)c->alloc_unit;
	r.revoke_ms = c->revoke_ms;
	memcpy(r.uuid, c->uuid, 16);
	r.coh_slots = c->coh ? hfsd_coh_nslots(c->coh) : 0;
	r.client_id = cl->client_id;
	r.dslot_off = c->dslot_count ? c->dslot_off : 0;
	r.dslot_count = c->dslot_count;
	r.nmembers = hfsd_members_multi(c) ? hfs_region_nmembers(c->d->rg) : 0;
	hfsd_ctl_send(c, cl, &r, sizeof(r), c->coh ? hfsd_coh_fd(c->coh) : -1);
}

/* --------------------------------------------------------- LEASE_REQ */

/* Second factor after the fd's open mode: the peer's credentials
 * against the file's mode bits (owner, group, other; root passes). */
static bool cred_allows(const struct hfsd_client *cl, const struct hfs_attr *a,
			uint32_t prot)
{
	unsigned need = ((prot & HFS_PROT_READ) ? 4 : 0) |
			((prot & HFS_PROT_WRITE) ? 2 : 0);
	unsigned bits;

	if (cl->uid == 0)
		return true;
	if (cl->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (cl->gid == a->gid)
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (bits & need) == need;
}

/* The file the client passed: on this mount and regular;
 * its inode number in *ino, its open flags in *acc.  0 or a positive
 * errno.
 *
 * The descriptor is on our own mount, so asking the kernel for its
 * attributes may become a GETATTR of ours, and (attribute timeout 0 on a
 * data-path file) the kernel then drops the file's pages first, waiting
 * for any page a WRITE in progress has locked.  That WRITE may be waiting
 * for a REMAP this very thread must send: a deadlock, cut only by the
 * REMAP's deadline, with a zero page left over new blocks.  Type, inode
 * number and device never change for an open file, so the cached ones
 * (AT_STATX_DONT_SYNC) are the truth and nothing waits. */
static int check_file(struct hfsd_ctl *c, int fd, uint64_t *ino, int *acc)
{
	struct statx sx = { 0 };
	int err = 0;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | STATX_INO, &sx) < 0)
		err = errno;
	else if (!c->mnt_dev_ok ||
		 makedev(sx.stx_dev_major, sx.stx_dev_minor) != c->mnt_dev)
		err = EXDEV;
	else if (!(sx.stx_mask & STATX_TYPE) || !S_ISREG(sx.stx_mode))
		err = EINVAL;
	*ino = sx.stx_ino;
	*acc = fcntl(fd, F_GETFL);
	return err;
}

/* Everything a LEASE_REQ is refused for before anything is allocated
 * (docs/lease-protocol.md, LEASE_REQ 2-5): false when refused (ERROR
 * sent).  *ino: the file's inode; *err: its getattr error, which is
 * answered as the grant's error (after the reply buffer is allocated). */
static bool lease_allowed(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const struct hfs_msg_lease_req *m, int fd,
			  uint32_t prot, uint64_t *ino, int *err)
{
	bool w = prot & HFS_PROT_WRITE;
	struct hfs_attr a;
	int acc, e;

	e = check_file(c, fd, ino, &acc);
	if (e) {
		hfsd_ctl_send_error(c, cl, m->h.id, e, e == EXDEV
				    ? "file is not on this holdfs mount"
				    : "not a regular file");
		return false;
	}
	acc &= O_ACCMODE;
	if (w && (c->readonly ||
		  __atomic_load_n(&c->mount_ro, __ATOMIC_RELAXED))) {
		hfsd_ctl_send_error(c, cl, m->h.id, EROFS, "read-only mount");
		return false;
	}
	if ((w && acc == O_RDONLY) || (!w && acc == O_WRONLY)) {
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "file descriptor not open for that access");
		return false;
	}
	*err = -hfs_getattr(c->d->vol, *ino, &a);
	/* chattr +i/+a: no writes but through the daemon, which enforces
	 * them (the grant checks again under the inode's locks) */
	if (!*err && w && (a.flags & (HFS_IF_IMMUTABLE | HFS_IF_APPEND))) {
		hfsd_ctl_send_error(c, cl, m->h.id, EPERM, "file is "
				    "immutable or append-only");
		return false;
	}
	if (!*err && !cred_allows(cl, &a, prot)) {
		hfsd_ctl_send_error(c, cl, m->h.id, EACCES,
				    "file mode does not allow it for the peer");
		return false;
	}
	return true;
}

struct grant_ctx {
	struct hfsd_ctl *c;
	bool noholes;        /* a write lease without allocation
				(HFS_LEASE_NOALLOC): refuse holes */
	struct hfsd_client *cl;
	uint64_t ino, off, len;
	uint32_t prot;
	uint64_t id;
	uint32_t coh_slot;
	uint32_t dslot;
	uint64_t dslot_gen;  /* the file's generation at the slot's attach */
	struct hfsd_member_pass *mp; /* a volume of several devices: the
					devices the grant may map */
};

/* Under the volume lock: the lease exists before anyone can free its
 * blocks. */
static int grant_publish(void *ctx, const struct hfs_lease_extent *ext,
			 uint32_t n)
{
	struct grant_ctx *g = ctx;
	struct hfsd_ctl *c = g->c;
	struct hfsd_lease *l;
	int refused = 0;

	for (uint32_t i = 0; g->noholes && i < n; i++)
		if (ext[i].flags & HFS_LEXT_HOLE)
			return -ENODATA;
	if (g->mp) {
		int e = hfsd_members_check(c, g->cl, g->mp, ext, n);

		if (e)
			return e;
	}
	l = calloc(1, sizeof(*l));

	if (!l || !(l->ext = malloc((n ? n : 1) * sizeof(*ext)))) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->ext, ext, n * sizeof(*ext));
	l->n = n;
	l->cl = g->cl;
	l->pid = g->cl->pid;
	l->uid = g->cl->uid;
	l->ino = g->ino;
	l->off = g->off;
	l->len = g->len;
	l->prot = g->prot;
	l->dslot = g->dslot;
	l->dslot_gen = g->dslot_gen;
	/* a leaf lock: fine under the volume lock */
	l->coh_slot = g->coh_slot = hfsd_coh_get(c->coh, g->ino);
	pthread_mutex_lock(&c->lock);
	/* remounted read-only since lease_allowed: the remount's round of
	 * write revocations (hfsd_lease_revoke_writers) takes this lock
	 * after setting mount_ro, so it either sees this lease or this
	 * sees the flag */
	if ((l->prot & HFS_PROT_WRITE) &&
	    __atomic_load_n(&c->mount_ro, __ATOMIC_ACQUIRE))
		refused = -EROFS;
	/* bytes whose loss is being handled (a device, or a range failure
	 * between its revoke round and its mark-lost): their leases were
	 * looked for under this lock, so this one would be missed; refused
	 * as after the loss (fs/lease_members.c) */
	else if (hfsd_lease_maps_failing_locked(c, l))
		refused = -EIO;
	if (refused) {
		pthread_mutex_unlock(&c->lock);
		hfsd_coh_put(c->coh, l->ino);
		g->coh_slot = HFS_COH_NONE;
		free(l->ext);
		free(l);
		return refused;
	}
	l->id = g->id = ++c->next_lease;
	hfsd_lease_insert_locked(c, l);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Fill LEASE_OK r (its n extents already follow it) for grant g.
 * Returns its length. */
static size_t lease_ok(struct hfs_msg_lease_ok *r, uint64_t req_id,
		       const struct grant_ctx *g, uint32_t n)
{
	size_t rlen = sizeof(*r) + n * sizeof(struct hfs_lease_extent);

	memset(r, 0, sizeof(*r));
	hfsd_msg_init(&r->h, HFS_MSG_LEASE_OK, (uint32_t)rlen, req_id);
	r->lease_id = g->id;
	r->ino = g->ino;
	r->offset = g->off;
	r->length = g->len;
	r->prot = g->prot;
	r->nextents = n;
	r->coh_slot = g->coh_slot;
	r->dslot = g->dslot;
	return rlen;
}

/* The data-path part of a grant (docs/data-path.md): the inode's slot
 * (armed by its first data-path lease; the kernel's cached attributes of
 * the inode are dropped then, as they are never cached while it is
 * armed), and for an extend lease the blocks past EOF, zeroed, with the
 * slot's limit raised over them.  0 or -errno; g->dslot set once the
 * slot is attached (the caller detaches it if the grant fails). */
static int datapath_grant(struct hfsd_ctl *c, struct grant_ctx *g,
			  uint32_t flags)
{
	struct hfs_vol *vol = c->d->vol;
	uint32_t idx;
	int r;

	if (!c->dslot_count)
		return -EOPNOTSUPP;
	r = hfs_dslot_attach(vol, g->ino, &idx, &g->dslot_gen);
	if (r)
		return r;
	g->dslot = idx;
	hfsd_datapath_inval(c, g->ino, true);
	if (!(flags & HFS_LEASE_EXTEND))
		return 0;
	/* the blocks first, then the limit: a size may only be published
	 * over blocks that exist (lib/dslot.c) */
	r = hfs_fallocate(vol, g->ino, FALLOC_FL_KEEP_SIZE, g->off, g->len);
	return r ? r : hfs_dslot_raise_limit(vol, g->ino, g->off,
					     g->off + g->len);
}

/* The region description cl needs for a lease of protection w, opened
 * on first need: every client gets its own open file description (not
 * the daemon's, which carries the ownership flock, nor another
 * client's), so holder_scan.c can tell who holds this one.  *pass: the
 * descriptor to send with the LEASE_OK, or -1 when cl already has one
 * good for w.  0 or -errno. */
static int client_region(struct hfsd_ctl *c, struct hfsd_client *cl, bool w,
			 int *pass)
{
	int i = w ? 1 : 0;
	char p[64];

	*pass = -1;
	if (cl->region_fd[1] >= 0 || cl->region_fd[i] >= 0)
		return 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d",
		 w ? c->region_rw : c->region_ro);
	cl->region_fd[i] = open(p, (w ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (cl->region_fd[i] < 0)
		return -errno;
	*pass = cl->region_fd[i];
	return 0;
}

static void lease_req(struct hfsd_ctl *c, struct hfsd_client *cl,
		      const void *msg, int fd)
{
	const struct hfs_msg_lease_req *m = msg;
	uint32_t prot = m->prot & HFS_PROT_WRITE ? HFS_PROT_READ | HFS_PROT_WRITE
						 : HFS_PROT_READ;
	struct hfsd_member_pass mp = { 0 };
	struct grant_ctx g = { .c = c, .noholes = m->flags & HFS_LEASE_NOALLOC,
			       .cl = cl, .off = m->offset, .len = m->length,
			       .prot = prot, .coh_slot = HFS_COH_NONE,
			       .dslot = HFS_DSLOT_NONE };
	bool alloc = (prot & HFS_PROT_WRITE) &&
		     !(m->flags & HFS_LEASE_NOALLOC);
	struct hfs_msg_lease_ok *r;
	uint32_t n = 0;
	int err, pass = -1;
	size_t rlen;

	if (__atomic_load_n(&c->offline, __ATOMIC_ACQUIRE)) {
		hfsd_ctl_send_error(c, cl, m->h.id, ESHUTDOWN,
				    "filesystem going offline");
		return;
	}
	if (!lease_allowed(c, cl, m, fd, prot, &g.ino, &err))
		return;
	r = malloc(sizeof(*r) + HFS_LEASE_MAX_EXTENTS * sizeof(struct hfs_lease_extent));
	if (!r) {
		hfsd_ctl_send_error(c, cl, m->h.id, ENOMEM, "out of memory");
		return;
	}
	hfsd_lease_grant_begin();
	/* a write lease allocates its holes: as the client, for the reserve */
	hfs_vol_set_caller(cl->uid == 0);
	if (!err && hfsd_members_multi(c)) {
		/* one descriptor per device, in MEMBER messages */
		err = -hfsd_members_open(c, cl, prot & HFS_PROT_WRITE, &mp);
		g.mp = &mp;
	} else if (!err) {
		err = -client_region(c, cl, prot & HFS_PROT_WRITE, &pass);
	}
	if (!err && (m->flags & HFS_LEASE_DATAPATH))
		err = -datapath_grant(c, &g, m->flags);
	/* Writes served directly never reach a FUSE handler: what a write
	 * takes away (setuid, setgid, file capabilities; fs/killpriv.c)
	 * goes before the first of them can happen. */
	if (!err && (m->flags & HFS_LEASE_DATAPATH) && (prot & HFS_PROT_WRITE))
		err = -hfsd_kill_priv_client(c->d, cl->pid, cl->gid, g.ino);
	/* a read lease ends at the end of file (rounded up to the unit):
	 * holes past it would stay zero pages when blocks come (vol.h) */
	if (!err && !(prot & HFS_PROT_WRITE) &&
	    (m->offset > UINT64_MAX - m->length ||
	     m->offset + m->length > hfs_lease_reach(c->d->vol, g.ino, false)))
		err = EINVAL;
	if (!err)
		err = -hfs_lease_extents(c->d->vol, g.ino, m->offset, m->length,
					 (alloc ? HFS_LMAP_ALLOC : 0) |
					 ((prot & HFS_PROT_WRITE) ? HFS_LMAP_WRITE
								  : 0),
					 (struct hfs_lease_extent *)(r + 1),
					 HFS_LEASE_MAX_EXTENTS, &n, grant_publish, &g);
	if (err) {
		if (g.dslot != HFS_DSLOT_NONE && !g.id)
			hfsd_datapath_detach(c, g.ino, g.dslot_gen, g.dslot);
		/* the region description opened for this reply never left:
		 * the next grant must send one again */
		if (pass >= 0) {
			for (int i = 0; i < 2; i++)
				if (cl->region_fd[i] == pass)
					cl->region_fd[i] = -1;
			close(pass);
		}
		hfsd_members_undo(cl, &mp);
		free(r);
		hfsd_ctl_send_error(c, cl, m->h.id, err,
				    err == EINVAL ? "range not alloc_unit aligned "
				    "or beyond the end of the file"
				    : err == E2BIG ? "too many extents"
				    : err == ENODATA ? "range has holes"
				    : err == EIO && g.mp ? "data on a lost device "
				    "(or the file failed)"
				    : strerror(err));
		return;
	}
	rlen = lease_ok(r, m->h.id, &g, n);
	/* The revocations queued before this grant go out before it.  A
	 * truncate or punch frees blocks on a FUSE thread, queueing their
	 * REVOKE for the ring, and only then lowers the data-path limit; a
	 * client that sees the lower limit asks for a new extend lease at
	 * once.  Had its LEASE_OK gone first, the client would write
	 * through the window still mapping the freed blocks (it reaches
	 * further than the new one) and publish a size over bytes that are
	 * not the file's: lost appends.  The client reads in order, so the
	 * old window is dead before it maps the new one. */
	hfsd_lease_send_queued(c);
	/* the devices first: the client maps the LEASE_OK from them */
	hfsd_members_send(c, cl, &mp, m->h.id);
	/* holes of other leases got our blocks: they remap first */
	if (hfsd_lease_grant_defer(c, cl, r, rlen, pass))
		return;
	hfsd_ctl_send(c, cl, r, rlen, pass);
	free(r);
}

/*
 * The client's descriptor of the file stays open here until the grant
 * is over.  The volume's lease calls look the inode up by number and then
 * use it unlocked on the promise that the file is open (lib/lease_map.c):
 * the client's own descriptor is no such promise -- it may close it and
 * unlink the file while this message waits in the ring -- but ours is,
 * since the kernel sends RELEASE only after our close and FORGET after
 * that.  Closing is cheap: RELEASE is asynchronous, and opens set
 * noflush.
 */
void hfsd_on_lease_req(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd)
{
	lease_req(c, cl, msg, fd);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------ RELEASE, acks, ... */

void hfsd_on_release(struct hfsd_ctl *c, struct hfsd_client *cl,
		     const void *msg, int fd)
{
	const struct hfs_msg_lease_ref *m = msg;
	struct hfsd_lease *l;
	struct hfs_msg_lease_ref r;

	(void)fd;
	/* A REVOKE of it that is in flight is still acked by the client
	 * (it acks every REVOKE, known lease or not), so it is not
	 * counted as acked here: one ack per message covers all its
	 * leases. */
	pthread_mutex_lock(&c->lock);
	l = hfsd_lease_find_locked(c, m->lease_id);
	if (l && l->cl != cl)
		l = NULL;
	if (l)
		hfsd_lease_drop_locked(c, l);
	pthread_mutex_unlock(&c->lock);
	if (!l) {
		hfsd_ctl_send_error(c, cl, m->h.id, ENOENT, "no such lease");
		return;
	}
	r = *m;
	r.h.type = HFS_MSG_RELEASE_OK;
	hfsd_ctl_send(c, cl, &r, sizeof(r), -1);
}

/* REVOKE_ACK and REMAP_ACK: h.id names the message acked. */
void hfsd_on_ack(struct hfsd_ctl *c, struct hfsd_client *cl,
		 const void *msg, int fd)
{
	const struct hfs_msg_lease_ref *m = msg;

	(void)fd;
	if (!hfsd_lease_acked(c, cl, m->h.id,
			      m->h.type == HFS_MSG_REMAP_ACK))
		hfsd_ctl_drop(c, cl, "ack for an unknown id");
}

/* Stores through a lease are durable: drop the kernel's cached pages of
 * that range so POSIX readers (and page-cache mmaps) see them, then tell
 * the client (PERSISTED_OK): holdfs_persist returns only after that, so
 * a read(2) that starts after it cannot find a page filled before the
 * stores.  fuse_lowlevel_notify_inval_inode returns once the kernel has
 * invalidated the range (it waits for pages under I/O, e.g. a readahead
 * READ a worker thread is answering, and no writeback cache is used, so
 * there is no writeback to wait for).  It must not run on a thread that
 * handles a FUSE request of that inode or holds a lock such a request
 * needs: the ring thread handles no FUSE request, and c->lock is not
 * held here. */
void hfsd_on_persisted(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd)
{
	const struct hfs_msg_range *m = msg;
	struct hfsd_lease *l;
	uint64_t ino = 0;
	int r;

	(void)fd;
	pthread_mutex_lock(&c->lock);
	l = hfsd_lease_find_locked(c, m->lease_id);
	if (l && l->cl == cl)
		ino = l->ino;
	pthread_mutex_unlock(&c->lock);
	if (!ino) {
		hfsd_ctl_drop(c, cl, "PERSISTED for an unknown lease");
		return;
	}
	if (m->length == 0 || m->offset > INT64_MAX ||
	    m->length > (uint64_t)INT64_MAX - m->offset) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "bad range");
		return;
	}
	/* the invalidation may wait for a page a FUSE WRITE holds locked,
	 * and that WRITE may wait for this thread (fill hook): a worker
	 * does it (fs/persisted.c) */
	r = hfsd_persisted_queue(c, cl, m, ino);
	if (r < 0)
		hfsd_ctl_send_error(c, cl, m->h.id, -r,
				    "cannot queue the page cache invalidation");
}

/* A client hit poison: the failure pipeline confirms and handles it. */
/* May cl send one more POISON now?  A burst of HFSD_POISON_BURST, then
 * one per HFSD_POISON_PERIOD_MS: real poison comes a line at a time, and
 * a client must not keep the failure pipeline busy. */
static bool poison_allowed(struct hfsd_client *cl)
{
	struct timespec ts;
	uint64_t now, period = HFSD_POISON_PERIOD_MS * 1000000ull;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!cl->poison_due_ns) {
		cl->poison_budget = HFSD_POISON_BURST;
		cl->poison_due_ns = now + period;
	}
	while (now >= cl->poison_due_ns &&
	       cl->poison_budget < HFSD_POISON_BURST) {
		cl->poison_budget++;
		cl->poison_due_ns += period;
	}
	if (now >= cl->poison_due_ns)
		cl->poison_due_ns = now + period;
	if (!cl->poison_budget)
		return false;
	cl->poison_budget--;
	return true;
}

/* A client saw poison (a machine check on its mapping).  Trusted only
 * as far as it goes: the range is clamped to the region and to what the
 * client maps right now, and the pipeline confirms it with its own
 * guarded read before it marks anything lost (docs/failure-model.md).
 * A client maps file data only, so no report can reach metadata and
 * shut the filesystem down.  POISON has no reply: what is ignored is
 * logged (rate-limited). */
void hfsd_on_poison(struct hfsd_ctl *c, struct hfsd_client *cl,
		    const void *msg, int fd)
{
	const struct hfs_msg_range *r = msg;
	uint64_t len = r->length ? r->length : HFS_FAIL_GRANULE;
	uint64_t end = r->offset + len, ms = 0, me = 0, missed;
	const char *why = NULL;
	bool maps = false;
	int dev = 0;

	(void)fd;
	if (!poison_allowed(cl))
		why = "faster than the daemon takes reports";
	else if (r->offset >= c->region_size || end < r->offset)
		why = "outside the region";
	else if ((dev = hfs_region_member_of(c->d->rg, r->offset)) < 0)
		why = "between the volume's devices";
	if (!why) {
		uint64_t dend = hfs_region_member_off(c->d->rg, (unsigned)dev) +
				hfs_region_member_size(c->d->rg, (unsigned)dev);

		if (end > c->region_size)
			end = c->region_size;
		/* a report is about one device: never past its end (on one
		 * device this is the region's end) */
		if (end > dend)
			end = dend;
		pthread_mutex_lock(&c->lock);
		maps = hfsd_lease_client_maps_locked(c, cl, r->offset, end,
						     &ms, &me);
		pthread_mutex_unlock(&c->lock);
		if (!maps)
			why = "a range it does not map";
		else if (me - ms > HFSD_POISON_MAX_LEN)
			me = ms + HFSD_POISON_MAX_LEN; /* poison is a line or
							  a page, not more */
	}
	if (why) {
		if (hfsd_ratelog_ok(&c->poison_log, HFSD_POISON_LOG_MS,
				    &missed))
			hfsd_log(LOG_WARNING, "control: pid %d uid %u reports "
				 "poison at region offset %" PRIu64 " (+%"
				 PRIu64 "), %s; ignored (%" PRIu64 " more "
				 "reports ignored since the last message)",
				 (int)cl->pid, (unsigned)cl->uid, r->offset,
				 r->length, why, missed);
		return;
	}
	hfsd_log(LOG_ERR, "control: pid %d reports poison at region offset %"
		 PRIu64 " (+%" PRIu64 "); to be confirmed", (int)cl->pid, ms,
		 me - ms);
	if (c->d->fail)
		hfsd_fail_post(c->d->fail, ms, me - ms,
			       HFS_FAIL_MEDIA | HFSD_FAIL_CONFIRM,
			       "client poison");
}
