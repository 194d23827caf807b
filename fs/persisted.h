/* SPDX-License-Identifier: MIT */
/*
 * PERSISTED answered by a worker thread, not the ring (fs/persisted.c).
 */
#ifndef HOLDFS_FS_PERSISTED_H
#define HOLDFS_FS_PERSISTED_H

#include <stdbool.h>
#include <stdint.h>

#include <holdfs/proto.h>

struct hfsd_ctl;
struct hfsd_client;

/* start/stop from hfsd_lease_init/fini; stop returns false when the
 * worker could not be stopped (then the coherence table must stay
 * allocated). */
int hfsd_persisted_start(struct hfsd_ctl *c);
bool hfsd_persisted_stop(struct hfsd_ctl *c);
/* A validated PERSISTED of inode ino (ring thread). */
int hfsd_persisted_queue(struct hfsd_ctl *c, const struct hfsd_client *cl,
			 const struct hfs_msg_range *m, uint64_t ino);
/* Send the answers of finished ones (ring thread). */
void hfsd_persisted_replies(struct hfsd_ctl *c);

#endif
