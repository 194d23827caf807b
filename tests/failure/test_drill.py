#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""holdfsctl drill: whole-device, range, poison and offline drills on fresh mounts.

    HOLDFS_BUILD=build python3 tests/failure/test_drill.py [-k NAME] [-x]

docs/failure-model.md, "Runbook".  The drill forks DAX clients (libholdfs)
and writers itself; these tests check its exit status and JSON report.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

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


def with_svg(fn):
    """Run fn(svg path) with a timeline path outside the mount."""
    svgdir = tempfile.mkdtemp(prefix='hfs-drill-svg-')
    try:
        fn(os.path.join(svgdir, 'drill.svg'))
    finally:
        shutil.rmtree(svgdir, ignore_errors=True)


def test_drill_whole_device():
    with_svg(drill_whole_device)


def drill_whole_device(svg):
    with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        r = drill(fs, '--json', '--clients', 3, '--leases-per-client', 4, '--writers', 2,
                  '--deadline-ms', 5000, '--svg', svg)
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
        for name in ('setup', 'state', 'holders', 'writers', 'no hung operations', 'unmount',
                     'svg'):
            check(checks_of(rep).get(name), 'check %s: %r' % (name, rep['checks']))
        texts = check_svg(svg, 3, 2, [p['phase'] for p in rep['daemon_status']['phases']])
        for words in ('holdfs drill whole', 'injection', 'unmount', 'daemon exit'):
            check(words in texts, 'svg text %r' % words)
        fs.unmount(check_clean=False)


SVG_NS = '{http://www.w3.org/2000/svg}'


def check_svg(path, clients, writers, phases):
    """The timeline: well-formed XML, self-contained, a lane for the daemon,
    one per client and writer, and the daemon's phase names."""
    with open(path, encoding='utf-8') as f:
        txt = f.read()
    root = ET.fromstring(txt)     # raises on malformed XML
    check_eq(root.tag, SVG_NS + 'svg', 'svg root')
    for bad in ('<script', 'href=', 'url(', '@import'):
        check(bad not in txt, 'svg not self-contained: %r' % bad)
    lanes = [g.get('id') for g in root.iter(SVG_NS + 'g') if g.get('class') == 'lane']
    check_eq(sorted(x for x in lanes if x.startswith('lane-client-')),
             sorted('lane-client-%d' % i for i in range(clients)), 'client lanes')
    check_eq(sum(x.startswith('lane-writer-') for x in lanes), writers, 'writer lanes')
    check('lane-daemon' in lanes, 'daemon lane: %r' % lanes)
    texts = ' '.join(t.text or '' for t in root.iter(SVG_NS + 'text'))
    for p in phases:
        check(p in texts, 'phase %s not in the timeline: %r' % (p, texts[:2000]))
    return texts


def test_drill_range():
    with_svg(drill_range)


def drill_range(svg):
    with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        r = drill(fs, '--json', '--kind', 'range', '--clients', 3, '--leases-per-client', 3,
                  '--writers', 2, '--svg', svg)
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
        for name in ('unaffected leases', 'fsck', 'remount', 'verify', 'lost range', 'svg'):
            check(c.get(name), 'check %s: %r' % (name, rep['checks']))
        # the timeline of a failure drill: the phases of the daemon's status
        check_eq(rep['svg'], svg, 'svg in the report')
        check_svg(svg, 3, 2, [p['phase'] for p in rep['daemon_status']['phases']])
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


def test_drill_poison():
    with_svg(drill_poison)


