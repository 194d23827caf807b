#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""DAX path, daemon side: the lease protocol spoken raw (rawclient.c).

    HOLDFS_BUILD=build python3 tests/dax/test_dax.py [-k NAME] [-x] [--list]

Checks docs/lease-protocol.md: socket discovery by st_dev, message
validation (a bad client is disconnected, the daemon keeps serving), access
control (root/dax_group at HELLO, fd open mode and file mode per lease,
EROFS), leases with extents and the region fd, revocation on truncate (ack,
or kill within the deadline; blocks reused only after), release on client
death, and REMAP of read-leased holes before write(2) returns.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402

MiB = 1 << 20
MAGIC = 0x48464450
PROTO_VERSION = 3  # include/holdfs/proto.h HFS_PROTO_VERSION
ADMIN_LEASES, ADMIN_HOLDERS, ADMIN_REPLY = 100, 101, 102
REVOKE_MS = 300


def rawclient():
    p = os.environ.get('HOLDFS_RAWCLIENT') or os.path.join(H.build_dir(), 'tests', 'dax', 'rawclient')
    H.require(os.path.exists(p), 'rawclient not built (%s)' % p)
    return p


def holdfsctl():
    p = os.environ.get('HOLDFSCTL') or os.path.join(H.build_dir(), 'ctl', 'holdfsctl')
    H.require(os.path.exists(p), 'holdfsctl not built (%s)' % p)
    return p


def rc(*args, user=None, timeout=30):
    """Run rawclient to completion; returns its stdout lines.  user: an
    H.TestUser to run it as (its own copy of rawclient: the build may sit
    where that user cannot reach)."""
    pre, exe = None, rawclient()
    if user is not None:
        exe = user.exe(exe)

        def pre():
            os.setgroups(user.groups)
            os.setgid(user.gid)
            os.setuid(user.uid)
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, preexec_fn=pre)
    return p.stdout.split('\n'), p


