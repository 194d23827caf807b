/* SPDX-License-Identifier: MIT */
/* holdfsctl internals shared between its command files. */
#ifndef HOLDFSCTL_H
#define HOLDFSCTL_H

#include <json-c/json.h>
#include <stddef.h>

/* Connected control socket of the daemon serving MNT, or -1 (printed). */
int ctl_connect(const char *mnt);
/* Send one admin request on fd and collect the JSON text (malloc'd). */
char *query(int fd, const void *req, size_t len);
/* `holdfsctl status --json` as a parsed document, or NULL (printed). */
json_object *get_status(const char *mnt);
/* Region path of a mounted holdfs (its mountinfo source), or NULL. */
char *region_of(const char *mnt);

/* holdfsctl drill (ctl/drill.c): argv[0] is "drill". */
int hfsctl_drill(int argc, char **argv);

#endif
