/* SPDX-License-Identifier: MIT */
/*
 * The operator's side of the control socket (fs/admin.c): ADMIN_LEASES,
 * ADMIN_HOLDERS, ADMIN_STATUS, ADMIN_INJECT, root only, answered with
 * JSON (ADMIN_REPLY).  Ring thread; msg validated; fd is -1.
 */
#ifndef HOLDFS_FS_ADMIN_H
#define HOLDFS_FS_ADMIN_H

struct hfsd_ctl;
struct hfsd_client;

void hfsd_on_admin_leases(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
void hfsd_on_admin_holders(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd);
void hfsd_on_admin_status(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
void hfsd_on_admin_inject(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);

#endif