def holder(*args):
    """Start a rawclient that holds a lease; returns (proc, ready_path)."""
    ready = '/tmp/hfs-dax-ready-%d-%d' % (os.getpid(), time.monotonic_ns())
    p = subprocess.Popen([rawclient()] + [str(a) for a in args] + ['--ready', ready],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if p.poll() is not None or time.monotonic() > deadline:
            out, err = p.communicate(timeout=5) if p.poll() is not None else ('', '')
            p.kill()
            fail('holder never got its lease: %r %r' % (out, err))
        time.sleep(0.01)
    os.unlink(ready)
    return p


def ctl_sock(fs):
    st = os.stat(fs.mnt)
    return '/run/holdfs/dev/%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))


def admin(fs, typ=ADMIN_LEASES, off=0, length=0):
    """Admin query over the socket (root); the parsed JSON."""
    import json
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(ctl_sock(fs))
    if typ == ADMIN_LEASES:
        s.send(struct.pack('<IHHIIQ', MAGIC, PROTO_VERSION, typ, 24, 0, 1))
    else:
        s.send(struct.pack('<IHHIIQQQQ', MAGIC, PROTO_VERSION, typ, 48, 0, 1, 0, off, length))
    txt = b''
    while True:
        r = s.recv(70000)
        _, _, t, ln, _, _, more, _ = struct.unpack('<IHHIIQII', r[:32])
        check_eq(t, ADMIN_REPLY, 'admin reply type')
        txt += r[32:ln]
        if not more:
            break
    s.close()
    return json.loads(txt)


def region_offset(fs, path, file_off):
    """Region offset of file byte file_off of path (the holders query)."""
    ino = os.stat(path).st_ino
    j = admin(fs, ADMIN_HOLDERS, 0, os.path.getsize(fs.region))
    for o in j['owners']:
        if o['ino'] == ino and o['kind'] == 'data' and \
                o['file_off'] <= file_off < o['file_off'] + o['len']:
            return o['region_off'] + file_off - o['file_off']
    fail('no data owner of %s at %d: %r' % (path, file_off, j['owners']))


def mkfile(fs, name, size, data=None):
    p = fs.path(name)
    with open(p, 'wb') as f:
        if data is not None:
            f.write(data)
        f.truncate(size)
    return p


def lease_line(lines):
    for ln in lines:
        if ln.startswith(('LEASE_OK', 'ERROR', 'CLOSED')):
            return ln
    return ''


# ------------------------------------------------------------------ tests

def test_discovery_and_hello():
    with H.HoldFS(size='64M') as fs:
        check(os.path.islink(ctl_sock(fs)), 'no %s symlink' % ctl_sock(fs))
        target = os.readlink(ctl_sock(fs))
        check(target.startswith('/run/holdfs/') and target.endswith('.sock'),
              'symlink target %s' % target)
        lines, _ = rc('hello', fs.mnt)
        check(lines[0].startswith('HELLO_OK'), 'hello: %r' % lines)
        check('revoke_ms=250' in lines[0], 'default revoke_ms 250: %r' % lines[0])
        fs.unmount()
        check(not os.path.exists(target), 'socket %s left after unmount' % target)
        check(not os.path.lexists(ctl_sock(fs)) or os.readlink(ctl_sock(fs)) != target,
              'symlink left after unmount')


def test_malformed_messages_close_connection():
    kinds = ['short', 'badmagic', 'badversion', 'lenmismatch', 'truncated', 'oversize',
             'unknowntype', 'daemontype', 'strayfd', 'leasenofd', 'leasebeforehello',
             'unknownack', 'doublehello', 'persistedok']
    with H.HoldFS(size='64M') as fs:
        mkfile(fs, 'f', MiB)
        for k in kinds:
            lines, p = rc('bad', fs.path('f'), k)
            check(lines[0] in ('CLOSED', 'SENDFAIL Message too long'),
                  'kind %s: connection not closed: %r %s' % (k, lines, p.stderr))
        lines, _ = rc('bad', fs.path('f'), 'good')
        check_eq(lines[0], 'REPLY', 'a good HELLO after the bad clients')
        lines, _ = rc('lease', fs.path('f'), 0, MiB, 'r')
        check(lease_line(lines).startswith('LEASE_OK'), 'lease after bad clients: %r' % lines)
        check(fs.proc.poll() is None, 'daemon died')
        check('connection closed' in fs.daemon_log(), 'violations not logged')


def test_nonroot_refused_at_hello():
    with H.TestUser() as u, H.HoldFS(size='64M') as fs:
        lines, p = rc('hello', fs.mnt, user=u)
        check(lines[0].startswith('ERROR errno=13'), 'non-root hello: %r %r' % (lines, p.stderr))
        check_eq(lines[1], 'CLOSED', 'connection after EACCES')


def test_dax_group_allows_member():
    with H.TestUser(extra_group=True) as u, \
            H.HoldFS(size='64M', mount_opts=('allow_other', 'dax_group=' + u.extra)) as fs:
        lines, p = rc('hello', fs.mnt, user=u)
        check(lines[0].startswith('HELLO_OK'), 'dax_group member refused: %r %r'
              % (lines, p.stderr))


def test_write_lease_needs_writable_fd():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB)
        lines, _ = rc('lease', p, 0, MiB, 'w', '--open', 'ro')
        check(lease_line(lines).startswith('ERROR errno=13'), 'w lease on O_RDONLY: %r' % lines)
        lines, _ = rc('lease', p, 0, MiB, 'r', '--open', 'wo')
        check(lease_line(lines).startswith('ERROR errno=13'), 'r lease on O_WRONLY: %r' % lines)


def test_write_lease_ro_mount():
    with H.HoldFS(size='64M') as fs:
        mkfile(fs, 'f', MiB, b'x' * 4096)
        fs.unmount()
        fs.mount(opts=('allow_other', 'ro'))
        lines, _ = rc('lease', fs.path('f'), 0, MiB, 'w', '--open', 'ro')
        check(lease_line(lines).startswith('ERROR errno=30'), 'w lease on ro mount: %r' % lines)
        lines, _ = rc('lease', fs.path('f'), 0, MiB, 'r', '--expect', 0x78)
        check(lease_line(lines).startswith('LEASE_OK'), 'r lease on ro mount: %r' % lines)
        check('BYTE0 match' in lines, 'read through the region: %r' % lines)


def _chattr(*args):
    r = H.run(['chattr'] + list(args), timeout=30)
    return 'ok' if r.returncode == 0 else r.stderr.strip()


