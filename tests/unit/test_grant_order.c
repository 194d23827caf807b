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
 * client's LEASE_REQ for the unit past the new end.  The messages the
 * client reads must be the REVOKE, then the LEASE_OK.
 *
 * check_file wants the client's descriptor on the mount with the
 * volume's inode number: a tmpfs of our own (a private mount namespace,
 * gone with the process) numbers its files from 2 as the volume does.
 * Needs CAP_SYS_ADMIN for that; without it the test says SKIP.
 */
#include "daemon.h"
#include "ctl_i.h"
#include "ctl_ring_i.h"
#include "ctl_send.h"
#include "deadline.h"
#include "lease_i.h"
#include "msg_table.h"
#include "revoke.h"
#include "revoke_i.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "mkfs.h"

#include "check.h"

#define REGION_SIZE (64u << 20)
#define WAIT_MS 5000

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

/* What the ring loop does with the completions of our sends: the next
 * queued message of the client goes on the ring. */
static void pump(struct hfsd_ctl *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_submit(&c->ring);
	io_uring_for_each_cqe(&c->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);

		if ((ud & TAG_MASK) == TAG_SEND)
			(void)hfsd_ctl_send_done(c, p, cqe->res);
		else if ((ud & TAG_MASK) == TAG_TIMER)
			(void)hfsd_ctl_timer_done(c, p, cqe->res);
		n++;
	}
	io_uring_cq_advance(&c->ring, n);
	io_uring_submit(&c->ring);
}

/* The next message the client reads (its type), or 0 after WAIT_MS;
 * a descriptor passed with it is closed.  *id: its header id. */
static unsigned next_msg(struct hfsd_ctl *c, int sock, uint64_t *id,
			 void *body, size_t cap)
{
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		char buf[4096], cb[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cb,
				     .msg_controllen = sizeof(cb) };
		struct pollfd pfd = { sock, POLLIN, 0 };
		ssize_t k;

		pump(c);
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		k = recvmsg(sock, &mh, MSG_DONTWAIT);
		if (k < (ssize_t)sizeof(struct hfs_msg_hdr))
			continue;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			int fd;

			if (cm->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			close(fd);
		}
		*id = ((struct hfs_msg_hdr *)buf)->id;
		if (body)
			memcpy(body, buf, (size_t)k < cap ? (size_t)k : cap);
		return ((struct hfs_msg_hdr *)buf)->type;
	}
	return 0;
}

static void lease_req(struct hfsd_ctl *c, struct hfsd_client *cl, int fd,
		      uint64_t id, uint64_t off, uint64_t len)
{
	struct hfs_msg_lease_req m;

	memset(&m, 0, sizeof(m));
	hfsd_msg_init(&m.h, HFS_MSG_LEASE_REQ, sizeof(m), id);
	m.offset = off;
	m.length = len;
	m.prot = HFS_PROT_READ | HFS_PROT_WRITE;
	/* the ring thread's step for one LEASE_REQ: the handler, then the
	 * jobs (ctl_server.c ring_main) */
	hfsd_on_lease_req(c, cl, &m, dup(fd));
	hfsd_lease_run_jobs(c);
}

/* A private tmpfs at dir; a file on it whose inode number is ino, open
 * read-write (-1 and a message if that cannot be had; -2: no privilege
 * for the mount). */
static int twin_file(const char *dir, uint64_t ino, dev_t *dev)
{
	struct stat st;
	char p[4200];

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("holdfs-test", dir, "tmpfs", 0, "size=1m")) {
		fprintf(stderr, "SKIP: a private tmpfs: %s\n", strerror(errno));
		return -2;
	}
	for (unsigned k = 0; k < 64; k++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%u", dir, k);
		fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || fstat(fd, &st)) {
			perror(p);
			return -1;
		}
		if (st.st_ino == ino) {
			*dev = st.st_dev;
			return fd;
		}
		close(fd);
		if (st.st_ino > ino)
			break;
	}
	fprintf(stderr, "no tmpfs file numbered %llu\n",
		(unsigned long long)ino);
	return -1;
}

static struct hfsd_client *client_new(int fd)
{
	struct hfsd_client *cl = calloc(1, sizeof(*cl));

	cl->cid = 1;
	cl->client_id = 1;
	cl->fd = fd;
	cl->pidfd = -1;
	cl->region_fd[0] = cl->region_fd[1] = -1;
	for (unsigned m = 0; m < HFS_MEMBERS_MAX; m++)
		cl->member_fd[m][0] = cl->member_fd[m][1] = -1;
	cl->pid = getpid();
	cl->hello = true;
	return cl;
}

