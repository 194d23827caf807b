/* SPDX-License-Identifier: MIT */
/*
 * The fill hook's REMAP job and a DAX client that goes away while the
 * job is built (fs/revoke_hooks.c, end_gone_waiters_locked).
 *
 * A write through FUSE that fills holes a read lease maps gets a REMAP
 * job: one waiter per lease, each added under ctl->lock, the job queued
 * only after the last.  A client whose connection closes in between is
 * dropped by the ring thread (hfsd_lease_client_gone), which cannot see
 * the job yet, and freed; the job used to keep the client's pointer, and
 * the ring's next send read the freed client (heap-use-after-free in the
 * daemon).
 *
 * Here, on the daemon's own objects: a volume in memory, a control
 * structure without a ring, client X with one read lease of a hole
 * (the first the fill hook visits) and client Y with NY more of it.  A
 * writer thread fills the hole; as soon as X's lease has its new extent
 * (the hook published it) and before the job is queued (Y's leases keep
 * the hook busy), X goes away as the ring thread would let it: dropped,
 * then freed.  Once the job is queued, X's waiter must already be done
 * and name no client.  Then the ring's step (hfsd_lease_run_jobs) sends
 * the job: in a sanitizer build it runs even when the check failed, so
 * AddressSanitizer names the use of the freed client.
 */
#include "daemon.h"
#include "ctl_i.h"
#include "ctl_rig.h"
#include "deadline.h"
#include "lease_i.h"
#include "revoke.h"
#include "revoke_i.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/format.h>
#include <holdfs/proto.h>

#include "mkfs.h"

#include "check.h"

#define REGION_SIZE (64u << 20)
#define NY 20000          /* Y's leases: the hook's work after X's */
#define ATTEMPTS 5        /* to catch the hook between X and queueing */
#define WAIT_MS 20000     /* no wait of this test is longer */

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

static const struct hfs_cred root_cred = { 0, 0, 0, NULL, 0 };

struct writer {
	struct hfs_vol *vol;
	uint64_t ino, len;
	ssize_t ret;
};

static void *write_hole(void *arg)
{
	struct writer *w = arg;
	char *buf = malloc(w->len);

	memset(buf, 'w', w->len);
	w->ret = hfs_write(w->vol, w->ino, buf, w->len, 0);
	free(buf);
	return NULL;
}

/* A read lease of [0, u) of ino, one hole, as a grant publishes it. */
static void lease_hole(struct hfsd_ctl *c, struct hfsd_client *cl,
		       uint64_t ino, uint64_t u)
{
	struct hfsd_lease *l = calloc(1, sizeof(*l));

	l->ext = calloc(1, sizeof(*l->ext));
	l->ext[0] = (struct hfs_lease_extent){ .file_off = 0, .len = u,
					       .flags = HFS_LEXT_HOLE };
	l->n = 1;
	l->cl = cl;
	l->pid = cl->pid;
	l->ino = ino;
	l->off = 0;
	l->len = u;
	l->prot = HFS_PROT_READ;
	l->coh_slot = HFS_COH_NONE;
	l->dslot = HFS_DSLOT_NONE;
	l->id = ++c->next_lease;
	hfsd_lease_insert_locked(c, l);
}

static bool has_hole(const struct hfsd_lease *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (l->ext[i].flags & HFS_LEXT_HOLE)
			return true;
	return false;
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(((int64_t)t.tv_sec - t0->tv_sec) * 1000000000 +
			  (t.tv_nsec - t0->tv_nsec)) / 1000000;
}

/* The hook and the test's thread on two CPUs of ours, when we have two:
 * on one, the hook may do all its leases in one time slice and the test
 * never sees it between X and the queueing.  *saved: the test thread's
 * own set, to restore. */
static bool two_cpus(pthread_t hook, cpu_set_t *saved)
{
	cpu_set_t one;
	int cpus[2], n = 0;

	if (pthread_getaffinity_np(pthread_self(), sizeof(*saved), saved))
		return false;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, saved))
			cpus[n++] = i;
	if (n < 2)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpus[0], &one);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	CPU_ZERO(&one);
	CPU_SET(cpus[1], &one);
	(void)pthread_setaffinity_np(hook, sizeof(one), &one);
	return true;
}

struct env {
	struct hfs_vol *vol;
	struct hfsd_ctl *c;
};

/* One file, X's lease and Y's, a writer filling the hole, X gone while
 * the hook works on Y's leases.  1: tested (failures counted), 0: the
 * hook queued its job before X went (not tested; cleaned up). */
