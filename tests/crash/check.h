/* SPDX-License-Identifier: MIT */
/*
 * The checker: is one crash state a correct holdfs?
 *
 * The state is an image in memory (the generator's working image, with
 * undo ops installed so everything the check writes is rolled back).
 * check_state():
 *   1. hfs_vol_open() it (journal replay, orphan reclaim): must succeed,
 *      find no inconsistency (vol->errors == 0, no ERRORS flag);
 *   2. walks the mounted volume into a model snapshot (readdir, getattr,
 *      read every file, readlink, every xattr) and checks structure: link
 *      counts equal the names found, '..' names the parent, every inode
 *      in use is reachable, and every allocated block is owned by one;
 *   3. compares the snapshot with the oracle (durability contract);
 *   4. probe: the recovered volume is usable (create, write and read
 *      back, xattr, mkdir, rename, unlink, rmdir), then a clean unmount;
 *   5. fsck (when fsck/ provides hfs_fsck, see fsck_plug.c) on the
 *      cleanly unmounted image: must be clean.
 */
#ifndef CRASH_CHECK_H
#define CRASH_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "trace.h"

/* What a state must contain. */
struct expect {
	const struct model *cur;   /* after every completed operation */
	const struct model *next;  /* after the in-flight one (or NULL) */
	int cls;                   /* in-flight op class (enum op_class) */
	int fuzzy;                 /* OPC_DATA: its target object */
};

struct checker {
	uint8_t *img;
	uint64_t size;
	struct hfs_region *rg;
	struct undo_log *undo;
	bool probe;
	bool fsck;
	bool mirror;               /* a mirrored image (mirror.h): mount with
				    * the mirror's ops and compares its
				    * copies */
	struct model snap;         /* snapshot of the last state checked */
	uint64_t nchecks;
};

int checker_init(struct checker *ck, uint8_t *img, uint64_t size,
		 struct undo_log *undo);
void checker_free(struct checker *ck);
/* Check the image in ck->img.  The image is left modified; the caller
 * rolls it back (undo).  Returns 0, or -1 with a message. */
int check_state(struct checker *ck, const struct expect *ex, char *msg,
		size_t len);

/* fsck_plug.c: run hfs_fsck on a region if fsck/ is built.  Returns the
 * fsck(8) bitmask (0 clean), or -1 if fsck is not available. */
bool crash_fsck_available(void);
int crash_fsck(struct hfs_region *rg, char *msg, size_t len);

#endif
