/* SPDX-License-Identifier: MIT */
/*
 * Who may connect to the control socket (docs/lease-protocol.md, "Trust
 * model").
 *
 * The socket is world-connectable: DAX discovery needs it.  Each
 * connection costs the daemon up to HFSD_FDS_PER_CLIENT descriptors (the
 * socket, a pidfd of the peer, the client's own region descriptions)
 * and a small receive buffer.  Unbounded, any local user could
 * open connections until the daemon's descriptors ran out, and then
 * nobody could connect (holdfsctl, DAX clients) and every probe that
 * opens a file would fail.  So:
 *
 *  - every uid but root may hold at most max_clients_per_uid connections,
 *    and all of them together at most max_clients, and never more than
 *    the daemon's current RLIMIT_NOFILE leaves after HFSD_FD_RESERVE
 *    descriptors for its own work (read at each accept: an operator may
 *    lower the limit of a running daemon with prlimit);
 *  - root has its own bound, HFSD_ROOT_CLIENTS, not counted against the
 *    others, so the administrator gets in even when every other slot is
 *    taken;
 *  - a connection that sends no valid message within hello_ms is closed
 *    (a DAX client sends HELLO at once, holdfsctl its request); after
 *    that, idle connections are legitimate (a client holding leases);
 *  - when accept itself fails (EMFILE, ENFILE, ENOBUFS, ENOMEM), the
 *    daemon stops accepting for a back-off of 50 ms doubling to 1 s
 *    instead of retrying at once (which spun a CPU and logged each
 *    retry), and says so at most once per HFSD_ADMIT_LOG_MS.
 *
 * A refused connection gets an ERROR (EUSERS, with the reason) and is
 * closed; the refusal is logged, rate-limited.  Nothing here is ever
 * taken for device loss: the failure pipeline only acts on evidence of
 * it (docs/failure-model.md).
 */
#include "ctl_admit.h"
#include "ctl_send.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ".", "..", and the DIR's own fd */
}

void hfsd_admit_init(struct hfsd_ctl *c)
{
	c->fd_base = count_fds();
}

/* Live connections: in all, of root, of uid. */
static void count_clients(struct hfsd_ctl *c, uid_t uid, unsigned *all,
			  unsigned *root, unsigned *mine)
{
	*all = *root = *mine = 0;
	pthread_mutex_lock(&c->lock);
	for (struct hfsd_client *cl = c->clients; cl; cl = cl->next) {
		if (cl->closing)
			continue;
		(*all)++;
		*root += cl->uid == 0;
		*mine += cl->uid == uid;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Why uid may not have one more connection, or NULL. */
static const char *over_limit(struct hfsd_ctl *c, uid_t uid, char *buf,
			      size_t len)
{
	unsigned all, root, mine;
	struct rlimit rl;

	count_clients(c, uid, &all, &root, &mine);
	if (uid == 0) {
		if (root < HFSD_ROOT_CLIENTS)
			return NULL;
		snprintf(buf, len, "root already has %u connections", root);
		return buf;
	}
	if (mine >= c->max_per_uid) {
		snprintf(buf, len, "uid %u already has %u connections "
			 "(max_clients_per_uid=%u)", (unsigned)uid, mine,
			 c->max_per_uid);
		return buf;
	}
	if (all - root >= c->max_clients) {
		snprintf(buf, len, "%u connections (max_clients=%u)",
			 all - root, c->max_clients);
		return buf;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)c->fd_base + HFSD_FDS_PER_CLIENT * (all + 1ull) +
			    HFSD_FD_RESERVE >
		    rl.rlim_cur) {
		snprintf(buf, len, "the daemon's descriptor limit (%llu) is "
			 "nearly used up by %u connections",
			 (unsigned long long)rl.rlim_cur, all);
		return buf;
	}
	return NULL;
}

void hfsd_admit_refuse(struct hfsd_ctl *c, int fd, uid_t uid, pid_t pid,
		       const char *why)
{
	struct hfs_msg_error m;
	uint64_t missed;

	memset(&m, 0, sizeof(m));
	hfsd_msg_init(&m.h, HFS_MSG_ERROR, sizeof(m), 0);
	m.err = EUSERS;
	/* the reason, cut to fit (the log has it whole) */
	snprintf(m.msg, sizeof(m.msg), "%.*s", (int)sizeof(m.msg) - 1, why);
	/* best effort: a peer that does not read loses the reason */
	if (send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* nothing to do: it is closed next */
	}
	close(fd);
	if (hfsd_ratelog_ok(&c->refuse_log, HFSD_ADMIT_LOG_MS, &missed))
		hfsd_log(LOG_WARNING, "control: refused a connection of pid %d "
			 "uid %u: %s (%" PRIu64 " more refused since the last "
			 "message)", (int)pid, (unsigned)uid, why, missed);
}

int hfsd_admit(struct hfsd_ctl *c, int fd, uid_t uid, pid_t pid)
{
	char buf[128];
	const char *why = over_limit(c, uid, buf, sizeof(buf));

	if (!why)
		return 0;
	hfsd_admit_refuse(c, fd, uid, pid, why);
	return -1;
}

bool hfsd_admit_tick(struct hfsd_ctl *c)
{
	uint64_t now = now_ns(), limit = (uint64_t)c->hello_ms * 1000000ull;
	struct hfsd_client *silent[16];
	unsigned n = 0;
	bool waiting = false;

	pthread_mutex_lock(&c->lock);
	for (struct hfsd_client *cl = c->clients; cl; cl = cl->next) {
		if (cl->spoke || cl->closing)
			continue;
		if (now - cl->since_ns < limit || n == 16)
			waiting = true;
		else
			silent[n++] = cl;
	}
	pthread_mutex_unlock(&c->lock);
	/* dropping takes c->lock itself; a client stays listed until the
	 * ring has nothing in flight for it, so these pointers live on */
	for (unsigned i = 0; i < n; i++)
		hfsd_ctl_drop(c, silent[i], "no request within the first-"
			      "message deadline (hello_ms)");
	return waiting;
}

unsigned hfsd_admit_accept_error(struct hfsd_ctl *c, int err)
{
	uint64_t missed;
	bool pause = err == EMFILE || err == ENFILE || err == ENOBUFS ||
		     err == ENOMEM;

	if (pause)
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2
					      : HFSD_ACCEPT_BACKOFF_MIN_MS;
	if (c->backoff_ms > HFSD_ACCEPT_BACKOFF_MAX_MS)
		c->backoff_ms = HFSD_ACCEPT_BACKOFF_MAX_MS;
	if (hfsd_ratelog_ok(&c->accept_log, HFSD_ADMIT_LOG_MS, &missed))
		hfsd_log(LOG_WARNING, "control: accept: %s%s (%" PRIu64
			 " more failures since the last message)",
			 strerror(err), pause ? "; pausing before the next"
					      : "", missed);
	return pause ? c->backoff_ms : 0;
}

void hfsd_admit_accept_ok(struct hfsd_ctl *c)
{
	c->backoff_ms = 0;
}
