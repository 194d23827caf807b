/* SPDX-License-Identifier: MIT */
/*
 * Crash-state generator (crashgen.h).
 */
#include "crashgen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "workload.h" /* splitmix64 */

#define WORD 8u
#define CACHELINE 64u

static uint64_t word_mix(uint64_t widx, uint64_t val)
{
	return splitmix64(val ^ splitmix64(widx + 0x5bd1e995ull));
}

static uint64_t load_word(const uint8_t *img, uint64_t widx)
{
	uint64_t v;

	memcpy(&v, img + widx * WORD, WORD);
	return v;
}

uint64_t gen_hash_full(const uint8_t *img, uint64_t size)
{
	uint64_t h = 0;

	for (uint64_t w = 0; w < size / WORD; w++)
		h += word_mix(w, load_word(img, w));
	return h;
}

void gen_init(struct gen *g, const struct trace *t, uint8_t *img,
	      uint64_t size, struct undo_log *undo, bool dry)
{
	memset(g, 0, sizeof(*g));
	g->t = t;
	g->img = img;
	g->size = size;
	g->undo = undo;
	g->dry = dry;
	g->stop = UINT64_MAX;
	if (!dry)
		g->hash = gen_hash_full(img, size);
}

void gen_free(struct gen *g)
{
	free(g->p);
	memset(g, 0, sizeof(*g));
}

uint64_t unit_words(const struct unit *u)
{
	return (u->off + u->len + WORD - 1) / WORD - u->off / WORD;
}

/* Store [off, off+len) of unit u into the image, updating *hash. */
static void put_bytes(struct gen *g, const struct unit *u, uint64_t off,
		      uint64_t len, uint64_t *hash, bool save)
{
	uint64_t w0 = off / WORD, w1 = (off + len + WORD - 1) / WORD;

	if (len == 0)
		return;
	if (save)
		undo_save(g->undo, off, len);
	for (uint64_t w = w0; w < w1; w++)
		*hash -= word_mix(w, load_word(g->img, w));
	if (u->is_set)
		memset(g->img + off, u->fill, len);
	else
		memcpy(g->img + off, u->data + (off - u->off), len);
	for (uint64_t w = w0; w < w1; w++)
		*hash += word_mix(w, load_word(g->img, w));
}

static bool torn_word(const struct spec *s, uint64_t i, uint64_t nw)
{
	switch (s->torn_kind) {
	case TORN_LO: return i < (nw + 1) / 2;
	case TORN_HI: return i >= (nw + 1) / 2;
	default: return splitmix64(s->torn_seed ^ (i * 0x2545f4914f6cdd1dull)) & 1;
	}
}

static void put_torn(struct gen *g, const struct unit *u, const struct spec *s,
		     uint64_t *hash)
{
	uint64_t nw = unit_words(u), first = u->off / WORD;

	for (uint64_t i = 0; i < nw; i++) {
		uint64_t lo = (first + i) * WORD, hi = lo + WORD;

		if (!torn_word(s, i, nw))
			continue;
		if (lo < u->off)
			lo = u->off;
		if (hi > u->off + u->len)
			hi = u->off + u->len;
		put_bytes(g, u, lo, hi - lo, hash, true);
	}
}

uint64_t gen_apply(struct gen *g, const struct spec *s)
{
	uint64_t h = g->hash;

	for (size_t i = 0; i < g->np; i++) {
		const struct unit *u = &g->p[i];

		if (s->torn == (int)i && s->torn_kind != TORN_NONE)
			put_torn(g, u, s, &h);
		else if (s->mask && (s->mask[i / 8] >> (i % 8) & 1))
			put_bytes(g, u, u->off, u->len, &h, true);
	}
	return h;
}

int gen_largest(const struct gen *g, uint64_t *words)
{
	int best = -1;

	*words = 0;
	for (size_t i = 0; i < g->np; i++) {
		if (best < 0 || g->p[i].len > g->p[best].len)
			best = (int)i;
	}
	if (best >= 0)
		*words = unit_words(&g->p[best]);
	return best;
}

/* ------------------------------------------------------ pending list */

static void push(struct gen *g, const struct unit *u)
{
	if (g->np == g->pcap &&
	    hfs_grow(&g->p, &g->pcap, g->np + 1, sizeof(*g->p)))
		abort();
	g->p[g->np++] = *u;
}

/* The part of u in [lo, hi) (caller checks the overlap). */
static struct unit piece(const struct unit *u, uint64_t lo, uint64_t hi)
{
	struct unit v = *u;

