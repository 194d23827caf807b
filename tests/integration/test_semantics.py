#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Linux filesystem semantics that test suites and tools notice: each check
observes one behaviour on a mount and returns it as a table, and the table
must equal the one measured on this kernel's own filesystems.

Every check runs on tmpfs and on ext4 (a loop device) first, as the
calibration: there the table must equal the expectation written below,
which was measured on them (Linux 6.18, Debian 12).  A calibration failure
means the kernel changed its rule or the check is broken, not that holdfs
is wrong; the holdfs run then says whether holdfs still matches the
kernel.  Where tmpfs and ext4 differ (tmpfs has no FALLOC_FL_ZERO_RANGE),
the expectation names the filesystem.

    HOLDFS_BUILD=build python3 tests/integration/test_semantics.py [-k NAME]

Test names are tmpfs/<check>, ext4/<check> and holdfs/<check>.
"""

import errno
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

GROUP_F = 4321       # the test files' group
GROUP_G = 4322       # another group, for chgrp


def fallocate(fd, mode, off, length):
    import ctypes
    if H.libc().fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def ename(e):
    """errno's name; EOPNOTSUPP rather than its alias ENOTSUP."""
    return 'EOPNOTSUPP' if e == errno.EOPNOTSUPP else H.errname(e)


def copy_file_range(fd_in, off_in, fd_out, off_out, length, flags=0):
    """The system call itself (os.copy_file_range has no flags and checks
    offsets itself): bytes copied, or OSError."""
    import ctypes
    c = H.libc()
    c.copy_file_range.restype = ctypes.c_ssize_t
    a, b = ctypes.c_longlong(off_in), ctypes.c_longlong(off_out)
    n = c.copy_file_range(fd_in, ctypes.byref(a), fd_out, ctypes.byref(b),
                          ctypes.c_size_t(length), ctypes.c_uint(flags))
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def errno_or(fn, *args):
    """fn(*args), or the name of the errno it failed with."""
    try:
        return fn(*args)
    except OSError as e:
        return ename(e.errno)


def mode_of(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def diff_tables(got, want, what):
    """Fail with every row where got and want differ."""
    bad = ['%s: expected %s, got %s' % (k, want.get(k), got.get(k))
           for k in sorted(set(got) | set(want), key=str) if got.get(k) != want.get(k)]
    if bad:
        fail('%s differs from the kernel in %d of %d cases:\n%s'
             % (what, len(bad), len(want), '\n'.join(bad[:40])))


# ---------------------------------------------------------------------------
# item 4: setuid/setgid taken away by writes, truncates, fallocate,
# copy_file_range and chown, by a caller without CAP_FSETID
#
# Measured as root on tmpfs and on ext4 over a loop device, with the
# writers below (forked, setgroups/setgid/setuid, so without capabilities):
# a file root:GROUP_F of each mode, 4096 bytes, opened O_RDWR, then one
# operation, then stat.  The same on both but for ZERO_RANGE (tmpfs:
# EOPNOTSUPP, mode untouched).

MODES = (0o2666, 0o2676, 0o4666, 0o6666, 0o6676)
WRITERS = {           # name: (uid, gid, supplementary groups); None = root
    'stranger': (H.USER1, H.GROUP1, []),
    'member': (H.USER1, H.GROUP1, [GROUP_F]),
    'root': None,
}
# The mode after a data change by each writer, per starting mode:
# without CAP_FSETID setuid always goes, setgid goes if the file is
# group-executable or the writer is not in its group; root keeps both.
KILL_DATA = {
    'stranger': dict(zip(MODES, (0o666, 0o676, 0o666, 0o666, 0o676))),
    'member': dict(zip(MODES, (0o2666, 0o676, 0o666, 0o2666, 0o676))),
    'root': dict(zip(MODES, MODES)),
}


def _cfr_dest(fd, path):
    sfd = os.open(path + '.src', os.O_RDONLY)
    try:
        copy_file_range(sfd, 0, fd, 0, 10)
    finally:
        os.close(sfd)


DATA_OPS = {
    'write': lambda fd, p: os.write(fd, b'x'),
    'ftruncate-grow': lambda fd, p: os.ftruncate(fd, 8192),
    'ftruncate-same': lambda fd, p: os.ftruncate(fd, 4096),
    'ftruncate-shrink': lambda fd, p: os.ftruncate(fd, 100),
    'open-O_TRUNC': None,               # the open is the operation
    'fallocate': lambda fd, p: fallocate(fd, 0, 0, 16384),
    'fallocate-keep-size': lambda fd, p: fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 16384),
    'punch-hole': lambda fd, p: fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
    'zero-range': lambda fd, p: fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096),
    'copy_file_range-dest': _cfr_dest,
    'write-0-bytes': lambda fd, p: os.write(fd, b''),   # changes nothing: kills nothing
}


def _data_op(path, op):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC if op == 'open-O_TRUNC' else os.O_RDWR)
    try:
        err = None
        if DATA_OPS[op]:
            err = errno_or(DATA_OPS[op], fd, path)
            err = err if isinstance(err, str) else None
    finally:
        os.close(fd)
    return err, mode_of(path)


def _as(who, fn, *args):
    if WRITERS[who] is None:
        return fn(*args)
    uid, gid, groups = WRITERS[who]
    return H.as_user(uid, gid, fn, *args, groups=groups)


def expect_killpriv_data(fstype):
    want = {}
    for who in WRITERS:
        for op in DATA_OPS:
            for m in MODES:
                if op == 'zero-range' and fstype == 'tmpfs':
                    want[(who, op, oct(m))] = ('EOPNOTSUPP', oct(m))
                elif op == 'write-0-bytes':
                    want[(who, op, oct(m))] = (None, oct(m))
                else:
                    want[(who, op, oct(m))] = (None, oct(KILL_DATA[who][m]))
    return want


def check_killpriv_data(d):
    """Writes, truncates, fallocate (every mode), copy_file_range into the
    file: the setuid/setgid bits left, per writer and starting mode."""
    p = os.path.join(d, 'kp')
    H.write_file(p + '.src', b'y' * 4096)
    got = {}
    try:
        for who in WRITERS:
            for op in DATA_OPS:
                for m in MODES:
                    H.write_file(p, b'z' * 4096)
                    os.chown(p, 0, GROUP_F)
                    os.chmod(p, m)
                    got[(who, op, oct(m))] = _as(who, _data_op, p, op)
    finally:
        for f in (p, p + '.src'):
            if os.path.exists(f):
                os.unlink(f)
    diff_tables(got, expect_killpriv_data(H.fs_type(d)), 'setuid/setgid after a data change')


# chown and chgrp: the file is owned by H.USER1, group GROUP_F.  The
# callers: root; the owner while in GROUP_F and GROUP_G; the owner while
# only in GROUP_G.  Each changes the group to GROUP_G, or calls
# chown(f, -1, -1).  Mode after (measured, tmpfs and ext4 alike): setuid
# always goes; setgid goes if group-executable, or if the caller is
# neither in the old group nor holds CAP_FSETID.
CHOWN_MODES = (0o6755, 0o2644, 0o2654, 0o4644, 0o6644)
CHOWNERS = {
    'root': None,
    'owner-member': (H.USER1, H.GROUP1, [GROUP_F, GROUP_G]),
    'owner-stranger': (H.USER1, H.GROUP1, [GROUP_G]),
}
KILL_CHOWN = {
    'root': dict(zip(CHOWN_MODES, (0o755, 0o2644, 0o654, 0o644, 0o2644))),
    'owner-member': dict(zip(CHOWN_MODES, (0o755, 0o2644, 0o654, 0o644, 0o2644))),
    'owner-stranger': dict(zip(CHOWN_MODES, (0o755, 0o644, 0o654, 0o644, 0o644))),
}


def _chown(path, gid):
    os.chown(path, -1, gid)
    return mode_of(path)


def check_killpriv_chown(d):
    """chgrp and chown(-1, -1) of a file: the setuid/setgid bits left."""
    p = os.path.join(d, 'kpc')
    got, want = {}, {}
    try:
        for who, ids in CHOWNERS.items():
            for m in CHOWN_MODES:
                for gid in (GROUP_G, -1):
                    H.write_file(p, b'z')
                    os.chown(p, H.USER1, GROUP_F)
                    os.chmod(p, m)
                    if ids is None:
                        r = _chown(p, gid)
                    else:
                        r = H.as_user(ids[0], ids[1], _chown, p, gid, groups=ids[2])
                    got[(who, oct(m), gid)] = r
                    want[(who, oct(m), gid)] = oct(KILL_CHOWN[who][m])
    finally:
        if os.path.exists(p):
            os.unlink(p)
    diff_tables(got, want, 'setuid/setgid after chown')


# ---------------------------------------------------------------------------
# item 3: the errnos (and results) of lseek, fallocate and copy_file_range
#
# Each row: a name, an operation run on a fresh fixture in directory d,
# and what it gives on tmpfs and on ext4 (a number or an errno name),
# measured.  Where the two differ, the last column says which one holdfs
# follows and the comment says why.

MiB = 1 << 20
BIG = 1 << 62            # within every s_maxbytes but ext4's (16 TiB)


def _seek(d, off, whence, name='sparse'):
    fd = os.open(os.path.join(d, name), os.O_RDONLY)
    try:
        return errno_or(os.lseek, fd, off, whence)
    finally:
        os.close(fd)


def _seek_dir(d, off, whence):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return errno_or(os.lseek, fd, off, whence)
    finally:
        os.close(fd)


def _falloc(d, mode, off, length, flags=os.O_RDWR, name='victim'):
    p = os.path.join(d, name)
    fd = os.open(p, flags)
    try:
        r = errno_or(fallocate, fd, mode, off, length)
    finally:
        os.close(fd)
    return r if isinstance(r, str) else os.stat(p).st_size