def test_write_lease_refused_by_chattr():
    """No DAX write lease of an append-only or immutable file (the daemon
    enforces the flags, so no write may bypass it); read leases stay
    allowed; +i/+a while a write lease is out is ETXTBSY, and works once
    it is released (docs/semantics.md "Attribute flags")."""
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB, b'x' * 4096)
        check_eq(_chattr('+a', p), 'ok', 'chattr +a')
        lines, _ = rc('lease', p, 0, MiB, 'w', '--open', 'rwa')
        check(lease_line(lines).startswith('ERROR errno=1'),
              'w lease of an append-only file: %r' % lines)
        lines, _ = rc('lease', p, 0, MiB, 'r', '--expect', 0x78)
        check(lease_line(lines).startswith('LEASE_OK'),
              'r lease of an append-only file: %r' % lines)
        check_eq(_chattr('-a', p), 'ok', 'chattr -a')
        h = holder('lease', p, 0, MiB, 'w', '--hold-ms', 8000)
        try:
            got = (_chattr('+i', p), _chattr('+a', p), _chattr('+d', p))
        finally:
            h.kill()    # a dead client's leases go (test_dead_client_...)
            h.communicate(timeout=10)
        check(('Text file busy' in got[0] and 'Text file busy' in got[1]
               and got[2] == 'ok'), '+i, +a, +d with a write lease out: %r' % (got,))
        deadline = time.monotonic() + 10
        while admin(fs)['leases'] and time.monotonic() < deadline:
            time.sleep(0.02)
        check_eq(_chattr('+i', p), 'ok', 'chattr +i once the lease is gone')
        check_eq(_chattr('-i', '-d', p), 'ok', 'chattr -i -d')


