/* SPDX-License-Identifier: MIT */
/*
 * Validation of the messages a client sends the daemon (proto.h), by the
 * message table (msg_table.h).  A pure function so the fuzzer
 * (tests/fuzz/fuzz_proto.c) can drive it.
 */
#ifndef HOLDFS_FS_PROTO_CHECK_H
#define HOLDFS_FS_PROTO_CHECK_H

#include <stddef.h>

/* Check one received message: buf/len as received, nfds descriptors
 * came with it.  Returns its type (> 0) if well-formed: magic, version,
 * pad zero, len equal to the bytes received and to the exact size of
 * the type, len <= HFS_MSG_MAX, a type a client may send (a row of the
 * table), the row's number of fds (one with LEASE_REQ, none otherwise),
 * the row's field checks (reserved fields zero, prot).  Returns
 * -1 otherwise and, if why is not NULL, points it at a static reason. */
int hfs_proto_check(const void *buf, size_t len, int nfds, const char **why);

#endif