def _cfr(d, off_in, off_out, length, flags=0, src='sparse', dst='victim',
         src_flags=os.O_RDONLY, dst_flags=os.O_WRONLY):
    sfd = os.open(os.path.join(d, src), src_flags)
    dfd = os.open(os.path.join(d, dst), dst_flags)
    try:
        return errno_or(copy_file_range, sfd, off_in, dfd, off_out, length, flags)
    finally:
        os.close(sfd)
        os.close(dfd)


def _fifo_falloc(d):
    p = os.path.join(d, 'fifo')
    fd = os.open(p, os.O_RDWR)
    try:
        return errno_or(fallocate, fd, 0, 0, 4096)
    finally:
        os.close(fd)


def errno_fixture(d):
    """sparse: data [0, 1 MiB), hole [1, 2) MiB, data [2, 3) MiB, hole to
    its size, 4 MiB (MiB-aligned, so every filesystem's block and page
    size sees the same layout).  victim: 1 MiB of data.  empty.  fifo."""
    p = os.path.join(d, 'sparse')
    with open(p, 'wb') as f:
        f.write(b'd' * MiB)
        f.seek(2 * MiB)
        f.write(b'd' * MiB)
        f.truncate(4 * MiB)
    H.write_file(os.path.join(d, 'victim'), b'v' * MiB)
    H.write_file(os.path.join(d, 'empty'), b'')
    os.mkfifo(os.path.join(d, 'fifo'))


S_D, S_H = os.SEEK_DATA, os.SEEK_HOLE
KEEP, PUNCH, ZERO = FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE
COLLAPSE, INSERT = 0x08, 0x20