def test_readonly_remount_revokes_write_leases():
    """A read-only remount (the kernel allows it: the holders closed their
    descriptors) revokes every write lease (reason LAYOUT, acked), keeps
    read leases, and refuses new write leases with EROFS
    (docs/semantics.md "Remount")."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', MiB, b'x' * 4096)
        q = mkfile(fs, 'g', MiB, b'y' * 4096)
        hw = holder('lease', p, 0, MiB, 'w', '--hold-ms', 20000)
        hr = holder('lease', q, 0, MiB, 'r', '--hold-ms', 20000)
        try:
            r = H.run(['mount', '-i', '-o', 'remount,ro', fs.mnt], timeout=30)
            check_eq(r.returncode, 0, 'mount -i -o remount,ro: %s' % r.stderr.strip())

            def states():
                return {ls['prot']: {e['state'] for e in ls['extents']}
                        for ls in admin(fs)['leases']}
            deadline = time.monotonic() + 10
            while states().get('rw') != {'revoked'} and time.monotonic() < deadline:
                time.sleep(0.02)
            got = states()
            check_eq(got.get('rw'), {'revoked'}, 'the write lease after the remount (%r)' % got)
            check('revoked' not in got.get('r', {'revoked'}), 'the read lease after the remount (%r)' % got)
            lines, _ = rc('lease', p, 0, MiB, 'w', '--open', 'ro')
            check(lease_line(lines).startswith('ERROR errno=30'), 'w lease after: %r' % lines)
            check(hw.poll() is None and hr.poll() is None, 'a holder died')
            check_eq(admin(fs)['kills'], 0, 'nobody killed (the holder acked)')
        finally:
            for h in (hw, hr):
                h.kill()
            outw, _ = hw.communicate(timeout=10)
            hr.communicate(timeout=10)
        check('REVOKE' in outw and 'reason=1' in outw, 'the write holder got no REVOKE: %r' % outw)


def test_bad_ranges_einval():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB)
        for off, ln in ((1, 4096), (0, 100), (0, 2 * MiB), (MiB, 4096)):
            lines, _ = rc('lease', p, off, ln, 'w')
            check(lease_line(lines).startswith('ERROR errno=22'),
                  'lease %d+%d: %r' % (off, ln, lines))


def test_write_lease_data_visible_to_posix():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB)               # all hole
        lines, _ = rc('lease', p, 0, MiB, 'w', '--fill', 0x5a)
        ll = lease_line(lines)
        check(ll.startswith('LEASE_OK') and 'fd=yes' in ll and '(hole)' not in ll,
              'write lease allocates the holes: %r' % lines)
        check('RELEASED' in lines, 'release: %r' % lines)
        with open(p, 'rb') as f:
            d = f.read(4096)
        check_eq(d, b'\x5a' * 4096, 'POSIX read of DAX-written data')


def test_persisted_invalidates_page_cache():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB, b'P' * MiB)
        go = '/tmp/hfs-dax-go-%d' % os.getpid()
        # the DAX client opens (FUSE drops cached pages at open) before
        # the reader caches, and stores only then
        h = holder('lease', p, 0, MiB, 'w', '--go', go, '--fill', 0x77, '--persist',
                   '--hold-ms', 300)
        fd = os.open(p, os.O_RDONLY)
        try:
            check_eq(os.pread(fd, 4096, 0), b'P' * 4096, 'first read (now cached)')
            open(go, 'w').close()
            out, _ = h.communicate(timeout=20)
            check('FILLED %d' % MiB in out, 'DAX fill: %r' % out)
            check('PERSISTED_OK' in out.split('\n'),
                  'PERSISTED_OK (same id) after PERSISTED: %r' % out)
            check_eq(os.pread(fd, 4096, 0), b'\x77' * 4096,
                     'POSIX read through an open fd after PERSISTED')
        finally:
            os.close(fd)
            os.unlink(go)


def test_read_lease_sees_posix_data():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB, b'A' * MiB)
        lines, _ = rc('lease', p, 0, MiB, 'r', '--expect', 0x41)
        check('BYTE0 match' in lines, 'read lease: %r' % lines)
        j = admin(fs)
        check_eq(j['leases'], [], 'leases after release')


def test_revoke_on_truncate_acked():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 4 * MiB, b'B' * 4 * MiB)
        h = holder('lease', p, 0, 4 * MiB, 'w', '--hold-ms', 8000)
        t0 = time.monotonic()
        os.truncate(p, 0)
        out = ''
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if admin(fs)['pending_free_blocks'] == 0:
                break
            time.sleep(0.02)
        dt = time.monotonic() - t0
        check_eq(admin(fs)['pending_free_blocks'], 0, 'pending blocks after ack')
        check(dt < REVOKE_MS / 1000, 'acked revocation took %.3fs' % dt)
        check(h.poll() is None, 'an acking holder was killed')
        h.send_signal(signal.SIGTERM)
        out, _ = h.communicate(timeout=10)
        check('REVOKE' in out and 'reason=1' in out, 'holder got no REVOKE: %r' % out)
        check_eq(admin(fs)['kills'], 0, 'nobody killed')


def test_revoke_batched_per_client():
    """A round that revokes several leases of one client sends it one
    REVOKE naming every range, acked once; the blocks are freed after that
    single ack."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 4 * 65536, b'B' * 4 * 65536)
        h = holder('lease', p, 0, 65536, 'w', '--extra', 3, '--hold-ms', 8000)
        check_eq(len(admin(fs)['leases']), 4, 'leases held')
        os.truncate(p, 0)
        deadline = time.monotonic() + 5
        while admin(fs)['pending_free_blocks'] and time.monotonic() < deadline:
            time.sleep(0.02)
        check_eq(admin(fs)['pending_free_blocks'], 0, 'blocks freed after the ack')
        h.send_signal(signal.SIGTERM)
        out, _ = h.communicate(timeout=10)
        msgs = [l for l in out.splitlines() if l.startswith('REVOKE_MSG')]
        ranges = [l for l in out.splitlines() if l.startswith('REVOKE lease=')]
        check_eq(len(msgs), 1, 'REVOKE messages for one truncate (%r)' % out)
        check('nranges=4' in msgs[0], 'one message, four ranges: %r' % msgs)
        check_eq(len({l.split()[1] for l in ranges}), 4, 'four distinct leases revoked')
        check_eq(admin(fs)['kills'], 0, 'nobody killed')


