#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The direct data path's descriptor layer and the preload shim's I/O half.

dp_prog (dp_prog.c) runs one scenario of POSIX calls and prints each
call's result, errno and file offset.  Every scenario runs on a real holdfs
mount in four modes, and all four must print the same:

    kernel    no shim: libc and FUSE, the reference
    shim      LD_PRELOAD=libholdfs-preload.so: holdfs descriptors served
    off       the shim with HOLDFS_DATAPATH=0: pure pass-through
    lib       no shim, the calls made through libholdfs's holdfs_* (DP_LIB=1)

and again with shim and lib on libholdfs built with a stand-in engine
(stand_in_engine.c) that serves every call, so that the layer's served
branch (offsets moved after a served copy, appends, counters) is held to
the same answers before the real engine serves anything:

    served-shim, served-lib

Key lines are also checked against what Linux does, so four equally wrong
answers fail too.  The counters (HOLDFS_DATAPATH_STATS=PATH, one JSON line
per process) are checked in a way that holds for the engine of today (it
sends every call to the kernel: counted as "kernel") and for the real one
(served calls counted as reads, writes, ...).

    HOLDFS_BUILD=build python3 tests/datapath/test_datapath.py [-k NAME]
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))

import hfstest  # noqa: E402
from hfstest import check, check_eq, note  # noqa: E402

SCENARIOS = ('io', 'append', 'dup', 'fork', 'exec', 'reuse', 'stdio',
             'errors', 'plain', 'fortify', 'threads', 'sigclose', 'badbuf',
             'fsize', 'sigappend')
MODES = ('kernel', 'shim', 'off', 'lib')
SERVED_MODES = ('kernel', 'served-shim', 'served-lib')
# Variables the harness's own environment must not leak into a mode.
OURS = ('LD_PRELOAD', 'HOLDFS_DATAPATH', 'HOLDFS_DATAPATH_STATS', 'DP_LIB')


def prog(name='dp_prog'):
    p = os.path.join(hfstest.build_dir(), 'tests', 'datapath', name)
    hfstest.require(os.path.exists(p), '%s is not built' % p)
    return p


def stand_in_lib():
    return prog('libholdfs.so.0')


def mode_env(mode, stats=None):
    if mode in ('shim', 'off', 'served-shim'):
        e = hfstest.shim_env()
    else:
        e = dict(os.environ)
        for k in OURS:
            e.pop(k, None)
    if mode.startswith('served-'):
        # ahead of the shim (after a sanitizer runtime): the process's libholdfs
        pre = [p for p in e.get('LD_PRELOAD', '').split(':') if p]
        pre.insert(max(len(pre) - 1, 0), stand_in_lib())
        # a sanitized stand-in needs its runtime first, shim or not
        runtimes = [r for r in hfstest._sanitizer_runtimes(stand_in_lib()) if r not in pre]
        e['LD_PRELOAD'] = ':'.join(runtimes + pre)
        if runtimes:
            e['ASAN_OPTIONS'] = 'detect_leaks=0'   # as shim_env: the runtime is preloaded
    # meson puts the stand-in's directory on LD_LIBRARY_PATH (the test
    # depends on it): only LD_PRELOAD may choose it
    stand_in_dir = os.path.realpath(os.path.dirname(stand_in_lib()))
    e['LD_LIBRARY_PATH'] = ':'.join(
        p for p in e.get('LD_LIBRARY_PATH', '').split(':')
        if p and os.path.realpath(p) != stand_in_dir)
    if mode == 'off':
        e['HOLDFS_DATAPATH'] = '0'
    if mode in ('lib', 'served-lib'):
        e['DP_LIB'] = '1'
    if stats:
        e['HOLDFS_DATAPATH_STATS'] = stats
    return e


def run(scenario, d, mode, binary='dp_prog', stats=None):
    """dp_prog SCENARIO D in mode; (stdout, stderr)."""
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([prog(binary), scenario, d], env=mode_env(mode, stats),
                       capture_output=True, text=True,
                       timeout=120 * hfstest.TIMEOUT_MULTIPLIER)
    check_eq(r.returncode, 0, '%s %s in mode %s (stdout %r, stderr %r)'
             % (binary, scenario, mode, r.stdout[-800:], r.stderr[-800:]))
    return r.stdout, r.stderr


