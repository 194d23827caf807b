/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the lease protocol validator (fs/proto_check.c).
 * Input: byte 0 = number of fds that "came with" the message (mod 3), the
 * rest = the message as received.  Beyond not crashing (ASan/UBSan), an
 * accepted message must satisfy what the daemon relies on afterwards.
 *
 *   meson setup build-fuzz -Dc_args=... with CC=clang; or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude -Ifs tests/fuzz/fuzz_proto.c fs/proto_check.c -o fuzz_proto
 *   ./fuzz_proto -max_total_time=60 tests/fuzz/corpus_proto
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <holdfs/proto.h>

#include "proto_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hfs_msg_hdr h;
	const char *why = NULL;
	uint8_t *copy;
	int nfds, t;

	if (size < 1)
		return 0;
	nfds = data[0] % 3;
	data++;
	size--;
	/* exact-size heap copy so ASan sees any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	t = hfs_proto_check(copy, size, nfds, &why);
	if (t < 0) {
		if (!why)
			abort(); /* every refusal has a reason to log */
	} else {
		memcpy(&h, copy, sizeof(h));
		if (size < sizeof(h) || size > HFS_MSG_MAX || h.len != size ||
		    h.magic != HFS_PROTO_MAGIC || h.type != t)
			abort();
		if ((t == HFS_MSG_LEASE_REQ) != (nfds == 1) || nfds > 1)
			abort();
		switch (t) { /* daemon-to-client types are never accepted */
		case HFS_MSG_HELLO_OK: case HFS_MSG_LEASE_OK:
		case HFS_MSG_ERROR: case HFS_MSG_RELEASE_OK:
		case HFS_MSG_REVOKE: case HFS_MSG_REMAP:
		case HFS_MSG_PERSISTED_OK: case HFS_MSG_ADMIN_REPLY:
		case HFS_MSG_OFFLINE_NOTICE: case HFS_MSG_MEMBER:
			abort();
		}
		if (t == HFS_MSG_HELLO) {
			struct hfs_msg_hello m;

			memcpy(&m, copy, sizeof(m));
			if (m.flags & ~HFS_HELLO_FLAGS)
				abort();
		}
		if (t == HFS_MSG_ADMIN_OFFLINE) {
			struct hfs_msg_offline m;

			memcpy(&m, copy, sizeof(m));
			if (m.flags || !m.deadline_ms ||
			    m.deadline_ms > HFS_OFFLINE_DEADLINE_MAX)
				abort();
		}
		if (t == HFS_MSG_LEASE_REQ) {
			struct hfs_msg_lease_req q;

			memcpy(&q, copy, sizeof(q));
			if (!q.prot || (q.prot & ~3u))
				abort();
		}
	}
	free(copy);
	return 0;
}
