/* SPDX-License-Identifier: MIT */
/*
 * The report: files that lost data, paths, and freeing.
 *
 * Paths are built at the end of the run from the entry pass 2 (or pass 3)
 * recorded for each inode: the name is read back from that entry and the
 * walk goes up through the directories' own entries to the root.  An
 * inode that no entry names has no path (NULL).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsck_i.h"

#define PATH_DEPTH_MAX 4096

int fsck_report_lost(struct fsck *f, uint64_t ino, uint64_t off,
		     uint64_t len, const char *source)
{
	struct hfs_fsck_report *r = f->rep;
	struct hfs_fsck_lost *v;

	for (size_t i = 0; i < r->nlost; i++) {
		if (r->lost[i].ino != ino)
			continue;
		if (!r->lost[i].len && len) {
			r->lost[i].off = off;
			r->lost[i].len = len;
		}
		return 0;
	}
	v = realloc(r->lost, (r->nlost + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->lost = v;
	v[r->nlost++] = (struct hfs_fsck_lost){ .ino = ino, .off = off,
						.len = len, .source = source };
	return 0;
}

/* Prepend "/name" of the entry at doff to the path being built from the
 * end of buf; returns the new start or NULL. */
static char *prepend(struct fsck *f, uint64_t doff, char *buf, char *at)
{
	struct hfs_dentry_disk dd;
	size_t len;

	if (fsck_read(f, doff, &dd, sizeof(dd)) || !dd.d_ino)
		return NULL;
	len = dd.d_name_len <= HFS_NAME_MAX ? dd.d_name_len : HFS_NAME_MAX;
	if ((size_t)(at - buf) < len + 1)
		return NULL;
	at -= len;
	memcpy(at, dd.d_name, len);
	*--at = '/';
	return at;
}

char *fsck_path(struct fsck *f, uint64_t ino)
{
	size_t cap = HFS_PATH_MAX + 1;
	char *buf, *at, *out;
	int depth = 0;

	if (!f->ino || ino == 0 || ino >= f->scan_end)
		return NULL;
	if (ino == HFS_ROOT_INO)
		return strdup("/");
	buf = malloc(cap);
	if (!buf)
		return NULL;
	at = buf + cap - 1;
	*at = '\0';
	while (ino != HFS_ROOT_INO && at && depth++ < PATH_DEPTH_MAX) {
		const struct fsck_ino *t = &f->ino[ino];

		if (!t->dparent || !t->doff || t->dparent >= f->scan_end) {
			at = NULL;
			break;
		}
		at = prepend(f, t->doff, buf, at);
		ino = t->dparent;
	}
	out = at && ino == HFS_ROOT_INO ? strdup(at) : NULL;
	free(buf);
	return out;
}

void fsck_report_fill_paths(struct fsck *f)
{
	struct hfs_fsck_report *r = f->rep;

	for (size_t i = 0; i < r->nproblems; i++)
		if (r->problems[i].ino && !r->problems[i].path &&
		    fsck_live(f, r->problems[i].ino))
			r->problems[i].path = fsck_path(f, r->problems[i].ino);
	for (size_t i = 0; i < r->nlost; i++)
		if (!r->lost[i].path)
			r->lost[i].path = fsck_path(f, r->lost[i].ino);
}

size_t hfs_fsck_report_count(const struct hfs_fsck_report *rep,
			     enum hfs_fsck_code code)
{
	size_t n = 0;

	for (size_t i = 0; i < rep->nproblems; i++)
		n += rep->problems[i].code == code;
	return n;
}

void hfs_fsck_report_free(struct hfs_fsck_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->nproblems; i++) {
		free(rep->problems[i].msg);
		free(rep->problems[i].path);
	}
	for (size_t i = 0; i < rep->nlost; i++)
		free(rep->lost[i].path);
	free(rep->problems);
	free(rep->lost);
	free(rep->health);
	free(rep->region);
	memset(rep, 0, sizeof(*rep));
}
