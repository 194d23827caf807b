/* SPDX-License-Identifier: MIT */
/*
 * rawclient: a lease protocol client that speaks include/holdfs/proto.h
 * directly (no client library), for tests/dax/test_dax.py.
 *
 *   rawclient hello FILE
 *   rawclient lease FILE OFF LEN r|w [--open ro|rw|wo|rwa] [--hold-ms N]
 *             [--noack] [--fill BYTE [--persist]] [--expect BYTE]
 *             [--ready PATH] [--go PATH (fill once PATH exists)]
 *             [--members (HELLO says HFS_HELLO_MEMBERS; MEMBER messages
 *              printed "MEMBER index=I base=B size=S prot=P fd=yes|no")]
 *             [--poison OFF (after LEASE_OK: a POISON of region offset
 *              OFF, length 0)]
 *   rawclient bad FILE KIND
 *
 * Prints one line per event ("HELLO_OK ...", "LEASE_OK id=...",
 * "ERROR errno=N", "REVOKE ...", "REMAP ...", "RELEASED", "CLOSED") and
 * exits 0 unless the protocol broke in a way the caller did not ask for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

static uint64_t next_id = 1;

static int ctl_connect(const char *file)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (stat(file, &st) < 0) {
		perror(file);
		exit(2);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), HFS_CTL_DIR "/dev/%u:%u",
		 major(st.st_dev), minor(st.st_dev));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(sa.sun_path);
		exit(2);
	}
	return fd;
}

static void hdr(struct hfs_msg_hdr *h, uint16_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = HFS_PROTO_MAGIC;
	h->version = HFS_PROTO_VERSION;
	h->type = type;
	h->len = len;
	h->id = next_id++;
}

static int send_fd(int s, const void *buf, size_t len, int fd)
{
	struct {
		_Alignas(struct cmsghdr) char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		m.msg_control = cb.b;
		m.msg_controllen = sizeof(cb.b);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(s, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Receive one message (timeout ms); returns length, 0 on EOF, -1 on
 * timeout.  *fd gets a passed descriptor or -1. */
