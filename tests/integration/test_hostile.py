#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A hostile local user against a holdfs mount (docs/lease-protocol.md,
"Trust model").

    HOLDFS_BUILD=build python3 tests/integration/test_hostile.py [-k NAME]

Each test creates an unprivileged user (useradd; removed at the end) and
acts as it, speaking the lease protocol raw from Python (nothing of the
build tree is executed as that user).  They check that such a user
cannot exhaust the daemon's descriptors or stop the filesystem, cannot
mark another user's data lost with POISON, cannot escape a kill by
forking, and cannot take the blocks reserved for root.
"""

import mmap
import os
import resource
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402

MiB = 1 << 20
MAGIC, VERSION = 0x48464450, 3  # include/holdfs/proto.h
HELLO, HELLO_OK, LEASE_REQ, LEASE_OK, ERROR = 1, 2, 3, 4, 5
POISON = 13
ADMIN_STATUS, ADMIN_LEASES, ADMIN_REPLY = 103, 100, 102
EUSERS, EACCES = 87, 13


def sock_path(mnt):
    st = os.stat(mnt)
    return '/run/holdfs/dev/%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))


def hdr(typ, length, mid):
    return struct.pack('<IHHIIQ', MAGIC, VERSION, typ, length, 0, mid)


class Raw:
    """A lease-protocol client in a few lines: enough to misbehave."""

    def __init__(self, mnt):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(10 * H.TIMEOUT_MULTIPLIER)
        self.s.connect(sock_path(mnt))
        self.id = 0

    def recv(self):
        data, fds, _, _ = socket.recv_fds(self.s, 65536, 4)
        if not data:
            return None, None, fds
        typ = struct.unpack_from('<H', data, 6)[0]
        return typ, data, fds

    def hello(self):
        """(type, message) of the answer; (None, None) when the daemon
        closed the connection instead."""
        self.id += 1
        try:
            self.s.send(hdr(HELLO, 32, self.id) + struct.pack('<II', os.getpid(), 0))
            typ, data, fds = self.recv()
        except (ConnectionResetError, BrokenPipeError):
            return None, None
        for f in fds:
            os.close(f)
        return typ, data

    def lease(self, path, off, length, prot):
        """(lease_id, [(file_off, region_off, len, flags)], region fd or
        None) or raises on ERROR."""
        fd = os.open(path, os.O_RDWR if prot & 2 else os.O_RDONLY)
        self.id += 1
        msg = hdr(LEASE_REQ, 48, self.id) + struct.pack('<QQII', off, length, prot, 0)
        socket.send_fds(self.s, [msg], [fd])
        os.close(fd)
        typ, data, fds = self.recv()
        if typ != LEASE_OK:
            for f in fds:
                os.close(f)
            raise OSError(struct.unpack_from('<i', data, 24)[0] if typ == ERROR else 0,
                          'lease refused (type %s)' % typ)
        lid, _ino, _o, _l, _p, n = struct.unpack_from('<QQQQII', data, 24)
        ext = [struct.unpack_from('<QQQI', data, 72 + 32 * i) for i in range(n)]
        return lid, ext, (fds[0] if fds else None)

    def poison(self, off, length):
        self.id += 1
        self.s.send(hdr(POISON, 48, self.id) + struct.pack('<QQQ', 0, off, length))

    def close(self):
        self.s.close()


def _admin(fs, typ):
    import json
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5 * H.TIMEOUT_MULTIPLIER)
    s.connect(sock_path(fs.mnt))
    s.send(hdr(typ, 24, 1))
    txt = b''
    while True:
        d = s.recv(65536)
        check(d and struct.unpack_from('<H', d, 6)[0] == ADMIN_REPLY, 'admin reply: %r' % d[:40])
        more = struct.unpack_from('<I', d, 24)[0]
        txt += d[32:]
        if not more:
            break
    s.close()
    return json.loads(txt)


def leases(fs):
    return _admin(fs, ADMIN_LEASES)['leases']


def data_region_off(fs, path):
    """Region offset of the first data block of path, from a root lease."""
    r = Raw(fs.mnt)
    r.hello()
    lid, ext, rfd = r.lease(path, 0, 4096, 1)
    if rfd is not None:
        os.close(rfd)
    r.close()
    return ext[0][1]


def wait_for(what, pred, timeout=10):
    deadline = time.monotonic() + timeout * H.TIMEOUT_MULTIPLIER
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    fail('%s did not happen within %ss' % (what, timeout))


def fds_of(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def log_lines(fs, needle):
    return sum(needle in ln for ln in fs.daemon_log().splitlines())


# ---------------------------------------------------------------- floods

def test_connection_flood_is_bounded():
    """A user (even a dax_group member) holds at most max_clients_per_uid
    connections; the rest are refused with EUSERS, the daemon's descriptors
    stay bounded, root's holdfsctl and a new DAX client still work, the
    filesystem is not shut down, and the log stays bounded."""
    with H.TestUser(extra_group=True) as u, \
            H.HoldFS(size='64M', mount_opts=('allow_other', 'dax_group=' + u.extra,
                                             'max_clients_per_uid=8', 'hello_ms=400')) as fs:
        pid = fs.proc.pid
        base = fds_of(pid)

        def flood(mnt):
            held, refused = [], 0
            for _ in range(60):
                r = Raw(mnt)
                typ, data = r.hello()
                if typ == HELLO_OK:
                    held.append(r)
                else:
                    check(typ is None or (typ == ERROR and
                                          struct.unpack_from('<i', data, 24)[0] == EUSERS),
                          'refusal: type %s' % typ)
                    refused += 1
                    r.close()
            n = len(held)
            for r in held:
                r.close()
            return n, refused
        held, refused = H.Child(flood, fs.mnt, uid=u.uid, gid=u.gid, groups=u.groups).join()
        check_eq(held, 8, 'connections a user may hold (max_clients_per_uid=8)')
        check_eq(refused, 52, 'connections refused')
        # the flood's connections are closed by now; the daemon sees each
        # EOF on its ring thread, so give it a moment (a loaded machine)
        deadline = time.monotonic() + 10
        while fds_of(pid) > base + 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(fds_of(pid) <= base + 8, 'daemon descriptors after the flood: %d (base %d)'
              % (fds_of(pid), base))
        # silent connections: closed after hello_ms, whoever opens them
        def silent(mnt):
            return [Raw(mnt) for _ in range(8)]
        socks = H.Child(lambda m: len(silent(m)), fs.mnt, uid=u.uid, gid=u.gid).join()
        check_eq(socks, 8, 'silent connections opened')
        t0 = time.monotonic()
        st = _admin(fs, ADMIN_STATUS)
        check(time.monotonic() - t0 < 1.0 * H.TIMEOUT_MULTIPLIER, 'status answered slowly')
        check_eq(st['state'], 'ok', 'state after the flood')
        p = fs.path('f')
        H.write_file(p, b'x' * 65536)
        check(data_region_off(fs, p) > 0, 'a new DAX client\'s lease')
        check(log_lines(fs, 'refused a connection') <= 2,
              'refusals logged %d times (rate-limited)' % log_lines(fs, 'refused a connection'))


def test_accept_errors_back_off():
    """A daemon whose descriptors run out (here: started with a limit of
    64, then flooded by root, whom the per-uid bound does not cover) backs
    off instead of spinning, logs it at most once per 10 s, refuses
    nothing it need not, never takes it for device loss, and serves again
    once descriptors are free."""
    with H.HoldFS(size='64M', mount=False) as fs:
        fs.mount(preexec=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
        socks = []
        for _ in range(60):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(sock_path(fs.mnt))  # the kernel queues what is not accepted
            socks.append(s)
        time.sleep(1.5)
        errs = log_lines(fs, 'control: accept:')
        check(1 <= errs <= 2, 'accept errors logged %d times in 1.5 s' % errs)
        for s in socks:
            s.close()
        time.sleep(1.2)         # the back-off is at most 1 s
        check_eq(_admin(fs, ADMIN_STATUS)['state'], 'ok', 'state once descriptors are back')
        H.write_file(fs.path('f'), b'still serving')



def test_probe_without_descriptors_is_not_loss():
    """With -o devname= the failure monitor probes a (fake) device-dax in
    sysfs every poll_ms, opening its attribute files.  Take every
    descriptor from the daemon (its soft RLIMIT_NOFILE lowered to what it
    has open, as a flood that beat the admission bounds would): the probe
    cannot run, which is no evidence of device loss.  The filesystem stays
    up, the log says so at most once per 10 s, it serves again once
    descriptors are back, and a real unbind still shuts it down."""
    with H.HoldFS(size='64M', mount=False) as fs:
        root, dev = H.fake_sysfs(fs.tmpdir)
        fs.mount(opts=('allow_other', 'sysfs_root=' + root, 'devname=dax9.0',
                       'poll_ms=50'))
        pid = fs.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds_of(pid), hard))
        try:
            time.sleep(1.5)     # ~30 probes without a descriptor
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        log = fs.daemon_log()
        n = log_lines(fs, 'cannot check dax9.0')
        check(1 <= n <= 2, 'probe errors logged %d times in 1.5 s: %s' % (n, log[-1500:]))
        check('Too many open files' in log, 'the probe saw EMFILE: %s' % log[-1500:])
        check('shut' not in log, 'shut down: %s' % log[-1500:])
        check_eq(_admin(fs, ADMIN_STATUS)['state'], 'ok', 'state once descriptors are back')
        H.write_file(fs.path('f'), b'still serving')
        os.unlink(os.path.join(dev, 'driver'))
        wait_for('shutdown on a real unbind',
                 lambda: _admin(fs, ADMIN_STATUS)['state'] == 'shutdown', 5)

# ---------------------------------------------------------------- kills

def evade(mnt, path):
    """Take a read lease, map it, fork; the child keeps the socket and the
    mapping and never acks; the parent exits at once."""
    r = Raw(mnt)
    check_eq(r.hello()[0], HELLO_OK, 'HELLO')
    lid, ext, rfd = r.lease(path, 0, 4 * 65536, 1)
    m = mmap.mmap(rfd, ext[0][2], mmap.MAP_SHARED, mmap.PROT_READ, offset=ext[0][1])
    m[0]
    child = os.fork()
    if child == 0:
        os.setsid()
        keep = sorted({r.s.fileno(), rfd})
        lo = 3
        for k in keep:     # not the test harness's result pipe
            os.closerange(lo, k)
            lo = k + 1
        os.closerange(lo, 4096)
        while True:
            time.sleep(1)
    return child


def test_fork_evader_killed_and_blocks_reused():
    """A client forks and exits; its child keeps the socket and the
    mapping and never acks.  After the deadline the child is killed, the
    client's leases are gone, the blocks are free again, and the log never
    says a dead pid is alive."""
    with H.TestUser(extra_group=True) as u, \
            H.HoldFS(size='64M', mount_opts=('allow_other', 'dax_group=' + u.extra,
                                             'revoke_ms=300')) as fs:
        p = fs.path('f')
        H.write_file(p, b'E' * 4 * 65536)
        os.chmod(p, 0o644)
        parent = H.Child(evade, fs.mnt, p, uid=u.uid, gid=u.gid, groups=u.groups)
        child = parent.join()
        # (TestUser's exit kills it if a check below fails)
        check(os.path.exists('/proc/%d' % child), 'the forked holder runs')
        free0 = os.statvfs(fs.mnt).f_bfree
        os.unlink(p)
        wait_for('the forked holder killed', lambda: not os.path.exists('/proc/%d' % child)
                 or open('/proc/%d/stat' % child).read().split()[2] == 'Z')
        wait_for('the blocks back', lambda: _admin(fs, ADMIN_STATUS)['pending_free_blocks'] == 0)
        check(os.statvfs(fs.mnt).f_bfree >= free0 + 64, 'blocks reused after the kill')
        check_eq([le for le in leases(fs) if le['uid'] == u.uid], [], 'leases of the evader')
        log = fs.daemon_log()
        check('still alive' not in log, 'a pid reported alive: %s' % log[-1500:])
        check('killing it' in log or 'other holder' in log, 'the kill is logged: %s' % log[-1500:])
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- POISON

def member_lease_and_poison(mnt, mine, off, ln, other_off):
    r = Raw(mnt)
    check_eq(r.hello()[0], HELLO_OK, 'HELLO')
    lid, ext, rfd = r.lease(mine, 0, 65536, 1)
    r.poison(other_off, 4096)        # another user's file
    r.poison(off, ln)                # past the region's end
    r.poison(1 << 62, 4096)
    time.sleep(0.5)
    r.close()
    return ext[0][1]


def test_poison_of_a_foreign_range_is_ignored():
    """POISON for a range the sender does not map, or outside the region,
    marks nothing lost and shuts nothing down."""
    with H.TestUser(extra_group=True) as u, \
            H.HoldFS(size='64M', mount_opts=('allow_other', 'dax_group=' + u.extra)) as fs:
        secret = fs.path('secret')
        H.write_file(secret, b'S' * 65536)
        os.chmod(secret, 0o600)
        mine = fs.path('mine')
        H.write_file(mine, b'M' * 65536)
        os.chmod(mine, 0o644)
        other = data_region_off(fs, secret)
        H.Child(member_lease_and_poison, fs.mnt, mine, 64 * MiB + 4096, 4096, other,
                uid=u.uid, gid=u.gid, groups=u.groups).join()
        st = _admin(fs, ADMIN_STATUS)
        check_eq(st['state'], 'ok', 'state after bogus POISON')
        check_eq(st['affected'], [], 'files marked lost')
        check(log_lines(fs, 'does not map') + log_lines(fs, 'outside the region') >= 1,
              'the ignored reports are logged')
        check_eq(H.read_file(secret), b'S' * 65536, 'the other user\'s file')
        fs.remount()
        check_eq(H.read_file(secret), b'S' * 65536, 'the other user\'s file after a remount')


# ---------------------------------------------------------------- reserve

def fill_as_user(mnt):
    n = 0
    try:
        with open(os.path.join(mnt, 'u', 'big'), 'wb') as f:
            while True:
                f.write(b'u' * MiB)
                n += 1
    except OSError as e:
        return n, e.errno
    return n, 0


def create_as_user(mnt):
    n = 0
    try:
        while True:
            open(os.path.join(mnt, 'u', 'f%d' % n), 'wb').close()
            n += 1
    except OSError as e:
        return n, e.errno


def test_root_reserve():
    """A user who fills the filesystem (blocks, then inodes) gets ENOSPC
    at the reserve (mkfs -m); root can still write and create; statfs
    shows the reserve (f_bavail, f_favail)."""
    with H.TestUser() as u, H.HoldFS(size='64M', mkfs_args=('-m', '10', '-N', '512')) as fs:
        os.mkdir(fs.path('u'))
        os.chown(fs.path('u'), u.uid, u.gid)
        n, err = H.Child(fill_as_user, fs.mnt, uid=u.uid, gid=u.gid).join()
        check_eq(err, 28, 'the user stops at ENOSPC')
        st = os.statvfs(fs.mnt)
        # (a refused 1 MiB write may leave less than 1 MiB above it)
        check(st.f_bavail * st.f_frsize < MiB, 'f_bavail at the reserve: %d' % st.f_bavail)
        check(st.f_bfree * st.f_frsize >= 5 * MiB, 'free blocks left for root: %d' % st.f_bfree)
        H.write_file(fs.path('root-after'), b'r' * (4 * MiB))
        os.unlink(fs.path('u', 'big'))
        n, err = H.Child(create_as_user, fs.mnt, uid=u.uid, gid=u.gid).join()
        check_eq(err, 28, 'the user stops creating at ENOSPC')
        # (FUSE has no f_favail: the kernel reports f_ffree for it)
        check_eq(os.statvfs(fs.mnt).f_ffree, 511 * 10 // 100, 'inodes left: root\'s')
        H.write_file(fs.path('root-file'), b'r')
        check(n < 512, 'inodes the user got: %d' % n)


# ---------------------------------------------------------------- names

def test_socket_names_under_the_lock():
    """A daemon's sweep waits for the directory lock, so a socket between
    bind and listen (refusing connections) is never taken; a daemon
    removes the discovery link only while it is its own.

    Other daemons may start meanwhile (scripts/test.sh runs two passes at
    once; a machine may run several): everything checked is looked at
    while the lock is still held, and the foreign link points to a live
    socket, which no daemon's sweep takes."""
    import fcntl
    lock = os.open('/run/holdfs/.lock', os.O_RDWR | os.O_CREAT, 0o600)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    name = '/run/holdfs/hfstest-%d.sock' % os.getpid()
    other_name = '/run/holdfs/hfstest-%d-other.sock' % os.getpid()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for n in (name, other_name):
            if os.path.exists(n):
                os.unlink(n)
        probe.bind(name)                 # bound, not listening: refuses
        other.bind(other_name)           # someone else's, alive
        other.listen(1)
        with H.HoldFS(size='64M') as fs:
            check(os.path.exists(name), 'a socket between bind and listen was swept '
                  'while the lock was held')
            fcntl.flock(lock, fcntl.LOCK_UN)
            check('going on without it' in fs.daemon_log(), 'the daemon says it could '
                  'not take the lock: %s' % fs.daemon_log()[-800:])
            link = sock_path(fs.mnt)
            target = os.readlink(link)
            os.unlink(link)
            os.symlink(other_name, link)
            fs.unmount()
            check(os.path.islink(link) and os.readlink(link) == other_name,
                  'the daemon removed a link that was not its own')
            check(not os.path.exists(target), 'the daemon left its socket behind')
            os.unlink(link)
    finally:
        probe.close()
        other.close()
        for n in (name, other_name):
            if os.path.exists(n):
                os.unlink(n)
        os.close(lock)


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
