/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence.c, the page-cache coherence table, without a daemon: slot
 * lifetime, what FUSE READ/WRITE do to a word, when PERSISTED may clear
 * it (never while a READ/WRITE that could refill a page is in flight),
 * the seal that keeps clients from writing it, and the shutdown drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "check.h"
#include "coherence.h"

static int ninval;
static uint64_t last_off, last_len;
static struct hfsd_coh *g_t;
static struct hfsd_coh_ent *g_mid; /* begun from inside the callback */

static int inval(void *ctx, uint64_t ino, uint64_t off, uint64_t len)
{
	(void)ctx;
	ninval++;
	last_off = off;
	last_len = len;
	/* a READ that starts while the kernel drops the pages */
	if (g_t)
		g_mid = hfsd_coh_io_begin(g_t, ino);
	return 0;
}

static void *end_later(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	hfsd_coh_io_end(g_t, arg);
	return NULL;
}

int main(void)
{
	struct hfsd_coh *t;
	struct hfsd_coh_ent *e;
	uint32_t s1, s2;
	pthread_t th;
	void *p;

	CHECK_EQ(hfsd_coh_new(0, &t), -EINVAL);
	CHECK_EQ(hfsd_coh_new(2, &t), 0);
	CHECK_EQ(hfsd_coh_nslots(t), 2);

	/* slots: one per inode, shared by its leases, CACHED when new */
	s1 = hfsd_coh_get(t, 10);
	CHECK_EQ(hfsd_coh_get(t, 10), s1);
	s2 = hfsd_coh_get(t, 11);
	CHECK(s2 != s1 && s2 < 2);
	CHECK_EQ(hfsd_coh_get(t, 12), HFS_COH_NONE); /* table full */
	hfsd_coh_put(t, 12);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CACHED);

	/* PERSISTED on a CACHED word with nothing in flight: the whole
	 * inode is dropped and the word cleared */
	CHECK_EQ(hfsd_coh_persisted(t, 10, 4096, 8192, inval, NULL), 0);
	CHECK_EQ(ninval, 1);
	CHECK_EQ(last_off, 0);
	CHECK_EQ(last_len, 0);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CLEAN);
	/* CLEAN: nothing cached, nothing to drop */
	CHECK_EQ(hfsd_coh_persisted(t, 10, 0, 4096, inval, NULL), 0);
	CHECK_EQ(ninval, 1);

	/* a READ marks it CACHED before it touches the data, and while it
	 * is in flight a PERSISTED drops only its range and keeps it */
	e = hfsd_coh_io_begin(t, 10);
	CHECK(e != NULL);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CACHED);
	CHECK_EQ(hfsd_coh_persisted(t, 10, 4096, 8192, inval, NULL), 0);
	CHECK_EQ(last_off, 4096);
	CHECK_EQ(last_len, 8192);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CACHED);
	hfsd_coh_io_end(t, e);

	/* a READ of an inode without a word in flight: no clear either (it
	 * may be of inode 10, begun before its word existed) */
	e = hfsd_coh_io_begin(t, 99);
	CHECK(e == NULL);
	CHECK_EQ(hfsd_coh_persisted(t, 10, 0, 4096, inval, NULL), 0);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CACHED);
	hfsd_coh_io_end(t, e);

	/* a READ that begins during the invalidation wins: still CACHED */
	g_t = t;
	CHECK_EQ(hfsd_coh_persisted(t, 10, 0, 4096, inval, NULL), 0);
	g_t = NULL;
	CHECK_EQ(last_len, 0);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CACHED);
	hfsd_coh_io_end(t, g_mid);
	CHECK_EQ(hfsd_coh_persisted(t, 10, 0, 4096, inval, NULL), 0);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_CLEAN);

	/* slot reuse: the last put frees it; a new inode starts CACHED */
	hfsd_coh_put(t, 10);
	hfsd_coh_put(t, 10);
	CHECK_EQ(hfsd_coh_state(t, 10), HFS_COH_NONE);
	CHECK_EQ(hfsd_coh_get(t, 13), s1);
	CHECK_EQ(hfsd_coh_state(t, 13), HFS_COH_CACHED);

	/* clients cannot write the table: sealed against new writable
	 * shared mappings and write(2) */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		 hfsd_coh_fd(t), 0);
	CHECK(p == MAP_FAILED);
	CHECK(write(hfsd_coh_fd(t), "x", 1) < 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, hfsd_coh_fd(t), 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		CHECK_EQ(((volatile uint32_t *)p)[s1], HFS_COH_CACHED);
		munmap(p, 4096);
	}

	/* drain: true when idle, false at the deadline, true once the
	 * last in-flight request ends */
	CHECK(hfsd_coh_drain(t, 0));
	e = hfsd_coh_io_begin(t, 13);
	CHECK(!hfsd_coh_drain(t, 20));
	g_t = t;
	pthread_create(&th, NULL, end_later, e);
	CHECK(hfsd_coh_drain(t, 5000));
	pthread_join(th, NULL);
	g_t = NULL;
	CHECK(hfsd_coh_drain(NULL, 0));

	hfsd_coh_put(t, 13);
	hfsd_coh_put(t, 11);
	hfsd_coh_free(t);
	return failures != 0;
}
