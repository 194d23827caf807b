/* SPDX-License-Identifier: MIT */
/*
 * Command-line parsing for the daemon, with libfuse's fuse_opt so that
 * "-o a,b,c" lists, escaping and option templates behave exactly as in
 * every other FUSE filesystem.
 *
 * Options fall in four groups:
 *  - holdfs's own (sysfs_root=, max_threads=, max_idle_threads=), consumed
 *    here;
 *  - ro / rw, noted here (the region is opened read-only for ro) and also
 *    passed on, because the kernel must mark the mount read-only;
 *  - the atime options (noatime, strictatime, relatime, nodiratime,
 *    lazytime and their opposites), consumed here: the daemon keeps the
 *    access times (the kernel leaves them to FUSE daemons), and noatime
 *    is passed on when it is the outcome so /proc/mounts shows it;
 *  - options mount(8) and mount.fuse3 hand every helper but which mean
 *    nothing to a FUSE mount (defaults, nofail, _netdev, x-*, nonempty,
 *    iversion, ...), dropped so that an /etc/fstab line works;
 *  - everything else, passed to fuse_session_new, which applies kernel
 *    and libfuse mount options and rejects what it does not know.
 */
#include "options.h"
#include "ctl_server.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "deadline.h"

/* A default or bound from deadline.h, in the help and error texts. */
#define STR_(x) #x
#define STR(x) STR_(x)

enum {
	KEY_RO,
	KEY_RW,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SINGLE,
	KEY_HELP,
	KEY_VERSION,
	KEY_FSNAME,
	KEY_SUBTYPE,
	KEY_DROP,
	KEY_NOATIME,
	KEY_ATIME,
	KEY_STRICTATIME,
	KEY_NOSTRICTATIME,
	KEY_NODIRATIME,
	KEY_DIRATIME,
	KEY_REMOUNT,
	KEY_DEVICE,
	KEY_LAZYTIME,
	KEY_NOLAZYTIME,
};

/* Generic per-mount flags, passed on to libfuse as they are, and noted
 * for a remount, which sets them itself (fs/remount.c). */
static const struct {
	const char *name;
	unsigned long flag;
	bool set;
} generic_flags[] = {
	{ "nosuid", MS_NOSUID, true },   { "suid", MS_NOSUID, false },
	{ "nodev", MS_NODEV, true },     { "dev", MS_NODEV, false },
	{ "noexec", MS_NOEXEC, true },   { "exec", MS_NOEXEC, false },
	{ "sync", MS_SYNCHRONOUS, true }, { "async", MS_SYNCHRONOUS, false },
	{ "dirsync", MS_DIRSYNC, true },
};

static void note_generic_flag(struct hfsd_opts *o, const char *arg)
{
	for (size_t i = 0; i < sizeof(generic_flags) / sizeof(generic_flags[0]);
	     i++) {
		if (strcmp(arg, generic_flags[i].name) != 0)
			continue;
		if (generic_flags[i].set)
			o->msflags |= generic_flags[i].flag;
		else
			o->msflags &= ~generic_flags[i].flag;
	}
}

#define HOPT(t, field) { t, offsetof(struct hfsd_opts, field), 0 }

