/* SPDX-License-Identifier: MIT */
/*
 * Region layer: open, classify, size, lock and map a region (region.h).
 *
 * Order of hfs_region_open: open the path (never blocking, never following
 * into a FIFO), fstat, classify (regular file or device-dax, anything else
 * refused), size it (file size, or sysfs for devdax), take the ownership
 * flock, then map the whole region with libpmem2.  Each step fills err
 * with a message naming the path; hfs_region_close undoes any prefix.
 *
 * Device-dax probing (libsysfs) is in devdax.c, naming the holder of the
 * ownership lock in region_holder.c.
 */
#include "region.h"
#include "region_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpmem2.h>

#define FILE_ALIGN 4096u


const char *hfs_region_sysfs_root(const char *override)
{
	const char *env;

	if (override && *override)
		return override;
	/* secure_getenv: a setuid tool must not read a tree the caller
	 * planted. */
	env = secure_getenv("HOLDFS_SYSFS_ROOT");
	return env && *env ? env : "/sys";
}

/* libpmem2 1.12 does not export pmem2_err_to_errno; its codes are either
 * -errno or PMEM2_E_* (<= -100000). */
static int pmem2_errno(int ret)
{
	if (ret > PMEM2_E_UNKNOWN)
		return ret;
	switch (ret) {
	case PMEM2_E_NOSUPP:
	case PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED:
		return -ENOTSUP;
	case PMEM2_E_NO_ACCESS:
		return -EACCES;
	case PMEM2_E_IO_FAIL:
		return -EIO;
	case PMEM2_E_DAX_REGION_NOT_FOUND:
		return -ENODEV;
	default:
		return -EINVAL;
	}
}

int hfs_pmem2_fail(struct hfs_err *err, int ret, const char *path,
		   const char *what)
{
	const char *msg = pmem2_errormsg();

	return hfs_err_set(err, pmem2_errno(ret), "%s: %s: libpmem2: %s", path,
			   what, msg && *msg ? msg : "error");
}

/* --- open steps ------------------------------------------------------ */

static const char *mode_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device that is not device-dax";
	if (S_ISBLK(m))
		return "a block device; for fsdax put a region file on a -o dax filesystem";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "an unsupported file type";
}

static int not_region(const char *path, mode_t m, struct hfs_err *err)
{
	return hfs_err_set(err, -EINVAL,
			   "%s: not a regular file or device-dax node (%s)",
			   path, mode_name(m));
}

static int open_fail(const char *path, bool ro, struct hfs_err *err)
{
	int e = errno;

	switch (e) {
	case ENOENT:
		return hfs_err_set(err, -e, "%s: no such file or device", path);
	case EACCES:
	case EPERM:
		return hfs_err_set(err, -e,
				   "%s: permission denied opening for %s; run as root or fix its mode",
				   path, ro ? "reading" : "writing");
	case EISDIR:
		return not_region(path, S_IFDIR, err);
	case EROFS:
		return hfs_err_set(err, -e,
				   "%s: read-only filesystem; open it read-only",
				   path);
	default:
		return hfs_err_set(err, -e, "%s: cannot open: %s", path,
				   strerror(e));
	}
}

/* O_NONBLOCK so a FIFO or odd device cannot hang the open; it is cleared
 * again once the node is known to be a region. */