	if (lo < u->off)
		lo = u->off;
	if (hi > u->off + u->len)
		hi = u->off + u->len;
	v.off = lo;
	v.len = (uint32_t)(hi - lo);
	if (!u->is_set)
		v.data = u->data + (lo - u->off);
	return v;
}

/*
 * Rebuild the pending list, splitting every unflushed unit among the
 * first upto that overlaps [lo, hi): the pieces outside stay as they
 * were; the piece inside is dropped (drop_inside: a newer guaranteed
 * store replaced those bytes) or marked flushed (a flush covered it).
 */
static void split_range(struct gen *g, size_t upto, uint64_t lo, uint64_t hi,
			bool drop_inside)
{
	struct unit *old = g->p;
	size_t n = g->np;

	g->p = NULL;
	g->np = g->pcap = 0;
	for (size_t i = 0; i < n; i++) {
		struct unit *u = &old[i];
		uint64_t s = u->off, e = u->off + u->len;

		if (i >= upto || u->flushed || e <= lo || s >= hi) {
			push(g, u);
			continue;
		}
		if (s < lo) {
			struct unit v = piece(u, s, lo);

			push(g, &v);
		}
		if (!drop_inside) {
			struct unit v = piece(u, lo, hi);

			v.flushed = true;
			push(g, &v);
		}
		if (e > hi) {
			struct unit v = piece(u, hi, e);

			push(g, &v);
		}
	}
	free(old);
}

static void on_flush(struct gen *g, const struct tr_ev *e)
{
	uint64_t lo = e->off / CACHELINE * CACHELINE;
	uint64_t hi = (e->off + e->len + CACHELINE - 1) / CACHELINE * CACHELINE;

	split_range(g, g->np, lo, hi, false);
}

/* Drain: flushed units become part of the guaranteed image, oldest
 * first. */
static void on_drain(struct gen *g)
{
	for (;;) {
		size_t i = 0;
		struct unit u;

		while (i < g->np && !g->p[i].flushed)
			i++;
		if (i == g->np)
			return;
		u = g->p[i];
		if (!g->dry)
			put_bytes(g, &u, u.off, u.len, &g->hash, false);
		memmove(&g->p[i], &g->p[i + 1], (g->np - i - 1) * sizeof(*g->p));
		g->np--;
		/* older unflushed stores can no longer show through u */
		split_range(g, i, u.off, u.off + u.len, true);
	}
}

int gen_walk(struct gen *g, gen_epoch_fn cb, void *ctx)
{
	const struct trace *t = g->t;
	uint64_t epoch = 0;
	int ret;

	for (size_t i = 0; i < t->nev && epoch <= g->stop; i++) {
		const struct tr_ev *e = &t->ev[i];
		struct unit u;

		switch (e->kind) {
		case TR_STORE:
			u.off = e->off;
			u.len = e->len;
			u.flushed = e->flushed;
			u.is_set = e->is_set;
			u.fill = e->fill;
			u.data = trace_data(t, e);
			u.ev = (uint32_t)i;
			push(g, &u);
			break;
		case TR_FLUSH:
			on_flush(g, e);
			break;
		case TR_DRAIN:
			if ((ret = cb(ctx, g, epoch)))
				return ret;
			on_drain(g);
			epoch++;
			break;
		}
	}
	if (epoch <= g->stop)
		return cb(ctx, g, epoch);
	return 0;
}

/* ------------------------------------------------------- candidates */

uint64_t gen_cand_hash(uint64_t seed, uint64_t epoch, uint64_t j)
{
	return splitmix64(splitmix64(seed * 0x100000001b3ull ^ epoch) ^ j);
}

static uint64_t nprefix_of(size_t n, unsigned K)
{
	return n - 1 > 2 * (uint64_t)K ? 2 * (uint64_t)K : n - 1;
}

uint64_t gen_cand_count(const struct gen *g, unsigned K, unsigned R)
{
	size_t n = g->np;
	uint64_t c, words;

	if (n == 0)
		return 1;
	if (n <= K)
		c = (1ull << n) - 1;
	else
		c = 1 + nprefix_of(n, K) + R;
	gen_largest(g, &words);
	if (words >= 2)
		c += n == 1 ? 3 : 6;
	return c;
}

static void set_bit(uint8_t *m, size_t i)
{
	m[i / 8] |= (uint8_t)(1u << (i % 8));
}

