#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Failure pipeline: every event source, whole-device loss and range failure.

    HOLDFS_BUILD=build python3 tests/failure/test_failure.py [-k NAME] [-x]

docs/failure-model.md.  Uses the integration harness (hfstest.py) and the
raw lease client of tests/dax.  Sources: injected uevents (-o
uevent_source=FIFO), a fake sysfs tree (-o sysfs_root=, devname=,
poll_ms=), the region file itself (truncate), holdfsctl inject, a DAX
client's POISON (through rawclient-free raw socket), and the outcomes:
shutdown (ls/df still answer, EIO elsewhere, unmount works, daemon exits
non-zero with the message) or range failure (only the hit file EIO in the
range, everything else intact, bad list, persists across remount).
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, os.path.join(HERE, '..', 'dax'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402
import test_dax as D  # noqa: E402

MiB = 1 << 20
MAGIC = 0x48464450
ADMIN_STATUS, ADMIN_INJECT, ADMIN_REPLY = 103, 104, 102
DEV = 'dax9.0'


def holdfsctl(*args, timeout=60):
    return subprocess.run([D.holdfsctl()] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)


def status(fs):
    r = holdfsctl('status', '--json', fs.mnt)
    check(r.returncode == 0, 'holdfsctl status: %s' % r.stderr)
    return json.loads(r.stdout)


def wait_state(fs, state, timeout=10):
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = status(fs)
        if st['state'] == state and all(e['outcome'] != 'in progress' for e in st['events']):
            return st
        time.sleep(0.05)
    fail('state never became %s: %r' % (state, st))


def data_offset(fs, path):
    """Region offset of the first data block of path (holders admin)."""
    ino = os.stat(path).st_ino
    size = os.path.getsize(fs.region)
    j = D.admin(fs, D.ADMIN_HOLDERS, 0, size)
    for o in j['owners']:
        if o['ino'] == ino and o['kind'] == 'data':
            return o['region_off'] - o['file_off']
    fail('no data owner for %s: %r' % (path, j['owners']))


def itable_off(fs):
    with open(fs.region, 'rb') as f:
        sb = f.read(4096)
    return struct.unpack_from('<Q', sb, 176)[0]


def expect_eio(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        check_eq(e.errno, 5, 'errno of %s' % fn.__name__)
        return
    fail('%s did not fail with EIO' % fn.__name__)


def read_all(p):
    with open(p, 'rb') as f:
        return f.read()


def check_shutdown_behaviour(fs, other):
    """ls and df of the mount answer promptly, other files EIO, unmount
    works, the daemon exits non-zero with the message."""
    t0 = time.monotonic()
    r = subprocess.run(['stat', fs.mnt], capture_output=True, timeout=10)
    check(r.returncode == 0, 'stat of the root after shutdown: %r' % r.stderr)
    r = subprocess.run(['df', fs.mnt], capture_output=True, timeout=10)
    check(r.returncode == 0, 'df after shutdown: %r' % r.stderr)
    subprocess.run(['ls', fs.mnt], capture_output=True, timeout=10)  # EIO is fine
    check(time.monotonic() - t0 < 10, 'ls/df slow after shutdown')
    expect_eio(read_all, other)
    expect_eio(open, fs.path('new-after-shutdown'), 'w')
    rc = fs.unmount(check_clean=False, timeout=20)
    check(rc is not None and rc != 0, 'daemon exit status after shutdown: %r' % rc)
    log = fs.daemon_log()
    check('filesystem shut down' in log, 'no shutdown message: %s' % log[-800:])
    return log


def populate(fs, n=4, size=256 * 1024):
    files = {}
    for i in range(n):
        data = H.pattern(i + 1, size)
        p = fs.path('f%d' % i)
        H.write_file(p, data)
        files[p] = data
    return files


def verify(files, skip=()):
    for p, data in files.items():
        if p in skip:
            continue
        got = read_all(p)
        check(got == data, '%s changed (%d bytes read)' % (p, len(got)))


# ------------------------------------------------------------------ uevents

def _uevent(action, dev=DEV):
    with H.HoldFS(size='64M') as fs:
        fifo = os.path.join(fs.tmpdir, 'uevents')
        os.mkfifo(fifo)
        fs.remount(opts=('allow_other', 'uevent_source=' + fifo, 'devname=' + DEV))
        files = populate(fs, 2)
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        # another device and another subsystem: ignored
        os.write(fd, b'ACTION=unbind\0SUBSYSTEM=dax\0DEVNAME=dax1.0\0')
        os.write(fd, b'ACTION=remove\0SUBSYSTEM=block\0DEVNAME=%s\0' % DEV.encode())
        time.sleep(0.3)
        check_eq(status(fs)['state'], 'ok', 'state after foreign uevents')
        os.write(fd, b'ACTION=%s\0SUBSYSTEM=dax\0DEVNAME=%s\0' % (action.encode(), dev.encode()))
        os.close(fd)
        st = wait_state(fs, 'shutdown')
        check(any(e['source'] == 'uevent ' + action for e in st['events']), 'source: %r' % st['events'])
        log = check_shutdown_behaviour(fs, list(files)[0])
        check('device lost' in log, 'device lost message')


def test_uevent_unbind_shuts_down():
    _uevent('unbind')


def test_uevent_remove_shuts_down():
    _uevent('remove')


# -------------------------------------------------------------------- sysfs

def test_sysfs_driver_unbound_shuts_down():
    with H.HoldFS(size='64M') as fs:
        root, d = H.fake_sysfs(fs.tmpdir, DEV)
        fs.remount(opts=('allow_other', 'sysfs_root=' + root, 'devname=' + DEV, 'poll_ms=100'))
        files = populate(fs, 2)
        time.sleep(0.3)
        check_eq(status(fs)['state'], 'ok', 'state with the driver bound')
        os.unlink(os.path.join(d, 'driver'))
        st = wait_state(fs, 'shutdown', timeout=5)
        check(any('sysfs' in e['source'] for e in st['events']), 'source: %r' % st['events'])
        check_shutdown_behaviour(fs, list(files)[0])


def test_sysfs_badblocks_range_failure():
    with H.HoldFS(size='64M') as fs:
        root, d = H.fake_sysfs(fs.tmpdir, DEV)
        fs.remount(opts=('allow_other', 'sysfs_root=' + root, 'devname=' + DEV, 'poll_ms=100'))
        files = populate(fs, 3)
        victim = fs.path('f1')
        off = data_offset(fs, victim) + 64 * 1024
        with open(os.path.join(d, 'badblocks'), 'w') as f:
            f.write('%d %d\n' % (off // 512, 8))
        st = wait_state(fs, 'degraded', timeout=5)
        check(any(a['ino'] == os.stat(victim).st_ino for a in st['affected']), 'affected: %r' % st)
        check(st['affected'][0]['path'] == '/f1', 'path: %r' % st['affected'])
        fd = os.open(victim, os.O_RDONLY)
        expect_eio(os.pread, fd, 4096, 64 * 1024)
        check_eq(os.pread(fd, 4096, 0), files[victim][:4096], 'rest of the victim')
        os.close(fd)
        verify(files, skip=(victim,))
        fs.unmount()


# ----------------------------------------------------------- region file

def test_region_truncated_shuts_down():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 3)
        t0 = time.monotonic()
        os.truncate(fs.region, 0)
        st = wait_state(fs, 'shutdown', timeout=5)
        dt = time.monotonic() - t0
        check(dt < 3, 'shutdown took %.2fs' % dt)
        check(any('truncated' in e['source'] or 'sigbus' in e['source'] for e in st['events']),
              'source: %r' % st['events'])
        check([p['phase'] for p in st['phases']][:2] == ['freeze', 'revoke'], 'phases %r' % st['phases'])
        check_shutdown_behaviour(fs, list(files)[0])


def test_region_unlinked_shuts_down():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 1)
        os.unlink(fs.region)
        wait_state(fs, 'shutdown', timeout=5)
        check_shutdown_behaviour(fs, list(files)[0])


# ----------------------------------------------------------- holdfsctl

def test_inject_range_on_data():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 4)
        victim = fs.path('f2')
        off = data_offset(fs, victim) + 128 * 1024
        r = holdfsctl('inject', '--range', '%d,%d' % (off, 8192), '--media', fs.mnt)
        check(r.returncode == 0 and 'range failure' in r.stdout, 'inject: %r %r' % (r.stdout, r.stderr))
        st = status(fs)
        check_eq(st['state'], 'degraded', 'state')
        check({'offset': off, 'length': 8192} in st['bad_extents'], 'bad list %r' % st['bad_extents'])
        r = holdfsctl('status', fs.mnt)
        check('/f2' in r.stdout and 'bad extents' in r.stdout, 'human status: %s' % r.stdout)

        def lost_ok():
            fd = os.open(victim, os.O_RDONLY)
            try:
                expect_eio(os.pread, fd, 4096, 128 * 1024)
                expect_eio(os.pread, fd, 4096, 132 * 1024)
                check_eq(os.pread(fd, 128 * 1024, 0), files[victim][:128 * 1024], 'before the hole')
                check_eq(os.pread(fd, 64 * 1024, 136 * 1024), files[victim][136 * 1024:200 * 1024],
                         'after the hole')
            finally:
                os.close(fd)
        lost_ok()
        verify(files, skip=(victim,))
        # other files stay writable
        H.write_file(fs.path('g'), b'new' * 1000)
        fs.remount()
        lost_ok()
        verify(files, skip=(victim,))
        # the health log has it, mounted and unmounted
        r = holdfsctl('health', fs.mnt)
        check('lost-data' in r.stdout and 'media-error' in r.stdout, 'health: %s' % r.stdout)
        # unlink: the bad blocks never return to the free pool
        os.unlink(victim)
        fs.unmount()
        r = holdfsctl('health', '--json', fs.region)
        check(r.returncode == 0 and json.loads(r.stdout), 'health of the unmounted region')
        fs.fsck_clean('after a range failure')
        fs.mount()
        for i in range(40):
            H.write_file(fs.path('fill%d' % i), b'z' * MiB)
        j = D.admin(fs, D.ADMIN_HOLDERS, off, 8192)
        check_eq(j['owners'], [], 'bad blocks reallocated')
        fs.unmount()


def test_inject_metadata_shuts_down():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 1)
        r = holdfsctl('inject', '--range', '%d,4096' % itable_off(fs), fs.mnt)
        check(r.returncode == 0 and 'inode table' in r.stdout, 'inject: %r' % r.stdout)
        check_shutdown_behaviour(fs, list(files)[0])


