/* SPDX-License-Identifier: MIT */
/*
 * The lease protocol's client requests (fs/lease_req.c), ring thread.
 * msg: a validated message of the type; fd: the descriptor that came
 * with it or -1 (the handler closes it).
 */
#ifndef HOLDFS_FS_LEASE_REQ_H
#define HOLDFS_FS_LEASE_REQ_H

#include <stddef.h>

struct hfsd_ctl;
struct hfsd_client;

void hfsd_on_hello(struct hfsd_ctl *c, struct hfsd_client *cl,
		   const void *msg, int fd);
void hfsd_on_lease_req(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd);
void hfsd_on_release(struct hfsd_ctl *c, struct hfsd_client *cl,
		     const void *msg, int fd);
void hfsd_on_ack(struct hfsd_ctl *c, struct hfsd_client *cl,
		 const void *msg, int fd);
void hfsd_on_persisted(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd);
void hfsd_on_poison(struct hfsd_ctl *c, struct hfsd_client *cl,
		    const void *msg, int fd);

/* A validated message from a client (ring thread).  fd: the passed fd or
 * -1; the handler closes it. */
void hfsd_lease_msg(struct hfsd_ctl *c, struct hfsd_client *cl,
		    const void *buf, size_t len, int fd);

#endif
