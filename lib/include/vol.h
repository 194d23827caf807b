/* SPDX-License-Identifier: MIT */
/*
 * The volume: a mounted holdfs in memory, independent of FUSE.
 *
 * hfs_vol_open() replays the journal, loads every live inode, extent map
 * and directory into DRAM indexes (cost follows metadata, not region size)
 * and derives free space.  Every namespace or allocation change then goes
 * through one journal transaction (lib/journal.c), so it is atomic across
 * a crash.  fs/ translates FUSE requests into these calls; unit tests call
 * them directly on a region in a malloc'd buffer.
 *
 * Conventions: functions return 0 or a negative errno (exactly the errno
 * POSIX gives for the case).  Inode numbers are inode-table slots; the root
 * is HFS_ROOT_INO (== FUSE_ROOT_ID).  Functions that hand an inode to the
 * kernel (lookup, create, mknod, mkdir, symlink, link) take one lookup
 * reference, dropped by hfs_forget().  An unlinked inode lives on until
 * its last lookup reference and last open are gone.
 *
 * Permissions: the kernel checks access (the mount always uses
 * default_permissions), against POSIX ACLs too; the volume applies the
 * rules the kernel leaves to filesystems: setgid directories, the umask
 * (cred->umask, unless the parent has a default ACL), ACLs kept in step
 * with the mode and inherited at create (lib/acl_i.h), and clears
 * setuid/setgid when told to (HFS_SET_KILL_*: the daemon decides,
 * fs/killpriv.c).
 *
 * Locking: thread-safe.  A volume lock serialises namespace and allocation
 * changes; each inode has a rwlock for data I/O.  Lock order: inode before
 * volume.  No lock is held when a function returns.
 */
#ifndef HOLDFS_VOL_H
#define HOLDFS_VOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "region.h"

struct hfs_vol;

/* When a read or a directory listing updates the access time: the
 * mount's atime options, with the kernel's rules (docs/semantics.md). */
enum hfs_atime {
	HFS_ATIME_RELATIME = 0, /* default: when atime is not after mtime or
				   ctime, or is a day old */
	HFS_ATIME_STRICT,       /* strictatime: every time */
	HFS_ATIME_NEVER,        /* noatime */
};

struct hfs_heal_io;

struct hfs_vol_opts {
	bool readonly;      /* no journal writes, EROFS on changes */
	bool force_backup;  /* testing: ignore the primary superblock */
	enum hfs_atime atime;
	bool nodiratime;    /* never for directories */
	/* The other devices of a volume of several (any order; each is
	 * recognised by its header), opened with region_opts.  Refused for
	 * a volume of one. */
	const char *const *devices;
	unsigned ndevices;
	const struct hfs_region_opts *region_opts;
	/* mount without the devices not given: their files' data there is
	 * lost, and they are recorded lost (read-write mounts only) */
	bool degraded;
	/* testing (the crash harness): the two copies of device 0's
	 * metadata to pick from (mirror_heal.h), instead of the mirror of
	 * a mirrored region */
	const struct hfs_heal_io *heal_io;
};

/* What hfs_vol_open learnt, for the daemon log. */
struct hfs_vol_info {
	bool used_backup_sb;     /* primary was bad */
	bool replayed;           /* a committed transaction was replayed */
	bool was_clean;          /* clean flag was set */
	uint64_t orphans_freed;  /* unlinked-but-open inodes reclaimed */
	uint64_t dslots_folded;  /* data-path slots folded into inodes */
	uint64_t dslots_stale;   /* slots found invalid and cleared */
	uint32_t devices_lost;   /* -o degraded: devices recorded lost */
	/* device 0's metadata structures that failed their check: rewritten
	 * from the mirror's good copy, both copies bad (left to fsck), a
	 * rewrite that failed (lib/vol_heal.c) */
	uint64_t mirror_repaired, mirror_both_bad, mirror_failed;
	/* device 0's primary superblock or journal is unreadable and the
	 * mirror's good copy could not be written over it: mounted from the
	 * mirror's copies, read-only (a read-write mount was asked for) */
	bool ro_unwritable;
	uint64_t inodes, dirs, files;
};