def first_difference(a, b):
    la, lb = a.splitlines(), b.splitlines()
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else '<none>'
        y = lb[i] if i < len(lb) else '<none>'
        if x != y:
            return 'line %d: %r != %r' % (i + 1, x, y)
    return 'none'


def same_everywhere(base, scenario, binary='dp_prog', modes=MODES):
    """Run scenario in every mode under base/<mode>; the outputs must be
    equal.  Returns the output."""
    outs = {m: run(scenario, os.path.join(base, m), m, binary)[0] for m in modes}
    for m in modes[1:]:
        check(outs[m] == outs[modes[0]],
              '%s %s: mode %s differs from %s at %s' % (
                  binary, scenario, m, modes[0],
                  first_difference(outs[modes[0]], outs[m])))
    return outs[modes[0]]


def has(out, *lines):
    for ln in lines:
        check(ln in out.splitlines(), 'expected the line %r in:\n%s' % (ln, out))


def stats_lines(path):
    try:
        with open(path) as f:
            return {j['pid']: j for j in map(json.loads, f.read().splitlines())}
    except FileNotFoundError:
        return {}


def one_run_stats(fs, scenario, mode):
    """Run scenario in mode on fs with HOLDFS_DATAPATH_STATS; its one
    process's counters."""
    st = os.path.join(fs.tmpdir, 'stats-%s-%s.json' % (scenario, mode))
    run(scenario, fs.path('%s-%s' % (scenario, mode)), mode, stats=st)
    lines = stats_lines(st)
    check_eq(len(lines), 1, 'processes reporting counters (%s)' % lines)
    (j,) = lines.values()
    note('%s %s: %s' % (scenario, mode, j))
    return j


def pids(stderr, prefix):
    """The pids of stderr's lines "PREFIX PID ..."."""
    return [int(ln.split()[len(prefix.split())]) for ln in stderr.splitlines()
            if ln.startswith(prefix + ' ')]


# ---------------------------------------------------------------------------
# the same results with and without the data path


