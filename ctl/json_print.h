/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl's JSON in one place (ctl/json_print.c): getters for the
 * daemon's documents, the human printers (--json prints the document
 * itself), and the documents holdfsctl builds (health records, drill
 * checks).
 */
#ifndef HOLDFSCTL_JSON_PRINT_H
#define HOLDFSCTL_JSON_PRINT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Member k of object o; NULL if o is NULL or has no k. */
json_object *jget(json_object *o, const char *k);
/* Member k as a number, string or array length; 0, "" or 0 if absent
 * (or null). */
uint64_t ju64(json_object *o, const char *k);
double jdouble(json_object *o, const char *k);
const char *jstr(json_object *o, const char *k);
/* Length of array a; 0 if a is NULL or not an array. */
size_t jlen(json_object *a);

/* The document pretty-printed, one line feed after it. */
void ctl_print_json(json_object *o);

/* Human forms of ADMIN_LEASES' "leases", ADMIN_HOLDERS and ADMIN_STATUS. */
void ctl_print_leases(json_object *leases);
void ctl_print_holders(json_object *doc);
void ctl_print_status(json_object *doc);
/* the "devices" array of ADMIN_DEVICES or ADMIN_STATUS */
void ctl_print_devices(json_object *doc);

/* One record of the persistent health log, decoded by the health
 * command. */
struct ctl_health_rec {
	uint64_t seq;
	const char *time;       /* UTC, ISO 8601 */
	const char *type;
	uint64_t off, len, ino;
	const char *msg;
};
void ctl_print_health(const struct ctl_health_rec *r);
json_object *ctl_health_json(const struct ctl_health_rec *r);

/* A drill check {"name", "ok", "detail"}, and the human list of them
 * with its result line. */
json_object *ctl_check_json(const char *name, bool ok, const char *detail);
void ctl_print_checks(json_object *checks, unsigned npass, unsigned nfail);

/* An entry of the drill's "hung" list. */
json_object *ctl_hung_json(bool writer, int index, int pid);

#endif
