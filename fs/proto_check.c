/* SPDX-License-Identifier: MIT */
/*
 * Client -> daemon message validation (see proto_check.h), driven by the
 * message table (msg_table.h) and the wire's lengths (holdfs/proto.h).
 * Nothing here trusts a length or count from the message before checking
 * it against the bytes actually received.
 */
#include "proto_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "msg_table.h"

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -1;
}

/* The type's own fields, once its length is known to be right: a static
 * reason if they are wrong, NULL if fine. */
static const char *check_hello(const void *buf)
{
	struct hfs_msg_hello m;

	memcpy(&m, buf, sizeof(m));
	return m.flags & ~HFS_HELLO_FLAGS ? "HELLO flags unknown" : NULL;
}

static const char *check_offline(const void *buf)
{
	struct hfs_msg_offline m;

	memcpy(&m, buf, sizeof(m));
	if (m.flags)
		return "ADMIN_OFFLINE flags not zero";
	if (m.deadline_ms == 0 || m.deadline_ms > HFS_OFFLINE_DEADLINE_MAX)
		return "ADMIN_OFFLINE deadline out of range";
	return NULL;
}

static const char *check_devices(const void *buf)
{
	struct hfs_msg_devices m;

	memcpy(&m, buf, sizeof(m));
	return m.flags ? "ADMIN_DEVICES flags not zero" : NULL;
}

static const char *check_retire(const void *buf)
{
	struct hfs_msg_retire m;

	memcpy(&m, buf, sizeof(m));
	if (m.flags)
		return "ADMIN_RETIRE flags not zero";
	return m.device >= HFS_MEMBERS_MAX ? "ADMIN_RETIRE device out of range"
					   : NULL;
}

static const char *check_lease_req(const void *buf)
{
	struct hfs_msg_lease_req m;

	memcpy(&m, buf, sizeof(m));
	if (m.flags & ~HFS_LEASE_FLAGS)
		return "LEASE_REQ flags unknown";
	if (m.prot == 0 || (m.prot & ~(HFS_PROT_READ | HFS_PROT_WRITE)))
		return "LEASE_REQ prot invalid";
	if ((m.flags & HFS_LEASE_EXTEND) &&
	    (!(m.flags & HFS_LEASE_DATAPATH) || !(m.prot & HFS_PROT_WRITE)))
		return "LEASE_REQ extend without datapath or write";
	if ((m.flags & HFS_LEASE_NOALLOC) &&
	    (m.flags & HFS_LEASE_EXTEND || !(m.prot & HFS_PROT_WRITE)))
		return "LEASE_REQ noalloc with extend or without write";
	return NULL;
}

/* The validation half of the table (msg_table.h), by type. */
struct rule {
	bool known;
	int fds;
	const char *(*check)(const void *buf);
};

#define RULE(type, nfds, before_hello, admin, chk, handler)               \
	[type] = { .known = true, .fds = nfds, .check = chk },
static const struct rule rules[] = { HFSD_CLIENT_MSGS(RULE) };
#undef RULE

static const struct rule *rule_of(uint16_t type)
{
	if (type >= sizeof(rules) / sizeof(rules[0]) || !rules[type].known ||
	    hfs_msg_direction(type) != HFS_TO_DAEMON)
		return NULL;
	return &rules[type];
}

/* The header alone: a reason if it is wrong, NULL if fine. */
static const char *check_hdr(const struct hfs_msg_hdr *h, size_t len)
{
	if (h->magic != HFS_PROTO_MAGIC)
		return "bad magic";
	if (h->version != HFS_PROTO_VERSION)
		return "unsupported version";
	if (h->len != len)
		return "length field differs from bytes received";
	if (h->pad != 0)
		return "header pad not zero";
	return NULL;
}

int hfs_proto_check(const void *buf, size_t len, int nfds, const char **why)
{
	const struct rule *r;
	struct hfs_msg_hdr h;
	const char *wrong;

	if (len < sizeof(h))
		return bad(why, "short message");
	if (len > HFS_MSG_MAX)
		return bad(why, "oversized message");
	memcpy(&h, buf, sizeof(h));
	if ((wrong = check_hdr(&h, len)))
		return bad(why, wrong);
	r = rule_of(h.type);
	if (!r)
		return bad(why, h.type == HFS_MSG_PERSISTED_OK
			   ? "PERSISTED_OK is daemon-to-client only"
			   : "unknown or daemon-only message type");
	if (len != hfs_msg_fixed_len(h.type))
		return bad(why, "wrong size for the message type");
	if (nfds != r->fds)
		return bad(why, r->fds ? "LEASE_REQ without exactly one fd"
				       : "unexpected file descriptor");
	if (r->check && (wrong = r->check(buf)))
		return bad(why, wrong);
	return (int)h.type;
}