def test_revoke_on_unlink_and_punch():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 2 * MiB, b'U' * 2 * MiB)
        h = holder('lease', p, 0, 2 * MiB, 'r', '--hold-ms', 6000)
        # punch the second MiB: only that range is revoked
        fd = os.open(p, os.O_RDWR)
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
        r = libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
                           ctypes.c_long(MiB), ctypes.c_long(MiB))
        check_eq(r, 0, 'punch hole')
        os.close(fd)
        # unlink (last close): the rest is revoked once the inode dies
        os.unlink(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            j = admin(fs)
            if j['leases'] and all(e['state'] == 'revoked' for e in j['leases'][0]['extents']) \
                    and j['pending_free_blocks'] == 0:
                break
            time.sleep(0.05)
        j = admin(fs)
        check(all(e['state'] == 'revoked' for e in j['leases'][0]['extents']),
              'lease not fully revoked after punch + unlink: %r' % j)
        check_eq(j['pending_free_blocks'], 0, 'pending blocks')
        h.send_signal(signal.SIGTERM)
        out, _ = h.communicate(timeout=10)
        revs = [ln for ln in out.split('\n') if ln.startswith('REVOKE lease=')]
        check('off=%d len=%d' % (MiB, MiB) in revs[0], 'punch revokes only its range: %r' % revs)


def test_revoke_kills_silent_holder():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 4 * MiB, b'C' * 4 * MiB)
        h = holder('lease', p, 0, 4 * MiB, 'w', '--hold-ms', 30000, '--noack')
        free0 = os.statvfs(fs.mnt).f_bfree
        t0 = time.monotonic()
        os.truncate(p, 0)
        # the blocks are not reusable while the holder lives
        free1 = os.statvfs(fs.mnt).f_bfree
        pend = admin(fs)['pending_free_blocks']
        check(h.poll() is None, 'holder died too early')
        check_eq(pend, 1024, 'blocks held back for revocation')
        check(free1 <= free0, 'freed blocks reusable before revocation (%d -> %d)' % (free0, free1))
        try:
            h.wait(timeout=REVOKE_MS / 1000 + 5)
        except subprocess.TimeoutExpired:
            fail('silent holder not killed')
        dt = time.monotonic() - t0
        check_eq(h.returncode, -signal.SIGKILL, 'holder exit status')
        check(dt >= REVOKE_MS / 1000 * 0.9, 'killed before the deadline (%.3fs)' % dt)
        deadline = time.monotonic() + 5
        while admin(fs)['pending_free_blocks'] and time.monotonic() < deadline:
            time.sleep(0.02)
        check_eq(admin(fs)['pending_free_blocks'], 0, 'blocks returned after the kill')
        free2 = os.statvfs(fs.mnt).f_bfree
        check(free2 >= free1 + 1024, 'blocks back in the free space (%d -> %d)' % (free1, free2))
        check_eq(admin(fs)['kills'], 1, 'kill count')
        check('killing it' in fs.daemon_log(), 'kill not logged')


def test_reaping_one_holder_spares_another_owner():
    """Two clients map the same blocks; one dies with the revocation
    unacknowledged.  The scan for what it left behind must not count the
    other client's own mapping (its lease is in the same revocation and it
    will ack) as a leftover: only the dead one's holders are killed."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=3000')) as fs:
        p = mkfile(fs, 'f', 4 * MiB, b'O' * 4 * MiB)
        a = holder('lease', p, 0, 4 * MiB, 'w', '--hold-ms', 30000)
        b = holder('lease', p, 0, 4 * MiB, 'r', '--hold-ms', 30000, '--noack')
        try:
            os.kill(a.pid, signal.SIGSTOP)   # a cannot ack yet
            os.truncate(p, 0)                # REVOKE to both
            b.kill()                         # b goes away unacknowledged
            b.wait(timeout=10)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and a.poll() is None:
                time.sleep(0.05)
            check(a.poll() is None, 'the other owner was killed with the dead holder: '
                  '%s' % fs.daemon_log()[-600:])
            os.kill(a.pid, signal.SIGCONT)   # a acks now
            deadline = time.monotonic() + 5
            while admin(fs)['pending_free_blocks'] and time.monotonic() < deadline:
                time.sleep(0.02)
            check_eq(admin(fs)['pending_free_blocks'], 0, 'blocks returned after the ack')
            check(a.poll() is None, 'the acking owner died')
            check_eq(admin(fs)['kills'], 0, 'kill count')
        finally:
            for h in (a, b):
                if h.poll() is None:
                    os.kill(h.pid, signal.SIGCONT)
                    h.kill()
                h.communicate(timeout=10)


def test_unmount_with_blocks_pending_revocation():
    """Unmount while a silent holder keeps truncated blocks pending: the
    daemon exits cleanly, the blocks are free again, and fsck agrees with
    the counters written at unmount (no P5_COUNTERS)."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=20000')) as fs:
        p = mkfile(fs, 'f', 4 * MiB, b'C' * 4 * MiB)
        h = holder('lease', p, 0, 4 * MiB, 'w', '--hold-ms', 30000, '--noack')
        try:
            os.truncate(p, 0)
            check_eq(admin(fs)['pending_free_blocks'], 1024, 'blocks held back')
            fs.unmount()
            check('free again' in fs.daemon_log(), 'return of pending blocks not logged')
            fs.fsck_clean('after unmount with blocks pending revocation')
        finally:
            h.kill()
            h.communicate(timeout=10)