static int region_open_fd(struct hfs_region *rg, struct stat *st,
			  struct hfs_err *err)
{
	int flags = (rg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;

	rg->fd = open(rg->path, flags);
	if (rg->fd < 0)
		return open_fail(rg->path, rg->readonly, err);
	if (fstat(rg->fd, st))
		return hfs_err_set(err, -errno, "%s: cannot stat: %s", rg->path,
				   strerror(errno));
	if (!S_ISREG(st->st_mode) && !S_ISCHR(st->st_mode))
		return not_region(rg->path, st->st_mode, err);
	if (fcntl(rg->fd, F_SETFL, 0))
		return hfs_err_set(err, -errno, "%s: fcntl: %s", rg->path,
				   strerror(errno));
	return 0;
}

/* Set kind, devname, size and align from the node and (devdax) sysfs. */
static int region_classify(struct hfs_region *rg, const struct stat *st,
			   const char *root, struct hfs_err *err)
{
	struct hfs_devdax_info info;
	int ret;

	if (S_ISREG(st->st_mode)) {
		rg->kind = HFS_REGION_FILE;
		rg->size = (uint64_t)st->st_size;
		rg->align = FILE_ALIGN;
		return 0;
	}
	hfs_devdax_name(root, rg->path, st->st_rdev, rg->devname,
		    sizeof(rg->devname));
	if (!rg->devname[0])
		return not_region(rg->path, st->st_mode, err);
	rg->kind = HFS_REGION_DEVDAX;
	ret = hfs_devdax_probe(root, rg->devname, &info, err);
	if (ret)
		return ret;
	if (!info.bound)
		return hfs_err_set(err, -ENXIO,
				   "%s: %s is disabled (no driver bound); run 'daxctl enable-device %s'",
				   rg->path, rg->devname, rg->devname);
	rg->size = info.size;
	rg->align = info.align;
	return 0;
}


/* flock is per open file description, so it also refuses a second open
 * of the region within this process.  Writers take it exclusive; readers
 * (a read-only mount) take it shared, so no writer can take over a region
 * a read-only daemon serves, while several readers may share it. */
static int region_lock(struct hfs_region *rg, struct hfs_err *err)
{
	char who[256];
	struct stat st;

	if (!flock(rg->fd, (rg->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK)
		return hfs_err_set(err, -errno, "%s: cannot lock: %s", rg->path,
				   strerror(errno));
	if (fstat(rg->fd, &st) ||
	    hfs_region_holder_of(st.st_dev, st.st_ino, who, sizeof(who)) <= 0)
		snprintf(who, sizeof(who), "another process");
	return hfs_err_set(err, -EBUSY,
			   "%s: held by %s; unmount it or stop that process first",
			   rg->path, who);
}

static const char *granularity_name(enum pmem2_granularity g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE:
		return "byte";
	case PMEM2_GRANULARITY_CACHE_LINE:
		return "cache line";
	default:
		return "page";
	}
}

static uint32_t page_bytes(void)
{
	long v = sysconf(_SC_PAGESIZE);

	return v > 0 ? (uint32_t)v : 4096;
}

/* size comes from the mapping: for a file it may have changed since
 * fstat, and for devdax libpmem2 read the real device, not a fake tree. */
void hfs_region_fill_ops(struct hfs_region *rg, struct pmem2_map *map)
{
	rg->base = pmem2_map_get_address(map);
	rg->size = pmem2_map_get_size(map);
	rg->granularity =
		granularity_name(pmem2_map_get_store_granularity(map));
	rg->flush_unit = pmem2_map_get_store_granularity(map) ==
					 PMEM2_GRANULARITY_PAGE
				 ? page_bytes()
				 : 64;
	rg->ops.persist = pmem2_get_persist_fn(map);
	rg->ops.flush = pmem2_get_flush_fn(map);
	rg->ops.drain = pmem2_get_drain_fn(map);
	rg->ops.memcpy = pmem2_get_memcpy_fn(map);
	rg->ops.memset = pmem2_get_memset_fn(map);
}

/* Map the whole source.  PAGE is the weakest granularity we accept, so
 * any file maps; libpmem2 reports what the mapping really offers. */
static int region_map(struct hfs_region *rg, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	int ret;

	ret = pmem2_source_from_fd(&p->src, rg->fd);
	if (ret)
		return hfs_pmem2_fail(err, ret, rg->path, "cannot use as a region");
	return hfs_region_map_at(rg, NULL, 0, err);
}

/* (Re)map the source, inside rsv at off when rsv is not NULL (a member
 * of a volume, region_members.c). */
int hfs_region_map_at(struct hfs_region *rg, struct pmem2_vm_reservation *rsv,
		      uint64_t off, struct hfs_err *err)
{
	struct region_priv *p = rg->priv;
	struct pmem2_config *cfg = NULL;
	int ret;

	if (p->map)
		pmem2_map_delete(&p->map);
	ret = pmem2_config_new(&cfg);
	if (!ret && rsv)
		ret = pmem2_config_set_vm_reservation(cfg, rsv, off);
	if (!ret)
		ret = pmem2_config_set_required_store_granularity(
			cfg, PMEM2_GRANULARITY_PAGE);
	if (!ret && rg->readonly)
		ret = pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
	if (!ret && p->slice_len)
		ret = pmem2_config_set_offset(cfg, rg->slice_off);
	if (!ret && p->slice_len)
		ret = pmem2_config_set_length(cfg, p->slice_len);
	if (!ret)
		ret = pmem2_map_new(&p->map, cfg, p->src);
	if (ret)
		ret = hfs_pmem2_fail(err, ret, rg->path, "cannot map");
	if (cfg)
		pmem2_config_delete(&cfg);
	if (!ret)
		hfs_region_fill_ops(rg, p->map);
	return ret;
}

static struct hfs_region *region_alloc(const char *path)
{
	struct hfs_region *rg = calloc(1, sizeof(*rg));

	if (!rg)
		return NULL;
	rg->fd = -1;
	rg->path = strdup(path);
	rg->priv = calloc(1, sizeof(struct region_priv));
	if (!rg->path || !rg->priv) {
		hfs_region_close(rg);
		return NULL;
	}
	return rg;
}

static int region_setup(struct hfs_region *rg,
			const struct hfs_region_opts *opts, struct hfs_err *err)
{
	const char *root = hfs_region_sysfs_root(opts->sysfs_root);
	struct stat st;
	int ret;

	ret = region_open_fd(rg, &st, err);
	if (!ret)
		ret = region_classify(rg, &st, root, err);
	if (!ret && rg->size == 0)
		ret = hfs_err_set(err, -EINVAL, "%s: empty region (size 0); %s",
				  rg->path,
				  rg->kind == HFS_REGION_DEVDAX
					  ? "give the device a size with daxctl reconfigure-device"
					  : "create it with mkfs.holdfs --size");
	if (!ret && !opts->no_lock)
		ret = region_lock(rg, err);
	if (!ret)
		ret = region_map(rg, err);
	return ret;
}

int hfs_region_open_slice(const struct hfs_region *dev, uint64_t off,
			  uint64_t len, struct hfs_region **out,
			  struct hfs_err *err)
{
	struct hfs_region_opts opts = { .readonly = dev->readonly,
					.no_lock = true };
	struct hfs_region *rg;
	struct region_priv *p;
	struct stat st;
	int ret;

	*out = NULL;
	if (!len || off % dev->align || off > dev->size ||
	    len > dev->size - off)
		return hfs_err_set(err, -EINVAL, "%s: bytes %#" PRIx64 "+%#"
				   PRIx64 " are not a slice of the device",
				   dev->path, off, len);
	rg = region_alloc(dev->path);
	if (!rg)
		return hfs_err_set(err, -ENOMEM, "%s: out of memory", dev->path);
	rg->readonly = opts.readonly;
	ret = region_open_fd(rg, &st, err);
	if (!ret)
		ret = region_classify(rg, &st, hfs_region_sysfs_root(NULL),
				      err);
	p = rg->priv;
	if (!ret)
		ret = pmem2_source_from_fd(&p->src, rg->fd)
			      ? hfs_err_set(err, -EINVAL, "%s: cannot use as a "
					    "region", rg->path)
			      : 0;
	if (!ret) {
		rg->slice_off = off;
		p->slice_len = len;
		ret = hfs_region_map_at(rg, NULL, 0, err);
	}
	if (ret) {
		hfs_region_close(rg);
		return ret;
	}
	*out = rg;
	return 0;
}

int hfs_region_open(const char *path, const struct hfs_region_opts *opts,
		    struct hfs_region **out, struct hfs_err *err)
{
	static const struct hfs_region_opts defaults;
	struct hfs_region *rg;
	int ret;

	if (!path || !*path || !out)
		return hfs_err_set(err, -EINVAL, "region path missing");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	rg = region_alloc(path);
	if (!rg)
		return hfs_err_set(err, -ENOMEM, "%s: out of memory", path);
	rg->readonly = opts->readonly;
	ret = region_setup(rg, opts, err);
	if (ret) {
		hfs_region_close(rg);
		return ret;
	}
	*out = rg;
	return 0;
}

void hfs_region_close(struct hfs_region *rg)
{
	struct region_priv *p;

	if (!rg)
		return;
	p = rg->priv;
	hfs_region_mirror_free(rg);
	/* members first: their mappings live in member 0's reservation */
	hfs_region_members_free(rg);
	if (p && p->map)
		pmem2_map_delete(&p->map);
	if (p && p->rsv)
		pmem2_vm_reservation_delete(&p->rsv);
	if (p && p->src)
		pmem2_source_delete(&p->src);
	if (rg->fd >= 0)
		close(rg->fd); /* drops the ownership flock */
	free(p);
	free(rg->path);
	free(rg);
}

/* --- creation, memory regions, health --------------------------------- */

static int exists_fail(const char *path, struct hfs_err *err)
{
	return hfs_err_set(err, -EEXIST,
			   "%s: already exists and is not an empty file; remove it or choose another path",
			   path);
}

/* An existing empty regular file may be extended (a prepared path).
 * O_NOFOLLOW: never extend whatever a symlink points at. */
static int open_existing_empty(const char *path, struct hfs_err *err)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 && (errno == EISDIR || errno == ELOOP))
		return exists_fail(path, err);
	if (fd < 0)
		return open_fail(path, false, err);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size != 0) {
		close(fd);
		return exists_fail(path, err);
	}
	return fd;
}