EXPECT = {
    'io': ["read 5 = 5 'hello' off=5",
           "readv 4+5 = 7 ' world\\x0a' off=12",
           "read at eof = 0 '' off=12",
           "pread 4 at 6 = 4 'worl' off=12",
           'off=20 size=20',
           "preadv2 -1 = 6 'vector' off=9",
           'off=17 size=34',
           'preadv2 nowait at 0 = -1 EOPNOTSUPP',
           'lseek end -3 = 31',
           'lseek cur -40 = -1 EINVAL',
           'off=135 size=20',
           'size=10000',
           'same bytes: yes off=101000',
           'read from creat\'s fd = -1 EBADF',
           "pread through openat = 8 'created+' off=8"],
    # Linux: pwrite on O_APPEND appends and leaves the offset; RWF_APPEND
    # with offset -1 moves it, with an offset does not; RWF_NOAPPEND
    # writes in place
    'append': ['off=12 size=12', 'off=14 size=14', 'off=14 size=16',
               'O_APPEND now 0', 'off=2 size=16', 'O_APPEND now 1',
               'off=18 size=18', 'off=20 size=20', 'off=3 size=22',
               "  content = 22 'XY23ij6789abcdefghijij' off=22"],
    'dup': ["read dup 4 = 4 'efgh' off=8",
            "read 51 = 3 'lmn' off=14",
            "read dup after close = 4 'uvwx' off=24",
            "read the number now = 4 'yz01' off=28",
            "  content = 62 'abcdefghijklmnopqr__uvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' off=62"],
    'fork': ["child read 6 = 6 '456789' off=10",
             "parent read 4 after the child = 4 'fghi' off=19",
             'parent sees O_APPEND 1', 'off=38 size=38'],
    'exec': ["  child read = 5 '34567' off=8",
             "parent read 3 = 3 '9ab' off=12",
             "  child read = 5 'cdefg' off=17",
             "parent read 3 = 3 'ijk' off=21",
             "  content = 36 '01234567!9abcdefg!ijklmnopqrstuvwxyz' off=36"],
    'reuse': ['the pipe took the number: yes',
              "read pipe = 5 'pipe!' off=-1",
              'raw open took the number: yes',
              "read the number = 6 'SECOND' off=6",
              'lseek end = 11',
              'the socket took the number: yes',
              "read socket = 4 'sock' off=-1",
              "read the number = 4 'SECO' off=4",
              'F_GETFD 150 after closefrom = -1 EBADF'],
    'stdio': ["  content = 28 'line 1\\x0aline 2\\x0aline 3\\x0aline 4\\x0a' off=28"],
    'errors': ['read on O_WRONLY = -1 EBADF', 'lseek whence 42 = -1 EINVAL',
               'pwrite at -1 = -1 EINVAL', 'pwritev2 bad flags = -1 EOPNOTSUPP',
               'dup3 onto itself = -1 EINVAL', 'read closed = -1 EBADF',
               'close closed = -1 EBADF', 'write on O_RDONLY = -1 EBADF',
               'read the directory = -1 EISDIR', 'read O_PATH = -1 EBADF',
               'errno after calls that succeeded: 1234'],
    'plain': ['read empty nonblocking pipe = -1 EAGAIN',
              'errno after calls that succeeded: 4321'],
    'fortify': ["read = 8 'fortifie' off=8", "pread = 8 'rtified ' off=8",
                "read after open = 8 'fortifie' off=8",
                "read after openat = 8 'fortifie' off=8"],
    'threads': ['bytes of neither file: 0'],
    'sigclose': ['sigclose: 2000 closes by the handler, 0 reads of other bytes'],
    # the kernel's EFAULT, or the bytes before the first bad page; the
    # program's own SIGSEGV handler and the default action as ever
    'badbuf': ['write from a bad pointer = -1 EFAULT',
               'pwrite past eof from a bad pointer = -1 EFAULT',
               'read into a bad pointer = -1 EFAULT',
               'pread into read-only memory = -1 EFAULT',
               'pwrite from half a buffer = 4096',
               'pwrite past eof from half a buffer = 4096',
               'pread into half a buffer = 4096',
               'writev, bad second vector = 10',
               'preadv, bad second vector = 10',
               'append from a bad pointer = -1 EFAULT',
               'append from half a buffer = 4096',
               "the program's own handler ran 1 time(s)",
               'a fault with the default action: killed by SIGSEGV'],
    # RLIMIT_FSIZE 20000: short across it, EFBIG and SIGXFSZ at or past it
    'fsize': ['pwrite across the limit = 3616', 'SIGXFSZ 0',
              'pwrite past the limit = -1 EFBIG', 'SIGXFSZ 2',
              'append at the limit = -1 EFBIG',
              'write across the limit = 10',
              'off=20000 size=20000 SIGXFSZ 3',
              'pwrite past the old limit = 8192',
              'size=38292 SIGXFSZ 4'],
}
EXPECT['fsize-late'] = EXPECT['fsize'][:7]
EXPECT['sigappend'] = ["sigappend: main's records whole and in order: yes",
                       "sigappend: the handler's records whole and in order: yes",
                       'sigappend: other bytes: 0']


def _scenarios_on_mount(binary):
    with hfstest.HoldFS(size='256M') as fs:
        for sc in SCENARIOS:
            out = same_everywhere(fs.path(binary, sc), sc, binary)
            has(out, *EXPECT[sc])
            note('%s %s: %d lines alike in %d modes' % (binary, sc,
                                                       len(out.splitlines()), len(MODES)))


def test_same_results_lfs():
    """Every scenario, 64-bit offset names (open64, pread64, fcntl64, ...)."""
    _scenarios_on_mount('dp_prog')


def test_same_results_nolfs():
    """Every scenario, the plain names (open, pread, fcntl, ...)."""
    _scenarios_on_mount('dp_prog_nolfs')


