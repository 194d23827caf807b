/* SPDX-License-Identifier: MIT */
/*
 * Reaping: what happens when a DAX client does not give a revoked range
 * back (docs/lease-protocol.md, "Deadlines").
 *
 * A holder that misses the ack deadline, or whose connection closes with
 * a revocation still unacknowledged, may have handed what it holds to
 * another process: a fork inherits the socket, the region descriptor and
 * (without MADV_DONTFORK, which only libholdfs promises) the mappings.
 * So the daemon
 *
 *  1. SIGKILLs (through pidfds) the pid that connected, if it missed
 *     the deadline, and every process holder_scan.c finds holding the
 *     client's end of the connection, a descriptor of the region
 *     description the client got, or a mapping of the region bytes the
 *     job takes back (a client that closed its connection and holds
 *     nothing any more is left alone);
 *  2. shuts the connection down and drops the client's leases, so no
 *     later REVOKE or REMAP waits for it again;
 *  3. polls every HFSD_REAP_POLL_MS: once every killed process is gone
 *     (its pidfd readable), a fresh scan must find no holder (a fork
 *     between the scan and the kill is found then and killed too); then
 *     the client's part of the job is done and, with the rest, the blocks
 *     go back to the allocator;
 *  4. if holders are still there after the dying deadline (a process
 *     stuck in the kernel), the blocks stay out of use until the next
 *     mount, and the log names the processes still alive (checked on
 *     their pidfds: a dead pid is never reported alive).
 *
 * All of it runs on the ring thread; a scan reads /proc, O(processes),
 * and happens only after a missed deadline or a vanished holder.
 */
#include "revoke_i.h"
#include "lease_i.h"
#include "revoke.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctl_send.h"
#include "grow.h"
#include "holder_scan.h"

struct hfsd_killed {
	pid_t pid;
	int pidfd;                     /* readable once it exited */
};

struct hfsd_reap {
	struct hfsd_holder_key *keys;  /* one per client reaped */
	size_t nkeys, capkeys;
	struct hfsd_killed *k;         /* every process killed */
	size_t nk, capk;
	uint64_t since_ns;             /* the first kill */
	bool polling;
};

unsigned hfsd_dying_ms(const struct hfsd_ctl *c)
{
	return c->revoke_ms * 4 > HFSD_DYING_MIN_MS ? c->revoke_ms * 4
						    : HFSD_DYING_MIN_MS;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hfsd_reap_free(struct hfsd_reap *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nkeys; i++)
		for (int k = 0; k < 2; k++)
			if (r->keys[i].region_fd[k] >= 0)
				close(r->keys[i].region_fd[k]);
	for (size_t i = 0; i < r->nk; i++)
		close(r->k[i].pidfd);
	free(r->keys);
	free(r->k);
	free(r);
}

/* Has the process of pidfd exited (its pidfd is readable then)? */
static bool exited(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1;
}

/* Already killed (and so already waited for)? */
static bool known(const struct hfsd_reap *r, pid_t pid)
{
	for (size_t i = 0; i < r->nk; i++)
		if (r->k[i].pid == pid)
			return true;
	return false;
}

/* SIGKILL pid through a pidfd and remember it.  pidfd: the caller's
 * (taken over) or -1 to open one now.  Returns true if it was signalled. */
static bool kill_holder(struct hfsd_ctl *c, struct hfsd_reap *r, pid_t pid,
			int pidfd)
{
	if (known(r, pid))
		return false;
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return false; /* gone already (ESRCH) */
	if (exited(pidfd)) { /* a zombie: nothing to kill, never "killed" */
		close(pidfd);
		return false;
	}
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 &&
	    errno != ESRCH)
		hfsd_log(LOG_ERR, "control: kill pid %d: %s", (int)pid,
			 strerror(errno));
	c->kills++;
	if (hfs_grow(&r->k, &r->capk, r->nk + 1, sizeof(*r->k))) {
		close(pidfd); /* killed, but it cannot be waited for */
		return true;
	}
	r->k[r->nk++] = (struct hfsd_killed){ pid, pidfd };
	return true;
}

