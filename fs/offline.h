/* SPDX-License-Identifier: MIT */
/*
 * Planned removal, holdfsctl offline (fs/offline.c).  The request itself
 * is a row of fs/msg_table.h (hfsd_on_admin_offline).
 */
#ifndef HOLDFS_FS_OFFLINE_H
#define HOLDFS_FS_OFFLINE_H

struct hfsd_ctl;

/* Ring thread, every turn: send the report once the worker made it. */
void hfsd_offline_replies(struct hfsd_ctl *c);
/* The control server stops: end the worker's waits and join it (its
 * revocation round is bounded by revoke_ms).  Before the ring stops. */
void hfsd_offline_stop(struct hfsd_ctl *c);
/* Once the ring thread has ended: free what the request left. */
void hfsd_offline_free(struct hfsd_ctl *c);

#endif
