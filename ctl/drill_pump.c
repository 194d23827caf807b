/* SPDX-License-Identifier: MIT */
/*
 * The parent's side of the drill's workers: their messages (struct dmsg,
 * read non-blocking from the pipe) and exits update struct worker; from
 * that, whether each has reacted to the injection as it should; and
 * stopping them all.
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drill.h"

/* Keep the first time of an event. */
static void first(uint64_t *t, uint64_t v)
{
	if (!*t)
		*t = v;
}

static void handle_msg(struct drill *d, const struct dmsg *m)
{
	struct worker *w;

	if (m->worker >= nworkers(d))
		return;
	w = &d->wk[m->worker];
	switch (m->type) {
	case M_READY:
		w->ready = true;
		if (!w->writer)
			d->lsz = m->aux;
		break;
	case M_BEAT:
		w->t_beat = m->t_ns;
		break;
	case M_REVOKED:
	case M_SIGBUS:
		if (m->type == M_REVOKED)
			w->nrev++;
		else
			w->nbus++;
		first(m->type == M_REVOKED ? &w->t_revoked : &w->t_sigbus,
		      m->t_ns);
		if (!w->writer && m->lease < nleases(d, m->worker) &&
		    !w->t_lost[m->lease])
			w->t_lost[m->lease] = m->t_ns;
		break;
	case M_NOTICE:
		first(&w->t_notice, m->t_ns);
		break;
	case M_RELEASED:
		first(&w->t_released, m->t_ns);
		for (unsigned j = 0; !w->writer &&
		     j < nleases(d, m->worker); j++)
			if (!w->t_lost[j])
				w->t_lost[j] = m->t_ns;
		break;
	case M_ERROR:
		if (!w->t_err) {
			w->t_err = m->t_ns;
			w->err = m->val;
		}
		break;
	case M_FATAL:
		w->fatal = true;
		w->fatal_err = m->val;
		break;
	}
}

static void reap(struct drill *d)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		for (unsigned i = 0; i < nworkers(d); i++)
			if (d->wk[i].pid == p) {
				d->wk[i].exited = true;
				d->wk[i].status = st;
				d->wk[i].t_exit = now_ns();
				d->wk[i].killed = WIFSIGNALED(st) &&
						  WTERMSIG(st) == SIGKILL;
			}
}

void drill_pump(struct drill *d, int wait_ms)
{
	struct pollfd p = { d->rfd, POLLIN, 0 };
	struct dmsg m;

	if (poll(&p, 1, wait_ms) > 0)
		while (read(d->rfd, &m, sizeof(m)) == (ssize_t)sizeof(m))
			handle_msg(d, &m);
	reap(d);
}

uint64_t drill_client_lost(struct drill *d, struct worker *w)
{
	uint64_t t = 0;

	if (w->exited && w->killed)
		return w->t_exit;
	for (unsigned j = 0; j < nleases(d, (unsigned)(w - d->wk)); j++) {
		if (!w->expect[j])
			continue;
		if (!w->t_lost[j])
			return 0;
		if (w->t_lost[j] > t)
			t = w->t_lost[j];
	}
	return t ? t : d->t_inj;
}

/* A writer of a whole-device drill, or one whose file is affected, must
 * fail (or exit); any other must make progress after the injection (an
 * offline drill's may also fail: the daemon goes away).  A client must
 * lose its expected leases, and in a range drill go on beating (or
 * exit). */
bool drill_worker_settled(struct drill *d, struct worker *w, bool affected)
{
	if (w->writer && d->offline)
		return w->t_err || w->exited || w->t_beat > d->t_inj;
	if (w->writer) {
		if (!d->range || affected)
			return w->t_err || w->exited;
		return w->t_beat > d->t_inj;
	}
	if (!drill_client_lost(d, w))
		return false;
	return !d->range || w->exited || w->t_beat > d->t_inj;
}

static bool all_exited(struct drill *d)
{
	bool all = true;

	for (unsigned i = 0; i < nworkers(d); i++)
		all &= d->wk[i].exited || d->wk[i].pid <= 0;
	return all;
}

void drill_stop_workers(struct drill *d)
{
	uint64_t until;

	d->running = false;
	for (unsigned i = 0; i < nworkers(d); i++)
		if (!d->wk[i].exited && d->wk[i].pid > 0)
			kill(d->wk[i].pid, SIGTERM);
	until = now_ns() + DRILL_STOP_MS * 1000000ull;
	for (;;) {
		drill_pump(d, 10);
		if (all_exited(d))
			return;
		if (now_ns() > until)
			break;
	}
	for (unsigned i = 0; i < nworkers(d); i++)
		if (!d->wk[i].exited && d->wk[i].pid > 0)
			kill(d->wk[i].pid, SIGKILL);
	for (unsigned i = 0; i < nworkers(d); i++)
		if (!d->wk[i].exited && d->wk[i].pid > 0) {
			waitpid(d->wk[i].pid, &d->wk[i].status, 0);
			d->wk[i].exited = true;
		}
}
