/* SPDX-License-Identifier: MIT */
/*
 * holdfs: the mount daemon.
 *
 *   holdfs REGION MOUNTPOINT [-f] [-d] [-s] [-o opts]
 *
 * Startup is ordered so that every likely failure is reported on the
 * caller's terminal with exit status 1, before the daemon detaches:
 *
 *   1. parse options, check the mount point, create the FUSE session
 *      (this rejects unknown options) -- nothing opened yet;
 *   2. fork (fs/detach.c; the parent waits for step 5);
 *   3. open the region (ownership lock, mapping) and the volume (journal
 *      replay, indexes), reporting what recovery did;
 *   4. mount;
 *   5. detach from the terminal and release the waiting parent;
 *   6. serve requests until unmounted or signalled;
 *   7. unmount, close the volume (clean flag), close the region.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctl_server.h"
#include "deadline.h"
#include "detach.h"
#include "failure.h"
#include "fuse_io.h"
#include "fuse_uring.h"
#include "mountpoint.h"
#include "options.h"
#include "region_wait.h"
#include "remount.h"

#ifndef HOLDFS_VERSION
#define HOLDFS_VERSION "unknown"
#endif

static void report_recovery(const char *region, const struct hfs_vol_info *vi)
{
	if (vi->used_backup_sb)
		hfsd_log(LOG_WARNING, "%s: primary superblock damaged, mounted "
			 "from the backup superblock; run fsck.holdfs", region);
	if (vi->replayed)
		hfsd_log(LOG_WARNING, "%s: not cleanly unmounted; journal "
			 "replayed", region);
	else if (!vi->was_clean)
		hfsd_log(LOG_WARNING, "%s: not cleanly unmounted; nothing to "
			 "replay", region);
	if (vi->orphans_freed)
		hfsd_log(LOG_WARNING, "%s: freed %" PRIu64 " orphaned "
			 "inode%s (deleted while open at the crash)", region,
			 vi->orphans_freed, vi->orphans_freed == 1 ? "" : "s");
	if (vi->devices_lost)
		hfsd_log(LOG_CRIT, "%s: mounted degraded: %" PRIu32 " device%s "
			 "not given recorded lost, the data of its files with "
			 "it (holdfsctl devices, holdfsctl status)", region,
			 vi->devices_lost, vi->devices_lost == 1 ? "" : "s");
	if (vi->mirror_repaired || vi->mirror_failed)
		hfsd_log(LOG_WARNING, "%s: %" PRIu64 " metadata structure%s "
			 "damaged on the first device, taken from its mirror"
			 "%s (holdfsctl health)", region,
			 vi->mirror_repaired + vi->mirror_failed,
			 vi->mirror_repaired + vi->mirror_failed == 1 ? "" : "s",
			 vi->mirror_failed ? "; some could not be rewritten "
					     "(unreadable media)" : "");
	if (vi->ro_unwritable)
		hfsd_log(LOG_CRIT, "%s: the first device's superblock or "
			 "journal is unreadable (media error) and could not be "
			 "rewritten from its mirror: mounted READ-ONLY from the "
			 "mirror's copies; run fsck.holdfs -y to rewrite them, "
			 "or replace the device", region);
	if (vi->mirror_both_bad)
		hfsd_log(LOG_ERR, "%s: %" PRIu64 " metadata structure%s "
			 "damaged on the first device and in its mirror; run "
			 "fsck.holdfs", region, vi->mirror_both_bad,
			 vi->mirror_both_bad == 1 ? "" : "s");
}

/* Step 3.  Logs "holdfs: <what>: <why>" on failure. */
static int open_volume(struct hfsd *d, const struct hfsd_opts *o)
{
	struct hfs_region_opts ropts = {
		.sysfs_root = o->sysfs_root,
		.readonly = o->readonly,
		.check_private = !o->unsafe_region_mode,
		.private_uid = geteuid(),
	};
	struct hfs_vol_opts vopts = {
		.readonly = o->readonly,
		.atime = hfsd_opts_atime(o),
		.nodiratime = o->nodiratime,
		.devices = (const char *const *)o->devices,
		.ndevices = o->ndevices,
		.region_opts = &ropts,
		.degraded = o->degraded,
	};
	struct hfs_vol_info vi = { 0 };
	struct hfs_err err = { 0 };
	int r;

	r = hfs_region_open(o->region, &ropts, &d->rg, &err);
	/* umount; mount: the daemon of the old mount may still be closing
	 * the region (fs/region_wait.c) */
	if (r == -EBUSY &&
	    hfsd_region_wait_holder(o->region, HFSD_HOLDER_WAIT_MS)) {
		memset(&err, 0, sizeof(err));
		r = hfs_region_open(o->region, &ropts, &d->rg, &err);
	}
	if (r < 0) {
		if (err.code)
			hfsd_log(LOG_ERR, "%s", err.msg);
		else
			hfsd_log(LOG_ERR, "%s: cannot open region: %s",
				 o->region, strerror(-r));
		return -1;
	}
	if (!o->unsafe_region_mode &&
	    hfs_region_check_private(d->rg, geteuid(), &err) < 0) {
		hfsd_log(LOG_ERR, "%s", err.msg);
		hfs_region_close(d->rg);
		d->rg = NULL;
		return -1;
	}
	r = hfs_vol_open(d->rg, &vopts, &d->vol, &vi, &err);
	if (r < 0) {
		if (err.code == -EROFS && o->readonly)
			hfsd_log(LOG_ERR, "%s; mount it read-write once (or run "
				 "fsck.holdfs) to recover it", err.msg);
		else if (err.code)
			hfsd_log(LOG_ERR, "%s", err.msg);
		else
			hfsd_log(LOG_ERR, "%s: cannot open the filesystem: %s",
				 o->region, strerror(-r));
		hfs_region_close(d->rg);
		d->rg = NULL;
		return -1;
	}
	if (hfs_vol_from_mirror(d->vol)) {
		/* the volume is built on the mirror of device 0: everything
		 * from here works on it; REGION's own mapping keeps the lock */
		d->held = d->rg;
		d->rg = hfs_vol_region(d->vol);
		hfsd_log(LOG_WARNING, "%s: the volume's first device is lost; "
			 "serving its metadata from its mirror on %s",
			 o->region, o->region);
	} else {
		/* device 0 lost while mounted: on from its mirror, if the
		 * volume keeps one (fs/fail_failover.c) */
		hfs_vol_allow_failover(d->vol, true);
	}
	if (vi.ro_unwritable)
		d->readonly = true; /* the library refuses every write now */
	report_recovery(o->region, &vi);
	return 0;
}