ERRNO_ROWS = [
    # name, operation, tmpfs, ext4, holdfs follows
    ('lseek DATA -1', lambda d: _seek(d, -1, S_D), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE -1', lambda d: _seek(d, -1, S_H), 'ENXIO', 'ENXIO', None),
    ('lseek DATA -4096', lambda d: _seek(d, -4096, S_D), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE -2^62', lambda d: _seek(d, -BIG, S_H), 'ENXIO', 'ENXIO', None),
    ('lseek DATA 0', lambda d: _seek(d, 0, S_D), 0, 0, None),
    ('lseek HOLE 0', lambda d: _seek(d, 0, S_H), MiB, MiB, None),
    ('lseek DATA in hole', lambda d: _seek(d, MiB + 5, S_D), 2 * MiB, 2 * MiB, None),
    ('lseek HOLE in hole', lambda d: _seek(d, MiB + 5, S_H), MiB + 5, MiB + 5, None),
    ('lseek DATA in the hole at EOF', lambda d: _seek(d, 3 * MiB, S_D), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE in the hole at EOF', lambda d: _seek(d, 3 * MiB + 1, S_H),
     3 * MiB + 1, 3 * MiB + 1, None),
    ('lseek DATA at EOF', lambda d: _seek(d, 4 * MiB, S_D), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE at EOF', lambda d: _seek(d, 4 * MiB, S_H), 'ENXIO', 'ENXIO', None),
    ('lseek DATA past EOF', lambda d: _seek(d, BIG, S_D), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE past EOF', lambda d: _seek(d, BIG, S_H), 'ENXIO', 'ENXIO', None),
    ('lseek DATA empty file', lambda d: _seek(d, 0, S_D, 'empty'), 'ENXIO', 'ENXIO', None),
    ('lseek HOLE empty file', lambda d: _seek(d, 0, S_H, 'empty'), 'ENXIO', 'ENXIO', None),
    ('lseek whence 5', lambda d: _seek(d, 0, 5), 'EINVAL', 'EINVAL', None),
    ('lseek SET -1', lambda d: _seek(d, -1, os.SEEK_SET), 'EINVAL', 'EINVAL', None),
    ('lseek CUR -1', lambda d: _seek(d, -1, os.SEEK_CUR), 'EINVAL', 'EINVAL', None),
    ('lseek END -5 MiB', lambda d: _seek(d, -5 * MiB, os.SEEK_END), 'EINVAL', 'EINVAL', None),
    ('lseek END +1', lambda d: _seek(d, 1, os.SEEK_END), 4 * MiB + 1, 4 * MiB + 1, None),
    # directories: tmpfs refuses; FUSE seeks them in the kernel (the
    # daemon never sees it), like ext4 for these two.  SEEK_HOLE is left
    # out: ext4 answers its largest hash offset, FUSE the directory size.
    ('lseek DATA -1 on a directory', lambda d: _seek_dir(d, -1, S_D), 'EINVAL', 'ENXIO', 'ext4'),
    ('lseek DATA 0 on a directory', lambda d: _seek_dir(d, 0, S_D), 'EINVAL', 0, 'ext4'),
    ('fallocate off -1', lambda d: _falloc(d, 0, -1, 4096), 'EINVAL', 'EINVAL', None),
    ('fallocate len 0', lambda d: _falloc(d, 0, 0, 0), 'EINVAL', 'EINVAL', None),
    ('fallocate len -1', lambda d: _falloc(d, 0, 0, -1), 'EINVAL', 'EINVAL', None),
    ('fallocate off+len overflows', lambda d: _falloc(d, 0, BIG, BIG), 'EFBIG', 'EFBIG', None),
    ('fallocate unknown mode bit', lambda d: _falloc(d, 0x100, 0, 4096),
     'EOPNOTSUPP', 'EOPNOTSUPP', None),
    ('fallocate PUNCH without KEEP_SIZE', lambda d: _falloc(d, PUNCH, 0, 4096),
     'EOPNOTSUPP', 'EOPNOTSUPP', None),
    ('fallocate PUNCH|ZERO', lambda d: _falloc(d, PUNCH | ZERO | KEEP, 0, 4096),
     'EOPNOTSUPP', 'EOPNOTSUPP', None),
    # a size limit: ext4's 16 TiB; tmpfs has none and allocates one
    # page at 2^62.  holdfs has one (HFS_MAX_FILE_SIZE), like ext4.
    ('fallocate at 2^62', lambda d: _falloc(d, 0, BIG, 4096), BIG + 4096, 'EFBIG', 'ext4'),
    ('fallocate O_RDONLY', lambda d: _falloc(d, 0, 0, 4096, os.O_RDONLY), 'EBADF', 'EBADF', None),
    ('fallocate O_APPEND', lambda d: _falloc(d, 0, 0, 4096, os.O_WRONLY | os.O_APPEND),
     MiB, MiB, None),
    ('fallocate a fifo', _fifo_falloc, 'ESPIPE', 'ESPIPE', None),
    ('fallocate more than the free space', lambda d: _falloc(d, 0, 0, 1 << 40), 'ENOSPC', 'ENOSPC', None),
    # tmpfs implements neither; FUSE passes neither to a daemon
    ('fallocate COLLAPSE_RANGE', lambda d: _falloc(d, COLLAPSE, 0, 65536), 'EOPNOTSUPP', 65536 * 15, 'tmpfs'),
    ('fallocate INSERT_RANGE', lambda d: _falloc(d, INSERT, 0, 65536), 'EOPNOTSUPP', MiB + 65536, 'tmpfs'),
    ('fallocate ZERO_RANGE', lambda d: _falloc(d, ZERO, 0, 4096), 'EOPNOTSUPP', MiB, 'ext4'),
    ('fallocate KEEP_SIZE past EOF', lambda d: _falloc(d, KEEP, 2 * MiB, 4096), MiB, MiB, None),
    ('copy_file_range flags 1', lambda d: _cfr(d, 0, 0, 4096, flags=1), 'EINVAL', 'EINVAL', None),
    ('copy_file_range off_in -1', lambda d: _cfr(d, -1, 0, 4096), 'EOVERFLOW', 'EOVERFLOW', None),
    ('copy_file_range off_out -1', lambda d: _cfr(d, 0, -1, 4096), 'EOVERFLOW', 'EOVERFLOW', None),
    ('copy_file_range len 0', lambda d: _cfr(d, 0, 0, 0), 0, 0, None),
    ('copy_file_range from EOF', lambda d: _cfr(d, 4 * MiB, 0, 4096), 0, 0, None),
    ('copy_file_range across EOF', lambda d: _cfr(d, 4 * MiB - 100, 0, 4096), 100, 100, None),
    ('copy_file_range from a hole', lambda d: _cfr(d, MiB, 0, 4096), 4096, 4096, None),
    ('copy_file_range src O_WRONLY', lambda d: _cfr(d, 0, 0, 4096, src='victim', dst='empty',
                                                    src_flags=os.O_WRONLY),
     'EBADF', 'EBADF', None),
    ('copy_file_range dst O_RDONLY', lambda d: _cfr(d, 0, 0, 4096, dst_flags=os.O_RDONLY),
     'EBADF', 'EBADF', None),
    ('copy_file_range dst O_APPEND', lambda d: _cfr(d, 0, 0, 4096, dst_flags=os.O_WRONLY | os.O_APPEND),
     'EBADF', 'EBADF', None),
    ('copy_file_range overlap in one file', lambda d: _cfr(d, 0, 100, 4096, src='victim',
                                                           src_flags=os.O_RDWR, dst_flags=os.O_RDWR),
     'EINVAL', 'EINVAL', None),
    ('copy_file_range off_out 2^62', lambda d: _cfr(d, 0, BIG, 4096), 4096, 'EFBIG', 'ext4'),
    ('copy_file_range src a directory', lambda d: _cfr(d, 0, 0, 4096, src='.'), 'EISDIR', 'EISDIR', None),
]


def observe_errnos(d):
    got = {}
    sub = os.path.join(d, 'errnos')
    os.mkdir(sub)
    try:
        for name, fn, _, _, _ in ERRNO_ROWS:
            errno_fixture(sub)
            try:
                got[name] = fn(sub)
            finally:
                for f in os.listdir(sub):
                    os.unlink(os.path.join(sub, f))
    finally:
        os.rmdir(sub)
    return got


def check_errnos(d):
    """lseek SEEK_DATA/SEEK_HOLE (negative offsets: ENXIO), fallocate and
    copy_file_range: results and errnos against the kernel's tables."""
    fstype = H.fs_type(d)
    want = {}
    for name, _, t, e, follows in ERRNO_ROWS:
        if fstype in ('tmpfs', 'ext4'):
            want[name] = t if fstype == 'tmpfs' else e
        else:
            want[name] = t if t == e else (t if follows == 'tmpfs' else e)
    diff_tables(observe_errnos(d), want, 'lseek/fallocate/copy_file_range results')


# ---------------------------------------------------------------------------
# item 1: access times by the mount's atime options
#
# Each case sets a file's (or directory's) atime and mtime with utime,
# which also sets its ctime to now, does one thing, and looks whether the
# atime moved.  "future" is an atime an hour ahead: after mtime and ctime
# and less than a day old, the one case where relatime and strictatime
# differ.  Measured on tmpfs and ext4 (Linux 6.18) with each option.

DAY = 24 * 3600


def _read(p, n=4096, flags=0):
    fd = os.open(p, os.O_RDONLY | flags)
    try:
        os.read(fd, n)
    finally:
        os.close(fd)


def _write(p):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, b'w')
    finally:
        os.close(fd)


ATIME_CASES = {
    # name: (is a directory, atime offset from now, action)
    'read, atime before mtime': (False, -2 * DAY, _read),
    'read, atime in the future': (False, 3600, _read),
    'read of 0 bytes': (False, -2 * DAY, lambda p: _read(p, 0)),
    'read O_NOATIME': (False, -2 * DAY, lambda p: _read(p, flags=os.O_NOATIME)),
    'write': (False, -2 * DAY, _write),
    'stat': (False, -2 * DAY, os.stat),
    'list dir, atime before mtime': (True, -2 * DAY, os.listdir),
    'list dir, atime in the future': (True, 3600, os.listdir),
}


def _atime_case(d, name):
    isdir, aoff, action = ATIME_CASES[name]
    p = os.path.join(d, 'at')
    if isdir:
        os.mkdir(p)
        H.write_file(os.path.join(p, 'x'), b'x')
    else:
        H.write_file(p, b'a' * 8192)
    try:
        now = time.time()
        os.utime(p, ns=(int((now + aoff) * 1e9), int((now - DAY) * 1e9)))
        before = os.stat(p)
        action(p)
        after = os.stat(p)
        t1 = time.time()
    finally:
        if isdir:
            os.unlink(os.path.join(p, 'x'))
            os.rmdir(p)
        else:
            os.unlink(p)
    if after.st_atime_ns == before.st_atime_ns:
        return 'kept'
    if not now - 2 <= after.st_atime <= t1 + 2:
        return 'moved to %d s from now' % (after.st_atime - t1)
    if after.st_ctime_ns != before.st_ctime_ns and name != 'write':
        return 'updated, and ctime changed'
    return 'updated'


def observe_atime(d):
    return {name: _atime_case(d, name) for name in ATIME_CASES}


U, K = 'updated', 'kept'
# expected per mount option: one value per ATIME_CASES row, in order
ATIME_EXPECT = {
    'relatime': (U, K, K, K, K, K, U, K),
    'strictatime': (U, U, K, K, K, K, U, U),
    'noatime': (K, K, K, K, K, K, K, K),
    'nodiratime': (U, K, K, K, K, K, K, K),
    'lazytime': (U, K, K, K, K, K, U, K),
}


def check_atime(fstype, option):
    opts = () if option == 'relatime' else (option,)
    if fstype == 'tmpfs':
        m = H.Tmpfs(size='64m', opts=opts)
    elif fstype == 'ext4':
        m = H.Ext4Loop(size='64M', opts=opts)
    else:
        m = H.HoldFS(size='128M', mount_opts=H.DEFAULT_MOUNT_OPTS + opts)
    with m:
        got = observe_atime(m.mnt)
    want = dict(zip(ATIME_CASES, ATIME_EXPECT[option]))
    if fstype == 'tmpfs' and option != 'noatime':
        # tmpfs marks the file accessed before it looks at the length
        # (mm/shmem.c); ext4 returns first, and FUSE sends no request.
        # holdfs follows ext4.
        want['read of 0 bytes'] = U
    diff_tables(got, want, 'access times with -o %s' % option)


def test_atime_persists():
    """An access time a read set is journaled: it survives an unmount
    (last close, then unmount) and a remount, and fsck is clean."""
    with H.HoldFS(size='128M') as fs:
        p = fs.path('f')
        H.write_file(p, b'x' * 100)
        now = time.time()
        os.utime(p, ns=(int((now - 2 * DAY) * 1e9), int((now - DAY) * 1e9)))
        _read(p)
        a = os.stat(p).st_atime_ns
        check(a > int((now - 5) * 1e9), 'atime not updated by a read (%d s old)' % (now - a / 1e9))
        fs.unmount(check_clean=True)
        fs.fsck_clean('after an atime update')
        fs.mount()
        check_eq(os.stat(p).st_atime_ns, a, 'atime after unmount and mount')


# ---------------------------------------------------------------------------
# item 5: umount; mount at once (the old daemon may still be closing the
# region).  Mounted through mount(8) and mount.fuse3, as scripts do:
# `mount -t fuse BUILD/fs/holdfs#REGION MNT` runs the same helper as
# `-t fuse.holdfs` without needing holdfs in mount(8)'s PATH.


def _mount8(fs, opts=('allow_other',), mnt=None):
    if not H.shutil.which('mount.fuse3') and not os.path.exists('/sbin/mount.fuse3'):
        H.cannot_run('mount.fuse3 not installed (fuse3): cannot mount through mount(8)')
    return H.run(['mount', '-t', 'fuse', '%s#%s' % (H.holdfs_bin(), fs.region), mnt or fs.mnt,
                  '-o', ','.join(opts)], timeout=60)


def _churn_mounts(where, stop):
    """Mount and unmount a tmpfs at where until stop is set: other users'
    mounts, which take the device number (0:N) an unmounted FUSE
    connection just gave back."""
    while not stop.is_set():
        if H.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'hfstest-churn', where],
                 timeout=30).returncode == 0:
            H.run(['umount', where], timeout=30)


def test_umount_then_mount_at_once():
    """`umount MNT; mount ... MNT`, ten times in a row while other mounts
    come and go: every mount succeeds and sees what the previous one
    wrote; fsck clean after."""
    import threading
    with H.HoldFS(size='256M', mount=False) as fs:
        churn = os.path.join(fs.tmpdir, 'churn')
        os.mkdir(churn)
        stop = threading.Event()
        t = threading.Thread(target=_churn_mounts, args=(churn, stop), daemon=True)
        t.start()
        try:
            _umount_mount_cycles(fs)
        finally:
            stop.set()
            t.join(60)
            H.unmount_path(churn)
        fs.unmount(check_clean=True)
        fs.fsck_clean('after ten umount/mount cycles')


def _umount_mount_cycles(fs):
    for i in range(10):
        r = _mount8(fs)
        check(r.returncode == 0, 'mount #%d right after umount failed (exit %d): %s'
              % (i, r.returncode, (r.stderr or r.stdout).strip()))
        for j in range(i):
            check(os.path.exists(fs.path('f%d' % j)), 'f%d missing in mount #%d' % (j, i))
        H.write_file(fs.path('f%d' % i), b'x' * 4096)
        r = H.run(['umount', fs.mnt], timeout=60)
        check(r.returncode == 0, 'umount #%d failed: %s' % (i, r.stderr.strip()))


def test_mount_refuses_a_mounted_holder_at_once():
    """A region another daemon still serves: refused without waiting,
    naming the holder."""
    with H.HoldFS(size='256M') as fs:
        other = os.path.join(fs.tmpdir, 'other')
        os.mkdir(other)
        t0 = time.monotonic()
        r = _mount8(fs, mnt=other)
        dt = time.monotonic() - t0
        if r.returncode == 0:
            H.unmount_path(other)
            fail('a second mount of a mounted region succeeded')
        check('held by pid %d' % fs.proc.pid in r.stderr,
              'refusal does not name the holder: %s' % r.stderr.strip())
        check(dt < 5, 'refusing a mounted holder took %.1f s (it waited?)' % dt)
        check(H.is_mounted(fs.mnt), 'the first mount is gone')


@H.timeout(120)
def test_mount_waits_bounded_for_a_lazily_unmounted_daemon():
    """umount -l with a file open: the old daemon lost its mount but keeps
    serving the file, and the region.  A new mount waits for it, gives up
    after the bound (10 s) with a message saying so, and mounts once the
    file is closed."""
    with H.HoldFS(size='256M', mount=False) as fs:
        r = _mount8(fs)
        check(r.returncode == 0, 'first mount failed: %s' % r.stderr.strip())
        fd = os.open(fs.path('held'), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            r = H.run(['umount', '-l', fs.mnt], timeout=60)
            check(r.returncode == 0, 'umount -l failed: %s' % r.stderr.strip())
            t0 = time.monotonic()
            r = _mount8(fs)
            dt = time.monotonic() - t0
            if r.returncode == 0:
                fail('mounted while the lazily unmounted daemon still holds the region')
            check('gave up after 10000 ms' in r.stderr,
                  'no give-up message: %s' % r.stderr.strip())
            check(dt >= 9, 'gave up after %.1f s, before the 10 s bound' % dt)
            os.write(fd, b'still served')
        finally:
            os.close(fd)
        r = _mount8(fs)
        check(r.returncode == 0, 'mount after the old daemon let go failed: %s' % r.stderr.strip())
        check_eq(H.read_file(fs.path('held')), b'still served', 'file written after umount -l')
        fs.unmount(check_clean=True)
        fs.fsck_clean('after a lazy unmount')


# ---------------------------------------------------------------------------
# item 6: mount -o remount,ro / rw through mount(8)
#
# mount(8) finds a FUSE type's daemon through mount.fuse3 and PATH, so
# the check runs in a child with its own mount namespace, where a
# directory holding a `holdfs` link to the build is bind-mounted over
# /usr/local/bin (seen by nobody else).  The same steps run on tmpfs as
# the calibration.  Every mount made in the namespace is unmounted in
# it; a daemon left behind is killed by HoldFS's teardown.

CLONE_NEWNS = 0x00020000


def _sh(cmd):
    r = H.run(['sh', '-c', cmd], timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def _age(p):
    """An atime before the mtime: due for an update under relatime (set
    before a read-only remount, which forbids it)."""
    now = time.time()
    os.utime(p, (now - 2 * DAY, now - DAY))
    return os.stat(p).st_atime


def _atime_after_read(p, before=None):
    ro = before is not None
    before = _age(p) if before is None else before
    _read(p)
    if ro:
        # on a read-only mount the FUSE kernel module keeps its cached
        # atime after a read: look past the attribute timeout (1 s,
        # fs/daemon.h) at what the daemon has
        time.sleep(1.5)
    return 'kept' if os.stat(p).st_atime == before else 'updated'


def _write_ok(p):
    try:
        H.write_file(p, b'w')
        return 'ok'
    except OSError as e:
        return ename(e.errno)


def _remount_steps(mnt, mount_cmd):
    """In the child's own namespace: mount, remount ro and rw in each way
    mount(8) offers, and what each state allows."""
    got = {}
    rc, out = _sh(mount_cmd)
    if rc != 0:
        return {'mount': out}
    try:
        f = os.path.join(mnt, 'f')
        H.write_file(f, b'data')
        before = _age(f)
        rc, out = _sh('mount -o remount,ro ' + mnt)
        got['remount,ro'] = rc
        got['ro: in /proc/mounts'] = 'ro' in (H.mount_entry(mnt) or {}).get('options', '').split(',')
        got['ro: write'] = _write_ok(os.path.join(mnt, 'g'))
        got['ro: atime after a read'] = _atime_after_read(f, before)
        rc, out = _sh('mount -o remount,rw ' + mnt)
        got['remount,rw'] = rc
        got['rw: write'] = _write_ok(os.path.join(mnt, 'g'))
        got['rw: atime after a read'] = _atime_after_read(f)
        fd = os.open(os.path.join(mnt, 'g'), os.O_WRONLY)
        try:
            rc, out = _sh('mount -o remount,ro ' + mnt)
            got['remount,ro with a file open for writing'] = 'refused' if rc else 'done'
        finally:
            os.close(fd)
        before = _age(f)
        rc, out = _sh('mount -i -o remount,ro ' + mnt)
        got['mount -i remount,ro'] = rc
        got['ro (-i): atime after a read'] = _atime_after_read(f, before)
        rc, out = _sh('mount -i -o remount,rw ' + mnt)
        got['mount -i remount,rw'] = rc
        got['rw (-i): atime after a read'] = _atime_after_read(f)
    finally:
        _sh('umount ' + mnt)
    return got


def _in_namespace(fs_kind, region, mnt, bindir):
    import ctypes
    if H.libc().unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWNS)')
    rc, out = _sh('mount --make-rprivate / && mount --bind %s /usr/local/bin' % bindir)
    if rc != 0:
        return {'namespace': out}
    if fs_kind == 'tmpfs':
        return _remount_steps(mnt, 'mount -t tmpfs -o size=16m hfstest-remount ' + mnt)
    got = _remount_steps(mnt, 'mount -t fuse.holdfs -o allow_other %s %s' % (region, mnt))
    # a mount started read-only cannot become read-write
    rc, out = _sh('mount -t fuse.holdfs -o ro,allow_other %s %s' % (region, mnt))
    if rc == 0:
        try:
            rc, out = _sh('mount -o remount,rw ' + mnt)
            got['ro from the start: remount,rw'] = ('refused: says so' if rc and
                                                    'remount,rw is not supported' in out
                                                    else 'rc %d: %s' % (rc, out))
        finally:
            _sh('umount ' + mnt)
    return got


REMOUNT_EXPECT = {
    'remount,ro': 0, 'ro: in /proc/mounts': True, 'ro: write': 'EROFS',
    'ro: atime after a read': 'kept',
    'remount,rw': 0, 'rw: write': 'ok', 'rw: atime after a read': 'updated',
    'remount,ro with a file open for writing': 'refused',
    'mount -i remount,ro': 0, 'ro (-i): atime after a read': 'kept',
    'mount -i remount,rw': 0, 'rw (-i): atime after a read': 'updated',
}


def check_remount(fs_kind):
    """mount -o remount,ro and rw (through mount.fuse3 for holdfs), and
    mount -i -o remount: the state each leaves (writes, atime), as on
    tmpfs; a busy remount,ro refused; holdfs mounted ro from the start
    refuses remount,rw with a message."""
    if not H.shutil.which('unshare') and not os.path.exists('/usr/bin/unshare'):
        H.cannot_run('unshare(1) missing (util-linux)')
    with H.HoldFS(size='128M', mount=False) as fs:
        bindir = os.path.join(fs.tmpdir, 'bin')
        os.mkdir(bindir)
        os.symlink(H.holdfs_bin(), os.path.join(bindir, 'holdfs'))
        got = H.in_child(_in_namespace, fs_kind, fs.region, fs.mnt, bindir, timeout=120)
        want = dict(REMOUNT_EXPECT)
        if fs_kind == 'holdfs':
            want['ro from the start: remount,rw'] = 'refused: says so'
        diff_tables(got, want, 'remount (%s)' % fs_kind)
        if fs_kind == 'holdfs':
            fs.fsck_clean('after the remounts')


# ---------------------------------------------------------------------------
# item 7: POSIX ACLs, through getfacl/setfacl (package acl) and the
# kernel's own permission checks.  Every step's getfacl output (numeric,
# without the "# file" line) and the resulting mode, and what users
# H.USER1 / H.USER2 may do, must be what tmpfs and ext4 give.

def _facl(*args, cwd=None):
    r = H.run(list(args), timeout=60)
    if r.returncode != 0:
        return 'exit %d: %s' % (r.returncode, r.stderr.strip())
    return '\n'.join(ln for ln in r.stdout.splitlines() if not ln.startswith('# file:'))


def _getfacl(p):
    return _facl('getfacl', '-n', '-p', p)


def _open_as(uid, p, flags):
    def fn():
        os.close(os.open(p, flags))
        return 'ok'
    try:
        return H.as_user(uid, uid, fn)
    except OSError as e:
        return ename(e.errno)


def _create_with_umask(p, umask, mkdir=False):
    def fn():
        os.umask(umask)
        if mkdir:
            os.mkdir(p, 0o777)
        else:
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o666))
        return oct(stat.S_IMODE(os.stat(p).st_mode))
    return H.in_child(fn)


