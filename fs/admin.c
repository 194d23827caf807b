/* SPDX-License-Identifier: MIT */
/*
 * The operator's requests (root only: their rows in msg_table.h) and
 * every JSON document the daemon produces, sent as ADMIN_REPLY chunks
 * (holdfsctl and the tests parse them: keys and values are an
 * interface, docs/lease-protocol.md and docs/failure-model.md).  No
 * other daemon file uses json-c.
 *
 *   ADMIN_LEASES   {leases: [...], revoke_ms, pending_free_blocks, kills}
 *   ADMIN_HOLDERS  {offset, length, owners: [...], leases: [...the
 *                  leases mapping any of it], revoke_ms, ...}
 *   ADMIN_STATUS   the failure pipeline's state, then the ADMIN_LEASES
 *                  fields
 *   ADMIN_INJECT   {queued: true}: the failure is queued; its outcome
 *                  shows in ADMIN_STATUS (the ring never waits for the
 *                  pipeline)
 */
#include "lease_i.h"
#include "msg_table.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coherence.h"
#include "ctl_send.h"
#include "failure.h"
#include "revoke.h"

/* --------------------------------------------------------- transport */

static void send_json(struct hfsd_ctl *c, struct hfsd_client *cl,
		      uint64_t id, json_object *o)
{
	const char *txt = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(txt), chunk = HFS_MSG_MAX - 32, off = 0;
	uint8_t *buf = malloc(HFS_MSG_MAX);

	if (!buf) {
		hfsd_ctl_send_error(c, cl, id, ENOMEM, "out of memory");
		return;
	}
	do {
		struct hfs_msg_admin_reply *r = (void *)buf;
		size_t n = len - off < chunk ? len - off : chunk;

		memset(r, 0, sizeof(*r));
		hfsd_msg_init(&r->h, HFS_MSG_ADMIN_REPLY,
			      (uint32_t)(sizeof(*r) + n), id);
		r->more = off + n < len;
		memcpy(buf + sizeof(*r), txt + off, n);
		hfsd_ctl_send(c, cl, buf, sizeof(*r) + n, -1);
		off += n;
	} while (off < len);
	free(buf);
}

/* Send o and drop the reference. */
static void reply_json(struct hfsd_ctl *c, struct hfsd_client *cl,
		       uint64_t id, json_object *o)
{
	send_json(c, cl, id, o);
	json_object_put(o);
}

/* ------------------------------------------------------------ leases */

static const char *coh_name(uint32_t s)
{
	switch (s) {
	case HFS_COH_CLEAN: return "clean";
	case HFS_COH_CACHED: return "cached";
	case HFS_COH_CLEARING: return "clearing";
	case HFS_COH_NONE: return "none";
	default: return "?";
	}
}

static json_object *extent_json(const struct hfs_lease_extent *e)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "file_off",
			       json_object_new_uint64(e->file_off));
	json_object_object_add(x, "len", json_object_new_uint64(e->len));
	json_object_object_add(x, "state", json_object_new_string(
		e->flags & HFSD_LEXT_REVOKED ? "revoked"
		: e->flags & HFS_LEXT_HOLE ? "hole" : "mapped"));
	if (!(e->flags & HFS_LEXT_HOLE))
		json_object_object_add(x, "region_off",
			json_object_new_uint64(e->region_off));
	return x;
}

static json_object *lease_json(struct hfsd_ctl *c, const struct hfsd_lease *l)
{
	json_object *o = json_object_new_object(), *ex = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_uint64(l->id));
	json_object_object_add(o, "pid", json_object_new_int(l->pid));
	json_object_object_add(o, "uid", json_object_new_int64(l->uid));
	json_object_object_add(o, "ino", json_object_new_uint64(l->ino));
	json_object_object_add(o, "offset", json_object_new_uint64(l->off));
	json_object_object_add(o, "length", json_object_new_uint64(l->len));
	json_object_object_add(o, "prot", json_object_new_string(
		l->prot & HFS_PROT_WRITE ? "rw" : "r"));
	/* the file's coherence word: "clean" = persists need no round trip
	 * (no kernel page cached); "none" = no word, always a round trip */
	json_object_object_add(o, "coherence", json_object_new_string(
		coh_name(l->coh_slot == HFS_COH_NONE ? HFS_COH_NONE
			 : hfsd_coh_state(c->coh, l->ino))));
	for (uint32_t i = 0; i < l->n; i++)
		json_object_array_add(ex, extent_json(&l->ext[i]));
	json_object_object_add(o, "extents", ex);
	return o;
}