int hfs_region_create_file(const char *path, uint64_t size,
			   struct hfs_err *err)
{
	bool created = true;
	int fd;

	if (size == 0 || size > (uint64_t)INT64_MAX)
		return hfs_err_set(err, -EINVAL, "%s: invalid region size %" PRIu64,
				   path, size);
	/* 0600: whoever can read the region file reads every file in it. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open_existing_empty(path, err);
		if (fd < 0)
			return fd;
	} else if (fd < 0) {
		return open_fail(path, false, err);
	}
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;

		close(fd);
		if (created)
			unlink(path);
		return hfs_err_set(err, -e, "%s: cannot size to %" PRIu64 " bytes: %s",
				   path, size, strerror(e));
	}
	close(fd);
	return 0;
}

/* DRAM ops: stores become visible at a full fence; nothing to flush. */
static void mem_flush(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
}

static void mem_drain(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void mem_persist(const void *addr, size_t len)
{
	mem_flush(addr, len);
	mem_drain();
}

static void *mem_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	memcpy(dst, src, len);
	if (!(flags & PMEM2_F_MEM_NODRAIN))
		mem_drain();
	return dst;
}

static void *mem_memset(void *dst, int c, size_t len, unsigned flags)
{
	memset(dst, c, len);
	if (!(flags & PMEM2_F_MEM_NODRAIN))
		mem_drain();
	return dst;
}

int hfs_region_from_memory(void *base, uint64_t size, struct hfs_region **out)
{
	struct hfs_region *rg;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!base || size == 0)
		return -EINVAL;
	rg = calloc(1, sizeof(*rg));
	if (!rg)
		return -ENOMEM;
	rg->path = strdup("(memory)"); /* messages name rg->path */
	if (!rg->path) {
		free(rg);
		return -ENOMEM;
	}
	rg->kind = HFS_REGION_MEMORY;
	rg->fd = -1;
	rg->base = base;
	rg->size = size;
	rg->align = FILE_ALIGN;
	rg->granularity = "byte";
	rg->flush_unit = 64;
	rg->ops = (struct hfs_pmem_ops){ mem_persist, mem_flush, mem_drain,
					 mem_memcpy, mem_memset };
	*out = rg;
	return 0;
}