def test_inject_whole_device():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 1)
        r = holdfsctl('inject', '--whole-device', fs.mnt)
        check(r.returncode == 0 and 'shutdown' in r.stdout, 'inject: %r' % r.stdout)
        check_shutdown_behaviour(fs, list(files)[0])
        fs.mount()   # the region is intact: it mounts again
        verify(files)
        fs.unmount()


# A page-cache mmap in a child: it touches the first page, says "ready",
# closes its descriptor (the mapping keeps the file open), waits for a
# line on stdin and touches the page again.  After a shutdown that second
# touch must fault (SIGBUS), not read the old page.
MMAP_CHILD = r"""
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ)
os.close(fd)
first = m[:16]
print('ready', flush=True)
sys.stdin.readline()
print('read', m[:16] == first, flush=True)
"""


def readlink_fd(fd):
    """readlink of an O_PATH descriptor: no lookup, no open, only the
    kernel's cached target (FUSE_CAP_CACHE_SYMLINKS) or a READLINK."""
    return os.readlink('', dir_fd=fd)


def test_shutdown_drops_open_caches():
    """Only what the kernel can still read without asking is invalidated
    (open handles, mappings, cached symlink targets), and all of that
    is: no stale byte through an old descriptor, a mapping or an O_PATH
    symlink after the shutdown; new opens fail."""
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 40, size=64 * 1024)   # cached, not open
        held, mapped, other = fs.path('f0'), fs.path('f1'), fs.path('f2')
        os.symlink('target-of-the-link', fs.path('ln'))
        fd = os.open(held, os.O_RDONLY)
        check_eq(os.pread(fd, 8192, 0), files[held][:8192], 'held file before')
        child = subprocess.Popen([sys.executable, '-c', MMAP_CHILD, mapped],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
        check_eq(child.stdout.readline().strip(), 'ready', 'mmap child')
        lfd = os.open(fs.path('ln'), os.O_PATH | os.O_NOFOLLOW)
        check_eq(readlink_fd(lfd), 'target-of-the-link', 'link before')
        read_all(other)   # cached pages, no handle left
        r = holdfsctl('inject', '--whole-device', fs.mnt)
        check(r.returncode == 0, 'inject: %r' % r.stderr)
        st = wait_state(fs, 'shutdown')
        try:
            # the descriptor opened before the failure: EIO, not the
            # pages the kernel had cached
            expect_eio(os.pread, fd, 8192, 0)
            expect_eio(readlink_fd, lfd)
            child.stdin.write('go\n')
            child.stdin.flush()
            out, _ = child.communicate(timeout=20)
            check_eq(child.returncode, -signal.SIGBUS,
                     'mapped page after shutdown (child said %r)' % out)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=10)
            os.close(fd)
            os.close(lfd)
        expect_eio(read_all, other)   # cached, but reaching it needs an open
        phases = [p['phase'] for p in st['phases']]
        check('invalidate open' in phases, 'phases %r' % phases)
        outcome = st['events'][-1]['outcome']
        m = re.search(r'\((\d+) listed\)', outcome)
        check(m is not None, 'outcome %r' % outcome)
        # the fd, the mapping and the link, not the 40 cached files (a
        # few more only if a RELEASE of populate's closes is still queued)
        n = int(m.group(1))
        check(3 <= n < 40, 'inodes listed for invalidation: %d (%s)' % (n, outcome))
        check_shutdown_behaviour(fs, other)