static void admin_common(struct hfsd_ctl *c, json_object *o)
{
	json_object_object_add(o, "revoke_ms",
			       json_object_new_int((int)c->revoke_ms));
	json_object_object_add(o, "pending_free_blocks",
			       json_object_new_uint64(c->pending_blocks));
	json_object_object_add(o, "kills", json_object_new_uint64(c->kills));
}

/* o.leases = the leases (only those mapping region bytes [rs, re) when
 * in_range: the rmap's owners, then their leases), plus the common
 * fields, under the lease lock. */
static void add_leases(struct hfsd_ctl *c, json_object *o, bool in_range,
		       uint64_t rs, uint64_t re)
{
	json_object *arr = json_object_new_array();
	struct hfsd_ino_set s = { 0 };
	struct hfsd_lease *l;

	if (in_range && hfsd_lease_owner_inos(c, rs, re, &s) < 0)
		hfsd_log(LOG_WARNING, "control: holders query: cannot list "
			 "the owners of the range");
	pthread_mutex_lock(&c->lock);
	if (!in_range)
		for (l = hfsd_lease_first_locked(c); l;
		     l = hfsd_lease_next_locked(c, l))
			json_object_array_add(arr, lease_json(c, l));
	for (size_t i = 0; i < s.n; i++)
		for (l = hfsd_lease_first_of_ino_locked(c, s.v[i]); l;
		     l = hfsd_lease_next_of_ino_locked(c, l))
			if (hfsd_lease_maps_locked(l, rs, re))
				json_object_array_add(arr, lease_json(c, l));
	json_object_object_add(o, "leases", arr);
	admin_common(c, o);
	pthread_mutex_unlock(&c->lock);
	free(s.v);
}

void hfsd_on_admin_leases(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd)
{
	const struct hfs_msg_hdr *h = msg;
	json_object *o;

	(void)fd;
	o = json_object_new_object();
	add_leases(c, o, false, 0, 0);
	reply_json(c, cl, h->id, o);
}

/* ----------------------------------------------------------- holders */

static int owner_cb(void *ctx, const struct hfs_owner *w)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "region_off",
			       json_object_new_uint64(w->region_off));
	json_object_object_add(x, "len", json_object_new_uint64(w->len));
	json_object_object_add(x, "ino", json_object_new_uint64(w->ino));
	json_object_object_add(x, "file_off",
			       json_object_new_uint64(w->file_off));
	json_object_object_add(x, "kind",
			       json_object_new_string(hfs_kind_name(w->kind)));
	json_object_object_add(x, "open_handles",
			       json_object_new_int64(w->nopen));
	json_object_array_add(ctx, x);
	return 0;
}

void hfsd_on_admin_holders(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd)
{
	const struct hfs_msg_range *m = msg;
	uint64_t re = m->offset + m->length;
	json_object *o, *owners;

	(void)fd;
	if (m->length == 0 || re < m->offset) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "bad range");
		return;
	}
	o = json_object_new_object();
	owners = json_object_new_array();
	if (hfs_vol_owners(c->d->vol, m->offset, m->length, owner_cb,
			   owners) < 0) {
		json_object_put(owners);
		owners = json_object_new_array();
	}
	json_object_object_add(o, "offset", json_object_new_uint64(m->offset));
	json_object_object_add(o, "length", json_object_new_uint64(m->length));
	json_object_object_add(o, "owners", owners);
	add_leases(c, o, true, m->offset, re);
	reply_json(c, cl, m->h.id, o);
}

/* ----------------------------------------------- the failure pipeline */

static json_object *ts_json(const struct timespec *t)
{
	char buf[64];
	struct tm tm;

	gmtime_r(&t->tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03ldZ",
		 t->tv_nsec / 1000000);
	return json_object_new_string(buf);
}