/* libpmem2 finds badblocks through the nd region under the source.  A
 * plain file on a non-pmem filesystem has none: libpmem2 reports "no
 * matching device" (NO_BAD_BLOCK_FOUND) or, built without ndctl, NOSUPP.
 * Both mean "nothing known bad" for a regular file, so 0 and no
 * callbacks; for devdax NOSUPP stays -ENOTSUP (we cannot tell). */
int hfs_region_badblocks(struct hfs_region *rg,
			 int (*cb)(void *ctx, uint64_t off, uint64_t len),
			 void *ctx)
{
	struct region_priv *p = rg->priv;
	struct pmem2_badblock_context *bbctx = NULL;
	struct pmem2_badblock bb;
	int ret;

	if (rg->kind == HFS_REGION_MEMORY || !p || !p->src)
		return 0;
	ret = pmem2_badblock_context_new(&bbctx, p->src);
	if (ret == PMEM2_E_NOSUPP && rg->kind == HFS_REGION_FILE)
		return 0;
	if (ret)
		return pmem2_errno(ret);
	while ((ret = pmem2_badblock_next(bbctx, &bb)) == 0) {
		/* The whole source is mapped at offset 0: source offsets
		 * are region offsets.  Clip to what is mapped. */
		if (bb.offset >= rg->size)
			continue;
		if (bb.length > rg->size - bb.offset)
			bb.length = rg->size - bb.offset;
		if (cb(ctx, bb.offset, bb.length))
			break;
	}
	pmem2_badblock_context_delete(&bbctx);
	return ret == 0 || ret == PMEM2_E_NO_BAD_BLOCK_FOUND ? 0
							  : pmem2_errno(ret);
}

