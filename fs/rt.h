/* SPDX-License-Identifier: MIT */
/*
 * Real-time scheduling for the daemon's deadline-bound work (the failure
 * pipeline, the control thread during a failure revocation round):
 * docs/failure-model.md, "Scheduling".  A thread is raised to SCHED_FIFO
 * 1 only if it runs SCHED_OTHER (an operator's own choice, e.g. the
 * whole daemon under chrt, is kept), and only if the daemon may; then
 * put back exactly as it was.
 */
#ifndef HOLDFS_FS_RT_H
#define HOLDFS_FS_RT_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

struct hfsd_rt {
	bool raised;
	int policy;
	struct sched_param param;
};

void hfsd_rt_raise(pthread_t t, struct hfsd_rt *saved);
void hfsd_rt_restore(pthread_t t, struct hfsd_rt *saved);

#endif
