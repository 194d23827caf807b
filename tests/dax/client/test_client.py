#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libholdfs client tests: multi-process, real SIGBUS, real page sharing.

Two kinds of tests:

* fake_*   libholdfs against fakedaemon.py, a stand-in lease server that
           uses the leased file itself as "the region".  These pin down the
           client's half of the protocol (mapping, persist/PERSISTED,
           REVOKE -> SIGBUS -> ACK, REMAP of holes, connection loss) without
           the real daemon's lease server.  No mount needed.
* mount_*  a real holdfs mount (hfstest.HoldFS): the preload shim with
           unmodified programs (cmp, a C mmap/msync program, python mmap),
           both when no lease server answers (page-cache fallback) and with
           the fake lease server published for the mount's st_dev.
* dax_*    end to end against the real daemon's lease server: these FAIL
           loudly ("daemon has no lease server") until it exists.

    HOLDFS_BUILD=build python3 tests/dax/client/test_client.py [-k NAME]
"""

import errno
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'integration'))
sys.path.insert(0, HERE)

import hfstest  # noqa: E402
from hfstest import check, check_eq, fail, note  # noqa: E402
import fakedaemon  # noqa: E402

BUS_ADRERR = 2
PAGE = os.sysconf('SC_PAGESIZE')


def build_path(*parts):
    return os.path.join(hfstest.build_dir(), *parts)


def client_bin():
    return build_path('tests', 'dax', 'client', 'dax_client')


def require_bins():
    for b in (client_bin(), hfstest.preload_lib()):
        hfstest.require(os.path.exists(b), '%s is not built (HOLDFS_BUILD=%s)'
                        % (b, hfstest.build_dir()))


class Client(hfstest.LineClient):
    """A dax_client process: send a command line, get its answer line."""

    name = 'dax_client'

    def __init__(self, env=None):
        require_bins()
        e = dict(os.environ)
        e.update(env or {})
        super().__init__([client_bin()], e)

    def ok(self, line, timeout=20):
        ans = self.cmd(line, timeout)
        check(ans.startswith('ok'), '%r answered %r' % (line, ans))
        return ans[2:].strip()

    def fields(self, line):
        return dict(kv.split('=', 1) for kv in self.ok(line).split() if '=' in kv)


class Fake:
    """A temp dir, a file, and a FakeDaemon thread on a socket in it."""

    def __init__(self, size=65536, data=True, **kw):
        self.dir = tempfile.mkdtemp(prefix='hfsclient-', dir=hfstest.region_base())
        self.file = os.path.join(self.dir, 'file')
        fd = os.open(self.file, os.O_CREAT | os.O_RDWR, 0o644)
        if data:
            os.write(fd, hfstest.pattern('file', size))
        else:
            os.ftruncate(fd, size)
        os.close(fd)
        self.sock = os.path.join(self.dir, 'ctl.sock')
        self.d = fakedaemon.FakeDaemon(self.sock, **kw).start()
        self.env = {'HOLDFS_CTL_SOCKET': self.sock}

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.d.close()
        subprocess.run(['rm', '-rf', self.dir])


def pread(path, off, n):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def pwrite(path, off, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, off)
    finally:
        os.close(fd)


def wait_events(c, n, timeout=5):
    """Wait until the client's revoke handler ran n times; its last event."""
    deadline = time.monotonic() + timeout * hfstest.TIMEOUT_MULTIPLIER
    while True:
        ev = c.fields('events')
        if int(ev['n']) >= n:
            return ev
        if time.monotonic() > deadline:
            fail('revoke handler called %s times within %ss, expected %d'
                 % (ev['n'], timeout, n))
        time.sleep(0.02)


def check_sigbus(ans, off, reason, path=None):
    f = dict(kv.split('=', 1) for kv in ans.split() if '=' in kv)
    check(ans.startswith('sigbus'), 'expected SIGBUS at %d, got %r' % (off, ans))
    check_eq(int(f['code']), BUS_ADRERR, 'si_code')
    check_eq(f['addr'], '1', 'si_addr is the faulting address')
    check_eq(f['info'], '0', 'holdfs_fault_info result')
    check_eq(int(f['off']), off, 'fault file offset')
    check_eq(f['revoked'], '1', 'fault_info says revoked')
    check_eq(int(f['reason']), reason, 'revoke reason')
    if path:
        check_eq(f['path'], path, 'fault path')


# ---------------------------------------------------------------------------
# against the stand-in lease server


