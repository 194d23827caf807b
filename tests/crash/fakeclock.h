/* SPDX-License-Identifier: MIT */
/*
 * A deterministic CLOCK_REALTIME for the crash harness.
 *
 * crashcheck is linked with -Wl,--wrap=clock_gettime, so every
 * clock_gettime() call in lib/ (inode times, mkfs and mount times, health
 * records) comes here.  CLOCK_REALTIME returns a fake time that starts at
 * the same instant for every workload run and advances by one microsecond
 * per call; every other clock is the real one.  The region images a
 * workload produces are then byte-identical from run to run, so a crash
 * state named by (workload, seed, fence, mask) replays exactly and the
 * deduplication counts are stable.
 */
#ifndef CRASH_FAKECLOCK_H
#define CRASH_FAKECLOCK_H

void fakeclock_reset(void);

#endif
