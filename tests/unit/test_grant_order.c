/* SPDX-License-Identifier: MIT */
/*
 * A grant's LEASE_OK goes out after the REVOKEs queued before it
 * (fs/lease_req.c, hfsd_lease_send_queued).
 *
 * A truncate frees blocks on a FUSE thread: the release hook queues a
 * REVOKE job for the ring, then the data-path limit is lowered.  A direct
 * writer that sees the lower limit asks for a new extend lease at once.
 * The ring thread used to answer that LEASE_REQ (the reply queued on the
 * client's socket) before its end-of-batch step sent the jobs queued
 * meanwhile, so the client mapped its new window while the old one,
 * still mapping the freed blocks and reaching further, looked alive: its
 * next append went into blocks no longer the file's and was published
 * (lost appends, read back as zeros).
 *
 * Here, on the daemon's own objects with a real ring and socket: a
 * volume in memory, a client with a write lease of four units of a file,
 * the file truncated to one unit (a REVOKE job queued), then the
 * client's next LEASE_REQ.  The messages the
 * client reads must be the REVOKE, then the LEASE_OK.
 *
 * The rig (ctl_rig.h) needs CAP_SYS_ADMIN; without it the test says
 * SKIP.
 */
#include "ctl_rig.h"

#include <stdio.h>

#include <holdfs/proto.h>

#include "check.h"

int main(void)
{
	struct rig r;
	union {
		struct hfs_msg_lease_ok ok;
		struct hfs_msg_error e;
	} body;
	uint64_t id, revoke_at = 0, ok_at = 0;
	unsigned t, seq = 0;
	int rc = rig_open(&r);

	if (rc)
		return rc;
	/* four units of data, leased for writing */
	CHECK_EQ(rig_fill(&r, 4 * r.unit), 0);
	rig_lease_req(&r, 1, 0, 4 * r.unit);
	CHECK_EQ(rig_next_msg(&r, &id, NULL, 0), HFS_MSG_LEASE_OK);

	/* a truncate to one unit frees three of them: a REVOKE job for the
	 * lease, queued (a FUSE thread would wake the ring) */
	CHECK_EQ(rig_truncate(&r, r.unit), 0);
	CHECK(r.c->jobs != NULL);

	/* the client's next grant (a direct writer would ask for the units
	 * past the new end with an extend lease: a data-path grant, which
	 * needs the slot area; any grant's reply goes the same way) */
	rig_lease_req(&r, 2, 0, r.unit);
	while ((t = rig_next_msg(&r, &id, &body, sizeof(body))) != 0) {
		seq++;
		if (t == HFS_MSG_ERROR)
			fprintf(stderr, "error %d: %.96s\n", body.e.err,
				body.e.msg);
		if (t == HFS_MSG_REVOKE && !revoke_at)
			revoke_at = seq;
		if (t == HFS_MSG_LEASE_OK && id == 2)
			ok_at = seq;
		if (revoke_at && ok_at)
			break;
	}
	CHECK(revoke_at != 0);
	CHECK(ok_at != 0);
	if (revoke_at > ok_at)
		fprintf(stderr, "the LEASE_OK (message %llu) went before the "
			"REVOKE of the freed blocks (message %llu)\n",
			(unsigned long long)ok_at,
			(unsigned long long)revoke_at);
	CHECK(revoke_at < ok_at);
	rig_close(&r);
	if (failures) {
		fprintf(stderr, "test_grant_order: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_grant_order: ok\n");
	return 0;
}
