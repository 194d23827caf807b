#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Layout changes racing the direct data path (docs/data-path.md,
"Revocation and failures").

    HOLDFS_BUILD=build python3 tests/datapath/test_race.py [-k NAME]

dp_race (dp_race.c) appends whole records to a file with write(2) on an
O_APPEND descriptor while a thread of it reads the file from start to end
over and over; at the same time another process truncates the file down
and up, punches, zeroes and allocates, always at record boundaries.  Every
read must find each record slot all zeros or one intact record, records
in the order they were appended, a size that is a multiple of the record
length, and no short write or odd read count; never a SIGBUS.  The
appender runs under the preload shim (its calls served directly); the
mangler without it (through FUSE), or under it too.

Part of scripts/test.sh (meson suite `race`).  What it found, now fixed
and each covered by a test of its own: stale records from a REVOKE that
overtook its LEASE_OK (test_client.py test_fake_revoke_before_lease_ok),
windows born live over freed blocks (test_direct.py storm), a direct
read torn by a concurrent zero range or by a REMAP (test_direct.py
test_reads_never_torn_by_*), a LEASE_OK sent ahead of
the REVOKE queued before it (tests/unit/test_grant_order.c), a client
killed for an ack the daemon had not read yet
(tests/unit/test_ack_grace.c).  A race shows only now and then; loop it
when changing the data path:

    for i in $(seq 100); do meson test -C build --suite race || break; done

    HOLDFS_RACE_APPENDS   records appended per run (default 3000)
    HOLDFS_RACE_SEED      the mangler's seed (default: a fresh one)
"""

import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, note  # noqa: E402

TIMEOUT = 600 * H.TIMEOUT_MULTIPLIER


def dp_race():
    p = os.path.join(H.build_dir(), 'tests', 'datapath', 'dp_race')
    H.require(os.path.exists(p), 'dp_race not built (%s)' % p)
    return p


def appends():
    return int(os.environ.get('HOLDFS_RACE_APPENDS', '3000'))


def seed():
    s = os.environ.get('HOLDFS_RACE_SEED')
    return int(s) if s else random.SystemRandom().randrange(1, 1 << 48)


def stats_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [ln for ln in f.read().splitlines() if ln.strip()]


def race(mangler_shim):
    with H.HoldFS(size='256M') as fs:
        p = fs.path('race')
        H.write_file(p, b'')
        stats = os.path.join(fs.tmpdir, H.DP_STATS_FILE)
        shim = H.shim_env({'HOLDFS_LOG': '0', 'HOLDFS_DATAPATH_STATS': stats})
        s = seed()
        n = appends()
        app_cmd = [dp_race(), 'append', p, str(n), str(s)]
        mng_cmd = [dp_race(), 'mangle', p, str(n // 3), str(s)]
        note('%s (under the shim) with %s%s' % (' '.join(app_cmd), ' '.join(mng_cmd),
                                                ' (under the shim)' if mangler_shim else ''))
        # output to files: a pipe nobody reads while waiting for the
        # other process could block a logging thread (the listener's ack)
        outs = [tempfile.TemporaryFile(mode='w+') for _ in range(2)]
        app = subprocess.Popen(app_cmd, env=shim, stdout=outs[0], stderr=subprocess.STDOUT,
                               text=True)
        mng = subprocess.Popen(mng_cmd, env=shim if mangler_shim else None, stdout=outs[1],
                               stderr=subprocess.STDOUT, text=True)
        try:
            mng.wait(timeout=TIMEOUT)
            app.wait(timeout=TIMEOUT)
        finally:
            for pr in (app, mng):
                if pr.poll() is None:
                    pr.kill()
                    pr.wait()
        for f in outs:
            f.seek(0)
        aout, mout = outs[0].read(), outs[1].read()
        for f in outs:
            f.close()
        for ln in (mout + aout).splitlines():
            note(ln)
        check_eq(mng.returncode, 0, 'mangler (seed %d): %s' % (s, mout[-3000:]))
        check_eq(app.returncode, 0, 'appender (seed %d): %s' % (s, aout[-3000:]))
        for env, how in ((None, 'through the kernel'), (shim, 'under the shim')):
            r = subprocess.run([dp_race(), 'check', p], env=env, capture_output=True,
                               text=True, timeout=TIMEOUT)
            check_eq(r.returncode, 0, 'check %s (seed %d): %s' % (how, s, r.stderr[-3000:]))
        H.check_dp_stats(stats, 'dp_race append')
        fs.unmount()
        fs.fsck_clean('after the race (seed %d)' % s)


def test_layout_changes_through_fuse():
    """The mangler without the shim: its calls go through FUSE."""
    race(mangler_shim=False)


def test_layout_changes_under_the_shim():
    """The mangler under the shim too (its ftruncate and fallocate go to
    the kernel all the same, its fstat takes the slot's size)."""
    race(mangler_shim=True)


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