def test_same_results_fortified():
    """-D_FORTIFY_SOURCE=2: read is __read_chk, open __open64_2, ..."""
    syms = subprocess.run(['nm', '-D', prog('dp_prog_fortify')], capture_output=True,
                          text=True).stdout
    for s in ('__read_chk', '__pread64_chk', '__open64_2', '__openat64_2'):
        check(' U %s@' % s in syms, 'dp_prog_fortify does not call %s' % s)
    with hfstest.HoldFS(size='128M') as fs:
        for sc in ('fortify', 'io', 'errors'):
            has(same_everywhere(fs.path('fortify', sc), sc, 'dp_prog_fortify'),
                *EXPECT[sc])


def test_served_by_stand_in_engine():
    """Every scenario with an engine that serves every call: the same
    answers as the kernel's."""
    with hfstest.HoldFS(size='256M') as fs:
        for sc in SCENARIOS:
            out = same_everywhere(fs.path('served', sc), sc, modes=SERVED_MODES)
            has(out, *EXPECT[sc])


def test_file_size_limit_lowered_while_open():
    """RLIMIT_FSIZE lowered while the file is open and leased: the shim's
    setrlimit() makes the data path see it at once.  (A program that links
    libholdfs sees it from its next file, docs/data-path.md: no 'lib'.)"""
    with hfstest.HoldFS(size='128M') as fs:
        has(same_everywhere(fs.path('late'), 'fsize-late',
                            modes=('kernel', 'shim', 'off')),
            *EXPECT['fsize-late'])


def test_signal_handler_appends_never_wait():
    """A SIGALRM handler appends to the file its thread is appending to,
    every millisecond: every record whole, and no append of the handler
    ever waited for the slot lock its own interrupted thread held
    (slot_busy 0).  Before, such an append gave up after 2 s, and its
    kernel write waited until the daemon took the lock over."""
    with hfstest.HoldFS(size='128M') as fs:
        j = one_run_stats(fs, 'sigappend', 'shim')
        check(j['appends'] >= 100, 'appends served directly: %s' % j)
        check_eq(j['kernel_why']['slot_busy'], 0, 'appends that found the slot lock busy')
        check('holds the slot lock' not in fs.daemon_log(),
              'the daemon saw a slot lock held too long: %s' % fs.daemon_log()[-600:])


def test_a_crash_dumps_core_at_the_fault():
    """A program that crashes once libholdfs's SIGSEGV handler is in (the
    data path's first file) dies of SIGSEGV as without it, and its core
    shows the faulting function on top: the handler puts the default
    action back and the signal arrives as the interrupted context is
    restored.  Before, frame 0 was the handler's re-queue (die_of).  In a
    sanitized build the handler passes the fault to the sanitizer's,
    which reports it at the same function."""
    pattern = open('/proc/sys/kernel/core_pattern').read().strip()
    hfstest.require(pattern and not pattern.startswith('|') and '/' not in pattern,
                    'core_pattern %r does not write a core file to the working directory'
                    % pattern)
    gdb = shutil.which('gdb')
    hfstest.require(gdb, 'gdb is not installed (scripts/setup-deps.sh installs it)')
    sanitized = bool(hfstest._sanitizer_runtimes(prog()))

    def core_limit():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    with hfstest.HoldFS(size='64M') as fs:
        for mode in ('shim', 'lib'):
            d = fs.path('segv-' + mode)
            os.makedirs(d)
            cwd = tempfile.mkdtemp(prefix='hfstest-core-')
            try:
                r = subprocess.run([prog(), 'segv', d], env=mode_env(mode), cwd=cwd,
                                   preexec_fn=core_limit, capture_output=True, text=True,
                                   timeout=120 * hfstest.TIMEOUT_MULTIPLIER)
                if sanitized:
                    check('SEGV on unknown address' in r.stderr and 'crash_here' in r.stderr,
                          '%s: the sanitizer reports the crash at crash_here: %r'
                          % (mode, r.stderr[-1500:]))
                    continue
                check_eq(r.returncode, -signal.SIGSEGV, '%s: dies of SIGSEGV (stderr %r)'
                         % (mode, r.stderr[-400:]))
                cores = [f for f in os.listdir(cwd) if f.startswith(pattern.split('%')[0])]
                check(cores, '%s: no core file in %s (core_pattern %r)' % (mode, cwd, pattern))
                bt = subprocess.run([gdb, '-batch', '-ex', 'bt 3', prog(),
                                     os.path.join(cwd, cores[0])],
                                    capture_output=True, text=True, timeout=120).stdout
                top = [ln for ln in bt.splitlines() if ln.startswith('#0')]
                check(top and 'crash_here' in top[0],
                      '%s: the core shows the fault on top: %r' % (mode, bt[-800:]))
                note('%s: %s' % (mode, top[0]))
            finally:
                shutil.rmtree(cwd, ignore_errors=True)