def test_fake_dax_write_posix_read():
    """stores + holdfs_persist in one process -> read(2) in another."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        c.ok('fill 4096 100 171')
        c.ok('persist 4096 100')
        check_eq(pread(f.file, 4096, 100), b'\xab' * 100, 'POSIX read after persist')
        check_eq(pread(f.file, 4196, 8), hfstest.pattern('file', 65536)[4196:4204],
                 'bytes next to the store')
        pers = f.d.wait_persisted()
        check_eq(pers[-1], (lid, 4096, 100), 'PERSISTED (lease, offset, length)')
        info = c.fields('info')
        check_eq(int(info['lease']), lid, 'lease id')
        check_eq(int(info['len']), 65536, 'lease length')
        check_eq(info['path'], f.file, 'path')
        check_eq(c.ok('unmap'), '0', 'holdfs_unmap')
        check(f.d.wait_released(lid), 'RELEASE reached the daemon')


def test_fake_persist_waits_for_persisted_ok():
    """holdfs_persist returns only after PERSISTED_OK; none within
    max(4 x revoke_ms, 1 s) -> -ETIMEDOUT (the data is durable anyway)."""
    with Fake(revoke_ms=100, persist_reply=False) as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        c.ok('fill 0 10 7')
        t0 = time.monotonic()
        ans = c.cmd('persist 0 10')
        took = time.monotonic() - t0
        check_eq(ans.split()[:2], ['err', str(errno.ETIMEDOUT)],
                 'persist without PERSISTED_OK (%r)' % ans)
        check(0.9 <= took < 5, 'deadline is at least 1 s (took %.2fs)' % took)
        check_eq(f.d.wait_persisted()[-1], (lid, 0, 10), 'PERSISTED was sent')
        check_eq(pread(f.file, 0, 10), b'\x07' * 10, 'data durable anyway')
        f.d.persist_reply = True
        c.ok('persist 0 10')  # the connection still works


def test_fake_persist_coherence_word():
    """With a coherence table: a CLEAN word makes holdfs_persist local (no
    PERSISTED), any other value makes it ask; the word is read at every
    persist, not cached by the library."""
    with Fake(coherence=True) as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        c.ok('fill 0 10 7')
        c.ok('persist 0 10')                      # word starts CACHED
        check_eq(f.d.wait_persisted(1)[-1], (lid, 0, 10), 'CACHED: PERSISTED sent')
        f.d.set_coh(0)
        c.ok('fill 4096 10 8')
        c.ok('persist 4096 10')
        check_eq(len(f.d.persisted), 1, 'CLEAN: no PERSISTED')
        check_eq(pread(f.file, 4096, 10), b'\x08' * 10, 'CLEAN: data durable')
        f.d.set_coh(2)                            # CLEARING: still ask
        c.ok('persist 4096 10')
        check_eq(f.d.wait_persisted(2)[-1], (lid, 4096, 10), 'CLEARING: PERSISTED sent')


def test_fake_revoke_batched():
    """One REVOKE names several ranges (and a lease the client does not
    know): every range is revoked, the rest stays mapped, one ACK."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        f.d.revoke_many([(lid, 0, 4096), (999999, 0, 4096), (lid, 32768, 8192)],
                        reason=2)
        check_sigbus(c.ok('touch 100'), 100, 2)
        check_sigbus(c.ok('touch 40000'), 40000, 2)
        c.ok('poke 8192 5')                       # between the ranges: mapped
        c.ok('poke 49152 5')
        check_eq(pread(f.file, 8192, 1), b'\x05', 'unrevoked part still works')


def test_fake_posix_write_dax_read():
    """write(2) in another process is visible through the mapping at once."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 r' % f.file)
        pwrite(f.file, 8192, b'hello, dax')
        check_eq(c.ok('read 8192 10'), b'hello, dax'.hex(), 'DAX read after write(2)')


def test_fake_length_rounded_and_alignment():
    with Fake(alloc_unit=16384) as f, Client(f.env) as c:
        ans = c.cmd('map %s 4096 100 r' % f.file)
        check(ans.startswith('err 22'), 'misaligned offset must be EINVAL, got %r' % ans)
        c.ok('map %s 16384 100 r' % f.file)
        check_eq(int(c.fields('info')['len']), 16384, 'length rounded to alloc unit')


def test_fake_revoke_sigbus():
    """REVOKE -> SIGBUS(BUS_ADRERR) at the exact address, fault_info names
    file+offset, the handler ran, the ACK came back, the rest stays mapped."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        dt = f.d.revoke(lid, 16384, 8192, reason=1)
        note('REVOKE -> ACK in %.1f ms' % (dt * 1000))
        check_sigbus(c.ok('touch 20000'), 20000, 1, f.file)
        check_sigbus(c.ok('poke 16384 7'), 16384, 1)
        check_sigbus(c.ok('touch 24575'), 24575, 1)
        check_eq(c.ok('touch 24576'), 'byte %02x' % hfstest.pattern('file', 65536)[24576],
                 'byte after the revoked range')
        check_eq(c.ok('touch 0'), 'byte %02x' % hfstest.pattern('file', 65536)[0],
                 'byte before the revoked range')
        ev = c.fields('events')
        check_eq((ev['n'], ev['off'], ev['len'], ev['reason'], int(ev['lease'])),
                 ('1', '16384', '8192', '1', lid), 'revoke handler event')
        check_eq(int(c.fields('info')['revoked']), 8192, 'revoked bytes')
        check_eq(c.ok('unmap'), '0', 'unmap of a partly revoked lease')