int main(void)
{
	void *mem = calloc(1, REGION_SIZE);
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t" };
	struct hfsd d = { 0 };
	struct hfsd_ctl *c = calloc(1, sizeof(*c));
	struct hfs_vol *vol;
	struct hfsd_client *cl;
	struct hfs_setattr sa = { .mask = HFS_SET_SIZE };
	union {
		struct hfs_msg_lease_ok ok;
		struct hfs_msg_error e;
	} body;
	struct hfs_attr a;
	char dir[] = "grant-order-XXXXXX";
	int sv[2], tfd, mfd;
	uint64_t u, id, revoke_at = 0, ok_at = 0;
	unsigned t, seq = 0;
	char *buf;

	if (!mem || !c || hfs_region_from_memory(mem, REGION_SIZE, &rg) ||
	    hfs_mkfs(rg, &o, &res, &err) ||
	    hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	CHECK_EQ(hfs_mknod(vol, HFS_ROOT_INO, "f", S_IFREG | 0644, 0,
			   &root_cred, &a), 0);
	CHECK_EQ(hfs_open(vol, a.ino), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	tfd = twin_file(dir, a.ino, &c->mnt_dev);
	if (tfd < 0) {
		(void)umount2(dir, MNT_DETACH);
		rmdir(dir);
		return tfd == -2 ? 77 : 1;
	}

	/* the control side, its ring and one client; the test is the ring
	 * thread (and the FUSE thread that truncates) */
	d.rg = rg;
	d.vol = vol;
	c->d = &d;
	c->mnt_dev_ok = true;
	pthread_mutex_init(&c->lock, NULL);
	hfsd_cond_init_monotonic(&c->cond);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->revoke_ms = 60000; /* no deadline passes while we look */
	c->region_size = REGION_SIZE;
	c->alloc_unit = u = hfs_vol_alloc_unit(vol);
	mfd = memfd_create("region", MFD_CLOEXEC);
	c->region_rw = mfd;
	c->region_ro = mfd;
	CHECK_EQ(io_uring_queue_init(64, &c->ring, 0), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cl = client_new(sv[0]);
	c->clients = cl;
	hfsd_lease_table_init(c);
	hfsd_revoke_hooks_install(c);

	/* four units of data, leased for writing */
	buf = malloc(4 * u);
	memset(buf, 'd', 4 * u);
	CHECK_EQ(hfs_write(vol, a.ino, buf, 4 * u, 0), (ssize_t)(4 * u));
	free(buf);
	lease_req(c, cl, tfd, 1, 0, 4 * u);
	CHECK_EQ(next_msg(c, sv[1], &id, NULL, 0), HFS_MSG_LEASE_OK);

	/* a truncate to one unit frees three of them: a REVOKE job for the
	 * lease, queued (a FUSE thread would wake the ring) */
	sa.size = u;
	CHECK_EQ(hfs_setattr(vol, a.ino, &sa, &a), 0);
	pthread_mutex_lock(&c->lock);
	CHECK(c->jobs != NULL);
	pthread_mutex_unlock(&c->lock);

	/* the client's next grant (a direct writer would ask for the units
	 * past the new end with an extend lease: a data-path grant, which
	 * needs the slot area; any grant's reply goes the same way) */
	lease_req(c, cl, tfd, 2, 0, u);
	while ((t = next_msg(c, sv[1], &id, &body, sizeof(body))) != 0) {
		seq++;
		if (t == HFS_MSG_ERROR)
			fprintf(stderr, "error %d: %.96s\n", body.e.err, body.e.msg);
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

	hfsd_revoke_hooks_remove(c);
	pthread_mutex_lock(&c->lock);
	cl->closing = true;
	hfsd_lease_drop_client_locked(c, NULL);
	for (struct hfsd_job *j = c->jobs, *n; j; j = n) {
		n = j->next;
		hfsd_job_free(j);
	}
	c->jobs = NULL;
	pthread_mutex_unlock(&c->lock);
	io_uring_queue_exit(&c->ring);
	while (c->inflight) {
		struct ctl_op *op = c->inflight;

		hfsd_op_unlink(c, op);
		free(op);
	}
	for (int i = 0; i < 2; i++)
		if (cl->region_fd[i] >= 0 &&
		    (i == 0 || cl->region_fd[1] != cl->region_fd[0]))
			close(cl->region_fd[i]);
	free(cl);
	close(sv[0]);
	close(sv[1]);
	close(mfd);
	close(tfd);
	close(c->efd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	hfs_release(vol, a.ino);
	CHECK_EQ(hfs_vol_close(vol), 0);
	hfs_region_close(rg);
	free(mem);
	(void)umount2(dir, MNT_DETACH);
	rmdir(dir);
	if (failures) {
		fprintf(stderr, "test_grant_order: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_grant_order: ok\n");
	return 0;
}