def test_repeated_range_failures():
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 3)
        for name in ('f0', 'f2', 'f0'):
            off = data_offset(fs, fs.path(name))
            r = holdfsctl('inject', '--range', '%d,4096' % off, fs.mnt)
            check(r.returncode == 0, 'inject %s: %r' % (name, r.stderr))
        st = status(fs)
        check_eq(len(st['events']), 3, 'events')
        check_eq(st['state'], 'degraded', 'state')
        verify(files, skip=(fs.path('f0'), fs.path('f2')))
        fs.unmount()
        fs.fsck_clean('after repeated failures')


# ------------------------------------------------------------- DAX holders

def test_lease_over_range_revoked():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        p = D.mkfile(fs, 'f', 4 * MiB, b'L' * 4 * MiB)
        q = D.mkfile(fs, 'other', 2 * MiB, b'O' * 2 * MiB)
        h = D.holder('lease', p, 0, 4 * MiB, 'r', '--hold-ms', 8000)
        h2 = D.holder('lease', q, 0, 2 * MiB, 'r', '--hold-ms', 3000)
        off = data_offset(fs, p) + MiB
        r = holdfsctl('inject', '--range', '%d,4096' % off, fs.mnt)
        check(r.returncode == 0, 'inject: %r' % r.stderr)
        h.send_signal(signal.SIGTERM)
        out, _ = h.communicate(timeout=10)
        check('REVOKE' in out and 'reason=2' in out and 'off=%d' % MiB in out,
              'holder got no FAILURE revoke of its range: %r' % out)
        out2, _ = h2.communicate(timeout=10)
        check('REVOKE' not in out2, 'unrelated lease revoked: %r' % out2)
        fs.unmount()