def test_dead_client_releases_leases():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB, b'D' * MiB)
        h = holder('lease', p, 0, MiB, 'r', '--hold-ms', 30000)
        check_eq(len(admin(fs)['leases']), 1, 'lease recorded')
        j = admin(fs)['leases'][0]
        check_eq(j['pid'], h.pid, 'lease pid')
        h.kill()
        h.wait()
        deadline = time.monotonic() + 5
        while admin(fs)['leases'] and time.monotonic() < deadline:
            time.sleep(0.02)
        check_eq(admin(fs)['leases'], [], 'leases of a dead client')
        os.truncate(p, 0)
        check_eq(admin(fs)['pending_free_blocks'], 0, 'no revocation without leases')


def test_remap_hole_before_write_returns():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', MiB)                # a hole
        h = holder('lease', p, 0, MiB, 'r', '--hold-ms', 3000)
        with open(p, 'r+b') as f:
            f.write(b'E' * 8192)
            f.flush()
        # write(2) returned: the REMAP must already be acked
        j = admin(fs)['leases'][0]
        states = [e['state'] for e in j['extents']]
        check('mapped' in states, 'lease still maps only holes after the write: %r' % j)
        out, _ = h.communicate(timeout=10)
        check('REMAP' in out and '(hole)' not in out.split('REMAP')[1].split('\n')[0],
              'remap message: %r' % out)


def address_space_gone(pid):
    """True when pid maps nothing any more: exited, a zombie, or past the
    point of exit where its memory is released (/proc/PID/maps empty)."""
    try:
        with open('/proc/%d/maps' % pid) as f:
            return f.read() == ''
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_write_waits_for_remap_ack_or_kill():
    write_waits_for_remap_ack_or_kill((), REVOKE_MS)


def test_write_waits_for_remap_ack_or_kill_one_worker():
    """The same with one FUSE worker, the one the write holds: the kill
    must not need another.  The holder has a descriptor of the file, on
    this mount; finding who holds what stat()ed it, which sent the daemon
    a GETATTR that waited for a free worker, so the reader was killed only
    after the write's own wait had run out (the write returned first,
    with the reader still mapping).  The deadline is longer than the
    kernel's attribute cache (1 s), so that the stat is not answered
    from it."""
    write_waits_for_remap_ack_or_kill(('max_threads=1',), 1500)


def write_waits_for_remap_ack_or_kill(opts, revoke_ms):
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % revoke_ms) + opts) as fs:
        p = mkfile(fs, 'f', MiB)                # a hole
        h = holder('lease', p, 0, MiB, 'r', '--hold-ms', 30000, '--noack')
        t0 = time.monotonic()
        with open(p, 'r+b') as f:
            f.write(b'G' * 4096)
            f.flush()
        dt = time.monotonic() - t0
        # the reader never acked: write(2) returned only after it was
        # killed and its address space torn down.  (The daemon learns
        # that from the socket closing: exit releases the mm before the
        # file table, so the process may not be a zombie yet -- check the
        # mappings themselves, then reap it.)
        check(address_space_gone(h.pid), 'write returned while a reader still maps stale zeros')
        h.wait(timeout=10)
        check_eq(h.returncode, -signal.SIGKILL, 'silent reader exit status')
        # the kill ended the REMAP, not the write's own deadline
        check('REMAP not completed in time' not in fs.daemon_log(),
              'the write waited out its own deadline: the kill came late')
        check(dt >= revoke_ms / 1000 * 0.9, 'write returned after %.3fs, before the deadline' % dt)
        check(dt < revoke_ms / 1000 + 5, 'write blocked %.3fs' % dt)
        check_eq(admin(fs)['leases'], [], 'killed reader released')