def test_fake_revoke_before_lease_ok():
    """A REVOKE of a lease whose LEASE_OK has not come yet (the daemon
    holds a LEASE_OK back during a REMAP round; a truncate revokes the
    lease meanwhile): acked at once, and the lease is born revoked when
    its LEASE_OK comes, never mapped live over blocks the daemon has
    freed since (dp_race: a direct append at two file offsets)."""
    with Fake(revoke_first=True) as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        check_sigbus(c.ok('touch 20000'), 20000, 1, f.file)
        check_sigbus(c.ok('poke 0 7'), 0, 1)
        check_sigbus(c.ok('touch 65535'), 65535, 1)
        check_eq(int(c.fields('info')['revoked']), 65536, 'revoked bytes')
        check_eq(int(c.fields('info')['lease']), lid, 'lease id')
        check_eq(c.ok('unmap'), '0', 'unmap of a lease born revoked')


def test_fake_hole_remap():
    """Read lease over a hole: zeros; write(2) fills it; REMAP; the reader
    sees the data (and later writes too: same page)."""
    with Fake(size=65536, data=False) as f, Client(f.env) as c:
        pwrite(f.file, 0, b'head')
        c.ok('map %s 0 65536 r' % f.file)
        lid = f.d.wait_lease()
        info = c.fields('info')
        check(int(info['holes']) >= 1, 'the lease should have holes: %r' % info)
        check_eq(c.ok('read 32768 4'), '00000000', 'hole reads zeros')
        check_eq(c.ok('read 0 4'), b'head'.hex(), 'data extent')
        pwrite(f.file, 32768, b'DATA')
        f.d.remap(lid, [(32768, 32768, 4096)])
        check_eq(c.ok('read 32768 4'), b'DATA'.hex(), 'after REMAP')
        pwrite(f.file, 32772, b'MORE')
        check_eq(c.ok('read 32768 8'), b'DATAMORE'.hex(), 'later write(2), same page')
        check_eq(c.ok('read 40960 4'), '00000000', 'other hole still zeros')


def test_fake_remap_keeps_revoked():
    with Fake(size=65536, data=False) as f, Client(f.env) as c:
        c.ok('map %s 0 65536 r' % f.file)
        lid = f.d.wait_lease()
        f.d.revoke(lid, 32768, 4096)
        pwrite(f.file, 32768, b'DATA')
        f.d.remap(lid, [(32768, 32768, 4096)])
        check_sigbus(c.ok('touch 32768'), 32768, 1)


def test_fake_remap_malformed_fails_safe():
    """A REMAP the client cannot parse: the whole lease is lost (SIGBUS),
    never possibly-stale zeros; still acknowledged."""
    with Fake(size=65536, data=False) as f, Client(f.env) as c:
        c.ok('map %s 0 65536 r' % f.file)
        lid = f.d.wait_lease()
        with f.d.lock:
            l = f.d.leases[lid]
        body = fakedaemon.REMAP.pack(lid, 2, 0) + fakedaemon.EXTENT.pack(0, 0, 4096, 0, 0)
        f.d._send_wait(l, fakedaemon.msg(fakedaemon.REMAP_T, 999, body), 999, 5)
        check_sigbus(c.ok('touch 40000'), 40000, 2, f.file)
        check_eq(c.fields('events')['reason'], '2', 'handler reason')


