/* SPDX-License-Identifier: MIT */
/*
 * The lease service (docs/lease-protocol.md), started and stopped with
 * the control server that carries it: the lease table (lease_table.c),
 * the page-cache coherence table shared with DAX clients (coherence.c),
 * the PERSISTED worker (persisted.c) and the volume hooks of the
 * revocation engine (revoke_hooks.c).  Clients' requests are answered
 * in lease_req.c, the operator's in admin.c.
 */
#include "lease_i.h"
#include "lease.h"

#include <string.h>

#include "coherence.h"
#include "datapath.h"
#include "persisted.h"
#include "revoke.h"

/* Words in the coherence table: a leased inode takes one until its last
 * lease goes; beyond that many leased inodes, clients ask on every
 * persist (correct, slower).  256 KiB. */
#define COH_SLOTS 65536u

void hfsd_lease_init(struct hfsd_ctl *c)
{
	int r;

	hfsd_lease_table_init(c);
	r = hfsd_coh_new(COH_SLOTS, &c->coh);
	if (r < 0) {
		c->coh = NULL;
		hfsd_log(LOG_WARNING, "control: no page-cache coherence table "
			 "(%s); every holdfs_persist asks the daemon",
			 strerror(-r));
	}
	/* FUSE READ/WRITE mark inodes cached through it (fs/ops_file.c) */
	c->d->coh = c->coh;
	r = hfsd_persisted_start(c);
	if (r < 0)
		hfsd_log(LOG_WARNING, "control: no PERSISTED worker (%s); "
			 "holdfs_persist gets ERROR when it must ask",
			 strerror(-r));
	hfs_vol_dslot_area(c->d->vol, &c->dslot_off, &c->dslot_count);
	/* a client holds a slot lock for one copy; one that keeps it
	 * longer than a revocation deadline is stuck */
	hfs_vol_set_dslot_wait(c->d->vol, 4 * c->revoke_ms > 2000
				       ? 4 * c->revoke_ms : 2000);
	r = hfsd_datapath_start(c);
	if (r < 0) {
		hfsd_log(LOG_WARNING, "control: no data-path worker (%s); "
			 "no data-path leases", strerror(-r));
		c->dslot_count = 0;
	}
	c->d->ctl = c;
	hfsd_revoke_hooks_install(c);
}

/* Runs after the FUSE loop has ended (or before it started): no READ or
 * WRITE handler uses the coherence table any more. */
void hfsd_lease_fini(struct hfsd_ctl *c)
{
	hfsd_revoke_hooks_remove(c);
	pthread_mutex_lock(&c->lock);
	hfsd_lease_drop_client_locked(c, NULL);
	pthread_mutex_unlock(&c->lock);
	hfsd_revoke_jobs_fini(c);
	c->d->ctl = NULL;
	hfsd_datapath_stop(c);
	c->d->coh = NULL;
	if (hfsd_persisted_stop(c))
		hfsd_coh_free(c->coh); /* else the stuck worker may use it */
	c->coh = NULL;
}