/* The pids of j's clients that still owe an ack: they map the job's
 * bytes under their own leases (holder_scan.h, owners).  malloc'd. */
static pid_t *owners_of(struct hfsd_ctl *c, const struct hfsd_job *j,
			size_t *n)
{
	pid_t *v = NULL;
	size_t cap = 0;

	*n = 0;
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < j->nw; i++)
		if (j->w[i].cl && !j->w[i].acked && !j->w[i].reaping &&
		    !j->w[i].cl->killed &&
		    !hfs_grow(&v, &cap, *n + 1, sizeof(*v)))
			v[(*n)++] = j->w[i].cl->pid;
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* Kill every process a scan finds holding key k; how many were new. */
static unsigned kill_holders(struct hfsd_ctl *c, struct hfsd_reap *r,
			     struct hfsd_job *j, struct hfsd_holder_key *k)
{
	pid_t *pids;
	size_t n;
	unsigned nk = 0;
	pid_t *own = owners_of(c, j, &k->nowners);
	int e;

	k->owners = own;
	e = hfsd_holders_find(k, &pids, &n);
	k->owners = NULL;
	k->nowners = 0;
	free(own);

	if (e < 0)
		hfsd_log(LOG_ERR, "control: looking for holders in /proc: %s",
			 strerror(-e));
	for (size_t i = 0; i < n; i++)
		if (kill_holder(c, r, pids[i], -1)) {
			hfsd_log(LOG_WARNING, "control: pid %d still holds a "
				 "revoked client's connection, region or "
				 "mapping; killing it", (int)pids[i]);
			nk++;
		}
	free(pids);
	return nk;
}

/* The key of cl: its socket's peer, its descriptions of the device j's
 * range lies on (taken over from cl: they must outlive it), that device
 * and j's range in its own offsets (what /proc/PID/maps shows of a
 * mapping of it).  On one device the device is the region. */
static int add_key(struct hfsd_ctl *c, struct hfsd_reap *r,
		   struct hfsd_job *j, struct hfsd_client *cl)
{
	const struct hfs_region *rg = c->d->rg, *dev;
	bool ranged = j->kind == HFSD_JOB_REVOKE && j->rs < j->re;
	int mi = ranged ? hfs_region_member_of(rg, j->rs) : 0;
	uint64_t base, end;
	struct hfsd_holder_key *k;
	struct stat st;
	int *fds;

	if (mi < 0 || !(dev = hfs_region_member(rg, (unsigned)mi)))
		mi = 0, dev = rg;
	base = hfs_region_member_off(rg, (unsigned)mi);
	end = base + hfs_region_member_size(rg, (unsigned)mi);
	if (hfs_grow(&r->keys, &r->capkeys, r->nkeys + 1, sizeof(*r->keys)))
		return -ENOMEM;
	k = &r->keys[r->nkeys++];
	memset(k, 0, sizeof(*k));
	k->sock_peer = hfsd_unix_peer_ino(cl->fd);
	fds = hfsd_member_fds(cl, (unsigned)mi);
	for (int i = 0; i < 2; i++) {
		k->region_fd[i] = fds[i];
		fds[i] = -1;
	}
	if (fstat(mi == 0 ? rg->fd : dev->fd, &st) == 0) {
		k->region_dev = st.st_dev;
		k->region_ino = st.st_ino;
	}
	if (ranged && j->rs >= base) {
		k->rs = j->rs - base;
		k->re = (j->re < end ? j->re : end) - base;
	}
	return 0;
}

static void arm_poll(struct hfsd_ctl *c, struct hfsd_job *j)
{
	j->reap->polling = true;
	hfsd_ctl_arm_timeout(c, j->id | HFSD_JOB_POLL_BIT, HFSD_REAP_POLL_MS);
}