def test_fake_revoke_malformed_fails_safe():
    """A REVOKE whose range count does not match its length: the client
    cannot tell what to revoke, so it drops the connection and revokes
    every mapping of it (reason connection lost)."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        with f.d.lock:
            l = f.d.leases[lid]
        body = fakedaemon.REVOKE.pack(1, 3) + fakedaemon.REVOKE_RANGE.pack(lid, 0, 4096)
        l.conn.send(fakedaemon.msg(fakedaemon.REVOKE_T, 998, body))
        deadline = time.monotonic() + 5
        ans = c.ok('touch 40000')
        while not ans.startswith('sigbus') and time.monotonic() < deadline:
            time.sleep(0.05)
            ans = c.ok('touch 40000')
        check_sigbus(ans, 40000, 4)


def test_fake_daemon_killed():
    """SIGKILL of the daemon: every mapping revoked (SIGBUS, reason
    connection lost), handler called, later maps fail cleanly."""
    with Fake() as f:
        f.d.close()
        sock = os.path.join(f.dir, 'killme.sock')
        d = subprocess.Popen([sys.executable, fakedaemon.__file__, sock],
                             stdout=subprocess.PIPE)
        try:
            check_eq(d.stdout.readline().strip(), b'ready', 'fake daemon start')
            with Client({'HOLDFS_CTL_SOCKET': sock}) as c:
                c.ok('map %s 0 65536 rw' % f.file)
                c.ok('fill 0 10 1')
                d.kill()
                d.wait()
                ev = wait_events(c, 1)
                check_eq((ev['n'], ev['reason']), ('1', '4'), 'handler: connection lost')
                check_sigbus(c.ok('touch 100'), 100, 4, f.file)
                check_sigbus(c.ok('poke 0 1'), 0, 4)
                ans = c.cmd('unmap')
                check(ans.startswith('ok'), 'unmap after loss: %r' % ans)
                ans = c.cmd('map %s 0 65536 rw' % f.file)
                check(ans.startswith('err'), 'map with the daemon gone must fail: %r' % ans)
        finally:
            if d.poll() is None:
                d.kill()
                d.wait()


def test_fake_dax_copy_example():
    """docs/examples/dax_copy.c against the stand-in server."""
    with Fake() as f:
        src = os.path.join(f.dir, 'src')
        data = hfstest.pattern('src', 100000)
        hfstest.write_file(src, data)
        dst = os.path.join(f.dir, 'dst')
        r = subprocess.run([build_path('tests', 'dax', 'client', 'dax_copy'), src, dst],
                           env=dict(os.environ, **f.env), capture_output=True, timeout=60)
        check_eq(r.returncode, 0, 'dax_copy exit (stderr %r)' % r.stderr)
        check_eq(hfstest.read_file(dst), data, 'copied file')
        check(f.d.persisted, 'dax_copy persisted through the lease')


def test_fake_threads_share_connection():
    """8 threads map/store/persist/unmap concurrently on one connection."""
    with Fake(size=8 * 65536) as f:
        r = subprocess.run([build_path('tests', 'dax', 'client', 'mt_stress'), f.file, '8', '50',
                            'pread'],
                           env=dict(os.environ, **f.env), capture_output=True, timeout=120)
        check_eq((r.returncode, r.stdout.strip()), (0, b'ok'), 'mt_stress (stderr %r)' % r.stderr)
        check_eq(f.d.log.count(fakedaemon.HELLO), 1, 'one connection (HELLO count)')
        check_eq(len(f.d.released), 400, 'every lease released')


def test_fake_fork_child():
    """A forked child has no leased pages (SIGSEGV, not the parent's data)
    and cannot release the parent's lease; the parent keeps its mapping."""
    with Fake() as f, Client(f.env) as c:
        c.ok('map %s 0 65536 rw' % f.file)
        lid = f.d.wait_lease()
        ans = c.fields('fork 100')
        check_eq(ans['unmap'], str(-107), 'child holdfs_unmap: -ENOTCONN')
        check_eq(ans['signal'], str(int(signal.SIGSEGV)), 'child access: SIGSEGV')
        time.sleep(0.1)
        check(lid not in f.d.released, 'the child released the parent lease')
        check_eq(c.ok('touch 100'), 'byte %02x' % hfstest.pattern('file', 65536)[100],
                 'parent still mapped')
        check_eq(c.ok('unmap'), '0', 'parent unmap')
        check(f.d.wait_released(lid), 'parent released')


def test_fake_no_daemon():
    """No lease server: holdfs_map fails with ENOTSUP, quickly."""
    with Fake() as f, Client({'HOLDFS_CTL_SOCKET': f.dir + '/none.sock'}) as c:
        ans = c.cmd('map %s 0 65536 rw' % f.file)
        check(ans.startswith('err 95'), 'expected ENOTSUP, got %r' % ans)


# ---------------------------------------------------------------------------
# the preload shim on a real mount


PY_MMAP = r'''
import mmap, os, sys
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, n)
m = mmap.mmap(fd, n, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
data = bytes((i * 7 + 3) & 0xff for i in range(n))
m[:] = data
m.flush()
m.close()
back = os.pread(fd, n, 0)
assert back == data, 'read() after mmap+flush differs'
print('ok')
'''


def run_shim_programs(fs, env):
    """cmp, a C mmap/msync program, python mmap: all through the shim.
    Returns the combined stderr (the HOLDFS_LOG trace)."""
    logs = []
    src = os.path.join(fs.tmpdir, 'src')
    data = hfstest.pattern('cmp', 300000)
    hfstest.write_file(src, data)
    hfstest.write_file(fs.path('copy'), data)
    for cmd, want in (
            (['cmp', src, fs.path('copy')], None),
            ([build_path('tests', 'dax', 'client', 'mmap_prog'), fs.path('prog'), '262144', '5'],
             b'ok 262144'),
            ([sys.executable, '-c', PY_MMAP, fs.path('py'), '131072'], b'ok')):
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        logs.append(r.stderr.decode(errors='replace'))
        check_eq(r.returncode, 0, '%s under the shim (stderr %r)' % (cmd[0], r.stderr[-500:]))
        if want:
            check_eq(r.stdout.strip(), want, '%s output' % cmd[0])
    check_eq(hfstest.read_file(fs.path('copy')), data, 'file after cmp')
    return '\n'.join(logs)


def check_leases(log):
    """mmap_prog takes 2 leases, python 1; munmap released each."""
    n = log.count('mapped ')
    note('leases taken through the shim: %d' % n)
    check_eq(n, 3, 'leases taken by mmap_prog and python (log %s)' % log[-800:])
    check_eq(log.count('(ok)'), 3, 'leases released by munmap (log %s)' % log[-800:])


def test_mount_shim_fallback_without_lease_server():
    """No lease server for the mount: the shim falls back to the page cache
    and unmodified programs work exactly as without it."""
    hfstest.require(os.path.exists(hfstest.preload_lib()), 'preload shim not built')
    with hfstest.HoldFS(size='128M') as fs:
        ctl = os.path.join(fs.tmpdir, 'ctl-empty')
        os.mkdir(ctl)
        log = run_shim_programs(fs, hfstest.shim_env({'HOLDFS_CTL_DIR': ctl}))
        check('mapped ' not in log, 'no lease expected: %s' % log[-500:])
        r = subprocess.run([sys.executable, '-c', 'print(1)'],
                           env=hfstest.shim_env({'HOLDFS_PRELOAD_DISABLE': '1'}),
                           capture_output=True, timeout=60)
        check_eq(r.stdout.strip(), b'1', 'disabled shim')


def test_mount_shim_dax_with_fake_server():
    """The shim turns MAP_SHARED mmaps of holdfs files into leases (served
    here by the stand-in, published under the mount's st_dev) and msync into
    holdfs_persist; read(2) sees the data."""
    hfstest.require(os.path.exists(hfstest.preload_lib()), 'preload shim not built')
    with hfstest.HoldFS(size='128M') as fs:
        ctl = os.path.join(fs.tmpdir, 'ctl')
        d = subprocess.Popen([sys.executable, fakedaemon.__file__,
                              os.path.join(fs.tmpdir, 'fake.sock'), ctl, fs.mnt],
                             stdout=subprocess.PIPE)
        try:
            check_eq(d.stdout.readline().strip(), b'ready', 'fake daemon start')
            log = run_shim_programs(fs, hfstest.shim_env({'HOLDFS_CTL_DIR': ctl}))
            check_leases(log)
        finally:
            d.kill()
            d.wait()


# ---------------------------------------------------------------------------
# end to end with the real daemon


def _need_lease_server(fs):
    st = os.stat(fs.mnt)
    link = '/run/holdfs/dev/%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))
    deadline = time.monotonic() + 5 * hfstest.TIMEOUT_MULTIPLIER
    while not os.path.exists(link) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.exists(link):
        fail('daemon has no lease server: %s does not exist (docs/lease-protocol.md)' % link)


def test_dax_e2e_coherence():
    """DAX store + holdfs_persist -> read(2) in another process; write(2)
    -> visible through the mapping."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'\0' * (1 << 20))
        with Client() as c:
            c.ok('map %s 0 1048576 rw' % path)
            c.ok('fill 4096 64 90')
            c.ok('persist 4096 64')
            check_eq(hfstest.in_child(pread, path, 4096, 64), b'Z' * 64,
                     'POSIX read in another process after persist')
            pwrite(path, 8192, b'posix')
            check_eq(c.ok('read 8192 5'), b'posix'.hex(), 'write(2) visible through DAX')
            check_eq(c.ok('unmap'), '0', 'unmap')


def test_dax_e2e_persist_on_a_disk_region():
    """holdfs_persist writes the stores back on a region file of a disk
    filesystem (libpmem2's page granularity: msync), checked with
    cachestat(2) on the region file."""
    sys.path.insert(0, os.path.join(HERE, '..'))
    import test_dax as D
    with hfstest.HoldFS(size='128M', region_on=hfstest.disk_region_base()) as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'\0' * (1 << 20))
        with Client() as c:
            c.ok('map %s 0 1048576 rw' % path)
            c.ok('fill 65536 8192 90')
            pages = [D.region_offset(fs, path, off) for off in (65536, 69632)]

            def dirty():
                return [hfstest.page_cache_state(fs.region, r, 4096) for r in pages]
            before = dirty()
            check(all(s['dirty'] for s in before), 'the stores dirtied no page before '
                  'persist: %r (is the region really in the page cache?)' % before)
            c.ok('persist 65536 8192')
            after = dirty()
            check(not any(s['dirty'] or s['writeback'] for s in after),
                  'pages still dirty after holdfs_persist returned: %r' % after)
            check_eq(c.ok('unmap'), '0', 'unmap')
        check_eq(hfstest.in_child(pread, path, 65536, 8192), b'Z' * 8192, 'read back')


def _coherence(fs, path):
    """The coherence word of path's leases, from holdfsctl leases --json."""
    import json
    r = subprocess.run([hfstest.binary('holdfsctl'), 'leases', '--json', fs.mnt],
                       capture_output=True, text=True, timeout=30)
    check_eq(r.returncode, 0, 'holdfsctl leases (%s)' % r.stderr.strip())
    ino = os.stat(path).st_ino
    states = {l['coherence'] for l in json.loads(r.stdout)['leases'] if l['ino'] == ino}
    check_eq(len(states), 1, 'one coherence word per file (%r)' % states)
    return states.pop()


def test_dax_e2e_coherence_word():
    """The persist fast path never leaves a stale page: the word starts
    cached, a persist clears it (dropping every cached page), a POSIX
    read(2) or page-cache mmap sets it again, and after every persist an
    fd opened earlier and a page-cache mmap both see the DAX stores."""
    import mmap
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'\0' * (1 << 20))   # write(2): pages cached
        with Client() as c:
            c.ok('map %s 0 1048576 rw' % path)
            check_eq(_coherence(fs, path), 'cached', 'a new word')
            c.ok('fill 0 64 65')
            c.ok('persist 0 64')
            check_eq(_coherence(fs, path), 'clean', 'after the first persist')
            fd = os.open(path, os.O_RDONLY)
            try:
                check_eq(os.pread(fd, 64, 0), b'A' * 64, 'read(2) after persist')
                check_eq(_coherence(fs, path), 'cached', 'after a read(2)')
                c.ok('fill 0 64 66')
                c.ok('persist 0 64')
                check_eq(os.pread(fd, 64, 0), b'B' * 64,
                         'the same fd after the next persist (no stale page)')
                mm = mmap.mmap(fd, 65536, mmap.MAP_SHARED, mmap.PROT_READ)
                try:
                    check_eq(mm[0:64], b'B' * 64, 'page-cache mmap')
                    c.ok('fill 0 64 67')
                    c.ok('persist 0 64')
                    check_eq(mm[0:64], b'C' * 64,
                             'page-cache mmap after persist (page dropped)')
                finally:
                    mm.close()
            finally:
                os.close(fd)
            # a readahead READ the reads above started may still be in
            # flight (no clear then): persist until one clears it
            for _ in range(100):
                c.ok('persist 0 64')
                if _coherence(fs, path) == 'clean':
                    break
                time.sleep(0.05)
            check_eq(_coherence(fs, path), 'clean', 'cleared again once nothing reads')
            c.ok('fill 0 64 68')
            c.ok('persist 0 64')                   # local only
            check_eq(hfstest.in_child(pread, path, 0, 64), b'D' * 64,
                     'read(2) in another process after a local persist')
            check_eq(c.ok('unmap'), '0', 'unmap')


def test_dax_e2e_persist_while_write_fills_holes():
    """A persist that must drop every page of the file while write(2)
    holds one locked and fills a hole another client maps read-only: the
    invalidation waits for the WRITE, the WRITE waits for the REMAP ack.  Neither may
    wait for the other (the daemon invalidates off its control thread), so
    no REMAP misses its deadline and nobody is killed."""
    import threading
    MiB = 1 << 20
    rounds = 24
    with hfstest.HoldFS(size='256M', mount_opts=('allow_other', 'revoke_ms=3000')) as fs:
        _need_lease_server(fs)
        with Client() as writer, Client() as reader:
            asked = [0]
            for k in range(rounds):
                path = fs.path('f%d' % k)
                hfstest.write_file(path, b'w' * MiB)
                os.truncate(path, 2 * MiB)         # 1..2 MiB: a hole
                writer.ok('map %s 0 %d rw' % (path, MiB))
                reader.ok('map %s %d %d r' % (path, MiB, MiB))
                stop = threading.Event()

                def persist_loop():
                    while not stop.is_set():
                        pread(path, 0, 4096)       # word CACHED: ask
                        writer.ok('persist 0 4096')
                        asked[0] += 1
                t = threading.Thread(target=persist_loop)
                t.start()
                try:
                    time.sleep(0.002 * (k % 5))
                    # part of a page: the kernel keeps it locked (not
                    # uptodate) until the WRITE, which fills the hole
                    # and waits for the REMAP ack, is answered
                    pwrite(path, MiB + 100, b'%04d' % k)
                finally:
                    stop.set()
                    t.join(60)
                check_eq(reader.ok('read %d 4' % (MiB + 100)), (b'%04d' % k).hex(),
                         'round %d: the reader sees the filled hole' % k)
                writer.ok('unmap')
                reader.ok('unmap')
            note('%d persists during %d hole-filling writes' % (asked[0], rounds))
            log = fs.daemon_log()
            check('not completed in time' not in log and 'killing' not in log,
                  'a REMAP waited for its deadline: %s' % log[-1500:])


def test_dax_e2e_truncate_sigbus():
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'Z' * (1 << 20))
        with Client() as c:
            c.ok('map %s 0 1048576 rw' % path)
            os.truncate(path, 65536)
            # the daemon revokes asynchronously (the blocks wait in
            # "pending free" until the ACK): wait for the handler
            ev = wait_events(c, 1)
            check_eq((ev['off'], ev['reason']), ('65536', '1'), 'revoke event')
            check_sigbus(c.ok('touch 524288'), 524288, 1, path)
            check_sigbus(c.ok('poke 65536 1'), 65536, 1, path)
            check_eq(c.ok('touch 4096'), 'byte 5a', 'byte below the new size')


