/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl drill --svg FILE: the drill as a timeline for a postmortem,
 * a self-contained SVG (no scripts, no external resources, every text
 * escaped), written by hand.
 *
 *   title   kind, clients x leases, writers, deadline, result
 *   axis    milliseconds from the injection (CLOCK_MONOTONIC, as every
 *           time the drill records)
 *   lanes   the daemon: its phases as bars (the durations it reports,
 *           laid end to end from the injection: the daemon does not say
 *           when it began), then the unmount as the drill saw it; one
 *           lane per client: how long it held its mappings, and its
 *           events (notice, released, revoke received (libholdfs ACKs
 *           when the handler returns), SIGBUS, killed); one lane per
 *           writer: its first error
 *   markers the injection, the offline report, the unmount call, the
 *           daemon's exit
 *
 * The file is opened before the drill runs, so an unwritable path is
 * refused up front; it must not be on the drilled filesystem (an open
 * file there would keep the unmount busy, and a whole-device drill
 * loses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drill.h"
#include "holdfsctl.h"
#include "json_print.h"

#define SVG_W 1000
#define SVG_X0 170.0      /* the plot, left and right */
#define SVG_X1 900.0
#define SVG_TOP 86        /* the first lane */
#define SVG_LANE 26
#define SVG_MAXPH 16      /* daemon phases drawn */

static const char *const svg_palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
	"#76b7b2", "#edc948", "#9c755f", "#e15759",
};

/* ------------------------------------------------------------- open */

static int svg_refuse(struct drill *d, const char *why)
{
	fprintf(stderr, "%s: --svg %s: %s\n", DPROG, d->svg, why);
	drill_svg_discard(d);
	return EXIT_USAGE;
}

int drill_svg_open(struct drill *d)
{
	struct stat fs, ms;
	int fd;

	if (!d->svg)
		return 0;
	fd = open(d->svg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	d->svg_created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(d->svg, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return svg_refuse(d, strerror(errno));
	d->svgf = fdopen(fd, "w");
	if (!d->svgf) {
		close(fd);
		return svg_refuse(d, strerror(errno));
	}
	if (fstat(fd, &fs) == 0 && !S_ISREG(fs.st_mode))
		return svg_refuse(d, "not a regular file");
	if (stat(d->mnt, &ms) == 0 && fs.st_dev == ms.st_dev)
		return svg_refuse(d, "is on the drilled filesystem: put the "
				  "timeline elsewhere");
	return 0;
}

void drill_svg_discard(struct drill *d)
{
	if (d->svgf)
		fclose(d->svgf);
	d->svgf = NULL;
	if (d->svg_created)
		unlink(d->svg);
	d->svg_created = false;
}

/* ----------------------------------------------------------- drawing */

struct svg {
	FILE *f;
	const struct drill *d;
	double tmax;              /* ms at the right edge */
	int y;                    /* the next lane's top */
};

/* The length of the valid UTF-8 sequence (2 to 4 bytes, no overlong
 * form, no surrogate, at most U+10FFFF) at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	uint32_t c = s[0] & (0x7f >> n);

	if (!n || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
	    || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* s as XML character data: &, <, >, " and ' escaped, control characters
 * dropped, bytes that are not UTF-8 (a path may hold any) as '?'. */
static void esc(FILE *f, const char *s)
{
	static const char *const ent[128] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;",
		['"'] = "&quot;", ['\''] = "&apos;",
	};
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		size_t n = *p < 0x80 ? 1 : utf8_len(p);

		if (*p < 0x80 && ent[*p])
			fputs(ent[*p], f);
		else if (*p < 0x80 && *p >= 0x20)
			fputc(*p, f);
		else if (n > 1)
			fwrite(p, 1, n, f);
		else if (*p >= 0x80)
			fputc('?', f);
		p += n ? n : 1;
	}
}