def test_no_lease_over_a_range_while_its_failure_is_handled():
    """A range failure's revoke round waits for a silent holder (up to
    revoke_ms); a lease asked for over the failing range meanwhile is
    refused with EIO.  Before, it was granted -- after the round had taken
    its list of leases to revoke -- and outlived the failure, mapping
    bytes recorded lost."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=3000')) as fs:
        p = D.mkfile(fs, 'f', 4 * MiB, b'L' * 4 * MiB)
        silent = D.holder('lease', p, 0, 4 * MiB, 'r', '--hold-ms', 30000, '--noack')
        revoked = threading.Event()

        def watch():
            for ln in silent.stdout:
                if ln.startswith('REVOKE'):
                    revoked.set()
        threading.Thread(target=watch, daemon=True).start()
        off = data_offset(fs, p) + MiB
        inj = subprocess.Popen([D.holdfsctl(), 'inject', '--range', '%d,4096' % off,
                                '--media', fs.mnt],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            check(revoked.wait(20), 'the silent holder never got its FAILURE REVOKE')
            # the round now waits for the silent holder's ack
            late = subprocess.run([D.rawclient(), 'lease', p, str(MiB), '4096', 'r',
                                   '--hold-ms', '0'],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, timeout=30)
            check('LEASE_OK' not in late.stdout and 'errno=5' in late.stdout,
                  'a lease over the failing range during its revoke round: %r %r'
                  % (late.stdout, late.stderr))
            check(inj.poll() is None,
                  'the failure was handled before the late lease was refused: '
                  'the refusal says nothing about the window')
        finally:
            inj.wait(timeout=60)
            silent.kill()
            silent.wait()
        check_eq(inj.returncode, 0, 'inject: %r' % (inj.stderr.read(),))
        check_eq(D.admin(fs)['leases'], [], 'no lease left over the lost range')
        fs.unmount()


def test_silent_holder_killed_on_device_loss():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        p = D.mkfile(fs, 'f', 4 * MiB, b'K' * 4 * MiB)
        h = D.holder('lease', p, 0, 4 * MiB, 'w', '--hold-ms', 30000, '--noack')
        good = D.holder('lease', p, 0, 4 * MiB, 'r', '--hold-ms', 30000)
        t0 = time.monotonic()
        r = holdfsctl('inject', '--whole-device', fs.mnt)
        check(r.returncode == 0, 'inject: %r' % r.stderr)
        try:
            h.wait(timeout=5)
        except subprocess.TimeoutExpired:
            fail('silent holder not killed')
        dt = time.monotonic() - t0
        check_eq(h.returncode, -signal.SIGKILL, 'silent holder status')
        check(dt < 0.3 + 3, 'killed after %.2fs' % dt)
        st = status(fs)
        outcomes = sorted(x['outcome'] for x in st['revoked'])
        check_eq(outcomes, ['acked', 'killed'], 'revoked leases')
        check_eq(st['killed'], 1, 'killed count')
        good.kill()
        good.communicate(timeout=10)
        check_shutdown_behaviour(fs, p)


def poison_client(fs, path, length):
    """A raw client with a read lease on the start of path; returns (the
    socket, the region offset it maps)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(D.ctl_sock(fs))
    s.send(struct.pack("<IHHIIQII", MAGIC, D.PROTO_VERSION, 1, 32, 0, 1, os.getpid(), 0))  # HELLO
    for f in socket.recv_fds(s, 1000, 4)[1]:
        os.close(f)
    fd = os.open(path, os.O_RDONLY)
    socket.send_fds(s, [struct.pack("<IHHIIQQQII", MAGIC, D.PROTO_VERSION, 3, 48, 0, 2,
                                    0, length, 1, 0)], [fd])  # LEASE_REQ, read
    os.close(fd)
    data, fds, _, _ = socket.recv_fds(s, 65536, 4)
    for f in fds:
        os.close(f)
    check_eq(struct.unpack_from('<H', data, 6)[0], 4, 'LEASE_OK')
    return s, struct.unpack_from('<Q', data, 72 + 8)[0]


