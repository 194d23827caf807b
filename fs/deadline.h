/* SPDX-License-Identifier: MIT */
/*
 * Bounded condition-variable waits on CLOCK_MONOTONIC (a wall-clock jump
 * must not stretch or cut a deadline): the condvar to wait on, and the
 * absolute deadline "ms from now" to pass to pthread_cond_timedwait.
 */
#ifndef HOLDFS_FS_DEADLINE_H
#define HOLDFS_FS_DEADLINE_H

#include <pthread.h>
#include <time.h>

static inline void hfsd_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

static inline struct timespec hfsd_deadline_ms(unsigned ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

#endif
