/* SPDX-License-Identifier: MIT */
/*
 * Which control socket serves the file open on fd?  (docs/lease-protocol.md,
 * "socket discovery")
 *
 * Candidates, in order:
 *   1. $HOLDFS_CTL_SOCKET, if set (tests, unusual setups): only that one;
 *   2. <dir>/dev/<major>:<minor> of fstat(fd).st_dev: the symlink the daemon
 *      creates to its socket (FUSE reports f_fsid == 0, so the device number
 *      is what identifies the mount);
 *   3. statfs(fd).f_fsid, should a kernel ever forward it (the first 8 bytes
 *      of the filesystem UUID, proto.h): <dir>/<those 16 hex>*.sock.
 * <dir> is HFS_CTL_DIR, or $HOLDFS_CTL_DIR (tests).  The daemon re-checks
 * st_dev of every leased fd (ERROR EXDEV), so a stale name cannot grant a
 * lease on the wrong filesystem; the caller then tries the next candidate.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "client_i.h"

#define SOCK_SUFFIX ".sock"

static int add_path(char (*paths)[108], int n, int max, const char *dir,
		    const char *name)
{
	if (n >= max)
		return n;
	if ((size_t)snprintf(paths[n], sizeof(paths[n]), "%s/%s", dir, name)
	    >= sizeof(paths[n]))
		return n;
	return n + 1;
}

static int scan_dir(const char *dir, const char *prefix, char (*paths)[108],
		    int max)
{
	size_t plen = strlen(prefix), slen = strlen(SOCK_SUFFIX);
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= slen || strcmp(de->d_name + len - slen, SOCK_SUFFIX))
			continue;
		if (strncasecmp(de->d_name, prefix, plen))
			continue;
		n = add_path(paths, n, max, dir, de->d_name);
	}
	closedir(d);
	return n;
}

int hfc_discover(int fd, char (*paths)[108], int max)
{
	const char *env = getenv("HOLDFS_CTL_SOCKET");
	const char *dir = getenv("HOLDFS_CTL_DIR");
	char prefix[17] = "", name[64];
	struct statfs sf;
	struct stat st;
	int n = 0;

	if (env && *env) {
		if (max < 1 || strlen(env) >= sizeof(paths[0]))
			return 0;
		strcpy(paths[0], env);
		return 1;
	}
	if (!dir || !*dir)
		dir = HFS_CTL_DIR;
	if (fstat(fd, &st) == 0) {
		snprintf(name, sizeof(name), "dev/%u:%u", major(st.st_dev),
			 minor(st.st_dev));
		n = add_path(paths, n, max, dir, name);
		if (n && access(paths[n - 1], F_OK))
			n--;	/* no such daemon: skip the connect */
	}
	if (fstatfs(fd, &sf) == 0) {
		unsigned char b[8];
		int i;

		memcpy(b, &sf.f_fsid, sizeof(b));
		for (i = 0; i < 8 && !b[i]; i++)
			;
		if (i < 8)
			for (i = 0; i < 8; i++)
				snprintf(prefix + 2 * i, 3, "%02x", b[i]);
	}
	if (prefix[0])
		n += scan_dir(dir, prefix, paths + n, max - n);
	return n;
}
