/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl offline [--deadline-ms N] [--json] MOUNTPOINT: planned removal
 * (ADMIN_OFFLINE, docs/failure-model.md "Planned removal").  The daemon
 * replies with its report once the leases are gone, in-flight I/O drained
 * and the health record written; then it unmounts and exits.  This side
 * waits (bounded) for that exit through a pidfd of the daemon and adds
 * the time it took ("unmount_exit": the clean flag, the journaled times,
 * the unmount) and the total to the report.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#include "conn.h"
#include "holdfsctl.h"
#include "json_print.h"

#define DEFAULT_DEADLINE_MS 5000u
/* Beyond the deadline: the revocation round (revoke_ms, then the kill
 * and the holder's exit) and the drain, with room to spare. */
#define REPLY_SLACK_MS 30000
#define EXIT_WAIT_MS 30000

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* 0 once the process of pidfd exited, -1 if not within ms. */
static int wait_exit(int pidfd, int ms)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1 ? 0 : -1;
}

static void print_text(const char *mnt, json_object *r)
{
	json_object *ph = jget(r, "phases_ms");
	static const char *const names[] = {
		"refuse", "notify", "wait_clients", "revoke", "drain",
		"health", "daemon_total", "unmount_exit", "total",
	};

	printf("%s offline: %llu lease(s) of %llu holder(s), %llu notified; "
	       "%llu released by their holders, %llu revoked (%llu acked, "
	       "%llu killed); in-flight I/O %s\n", mnt,
	       (unsigned long long)ju64(r, "leases"),
	       (unsigned long long)ju64(r, "holders"),
	       (unsigned long long)ju64(r, "clients_notified"),
	       (unsigned long long)ju64(r, "released_by_holders"),
	       (unsigned long long)ju64(r, "revoked"),
	       (unsigned long long)ju64(r, "revoke_acked"),
	       (unsigned long long)ju64(r, "killed"),
	       json_object_get_boolean(jget(r, "drained")) ? "drained"
							   : "NOT drained");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		printf("  %-14s %10.3f ms\n", names[i], jdouble(ph, names[i]));
	printf("daemon %s\n", json_object_get_boolean(jget(r, "daemon_exited"))
	       ? "exited" : "did NOT exit in time");
}

int cmd_offline(int argc, char **argv)
{
	struct hfs_msg_offline m = { { HFS_PROTO_MAGIC, HFS_PROTO_VERSION,
				       HFS_MSG_ADMIN_OFFLINE, sizeof(m), 0, 1 },
				     DEFAULT_DEADLINE_MS, 0 };
	struct ctl_args a;
	json_object *r, *ph;
	double t0, t1, t2;
	pid_t pid;
	int fd, pidfd, exited;
	char *txt;
	int rc = ctl_parse_args(argc, argv, CTL_OPT_OFFLINE, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (a.deadline_ms)
		m.deadline_ms = a.deadline_ms;
	pid = ctl_daemon_pid(a.target);
	if (pid <= 0)
		return 1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "%s: pidfd_open of the daemon (pid %d): %s\n",
			CTL_PROG, (int)pid, strerror(errno));
		return 1;
	}
	fd = ctl_connect(a.target);
	if (fd < 0) {
		close(pidfd);
		return 1;
	}
	ctl_set_timeout((int)m.deadline_ms + REPLY_SLACK_MS);
	t0 = now_ms();
	txt = ctl_query(fd, &m, sizeof(m));
	close(fd);
	t1 = now_ms();
	r = txt ? ctl_parse_reply(txt) : NULL;
	if (!r) {
		close(pidfd);
		return 1;
	}
	exited = wait_exit(pidfd, EXIT_WAIT_MS) == 0;
	close(pidfd);
	t2 = now_ms();
	ph = jget(r, "phases_ms");
	if (ph) {
		json_object_object_add(ph, "unmount_exit",
				       json_object_new_double(t2 - t1));
		json_object_object_add(ph, "total",
				       json_object_new_double(t2 - t0));
	}
	json_object_object_add(r, "daemon_pid", json_object_new_int(pid));
	json_object_object_add(r, "daemon_exited",
			       json_object_new_boolean(exited));
	if (a.json)
		ctl_print_json(r);
	else
		print_text(a.target, r);
	json_object_put(r);
	if (!exited) {
		fprintf(stderr, "%s: the daemon (pid %d) did not exit within "
			"%d s of its report\n", CTL_PROG, (int)pid,
			EXIT_WAIT_MS / 1000);
		return 1;
	}
	return 0;
}
