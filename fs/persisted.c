/* SPDX-License-Identifier: MIT */
/*
 * PERSISTED, answered off the ring thread.
 *
 * Answering a PERSISTED means invalidating kernel pages
 * (fuse_lowlevel_notify_inval_inode), and the kernel waits for every page
 * that is locked for I/O: a page write(2) is filling stays locked until
 * the daemon answers that WRITE.  If that WRITE filled a hole a read lease
 * maps, its FUSE thread waits for the ring to send REMAP and collect the
 * acks (the fill hook).  Invalidating on the ring thread would then stall
 * both until the fill hook's deadline.  So the ring only validates a
 * PERSISTED and queues it; one worker thread invalidates (through the
 * coherence table, fs/coherence.h) and queues the answer; the ring sends
 * it (it owns the sockets) when the eventfd wakes it.  Answers name the
 * client by its connection id: the client may be gone by then.
 */
#include "coherence.h"
#include "ctl_i.h"
#include "ctl_send.h"
#include "deadline.h"
#include "persisted.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct hfsd_pw_item {
	struct hfsd_pw_item *next;
	uint64_t cid, msg_id, lease_id;
	uint64_t ino, off, len;
	int err;                   /* result, once done */
};

/* What the worker uses: its own copies, so a worker left blocked at
 * shutdown (hfsd_persisted_stop) touches nothing the control server
 * frees. */
struct hfsd_pw {
	struct fuse_session *se;
	struct hfsd_coh *coh;
	int efd;                   /* a dup of the ring's eventfd */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hfsd_pw_item *todo, **todo_tail;
	struct hfsd_pw_item *done;
	bool stop;
	bool exited;
};

static int inval_cb(void *ctx, uint64_t ino, uint64_t off, uint64_t len)
{
	struct hfsd_pw *pw = ctx;
	int r = fuse_lowlevel_notify_inval_inode(pw->se, ino, (off_t)off,
						 (off_t)len);

	/* -ENOENT: the kernel has no inode, so no cached pages */
	return r == -ENOENT ? 0 : r;
}

static void *worker(void *arg)
{
	struct hfsd_pw *pw = arg;
	struct hfsd_pw_item *it;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), "holdfs-persist");
	pthread_mutex_lock(&pw->lock);
	for (;;) {
		while (!pw->todo && !pw->stop)
			pthread_cond_wait(&pw->cond, &pw->lock);
		if (pw->stop)
			break;
		it = pw->todo;
		pw->todo = it->next;
		if (!pw->todo)
			pw->todo_tail = &pw->todo;
		pthread_mutex_unlock(&pw->lock);
		it->err = hfsd_coh_persisted(pw->coh, it->ino, it->off, it->len,
					     inval_cb, pw);
		pthread_mutex_lock(&pw->lock);
		it->next = pw->done;
		pw->done = it;
		pthread_mutex_unlock(&pw->lock);
		if (write(pw->efd, &one, sizeof(one)) < 0)
			hfsd_log(LOG_ERR, "control: eventfd: %s", strerror(errno));
		pthread_mutex_lock(&pw->lock);
	}
	pw->exited = true;
	pthread_cond_broadcast(&pw->cond);
	pthread_mutex_unlock(&pw->lock);
	return NULL;
}

int hfsd_persisted_start(struct hfsd_ctl *c)
{
	struct hfsd_pw *pw = calloc(1, sizeof(*pw));
	int r;

	if (!pw)
		return -ENOMEM;
	pthread_mutex_init(&pw->lock, NULL);
	hfsd_cond_init_monotonic(&pw->cond);
	pw->todo_tail = &pw->todo;
	pw->se = c->se;
	pw->coh = c->coh;
	pw->efd = dup(c->efd);
	if (pw->efd < 0) {
		r = errno;
		goto fail;
	}
	r = pthread_create(&pw->thread, NULL, worker, pw);
	if (r) {
fail:
		if (pw->efd >= 0)
			close(pw->efd);
		pthread_cond_destroy(&pw->cond);
		pthread_mutex_destroy(&pw->lock);
		free(pw);
		return -r;
	}
	c->pw = pw;
	return 0;
}