void gen_cand_build(const struct gen *g, uint64_t seed, uint64_t epoch,
		    uint64_t j, unsigned K, unsigned R, struct spec *s,
		    struct maskbuf *mb)
{
	size_t n = g->np, need = n / 8 + 1;
	uint64_t words, base;
	int big = gen_largest(g, &words);
	uint8_t *m;

	if (need > mb->cap) {
		mb->buf = realloc(mb->buf, need);
		if (!mb->buf)
			abort();
		mb->cap = need;
	}
	m = mb->buf;
	memset(m, 0, need);
	s->mask = m;
	s->torn = -1;
	s->torn_kind = TORN_NONE;
	s->torn_seed = 0;
	if (j == 0 || n == 0)
		return;
	if (n <= K) {
		base = (1ull << n) - 1;
		if (j < base) {
			for (size_t i = 0; i < n; i++)
				if (j >> i & 1)
					set_bit(m, i);
			return;
		}
	} else {
		uint64_t np = nprefix_of(n, K);

		base = 1 + np + R;
		if (j <= np) {
			/* the first k units, k spread over [1, n-1] */
			uint64_t k = np == n - 1 ? j
				: 1 + (j - 1) * (n - 2) / (np > 1 ? np - 1 : 1);

			for (size_t i = 0; i < k; i++)
				set_bit(m, i);
			return;
		}
		if (j < base) {
			uint64_t h = 0;

			for (size_t i = 0; i < n; i++) {
				if (i % 64 == 0)
					h = splitmix64(gen_cand_hash(seed, epoch, j) + i);
				if (h >> (i % 64) & 1)
					set_bit(m, i);
			}
			return;
		}
	}
	j -= base;
	s->torn = big;
	s->torn_kind = TORN_LO + (int)(j % 3);
	if (s->torn_kind == TORN_RAND)
		s->torn_seed = gen_cand_hash(seed, epoch, 0x746f726eull) | 1;
	if (j >= 3)
		for (size_t i = 0; i < n; i++)
			set_bit(m, i);
}

/* ------------------------------------------------------------ specs */

void spec_format(const struct spec *s, size_t nunits, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t ndig = nunits ? (nunits + 3) / 4 : 1, k = 0;

	for (size_t d = ndig; d-- > 0 && k + 1 < len;) {
		unsigned v = 0;

		for (unsigned b = 0; b < 4; b++) {
			size_t i = d * 4 + b;

			if (i < nunits && s->mask && (s->mask[i / 8] >> (i % 8) & 1))
				v |= 1u << b;
		}
		buf[k++] = hex[v];
	}
	buf[k] = 0;
	if (s->torn >= 0 && s->torn_kind != TORN_NONE) {
		if (s->torn_kind == TORN_RAND)
			snprintf(buf + k, len - k, "~%d.r%llx", s->torn,
				 (unsigned long long)s->torn_seed);
		else
			snprintf(buf + k, len - k, "~%d.%s", s->torn,
				 s->torn_kind == TORN_LO ? "lo" : "hi");
	}
}

int spec_parse(const char *text, size_t nunits, struct spec *s,
	       uint8_t **maskbuf)
{
	const char *tilde = strchr(text, '~');
	size_t ndig = tilde ? (size_t)(tilde - text) : strlen(text);
	uint8_t *m = calloc(nunits / 8 + 1, 1);

	if (!m)
		abort();
	memset(s, 0, sizeof(*s));
	s->torn = -1;
	for (size_t d = 0; d < ndig; d++) {
		char c = (char)tolower((unsigned char)text[ndig - 1 - d]);
		unsigned v;

		if (!isxdigit((unsigned char)c))
			goto bad;
		v = (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		for (unsigned b = 0; b < 4; b++) {
			size_t i = d * 4 + b;

			if (!(v >> b & 1))
				continue;
			if (i >= nunits)
				goto bad;
			m[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	if (tilde) {
		char *end;
		long u = strtol(tilde + 1, &end, 10);

		if (*end != '.' || u < 0 || (size_t)u >= nunits)
			goto bad;
		s->torn = (int)u;
		if (!strcmp(end + 1, "lo"))
			s->torn_kind = TORN_LO;
		else if (!strcmp(end + 1, "hi"))
			s->torn_kind = TORN_HI;
		else if (end[1] == 'r' && end[2]) {
			s->torn_kind = TORN_RAND;
			s->torn_seed = strtoull(end + 2, &end, 16);
			if (*end)
				goto bad;
		} else {
			goto bad;
		}
	}
	s->mask = m;
	*maskbuf = m;
	return 0;
bad:
	free(m);
	return -1;
}
