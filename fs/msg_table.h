/* SPDX-License-Identifier: MIT */
/*
 * The messages a client may send the daemon: one row per type, the one
 * place that says what each may carry, when it may come and who handles
 * it.  Both halves of receiving a message read it:
 *
 *  - validation, hfs_proto_check() (proto_check.c): the row's fds and
 *    check; the length is the wire's (HFS_MSG_TYPES, holdfs/proto.h).
 *    That half uses no daemon state and links alone into the fuzzer
 *    (tests/fuzz/fuzz_proto.c);
 *  - dispatch, hfsd_msg_dispatch() (msg_dispatch.c): the HELLO and root
 *    rules, then the handler.
 *
 * A type without a row (a daemon-to-client type, an unknown number) is
 * refused by validation, which closes the connection.
 *
 *   X(type, fds, before_hello, admin, check, handler)
 *
 *   fds           descriptors that come with it (SCM_RIGHTS): exactly
 *   before_hello  NULL: may come before HELLO; else the connection is
 *                 closed with this reason if it does
 *   admin         root only: anyone else gets ERROR EACCES, and the
 *                 connection stays open
 *   check         the type's own field checks (proto_check.c), or NULL
 *   handler       runs on the ring thread once both halves passed
 */
#ifndef HOLDFS_FS_MSG_TABLE_H
#define HOLDFS_FS_MSG_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include <holdfs/proto.h>

#define HFSD_BEFORE_HELLO "request before HELLO"

#define HFSD_CLIENT_MSGS(X)                                               \
	X(HFS_MSG_HELLO, 0, NULL, false, check_hello, hfsd_on_hello)       \
	X(HFS_MSG_LEASE_REQ, 1, "LEASE_REQ before HELLO", false,           \
	  check_lease_req, hfsd_on_lease_req)                              \
	X(HFS_MSG_RELEASE, 0, HFSD_BEFORE_HELLO, false, NULL,              \
	  hfsd_on_release)                                                 \
	X(HFS_MSG_REVOKE_ACK, 0, HFSD_BEFORE_HELLO, false, NULL,           \
	  hfsd_on_ack)                                                     \
	X(HFS_MSG_REMAP_ACK, 0, HFSD_BEFORE_HELLO, false, NULL,            \
	  hfsd_on_ack)                                                     \
	X(HFS_MSG_PERSISTED, 0, HFSD_BEFORE_HELLO, false, NULL,            \
	  hfsd_on_persisted)                                               \
	X(HFS_MSG_POISON, 0, HFSD_BEFORE_HELLO, false, NULL,               \
	  hfsd_on_poison)                                                  \
	X(HFS_MSG_ADMIN_LEASES, 0, NULL, true, NULL, hfsd_on_admin_leases) \
	X(HFS_MSG_ADMIN_HOLDERS, 0, NULL, true, NULL,                      \
	  hfsd_on_admin_holders)                                           \
	X(HFS_MSG_ADMIN_STATUS, 0, NULL, true, NULL, hfsd_on_admin_status) \
	X(HFS_MSG_ADMIN_INJECT, 0, NULL, true, NULL, hfsd_on_admin_inject) \
	X(HFS_MSG_ADMIN_OFFLINE, 0, NULL, true, check_offline,             \
	  hfsd_on_admin_offline)                                           \
	X(HFS_MSG_ADMIN_DEVICES, 0, NULL, true, check_devices,             \
	  hfsd_on_admin_devices)                                           \
	X(HFS_MSG_ADMIN_RETIRE, 0, NULL, true, check_retire,               \
	  hfsd_on_admin_retire)

struct hfsd_ctl;
struct hfsd_client;

/* A validated message from cl (ring thread): the HELLO and root rules of
 * its row, then its handler.  fd: the descriptor that came with it, or
 * -1; closed here or by the handler. */
void hfsd_msg_dispatch(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd);

/* The handlers: msg is a validated message of the row's type; fd is the
 * descriptor that came with it (LEASE_REQ, which closes it) or -1. */
/* lease_req.c */
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
/* admin.c */
void hfsd_on_admin_leases(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
void hfsd_on_admin_holders(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd);
void hfsd_on_admin_status(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
void hfsd_on_admin_inject(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
void hfsd_on_admin_devices(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd);
void hfsd_on_admin_retire(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd);
/* offline.c */
void hfsd_on_admin_offline(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd);

#endif