static json_object *events_json(const struct hfsd_fail_status *st)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < st->nev; i++) {
		json_object *x = json_object_new_object();
		const struct hfsd_fail_event *e = &st->ev[i];

		json_object_object_add(x, "time", ts_json(&e->when));
		json_object_object_add(x, "monotonic_ns", json_object_new_uint64(
			(uint64_t)e->mono.tv_sec * 1000000000u +
			(uint64_t)e->mono.tv_nsec));
		json_object_object_add(x, "source", json_object_new_string(e->source));
		json_object_object_add(x, "offset", json_object_new_uint64(e->off));
		json_object_object_add(x, "length", json_object_new_uint64(e->len));
		json_object_object_add(x, "whole_device", json_object_new_boolean(
			!!(e->flags & HFS_FAIL_WHOLE_DEVICE)));
		json_object_object_add(x, "media", json_object_new_boolean(
			!!(e->flags & HFS_FAIL_MEDIA)));
		json_object_object_add(x, "outcome", json_object_new_string(e->outcome));
		json_object_array_add(a, x);
	}
	return a;
}

static json_object *affected_json(const struct hfsd_fail_status *st)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < st->naff; i++) {
		json_object *x = json_object_new_object();
		const struct hfsd_fail_file *e = &st->aff[i];

		json_object_object_add(x, "path", json_object_new_string(e->path));
		json_object_object_add(x, "ino", json_object_new_uint64(e->ino));
		json_object_object_add(x, "file_off", json_object_new_uint64(e->file_off));
		json_object_object_add(x, "len", json_object_new_uint64(e->len));
		json_object_object_add(x, "region_off", json_object_new_uint64(e->region_off));
		json_object_array_add(a, x);
	}
	return a;
}

static const char *outcome_name(enum hfsd_revoke_outcome o)
{
	switch (o) {
	case HFSD_REVOKE_KILLED: return "killed";
	case HFSD_REVOKE_ACKED: return "acked";
	case HFSD_REVOKE_NO_ANSWER: return "no answer";
	}
	return "?";
}

static json_object *revoked_json(const struct hfsd_fail_status *st)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < st->nrevoked; i++) {
		const struct hfsd_revoked_lease *v = &st->revoked[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "lease",
				       json_object_new_uint64(v->lease_id));
		json_object_object_add(x, "pid", json_object_new_int(v->pid));
		json_object_object_add(x, "outcome", json_object_new_string(
			outcome_name(v->outcome)));
		json_object_array_add(a, x);
	}
	return a;
}

static int bad_cb(void *ctx, uint64_t off, uint64_t len)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "offset", json_object_new_uint64(off));
	json_object_object_add(x, "length", json_object_new_uint64(len));
	json_object_array_add(ctx, x);
	return 0;
}

static json_object *badlist_json(struct hfsd_ctl *c)
{
	json_object *a = json_object_new_array();

	hfs_vol_badlist(c->d->vol, bad_cb, a);
	return a;
}

static json_object *phases_json(const struct hfsd_fail_status *st)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < st->nphase; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "phase", json_object_new_string(st->phase[i].name));
		json_object_object_add(x, "ms", json_object_new_double(st->phase[i].ms));
		json_object_array_add(a, x);
	}
	return a;
}

/* ----------------------------------------------------------- devices */

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		 u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
}

static const char *dev_state_name(uint32_t s)
{
	switch (s) {
	case HFS_DEV_ACTIVE: return "active";
	case HFS_DEV_LOST: return "lost";
	case HFS_DEV_RETIRED: return "retired";
	default: return "?";
	}
}

/* Where the metadata of a volume of several devices lives now: how many
 * copies, and whether device 0's are served from its mirror
 * (docs/failure-model.md "Several devices"). */