static const struct fuse_opt hfsd_opt_spec[] = {
	HOPT("sysfs_root=%s", sysfs_root),
	HOPT("max_threads=%u", max_threads),
	HOPT("max_idle_threads=%u", max_idle_threads),
	HOPT("io_uring_depth=%u", io_uring_depth),
	{ "io_uring", offsetof(struct hfsd_opts, io_uring), 1 },
	HOPT("revoke_ms=%u", revoke_ms),
	HOPT("dax_group=%s", dax_group),
	HOPT("uevent_source=%s", uevent_source),
	HOPT("devname=%s", devname),
	HOPT("poll_ms=%u", poll_ms),
	HOPT("max_clients=%u", max_clients),
	HOPT("max_clients_per_uid=%u", max_clients_per_uid),
	HOPT("hello_ms=%u", hello_ms),
	{ "degraded", offsetof(struct hfsd_opts, degraded), 1 },
	{ "unsafe_region_mode", offsetof(struct hfsd_opts, unsafe_region_mode),
	  1 },
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("--debug", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	/* always passed anyway (hfsd_opts_finish) */
	FUSE_OPT_KEY("default_permissions", KEY_DROP),
	/* fstab and mount(8) bookkeeping */
	FUSE_OPT_KEY("defaults", KEY_DROP),
	FUSE_OPT_KEY("auto", KEY_DROP),
	FUSE_OPT_KEY("noauto", KEY_DROP),
	FUSE_OPT_KEY("nofail", KEY_DROP),
	FUSE_OPT_KEY("_netdev", KEY_DROP),
	FUSE_OPT_KEY("user", KEY_DROP),
	FUSE_OPT_KEY("users", KEY_DROP),
	FUSE_OPT_KEY("nouser", KEY_DROP),
	FUSE_OPT_KEY("owner", KEY_DROP),
	FUSE_OPT_KEY("group", KEY_DROP),
	/* fuse2's mountpoint check; libfuse 3 always allows it */
	FUSE_OPT_KEY("nonempty", KEY_DROP),
	/* atime policy, combined as the kernel combines the mount flags
	 * (measured: strictatime beats noatime, norelatime alone is still
	 * relatime; docs/semantics.md).  Access times are always lazy, so
	 * lazytime changes nothing. */
	FUSE_OPT_KEY("noatime", KEY_NOATIME),
	FUSE_OPT_KEY("atime", KEY_ATIME),
	FUSE_OPT_KEY("strictatime", KEY_STRICTATIME),
	FUSE_OPT_KEY("nostrictatime", KEY_NOSTRICTATIME),
	FUSE_OPT_KEY("nodiratime", KEY_NODIRATIME),
	FUSE_OPT_KEY("diratime", KEY_DIRATIME),
	FUSE_OPT_KEY("relatime", KEY_DROP),
	FUSE_OPT_KEY("norelatime", KEY_DROP),
	FUSE_OPT_KEY("lazytime", KEY_LAZYTIME),
	FUSE_OPT_KEY("nolazytime", KEY_NOLAZYTIME),
	/* mount -o remount: change a running mount (fs/remount.c) */
	FUSE_OPT_KEY("remount", KEY_REMOUNT),
	/* the other devices of a volume of several (docs/format.md) */
	FUSE_OPT_KEY("device=", KEY_DEVICE),
	FUSE_OPT_KEY("iversion", KEY_DROP),
	FUSE_OPT_KEY("noiversion", KEY_DROP),
	FUSE_OPT_END
};

/* Non-option arguments: REGION, then MOUNTPOINT. */
static int take_nonopt(struct hfsd_opts *o, const char *arg)
{
	char **slot = !o->region ? &o->region
		    : !o->mountpoint ? &o->mountpoint : NULL;

	if (!slot) {
		if (!o->bad_arg)
			o->bad_arg = strdup(arg);
		return 0;
	}
	*slot = strdup(arg);
	return *slot ? 0 : -1;
}

/* fuse_opt_proc_t: 0 drops the argument, 1 keeps it for libfuse. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct hfsd_opts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		return take_nonopt(o, arg);
	case FUSE_OPT_KEY_OPT:
		/* systemd and mount(8) annotations: x-systemd.*, comment= */
		if (strncmp(arg, "x-", 2) == 0 ||
		    strncmp(arg, "comment=", 8) == 0)
			return 0;
		note_generic_flag(o, arg);
		return 1;
	case KEY_RO:
		o->readonly = 1;
		return 1;
	case KEY_RW:
		o->readonly = 0;
		return 1;
	case KEY_DEBUG:
		o->debug = 1;
		o->foreground = 1;
		return 1;      /* libfuse traces requests with it */
	case KEY_FOREGROUND:
		o->foreground = 1;
		return 0;
	case KEY_SINGLE:
		o->singlethread = 1;
		return 0;
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case KEY_FSNAME:
		o->has_fsname = 1;
		return 1;
	case KEY_SUBTYPE:
		o->has_subtype = 1;
		return 1;
	case KEY_NOATIME:
	case KEY_ATIME:
		o->noatime = key == KEY_NOATIME;
		return 0;
	case KEY_STRICTATIME:
	case KEY_NOSTRICTATIME:
		o->strictatime = key == KEY_STRICTATIME;
		return 0;
	case KEY_NODIRATIME:
	case KEY_DIRATIME:
		o->nodiratime = key == KEY_NODIRATIME;
		return 0;
	case KEY_LAZYTIME:
	case KEY_NOLAZYTIME:
		if (key == KEY_LAZYTIME)
			o->msflags |= MS_LAZYTIME;
		else
			o->msflags &= ~(unsigned long)MS_LAZYTIME;
		return 0;
	case KEY_REMOUNT:
		o->remount = 1;
		return 0;
	case KEY_DEVICE:
		if (o->ndevices == HFSD_MAX_DEVICES) {
			if (!o->bad_arg)
				o->bad_arg = strdup(arg);
			return 0;
		}
		o->devices[o->ndevices] = strdup(arg + strlen("device="));
		return o->devices[o->ndevices++] ? 0 : -1;
	default:
		return 0;
	}
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "holdfs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'holdfs --help' for more information.\n");
	return -1;
}

