/* SPDX-License-Identifier: MIT */
/*
 * Directories (dir.c): the DRAM name index of a directory inode
 * (ip->dir) and its dentry slots on media.
 */
#ifndef HOLDFS_DIR_I_H
#define HOLDFS_DIR_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hfs_dir;
struct hfs_inode;
struct hfs_vol;

struct hfs_dent {
	struct hfs_dent *hnext;   /* hash chain */
	uint64_t ino;
	uint32_t slot;            /* slot on media; readdir cookie */
	uint32_t hash;
	uint8_t type;             /* DT_* */
	uint16_t len;
	char name[];              /* NUL-terminated */
};

struct hfs_dir *hfs_dir_new(void);
void hfs_dir_destroy(struct hfs_dir *d);
uint64_t hfs_dir_count(const struct hfs_dir *d);
bool hfs_dir_full(const struct hfs_dir *d); /* next add needs a block */
struct hfs_dent *hfs_dir_lookup(const struct hfs_dir *d, const char *name);
struct hfs_dent *hfs_dir_lookup_n(const struct hfs_dir *d, const char *name,
				  size_t len);
/* First live entry at slot >= slot (its slot in *found), or NULL. */
struct hfs_dent *hfs_dir_at(const struct hfs_dir *d, uint64_t slot,
			    uint64_t *found);
/* The live entry at exactly slot, or NULL (O(1)). */
struct hfs_dent *hfs_dir_slot(const struct hfs_dir *d, uint64_t slot);
/* Changes: stage into vol->tx (growing the directory by a block when
 * full); the caller commits.  add and retarget (and load) make the entry
 * its target's name hint (struct hfs_inode). */
int hfs_dir_add_locked(struct hfs_vol *vol, struct hfs_inode *dip,
		       const char *name, uint64_t ino, uint8_t type);
int hfs_dir_remove_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			  struct hfs_dent *e);
int hfs_dir_retarget_locked(struct hfs_vol *vol, struct hfs_inode *dip,
			    struct hfs_dent *e, uint64_t ino, uint8_t type);
/* Mount: build dip->dir from its blocks.  Bad or duplicate slots are
 * counted in *bad and treated as free. */
int hfs_dir_load(struct hfs_vol *vol, struct hfs_inode *dip, uint64_t *bad);

#endif
