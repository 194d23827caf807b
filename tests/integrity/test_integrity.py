#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Data integrity: datacheck's random operations against its model.

    HOLDFS_BUILD=build python3 tests/integrity/test_integrity.py [-k NAME]

The same checker (tests/integrity/datacheck.c: read, write, mapped reads
and writes, truncate up and down, punch hole, zero range, fallocate,
copy_file_range, reopen, a forked verifier every 1000 operations) runs
on kernel tmpfs first (calibration: the model is the kernel's own
behaviour), then on holdfs through the FUSE path (mappings in the page
cache), through libholdfs leases, and through the preload shim; the DAX
runs also store past EOF and check that those stores never become file
content and that a mapping shows zeros past EOF after a truncate down.
Each run prints its seed; a failure says how to replay it.

Environment:
  HOLDFS_DATACHECK_OPS   operations per holdfs run (default 100000;
                         calibration runs a fifth of it)
  HOLDFS_DATACHECK_SEED  seed for every run (default: a fresh one each)
"""

import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import hfstest as H  # noqa: E402
from hfstest import check_eq, note  # noqa: E402


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
    timeout = 1500 * H.TIMEOUT_MULTIPLIER
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    for ln in r.stdout.splitlines():
        note(ln)
    check_eq(r.returncode, 0, 'datacheck (seed %d) exit status; stderr:\n%s'
             % (s, r.stderr[-6000:]))


def test_tmpfs_calibration():
    """The model agrees with the kernel's own filesystem (page-cache
    mappings, no stores past EOF; tmpfs has no FALLOC_FL_ZERO_RANGE)."""
    with H.Tmpfs() as t:
        run_check(t.path('f'), ['--map', 'mmap', '--exclude', 'zero'],
                  nops=ops(0.2))


def test_fuse_path():
    """holdfs through FUSE: read/write and page-cache mappings."""
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
    """An unmodified program's mmap/msync under the preload shim: every
    mapping must be a DAX lease (datacheck --dax checks /proc/self/maps)."""
    with H.HoldFS(size='256M') as fs:
        run_check(fs.path('f'), ['--map', 'mmap', '--dax'],
                  env=H.shim_env({'HOLDFS_LOG': '0'}))
        fs.unmount()
        fs.fsck_clean('after the shim run')


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
