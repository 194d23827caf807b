/* SPDX-License-Identifier: MIT */
/* The control-side rig of ctl_rig.h. */
#include "ctl_rig.h"
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
#include <unistd.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "mkfs.h"

#define REGION_SIZE (64u << 20)
#define WAIT_MS 5000

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

void rig_pump(struct rig *r)
{
	struct hfsd_ctl *c = r->c;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t jobs[16];
	unsigned nj = 0;

	io_uring_submit(&c->ring);
	io_uring_for_each_cqe(&c->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);

		if ((ud & TAG_MASK) == TAG_SEND) {
			(void)hfsd_ctl_send_done(c, p, cqe->res);
		} else if ((ud & TAG_MASK) == TAG_TIMER) {
			uint64_t j = hfsd_ctl_timer_done(c, p, cqe->res);

			if (j && nj < 16)
				jobs[nj++] = j;
		}
		n++;
	}
	io_uring_cq_advance(&c->ring, n);
	for (unsigned i = 0; i < nj; i++)
		hfsd_lease_timeout(c, jobs[i]);
	io_uring_submit(&c->ring);
}

unsigned rig_next_msg(struct rig *r, uint64_t *id, void *body, size_t cap)
{
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		char buf[4096], cb[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cb,
				     .msg_controllen = sizeof(cb) };
		struct pollfd pfd = { r->peer, POLLIN, 0 };
		ssize_t k;

		rig_pump(r);
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		k = recvmsg(r->peer, &mh, MSG_DONTWAIT);
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

void rig_lease_req(struct rig *r, uint64_t id, uint64_t off, uint64_t len)
{
	struct hfs_msg_lease_req m;

	memset(&m, 0, sizeof(m));
	hfsd_msg_init(&m.h, HFS_MSG_LEASE_REQ, sizeof(m), id);
	m.offset = off;
	m.length = len;
	m.prot = HFS_PROT_READ | HFS_PROT_WRITE;
	hfsd_on_lease_req(r->c, r->cl, &m, dup(r->fd));
	hfsd_lease_run_jobs(r->c);
}

int rig_fill(struct rig *r, uint64_t data)
{
	char *buf = malloc(data);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	memset(buf, 'd', data);
	n = hfs_write(r->vol, r->ino, buf, data, 0);
	free(buf);
	return n == (ssize_t)data ? 0 : n < 0 ? (int)n : -EIO;
}

int rig_truncate(struct rig *r, uint64_t size)
{
	struct hfs_setattr sa = { .mask = HFS_SET_SIZE, .size = size };
	struct hfs_attr a;

	return hfs_setattr(r->vol, r->ino, &sa, &a);
}

/* A private tmpfs at dir; a file on it whose inode number is ino, open
 * read-write; -1 (said why), -2: no privilege for the mount. */
static int twin_file(const char *dir, uint64_t ino, dev_t *dev)
{
	struct stat st;
	char p[64];

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("holdfs-test", dir, "tmpfs", 0, "size=1m")) {
		fprintf(stderr, "SKIP: cannot mount a private tmpfs (%s): "
			"nothing tested\n", strerror(errno));
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

struct hfsd_client *rig_client(uint64_t cid, int fd)
{
	struct hfsd_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return NULL;
	cl->cid = cid;
	cl->client_id = (uint32_t)cid;
	cl->fd = fd;
	cl->pidfd = -1;
	cl->region_fd[0] = cl->region_fd[1] = -1;
	for (unsigned m = 0; m < HFS_MEMBERS_MAX; m++)
		cl->member_fd[m][0] = cl->member_fd[m][1] = -1;
	cl->pid = getpid();
	cl->hello = true;
	return cl;
}

int rig_open(struct rig *r)
{
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t" };
	struct hfsd_ctl *c;
	struct hfs_attr a;
	int sv[2];

	memset(r, 0, sizeof(*r));
	r->mem = calloc(1, REGION_SIZE);
	c = r->c = calloc(1, sizeof(*c));
	if (!r->mem || !c || hfs_region_from_memory(r->mem, REGION_SIZE, &r->rg) ||
	    hfs_mkfs(r->rg, &o, &res, &err) ||
	    hfs_vol_open(r->rg, NULL, &r->vol, NULL, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	if (hfs_mknod(r->vol, HFS_ROOT_INO, "f", S_IFREG | 0644, 0,
		      &root_cred, &a) || hfs_open(r->vol, a.ino)) {
		fprintf(stderr, "setup: cannot create the file\n");
		return 1;
	}
	r->ino = a.ino;
	snprintf(r->dir, sizeof(r->dir), "ctl-rig-XXXXXX");
	if (!mkdtemp(r->dir)) {
		perror("mkdtemp");
		return 1;
	}
	r->fd = twin_file(r->dir, r->ino, &c->mnt_dev);
	if (r->fd < 0) {
		int skip = r->fd == -2;

		(void)umount2(r->dir, MNT_DETACH);
		rmdir(r->dir);
		return skip ? 77 : 1;
	}
	r->d.rg = r->rg;
	r->d.vol = r->vol;
	c->d = &r->d;
	c->mnt_dev_ok = true;
	pthread_mutex_init(&c->lock, NULL);
	hfsd_cond_init_monotonic(&c->cond);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->revoke_ms = 60000; /* no deadline passes unless a test says */
	c->region_size = REGION_SIZE;
	c->alloc_unit = r->unit = hfs_vol_alloc_unit(r->vol);
	r->mfd = memfd_create("region", MFD_CLOEXEC);
	c->region_rw = c->region_ro = r->mfd;
	if (r->mfd < 0 || io_uring_queue_init(64, &c->ring, 0) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		perror("setup: memfd, ring or socketpair");
		return 1;
	}
	r->peer = sv[1];
	r->cl = c->clients = rig_client(1, sv[0]);
	if (!r->cl)
		return 1;
	hfsd_lease_table_init(c);
	hfsd_revoke_hooks_install(c);
	return 0;
}

void rig_drop_all(struct hfsd_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	hfsd_lease_drop_client_locked(c, NULL);
	for (struct hfsd_job *j = c->jobs, *n; j; j = n) {
		n = j->next;
		hfsd_job_free(j);
	}
	c->jobs = NULL;
	pthread_mutex_unlock(&c->lock);
}

void rig_close(struct rig *r)
{
	struct hfsd_ctl *c = r->c;
	struct hfsd_client *cl = r->cl;

	hfsd_revoke_hooks_remove(c);
	pthread_mutex_lock(&c->lock);
	cl->closing = true;
	pthread_mutex_unlock(&c->lock);
	rig_drop_all(c);
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
	if (cl->pidfd >= 0)
		close(cl->pidfd);
	close(cl->fd);
	free(cl);
	close(r->peer);
	close(r->mfd);
	close(r->fd);
	close(c->efd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	hfs_release(r->vol, r->ino);
	(void)hfs_vol_close(r->vol);
	hfs_region_close(r->rg);
	free(r->mem);
	(void)umount2(r->dir, MNT_DETACH);
	rmdir(r->dir);
}
