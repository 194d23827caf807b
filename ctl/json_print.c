/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl's JSON and its human printers.
 *
 * The daemon's documents (docs/lease-protocol.md, "Admin messages") are
 * read through jget/ju64/jdouble/jstr/jlen, which treat a missing member
 * as 0 or "", so a daemon of another version prints what it has.  Each
 * command prints either the document (--json, ctl_print_json) or one of
 * the human forms here; the documents holdfsctl makes itself (health
 * records, drill checks) are built here too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_print.h"

json_object *jget(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

uint64_t ju64(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v ? json_object_get_uint64(v) : 0;
}

double jdouble(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v ? json_object_get_double(v) : 0.0;
}

const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v ? json_object_get_string(v) : "";
}

size_t jlen(json_object *a)
{
	return a && json_object_is_type(a, json_type_array)
		? json_object_array_length(a) : 0;
}

void ctl_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	       JSON_C_TO_STRING_PRETTY));
}

/* ------------------------------------------------------------- leases */

/* " FILE_OFF+LEN@REGION_OFF" if mapped, else " FILE_OFF+LEN(state)". */
static void print_extent(json_object *e)
{
	const char *st = jstr(e, "state");

	if (!strcmp(st, "mapped"))
		printf(" %#" PRIx64 "+%#" PRIx64 "@%#" PRIx64,
		       ju64(e, "file_off"), ju64(e, "len"),
		       ju64(e, "region_off"));
	else
		printf(" %#" PRIx64 "+%#" PRIx64 "(%s)", ju64(e, "file_off"),
		       ju64(e, "len"), st);
}

static void print_lease(json_object *l)
{
	json_object *ex = jget(l, "extents");

	printf("%-8" PRIu64 " %-8" PRIu64 " %-6" PRIu64 " %-10" PRIu64
	       " %#-18" PRIx64 " %#-18" PRIx64 " %-4s %-8s", ju64(l, "id"),
	       ju64(l, "pid"), ju64(l, "uid"), ju64(l, "ino"),
	       ju64(l, "offset"), ju64(l, "length"), jstr(l, "prot"),
	       jstr(l, "coherence"));
	for (size_t k = 0; k < jlen(ex); k++)
		print_extent(json_object_array_get_idx(ex, k));
	printf("\n");
}

void ctl_print_leases(json_object *leases)
{
	size_t n = jlen(leases);

	if (!n) {
		printf("no leases\n");
		return;
	}
	printf("%-8s %-8s %-6s %-10s %-18s %-18s %-4s %-8s %s\n", "LEASE",
	       "PID", "UID", "INODE", "OFFSET", "LENGTH", "PROT", "PAGES",
	       "EXTENTS");
	for (size_t i = 0; i < n; i++)
		print_lease(json_object_array_get_idx(leases, i));
}

/* ------------------------------------------------------------ holders */

void ctl_print_holders(json_object *doc)
{
	json_object *ow = jget(doc, "owners");
	size_t n = jlen(ow);

	printf("region bytes %#" PRIx64 "+%#" PRIx64 "\n", ju64(doc, "offset"),
	       ju64(doc, "length"));
	if (!n)
		printf("owners: none (free or metadata outside the pool)\n");
	else
		printf("%-18s %-12s %-10s %-18s %-13s %s\n", "REGION", "LENGTH",
		       "INODE", "FILE OFFSET", "KIND", "OPEN HANDLES");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ow, i);

		printf("%#-18" PRIx64 " %#-12" PRIx64 " %-10" PRIu64
		       " %#-18" PRIx64 " %-13s %" PRIu64 "\n",
		       ju64(p, "region_off"), ju64(p, "len"), ju64(p, "ino"),
		       ju64(p, "file_off"), jstr(p, "kind"),
		       ju64(p, "open_handles"));
	}
	printf("leases mapping the range:\n");
	ctl_print_leases(jget(doc, "leases"));
	if (ju64(doc, "pending_free_blocks"))
		printf("blocks waiting for revocation: %" PRIu64 "\n",
		       ju64(doc, "pending_free_blocks"));
}

/* ------------------------------------------------------------- status */

