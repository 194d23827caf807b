/* SPDX-License-Identifier: MIT */
/*
 * datacheck's state and the helpers its three files share: datacheck.c
 * (the model, mappings, verification, options; its header comment says
 * what is checked), dc_ops.c (the operations) and dc_log.c (the shared
 * O_APPEND log of --part runs and its checker).
 */
#ifndef DATACHECK_H
#define DATACHECK_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum map_mode { MAP_NONE, MAP_MMAP, MAP_LIBHOLDFS };

enum op_kind {
	OP_READ, OP_WRITE, OP_READV, OP_WRITEV, OP_APPEND, OP_MAPREAD,
	OP_MAPWRITE, OP_TRUNCATE, OP_PUNCH, OP_ZERO, OP_FALLOC, OP_COPY,
	OP_EOFSTORE, OP_REOPEN, OP_FSYNC, OP_LOGAPPEND,
	OP_COUNT
};

extern const char *const op_names[OP_COUNT];

#define HISTORY 64

struct logged {
	uint64_t n;
	int kind;
	uint64_t a, b, c;   /* offsets and lengths, per kind */
	uint64_t size;      /* model size after the operation */
};

struct dc {
	const char *path;
	int fd;                  /* O_RDWR */
	int afd;                 /* O_WRONLY | O_APPEND, for OP_APPEND */
	uint64_t seed, rng;
	uint64_t ops, opn;
	uint64_t maxsize, maxlen;
	enum map_mode map;
	bool dax, direct;
	bool excluded[OP_COUNT];
	unsigned verify_every;
	bool verbose;
	long page, unit;         /* mapping granularity */
	/* --part I/N: this process owns [lo, hi) = [I, I+1) * maxsize of a
	 * file of N * maxsize bytes whose size never changes; otherwise
	 * [lo, hi) = [0, maxsize) */
	unsigned part, parts;
	uint64_t lo, hi;
	const char *log;         /* --log: the shared append log, or NULL */
	int logfd;
	uint32_t logseq;         /* records appended so far */
	uint8_t *model, *buf;    /* model: content, then the shadow */
	uint64_t size, cap;      /* cap: bytes of model (file size + unit) */
	struct logged hist[HISTORY];
	uint64_t count[OP_COUNT], skipped;
};

/* datacheck.c */
uint64_t below(struct dc *d, uint64_t n);
void fill(uint8_t *p, uint64_t off, uint64_t len, uint64_t opn);
void log_op(struct dc *d, int kind, uint64_t a, uint64_t b, uint64_t c);
void replay_hint(const struct dc *d);
void die(const struct dc *d, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void compare(const struct dc *d, const uint8_t *got, uint64_t off,
	     uint64_t len, const char *what);
void set_size(struct dc *d, uint64_t size);
uint64_t fnv64(uint64_t h, const void *p, size_t n);
#define FNV64_INIT 0xcbf29ce484222325ull

struct map {
	uint8_t *base;           /* file offset off0 */
	uint64_t off0, len;
	struct holdfs_mapping *m;
};
void map_range(struct dc *d, uint64_t off0, uint64_t len, bool rw,
	       struct map *mp);
void map_persist(struct dc *d, struct map *mp, uint64_t off, uint64_t len);
void unmap_range(struct dc *d, struct map *mp);
void check_eof_tail(struct dc *d, const struct map *mp);
void map_bounds(const struct dc *d, uint64_t off, uint64_t len,
		uint64_t *off0, uint64_t *mlen);

/* A SIGBUS during a mapped access (bus_what set) jumps back to main,
 * which reports it; anywhere else it is a crash of the checker. */
extern sigjmp_buf bus_jb;
extern const char *volatile bus_what;

#define GUARDED(what, body)                                                 \
	do {                                                                \
		bus_what = (what);                                          \
		body;                                                       \
		bus_what = NULL;                                            \
	} while (0)

/* dc_ops.c: one random operation (op number d->opn) */
void step(struct dc *d);

/* dc_log.c */
void op_logappend(struct dc *d);
/* The writer's last record: END, with the hash of its part (model). */
void log_end(struct dc *d);
/* --check-log: 0 when every record of every writer is in log exactly
 * once, in order and intact, and every part of data hashes as its
 * writer's END record says; 1 (with the reason on stderr) otherwise. */
int check_log(const char *log, const char *data, unsigned parts,
	      uint64_t partsize);

#endif
