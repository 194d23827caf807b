/* SPDX-License-Identifier: MIT */
/*
 * The FUSE handler table, and the connection setup (init) that decides
 * which kernel features the mount uses.
 */
#include "daemon.h"

/*
 * Capabilities, decided once per mount.  libfuse 3 turns several on by
 * default when the kernel offers them; the ones below are switched off
 * explicitly because they would change what the volume promises:
 *
 * - WRITEBACK_CACHE: writes would sit in the page cache until writeback,
 *   so write(2) could return before the data is persistent.  holdfs is
 *   write-through.
 * - ATOMIC_O_TRUNC: open(O_TRUNC) then arrives as a separate setattr,
 *   keeping truncation in one code path (the volume's setattr).
 * - HANDLE_KILLPRIV (v1): would make us clear setuid/setgid on every
 *   write without telling us whether the caller holds CAP_FSETID.  Its
 *   successor, FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 does not
 *   name, is negotiated by the transport hooks instead (fs/fuse_io.c):
 *   it carries that bit, spares each write(2) the kernel's
 *   GETXATTR(security.capability) probe, and leaves the whole rule to
 *   the handlers (fs/killpriv.c), which apply the kernel's current one
 *   either way (without V2 the kernel kills by an older rule first).
 */
static const unsigned hfsd_caps_off =
	FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC |
	FUSE_CAP_HANDLE_KILLPRIV;

/* Wanted where the kernel offers them: concurrent reads and directory
 * operations (the volume is thread-safe), readdirplus (the volume hands
 * out attributes with entries; AUTO lets the kernel use it only when it
 * pays), cached symlink targets (a symlink never changes), and file
 * handles that outlive the kernel's inode cache and a restart of the
 * daemon (EXPORT_SUPPORT: node ids are inode numbers with a generation,
 * and "." / ".." of any node id are answered, hfs_lookup; NFS export and
 * open_by_handle_at, docs/nfs.md). */
static const unsigned hfsd_caps_on =
	FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
	FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
	FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_EXPORT_SUPPORT |
	FUSE_CAP_IOCTL_DIR; /* chattr on directories (fs/ops_ioctl.c) */

/* POSIX ACLs (docs/semantics.md): the kernel checks access against them
 * (with default_permissions) and caches them; the volume stores them as
 * system.posix_acl_* xattrs, keeps the mode bits in step, and does the
 * inheritance at create, which needs the umask unapplied (DONT_MASK: the
 * volume applies it when the parent has no default ACL).  Both or
 * neither. */
static const unsigned hfsd_caps_acl = FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;

static void hfsd_init(void *userdata, struct fuse_conn_info *conn)
{
	struct hfsd *d = userdata;

	conn->want &= ~(hfsd_caps_off | hfsd_caps_acl);
	conn->want |= conn->capable & hfsd_caps_on;
	if ((conn->capable & hfsd_caps_acl) == hfsd_caps_acl) {
		conn->want |= hfsd_caps_acl;
		d->acl = true;
	} else {
		hfsd_log(LOG_WARNING, "the kernel offers no POSIX ACLs to "
			 "FUSE (capable 0x%x): mode bits only", conn->capable);
	}
	/* libfuse clamps this to its receive buffer (1 MiB in 3.14) and
	 * negotiates max_pages with the kernel from it. */
	conn->max_write = HFSD_MAX_IO;
	/* Timestamps are kept in nanoseconds. */
	conn->time_gran = 1;
	if (d->debug)
		hfsd_log(LOG_DEBUG, "init: kernel protocol %u.%u, capable "
			 "0x%x, want 0x%x, max_write %u", conn->proto_major,
			 conn->proto_minor, conn->capable, conn->want,
			 conn->max_write);
}

const struct fuse_lowlevel_ops hfsd_ops = {
	.init = hfsd_init,
	.lookup = hfsd_lookup,
	.forget = hfsd_forget,
	.forget_multi = hfsd_forget_multi,
	.getattr = hfsd_getattr,
	.setattr = hfsd_setattr,
	.readlink = hfsd_readlink,
	.mknod = hfsd_mknod,
	.mkdir = hfsd_mkdir,
	.symlink = hfsd_symlink,
	.link = hfsd_link,
	.unlink = hfsd_unlink,
	.rmdir = hfsd_rmdir,
	.rename = hfsd_rename,
	.create = hfsd_create,
	.open = hfsd_open,
	.release = hfsd_release,
	.read = hfsd_read,
	.write = hfsd_write,
	.flush = hfsd_flush,
	.fsync = hfsd_fsync,
	.fallocate = hfsd_fallocate,
	.lseek = hfsd_lseek,
	.copy_file_range = hfsd_copy_file_range,
	.statfs = hfsd_statfs,
	.opendir = hfsd_opendir,
	.readdir = hfsd_readdir,
	.readdirplus = hfsd_readdirplus,
	.releasedir = hfsd_releasedir,
	.fsyncdir = hfsd_fsyncdir,
	.setxattr = hfsd_setxattr,
	.getxattr = hfsd_getxattr,
	.listxattr = hfsd_listxattr,
	.removexattr = hfsd_removexattr,
	.ioctl = hfsd_ioctl,
};
