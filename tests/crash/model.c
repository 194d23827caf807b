/* SPDX-License-Identifier: MIT */
/*
 * The oracle's file-tree model and tree comparison (model.h).
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	model_new(m, MT_DIR, 0755);
	m->o[0].parent = 0;
	m->o[0].nnames = 1;
}

static void obj_free(struct mobj *o)
{
	free(o->data);
	free(o->tail);
	free(o->shadow);
	for (int i = 0; i < o->nxa; i++) {
		free(o->xa[i].name);
		free(o->xa[i].val);
	}
	free(o->xa);
	for (int i = 0; i < o->nent; i++)
		free(o->ent[i].name);
	free(o->ent);
}

void model_free(struct model *m)
{
	for (int i = 0; i < m->n; i++)
		obj_free(&m->o[i]);
	free(m->o);
	memset(m, 0, sizeof(*m));
}

void model_copy(struct model *dst, const struct model *src)
{
	dst->n = src->n;
	dst->cap = src->n;
	dst->o = xmalloc((size_t)src->n * sizeof(*dst->o));
	for (int i = 0; i < src->n; i++) {
		const struct mobj *s = &src->o[i];
		struct mobj *d = &dst->o[i];

		*d = *s;
		d->cap = s->size;
		d->data = NULL;
		if (s->size) {
			d->data = xmalloc(s->size);
			memcpy(d->data, s->data, s->size);
		}
		d->tail = NULL;
		if (s->ntail) {
			d->tail = xmalloc(s->ntail);
			memcpy(d->tail, s->tail, s->ntail);
		}
		d->shadow = NULL;
		if (s->nshadow) {
			d->shadow = xmalloc(s->nshadow);
			memcpy(d->shadow, s->shadow, s->nshadow);
		}
		d->xa = NULL;
		if (s->nxa) {
			d->xa = xmalloc((size_t)s->nxa * sizeof(*d->xa));
			for (int k = 0; k < s->nxa; k++) {
				d->xa[k].name = xstrdup(s->xa[k].name);
				d->xa[k].len = s->xa[k].len;
				d->xa[k].val = xmalloc(s->xa[k].len);
				memcpy(d->xa[k].val, s->xa[k].val, s->xa[k].len);
			}
		}
		d->ent = NULL;
		d->ecap = s->nent;
		if (s->nent) {
			d->ent = xmalloc((size_t)s->nent * sizeof(*d->ent));
			for (int k = 0; k < s->nent; k++) {
				d->ent[k].name = xstrdup(s->ent[k].name);
				d->ent[k].obj = s->ent[k].obj;
			}
		}
	}
}

int model_new(struct model *m, enum mtype type, uint32_t perm)
{
	struct mobj *o;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->o = xrealloc(m->o, (size_t)m->cap * sizeof(*m->o));
	}
	o = &m->o[m->n];
	memset(o, 0, sizeof(*o));
	o->type = (uint8_t)type;
	o->perm = perm & 07777;
	o->parent = -1;
	return m->n++;
}

static int ent_index(const struct model *m, int dir, const char *name)
{
	const struct mobj *d = &m->o[dir];

	for (int i = 0; i < d->nent; i++)
		if (!strcmp(d->ent[i].name, name))
			return i;
	return -1;
}

int model_lookup(const struct model *m, int dir, const char *name)
{
	int i = ent_index(m, dir, name);

	return i < 0 ? -1 : m->o[dir].ent[i].obj;
}

void model_add(struct model *m, int dir, const char *name, int obj)
{
	struct mobj *d = &m->o[dir];

	if (d->nent == d->ecap) {
		d->ecap = d->ecap ? d->ecap * 2 : 16;
		d->ent = xrealloc(d->ent, (size_t)d->ecap * sizeof(*d->ent));
	}
	d->ent[d->nent].name = xstrdup(name);
	d->ent[d->nent].obj = obj;
	d->nent++;
	m->o[obj].nnames++;
	if (m->o[obj].type == MT_DIR)
		m->o[obj].parent = dir;
}

int model_remove(struct model *m, int dir, const char *name)
{
	struct mobj *d = &m->o[dir];
	int i = ent_index(m, dir, name), obj;

	if (i < 0)
		return -1;
	obj = d->ent[i].obj;
	free(d->ent[i].name);
	d->ent[i] = d->ent[--d->nent];
	m->o[obj].nnames--;
	return obj;
}

void model_retarget(struct model *m, int dir, const char *name, int obj)
{
	int i = ent_index(m, dir, name);
	int old;

	if (i < 0)
		abort();
	old = m->o[dir].ent[i].obj;
	m->o[old].nnames--;
	m->o[dir].ent[i].obj = obj;
	m->o[obj].nnames++;
	if (m->o[obj].type == MT_DIR)
		m->o[obj].parent = dir;
}

bool model_alive(const struct model *m, int obj)
{
	return obj == 0 || (obj > 0 && obj < m->n && m->o[obj].nnames > 0);
}

bool model_is_ancestor(const struct model *m, int ancestor, int dir)
{
	for (int depth = 0; depth < 10000; depth++) {
		if (dir == ancestor)
			return true;
		if (dir == 0)
			return false;
		dir = m->o[dir].parent;
	}
	return true;
}

/* Path of directory dir into buf (returns its length). */
static size_t dir_path(const struct model *m, int dir, char *buf, size_t len)
{
	size_t n;
	int p;

	if (dir <= 0 || len == 0) {
		if (len)
			buf[0] = 0;
		return 0;
	}
	p = m->o[dir].parent;
	n = dir_path(m, p < 0 ? 0 : p, buf, len);
	for (int i = 0; p >= 0 && i < m->o[p].nent; i++) {
		if (m->o[p].ent[i].obj == dir) {
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "/%s",
					      m->o[p].ent[i].name);
			break;
		}
	}
	return n < len ? n : len - 1;
}