int hfsd_opts_parse(int argc, char **argv, struct hfsd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fuse_args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	o->max_threads = HFSD_OPT_UNSET;
	o->revoke_ms = HFSD_REVOKE_MS_DEFAULT;
	o->poll_ms = HFSD_POLL_MS_DEFAULT;
	o->max_idle_threads = HFSD_OPT_UNSET;
	o->io_uring_depth = HFSD_URING_DEPTH_DEFAULT;
	/* fuse_opt_parse has said what it did not like ("fuse: ...") */
	if (fuse_opt_parse(&o->fuse_args, o, hfsd_opt_spec, opt_proc) != 0)
		return usage_error("%s", "invalid command line");
	if (o->show_help || o->show_version)
		return 0;
	if (o->bad_arg)
		return usage_error("unexpected argument '%s'", o->bad_arg);
	if (!o->region)
		return usage_error("%s", "missing REGION and MOUNTPOINT");
	if (!o->mountpoint)
		return usage_error("%s", "missing MOUNTPOINT");
	if (o->revoke_ms == 0 || o->revoke_ms > HFSD_REVOKE_MS_MAX)
		return usage_error("%s", "revoke_ms must be 1.."
				   STR(HFSD_REVOKE_MS_MAX));
	if (o->poll_ms == 0 || o->poll_ms > HFSD_POLL_MS_MAX)
		return usage_error("%s", "poll_ms must be 1.."
				   STR(HFSD_POLL_MS_MAX));
	if (o->max_clients > HFSD_MAX_CLIENTS_MAX ||
	    o->max_clients_per_uid > HFSD_MAX_CLIENTS_MAX)
		return usage_error("%s", "max_clients and max_clients_per_uid "
				   "must be 1.." STR(HFSD_MAX_CLIENTS_MAX));
	if (o->hello_ms > HFSD_HELLO_MS_MAX)
		return usage_error("%s", "hello_ms must be 1.."
				   STR(HFSD_HELLO_MS_MAX));
	if (o->max_threads == 0)
		return usage_error("%s", "max_threads must be at least 1");
	if (o->io_uring_depth == 0 || o->io_uring_depth > HFSD_URING_DEPTH_MAX)
		return usage_error("%s", "io_uring_depth must be 1.."
				   STR(HFSD_URING_DEPTH_MAX));
	return 0;
}

enum hfs_atime hfsd_opts_atime(const struct hfsd_opts *o)
{
	if (o->strictatime)
		return HFS_ATIME_STRICT;
	return o->noatime ? HFS_ATIME_NEVER : HFS_ATIME_RELATIME;
}

