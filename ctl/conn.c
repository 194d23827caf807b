/* SPDX-License-Identifier: MIT */
/*
 * Talking to a mounted holdfs: the control socket and the admin messages
 * (docs/lease-protocol.md, "Admin messages").
 *
 * The socket of the daemon serving a mount point is found from the mount's
 * device number: HFS_CTL_DIR/dev/MAJOR:MINOR, a symlink to the daemon's
 * HFS_CTL_DIR/UUID.sock.  One request per connection: the reply is a JSON
 * document split over ADMIN_REPLY messages (more != 0: another follows),
 * or an ERROR message; each must arrive within TIMEOUT_MS.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "conn.h"

#define TIMEOUT_MS 10000

int ctl_connect(const char *mnt)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (stat(mnt, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", CTL_PROG, mnt, strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), HFS_CTL_DIR "/dev/%u:%u",
		 major(st.st_dev), minor(st.st_dev));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", CTL_PROG, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		fprintf(stderr, "%s: %s: not a mounted holdfs with a control "
			"socket (%s: %s)\n", CTL_PROG, mnt, sa.sun_path,
			strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for and receive one message into buf: its length, or -1 (printed)
 * if none came within TIMEOUT_MS or the daemon closed the connection. */
static int timeout_ms = TIMEOUT_MS;

void ctl_set_timeout(int ms)
{
	timeout_ms = ms > 0 ? ms : TIMEOUT_MS;
}

static ssize_t recv_msg(int fd, uint8_t *buf, size_t size)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0) {
		fprintf(stderr, "%s: no answer from the daemon within %d s\n",
			CTL_PROG, timeout_ms / 1000);
		return -1;
	}
	n = recv(fd, buf, size, 0);
	if (n <= 0) {
		fprintf(stderr, "%s: the daemon closed the connection\n",
			CTL_PROG);
		return -1;
	}
	return n;
}

/* The JSON text an ADMIN_REPLY of n bytes carries (*len bytes), or NULL
 * (printed) for anything else: malformed, an error, another type. */
static const char *reply_text(const uint8_t *buf, size_t n, size_t *len)
{
	const struct hfs_msg_hdr *h = (const void *)buf;

	if (n < sizeof(*h) || h->magic != HFS_PROTO_MAGIC || h->len != n) {
		fprintf(stderr, "%s: malformed reply\n", CTL_PROG);
		return NULL;
	}
	if (h->type == HFS_MSG_ERROR && n == sizeof(struct hfs_msg_error)) {
		const struct hfs_msg_error *e = (const void *)buf;

		fprintf(stderr, "%s: the daemon refused: %s (%s)\n", CTL_PROG,
			strerror(e->err), e->msg);
		return NULL;
	}
	if (h->type != HFS_MSG_ADMIN_REPLY ||
	    n < sizeof(struct hfs_msg_admin_reply)) {
		fprintf(stderr, "%s: unexpected reply type %u\n", CTL_PROG,
			h->type);
		return NULL;
	}
	*len = n - sizeof(struct hfs_msg_admin_reply);
	return (const char *)buf + sizeof(struct hfs_msg_admin_reply);
}

/* Append len bytes of s to the NUL-terminated *txt of *tlen bytes. */
static int append(char **txt, size_t *tlen, const char *s, size_t len)
{
	char *nt = realloc(*txt, *tlen + len + 1);

	if (!nt) {
		fprintf(stderr, "%s: out of memory\n", CTL_PROG);
		return -1;
	}
	memcpy(nt + *tlen, s, len);
	*tlen += len;
	nt[*tlen] = '\0';
	*txt = nt;
	return 0;
}

char *ctl_query(int fd, const void *req, size_t len)
{
	static uint8_t buf[HFS_MSG_MAX];
	char *txt = NULL;
	size_t tlen = 0;

	if (send(fd, req, len, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "%s: send: %s\n", CTL_PROG, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t n = recv_msg(fd, buf, sizeof(buf));
		const char *s;
		size_t slen;

		if (n < 0)
			break;
		s = reply_text(buf, (size_t)n, &slen);
		if (!s || append(&txt, &tlen, s, slen) < 0)
			break;
		if (!((const struct hfs_msg_admin_reply *)buf)->more)
			return txt;
	}
	free(txt);
	return NULL;
}

char *ctl_query_mnt(const char *mnt, const void *req, size_t len)
{
	int fd = ctl_connect(mnt);
	char *txt;

	if (fd < 0)
		return NULL;
	txt = ctl_query(fd, req, len);
	close(fd);
	return txt;
}

json_object *ctl_parse_reply(char *txt)
{
	json_object *doc = NULL;

	if (txt && !(doc = json_tokener_parse(txt)))
		fprintf(stderr, "%s: the daemon sent invalid JSON\n", CTL_PROG);
	free(txt);
	return doc;
}

json_object *ctl_get_status(const char *mnt)
{
	struct hfs_msg_hdr h = { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				 HFS_MSG_ADMIN_STATUS, sizeof(h), 0, 1 };

	return ctl_parse_reply(ctl_query_mnt(mnt, &h, sizeof(h)));
}

pid_t ctl_daemon_pid(const char *mnt)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd = ctl_connect(mnt), r;

	if (fd < 0)
		return -1;
	r = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
	close(fd);
	return r < 0 ? -1 : cr.pid;
}

char *ctl_region_of(const char *mnt)
{
	char *real = realpath(mnt, NULL), *line = NULL, *res = NULL;
	size_t cap = 0;
	FILE *f;

	if (!real || !(f = fopen("/proc/self/mountinfo", "re"))) {
		free(real);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		char mp[4096], fstype[64], src[4096];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*u %*u %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s %4095s", fstype, src) != 2)
			continue;
		if (!strcmp(mp, real) && !strncmp(fstype, "fuse.holdfs", 11)) {
			free(res);
			res = strdup(src);
		}
	}
	free(line);
	fclose(f);
	free(real);
	return res;
}