def observe_acl(d):
    """What each step leaves (a table keyed by step)."""
    got = {}
    base = os.path.join(d, 'acl')
    os.mkdir(base, 0o755)
    try:
        f = os.path.join(base, 'f')
        H.write_file(f, b'secret')
        os.chmod(f, 0o600)
        got['named user'] = (_facl('setfacl', '-m', 'u:%d:r' % H.USER1, f), _getfacl(f), mode_of(f))
        got['named user may read'] = _open_as(H.USER1, f, os.O_RDONLY)
        got['named user may not write'] = _open_as(H.USER1, f, os.O_WRONLY)
        got['other user may not read'] = _open_as(H.USER2, f, os.O_RDONLY)
        _facl('setfacl', '-m', 'm::-', f)
        got['mask ---'] = (_getfacl(f), mode_of(f))
        got['mask --- denies the named user'] = _open_as(H.USER1, f, os.O_RDONLY)
        os.chmod(f, 0o640)
        got['chmod 640 sets the mask'] = (_getfacl(f), mode_of(f))
        got['named user reads again'] = _open_as(H.USER1, f, os.O_RDONLY)
        _facl('setfacl', '-m', 'g:%d:rw' % H.GROUP2, f)
        got['named group'] = (_getfacl(f), mode_of(f))
        got['named group may write'] = _open_as(H.USER2, f, os.O_WRONLY)
        _facl('setfacl', '-b', f)
        got['setfacl -b'] = (_getfacl(f), mode_of(f),
                             'system.posix_acl_access' in os.listxattr(f))
        _facl('setfacl', '-m', 'u::rwx,g::r,o::-', f)
        got['an ACL the mode says all of'] = (_getfacl(f), mode_of(f),
                                              'system.posix_acl_access' in os.listxattr(f))
        dd = os.path.join(base, 'd')
        os.mkdir(dd, 0o755)
        _facl('setfacl', '-d', '-m', 'u:%d:rx,g::rwx,o::r' % H.USER1, dd)
        got['default ACL'] = _getfacl(dd)
        got['file under it, umask 077 (ignored)'] = (
            _create_with_umask(os.path.join(dd, 'nf'), 0o077), _getfacl(os.path.join(dd, 'nf')))
        got['dir under it'] = (_create_with_umask(os.path.join(dd, 'nd'), 0o077, mkdir=True),
                               _getfacl(os.path.join(dd, 'nd')))
        got['file two levels down'] = (_create_with_umask(os.path.join(dd, 'nd', 'f2'), 0o022),
                                       _getfacl(os.path.join(dd, 'nd', 'f2')))
        got['no default ACL: umask 027 applies'] = _create_with_umask(os.path.join(base, 'plain'), 0o027)
        got['symlink under a default ACL'] = (os.symlink('nf', os.path.join(dd, 'ln')) or
                                              stat.S_IMODE(os.lstat(os.path.join(dd, 'ln')).st_mode))
        try:
            os.setxattr(f, 'system.posix_acl_default', bytes.fromhex('02000000') +
                        bytes.fromhex('0100060000000000') + bytes.fromhex('0400040000000000') +
                        bytes.fromhex('2000040000000000'))
            got['default ACL on a file'] = 'ok'
        except OSError as e:
            got['default ACL on a file'] = ename(e.errno)
        # round trip: dump, strip, restore, compare (relative names; the
        # dump is kept outside the filesystem under test)
        dump = os.path.join(H.make_tmpdir('hfstest-acl-'), 'dump')
        try:
            r1 = _facl('sh', '-c', 'cd %s && getfacl -R -n . >%s 2>/dev/null' % (base, dump))
            with open(dump) as fd:
                before = '\n'.join(ln for ln in fd.read().splitlines()
                                   if not ln.startswith('# file:'))
            r2 = _facl('setfacl', '-R', '-b', base)
            stripped = _facl('sh', '-c', 'cd %s && getfacl -R -n . 2>/dev/null' % base)
            r3 = _facl('sh', '-c', 'cd %s && setfacl --restore=%s' % (base, dump))
            after = _facl('sh', '-c', 'cd %s && getfacl -R -n . 2>/dev/null' % base)
            got['getfacl -R / setfacl --restore round trip'] = (
                (r1, r2, r3), stripped != before, after == before)
        finally:
            H.run(['rm', '-rf', os.path.dirname(dump)], timeout=60)
        # setgid: a non-member owner setting an ACL loses it, as by chmod
        sg = os.path.join(base, 'sg')
        H.write_file(sg, b'x')
        os.chown(sg, H.USER1, GROUP_F)
        os.chmod(sg, 0o2770)
        got['setgid after a non-member sets an ACL'] = H.as_user(
            H.USER1, H.GROUP1, lambda: (_facl('setfacl', '-m', 'u:%d:r' % H.USER2, sg), mode_of(sg))[1])
    finally:
        H.run(['rm', '-rf', base], timeout=60)
    return got


