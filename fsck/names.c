/* SPDX-License-Identifier: MIT */
/*
 * A set of names (the entries of one directory): duplicate detection in
 * pass 2, unique "#INO" names in /lost+found in pass 3.  Open addressing
 * on an FNV-1a hash; names live in one arena, so a directory of a million
 * entries costs two allocations that grow, not a million.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"
#include "grow.h"

static uint32_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

void fsck_nameset_reset(struct fsck_nameset *s)
{
	if (s->slot)
		memset(s->slot, 0, s->cap * sizeof(*s->slot));
	s->n = 0;
	s->alen = 0;
}

void fsck_nameset_free(struct fsck_nameset *s)
{
	free(s->slot);
	free(s->hash);
	free(s->arena);
}

static bool nameset_eq(const struct fsck_nameset *s, uint32_t at, const char *name,
		       uint16_t len)
{
	uint16_t l;

	memcpy(&l, s->arena + at, sizeof(l));
	return l == len && !memcmp(s->arena + at + sizeof(l), name, len);
}

static int nameset_grow(struct fsck_nameset *s)
{
	struct fsck_nameset t = *s;
	size_t cap = s->cap ? s->cap * 2 : 64;

	t.slot = calloc(cap, sizeof(*t.slot));
	t.hash = calloc(cap, sizeof(*t.hash));
	if (!t.slot || !t.hash) {
		free(t.slot);
		free(t.hash);
		return -ENOMEM;
	}
	t.cap = cap;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->slot[i])
			continue;
		for (j = s->hash[i] % cap; t.slot[j]; j = (j + 1) % cap)
			;
		t.slot[j] = s->slot[i];
		t.hash[j] = s->hash[i];
	}
	free(s->slot);
	free(s->hash);
	*s = t;
	return 0;
}

/* Add name; returns 1 if it was already there, 0 if added, -ENOMEM. */
int fsck_nameset_add(struct fsck_nameset *s, const char *name, uint16_t len)
{
	uint32_t h = name_hash(name, len);
	size_t i;

	if ((s->n + 1) * 2 > s->cap && nameset_grow(s))
		return -ENOMEM;
	for (i = h % s->cap; s->slot[i]; i = (i + 1) % s->cap)
		if (s->hash[i] == h && nameset_eq(s, s->slot[i] - 1, name, len))
			return 1;
	/* slot[] holds arena offsets in 32 bits */
	if (s->alen + len + sizeof(len) > UINT32_MAX ||
	    hfs_grow(&s->arena, &s->acap, s->alen + len + sizeof(len), 1))
		return -ENOMEM;
	memcpy(s->arena + s->alen, &len, sizeof(len));
	memcpy(s->arena + s->alen + sizeof(len), name, len);
	s->slot[i] = (uint32_t)s->alen + 1;
	s->hash[i] = h;
	s->alen += len + sizeof(len);
	s->n++;
	return 0;
}
