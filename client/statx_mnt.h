/* SPDX-License-Identifier: MIT */
/*
 * statx mask bits for a mount id: the unique one where the kernel has it
 * (6.8+; Debian 12's headers do not name it), else the plain one.  Used
 * to tell a holdfs mount from the filesystem that had its anonymous
 * device number a moment ago.
 */
#ifndef HOLDFS_CLIENT_STATX_MNT_H
#define HOLDFS_CLIENT_STATX_MNT_H

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#define HFC_STATX_MNT (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)

#endif