def check_acl(d):
    """The ACL table equals the one observed on a private tmpfs (so the
    ext4 run compares ext4 with it too): named users and groups, the mask, chmod, inheritance of
    default ACLs (umask ignored), ACLs the mode bits already say, the
    round trip, setgid."""
    if not H.shutil.which('setfacl'):
        H.cannot_run('setfacl/getfacl missing (package acl; scripts/setup-deps.sh installs it)')
    if 'table' not in ACL_REF:
        with H.Tmpfs(size='16m') as t:
            ACL_REF['table'] = observe_acl(t.mnt)
        if os.environ.get('HOLDFS_TEST_SHOW_ACL') == '1':
            for k, v in ACL_REF['table'].items():
                print('# %s: %r' % (k, v))
    diff_tables(observe_acl(d), ACL_REF['table'], 'ACLs (against tmpfs)')


ACL_REF = {}    # tmpfs's table, observed once: the reference


# ---------------------------------------------------------------------------
# item 8: RENAME_WHITEOUT, O_TMPFILE
#
# RENAME_WHITEOUT (overlayfs's upper layer uses it) leaves at the old name a
# character device 0:0 of mode 0, owned by the caller, with the group of a
# setgid directory; measured on tmpfs and ext4 (Linux 6.18) by uid/gid
# 1000 with umask 022.

RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4


def _renameat2(a, b, flags):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        return ename(ctypes.get_errno())
    return 'ok'


def _node(p):
    try:
        st = os.lstat(p)
    except OSError as e:
        return ename(e.errno)
    return (oct(st.st_mode), st.st_uid, st.st_gid,
            (os.major(st.st_rdev), os.minor(st.st_rdev)), st.st_nlink)


def _whiteout_steps(base):
    os.umask(0o022)
    got = {}
    for sub in ('plain', 'sg'):
        d = os.path.join(base, sub)
        open(os.path.join(d, 'a'), 'w').close()
        got[sub + ': rename a b'] = _renameat2(d + '/a', d + '/b', RENAME_WHITEOUT)
        got[sub + ': a'] = _node(d + '/a')
        got[sub + ': b'] = _node(d + '/b')
        got[sub + ': listing'] = sorted((e.name, e.is_file(follow_symlinks=False),
                                         e.is_dir(follow_symlinks=False))
                                        for e in os.scandir(d))
    d = os.path.join(base, 'plain')
    for n in ('c', 'e'):
        open(os.path.join(d, n), 'w').close()
    got['exchange|whiteout'] = _renameat2(d + '/c', d + '/e', RENAME_EXCHANGE | RENAME_WHITEOUT)
    got['noreplace|whiteout onto a name'] = _renameat2(
        d + '/c', d + '/e', RENAME_NOREPLACE | RENAME_WHITEOUT)
    got['noreplace|whiteout'] = _renameat2(d + '/c', d + '/c2', RENAME_NOREPLACE | RENAME_WHITEOUT)
    got['no source'] = _renameat2(d + '/none', d + '/x', RENAME_WHITEOUT)
    os.mkdir(d + '/dir')
    got['a directory'] = _renameat2(d + '/dir', d + '/dir2', RENAME_WHITEOUT)
    got['dir is now'] = _node(d + '/dir')
    got['onto a whiteout'] = _renameat2(d + '/e', d + '/dir', RENAME_WHITEOUT)
    got['dir after'] = _node(d + '/dir')[0]
    got['e after'] = _node(d + '/e')[0]
    os.unlink(d + '/e')
    got['unlink a whiteout'] = _node(d + '/e')
    d = os.path.join(base, 'acl')
    open(d + '/a', 'w').close()
    got['acl: rename a b'] = _renameat2(d + '/a', d + '/b', RENAME_WHITEOUT)
    got['acl: a'] = _node(d + '/a')[0]
    return got


WHITEOUT_EXPECT = {
    'plain: rename a b': 'ok',
    'plain: a': ('0o20000', H.USER1, H.GROUP1, (0, 0), 1),
    'plain: b': ('0o100644', H.USER1, H.GROUP1, (0, 0), 1),
    'plain: listing': [('a', False, False), ('b', True, False)],
    'sg: rename a b': 'ok',
    'sg: a': ('0o20000', H.USER1, GROUP_F, (0, 0), 1),
    'sg: b': ('0o100644', H.USER1, GROUP_F, (0, 0), 1),
    'sg: listing': [('a', False, False), ('b', True, False)],
    'exchange|whiteout': 'EINVAL',
    'noreplace|whiteout onto a name': 'EEXIST',
    'noreplace|whiteout': 'ok',
    'no source': 'ENOENT',
    'a directory': 'ok',
    'dir is now': ('0o20000', H.USER1, H.GROUP1, (0, 0), 1),
    'onto a whiteout': 'ok',
    'dir after': '0o100644',
    'e after': '0o20000',
    'unlink a whiteout': 'ENOENT',
    # a default ACL is inherited (limited by mode 0) as by any new inode
    'acl: rename a b': 'ok',
    'acl: a': '0o20000',
    'acl: the whiteout\'s ACL': ['user::---', 'user:%d:rwx' % H.USER2, 'group::rwx',
                                 'mask::---', 'other::---'],
}


def check_whiteout(d):
    """renameat2(RENAME_WHITEOUT) by an unprivileged caller: the whiteout's
    mode, owner, group (setgid directory), device and link count, and the
    flags it combines with, the default ACL it inherits."""
    if not H.shutil.which('setfacl'):
        H.cannot_run('setfacl/getfacl missing (package acl; scripts/setup-deps.sh installs it)')
    base = os.path.join(d, 'whiteout')
    os.mkdir(base)
    try:
        os.chmod(base, 0o777)
        os.mkdir(base + '/plain')
        os.chmod(base + '/plain', 0o777)
        os.mkdir(base + '/sg')
        os.chown(base + '/sg', 0, GROUP_F)
        os.chmod(base + '/sg', 0o2777)
        os.mkdir(base + '/acl')
        os.chmod(base + '/acl', 0o777)
        _facl('setfacl', '-d', '-m', 'u:%d:rwx' % H.USER2, base + '/acl')
        got = H.as_user(H.USER1, H.GROUP1, _whiteout_steps, base)
        got['acl: the whiteout\'s ACL'] = _facl('getfacl', '-c', '-n', '-p', '-E',
                                                base + '/acl/a').split()
    finally:
        H.run(['rm', '-rf', base], timeout=60)
    diff_tables(got, WHITEOUT_EXPECT, 'RENAME_WHITEOUT')


