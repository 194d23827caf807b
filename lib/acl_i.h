/* SPDX-License-Identifier: MIT */
/*
 * POSIX ACLs on an xattr value, private to lib/ (lib/acl.c).
 *
 * An ACL is stored as the extended attribute system.posix_acl_access (a
 * file's or directory's access ACL) or system.posix_acl_default (a
 * directory's default ACL), in the format the kernel uses at its xattr
 * interface: a little-endian u32 version (2), then entries of u16 tag,
 * u16 permission bits (r=4, w=2, x=1), u32 uid or gid (named entries
 * only).  docs/format.md, "Extended attributes".  The kernel validates
 * what it sends (setfacl goes through it), and checks access against
 * the stored ACLs itself (FUSE_CAP_POSIX_ACL with default_permissions);
 * what is left to the filesystem is below: the mode bits an ACL implies,
 * the ACL a chmod implies, and inheritance at create.
 */
#ifndef HOLDFS_LIB_ACL_I_H
#define HOLDFS_LIB_ACL_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HFS_ACL_ACCESS, HFS_ACL_DEFAULT, HFS_ACL_MAX and hfs_acl_check: fsck
 * checks stored values by the same rule */
#include "media.h"

/* The mode an access ACL gives the file: the permission bits of mode
 * replaced by the owner, group (the mask's, when there is one) and other
 * entries.  Returns 1 if the ACL says more than the mode bits (named
 * entries or a mask), 0 if it is equivalent to them (then it need not
 * be stored). */
int hfs_acl_mode(const void *v, size_t len, uint32_t *mode);

/* chmod of a file with an access ACL: its owner, group (the mask, when
 * there is one) and other entries take the new permission bits.  In
 * place. */
void hfs_acl_chmod(void *v, size_t len, uint32_t mode);

/* A new inode under a directory with a default ACL: v is a copy of that
 * ACL, which becomes the new inode's access ACL: its owner, group (or
 * mask) and other entries are limited to the requested *mode, and *mode
 * to them.  Returns 1 if the result must be stored, 0 if it is
 * equivalent to the mode bits. */
int hfs_acl_create(void *v, size_t len, uint32_t *mode);

struct hfs_vol;
struct hfs_inode;

/* Setting system.posix_acl_access or _default on ip (vol->lock held;
 * the caller commits).  The value is checked (-EINVAL); a default ACL is
 * for directories only (-EACCES, as the kernel); an access ACL sets the
 * mode bits it implies, in the same transaction, and is stored only if
 * it says more than them (else any stored one is removed), as the
 * kernel's own filesystems do.  flags are ignored, as the VFS ignores
 * them for ACLs. */
int hfs_acl_set_locked(struct hfs_vol *vol, struct hfs_inode *ip,
		       const char *name, const void *v, size_t len);
/* ip's mode changed: its access ACL, if any, follows (vol->lock held;
 * staged, the caller commits). */
int hfs_acl_chmod_locked(struct hfs_vol *vol, struct hfs_inode *ip);

#endif
