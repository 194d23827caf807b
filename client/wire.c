/* SPDX-License-Identifier: MIT */
/*
 * Framing of the lease protocol on the SOCK_SEQPACKET socket: one
 * message per packet, its header checked, at most one SCM_RIGHTS fd.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_i.h"

void hfc_fill_hdr(struct hfs_msg_hdr *h, size_t len, uint16_t type,
		  uint64_t id)
{
	h->magic = HFS_PROTO_MAGIC;
	h->version = HFS_PROTO_VERSION;
	h->type = type;
	h->len = (uint32_t)len;
	h->pad = 0;
	h->id = id;
}

int hfc_send_raw(int sock, const void *msg, size_t len, int send_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (send_fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &send_fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? -ENOTCONN : -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* One message, its length and its SCM_RIGHTS fd (extra fds are closed;
 * HFC_FD_LOST: one was sent, the kernel could not install it).
 * Returns the length, 0 on EOF, or a negative errno. */
ssize_t hfc_recv_msg(int sock, void *buf, size_t size, int *fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t i, nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = hfc_fd_high(f);
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_TRUNC) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	if ((mh.msg_flags & MSG_CTRUNC) && *fd < 0)
		/* the message is whole, its descriptor was not installed:
		 * the process is out of descriptors (EMFILE) or may not take
		 * it (an LSM) */
		*fd = HFC_FD_LOST;
	return n;
}

/* What a message from the daemon holds at least: the fixed part of its
 * type (holdfs/proto.h); a header for a type the daemon does not send
 * (the listener ignores those). */
static size_t min_len(uint16_t type)
{
	if (hfs_msg_direction(type) == HFS_TO_CLIENT)
		return hfs_msg_fixed_len(type);
	return sizeof(struct hfs_msg_hdr);
}

int hfc_check_hdr(const struct hfs_msg_hdr *h, size_t n)
{
	if (n < sizeof(*h) || h->magic != HFS_PROTO_MAGIC ||
	    h->version != HFS_PROTO_VERSION || h->len != n ||
	    n < min_len(h->type))
		return -EPROTO;
	return 0;
}
