#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""File handles on a holdfs mount: name_to_handle_at / open_by_handle_at,
the kernel's export path that NFS uses (docs/nfs.md).

A handle is the inode number and its generation.  It must open the same
file after the kernel forgot the inode and after the daemon restarted
(a remount), and must fail with ESTALE -- never open another file -- once
the file is gone, its slot reused by another file, or the number forged.

    HOLDFS_BUILD=build python3 tests/integration/test_handles.py
"""
import ctypes
import errno
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq  # noqa: E402

MAX_HANDLE_SZ = 128
AT_FDCWD = -100


class FileHandle(ctypes.Structure):
    _fields_ = [('handle_bytes', ctypes.c_uint), ('handle_type', ctypes.c_int),
                ('f_handle', ctypes.c_ubyte * MAX_HANDLE_SZ)]


def name_to_handle(path):
    fh = FileHandle(handle_bytes=MAX_HANDLE_SZ)
    mnt_id = ctypes.c_int()
    f = H.libc().name_to_handle_at
    f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(FileHandle),
                  ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    if f(AT_FDCWD, os.fsencode(path), ctypes.byref(fh), ctypes.byref(mnt_id), 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return fh


def open_by_handle(mount_fd, fh, flags=os.O_RDONLY):
    f = H.libc().open_by_handle_at
    f.argtypes = [ctypes.c_int, ctypes.POINTER(FileHandle), ctypes.c_int]
    fd = f(mount_fd, ctypes.byref(fh), flags)
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return fd


def read_by_handle(mnt, fh):
    mfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = open_by_handle(mfd, fh)
    finally:
        os.close(mfd)
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def expect_stale(mnt, fh, what):
    try:
        data = read_by_handle(mnt, fh)
    except OSError as e:
        check_eq(e.errno, errno.ESTALE, 'open_by_handle_at of %s' % what)
        return
    check(False, 'open_by_handle_at of %s opened a file (read %r)' % (what, data[:40]))


def forget_all():
    """Make the kernel drop every unused inode and dentry it caches."""
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('2')


def test_handle_survives_forget_and_restart():
    H.require_root()
    with H.HoldFS(size='64M') as fs:
        os.mkdir(fs.path('d'))
        H.write_file(fs.path('d/f'), b'the first file')
        fh_f, fh_d = name_to_handle(fs.path('d/f')), name_to_handle(fs.path('d'))
        forget_all()
        check_eq(read_by_handle(fs.mnt, fh_f), b'the first file', 'by handle after the kernel forgot it')
        fs.unmount()
        fs.mount()
        check_eq(read_by_handle(fs.mnt, fh_f), b'the first file', 'by handle after a daemon restart')
        mfd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            dfd = open_by_handle(mfd, fh_d, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            os.close(mfd)
        try:
            check_eq(os.listdir(dfd), ['f'], 'a directory opened by handle after a restart')
            # its parent is found through ".." (a reconnect the kernel does
            # for directory handles)
            check_eq(os.stat('..', dir_fd=dfd).st_ino, os.stat(fs.mnt).st_ino,
                     'parent of a directory opened by handle')
        finally:
            os.close(dfd)


def test_handle_of_a_gone_or_reused_file_is_stale():
    H.require_root()
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('old'), b'old secret')
        ino = os.stat(fs.path('old')).st_ino
        fh = name_to_handle(fs.path('old'))
        os.unlink(fs.path('old'))
        forget_all()
        expect_stale(fs.mnt, fh, 'an unlinked file')
        # the freed slot goes to the next file (the inode table reuses the
        # most recently freed slot): same number, new generation
        H.write_file(fs.path('new'), b'new data')
        check_eq(os.stat(fs.path('new')).st_ino, ino, 'the new file reuses the old slot (test premise)')
        forget_all()
        expect_stale(fs.mnt, fh, 'a file whose slot another file reuses')
        fs.unmount()
        fs.mount()
        expect_stale(fs.mnt, fh, 'a reused slot after a restart')
        check_eq(H.read_file(fs.path('new')), b'new data', 'the new file is untouched')


def test_forged_handles_are_stale():
    """Handles are 8 bytes of node id and 4 of generation (the FUSE
    kernel's encoding): every forged one fails cleanly and the daemon
    keeps serving."""
    H.require_root()
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('f'), b'x')
        good = name_to_handle(fs.path('f'))
        check(good.handle_bytes >= 12, 'handle size %d' % good.handle_bytes)
        node, gen = struct.unpack_from('<QI', bytes(good.f_handle)[:12])
        forget_all()
        for what, n, g in (('node id 0', 0, gen), ('node id past the table', 1 << 40, gen),
                           ('node id 2^64-1', (1 << 64) - 1, gen),
                           ('a free slot', node + 57, gen), ('a wrong generation', node, gen + 1)):
            fh = FileHandle(handle_bytes=good.handle_bytes, handle_type=good.handle_type)
            raw = bytearray(bytes(good.f_handle))
            struct.pack_into('<QI', raw, 0, n, g & 0xffffffff)
            ctypes.memmove(fh.f_handle, bytes(raw), len(raw))
            expect_stale(fs.mnt, fh, 'a forged handle (%s)' % what)
        check_eq(read_by_handle(fs.mnt, good), b'x', 'the real handle still works')
        check_eq(H.read_file(fs.path('f')), b'x', 'the daemon still serves')


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
