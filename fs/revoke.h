/* SPDX-License-Identifier: MIT */
/*
 * The revocation engine (fs/revoke.c, fs/revoke_hooks.c): taking DAX
 * mappings back.  Layout changes reach it through two volume hooks
 * (blocks leaving a file: REVOKE; holes getting blocks: REMAP), media
 * failures through hfsd_lease_revoke_failure; it sends each round, waits
 * for the acks with a deadline, kills holders that miss it, and only then
 * lets blocks be reused (docs/lease-protocol.md).
 */
#ifndef HOLDFS_FS_REVOKE_H
#define HOLDFS_FS_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hfsd_ctl;
struct hfsd_client;
struct hfs_fail_class; /* vol.h */

/* lease.c: the volume hooks, installed at start and removed first at
 * stop; then the jobs are ended (blocks they held back freed). */
void hfsd_revoke_hooks_install(struct hfsd_ctl *c);
void hfsd_revoke_hooks_remove(struct hfsd_ctl *c);
void hfsd_revoke_jobs_fini(struct hfsd_ctl *c);

/* Ring thread. */
/* Called once by the ring thread at start. */
void hfsd_lease_ring_thread(void);
/* Send new jobs (one submission), finish completed ones. */
void hfsd_lease_run_jobs(struct hfsd_ctl *c);
/* Queue the messages of the jobs queued so far, before a reply that must
 * follow them (a grant: lease_req.c). */
void hfsd_lease_send_queued(struct hfsd_ctl *c);
/* A job's deadline passed (its timer completed): the verdict comes at
 * the next hfsd_lease_run_jobs, after the rest of the ring's batch. */
void hfsd_lease_timeout(struct hfsd_ctl *c, uint64_t job_id);
/* A client went away: release its leases, count it as acked. */
void hfsd_lease_client_gone(struct hfsd_ctl *c, struct hfsd_client *cl);
/* cl acked message msg_id, a REVOKE (remap false) or a REMAP it was
 * sent.  false: no such message is waiting for cl's ack. */
bool hfsd_lease_acked(struct hfsd_ctl *c, struct hfsd_client *cl,
		      uint64_t msg_id, bool remap);
/* A lease grant on the ring thread may fill holes other read leases map:
 * the fill hook then queues a REMAP job it cannot wait for there.  Call
 * grant_begin before the grant; after it, grant_defer hands the LEASE_OK
 * (msg, taken; fd passed with it, not owned) to that job, which sends it
 * when done, and returns true; false when there is no such job. */
void hfsd_lease_grant_begin(void);
bool hfsd_lease_grant_defer(struct hfsd_ctl *c, struct hfsd_client *cl,
			    void *msg, size_t len, int fd);

/* A truncate or punch of ino returned from the volume: wait until the
 * revocations of data-path leases it started are acked (or their
 * holders killed), so that a read(2) served directly that starts after
 * it returns sees the change (docs/data-path.md).  Mappings (DAX leases
 * of mmap) are revoked without holding the caller up, as before.
 * Bounded like any job's wait.  A FUSE thread, no lock held. */
void hfsd_lease_settle(struct hfsd_ctl *c, uint64_t ino);

/* REVOKE every data-path lease of ino and wait for the round (the
 * volume's dslot_stuck hook; not on the ring thread).  Leases revoked or
 * -errno. */
int hfsd_lease_revoke_datapath(struct hfsd_ctl *c, uint64_t ino);

/* A setuid or setgid bit or file capabilities were given to ino
 * (chmod, setxattr security.capability: fs/ops_entry.c, ops_xattr.c),
 * which a write by a caller without CAP_FSETID takes away.  A direct
 * write never reaches a FUSE handler: its lease's grant took away what
 * there was then (lease_req.c).  So REVOKE ino's data-path write leases
 * and wait for the round: every later direct write leases again, and
 * its grant takes the new bits away.  (Mappings are left: the kernel
 * takes nothing away for stores through a mapping either.)  A FUSE
 * thread, no lock held.  Leases revoked or -errno. */
int hfsd_lease_revoke_privileged(struct hfsd_ctl *c, uint64_t ino);

/* The mount became read-only (fs/remount.c): REVOKE every write lease
 * (mmap and data path), whole, with reason LAYOUT (a client that asks
 * again gets EROFS, or a read lease), and wait for the round: acked, or
 * the holders killed (bounded).  Write leases granted from then on are
 * refused (c->mount_ro, checked again when a grant is published).  Not
 * on the ring thread.  Leases revoked or -errno. */
int hfsd_lease_revoke_writers(struct hfsd_ctl *c);

/* What became of one lease in a failure round (ADMIN_STATUS "revoked"). */
enum hfsd_revoke_outcome {
	HFSD_REVOKE_ACKED,        /* its holder acked */
	HFSD_REVOKE_KILLED,       /* no ack in time: its holder was killed */
	HFSD_REVOKE_NO_ANSWER,    /* neither when the round's wait ended */
};

struct hfsd_revoked_lease {
	uint64_t lease_id;
	pid_t pid;
	enum hfsd_revoke_outcome outcome;
};

/* Failure pipeline (fs/failure.c; not on the ring thread): REVOKE with
 * reason FAILURE, in one round, the leases of the inodes of fc's data
 * pieces, the part of them mapping fc's range (fc NULL: every lease, its
 * whole range), and wait until each holder acked or was killed
 * (bounded).  fc is the range's classification (vol.h): no rmap read
 * here.  *leases (malloc'd, *nleases of them; may stay NULL) gets one
 * record per lease revoked.  Returns the number of leases revoked or
 * -errno; *killed the number of holders killed. */
int hfsd_lease_revoke_failure(struct hfsd_ctl *c,
			      const struct hfs_fail_class *fc,
			      struct hfsd_revoked_lease **leases,
			      size_t *nleases, unsigned *killed);
/* The range failure of the last hfsd_lease_revoke_failure is recorded
 * lost (or abandoned): grants over its range, refused with EIO since its
 * round looked for leases, may map it again (lost files refuse them by
 * themselves from then on). */
void hfsd_lease_failing_done(struct hfsd_ctl *c);
/* The same for the loss of device dev of a volume of several, without
 * a classification: the leases on dev's list (lease_devs.c), the part of
 * each mapping region bytes [rs, re) (dev's span), O(leases on dev).
 * -ENOENT when the device lists cannot answer (a volume of one, an
 * index short of memory): then classify and use the call above. */
int hfsd_lease_revoke_device(struct hfsd_ctl *c, unsigned dev, uint64_t rs,
			     uint64_t re, struct hfsd_revoked_lease **leases,
			     size_t *nleases, unsigned *killed);
/* The same for every lease, whole, with reason SHUTDOWN (holdfsctl
 * offline, fs/offline.c): the holders that did not let go by the
 * notice's deadline. */
int hfsd_lease_revoke_shutdown(struct hfsd_ctl *c,
			       struct hfsd_revoked_lease **leases,
			       size_t *nleases, unsigned *killed);

#endif