int hfsd_opts_finish(struct hfsd_opts *o, const char *region_abs)
{
	char *list = NULL;
	char *fsname = NULL;
	int err = -1;

	/* the daemon leaves its working directory once mounted */
	for (unsigned i = 0; i < o->ndevices; i++) {
		char *abs = realpath(o->devices[i], NULL);

		if (abs) {
			free(o->devices[i]);
			o->devices[i] = abs;
		}
	}

	if (fuse_opt_add_opt(&list, "default_permissions"))
		goto out;
	/* the kernel's flag only shows the policy in /proc/mounts: the
	 * kernel never updates a FUSE inode's atime itself */
	if (hfsd_opts_atime(o) == HFS_ATIME_NEVER &&
	    fuse_opt_add_opt(&list, "noatime"))
		goto out;
	if (!o->has_subtype && fuse_opt_add_opt(&list, "subtype=holdfs"))
		goto out;
	/* The region names the mount in /proc/mounts, df and findmnt. */
	if (!o->has_fsname) {
		if (asprintf(&fsname, "fsname=%s", region_abs) < 0) {
			fsname = NULL;
			goto out;
		}
		if (fuse_opt_add_opt_escaped(&list, fsname))
			goto out;
	}
	if (fuse_opt_add_arg(&o->fuse_args, "-o") ||
	    fuse_opt_add_arg(&o->fuse_args, list))
		goto out;
	err = 0;
out:
	free(fsname);
	free(list);
	return err;
}

void hfsd_opts_free(struct hfsd_opts *o)
{
	fuse_opt_free_args(&o->fuse_args);
	free(o->region);
	free(o->mountpoint);
	free(o->sysfs_root);
	free(o->dax_group);
	free(o->uevent_source);
	free(o->devname);
	free(o->bad_arg);
	for (unsigned i = 0; i < o->ndevices; i++)
		free(o->devices[i]);
}