void model_path(const struct model *m, int dir, const char *name, char *buf,
		size_t len)
{
	size_t n = dir_path(m, dir, buf, len);

	snprintf(buf + n, len - n, "/%s", name);
}

/* ------------------------------------------------------------- data */

static void obj_reserve(struct mobj *o, uint64_t size)
{
	if (size <= o->cap)
		return;
	o->cap = size > 2 * o->cap ? size : 2 * o->cap;
	o->data = xrealloc(o->data, o->cap);
}

static void shadow_clear(struct mobj *o)
{
	free(o->shadow);
	o->shadow = NULL;
	o->shadow_off = o->nshadow = 0;
}

/* Shrinking clears the shadow (the new tail is zeroed, units past it
 * freed); growing turns [old size, size) into zeros (content), and the
 * shadow past the new size stays. */
void model_truncate(struct model *m, int obj, uint64_t size)
{
	struct mobj *o = &m->o[obj];
	uint64_t se = o->shadow_off + o->nshadow;

	if (size < o->size || se <= size) {
		shadow_clear(o);
	} else if (o->nshadow && o->shadow_off < size) {
		memmove(o->shadow, o->shadow + (size - o->shadow_off),
			se - size);
		o->nshadow = se - size;
		o->shadow_off = size;
	}
	if (size > o->size) {
		obj_reserve(o, size);
		memset(o->data + o->size, 0, size - o->size);
	}
	o->size = size;
}

void model_store_past_eof(struct model *m, int obj, uint64_t off,
			  const uint8_t *buf, uint64_t len)
{
	struct mobj *o = &m->o[obj];
	uint64_t s = o->nshadow && o->shadow_off < off ? o->shadow_off : off;
	uint64_t e = off + len, oe = o->shadow_off + o->nshadow;
	uint8_t *v;

	if (o->nshadow && oe > e)
		e = oe;
	v = xmalloc(e - s);
	memset(v, 0, e - s); /* a byte between two stores may read zero */
	if (o->nshadow)
		memcpy(v + (o->shadow_off - s), o->shadow, o->nshadow);
	memcpy(v + (off - s), buf, len);
	free(o->shadow);
	o->shadow = v;
	o->shadow_off = s;
	o->nshadow = e - s;
}

