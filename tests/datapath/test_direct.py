#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The direct data path's contract, multi-process (docs/data-path.md).

    HOLDFS_BUILD=build python3 tests/datapath/test_direct.py [-k NAME]

dp_client (plain POSIX calls) runs under the preload shim, so its reads
and writes are served from leases; other processes look at the same
files with and without the shim.  Each test proves the data path served
the calls it is about (HOLDFS_DATAPATH_STATS counters), so a shim that
quietly sent everything to the kernel fails here.

  - durable when a write returns: after a direct append the daemon is
    killed (nothing of it runs afterwards), and the remount shows the
    bytes and the size (the slot, folded at mount);
  - the same answers everywhere: stat(2) in another process sees a size
    the moment a direct write returns; O_APPEND writers, direct and
    through FUSE, never overwrite each other; page-cache readers see
    direct writes and direct readers see page-cache writes;
  - zeros in holes and past the old end of file; mtime by fsync/close;
  - truncate, punch and rewrite by another process are seen, never a
    SIGBUS;
  - failures: a lost range reads EIO (not SIGBUS), so does a read whose
    copy meets poison; device loss and a dead daemon make every direct
    call EIO, promptly.
"""

import ctypes
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'dax'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, fail  # noqa: E402
import test_dax as D  # noqa: E402

MiB = 1 << 20


def dp_client():
    p = os.path.join(H.build_dir(), 'tests', 'datapath', 'dp_client')
    H.require(os.path.exists(p), 'dp_client not built (%s)' % p)
    return p


def holdfsctl(*args):
    p = os.path.join(H.build_dir(), 'ctl', 'holdfsctl')
    return subprocess.run([p] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60)


class Client(H.LineClient):
    """A dp_client process, with or without the shim; as user (a
    H.TestUser) with its own copies of dp_client and the shim, which the
    build may sit where that user cannot reach."""

    name = 'dp_client'
    quit_wait = 30

    def __init__(self, shim=True, stats=None, user=None):
        e = H.shim_env({'HOLDFS_LOG': os.environ.get('DP_LOG', '0')}) if shim else dict(os.environ)
        if shim and stats:
            e['HOLDFS_DATAPATH_STATS'] = stats
        exe = dp_client()
        if user:
            exe = user.exe(exe)
            if shim:   # the shim finds libholdfs beside it ($ORIGIN)
                user.exe(os.path.join(H.build_dir(), 'client', 'libholdfs.so.0'))
                e['LD_PRELOAD'] = ':'.join(user.exe(x) if x == H.preload_lib() else x
                                           for x in e['LD_PRELOAD'].split(':'))
        super().__init__([exe], e, user=user)

    def cmd(self, line, timeout=20):
        ans = super().cmd(line, timeout)
        check(ans != 'sigbus', 'SIGBUS out of %r' % line)
        return ans

    def ok(self, line, timeout=20):
        ans = self.cmd(line, timeout)
        check(ans.startswith('ok'), '%r answered %r (stderr %s)' % (line, ans, self.stderr()))
        return dict(kv.split('=', 1) for kv in ans[2:].split() if '=' in kv)

    def err_of(self, line, timeout=20):
        ans = self.cmd(line, timeout)
        check(ans.startswith('err'), '%r answered %r, expected an error' % (line, ans))
        return int(ans.split()[1]) if ans.startswith('err') else 0


def stats_of(path):
    """Counters summed over every process that wrote a line."""
    tot = {}
    if not os.path.exists(path):
        return tot
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            for k, v in d.items():
                if isinstance(v, int):
                    tot[k] = tot.get(k, 0) + v
    return tot


def served(fs, what, at_least=1):
    """The direct path served at least that many calls of kind what."""
    st = stats_of(fs.stats)
    check(st.get(what, 0) >= at_least, 'direct %s: %r' % (what, st))


def mount(size='256M', region_on=None):
    fs = H.HoldFS(size=size, region_on=region_on)
    fs.stats = os.path.join(fs.tmpdir, 'dpstats.jsonl')
    return fs


def content(path):
    with open(path, 'rb') as f:
        return f.read()


# ------------------------------------------------------------ contract

def test_append_durable_without_the_daemon():
    """Direct appends are durable when write(2) returns: the daemon is
    SIGKILLed right after (it never saw them), and the remount shows
    every byte and the size."""
    with mount() as fs:
        p = fs.path('log')
        with Client(stats=fs.stats) as c:
            c.ok('open %s ac' % p)
            for i in range(40):
                check_eq(c.ok('write 1000 %d' % (0x41 + i % 26))['n'], '1000', 'append')
            fs.kill_daemon(signal.SIGKILL, remount=False, clear=False)
            c.close()
        fs.clear_dead_mount()
        fs.mount()
        data = content(p)
        check_eq(len(data), 40000, 'size after the crash')
        check(all(data[i * 1000:(i + 1) * 1000] == bytes([0x41 + i % 26]) * 1000
                  for i in range(40)), 'appended bytes after the crash')
        served(fs, 'appends', 30)


def disk_mount():
    """A mount whose region is a file on a filesystem with writeback (the
    build directory's), so the region has libpmem2's page granularity
    and a store is durable only once msync wrote its page back."""
    return mount(region_on=H.disk_region_base())


def check_written_back(fs, path, lo, hi, what):
    """No page of path's bytes [lo, hi) is dirty or under writeback in
    the region file: whatever stored them made them durable."""
    for off in range(lo, hi, 4096):
        roff = D.region_offset(fs, path, off)
        st = H.page_cache_state(fs.region, roff - roff % 4096, 4096)
        check(st['dirty'] == 0 and st['writeback'] == 0,
              '%s: file byte %d (region offset %d) not written back: %r (whole region: %r)'
              % (what, off, roff, st, H.page_cache_state(fs.region, 0, 0)))


def test_direct_writes_durable_on_a_disk_region():
    """On a region file of a disk filesystem, a direct write returns only
    once its pages are written back (msync): checked with cachestat(2)
    on the region file, for appends and overwrites, before any fsync."""
    with disk_mount() as fs:
        p = fs.path('log')
        with Client(stats=fs.stats) as c:
            c.ok('open %s ac' % p)
            for i in range(16):
                check_eq(c.ok('write 4096 %d' % (0x41 + i))['n'], '4096', 'append')
            # the first calls may go through the kernel; the last eight
            # appends are the data path's (counted below)
            check_written_back(fs, p, 8 * 4096, 16 * 4096, 'direct append')
            c.ok('open %s rw' % p)
            c.ok('pwrite 8192 4096 89')
            c.ok('pwrite 12288 4096 90')
            check_written_back(fs, p, 12288, 16384, 'direct overwrite')
        served(fs, 'appends', 8)
        served(fs, 'writes', 9)
        check_eq(content(p)[8192:16384], b'Y' * 4096 + b'Z' * 4096, 'the overwrites')


def region_dirty_pages(fs):
    st = H.page_cache_state(fs.region, 0, 0)
    return st['dirty'] + st['writeback']


def test_o_sync_writes_make_their_mtime_durable():
    """A direct write on an O_SYNC descriptor asks for file integrity:
    its mtime, which the data path keeps in the inode's slot, is written
    back before the write returns, where a plain direct write leaves it to
    fsync or close (data and size are durable either way).  Seen with
    cachestat(2) on a disk region: after the plain write the slot's page
    is dirty (which shows the probe can see it), after the O_SYNC one no
    page of the region is.  (A write that moves the end of file persists
    its mtime with the size in any case; the probe cannot show it, the
    slot lock's release dirties the page again, harmlessly: the lock is
    not kept across a crash.)"""
    with disk_mount() as fs:
        p = fs.path('f')
        H.write_file(p, b'x' * 65536)
        with Client(stats=fs.stats) as c:
            c.ok('open %s rw' % p)
            c.ok('pread 0 4096')              # the first call: lease from here on
            c.ok('pwrite 4096 4096 65')
            plain = region_dirty_pages(fs)
            c.ok('fsync')
            check_eq(region_dirty_pages(fs), 0, 'dirty pages of the region after fsync')
            c.ok('close')
            c.ok('open %s rws' % p)
            c.ok('pread 0 4096')
            for off in (8192, 12288, 4096):
                c.ok('pwrite %d 4096 66' % off)
                check_eq(region_dirty_pages(fs), 0,
                         'dirty pages of the region after an O_SYNC write at %d' % off)
        check(plain >= 1, 'a plain direct write left its mtime to fsync '
              '(%d dirty pages): the probe sees the slot page' % plain)
        served(fs, 'writes', 4)


def test_setuid_given_later_goes_at_the_next_direct_write():
    """A write by a caller without CAP_FSETID takes setuid, setgid (of a
    group-executable file) and file capabilities away.  A direct write
    never reaches the daemon's write handler; its lease's grant takes
    them away, and when they are given after that (chmod, setxattr
    security.capability, by root here) the file's direct writers lease
    again before the chmod answers (fs/revoke.h).  Before, a dax_group
    member holding a write lease kept writing to a file that had become
    setuid root, and the bit stayed.  The same steps without the shim
    (the kernel's FUSE writes) give the same modes."""
    cap = struct.pack('<IIIII', 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service
    with H.TestUser(extra_group=True) as u, \
            H.HoldFS(size='64M', mount_opts=('allow_other', 'dax_group=' + u.extra)) as fs:
        seen = {}
        for shim in (False, True):
            p = fs.path('f-%s' % ('shim' if shim else 'kernel'))
            H.write_file(p, b'x' * 65536)
            os.chmod(p, 0o666)
            c = Client(shim=shim, user=u, stats='1' if shim else None)
            got = []
            try:
                c.ok('open %s rw' % p)
                c.ok('pread 0 4096')              # the first call: lease from here on
                c.ok('pwrite 0 4096 65')
                for what in ('caps', 0o4777, 0o2777, 0o6777):
                    if what == 'caps':
                        os.setxattr(p, 'security.capability', cap)
                    else:
                        os.chmod(p, what)
                    c.ok('pwrite 8192 4096 66')
                    try:
                        os.getxattr(p, 'security.capability')
                        caps = 'caps kept'
                    except OSError:
                        caps = 'no caps'
                    got.append('%s: %o, %s' % (what if what == 'caps' else '%o' % what,
                                               os.stat(p).st_mode & 0o7777, caps))
            finally:
                err = c.quit()
            seen[shim] = got
            if shim:
                m = re.search(r'writes (\d+)', err)
                check(m and int(m.group(1)) >= 5,
                      'the direct path served the writes: %r' % err[-400:])
        check_eq(seen[True], seen[False], 'modes after writes with and without the shim')
        check_eq(seen[False], ['caps: 666, no caps', '4777: 777, no caps',
                               '2777: 777, no caps', '6777: 777, no caps'],
                 'modes after the writes')


def test_stat_sees_size_at_once():
    """A size is visible to stat(2) in another process the moment the
    direct write returns; so is the new mtime after fsync."""
    with mount() as fs:
        p = fs.path('f')
        H.write_file(p, b'x' * 4096)
        with Client(stats=fs.stats) as c, Client(shim=False) as other:
            c.ok('open %s rw' % p)
            c.ok('pread 0 4096')               # the first call: lease from here on
            t0 = int(other.ok('stat %s' % p)['mtime'])
            for end in (5000, 70000, 3 * MiB + 17):
                c.ok('pwrite %d 1 0x5a' % (end - 1))
                check_eq(int(other.ok('stat %s' % p)['size']), end, 'stat after a write to %d' % end)
                check_eq(int(c.ok('fstat')['size']), end, 'fstat in the writer')
            c.ok('fsync')
            check(int(other.ok('stat %s' % p)['mtime']) > t0, 'mtime after fsync')
        served(fs, 'writes', 3)


def test_new_mount_on_a_reused_device_number():
    """Anonymous device numbers are reused at once: a process that looked
    at a tmpfs a moment ago must not take the holdfs mounted after it, on
    the same number, for that tmpfs (a cached "not holdfs")."""
    reused = False
    for attempt in range(5):
        st = tempfile.NamedTemporaryFile(prefix='hfs-dpstats-', suffix='.jsonl')
        with Client(stats=st.name) as c:
            with H.Tmpfs() as t:
                tp = t.path('t')
                H.write_file(tp, b'tmpfs')
                tdev = os.stat(tp).st_dev
                c.ok('open %s r' % tp)
                c.ok('pread 0 5')
                c.ok('close')
            with mount() as fs:
                p = fs.path('f')
                H.write_file(p, b'y' * 8192)
                if os.stat(p).st_dev != tdev:
                    continue                  # not reused this time: again
                reused = True
                c.ok('open %s rw' % p)
                c.ok('pread 0 4096')
                c.ok('pwrite 0 4096 0x41')
                c.ok('close')
                c.close()
                check(stats_of(st.name).get('writes', 0) >= 1,
                      'a holdfs mount on the device number a tmpfs had a moment ago was not '
                      'served by the data path: %r' % stats_of(st.name))
                check_eq(content(p)[:4096], b'A' * 4096, 'the direct write')
        st.close()
        if reused:
            return
    H.require(reused, 'the kernel never reused the device number in 5 tries')


def test_holes_and_gaps_read_zero():
    """Bytes past the old end of file and in holes read as zeros, direct
    or not, even where a mapping stored past EOF before."""
    with mount() as fs:
        p = fs.path('g')
        H.write_file(p, b'y' * 5000)
        with Client(stats=fs.stats) as c:
            c.ok('open %s rw' % p)
            c.ok('pread 0 100')
            c.ok('pwrite %d 10 0x33' % (1 * MiB))
            r = c.ok('pread 5000 %d' % (1 * MiB - 5000))
            check_eq(r['sum'], '0', 'the gap reads as zeros (direct)')
            r = c.ok('pread %d 10' % (1 * MiB))
            check_eq(r['first'], '33', 'the bytes written past the gap')
        data = content(p)
        check(data[5000:1 * MiB] == bytes(1 * MiB - 5000), 'the gap through FUSE')
        served(fs, 'reads', 2)


def appenders(n, ln):
    """Four writers append n self-describing records of ln bytes at once,
    two through the data path, two through FUSE: every record is there
    exactly once, intact."""
    with mount() as fs:
        p = fs.path('shared.log')
        H.write_file(p, b'')
        procs = []
        for w in range(4):
            env = H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH_STATS': fs.stats}) \
                if w < 2 else dict(os.environ)
            procs.append(subprocess.Popen([dp_client(), '--append', p, str(w), str(n), str(ln)],
                                          env=env, stderr=subprocess.PIPE))
        for pr in procs:
            _, err = pr.communicate(timeout=120)
            check_eq(pr.returncode, 0, 'appender: %s' % err.decode()[-500:])
        r = subprocess.run([dp_client(), '--check-log', p, '4', str(n), str(ln)],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, 'log check: %s%s' % (r.stdout, log_layout(p, ln)))
        served(fs, 'appends', n)


def log_layout(path, ln):
    """For a failed log check: the log as runs of records (writer, first
    and last seq, count, offset) and of what is not a record."""
    import struct
    data = content(path)
    runs = []
    for off in range(0, len(data) - ln + 1, ln):
        magic, w, seq, rl = struct.unpack_from('<IIII', data, off)
        key = ('w%d' % w) if magic == 0x52454344 and rl == ln else 'junk'
        if runs and runs[-1][0] == key and (key == 'junk' or runs[-1][2] + 1 == seq):
            runs[-1][2] = seq
            runs[-1][3] += 1
        else:
            runs.append([key, seq, seq, 1, off])
    return '\nlayout (%d bytes): %s' % (len(data), ', '.join(
        '%s %d..%d x%d @%d' % tuple(r) for r in runs[:60]))


def test_o_append_writers_never_overwrite():
    """Records that never cross a page boundary (512 bytes)."""
    appenders(300, 512)


def test_o_append_split_by_the_kernel():
    """Records of 3000 bytes: most start inside a page the kernel has not
    cached and cross into the next, and the kernel sends such a write(2)
    as two WRITEs, each an append to the daemon.  No direct append may
    land between the two (the daemon holds the slot lock for the second,
    HFS_DSLOT_HOLD)."""
    appenders(300, 3000)


def test_append_after_the_direct_writer_left():
    """A process that opens the file after the last direct writer closed
    it appends by the kernel's cached size, which no close or open
    refreshes: the daemon must still put the bytes at the real end
    (lib/inode_i.h kernel_size_stale lives until FORGET)."""
    with mount() as fs:
        p = fs.path('log')
        H.write_file(p, b'S' * 512)          # the kernel caches size 512
        with Client(shim=False) as holder:
            holder.ok('open %s r' % p)         # the last close comes later
            with Client(stats=fs.stats) as c:
                c.ok('open %s a' % p)
                for _ in range(8):
                    c.ok('write 512 0x41')
                c.ok('close')
            # the direct writer is gone and its slot disarmed (after its
            # leases, off the control thread): then the last close
            time.sleep(0.5)
            holder.ok('close')
        served(fs, 'appends', 1)
        with Client(shim=False) as k:         # no stat in between
            k.ok('open %s a' % p)
            k.ok('write 512 0x42')
            k.ok('close')
        data = content(p)
        check_eq(len(data), 512 * 10, 'size after the kernel append')
        check_eq(data[:512], b'S' * 512, 'the first record')
        check_eq(data[512:512 * 9], b'A' * 512 * 8, 'the direct appends')
        check_eq(data[512 * 9:], b'B' * 512, 'the kernel append, at the end')


def test_page_cache_coherence():
    """A reader through the page cache sees direct writes, and a direct
    reader sees writes through FUSE."""
    with mount() as fs:
        p = fs.path('c')
        H.write_file(p, b'\x01' * (2 * MiB))
        with Client(stats=fs.stats) as d, Client(shim=False) as k:
            d.ok('open %s rw' % p)
            k.ok('open %s rw' % p)
            d.ok('pread 0 4096')
            check_eq(k.ok('pread 4096 4096')['first'], '01', 'page cache filled')
            d.ok('pwrite 4096 4096 0x02')
            check_eq(k.ok('pread 4096 4096')['sum'], str(2 * 4096),
                     'page-cache reader after a direct write')
            k.ok('pwrite 8192 4096 0x03')
            check_eq(d.ok('pread 8192 4096')['sum'], str(3 * 4096),
                     'direct reader after a FUSE write')
        served(fs, 'writes', 1)


def test_truncate_punch_by_another_process():
    """Another process truncates, rewrites and punches: the direct
    reader sees it all (new size, new bytes, zeros), never a SIGBUS."""
    with mount() as fs:
        p = fs.path('t')
        H.write_file(p, b'\x07' * (4 * MiB))
        with Client(stats=fs.stats) as d, Client(shim=False) as k:
            d.ok('open %s rw' % p)
            d.ok('pread 0 4096')
            check_eq(d.ok('pread 0 %d' % MiB)['first'], '07', 'before')
            k.ok('open %s rw' % p)
            k.ok('ftruncate 0')
            check_eq(d.ok('pread 0 4096')['n'], '0', 'after the truncate: EOF')
            k.ok('pwrite 0 %d 0x09' % (2 * MiB))
            check_eq(d.ok('pread %d 4096' % MiB)['sum'], str(9 * 4096), 'rewritten bytes')
            subprocess.run(['fallocate', '-p', '-o', str(MiB), '-l', str(MiB // 2), p],
                           check=True, timeout=30)
            check_eq(d.ok('pread %d 4096' % MiB)['sum'], '0', 'a punched hole')
            check_eq(int(d.ok('seek 0 end')['pos']), 2 * MiB, 'SEEK_END')
        served(fs, 'reads', 3)


def dp_torn():
    p = os.path.join(H.build_dir(), 'tests', 'datapath', 'dp_torn')
    H.require(os.path.exists(p), 'dp_torn not built (%s)' % p)
    return p


def torn_reads(mode):
    """dp_torn MODE against a direct reader of the same 64 KiB for 2 s:
    every read must be one whole state (all bytes equal), and some must
    have been served directly (the others by the kernel, while a change
    was in progress)."""
    with mount() as fs:
        p = fs.path('torn')
        n = 64 * 1024
        H.write_file(p, b'\x01' * n)
        env = H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH_STATS': fs.stats,
                          'HOLDFS_DATAPATH_EAGER': '1'})
        secs = '2'
        chg = subprocess.Popen([dp_torn(), mode, p, str(n), secs], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            rd = subprocess.run([dp_torn(), 'read', p, str(n), secs], env=env,
                                capture_output=True, text=True, timeout=120)
            cout, cerr = chg.communicate(timeout=120)
        finally:
            if chg.poll() is None:
                chg.kill()
                chg.wait()
        check_eq(chg.returncode, 0, 'changer: %s %s' % (cout, cerr[-500:]))
        check_eq(rd.returncode, 0, 'reader: %s %s' % (rd.stdout, rd.stderr[-500:]))
        H.note('%s; %s' % (cout.strip(), rd.stdout.strip()))
        check(int(cout.split()[1]) > 0, 'no change ran')
        st = stats_of(fs.stats)
        H.note('direct reads %d, to the kernel %r' % (st.get('reads', 0), {
            k: v for k, v in st.items() if k.startswith('kernel') and v}))
        served(fs, 'reads', 100)


def test_reads_never_torn_by_changes_in_place():
    """Another process writes 64 KiB through FUSE, then zeroes them
    (zero range), over and over, while a direct reader reads them.  The
    daemon changes those bytes in place, without revoking the reader's
    window, so a copy running meanwhile used to return part old and part
    new (its first read was torn)."""
    torn_reads('change')


def test_reads_never_torn_by_punch_and_refill():
    """The same with punch hole and a write that fills the hole again:
    the punch revokes the reader's window, its next lease maps the hole
    as zeros, and the write's REMAP gives it blocks while the reader may
    be copying: REMAPs used to change a window under a copy (torn within
    about a hundred reads)."""
    torn_reads('punch')


def leases_of(fs, pid):
    """pid's leases, oldest first (holdfsctl leases --json)."""
    r = holdfsctl('leases', '--json', fs.mnt)
    check_eq(r.returncode, 0, 'holdfsctl leases: %s' % r.stderr)
    return [le for le in sorted(json.loads(r.stdout)['leases'], key=lambda le: le['id'])
            if le['pid'] == pid]


def lease_lengths(fs, pid):
    """The lengths of pid's leases, oldest first."""
    return [le['length'] for le in leases_of(fs, pid)]


def test_reservation_starts_small_after_a_truncate():
    """A stream of appends gets ever larger reservations past EOF (up
    to 64 MiB, which the daemon zeroes on its control thread); after a
    truncate takes the reservation away (a log rotated), the next append
    must lease a small one again, not another 64 MiB, and the revoked
    ones are released by then, not listed until the file is closed."""
    with mount() as fs:
        p = fs.path('log')
        with Client(stats=fs.stats) as c:
            c.ok('open %s ac' % p)
            for _ in range(96):
                c.ok('write %d 65' % MiB)
            before = max(lease_lengths(fs, c.p.pid))
            check(before >= 32 * MiB, 'reservations grew: %d' % before)
            os.truncate(p, 0)
            c.ok('write 4096 66')
            after = lease_lengths(fs, c.p.pid)
            check(after and after[-1] <= 4 * MiB,
                  'the lease of the append after the truncate: %d bytes (%r; before: %d)'
                  % (after[-1] if after else -1, after, before))
            # the reservations the truncate revoked were released before
            # that lease was asked for (only the file's first window, the
            # anchor of its slot, stays while the file is open)
            dead = [le['id'] for le in leases_of(fs, c.p.pid)
                    if le['extents'] and all(x['state'] == 'revoked' for x in le['extents'])]
            check(len(dead) <= 1, 'revoked leases still held after the next lease: %d (%r)'
                  % (len(dead), after))
        served(fs, 'appends', 90)


def test_revocation_storm_is_not_eio():
    """Another process truncates and punches the file in a loop while two
    direct clients read, write, append and fsync it: a layout change is
    never a failure, so no call of theirs may fail (no EIO), and the
    truncates revoked windows under them all along.  A revocation that
    arrived between a lease's grant and its window's entry used to leave
    the window live over the empty file: the next copy there faulted and
    answered EIO (hundreds of times a second in this loop)."""
    with mount() as fs:
        p = fs.path('storm')
        H.write_file(p, b'\x03' * (4 * MiB))
        stop = threading.Event()
        layout_changes = [0]

        def storm():
            rnd = random.Random(13)
            fd = os.open(p, os.O_RDWR)
            try:
                while not stop.is_set():
                    if rnd.random() < 0.5:
                        os.truncate(p, rnd.choice([0, MiB, 3 * MiB, 4 * MiB]))
                    else:
                        r = H.libc().fallocate(fd, 3, ctypes.c_long(rnd.randrange(4) * MiB),
                                               ctypes.c_long(MiB))  # punch, keep size
                        check(r == 0, 'punch: errno %d' % ctypes.get_errno())
                    layout_changes[0] += 1
            finally:
                os.close(fd)

        env = H.shim_env({'HOLDFS_LOG': os.environ.get('DP_LOG', '0'),
                          'HOLDFS_DATAPATH_STATS': fs.stats})
        t = threading.Thread(target=storm)
        t.start()
        try:
            procs = [subprocess.Popen([dp_client(), '--mixed', p, '5000', str(seed)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for seed in (1, 2)]
            outs = [pr.communicate(timeout=300) for pr in procs]
        finally:
            stop.set()
            t.join(timeout=60)
        for pr, (out, err) in zip(procs, outs):
            check(pr.returncode == 0 and out.startswith('ok calls=5000'),
                  'client under the storm: rc %s %r (stderr %s)' % (pr.returncode, out, err[-500:]))
        check(layout_changes[0] > 0, 'no truncate or punch ran')
        st = stats_of(fs.stats)
        check_eq(st.get('eio', 0), 0, 'direct calls answered EIO: %r' % st)
        served(fs, 'writes', 1)
        served(fs, 'appends', 1)


# ------------------------------------------------------------ failures

def test_lost_range_is_eio():
    """A media failure under part of a file: direct reads there fail with
    EIO (never SIGBUS), the rest of the file reads."""
    with mount() as fs:
        p = fs.path('l')
        H.write_file(p, b'\x05' * (4 * MiB))
        off = D.region_offset(fs, p, 2 * MiB)
        with Client(stats=fs.stats) as d:
            d.ok('open %s r' % p)
            d.ok('pread 0 4096')
            check_eq(d.ok('pread %d 4096' % (2 * MiB))['first'], '05', 'before')
            r = holdfsctl('inject', '--range', '%d,4096' % off, fs.mnt)
            check(r.returncode == 0, 'inject: %s' % r.stderr)
            check_eq(d.err_of('pread %d 4096' % (2 * MiB)), 5, 'the lost block')
            check_eq(d.ok('pread 0 4096')['first'], '05', 'the rest of the file')
        served(fs, 'reads', 2)


def test_poison_in_a_direct_copy_is_eio():
    """A machine check while a direct read copies out of the mapping (the
    SIGBUS BUS_MCEERR_AR a load from poisoned memory raises, delivered in
    the middle of the copy by dp_poison: this kernel cannot poison
    memory): that read fails with EIO, the program never sees the SIGBUS,
    and the daemon hears of the poison from the shim, confirms it
    (simulated poison) and fails the range: the page reads EIO for
    everyone, the rest of the file reads."""
    p = os.path.join(H.build_dir(), 'tests', 'datapath', 'dp_poison')
    H.require(os.path.exists(p), 'dp_poison not built (%s)' % p)
    n = 4 * MiB
    with mount() as fs:
        env = H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH_STATS': fs.stats,
                          'HOLDFS_DATAPATH_EAGER': '1'})
        f = fs.path('poison')
        H.write_file(f, b'\x07' * n)
        roff = D.region_offset(fs, f, MiB)
        r = holdfsctl('inject', '--range', '%d,4096' % roff, '--simulate-poison', fs.mnt)
        check(r.returncode == 0, 'simulate poison: %s' % r.stderr)
        r = subprocess.run([p, f, os.path.realpath(fs.region), str(roff), str(n)],
                           env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode >= 0, 'dp_poison died of signal %d (a SIGBUS out of a '
              'read): %s %s' % (-r.returncode, r.stdout, r.stderr[-500:]))
        check_eq(r.returncode, 0, 'dp_poison: %s %s' % (r.stdout, r.stderr[-500:]))
        check_eq(r.stdout.strip(), 'read EIO handler 0 segv 1', 'the read over the poison')
        deadline = time.monotonic() + 10
        while True:
            st = json.loads(holdfsctl('status', '--json', fs.mnt).stdout)
            ev = [e for e in st['events'] if e['source'] == 'client poison' and
                  e['offset'] == roff and e['outcome'] != 'in progress']
            if ev or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(ev and ev[-1]['outcome'].startswith('range failure'),
              'the daemon did not fail the poisoned page: %r' % st['events'])
        with open(f, 'rb') as fh:
            check_eq(fh.read(4096), b'\x07' * 4096, 'the file before the page')
            fh.seek(MiB)
            try:
                fh.read(4096)
                fail('the poisoned page read without an error')
            except OSError as e:
                check_eq(e.errno, 5, 'the poisoned page')
        served(fs, 'reads', 1)


def two_files(fs):
    """Files a (1 MiB of 01) and b (1 MiB of 02) on fs, their paths."""
    p, q = fs.path('a'), fs.path('b')
    H.write_file(p, b'\x01' * MiB)
    H.write_file(q, b'\x02' * MiB)
    return p, q


def test_device_loss_is_eio_everywhere():
    """Device loss: every direct call on every descriptor fails with EIO,
    promptly."""
    with mount() as fs:
        p, q = two_files(fs)
        with Client(stats=fs.stats) as d, Client(stats=fs.stats) as e:
            d.ok('open %s rw' % p)
            e.ok('open %s r' % q)
            d.ok('pread 0 4096')
            e.ok('pread 0 4096')
            d.ok('pread 0 4096')
            e.ok('pread 0 4096')
            r = holdfsctl('inject', '--whole-device', fs.mnt)
            check(r.returncode == 0, 'inject: %s' % r.stderr)
            t0 = time.monotonic()
            check_eq(d.err_of('pread 0 4096'), 5, 'read after device loss')
            check_eq(d.err_of('pwrite 0 10 1'), 5, 'write after device loss')
            check_eq(e.err_of('pread 4096 4096'), 5, 'another process')
            check(time.monotonic() - t0 < 10 * H.TIMEOUT_MULTIPLIER, 'EIO promptly')
        served(fs, 'reads', 2)


def wait_shutdown(fs):
    """The daemon says it shut the volume down (holdfsctl status)."""
    deadline = time.monotonic() + 10 * H.TIMEOUT_MULTIPLIER
    st = None
    while time.monotonic() < deadline:
        r = holdfsctl('status', '--json', fs.mnt)
        if r.returncode == 0:
            st = json.loads(r.stdout)
            if st['state'] == 'shutdown' and all(e['outcome'] != 'in progress'
                                                 for e in st['events']):
                return
        time.sleep(0.05)
    fail('the volume never shut down: %r' % st)


def test_region_truncated_is_eio():
    """The region file is truncated under served descriptors (the real
    device loss of a file-backed region: every page of it faults, the
    slot area too).  The data path's first touch of the slot used to
    raise SIGBUS out of read(2); now libholdfs maps zeros over its slot
    area and sends every call to the kernel, whose answer is EIO once
    the daemon has shut the volume down (before that, what the kernel
    still has).  Reads, in-place writes, writes past EOF, appends and
    fsync: never a SIGBUS, EIO after the shutdown, and the counters say
    the kernel answered for want of a slot."""
    with mount() as fs:
        p, q = two_files(fs)
        with Client(stats=fs.stats) as d, Client(stats=fs.stats) as e:
            d.ok('open %s rw' % p)
            e.ok('open %s ra' % q)
            d.ok('pread 0 4096')
            d.ok('pread 0 4096')
            e.ok('write 4096 3')
            e.ok('write 4096 3')
            os.truncate(fs.region, 0)
            # the first touch of the slot faults: no SIGBUS (cmd checks),
            # and the kernel's answer, EIO or the bytes it still caches
            ans = d.cmd('pread 0 4096')
            check(ans.startswith('err 5 ') or (ans.startswith('ok') and 'first=01' in ans),
                  'read as the region went: %r' % ans)
            ans = e.cmd('write 4096 3')
            check(ans.startswith('err 5 ') or ans.startswith('ok n=4096'),
                  'append as the region went: %r' % ans)
            wait_shutdown(fs)
            check_eq(d.err_of('pread 0 4096'), 5, 'read after the shutdown')
            check_eq(d.err_of('pwrite 0 10 1'), 5, 'write in place')
            check_eq(d.err_of('pwrite %d 10 1' % MiB), 5, 'write past EOF')
            check_eq(e.err_of('write 4096 3'), 5, 'append')
            check_eq(e.err_of('pread 0 4096'), 5, 'read in another process')
            for c in (d, e):
                check_eq(c.err_of('fsync'), 5, 'fsync')
                ans = c.cmd('close')
                check(ans.startswith('ok') or ans.startswith('err 5 '), 'close: %r' % ans)
        served(fs, 'reads', 1)
        served(fs, 'writes', 1)
        with open(fs.stats) as f:
            no_slot = sum(json.loads(ln).get('kernel_why', {}).get('no_slot', 0) for ln in f)
        check(no_slot >= 2, 'the kernel answered for want of a slot: %d calls' % no_slot)


def leased_then_out_of_descriptors(d, path, mode):
    """dp_client d opens path (of bytes 01) in mode, gets a read window
    leased, then uses up every descriptor below a soft limit of 64."""
    d.ok('nofile 64')
    d.ok('open %s %s' % (path, mode))
    d.ok('pread 0 4096')
    check_eq(d.ok('pread 0 4096')['first'], '01', 'read window leased')
    hog = d.ok('hog')
    check(int(hog['hogged']) > 0 and hog['errno'] == '24', 'out of descriptors: %r' % hog)


def test_out_of_descriptors_is_not_a_failure():
    """A process at its RLIMIT_NOFILE limit keeps using a served file: the
    daemon's descriptor that comes with a first write lease cannot be
    received then (EMFILE), which must cost at most the direct path for
    those calls (they fall back to the kernel), never the connection:
    losing it would make every direct call of the mount EIO, as if the
    daemon had died.  Every call succeeds with the right bytes, while
    out of descriptors and after."""
    with mount() as fs:
        p = fs.path('nofile')
        H.write_file(p, b'\x01' * (4 * MiB))
        with Client(stats=fs.stats) as d:
            leased_then_out_of_descriptors(d, p, 'rw')
            check_eq(d.ok('pread %d 4096' % (3 * MiB))['first'], '01', 'read elsewhere, no descriptor left')
            check_eq(d.ok('pwrite %d 4096 2' % MiB)['n'], '4096', 'write in place')
            check_eq(d.ok('pwrite %d 4096 3' % (4 * MiB))['n'], '4096', 'write past EOF')
            d.ok('fsync')
            check_eq(d.ok('pread %d 4096' % MiB)['sum'], str(2 * 4096), 'the write in place reads back')
            check_eq(d.ok('pread %d 4096' % (4 * MiB))['sum'], str(3 * 4096), 'the extending write reads back')
            check_eq(int(d.ok('fstat')['size']), 4 * MiB + 4096, 'size')
            d.ok('unhog')
            check_eq(d.ok('pwrite %d 4096 4' % (2 * MiB))['n'], '4096', 'write with descriptors again')
            check_eq(d.ok('pread %d 4096' % (2 * MiB))['sum'], str(4 * 4096), 'and it reads back')
            d.ok('open %s r' % p)
            d.ok('pread 0 4096')
            check_eq(d.ok('pread %d 4096' % (4 * MiB))['sum'], str(3 * 4096), 'a new descriptor')
        st = stats_of(fs.stats)
        check_eq(st.get('eio', 0), 0, 'direct calls answered EIO: %r' % st)
        served(fs, 'reads', 2)
        check_eq(content(p)[MiB:MiB + 4096], b'\x02' * 4096, 'on the file')


def test_revoked_at_the_descriptor_limit_still_sigbus():
    """A revoked range becomes a mapping of an empty memfd: any access
    raises SIGBUS (which the data path's copy guard turns into EIO, as
    for lost memory).  That memfd is made when the process connects: a
    process first revoked while at its RLIMIT_NOFILE used to get a
    PROT_NONE range instead, for the rest of its life -- a SIGSEGV, which
    no guard catches, for a copy racing the revocation."""
    with mount() as fs:
        p = fs.path('rv')
        H.write_file(p, b'\x01' * (4 * MiB))
        with Client(stats=fs.stats) as d:
            leased_then_out_of_descriptors(d, p, 'r')
            os.truncate(p, 0)     # another process: the window is revoked
            maps = '/proc/%d/maps' % d.p.pid
            deadline = time.monotonic() + 10
            while True:
                with open(maps) as f:
                    text = f.read()
                if 'holdfs-revoked' in text or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            check('holdfs-revoked' in text, 'the revoked window is not the empty memfd '
                  '(PROT_NONE: a SIGSEGV for a copy racing it); mappings:\n%s' % text[-3000:])
            check_eq(d.ok('pread 0 4096')['n'], '0', 'the truncated file reads as empty')
            d.ok('unhog')


def test_daemon_death_is_eio():
    """The daemon dies: direct calls fail with EIO as soon as the
    process's listener sees the connection close (a call already past
    that check completes), and they never hang."""
    with mount() as fs:
        p = fs.path('d')
        H.write_file(p, b'\x01' * MiB)
        with Client(stats=fs.stats) as d:
            d.ok('open %s rw' % p)
            d.ok('pread 0 4096')
            d.ok('pread 0 4096')
            fs.kill_daemon(signal.SIGKILL, remount=False, clear=False)
            deadline = time.monotonic() + 5 * H.TIMEOUT_MULTIPLIER
            while True:
                ans = d.cmd('pread 0 4096', timeout=15)
                if ans.startswith('err') or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            check(ans.startswith('err 5 '), 'read after the daemon died: %r' % ans)
            check_eq(d.err_of('pwrite 0 1 1', timeout=15), 5, 'write after the daemon died')
            # the served calls that lease nothing answer the same (they
            # went to the kernel, whose dead FUSE connection says ENOTCONN)
            check_eq(d.err_of('fsync', timeout=15), 5, 'fsync after the daemon died')
            check_eq(d.err_of('fdatasync', timeout=15), 5, 'fdatasync after the daemon died')
            check_eq(d.err_of('seek 0 end', timeout=15), 5, 'SEEK_END after the daemon died')
            check_eq(d.err_of('pread 0 4096', timeout=15), 5, 'and it stays so')
            d.close()
        fs.clear_dead_mount()
        fs.mount()


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_direct: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
