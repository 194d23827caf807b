/* SPDX-License-Identifier: MIT */
/*
 * The direct data path, daemon side, off the ring (docs/data-path.md):
 * one worker thread for what neither the ring thread nor a FUSE request
 * of the inode may do itself.
 *
 *  - detaching a data-path lease from its inode's slot: the last lease
 *    disarms the slot, which takes the slot lock (a client may hold it
 *    for a copy) and commits; the ring thread, which drops leases, must
 *    never wait for a client;
 *  - dropping the kernel's cached attributes when a slot is armed (from
 *    then on every getattr is answered with a zero timeout, lib's
 *    hfs_attr.direct), and its pages and attributes after a write
 *    through FUSE that went to the real end of file rather than the
 *    offset the kernel computed from a stale size (O_APPEND, ops_file.c):
 *    fuse_lowlevel_notify_inval_inode waits for pages locked by I/O, so
 *    it cannot run inside the WRITE that locked them.
 */
#include "ctl_i.h"
#include "datapath.h"
#include "deadline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum dp_kind { DP_DETACH, DP_INVAL_ATTR, DP_INVAL_ALL };

struct dp_item {
	struct dp_item *next;
	enum dp_kind kind;
	uint64_t ino;
	uint64_t gen;         /* DP_DETACH: the generation attached */
	uint32_t idx;
};

struct hfsd_dp {
	struct hfs_vol *vol;
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dp_item *todo, **tail;
	bool stop;
};

static void run(struct hfsd_dp *dp, struct dp_item *it)
{
	int r;

	switch (it->kind) {
	case DP_DETACH:
		r = hfs_dslot_detach(dp->vol, it->ino, it->gen, it->idx);
		if (r < 0)
			hfsd_log(LOG_WARNING, "datapath: inode %" PRIu64
				 ": disarming its slot: %s", it->ino,
				 strerror(-r));
		break;
	case DP_INVAL_ATTR:
	case DP_INVAL_ALL:
		r = fuse_lowlevel_notify_inval_inode(
			dp->se, it->ino, it->kind == DP_INVAL_ATTR ? -1 : 0, 0);
		if (r < 0 && r != -ENOENT) /* ENOENT: nothing cached */
			hfsd_log(LOG_WARNING, "datapath: invalidating inode %"
				 PRIu64 ": %s", it->ino, strerror(-r));
		break;
	}
}

static void *worker(void *arg)
{
	struct hfsd_dp *dp = arg;
	struct dp_item *it;

	pthread_setname_np(pthread_self(), "holdfs-datapath");
	pthread_mutex_lock(&dp->lock);
	while (!dp->stop) {
		if (!dp->todo) {
			pthread_cond_wait(&dp->cond, &dp->lock);
			continue;
		}
		it = dp->todo;
		dp->todo = it->next;
		if (!dp->todo)
			dp->tail = &dp->todo;
		pthread_mutex_unlock(&dp->lock);
		run(dp, it);
		free(it);
		pthread_mutex_lock(&dp->lock);
	}
	pthread_mutex_unlock(&dp->lock);
	return NULL;
}

int hfsd_datapath_start(struct hfsd_ctl *c)
{
	struct hfsd_dp *dp = calloc(1, sizeof(*dp));
	int r;

	if (!dp)
		return -ENOMEM;
	dp->vol = c->d->vol;
	dp->se = c->se;
	dp->tail = &dp->todo;
	pthread_mutex_init(&dp->lock, NULL);
	pthread_cond_init(&dp->cond, NULL);
	r = pthread_create(&dp->thread, NULL, worker, dp);
	if (r) {
		pthread_cond_destroy(&dp->cond);
		pthread_mutex_destroy(&dp->lock);
		free(dp);
		return -r;
	}
	c->dp = dp;
	return 0;
}

void hfsd_datapath_stop(struct hfsd_ctl *c)
{
	struct hfsd_dp *dp = c->dp;

	if (!dp)
		return;
	pthread_mutex_lock(&dp->lock);
	dp->stop = true;
	pthread_cond_broadcast(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
	/* a detach in progress waits at most the slot wait (twice) and a
	 * revocation round: bounded */
	pthread_join(dp->thread, NULL);
	while (dp->todo) {
		struct dp_item *it = dp->todo;

		dp->todo = it->next;
		free(it);
	}
	pthread_cond_destroy(&dp->cond);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
	c->dp = NULL;
}

static void queue(struct hfsd_ctl *c, enum dp_kind kind, uint64_t ino,
		  uint64_t gen, uint32_t idx)
{
	struct hfsd_dp *dp = c->dp;
	struct dp_item *it;

	if (!dp)
		return;
	it = calloc(1, sizeof(*it));
	if (!it) {
		/* a detach lost: the slot stays armed until unmount (its
		 * size is folded then); an invalidation lost: attributes
		 * expire within HFSD_ATTR_TIMEOUT */
		hfsd_log(LOG_WARNING, "datapath: out of memory queueing work "
			 "for inode %" PRIu64, ino);
		return;
	}
	*it = (struct dp_item){ .kind = kind, .ino = ino, .gen = gen, .idx = idx };
	pthread_mutex_lock(&dp->lock);
	*dp->tail = it;
	dp->tail = &it->next;
	pthread_cond_signal(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
}

void hfsd_datapath_detach(struct hfsd_ctl *c, uint64_t ino, uint64_t gen,
			  uint32_t idx)
{
	queue(c, DP_DETACH, ino, gen, idx);
}

void hfsd_datapath_inval(struct hfsd_ctl *c, uint64_t ino, bool attrs_only)
{
	queue(c, attrs_only ? DP_INVAL_ATTR : DP_INVAL_ALL, ino, 0, 0);
}