static void print_events(json_object *a)
{
	printf("events: %zu\n", jlen(a));
	for (size_t i = 0; i < jlen(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		printf("  %s  %-24s %#" PRIx64 "+%#" PRIx64 "  %s\n",
		       jstr(e, "time"), jstr(e, "source"), ju64(e, "offset"),
		       ju64(e, "length"), jstr(e, "outcome"));
	}
}

static void print_affected(json_object *a)
{
	if (jlen(a))
		printf("files with lost data:\n");
	for (size_t i = 0; i < jlen(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		printf("  %s (inode %" PRIu64 ") bytes %#" PRIx64 "+%#" PRIx64
		       "\n", jstr(e, "path"), ju64(e, "ino"),
		       ju64(e, "file_off"), ju64(e, "len"));
	}
}

static void print_bad_extents(json_object *a)
{
	if (jlen(a))
		printf("bad extents (never allocated):\n");
	for (size_t i = 0; i < jlen(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		printf("  %#" PRIx64 "+%#" PRIx64 "\n", ju64(e, "offset"),
		       ju64(e, "length"));
	}
}

static void print_revoked(json_object *a)
{
	if (jlen(a))
		printf("leases revoked for failures:\n");
	for (size_t i = 0; i < jlen(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		printf("  lease %" PRIu64 " pid %" PRIu64 ": %s\n",
		       ju64(e, "lease"), ju64(e, "pid"), jstr(e, "outcome"));
	}
}

void ctl_print_status(json_object *doc)
{
	json_object *ph = jget(doc, "phases");

	printf("state: %s\n", jstr(doc, "state"));
	if (*jstr(doc, "reason"))
		printf("reason: %s\n", jstr(doc, "reason"));
	print_events(jget(doc, "events"));
	print_affected(jget(doc, "affected"));
	print_bad_extents(jget(doc, "bad_extents"));
	print_revoked(jget(doc, "revoked"));
	printf("holders killed: %" PRIu64 "\n", ju64(doc, "killed"));
	if (jlen(jget(doc, "devices")) > 1)
		ctl_print_devices(doc);
	for (size_t i = 0; i < jlen(ph); i++) {
		json_object *e = json_object_array_get_idx(ph, i);

		printf("  phase %-24s %.3f ms\n", jstr(e, "phase"),
		       jdouble(e, "ms"));
	}
}

/* ------------------------------------------------------------ devices */

void ctl_print_devices(json_object *doc)
{
	json_object *a = jget(doc, "devices");
	bool file = jget(doc, "ino") != NULL;

	printf("%-3s %-8s %-4s %10s %10s%s  %s\n", "dev", "state", "meta",
	       "size MiB", "free MiB", file ? "  file blocks" : "", "path");
	for (size_t i = 0; i < jlen(a); i++) {
		json_object *d = json_object_array_get_idx(a, i);

		printf("%-3" PRIu64 " %-8s %-4s %10" PRIu64 " %10" PRIu64,
		       ju64(d, "device"), jstr(d, "state"),
		       json_object_get_boolean(jget(d, "metadata")) ? "yes"
								     : "no",
		       ju64(d, "size") >> 20,
		       ju64(d, "free_blocks") * 4096 >> 20);
		if (file)
			printf("  %11" PRIu64, ju64(d, "file_blocks"));
		printf("  %s\n", jstr(d, "path"));
	}
	if (jget(doc, "metadata"))
		printf("metadata: %s\n", jstr(jget(doc, "metadata"), "text"));
	if (jget(doc, "placement"))
		printf("placement: %s\n", jstr(jget(doc, "placement"), "text"));
}

/* ------------------------------------------------------------- health */

void ctl_print_health(const struct ctl_health_rec *r)
{
	printf("%-6" PRIu64 " %s %-14s %#" PRIx64 "+%#" PRIx64, r->seq,
	       r->time, r->type, r->off, r->len);
	if (r->ino)
		printf(" ino %" PRIu64, r->ino);
	printf("  %s\n", r->msg);
}

json_object *ctl_health_json(const struct ctl_health_rec *r)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "seq", json_object_new_uint64(r->seq));
	json_object_object_add(x, "time", json_object_new_string(r->time));
	json_object_object_add(x, "type", json_object_new_string(r->type));
	json_object_object_add(x, "offset", json_object_new_uint64(r->off));
	json_object_object_add(x, "length", json_object_new_uint64(r->len));
	json_object_object_add(x, "ino", json_object_new_uint64(r->ino));
	json_object_object_add(x, "message", json_object_new_string(r->msg));
	return x;
}

/* -------------------------------------------------------------- drill */

json_object *ctl_check_json(const char *name, bool ok, const char *detail)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "name", json_object_new_string(name));
	json_object_object_add(x, "ok", json_object_new_boolean(ok));
	json_object_object_add(x, "detail", json_object_new_string(detail));
	return x;
}

void ctl_print_checks(json_object *checks, unsigned npass, unsigned nfail)
{
	printf("checks:\n");
	for (size_t i = 0; i < jlen(checks); i++) {
		json_object *x = json_object_array_get_idx(checks, i);

		printf("  %s %-18s %s\n",
		       json_object_get_boolean(jget(x, "ok")) ? "PASS" : "FAIL",
		       jstr(x, "name"), jstr(x, "detail"));
	}
	printf("result: %s (%u of %u checks passed)\n", nfail ? "FAIL"
	       : "PASS", npass, npass + nfail);
}

json_object *ctl_hung_json(bool writer, int index, int pid)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "worker", json_object_new_string(
		writer ? "writer" : "client"));
	json_object_object_add(x, "index", json_object_new_int(index));
	json_object_object_add(x, "pid", json_object_new_int(pid));
	return x;
}