void hfsd_reap_client(struct hfsd_ctl *c, struct hfsd_job *j,
		      struct hfsd_client *cl, bool at_deadline)
{
	struct hfsd_reap *r = j->reap;
	unsigned others;
	bool direct;

	if (!r && !(r = j->reap = calloc(1, sizeof(*r)))) {
		hfsd_log(LOG_ERR, "control: out of memory reaping pid %d; "
			 "its blocks stay out of use", (int)cl->pid);
		j->leak = true;
		return;
	}
	if (!r->since_ns)
		r->since_ns = now_ns();
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < j->nw; i++)
		if (j->w[i].cl == cl && !j->w[i].acked) {
			j->w[i].reaping = true;
			j->w[i].killed = at_deadline;
			j->w[i].cl = NULL; /* cl is freed once dropped */
		}
	pthread_mutex_unlock(&c->lock);
	if (add_key(c, r, j, cl) < 0) {
		j->leak = true; /* cannot tell its holders: keep the blocks */
		return;
	}
	/* past the deadline: the pid that connected, through the pidfd
	 * taken at accept.  A client that went away is killed only if the
	 * scan finds it still holding something (closing the connection is
	 * a client's way to give everything up: libholdfs unmaps then). */
	direct = at_deadline && !cl->killed &&
		 kill_holder(c, r, cl->pid, dup(cl->pidfd));
	cl->killed = cl->killed || at_deadline;
	others = kill_holders(c, r, j, &r->keys[r->nkeys - 1]);
	if (direct || others)
		hfsd_log(LOG_WARNING, "control: pid %d %s; %s (and %u other "
			 "holder%s)", (int)cl->pid, at_deadline
			 ? "did not ack its REVOKE in time"
			 : "went away with a revocation unacknowledged",
			 direct ? "killing it" : "it is gone", others,
			 others == 1 ? "" : "s");
	/* no REVOKE or REMAP waits for it again; its leases are gone */
	hfsd_ctl_drop(c, cl, NULL);
	if (!r->polling)
		arm_poll(c, j);
}

/* Has every killed process exited? */
static bool all_gone(const struct hfsd_reap *r)
{
	for (size_t i = 0; i < r->nk; i++)
		if (!exited(r->k[i].pidfd))
			return false;
	return true;
}

static void log_survivors(const struct hfsd_ctl *c, const struct hfsd_reap *r)
{
	for (size_t i = 0; i < r->nk; i++) {
		if (!exited(r->k[i].pidfd)) /* alive, by its pidfd */
			hfsd_log(LOG_ERR, "control: pid %d still alive %u ms "
				 "after SIGKILL; the blocks it may map stay "
				 "out of use until the next mount",
				 (int)r->k[i].pid, hfsd_dying_ms(c));
	}
}

void hfsd_reap_poll(struct hfsd_ctl *c, struct hfsd_job *j)
{
	struct hfsd_reap *r = j->reap;
	bool done = false, late;

	if (!r)
		return;
	r->polling = false;
	late = now_ns() - r->since_ns >=
	       (uint64_t)hfsd_dying_ms(c) * 1000000ull;
	if (all_gone(r)) {
		unsigned found = 0;

		/* a process forked between the last scan and its parent's
		 * death holds it still: find it and kill it too */
		for (size_t i = 0; i < r->nkeys; i++)
			found += kill_holders(c, r, j, &r->keys[i]);
		done = !found;
	}
	if (!done && !late) {
		arm_poll(c, j);
		return;
	}
	if (!done) {
		log_survivors(c, r);
		j->leak = true;
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < j->nw; i++)
		if (j->w[i].reaping) {
			j->w[i].reaping = false;
			j->w[i].acked = true;
			j->w[i].cl = NULL;
		}
	pthread_mutex_unlock(&c->lock);
}