def drill_poison(svg):
    """--kind poison: client 0 gets the machine check's SIGBUS
    (BUS_MCEERR_AR) on its first lease, whose block the daemon sees as
    poisoned (simulated); libholdfs reports it, the daemon confirms and
    fails the block: the toucher and every other holder of the block lose
    it, the rest goes on, fsck, remount and verify pass."""
    with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        r = drill(fs, '--json', '--kind', 'poison', '--clients', 3, '--leases-per-client', 2,
                  '--writers', 1, '--svg', svg)
        check(r.returncode == 0, 'drill exit %d: %s %s' % (r.returncode, r.stdout[-3000:], r.stderr))
        rep = json.loads(r.stdout)
        check_eq(rep['ok'], True, 'ok')
        check_eq(rep['kind'], 'poison', 'kind')
        check_eq(rep['inject'], 'client-sigbus', 'inject method')
        # client 0's lease and the two other clients' leases of the block
        check_eq(rep['expected_lost_leases'], 3, 'expected lost leases')
        check_eq(rep['leases_revoked_acked'], 3, 'revoked leases')
        check(rep['clients_sigbus'] >= 1, 'the toucher saw its SIGBUS: %r' % rep['clients_sigbus'])
        ev = [e for e in rep['daemon_status']['events'] if e['source'] == 'client poison']
        check(ev and ev[-1]['offset'] == rep['inject_offset'] and
              ev[-1]['outcome'].startswith('range failure'), 'the report: %r' % ev)
        check_eq(rep['affected_files'], 1, 'affected files')
        check_eq(rep['fsck_exit'], 0, 'fsck')
        check_eq(rep['mismatched_files'], [], 'mismatched files')
        check(fs.mounted(), 'remounted')
        check_svg(svg, 3, 1, [p['phase'] for p in rep['daemon_status']['phases']])
        fs.unmount(check_clean=False)