void model_write(struct model *m, int obj, uint64_t off, const uint8_t *buf,
		 uint64_t len)
{
	struct mobj *o = &m->o[obj];

	if (off + len > o->size)
		model_truncate(m, obj, off + len);
	memcpy(o->data + off, buf, len);
}

void model_zero(struct model *m, int obj, uint64_t off, uint64_t len)
{
	struct mobj *o = &m->o[obj];

	if (off >= o->size)
		return;
	if (len > o->size - off)
		len = o->size - off;
	memset(o->data + off, 0, len);
}

void model_set_target(struct model *m, int obj, const char *target)
{
	struct mobj *o = &m->o[obj];
	size_t n = strlen(target);

	obj_reserve(o, n);
	memcpy(o->data, target, n);
	o->size = n;
}

/* ----------------------------------------------------------- xattrs */

int model_xattr_find(const struct model *m, int obj, const char *name)
{
	const struct mobj *o = &m->o[obj];

	for (int i = 0; i < o->nxa; i++)
		if (!strcmp(o->xa[i].name, name))
			return i;
	return -1;
}

void model_xattr_set(struct model *m, int obj, const char *name,
		     const uint8_t *val, size_t len)
{
	struct mobj *o = &m->o[obj];
	int i = model_xattr_find(m, obj, name), at;

	if (i >= 0) {
		free(o->xa[i].val);
	} else {
		o->xa = xrealloc(o->xa, (size_t)(o->nxa + 1) * sizeof(*o->xa));
		for (at = 0; at < o->nxa && strcmp(o->xa[at].name, name) < 0; at++)
			;
		memmove(&o->xa[at + 1], &o->xa[at],
			(size_t)(o->nxa - at) * sizeof(*o->xa));
		o->nxa++;
		i = at;
		o->xa[i].name = xstrdup(name);
	}
	o->xa[i].val = xmalloc(len);
	memcpy(o->xa[i].val, val, len);
	o->xa[i].len = len;
}

void model_xattr_remove(struct model *m, int obj, const char *name)
{
	struct mobj *o = &m->o[obj];
	int i = model_xattr_find(m, obj, name);

	if (i < 0)
		return;
	free(o->xa[i].name);
	free(o->xa[i].val);
	memmove(&o->xa[i], &o->xa[i + 1], (size_t)(o->nxa - i - 1) * sizeof(*o->xa));
	o->nxa--;
}

size_t model_xattr_list(const struct model *m, int obj, const char *name,
			bool set)
{
	const struct mobj *o = &m->o[obj];
	size_t used = 0;

	for (int i = 0; i < o->nxa; i++)
		if (strcmp(o->xa[i].name, name))
			used += strlen(o->xa[i].name) + 1;
	if (set)
		used += strlen(name) + 1;
	return used;
}

/* ------------------------------------------------------- comparison */

struct cmp {
	const struct model *a, *e, *alt;
	int fuzzy;
	int *e2a, *a2e;
	char *msg;
	size_t len;
};