static json_object *metadata_json(struct hfsd_ctl *c)
{
	struct hfs_vol_metadata m;
	json_object *o = json_object_new_object();
	char text[224];

	hfs_vol_metadata(c->d->vol, &m);
	if (m.from_mirror)
		snprintf(text, sizeof(text), "one copy, served from the mirror "
			 "on device %u (device 0 lost %s); losing device %u "
			 "loses the volume", m.mirror_dev, m.live
			 ? "while mounted" : "before this mount", m.mirror_dev);
	else if (m.copies == 2 && m.served)
		snprintf(text, sizeof(text), "one copy for %" PRIu64 " bytes "
			 "at %#" PRIx64 "%s (device 0 poisoned there, served "
			 "from the mirror on device %u); two copies of the "
			 "rest", m.served, m.served_off, m.nserved > 1
			 ? " and elsewhere" : "", m.mirror_dev);
	else if (m.copies == 2)
		snprintf(text, sizeof(text), "two copies: device 0 and its "
			 "mirror on device %u", m.mirror_dev);
	else if (m.mirror_dev)
		snprintf(text, sizeof(text), "one copy, on device 0 (its "
			 "mirror on device %u is lost)", m.mirror_dev);
	else
		snprintf(text, sizeof(text), "one copy, on device 0 (no "
			 "mirror)");
	json_object_object_add(o, "copies", json_object_new_int((int)m.copies));
	json_object_object_add(o, "served_from", json_object_new_string(
		m.from_mirror ? "mirror" : "device 0"));
	json_object_object_add(o, "mirror_device",
			       json_object_new_int((int)m.mirror_dev));
	json_object_object_add(o, "failover", json_object_new_string(
		!m.from_mirror ? "none" : m.live ? "while mounted"
						 : "at mount"));
	/* ranges of device 0's metadata served from the mirror after a
	 * media error there: one copy of those bytes */
	json_object_object_add(o, "one_copy_bytes",
			       json_object_new_uint64(m.served));
	json_object_object_add(o, "one_copy_ranges",
			       json_object_new_int((int)m.nserved));
	if (m.nserved)
		json_object_object_add(o, "one_copy_offset",
				       json_object_new_uint64(m.served_off));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

/* An inode's placement choice (trusted.holdfs.device, docs/format.md
 * "Placement"): the device it names, whether that device takes data
 * now, and a sentence; on a volume of several devices only. */
static json_object *placement_json(struct hfsd_ctl *c, uint64_t ino,
				   const struct hfs_vol_device *dv, unsigned n)
{
	json_object *o = json_object_new_object();
	int r = hfs_vol_place_choice(c->d->vol, ino);
	bool serving = r >= 0 && (unsigned)r < n &&
		       dv[r].state == HFS_DEV_ACTIVE &&
		       (dv[r].role & HFS_DEV_ROLE_DATA);
	char text[200], id[37];

	if (r >= 0 && (unsigned)r < n) {
		uuid_str(dv[r].uuid, id);
		json_object_object_add(o, "device", json_object_new_int(r));
		json_object_object_add(o, "uuid", json_object_new_string(id));
		json_object_object_add(o, "state", json_object_new_string(
			dev_state_name(dv[r].state)));
		json_object_object_add(o, "in_service",
				       json_object_new_boolean(serving));
		if (serving)
			snprintf(text, sizeof(text), "device %d: new data "
				 "goes there first while it has room", r);
		else
			snprintf(text, sizeof(text), "device %d, %s: not in "
				 "service, new data goes to the device with "
				 "the most free blocks", r,
				 dev_state_name(dv[r].state));
	} else {
		json_object_object_add(o, "device", NULL);
		snprintf(text, sizeof(text), "%s", r == -EUCLEAN
			 ? "an invalid " HFS_PLACE_XATTR " (fsck.holdfs "
			   "drops it): new data goes to the device with the "
			   "most free blocks"
			 : "no choice: new data goes to the device with the "
			   "most free blocks");
	}
	json_object_object_add(o, "valid",
			       json_object_new_boolean(r != -EUCLEAN));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

/* The volume's devices, and ino's blocks on each (ino 0: none). */
static json_object *devices_json(struct hfsd_ctl *c, uint64_t ino, int *err)
{
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	uint64_t counts[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(c->d->vol, dv, HFS_MEMBERS_MAX);
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	int nf = 0;
	char id[37];

	*err = 0;
	if (ino) {
		nf = hfs_vol_file_devices(c->d->vol, ino, counts,
					  HFS_MEMBERS_MAX);
		if (nf < 0) {
			*err = -nf;
			json_object_put(a);
			json_object_put(o);
			return NULL;
		}
	}
	for (unsigned i = 0; i < n && i < HFS_MEMBERS_MAX; i++) {
		json_object *x = json_object_new_object();

		uuid_str(dv[i].uuid, id);
		json_object_object_add(x, "device", json_object_new_int((int)i));
		json_object_object_add(x, "path", json_object_new_string(dv[i].path));
		json_object_object_add(x, "uuid", json_object_new_string(id));
		json_object_object_add(x, "state", json_object_new_string(
			dev_state_name(dv[i].state)));
		json_object_object_add(x, "metadata", json_object_new_boolean(
			dv[i].role & HFS_DEV_ROLE_META));
		json_object_object_add(x, "size", json_object_new_uint64(dv[i].size));
		/* where its bytes sit in the volume (lease extents, leases
		 * and holders name volume offsets) */
		json_object_object_add(x, "base", json_object_new_uint64(dv[i].base));
		json_object_object_add(x, "pool_blocks",
				       json_object_new_uint64(dv[i].pool_blocks));
		json_object_object_add(x, "free_blocks",
				       json_object_new_uint64(dv[i].free_blocks));
		if (ino)
			json_object_object_add(x, "file_blocks",
					       json_object_new_uint64(counts[i]));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "devices", a);
	if (n > 1)
		json_object_object_add(o, "metadata", metadata_json(c));
	/* the mount point: the root directory's choice, which what is
	 * created there inherits */
	if (n > 1)
		json_object_object_add(o, "placement", placement_json(
			c, ino ? ino : HFS_ROOT_INO, dv, n));
	if (ino)
		json_object_object_add(o, "ino", json_object_new_uint64(ino));
	return o;
}

void hfsd_on_admin_retire(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd)
{
	const struct hfs_msg_retire *m = msg;
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(c->d->vol, dv, HFS_MEMBERS_MAX);
	json_object *o;
	int r;

	(void)fd;
	if (n < 2 || m->device >= n) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, n < 2
				    ? "a volume of one device"
				    : "no such device in the volume");
		return;
	}
	if (dv[m->device].state == HFS_DEV_ACTIVE) {
		hfsd_ctl_send_error(c, cl, m->h.id, EBUSY, "the device is "
				    "active: a device is retired once lost");
		return;
	}
	r = hfs_vol_device_state(c->d->vol, m->device, HFS_DEV_RETIRED);
	if (r < 0) {
		hfsd_ctl_send_error(c, cl, m->h.id, -r, "cannot record it in "
				    "the device table");
		return;
	}
	hfsd_log(LOG_NOTICE, "control: uid 0 pid %d retired device %u (%s)",
		 (int)cl->pid, m->device, dv[m->device].path);
	o = json_object_new_object();
	json_object_object_add(o, "device", json_object_new_int((int)m->device));
	json_object_object_add(o, "state", json_object_new_string("retired"));
	reply_json(c, cl, m->h.id, o);
}

void hfsd_on_admin_devices(struct hfsd_ctl *c, struct hfsd_client *cl,
			   const void *msg, int fd)
{
	const struct hfs_msg_devices *m = msg;
	json_object *o;
	int err;

	(void)fd;
	o = devices_json(c, m->ino, &err);
	if (!o) {
		hfsd_ctl_send_error(c, cl, m->h.id, err, err == ENOENT
				    ? "no such inode" : "cannot list devices");
		return;
	}
	reply_json(c, cl, m->h.id, o);
}

/* A device of the volume lost (and not retired yet): the volume runs
 * degraded.  A retired device is one the operator has given up on. */
static bool device_lost(struct hfsd_ctl *c)
{
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(c->d->vol, dv, HFS_MEMBERS_MAX);

	for (unsigned i = 0; i < n && i < HFS_MEMBERS_MAX; i++)
		if (dv[i].state == HFS_DEV_LOST)
			return true;
	return false;
}

/* Part of device 0's metadata served from the mirror after a media
 * error there: that part has one copy, the volume runs degraded. */
static bool metadata_poisoned(struct hfsd_ctl *c)
{
	struct hfs_vol_metadata m;

	hfs_vol_metadata(c->d->vol, &m);
	return m.nserved != 0;
}

/* ADMIN_STATUS's failure part: state, events, affected paths, revoked
 * leases, killed holders, phase timings (docs/failure-model.md). */
static json_object *status_json(struct hfsd_ctl *c,
				const struct hfsd_fail_status *st)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "state", json_object_new_string(
		st->shutdown ? "shutdown"
		: st->naff || device_lost(c) || metadata_poisoned(c)
		? "degraded" : "ok"));
	if (st->shutdown) {
		json_object_object_add(o, "reason", json_object_new_string(st->why));
		json_object_object_add(o, "shutdown_at", ts_json(&st->shut_at));
	}
	json_object_object_add(o, "devname", json_object_new_string(st->devname));
	json_object_object_add(o, "poll_ms", json_object_new_int((int)st->poll_ms));
	json_object_object_add(o, "events", events_json(st));
	json_object_object_add(o, "affected", affected_json(st));
	json_object_object_add(o, "revoked", revoked_json(st));
	json_object_object_add(o, "bad_extents", badlist_json(c));
	json_object_object_add(o, "killed", json_object_new_uint64(st->kills));
	json_object_object_add(o, "phases", phases_json(st));
	json_object_object_add(o, "dropped_events", json_object_new_uint64(st->dropped));
	return o;
}

