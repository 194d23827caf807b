#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mkfs.holdfs and holdfs on bad input: clear messages, non-zero exits,
nothing mounted, nothing written.

    HOLDFS_BUILD=build python3 tests/integration/test_badinput.py [-k NAME] [-x] [--list]
"""

import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq  # noqa: E402

MiB = 1 << 20


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def random_file(path, size):
    """size random bytes, mode 0600 like a region (holdfs refuses one
    other users may read, before it looks inside)."""
    with open(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), 'wb') as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n


class Attempt:
    def __init__(self, cmd, rc, out, err, mounted, mnt):
        self.cmd, self.rc, self.out, self.err, self.mounted, self.mnt = cmd, rc, out, err, mounted, mnt

    def desc(self):
        return '`%s` -> %s; stderr: %s' % (' '.join(self.cmd), H._rc_desc(self.rc),
                                           self.err.strip()[-600:] or '<empty>')


def attempt_mount(fs, region=None, mnt=None, foreground=False, opts=None, spare_pids=()):
    """Run holdfs once where it should refuse.  If it mounts anyway, undo
    that.  Returns an Attempt."""
    mnt = mnt or fs.mnt
    region = region or fs.region
    cmd = fs.daemon_cmd(opts=opts, foreground=foreground, region=region, mnt=mnt)
    before = _mount_count(mnt)
    if not foreground:
        r = H.run(cmd, timeout=H.MOUNT_TIMEOUT + 10)
        rc, out, err = r.returncode, r.stdout, r.stderr
    else:
        outp = os.path.join(fs.tmpdir, 'attempt.out')
        with open(outp, 'wb') as of:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=of, stderr=of, start_new_session=True)
        try:
            rc = p.wait(timeout=H.MOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None           # still running: it mounted (or hangs)
            _unmount_new(mnt, before)
            p.kill()
            p.wait()
        with open(outp, 'rb') as f:
            out = ''
            err = f.read().decode(errors='replace')
    mounted = rc is None or _mount_count(mnt) > before
    _unmount_new(mnt, before)
    # a detached daemon that should not exist
    deadline = time.monotonic() + 5
    while True:
        stray = [q for q in H._pids_with_arg(region)
                 if q not in spare_pids and H._pid_alive(q) and q != getattr(fs.proc, 'pid', None)]
        if not stray or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for q in stray:
        try:
            os.kill(q, 9)
        except OSError:
            pass
    a = Attempt(cmd, rc, out, err, mounted, mnt)
    a.stray = stray
    return a


def _mount_count(mnt):
    mnt = os.path.realpath(mnt)
    return sum(1 for m in H.mounts() if m['mountpoint'] == mnt)


def _unmount_new(mnt, before):
    """Take off mounts stacked at mnt since `before` (never the ones that
    were there already)."""
    for _ in range(4):
        if _mount_count(mnt) <= before:
            return
        if H.run(['fusermount3', '-u', mnt]).returncode != 0:
            H.run(['umount', '-l', mnt])


def check_refused(a, what, must=None, any_of=None, prog='holdfs'):
    """A refusal: not mounted, no daemon left, exit status > 0 (a signal is
    a crash, not a refusal), and a message on stderr starting 'PROG: '."""
    check(not a.mounted, '%s: it mounted anyway (%s)' % (what, a.desc()))
    check(not getattr(a, 'stray', None), '%s: left a daemon running: pids %s' % (what, getattr(a, 'stray', None)))
    check(a.rc is not None, '%s: still running after %.0f s instead of refusing (%s)'
          % (what, H.MOUNT_TIMEOUT, a.desc()))
    check(a.rc > 0, '%s: expected a non-zero exit status, got %s (%s)'
          % (what, H._rc_desc(a.rc), a.desc()))
    lines = [ln for ln in (a.err + '\n' + a.out).splitlines() if ln.startswith(prog + ':')]
    check(lines, '%s: no "%s: ..." message on stderr (%s)' % (what, prog, a.desc()))
    text = '\n'.join(lines).lower()
    if must:
        check(must.lower() in text, '%s: the message does not say "%s" (%s)' % (what, must, a.desc()))
    if any_of:
        check(any(re.search(w, text) for w in any_of),
              '%s: the message mentions none of %s (%s)' % (what, '/'.join(any_of), a.desc()))
    return text


def run_tool(cmd, timeout=60):
    r = H.run(cmd, timeout=timeout)
    return Attempt(cmd, r.returncode, r.stdout, r.stderr, False, None)


# ---------------------------------------------------------------------------


def test_mount_non_holdfs_file():
    with H.HoldFS(format=False, mount=False) as fs:
        random_file(fs.region, 32 * MiB)
        before = sha256(fs.region)
        for fg in (True, False):
            a = attempt_mount(fs, foreground=fg)
            check_refused(a, 'mount of random bytes (%s)' % ('-f' if fg else 'detaching'), must='not a holdfs')
            check_eq(sha256(fs.region), before, 'sha256 of the random file after a refused mount')


def test_mount_zero_file():
    with H.HoldFS(format=False, mount=False) as fs:
        H.make_sparse_file(fs.region, 64 * MiB)
        before = sha256(fs.region)
        a = attempt_mount(fs, foreground=True)
        check_refused(a, 'mount of an all-zero file', must='not a holdfs')
        # (not st_blocks: on tmpfs, merely reading a hole through a shared
        # mapping allocates the page)
        check_eq(sha256(fs.region), before, 'the all-zero file after a refused mount')
        check_eq(os.stat(fs.region).st_size, 64 * MiB, 'size of the zero file after a refused mount')


def test_mount_truncated_image():
    with H.HoldFS(size='64M', mount=False) as fs:
        os.truncate(fs.region, 8 * MiB)
        before = sha256(fs.region)
        a = attempt_mount(fs, foreground=True)
        check_refused(a, 'mount of a 64M image truncated to 8M',
                      any_of=[r'size', r'truncat', r'small', r'short', r'shorter', r'expect'])
        check_eq(sha256(fs.region), before, 'the truncated image after a refused mount')


def test_region_others_may_read_refused():
    """A region other users may read or write, or that belongs to another
    user, is refused by mount and by mkfs, with a message naming the mode
    (the owner); -o unsafe_region_mode / --unsafe-region-mode override it.
    mkfs --size creates 0600."""
    with H.HoldFS(size='64M', mount=False) as fs:
        check_eq(os.stat(fs.region).st_mode & 0o777, 0o600, 'mode of a new region file')
        for mode, word in ((0o644, 'read'), (0o606, 'read and change'), (0o660, 'read and change')):
            os.chmod(fs.region, mode)
            before = sha256(fs.region)
            a = attempt_mount(fs, foreground=True)
            check_refused(a, 'mount of a %04o region' % mode, must='mode %04o' % mode)
            check(word in a.err, 'the message says what others can do (%s): %s' % (word, a.err))
            check_eq(sha256(fs.region), before, 'region after the refused mount')
            r = run_tool([H.mkfs_bin(), '-q', '-f', fs.region])
            check(r.rc == 1 and ('mode %04o' % mode) in r.err, 'mkfs of a %04o region: %s' % (mode, r.desc()))
            check_eq(sha256(fs.region), before, 'region after the refused mkfs')
        os.chmod(fs.region, 0o600)
        os.chown(fs.region, 4321, -1)
        a = attempt_mount(fs, foreground=True)
        check_refused(a, 'mount of a region owned by uid 4321', must='uid 4321')
        os.chown(fs.region, 0, -1)
        os.chmod(fs.region, 0o644)
        r = run_tool([H.mkfs_bin(), '-q', '-f', '--unsafe-region-mode', fs.region])
        check_eq(r.rc, 0, 'mkfs --unsafe-region-mode (%s)' % r.desc())
        fs.mount(opts=H.DEFAULT_MOUNT_OPTS + ('unsafe_region_mode',))
        H.write_file(fs.path('f'), b'allowed')
        fs.unmount()


def test_mount_empty_file():
    with H.HoldFS(format=False, mount=False) as fs:
        open(fs.region, 'wb').close()
        a = attempt_mount(fs, foreground=True)
        check_refused(a, 'mount of an empty file')
        check_eq(os.stat(fs.region).st_size, 0, 'size of the empty file after a refused mount')


def test_corrupt_primary_superblock_uses_backup():
    with H.HoldFS(size='64M') as fs:
        data = H.pattern('sbtest', 300000)
        H.write_file(fs.path('f'), data, fsync=True)
        os.mkdir(fs.path('d'))
        fs.unmount()
        with open(fs.region, 'r+b') as f:
            f.write(b'\xde\xad\xbe\xef' * 16)      # bytes 0..64: magic, version, crc, ...
        fs.mount()
        log = fs.daemon_log()
        check('backup' in log.lower(), 'mounted with a corrupt primary superblock without a warning that '
              'mentions the backup; stderr: %s' % (log.strip()[-600:] or '<empty>'))
        check_eq(H.read_file(fs.path('f')), data, 'file content when mounted from the backup superblock')
        check(os.path.isdir(fs.path('d')), 'directory when mounted from the backup superblock')
        H.write_file(fs.path('g'), b'after', fsync=True)
        fs.unmount()
        fs.mount()
        check_eq(H.read_file(fs.path('g')), b'after', 'file written while on the backup, after a remount')
        check_eq(H.read_file(fs.path('f')), data, 'older file after a remount')


def test_corrupt_both_superblocks():
    with H.HoldFS(size='64M', mount=False) as fs:
        size = os.stat(fs.region).st_size
        with open(fs.region, 'r+b') as f:
            f.write(b'\x55' * 512)
            f.seek(size - 4096)
            f.write(b'\xaa' * 512)
        before = sha256(fs.region)
        a = attempt_mount(fs, foreground=True)
        check_refused(a, 'mount with both superblocks corrupt',
                      any_of=[r'not a holdfs', r'superblock', r'corrupt', r'checksum', r'crc'])
        check_eq(sha256(fs.region), before, 'region after a refused mount')


def test_mountpoint_missing():
    with H.HoldFS(size='64M', mount=False) as fs:
        before = sha256(fs.region)
        missing = os.path.join(fs.tmpdir, 'no', 'such', 'dir')
        for fg in (True, False):
            a = attempt_mount(fs, mnt=missing, foreground=fg)
            check_refused(a, 'mount on a missing mount point', any_of=[re.escape(missing.lower()), r'mount ?point'])
            check_eq(sha256(fs.region), before, 'region after a refused mount (missing mount point)')
        check(not os.path.exists(missing), 'the missing mount point was created')


def test_mountpoint_is_a_file():
    with H.HoldFS(size='64M', mount=False) as fs:
        f = os.path.join(fs.tmpdir, 'plainfile')
        H.write_file(f, b'x')
        a = attempt_mount(fs, mnt=f, foreground=True)
        check_refused(a, 'mount on a regular file', any_of=[r'director', r'mount ?point', re.escape(f.lower())])


def test_missing_region():
    with H.HoldFS(format=False, mount=False) as fs:
        missing = os.path.join(fs.region_dir, 'does-not-exist.img')
        a = attempt_mount(fs, region=missing, foreground=True)
        check_refused(a, 'mount of a missing region', any_of=[re.escape(missing.lower()), r'no such'])
        check(not os.path.exists(missing), 'mount created the missing region file')


def test_mountpoint_busy():
    with H.HoldFS(size='64M') as fs, H.HoldFS(size='64M', mount=False) as other:
        H.write_file(fs.path('f'), b'first')
        a = attempt_mount(other, mnt=fs.mnt, foreground=True, spare_pids=(fs.proc.pid,))
        if a.mounted or a.rc is None:
            # it stacked a second mount over ours; attempt_mount took it off
            pass
        check(fs.proc.poll() is None, 'the first daemon died when a second mount was tried on its mount point')
        check(H.is_mounted(fs.mnt), 'the first mount is gone')
        check_eq(H.read_file(fs.path('f')), b'first', 'the first mount after the refused second one')
        check_refused(a, 'mount on a busy mount point', any_of=[r'busy', r'already mounted', r'mounted',
                                                                 r'in use', r'not empty'])
        # the other region is fine and mounts elsewhere
        other.mount()
        H.write_file(other.path('g'), b'second')
        check_eq(H.read_file(other.path('g')), b'second', 'the second region mounted elsewhere')


def test_second_daemon_same_region():
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('f'), b'held')
        mnt2 = os.path.join(fs.tmpdir, 'mnt2')
        os.mkdir(mnt2)
        a = attempt_mount(fs, mnt=mnt2, foreground=True, spare_pids=(fs.proc.pid,))
        text = check_refused(a, 'second daemon on a held region', must='held by')
        check(str(fs.proc.pid) in text or fs.mnt.lower() in text,
              'the "held by" message names neither the holder pid %d nor its mount point %s: %s'
              % (fs.proc.pid, fs.mnt, text))
        check(fs.proc.poll() is None, 'the first daemon died')
        check_eq(H.read_file(fs.path('f')), b'held', 'the first mount after a refused second daemon')
        a = attempt_mount(fs, mnt=mnt2, foreground=False, spare_pids=(fs.proc.pid,))
        check_refused(a, 'second (detaching) daemon on a held region', must='held by')


def test_unknown_mount_option():
    with H.HoldFS(size='64M', mount=False) as fs:
        a = attempt_mount(fs, opts=('no_such_option_xyz',), foreground=True)
        check(not a.mounted and a.rc is not None and a.rc > 0,
              'an unknown -o option was accepted: %s' % a.desc())
        check('no_such_option_xyz' in (a.err + a.out), 'the error does not name the unknown option: %s' % a.desc())


def test_mkfs_refuses_existing_holdfs():
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('old'), b'old data', fsync=True)
        fs.unmount()
        before = sha256(fs.region)
        a = run_tool([H.mkfs_bin(), fs.region])
        check_eq(a.rc, 1, 'exit status of mkfs on an existing holdfs without -f (%s)' % a.desc())
        check([ln for ln in a.err.splitlines() if ln.startswith('mkfs.holdfs:')],
              'no "mkfs.holdfs: ..." message: %s' % a.desc())
        check(re.search(r'-f|force|already|exist|holdfs', a.err.lower()),
              'the refusal does not explain itself: %s' % a.desc())
        check_eq(sha256(fs.region), before, 'region after a refused mkfs')
        fs.mount()
        check_eq(H.read_file(fs.path('old')), b'old data', 'data after a refused mkfs')
        fs.unmount()
        a = run_tool([H.mkfs_bin(), '-f', fs.region])
        check_eq(a.rc, 0, 'exit status of mkfs -f on an existing holdfs (%s)' % a.desc())
        fs.mount()
        check_eq(sorted(os.listdir(fs.mnt)), [], 'root after mkfs -f (old files must be gone)')


def test_mkfs_refuses_mounted_region():
    with H.HoldFS(size='64M') as fs:
        H.write_file(fs.path('live'), b'live data', fsync=True)
        a = run_tool([H.mkfs_bin(), '-f', fs.region])
        check(a.rc is not None and a.rc > 0, 'mkfs -f formatted a region a daemon holds: %s' % a.desc())
        check([ln for ln in a.err.splitlines() if ln.startswith('mkfs.holdfs:')],
              'no "mkfs.holdfs: ..." message: %s' % a.desc())
        check_eq(H.read_file(fs.path('live')), b'live data', 'live file after a refused mkfs')
        fs.remount()
        check_eq(H.read_file(fs.path('live')), b'live data', 'live file after a refused mkfs and a remount')


def test_mkfs_formats_garbage_without_force():
    with H.HoldFS(format=False, mount=False) as fs:
        random_file(fs.region, 32 * MiB)
        a = run_tool([H.mkfs_bin(), fs.region])
        check_eq(a.rc, 0, 'mkfs of a file holding random bytes, without -f (%s)' % a.desc())
        fs.mount()
        H.write_file(fs.path('f'), b'ok')
        check_eq(H.read_file(fs.path('f')), b'ok', 'I/O on a filesystem made over random bytes')


def test_mkfs_size_too_small():
    with H.HoldFS(format=False, mount=False) as fs:
        a = run_tool([H.mkfs_bin(), '--size', '1M', fs.region])
        check(a.rc is not None and a.rc > 0, 'mkfs --size 1M succeeded: %s' % a.desc())
        text = '\n'.join(ln for ln in a.err.splitlines() if ln.startswith('mkfs.holdfs:')).lower()
        check(text, 'no "mkfs.holdfs: ..." message: %s' % a.desc())
        check(re.search(r'small|minimum|at least|size', text), 'the message does not say why: %s' % a.desc())
        if os.path.exists(fs.region):
            b = attempt_mount(fs, foreground=True)
            check_refused(b, 'mount of what a failed mkfs left')


def test_mkfs_bad_arguments():
    with H.HoldFS(format=False, mount=False) as fs:
        for args in (['--size', 'abc'], ['--size', '-5M'], ['--size', '0'], ['--size', '12Q'],
                     ['-L', 'x' * 200, '--size', '64M'], ['--no-such-flag'], []):
            a = run_tool([H.mkfs_bin()] + args + ([fs.region] if args else []))
            check(a.rc is not None and a.rc > 0, 'mkfs.holdfs %s succeeded: %s' % (' '.join(args), a.desc()))
            check(a.err.strip(), 'mkfs.holdfs %s failed silently' % ' '.join(args))
            if os.path.exists(fs.region):
                os.unlink(fs.region)
        # a missing file without --size
        a = run_tool([H.mkfs_bin(), fs.region])
        check(a.rc is not None and a.rc > 0, 'mkfs of a missing file without --size succeeded: %s' % a.desc())


def test_help_and_usage():
    for prog in (H.holdfs_bin(), H.mkfs_bin()):
        H.require(os.access(prog, os.X_OK), '%s is missing' % prog)
        a = run_tool([prog, '--help'])
        check_eq(a.rc, 0, '%s --help exit status (%s)' % (os.path.basename(prog), a.desc()))
        check('usage' in (a.out + a.err).lower(), '%s --help prints no usage' % os.path.basename(prog))
        a = run_tool([prog])
        check(a.rc is not None and a.rc > 0, '%s without arguments: %s' % (os.path.basename(prog), a.desc()))
        check(a.err.strip(), '%s without arguments says nothing on stderr' % os.path.basename(prog))


def test_mkfs_label_and_size():
    with H.HoldFS(format=False, mount=False) as fs:
        a = run_tool([H.mkfs_bin(), '--size', '256M', '-L', 'testlabel', fs.region])
        check_eq(a.rc, 0, 'mkfs --size 256M -L testlabel (%s)' % a.desc())
        st = os.stat(fs.region)
        check_eq(st.st_size, 256 * MiB, 'size of the region mkfs created')
        check(st.st_blocks * 512 < 64 * MiB, 'mkfs --size did not make a sparse file (%d MiB allocated)'
              % (st.st_blocks * 512 >> 20))
        with open(fs.region, 'rb') as f:
            sb = f.read(512)
        check_eq(sb[0:8], b'HOLDFS\x00\x01', 'superblock magic')
        check_eq(sb[64:64 + 9], b'testlabel', 'label in the superblock')
        fs.mount()
        sv = os.statvfs(fs.mnt)
        check(sv.f_blocks * sv.f_frsize <= 256 * MiB, 'statfs reports more than the region size')
        check(sv.f_blocks * sv.f_frsize >= 128 * MiB, 'statfs reports less than half of a 256M region')


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_badinput: HOLDFS_BUILD=%s, regions in %s' % (H.build_dir(), H.region_base()))
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
