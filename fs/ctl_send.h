/* SPDX-License-Identifier: MIT */
/*
 * What the control side sends (fs/ctl_send.c): messages queued on the
 * ring, ERROR replies, dropping a client, the deadline of a revocation
 * job, and waking the ring from another thread.  Everything but
 * hfsd_ctl_wake runs on the ring thread.
 */
#ifndef HOLDFS_FS_CTL_SEND_H
#define HOLDFS_FS_CTL_SEND_H

#include <stddef.h>
#include <stdint.h>

#include <holdfs/proto.h>

struct hfsd_ctl;
struct hfsd_client;

/* A header for a message the daemon sends. */
void hfsd_msg_init(struct hfs_msg_hdr *h, uint16_t type, uint32_t len,
		   uint64_t id);
/* Queue msg (copied) to cl, with pass_fd as SCM_RIGHTS when >= 0; it is
 * submitted with the ring's next batch.  Does not take ctl->lock, so
 * callers may hold it. */
int hfsd_ctl_send(struct hfsd_ctl *c, struct hfsd_client *cl,
		  const void *msg, size_t len, int pass_fd);
/* ERROR reply to request id: err (positive errno) and a reason. */
void hfsd_ctl_send_error(struct hfsd_ctl *c, struct hfsd_client *cl,
			 uint64_t id, int err, const char *why);
/* Close cl's connection (logged with why unless NULL) and release what
 * it held (hfsd_lease_client_gone). */
void hfsd_ctl_drop(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const char *why);
/* One IORING_OP_TIMEOUT: hfsd_lease_timeout(job_id) after ms. */
int hfsd_ctl_arm_timeout(struct hfsd_ctl *c, uint64_t job_id, unsigned ms);
/* Any thread: the ring runs its jobs (eventfd). */
void hfsd_ctl_wake(struct hfsd_ctl *c);

#endif