void hfsd_usage(FILE *f)
{
	fputs(
"Usage: holdfs REGION MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
"       holdfs --help | --version\n"
"\n"
"Mount the holdfs filesystem in REGION (a device-dax node such as\n"
"/dev/dax0.0, or a file formatted by mkfs.holdfs) on MOUNTPOINT.  The\n"
"daemon detaches once the mount is up; unmount with 'fusermount3 -u\n"
"MOUNTPOINT' or 'umount MOUNTPOINT'.  Data written with write(2) is\n"
"persistent when the call returns; metadata changes are journaled and\n"
"durable when the call that made them returns.\n"
"\n"
"Options:\n"
"  -f                    stay in the foreground and log to stderr\n"
"  -d, -o debug          trace every FUSE request (implies -f)\n"
"  -s                    serve requests in a single thread\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show version information and exit\n"
"\n"
"Mount options (-o, comma-separated):\n"
"  ro                    mount read-only; the region is opened read-only\n"
"  rw                    mount read-write (the default)\n"
"  allow_other           let users other than the mounter use the mount\n"
"                        (non-root mounters need user_allow_other in\n"
"                        /etc/fuse.conf)\n"
"  allow_root            let root, and the mounter, use the mount\n"
"  default_permissions   the kernel checks access against mode bits; always\n"
"                        on, accepted so fstab lines may name it\n"
"  auto_unmount          unmount if the daemon dies\n"
"  device=PATH           another device of a volume that spans several\n"
"                        (mkfs.holdfs REGION DEVICE...); once per device,\n"
"                        in any order\n"
"  degraded              mount a volume of several devices without the\n"
"                        ones not given: the data of their files is lost\n"
"                        (EIO) and they are recorded lost for good\n"
"  sysfs_root=PATH       read device-dax attributes below PATH instead of\n"
"                        /sys (default: $HOLDFS_SYSFS_ROOT, else /sys)\n"
"  revoke_ms=N           deadline in ms for DAX clients to acknowledge a\n"
"                        REVOKE or REMAP before they are killed ("
			STR(HFSD_REVOKE_MS_DEFAULT) ")\n"
"  dax_group=NAME        members of group NAME may take DAX leases (and so\n"
"                        map the whole region); default: root only\n"
"  max_clients=N         control-socket connections of all users but root\n"
"                        together (" STR(HFSD_MAX_CLIENTS) "); root has "
			STR(HFSD_ROOT_CLIENTS) " of its own\n"
"  max_clients_per_uid=N connections of one user other than root ("
			STR(HFSD_MAX_CLIENTS_PER_UID) ")\n"
"  hello_ms=N            a connection must send its first request within\n"
"                        N ms or is closed (" STR(HFSD_HELLO_MS) ")\n"
"  unsafe_region_mode    mount even if the region file or device lets\n"
"                        users other than its owner read or write it, or\n"
"                        is owned by someone other than the mounter or\n"
"                        root (they could read or change every file)\n"
"  poll_ms=N             failure monitor: poll sysfs (driver link,\n"
"                        badblocks) and the region file every N ms ("
			STR(HFSD_POLL_MS_DEFAULT) ")\n"
"  devname=daxN.M        device-dax whose uevents and sysfs the failure\n"
"                        monitor watches (default: the region's own)\n"
"  uevent_source=PATH    read uevent records from the FIFO PATH instead\n"
"                        of the kernel (tests, drills)\n"
"  max_threads=N         serve at most N requests at once (default 10)\n"
"  max_idle_threads=N    keep at most N idle threads (default: no limit)\n"
"  io_uring              take requests through FUSE over io_uring where\n"
"                        the kernel offers it (6.14+, and the fuse\n"
"                        module's enable_uring parameter set); otherwise\n"
"                        /dev/fuse, with a warning\n"
"  io_uring_depth=N      io_uring threads per CPU, each holding one\n"
"                        request (default " STR(HFSD_URING_DEPTH_DEFAULT) ", at most "
			STR(HFSD_URING_DEPTH_MAX) ")\n"
"  remount               (from mount -o remount,...) change the running\n"
"                        mount at MOUNTPOINT: ro/rw, atime and generic\n"
"                        flags; a mount started ro cannot become rw\n"
"  fsname=NAME           mount source shown in /proc/mounts (default:\n"
"                        the absolute region path)\n"
"\n"
"  relatime              reads update the access time when it is not\n"
"                        after the modification or change time, or is a\n"
"                        day old (the default)\n"
"  strictatime           every read updates it (beats noatime)\n"
"  noatime               reads never update it\n"
"  nodiratime            listing a directory never updates its atime\n"
"  lazytime              accepted: access times are always kept in memory\n"
"                        and journaled at fsync, last close or unmount\n"
"\n"
"  Generic mount flags (nodev, nosuid, noexec, sync, dirsync, ...) go\n"
"  to the kernel.  Options that only mean something to mount(8) or\n"
"  fstab (defaults, auto, noauto, nofail, _netdev, user, users, owner,\n"
"  group, comment=, x-*) and ones a FUSE mount cannot honour (nonempty,\n"
"  [no]iversion) are accepted and ignored.  Anything else is passed to\n"
"  libfuse, which rejects what it does not know.\n"
"\n"
"Examples:\n"
"  mkfs.holdfs --size 1G /var/tmp/holdfs/region.img\n"
"  holdfs /var/tmp/holdfs/region.img /mnt/holdfs\n"
"  holdfs /dev/dax0.0 /mnt/pmem -o allow_other,max_threads=32\n"
"  mount -t fuse.holdfs /var/tmp/holdfs/region.img /mnt/holdfs -o ro\n"
"  fusermount3 -u /mnt/holdfs\n"
"  /etc/fstab:\n"
"    /var/tmp/holdfs/region.img /mnt/holdfs fuse.holdfs defaults 0 0\n"
"\n"
"Exit status:\n"
"  0  the filesystem was mounted (with -f: and later unmounted cleanly)\n"
"  1  failure: bad usage, the region or volume could not be opened, the\n"
"     mount failed, or (with -f) the request loop failed\n", f);
}