def _try(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return ename(e.errno)
    return 'ok'


def check_overlay_upper(d):
    """An overlayfs whose upper and work directories are on d, over a lower
    directory on a private tmpfs: the mount (overlayfs refuses an upper
    filesystem without RENAME_WHITEOUT: "upper fs does not support
    RENAME_WHITEOUT ... missing required features"), then unlink, rename
    and rm -r of lower entries, which leave whiteouts in the upper
    directory.  The table must equal the one with a tmpfs upper."""
    base = os.path.join(d, 'ovl')
    os.mkdir(base)
    got = {}
    try:
        with H.Tmpfs(size='16m') as low:
            lower = os.path.join(low.mnt, 'lower')
            os.mkdir(lower)
            for n in ('f', 'h'):
                with open(os.path.join(lower, n), 'w') as f:
                    f.write(n)
            os.mkdir(os.path.join(lower, 'd'))
            with open(os.path.join(lower, 'd', 'g'), 'w') as f:
                f.write('g')
            up, wk, mnt = base + '/upper', base + '/work', low.mnt + '/ov'
            for p in (up, wk, mnt):
                os.mkdir(p)
            r = H.run(['mount', '-t', 'overlay', 'overlay', '-o',
                       'lowerdir=%s,upperdir=%s,workdir=%s' % (lower, up, wk), mnt])
            got['mount'] = r.returncode
            if r.returncode == 0:
                try:
                    got['unlink f'] = _try(os.unlink, mnt + '/f')
                    got['rename h h2'] = _try(os.rename, mnt + '/h', mnt + '/h2')
                    got['rm -r d'] = H.run(['rm', '-rf', mnt + '/d']).returncode
                    got['view'] = sorted(os.listdir(mnt))
                    got['upper'] = sorted(
                        (n, oct(os.lstat(up + '/' + n).st_mode),
                         os.lstat(up + '/' + n).st_rdev) for n in os.listdir(up))
                finally:
                    H.run(['umount', mnt], check_rc=True)
    finally:
        H.run(['rm', '-rf', base], timeout=60)
    diff_tables(got, OVERLAY_EXPECT, 'overlayfs with its upper layer here')


OVERLAY_EXPECT = {    # measured with a tmpfs upper, Linux 6.18
    'mount': 0,
    'unlink f': 'ok',
    'rename h h2': 'ok',
    'rm -r d': 0,
    'view': ['h2'],
    'upper': [('d', '0o20000', 0), ('f', '0o20000', 0), ('h', '0o20000', 0),
              ('h2', '0o100644', 0)],
}


O_TMPFILE = getattr(os, 'O_TMPFILE', 0o20200000)


def _tmpfile(d):
    try:
        fd = os.open(d, O_TMPFILE | os.O_RDWR, 0o600)
    except OSError as e:
        return ename(e.errno)
    try:
        os.write(fd, b'x')
        linked = os.path.join(d, 'tmpfile-linked')
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        # linkat(AT_FDCWD, /proc/self/fd/N, AT_FDCWD, linked, AT_SYMLINK_FOLLOW)
        if libc.linkat(-100, ('/proc/self/fd/%d' % fd).encode(), -100,
                       linked.encode(), 0x400) != 0:
            return 'linkat ' + ename(ctypes.get_errno())
        st = os.lstat(linked)
        os.unlink(linked)
        return ('ok', st.st_size, st.st_nlink)
    finally:
        os.close(fd)


def check_tmpfile(d):
    """open(O_TMPFILE): an unnamed file that linkat can name, on tmpfs,
    ext4 and holdfs alike (holdfs answers the kernel's FUSE_TMPFILE itself,
    fs/fuse_io.c: libfuse 3.14 has no handler for it), and nothing left
    behind when it is closed unlinked."""
    sub = os.path.join(d, 'tmpfile')
    os.mkdir(sub)
    try:
        got = {'open': _tmpfile(sub), 'again': _tmpfile(sub),
               'unnamed, closed': _tmpfile_unnamed(sub),
               'left behind': sorted(os.listdir(sub))}
    finally:
        H.run(['rm', '-rf', sub], timeout=60)
    want = {'open': ('ok', 1, 1), 'again': ('ok', 1, 1),
            'unnamed, closed': ('ok', 0), 'left behind': []}
    diff_tables(got, want, 'O_TMPFILE')


def _tmpfile_unnamed(d):
    """An O_TMPFILE file written and closed without a name: its nlink."""
    try:
        fd = os.open(d, O_TMPFILE | os.O_RDWR, 0o600)
    except OSError as e:
        return ename(e.errno)
    try:
        os.write(fd, b'y' * 100000)
        return ('ok', os.fstat(fd).st_nlink)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# issue 19 item 8: attribute flags (chattr +i, +a, +d)
#
# Measured as root on ext4 over a loop device (Linux 6.18), the table
# below; tmpfs keeps the same three flags since Linux 6.0 and gives the
# same table.  lsattr on ext4 also shows `e` (extents) on every file:
# only i, a and d are compared.  FUSE inodes never get S_IMMUTABLE or
# S_APPEND in the kernel, so every refusal on holdfs is the daemon's
# (lib/iflags.c); the kernel still checks the owner and
# CAP_LINUX_IMMUTABLE before it sends a SETFLAGS.

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL, FS_APPEND_FL, FS_NODUMP_FL = 0x10, 0x20, 0x40
FLAG_CHARS = (('i', FS_IMMUTABLE_FL), ('a', FS_APPEND_FL), ('d', FS_NODUMP_FL))


def _getflags(p):
    import fcntl
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
        return int.from_bytes(buf[:4], 'little')
    finally:
        os.close(fd)


def _chflags(p, add=0, remove=0):
    """What chattr does: GETFLAGS, change, SETFLAGS.  'ok' or the errno."""
    import fcntl
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        return ename(e.errno)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
        v = (int.from_bytes(buf[:4], 'little') | add) & ~remove
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, bytearray(v.to_bytes(4, 'little') + bytes(4)))
        return 'ok'
    except OSError as e:
        return ename(e.errno)
    finally:
        os.close(fd)


def _lsattr(p):
    """lsattr(1)'s flags of p, only i, a and d (ext4 adds e)."""
    r = H.run(['lsattr', '-d', p], timeout=30)
    if r.returncode != 0:
        return 'lsattr exit %d: %s' % (r.returncode, r.stderr.strip()[-200:])
    field = r.stdout.split()[0]
    return ''.join(c for c, _ in FLAG_CHARS if c in field)


def _chattr(p, *args):
    r = H.run(['chattr'] + list(args) + [p], timeout=30)
    if r.returncode == 0:
        return 'ok'
    return 'Operation not permitted' in r.stderr and 'EPERM' or r.stderr.strip()[-200:]


def _ok(fn, *args):
    r = errno_or(fn, *args)
    return r if isinstance(r, str) else 'ok'


def _open_close(p, flags):
    os.close(os.open(p, flags))


def _append_write(p):
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b'more')
    finally:
        os.close(fd)


RWF_NOAPPEND = 0x20     # linux/fs.h (Python's os module lacks it)


def _noappend_write(p):
    """pwritev2(RWF_NOAPPEND) at 0 through an O_APPEND descriptor."""
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.pwritev(fd, [b'z'], 0, RWF_NOAPPEND)
    finally:
        os.close(fd)