def test_dax_e2e_hole_then_write():
    """Read lease over a hole, write(2) fills it: no stale zeros once the
    write returned (REMAP)."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'\0' * 65536)
        os.truncate(path, 1 << 20)
        with Client() as c:
            c.ok('map %s 0 1048576 r' % path)
            check(int(c.fields('info')['holes']) >= 1, 'lease should map a hole')
            check_eq(c.ok('read 600000 4'), '00000000', 'hole reads zeros')
            hfstest.in_child(pwrite, path, 600000, b'late')
            check_eq(c.ok('read 600000 4'), b'late'.hex(), 'no stale zeros after write(2)')


def read_hex(c, off, n):
    """dax_client's `read` in pieces it accepts (up to 2000 bytes)."""
    return ''.join(c.ok('read %d %d' % (off + k, min(2000, n - k)))
                   for k in range(0, n, 2000))


def test_dax_e2e_eof_tail_zero_after_truncate():
    """After a truncate down to an odd size, the mapping that was there and
    a new one show zeros past EOF, not the old bytes (lib/eof_tail.c)."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'Z' * 20000)
        tail = 8192 - 5003
        with Client() as c:
            c.ok('map %s 0 20480 rw' % path)
            check_eq(c.ok('read 5003 8'), '5a' * 8, 'file bytes before the truncate')
            hfstest.in_child(os.truncate, path, 5003)
            check_eq(read_hex(c, 5003, tail), '00' * tail,
                     'the old mapping past EOF after the truncate')
            c.ok('unmap')
        with Client() as c:
            c.ok('map %s 0 8192 r' % path)
            check_eq(read_hex(c, 5003, tail), '00' * tail,
                     'a new mapping past EOF after the truncate')


def test_dax_e2e_store_past_eof_never_content():
    """Stores a client makes past EOF never become file content: a
    truncate up and a write(2) that grows the file over them show zeros
    there, to read(2) and to a new mapping."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'Z' * 5003)
        with Client() as c:
            c.ok('map %s 0 8192 rw' % path)
            c.ok('fill 6000 100 171')
            c.ok('persist 6000 100')
            hfstest.in_child(os.truncate, path, 12000)
            check_eq(pread(path, 6000, 100), b'\0' * 100, 'read(2) after a truncate up')
            check_eq(c.ok('read 6000 100'), '00' * 100,
                     'the storing mapping after a truncate up')
        with Client() as c:
            c.ok('map %s 0 12288 rw' % path)
            check_eq(c.ok('read 6000 100'), '00' * 100, 'a new mapping after a truncate up')
            c.ok('fill 12100 100 205')          # past EOF (12000) again
            c.ok('persist 12100 100')
            hfstest.in_child(pwrite, path, 20000, b'x')
            check_eq(pread(path, 12000, 8192 - 12000 % 4096), b'\0' * (8192 - 12000 % 4096),
                     'read(2) of the gap a write(2) past EOF left')
            check_eq(c.ok('read 12100 100'), '00' * 100, 'the mapping after write(2) grew the file')
        check_eq(pread(path, 0, 5003), b'Z' * 5003, 'the file bytes before the old EOF')


