#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Planned removal: holdfsctl offline (docs/failure-model.md).

    HOLDFS_BUILD=build python3 tests/failure/test_offline.py [-k NAME] [-x]

File regions, real mounts (the integration harness).  Lease holders are
tests/failure/offline_prog (libholdfs: an offline handler that persists
and unmaps, or ignores the notice) and tests/dax/rawclient (a client of
the protocol before OFFLINE_NOTICE: HELLO flags 0; --noack: never lets
go).  Checks: the daemon exits 0 and the region is clean (fsck, remount,
files intact, an "offline" health record); notice before revoke; a
holder that keeps its lease past the deadline is revoked, one that does
not ACK that is killed, the others are not; new opens, creates and
leases are refused while the removal runs; the --json report's shape.
"""

import errno
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, os.path.join(HERE, '..', 'dax'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402
import test_dax as D  # noqa: E402

MiB = 1 << 20
MAGIC = 0x48464450
OPTS = ('allow_other', 'revoke_ms=300')
PHASES = ('refuse', 'notify', 'wait_clients', 'revoke', 'drain', 'health',
          'daemon_total', 'unmount_exit', 'total')


def holdfsctl(*args, timeout=60):
    return subprocess.run([D.holdfsctl()] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)


def offline_prog_path():
    p = os.environ.get('HOLDFS_OFFLINE_PROG') or \
        os.path.join(H.build_dir(), 'tests', 'failure', 'offline_prog')
    H.require(os.path.exists(p), 'offline_prog not built (%s)' % p)
    return p


def prog(path, length, *args):
    """An offline_prog holding a read-write mapping of path [0, length)."""
    ready = '/tmp/hfs-offline-ready-%d-%d' % (os.getpid(), time.monotonic_ns())
    p = subprocess.Popen([offline_prog_path(), '--ready', ready] + list(args) +
                         [path, str(length)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            out, err = p.communicate(timeout=5)
            fail('offline_prog never mapped: %r %r' % (out, err))
        time.sleep(0.01)
    os.unlink(ready)
    return p


def lines(out):
    """{'notice': seq, 'released': seq, ...} and the raw lines."""
    seen = {}
    for ln in out.splitlines():
        w = ln.split()
        if w and len(w) > 1 and w[1].startswith('seq='):
            seen[w[0]] = (int(w[1][4:]), ln)
    return seen


def offline(fs, *args, timeout=60):
    """holdfsctl offline --json; then the daemon's exit status."""
    r = holdfsctl('offline', '--json', *args, fs.mnt, timeout=timeout)
    check(r.returncode == 0, 'holdfsctl offline: exit %d: %s %s'
          % (r.returncode, r.stdout, r.stderr))
    rep = json.loads(r.stdout)
    rc = fs.proc.wait(timeout=30)
    fs.proc = None
    check_eq(rc, 0, 'daemon exit status after offline')
    check(not fs.mounted(), 'still mounted after offline')
    return rep


def check_clean_region(fs, files):
    fs.fsck_clean('after offline')
    r = holdfsctl('health', '--json', fs.region)
    check(r.returncode == 0, 'holdfsctl health: %s' % r.stderr)
    recs = sorted(json.loads(r.stdout), key=lambda x: x['seq'])
    types = [x['type'] for x in recs]
    check('offline' in types, 'no offline health record: %r' % types[-6:])
    check(types and types[-1] == 'unmount', 'last record not a clean '
          'unmount: %r' % types[-6:])
    fs.mount()
    for p, data in files.items():
        with open(p, 'rb') as f:
            got = f.read()
        check(got == data, '%s changed across offline' % p)
    fs.unmount()


def test_offline_idle():
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        files = {}
        for i in range(4):
            data = H.pattern(i + 1, 256 * 1024)
            H.write_file(fs.path('f%d' % i), data)
            files[fs.path('f%d' % i)] = data
        t0 = time.monotonic()
        rep = offline(fs)
        dt = time.monotonic() - t0
        # the report's shape
        for k in ('deadline_ms', 'clients_notified', 'holders', 'leases',
                  'released_by_holders', 'revoked', 'revoke_acked', 'killed',
                  'drained', 'health_record', 'daemon_pid', 'daemon_exited'):
            check(k in rep, 'report lacks %s: %r' % (k, rep))
        for k in PHASES:
            check(isinstance(rep['phases_ms'].get(k), (int, float)),
                  'phase %s missing: %r' % (k, rep['phases_ms']))
        check_eq((rep['leases'], rep['revoked'], rep['killed']), (0, 0, 0),
                 'idle: leases, revoked, killed')
        check(rep['drained'] and rep['health_record'] and rep['daemon_exited'],
              'report: %r' % rep)
        check_eq(rep['deadline_ms'], 5000, 'default deadline')
        check(rep['phases_ms']['wait_clients'] < 100,
              'idle offline waited for clients: %r' % rep['phases_ms'])
        check(dt < 5, 'idle offline took %.2fs' % dt)
        check_clean_region(fs, files)


