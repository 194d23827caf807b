/* SPDX-License-Identifier: MIT */
/*
 * Region layer internals shared by region.c (open, lock, map),
 * devdax.c (device-dax through libsysfs) and region_holder.c (who holds
 * the ownership flock).
 */
#ifndef HOLDFS_REGION_I_H
#define HOLDFS_REGION_I_H

#include <stddef.h>
#include <sys/types.h>

/* The dax device name (e.g. "dax0.0") of the character node path with
 * device number rdev, under sysfs root; "" when it is not one. */
void hfs_devdax_name(const char *root, const char *path, dev_t rdev,
		     char *name, size_t len);

/* The pid holding the flock on (dev, ino), its command line in buf;
 * 0 when nobody holds it, -errno when /proc/locks cannot be read. */
int hfs_region_holder_of(dev_t dev, ino_t ino, char *buf, size_t len);

#endif