def test_served_counters():
    """With the stand-in engine, served calls are counted as served."""
    with hfstest.HoldFS(size='128M') as fs:
        for mode in ('served-shim', 'served-lib'):
            j = one_run_stats(fs, 'io', mode)
            check(j['reads'] >= 10 and j['writes'] >= 8, '%s: reads, writes %s' % (mode, j))
            check(j['read_bytes'] >= 400000 and j['write_bytes'] >= 300000,
                  '%s: bytes %s' % (mode, j))
            check_eq((j['appends'], j['syncs']), (1, 3), '%s: appends, syncs' % mode)
            # RWF_NOWAIT, flags the kernel refuses, a read of an O_WRONLY fd
            check_eq(j['kernel_why']['flags'], 3, '%s: kernel_why.flags' % mode)


def test_never_touches_holdfs():
    """A program that only uses /tmp files, pipes and sockets behaves
    exactly as without the shim, and the data path serves nothing."""
    base = tempfile.mkdtemp(prefix='hfstest-dp-%d-' % os.getpid())
    try:
        for sc in SCENARIOS:
            out = same_everywhere(os.path.join(base, sc), sc)
            check('took the number: no' not in out, 'reuse on /tmp: %s' % out)
        st = os.path.join(base, 'stats')
        run('io', os.path.join(base, 'io-stats'), 'shim', stats=st)
        run('plain', os.path.join(base, 'plain-stats'), 'shim', stats=st)
        for j in stats_lines(st).values():
            check_eq((j['files'], j['reads'], j['writes'], j['kernel']), (0, 0, 0, 0),
                     'counters of a program that never touched holdfs: %s' % j)
    finally:
        subprocess.run(['rm', '-rf', base])


# ---------------------------------------------------------------------------
# counters


def test_counters():
    """HOLDFS_DATAPATH_STATS=PATH: one JSON line per process; holdfs
    descriptors are served (files) and every call on them is counted as
    served or as sent to the kernel; none with HOLDFS_DATAPATH=0."""
    with hfstest.HoldFS(size='128M') as fs:
        for mode in ('shim', 'lib'):
            j = one_run_stats(fs, 'io', mode)
            check(j['files'] >= 3, '%s: files %d < 3' % (mode, j['files']))
            # sc_io makes 25 reads and writes on its first descriptor
            check(j['reads'] + j['writes'] + j['kernel'] >= 25,
                  '%s: reads + writes + kernel = %d' % (mode, j['reads'] + j['writes'] + j['kernel']))
            check_eq(sum(j['kernel_why'].values()), j['kernel'], 'kernel_why adds up')
            check_eq(sorted(j['kernel_why']), sorted(
                ['first_call', 'hole', 'no_lease', 'revoked', 'slot_busy', 'no_slot',
                 'flags', 'changed', 'not_allowed', 'other']), 'reason names')
            check(j['kernel_why']['flags'] >= 1, 'RWF_NOWAIT went to the kernel as flags')
        j = one_run_stats(fs, 'io', 'off')
        check_eq((j['files'], j['reads'], j['writes'], j['kernel']), (0, 0, 0, 0),
                 'counters with HOLDFS_DATAPATH=0')


def test_counters_changed_descriptor():
    """A number closed behind the data path's back and reused is caught by
    validation (kernel_why.changed), with and without the shim."""
    with hfstest.HoldFS(size='128M') as fs:
        for mode in ('shim', 'lib'):
            j = one_run_stats(fs, 'reuse', mode)
            check(j['kernel_why']['changed'] >= 2, '%s: changed %s' % (mode, j))


