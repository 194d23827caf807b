/* SPDX-License-Identifier: MIT */
/*
 * Talking to a mounted holdfs (ctl/conn.c): its control socket, the admin
 * request/reply exchange, and its entry in /proc/self/mountinfo.  Used by
 * the commands and by the drill.  Failures to reach the daemon or of the
 * exchange are printed here, prefixed with CTL_PROG; each function says
 * what it prints.
 */
#ifndef HOLDFSCTL_CONN_H
#define HOLDFSCTL_CONN_H

#include <json-c/json.h>
#include <stddef.h>
#include <sys/types.h>

/* Prefix of every message holdfsctl prints (the drill's own use DPROG). */
#define CTL_PROG "holdfsctl"

/* Connected control socket of the daemon serving MNT, or -1 (printed). */
int ctl_connect(const char *mnt);

/* Send one admin request on fd and collect the reply's JSON text
 * (malloc'd; the ADMIN_REPLY chunks concatenated), or NULL (printed):
 * an error reply, a malformed one, or none within 10 s. */
char *ctl_query(int fd, const void *req, size_t len);

/* How long ctl_query waits for each message (ms; <= 0: the default,
 * 10 s).  holdfsctl offline waits for its whole deadline. */
void ctl_set_timeout(int ms);

/* ctl_connect + ctl_query + close: the reply's text, or NULL (printed). */
char *ctl_query_mnt(const char *mnt, const void *req, size_t len);

/* Parse and free a reply's text: the document, or NULL (printed). */
json_object *ctl_parse_reply(char *txt);

/* ADMIN_STATUS of MNT (`holdfsctl status --json`), or NULL (printed). */
json_object *ctl_get_status(const char *mnt);

/* Pid of the daemon serving MNT (the socket's peer), or -1; a failed
 * connection is printed. */
pid_t ctl_daemon_pid(const char *mnt);

/* Region path of the holdfs mounted at MNT (its mountinfo source; the
 * daemon sets fsname to the region's absolute path), malloc'd, or NULL. */
char *ctl_region_of(const char *mnt);

#endif