static void text(struct svg *g, double x, double y, const char *attrs,
		 const char *s)
{
	fprintf(g->f, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
	esc(g->f, s);
	fputs("</text>\n", g->f);
}

/* A label next to x: on its right, or on its left near the right edge. */
static void label(struct svg *g, double x, double y, const char *s)
{
	bool left = x > SVG_X1 - 150;

	text(g, left ? x - 8 : x + 8, y, left ? "font-size=\"11\" "
	     "text-anchor=\"end\"" : "font-size=\"11\"", s);
}

/* A tooltip for the element just opened. */
static void title(struct svg *g, const char *s)
{
	fputs("<title>", g->f);
	esc(g->f, s);
	fputs("</title>", g->f);
}

/* ms from the injection of monotonic time t (0: never: -1). */
static double rel(const struct svg *g, uint64_t t)
{
	if (!t || !g->d->t_inj)
		return -1;
	return t > g->d->t_inj ? ms(g->d->t_inj, t) : 0;
}

static double xof(const struct svg *g, double t)
{
	if (t > g->tmax)
		t = g->tmax;
	return SVG_X0 + (t < 0 ? 0 : t) / g->tmax * (SVG_X1 - SVG_X0);
}

/* ------------------------------------------------------- the daemon */

struct phase {
	const char *name;
	double ms;
};

/* The daemon's phases in order: its status (failure drills) or its
 * offline report; how many. */
static size_t phases(const struct drill *d, struct phase *ph)
{
	static const char *const off[] = {
		"refuse", "notify", "wait_clients", "revoke", "drain", "health",
	};
	json_object *a = jget(d->st, "phases");
	json_object *o = jget(d->offrep, "phases_ms");
	size_t n = 0;

	for (size_t i = 0; o && i < sizeof(off) / sizeof(off[0]); i++)
		ph[n++] = (struct phase){ off[i], jdouble(o, off[i]) };
	for (size_t i = 0; !o && i < jlen(a) && n < SVG_MAXPH; i++) {
		json_object *p = json_object_array_get_idx(a, i);

		ph[n++] = (struct phase){ jstr(p, "phase"), jdouble(p, "ms") };
	}
	return n;
}

static void bar(struct svg *g, double t0, double t1, const char *color,
		const char *tip)
{
	double x0 = xof(g, t0), x1 = xof(g, t1);

	fprintf(g->f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		"fill=\"%s\">", x0, g->y + 5, x1 - x0 < 1 ? 1 : x1 - x0,
		SVG_LANE - 10, color);
	title(g, tip);
	fputs("</rect>\n", g->f);
}

/* A lane: its band, and its name (with the pid as a tooltip). */
static void lane_start(struct svg *g, const char *id, const char *name,
		       pid_t pid)
{
	char tip[32];

	fprintf(g->f, "<g class=\"lane\" id=\"lane-%s\">\n", id);
	fprintf(g->f, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"%s\"/>\n", g->y, SVG_W, SVG_LANE,
		(g->y - SVG_TOP) / SVG_LANE % 2 ? "#f4f4f4" : "#ffffff");
	snprintf(tip, sizeof(tip), "pid %d", (int)pid);
	fprintf(g->f, "<g>");
	title(g, tip);
	text(g, 8, g->y + 17, "font-size=\"12\"", name);
	fputs("</g>\n", g->f);
}

static void lane_end(struct svg *g)
{
	fputs("</g>\n", g->f);
	g->y += SVG_LANE;
}

static void daemon_lane(struct svg *g, const struct phase *ph, size_t n)
{
	const struct drill *d = g->d;
	char tip[160];
	double t = 0;

	lane_start(g, "daemon", "daemon", d->dpid);
	for (size_t i = 0; i < n; i++) {
		snprintf(tip, sizeof(tip), "%s: %.3f ms", ph[i].name, ph[i].ms);
		bar(g, t, t + ph[i].ms, svg_palette[i % 8], tip);
		t += ph[i].ms;
	}
	if (d->t_gone) {
		uint64_t t0 = d->offline ? d->t_reply : d->t_umount;

		snprintf(tip, sizeof(tip), "%s: %.3f ms", d->offline
			 ? "unmount and exit" : "unmount",
			 ms(t0, d->t_gone));
		bar(g, rel(g, t0), rel(g, d->t_gone), "#555555", tip);
	}
	lane_end(g);
}

/* ---------------------------------------------------- clients, writers */

/* One event mark at t (ms, < 0: none): a shape of its kind. */
static void mark(struct svg *g, double t, char kind, const char *tip)
{
	double x = xof(g, t), y = g->y + SVG_LANE / 2.0;

	if (t < 0)
		return;
	fputs("<g class=\"event\">", g->f);
	title(g, tip);
	switch (kind) {
	case 'N':   /* notice */
		fprintf(g->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" "
			"fill=\"#4e79a7\"/>", x, y);
		break;
	case 'R':   /* released */
		fprintf(g->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" "
			"height=\"9\" fill=\"#59a14f\"/>", x - 4.5, y - 4.5);
		break;
	case 'V':   /* revoke received */
		fprintf(g->f, "<path d=\"M%.1f %.1fl5 9h-10z\" "
			"fill=\"#f28e2b\"/>", x, y - 5);
		break;
	case 'B':   /* SIGBUS */
		fprintf(g->f, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" "
			"fill=\"#b07aa1\"/>", x, y - 5);
		break;
	default:    /* 'K' killed, 'E' an error */
		fprintf(g->f, "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" "
			"stroke=\"#e15759\" stroke-width=\"2.5\"/>", x - 5,
			y - 5);
	}
	fputs("</g>\n", g->f);
}

static void tip_of(char *b, size_t n, const char *what, double t)
{
	snprintf(b, n, "%s at %.3f ms", what, t);
}

static void client_lane(struct svg *g, unsigned i)
{
	const struct worker *w = &g->d->wk[i];
	uint64_t went = drill_client_lost((struct drill *)g->d,
					  (struct worker *)w);
	char id[32], name[64], tip[96];

	snprintf(id, sizeof(id), "client-%u", i);
	snprintf(name, sizeof(name), "client %u%s", i,
		 w->stubborn ? " (stubborn)" : "");
	lane_start(g, id, name, w->pid);
	fprintf(g->f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		"stroke=\"#bbbbbb\" stroke-width=\"3\"/>\n", SVG_X0,
		g->y + SVG_LANE / 2, xof(g, went ? rel(g, went) : g->tmax),
		g->y + SVG_LANE / 2);
	tip_of(tip, sizeof(tip), "OFFLINE_NOTICE received", rel(g, w->t_notice));
	mark(g, rel(g, w->t_notice), 'N', tip);
	tip_of(tip, sizeof(tip), "every lease released", rel(g, w->t_released));
	mark(g, rel(g, w->t_released), 'R', tip);
	tip_of(tip, sizeof(tip), w->stubborn ? "REVOKE received, no ACK"
	       : "REVOKE received, ACK sent", rel(g, w->t_revoked));
	mark(g, rel(g, w->t_revoked), 'V', tip);
	tip_of(tip, sizeof(tip), "SIGBUS", rel(g, w->t_sigbus));
	mark(g, rel(g, w->t_sigbus), 'B', tip);
	tip_of(tip, sizeof(tip), "killed (SIGKILL)", rel(g, w->t_exit));
	mark(g, w->killed ? rel(g, w->t_exit) : -1, 'K', tip);
	lane_end(g);
}

static void writer_lane(struct svg *g, unsigned i)
{
	const struct worker *w = &g->d->wk[i];
	char id[32], name[64], tip[128], what[80];

	snprintf(id, sizeof(id), "writer-%u", i - g->d->n);
	snprintf(name, sizeof(name), "writer %u", i - g->d->n);
	lane_start(g, id, name, w->pid);
	snprintf(what, sizeof(what), "first error: %s", strerror(w->err));
	tip_of(tip, sizeof(tip), what, rel(g, w->t_err));
	mark(g, w->t_err ? rel(g, w->t_err) : -1, 'E', tip);
	if (w->t_err)
		label(g, xof(g, rel(g, w->t_err)), g->y + 17,
		      strerror(w->err));
	lane_end(g);
}

/* -------------------------------------------------- frame, markers */

/* A tick step of 1, 2 or 5 x 10^n ms giving at most 10 ticks. */
static double tick_step(double tmax)
{
	static const double m[] = { 1, 2, 5 };

	for (double e = 1e-3;; e *= 10)
		for (size_t i = 0; i < 3; i++)
			if (e * m[i] * 10 >= tmax)
				return e * m[i];
}

static void axis(struct svg *g, int bottom)
{
	double step = tick_step(g->tmax);
	char b[32];

	fprintf(g->f, "<g class=\"axis\" font-size=\"11\" fill=\"#333333\">\n");
	for (double t = 0; t <= g->tmax * 1.0001; t += step) {
		fprintf(g->f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#dddddd\"/>\n", xof(g, t), SVG_TOP - 6,
			xof(g, t), bottom);
		snprintf(b, sizeof(b), "%g", t);
		text(g, xof(g, t), SVG_TOP - 10, "text-anchor=\"middle\"", b);
	}
	text(g, SVG_X0 - 10, SVG_TOP - 10, "text-anchor=\"end\"",
	     "ms after the injection");
	fputs("</g>\n", g->f);
}

static void marker(struct svg *g, uint64_t t, const char *name, int bottom,
		   int row)
{
	double x = xof(g, rel(g, t));

	if (!t || !g->d->t_inj)
		return;
	fprintf(g->f, "<g class=\"marker\"><line x1=\"%.1f\" y1=\"%d\" "
		"x2=\"%.1f\" y2=\"%d\" stroke=\"#222222\" "
		"stroke-dasharray=\"4 3\"/>", x, SVG_TOP - 4, x, bottom);
	label(g, x - 5, bottom + 12 + 12 * row, name);
	fputs("</g>\n", g->f);
}

static void markers(struct svg *g, int bottom)
{
	const struct drill *d = g->d;

	marker(g, d->t_inj, d->offline ? "offline request"
	       : d->poison ? "injection (poison touched)" : "injection",
	       bottom, 0);
	marker(g, d->t_reply, "offline report", bottom, 1);
	marker(g, d->t_umount, "unmount", bottom, 1);
	marker(g, d->t_gone, "daemon exit", bottom, 2);
}

static void header(struct svg *g, int height)
{
	const struct drill *d = g->d;
	char b[512];

	fprintf(g->f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">"
		"\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
		SVG_W, height, SVG_W, height);
	snprintf(b, sizeof(b), "holdfs drill %s: %u clients x %u leases, %u "
		 "writers: %s", drill_kind(d), d->n, d->k, d->w,
		 d->nfail ? "FAIL" : "PASS");
	if (d->nfail)
		snprintf(b + strlen(b), sizeof(b) - strlen(b), " (%u check%s "
			 "failed)", d->nfail, d->nfail == 1 ? "" : "s");
	text(g, 10, 24, "font-size=\"16\" font-weight=\"bold\"", b);
	snprintf(b, sizeof(b), "%s on %s, deadline %u ms%s", d->region,
		 d->mnt, d->deadline_ms, d->t_inj ? ""
		 : " (the drill stopped before the injection)");
	text(g, 10, 44, "font-size=\"12\"", b);
}

/* The phases' colours and the event shapes. */
static void legend(struct svg *g, const struct phase *ph, size_t n, int y)
{
	static const char *const ev = "event marks: circle notice, square "
		"released, triangle revoke received, diamond SIGBUS, cross "
		"killed / first writer error; grey line: mappings held";
	char b[96];

	for (size_t i = 0; i < n; i++) {
		double x = 10 + (double)(i % 4) * 235;
		int yy = y + (int)(i / 4) * 18;

		fprintf(g->f, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" "
			"height=\"12\" fill=\"%s\"/>\n", x, yy - 10,
			svg_palette[i % 8]);
		snprintf(b, sizeof(b), "%s %.3f ms", ph[i].name, ph[i].ms);
		text(g, x + 16, yy, "class=\"phase\" font-size=\"11\"", b);
	}
	text(g, 10, y + (int)((n + 3) / 4) * 18 + 4, "font-size=\"11\"", ev);
}

/* The right edge: the last time anything happened, and a margin. */
static double span(const struct drill *d, const struct phase *ph, size_t n)
{
	struct svg g = { .d = d };
	double t = 0, m;

	for (size_t i = 0; i < n; i++)
		t += ph[i].ms;
	m = rel(&g, d->t_gone) > t ? rel(&g, d->t_gone) : t;
	for (unsigned i = 0; i < nworkers(d); i++) {
		const struct worker *w = &d->wk[i];
		uint64_t ts[] = { w->t_notice, w->t_released, w->t_revoked,
				  w->t_sigbus, w->t_err,
				  w->killed ? w->t_exit : 0 };

		for (size_t j = 0; j < sizeof(ts) / sizeof(ts[0]); j++)
			if (rel(&g, ts[j]) > m)
				m = rel(&g, ts[j]);
	}
	return m > 0.001 ? m * 1.05 : 1.0;
}

void drill_svg_write(struct drill *d)
{
	struct phase ph[SVG_MAXPH];
	size_t n = phases(d, ph);
	int bottom = SVG_TOP + SVG_LANE * (int)(1 + nworkers(d));
	int height = bottom + 56 + (int)((n + 3) / 4) * 18 + 16;
	struct svg g = { d->svgf, d, span(d, ph, n), SVG_TOP };
	bool ok;

	if (!d->svgf)
		return;
	header(&g, height);
	axis(&g, bottom);
	daemon_lane(&g, ph, n);
	for (unsigned i = 0; i < nworkers(d); i++)
		(i < d->n ? client_lane : writer_lane)(&g, i);
	markers(&g, bottom);
	legend(&g, ph, n, bottom + 56);
	fputs("</svg>\n", d->svgf);
	ok = fflush(d->svgf) == 0 && !ferror(d->svgf);
	ok = fclose(d->svgf) == 0 && ok;
	d->svgf = NULL;
	d->svg_created = false;
	drill_check(d, "svg", ok, "timeline %s %s", ok ? "written to"
		    : "COULD NOT be written to", d->svg);
}
