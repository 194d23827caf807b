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
test_revocation_storm_is_not_eio: two direct clients read, write, append
and fsync one file while another process truncates and punches it; no
call may answer EIO.

Not run by scripts/test.sh (meson suite `race` only): these runs still
fail now and then on open bugs of the direct data path (issue 13's
notes): stale record content after layout changes (about 1 run in 100
of the dp_race tests), a direct read torn by a concurrent zero range,
and, in about 1 run in 10 of the storm test on a busy machine, a direct
client SIGKILLed by the daemon's reaping (after the other client exited
with a revocation unacknowledged) because it still maps, whole, a
reservation lease whose range the daemon had marked revoked: the two
sides disagree about a revoked lease, which may also be where the stale
bytes come from.  Loop it:

    for i in $(seq 100); do meson test -C build --suite race || break; done

    HOLDFS_RACE_APPENDS   records appended per run (default 3000)
    HOLDFS_RACE_SEED      the mangler's seed (default: a fresh one)
"""

import ctypes
import os
import random
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq, note  # noqa: E402
import test_direct as T  # noqa: E402

MiB = 1 << 20

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


def test_revocation_storm_is_not_eio():
    """Another process truncates and punches the file in a loop while two
    direct clients read, write, append and fsync it: a layout change is
    never a failure, so no call of theirs may fail (no EIO), and the
    truncates revoked windows under them all along.  A revocation that
    arrived between a lease's grant and its window's entry used to leave
    the window live over the empty file: the next copy there faulted and
    answered EIO (hundreds of times a second in this loop)."""
    with T.mount() as fs:
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
            procs = [subprocess.Popen([T.dp_client(), '--mixed', p, '5000', str(seed)],
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
        st = T.stats_of(fs.stats)
        check_eq(st.get('eio', 0), 0, 'direct calls answered EIO: %r' % st)
        T.served(fs, 'writes', 1)
        T.served(fs, 'appends', 1)


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