def test_counters_fork_and_exec():
    """A forked child counts from zero; an exec'ed child under the shim
    adopts the inherited descriptor, one without the shim does not."""
    with hfstest.HoldFS(size='128M') as fs:
        st = os.path.join(fs.tmpdir, 'stats.json')
        _, err = run('fork', fs.path('fork'), 'shim', stats=st)
        lines = stats_lines(st)
        (child,) = pids(err, 'child pid')
        parent = [p for p in lines if p != child]
        check_eq((child in lines, len(parent)), (True, 1), 'one line each: %s' % lines)
        c, p = lines[child], lines[parent[0]]
        check_eq(c['files'], 0, 'the child opened nothing (counters reset at fork)')
        check(c['reads'] + c['writes'] + c['kernel'] >= 2, 'child calls counted: %s' % c)
        check(p['files'] >= 1, 'parent: %s' % p)
        os.unlink(st)
        _, err = run('exec', fs.path('exec'), 'shim', stats=st)
        lines = stats_lines(st)
        # "exec child pid P LD_PRELOAD set|unset"
        child = {ln.split()[5]: int(ln.split()[3]) for ln in err.splitlines()
                 if ln.startswith('exec child pid ')}
        shimmed, plain = child['set'], child['unset']
        check(lines[shimmed]['files'] >= 1, 'the shimmed exec child adopted nothing: %s'
              % lines[shimmed])
        check(lines[shimmed]['reads'] + lines[shimmed]['writes'] + lines[shimmed]['kernel'] >= 2,
              'the shimmed exec child: %s' % lines[shimmed])
        check_eq(lines[plain]['files'], 0, 'the exec child without the shim')


def test_stats_to_stderr():
    """HOLDFS_DATAPATH_STATS=1: a summary on stderr at exit."""
    with hfstest.HoldFS(size='128M') as fs:
        _, err = run('append', fs.path('a'), 'shim', stats='1')
        (ln,) = [x for x in err.splitlines() if x.startswith('holdfs data path, pid')]
        check(' files ' in ln and ' kernel ' in ln, 'summary line: %r' % ln)


# ---------------------------------------------------------------------------
# unmodified programs


def test_unmodified_programs():
    """Shell, dd, cp, tail, python file I/O under the shim: the files are
    what they are without it."""
    with hfstest.HoldFS(size='128M') as fs:
        data = hfstest.pattern('dp-tools', 200000)
        src = os.path.join(fs.tmpdir, 'src')
        hfstest.write_file(src, data)
        script = r'''
set -e
cd "$1"
printf 'one\n' > f; printf 'two\n' >> f; cat f > g
dd if="$2" of=d bs=4096 skip=3 seek=5 count=20 conv=notrunc status=none
cp "$2" c
tail -c 10 c | od -An -tx1 > t
exec 3<> f; read -r line <&3; echo "$line" > r; printf 'X' >&3; exec 3>&-
sha256sum f g d c t r | cut -c1-16
'''
        outs = {}
        for mode in ('kernel', 'shim', 'served-shim'):
            d = fs.path('tools-' + mode)
            os.mkdir(d)
            r = subprocess.run(['sh', '-c', script, 'sh', d, src], env=mode_env(mode),
                               capture_output=True, text=True, timeout=120)
            check_eq(r.returncode, 0, 'script under %s: %s' % (mode, r.stderr[-500:]))
            outs[mode] = r.stdout
        for mode in ('shim', 'served-shim'):
            check_eq(outs[mode], outs['kernel'], 'file digests, %s and kernel' % mode)
            check_eq(hfstest.read_file(fs.path('tools-' + mode, 'c')), data, 'cp, ' + mode)
            check_eq(hfstest.read_file(fs.path('tools-' + mode, 'f')), b'one\nXwo\n',
                     'f, ' + mode)


def main():
    args = hfstest.default_parser(__doc__.splitlines()[0]).parse_args()
    hfstest.run_tests(hfstest.collect(globals()), args)


if __name__ == '__main__':
    main()