/* Step 6.  Returns 0 when unmounted or stopped by a signal. */
static int serve(struct fuse_session *se, const struct hfsd_opts *o)
{
	struct fuse_loop_config *cfg;
	int r;

	if (o->singlethread) {
		r = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg) {
			hfsd_log(LOG_ERR, "out of memory");
			return -1;
		}
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		if (o->max_threads != HFSD_OPT_UNSET)
			fuse_loop_cfg_set_max_threads(cfg, o->max_threads);
		if (o->max_idle_threads != HFSD_OPT_UNSET)
			fuse_loop_cfg_set_idle_threads(cfg,
						       o->max_idle_threads);
		r = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* > 0: the signal that stopped the loop (SIGTERM, SIGINT, SIGHUP),
	 * an orderly shutdown like an unmount. */
	if (r < 0) {
		hfsd_log(LOG_ERR, "%s: request loop failed: %s", o->mountpoint,
			 strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * Once the request loop has ended, the daemon only unmounts and closes
 * the region (the clean flag).  A stop signal now must not cut that
 * short: systemd sends SIGTERM as soon as holdfs@.service's ExecStop
 * umount returns, which is exactly while the daemon closes (seen in
 * tests/boot/boot-test.sh: the daemon killed by that SIGTERM, no
 * "unmounted from" line).  The loop's handlers are gone by then and the
 * default action would kill it; ignore the signals instead.  SIGKILL
 * (the unit's stop timeout) still ends a close that hangs.
 */
static void ignore_stop_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

/* Steps 3-7, in the process that becomes the daemon. */
static int run(struct hfsd *d, struct fuse_session *se,
	       const struct hfsd_opts *o, const char *mnt, int ready_fd)
{
	struct hfsd_ctl *ctl = NULL;
	struct hfsd_fail *fail = NULL;
	struct hfsd_remount_watch *rw = NULL;
	const char *why = NULL;
	bool shut = false;
	int status = 0, conn_fd = -1;

	if (open_volume(d, o) < 0)
		return 1;
	if (fuse_session_mount(se, mnt) != 0) {
		hfsd_log(LOG_ERR, "%s: mount failed", o->mountpoint);
		status = 1;
		goto close_vol;
	}
	if (hfsd_fuse_io_install(se) < 0) {
		status = 1;
		goto unmount;
	}
	/* A copy of the FUSE descriptor, closed only once the region is:
	 * until then its fdinfo names this connection, which is how a new
	 * mount of the region tells a daemon that has lost its mount and
	 * is closing from one still serving (fs/region_wait.c). */
	conn_fd = fcntl(fuse_session_fd(se), F_DUPFD_CLOEXEC, 3);
	if (fuse_set_signal_handlers(se) != 0) {
		hfsd_log(LOG_ERR, "cannot install signal handlers");
		status = 1;
		goto unmount;
	}
	{
		/* The DAX lease service (docs/lease-protocol.md).  Failing
		 * to start it leaves the POSIX path working: log, go on. */
		struct hfsd_ctl_opts co = {
			.mountpoint = mnt,
			.revoke_ms = o->revoke_ms,
			.dax_group = o->dax_group,
			/* also when the volume came up read-only
			 * (open_volume): no write leases then */
			.readonly = o->readonly || d->readonly,
			.max_clients = o->max_clients,
			.max_per_uid = o->max_clients_per_uid,
			.hello_ms = o->hello_ms,
		};

		if (hfsd_ctl_start(d, se, &co, &ctl) < 0)
			hfsd_log(LOG_WARNING, "DAX leases unavailable on %s",
				 mnt);
	}
	{
		/* The failure pipeline (docs/failure-model.md).  Without it
		 * faults still become EIO; log and go on. */
		struct hfsd_fail_opts fo = {
			.uevent_source = o->uevent_source,
			.sysfs_root = o->sysfs_root,
			.devname = o->devname,
			.poll_ms = o->poll_ms,
		};

		if (hfsd_fail_start(d, se, ctl, &fo, &fail) < 0)
			hfsd_log(LOG_WARNING, "failure monitor unavailable on "
				 "%s", mnt);
	}
	/* mount -o remount (fs/remount.c) */
	if (hfsd_remount_watch_start(d, ctl, mnt, hfsd_opts_atime(o),
				     o->nodiratime, &rw) < 0)
		hfsd_log(LOG_WARNING, "%s: remounts will not be followed "
			 "(read-only remounts still refuse every write through "
			 "the mount)", mnt);
	if (ready_fd >= 0) {
		if (hfsd_detach_finish(ready_fd) < 0) {
			status = 1;
			goto signals;
		}
		hfsd_log(LOG_INFO, "%s mounted on %s%s", o->region, mnt,
			 d->readonly ? " (read-only)" : "");
	}
	if (serve(se, o) < 0)
		status = 1;
signals:
	hfsd_uring_stop(d->uring); /* its threads end with the loop's */
	d->uring = NULL;
	hfsd_remount_watch_stop(rw); /* uses the control server */
	hfsd_fail_stop(fail); /* uses the control server: stop it first */
	shut = hfsd_fail_is_shutdown(fail, &why);
	hfsd_ctl_stop(ctl); /* before unmount: clients see EOF first */
	fuse_remove_signal_handlers(se);
	ignore_stop_signals();
unmount:
	fuse_session_unmount(se);
close_vol:
	if (shut) {
		/* nothing is written to a failed region (no clean flag) */
		hfs_vol_close(d->vol);
		hfsd_log(LOG_CRIT, "%s", why);
		status = 1;
	} else if (hfs_vol_close(d->vol) < 0) {
		hfsd_log(LOG_ERR, "%s: could not record a clean unmount; run "
			 "fsck.holdfs before the next mount", o->region);
		status = 1;
	}
	/* the volume closed its own region if it built one (from the
	 * mirror); ours last: it drops the ownership lock */
	hfs_region_close(d->held ? d->held : d->rg);
	if (conn_fd >= 0)
		close(conn_fd);
	hfsd_fail_free(fail);
	if (ready_fd >= 0 && status == 0)
		hfsd_log(LOG_INFO, "%s unmounted from %s", o->region, mnt);
	return status;
}

static int print_version(void)
{
	printf("holdfs %s\nlibfuse %s\n", HOLDFS_VERSION, fuse_pkgversion());
	return 0;
}

/* Help and version go to stdout; a full disk or closed pipe is an
 * error, not a silent truncation. */
static int flush_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "holdfs: write error: %s\n", strerror(errno));
		return 1;
	}
	return status;
}

/* Every control-socket connection costs descriptors (ctl_admit.c), and
 * the soft limit is often 1024 where the hard one is far higher: take
 * what we are allowed, as servers do.  The connection bounds, not the
 * descriptor limit, are what keep a user from crowding others out. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			hfsd_log(LOG_INFO, "cannot raise the descriptor limit: "
				 "%s", strerror(errno));
	}
}

int main(int argc, char *argv[])
{
	struct hfsd_opts o;
	struct hfsd d = { 0 };
	struct fuse_session *se = NULL;
	char *mnt = NULL, *region_abs = NULL;
	int ready_fd = -1, status = 1;

	hfsd_log_init();
	/* machine checks on region memory: SIGBUS at once (BUS_MCEERR_AO
	 * too), so the failure pipeline hears of poison early */
	prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0);
	raise_nofile();
	if (hfsd_opts_parse(argc, argv, &o) < 0)
		goto out;
	if (o.show_help) {
		hfsd_usage(stdout);
		status = flush_stdout(0);
		goto out;
	}
	if (o.show_version) {
		status = flush_stdout(print_version());
		goto out;
	}
	if (o.remount) {
		status = hfsd_remount(&o);
		goto out;
	}
	if (hfsd_check_mountpoint(o.mountpoint, &mnt) < 0)
		goto out;
	region_abs = realpath(o.region, NULL);
	if (hfsd_opts_finish(&o, region_abs ? region_abs : o.region) < 0) {
		hfsd_log(LOG_ERR, "out of memory");
		goto out;
	}
	d.region_path = o.region;
	d.readonly = o.readonly;
	d.debug = o.debug;
	d.want_uring = o.io_uring;
	d.uring_depth = o.io_uring_depth;
	/* Rejects unknown -o options (libfuse says which). */
	se = fuse_session_new(&o.fuse_args, &hfsd_ops, sizeof(hfsd_ops), &d);
	if (!se)
		goto out;
	d.se = se;
	if (!o.foreground && hfsd_detach_begin(&ready_fd) < 0)
		goto out;
	status = run(&d, se, &o, mnt, ready_fd);
out:
	if (se)
		fuse_session_destroy(se);
	free(region_abs);
	free(mnt);
	hfsd_opts_free(&o);
	return status;
}
