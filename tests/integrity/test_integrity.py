#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Data integrity: datacheck's random operations against its model.

    HOLDFS_BUILD=build python3 tests/integrity/test_integrity.py [-k NAME]

The same checker (tests/integrity/datacheck.c: reads and writes through
pread/pwrite, read/write, preadv/pwritev, readv/writev, preadv2/pwritev2,
O_APPEND writes, mapped reads and writes, truncate up and down, punch
hole, zero range, fallocate, copy_file_range, reopen, fsync, a forked
verifier every 1000 operations) runs on kernel tmpfs first (calibration:
the model is the kernel's own behaviour), then on holdfs through the FUSE
path (mappings in the page cache), through libholdfs leases, through the
preload shim's mappings with the data path off, and with the whole
process under the shim and the direct data path on (its counters, from
HOLDFS_DATAPATH_STATS, are printed and checked as in hfstest's shim
mode); the DAX runs also store past EOF and check that those stores
never become file content and that a mapping shows zeros past EOF after a
truncate down.

Two writers on one file (datacheck --part, --log): each owns half of the
file and runs the mix there while both append self-describing records to
one O_APPEND log; afterwards datacheck --check-log finds every record
exactly once and intact and each half as its writer's model says.  On
tmpfs (calibration), with one writer under the shim and one through the
kernel, and with both under the shim.

Each run prints its seed; a failure says how to replay it.

Environment:
  HOLDFS_DATACHECK_OPS   operations per holdfs run (default 100000;
                         calibration runs a fifth of it, each of two
                         writers half of it)
  HOLDFS_DATACHECK_SEED  seed for every run (default: a fresh one each)
  HOLDFS_TEST_REQUIRE_DIRECT=1  the shim runs must have served some read
                         or write directly
"""

import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, note  # noqa: E402

TIMEOUT = 1500 * H.TIMEOUT_MULTIPLIER


def datacheck():
    p = os.environ.get('HOLDFS_DATACHECK') or os.path.join(
        H.build_dir(), 'tests', 'integrity', 'datacheck')
    H.require(os.path.exists(p), 'datacheck not built (%s)' % p)
    return p


def ops(fraction=1.0):
    return max(int(int(os.environ.get('HOLDFS_DATACHECK_OPS', '100000')) * fraction), 1)


def seed():
    s = os.environ.get('HOLDFS_DATACHECK_SEED')
    return int(s) if s else random.SystemRandom().randrange(1, 1 << 48)


def run_check(path, args, env=None, nops=None):
    """datacheck on path; fails the test with its report unless exit 0."""
    s = seed()
    cmd = [datacheck(), '--ops', str(nops or ops()), '--seed', str(s)] + args + [path]
    note('%s' % ' '.join(cmd))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    for ln in r.stdout.splitlines():
        note(ln)
    check_eq(r.returncode, 0, 'datacheck (seed %d) exit status; stderr:\n%s'
             % (s, r.stderr[-6000:]))


def direct_env(stats):
    """The whole process under the shim, the data path on, its counters
    appended to stats."""
    return H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH_STATS': stats})


def test_tmpfs_calibration():
    """The model agrees with the kernel's own filesystem (page-cache
    mappings, no stores past EOF; tmpfs has no FALLOC_FL_ZERO_RANGE)."""
    with H.Tmpfs() as t:
        run_check(t.path('f'), ['--map', 'mmap', '--exclude', 'zero'],
                  nops=ops(0.2))


def test_fuse_path():
    """holdfs through FUSE: every read and write call, O_APPEND, and
    page-cache mappings."""
    with H.HoldFS(size='256M') as fs:
        run_check(fs.path('f'), ['--map', 'mmap'])
        fs.unmount()
        fs.fsck_clean('after the FUSE-path run')


def test_libholdfs_leases():
    """Mapped I/O through holdfs_map/holdfs_persist (DAX leases), with
    stores past EOF."""
    with H.HoldFS(size='256M') as fs:
        run_check(fs.path('f'), ['--map', 'libholdfs', '--dax'])
        fs.unmount()
        fs.fsck_clean('after the libholdfs run')


def test_preload_shim():
    """An unmodified program's mmap/msync under the preload shim with the
    data path off (HOLDFS_DATAPATH=0): every mapping must be a DAX lease
    (datacheck --dax checks /proc/self/maps), every call goes to the
    kernel."""
    with H.HoldFS(size='256M') as fs:
        run_check(fs.path('f'), ['--map', 'mmap', '--dax'],
                  env=H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH': '0'}))
        fs.unmount()
        fs.fsck_clean('after the shim run')


def test_direct_data_path():
    """The whole datacheck process under the shim, the data path on: its
    plain reads and writes (every call), appends and syncs go through the
    direct data path, its mappings are DAX leases."""
    with H.HoldFS(size='256M') as fs:
        stats = os.path.join(fs.tmpdir, H.DP_STATS_FILE)
        run_check(fs.path('f'), ['--map', 'mmap', '--dax', '--direct'], env=direct_env(stats))
        H.check_dp_stats(stats, 'datacheck --direct')
        fs.unmount()
        fs.fsck_clean('after the direct data-path run')


# ---------------------------------------------------------------------------
# two writers on one file


def run_writers(data, log, writers, nops):
    """datacheck --part i/N for every (env, args) of writers, all at once
    on data and the shared log; the first to fail stops the others."""
    s = seed()
    n = len(writers)
    procs = []
    for i, (env, args) in enumerate(writers):
        cmd = ([datacheck(), '--ops', str(nops), '--seed', str(s), '--part', '%d/%d' % (i, n),
                '--log', log] + args + [data])
        shim = ' (under the shim)' if env and 'LD_PRELOAD' in env else ''
        note('%s%s' % (' '.join(cmd), shim))
        out = tempfile.TemporaryFile(mode='w+')
        procs.append((subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       text=True), out))
    deadline = time.monotonic() + TIMEOUT
    while any(p.poll() is None for p, _ in procs):
        if any(p.returncode for p, _ in procs) or time.monotonic() > deadline:
            for p, _ in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.05)
    failed = []
    for i, (p, out) in enumerate(procs):
        out.seek(0)
        text = out.read()
        out.close()
        if p.returncode == 0:
            for ln in text.splitlines():
                note('writer %d: %s' % (i, ln))
        else:
            failed.append('writer %d (seed %d) exited %s:\n%s'
                          % (i, s, H._rc_desc(p.returncode), text[-4000:]))
    check(not failed, '\n'.join(failed))


def check_log(data, log, n, env=None):
    cmd = [datacheck(), '--check-log', log, '--parts', str(n), data]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    how = 'under the shim' if env else 'through the kernel'
    for ln in r.stdout.splitlines():
        note('%s: %s' % (how, ln))
    check_eq(r.returncode, 0, '%s %s exit status; stderr:\n%s'
             % (' '.join(cmd), how, r.stderr[-4000:]))


def two_writers(fs, envs, args):
    """Two writers (envs[i], args[i]) on fs, then --check-log through the
    kernel and under the shim (when a writer ran under it)."""
    data, log = fs.path('data'), fs.path('log')
    run_writers(data, log, list(zip(envs, args)), ops(0.5))
    check_log(data, log, len(envs))
    shimmed = [e for e in envs if e]
    if shimmed:
        check_log(data, log, len(envs), env=shimmed[0])


def test_tmpfs_two_writers():
    """Calibration of the two-writer run and its checker on tmpfs."""
    with H.Tmpfs() as t:
        plain = ['--map', 'mmap', '--exclude', 'zero']
        run_writers(t.path('data'), t.path('log'), [(None, plain), (None, plain)], ops(0.1))
        check_log(t.path('data'), t.path('log'), 2)


def test_two_writers_one_shim():
    """Writer 0 under the shim (data path, DAX mappings), writer 1 through
    the kernel (page-cache mappings), on one file and one O_APPEND log."""
    with H.HoldFS(size='256M') as fs:
        stats = os.path.join(fs.tmpdir, H.DP_STATS_FILE)
        two_writers(fs, [direct_env(stats), None],
                    [['--map', 'mmap', '--dax', '--direct'], ['--map', 'mmap']])
        H.check_dp_stats(stats, 'two writers, one under the shim')
        fs.unmount()
        fs.fsck_clean('after two writers, one under the shim')


def test_two_writers_shim():
    """Both writers under the shim: appends of two data-path clients to
    one log (the slot lock between processes)."""
    with H.HoldFS(size='256M') as fs:
        stats = os.path.join(fs.tmpdir, H.DP_STATS_FILE)
        env = direct_env(stats)
        args = ['--map', 'mmap', '--dax', '--direct']
        two_writers(fs, [env, env], [args, args])
        H.check_dp_stats(stats, 'two writers under the shim')
        fs.unmount()
        fs.fsck_clean('after two writers under the shim')


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
