/* SPDX-License-Identifier: MIT */
/*
 * The failure pipeline's entry inside lib/ (failure.c); the rest of it
 * (classify, mark lost, shutdown) is public in vol.h.
 */
#ifndef HOLDFS_FAILURE_I_H
#define HOLDFS_FAILURE_I_H

#include "region.h"

struct hfs_vol;

/* Report a failed guarded access to the fault hook (no-op without one or
 * if f->si_code is 0).  Any locks may be held. */
void hfs_vol_fault(struct hfs_vol *vol, const struct hfs_fault *f);

#endif
