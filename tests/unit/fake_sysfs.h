/* SPDX-License-Identifier: MIT */
/*
 * Fake sysfs trees for unit tests: a temp directory laid out like the
 * parts of /sys that holdfs reads, so device-dax code runs without a
 * device.  Point hfs_region_opts.sysfs_root (or HOLDFS_SYSFS_ROOT) at it.
 *
 *   ROOT/bus/dax/devices/NAME/{size,align,resource,target_node}
 *   ROOT/bus/dax/devices/NAME/driver -> ROOT/bus/dax/drivers/device_dax
 *   ROOT/dev/char/MAJ:MIN            -> ../../bus/dax/devices/NAME
 *
 * Header-only (static inline) so any test can include it without a build
 * change.  Functions return 0 or -errno.
 */
#ifndef HOLDFS_TESTS_FAKE_SYSFS_H
#define HOLDFS_TESTS_FAKE_SYSFS_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fake_devdax {
	uint64_t size;
	uint64_t align;
	uint64_t resource;
	int target_node;
	bool bound;
	unsigned int major, minor; /* dev/char link if major != 0 */
};

/* path = ROOT/rel; buffers are PATH_MAX bytes. */
static inline int fake_sysfs_path(char *path, const char *root, const char *rel)
{
	return snprintf(path, PATH_MAX, "%s/%s", root, rel) >= PATH_MAX
		       ? -ENAMETOOLONG
		       : 0;
}

/* mkdir -p of ROOT/rel. */
static inline int fake_sysfs_mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX];

	if (fake_sysfs_path(path, root, rel))
		return -ENAMETOOLONG;
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

/* Write ROOT/rel with the given contents (a sysfs attribute). */
static inline int fake_sysfs_write(const char *root, const char *rel,
				   const char *val)
{
	char path[PATH_MAX];
	FILE *f;
	int ret;

	if (fake_sysfs_path(path, root, rel))
		return -ENAMETOOLONG;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ret = fputs(val, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

/* Create an empty root under /tmp; root must hold PATH_MAX bytes. */
static inline int fake_sysfs_init(char *root, size_t len)
{
	snprintf(root, len, "/tmp/holdfs-sysfs.XXXXXX");
	if (!mkdtemp(root))
		return -errno;
	return fake_sysfs_mkdirs(root, "bus/dax/drivers/device_dax");
}

static inline int fake_sysfs_set_bound(const char *root, const char *name,
				       bool bound)
{
	char rel[256], link[PATH_MAX], target[PATH_MAX];

	snprintf(rel, sizeof(rel), "bus/dax/devices/%.64s/driver", name);
	if (fake_sysfs_path(link, root, rel) ||
	    fake_sysfs_path(target, root, "bus/dax/drivers/device_dax"))
		return -ENAMETOOLONG;
	if (unlink(link) && errno != ENOENT)
		return -errno;
	return bound && symlink(target, link) ? -errno : 0;
}

/* Write attribute attr of device name. */
static inline int fake_sysfs_attr(const char *root, const char *name,
				  const char *attr, const char *val)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "bus/dax/devices/%.64s/%.64s", name, attr);
	return fake_sysfs_write(root, rel, val);
}

/* ROOT/dev/char/MAJ:MIN -> ../../bus/dax/devices/NAME */
static inline int fake_sysfs_char_link(const char *root, const char *name,
				       unsigned int maj, unsigned int min)
{
	char rel[64], link[PATH_MAX], target[128];
	int ret = fake_sysfs_mkdirs(root, "dev/char");

	snprintf(rel, sizeof(rel), "dev/char/%u:%u", maj, min);
	snprintf(target, sizeof(target), "../../bus/dax/devices/%.64s", name);
	if (!ret && fake_sysfs_path(link, root, rel))
		ret = -ENAMETOOLONG;
	if (!ret && symlink(target, link))
		ret = -errno;
	return ret;
}

static inline int fake_sysfs_add_devdax(const char *root, const char *name,
					const struct fake_devdax *d)
{
	char dir[256], size[32], align[32], res[32], node[16];
	int ret;

	snprintf(dir, sizeof(dir), "bus/dax/devices/%.64s", name);
	snprintf(size, sizeof(size), "%" PRIu64 "\n", d->size);
	snprintf(align, sizeof(align), "%" PRIu64 "\n", d->align);
	snprintf(res, sizeof(res), "%#" PRIx64 "\n", d->resource);
	snprintf(node, sizeof(node), "%d\n", d->target_node);
	ret = fake_sysfs_mkdirs(root, dir);
	if (!ret)
		ret = fake_sysfs_attr(root, name, "size", size);
	if (!ret)
		ret = fake_sysfs_attr(root, name, "align", align);
	if (!ret)
		ret = fake_sysfs_attr(root, name, "resource", res);
	if (!ret)
		ret = fake_sysfs_attr(root, name, "target_node", node);
	if (!ret)
		ret = fake_sysfs_set_bound(root, name, d->bound);
	if (!ret && d->major)
		ret = fake_sysfs_char_link(root, name, d->major, d->minor);
	return ret;
}

static inline int fake_sysfs_rm_one(const char *path, const struct stat *st,
				    int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf a fixture directory (also used for plain temp dirs). */
static inline void fake_sysfs_destroy(const char *root)
{
	nftw(root, fake_sysfs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