/* Device loss shows first as SIGBUS; this cheap probe confirms it. */
/* One device: size is what it must still hold. */
static int device_backed(const struct hfs_region *rg, uint64_t size)
{
	struct stat st;
	void *p;

	if (rg->kind == HFS_REGION_MEMORY)
		return 0;
	if (rg->kind == HFS_REGION_FILE) {
		if (fstat(rg->fd, &st))
			return -errno;
		return (uint64_t)st.st_size < rg->slice_off + size ? -ENXIO : 0;
	}
	/* A disabled or removed device-dax refuses new mappings (ENXIO). */
	p = mmap(NULL, rg->align, PROT_READ, MAP_SHARED, rg->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	munmap(p, rg->align);
	return 0;
}

int hfs_region_check_member_backing(const struct hfs_region *rg, unsigned i)
{
	const struct hfs_region *m;

	/* device 0 served from its mirror: what its metadata range needs
	 * is the mirror's device (its data range is failed already) */
	if (i == 0 && hfs_region_failed_over(rg))
		i = (unsigned)hfs_region_failed_over(rg);
	m = hfs_region_member(rg, i);

	return m ? device_backed(m, hfs_region_member_size(rg, i)) : 0;
}

/* A volume of several devices: -ENXIO if any of them is gone. */
int hfs_region_check_backing(const struct hfs_region *rg)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < hfs_region_nmembers(rg); i++)
		ret = hfs_region_check_member_backing(rg, i);
	return ret;
}

/*
 * Whoever can read the region reads every file on it, whatever the
 * files' own modes; whoever can write it can change any of them (and
 * the metadata).  So a region others can reach is refused unless the
 * caller says it means it (holdfs -o unsafe_region_mode, mkfs.holdfs
 * --unsafe-region-mode).
 */
int hfs_region_check_private(const struct hfs_region *rg, uid_t uid,
			     struct hfs_err *err)
{
	const char *what = rg->kind == HFS_REGION_DEVDAX ? "device" : "file";
	struct stat st;

	if (rg->fd < 0)
		return 0; /* memory: the caller's own */
	if (fstat(rg->fd, &st) < 0)
		return hfs_err_set(err, -errno, "%s: %s", rg->path,
				   strerror(errno));
	if (st.st_mode & (S_IRWXG | S_IRWXO) & 0666)
		return hfs_err_set(err, -EPERM, "%s: %s mode %04o lets users "
				   "other than its owner %s every file's data; "
				   "chmod 600 %s (or say it is intended: "
				   "unsafe region mode, see --help)",
				   rg->path, what, (unsigned)(st.st_mode & 07777),
				   st.st_mode & (S_IWGRP | S_IWOTH)
					   ? "read and change" : "read",
				   rg->path);
	if (st.st_uid != 0 && st.st_uid != uid)
		return hfs_err_set(err, -EPERM, "%s: %s owned by uid %u, who "
				   "can read and change every file's data; "
				   "chown it to root or to uid %u (or say it "
				   "is intended: unsafe region mode, see "
				   "--help)", rg->path, what,
				   (unsigned)st.st_uid, (unsigned)uid);
	return 0;
}