def test_offline_journals_pending_times():
    """An in-place write's mtime is kept in DRAM until fsync, the last
    close or unmount: offline with the file still open must journal it."""
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        p = D.mkfile(fs, 't', MiB, b'T' * MiB)
        old = os.stat(p).st_mtime_ns
        time.sleep(0.05)
        fd = os.open(p, os.O_RDWR)
        os.pwrite(fd, b'W' * 4096, 8192)          # in place: no new blocks
        new = os.fstat(fd).st_mtime_ns
        check(new > old, 'in-place write did not change mtime')
        offline(fs, '--deadline-ms', 1000)
        try:
            os.close(fd)
        except OSError:
            pass                                   # the connection is gone
        fs.mount()
        check_eq(os.stat(p).st_mtime_ns, new, 'mtime after offline and remount')
        with open(p, 'rb') as f:
            check_eq(f.read(12288)[8192:], b'W' * 4096, 'written bytes')
        fs.unmount()
        fs.fsck_clean('after offline with an open file')


def test_offline_text_report():
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        r = holdfsctl('offline', '--deadline-ms', 1000, fs.mnt)
        check(r.returncode == 0, 'offline: %r' % r.stderr)
        for k in ('offline:', 'wait_clients', 'unmount_exit', 'total',
                  'daemon exited'):
            check(k in r.stdout, 'text report lacks %r: %r' % (k, r.stdout))
        check_eq(fs.proc.wait(timeout=30), 0, 'daemon exit status')
        fs.proc = None
        r = holdfsctl('offline', '--deadline-ms', 0, '/tmp')
        check_eq(r.returncode, 2, '--deadline-ms 0 is a usage error')


def test_offline_holders_ack_notice():
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        a = D.mkfile(fs, 'a', MiB, b'A' * MiB)
        b = D.mkfile(fs, 'b', MiB, b'B' * MiB)
        pa, pb = prog(a, MiB), prog(b, MiB)
        rep = offline(fs, '--deadline-ms', 10000)
        for p in (pa, pb):
            out, err = p.communicate(timeout=10)
            check_eq(p.returncode, 0, 'holder exit (%r)' % out)
            s = lines(out)
            check('notice' in s and 'persisted' in s and 'released' in s,
                  'holder did not persist and release: %r %r' % (out, err))
            check(s['notice'][0] < s['released'][0], 'order: %r' % out)
            check('revoked' not in s, 'holder that let go was revoked: %r' % out)
            check('reason=1 deadline_ms=10000' in s['notice'][1], s['notice'][1])
        check_eq((rep['leases'], rep['holders'], rep['clients_notified']),
                 (2, 2, 2), 'leases, holders, notified')
        check_eq((rep['released_by_holders'], rep['revoked'], rep['killed']),
                 (2, 0, 0), 'released, revoked, killed')
        check(rep['phases_ms']['wait_clients'] < 5000,
              'waited for the deadline although every holder let go: %r'
              % rep['phases_ms'])
        # what the holders persisted in their handler is on the media
        check_clean_region(fs, {a: b'N' * MiB, b: b'N' * MiB})


def test_offline_holder_ignores_notice():
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        a = D.mkfile(fs, 'a', MiB, b'A' * MiB)
        b = D.mkfile(fs, 'b', MiB, b'B' * MiB)
        c = D.mkfile(fs, 'c', MiB, b'C' * MiB)
        d = D.mkfile(fs, 'd', MiB, b'D' * MiB)
        good = prog(a, MiB)                      # persists and lets go
        deaf = prog(b, MiB, '--ignore')          # notified, keeps it
        stuck = D.holder('lease', d, 0, MiB, 'w', '--hold-ms', 30000, '--noack')
        t0 = time.monotonic()
        rep = offline(fs, '--deadline-ms', 600)
        dt = time.monotonic() - t0
        try:
            stuck.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stuck.kill()
            fail('holder that never acked was not killed')
        check_eq(stuck.returncode, -signal.SIGKILL, 'stuck holder status')
        stuck.communicate(timeout=5)
        out, _ = good.communicate(timeout=10)
        s = lines(out)
        check('released' in s and 'revoked' not in s, 'good holder: %r' % out)
        out, _ = deaf.communicate(timeout=10)
        s = lines(out)
        check('notice' in s and 'revoked' in s, 'deaf holder: %r' % out)
        check(s['notice'][0] < s['revoked'][0], 'notice after revoke: %r' % out)
        check('reason=3' in s['revoked'][1], 'revoke reason: %r' % out)
        check_eq(deaf.returncode, 0, 'deaf holder exit (acked the revoke)')
        check_eq((rep['leases'], rep['holders'], rep['clients_notified']),
                 (3, 3, 2), 'leases, holders, notified')
        check_eq((rep['released_by_holders'], rep['revoked'],
                  rep['revoke_acked'], rep['killed']), (1, 2, 1, 1),
                 'released, revoked, acked, killed')
        check(rep['phases_ms']['wait_clients'] >= 590,
              'revoked before the deadline: %r' % rep['phases_ms'])
        check(dt < 0.6 + 0.3 + 5, 'offline took %.2fs' % dt)
        check_clean_region(fs, {a: b'N' * MiB, c: b'C' * MiB})


