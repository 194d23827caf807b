/* SPDX-License-Identifier: MIT */
/*
 * Which processes still hold what a DAX client was given: its end of the
 * connection, the region description handed to it, a mapping of region
 * bytes being revoked (holder_scan.c has how, and the limits).
 */
#ifndef HOLDFS_FS_HOLDER_SCAN_H
#define HOLDFS_FS_HOLDER_SCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct hfsd_holder_key {
	ino_t sock_peer;          /* the client's socket inode, 0: unknown */
	int region_fd[2];         /* the daemon's handle on each region
				     description the client got, or -1 */
	dev_t region_dev;         /* the region file or device; region_ino 0:
				     unknown (nothing matches it: anonymous
				     memory shows as 0:0 inode 0 in maps) */
	ino_t region_ino;
	uint64_t rs, re;          /* region bytes revoked; rs == re: none */
	const pid_t *owners;      /* clients that map [rs, re) under leases
				     of their own still being revoked: not
				     holders by their mappings (they answer
				     for them with their own ack) */
	size_t nowners;
};

/* The inode of the other end of our unix socket fd, or 0 (unknown). */
ino_t hfsd_unix_peer_ino(int fd);
/* Every process but the daemon holding any of k: *pids malloc'd (may be
 * NULL), *n of them.  0, or -errno (then *pids holds what was found). */
int hfsd_holders_find(const struct hfsd_holder_key *k, pid_t **pids,
		      size_t *n);

#endif
