/* SPDX-License-Identifier: MIT */
/*
 * Client -> daemon message validation (see proto_check.h).  Nothing here
 * trusts a length or count from the message before checking it against
 * the bytes actually received.
 */
#include "proto_check.h"

#include <stdint.h>
#include <string.h>

#include <holdfs/proto.h>

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -1;
}

int hfs_proto_check(const void *buf, size_t len, int nfds, const char **why)
{
	struct hfs_msg_hdr h;
	size_t want;
	int fds = 0;

	if (len < sizeof(h))
		return bad(why, "short message");
	if (len > HFS_MSG_MAX)
		return bad(why, "oversized message");
	memcpy(&h, buf, sizeof(h));
	if (h.magic != HFS_PROTO_MAGIC)
		return bad(why, "bad magic");
	if (h.version != HFS_PROTO_VERSION)
		return bad(why, "unsupported version");
	if (h.len != len)
		return bad(why, "length field differs from bytes received");
	if (h.pad != 0)
		return bad(why, "header pad not zero");
	switch (h.type) {
	case HFS_MSG_HELLO:
		want = sizeof(struct hfs_msg_hello);
		break;
	case HFS_MSG_LEASE_REQ:
		want = sizeof(struct hfs_msg_lease_req);
		fds = 1;
		break;
	case HFS_MSG_RELEASE:
	case HFS_MSG_REVOKE_ACK:
	case HFS_MSG_REMAP_ACK:
		want = sizeof(struct hfs_msg_lease_ref);
		break;
	case HFS_MSG_PERSISTED:
	case HFS_MSG_POISON:
	case HFS_MSG_ADMIN_HOLDERS:
		want = sizeof(struct hfs_msg_range);
		break;
	case HFS_MSG_ADMIN_LEASES:
	case HFS_MSG_ADMIN_STATUS:
		want = sizeof(struct hfs_msg_hdr);
		break;
	case HFS_MSG_ADMIN_INJECT:
		want = sizeof(struct hfs_msg_inject);
		break;
	case HFS_MSG_PERSISTED_OK: /* the daemon's answer to PERSISTED */
		return bad(why, "PERSISTED_OK is daemon-to-client only");
	default:
		return bad(why, "unknown or daemon-only message type");
	}
	if (len != want)
		return bad(why, "wrong size for the message type");
	if (nfds != fds)
		return bad(why, fds ? "LEASE_REQ without exactly one fd"
				    : "unexpected file descriptor");
	if (h.type == HFS_MSG_HELLO) {
		struct hfs_msg_hello m;

		memcpy(&m, buf, sizeof(m));
		if (m.flags)
			return bad(why, "HELLO flags not zero");
	} else if (h.type == HFS_MSG_LEASE_REQ) {
		struct hfs_msg_lease_req m;

		memcpy(&m, buf, sizeof(m));
		if (m.flags)
			return bad(why, "LEASE_REQ flags not zero");
		if (m.prot == 0 ||
		    (m.prot & ~(HFS_PROT_READ | HFS_PROT_WRITE)))
			return bad(why, "LEASE_REQ prot invalid");
	}
	return (int)h.type;
}