static int attempt(struct env *e, int k)
{
	struct hfsd_ctl *c = e->c;
	struct hfsd_client *x = rig_client(1, -1), *y = rig_client(2, -1);
	struct hfsd_waiter *wx = NULL;
	struct writer w;
	struct timespec t0;
	struct hfs_attr a;
	cpu_set_t cpus;
	char name[16];
	pthread_t th;
	uint64_t u = c->alloc_unit, xid;
	bool filled = false, early = false, queued = false, ok = false;
	bool pinned;

	snprintf(name, sizeof(name), "f%d", k);
	CHECK_EQ(hfs_mknod(e->vol, HFS_ROOT_INO, name, S_IFREG | 0644, 0,
			   &root_cred, &a), 0);
	CHECK_EQ(hfs_open(e->vol, a.ino), 0);
	/* Y's REMAPs end at the send without a socket (a closing client's
	 * waiters are done): only X's waiter matters here */
	y->closing = true;
	pthread_mutex_lock(&c->lock);
	lease_hole(c, x, a.ino, u);
	xid = c->next_lease;
	for (int i = 0; i < NY; i++)
		lease_hole(c, y, a.ino, u);
	pthread_mutex_unlock(&c->lock);

	w = (struct writer){ e->vol, a.ino, u, 0 };
	CHECK_EQ(pthread_create(&th, NULL, write_hole, &w), 0);
	pinned = two_cpus(th, &cpus);

	/* X's lease got its extent: the hook is past X, on Y's leases.
	 * X goes away as the ring thread lets a client go (ctl_send.c
	 * hfsd_ctl_drop, revoke.c hfsd_lease_client_gone): closing, its
	 * leases out of the table -- here in the same hold of ctl->lock
	 * that sees the job not queued yet, so the hook cannot queue it in
	 * between. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!filled && !early && ms_since(&t0) < WAIT_MS) {
		struct hfsd_lease *l;

		/* spin, not sleep: a sleeper on the mutex loses it to the
		 * hook, which takes it again right after every lease */
		if (pthread_mutex_trylock(&c->lock))
			continue;
		l = hfsd_lease_find_locked(c, xid);
		filled = l && !has_hole(l);
		early = c->jobs != NULL;
		if (filled || early)
			x->closing = true;
		if (filled && !early)
			CHECK_EQ(hfsd_lease_drop_client_locked(c, x), 1);
		pthread_mutex_unlock(&c->lock);
	}
	CHECK(filled || early);
	if (pinned)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(cpus),
					     &cpus);
	if (early) /* its waiter is in a queued job: ended as it should */
		hfsd_lease_client_gone(c, x);
	/* freed once no operation of the ring refers to it (ctl_server.c
	 * maybe_free) */
	free(x);

	/* the job, once queued: X's waiter done, no client named */
	while (!queued && ms_since(&t0) < WAIT_MS) {
		pthread_mutex_lock(&c->lock);
		for (struct hfsd_job *j = c->jobs; j; j = j->next) {
			if (j->kind != HFSD_JOB_REMAP)
				continue;
			queued = true;
			for (uint32_t i = 0; i < j->nw; i++)
				if (j->w[i].lease_id == xid)
					wx = &j->w[i];
			if (wx) {
				CHECK(wx->acked);
				CHECK(wx->cl == NULL);
				ok = wx->acked && wx->cl == NULL;
			}
			CHECK_EQ(j->nw, NY + 1);
		}
		pthread_mutex_unlock(&c->lock);
	}
	CHECK(queued);
	CHECK(wx != NULL);

	/* The ring's step: send the job (every waiter is done at the send,
	 * so it is DONE and the writer returns).  With the freed client
	 * still named, only a sanitizer build goes on (to have the use of
	 * freed memory reported); the writer then returns at its deadline. */
	if (queued && (ok || ASAN))
		hfsd_lease_run_jobs(c);
	pthread_join(th, NULL);
	CHECK_EQ(w.ret, (ssize_t)u);

	rig_drop_all(c);
	free(y);
	hfs_release(e->vol, a.ino);
	return !early;
}

int main(void)
{
	void *mem = calloc(1, REGION_SIZE);
	struct hfs_region *rg;
	struct hfs_err err = { 0 };
	struct hfs_mkfs_result res;
	struct hfs_mkfs_opts o = { .label = "t" };
	struct hfsd d = { 0 };
	struct env e = { NULL, calloc(1, sizeof(struct hfsd_ctl)) };
	struct hfsd_ctl *c = e.c;
	int tested = 0;

	if (!mem || !c || hfs_region_from_memory(mem, REGION_SIZE, &rg) ||
	    hfs_mkfs(rg, &o, &res, &err) ||
	    hfs_vol_open(rg, NULL, &e.vol, NULL, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	/* the control side, without its ring: the test is the ring */
	d.rg = rg;
	d.vol = e.vol;
	c->d = &d;
	pthread_mutex_init(&c->lock, NULL);
	hfsd_cond_init_monotonic(&c->cond);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->revoke_ms = 300;
	c->region_size = REGION_SIZE;
	c->alloc_unit = hfs_vol_alloc_unit(e.vol);
	hfsd_lease_table_init(c);
	hfsd_revoke_hooks_install(c);

	for (int k = 0; k < ATTEMPTS && !tested && !failures; k++)
		tested = attempt(&e, k);

	hfsd_revoke_hooks_remove(c);
	close(c->efd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	CHECK_EQ(hfs_vol_close(e.vol), 0);
	hfs_region_close(rg);
	free(mem);
	if (failures) {
		fprintf(stderr, "test_remap_gone: %d failure(s)\n", failures);
		return 1;
	}
	if (!tested) {
		fprintf(stderr, "SKIP: in %d attempts the fill hook always "
			"queued its job before the client went away (%d leases "
			"were not enough work to interleave); nothing tested\n",
			ATTEMPTS, NY);
		return 77;
	}
	printf("test_remap_gone: ok\n");
	return 0;
}
