/* SPDX-License-Identifier: MIT */
/*
 * Deterministic CLOCK_REALTIME (fakeclock.h).
 */
#include "fakeclock.h"

#include <time.h>

#define FAKE_EPOCH 1700000000ll /* 2023-11-14, any fixed instant */

static long long fake_us;

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);

void fakeclock_reset(void)
{
	fake_us = 0;
}

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (clk != CLOCK_REALTIME && clk != CLOCK_REALTIME_COARSE)
		return __real_clock_gettime(clk, ts);
	fake_us++;
	ts->tv_sec = (time_t)(FAKE_EPOCH + fake_us / 1000000);
	ts->tv_nsec = (long)(fake_us % 1000000) * 1000;
	return 0;
}