static bool fail_running(struct hfsd_ctl *c, struct hfsd_client *cl,
			 const struct hfs_msg_hdr *h)
{
	if (c->d->fail)
		return true;
	hfsd_ctl_send_error(c, cl, h->id, ENOTSUP,
			    "failure monitor not running");
	return false;
}

void hfsd_on_admin_status(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd)
{
	const struct hfs_msg_hdr *h = msg;
	struct hfsd_fail_status *st;
	json_object *o;

	(void)fd;
	if (!fail_running(c, cl, h))
		return;
	if (hfsd_fail_status(c->d->fail, &st) < 0) {
		hfsd_ctl_send_error(c, cl, h->id, ENOMEM, "out of memory");
		return;
	}
	o = status_json(c, st);
	hfsd_fail_status_free(st);
	{
		int err;
		json_object *d = devices_json(c, 0, &err);

		if (d) {
			json_object *a = NULL;

			json_object_object_get_ex(d, "devices", &a);
			json_object_object_add(o, "devices", json_object_get(a));
			a = NULL;
			if (json_object_object_get_ex(d, "metadata", &a))
				json_object_object_add(o, "metadata",
						       json_object_get(a));
			json_object_put(d);
		}
	}
	add_leases(c, o, false, 0, 0);
	reply_json(c, cl, h->id, o);
}

