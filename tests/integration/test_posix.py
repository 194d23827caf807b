#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every posix_ops check on a freshly made and mounted holdfs, plus mount
lifecycle checks (ro, umount(8), daemonized mount, SIGTERM, no leaks).

By default the posix_ops checks ALSO run on a private tmpfs first, as the
calibration: a check that fails on tmpfs is a broken check, not a holdfs bug.

    HOLDFS_BUILD=build python3 tests/integration/test_posix.py [--no-tmpfs]
        [--no-holdfs] [-k NAME] [-x] [--list]

Test names are tmpfs/<check>, holdfs/<check> and holdfs-mount/<check>.
"""

import errno
import os
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
import posix_ops  # noqa: E402
from hfstest import check, check_eq, expect_errno, fail  # noqa: E402

REGION_SIZE = '1G'      # sparse; the posix checks write a few tens of MiB


_baseline = {}


def _new_holdfs():
    fs = H.HoldFS(size=REGION_SIZE)
    sv = os.statvfs(fs.mnt)
    _baseline['statvfs'] = sv
    _baseline['root_blocks'] = os.stat(fs.mnt).st_blocks
    _baseline['root'] = sorted(os.listdir(fs.mnt))
    return fs


holdfs = H.Lazy('holdfs mount', _new_holdfs)
tmpfs = H.Lazy('tmpfs mount', lambda: H.Tmpfs(size='16g'))


def holdfs_after_all_checks():
    """The posix checks removed everything they made: after a clean unmount
    and a remount, the root holds what it held when new, and statfs shows
    the free blocks and inodes of a new filesystem (nothing leaked: no
    orphan inodes, no lost extents)."""
    fs = holdfs.get()
    leftovers = sorted(set(os.listdir(fs.mnt)) - set(_baseline['root']))
    fs.unmount(check_clean=True)
    fs.mount()
    check_eq(sorted(os.listdir(fs.mnt)), sorted(_baseline['root'] + leftovers),
             'root directory after remount')
    for name in leftovers:          # a failed check left these; clean, then compare
        p = fs.path(name)
        if os.path.isdir(p) and not os.path.islink(p):
            import shutil
            shutil.rmtree(p)
        else:
            os.unlink(p)
    if leftovers:
        fs.remount()
    sv0 = _baseline['statvfs']
    # a directory may keep the blocks its entry table grew to (ext4 never
    # shrinks directories either): the root's own growth is not a leak
    grown = (os.stat(fs.mnt).st_blocks - _baseline['root_blocks']) * 512 // sv0.f_frsize
    deadline = time.monotonic() + 5
    while True:
        sv = os.statvfs(fs.mnt)
        if (sv.f_bfree + grown, sv.f_ffree) == (sv0.f_bfree, sv0.f_ffree) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check_eq(sv.f_blocks, sv0.f_blocks, 'f_blocks after all checks and a remount')
    check_eq(sv.f_bfree + grown, sv0.f_bfree,
             'f_bfree (+ %d blocks the root directory grew by) after every check removed its files and a '
             'remount (leaked %d blocks of %d bytes)' % (grown, sv0.f_bfree - sv.f_bfree - grown, sv.f_frsize))
    check_eq(sv.f_ffree, sv0.f_ffree, 'f_ffree after every check removed its files and a remount '
             '(leaked inodes)')
    fs.unmount(check_clean=True)
    holdfs.close()


def tmpfs_done():
    tmpfs.close()


# ---------------------------------------------------------------------------
# mount lifecycle (each with its own region)


def test_mount_ro():
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('f'), b'persisted')
        os.mkdir(fs.path('dir'))
        os.setxattr(fs.path('f'), 'user.a', b'1')
        fs.unmount()
        fs.mount(opts=H.DEFAULT_MOUNT_OPTS + ('ro',))
        check('ro' in H.mount_entry(fs.mnt)['options'].split(','), 'mount options lack ro: %s'
              % H.mount_entry(fs.mnt)['options'])
        check_eq(H.read_file(fs.path('f')), b'persisted', 'reading on a ro mount')
        check_eq(os.getxattr(fs.path('f'), 'user.a'), b'1', 'getxattr on a ro mount')
        check(os.statvfs(fs.mnt).f_flag & os.ST_RDONLY, 'statvfs f_flag lacks ST_RDONLY')
        E = errno.EROFS
        expect_errno(E, os.open, fs.path('new'), os.O_CREAT | os.O_WRONLY, 0o644)
        expect_errno(E, os.open, fs.path('f'), os.O_WRONLY)
        expect_errno(E, os.mkdir, fs.path('d2'))
        expect_errno(E, os.unlink, fs.path('f'))
        expect_errno(E, os.rmdir, fs.path('dir'))
        expect_errno(E, os.rename, fs.path('f'), fs.path('g'))
        expect_errno(E, os.symlink, 'x', fs.path('l'))
        expect_errno(E, os.link, fs.path('f'), fs.path('h'))
        expect_errno(E, os.chmod, fs.path('f'), 0o600)
        expect_errno(E, os.chown, fs.path('f'), 1, 1)
        expect_errno(E, os.utime, fs.path('f'), None)
        expect_errno(E, os.truncate, fs.path('f'), 0)
        expect_errno(E, os.setxattr, fs.path('f'), 'user.b', b'2')
        expect_errno(E, os.removexattr, fs.path('f'), 'user.a')
        expect_errno(E, os.mkfifo, fs.path('p'))
        fs.unmount()
        fs.mount(opts=H.DEFAULT_MOUNT_OPTS)
        check_eq(H.read_file(fs.path('f')), b'persisted', 'content after a ro mount and a rw remount')
        H.write_file(fs.path('f'), b'rw again')
        check_eq(H.read_file(fs.path('f')), b'rw again', 'writing after the ro mount')



URING_PARAM = '/sys/module/fuse/parameters/enable_uring'


def test_io_uring_transport():
    """-o io_uring: requests through FUSE over io_uring (fs/fuse_uring.c),
    with the same answers, its queue threads waiting in io_uring_enter.
    Needs the fuse module's enable_uring
    (set here for the test, restored after)."""
    if not os.path.exists(URING_PARAM):
        H.cannot_run('this kernel has no FUSE over io_uring (%s missing)' % URING_PARAM)
    with open(URING_PARAM) as f:
        old = f.read().strip()
    try:
        with open(URING_PARAM, 'w') as f:
            f.write('Y')
        with H.HoldFS(size='64M', mount_opts=H.DEFAULT_MOUNT_OPTS + ('io_uring',)) as fs:
            data = os.urandom(3 * 1024 * 1024 + 123)
            H.write_file(fs.path('f'), data, fsync=True)
            check_eq(H.read_file(fs.path('f')), data, 'a 3 MiB file read back over io_uring')
            os.mkdir(fs.path('d'))
            for i in range(200):
                H.write_file(fs.path('d/f%d' % i), b'%d' % i)
            check_eq(sorted(os.listdir(fs.path('d'))), sorted('f%d' % i for i in range(200)),
                     'a directory of 200 files listed over io_uring')
            os.rename(fs.path('d/f7'), fs.path('g'))
            check_eq(H.read_file(fs.path('g')), b'7', 'a renamed file')
            for i in range(200):
                if i != 7:
                    os.unlink(fs.path('d/f%d' % i))
            os.rmdir(fs.path('d'))
            expect_errno(errno.ENOENT, os.stat, fs.path('d'))
            # the queue threads wait in io_uring_enter (x86-64: 426)
            waiting = 0
            for t in os.listdir('/proc/%d/task' % fs.proc.pid):
                try:
                    with open('/proc/%d/task/%s/syscall' % (fs.proc.pid, t)) as f:
                        waiting += f.read().split()[0] == '426'
                except OSError:
                    pass
            check(waiting >= 1, 'no daemon thread waits in io_uring_enter')
            log = fs.daemon_log()
            check('FUSE over io_uring' in log, 'the daemon did not start its io_uring queues; log:\n' + log)
            fs.unmount(check_clean=True)
            fs.mount(opts=H.DEFAULT_MOUNT_OPTS)
            check_eq(H.read_file(fs.path('f')), data, 'the file after a remount without io_uring')
    finally:
        with open(URING_PARAM, 'w') as f:
            f.write(old)


def test_umount_command_stops_daemon():
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('f'), b'x', fsync=True)
        fs.unmount(check_clean=True, method='umount')     # umount(8), daemon exits 0
        fs.mount()
        check_eq(H.read_file(fs.path('f')), b'x', 'file after umount(8) and remount')


def test_daemonized_mount():
    """Without -f the daemon detaches: the command returns 0 once the mount
    is usable, and fusermount3 -u makes the detached daemon exit."""
    with H.HoldFS(size='64M', mount=False) as fs:
        cmd = fs.daemon_cmd(foreground=False)
        t0 = time.monotonic()
        r = H.run(cmd, timeout=H.MOUNT_TIMEOUT + 5)
        dt = time.monotonic() - t0
        check_eq(r.returncode, 0, 'exit status of a daemonizing mount (stderr: %s)' % r.stderr.strip())
        check(H.is_mounted(fs.mnt), 'holdfs returned 0 but %s is not mounted' % fs.mnt)
        H.write_file(fs.path('f'), b'daemonized')
        check_eq(H.read_file(fs.path('f')), b'daemonized', 'I/O on a daemonized mount')
        pids = H._pids_with_arg(fs.region)
        check(len(pids) == 1, 'expected one detached daemon for the region, found %s' % pids)
        r = H.run(['fusermount3', '-u', fs.mnt])
        check_eq(r.returncode, 0, 'fusermount3 -u exit status (%s)' % r.stderr.strip())
        deadline = time.monotonic() + H.UNMOUNT_TIMEOUT
        while any(H._pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(not any(H._pid_alive(p) for p in pids),
              'the detached daemon %s did not exit within %.0f s of fusermount3 -u'
              % (pids, H.UNMOUNT_TIMEOUT))
        H.note('daemonizing mount returned after %.2f s' % dt)


def test_sigterm_unmounts():
    """SIGTERM (systemctl stop, shutdown): the daemon unmounts and exits by
    itself (not killed by the signal), leaving no dead mount behind."""
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('f'), b'before sigterm')
        os.kill(fs.proc.pid, signal.SIGTERM)
        try:
            rc = fs.proc.wait(timeout=H.UNMOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            fail('daemon did not exit within %.0f s of SIGTERM' % H.UNMOUNT_TIMEOUT)
        fs.proc = None
        still = H.is_mounted(fs.mnt)
        if still:
            H.unmount_path(fs.mnt)
        check(rc is not None and rc >= 0,
              'daemon was killed by SIGTERM (%s) instead of handling it' % H._rc_desc(rc))
        check(not still, 'the daemon exited on SIGTERM but left its (dead) mount behind')
        H.note('daemon exit after SIGTERM: %s' % H._rc_desc(rc))
        fs.mount()
        check_eq(H.read_file(fs.path('f')), b'before sigterm', 'file after SIGTERM and remount')


def test_mount_in_use_unmount_busy():
    """fusermount3 -u on a mount with an open file is refused (EBUSY) and the
    daemon keeps serving; once closed, the unmount is clean."""
    with H.HoldFS(size='64M') as fs:
        fd = os.open(fs.path('f'), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            r = H.run(['fusermount3', '-u', fs.mnt])
            check(r.returncode != 0, 'fusermount3 -u succeeded with a file open on the mount')
            check(H.is_mounted(fs.mnt), 'mount gone after a refused unmount')
            os.write(fd, b'still served')
            check(fs.proc.poll() is None, 'daemon exited after a refused unmount')
        finally:
            os.close(fd)
        fs.unmount(check_clean=True)


def test_root_dir_attributes():
    """A new filesystem's root: a directory,
    owned by root, nlink 2, '.' and '..' listed, ino stable across mounts."""
    with H.HoldFS(size='64M') as fs:
        st = os.stat(fs.mnt)
        check(stat.S_ISDIR(st.st_mode), 'root is not a directory')
        check_eq((st.st_uid, st.st_gid), (0, 0), 'owner of the root of a new filesystem')
        check_eq(st.st_nlink, 2 + sum(1 for e in os.scandir(fs.mnt) if e.is_dir(follow_symlinks=False)),
                 'nlink of the root')
        names = [n for n, i, t in posix_ops.raw_listdir(fs.mnt)]
        check('.' in names and '..' in names, "root lacks '.' or '..': %s" % names)
        os.mkdir(fs.path('d'))
        check_eq(os.stat(fs.mnt).st_nlink, st.st_nlink + 1, 'root nlink after mkdir')
        ino = os.stat(fs.path('d')).st_ino
        fs.remount()
        check_eq(os.stat(fs.path('d')).st_ino, ino, 'inode number of a dir across a remount')
        check_eq(os.stat(fs.mnt).st_nlink, st.st_nlink + 1, 'root nlink after remount')


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    ap.add_argument('--no-tmpfs', action='store_true', help='skip the tmpfs calibration run')
    ap.add_argument('--no-holdfs', action='store_true', help='run only the tmpfs calibration')
    args = ap.parse_args()
    cases = []
    if not args.no_tmpfs:
        cases += posix_ops.make_cases(lambda: tmpfs.get().mnt, prefix='tmpfs/')
        cases.append(H.Case('tmpfs/unmount', tmpfs_done))
    if not args.no_holdfs:
        cases += posix_ops.make_cases(lambda: holdfs.get().mnt, prefix='holdfs/')
        cases.append(H.Case('holdfs/no_leaks_after_remount', holdfs_after_all_checks))
        for c in H.collect(globals()):
            c.name = 'holdfs-mount/' + c.name
            cases.append(c)
    H.run_tests(cases, args, header='# test_posix: HOLDFS_BUILD=%s, regions in %s'
                % (H.build_dir(), H.region_base()))


if __name__ == '__main__':
    main()