def send_poison(s, off, length):
    s.send(struct.pack("<IHHIIQQQQ", MAGIC, D.PROTO_VERSION, 13, 48, 0, 3, 0, off, length))



def simulate_poison(fs, off):
    """The daemon's guarded reads of the 4 KiB at region offset off fail
    as poisoned media would (this kernel cannot poison memory)."""
    r = holdfsctl('inject', '--range', '%d,4096' % off, '--simulate-poison', fs.mnt)
    check(r.returncode == 0, 'simulate poison: %s' % r.stderr)

def test_client_poison_report():
    """A client's POISON for a range it maps, confirmed by the daemon's
    own read of it (simulated poison: this kernel cannot poison memory),
    is a range failure of that file only."""
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 2)
        victim = fs.path('f0')
        s, off = poison_client(fs, victim, 65536)
        simulate_poison(fs, off + 8192)
        send_poison(s, off, 65536)
        s.close()   # (a holder that does not ack the round's REVOKE is killed)
        wait_state(fs, 'degraded', timeout=5)
        st = status(fs)
        ev = [e for e in st['events'] if e['source'] == 'client poison']
        check(ev and ev[-1]['offset'] == off + 8192 and ev[-1]['length'] == 4096,
              'the confirmed granule: %r' % ev)
        expect_eio(read_all, victim)
        verify(files, skip=(victim,))
        fs.unmount()


def test_client_poison_unconfirmed():
    """POISON the daemon's own read does not confirm marks nothing lost;
    on a read-only mount neither report nor bookkeeping shuts it down."""
    for opts in (('allow_other',), ('allow_other', 'ro')):
        with H.HoldFS(size='64M', mount=False) as fs:
            fs.mount()
            files = populate(fs, 2)
            fs.unmount()
            fs.mount(opts=opts)
            s, off = poison_client(fs, fs.path('f0'), 65536)
            send_poison(s, off, 4096)
            s.close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ev = [e for e in status(fs)['events'] if e['source'] == 'client poison']
                if ev and ev[-1]['outcome'] != 'in progress':
                    break
                time.sleep(0.02)
            check(ev and ev[-1]['outcome'].startswith('not confirmed'),
                  'outcome of an unconfirmed report (%s): %r' % (opts, ev))
            check_eq(status(fs)['state'], 'ok', 'state (%s)' % (opts,))
            verify(files)
            fs.unmount()


# ------------------------------------- poison seen first by an application

BUS_ADRERR, BUS_MCEERR_AR, BUS_MCEERR_AO = 2, 4, 5