def _create(p):
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def _fd_ops(fd, src):
    """The data changes through a descriptor opened before the flag."""
    return {
        'pwrite at 0': _ok(os.pwrite, fd, b'x', 0),
        'pwrite at end': _ok(lambda: os.pwrite(fd, b'y', os.fstat(fd).st_size)),
        'ftruncate': _ok(os.ftruncate, fd, 1),
        'fallocate': _ok(fallocate, fd, 0, 0, 8192),
        'fallocate keep-size': _ok(fallocate, fd, FALLOC_FL_KEEP_SIZE, 0, 8192),
        'punch hole': _ok(fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
        'copy_file_range dest': _ok(lambda: copy_file_range(src, 0, fd, 0, 4)),
    }


def _file_ops(d, name):
    """Every change ext4 refuses or allows on a flagged file name in d."""
    p = os.path.join(d, name)
    got = {
        'open O_RDONLY': _ok(_open_close, p, os.O_RDONLY),
        'open O_WRONLY': _ok(_open_close, p, os.O_WRONLY),
        'open O_RDWR': _ok(_open_close, p, os.O_RDWR),
        'open O_WRONLY|O_TRUNC|O_APPEND': _ok(_open_close, p,
                                              os.O_WRONLY | os.O_TRUNC | os.O_APPEND),
        'pwritev2 RWF_NOAPPEND': _ok(_noappend_write, p),
        'append write': _ok(_append_write, p),
        'truncate': _ok(os.truncate, p, 0),
        'chmod': _ok(os.chmod, p, 0o600),
        'chown': _ok(os.chown, p, 0, GROUP_F),
        'utimes explicit': _ok(os.utime, p, (1, 1)),
        'touch (now)': _ok(os.utime, p, None),
        'setxattr': _ok(os.setxattr, p, 'user.new', b'v'),
        'removexattr': _ok(os.removexattr, p, 'user.old'),
        'link': _ok(os.link, p, p + '.link'),
        'rename': _ok(os.rename, p, p + '.moved'),
        'unlink': _ok(os.unlink, p),
    }
    return got


def _dir_ops(dd):
    return {
        'create': _ok(_create, os.path.join(dd, 'new')),
        'mkdir': _ok(os.mkdir, os.path.join(dd, 'newdir')),
        'link into': _ok(os.link, os.path.join(dd, '..', 'outside'), os.path.join(dd, 'l')),
        'rename into': _ok(os.rename, os.path.join(dd, '..', 'outside2'),
                           os.path.join(dd, 'moved-in')),
        'unlink': _ok(os.unlink, os.path.join(dd, 'x')),
        'rename out': _ok(os.rename, os.path.join(dd, 'y'), os.path.join(dd, '..', 'y-out')),
        'rename within': _ok(os.rename, os.path.join(dd, 'z'), os.path.join(dd, 'z2')),
        'truncate a file in it': _ok(os.truncate, os.path.join(dd, 'z'), 1),
        'chmod': _ok(os.chmod, dd, 0o700),
        'rmdir': _ok(os.rmdir, dd),
    }


def _mkfile(p, data=b'hello', xattr=True):
    with open(p, 'wb') as f:
        f.write(data)
    if xattr:
        os.setxattr(p, 'user.old', b'1')


def _clear_all(d):
    """Take every flag off (as root) so that the directory can go."""
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            _chflags(os.path.join(root, n), remove=FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL)
    _chflags(d, remove=FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL)


def observe_chattr(d):
    top = os.path.join(d, 'chattr')
    os.mkdir(top)
    got = {}
    try:
        # round trip with the real tools, as root
        f = os.path.join(top, 'rt')
        _mkfile(f)
        got['lsattr new file'] = _lsattr(f)
        for arg in ('+a', '+d', '-a', '+i', '-i', '-d'):
            got['chattr %s' % arg] = (_chattr(f, arg), _lsattr(f))
        got['chattr +d on a directory'] = (_chattr(top, '+d'), _lsattr(top))
        got['chattr -d on a directory'] = (_chattr(top, '-d'), _lsattr(top))
        got['chattr +d on an immutable file'] = (_chattr(f, '+i'), _chattr(f, '+d'), _lsattr(f))
        got['chattr -i +d at once'] = (_chattr(f, '-i', '+d'), _lsattr(f))
        _chattr(f, '-d')
        # privileges: root's file, then one of USER1's
        os.chmod(top, 0o777)
        _chattr(f, '+a')
        for what, add, rm in (('-a', 0, FS_APPEND_FL), ('+d', FS_NODUMP_FL, 0)):
            got['USER1 %s on root\'s file' % what] = H.as_user(
                H.USER1, H.GROUP1, _chflags, f, add, rm)
        _chattr(f, '-a')
        uf = os.path.join(top, 'users')
        _mkfile(uf, xattr=False)
        os.chown(uf, H.USER1, H.GROUP1)
        for what, add, rm in (('+d', FS_NODUMP_FL, 0), ('+a', FS_APPEND_FL, 0),
                              ('+i', FS_IMMUTABLE_FL, 0)):
            got['owner USER1 %s' % what] = H.as_user(H.USER1, H.GROUP1, _chflags, uf, add, rm)
        got['owner USER1 flags after'] = _lsattr(uf)
        # enforcement on files
        src = os.path.join(top, 'src')
        _mkfile(src, b'0123456789', xattr=False)
        for flag, name in (('+a', 'append'), ('+i', 'immutable')):
            p = os.path.join(top, name)
            _mkfile(p)
            fd = os.open(p, os.O_RDWR)
            sfd = os.open(src, os.O_RDONLY)
            try:
                got['%s: chattr' % name] = _chattr(p, flag)
                for k, v in _fd_ops(fd, sfd).items():
                    got['%s: open fd: %s' % (name, k)] = v
            finally:
                os.close(fd)
                os.close(sfd)
            for k, v in _file_ops(top, name).items():
                got['%s: %s' % (name, k)] = v
            got['%s: size and data' % name] = (os.stat(p).st_size, open(p, 'rb').read()[:8])
        # enforcement in directories
        for flag, name in (('+a', 'adir'), ('+i', 'idir')):
            dd = os.path.join(top, name)
            os.mkdir(dd)
            for n in ('x', 'y', 'z'):
                _mkfile(os.path.join(dd, n), xattr=False)
            for n in ('outside', 'outside2'):
                _mkfile(os.path.join(dd, '..', n), xattr=False)
            got['%s: chattr' % name] = _chattr(dd, flag)
            for k, v in _dir_ops(dd).items():
                got['%s: %s' % (name, k)] = v
            got['%s: names' % name] = sorted(os.listdir(dd))
            _chattr(dd, '-' + flag[1:])
            for n in ('outside', 'outside2'):
                if os.path.exists(os.path.join(top, n)):
                    os.unlink(os.path.join(top, n))
    finally:
        _clear_all(top)
        H.run(['rm', '-rf', top], timeout=60)
    return got


# ext4's table (Linux 6.18); tmpfs and holdfs differ only where named.
CHATTR_EXT4 = {
    'lsattr new file': '',
    'chattr +a': ('ok', 'a'),
    'chattr +d': ('ok', 'ad'),
    'chattr -a': ('ok', 'd'),
    'chattr +i': ('ok', 'id'),
    'chattr -i': ('ok', 'd'),
    'chattr -d': ('ok', ''),
    'chattr +d on a directory': ('ok', 'd'),
    'chattr -d on a directory': ('ok', ''),
    'chattr +d on an immutable file': ('ok', 'EPERM', 'i'),
    'chattr -i +d at once': ('ok', 'd'),
    "USER1 -a on root's file": 'EPERM',
    "USER1 +d on root's file": 'EPERM',
    'owner USER1 +d': 'ok',
    'owner USER1 +a': 'EPERM',
    'owner USER1 +i': 'EPERM',
    'owner USER1 flags after': 'd',
    'append: chattr': 'ok',
    'append: open fd: pwrite at 0': 'ok',
    'append: open fd: pwrite at end': 'ok',
    'append: open fd: ftruncate': 'EPERM',
    'append: open fd: fallocate': 'ok',
    'append: open fd: fallocate keep-size': 'ok',
    'append: open fd: punch hole': 'EPERM',
    'append: open fd: copy_file_range dest': 'ok',
    'append: open O_RDONLY': 'ok',
    'append: open O_WRONLY': 'EPERM',
    'append: open O_RDWR': 'EPERM',
    'append: open O_WRONLY|O_TRUNC|O_APPEND': 'EPERM',
    'append: pwritev2 RWF_NOAPPEND': 'EPERM',
    'append: append write': 'ok',
    'append: truncate': 'EPERM',
    'append: chmod': 'EPERM',
    'append: chown': 'EPERM',
    'append: utimes explicit': 'EPERM',
    'append: touch (now)': 'ok',
    'append: setxattr': 'EPERM',
    'append: removexattr': 'EPERM',
    'append: link': 'EPERM',
    'append: rename': 'EPERM',
    'append: unlink': 'EPERM',
    'append: size and data': (8196, b'0123oy\x00\x00'),
    'immutable: chattr': 'ok',
    'immutable: open fd: pwrite at 0': 'EPERM',
    'immutable: open fd: pwrite at end': 'EPERM',
    'immutable: open fd: ftruncate': 'EPERM',
    'immutable: open fd: fallocate': 'EPERM',
    'immutable: open fd: fallocate keep-size': 'EPERM',
    'immutable: open fd: punch hole': 'EPERM',
    'immutable: open fd: copy_file_range dest': 'EPERM',
    'immutable: open O_RDONLY': 'ok',
    'immutable: open O_WRONLY': 'EPERM',
    'immutable: open O_RDWR': 'EPERM',
    'immutable: open O_WRONLY|O_TRUNC|O_APPEND': 'EPERM',
    'immutable: pwritev2 RWF_NOAPPEND': 'EPERM',
    'immutable: append write': 'EPERM',
    'immutable: truncate': 'EPERM',
    'immutable: chmod': 'EPERM',
    'immutable: chown': 'EPERM',
    'immutable: utimes explicit': 'EPERM',
    'immutable: touch (now)': 'EPERM',
    'immutable: setxattr': 'EPERM',
    'immutable: removexattr': 'EPERM',
    'immutable: link': 'EPERM',
    'immutable: rename': 'EPERM',
    'immutable: unlink': 'EPERM',
    'immutable: size and data': (5, b'hello'),
    'adir: chattr': 'ok',
    'adir: create': 'ok',
    'adir: mkdir': 'ok',
    'adir: link into': 'ok',
    'adir: rename into': 'ok',
    'adir: unlink': 'EPERM',
    'adir: rename out': 'EPERM',
    'adir: rename within': 'EPERM',
    'adir: truncate a file in it': 'ok',
    'adir: chmod': 'EPERM',
    'adir: rmdir': 'EPERM',
    'adir: names': ['l', 'moved-in', 'new', 'newdir', 'x', 'y', 'z'],
    'idir: chattr': 'ok',
    'idir: create': 'EPERM',
    'idir: mkdir': 'EPERM',
    'idir: link into': 'EPERM',
    'idir: rename into': 'EPERM',
    'idir: unlink': 'EPERM',
    'idir: rename out': 'EPERM',
    'idir: rename within': 'EPERM',
    'idir: truncate a file in it': 'ok',
    'idir: chmod': 'EPERM',
    'idir: rmdir': 'EPERM',
    'idir: names': ['x', 'y', 'z'],
}
CHATTR_DIFFERS = {
    # tmpfs checks immutable at open only (a descriptor opened before
    # +i still writes) and lets an immutable file take +d
    'tmpfs': {
        'chattr +d on an immutable file': ('ok', 'ok', 'id'),
        'immutable: open fd: pwrite at 0': 'ok',
        'immutable: open fd: pwrite at end': 'ok',
        'immutable: open fd: ftruncate': 'ok',
        'immutable: size and data': (1, b'x'),
    },
    # holdfs refuses a write anywhere but at the end of an append-only
    # file, also through a descriptor opened before +a (ext4 checks at
    # open and fcntl(F_SETFL) only; FUSE tells the daemon of neither, so
    # an O_APPEND descriptor turned plain by F_SETFL would otherwise
    # overwrite the file): docs/semantics.md "Attribute flags"
    'holdfs': {
        'append: open fd: pwrite at 0': 'EPERM',
        'append: open fd: copy_file_range dest': 'EPERM',
        'append: size and data': (8196, b'helloy\x00\x00'),
    },
}


def check_chattr(d):
    """chattr/lsattr of i, a and d as root and as users, and every
    refusal ext4 makes for immutable and append-only files and
    directories (see the table)."""
    fstype = H.fs_type(d)
    want = dict(CHATTR_EXT4)
    want.update(CHATTR_DIFFERS.get(fstype if fstype in ('tmpfs', 'ext4') else 'holdfs', {}))
    diff_tables(observe_chattr(d), want, 'chattr')


def test_chattr_persists():
    """holdfs only: the flags survive unmount, a clean fsck and mount;
    the superblock then says IFLAGS (fsck -n is clean with it), and the
    flags are still enforced after the mount."""
    fs = holdfs.get()
    d = os.path.join(fs.mnt, 'persist')
    os.mkdir(d)
    f, a = os.path.join(d, 'imm'), os.path.join(d, 'app')
    _mkfile(f)
    _mkfile(a)
    check_eq((_chattr(f, '+i', '+d'), _chattr(a, '+a'), _chattr(d, '+a')),
             ('ok', 'ok', 'ok'), 'chattr')
    fs.unmount(check_clean=True)
    with open(fs.region, 'rb') as img:   # s_feat_ro_compat: offset 24
        ro_compat = int.from_bytes(img.read(28)[24:28], 'little')
    check_eq(ro_compat & 0x1, 0x1, 'superblock ro_compat IFLAGS (0x1)')
    fs.fsck_clean('with immutable, append-only and nodump inodes')
    fs.mount()
    try:
        check_eq((_lsattr(f), _lsattr(a), _lsattr(d)), ('id', 'a', 'a'),
                 'flags after unmount, fsck and mount')
        check_eq((_ok(os.truncate, f, 0), _ok(os.unlink, a), _ok(_append_write, a),
                  _ok(_create, os.path.join(d, 'new'))),
                 ('EPERM', 'EPERM', 'ok', 'ok'), 'enforced after the mount')
    finally:
        _clear_all(d)
        H.run(['rm', '-rf', d], timeout=60)


# ---------------------------------------------------------------------------
# the targets

# ---------------------------------------------------------------------------
# item 2: extended attribute capacity
#
# 1000 small user xattrs on one file, listxattr, a value of 64 KiB (the
# VFS's XATTR_SIZE_MAX) and one byte more.  Measured (Linux 6.18): tmpfs
# holds all of it; ext4 as Ext4Loop makes it (mkfs.ext4 defaults for a
# 128 MiB image: 1 KiB blocks, no ea_inode) stops after a few dozen small
# attributes with ENOSPC and refuses 64 KiB with ENOSPC (with -b 4096 -O
# ea_inode: 103 small ones, and 64 KiB fits); 65537 bytes is E2BIG
# everywhere, from the VFS.

XATTR_N = 1000


def _xval(i):
    return b'%016d' % i


def observe_xattr_capacity(d):
    p = os.path.join(d, 'xcap')
    with open(p, 'w'):
        pass
    got = {}
    ok, err = 0, None
    for i in range(XATTR_N):
        try:
            os.setxattr(p, 'user.k%04d' % i, _xval(i))
            ok += 1
        except OSError as e:
            err = ename(e.errno)
            break
    got['set-1000'] = 'ok' if ok == XATTR_N else 'stops with %s' % err
    names = sorted(x for x in os.listxattr(p) if x.startswith('user.k'))
    got['listed-all'] = names == ['user.k%04d' % i for i in range(ok)]
    got['values'] = all(os.getxattr(p, 'user.k%04d' % i) == _xval(i) for i in range(ok))
    for i in range(0, ok, 2):
        os.removexattr(p, 'user.k%04d' % i)
    got['after-remove'] = sorted(x for x in os.listxattr(p) if x.startswith('user.k')) == \
        ['user.k%04d' % i for i in range(1, ok, 2)]
    big = bytes((i * 7 + i // 4093) & 255 for i in range(65536))
    for size in (65536, 65537):
        v = big if size == 65536 else big + b'x'
        try:
            os.setxattr(p, 'user.big', v)
            got['set-%d' % size] = 'ok' if os.getxattr(p, 'user.big') == v else 'differs'
        except OSError as e:
            got['set-%d' % size] = ename(e.errno)
    os.unlink(p)
    return got


def check_xattr_capacity(d):
    """1000 user xattrs on a file and a 64 KiB value, against the
    kernel's own filesystems."""
    if H.fs_type(d) == 'ext4':
        want = {'set-1000': 'stops with ENOSPC', 'listed-all': True, 'values': True,
                'after-remove': True, 'set-65536': 'ENOSPC', 'set-65537': 'E2BIG'}
    else:
        want = {'set-1000': 'ok', 'listed-all': True, 'values': True,
                'after-remove': True, 'set-65536': 'ok', 'set-65537': 'E2BIG'}
    diff_tables(observe_xattr_capacity(d), want, 'xattr capacity')


def _free_blocks(d):
    st = os.statvfs(d)
    return st.f_bfree


def _wait_free(d, before, what):
    """The inode goes when the kernel sends FORGET, a moment after its
    last reference: wait (10 s at most) for the free blocks to return."""
    deadline = time.monotonic() + 10
    while _free_blocks(d) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    check_eq(_free_blocks(d), before, 'free blocks (10 s at most) after %s' % what)


def test_xattr_space():
    """holdfs only (tmpfs does not count xattrs in statfs): 1000 xattrs
    and a 64 KiB value take pool blocks, removing them gives every block
    back, also when the file is unlinked; a second file keeps the same
    set through unmount, a clean fsck and mount.  Prints one run's
    timings of the 1000 set/get and of listxattr."""
    fs = holdfs.get()
    d = fs.mnt
    p, keep = os.path.join(d, 'xspace'), os.path.join(d, 'xkeep')
    for f in (p, keep):
        with open(f, 'w'):
            pass
    before = _free_blocks(d)
    big = bytes((i * 13) & 255 for i in range(65536))
    t0 = time.monotonic()
    for i in range(XATTR_N):
        os.setxattr(p, 'user.k%04d' % i, _xval(i))
    t1 = time.monotonic()
    for i in range(XATTR_N):
        check_eq(os.getxattr(p, 'user.k%04d' % i), _xval(i), 'user.k%04d' % i)
    t2 = time.monotonic()
    check_eq(len(os.listxattr(p)), XATTR_N, 'listxattr entries')
    t3 = time.monotonic()
    os.setxattr(p, 'user.big', big)
    check_eq(os.getxattr(p, 'user.big'), big, '64 KiB value')
    used = before - _free_blocks(d)
    # 1000 entries of ~32 bytes in 4064-byte blocks, 17 value blocks
    check(used >= 8 + 17, 'xattrs took only %d blocks' % used)
    for i in range(XATTR_N):
        os.removexattr(p, 'user.k%04d' % i)
    os.removexattr(p, 'user.big')
    check_eq(os.listxattr(p), [], 'listxattr after removing everything')
    check_eq(_free_blocks(d), before, 'free blocks after removing every xattr')
    # the same again, on a file that goes away whole
    for i in range(XATTR_N):
        os.setxattr(p, 'user.k%04d' % i, _xval(i))
    os.setxattr(p, 'user.big', big)
    os.unlink(p)
    _wait_free(d, before, 'unlinking a file with xattrs')
    # unlinked while open: the attributes stay usable through the
    # descriptor and go with the inode after the last close (the kernel
    # sends FORGET when it drops the inode, a moment after the close)
    with open(p, 'w') as f:
        for i in range(XATTR_N):
            os.setxattr(f.fileno(), 'user.k%04d' % i, _xval(i))
        os.setxattr(f.fileno(), 'user.big', big)
        os.unlink(p)
        check_eq(os.getxattr(f.fileno(), 'user.big'), big, '64 KiB value of an unlinked open file')
        check(_free_blocks(d) < before, 'blocks of an unlinked open file freed early')
    _wait_free(d, before, 'the last close of an unlinked file')
    for i in range(XATTR_N):
        os.setxattr(keep, 'user.k%04d' % i, _xval(i))
    os.setxattr(keep, 'user.big', big)
    fs.unmount(check_clean=True)
    fs.fsck_clean('with 1000 xattrs and a 64 KiB value on a file')
    fs.mount()
    check_eq(sorted(os.listxattr(keep)),
             sorted(['user.k%04d' % i for i in range(XATTR_N)] + ['user.big']),
             'xattrs after unmount, fsck and mount')
    check(all(os.getxattr(keep, 'user.k%04d' % i) == _xval(i) for i in range(XATTR_N)),
          'values after unmount, fsck and mount')
    check_eq(os.getxattr(keep, 'user.big'), big, '64 KiB value after unmount, fsck and mount')
    print('# holdfs, one run: %d setxattr %.3f s (%.1f us each), %d getxattr %.3f s '
          '(%.1f us each), listxattr of %d names %.2f ms'
          % (XATTR_N, t1 - t0, (t1 - t0) * 1e6 / XATTR_N, XATTR_N, t2 - t1,
             (t2 - t1) * 1e6 / XATTR_N, XATTR_N, (t3 - t2) * 1e3))


CHECKS = [
    ('killpriv-data', check_killpriv_data),
    ('killpriv-chown', check_killpriv_chown),
    ('errnos', check_errnos),
    ('acl', check_acl),
    ('whiteout', check_whiteout),
    ('tmpfile', check_tmpfile),
    ('xattr-capacity', check_xattr_capacity),
    ('chattr', check_chattr),
]

tmpfs = H.Lazy('tmpfs mount', lambda: H.Tmpfs(size='256m'))
ext4 = H.Lazy('ext4 loop mount', lambda: H.Ext4Loop(size='128M'))
holdfs = H.Lazy('holdfs mount', lambda: H.HoldFS(size='256M'))


def holdfs_fsck():
    """What the checks did leaves the region clean for fsck."""
    fs = holdfs.get()
    fs.unmount(check_clean=True)
    fs.fsck_clean('after the semantics checks')
    holdfs.close()


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    ap.add_argument('--no-calibration', action='store_true',
                    help='skip the tmpfs and ext4 runs')
    args = ap.parse_args()
    cases = []
    targets = [('holdfs', holdfs)]
    if not args.no_calibration:
        targets = [('tmpfs', tmpfs), ('ext4', ext4)] + targets
    for name, target in targets:
        if name != 'ext4':
            cases.append(H.Case('%s/remount' % name, lambda n=name: check_remount(n)))
            cases.append(H.Case('%s/overlay-upper' % name,
                                lambda t=target: check_overlay_upper(t.get().mnt)))
        for opt in ATIME_EXPECT:
            cases.append(H.Case('%s/atime-%s' % (name, opt),
                                lambda n=name, o=opt: check_atime(n, o)))
        for cname, fn in CHECKS:
            cases.append(H.Case('%s/%s' % (name, cname),
                                lambda fn=fn, t=target: fn(t.get().mnt)))
        if name == 'holdfs':
            cases.append(H.Case('holdfs/xattr-space', test_xattr_space))
            cases.append(H.Case('holdfs/chattr-persists', test_chattr_persists))
            cases.append(H.Case('holdfs/fsck-clean', holdfs_fsck))
            cases.append(H.Case('holdfs/atime-persists', test_atime_persists))
            for fn in (test_umount_then_mount_at_once, test_mount_refuses_a_mounted_holder_at_once,
                       test_mount_waits_bounded_for_a_lazily_unmounted_daemon):
                cases.append(H.Case('holdfs/' + fn.__name__[5:], fn))
        else:
            cases.append(H.Case('%s/unmount' % name, target.close))
    H.run_tests(cases, args, header='# test_semantics: HOLDFS_BUILD=%s, regions in %s'
                % (H.build_dir(), H.region_base()))


if __name__ == '__main__':
    main()