static void free_items(struct hfsd_pw_item *it)
{
	while (it) {
		struct hfsd_pw_item *n = it->next;

		free(it);
		it = n;
	}
}

bool hfsd_persisted_stop(struct hfsd_ctl *c)
{
	struct hfsd_pw *pw = c->pw;
	struct timespec dl;
	bool exited;

	if (!pw)
		return true;
	dl = hfsd_deadline_ms(HFSD_PERSISTED_STOP_MS);
	pthread_mutex_lock(&pw->lock);
	pw->stop = true;
	pthread_cond_broadcast(&pw->cond);
	while (!pw->exited &&
	       pthread_cond_timedwait(&pw->cond, &pw->lock, &dl) != ETIMEDOUT)
		;
	exited = pw->exited;
	pthread_mutex_unlock(&pw->lock);
	c->pw = NULL;
	if (!exited) {
		/* Stuck in the kernel on a page a FUSE request that will
		 * never be answered keeps locked (the daemon is stopping on a
		 * signal, still mounted).  The unmount that follows aborts
		 * those requests and the worker ends; leave it, its eventfd
		 * and the coherence table (the caller keeps it) alone until
		 * the process exits. */
		hfsd_log(LOG_WARNING, "control: page-cache invalidation still "
			 "blocked at shutdown; leaving it to the unmount");
		pthread_detach(pw->thread);
		return false;
	}
	pthread_join(pw->thread, NULL);
	close(pw->efd);
	free_items(pw->todo);
	free_items(pw->done);
	pthread_cond_destroy(&pw->cond);
	pthread_mutex_destroy(&pw->lock);
	free(pw);
	return true;
}

int hfsd_persisted_queue(struct hfsd_ctl *c, const struct hfsd_client *cl,
			 const struct hfs_msg_range *m, uint64_t ino)
{
	struct hfsd_pw *pw = c->pw;
	struct hfsd_pw_item *it;

	if (!pw)
		return -ENOTSUP;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	*it = (struct hfsd_pw_item){ .cid = cl->cid, .msg_id = m->h.id,
				     .lease_id = m->lease_id, .ino = ino,
				     .off = m->offset, .len = m->length };
	pthread_mutex_lock(&pw->lock);
	*pw->todo_tail = it;
	pw->todo_tail = &it->next;
	pthread_cond_broadcast(&pw->cond);
	pthread_mutex_unlock(&pw->lock);
	return 0;
}

void hfsd_persisted_replies(struct hfsd_ctl *c)
{
	struct hfsd_pw *pw = c->pw;
	struct hfsd_pw_item *it, *next;

	if (!pw)
		return;
	pthread_mutex_lock(&pw->lock);
	it = pw->done;
	pw->done = NULL;
	pthread_mutex_unlock(&pw->lock);
	for (; it; it = next) {
		struct hfsd_client *cl;

		next = it->next;
		for (cl = c->clients; cl && cl->cid != it->cid; cl = cl->next)
			;
		if (it->err < 0)
			hfsd_log(LOG_WARNING, "control: invalidating the page "
				 "cache of inode %" PRIu64 ": %s", it->ino,
				 strerror(-it->err));
		if (cl && !cl->closing) {
			if (it->err < 0) {
				hfsd_ctl_send_error(c, cl, it->msg_id, -it->err,
						    "page cache invalidation "
						    "failed");
			} else {
				struct hfs_msg_lease_ref ok;

				memset(&ok, 0, sizeof(ok));
				hfsd_msg_init(&ok.h, HFS_MSG_PERSISTED_OK,
					      sizeof(ok), it->msg_id);
				ok.lease_id = it->lease_id;
				hfsd_ctl_send(c, cl, &ok, sizeof(ok), -1);
			}
		}
		free(it);
	}
}
