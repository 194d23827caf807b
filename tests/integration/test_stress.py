#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Stress, persistence, crash-replay and ENOSPC tests on real holdfs mounts.

    HOLDFS_BUILD=build python3 tests/integration/test_stress.py [-k NAME] [-x] [--list]

Timings are printed as '# ...' lines; nothing here asserts speed.
"""

import errno
import hashlib
import json
import os
import random
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, expect_errno, fail, pattern  # noqa: E402
import posix_ops  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


note = H.note


def J(*a):
    return os.path.join(*a)


pwrite_all = posix_ops.pwrite_all
pread_all = posix_ops.pread_all


# ---------------------------------------------------------------------------
# a 100,000-entry directory


@H.timeout(1800)
def test_100k_directory():
    N = 100000
    # one inode per 16 KiB by default: 100k inodes need a >= 1.6 GiB region
    with H.HoldFS(size='4G') as fs:
        d = fs.path('big')
        os.mkdir(d)
        names = ['f%d' % i for i in range(N)]
        t0 = time.monotonic()
        for nm in names:
            os.close(os.open(J(d, nm), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        t1 = time.monotonic()
        note('100k dir: created %d files in %.1f s (%.0f/s)' % (N, t1 - t0, N / (t1 - t0)))
        for i in (0, 1, 9, 4242, 50000, 77777, 99998, 99999):
            st = os.stat(J(d, 'f%d' % i))
            check(stat.S_ISREG(st.st_mode), 'f%d is not a regular file' % i)
        expect_errno(errno.ENOENT, os.stat, J(d, 'f%d' % N))
        expect_errno(errno.ENOENT, os.stat, J(d, 'g1'))
        expect_errno(errno.EEXIST, os.open, J(d, 'f31337'), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        t0 = time.monotonic()
        got = os.listdir(d)
        t1 = time.monotonic()
        note('100k dir: listdir in %.2f s' % (t1 - t0))
        check_eq(len(got), N, 'entries listed in the 100k directory')
        check_eq(len(set(got)), N, 'distinct entries listed in the 100k directory')
        check(set(got) == set(names), 'listing differs from the names created (missing e.g. %s)'
              % sorted(set(names) - set(got))[:3])
        t0 = time.monotonic()
        fs.remount()
        note('100k dir: clean unmount + mount in %.2f s' % (time.monotonic() - t0))
        t0 = time.monotonic()
        got = os.listdir(d)
        note('100k dir: listdir after remount in %.2f s' % (time.monotonic() - t0))
        check_eq(len(got), N, 'entries listed after a remount')
        check(set(got) == set(names), 'listing after remount differs from the names created')
        check(os.path.isfile(J(d, 'f77777')), 'lookup after remount')
        t0 = time.monotonic()
        for nm in names:
            os.unlink(J(d, nm))
        t1 = time.monotonic()
        note('100k dir: unlinked %d files in %.1f s (%.0f/s)' % (N, t1 - t0, N / (t1 - t0)))
        check_eq(os.listdir(d), [], 'listing after unlinking everything')
        os.rmdir(d)
        check_eq(os.listdir(fs.mnt), [], 'root after removing the big directory')
        fs.unmount()


# ---------------------------------------------------------------------------
# parallel writers and creators


def _wsize(w, f):
    return random.Random('size-%d-%d' % (w, f)).randrange(256 * KiB, 6 * MiB)


def _writer(root, w, nfiles):
    rng = random.Random(w)
    total = 0
    for f in range(nfiles):
        size = _wsize(w, f)
        data = pattern('w%d-f%d' % (w, f), size)
        p = J(root, 'w%d' % w, 'f%d' % f)
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            # random chunks in random order: interleaved extents
            cuts = sorted(set([0, size] + [rng.randrange(size) for _ in range(20)]))
            pieces = list(zip(cuts, cuts[1:]))
            rng.shuffle(pieces)
            for a, b in pieces:
                pwrite_all(fd, data[a:b], a)
            if f % 2:
                os.fsync(fd)
            got = pread_all(fd, size + 1, 0)
            if got != data:
                raise H.TestFailure('writer %d: file f%d reads back wrong right after writing' % (w, f))
        finally:
            os.close(fd)
        total += size
    return total


def _verify_writers(root, nw, nfiles, when):
    for w in range(nw):
        for f in range(nfiles):
            size = _wsize(w, f)
            p = J(root, 'w%d' % w, 'f%d' % f)
            want = pattern('w%d-f%d' % (w, f), size)
            got = H.read_file(p)
            if got != want:
                fail('%s: %s has %d bytes, want %d; first difference at %s'
                     % (when, p, len(got), len(want), posix_ops._first_diff(got, want)))


@H.timeout(900)
def test_parallel_writers():
    NW, NF = 4, 8
    with H.HoldFS(size='2G') as fs:
        for w in range(NW):
            os.mkdir(fs.path('w%d' % w))
        t0 = time.monotonic()
        kids = [H.Child(_writer, fs.mnt, w, NF) for w in range(NW)]
        total = 0
        errors = []
        for k in kids:
            try:
                total += k.join(timeout=600)
            except (OSError, H.TestFailure, H.ChildError) as e:
                errors.append(str(e))
        dt = time.monotonic() - t0
        check(not errors, 'parallel writers failed: %s' % '; '.join(errors))
        note('parallel writers: %d MiB by %d processes in %.1f s' % (total >> 20, NW, dt))
        _verify_writers(fs.mnt, NW, NF, 'after the parallel writes')
        fs.remount()
        _verify_writers(fs.mnt, NW, NF, 'after a remount')


def _creator(d, w, n):
    for i in range(n):
        fd = os.open(J(d, 'c%d_%d' % (w, i)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, b'%d:%d' % (w, i))
        finally:
            os.close(fd)
    return n


def _lister(d, stop_file, rounds):
    """List the directory while others create in it: no listing may hold a
    name twice."""
    worst = 0
    for _ in range(rounds):
        if os.path.exists(stop_file):
            break
        names = os.listdir(d)
        dup = len(names) - len(set(names))
        worst = max(worst, dup)
        if dup:
            raise H.TestFailure('a listing during parallel creates held %d duplicate names' % dup)
    return worst


def _unlinker(d, w, n):
    for i in range(n):
        os.unlink(J(d, 'c%d_%d' % (w, i)))
    return n


@H.timeout(900)
def test_parallel_creators():
    NW, N = 4, 2000
    with H.HoldFS(size='1G') as fs:
        d = fs.path('shared')
        os.mkdir(d)
        stop = J(fs.tmpdir, 'stop-listing')
        t0 = time.monotonic()
        lister = H.Child(_lister, d, stop, 100000)
        kids = [H.Child(_creator, d, w, N) for w in range(NW)]
        errors = []
        for k in kids:
            try:
                k.join(timeout=600)
            except (OSError, H.TestFailure, H.ChildError) as e:
                errors.append(str(e))
        dt = time.monotonic() - t0
        H.write_file(stop, b'')
        try:
            lister.join(timeout=120)
        except (OSError, H.TestFailure, H.ChildError) as e:
            errors.append('lister: %s' % e)
        check(not errors, 'parallel creators failed: %s' % '; '.join(errors))
        note('parallel creators: %d files by %d processes in %.1f s' % (NW * N, NW, dt))
        want = {'c%d_%d' % (w, i) for w in range(NW) for i in range(N)}
        got = os.listdir(d)
        check_eq(len(got), NW * N, 'entries after parallel creates')
        check_eq(len(set(got)), NW * N, 'distinct entries after parallel creates')
        check(set(got) == want, 'names after parallel creates differ (missing e.g. %s)' % sorted(want - set(got))[:3])
        for w in range(NW):
            for i in range(0, N, 97):
                check_eq(H.read_file(J(d, 'c%d_%d' % (w, i))), b'%d:%d' % (w, i), 'content of c%d_%d' % (w, i))
        fs.remount()
        got = os.listdir(d)
        check(len(got) == NW * N and set(got) == want, 'names after a remount differ (%d entries)' % len(got))
        kids = [H.Child(_unlinker, d, w, N) for w in range(NW)]
        for k in kids:
            try:
                k.join(timeout=600)
            except (OSError, H.TestFailure, H.ChildError) as e:
                errors.append(str(e))
        check(not errors, 'parallel unlinkers failed: %s' % '; '.join(errors))
        check_eq(os.listdir(d), [], 'directory after parallel unlinks')
        fs.remount()
        check_eq(os.listdir(d), [], 'directory after parallel unlinks and a remount')


STRIPE = 64 * KiB


def _stripe_writer(path, w, nw, size):
    """Write every nw-th 64 KiB stripe (starting at w) of one shared file,
    in random order; a reader checks its own stripes as it goes."""
    rng = random.Random('stripe%d' % w)
    stripes = list(range(w, size // STRIPE, nw))
    rng.shuffle(stripes)
    fd = os.open(path, os.O_RDWR)
    try:
        for k, s in enumerate(stripes):
            pwrite_all(fd, pattern('stripe%d' % s, STRIPE), s * STRIPE)
            if k % 16 == 0:
                os.fdatasync(fd)
                back = stripes[rng.randrange(k + 1)]
                if pread_all(fd, STRIPE, back * STRIPE) != pattern('stripe%d' % back, STRIPE):
                    raise H.TestFailure('writer %d: its stripe %d reads back wrong' % (w, back))
    finally:
        os.close(fd)
    return len(stripes)


@H.timeout(900)
def test_parallel_writers_one_file():
    """4 processes filling interleaved stripes of one 64 MiB file: the
    inode's extent map and size are updated concurrently."""
    NW, SIZE = 4, 64 * MiB
    with H.HoldFS(size='1G') as fs:
        p = fs.path('shared')
        H.write_file(p, b'')
        kids = [H.Child(_stripe_writer, p, w, NW, SIZE) for w in range(NW)]
        errors = []
        for k in kids:
            try:
                k.join(timeout=600)
            except (OSError, H.TestFailure, H.ChildError) as e:
                errors.append(str(e))
        check(not errors, 'striped writers failed: %s' % '; '.join(errors))
        want = b''.join(pattern('stripe%d' % s, STRIPE) for s in range(SIZE // STRIPE))
        for when in ('after the parallel writes', 'after a remount'):
            check_eq(os.stat(p).st_size, SIZE, 'size %s' % when)
            got = H.read_file(p)
            check(got == want, 'content %s: first difference at %s' % (when, posix_ops._first_diff(got, want)))
            if when.startswith('after the'):
                fs.unmount()
                fs.fsck_clean('after parallel striped writes')
                fs.mount()


def _renamer(root, w, nfiles, rounds):
    """Move own files between A and B (both directions race with the other
    workers: lock ordering), and swap pairs with RENAME_EXCHANGE."""
    rng = random.Random('ren%d' % w)
    where = {i: 'A' for i in range(nfiles)}
    for r in range(rounds):
        i = rng.randrange(nfiles)
        src = J(root, where[i], 'w%d_%d' % (w, i))
        if rng.random() < 0.2:
            j = rng.randrange(nfiles)
            if j != i:
                dst = J(root, where[j], 'w%d_%d' % (w, j))
                posix_ops.renameat2(src, dst, posix_ops.RENAME_EXCHANGE)
                # names stay; contents swap: swap back to keep the model simple
                posix_ops.renameat2(src, dst, posix_ops.RENAME_EXCHANGE)
            continue
        to = 'B' if where[i] == 'A' else 'A'
        os.rename(src, J(root, to, 'w%d_%d' % (w, i)))
        where[i] = to
    return where


@H.timeout(900)
def test_parallel_renames():
    NW, NF, ROUNDS = 4, 200, 3000
    with H.HoldFS(size='1G') as fs:
        for d in ('A', 'B'):
            os.mkdir(fs.path(d))
        for w in range(NW):
            for i in range(NF):
                H.write_file(fs.path('A', 'w%d_%d' % (w, i)), b'%d/%d' % (w, i))
        t0 = time.monotonic()
        kids = [H.Child(_renamer, fs.mnt, w, NF, ROUNDS) for w in range(NW)]
        results, errors = {}, []
        for w, k in enumerate(kids):
            try:
                results[w] = k.join(timeout=600)
            except (OSError, H.TestFailure, H.ChildError) as e:
                errors.append('worker %d: %s' % (w, e))
        check(not errors, 'parallel renames failed: %s' % '; '.join(errors))
        note('parallel renames: %d renames by %d processes in %.1f s' % (NW * ROUNDS, NW, time.monotonic() - t0))
        for when in ('after the renames', 'after a remount'):
            a, b = set(os.listdir(fs.path('A'))), set(os.listdir(fs.path('B')))
            check(not (a & b), '%s: names in both A and B: %s' % (when, sorted(a & b)[:5]))
            check_eq(len(a) + len(b), NW * NF, 'files in A and B %s' % when)
            for w in range(NW):
                for i, d in results[w].items():
                    name = 'w%d_%d' % (w, i)
                    check(name in (a if d == 'A' else b), '%s: %s not in %s' % (when, name, d))
                    check_eq(H.read_file(fs.path(d, name)), b'%d/%d' % (w, i), '%s: content of %s' % (when, name))
            if when.startswith('after the'):
                fs.unmount()
                fs.fsck_clean('after parallel renames')
                fs.mount()


# ---------------------------------------------------------------------------
# remount persistence


def _seek_map(p):
    """[(data_start, hole_start), ...] via SEEK_DATA/SEEK_HOLE."""
    fd = os.open(p, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        out = []
        off = 0
        while off < size:
            try:
                a = os.lseek(fd, off, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            b = os.lseek(fd, a, os.SEEK_HOLE)
            out.append((a, b))
            off = b
        return out
    finally:
        os.close(fd)


def _digest_file(p):
    """sha256 over the data ranges SEEK_DATA reports (with their offsets);
    each hole is sampled (first and last 4 KiB must read as zeros) instead
    of reading gigabytes of zeros through FUSE.  O_NOATIME: looking must
    not change the access times the snapshot compares (reads update them
    under relatime, as on ext4)."""
    h = hashlib.sha256()
    fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
    try:
        size = os.fstat(fd).st_size
        segs = _seek_map(p)
        pos = 0
        for a, b in segs + [(size, size)]:
            if a > pos:                       # hole [pos, a)
                for off in {pos, max(pos, a - 4096)}:
                    n = min(4096, a - off)
                    if pread_all(fd, n, off) != bytes(n):
                        raise H.TestFailure('%s: hole at %d does not read as zeros' % (p, off))
            off = a
            while off < b:
                n = min(1 << 20, b - off)
                blk = pread_all(fd, n, off)
                if len(blk) != n:
                    raise H.TestFailure('%s: short read at %d inside SEEK_DATA range' % (p, off))
                h.update(b'%d:' % off)
                h.update(blk)
                off += n
            pos = max(pos, b)
        h.update(b'size:%d' % size)
    finally:
        os.close(fd)
    return h.hexdigest()


def snapshot(root, no_read=()):
    """Everything observable about a tree, keyed by relative path."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames) + ([''] if dirpath == root else []):
            p = J(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            ent = {'mode': st.st_mode, 'uid': st.st_uid, 'gid': st.st_gid, 'size': st.st_size,
                   'nlink': st.st_nlink, 'ino': st.st_ino, 'rdev': st.st_rdev,
                   'mtime': st.st_mtime_ns, 'ctime': st.st_ctime_ns, 'blocks': st.st_blocks}
            if rel in no_read:
                ent['atime'] = st.st_atime_ns
            if stat.S_ISLNK(st.st_mode):
                ent['target'] = os.readlink(p)
            else:
                if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                    ent['xattrs'] = {n: os.getxattr(p, n) for n in sorted(os.listxattr(p))
                                     if n.startswith('user.')}
                if stat.S_ISREG(st.st_mode) and rel not in no_read:
                    ent['sha256'] = _digest_file(p)
                    ent['seek'] = _seek_map(p)
                if stat.S_ISDIR(st.st_mode):
                    ent['entries'] = sorted(os.listdir(p))
            snap[rel] = ent
    return snap


def diff_snapshots(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append('%s: appeared' % k)
        elif k not in b:
            out.append('%s: vanished' % k)
        else:
            for f in sorted(set(a[k]) | set(b[k])):
                if a[k].get(f) != b[k].get(f):
                    va, vb = a[k].get(f), b[k].get(f)
                    if f == 'mode':
                        va, vb = oct(va), oct(vb)
                    out.append('%s: %s %s -> %s' % (k, f, H._short(va, 80), H._short(vb, 80)))
    return out


def build_tree(root):
    """A tree with one of everything; returns the paths never read (their
    atime is compared too)."""
    J_ = lambda *a: J(root, *a)  # noqa: E731
    for d in ('a', 'a/b', 'a/b/c', 'empty', 'many', 'private', 'sg', 'moved_src', 'xdir'):
        os.mkdir(J_(*d.split('/')))
    os.chown(J_('private'), 1000, 1000)
    os.chmod(J_('private'), 0o700)
    os.chown(J_('sg'), 0, 4321)
    os.chmod(J_('sg'), 0o2775)
    H.write_file(J_('sg', 'inherits'), b'g')
    # sizes around block boundaries
    for n in (0, 1, 4095, 4096, 4097, 65536, 1 * MiB + 3):
        H.write_file(J_('a', 'size%d' % n), pattern('size%d' % n, n))
    # a big file written in scattered order
    big = pattern('big', 20 * MiB)
    fd = os.open(J_('a', 'b', 'big'), os.O_CREAT | os.O_WRONLY, 0o644)
    rng = random.Random(5)
    chunks = [(i, min(i + 300 * KiB, len(big))) for i in range(0, len(big), 300 * KiB)]
    rng.shuffle(chunks)
    for x, y in chunks:
        pwrite_all(fd, big[x:y], x)
    os.close(fd)
    # holes
    fd = os.open(J_('a', 'holes'), os.O_CREAT | os.O_WRONLY, 0o644)
    for off in (0, 1 * MiB, 7 * MiB):
        pwrite_all(fd, pattern('hole%d' % off, 5000), off)
    os.close(fd)
    fd = os.open(J_('sparse5g'), os.O_CREAT | os.O_WRONLY, 0o644)
    pwrite_all(fd, pattern('5g', 8192), 5 * GiB)
    pwrite_all(fd, b'head', 0)
    os.close(fd)
    # truncated down then up: the cut part must stay zeros
    H.write_file(J_('a', 'trunc'), pattern('trunc', 100000))
    os.truncate(J_('a', 'trunc'), 1000)
    os.truncate(J_('a', 'trunc'), 50000)
    # punched and preallocated
    H.write_file(J_('a', 'punched'), pattern('punch', 4 * MiB))
    fd = os.open(J_('a', 'punched'), os.O_RDWR)
    posix_ops.fallocate(fd, posix_ops.FALLOC_FL_PUNCH_HOLE | posix_ops.FALLOC_FL_KEEP_SIZE, 1 * MiB, 2 * MiB)
    os.close(fd)
    fd = os.open(J_('a', 'prealloc'), os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b'p' * 100)
    posix_ops.fallocate(fd, posix_ops.FALLOC_FL_KEEP_SIZE, 0, 1 * MiB)
    os.close(fd)
    # appended
    for i in range(50):
        with open(J_('a', 'appended'), 'ab') as f:
            f.write(pattern('app%d' % i, 777))
    # many entries (several directory blocks) with distinct contents
    for i in range(1000):
        H.write_file(J_('many', 'm%04d' % i), b'%d' % i * (i % 7 + 1))
    # xattrs
    os.setxattr(J_('a', 'size1'), 'user.small', b'v')
    os.setxattr(J_('a', 'size1'), 'user.empty', b'')
    os.setxattr(J_('a', 'size1'), 'user.big', pattern('xbig', 2000))
    os.setxattr(J_('xdir'), 'user.on_dir', b'dir attr')
    os.setxattr(J_('a', 'size0'), 'user.gone', b'x')
    os.removexattr(J_('a', 'size0'), 'user.gone')
    # symlinks
    os.symlink('a/size1', J_('sl_short'))
    os.symlink('x' * 200, J_('sl_200'))
    os.symlink(('long/' * 1000)[:4095], J_('sl_4095'))
    os.symlink('/nonexistent/target', J_('sl_dangling'))
    # hard links across dirs
    H.write_file(J_('a', 'linked'), b'three names')
    os.link(J_('a', 'linked'), J_('a', 'b', 'linked2'))
    os.link(J_('a', 'linked'), J_('many', 'linked3'))
    # special files
    os.mkfifo(J_('fifo'))
    os.mknod(J_('sock'), stat.S_IFSOCK | 0o644)
    os.mknod(J_('chr'), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(J_('blk'), stat.S_IFBLK | 0o600, os.makedev(259, 65537))
    # owners, modes, exact times
    H.write_file(J_('owned'), b'o')
    os.chown(J_('owned'), 1234, 5678)
    os.chmod(J_('owned'), 0o4751)
    H.write_file(J_('times'), b'never read')
    os.utime(J_('times'), ns=(1234567890123456789, 987654321987654321))
    os.utime(J_('a', 'size4096'), ns=(-5 * 10**9 + 1, (1 << 33) * 10**9 + 3))
    # renames, exchange, unlinks, an orphan closed before unmount
    H.write_file(J_('moved_src', 'f'), b'moved file')
    os.rename(J_('moved_src'), J_('a', 'moved_dst'))
    H.write_file(J_('x1'), b'one')
    os.mkdir(J_('x2'))
    posix_ops.renameat2(J_('x1'), J_('x2'), posix_ops.RENAME_EXCHANGE)
    H.write_file(J_('deleted'), b'gone')
    os.unlink(J_('deleted'))
    H.write_file(J_('orphan'), pattern('orphan', 300000))
    fd = os.open(J_('orphan'), os.O_RDWR)
    os.unlink(J_('orphan'))
    os.pwrite(fd, b'late write', 10)
    os.close(fd)
    return {'times'}


@H.timeout(900)
def test_remount_persistence():
    with H.HoldFS(size='1G') as fs:
        no_read = build_tree(fs.mnt)
        os.sync()
        before = snapshot(fs.mnt, no_read)
        time.sleep(0.5)       # let any deferred frees (the orphan) settle
        sv0 = os.statvfs(fs.mnt)
        # spot checks the snapshot alone would not make
        check_eq(before['a/linked']['nlink'], 3, 'nlink of a 3-name file')
        check_eq(before['a/linked']['ino'], before['many/linked3']['ino'], 'hard links share an inode')
        check_eq(before['sparse5g']['size'], 5 * GiB + 8192, 'size of the 5 GiB sparse file')
        for rnd in (1, 2):
            fs.unmount()
            if rnd == 1:
                fs.fsck_clean('of the persistence tree')
            fs.mount()
            after = snapshot(fs.mnt, no_read)
            d = diff_snapshots(before, after)
            check(not d, 'remount %d changed the tree (%d differences):\n%s' % (rnd, len(d), '\n'.join(d[:40])))
            sv = os.statvfs(fs.mnt)
            check_eq((sv.f_blocks, sv.f_bfree, sv.f_files, sv.f_ffree),
                     (sv0.f_blocks, sv0.f_bfree, sv0.f_files, sv0.f_ffree),
                     'statvfs (blocks, bfree, files, ffree) after remount %d' % rnd)
        # content checks against the source patterns (not just "unchanged")
        m = fs.mnt
        check_eq(H.read_file(J(m, 'a', 'b', 'big')), pattern('big', 20 * MiB), 'big file content')
        with open(J(m, 'sparse5g'), 'rb') as f:
            f.seek(5 * GiB)
            check_eq(f.read(), pattern('5g', 8192), 'data at 5 GiB after remount')
            f.seek(4 * GiB)
            check_eq(f.read(4096), bytes(4096), 'hole at 4 GiB after remount')
        t = H.read_file(J(m, 'a', 'trunc'))
        check(t == pattern('trunc', 1000) + bytes(49000), 'truncated-then-grown file after remount')
        p = H.read_file(J(m, 'a', 'punched'))
        check(p[:MiB] == pattern('punch', MiB) and p[MiB:3 * MiB] == bytes(2 * MiB)
              and p[3 * MiB:] == pattern('punch', 4 * MiB)[3 * MiB:], 'punched file after remount')
        check_eq(os.stat(J(m, 'a', 'prealloc')).st_size, 100, 'size of a KEEP_SIZE-preallocated file')
        check_eq(os.readlink(J(m, 'sl_4095')), ('long/' * 1000)[:4095], '4095-byte symlink after remount')
        check_eq(os.getxattr(J(m, 'a', 'size1'), 'user.big'), pattern('xbig', 2000), 'xattr after remount')
        check_eq(os.stat(J(m, 'chr')).st_rdev, os.makedev(1, 3), 'rdev after remount')
        check_eq(os.stat(J(m, 'blk')).st_rdev, os.makedev(259, 65537), 'rdev after remount')
        check_eq(os.stat(J(m, 'sg', 'inherits')).st_gid, 4321, 'setgid-inherited group after remount')
        check(os.path.isfile(J(m, 'x2')) and os.path.isdir(J(m, 'x1')), 'exchanged names after remount')
        check(not os.path.lexists(J(m, 'deleted')) and not os.path.lexists(J(m, 'orphan')),
              'unlinked files back after remount')
        ents = {n: i for n, i, t in posix_ops.raw_listdir(J(m, 'a', 'moved_dst'))}
        check_eq(ents.get('..'), os.stat(J(m, 'a')).st_ino, "'..' of a moved dir after remount")
        check_eq(os.stat(J(m, 'times')).st_atime_ns, 1234567890123456789, 'atime after remount')
        check_eq(os.stat(J(m, 'a', 'size4096')).st_mtime_ns, (1 << 33) * 10**9 + 3, 'post-2038 mtime')
        check_eq(os.stat(J(m, 'a', 'size4096')).st_atime_ns, -5 * 10**9 + 1, 'pre-1970 atime')


# ---------------------------------------------------------------------------
# SIGKILL the daemon mid-workload, remount (journal replay), verify


def _workload(root, log_path, round_no, model, seed, sync=True):
    """Sequential metadata + data workload.  Each op is logged 'begin' before
    and 'done' after it is durable (file fsync + directory fsync).  Runs
    until the filesystem goes away under it."""
    rng = random.Random(seed)
    logfd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    files = {p: v for p, v in model['files'].items()}
    dirs = set(model['dirs'])
    seq = [0]

    def log(rec):
        os.write(logfd, (json.dumps(rec) + '\n').encode())

    def op(kind, **kw):
        seq[0] += 1
        rec = dict(kw, op=kind, n=seq[0], round=round_no)
        log(dict(rec, phase='begin'))
        return rec

    def done(rec):
        log(dict(rec, phase='done'))

    def fsync_path(p):
        if not sync:
            return
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def fsync_fd(fd):
        if sync:
            os.fsync(fd)
    base = 'r%d' % round_no
    os.mkdir(J(root, base))
    fsync_path(root)
    dirs.add(base)
    log({'op': 'mkdir', 'path': base, 'phase': 'done', 'n': 0, 'round': round_no})
    i = 0
    try:
        while True:
            i += 1
            r = rng.random()
            if r < 0.08 or len(dirs) < 3:
                p = '%s/d%d-%d' % (rng.choice(sorted(dirs)), round_no, i)
                rec = op('mkdir', path=p)
                os.mkdir(J(root, p))
                fsync_path(os.path.dirname(J(root, p)))
                dirs.add(p)
                done(rec)
            elif r < 0.55 or not files:
                p = '%s/f%d-%d' % (rng.choice(sorted(dirs)), round_no, i)
                size = rng.choice((0, 1, 100, 4096, 5000, rng.randrange(1, 300 * KiB)))
                segs = [['c%d-%d-%d' % (seed, round_no, i), size]]
                rec = op('create', path=p, segs=segs)
                fd = os.open(J(root, p), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                try:
                    pwrite_all(fd, pattern(segs[0][0], size), 0)
                    fsync_fd(fd)
                finally:
                    os.close(fd)
                fsync_path(os.path.dirname(J(root, p)))
                files[p] = segs
                done(rec)
            elif r < 0.70:
                p = rng.choice(sorted(files))
                n = rng.randrange(1, 64 * KiB)
                seg = ['a%d-%d-%d' % (seed, round_no, i), n]
                rec = op('append', path=p, old=files[p], seg=seg)
                fd = os.open(J(root, p), os.O_WRONLY | os.O_APPEND)
                try:
                    # not one os.write: a short write (daemon killed
                    # between two FUSE requests) made the model count
                    # bytes never written ("damaged" files cut at a page)
                    H.write_all(fd, pattern(seg[0], n))
                    fsync_fd(fd)
                finally:
                    os.close(fd)
                files[p] = files[p] + [seg]
                done(rec)
            elif r < 0.82:
                p = rng.choice(sorted(files))
                q = '%s/m%d-%d' % (rng.choice(sorted(dirs)), round_no, i)
                rec = op('rename', path=p, to=q, segs=files[p])
                os.rename(J(root, p), J(root, q))
                fsync_path(os.path.dirname(J(root, p)))
                fsync_path(os.path.dirname(J(root, q)))
                files[q] = files.pop(p)
                done(rec)
            elif r < 0.92:
                p = rng.choice(sorted(files))
                rec = op('unlink', path=p, segs=files[p])
                os.unlink(J(root, p))
                fsync_path(os.path.dirname(J(root, p)))
                files.pop(p)
                done(rec)
            else:
                p = rng.choice(sorted(files))
                total = sum(_seglen(x) for x in files[p])
                newsize = rng.randrange(0, total + 1)
                rec = op('truncate', path=p, old=files[p], size=newsize)
                fd = os.open(J(root, p), os.O_WRONLY)
                try:
                    os.ftruncate(fd, newsize)
                    fsync_fd(fd)
                finally:
                    os.close(fd)
                files[p] = _cut(files[p], newsize)
                done(rec)
    except OSError as e:
        return {'stopped_by': e.errno, 'ops': i}
    finally:
        os.close(logfd)


def _seglen(s):
    return s[1] if len(s) == 2 else s[3]


def _cut(segs, size):
    """Segments [name, n] (pattern(name, n)) or [name, n, 'cut', k] (its
    first k bytes), cut to size bytes in total."""
    out = []
    left = size
    for s in segs:
        if left <= 0:
            break
        n = _seglen(s)
        if n <= left:
            out.append(list(s))
            left -= n
        else:
            out.append([s[0], s[1], 'cut', left])
            left = 0
    return out


def _content(segs):
    out = []
    for s in segs:
        if len(s) == 2:
            out.append(pattern(s[0], s[1]))
        else:
            out.append(pattern(s[0], s[1])[:s[3]])
    return b''.join(out)


def _apply_log(model, log_path):
    """Fold the log into the model; return the op in flight (begin without
    done), if any."""
    pending = None
    with open(log_path) as f:
        lines = f.read().splitlines()
    for ln in lines:
        try:
            rec = json.loads(ln)
        except ValueError:
            continue            # a torn last line of our own log
        if rec['phase'] == 'begin':
            pending = rec
            continue
        pending = None
        k, p = rec['op'], rec['path']
        if k == 'mkdir':
            model['dirs'].add(p)
        elif k == 'create':
            model['files'][p] = rec['segs']
        elif k == 'append':
            model['files'][p] = rec['old'] + [rec['seg']]
        elif k == 'rename':
            model['files'][rec['to']] = model['files'].pop(p)
        elif k == 'unlink':
            model['files'].pop(p)
        elif k == 'truncate':
            model['files'][p] = _cut(rec['old'], rec['size'])
    return pending


def _verify_model(root, model, pending, when):
    """Every durable op is there; the op in flight is all-or-nothing where
    POSIX promises that (rename, unlink, mkdir); the tree is consistent."""
    skip = set()
    if pending:
        k, p = pending['op'], pending['path']
        if k == 'rename':
            q = pending['to']
            a, b = os.path.lexists(J(root, p)), os.path.lexists(J(root, q))
            check(a != b, '%s: rename %s -> %s in flight at the kill: %s'
                  % (when, p, q, 'both names exist' if a else 'neither name exists'))
            live = q if b else p
            check(H.read_file(J(root, live)) == _content(pending['segs']),
                  '%s: the file renamed at the kill (%s) lost its fsync\'ed content' % (when, live))
            model['files'].pop(p, None)
            model['files'][live] = pending['segs']
        elif k == 'unlink':
            if os.path.lexists(J(root, p)):
                check(H.read_file(J(root, p)) == _content(pending['segs']),
                      '%s: file being unlinked at the kill (%s) is there but damaged' % (when, p))
            else:
                model['files'].pop(p, None)
            skip.add(p)
        elif k == 'mkdir':
            if os.path.isdir(J(root, p)):
                model['dirs'].add(p)
            skip.add(p)
        elif k == 'create':
            skip.add(p)
            if os.path.lexists(J(root, p)):
                H.read_file(J(root, p))     # must at least be readable
        elif k in ('append', 'truncate'):
            skip.add(p)
            got = H.read_file(J(root, p))
            old = _content(pending['old'])
            if k == 'append':
                new = old + pattern(pending['seg'][0], pending['seg'][1])
                check(len(old) <= len(got) <= len(new),
                      '%s: %s (append in flight) has %d bytes, want %d..%d' % (when, p, len(got), len(old), len(new)))
                check(got[:len(old)] == old, '%s: %s lost fsync\'ed data under an append in flight' % (when, p))
                for off in range(len(old), len(got), 4096):
                    blk = got[off:off + 4096]
                    check(blk == new[off:off + len(blk)] or blk == bytes(len(blk)),
                          '%s: %s: bytes at %d past the fsync\'ed size are neither the new data nor zeros'
                          % (when, p, off))
                model['files'][p] = pending['old']
            else:
                check(len(got) in (len(old), pending['size']),
                      '%s: %s (truncate in flight) has %d bytes, want %d or %d'
                      % (when, p, len(got), len(old), pending['size']))
                check(got == old[:len(got)], '%s: %s damaged under a truncate in flight' % (when, p))
                model['files'][p] = pending['old'] if len(got) == len(old) else _cut(pending['old'], len(got))
    missing, damaged = [], []
    for p, segs in sorted(model['files'].items()):
        if p in skip:
            continue
        full = J(root, p)
        if not os.path.lexists(full):
            missing.append(p)
            continue
        want = _content(segs)
        got = H.read_file(full)
        if got != want:
            damaged.append('%s (ino %d, %d bytes, want %d; first difference at %s)'
                           % (p, os.stat(full).st_ino, len(got), len(want),
                              posix_ops._first_diff(got, want)))
    check(not missing, '%s: %d fsync\'ed files missing, e.g. %s' % (when, len(missing), missing[:5]))
    check(not damaged, '%s: %d fsync\'ed files damaged, e.g. %s' % (when, len(damaged), damaged[:3]))
    for p in model['dirs']:
        check(os.path.isdir(J(root, p)), '%s: fsync\'ed directory %s missing' % (when, p))
    # the whole tree: every name stat-able, every file readable, nothing
    # unknown, directory link counts right
    known = set(model['files']) | set(model['dirs']) | skip
    if pending and pending['op'] == 'rename':
        known.add(pending['to'])
    for dirpath, dirnames, filenames in os.walk(root):
        st = os.lstat(dirpath)
        check_eq(st.st_nlink, 2 + len(dirnames), '%s: nlink of %s' % (when, dirpath))
        for n in dirnames + filenames:
            full = J(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            check(rel in known, '%s: unexpected entry %s (never created, or removed durably)' % (when, rel))
            if stat.S_ISREG(st.st_mode):
                got = H.read_file(full)
                check_eq(len(got), st.st_size, '%s: bytes read vs st_size of %s' % (when, rel))


@H.timeout(1200)
def test_sigkill_replay():
    """Every op is made durable with fsync (file and directory) before it is
    logged as done: all of them must survive a SIGKILL of the daemon."""
    _sigkill_rounds(sync=True, seed=2024)


@H.timeout(1200)
def test_sigkill_replay_no_fsync():
    """holdfs documents (holdfs --help) that data is persistent when write(2)
    returns and metadata changes are durable when their call returns: the
    same workload without any fsync must survive a SIGKILL of the daemon."""
    _sigkill_rounds(sync=False, seed=4242)


def _sigkill_rounds(sync, seed):
    rounds = 3
    rng = random.Random(seed)
    with H.HoldFS(size='1G') as fs:
        model = {'files': {}, 'dirs': set()}
        log_path = J(fs.tmpdir, 'workload.log')
        for rnd in range(rounds):
            open(log_path, 'w').close()
            want_ops = rng.randrange(80, 400)
            kid = H.Child(_workload, fs.mnt, log_path, rnd,
                          {'files': dict(model['files']), 'dirs': sorted(model['dirs'])}, seed + rnd, sync)
            deadline = time.monotonic() + 300 * H.TIMEOUT_MULTIPLIER
            while True:
                with open(log_path) as f:
                    ndone = f.read().count('"done"')
                if ndone >= want_ops:
                    break
                if not H._pid_alive(kid.pid):
                    try:
                        res = kid.join(timeout=10)
                    except Exception as e:
                        res = e
                    fail('round %d: workload ended after %d durable ops before the kill: %s'
                         % (rnd, ndone, res))
                if time.monotonic() > deadline:
                    kid.kill()
                    fail('round %d: workload made only %d durable ops in 300 s' % (rnd, ndone))
                time.sleep(0.01)
            fs.kill_daemon(signal.SIGKILL, remount=False, clear=False)
            try:
                res = kid.join(timeout=60)
            except (OSError, H.ChildError) as e:
                fail('round %d: workload crashed instead of getting an error: %s' % (rnd, e))
            check(res['stopped_by'] in (errno.ENOTCONN, errno.EIO, errno.ECONNABORTED),
                  'round %d: workload stopped by %s, want ENOTCONN (daemon gone)'
                  % (rnd, H.errname(res['stopped_by'])))
            fs.clear_dead_mount()
            t0 = time.monotonic()
            fs.mount()
            note('sigkill round %d: killed after %d durable ops; remount (replay) in %.2f s'
                 % (rnd, ndone, time.monotonic() - t0))
            pending = _apply_log(model, log_path)
            # for the post-mortem of an intermittent failure (a file
            # verified in an earlier round came back shorter): what was
            # in flight at each kill
            note('sigkill round %d: in flight at the kill: %s' % (
                rnd, '%s %s (op %d)' % (pending['op'], pending['path'], pending['n'])
                if pending else 'nothing'))
            _verify_model(fs.mnt, model, pending, 'after SIGKILL round %d' % rnd)
            if pending:
                # the in-flight op's outcome is now known from the tree
                p = pending['path']
                if pending['op'] == 'create' and os.path.lexists(J(fs.mnt, p)):
                    os.unlink(J(fs.mnt, p))
                elif pending['op'] == 'mkdir' and os.path.isdir(J(fs.mnt, p)):
                    model['dirs'].add(p)
                elif pending['op'] in ('append', 'truncate'):
                    data = _content(model['files'][p])
                    note('sigkill round %d: rewrote %s (%d bytes, ino %d) to the model'
                         % (rnd, p, len(data), os.stat(J(fs.mnt, p)).st_ino))
                    H.write_file(J(fs.mnt, p), data, fsync=True)
        # a clean cycle at the end: everything still there, fsck agrees
        fs.unmount()
        fs.fsck_clean('after the SIGKILL rounds and a clean unmount')
        fs.mount()
        _verify_model(fs.mnt, model, None, 'after a final clean remount')


# ---------------------------------------------------------------------------
# ENOSPC


def _fill(d, prefix, chunk, max_bytes):
    """Write files of up to 4 MiB until ENOSPC.  Returns ({name: accepted
    bytes}, errno of the stop, where it stopped)."""
    sizes = {}
    total = 0
    i = 0
    while total < max_bytes:
        name = '%s%04d' % (prefix, i)
        i += 1
        try:
            fd = os.open(J(d, name), os.O_CREAT | os.O_WRONLY, 0o644)
        except OSError as e:
            return sizes, e.errno, 'create of %s' % name
        sizes[name] = 0
        try:
            data = pattern(name, 4 * MiB)
            off = 0
            while off < len(data):
                try:
                    n = os.pwrite(fd, data[off:off + chunk], off)
                except OSError as e:
                    return sizes, e.errno, 'write to %s at %d' % (name, off)
                off += n
                sizes[name] = off
                total += n
            try:
                os.fsync(fd)
            except OSError as e:
                return sizes, e.errno, 'fsync of %s' % name
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
    return sizes, None, 'wrote %d bytes without ENOSPC' % total


def _check_fill(d, sizes, when):
    for name, n in sorted(sizes.items()):
        st = os.stat(J(d, name))
        check_eq(st.st_size, n, '%s: size of %s (bytes the writes accepted)' % (when, name))
        got = H.read_file(J(d, name))
        check(got == pattern(name, 4 * MiB)[:n], '%s: content of %s' % (when, name))


@H.timeout(900)
def test_enospc():
    with H.HoldFS(size='32M') as fs:
        keep = {}
        os.mkdir(fs.path('keep'))
        for i in range(5):
            data = pattern('keep%d' % i, 200 * KiB + i)
            H.write_file(fs.path('keep', 'k%d' % i), data, fsync=True)
            keep['k%d' % i] = data
        H.fsync_dir(fs.path('keep'))
        os.mkdir(fs.path('fill'))
        fill_blocks0 = os.stat(fs.path('fill')).st_blocks
        sv0 = os.statvfs(fs.mnt)
        avail = sv0.f_bavail * sv0.f_frsize
        t0 = time.monotonic()
        # bounded by the region size, never by what statfs claims: a bogus
        # f_bavail must not make us write gigabytes into /dev/shm
        sizes, err, where = _fill(fs.path('fill'), 'f', 256 * KiB, 96 * MiB)
        note('ENOSPC after %d bytes in %d files (%.1f s); statfs said %d available; stopped at %s'
             % (sum(sizes.values()), len(sizes), time.monotonic() - t0, avail, where))
        check(err is not None, 'no ENOSPC on a 32 MiB region: %s' % where)
        check_eq(H.errname(err), 'ENOSPC', 'errno when the region is full (%s)' % where)
        written = sum(sizes.values())
        check(written >= avail * 0.8, 'only %d bytes fit while statfs promised %d available' % (written, avail))
        # (root may dig into a reserve: bound by f_bfree, not f_bavail)
        free = sv0.f_bfree * sv0.f_frsize
        check(written <= free + 1 * MiB, '%d bytes accepted, more than the %d statfs said were free'
              % (written, free))
        sv = os.statvfs(fs.mnt)
        check(sv.f_bavail * sv.f_frsize <= 1 * MiB,
              'statfs reports %d bytes available right after ENOSPC' % (sv.f_bavail * sv.f_frsize))
        # more writes: ENOSPC again, never anything else; the mount stays up
        expect_errno(errno.ENOSPC, H.write_file, fs.path('fill', 'more'), pattern('more', 1 * MiB))
        try:
            os.unlink(fs.path('fill', 'more'))
        except FileNotFoundError:
            pass
        for i in range(5):
            check_eq(H.read_file(fs.path('keep', 'k%d' % i)), keep['k%d' % i], 'keep file k%d when full' % i)
        _check_fill(fs.path('fill'), sizes, 'when full')
        fs.unmount()                 # a full filesystem unmounts cleanly
        fs.fsck_clean('of a full filesystem')
        fs.mount()
        for i in range(5):
            check_eq(H.read_file(fs.path('keep', 'k%d' % i)), keep['k%d' % i], 'keep file k%d after remount' % i)
        _check_fill(fs.path('fill'), sizes, 'after remount')
        # delete: the space comes back (possibly after revocation; allow 5 s)
        for name in sizes:
            os.unlink(fs.path('fill', name))
        # the fill directory may keep the blocks its entry table grew to
        grown = (os.stat(fs.path('fill')).st_blocks - fill_blocks0) * 512 // sv0.f_frsize
        deadline = time.monotonic() + 5
        while True:
            sv = os.statvfs(fs.mnt)
            if sv.f_bfree + grown >= sv0.f_bfree or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(sv.f_bfree + grown >= sv0.f_bfree, 'after deleting the fill, f_bfree is %d (+%d kept by the '
              'directory), was %d before filling' % (sv.f_bfree, grown, sv0.f_bfree))
        again = pattern('again', int(written * 0.8))
        H.write_file(fs.path('again'), again, fsync=True)
        fs.remount()
        check(H.read_file(fs.path('again')) == again, 'file written after freeing space, after remount')
        for i in range(5):
            check_eq(H.read_file(fs.path('keep', 'k%d' % i)), keep['k%d' % i], 'keep file k%d at the end' % i)


@H.timeout(900)
def test_enospc_inodes():
    with H.HoldFS(size='32M') as fs:
        d = fs.path('d')
        os.mkdir(d)
        sv0 = os.statvfs(fs.mnt)
        limit = min(sv0.f_ffree + 200, 100000)     # a 32 MiB region has ~2k inodes
        n = 0
        err = None
        while n < limit:
            try:
                os.close(os.open(J(d, 'i%d' % n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except OSError as e:
                err = e.errno
                break
            n += 1
        note('inode ENOSPC after %d files; statfs said %d free inodes' % (n, sv0.f_ffree))
        check(err is not None, 'created %d files, %d more than statfs f_ffree=%d promised, without ENOSPC'
              % (n, n - sv0.f_ffree, sv0.f_ffree))
        check_eq(H.errname(err), 'ENOSPC', 'errno when inodes run out')
        check(n >= sv0.f_ffree * 0.9, 'only %d files fit while statfs promised %d free inodes' % (n, sv0.f_ffree))
        expect_errno(errno.ENOSPC, os.mkdir, J(d, 'nodir'))
        fs.remount()
        check_eq(len(os.listdir(d)), n, 'files after remount of an inode-full filesystem')
        for i in range(n):
            os.unlink(J(d, 'i%d' % i))
        for i in range(min(n, 500)):
            os.close(os.open(J(d, 'again%d' % i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        check_eq(len(os.listdir(d)), min(n, 500), 'files created after freeing inodes')


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    H.run_tests(H.collect(globals()), args, header='# test_stress: HOLDFS_BUILD=%s, regions in %s'
                % (H.build_dir(), H.region_base()))


if __name__ == '__main__':
    main()