def eof_prog(env, *args):
    """eof_prog under the shim; it must have taken a DAX lease."""
    r = subprocess.run([build_path('tests', 'dax', 'client', 'eof_prog')] +
                       [str(a) for a in args], env=env, capture_output=True,
                       text=True, timeout=60 * hfstest.TIMEOUT_MULTIPLIER)
    check_eq(r.returncode, 0, 'eof_prog %s (stderr %r)' % (args[0], r.stderr[-500:]))
    check('mapped ' in r.stderr, 'eof_prog %s took no DAX lease: %r' % (args[0], r.stderr[-500:]))
    return r.stdout.strip()


def test_dax_e2e_shim_past_eof():
    """The same past-EOF rules for an unmodified program under the shim."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        env = hfstest.shim_env()
        hfstest.write_file(path, b'Z' * 20000)
        os.truncate(path, 5003)
        tail = 8192 - 5003
        check_eq(eof_prog(env, 'read', path, 5003, tail), '00' * tail,
                 'a mapping past EOF after a truncate down')
        eof_prog(env, 'store', path, 6000, 100, 0xab)
        os.truncate(path, 12000)
        check_eq(pread(path, 6000, 100), b'\0' * 100, 'read(2) after a truncate up')
        check_eq(eof_prog(env, 'read', path, 6000, 100), '00' * 100,
                 'a mapping after a truncate up')
        check_eq(eof_prog(env, 'read', path, 0, 8), '5a' * 8, 'bytes before the old EOF')


def test_dax_e2e_daemon_killed():
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'Z' * 65536)
        with Client() as c:
            c.ok('map %s 0 65536 rw' % path)
            fs.kill_daemon(signal.SIGKILL, remount=False, clear=False)
            ev = wait_events(c, 1)
            check_eq(ev['reason'], '4', 'revoke reason: connection lost')
            check_sigbus(c.ok('touch 0'), 0, 4, path)
            c.ok('unmap')
            fs.clear_dead_mount()
            fs.mount()
            _need_lease_server(fs)
            # the same process connects again to the new daemon
            c.ok('map %s 0 65536 rw' % path)
            check_eq(c.ok('touch 0'), 'byte 5a', 'mapped again after reconnect')


def test_dax_e2e_threads():
    """8 threads, one connection, real daemon: map/store/persist, then
    pread(2) the range before unmapping (holdfs_persist returns after the
    daemon's PERSISTED_OK, i.e. after the kernel page cache of the range -
    including a concurrent readahead of a neighbour - was invalidated)."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        path = fs.path('f')
        hfstest.write_file(path, b'')
        r = subprocess.run([build_path('tests', 'dax', 'client', 'mt_stress'), path, '8', '30',
                            'pread'],
                           capture_output=True, timeout=300)
        check_eq((r.returncode, r.stdout.strip()), (0, b'ok'), 'mt_stress (stderr %r)' % r.stderr)


def test_dax_e2e_shim():
    """Unmodified programs under the shim take real leases."""
    with hfstest.HoldFS(size='128M') as fs:
        _need_lease_server(fs)
        log = run_shim_programs(fs, hfstest.shim_env())
        check_leases(log)


def main():
    args = hfstest.default_parser(__doc__.splitlines()[0]).parse_args()
    hfstest.run_tests(hfstest.collect(globals()), args)


if __name__ == '__main__':
    main()
