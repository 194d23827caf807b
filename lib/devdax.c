/* SPDX-License-Identifier: MIT */
/*
 * Device-dax through libsysfs: which dax device a character node is, and
 * its size, alignment and optional attributes (region.h hfs_devdax_probe).
 *
 * libsysfs's attribute calls (sysfs_open_attribute, sysfs_read_attribute,
 * sysfs_path_is_link, ...) take absolute paths and only stat/open/read
 * them; only the by-name lookups consult the sysfs mount.  So the same
 * calls read a fake tree under an overridden root (tests, HOLDFS_SYSFS_ROOT),
 * and real and fake trees share one code path.
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sysfs/libsysfs.h>

/* Read one attribute file into buf (trailing newline stripped). */
static int sysfs_attr_read(const char *dir, const char *name, char *buf,
			   size_t len)
{
	char path[SYSFS_PATH_MAX];
	struct sysfs_attribute *attr;
	int ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -ENAMETOOLONG; /* libsysfs caps paths at 256 */
	errno = 0;
	attr = sysfs_open_attribute(path);
	if (!attr)
		return errno ? -errno : -ENOENT;
	if (sysfs_read_attribute(attr) || !attr->value)
		ret = errno ? -errno : -EIO;
	else
		snprintf(buf, len, "%s", attr->value);
	sysfs_close_attribute(attr);
	if (!ret)
		buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

/* Parse a sysfs number: decimal, or hex with 0x (resource). */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*s == '-' || !*s)
		return -EINVAL;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || !*s || v < INT32_MIN || v > INT32_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static bool sysfs_exists(const char *path)
{
	return !sysfs_path_is_dir(path) || !sysfs_path_is_link(path);
}

/* The device's attribute directory: bus/dax (kernel >= 5.1), else the
 * older class/dax. */
static int devdax_dir(const char *root, const char *name, char *dir,
		      size_t len)
{
	static const char *const where[] = { "bus/dax/devices", "class/dax" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		if ((size_t)snprintf(dir, len, "%s/%s/%s", root, where[i],
				     name) >= len)
			return -ENAMETOOLONG;
		if (sysfs_exists(dir))
			return 0;
	}
	return -ENODEV;
}

static int devdax_read_u64(const char *dir, const char *name, uint64_t *v,
			   struct hfs_err *err)
{
	char buf[64];
	int ret = sysfs_attr_read(dir, name, buf, sizeof(buf));

	if (!ret)
		ret = parse_u64(buf, v);
	if (ret)
		return hfs_err_set(err, ret, "%s/%s: cannot read: %s", dir,
				   name, strerror(-ret));
	return 0;
}

/* resource and target_node are informational: absent means unknown. */
static void devdax_read_optional(const char *dir, struct hfs_devdax_info *info)
{
	char buf[64];

	if (sysfs_attr_read(dir, "resource", buf, sizeof(buf)) ||
	    parse_u64(buf, &info->resource))
		info->resource = 0;
	if (sysfs_attr_read(dir, "target_node", buf, sizeof(buf)) ||
	    parse_int(buf, &info->target_node))
		info->target_node = -1;
}

int hfs_devdax_probe(const char *sysfs_root, const char *name,
		     struct hfs_devdax_info *info, struct hfs_err *err)
{
	const char *root = hfs_region_sysfs_root(sysfs_root);
	char dir[SYSFS_PATH_MAX], link[SYSFS_PATH_MAX];
	int ret;

	memset(info, 0, sizeof(*info));
	if (!name || !*name || strchr(name, '/') || name[0] == '.')
		return hfs_err_set(err, -EINVAL, "invalid device-dax name '%s'",
				   name ? name : "");
	ret = devdax_dir(root, name, dir, sizeof(dir));
	if (ret)
		return hfs_err_set(err, ret,
				   "%s: no such device-dax under %s/bus/dax/devices; check 'daxctl list' and that device_dax is loaded",
				   name, root);
	ret = devdax_read_u64(dir, "size", &info->size, err);
	if (!ret)
		ret = devdax_read_u64(dir, "align", &info->align, err);
	if (ret)
		return ret;
	if (!info->align || (info->align & (info->align - 1)))
		return hfs_err_set(err, -EINVAL,
				   "%s/align: %" PRIu64 " is not a power of two",
				   dir, info->align);
	devdax_read_optional(dir, info);
	if ((size_t)snprintf(link, sizeof(link), "%s/driver", dir) >=
	    sizeof(link))
		return hfs_err_set(err, -ENAMETOOLONG, "%s: path too long", dir);
	info->bound = !sysfs_path_is_link(link);
	return 0;
}

/* Name of the device-dax behind a char node, "" if it is not one.  The
 * <root>/dev/char/MAJ:MIN link is authoritative when present; trees
 * without it (fakes, some containers) fall back to the node's basename. */
void hfs_devdax_name(const char *root, const char *path, dev_t rdev,
			char *name, size_t len)
{
	char link[SYSFS_PATH_MAX], target[SYSFS_PATH_MAX], dir[SYSFS_PATH_MAX];
	const char *base;

	name[0] = '\0';
	snprintf(link, sizeof(link), "%s/dev/char/%u:%u", root, major(rdev),
		 minor(rdev));
	if (!sysfs_get_link(link, target, sizeof(target))) {
		if (sysfs_get_name_from_path(target, name, len))
			name[0] = '\0';
	} else {
		base = strrchr(path, '/');
		snprintf(name, len, "%s", base ? base + 1 : path);
	}
	if (name[0] && devdax_dir(root, name, dir, sizeof(dir)))
		name[0] = '\0';
}