def poison_prog(*args, timeout=30):
    """tests/failure/poison_prog: a libholdfs client that sends itself the
    SIGBUS of a machine check (rt_tgsigqueueinfo to its own thread)."""
    p = os.environ.get('HOLDFS_POISON_PROG') or \
        os.path.join(H.build_dir(), 'tests', 'failure', 'poison_prog')
    H.require(os.path.exists(p), 'poison_prog not built (%s)' % p)
    return subprocess.run([p] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout)


def poison_events(fs):
    return [e for e in status(fs)['events'] if e['source'] == 'client poison']


def test_client_sigbus_poison_reported():
    """SIGBUS BUS_MCEERR_AR inside a libholdfs mapping: libholdfs reports
    the poisoned range, the daemon confirms it (simulated poison) and runs
    a range failure: the other holder of the range is revoked, a lease on
    another file is not, the range reads EIO, the other file is intact,
    and the application's own SIGBUS handler still ran."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        files = populate(fs, 2)
        victim = fs.path('f0')
        bad = data_offset(fs, victim) + 8192
        simulate_poison(fs, bad)
        other = D.holder('lease', victim, 0, 65536, 'r', '--hold-ms', 8000)
        bystander = D.holder('lease', fs.path('f1'), 0, 65536, 'r', '--hold-ms', 3000)
        r = poison_prog('--handler', '--code', 'ar', '--off', 8192, '--wait-ms', 5000,
                        victim, 65536)
        check_eq(r.returncode, 0, 'poison_prog exit (%s)' % r.stderr)
        check('handler code=%d addr_ok=1' % BUS_MCEERR_AR in r.stdout,
              'the application handler did not run after ours: %r' % r.stdout)
        check('revoked off=8192 len=4096 reason=2' in r.stdout,
              'the reporter lost the poisoned page (FAILURE): %r' % r.stdout)
        check('reports poison at region offset %d' % bad in fs.daemon_log(),
              'no report in the daemon log: %s' % fs.daemon_log()[-800:])
        st = wait_state(fs, 'degraded', timeout=5)
        ev = [e for e in st['events'] if e['source'] == 'client poison']
        check(ev and ev[-1]['offset'] == bad and ev[-1]['length'] == 4096 and
              ev[-1]['outcome'].startswith('range failure'),
              'the confirmed granule: %r' % ev)
        other.send_signal(signal.SIGTERM)
        out, _ = other.communicate(timeout=10)
        check(re.search(r'REVOKE lease=\d+ off=8192 len=4096 reason=2', out),
              'the other holder was not revoked: %r' % out)
        out, _ = bystander.communicate(timeout=10)
        check('REVOKE' not in out, 'a lease on another file revoked: %r' % out)
        expect_eio(read_all, victim)
        with open(victim, 'rb') as f:
            check(f.read(8192) == files[victim][:8192], 'bytes before the lost page')
        verify(files, skip=(victim,))
        fs.unmount()


def test_client_sigbus_preload_late_handler():
    """Under the preload shim a program may install its SIGBUS handler
    after its first mapping, without chaining: the shim keeps libholdfs's
    handler first (the poison is reported) and the program's handler runs
    after it and is what sigaction() reports."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        files = populate(fs, 2)
        victim = fs.path('f0')
        bad = data_offset(fs, victim) + 8192
        simulate_poison(fs, bad)
        p = os.environ.get('HOLDFS_POISON_PROG') or \
            os.path.join(H.build_dir(), 'tests', 'failure', 'poison_prog')
        env = H.shim_env()  # (a sanitized build's runtime first)
        if 'ASAN_OPTIONS' in env:
            env['ASAN_OPTIONS'] += ':handle_sigbus=0'
        r = subprocess.run([p, '--late-handler', '--code', 'ar', '--off', '8192',
                            '--wait-ms', '5000', victim, '65536'],
                           capture_output=True, text=True, timeout=30, env=env)
        check_eq(r.returncode, 0, 'poison_prog exit (%s)' % r.stderr)
        check('query ok' in r.stdout, 'sigaction() does not report the program\'s handler: %r'
              % r.stdout)
        check('handler code=%d addr_ok=1' % BUS_MCEERR_AR in r.stdout,
              'the late handler did not run: %r' % r.stdout)
        check('revoked off=8192 len=4096 reason=2' in r.stdout, 'no FAILURE revoke: %r' % r.stdout)
        check('reports poison at region offset %d' % bad in fs.daemon_log(),
              'no report: %s' % fs.daemon_log()[-800:])
        wait_state(fs, 'degraded', timeout=5)
        expect_eio(read_all, victim)
        verify(files, skip=(victim,))
        fs.unmount()