def test_drill_offline():
    """--kind offline: a planned removal under load.  Two clients let go on
    the notice, one (--stubborn) stops itself and is killed at the deadline;
    the daemon exits, the region is clean, fsck, remount and every file
    verify; the timeline has the offline phases and a lane per client."""
    svgdir = tempfile.mkdtemp(prefix='hfs-drill-svg-')
    svg = os.path.join(svgdir, 'offline.svg')
    # the mount point named through a symlink that XML must escape (and
    # a byte that is not UTF-8): the timeline's subtitle shows it
    odd = os.path.join(svgdir.encode(), b'mnt <&>"\' \xff')
    try:
        with H.HoldFS(size='128M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
            os.symlink(fs.mnt, odd)
            r = subprocess.run([D.holdfsctl().encode(), b'drill', b'--json', b'--kind', b'offline',
                                b'--clients', b'3', b'--leases-per-client', b'2',
                                b'--writers', b'2', b'--stubborn', b'1', b'--deadline-ms', b'800',
                                b'--svg', svg.encode(), odd],
                               capture_output=True, timeout=120)
            r.stdout, r.stderr = (r.stdout.decode(errors='replace'),
                                  r.stderr.decode(errors='replace'))
            check(r.returncode == 0, 'drill exit %d: %s %s' % (r.returncode, r.stdout[-3000:],
                                                                r.stderr))
            rep = json.loads(r.stdout)
            check_eq(rep['ok'], True, 'ok')
            check_eq((rep['kind'], rep['inject']), ('offline', 'admin-offline'), 'kind')
            check_eq((rep['clients_notified'], rep['clients_released'], rep['clients_killed']),
                     (3, 2, 1), 'clients notified, released, killed')
            o = rep['offline_report']
            check_eq((o['leases'], o['holders'], o['clients_notified'], o['deadline_ms']),
                     (6, 3, 3, 800), 'daemon: leases, holders, notified, deadline')
            check_eq((o['released_by_holders'], o['revoked'], o['killed']), (4, 2, 1),
                     'daemon: released, revoked, killed')
            check(rep['offline_phases_ms']['wait_clients'] >= 790,
                  'the stubborn client was waited for: %r' % rep['offline_phases_ms'])
            check_eq(rep['hung'], [], 'hung workers')
            check_eq(rep['mismatched_files'], [], 'mismatched files')
            check_eq(rep['verified_files'], 3 + 2 + 4, 'every file verified')
            c = checks_of(rep)
            for name in ('setup', 'offline', 'notice', 'released', 'stubborn', 'writers',
                         'no hung operations', 'daemon exit', 'fsck', 'remount', 'verify',
                         'svg'):
                check(c.get(name), 'check %s: %r' % (name, rep['checks']))
            check(fs.mounted(), 'remounted')
            check_eq(os.listdir(fs.mnt), [], 'drill directory removed')
            texts = check_svg(svg, 3, 2, ('refuse', 'notify', 'wait_clients', 'revoke',
                                          'drain', 'health'))
            for words in ('holdfs drill offline', 'client 2 (stubborn)', 'daemon exit',
                          'mnt <&>"\' ?, deadline 800 ms'):
                check(words in texts, 'svg text %r' % words)
            fs.unmount(check_clean=False)
            fs.fsck_clean('after an offline drill')
    finally:
        shutil.rmtree(svgdir, ignore_errors=True)


# Every combination of drill options either runs (and passes) or is
# refused up front: exit 2 and a message naming the problem, before the
# drill creates anything.  Rows: (name, mkfs args, region size, drill args
# (a callable gets the mount), expected: 'pass' or the refusal's words).
REFUSED = [
    ('range on a whole drill', ['--range', '0,4096'], '--range needs --kind range'),
    ('inject-only on a range drill', ['--kind', 'range', '--inject-only'],
     '--inject-only is for --kind whole'),
    ('keep on a whole drill', ['--keep'], 'are for --kind range'),
    ('fsck on a whole drill', ['--fsck', '/bin/true'], 'are for --kind range'),
    ('daemon on a whole drill', ['--daemon', '/bin/true'], 'are for --kind range'),
    ('no clients', ['--clients', '0'], 'bad number'),
    ('no leases', ['--leases-per-client', '0'], 'bad number'),
    ('too many leases', ['--leases-per-client', '5000'], 'bad number'),
    ('no deadline', ['--deadline-ms', '0'], 'bad number'),
    ('bad kind', ['--kind', 'bogus'], '--kind is whole, range, poison or offline'),
    ('stubborn on a whole drill', ['--stubborn', 1], '--stubborn is for --kind offline'),
    ('stubborn on a range drill', ['--kind', 'range', '--stubborn', 1],
     '--stubborn is for --kind offline'),
    ('more stubborn than clients', ['--kind', 'offline', '--clients', 2, '--stubborn', 3],
     'more stubborn clients than --clients'),
    ('range on an offline drill', ['--kind', 'offline', '--range', '0,4096'],
     '--range needs --kind range'),
    ('inject-only on an offline drill', ['--kind', 'offline', '--inject-only'],
     '--inject-only is for --kind whole'),
    ('svg to an unwritable path', ['--svg', '/nonexistent-holdfs-dir/t.svg'],
     '--svg /nonexistent-holdfs-dir/t.svg: No such file or directory'),
    ('svg to a directory', ['--kind', 'offline', '--svg', '/tmp'], '--svg /tmp: Is a directory'),
    ('svg on the drilled filesystem', lambda fs: ['--svg', fs.path('t.svg')],
     'is on the drilled filesystem'),
    ('offline more than fits', ['--kind', 'offline', '--clients', 32, '--leases-per-client', 64],
     'MiB free'),
    ('range on a poison drill', ['--kind', 'poison', '--range', '0,4096'],
     'a poison drill poisons the first block'),
    ('inject-only on a poison drill', ['--kind', 'poison', '--inject-only'],
     '--inject-only is for --kind whole'),
    ('more than fits', ['--kind', 'range', '--clients', 32, '--leases-per-client', 64],
     'MiB free'),
    ('range on the superblock', ['--kind', 'range', '--range', '0,4096'],
     'the fixed metadata'),
    ('range past the region', ['--kind', 'range', '--range', '%d,4096' % (1 << 40)],
     'outside the filesystem'),
    ('range on a directory', lambda fs: ['--kind', 'range', '--range', dir_range(fs)],
     'holds metadata (dir'),
]


def test_drill_refusals():
    """Combinations the mount cannot run are refused before anything is
    created, with a message that says why."""
    with H.HoldFS(size='64M', mount_opts=('allow_other', 'revoke_ms=500')) as fs:
        open(fs.path('x'), 'w').close()   # the root gets a directory block
        for name, args, words in REFUSED:
            r = drill(fs, *(args(fs) if callable(args) else args), timeout=60)
            check_eq(r.returncode, 2, '%s: exit (%s)' % (name, r.stderr[-500:]))
            check(words in r.stderr, '%s: message %r' % (name, r.stderr[-500:]))
            check_eq(os.listdir(fs.mnt), ['x'], '%s: nothing created' % name)
        fs.unmount()


def owned_block(fs, path, kind):
    ino = os.stat(path).st_ino
    j = D.admin(fs, D.ADMIN_HOLDERS, 0, os.path.getsize(fs.region))
    for o in j['owners']:
        if o['ino'] == ino and o['kind'] == kind:
            return o['region_off']
    H.fail('no %s block of %s: %r' % (kind, path, j['owners']))


def dir_range(fs):
    return '%d,4096' % owned_block(fs, fs.mnt, 'dir')  # the root's


def free_range(fs):
    """A block no file owns (near the end of a 64 MiB region)."""
    off = 60 << 20
    check_eq(D.admin(fs, D.ADMIN_HOLDERS, off, 4096)['owners'], [], 'owners of a free block')
    return '%d,4096' % off


def data_range(fs):
    """A data block of a file outside the drill's directory."""
    p = fs.path('outside')
    with open(p, 'wb') as f:
        f.write(b'o' * 65536)
    ino = os.stat(p).st_ino
    j = D.admin(fs, D.ADMIN_HOLDERS, 0, os.path.getsize(fs.region))
    for o in j['owners']:
        if o['ino'] == ino and o['kind'] == 'data':
            return ['--range', '%d,4096' % o['region_off']]
    H.fail('no data block of %s' % p)


RUNS = [
    # the case: 2048 leases (ADMIN_LEASES in many chunks)
    ('range 32x64', (), '1G', ['--kind', 'range', '--clients', 32, '--leases-per-client', 64]),
    ('whole 32x64', (), '1G', ['--clients', 32, '--leases-per-client', 64]),
    # a 2 MiB allocation unit: leases are 2 MiB, the files hold them
    ('range, 2M unit', ('-b', '2M'), '256M',
     ['--kind', 'range', '--clients', 2, '--leases-per-client', 3, '--writers', 1]),
    ('whole, 2M unit', ('-b', '2M'), '256M', ['--clients', 2, '--leases-per-client', 3]),
    ('poison, 2M unit', ('-b', '2M'), '256M',
     ['--kind', 'poison', '--clients', 2, '--leases-per-client', 2, '--writers', 0]),
    ('whole injected, no writers', (), '64M',
     ['--inject-only', '--clients', 2, '--leases-per-client', 2, '--writers', 0]),
    ('range on free space', (), '64M',
     lambda fs: ['--kind', 'range', '--clients', 2, '--leases-per-client', 2,
                 '--range', free_range(fs)]),
    ('range on given data, kept', (), '64M',
     lambda fs: ['--kind', 'range', '--keep', '--clients', 2, '--leases-per-client', 2]
     + data_range(fs)),
    # offline: 2048 leases let go on the notice; every client stubborn
    # (killed) with the daemon binary named; no writers, the directory
    # kept, fsck named, a 2 MiB unit
    ('offline 32x64', (), '1G', ['--kind', 'offline', '--clients', 32,
                                 '--leases-per-client', 64]),
    ('offline, all stubborn, daemon named', (), '64M',
     lambda fs: ['--kind', 'offline', '--clients', 2, '--leases-per-client', 1,
                 '--stubborn', 2, '--deadline-ms', 300, '--daemon', H.holdfs_bin()]),
    ('offline, 2M unit, no writers, kept', ('-b', '2M'), '256M',
     lambda fs: ['--kind', 'offline', '--keep', '--clients', 2, '--leases-per-client', 2,
                 '--writers', 0, '--deadline-ms', 1000, '--fsck', fsck_bin()]),
]


def fsck_bin():
    return os.path.join(H.build_dir(), 'fsck', 'fsck.holdfs')


def test_drill_combinations():
    """Every other combination runs and passes, each on a fresh mount."""
    for name, mkfs, size, args in RUNS:
        with H.HoldFS(size=size, mkfs_args=mkfs,
                      mount_opts=('allow_other', 'revoke_ms=500')) as fs:
            a = args(fs) if callable(args) else args
            r = drill(fs, '--json', *a, timeout=240)
            check(r.returncode == 0, '%s: exit %d: %s %s' % (name, r.returncode,
                                                             r.stdout[-3000:], r.stderr[-2000:]))
            rep = json.loads(r.stdout)
            check_eq(rep['ok'], True, '%s: ok' % name)
            if '--keep' in a:
                check(any(n.startswith('holdfs-drill.') for n in os.listdir(fs.mnt)),
                      '%s: directory kept' % name)
            fs.unmount(check_clean=False)


def main():
    ap = H.default_parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    print('# test_drill: HOLDFS_BUILD=%s' % H.build_dir())
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