def test_offline_old_client_revoked():
    """A client of the protocol before OFFLINE_NOTICE (HELLO flags 0) is
    not sent it; at the deadline it gets the normal REVOKE (reason
    SHUTDOWN), acks and lives."""
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        c = D.mkfile(fs, 'c', MiB, b'C' * MiB)
        old = D.holder('lease', c, 0, MiB, 'r', '--hold-ms', 30000)
        rep = offline(fs, '--deadline-ms', 300)
        old.send_signal(signal.SIGTERM)
        out, _ = old.communicate(timeout=10)
        check('REVOKE' in out and 'reason=3' in out,
              'old client got no SHUTDOWN revoke: %r' % out)
        check(old.returncode != -signal.SIGKILL, 'old client killed')
        check_eq((rep['leases'], rep['clients_notified'], rep['revoked'],
                  rep['revoke_acked'], rep['killed']), (1, 0, 1, 1, 0),
                 'leases, notified, revoked, acked, killed')
        check_clean_region(fs, {c: b'C' * MiB})


def lease_req_errno(fs, fd):
    """HELLO and a read LEASE_REQ of fd [0, 1 MiB) on a raw connection:
    the ERROR's errno, or 0 if a lease was granted."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    try:
        s.connect(D.ctl_sock(fs))
        s.send(struct.pack('<IHHIIQII', MAGIC, D.PROTO_VERSION, 1, 32, 0, 1,
                           os.getpid(), 0))  # HELLO
        for f in socket.recv_fds(s, 1000, 4)[1]:
            os.close(f)
        socket.send_fds(s, [struct.pack('<IHHIIQQQII', MAGIC, D.PROTO_VERSION, 3,
                                        48, 0, 2, 0, MiB, 1, 0)], [fd])
        data, fds, _, _ = socket.recv_fds(s, 65536, 4)
        for f in fds:
            os.close(f)
        typ = struct.unpack_from('<H', data, 6)[0]
        return struct.unpack_from('<i', data, 24)[0] if typ == 5 else 0
    finally:
        s.close()


def test_offline_refuses_new_opens_and_leases():
    with H.HoldFS(size='64M', mount_opts=OPTS) as fs:
        a = D.mkfile(fs, 'a', MiB, b'A' * MiB)
        b = D.mkfile(fs, 'b', MiB, b'B' * MiB)
        fd = os.open(b, os.O_RDONLY)            # open before: keeps working
        deaf = prog(a, MiB, '--ignore')
        cmd = subprocess.Popen([D.holdfsctl(), 'offline', '--json',
                                '--deadline-ms', '3000', fs.mnt],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the notice reached the holder: the removal is under way
        deadline = time.monotonic() + 5
        line = ''
        while 'notice' not in line and time.monotonic() < deadline:
            line = deaf.stdout.readline()
        check('notice' in line, 'no notice: %r' % line)
        H.expect_errno(errno.ESHUTDOWN, os.open, b, os.O_RDONLY)
        H.expect_errno(errno.ESHUTDOWN, os.open, fs.path('new'),
                       os.O_WRONLY | os.O_CREAT)
        check_eq(lease_req_errno(fs, fd), errno.ESHUTDOWN, 'new lease')
        r = holdfsctl('offline', fs.mnt)
        check(r.returncode != 0 and 'already' in r.stderr,
              'second offline: %r' % r.stderr)
        check_eq(os.pread(fd, 4, 0), b'BBBB', 'read on an open handle')
        os.close(fd)
        out, err = cmd.communicate(timeout=30)
        check_eq(cmd.returncode, 0, 'offline: %s' % err)
        check_eq(json.loads(out)['revoked'], 1, 'revoked')
        deaf.communicate(timeout=10)
        check_eq(fs.proc.wait(timeout=30), 0, 'daemon exit status')
        fs.proc = None
        check_clean_region(fs, {b: b'B' * MiB})


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_offline: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