static ssize_t recv_msg(int s, void *buf, size_t cap, int *fd, int ms)
{
	struct {
		_Alignas(struct cmsghdr) char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	struct pollfd p = { s, POLLIN, 0 };
	ssize_t n;

	*fd = -1;
	if (poll(&p, 1, ms) <= 0)
		return -1;
	n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return 0; /* ECONNRESET counts as closed */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm;
	     cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

static uint8_t rbuf[HFS_MSG_MAX];
static uint32_t hello_flags;

static int hello(int s, bool quiet)
{
	struct hfs_msg_hello m = { 0 };
	const struct hfs_msg_hdr *h = (void *)rbuf;
	ssize_t n;
	int fd;

	hdr(&m.h, HFS_MSG_HELLO, sizeof(m));
	m.pid = (uint32_t)getpid();
	m.flags = hello_flags;
	send_fd(s, &m, sizeof(m), -1);
	n = recv_msg(s, rbuf, sizeof(rbuf), &fd, 5000);
	if (n <= 0) {
		printf("CLOSED\n");
		return -1;
	}
	if (h->type == HFS_MSG_ERROR) {
		printf("ERROR errno=%d %s\n", ((struct hfs_msg_error *)rbuf)->err,
		       ((struct hfs_msg_error *)rbuf)->msg);
		n = recv_msg(s, rbuf, sizeof(rbuf), &fd, 5000);
		printf("%s\n", n == 0 ? "CLOSED" : "OPEN");
		return -1;
	}
	if (fd >= 0)
		close(fd); /* the coherence table */
	if (!quiet) {
		const struct hfs_msg_hello_ok *r = (void *)rbuf;

		printf("HELLO_OK region_size=%llu alloc_unit=%u revoke_ms=%u "
		       "coh_slots=%u coh_fd=%s\n",
		       (unsigned long long)r->region_size, r->alloc_unit,
		       r->revoke_ms, r->coh_slots, fd >= 0 ? "yes" : "no");
	}
	return 0;
}

static int cmd_lease(int argc, char **argv)
{
	const char *file = argv[2], *ready = NULL, *open_mode = NULL;
	const char *go = NULL;
	uint64_t off = strtoull(argv[3], NULL, 0), len = strtoull(argv[4], NULL, 0);
	bool w = argv[5][0] == 'w', noack = false, persist = false;
	int hold_ms = 0, fill = -1, expect = -1, s, ffd, rfd = -1, oflags;
	int extra = 0; /* more leases: the next ranges of the same length */
	uint64_t poison = 0;
	bool do_poison = false;
	struct hfs_msg_lease_req q = { 0 };
	struct hfs_msg_lease_ok *r = (void *)rbuf;
	uint8_t *map = NULL;
	size_t map_len = 0;  /* e[] lives in rbuf, which later replies reuse */
	ssize_t n;

	for (int i = 6; i < argc; i++) {
		if (!strcmp(argv[i], "--open") && i + 1 < argc)
			open_mode = argv[++i];
		else if (!strcmp(argv[i], "--hold-ms") && i + 1 < argc)
			hold_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--noack"))
			noack = true;
		else if (!strcmp(argv[i], "--persist"))
			persist = true;
		else if (!strcmp(argv[i], "--go") && i + 1 < argc)
			go = argv[++i];
		else if (!strcmp(argv[i], "--fill") && i + 1 < argc)
			fill = (int)strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = (int)strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--extra") && i + 1 < argc)
			extra = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--members"))
			hello_flags |= HFS_HELLO_MEMBERS;
		else if (!strcmp(argv[i], "--poison") && i + 1 < argc)
			poison = strtoull(argv[++i], NULL, 0), do_poison = true;
	}
	oflags = w ? O_RDWR : O_RDONLY;
	if (open_mode)
		oflags = !strcmp(open_mode, "ro") ? O_RDONLY
			 : !strcmp(open_mode, "wo") ? O_WRONLY
			 : !strcmp(open_mode, "rwa") ? O_RDWR | O_APPEND
			 : O_RDWR;
	s = ctl_connect(file);
	if (hello(s, true) < 0)
		return 1;
	ffd = open(file, oflags | O_CLOEXEC);
	if (ffd < 0) {
		perror(file);
		return 2;
	}
	hdr(&q.h, HFS_MSG_LEASE_REQ, sizeof(q));
	q.offset = off;
	q.length = len;
	q.prot = w ? HFS_PROT_READ | HFS_PROT_WRITE : HFS_PROT_READ;
	send_fd(s, &q, sizeof(q), ffd);
	close(ffd);
	n = recv_msg(s, rbuf, sizeof(rbuf), &rfd, 10000);
	while (n > 0 && r->h.type == HFS_MSG_MEMBER) {
		const struct hfs_msg_member *mm = (void *)rbuf;

		printf("MEMBER index=%u base=%llu size=%llu prot=%u fd=%s\n",
		       mm->index, (unsigned long long)mm->base,
		       (unsigned long long)mm->size, mm->prot,
		       rfd >= 0 ? "yes" : "no");
		if (rfd >= 0)
			close(rfd);
		n = recv_msg(s, rbuf, sizeof(rbuf), &rfd, 10000);
	}
	if (n <= 0) {
		printf("CLOSED\n");
		return 1;
	}
	if (r->h.type == HFS_MSG_ERROR) {
		printf("ERROR errno=%d %s\n", ((struct hfs_msg_error *)rbuf)->err,
		       ((struct hfs_msg_error *)rbuf)->msg);
		return 0;
	}
	if (r->h.type != HFS_MSG_LEASE_OK ||
	    n != (ssize_t)(sizeof(*r) + r->nextents * sizeof(struct hfs_lease_extent))) {
		printf("BADREPLY type=%u len=%zd\n", r->h.type, n);
		return 1;
	}
	{
		struct hfs_lease_extent *e = (void *)(r + 1);
		uint64_t lease = r->lease_id;

		printf("LEASE_OK id=%llu ino=%llu n=%u fd=%s", (unsigned long long)lease,
		       (unsigned long long)r->ino, r->nextents, rfd >= 0 ? "yes" : "no");
		for (uint32_t i = 0; i < r->nextents; i++)
			printf(" %llx+%llx@%llx%s", (unsigned long long)e[i].file_off,
			       (unsigned long long)e[i].len,
			       (unsigned long long)e[i].region_off,
			       e[i].flags & HFS_LEXT_HOLE ? "(hole)" : "");
		printf("\n");
		fflush(stdout);
		for (int k = 1; k <= extra; k++) {
			struct hfs_msg_lease_req xq = q;
			int xfd = open(file, oflags | O_CLOEXEC), dfd;

			hdr(&xq.h, HFS_MSG_LEASE_REQ, sizeof(xq));
			xq.offset = off + (uint64_t)k * len;
			send_fd(s, &xq, sizeof(xq), xfd);
			close(xfd);
			/* r/rbuf reused: only the first lease's extents are
			 * needed below, so read the extra replies elsewhere */
			static uint8_t xbuf[HFS_MSG_MAX];
			n = recv_msg(s, xbuf, sizeof(xbuf), &dfd, 10000);
			if (dfd >= 0)
				close(dfd);
			if (n <= 0 || ((struct hfs_msg_hdr *)xbuf)->type != HFS_MSG_LEASE_OK) {
				printf("EXTRA_FAILED %d\n", k);
				return 1;
			}
		}
		if (extra)
			printf("EXTRA_OK %d\n", extra);
		if (do_poison) {
			struct hfs_msg_range pm = { 0 };

			hdr(&pm.h, HFS_MSG_POISON, sizeof(pm));
			pm.lease_id = lease;
			pm.offset = poison;
			send_fd(s, &pm, sizeof(pm), -1);
			printf("POISON_SENT %llu\n", (unsigned long long)poison);
			fflush(stdout);
		}
		/* map the first extent and touch it */
		if (rfd >= 0 && r->nextents && !(e[0].flags & HFS_LEXT_HOLE)) {
			map_len = e[0].len;
			map = mmap(NULL, map_len, w ? PROT_READ | PROT_WRITE
						     : PROT_READ, MAP_SHARED,
				   rfd, (off_t)e[0].region_off);
			if (map == MAP_FAILED) {
				perror("mmap region");
				return 1;
			}
			if (go) { /* --ready first, then wait for the go file */
				if (ready) {
					int t = open(ready, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

					if (t >= 0)
						close(t);
					ready = NULL;
				}
				for (int k = 0; k < 1000 && access(go, F_OK); k++)
					usleep(10000);
			}
			if (fill >= 0 && w) {
				memset(map, fill, e[0].len);
				msync(map, e[0].len, MS_SYNC);
				printf("FILLED %llu\n", (unsigned long long)e[0].len);
				if (persist) {
					struct hfs_msg_range pm = { 0 };
					struct hfs_msg_lease_ref pok = { 0 };
					int dfd0;

					hdr(&pm.h, HFS_MSG_PERSISTED, sizeof(pm));
					pm.lease_id = lease;
					pm.offset = e[0].file_off;
					pm.length = e[0].len;
					send_fd(s, &pm, sizeof(pm), -1);
					/* the page cache is invalidated once
					 * PERSISTED_OK (same id) arrives */
					n = recv_msg(s, &pok, sizeof(pok), &dfd0, 5000);
					if (dfd0 >= 0)
						close(dfd0);
					printf("%s\n", n == (ssize_t)sizeof(pok) &&
					       pok.h.type == HFS_MSG_PERSISTED_OK &&
					       pok.h.id == pm.h.id &&
					       pok.lease_id == lease ? "PERSISTED_OK"
								     : "PERSISTED_FAILED");
				}
			}
			if (expect >= 0)
				printf("BYTE0 %s\n", map[0] == expect ? "match"
								     : "mismatch");
		}
		if (ready) {
			int t = open(ready, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

			if (t >= 0)
				close(t);
		}
		fflush(stdout);
		/* serve REVOKE / REMAP for hold_ms */
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			int left, dfd;
			const struct hfs_msg_hdr *h = (void *)rbuf;

			clock_gettime(CLOCK_MONOTONIC, &t1);
			left = hold_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
					       (t1.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0)
				break;
			n = recv_msg(s, rbuf, sizeof(rbuf), &dfd, left);
			if (n < 0)
				break;
			if (n == 0) {
				printf("CLOSED\n");
				return 1;
			}
			if (h->type == HFS_MSG_REVOKE || h->type == HFS_MSG_REMAP) {
				struct hfs_msg_lease_ref a = { 0 };

				if (h->type == HFS_MSG_REVOKE) {
					const struct hfs_msg_revoke *v = (void *)rbuf;
					const struct hfs_revoke_range *rr = (void *)(v + 1);

					if (v->nranges == 0 ||
					    (size_t)n != sizeof(*v) + v->nranges * sizeof(*rr))
						printf("BAD_REVOKE n=%u len=%zd\n", v->nranges, n);
					printf("REVOKE_MSG id=%llu nranges=%u\n",
					       (unsigned long long)h->id, v->nranges);
					/* one line per range: one REVOKE carries
					 * every range of this client in a round */
					for (uint32_t i = 0; i < v->nranges &&
					     (size_t)n >= sizeof(*v) + (i + 1) * sizeof(*rr); i++)
						printf("REVOKE lease=%llu off=%llu len=%llu reason=%u\n",
						       (unsigned long long)rr[i].lease_id,
						       (unsigned long long)rr[i].offset,
						       (unsigned long long)rr[i].length, v->reason);
					if (map && !noack)
						mprotect(map, map_len, PROT_NONE);
				} else {
					const struct hfs_msg_remap *v = (void *)rbuf;
					const struct hfs_lease_extent *x = (void *)(v + 1);

					printf("REMAP lease=%llu n=%u", (unsigned long long)v->lease_id,
					       v->nextents);
					for (uint32_t i = 0; i < v->nextents; i++)
						printf(" %llx+%llx@%llx%s",
						       (unsigned long long)x[i].file_off,
						       (unsigned long long)x[i].len,
						       (unsigned long long)x[i].region_off,
						       x[i].flags & HFS_LEXT_HOLE ? "(hole)" : "");
					printf("\n");
				}
				fflush(stdout);
				if (noack)
					continue;
				hdr(&a.h, h->type == HFS_MSG_REVOKE ? HFS_MSG_REVOKE_ACK
								    : HFS_MSG_REMAP_ACK,
				    sizeof(a));
				a.h.id = h->id;
				a.lease_id = h->type == HFS_MSG_REVOKE ? 0 :
					((const struct hfs_msg_remap *)rbuf)->lease_id;
				send_fd(s, &a, sizeof(a), -1);
			} else {
				printf("UNEXPECTED type=%u\n", h->type);
			}
		}
		{
			struct hfs_msg_lease_ref rel = { 0 };
			int dfd;

			hdr(&rel.h, HFS_MSG_RELEASE, sizeof(rel));
			rel.lease_id = lease;
			send_fd(s, &rel, sizeof(rel), -1);
			n = recv_msg(s, rbuf, sizeof(rbuf), &dfd, 5000);
			printf("%s\n", n > 0 && ((struct hfs_msg_hdr *)rbuf)->type ==
						       HFS_MSG_RELEASE_OK
					       ? "RELEASED" : "RELEASE_FAILED");
		}
	}
	return 0;
}

/* Send one malformed or out-of-order message; print CLOSED if the daemon
 * closes the connection (what it must do), OPEN otherwise. */
static int cmd_bad(const char *file, const char *kind)
{
	uint8_t buf[HFS_MSG_MAX + 64];
	struct hfs_msg_hdr *h = (void *)buf;
	size_t len = sizeof(struct hfs_msg_hello);
	int s = ctl_connect(file), fd = -1, dfd;
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	hdr(h, HFS_MSG_HELLO, (uint32_t)len);
	if (!strcmp(kind, "short")) {
		len = 10;
	} else if (!strcmp(kind, "badmagic")) {
		h->magic = 0x12345678;
	} else if (!strcmp(kind, "badversion")) {
		h->version = 9;
	} else if (!strcmp(kind, "lenmismatch")) {
		h->len = 40;
	} else if (!strcmp(kind, "truncated")) {
		hdr(h, HFS_MSG_LEASE_REQ, 40);
		len = 40;
		fd = open(file, O_RDONLY | O_CLOEXEC);
	} else if (!strcmp(kind, "oversize")) {
		len = HFS_MSG_MAX + 16;
		h->len = (uint32_t)len;
	} else if (!strcmp(kind, "unknowntype")) {
		h->type = 77;
	} else if (!strcmp(kind, "daemontype")) {
		h->type = HFS_MSG_REVOKE;
	} else if (!strcmp(kind, "persistedok")) { /* d->c only */
		if (hello(s, true) < 0)
			return 1;
		hdr(h, HFS_MSG_PERSISTED_OK, sizeof(struct hfs_msg_lease_ref));
		len = sizeof(struct hfs_msg_lease_ref);
	} else if (!strcmp(kind, "strayfd")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
	} else if (!strcmp(kind, "leasenofd")) {
		if (hello(s, true) < 0)
			return 1;
		hdr(h, HFS_MSG_LEASE_REQ, sizeof(struct hfs_msg_lease_req));
		len = sizeof(struct hfs_msg_lease_req);
		((struct hfs_msg_lease_req *)buf)->prot = HFS_PROT_READ;
	} else if (!strcmp(kind, "leasebeforehello")) {
		hdr(h, HFS_MSG_LEASE_REQ, sizeof(struct hfs_msg_lease_req));
		len = sizeof(struct hfs_msg_lease_req);
		((struct hfs_msg_lease_req *)buf)->prot = HFS_PROT_READ;
		fd = open(file, O_RDONLY | O_CLOEXEC);
	} else if (!strcmp(kind, "unknownack")) {
		if (hello(s, true) < 0)
			return 1;
		hdr(h, HFS_MSG_REVOKE_ACK, sizeof(struct hfs_msg_lease_ref));
		len = sizeof(struct hfs_msg_lease_ref);
		h->id = 4242;
	} else if (!strcmp(kind, "doublehello")) {
		if (hello(s, true) < 0)
			return 1;
		hdr(h, HFS_MSG_HELLO, (uint32_t)len);
	} else if (strcmp(kind, "good")) {
		fprintf(stderr, "unknown kind %s\n", kind);
		return 2;
	}
	if (send_fd(s, buf, len, fd) < 0) {
		/* oversize may be refused by the socket itself */
		printf("SENDFAIL %s\n", strerror(errno));
		return 0;
	}
	n = recv_msg(s, rbuf, sizeof(rbuf), &dfd, 3000);
	if (n > 0 && ((struct hfs_msg_hdr *)rbuf)->type == HFS_MSG_HELLO_OK &&
	    strcmp(kind, "good"))
		n = recv_msg(s, rbuf, sizeof(rbuf), &dfd, 3000);
	printf("%s\n", n == 0 ? "CLOSED" : n < 0 ? "OPEN" : "REPLY");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "hello")) {
		int s = ctl_connect(argv[2]);

		return hello(s, false) < 0 ? 1 : 0;
	}
	if (argc >= 6 && !strcmp(argv[1], "lease"))
		return cmd_lease(argc, argv);
	if (argc >= 4 && !strcmp(argv[1], "bad"))
		return cmd_bad(argv[2], argv[3]);
	fprintf(stderr, "usage: rawclient hello FILE | lease FILE OFF LEN r|w "
		"[opts] | bad FILE KIND\n");
	return 2;
}
