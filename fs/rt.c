/* SPDX-License-Identifier: MIT */
/* Real-time raise and restore of one thread (see rt.h). */
#include "rt.h"

void hfsd_rt_raise(pthread_t t, struct hfsd_rt *saved)
{
	struct sched_param sp = { .sched_priority = 1 };

	saved->raised = pthread_getschedparam(t, &saved->policy,
					      &saved->param) == 0 &&
			saved->policy == SCHED_OTHER &&
			pthread_setschedparam(t, SCHED_FIFO, &sp) == 0;
}

void hfsd_rt_restore(pthread_t t, struct hfsd_rt *saved)
{
	if (saved->raised)
		pthread_setschedparam(t, saved->policy, &saved->param);
	saved->raised = false;
}
