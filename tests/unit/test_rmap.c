/* SPDX-License-Identifier: MIT */
/*
 * The reverse map against a brute-force model: random adds, removes and
 * queries over a small block space, checking every answer block by block.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmap_i.h"

#define SPACE 2048
#define ROUNDS 20000

struct owner {
	uint64_t ino, lblk; /* ino 0 = free */
	int kind;
};

static struct owner model[SPACE];
static int failures;

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",      \
				__FILE__, __LINE__, #c);                  \
			if (++failures > 20)                              \
				exit(1);                                  \
		}                                                         \
	} while (0)

struct seen {
	uint64_t next; /* blocks must come back in order, exactly once */
	uint64_t end;
};

static int check_piece(void *ctx, const struct hfs_rmap_piece *p)
{
	struct seen *s = ctx;

	CHECK(p->len > 0);
	CHECK(p->pblk >= s->next && p->pblk + p->len <= s->end);
	for (uint64_t b = s->next; b < p->pblk; b++)
		CHECK(model[b].ino == 0); /* a gap the map skipped is free */
	for (uint64_t i = 0; i < p->len; i++) {
		const struct owner *o = &model[p->pblk + i];

		CHECK(o->ino == p->ino && o->kind == (int)p->kind);
		if (p->kind == HFS_RMAP_DATA)
			CHECK(o->lblk == p->lblk + i);
	}
	s->next = p->pblk + p->len;
	return 0;
}

static void query(struct hfs_rmap *rm, uint64_t s, uint64_t len)
{
	struct seen st = { s, s + len };

	CHECK(hfs_rmap_query(rm, s, len, check_piece, &st) == 0);
	for (uint64_t b = st.next; b < s + len; b++)
		CHECK(model[b].ino == 0);
}

static void add(struct hfs_rmap *rm, uint64_t s, uint64_t len, uint64_t ino)
{
	struct hfs_rmap_piece p = { s, len, ino, s * 3, HFS_RMAP_DATA };
	bool free_ = true;
	int ret;

	if (ino % 5 == 0)
		p.kind = HFS_RMAP_CHAIN;
	for (uint64_t b = s; b < s + len; b++)
		if (model[b].ino)
			free_ = false;
	ret = hfs_rmap_add(rm, &p);
	CHECK(ret == (free_ ? 0 : -EEXIST));
	if (ret)
		return;
	for (uint64_t i = 0; i < len; i++)
		model[s + i] = (struct owner){ ino, p.lblk + i, (int)p.kind };
}

int main(void)
{
	struct hfs_rmap *rm = hfs_rmap_new();
	uint64_t pieces_hint = 0;

	srand(12345);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t s = (uint64_t)rand() % SPACE;
		uint64_t len = 1 + (uint64_t)rand() % 64;

		if (s + len > SPACE)
			len = SPACE - s;
		switch (rand() % 3) {
		case 0:
			add(rm, s, len, 1 + (uint64_t)rand() % 50);
			break;
		case 1:
			CHECK(hfs_rmap_remove(rm, s, len) == 0);
			memset(&model[s], 0, len * sizeof(model[0]));
			break;
		default:
			query(rm, s, len);
		}
	}
	query(rm, 0, SPACE);
	pieces_hint = hfs_rmap_count(rm);
	CHECK(hfs_rmap_remove(rm, 0, SPACE) == 0);
	CHECK(hfs_rmap_count(rm) == 0);
	hfs_rmap_free(rm);
	if (failures) {
		fprintf(stderr, "test_rmap: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_rmap: ok (%llu pieces at the end of the random run)\n",
	       (unsigned long long)pieces_hint);
	return 0;
}
