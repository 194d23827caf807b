#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""holdfsctl drill: one whole-device and one range drill on fresh mounts.

    HOLDFS_BUILD=build python3 tests/failure/test_drill.py [-k NAME] [-x]

docs/failure-model.md, "Runbook".  The drill forks DAX clients (libholdfs)
and writers itself; these tests check its exit status and JSON report.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, os.path.join(HERE, '..', 'dax'))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq  # noqa: E402
import test_dax as D  # noqa: E402


def drill(fs, *args, timeout=120):
    r = subprocess.run([D.holdfsctl(), 'drill'] + [str(a) for a in args] + [fs.mnt],
                       capture_output=True, text=True, timeout=timeout)
    return r


def checks_of(rep):
    return {c['name']: c['ok'] for c in rep['checks']}


def test_drill_whole_device():
    with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        r = drill(fs, '--json', '--clients', 3, '--leases-per-client', 4, '--writers', 2,
                  '--deadline-ms', 5000)
        check(r.returncode == 0, 'drill exit %d: %s %s' % (r.returncode, r.stdout[-3000:], r.stderr))
        rep = json.loads(r.stdout)
        check_eq(rep['ok'], True, 'ok')
        check_eq(rep['kind'], 'whole', 'kind')
        check_eq(rep['inject'], 'truncate', 'inject method')
        check_eq(rep['expected_lost_leases'], 12, 'expected lost leases')
        check_eq(rep['leases_revoked_acked'] + rep['leases_revoked_killed'], 12, 'revoked')
        check_eq(rep['writers_eio'], 2, 'writers with EIO')
        check_eq(rep['hung'], [], 'hung workers')
        check_eq(rep['daemon_status']['state'], 'shutdown', 'daemon state')
        check(0 <= rep['all_holders_lost_ms'] <= 5000, 'lost ms %r' % rep['all_holders_lost_ms'])
        check('unmount_ms' in rep and not fs.mounted(), 'unmounted by the drill')
        for name in ('setup', 'state', 'holders', 'writers', 'no hung operations', 'unmount'):
            check(checks_of(rep).get(name), 'check %s: %r' % (name, rep['checks']))
        fs.unmount(check_clean=False)


def test_drill_range():
    with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        r = drill(fs, '--json', '--kind', 'range', '--clients', 3, '--leases-per-client', 3,
                  '--writers', 2)
        check(r.returncode == 0, 'drill exit %d: %s %s' % (r.returncode, r.stdout[-3000:], r.stderr))
        rep = json.loads(r.stdout)
        check_eq(rep['ok'], True, 'ok')
        check_eq(rep['kind'], 'range', 'kind')
        check_eq(rep['expected_lost_leases'], 1, 'expected lost leases')
        check_eq(rep['leases_revoked_acked'], 1, 'revoked leases')
        check_eq(rep['clients_killed'], 0, 'killed')
        check_eq(rep['writers_eio'], 0, 'writers with EIO')
        check_eq(rep['fsck_exit'], 0, 'fsck')
        check_eq(rep['mismatched_files'], [], 'mismatched files')
        check(rep['verified_files'] >= 2 + 2 + 4, 'verified %r' % rep['verified_files'])
        check_eq(rep['affected_files'], 1, 'affected files')
        check_eq(rep['daemon_status']['state'], 'degraded', 'state before the remount')
        c = checks_of(rep)
        for name in ('unaffected leases', 'fsck', 'remount', 'verify', 'lost range'):
            check(c.get(name), 'check %s: %r' % (name, rep['checks']))
        # the drill remounted (detached daemon): still a working mount
        check(fs.mounted(), 'remounted')
        check_eq(os.listdir(fs.mnt), [], 'drill directory removed')
        # human report and usage errors
        r = subprocess.run([D.holdfsctl(), 'drill', '--kind', 'bogus', fs.mnt],
                           capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 2, 'usage exit')
        r = drill(fs, '--kind', 'range', '--clients', 1, '--leases-per-client', 1, '--writers', 0)
        check(r.returncode == 0 and 'result: PASS' in r.stdout, 'human drill: %s %s' % (r.stdout, r.stderr))
        fs.unmount(check_clean=False)
        fs.fsck_clean('after two range drills')


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_drill: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
