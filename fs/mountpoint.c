/* SPDX-License-Identifier: MIT */
/*
 * Mount point checks, done before the region is opened so the common
 * mistakes get a plain answer instead of libfuse's generic
 * "bad mount point" or a second, stacked mount:
 *   - the path does not exist, or is not a directory;
 *   - a FUSE daemon died there without unmounting (ENOTCONN);
 *   - a holdfs is already mounted there.
 */
#include "mountpoint.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "daemon.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

bool hfsd_parse_mountinfo(char *line, char **mnt, char **fstype,
			  char **source)
{
	char *save = NULL, *tok;
	int field = 0;

	*mnt = *fstype = *source = NULL;
	for (tok = strtok_r(line, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 4)
			*mnt = tok;
		else if (field > 5 && strcmp(tok, "-") == 0)
			break;
	}
	if (!tok || !*mnt)
		return false;
	*fstype = strtok_r(NULL, " \n", &save);
	*source = strtok_r(NULL, " \n", &save);
	if (!*fstype || !*source)
		return false;
	unescape_octal(*mnt);
	unescape_octal(*source);
	return true;
}

bool hfsd_holdfs_mounted_at(const char *abs, char *src, size_t len)
{
	char *line = NULL, *mnt, *fstype, *source;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false; /* cannot tell; libfuse will still mount */
	while (getline(&line, &cap, f) > 0) {
		if (!hfsd_parse_mountinfo(line, &mnt, &fstype, &source))
			continue;
		if (strcmp(mnt, abs) == 0 && strcmp(fstype, "fuse.holdfs") == 0) {
			snprintf(src, len, "%s", source);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int stat_error(const char *path, int e)
{
	switch (e) {
	case ENOENT:
		hfsd_log(LOG_ERR, "%s: mount point does not exist", path);
		break;
	case ENOTCONN:
		hfsd_log(LOG_ERR, "%s: a FUSE daemon exited without unmounting "
			 "it (transport endpoint is not connected); run "
			 "'fusermount3 -u %s' first", path, path);
		break;
	default:
		hfsd_log(LOG_ERR, "%s: cannot use as mount point: %s", path,
			 strerror(e));
		break;
	}
	return -1;
}

int hfsd_check_mountpoint(const char *path, char **abs)
{
	char src[PATH_MAX];
	unsigned fd;
	struct stat st;
	char end;

	/* mount.fuse3 -o drop_privileges mounts first and passes the
	 * /dev/fuse descriptor as "/dev/fd/N": nothing to check. */
	if (sscanf(path, "/dev/fd/%u%c", &fd, &end) == 1) {
		*abs = strdup(path);
		return *abs ? 0 : -1;
	}
	if (stat(path, &st) < 0)
		return stat_error(path, errno);
	if (!S_ISDIR(st.st_mode)) {
		hfsd_log(LOG_ERR, "%s: mount point is not a directory", path);
		return -1;
	}
	*abs = realpath(path, NULL);
	if (!*abs)
		return stat_error(path, errno);
	if (hfsd_holdfs_mounted_at(*abs, src, sizeof(src))) {
		hfsd_log(LOG_ERR, "%s: already mounted (holdfs from %s); "
			 "unmount it first", path, src);
		free(*abs);
		*abs = NULL;
		return -1;
	}
	return 0;
}

/* st_dev of our mount from /proc/self/mountinfo (the last mount on that
 * path): no FUSE request, so it works before the loop serves. */
int hfsd_mount_dev(const char *mnt, dev_t *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -1;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		unsigned ma, mi;
		char path[4096];

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, path) != 3)
			continue;
		unescape_octal(path);
		if (strcmp(path, mnt) == 0) {
			*dev = makedev(ma, mi);
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
}
