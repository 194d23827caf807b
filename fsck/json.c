/* SPDX-License-Identifier: MIT */
/*
 * The report as JSON (json-c), for fsck.holdfs --json and tools.
 *
 *   { "region", "mode", "exit_code", "status", flags... (with
 *     "journal_replayed", "dslots_pending", "dslots_stale"), "uuid", "label",
 *     "counts": {...}, "problems": [...], "problems_dropped",
 *     "lost_data": [...], "health_log": [...], "timings_ms": {...} }
 *
 * Keys are stable (scripts read them).  Names and messages come from the
 * media and may hold any bytes: invalid UTF-8 is written as "\xNN" text
 * so every report parses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fsck_i.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
		     (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (!len || len > n || (len == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static struct json_object *jstr_n(const char *s, size_t n)
{
	struct json_object *o;
	char *buf;
	size_t out = 0;

	if (!s)
		return NULL;
	buf = malloc(n * 4 + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < n && s[i];) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);

		if (k) {
			memcpy(buf + out, s + i, k);
			out += k;
			i += k;
		} else {
			out += (size_t)sprintf(buf + out, "\\x%02x",
					       (unsigned char)s[i++]);
		}
	}
	o = json_object_new_string_len(buf, (int)out);
	free(buf);
	return o;
}

static struct json_object *jstr(const char *s)
{
	return s ? jstr_n(s, strlen(s)) : NULL;
}

static struct json_object *ju64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static const char *status(const struct hfs_fsck_report *r)
{
	int c = r->exit_code;

	if (c & HFS_FSCK_CANCELLED)
		return "cancelled";
	if (c & HFS_FSCK_OPERATIONAL)
		return "error";
	if (c & HFS_FSCK_UNCORRECTED)
		return "uncorrected";
	if (c & HFS_FSCK_CORRECTED)
		return "corrected";
	return "clean";
}

static struct json_object *counts(const struct hfs_fsck_counts *c)
{
	struct json_object *o = json_object_new_object();

	add(o, "inodes", ju64(c->inodes));
	add(o, "dirs", ju64(c->dirs));
	add(o, "files", ju64(c->files));
	add(o, "symlinks", ju64(c->symlinks));
	add(o, "special", ju64(c->special));
	add(o, "inode_count", ju64(c->inode_count));
	add(o, "inode_hwm", ju64(c->inode_hwm));
	add(o, "slots_checked", ju64(c->slots_checked));
	add(o, "pool_blocks", ju64(c->pool_blocks));
	add(o, "blocks_used", ju64(c->blocks_used));
	add(o, "blocks_free", ju64(c->blocks_free));
	add(o, "blocks_bad", ju64(c->blocks_bad));
	add(o, "bad_extents", ju64(c->bad_extents));
	add(o, "extents", ju64(c->extents));
	add(o, "dentries", ju64(c->dentries));
	return o;
}

static struct json_object *problem(const struct hfs_fsck_problem *p)
{
	struct json_object *o = json_object_new_object();

	add(o, "code", jstr(p->name));
	add(o, "number", json_object_new_int((int)p->code));
	add(o, "pass", json_object_new_int((int)p->pass));
	add(o, "message", jstr(p->msg));
	add(o, "fix", jstr(p->fix));
	add(o, "inode", p->ino ? ju64(p->ino) : NULL);
	add(o, "offset", p->off != HFS_FSCK_NO_OFF ? ju64(p->off) : NULL);
	add(o, "path", jstr(p->path));
	add(o, "fixed", json_object_new_boolean(p->fixed));
	return o;
}

static struct json_object *lost(const struct hfs_fsck_lost *l)
{
	struct json_object *o = json_object_new_object();

	add(o, "inode", ju64(l->ino));
	add(o, "path", jstr(l->path));
	add(o, "offset", l->len ? ju64(l->off) : NULL);
	add(o, "length", l->len ? ju64(l->len) : NULL);
	add(o, "source", jstr(l->source));
	return o;
}

static struct json_object *health(const struct hfs_health_rec *h)
{
	struct json_object *o = json_object_new_object();

	add(o, "seq", ju64(h->h_seq));
	add(o, "type", jstr(hfs_health_type_name(h->h_type)));
	add(o, "time_ns", ju64(h->h_time));
	add(o, "offset", ju64(h->h_off));
	add(o, "length", ju64(h->h_len));
	add(o, "inode", h->h_ino ? ju64(h->h_ino) : NULL);
	add(o, "message", jstr_n(h->h_msg, strnlen(h->h_msg,
						    sizeof(h->h_msg))));
	return o;
}

static struct json_object *timings(const struct hfs_fsck_report *r)
{
	static const char *const key[HFS_FSCK_NPASS] = {
		"pass0", "pass1", "pass1b", "pass2", "pass3", "pass4", "pass5"
	};
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < HFS_FSCK_NPASS; i++)
		add(o, key[i], json_object_new_double(r->pass_ms[i]));
	add(o, "total", json_object_new_double(r->total_ms));
	return o;
}

static struct json_object *array(const void *v, size_t n, size_t size,
				 struct json_object *(*one)(const void *))
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, one((const char *)v + i * size));
	return a;
}

static struct json_object *problem_v(const void *p) { return problem(p); }
static struct json_object *lost_v(const void *p) { return lost(p); }
static struct json_object *health_v(const void *p) { return health(p); }

static void add_flags(struct json_object *o, const struct hfs_fsck_report *r)
{
	add(o, "quick", json_object_new_boolean(r->quick));
	add(o, "was_clean", json_object_new_boolean(r->was_clean));
	add(o, "had_errors", json_object_new_boolean(r->had_errors));
	add(o, "journal_replayed", json_object_new_boolean(r->replayed));
	add(o, "dslots_pending", ju64(r->dslots_pending));
	add(o, "dslots_stale", ju64(r->dslots_stale));
	add(o, "used_backup_superblock",
	    json_object_new_boolean(r->used_backup_sb));
	add(o, "modified", json_object_new_boolean(r->modified));
	add(o, "preen_halted", json_object_new_boolean(r->preen_halted));
	add(o, "cancelled", json_object_new_boolean(r->cancelled));
	add(o, "error", r->fatal[0] ? jstr(r->fatal) : NULL);
}

static struct json_object *build(const struct hfs_fsck_report *r)
{
	struct json_object *o = json_object_new_object();
	char uuid[37];
	const uint8_t *u = r->uuid;

	snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
		 u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
	add(o, "region", jstr(r->region));
	add(o, "mode", jstr(hfs_fsck_mode_name(r->mode)));
	add(o, "exit_code", json_object_new_int(r->exit_code));
	add(o, "status", jstr(status(r)));
	add_flags(o, r);
	add(o, "uuid", jstr(uuid));
	add(o, "label", jstr_n(r->label, strnlen(r->label, sizeof(r->label))));
	add(o, "counts", counts(&r->counts));
	add(o, "problems", array(r->problems, r->nproblems, sizeof(*r->problems),
				 problem_v));
	add(o, "problems_dropped", ju64(r->problems_dropped));
	add(o, "lost_data", array(r->lost, r->nlost, sizeof(*r->lost), lost_v));
	add(o, "health_log", array(r->health, r->nhealth, sizeof(*r->health),
				   health_v));
	add(o, "timings_ms", timings(r));
	return o;
}

int hfs_fsck_report_json(const struct hfs_fsck_report *r, FILE *out)
{
	struct json_object *o = build(r);
	const char *s;
	int ret = 0;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || fputs(s, out) < 0 || fputc('\n', out) < 0)
		ret = s ? -EIO : -ENOMEM;
	json_object_put(o);
	return ret;
}
