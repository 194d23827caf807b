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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import fail  # noqa: E402

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
        os.copy_file_range(sfd, fd, 10, 0, 0)
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
# the targets

CHECKS = [
    ('killpriv-data', check_killpriv_data),
    ('killpriv-chown', check_killpriv_chown),
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
        for cname, fn in CHECKS:
            cases.append(H.Case('%s/%s' % (name, cname),
                                lambda fn=fn, t=target: fn(t.get().mnt)))
        if name == 'holdfs':
            cases.append(H.Case('holdfs/fsck-clean', holdfs_fsck))
        else:
            cases.append(H.Case('%s/unmount' % name, target.close))
    H.run_tests(cases, args, header='# test_semantics: HOLDFS_BUILD=%s, regions in %s'
                % (H.build_dir(), H.region_base()))


if __name__ == '__main__':
    main()
