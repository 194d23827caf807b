/* SPDX-License-Identifier: MIT */
/*
 * A revocation's deadline is judged after the ring's batch, and a
 * client whose message waits unread is not killed for the daemon's
 * slowness (fs/revoke.c, judge_expired).
 *
 * The ring thread handles a batch of completions, then the jobs.  A
 * client's receive is re-armed only after its previous message was
 * handled, and goes to the kernel with the next submission; a thread
 * busy in that batch (a grant zeroing a large reservation, or a loaded
 * machine) can see a revocation's timer complete while the client's
 * ack, sent in time, still sits in the socket.  The timer's completion
 * used to decide at once: the client was SIGKILLed (and every process
 * still holding its region) although it had answered.
 *
 * Here, on the rig (ctl_rig.h) in a child process (a wrong verdict
 * kills processes, not the test): the client's pid is a sleeping
 * grandchild, the victim.  A write lease of four units, a truncate to
 * one: a REVOKE, which the client reads.
 *   1. The client acks, but the daemon has not read the ack when the
 *      deadline passes: no kill, the deadline is put off; then the ack
 *      is read and the job ends.
 *   2. A second truncate: the client sends something else (never the
 *      ack) and keeps it unread: the deadline is put off
 *      HFSD_ACK_GRACES times, no more; then the victim is killed.
 *   3. (Before 2, the same without any message: killed at the first
 *      deadline -- the grace is for talking clients only.)
 */
#include "ctl_rig.h"
#include "msg_table.h"
#include "revoke.h"
#include "revoke_i.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "check.h"

#define WAIT_MS 10000

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* A process that sleeps until killed. */
static pid_t victim(void)
{
	pid_t p = fork();

	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static bool dead_within(pid_t p, int ms)
{
	for (int i = 0; i < ms; i += 10) {
		int st;

		if (waitpid(p, &st, WNOHANG) == p)
			return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		usleep(10000);
	}
	return false;
}

static struct hfsd_job *the_job(struct rig *r)
{
	struct hfsd_job *j;

	pthread_mutex_lock(&r->c->lock);
	j = r->c->jobs;
	pthread_mutex_unlock(&r->c->lock);
	return j;
}

/* The deadline of the only job passes: its timer's completion, then
 * the end of the ring's batch. */
static void deadline(struct rig *r)
{
	struct hfsd_job *j = the_job(r);

	CHECK(j != NULL);
	if (!j)
		return;
	hfsd_lease_timeout(r->c, j->id);
	hfsd_lease_run_jobs(r->c);
}

static void send_msg(struct rig *r, uint16_t type, uint64_t id)
{
	struct hfs_msg_lease_ref m;

	memset(&m, 0, sizeof(m));
	m.h.magic = HFS_PROTO_MAGIC;
	m.h.version = HFS_PROTO_VERSION;
	m.h.type = type;
	m.h.len = sizeof(m);
	m.h.id = id;
	CHECK_EQ(send(r->peer, &m, sizeof(m), 0), (ssize_t)sizeof(m));
}

/* The daemon reads the client's next message and handles an ack. */
static void daemon_reads(struct rig *r)
{
	struct hfs_msg_lease_ref m;

	CHECK_EQ(recv(r->cl->fd, &m, sizeof(m), MSG_DONTWAIT),
		 (ssize_t)sizeof(m));
	if (m.h.type == HFS_MSG_REVOKE_ACK)
		hfsd_on_ack(r->c, r->cl, &m, -1);
	hfsd_lease_run_jobs(r->c);
}

static uint64_t revoke_after_truncate(struct rig *r, uint64_t size)
{
	uint64_t id = 0;

	CHECK_EQ(rig_truncate(r, size), 0);
	hfsd_lease_run_jobs(r->c);
	CHECK_EQ(rig_next_msg(r, &id, NULL, 0), HFS_MSG_REVOKE);
	return id;
}

/* The rig, its client's pid a victim, with a write lease of four units
 * of the file.  0, or rig_open's code. */
static int leased_rig(struct rig *r, pid_t *v)
{
	uint64_t id;
	int rc = rig_open(r);

	if (rc)
		return rc;
	*v = victim();
	r->cl->pid = *v;
	r->cl->pidfd = pidfd_of(*v);
	CHECK(r->cl->pidfd >= 0);
	CHECK_EQ(rig_fill(r, 4 * r->unit), 0);
	rig_lease_req(r, 1, 0, 4 * r->unit);
	CHECK_EQ(rig_next_msg(r, &id, NULL, 0), HFS_MSG_LEASE_OK);
	return 0;
}

static int scenario(void)
{
	struct rig r;
	uint64_t rv;
	pid_t v;
	int rc = leased_rig(&r, &v);

	if (rc)
		return rc;

	/* 1: acked in time, read late */
	rv = revoke_after_truncate(&r, 3 * r.unit);
	send_msg(&r, HFS_MSG_REVOKE_ACK, rv);
	deadline(&r);
	CHECK(!r.cl->closing);
	CHECK(!dead_within(v, 200));
	if (r.cl->closing) {
		fprintf(stderr, "test_ack_grace: a client whose ack waited "
			"unread was reaped at the deadline\n");
		rig_close(&r);
		return 1;
	}
	CHECK_EQ(the_job(&r)->graces, 1u);
	daemon_reads(&r);
	CHECK(the_job(&r) == NULL);

	/* 2: talking, never acking: put off HFSD_ACK_GRACES times */
	rv = revoke_after_truncate(&r, 2 * r.unit);
	send_msg(&r, HFS_MSG_RELEASE, 12345); /* left unread */
	for (unsigned g = 0; g < HFSD_ACK_GRACES; g++) {
		deadline(&r);
		CHECK(!r.cl->closing);
	}
	CHECK_EQ(the_job(&r)->graces, HFSD_ACK_GRACES);
	deadline(&r);
	CHECK(r.cl->closing);
	CHECK(dead_within(v, WAIT_MS));
	(void)rv;
	rig_close(&r);
	return failures ? 1 : 0;
}

/* 3, on a rig of its own: silent at the deadline, killed at once. */
static int silent(void)
{
	struct rig r;
	pid_t v;
	int rc = leased_rig(&r, &v);

	if (rc)
		return rc;
	(void)revoke_after_truncate(&r, r.unit);
	deadline(&r);
	CHECK(r.cl->closing);
	CHECK(dead_within(v, WAIT_MS));
	rig_close(&r);
	return failures ? 1 : 0;
}

/* Each in a child: a wrong verdict must kill processes of ours only. */
static int in_child(int (*fn)(void), const char *what)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		setpgid(0, 0);
		_exit(fn());
	}
	if (p < 0 || waitpid(p, &st, 0) != p) {
		perror("fork");
		return 1;
	}
	kill(-p, SIGKILL); /* a victim left behind */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return 77;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "test_ack_grace: %s failed (%s %d)\n", what,
			WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return 1;
	}
	return 0;
}

int main(void)
{
	int a = in_child(silent, "a silent laggard killed at the deadline");
	int b = a == 77 ? 77 : in_child(scenario, "a talking laggard");

	if (a == 77 || b == 77)
		return 77;
	if (a || b)
		return 1;
	printf("test_ack_grace: ok\n");
	return 0;
}