struct hfs_cred {
	uint32_t uid, gid;
	uint32_t umask;          /* already applied by the kernel if 0 */
	const uint32_t *groups;  /* supplementary groups (may be NULL) */
	int ngroups;
};

struct hfs_attr {
	uint64_t ino;
	uint64_t generation;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	uint64_t blocks;       /* 512-byte units allocated */
	uint64_t rdev;
	struct timespec atime, mtime, ctime, btime;
	uint32_t flags;        /* attribute flags (HFS_IF_USER bits) */
	bool direct;           /* written directly (an armed data-path
				  slot): size and times change without the
				  daemon, so they must not be cached */
};

/* hfs_setattr mask */
#define HFS_SET_MODE      0x001u
#define HFS_SET_UID       0x002u
#define HFS_SET_GID       0x004u
#define HFS_SET_SIZE      0x008u
#define HFS_SET_ATIME     0x010u
#define HFS_SET_MTIME     0x020u
#define HFS_SET_ATIME_NOW 0x040u
#define HFS_SET_MTIME_NOW 0x080u
#define HFS_SET_CTIME     0x100u
#define HFS_SET_KILL_SUIDGID 0x200u /* clear setuid, and setgid if g+x */
/* Clear one bit, whatever the rest of the mode (not on directories): the
 * caller has decided by the kernel's rule (fs/killpriv.c), and the
 * volume clears it atomically with whatever else the call changes. */
#define HFS_SET_KILL_SUID 0x400u
#define HFS_SET_KILL_SGID 0x800u