def test_remap_on_fallocate_and_foreign_write_lease():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 2 * MiB)            # all hole
        h = holder('lease', p, 0, 2 * MiB, 'r', '--hold-ms', 4000)
        # fallocate the first MiB: the reader is remapped before it returns
        fd = os.open(p, os.O_RDWR)
        os.posix_fallocate(fd, 0, MiB)
        os.close(fd)
        j = admin(fs)['leases'][0]
        mapped = [e for e in j['extents'] if e['state'] == 'mapped']
        check(mapped and mapped[0]['file_off'] == 0, 'after fallocate: %r' % j)
        # another client's write lease fills the second MiB: the reader
        # is remapped before the writer gets its LEASE_OK
        lines, _ = rc('lease', p, MiB, MiB, 'w', '--fill', 0x33)
        check(lease_line(lines).startswith('LEASE_OK'), 'writer: %r' % lines)
        leases = admin(fs)['leases']
        check_eq(len(leases), 1, 'leases left')
        check(all(e['state'] == 'mapped' for e in leases[0]['extents']),
              'reader still maps holes: %r' % leases[0])
        out, _ = h.communicate(timeout=10)
        check_eq(out.count('REMAP'), 2, 'REMAPs the reader got: %r' % out)
        with open(p, 'rb') as f:
            f.seek(MiB)
            check_eq(f.read(4096), b'\x33' * 4096, 'POSIX read of the writer data')


def test_remap_two_holes_filled_at_once():
    """One fallocate fills two holes a read lease maps as zeros, with
    data between them: one REMAP names both new extents, and the reader
    maps no hole afterwards."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=%d' % REVOKE_MS)) as fs:
        p = mkfile(fs, 'f', 3 * MiB)            # all hole
        with open(p, 'r+b') as f:               # data in the middle MiB
            f.seek(MiB)
            f.write(b'M' * MiB)
        h = holder('lease', p, 0, 3 * MiB, 'r', '--hold-ms', 4000)
        holes = [e for e in admin(fs)['leases'][0]['extents'] if e['state'] != 'mapped']
        check_eq(len(holes), 2, 'holes the reader maps before: %r' % holes)
        fd = os.open(p, os.O_RDWR)
        os.posix_fallocate(fd, 0, 3 * MiB)
        os.close(fd)
        j = admin(fs)['leases'][0]
        check(all(e['state'] == 'mapped' for e in j['extents']),
              'a hole is still mapped as zeros after the fallocate: %r' % j)
        out, _ = h.communicate(timeout=10)
        check('REMAP' in out, 'no REMAP: %r' % out)


def test_holdfsctl():
    with H.HoldFS(size='64M') as fs:
        p = mkfile(fs, 'f', MiB, b'F' * MiB)
        h = holder('lease', p, 0, MiB, 'w', '--hold-ms', 30000)
        a = subprocess.run([holdfsctl(), 'leases', fs.mnt], capture_output=True, text=True)
        check_eq(a.returncode, 0, 'holdfsctl leases: %s' % a.stderr)
        check(str(h.pid) in a.stdout, 'pid in holdfsctl leases: %r' % a.stdout)
        import json
        a = subprocess.run([holdfsctl(), 'leases', '--json', fs.mnt], capture_output=True, text=True)
        j = json.loads(a.stdout)
        ext = j['leases'][0]['extents'][0]
        a = subprocess.run([holdfsctl(), 'holders', '--range', '%d,%d' % (ext['region_off'], 4096),
                            '--json', fs.mnt], capture_output=True, text=True)
        check_eq(a.returncode, 0, 'holdfsctl holders: %s' % a.stderr)
        j = json.loads(a.stdout)
        check_eq(j['owners'][0]['ino'], os.stat(p).st_ino, 'owner ino')
        check_eq(j['leases'][0]['pid'], h.pid, 'holder pid')
        a = subprocess.run([holdfsctl(), 'leases', '/'], capture_output=True, text=True)
        check(a.returncode != 0 and a.stderr, 'holdfsctl on a non-holdfs path')
        a = subprocess.run([holdfsctl(), '--help'], capture_output=True, text=True)
        check(a.returncode == 0 and 'holders' in a.stdout, '--help')
        h.kill()
        h.wait()


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_dax: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
