/* SPDX-License-Identifier: MIT */
/*
 * The control socket's names: /run/holdfs/<uuid>.sock and the discovery
 * symlink /run/holdfs/dev/<major>:<minor> (docs/lease-protocol.md,
 * "Transport").
 *
 * Several daemons share the directory, and daemons that died leave their
 * names behind, so every change to it happens under one lock, an flock
 * of /run/holdfs/.lock (root-only, like the directory):
 *
 *  - the sweep removes a socket only when nothing listens on it
 *    (ECONNREFUSED).  A daemon between bind() and listen() refuses
 *    connections too; it holds the lock for that window, so no sweep can
 *    take its fresh socket;
 *  - FUSE device numbers are reused: a daemon that exits after its mount
 *    is gone may find that a newer mount published the same
 *    <major>:<minor>.  It removes the symlink only if it still points at
 *    its own socket, and its socket only if the name is still the inode
 *    it bound.
 *
 * Waiting for the lock is bounded (HFSD_CTL_LOCK_MS); a daemon that
 * cannot get it skips the sweep (its own names are uuid-unique) and says
 * so, rather than hang at mount.
 */
#include "ctl_socket.h"
#include "deadline.h"
#include "mountpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <holdfs/proto.h>

#define LOCK_PATH HFS_CTL_DIR "/.lock"

/* The directory lock, or -1 (logged) when it could not be taken within
 * HFSD_CTL_LOCK_MS. */
static int dir_lock(const char *why)
{
	int fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	struct timespec nap = { 0, 10 * 1000000L };

	if (fd < 0) {
		hfsd_log(LOG_WARNING, "control: %s: %s", LOCK_PATH,
			 strerror(errno));
		return -1;
	}
	for (unsigned waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0;
	     waited += 10) {
		if (errno != EWOULDBLOCK || waited >= HFSD_CTL_LOCK_MS) {
			hfsd_log(LOG_WARNING, "control: cannot lock %s (%s) "
				 "to %s; going on without it", LOCK_PATH,
				 errno == EWOULDBLOCK ? "held too long"
						      : strerror(errno), why);
			close(fd);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return fd;
}

static void dir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static int make_dirs(void)
{
	if (mkdir(HFS_CTL_DIR, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mkdir(HFS_CTL_DIR "/dev", 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Does anything listen on the socket at path?  ECONNREFUSED/ENOENT: no. */
static int probe(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0), r;

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	close(fd);
	return r;
}

/* Remove what daemons that died left behind: sockets nobody listens on
 * and symlinks to missing or dead sockets.  Under the directory lock. */
static void sweep_stale(void)
{
	static const char *const dirs[] = { HFS_CTL_DIR, HFS_CTL_DIR "/dev" };

	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
			int r;

			if (de->d_name[0] == '.' ||
			    (de->d_type != DT_SOCK && de->d_type != DT_LNK))
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
					     dirs[i], de->d_name) >= sizeof(path))
				continue;
			r = probe(path);
			if (r == -ECONNREFUSED || r == -ENOENT)
				unlink(path);
		}
		closedir(d);
	}
}

static int bind_listen(struct hfsd_ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char hex[33];

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->uuid[i]);
	snprintf(c->sock_path, sizeof(c->sock_path), HFS_CTL_DIR "/%s.sock",
		 hex);
	if (probe(c->sock_path) == 0) {
		hfsd_log(LOG_WARNING, "control: %s is served by another "
			 "daemon (same filesystem uuid); using a per-pid name",
			 c->sock_path);
		snprintf(c->sock_path, sizeof(c->sock_path),
			 HFS_CTL_DIR "/%s.%d.sock", hex, (int)getpid());
	}
	unlink(c->sock_path); /* stale: nothing listens (or per-pid) */
	c->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->sock_path);
	if (bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    lstat(c->sock_path, &st) < 0)
		return -1;
	c->sock_dev = st.st_dev;
	c->sock_ino = st.st_ino;
	/* everyone may connect; who may do what is decided per message
	 * (SO_PEERCRED) and per uid (ctl_admit.c) */
	if (chmod(c->sock_path, 0666) < 0 || listen(c->lfd, 128) < 0)
		return -1;
	return 0;
}

int hfsd_ctl_socket_open(struct hfsd_ctl *c)
{
	int lk, r = -1, e;

	if (make_dirs() < 0)
		return -1;
	lk = dir_lock("sweep and bind");
	if (lk >= 0)
		sweep_stale();
	r = bind_listen(c);
	e = errno;
	dir_unlock(lk);
	errno = e;
	return r;
}

void hfsd_ctl_socket_publish(struct hfsd_ctl *c)
{
	dev_t dev;
	int lk;

	if (hfsd_mount_dev(c->mnt, &dev) < 0) {
		hfsd_log(LOG_ERR, "control: %s not in /proc/self/mountinfo; "
			 "DAX leases disabled", c->mnt);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->mnt_dev = dev;
	c->mnt_dev_ok = true;
	pthread_mutex_unlock(&c->lock);
	snprintf(c->dev_link, sizeof(c->dev_link), HFS_CTL_DIR "/dev/%u:%u",
		 major(dev), minor(dev));
	lk = dir_lock("publish the discovery link");
	unlink(c->dev_link); /* a dead mount's: the number is ours now */
	if (symlink(c->sock_path, c->dev_link) < 0) {
		hfsd_log(LOG_ERR, "control: symlink %s: %s", c->dev_link,
			 strerror(errno));
		c->dev_link[0] = '\0';
	}
	dir_unlock(lk);
}

void hfsd_ctl_socket_remove(struct hfsd_ctl *c)
{
	char target[sizeof(c->sock_path) + 1];
	struct stat st;
	ssize_t n;
	int lk = dir_lock("remove the control socket");

	if (c->dev_link[0]) {
		n = readlink(c->dev_link, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			if (!strcmp(target, c->sock_path))
				unlink(c->dev_link);
		}
	}
	if (c->sock_path[0] && lstat(c->sock_path, &st) == 0 &&
	    st.st_dev == c->sock_dev && st.st_ino == c->sock_ino)
		unlink(c->sock_path);
	dir_unlock(lk);
}