/* A drill's poisoned range: the daemon's own accesses fail there from
 * now on (as a machine check would make them), and what happens next is
 * the pipeline's: a read of a file there, or a client's POISON report
 * confirmed by the daemon's guarded read. */
static void simulate_poison(struct hfsd_ctl *c, struct hfsd_client *cl,
			    const struct hfs_msg_inject *m)
{
	int r;
	json_object *o;

	if (m->flags != HFS_FAIL_SIMULATE_POISON) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "simulated poison "
				    "takes a range and no other flag");
		return;
	}
	r = hfs_region_simulate_poison(c->d->rg, m->offset, m->length);
	if (r < 0) {
		hfsd_ctl_send_error(c, cl, m->h.id, -r, r == -ERANGE
				    ? "range outside the region"
				    : "too many simulated poisoned ranges");
		return;
	}
	hfsd_log(LOG_WARNING, "control: uid 0 pid %d simulates poisoned media "
		 "at region bytes %#" PRIx64 "+%#" PRIx64 " (drill)",
		 (int)cl->pid, m->offset, m->length);
	o = json_object_new_object();
	json_object_object_add(o, "simulated", json_object_new_boolean(1));
	reply_json(c, cl, m->h.id, o);
}

/* A drill of the kernel's AO notice: the daemon signals itself at its
 * mapping of m->offset (this thread has SIGBUS unblocked); the region's
 * AO hook queues it for the pipeline, which records it as an event. */
