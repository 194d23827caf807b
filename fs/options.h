/* SPDX-License-Identifier: MIT */
/*
 * Command line of the holdfs daemon:
 *   holdfs REGION MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]
 * as typed by hand or as run by mount.fuse3 from mount(8) and /etc/fstab.
 */
#ifndef HOLDFS_FS_OPTIONS_H
#define HOLDFS_FS_OPTIONS_H

#include <stdio.h>

#include "daemon.h"

/* An unsigned option not given: libfuse's default applies. */
#define HFSD_OPT_UNSET (~0u)
/* io_uring threads per CPU queue: each holds one request, so a handler
 * that waits (a REMAP, a revocation) blocks one of them, not the queue */
#define HFSD_URING_DEPTH_DEFAULT 4
#define HFSD_URING_DEPTH_MAX 64
#define HFSD_MAX_DEVICES 31 /* HFS_MEMBERS_MAX - 1 */

struct hfsd_opts {
	char *region;
	char *mountpoint;
	int foreground;         /* -f, or -d */
	int debug;              /* -d, -o debug */
	int singlethread;       /* -s */
	int readonly;           /* -o ro (last of ro/rw wins) */
	int show_help;
	int show_version;
	int has_fsname;         /* user gave fsname=, keep it */
	int has_subtype;
	int noatime;            /* -o noatime (atime clears it) */
	int strictatime;        /* -o strictatime (beats noatime) */
	int nodiratime;         /* -o nodiratime */
	int remount;            /* -o remount: change a running mount */
	unsigned long msflags;  /* generic MS_* flags given (nosuid, nodev,
				   noexec, sync, dirsync, lazytime) */
	char *sysfs_root;       /* -o sysfs_root=PATH */
	unsigned max_threads;   /* -o max_threads=N, or HFSD_OPT_UNSET */
	unsigned max_idle_threads; /* likewise: unset = libfuse default */
	int io_uring;           /* -o io_uring: FUSE over io_uring if offered */
	unsigned io_uring_depth; /* -o io_uring_depth=N: threads per CPU */
	unsigned revoke_ms;     /* -o revoke_ms=N: REVOKE/REMAP ack deadline */
	char *dax_group;        /* -o dax_group=NAME: may hold DAX leases */
	char *uevent_source;    /* -o uevent_source=PATH: FIFO of uevents */
	char *devname;          /* -o devname=daxN.M: device to monitor */
	unsigned poll_ms;       /* -o poll_ms=N: failure monitor period */
	unsigned max_clients;   /* -o max_clients=N: control connections */
	unsigned max_clients_per_uid; /* -o max_clients_per_uid=N */
	unsigned hello_ms;      /* -o hello_ms=N: first-message deadline */
	int unsafe_region_mode; /* -o unsafe_region_mode: allow a region
				   others may read or write */
	char *devices[HFSD_MAX_DEVICES]; /* -o device=PATH, each member
				   after REGION of a volume of several */
	unsigned ndevices;
	int degraded;           /* -o degraded: mount without missing devices */
	char *bad_arg;          /* first surplus non-option argument */
	/* What is left for fuse_session_new: kernel and libfuse mount
	 * options, plus default_permissions, fsname and subtype. */
	struct fuse_args fuse_args;
};

/* Parse argv.  Returns 0, or -1 after printing a usage error. */
int hfsd_opts_parse(int argc, char **argv, struct hfsd_opts *o);
void hfsd_opts_free(struct hfsd_opts *o);
/* Add the options every holdfs mount gets (default_permissions, fsname,
 * subtype).  region_abs names the region in /proc/mounts. */
int hfsd_opts_finish(struct hfsd_opts *o, const char *region_abs);

/* The access-time policy the atime options add up to. */
enum hfs_atime hfsd_opts_atime(const struct hfsd_opts *o);

void hfsd_usage(FILE *f);

#endif
