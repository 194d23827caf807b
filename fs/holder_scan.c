/* SPDX-License-Identifier: MIT */
/*
 * Finding every process that still holds what a DAX client was given
 * (docs/lease-protocol.md, "Deadlines"; revoke.c kills them).
 *
 * Killing the pid that connected is not enough: a client can fork and
 * exit, and the child keeps the socket, the region descriptor and the
 * mappings.  So when a holder misses its deadline the daemon looks, in
 * /proc, for every process (but itself) that has
 *
 *  - the client's end of the connection: the peer inode of the daemon's
 *    socket, from the kernel's unix socket diagnostics (sock_diag,
 *    UDIAG_SHOW_PEER), matched against "socket:[ino]" in /proc/PID/fd;
 *  - a descriptor of the region description handed to that client: each
 *    client gets its own open file description of the region, so
 *    kcmp(KCMP_FILE) tells this client's from every other client's;
 *  - a mapping of the region bytes being revoked, from /proc/PID/maps
 *    (device and inode of the region, the mapping's file offset) --
 *    unless the process is itself a client that maps those bytes under a
 *    lease of its own that the same revocation is still waiting for:
 *    two clients of one file map the same blocks, and one going away
 *    must not get the other killed; that one acks (and unmaps) or meets
 *    the deadline itself.
 *
 * Limits (also in the docs): processes in another pid namespace, or
 * hidden from this /proc, are not seen; the daemon must be able to read
 * /proc/PID/{fd,maps} (it runs as root); the scan costs O(processes +
 * their descriptors and mappings) and runs only when a deadline passed.
 */
#include "holder_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "grow.h"

ino_t hfsd_unix_peer_ino(int fd)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u,
		       .udiag_show = UDIAG_SHOW_PEER,
		       .udiag_cookie = { ~0u, ~0u } },
	};
	_Alignas(struct nlmsghdr) char buf[1024];
	struct timeval tv = { 1, 0 }; /* a bounded wait, like all others */
	struct stat st;
	ino_t peer = 0;
	ssize_t n;
	int nl;

	if (fstat(fd, &st) < 0)
		return 0;
	req.r.udiag_ino = (uint32_t)st.st_ino;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return 0;
	setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req) &&
	    (n = recv(nl, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (NLMSG_OK(h, (size_t)n) &&
		    h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			struct unix_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a = (struct rtattr *)(m + 1);
			int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));

			for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == UNIX_DIAG_PEER &&
				    RTA_PAYLOAD(a) >= (int)sizeof(uint32_t))
					peer = *(uint32_t *)RTA_DATA(a);
		}
	}
	close(nl);
	return peer;
}

/* Does pid have one of k's descriptors (the client's socket end, one of
 * its region descriptions)? */
static bool holds_fd(const struct hfsd_holder_key *k, pid_t pid)
{
	char dir[64], path[64 + 256], link[64];
	bool found = false;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		struct statx st;
		ssize_t n;
		int tfd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (k->sock_peer && !strncmp(link, "socket:[", 8) &&
			    strtoull(link + 8, NULL, 10) ==
				    (unsigned long long)k->sock_peer) {
				found = true;
				continue;
			}
		}
		/* AT_STATX_DONT_SYNC: the descriptor may be a file of this
		 * very mount, and a plain stat() would send this daemon a
		 * GETATTR that waits for a free FUSE worker -- while every
		 * worker may be waiting for this scan's holder to go (a
		 * write waiting on an unacked REMAP). The device and inode
		 * numbers never need the filesystem's answer. */
		if (!k->region_ino ||
		    statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_INO,
			  &st) < 0 ||
		    makedev(st.stx_dev_major, st.stx_dev_minor) !=
			    k->region_dev ||
		    st.stx_ino != k->region_ino)
			continue;
		tfd = atoi(de->d_name);
		for (int i = 0; i < 2 && !found; i++)
			found = k->region_fd[i] >= 0 &&
				syscall(SYS_kcmp, getpid(), pid, KCMP_FILE,
					k->region_fd[i], tfd) == 0;
	}
	closedir(d);
	return found;
}

/* Does pid map region bytes [k->rs, k->re)? */
static bool maps_range(const struct hfsd_holder_key *k, pid_t pid)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	if (k->rs >= k->re || !k->region_ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off, ino;
		unsigned maj, min;

		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &lo, &hi,
			   &off, &maj, &min, &ino) != 6)
			continue;
		found = makedev(maj, min) == k->region_dev &&
			ino == (unsigned long long)k->region_ino &&
			off < k->re && off + (hi - lo) > k->rs;
	}
	fclose(f);
	return found;
}

static bool owner(const struct hfsd_holder_key *k, pid_t pid)
{
	for (size_t i = 0; i < k->nowners; i++)
		if (k->owners[i] == pid)
			return true;
	return false;
}

int hfsd_holders_find(const struct hfsd_holder_key *k, pid_t **pids,
		      size_t *n)
{
	pid_t self = getpid(), *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	*pids = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		if (!holds_fd(k, (pid_t)pid) &&
		    (owner(k, (pid_t)pid) || !maps_range(k, (pid_t)pid)))
			continue;
		if (hfs_grow(&v, &cap, *n + 1, sizeof(*v))) {
			closedir(d);
			*pids = v;
			return -ENOMEM; /* what was found is kept */
		}
		v[(*n)++] = (pid_t)pid;
	}
	closedir(d);
	*pids = v;
	return 0;
}