static void sigbus_ao(struct hfsd_ctl *c, struct hfsd_client *cl,
		      const struct hfs_msg_inject *m)
{
	json_object *o;
	int r;

	if (m->flags != HFS_FAIL_SIGBUS_AO) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "a SIGBUS drill "
				    "takes a range and no other flag");
		return;
	}
	/* the length is the range the kernel would name: si_addr_lsb */
	if (m->length < 4096 || m->length > (1u << 30) ||
	    (m->length & (m->length - 1)) || m->offset % m->length) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "a SIGBUS drill "
				    "takes a power-of-two length from 4 KiB to "
				    "1 GiB, at an offset aligned to it (the "
				    "range a machine check names)");
		return;
	}
	hfsd_log(LOG_WARNING, "control: uid 0 pid %d sends the daemon SIGBUS "
		 "BUS_MCEERR_AO at region byte %#" PRIx64 ", lsb %d (drill)",
		 (int)cl->pid, m->offset, __builtin_ctzll(m->length));
	r = hfs_region_send_ao(c->d->rg, m->offset,
			       (unsigned)__builtin_ctzll(m->length));
	if (r < 0) {
		hfsd_ctl_send_error(c, cl, m->h.id, -r, r == -ERANGE
				    ? "range outside the region"
				    : "cannot signal the daemon");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "queued", json_object_new_boolean(1));
	reply_json(c, cl, m->h.id, o);
}

/* A drill of one device's loss in a volume of several: the pipeline
 * treats it as that device gone (fail_members.c, fail_failover.c). */
static void inject_device(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const struct hfs_msg_inject *m)
{
	struct hfs_vol_device dv[HFS_MEMBERS_MAX];
	unsigned n = hfs_vol_devices(c->d->vol, dv, HFS_MEMBERS_MAX);
	json_object *o;

	if (m->flags != HFS_FAIL_DEVICE || m->length) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "a device's loss "
				    "takes a device number and no other flag");
		return;
	}
	if (n < 2 || m->offset >= n) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, n < 2
				    ? "a volume of one device: inject "
				      "--whole-device"
				    : "no such device in the volume");
		return;
	}
	if (dv[m->offset].state != HFS_DEV_ACTIVE) {
		hfsd_ctl_send_error(c, cl, m->h.id, EALREADY, "that device is "
				    "not active (lost or retired already)");
		return;
	}
	hfsd_log(LOG_WARNING, "control: uid 0 pid %d injects the loss of "
		 "device %u (%s)", (int)cl->pid, (unsigned)m->offset,
		 dv[m->offset].path);
	hfsd_fail_post(c->d->fail, m->offset, 0, HFS_FAIL_DEVICE, "operator");
	o = json_object_new_object();
	json_object_object_add(o, "queued", json_object_new_boolean(1));
	reply_json(c, cl, m->h.id, o);
}

void hfsd_on_admin_inject(struct hfsd_ctl *c, struct hfsd_client *cl,
			  const void *msg, int fd)
{
	const struct hfs_msg_inject *m = msg;
	json_object *o;

	(void)fd;
	if (!fail_running(c, cl, &m->h))
		return;
	if (m->pad || (m->flags & ~(HFS_FAIL_PRE_REMOVE |
				    HFS_FAIL_WHOLE_DEVICE |
				    HFS_FAIL_MEDIA |
				    HFS_FAIL_SIMULATE_POISON |
				    HFS_FAIL_SIGBUS_AO | HFS_FAIL_DEVICE)) ||
	    (!(m->flags & (HFS_FAIL_WHOLE_DEVICE | HFS_FAIL_DEVICE)) &&
	     (m->length == 0 || m->offset + m->length < m->offset))) {
		hfsd_ctl_send_error(c, cl, m->h.id, EINVAL, "bad injection");
		return;
	}
	if (m->flags & HFS_FAIL_SIMULATE_POISON) {
		simulate_poison(c, cl, m);
		return;
	}
	if (m->flags & HFS_FAIL_SIGBUS_AO) {
		sigbus_ao(c, cl, m);
		return;
	}
	if (m->flags & HFS_FAIL_DEVICE) {
		inject_device(c, cl, m);
		return;
	}
	hfsd_log(LOG_WARNING, "control: uid 0 pid %d injects a %s "
		 "failure", (int)cl->pid,
		 m->flags & HFS_FAIL_WHOLE_DEVICE ? "whole-device" : "range");
	hfsd_fail_post(c->d->fail, m->offset, m->length, m->flags,
		       "operator");
	o = json_object_new_object();
	json_object_object_add(o, "queued", json_object_new_boolean(1));
	reply_json(c, cl, m->h.id, o);
}