def test_client_sigbus_not_holdfs():
    """A SIGBUS that is not poison in a holdfs mapping is passed on as if
    libholdfs were not there, and reports nothing: poison outside any
    holdfs mapping (the program's handler gets it; without one the process
    dies of it, as without libholdfs), and BUS_ADRERR inside a mapping
    (libholdfs's own signal for revoked pages)."""
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 1)
        p = fs.path('f0')
        for code in ('ar', 'ao'):
            base = poison_prog('--no-map', '--code', code, '--where', 'outside', p, 65536)
            check_eq(base.returncode, -signal.SIGBUS, 'baseline without libholdfs (%s)' % code)
            r = poison_prog('--code', code, '--where', 'outside', p, 65536)
            check_eq(r.returncode, -signal.SIGBUS, 'default action with libholdfs (%s)' % code)
            check_eq(r.stdout, base.stdout, 'output (%s)' % code)
            r = poison_prog('--handler', '--code', code, '--where', 'outside', p, 65536)
            check_eq(r.returncode, 0, 'with a handler (%s): %s' % (code, r.stderr))
            want = BUS_MCEERR_AR if code == 'ar' else BUS_MCEERR_AO
            check('handler code=%d addr_ok=1' % want in r.stdout,
                  'the handler got another signal: %r' % r.stdout)
        r = poison_prog('--handler', '--code', 'adrerr', '--off', 4096, p, 65536)
        check_eq(r.returncode, 0, 'BUS_ADRERR in a mapping: %s' % r.stderr)
        check('handler code=%d addr_ok=1' % BUS_ADRERR in r.stdout, 'handler: %r' % r.stdout)
        r = poison_prog('--code', 'adrerr', '--off', 4096, p, 65536)
        check_eq(r.returncode, -signal.SIGBUS, 'BUS_ADRERR in a mapping, no handler')
        time.sleep(0.3)
        check('reports poison' not in fs.daemon_log(),
              'a report for a SIGBUS that is not poison in a mapping: %s'
              % fs.daemon_log()[-800:])
        check_eq(poison_events(fs), [], 'events')
        check_eq(status(fs)['state'], 'ok', 'state')
        verify(files)
        fs.unmount()


def test_client_sigbus_poison_unconfirmed():
    """A report of poison the daemon's own read does not find (nothing
    simulated): logged, the event says "not confirmed", nothing is lost;
    the program without a handler still dies of its SIGBUS."""
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 2)
        victim = fs.path('f0')
        bad = data_offset(fs, victim) + 4096
        r = poison_prog('--code', 'ar', '--off', 4096, victim, 65536)
        check_eq(r.returncode, -signal.SIGBUS, 'default action after the report')
        deadline = time.monotonic() + 5
        ev = []
        while time.monotonic() < deadline:
            ev = poison_events(fs)
            if ev and ev[-1]['outcome'] != 'in progress':
                break
            time.sleep(0.02)
        check(ev and ev[-1]['offset'] == bad and ev[-1]['outcome'].startswith('not confirmed'),
              'outcome of an unconfirmed report: %r' % ev)
        log = fs.daemon_log()
        check('reports poison at region offset %d' % bad in log and 'not confirmed' in log,
              'the report and its outcome in the daemon log: %s' % log[-800:])
        check_eq(status(fs)['state'], 'ok', 'state')
        verify(files)
        fs.unmount()