struct hfs_setattr {
	unsigned mask;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/* Who the volume works for on the calling thread: a caller that is not
 * privileged may not take the blocks and inodes the superblock reserves
 * for root (mkfs -m); operations then fail with ENOSPC before changing
 * anything.  Per thread, until set again; privileged by default.  The
 * daemon sets it for every request that may allocate. */
void hfs_vol_set_caller(bool privileged);

/* Lifecycle */
int hfs_vol_open(struct hfs_region *rg, const struct hfs_vol_opts *opts,
		 struct hfs_vol **out, struct hfs_vol_info *info,
		 struct hfs_err *err);
/* Reclaims orphans, writes the clean flag and the backup superblock. */
int hfs_vol_close(struct hfs_vol *vol);
struct hfs_region *hfs_vol_region(struct hfs_vol *vol);

/* Entries */
int hfs_lookup(struct hfs_vol *vol, uint64_t parent, const char *name,
	       struct hfs_attr *out);
void hfs_forget(struct hfs_vol *vol, uint64_t ino, uint64_t nlookup);
int hfs_getattr(struct hfs_vol *vol, uint64_t ino, struct hfs_attr *out);
int hfs_setattr(struct hfs_vol *vol, uint64_t ino, const struct hfs_setattr *sa,
		struct hfs_attr *out);

/* The largest WRITE the daemon lets the kernel send (its max_write and
 * max_pages, fs/daemon.h HFSD_MAX_IO): the kernel splits longer writes
 * into pieces of this size (lib/file.c maybe_piece). */
#define HFS_WRITE_PIECE_MAX (1u << 20)

/* Before a write, fallocate or copy into ino: remove its file
 * capabilities (security.capability), as the VFS does on every write
 * (lib/killpriv.c).  0 when it had none, 1 when they went, or -errno. */
int hfs_kill_fcaps(struct hfs_vol *vol, uint64_t ino);
/* mode includes the file type: S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK */
int hfs_mknod(struct hfs_vol *vol, uint64_t parent, const char *name,
	      uint32_t mode, uint64_t rdev, const struct hfs_cred *cred,
	      struct hfs_attr *out);
int hfs_mkdir(struct hfs_vol *vol, uint64_t parent, const char *name,
	      uint32_t mode, const struct hfs_cred *cred, struct hfs_attr *out);
/* open(O_TMPFILE): an unnamed regular file in directory parent, as a
 * create there would make it (mode, group, default ACL), freed at its
 * last close and forget unless hfs_link names it first. */
int hfs_tmpfile(struct hfs_vol *vol, uint64_t parent, uint32_t mode,
		const struct hfs_cred *cred, struct hfs_attr *out);
int hfs_symlink(struct hfs_vol *vol, uint64_t parent, const char *name,
		const char *target, const struct hfs_cred *cred,
		struct hfs_attr *out);
/* Copies the target, NUL-terminated; returns its length or -errno. */
int hfs_readlink(struct hfs_vol *vol, uint64_t ino, char *buf, size_t size);
int hfs_link(struct hfs_vol *vol, uint64_t ino, uint64_t newparent,
	     const char *newname, struct hfs_attr *out);
int hfs_unlink(struct hfs_vol *vol, uint64_t parent, const char *name);
int hfs_rmdir(struct hfs_vol *vol, uint64_t parent, const char *name);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE, or RENAME_WHITEOUT
 * (alone or with NOREPLACE): the source name then becomes a whiteout
 * (character device 0:0, mode 0) made with cred in the same transaction.
 * cred may be NULL without RENAME_WHITEOUT. */
int hfs_rename(struct hfs_vol *vol, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags,
	       const struct hfs_cred *cred);

/* Open files.  Opening pins the inode; O_TRUNC is done by the caller via
 * setattr.  Directories are opened with hfs_open too. */
int hfs_open(struct hfs_vol *vol, uint64_t ino);
/* hfs_open with the open(2) flags of the caller: -EPERM, pinning
 * nothing, when ino's attribute flags forbid that access (immutable:
 * any write access or O_TRUNC; append-only: write access without
 * O_APPEND, or O_TRUNC). */
int hfs_open_flags(struct hfs_vol *vol, uint64_t ino, int oflags);
void hfs_release(struct hfs_vol *vol, uint64_t ino);

/* Data.  read returns bytes read (short at EOF, zeros in holes);
 * write returns bytes written (allocating as needed).  Data written is
 * persistent when write returns (see docs/architecture.md, durability). */
ssize_t hfs_read(struct hfs_vol *vol, uint64_t ino, void *buf, size_t len,
		 uint64_t off);
ssize_t hfs_write(struct hfs_vol *vol, uint64_t ino, const void *buf,
		  size_t len, uint64_t off);
/* O_APPEND through FUSE: the kernel's offset *off comes from its cached
 * size, which direct writers (docs/data-path.md) may have grown since;
 * while the inode has them, write at the end of file as everyone sees
 * it, and set *off to where it went.  Otherwise at *off.  (So a
 * pwritev2(RWF_NOAPPEND) on an O_APPEND descriptor, which FUSE cannot
 * tell from an append, also goes to the end while direct writers are
 * at work.) */
ssize_t hfs_append(struct hfs_vol *vol, uint64_t ino, const void *buf,
		   size_t len, uint64_t *off);
int hfs_fsync(struct hfs_vol *vol, uint64_t ino, bool datasync);
/* mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE,
 * FALLOC_FL_ZERO_RANGE (|KEEP_SIZE) */
int hfs_fallocate(struct hfs_vol *vol, uint64_t ino, int mode, uint64_t off,
		  uint64_t len);
/* ino was read (a file) or listed (a directory): update its access time
 * if the volume's atime policy says so.  Lazy, like the times of
 * in-place writes: kept in DRAM and journaled at fsync, the last close,
 * unmount or the inode's next transaction.  Never on a read-only
 * volume; never changes ctime.  0 or -errno. */
int hfs_accessed(struct hfs_vol *vol, uint64_t ino);
/* Change the atime policy of a mounted volume (a remount: the daemon
 * sets HFS_ATIME_NEVER while the kernel mount is read-only).  Takes
 * effect for the next hfs_accessed; any thread. */
void hfs_vol_set_atime(struct hfs_vol *vol, enum hfs_atime atime,
		       bool nodiratime);
/* whence: SEEK_DATA or SEEK_HOLE; others are the caller's */
int hfs_lseek(struct hfs_vol *vol, uint64_t ino, uint64_t off, int whence,
	      uint64_t *out);
ssize_t hfs_copy_range(struct hfs_vol *vol, uint64_t ino_in, uint64_t off_in,
		       uint64_t ino_out, uint64_t off_out, size_t len);

/* Directories.  Offsets: 0 = start; the callback gets the offset of the
 * next entry.  The callback returns non-zero to stop (buffer full); that
 * entry is then not consumed.  "." and ".." are included.  plus: take a
 * lookup reference on each entry passed (readdirplus), except . and .. */
typedef int (*hfs_filldir_t)(void *ctx, const char *name,
			     const struct hfs_attr *attr, uint64_t next_off);
int hfs_readdir(struct hfs_vol *vol, uint64_t ino, uint64_t off, bool plus,
		hfs_filldir_t fill, void *ctx);

int hfs_statfs(struct hfs_vol *vol, struct statvfs *st);

/* Extended attributes.  flags: 0, XATTR_CREATE, XATTR_REPLACE.  get/list
 * with size 0 return the size needed. */
int hfs_setxattr(struct hfs_vol *vol, uint64_t ino, const char *name,
		 const void *value, size_t size, int flags);
ssize_t hfs_getxattr(struct hfs_vol *vol, uint64_t ino, const char *name,
		     void *buf, size_t size);
ssize_t hfs_listxattr(struct hfs_vol *vol, uint64_t ino, char *buf,
		      size_t size);
int hfs_removexattr(struct hfs_vol *vol, uint64_t ino, const char *name);

/* Attribute flags (chattr, lib/iflags.c): HFS_IF_IMMUTABLE,
 * HFS_IF_APPEND, HFS_IF_NODUMP (format.h; the kernel's FS_*_FL values).
 * Regular files and directories only (-ENOTTY otherwise).  setflags
 * replaces all three in one transaction with a new ctime: -EOPNOTSUPP
 * for any other bit; -EPERM for a caller who is neither the owner nor
 * holds CAP_FOWNER, for a change of immutable or append-only without
 * CAP_LINUX_IMMUTABLE, and for any change but clearing immutable of an
 * immutable inode; -ETXTBSY when immutable or append-only would be set
 * while direct writers have the file (an armed data-path slot).  out (may
 * be NULL): the new attributes. */
struct hfs_flags_caller {
	uint32_t uid;             /* fsuid */
	bool cap_fowner;          /* CAP_FOWNER */
	bool cap_linux_immutable; /* CAP_LINUX_IMMUTABLE */
};
int hfs_getflags(struct hfs_vol *vol, uint64_t ino, uint32_t *flags);
int hfs_setflags(struct hfs_vol *vol, uint64_t ino, uint32_t flags,
		 const struct hfs_flags_caller *who, struct hfs_attr *out);

/* ---- DAX path (fs/lease.c; NULL hooks = no DAX clients) ----
 * release: called with the volume lock held for every rmap piece of
 *   blocks leaving an inode (truncate, punch, unlink, xattr/dir/chain
 *   frees), after the extent map changed and before the rmap forgets
 *   them.  Return true to keep the blocks out of the free index (the
 *   daemon frees them with hfs_vol_free_blocks once every DAX mapping
 *   of them is revoked), false to free them at once.  Must not block
 *   or call into the volume.
 * fill: called with no lock held, after holes of [off, off+len) of ino
 *   may have got blocks (write, fallocate) and before the operation
 *   returns.  May block (bounded: the daemon waits for REMAP acks). */
struct hfs_vol_hooks {
	bool (*release)(void *ctx, uint64_t pblk, uint64_t n, uint64_t ino,
			uint64_t lblk, bool data);
	void (*fill)(void *ctx, uint64_t ino, uint64_t off, uint64_t len);
	/* A client (client_id) has held inode ino's data-path slot lock
	 * past the wait (hfs_vol_set_dslot_wait): revoke the inode's
	 * data-path leases, killing holders that do not ack, and return;
	 * the volume then takes the lock over.  Called with the inode's
	 * I/O lock held (like release). */
	void (*dslot_stuck)(void *ctx, uint64_t ino, uint32_t client_id);
	/* Does a DAX client hold a write lease of ino (mmap or data
	 * path)?  Asked by hfs_setflags before it makes ino immutable or
	 * append-only (-ETXTBSY if so), with the inode's I/O lock and the
	 * volume lock held: no write lease of ino can be published
	 * meanwhile, and the ones published later see the flag
	 * (HFS_LMAP_WRITE).  Must not block or call into the volume. */
	bool (*writers)(void *ctx, uint64_t ino);
	void *ctx;
};
/* Install (or with NULL remove) the hooks; before any concurrent use. */
void hfs_vol_set_hooks(struct hfs_vol *vol, const struct hfs_vol_hooks *h);
/* Give blocks a release hook kept back to the free index (locks). */
void hfs_vol_free_blocks(struct hfs_vol *vol, uint64_t pblk, uint64_t n);
/* Allocation unit in bytes, region size in bytes, filesystem uuid. */
uint64_t hfs_vol_alloc_unit(struct hfs_vol *vol);

/* The devices of the volume (docs/format.md "Several devices"): one for
 * a volume of one device.  Fills up to max entries, returns how many
 * devices there are (<= HFS_MEMBERS_MAX). */
struct hfs_vol_device {
	const char *path;       /* as opened (valid while the volume is);
				 * "" for a device not mapped (lost) */
	uint64_t base;          /* volume byte offset it is mapped at */
	uint8_t uuid[16];       /* the member's; the volume's for a single */
	uint32_t state;         /* HFS_DEV_* */
	uint32_t role;          /* HFS_DEV_ROLE_* */
	uint64_t size;          /* bytes */
	uint64_t pool_blocks;   /* 4 KiB blocks */
	uint64_t free_blocks;
};
unsigned hfs_vol_devices(struct hfs_vol *vol, struct hfs_vol_device *out,
			 unsigned max);
/* How many data blocks of inode ino lie on each device: counts[i] for
 * device i, up to max.  Returns the number of devices, -ENOENT. */
int hfs_vol_file_devices(struct hfs_vol *vol, uint64_t ino, uint64_t *counts,
			 unsigned max);
/* Inode ino's placement choice (trusted.holdfs.device, docs/format.md
 * "Placement"): the index of the device it names, whatever that
 * device's state; -ENODATA: none; -EUCLEAN: a stored value that is not a
 * valid one (fsck drops it); -ENOENT: no such inode. */
int hfs_vol_place_choice(struct hfs_vol *vol, uint64_t ino);
/* Record device i (not 0, unless served from its mirror) as HFS_DEV_LOST or HFS_DEV_RETIRED in the
 * device table (journaled): later mounts no longer ask for it, and
 * placement no longer uses it.  0, -EINVAL, or the commit's error. */
int hfs_vol_device_state(struct hfs_vol *vol, unsigned i, uint32_t state);
/* Is device 0 lost and served from its mirror?  Then the mirror's
 * device is where the metadata lives.  Since the mount (-o degraded, or
 * device 0 recorded lost): hfs_vol_region() is the volume built on the
 * mirror (not the region hfs_vol_open was given, which stays the
 * caller's: it holds the ownership lock).  Since a switch while mounted
 * (hfs_vol_fail_over): the same region, the mirror mapped in device 0's
 * place. */
bool hfs_vol_from_mirror(struct hfs_vol *vol);

/* Device 0 lost while mounted (docs/format.md "Device 0 lost while
 * mounted", lib/vol_failover.c).  The daemon allows it (fsck and the
 * other tools do not: there a device 0 gone fails the run). */
void hfs_vol_allow_failover(struct hfs_vol *vol, bool on);
struct hfs_vol_failover {
	uint64_t data_off, data_len; /* device 0's file data: lost */
	unsigned mirror_dev;         /* the device the metadata is on now */
	bool already;                /* it was served from the mirror
				      * already (a commit switched, or the
				      * mount) */
};
/* Serve device 0's metadata from its mirror from now on, at the same
 * addresses (the region's hfs_region_fail_over), under the volume lock;
 * the caller then fails device 0's data range (fo) and records device 0
 * lost (hfs_vol_device_state).  0 (also when already done; fo->already);
 * 1: done, but device 0's data range could not be made inaccessible
 * (err says so); -ENODEV no working mirror (none, stopped: its device
 * was lost, or not allowed), -EIO the volume had failed already, -EROFS
 * a read-only mount, or the mapping's error: nothing changed, the loss
 * is the volume's. */
int hfs_vol_fail_over(struct hfs_vol *vol, struct hfs_vol_failover *fo,
		      struct hfs_err *err);
/* How many copies of the metadata the volume keeps now, for reports. */
struct hfs_vol_metadata {
	unsigned copies;     /* 2: device 0 and its mirror; 1: one left */
	unsigned mirror_dev; /* the mirror's device (0: the volume has no
			      * mirror) */
	bool from_mirror;    /* device 0 lost, the metadata is the mirror's */
	bool live;           /* ... since a switch while mounted */
	uint64_t served;     /* bytes of device 0's metadata served from
			      * the mirror after a media error there (one
			      * copy), served_off the first range's start */
	uint64_t served_off;
	unsigned nserved;    /* how many ranges */
	uint64_t meta_end;   /* device 0's metadata area: [0, meta_end)
			      * (s_meta_end; 0 on one device) */
};
void hfs_vol_metadata(struct hfs_vol *vol, struct hfs_vol_metadata *m);
/* A media error at [off, off + len) of device 0's metadata, the mirror
 * working: that range (rounded out: *soff, *slen) is served from the
 * mirror from now on, and recorded in the bad-extent list so that later
 * mounts do the same (lib/vol_failover.c).  0; 1: served, but not
 * recorded (err says why); -errno with err filled: nothing changed
 * (no working mirror, mounted from it, read-only, failed already, a
 * range that is not device 0's metadata, the mapping refused). */
int hfs_vol_serve_from_mirror(struct hfs_vol *vol, uint64_t off, uint64_t len,
			      uint64_t *soff, uint64_t *slen,
			      struct hfs_err *err);
void hfs_vol_uuid(struct hfs_vol *vol, uint8_t uuid[16]);

/* Lease mapping (lib/lease_map.c).  The extents of [off, off+len) of
 * regular file ino, in file order, holes flagged HFS_LEXT_HOLE.  With
 * HFS_LMAP_ALLOC, holes are first allocated (zeroed, like fallocate
 * KEEP_SIZE), so the list has no holes.  off and len must be alloc-unit
 * multiples, len > 0, and the range must end within the file size
 * rounded up to the unit, or a data-path slot's limit (-EINVAL; not
 * checked with HFS_LMAP_ANY_END): leases never extend a file.  -E2BIG if more than
 * max extents.  publish (may be NULL) is called with the volume lock
 * held and the list final, so a lease recorded there can never miss a
 * release hook for these blocks; its error is returned. */
struct hfs_lease_extent;
/* How far a lease of ino may reach now (0: not a regular file): the end
 * of file rounded up to the unit, or with past_eof a data-path slot's
 * limit if further (blocks reserved past EOF for extend leases: write
 * leases only, which map no holes; a read lease reaching there would
 * keep zero pages over blocks filled later without a fill to tell it). */
uint64_t hfs_lease_reach(struct hfs_vol *vol, uint64_t ino, bool past_eof);
#define HFS_LMAP_ALLOC 0x1u   /* allocate the holes first */
#define HFS_LMAP_ANY_END 0x2u /* no end check: the extents of a lease that
				 reaches past today's end of file (a REMAP) */
#define HFS_LMAP_WRITE 0x4u   /* a write lease: -EPERM if the file is
				 immutable or append-only, checked under the
				 locks publish runs under (lib/iflags.c) */
int hfs_lease_extents(struct hfs_vol *vol, uint64_t ino, uint64_t off,
		      uint64_t len, unsigned mode, struct hfs_lease_extent *out,
		      uint32_t max, uint32_t *n,
		      int (*publish)(void *ctx,
				     const struct hfs_lease_extent *ext,
				     uint32_t n),
		      void *ctx);

/* Data-path slots (lib/dslot.c, docs/data-path.md).  The slot area
 * (*off 0, *count 0: none; then attach fails with -EOPNOTSUPP). */
void hfs_vol_dslot_area(struct hfs_vol *vol, uint64_t *off, uint32_t *count);
/* How long the volume waits for a client's slot lock before calling the
 * dslot_stuck hook (and as long again after it). */
void hfs_vol_set_dslot_wait(struct hfs_vol *vol, uint32_t ms);
/* A data-path lease of regular file ino begins: its slot, armed if it
 * was not (*idx), and the file's generation (*gen, for the detach).
 * -ENOSPC when every slot is in use. */
int hfs_dslot_attach(struct hfs_vol *vol, uint64_t ino, uint32_t *idx,
		     uint64_t *gen);
/* A data-path lease ended; the last one disarms the slot: its size and
 * times are committed to the inode, the reservation past EOF returned.
 * gen: what attach said.  A detach that comes after the file was deleted
 * is a no-op, even when its inode number (generation differs) and slot
 * were both given to a new file since.  May wait for a client's slot
 * lock and call the stuck hook: not on a thread that must answer
 * clients. */
int hfs_dslot_detach(struct hfs_vol *vol, uint64_t ino, uint64_t gen,
		     uint32_t idx);
/* Let the file's published size reach end (an extend lease over [off,
 * end), whose blocks the caller allocated first): the slot's limit. */
int hfs_dslot_raise_limit(struct hfs_vol *vol, uint64_t ino, uint64_t off,
			  uint64_t end);
/* A client's connection closed: clear the slot locks it held. */
void hfs_dslot_client_gone(struct hfs_vol *vol, uint32_t client_id);

/* What a piece of the region holds: the kind of an owner (hfs_vol_owners)
 * and of a piece of a failed range (hfs_vol_classify_failure). */
enum hfs_kind {
	HFS_KIND_DATA,   /* file data */
	HFS_KIND_DIR,    /* directory block */
	HFS_KIND_CHAIN,  /* extent overflow chain block */
	HFS_KIND_XATTR,  /* xattr block */
	HFS_KIND_FIXED,  /* a fixed metadata area (failed ranges only) */
};
/* Its name in holdfsctl holders: "data", "dir", "extent-chain", "xattr"
 * ("fixed"). */
const char *hfs_kind_name(enum hfs_kind k);

/* Owners of region bytes [off, off+len) (rmap), in region order, pieces
 * clipped to whole 4 KiB blocks; cb gets them under the volume lock and
 * returns non-zero to stop (returned).  For holdfsctl holders
 * (lib/holders.c). */
struct hfs_owner {
	uint64_t region_off, len;   /* bytes */
	uint64_t ino, file_off;     /* file_off: data and dir pieces */
	enum hfs_kind kind;         /* data, dir, extent chain or xattr */
	uint32_t nopen;             /* open FUSE handles of ino */
	uint64_t nlookup;           /* kernel references of ino */
};
int hfs_vol_owners(struct hfs_vol *vol, uint64_t off, uint64_t len,
		   int (*cb)(void *ctx, const struct hfs_owner *o), void *ctx);

/* ---- Failure pipeline (lib/failure.c, docs/failure-model.md) ----
 * fault hook: called after a guarded region access of the volume failed
 * (SIGBUS: the fault's region offset, si_code BUS_ADRERR / BUS_MCEERR_*
 * and for a machine check the kernel's lsb), on
 * the thread that made the access, possibly with the volume lock held.
 * It must only record the event (no blocking, no volume calls). */
void hfs_vol_set_fault_hook(struct hfs_vol *vol,
			    void (*fn)(void *ctx, const struct hfs_fault *f),
			    void *ctx);

/* A failed range, classified once (one rmap read, under the volume
 * lock): every piece of [off, off+len) that something owns, and the
 * summary.  A piece is file data, a directory / extent-chain / xattr block
 * of an inode, or the part of a fixed metadata area (superblocks, health
 * log, bad list, journal, inode table) the range covers.  metadata: the
 * range hits a fixed area or a directory / extent-chain / xattr block
 * (what names it: a fixed area first, else the first such block); else
 * what is "data", "free space" or "unused".  The pipeline (fs/failure.c)
 * revokes the leases of the data pieces' inodes and hands the same class
 * to hfs_vol_mark_lost.  O(log n + k). */
struct hfs_fail_piece {
	uint64_t region_off, len;   /* bytes, whole 4 KiB blocks */
	uint64_t ino, file_off;     /* owner (0: fixed area); file_off: data
				     * and dir pieces */
	enum hfs_kind kind;
};
struct hfs_fail_class {
	uint64_t off, len;          /* the range classified */
	bool metadata;
	const char *what;           /* "journal", "inode table", "data", ... */
	uint64_t data_pieces, free_blocks;
	struct hfs_fail_piece *v;   /* malloc'd (NULL: none), region order */
	size_t n;
};
/* Fills *out (free its vector with hfs_fail_class_free); 0 or -ENOMEM
 * (*out then holds nothing to free). */
int hfs_vol_classify_failure(struct hfs_vol *vol, uint64_t off, uint64_t len,
			     struct hfs_fail_class *out);
void hfs_fail_class_free(struct hfs_fail_class *fc);
/* Range failure on data: mark the data pieces of fc lost (HFS_EXT_LOST on
 * the extent pieces, split as needed; HFS_IF_LOSTDATA on the inode), add
 * fc's range to the bad-extent list, take free blocks of it out of the
 * free index; journaled.  No rmap read: each piece is checked again under
 * its inode's I/O lock and the volume lock, and one that moved since the
 * classification (truncated, punched, freed) is skipped.  cb (may be
 * NULL) gets each piece marked, with no lock held.  -EIO if the volume
 * failed. */
int hfs_vol_mark_lost(struct hfs_vol *vol, const struct hfs_fail_class *fc,
		      int (*cb)(void *ctx, const struct hfs_fail_piece *p),
		      void *ctx);
/* Enter the shutdown state: every operation returns EIO except statfs,
 * getattr of the root, forget and release (so ls/df/unmount answer);
 * no journal write ever again (the clean flag is not written). */
void hfs_vol_shutdown(struct hfs_vol *vol);
bool hfs_vol_is_shutdown(struct hfs_vol *vol);
/* Inodes whose cached pages the kernel can still read without asking
 * the volume: those with an open handle (a page-cache mmap keeps its
 * file open) and symlinks whose target it was given since their last
 * forget.  After hfs_vol_shutdown these are the only ones a shutdown
 * must invalidate (docs/failure-model.md).  O(their number); malloc'd
 * array, -ENOMEM.  (lib/holders.c) */
int hfs_vol_kernel_readable(struct hfs_vol *vol, uint64_t **inos, size_t *n);
/* One path of ino ("/a/b"; for a hard-linked file one of its names), for
 * reports.  O(depth) through each inode's name hint; only when the hinted
 * name was removed while the inode kept another one are the directory
 * indexes scanned (O(entries)), once.  -ENOENT if unlinked or not found,
 * -ENAMETOOLONG, -ENOMEM.  (lib/namei_path.c) */
int hfs_vol_ino_path(struct hfs_vol *vol, uint64_t ino, char *buf,
		     size_t len);
/* Best-effort persistent health record of a failure: whole device
 * (HFS_HEALTH_DEVICE_LOSS) or metadata hit (HFS_HEALTH_CORRUPTION).
 * Guarded: returns -EIO when the media no longer takes writes. */
int hfs_vol_health_note(struct hfs_vol *vol, bool whole, uint64_t off,
			uint64_t len, const char *msg);
/* Health record of a planned removal (holdfsctl offline); guarded,
 * -EROFS on a read-only volume (as every record), -EIO. */
int hfs_vol_health_offline(struct hfs_vol *vol, const char *msg);
/* The bad-extent list, in region order, under the volume lock. */
int hfs_vol_badlist(struct hfs_vol *vol,
		    int (*cb)(void *ctx, uint64_t off, uint64_t len),
		    void *ctx);
/* Bytes of the region the filesystem was formatted on (s_region_size). */
uint64_t hfs_vol_fs_size(struct hfs_vol *vol);

#endif