static int fail(struct cmp *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct cmp *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, c->len, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *type_name(int t)
{
	static const char *const n[] = { "none", "file", "dir", "symlink", "fifo",
					"whiteout" };

	return t >= 0 && t <= MT_CHR ? n[t] : "?";
}

static int ent_cmp(const void *x, const void *y)
{
	const struct mdent *a = x, *b = y;

	return strcmp(a->name, b->name);
}

static struct mdent *sorted_ents(const struct mobj *d)
{
	struct mdent *v = xmalloc((size_t)d->nent * sizeof(*v));

	if (d->nent == 0) /* d->ent may be NULL: memcpy/qsort must not see it */
		return v;
	memcpy(v, d->ent, (size_t)d->nent * sizeof(*v));
	qsort(v, (size_t)d->nent, sizeof(*v), ent_cmp);
	return v;
}

static int cmp_xattrs(struct cmp *c, const struct mobj *a,
		      const struct mobj *e, const char *path)
{
	int i = 0, k = 0;

	while (i < a->nxa || k < e->nxa) {
		int d = i == a->nxa ? 1 : k == e->nxa ? -1
			: strcmp(a->xa[i].name, e->xa[k].name);

		if (d < 0)
			return fail(c, "%s: unexpected xattr %s", path,
				    a->xa[i].name);
		if (d > 0)
			return fail(c, "%s: missing xattr %s", path,
				    e->xa[k].name);
		if (a->xa[i].len != e->xa[k].len ||
		    memcmp(a->xa[i].val, e->xa[k].val, a->xa[i].len))
			return fail(c, "%s: xattr %s has a %zu-byte value, "
				    "expected %zu bytes%s", path, a->xa[i].name,
				    a->xa[i].len, e->xa[k].len,
				    a->xa[i].len == e->xa[k].len ? " (content differs)" : "");
		i++;
		k++;
	}
	return 0;
}

static uint8_t byte_at(const struct mobj *o, uint64_t i)
{
	return i < o->size ? o->data[i] : 0;
}

/* The target of an in-flight data operation: old or new size, each byte
 * old or new; a new size means the operation's transaction committed,
 * after all its data was persistent. */
static int cmp_fuzzy_data(struct cmp *c, const struct mobj *a,
			  const struct mobj *e, const struct mobj *n,
			  const char *path)
{
	bool grown = a->size == n->size && n->size != e->size;

	if (a->size != e->size && a->size != n->size)
		return fail(c, "%s: size %llu, expected %llu (before the "
			    "in-flight operation) or %llu (after it)", path,
			    (unsigned long long)a->size,
			    (unsigned long long)e->size,
			    (unsigned long long)n->size);
	for (uint64_t i = 0; i < a->size; i++) {
		uint8_t v = a->data[i];

		if (grown ? v == byte_at(n, i)
			  : (v == byte_at(e, i) || v == byte_at(n, i)))
			continue;
		if (grown)
			return fail(c, "%s: byte %llu is 0x%02x; the size shows the "
				    "in-flight operation committed, so all its data "
				    "must be there: expected 0x%02x", path,
				    (unsigned long long)i, v, byte_at(n, i));
		return fail(c, "%s: byte %llu is 0x%02x, neither the old 0x%02x "
			    "nor the new 0x%02x", path, (unsigned long long)i, v,
			    byte_at(e, i), byte_at(n, i));
	}
	return 0;
}

/* What e allows past EOF at byte i besides zero: the shadow of a
 * workload's model, or the tail of a snapshot used as the expectation
 * (a crashed recovery must give what the uninterrupted one gave). */
static uint8_t shadow_at(const struct mobj *o, uint64_t i)
{
	if (i >= o->shadow_off && i - o->shadow_off < o->nshadow)
		return o->shadow[i - o->shadow_off];
	if (i >= o->size && i - o->size < o->ntail)
		return o->tail[i - o->size];
	return 0;
}

/* Past EOF a mapping shows zeros or what DAX stores put there (e's
 * shadow); the target of an in-flight data operation (n: the model
 * after it, else NULL) may also show that operation's new bytes, written
 * before its size commits, or its stores past EOF. */
static int cmp_tail(struct cmp *c, const struct mobj *a, const struct mobj *e,
		    const struct mobj *n, const char *path)
{
	for (uint64_t j = 0; j < a->ntail; j++) {
		uint64_t i = a->size + j;
		uint8_t v = a->tail[j];

		if (v == 0 || v == shadow_at(e, i) ||
		    (n && (v == byte_at(n, i) || v == shadow_at(n, i))))
			continue;
		return fail(c, "%s: a mapping shows 0x%02x past EOF at byte "
			    "%llu (size %llu)%s", path, v,
			    (unsigned long long)i, (unsigned long long)a->size,
			    n ? ", not the in-flight operation's byte" : "");
	}
	return 0;
}

static int first_diff(const uint8_t *a, const uint8_t *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (int)(i > INT32_MAX ? INT32_MAX : i);
	return -1;
}

/* Size and every byte (file content, symlink target) exactly. */
static int cmp_data(struct cmp *c, const struct mobj *a, const struct mobj *e,
		    const char *path)
{
	if (a->size != e->size)
		return fail(c, "%s: size %llu, expected %llu", path,
			    (unsigned long long)a->size,
			    (unsigned long long)e->size);
	if (a->size && memcmp(a->data, e->data, a->size)) {
		int i = first_diff(a->data, e->data, a->size);

		return fail(c, "%s: content differs at byte %d (0x%02x, "
			    "expected 0x%02x)", path, i, a->data[i],
			    e->data[i]);
	}
	return 0;
}

static int cmp_dir(struct cmp *c, int ad, int ed, const char *path);

static int cmp_obj(struct cmp *c, int ao, int eo, const char *path)
{
	const struct mobj *a = &c->a->o[ao], *e = &c->e->o[eo];

	if (c->e2a[eo] >= 0 || c->a2e[ao] >= 0) {
		if (c->e2a[eo] != ao || c->a2e[ao] != eo)
			return fail(c, "%s: hard-link identity differs (inode "
				    "%llu)", path, (unsigned long long)a->ino);
		return 0; /* already compared through another name */
	}
	c->e2a[eo] = ao;
	c->a2e[ao] = eo;
	if (a->type != e->type)
		return fail(c, "%s: is a %s, expected a %s", path,
			    type_name(a->type), type_name(e->type));
	if (a->perm != e->perm)
		return fail(c, "%s: mode %04o, expected %04o", path, a->perm,
			    e->perm);
	if (a->iflags != e->iflags)
		return fail(c, "%s: attribute flags 0x%x, expected 0x%x", path,
			    a->iflags, e->iflags);
	if (cmp_xattrs(c, a, e, path))
		return -1;
	switch (e->type) {
	case MT_DIR:
		return cmp_dir(c, ao, eo, path);
	case MT_REG:
		if (eo == c->fuzzy)
			return cmp_fuzzy_data(c, a, e, &c->alt->o[eo], path) ||
			       cmp_tail(c, a, e, &c->alt->o[eo], path) ? -1 : 0;
		return cmp_data(c, a, e, path) || cmp_tail(c, a, e, NULL, path)
			       ? -1 : 0;
	case MT_LNK:
		return cmp_data(c, a, e, path);
	default:
		return 0;
	}
}

static int cmp_dir(struct cmp *c, int ad, int ed, const char *path)
{
	const struct mobj *a = &c->a->o[ad], *e = &c->e->o[ed];
	struct mdent *av = sorted_ents(a), *ev = sorted_ents(e);
	char sub[1024];
	int i = 0, k = 0, ret = 0;

	while (!ret && (i < a->nent || k < e->nent)) {
		int d = i == a->nent ? 1 : k == e->nent ? -1
			: strcmp(av[i].name, ev[k].name);

		if (d < 0) {
			ret = fail(c, "%s/%s: unexpected entry (%s)", path,
				   av[i].name, type_name(c->a->o[av[i].obj].type));
		} else if (d > 0) {
			ret = fail(c, "%s/%s: missing (%s)", path, ev[k].name,
				   type_name(c->e->o[ev[k].obj].type));
		} else {
			snprintf(sub, sizeof(sub), "%s/%s", path, av[i].name);
			ret = cmp_obj(c, av[i].obj, ev[k].obj, sub);
			i++;
			k++;
		}
	}
	free(av);
	free(ev);
	return ret;
}

int model_compare(const struct model *a, const struct model *e,
		  const struct model *alt, int fuzzy, char *msg, size_t len)
{
	struct cmp c = { a, e, alt, alt ? fuzzy : -1, NULL, NULL, msg, len };
	int ret;

	c.e2a = xmalloc((size_t)e->n * sizeof(int));
	c.a2e = xmalloc((size_t)a->n * sizeof(int));
	memset(c.e2a, 0xff, (size_t)e->n * sizeof(int));
	memset(c.a2e, 0xff, (size_t)a->n * sizeof(int));
	ret = cmp_obj(&c, 0, 0, "");
	free(c.e2a);
	free(c.a2e);
	return ret;
}