def test_daemon_sigbus_ao():
    """BUS_MCEERR_AO on the daemon's own mapping, outside any guarded
    access (the kernel's early poison notice; sent by the daemon to
    itself through holdfsctl inject --sigbus-ao): the daemon keeps
    running and handles it as a media error of that block: the lease over
    it revoked, the file range EIO, the other file intact."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        files = populate(fs, 2)
        victim = fs.path('f0')
        bad = data_offset(fs, victim) + 4096
        h = D.holder('lease', victim, 0, 65536, 'r', '--hold-ms', 8000)
        r = holdfsctl('inject', '--range', '%d,4096' % bad, '--sigbus-ao', fs.mnt)
        check(r.returncode == 0, 'inject --sigbus-ao: %r %r' % (r.stdout, r.stderr))
        check(r.stdout.startswith('range failure'), 'outcome: %r' % r.stdout)
        check(fs.proc.poll() is None, 'the daemon died of the AO signal')
        st = wait_state(fs, 'degraded')
        ev = [e for e in st['events'] if e['source'].startswith('sigbus')]
        check(ev and ev[-1]['offset'] == bad and ev[-1]['length'] == 4096,
              'the AO event: %r' % st['events'])
        h.send_signal(signal.SIGTERM)
        out, _ = h.communicate(timeout=10)
        check(re.search(r'REVOKE lease=\d+ off=4096 len=4096 reason=2', out),
              'the holder was not revoked: %r' % out)
        expect_eio(read_all, victim)
        verify(files, skip=(victim,))
        fs.unmount()


def test_daemon_sigbus_ao_names_a_whole_mapping():
    """A machine check naming a 2 MiB mapping (si_addr_lsb 21: what the
    kernel sends for a PMD-mapped device-dax page, si_addr at the
    mapping's start, found in the qemu rig): the whole 2 MiB is lost, not
    only the page at si_addr (the poisoned page may be any of them); the
    other file is intact.  A length that is not a power of two is
    refused up front."""
    with H.HoldFS(size='64M') as fs:
        files = populate(fs, 2, size=6 << 20)
        victim = fs.path('f0')
        start = data_offset(fs, victim)
        bad = (start + (2 << 20) - 1) // (2 << 20) * (2 << 20)
        foff = bad - start
        check(foff + (2 << 20) <= 6 << 20, 'a 2 MiB window inside the victim')
        r = holdfsctl('inject', '--range', '%d,%d' % (bad, 3 << 20), '--sigbus-ao', fs.mnt)
        check(r.returncode != 0 and 'power-of-two' in r.stdout + r.stderr,
              'a 3 MiB AO drill refused: %r %r' % (r.stdout, r.stderr))
        r = holdfsctl('inject', '--range', '%d,%d' % (bad, 2 << 20), '--sigbus-ao', fs.mnt)
        check(r.returncode == 0, 'inject --sigbus-ao 2 MiB: %r %r' % (r.stdout, r.stderr))
        st = wait_state(fs, 'degraded')
        ev = [e for e in st['events'] if e['source'].startswith('sigbus')]
        check(ev and ev[-1]['offset'] == bad and ev[-1]['length'] == 2 << 20,
              'the AO event covers the mapping: %r' % st['events'])
        with open(victim, 'rb') as f:
            for at in (foff, foff + (1 << 20) + 4096, foff + (2 << 20) - 4096):
                f.seek(at)
                expect_eio(f.read, 4096)
            f.seek(foff + (2 << 20))
            check_eq(f.read(4096), files[victim][foff + (2 << 20):foff + (2 << 20) + 4096],
                     'the page after the mapping')
        verify(files, skip=(victim,))
        fs.unmount()


# ------------------------------------------------------------- workloads

def test_failure_during_writes_then_remount():
    with H.HoldFS(size='128M') as fs:
        stop = threading.Event()
        errs = []

        def writer(k):
            i = 0
            while not stop.is_set():
                try:
                    p = fs.path('w%d-%d' % (k, i % 20))
                    H.write_file(p, H.pattern(i, 64 * 1024))
                    if i % 3 == 0:
                        os.rename(p, p + '.r')
                except OSError as e:
                    errs.append(e.errno)
                    if e.errno == 5:
                        return
                i += 1
        ts = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        r = holdfsctl('inject', '--whole-device', fs.mnt)
        check(r.returncode == 0, 'inject')
        time.sleep(0.3)
        stop.set()
        for t in ts:
            t.join(20)
        check(all(not t.is_alive() for t in ts), 'a writer hung')
        check(set(errs) <= {5}, 'unexpected errors %r' % errs)
        fs.unmount(check_clean=False)
        # the next mount replays the last committed transaction; then
        # every file reads back and fsck finds nothing half-applied
        fs.mount()
        for name in os.listdir(fs.mnt):
            read_all(fs.path(name))
        fs.unmount()
        fs.fsck_clean('after a failure under load')


def test_inject_then_unmount_no_hang():
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=300')) as fs:
        p = D.mkfile(fs, 'f', MiB, b'U' * MiB)
        h = D.holder('lease', p, 0, MiB, 'r', '--hold-ms', 30000, '--noack')
        subprocess.Popen([D.holdfsctl(), 'inject', '--whole-device', fs.mnt],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        fs.unmount(check_clean=False, timeout=20)
        check(time.monotonic() - t0 < 15, 'unmount took %.1fs' % (time.monotonic() - t0))
        h.kill()
        h.communicate(timeout=10)


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_failure: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
