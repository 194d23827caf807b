#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hfstest: the shared harness of the holdfs integration tests.

Standard library + ctypes only; runs on Debian 12's /usr/bin/python3 (3.11).

What it gives the test files:

* HoldFS  - a temp dir, a sparse region file (in /dev/shm when it can, else
            /tmp), mkfs.holdfs, and a holdfs daemon started in the foreground
            (-f) as our own child so we own its pid.  mount() waits until the
            mount shows in /proc/self/mountinfo *and* answers a stat (deadline
            MOUNT_TIMEOUT); if the daemon exits first the test fails with its
            stderr.  remount(), kill_daemon(sig), unmount().  Teardown always
            unmounts (fusermount3 -u, then umount, then umount -l), waits for
            the daemon with a deadline, kills it if needed and removes the
            temp files - on success, failure, exception, SIGINT/SIGTERM
            (context manager + atexit + signal handling) and on a hung test
            (per-test watchdog).
* Tmpfs   - a private tmpfs mount, the calibration target.
* Ext4Loop - ext4 on a loop device, the calibration target where tmpfs
            lacks a feature or differs.
* Lazy    - a mount made on first use and shared by the cases after it.
* check / check_eq / fail / expect_errno / cannot_run - assertions.
* Child / as_user - run a function in a forked child (optionally as another
            uid/gid) and get its result or its OSError back.
* the runner - run_tests(cases, args) prints `ok NAME`, `FAIL NAME: reason`,
            `SKIP NAME: reason`, and a last line exactly
            `N passed, N failed, N skipped`; exit status 1 on any failure.

A test that cannot run here (not root, no /dev/fuse, no fusermount3, holdfs
binaries missing) FAILS with the reason.  Only with HOLDFS_ALLOW_SKIP=1 in
the environment does it SKIP instead, and then it says why.

Environment:
  HOLDFS_BUILD               build dir holding fs/holdfs and mkfs/mkfs.holdfs
                             (default: <repo>/build)
  HOLDFS_ALLOW_SKIP=1        turn "cannot run here" failures into SKIPs
  HOLDFS_TEST_TIMEOUT        default per-test deadline in seconds (180)
  HOLDFS_TIMEOUT_MULTIPLIER  scales every deadline (default 1, or 3 when
                             ASAN_OPTIONS is set: sanitizer builds are slow)
  HOLDFS_REGION_DIR          where region files go (default /dev/shm or /tmp)
  HOLDFS_KEEP_LOGS=1         print the daemon log of passing tests too
  HOLDFS_TEST_MOUNT_OPTS     extra -o options for every default mount
                             (e.g. io_uring: the suites over that transport)
  HOLDFS_TEST_SHIM=1         shim mode (same as --shim): see "shim mode" below
  HOLDFS_TEST_REQUIRE_DIRECT=1  shim mode and datacheck --direct: fail unless
                             some read or write was served by the data path

Shim mode (--shim or HOLDFS_TEST_SHIM=1): the same tests, every test
process under the preload shim.  The runner re-executes itself once, as a
child, with LD_PRELOAD=<build>/client/libholdfs-preload.so and
HOLDFS_DATAPATH_STATS=<scratch>/dpstats.jsonl (HOLDFS_TEST_SHIM_INNER
names the scratch directory and is the guard: a runner that has it runs
the tests instead of re-executing).  Everything the tests start inherits
the shim (forked children, cp, helpers); holdfs's own programs (daemon,
mkfs, fsck, holdfsctl) get LD_PRELOAD and every HOLDFS_* variable removed.
When the child has exited (its own counters are written at exit), the
parent sums the counters every process appended and reports them as the
extra case shim/datapath-stats (check_dp_stats()).
"""

import argparse
import atexit
import ctypes
import ctypes.util
import errno
import json
import os
import pickle
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
ALLOW_SKIP = os.environ.get('HOLDFS_ALLOW_SKIP') == '1'


def _multiplier():
    v = os.environ.get('HOLDFS_TIMEOUT_MULTIPLIER')
    if v:
        try:
            return max(float(v), 0.1)
        except ValueError:
            pass
    return 3.0 if os.environ.get('ASAN_OPTIONS') else 1.0


TIMEOUT_MULTIPLIER = _multiplier()
MOUNT_TIMEOUT = 10.0 * TIMEOUT_MULTIPLIER     # mount must appear and answer
UNMOUNT_TIMEOUT = 10.0 * TIMEOUT_MULTIPLIER   # daemon must exit after unmount
DEFAULT_TEST_TIMEOUT = float(os.environ.get('HOLDFS_TEST_TIMEOUT', '180'))

# allow_other: the posix checks fork children that setuid to 1000/1001; a FUSE
# mount without allow_other refuses every other uid outright (EACCES), which
# would hide the permission checks we want to see.  Root may always use it.
# HOLDFS_TEST_MOUNT_OPTS (comma-separated) is added to every default mount:
# the same tests over another configuration, e.g. io_uring.
DEFAULT_MOUNT_OPTS = ('allow_other',) + tuple(
    o for o in os.environ.get('HOLDFS_TEST_MOUNT_OPTS', '').split(',') if o)

# Unprivileged ids used by the permission tests; they need not exist in
# /etc/passwd.
USER1, GROUP1 = 1000, 1000
USER2, GROUP2 = 1001, 1001

# ---------------------------------------------------------------------------
# assertions


class TestFailure(AssertionError):
    """A check failed (or the test could not run and skipping is not allowed)."""


class TestSkip(Exception):
    """The test cannot run here and HOLDFS_ALLOW_SKIP=1 allows skipping."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, expected, what):
    if got != expected:
        raise TestFailure('%s: expected %s, got %s' % (what, _short(expected), _short(got)))


def _short(v, limit=120):
    r = repr(v)
    if len(r) > limit:
        if isinstance(v, (bytes, bytearray)):
            return '<%d bytes %s...>' % (len(v), r[:60])
        return r[:limit] + '...'
    return r


def errname(e):
    return errno.errorcode.get(e, str(e))


def _call_desc(fn, args):
    name = getattr(fn, '__name__', repr(fn))
    parts = [_short(a, 60) for a in args]
    return '%s(%s)' % (name, ', '.join(parts))


def expect_errno(err, fn, *args, **kwargs):
    """Call fn(*args, **kwargs) and require it to fail with OSError errno err
    (an int, or a tuple of acceptable ints).  Returns the OSError."""
    allowed = err if isinstance(err, tuple) else (err,)
    want = '/'.join(errname(e) for e in allowed)
    try:
        res = fn(*args, **kwargs)
    except OSError as e:
        if e.errno not in allowed:
            raise TestFailure('%s: expected %s, got %s (%s)'
                              % (_call_desc(fn, args), want, errname(e.errno), e.strerror))
        return e
    # do not leak an fd we were not supposed to get
    if fn is os.open and isinstance(res, int):
        os.close(res)
    raise TestFailure('%s: expected %s, but it succeeded (returned %s)'
                      % (_call_desc(fn, args), want, _short(res, 60)))


def cannot_run(reason):
    """The test cannot run in this environment: FAIL, or SKIP when allowed."""
    if ALLOW_SKIP:
        raise TestSkip(reason + ' (skipped because HOLDFS_ALLOW_SKIP=1)')
    raise TestFailure('cannot run: ' + reason
                      + ' (set HOLDFS_ALLOW_SKIP=1 to skip instead of failing)')


def require(cond, reason):
    if not cond:
        cannot_run(reason)


def require_root():
    require(os.geteuid() == 0, 'needs root (euid is %d)' % os.geteuid())


# ---------------------------------------------------------------------------
# environment and binaries


def build_dir():
    return os.path.abspath(os.environ.get('HOLDFS_BUILD') or os.path.join(REPO, 'build'))


def binary(name):
    sub = {'holdfs': 'fs', 'mkfs.holdfs': 'mkfs', 'fsck.holdfs': 'fsck',
           'holdfsctl': 'ctl'}.get(name, '')
    return os.path.join(build_dir(), sub, name)


def holdfs_bin():
    return binary('holdfs')


def mkfs_bin():
    return binary('mkfs.holdfs')


def preload_lib():
    """The DAX preload shim of this build."""
    return os.path.join(build_dir(), 'client', 'libholdfs-preload.so')


def _sanitizer_runtimes(lib):
    """A sanitized build's shim needs its runtime loaded first."""
    r = subprocess.run(['ldd', lib], capture_output=True, text=True)
    libs = []
    for ln in r.stdout.splitlines():
        parts = ln.split()
        if parts and parts[0].startswith(('libasan', 'libubsan')) and len(parts) > 2:
            libs.append(parts[2])
    return libs


def shim_env(extra=None):
    """os.environ with the preload shim in LD_PRELOAD (and its sanitizer
    runtime first in a sanitized build), HOLDFS_LOG=1, plus extra."""
    require(os.path.exists(preload_lib()), 'preload shim not built (%s)' % preload_lib())
    pre = ':'.join(_sanitizer_runtimes(preload_lib()) + [preload_lib()])
    e = dict(os.environ, LD_PRELOAD=pre, HOLDFS_LOG='1')
    if len(pre.split(':')) > 1:
        e['ASAN_OPTIONS'] = 'detect_leaks=0'   # python and cmp leak by design
    e.update(extra or {})
    return e


# holdfs's own programs: never under the shim, even in shim mode
TOOLS = ('holdfs', 'mkfs.holdfs', 'fsck.holdfs', 'holdfsctl')
SHIM_INNER = 'HOLDFS_TEST_SHIM_INNER'       # set in the re-executed runner
SHIM_SAVED_ASAN = 'HOLDFS_TEST_SHIM_ASAN_OPTIONS'


def in_shim_mode():
    """Is this the runner re-executed under the shim (or its child)?"""
    return bool(os.environ.get(SHIM_INNER))


def tool_env():
    """The environment for holdfs's own programs.  In shim mode: ours
    without LD_PRELOAD, without any HOLDFS_* variable, with ASAN_OPTIONS
    as it was before shim_env() changed it.  Otherwise None (inherit)."""
    if not in_shim_mode():
        return None
    e = {k: v for k, v in os.environ.items()
         if k != 'LD_PRELOAD' and not k.startswith('HOLDFS_')}
    saved = os.environ.get(SHIM_SAVED_ASAN)
    if saved == '':
        e.pop('ASAN_OPTIONS', None)
    elif saved is not None:
        e['ASAN_OPTIONS'] = saved
    return e


def maps_preload(pid='self'):
    """Does process pid have this build's preload shim mapped?"""
    want = os.path.realpath(preload_lib())
    try:
        with open('/proc/%s/maps' % pid) as f:
            return any(ln.split()[-1] == want for ln in f if ln.count('/'))
    except OSError:
        return False


def fuse_env_problems(need_binaries=True):
    """Reasons the real-mount tests cannot run here (empty list: they can)."""
    probs = []
    if os.geteuid() != 0:
        probs.append('not root (euid %d)' % os.geteuid())
    if not os.path.exists('/dev/fuse'):
        probs.append('/dev/fuse does not exist')
    else:
        try:
            os.close(os.open('/dev/fuse', os.O_RDWR))
        except OSError as e:
            probs.append('cannot open /dev/fuse: %s' % e.strerror)
    if shutil.which('fusermount3') is None:
        probs.append('fusermount3 not found in PATH (Debian package fuse3)')
    if need_binaries:
        for b in (holdfs_bin(), mkfs_bin()):
            if not (os.path.isfile(b) and os.access(b, os.X_OK)):
                probs.append('%s is missing or not executable (HOLDFS_BUILD=%s)'
                             % (b, os.environ.get('HOLDFS_BUILD', '<unset>')))
    return probs


def require_fuse_env(need_binaries=True):
    probs = fuse_env_problems(need_binaries)
    if probs:
        cannot_run('; '.join(probs))


def region_base():
    d = os.environ.get('HOLDFS_REGION_DIR')
    if d:
        return d
    if os.path.isdir('/dev/shm') and os.access('/dev/shm', os.W_OK):
        try:
            st = os.statvfs('/dev/shm')
            if st.f_bavail * st.f_frsize >= (1 << 30):
                return '/dev/shm'
        except OSError:
            pass
    return tempfile.gettempdir()


_swept = False


def sweep_stale(bases=None):
    """Remove hfstest-*-PID-* temp dirs of runs that died without cleaning
    up (SIGKILL, OOM): PID gone and nothing mounted under them."""
    import re
    pat = re.compile(r'^hfstest-(?:[a-z]+-)?(\d+)-')
    for base in bases or sorted({tempfile.gettempdir(), region_base()}):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            m = pat.match(n)
            if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
                continue
            p = os.path.join(base, n)
            if os.path.isdir(p) and not os.path.islink(p) and _safe_rmtree(p):
                _warn('removed %s left by dead run %s' % (p, m.group(1)))


def make_tmpdir(prefix='hfstest-', base=None):
    global _swept
    if not _swept:
        _swept = True
        sweep_stale()
    d = tempfile.mkdtemp(prefix='%s%d-' % (prefix, os.getpid()), dir=base)
    # mkdtemp makes 0700; the uid-1000 children must be able to walk through
    os.chmod(d, 0o755)
    return d


TMPFS_MAGIC = 0x01021994


def disk_region_base():
    """A directory on a filesystem with real writeback (not tmpfs), for
    tests about durability through the page cache: the build directory,
    else /var/tmp.  cannot_run if neither is such a filesystem."""
    for d in (build_dir(), '/var/tmp'):
        try:
            st = os.statvfs(d)
        except OSError:
            continue
        if not os.access(d, os.W_OK):
            continue
        if _fs_magic(d) not in (None, TMPFS_MAGIC) and st.f_bavail * st.f_frsize >= (1 << 30):
            return d
    cannot_run('no directory on a non-tmpfs filesystem with 1 GiB free '
               '(tried the build directory and /var/tmp)')


def _fs_magic(path):
    """statfs(2)'s f_type of path, or None if it cannot be read."""
    class StatFs(ctypes.Structure):
        _fields_ = [('f_type', ctypes.c_long), ('rest', ctypes.c_byte * 112)]
    buf = StatFs()
    if libc().statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return None
    return buf.f_type & 0xffffffff


SYS_cachestat = 451     # x86_64 and the generic table alike (Linux 6.5+)


def page_cache_state(path, off, length):
    """cachestat(2) of [off, off + length) of path: a dict with cache,
    dirty, writeback (pages).  A dirty page is one no msync/fsync wrote
    back yet.  cannot_run when the kernel has no cachestat."""
    class Range(ctypes.Structure):
        _fields_ = [('off', ctypes.c_uint64), ('len', ctypes.c_uint64)]

    class Stat(ctypes.Structure):
        _fields_ = [('cache', ctypes.c_uint64), ('dirty', ctypes.c_uint64),
                    ('writeback', ctypes.c_uint64), ('evicted', ctypes.c_uint64),
                    ('recently_evicted', ctypes.c_uint64)]
    c = libc()
    c.syscall.restype = ctypes.c_long
    r, st = Range(off, length), Stat()
    fd = os.open(path, os.O_RDONLY)
    try:
        res = c.syscall(ctypes.c_long(SYS_cachestat), ctypes.c_int(fd),
                           ctypes.byref(r), ctypes.byref(st), ctypes.c_uint(0))
        e = ctypes.get_errno()
    finally:
        os.close(fd)
    if res != 0:
        require(e != errno.ENOSYS, 'the kernel has no cachestat(2) (6.5+ needed)')
        raise OSError(e, 'cachestat %s: %s' % (path, os.strerror(e)))
    return {'cache': st.cache, 'dirty': st.dirty, 'writeback': st.writeback}


def make_sparse_file(path, size):
    """A region-like file: sparse, mode 0600 (holdfs refuses a region
    other users may read or write)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def parse_size(s):
    s = str(s).strip()
    mult = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    if s and s[-1].upper() in mult:
        return int(s[:-1]) * mult[s[-1].upper()]
    return int(s)


# ---------------------------------------------------------------------------
# /proc/self/mountinfo


def _unescape(s):
    out = []
    i = 0
    while i < len(s):
        if s[i] == '\\' and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return ''.join(out)


def mounts():
    """List of dicts (mountpoint, fstype, source, options) in mount order."""
    res = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            parts = line.split()
            try:
                sep = parts.index('-')
            except ValueError:
                continue
            res.append({'id': int(parts[0]), 'mountpoint': _unescape(parts[4]),
                        'options': parts[5], 'fstype': parts[sep + 1],
                        'source': _unescape(parts[sep + 2]),
                        'super_options': parts[sep + 3] if len(parts) > sep + 3 else ''})
    return res


def mount_entry(path):
    """The topmost mount whose mount point is exactly path, or None."""
    path = os.path.realpath(path)
    found = None
    for m in mounts():
        if m['mountpoint'] == path:
            found = m
    return found


def is_mounted(path):
    return mount_entry(path) is not None


def mounts_under(path):
    path = os.path.realpath(path)
    return [m['mountpoint'] for m in mounts()
            if m['mountpoint'] == path or m['mountpoint'].startswith(path + '/')]


def fs_type(path):
    """fstype of the mount holding path (longest mount point prefix)."""
    path = os.path.realpath(path)
    best, typ = -1, None
    for m in mounts():
        mp = m['mountpoint']
        if path == mp or path.startswith(mp.rstrip('/') + '/'):
            if len(mp) >= best:
                best, typ = len(mp), m['fstype']
    return typ


# ---------------------------------------------------------------------------
# running commands


def run(cmd, timeout=60.0, check_rc=False, stdin=subprocess.DEVNULL):
    """Run cmd; output goes to temp files (never pipes: a daemon that forks
    would keep a pipe open and hang us).  Returns CompletedProcess with str
    stdout/stderr.  holdfs's own programs run with tool_env()."""
    env = tool_env() if os.path.basename(cmd[0]) in TOOLS else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=err, env=env,
                                 preexec_fn=_unblock_signals)
        except OSError as e:
            raise TestFailure('cannot run %s: %s' % (cmd[0], e))
        try:
            rc = p.wait(timeout=timeout * TIMEOUT_MULTIPLIER)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out.seek(0)
            err.seek(0)
            raise TestFailure('%s did not finish within %.0f s; stderr: %s'
                              % (' '.join(cmd), timeout * TIMEOUT_MULTIPLIER,
                                 err.read().decode(errors='replace').strip()[-500:]))
        out.seek(0)
        err.seek(0)
        cp = subprocess.CompletedProcess(cmd, rc, out.read().decode(errors='replace'),
                                         err.read().decode(errors='replace'))
    if check_rc and rc != 0:
        raise TestFailure('%s exited %s; stderr: %s' % (' '.join(cmd), rc, cp.stderr.strip()[-800:]))
    return cp


def _pids_with_arg(arg):
    """pids (not ours) whose argv contains arg exactly."""
    me = os.getpid()
    res = []
    want = os.fsencode(arg)
    for ent in os.listdir('/proc'):
        if not ent.isdigit() or int(ent) == me:
            continue
        try:
            with open('/proc/%s/cmdline' % ent, 'rb') as f:
                args = f.read().split(b'\0')
        except OSError:
            continue
        if want in args:
            res.append(int(ent))
    return res


def _pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            st = f.read()
        return st[st.rindex(')') + 2] != 'Z'
    except (OSError, ValueError, IndexError):
        return False


def unmount_path(path, timeout=UNMOUNT_TIMEOUT):
    """Unmount whatever is mounted at path: fusermount3 -u, umount, then
    umount -l.  Returns a list of notes about what it had to do."""
    notes = []
    for _ in range(8):          # stacked mounts: peel them all
        if not is_mounted(path):
            return notes
        done = False
        for cmd in (['fusermount3', '-u', path], ['umount', path], ['umount', '-l', path]):
            try:
                r = run(cmd, timeout=timeout)
            except TestFailure as e:
                notes.append(str(e))
                continue
            if r.returncode == 0:
                if cmd[-2] == '-l':
                    notes.append('needed a lazy unmount of %s' % path)
                done = True
                break
            notes.append('%s: exit %d: %s' % (' '.join(cmd), r.returncode, r.stderr.strip()))
        if not done:
            notes.append('could not unmount %s' % path)
            return notes
    return notes


# ---------------------------------------------------------------------------
# registry of live resources: cleaned at exit, on signals and on hangs

_live = []
_recent = []          # created since the current test started (for log dumps)
_OWNER_PID = os.getpid()
_print_lock = threading.RLock()


def _register(obj):
    _live.append(obj)
    _recent.append(obj)


def _unregister(obj):
    try:
        _live.remove(obj)
    except ValueError:
        pass


def cleanup_all(emergency=False):
    if os.getpid() != _OWNER_PID:
        return
    for obj in reversed(list(_live)):
        try:
            if emergency:
                obj.emergency()
            else:
                obj.close()
        except BaseException as e:      # keep cleaning the others
            _warn('cleanup of %r failed: %s' % (obj, e))


def _warn(msg):
    with _print_lock:
        sys.stderr.write('hfstest: warning: %s\n' % msg)
        sys.stderr.flush()


atexit.register(cleanup_all)


def _safe_rmtree(path):
    """rmtree, but never into something still mounted (that would delete the
    files of the mounted filesystem)."""
    if not path or not os.path.exists(path):
        return True
    busy = mounts_under(path)
    if busy:
        _warn('not removing %s: still mounted: %s' % (path, ', '.join(busy)))
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


class HoldFS:
    """A holdfs region and mount for one test.

        with HoldFS(size='256M') as fs:      # mkfs + mount
            open(fs.path('a'), 'w').write('x')
            fs.remount()
    """

    def __init__(self, size='256M', mkfs_args=(), mount_opts=DEFAULT_MOUNT_OPTS,
                 format=True, mount=True, region_dir=None, region_on=None):
        """region_dir: an existing directory for the region (kept);
        region_on: a directory to make the region's own directory in
        (removed at the end; default region_base())."""
        require_fuse_env()
        self._owner = os.getpid()
        self.size = size
        self.mount_opts = tuple(mount_opts)
        self.proc = None
        self.log_path = None
        self.saved_logs = []        # (name, text) of every daemon run
        self._nlog = 0
        self._closed = False
        self.tmpdir = make_tmpdir('hfstest-')
        self.region_dir = region_dir or make_tmpdir('hfstest-region-',
                                                    region_on or region_base())
        self._own_region_dir = region_dir is None
        self.region = os.path.join(self.region_dir, 'region.img')
        self.mnt = os.path.join(self.tmpdir, 'mnt')
        os.mkdir(self.mnt, 0o755)
        _register(self)
        try:
            if format:
                self.mkfs(size=size, extra=mkfs_args)
            if mount:
                self.mount()
        except BaseException:
            self.close()
            raise

    def __repr__(self):
        return '<HoldFS %s on %s>' % (self.region, self.mnt)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    # -- tools --------------------------------------------------------------

    def mkfs(self, size=None, extra=(), check_rc=True, region=None, timeout=120):
        cmd = [mkfs_bin()]
        if size:
            cmd += ['--size', str(size)]
        cmd += list(extra) + [region or self.region]
        r = run(cmd, timeout=timeout)
        if check_rc and r.returncode != 0:
            fail('mkfs.holdfs failed (exit %d): %s' % (r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def fsck_clean(self, what):
        """Cross-check with `fsck.holdfs -n -f REGION` (unmounted): exit 0
        required.  Only a note when fsck.holdfs is not built (it is not part
        of these suites' contract)."""
        fsck = binary('fsck.holdfs')
        if not os.access(fsck, os.X_OK):
            note('fsck.holdfs not built (%s): no fsck cross-check %s' % (fsck, what))
            return
        if is_mounted(self.mnt):
            fail('fsck_clean(): %s is still mounted' % self.mnt)
        r = run([fsck, '-n', '-f', self.region], timeout=300)
        if r.returncode != 0:
            fail('fsck.holdfs -n -f %s: exit %d; report: %s %s'
                 % (what, r.returncode, r.stdout.strip()[-1500:], r.stderr.strip()[-800:]))

    # -- mounting -----------------------------------------------------------

    def _new_log(self):
        self._nlog += 1
        self.log_path = os.path.join(self.tmpdir, 'daemon-%d.log' % self._nlog)
        return self.log_path

    def daemon_log(self):
        """stderr+stdout of the current (or last) daemon run."""
        if not self.log_path:
            return ''
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def _save_log(self):
        if self.log_path:
            txt = self.daemon_log()
            name = os.path.basename(self.log_path)
            self.saved_logs = [x for x in self.saved_logs if x[0] != name]
            self.saved_logs.append((name, txt))

    def daemon_cmd(self, opts=None, extra_args=(), foreground=True, region=None, mnt=None):
        cmd = [holdfs_bin(), region or self.region, mnt or self.mnt]
        if foreground:
            cmd.append('-f')
        opts = self.mount_opts if opts is None else tuple(opts)
        if opts:
            cmd += ['-o', ','.join(opts)]
        return cmd + list(extra_args)

    def mount(self, opts=None, extra_args=(), timeout=MOUNT_TIMEOUT, preexec=None):
        """Start `holdfs REGION MNT -f` as our child and wait for the mount.
        preexec: run in the child before exec (e.g. setrlimit)."""
        if self.proc is not None and self.proc.poll() is None:
            fail('mount(): a daemon (pid %d) is still running' % self.proc.pid)
        if is_mounted(self.mnt):
            fail('mount(): %s is already mounted' % self.mnt)
        if opts is not None:
            self.mount_opts = tuple(opts)
        cmd = self.daemon_cmd(extra_args=extra_args)
        log = self._new_log()
        with open(log, 'ab') as lf:
            # own session: a terminal ^C reaches us, and we unmount in order;
            # if we die without cleaning up (SIGKILL, OOM), the daemon gets
            # SIGTERM and unmounts itself instead of leaving a mount behind
            deathsig = _pdeathsig_fn()

            def pre():
                deathsig()
                if preexec:
                    preexec()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         env=tool_env(), start_new_session=True, preexec_fn=pre)
        deadline = time.monotonic() + timeout
        while True:
            m = mount_entry(self.mnt)
            if m is not None and m['fstype'].startswith('fuse'):
                break
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                self._save_log()
                fail('holdfs exited with %s before the mount appeared; command: %s; stderr: %s'
                     % (_rc_desc(rc), ' '.join(cmd), self.daemon_log().strip()[-1500:] or '<empty>'))
            if time.monotonic() > deadline:
                self._abort_daemon()
                fail('mount did not appear in /proc/self/mountinfo within %.0f s; stderr: %s'
                     % (timeout, self.daemon_log().strip()[-1500:] or '<empty>'))
            time.sleep(0.02)
        # mounted; now it must answer (FUSE INIT + getattr of the root)
        err = _with_deadline(os.stat, (self.mnt,), max(deadline - time.monotonic(), 2.0))
        if err == 'timeout':
            self._abort_daemon()
            fail('mount appeared but stat(%s) did not return within the deadline (daemon hung at '
                 'INIT?); stderr: %s' % (self.mnt, self.daemon_log().strip()[-1500:]))
        if isinstance(err, BaseException):
            self._abort_daemon()
            fail('mount appeared but stat(%s) failed: %s; stderr: %s'
                 % (self.mnt, err, self.daemon_log().strip()[-1500:]))
        if in_shim_mode() and maps_preload(self.proc.pid):
            pid = self.proc.pid
            self._abort_daemon()
            fail('shim mode: the holdfs daemon (pid %d) runs with the preload shim mapped' % pid)
        return self

    def _abort_daemon(self):
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=UNMOUNT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        unmount_path(self.mnt)
        self._save_log()

    def mounted(self):
        return is_mounted(self.mnt)

    def unmount(self, check_clean=True, method='fusermount3', timeout=UNMOUNT_TIMEOUT):
        """Unmount and wait for the daemon to exit.  With check_clean, the
        unmount must succeed without force and the daemon must exit 0 within
        the deadline; otherwise fail (after cleaning up anyway)."""
        problems = []
        if is_mounted(self.mnt):
            cmd = ['fusermount3', '-u', self.mnt] if method == 'fusermount3' else ['umount', self.mnt]
            r = run(cmd, timeout=timeout)
            if r.returncode != 0:
                problems.append('%s exited %d: %s' % (' '.join(cmd), r.returncode, r.stderr.strip()))
                notes = unmount_path(self.mnt, timeout)
                problems += notes
        rc = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                problems.append('daemon pid %d did not exit within %.0f s of the unmount; killed'
                                % (self.proc.pid, timeout))
                self.proc.kill()
                try:
                    rc = self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    problems.append('daemon pid %d survives SIGKILL (stuck in the kernel?)'
                                    % self.proc.pid)
            if rc is not None and rc != 0 and not problems:
                problems.append('daemon exited with %s after a clean unmount' % _rc_desc(rc))
            self.proc = None
        # A daemon we did not start (holdfsctl drill remounts with a
        # detached one, after our own daemon exited): it still closes the
        # region after the unmount returns; wait for it, or fsck would
        # race its last writes.
        deadline = time.monotonic() + timeout
        while any(_pid_alive(p) for p in _pids_with_arg(self.region)):
            if time.monotonic() > deadline:
                problems.append('a daemon of %s still runs %.0f s after the unmount'
                                % (self.region, timeout))
                break
            time.sleep(0.02)
        self._save_log()
        if is_mounted(self.mnt):
            problems.append('still mounted after unmount')
        if check_clean and problems:
            tail = self.daemon_log().strip()[-1500:]
            fail('unclean unmount: %s; daemon stderr: %s' % ('; '.join(problems), tail or '<empty>'))
        return rc

    def remount(self, opts=None, extra_args=()):
        self.unmount(check_clean=True)
        return self.mount(opts=opts, extra_args=extra_args)

    def kill_daemon(self, sig=signal.SIGKILL, remount=True, clear=True, timeout=UNMOUNT_TIMEOUT):
        """Send sig to the daemon and wait for it to die.  A dead daemon leaves
        a dead mount (ENOTCONN): clear it with fusermount3 -u / umount -l
        (unless clear=False: then call clear_dead_mount() yourself, e.g. after
        the workload that used it has exited).  Then mount again (journal
        replay) unless remount=False.  Returns the daemon's exit status as
        Popen reports it (-9 for SIGKILL)."""
        if self.proc is None:
            fail('kill_daemon(): no daemon running')
        os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=timeout)
            fail('daemon did not exit within %.0f s of signal %d' % (timeout, sig))
        self.proc = None
        self._save_log()
        if clear or remount:
            self.clear_dead_mount()
        if remount:
            self.mount()
        return rc

    def clear_dead_mount(self):
        unmount_path(self.mnt)
        if is_mounted(self.mnt):
            fail('could not clear the dead mount at %s' % self.mnt)

    # -- teardown -----------------------------------------------------------

    def _reap_strays(self, grace):
        """Daemons of this region that are not our child (a daemonized mount,
        a second daemon): wait for them, then kill them."""
        deadline = time.monotonic() + grace
        while True:
            pids = [p for p in _pids_with_arg(self.region) if _pid_alive(p)]
            if not pids:
                return
            if time.monotonic() > deadline:
                for p in pids:
                    _warn('killing leftover process %d using %s' % (p, self.region))
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.1)
                return
            time.sleep(0.05)

    def close(self):
        if self._closed or os.getpid() != self._owner:
            return
        try:
            self.unmount(check_clean=False)
        except BaseException as e:
            _warn('unmount during teardown: %s' % e)
        if is_mounted(self.mnt):
            unmount_path(self.mnt)
        if self.proc is not None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=UNMOUNT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        self._reap_strays(UNMOUNT_TIMEOUT)
        self._save_log()
        ok = _safe_rmtree(self.tmpdir)
        if self._own_region_dir:
            _safe_rmtree(self.region_dir)
        if ok:
            self._closed = True
            _unregister(self)

    def emergency(self):
        """Hang or signal: kill first (that aborts hung FUSE requests), then
        lazily unmount, then remove files."""
        if os.getpid() != self._owner or self._closed:
            return
        if self.proc is not None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for p in _pids_with_arg(self.region):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        for _ in range(8):
            if not is_mounted(self.mnt):
                break
            subprocess.run(['umount', '-l', self.mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        self._save_log()
        _safe_rmtree(self.tmpdir)
        if self._own_region_dir:
            _safe_rmtree(self.region_dir)
        self._closed = True
        _unregister(self)


def _pdeathsig_fn():
    """preexec_fn: PR_SET_PDEATHSIG(SIGTERM).  libc is loaded here, before
    the fork, so the child only makes one plain syscall."""
    prctl = libc().prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    PR_SET_PDEATHSIG = 1

    def fn():
        _unblock_signals()
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return fn


def _rc_desc(rc):
    if rc is None:
        return 'no status'
    if rc < 0:
        try:
            return 'signal %s' % signal.Signals(-rc).name
        except ValueError:
            return 'signal %d' % -rc
    return 'status %d' % rc


def fake_sysfs(tmp, dev='dax9.0'):
    """A sysfs tree under tmp/sys with one bound device-dax, for
    -o sysfs_root=,devname= (docs/failure-model.md).  Returns (root,
    device directory); unlink device/driver to unbind it."""
    d = os.path.join(tmp, 'sys', 'bus', 'dax', 'devices', dev)
    os.makedirs(d)
    for k, v in (('size', '268435456'), ('align', '4096')):
        with open(os.path.join(d, k), 'w') as f:
            f.write(v + '\n')
    drv = os.path.join(tmp, 'sys', 'bus', 'dax', 'drivers', 'device_dax')
    os.makedirs(drv)
    os.symlink(drv, os.path.join(d, 'driver'))
    return os.path.join(tmp, 'sys'), d


def _with_deadline(fn, args, timeout):
    """Run fn(*args) in a thread; return its exception, 'timeout', or None."""
    box = {}

    def body():
        try:
            fn(*args)
            box['r'] = None
        except BaseException as e:
            box['r'] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return 'timeout'
    return box.get('r')


class _ScratchMount:
    """What Tmpfs and Ext4Loop share: a kernel filesystem mounted in a temp
    dir by this process, unmounted and removed by close() (or, from the
    runner's emergency path, lazily)."""

    def _scratch(self, prefix):
        """The temp dir and its empty mnt/, registered for cleanup."""
        require_root()
        self._owner = os.getpid()
        self._closed = False
        self.tmpdir = make_tmpdir(prefix)
        self.mnt = os.path.join(self.tmpdir, 'mnt')
        os.mkdir(self.mnt, 0o755)
        _register(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def close(self):
        if self._closed or os.getpid() != self._owner:
            return
        unmount_path(self.mnt)
        if _safe_rmtree(self.tmpdir):
            self._closed = True
            _unregister(self)

    def emergency(self):
        if os.getpid() != self._owner or self._closed:
            return
        for _ in range(4):
            if not is_mounted(self.mnt):
                break
            subprocess.run(['umount', '-l', self.mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        _safe_rmtree(self.tmpdir)
        self._closed = True
        _unregister(self)


class Tmpfs(_ScratchMount):
    """A private tmpfs mount (the calibration target)."""

    def __init__(self, size='16g', opts=()):
        self._scratch('hfstest-tmpfs-')
        o = ','.join(('size=%s' % size, 'mode=0755') + tuple(opts))
        r = run(['mount', '-t', 'tmpfs', '-o', o, 'hfstest-tmpfs', self.mnt])
        if r.returncode != 0:
            self.close()
            cannot_run('mount -t tmpfs failed: %s' % r.stderr.strip())
        self.saved_logs = []

    def __repr__(self):
        return '<Tmpfs on %s>' % self.mnt


class Ext4Loop(_ScratchMount):
    """ext4 on a loop device: the second calibration target, for what tmpfs
    does not implement (FALLOC_FL_ZERO_RANGE, ...) or does differently.
    A sparse image in a temp dir, mkfs.ext4, `mount -o loop`; close()
    unmounts (which frees the loop device) and removes the image."""

    def __init__(self, size='128M', opts=()):
        self._scratch('hfstest-ext4-')
        self.image = os.path.join(self.tmpdir, 'ext4.img')
        if not shutil.which('mkfs.ext4'):
            self.close()
            cannot_run('mkfs.ext4 not installed (e2fsprogs): no ext4 calibration')
        make_sparse_file(self.image, parse_size(size))
        r = run(['mkfs.ext4', '-q', '-F', self.image], timeout=120)
        if r.returncode != 0:
            self.close()
            cannot_run('mkfs.ext4 failed: %s' % (r.stderr or r.stdout).strip())
        o = ','.join(('loop',) + tuple(opts))
        r = run(['mount', '-t', 'ext4', '-o', o, self.image, self.mnt], timeout=60)
        if r.returncode != 0:
            self.close()
            cannot_run('mount -o loop of an ext4 image failed (no loop devices?): %s'
                       % r.stderr.strip())
        os.chmod(self.mnt, 0o755)
        self.saved_logs = []

    def __repr__(self):
        return '<Ext4Loop on %s>' % self.mnt


class Lazy:
    """A mount made on first use and shared by the cases that follow.  If
    setting it up fails, every case that needs it fails (or skips, when
    allowed) with that reason."""

    def __init__(self, what, factory):
        self.what = what
        self.factory = factory
        self.obj = None
        self.err = None

    def get(self):
        if self.err is not None:
            if isinstance(self.err, TestSkip):
                raise TestSkip(str(self.err))
            fail('%s could not be set up: %s' % (self.what, self.err))
        if self.obj is None:
            try:
                self.obj = self.factory()
            except (TestFailure, TestSkip) as e:
                self.err = e
                raise
            except Exception as e:
                self.err = e
                raise
        return self.obj

    def close(self):
        if self.obj is not None:
            self.obj.close()
            self.obj = None


# ---------------------------------------------------------------------------
# forked children


def _child_reset():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(s, signal.SIG_DFL)
    _unblock_signals()


class TestUser:
    """A throwaway unprivileged system user with its own group (useradd),
    optionally also in a second group made for the test (for dax_group=);
    both removed on exit, even on failure.

        with TestUser(extra_group=True) as u:
            Child(fn, uid=u.uid, gid=u.gid, groups=u.groups)
            ... mount_opts=('allow_other', 'dax_group=' + u.extra)
    """

    def __init__(self, extra_group=False):
        require_root()
        tag = '%d%03d' % (os.getpid() % 100000, TestUser._n % 1000)
        TestUser._n += 1
        self.name = 'hfst' + tag
        self.extra = ('hfsg' + tag) if extra_group else None
        self._made = []
        try:
            if self.extra:
                self._run(['groupadd', '--system', self.extra])
                self._made.append(('groupdel', self.extra))
            cmd = ['useradd', '--system', '--no-create-home', '--user-group',
                   '--shell', '/usr/sbin/nologin']
            if self.extra:
                cmd += ['--groups', self.extra]
            self._run(cmd + [self.name])
            self._made.insert(0, ('userdel', self.name))
            import grp
            import pwd
            pw = pwd.getpwnam(self.name)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.groups = [self.gid] + ([grp.getgrnam(self.extra).gr_gid] if self.extra else [])
        except BaseException:
            self.close()
            raise

    _n = 0

    def exe(self, path):
        """A copy of the executable path that this user can run.  The
        tree may be a clone in a 0700 home directory, where the user
        cannot reach the build's binaries; the copy sits in a root-owned
        0755 directory removed with the user."""
        if getattr(self, '_bindir', None) is None:
            self._bindir = tempfile.mkdtemp(prefix='hfstest-bin-')
            os.chmod(self._bindir, 0o755)
        dst = os.path.join(self._bindir, os.path.basename(path))
        if not os.path.exists(dst):
            shutil.copy2(path, dst)
            os.chmod(dst, 0o755)
        return dst

    def _run(self, cmd):
        r = run(cmd, timeout=30)
        if r.returncode != 0:
            cannot_run('%s failed: %s' % (' '.join(cmd), (r.stderr or r.stdout).strip()))

    def close(self):
        if self._made and hasattr(self, 'uid'):
            # whatever a test left running as the user (a forked holder)
            run(['pkill', '-KILL', '-U', str(self.uid)], timeout=30)
            time.sleep(0.1)
        for cmd, name in self._made:
            run([cmd, name], timeout=30)
        self._made = []
        if getattr(self, '_bindir', None):
            shutil.rmtree(self._bindir, ignore_errors=True)
            self._bindir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ChildError(Exception):
    pass


class Child:
    """fn(*args) in a forked child, optionally after dropping to uid/gid.

    join() returns fn's (picklable) result; an OSError in the child comes
    back as an OSError with the same errno, a TestFailure as a TestFailure,
    anything else as ChildError.

    In shim mode the child ends with libc's exit() instead of _exit(), so
    the shim's exit handler appends the child's data-path counters (and a
    shim that cannot exit a forked child cleanly shows as a hang or a
    crash here).  exit() is looked up before the fork: after a setuid the
    interpreter may not be able to load anything."""

    def __init__(self, fn, *args, uid=None, gid=None, groups=None):
        sys.stdout.flush()
        sys.stderr.flush()
        leave = libc().exit if in_shim_mode() else os._exit
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                         # child: never returns
            code = 0
            try:
                os.close(r)
                _child_reset()
                if gid is not None:
                    os.setgroups(list(groups) if groups is not None else [])
                    os.setgid(gid)
                if uid is not None:
                    os.setuid(uid)
                payload = ('ok', fn(*args))
            except OSError as e:
                payload = ('oserror', e.errno, e.strerror, e.filename)
            except TestFailure as e:
                payload = ('fail', str(e))
            except BaseException as e:
                payload = ('error', '%s: %s\n%s' % (type(e).__name__, e, traceback.format_exc()))
            try:
                data = pickle.dumps(payload)
            except Exception as e:
                data = pickle.dumps(('error', 'result not picklable: %s' % e))
                code = 1
            try:
                view = memoryview(data)
                while view:
                    n = os.write(w, view)
                    view = view[n:]
            except BaseException:
                code = 2
            leave(code)
            os._exit(code)
        os.close(w)
        self.pid = pid
        self._r = r
        self.fn_name = getattr(fn, '__name__', repr(fn))
        self.status = None

    def kill(self, sig=signal.SIGKILL):
        if self.status is None:
            try:
                os.kill(self.pid, sig)
            except OSError:
                pass

    def join(self, timeout=120.0):
        timeout *= TIMEOUT_MULTIPLIER
        deadline = time.monotonic() + timeout
        chunks = []
        timed_out = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                rl, _, _ = select.select([self._r], [], [], min(left, 1.0))
                if rl:
                    b = os.read(self._r, 1 << 16)
                    if not b:
                        break
                    chunks.append(b)
        finally:
            os.close(self._r)
        if timed_out:
            self.kill()
        _, st = os.waitpid(self.pid, 0)
        self.status = st
        if timed_out:
            raise TestFailure('child running %s did not finish within %.0f s (killed)'
                              % (self.fn_name, timeout))
        data = b''.join(chunks)
        if not data:
            raise ChildError('child running %s died without a result (%s)'
                             % (self.fn_name, _wait_desc(st)))
        payload = pickle.loads(data)
        if payload[0] == 'ok':
            return payload[1]
        if payload[0] == 'oserror':
            raise OSError(payload[1], payload[2], payload[3])
        if payload[0] == 'fail':
            raise TestFailure(payload[1])
        raise ChildError('child running %s: %s' % (self.fn_name, payload[1]))


def _wait_desc(st):
    if os.WIFSIGNALED(st):
        return 'killed by signal %d' % os.WTERMSIG(st)
    return 'exit %d' % os.WEXITSTATUS(st)


def as_user(uid, gid, fn, *args, groups=None, timeout=60.0):
    """Run fn(*args) in a child with uid/gid (and supplementary groups,
    default none); return its result or re-raise its OSError."""
    return Child(fn, *args, uid=uid, gid=gid, groups=groups).join(timeout)


def in_child(fn, *args, timeout=60.0):
    return Child(fn, *args).join(timeout)


# ---------------------------------------------------------------------------
# the runner


class Case:
    def __init__(self, name, fn, args=(), timeout=None):
        self.name = name
        self.fn = fn
        self.args = tuple(args)
        self.timeout = timeout or getattr(fn, 'timeout', None) or DEFAULT_TEST_TIMEOUT


def timeout(seconds):
    """Decorator: per-test deadline (before HOLDFS_TIMEOUT_MULTIPLIER)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def collect(namespace, args=(), prefix=''):
    """Cases for every test_* function of a module namespace, in file order."""
    items = [(getattr(v, '__code__', None) and v.__code__.co_firstlineno or 0, k, v)
             for k, v in namespace.items() if k.startswith('test_') and callable(v)]
    items.sort(key=lambda t: t[0])
    return [Case(prefix + k, v, args) for _, k, v in items]


class Interrupted(BaseException):
    pass


class Runner:
    def __init__(self, exitfirst=False):
        self.passed = self.failed = self.skipped = 0
        self.exitfirst = exitfirst
        self._pending = []
        self._current = None
        self._done = False

    def out(self, line):
        with _print_lock:
            sys.stdout.write(line + '\n')
            sys.stdout.flush()

    def note(self, line):
        """A diagnostic line ('# ...'): timings, logs."""
        for ln in str(line).splitlines() or ['']:
            self.out('# ' + ln)

    def summary(self):
        return '%d passed, %d failed, %d skipped' % (self.passed, self.failed, self.skipped)

    def finish(self):
        """The last line.  Under the shim it is the parent's to print
        (shim/datapath-stats comes after): the counts go to a file of the
        scratch directory named by our pid (a runner some test starts
        inherits the directory) and the line is only a note here."""
        d = os.environ.get(SHIM_INNER)
        if not d:
            self.out(self.summary())
            return
        self.note('under the shim: ' + self.summary())
        with open(os.path.join(d, 'summary-%d.json' % os.getpid()), 'w') as f:
            json.dump([self.passed, self.failed, self.skipped], f)

    def _hung(self, case, secs):
        with _print_lock:
            if self._current is not case or self._done:
                return
            self._done = True
            self.failed += 1
            self.out('FAIL %s: timed out after %.0f s (hung?); killing every daemon of this run '
                     'and lazily unmounting everything it mounted' % (case.name, secs))
            cleanup_all(emergency=True)
            self._dump_logs(always=True)
            for c in self._pending:
                self.failed += 1
                self.out('FAIL %s: not run (the run was aborted after a hang)' % c.name)
            self.finish()
            os._exit(1)

    def _dump_logs(self, always=False):
        objs = []
        for obj in list(_recent) + list(_live):     # live: a shared mount
            if obj not in objs:
                objs.append(obj)
        for obj in objs:
            logs = list(getattr(obj, 'saved_logs', []))
            if getattr(obj, 'proc', None) is not None and obj.log_path:
                name = os.path.basename(obj.log_path)
                logs = [x for x in logs if x[0] != name] + [(name + ' (running)', obj.daemon_log())]
            for name, txt in logs:
                txt = txt.strip()
                if not txt and not always:
                    continue
                lines = txt.splitlines()
                # a sanitizer report's first lines (what, where, the
                # stacks) matter, its shadow-byte legend at the end not
                san = next((i for i, ln in enumerate(lines)
                            if 'ERROR: AddressSanitizer' in ln or
                            'runtime error:' in ln), None)
                if san is not None and san < len(lines) - 30:
                    self.note('daemon log %s of %r (sanitizer report, lines %d-%d of %d):'
                              % (name, obj, san + 1, min(san + 80, len(lines)), len(lines)))
                    for ln in lines[san:san + 80]:
                        self.note('  ' + ln)
                self.note('daemon log %s of %r (last %d of %d lines):'
                          % (name, obj, min(len(lines), 30), len(lines)))
                for ln in lines[-30:]:
                    self.note('  ' + ln)

    def run_one(self, case):
        self._current = case
        del _recent[:]
        secs = case.timeout * TIMEOUT_MULTIPLIER
        timer = threading.Timer(secs, self._hung, args=(case, secs))
        timer.daemon = True
        timer.start()
        t0 = time.monotonic()
        outcome = None
        try:
            case.fn(*case.args)
            outcome = ('ok', None)
        except TestSkip as e:
            outcome = ('skip', str(e))
        except TestFailure as e:
            outcome = ('fail', str(e), _where(e))
        except KeyboardInterrupt:
            outcome = ('fail', 'interrupted', '')
            raise Interrupted()
        except Exception as e:
            desc = '%s: %s' % (type(e).__name__, e)
            if isinstance(e, OSError) and e.errno:
                desc = 'unexpected OSError %s: %s' % (errname(e.errno), e)
            outcome = ('fail', desc, traceback.format_exc())
        finally:
            timer.cancel()
            with _print_lock:
                if self._done:          # the watchdog fired and is exiting
                    time.sleep(3600)
                self._current = None
                dt = time.monotonic() - t0
                if outcome is None:
                    outcome = ('fail', 'interrupted', '')
                if outcome[0] == 'ok':
                    self.passed += 1
                    self.out('ok %s' % case.name)
                    if os.environ.get('HOLDFS_KEEP_LOGS') == '1':
                        self._dump_logs()
                elif outcome[0] == 'skip':
                    self.skipped += 1
                    self.out('SKIP %s: %s' % (case.name, outcome[1]))
                else:
                    self.failed += 1
                    reason = ' '.join(outcome[1].split('\n')[:1]) if outcome[1] else 'failed'
                    rest = outcome[1].split('\n')[1:]
                    self.out('FAIL %s: %s' % (case.name, reason))
                    for ln in rest:
                        self.note('  ' + ln)
                    if outcome[2]:
                        self.note(outcome[2].rstrip())
                    self._dump_logs()
                if dt >= 5:
                    self.note('%s took %.1f s' % (case.name, dt))
        return outcome[0]

    def run_all(self, cases):
        self._pending = list(cases)
        try:
            while self._pending:
                c = self._pending.pop(0)
                res = self.run_one(c)
                if res == 'fail' and self.exitfirst:
                    for rest in self._pending:
                        self.failed += 1
                        self.out('FAIL %s: not run (-x: stopped after the first failure)' % rest.name)
                    self._pending = []
        except Interrupted:
            for rest in self._pending:
                self.failed += 1
                self.out('FAIL %s: not run (interrupted)' % rest.name)
            self._pending = []
            cleanup_all()
            self.finish()
            return 130
        cleanup_all()
        self.finish()
        return 1 if self.failed else 0


def note(msg):
    """Print a diagnostic '# ...' line (timings, findings) between results."""
    with _print_lock:
        for ln in str(msg).splitlines() or ['']:
            sys.stdout.write('# ' + ln + '\n')
        sys.stdout.flush()


def _where(e):
    tb = traceback.extract_tb(e.__traceback__)
    here = os.path.abspath(__file__)
    frames = [f for f in tb if os.path.abspath(f.filename) != here]
    if not frames:
        return ''
    f = frames[-1]
    return 'at %s:%d in %s: %s' % (os.path.basename(f.filename), f.lineno, f.name, (f.line or '').strip())


_sig_thread_started = False
_TERM_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def install_signal_handlers(grace=5.0):
    """SIGINT/SIGTERM/SIGHUP (^C, meson's timeout, a closed terminal).

    They are blocked in the main thread and taken by a watcher thread with
    sigwait(): a main thread stuck in a hung FUSE request would never run a
    signal handler (the kernel delivers to it and keeps it waiting).  The
    watcher raises KeyboardInterrupt in the main thread, so the tests'
    context managers unwind and unmount in order; if the process has not
    finished after `grace` seconds (or a second signal comes), it kills the
    daemons, lazily unmounts everything and exits 128+signal.  Children
    (daemon, tools, forked tests) get the signals unblocked again."""
    global _sig_thread_started
    if _sig_thread_started or threading.current_thread() is not threading.main_thread():
        return
    _sig_thread_started = True
    main_id = threading.main_thread().ident
    got = {}

    def poke(signum, frame):
        raise KeyboardInterrupt('signal %s' % got.get('sig', signum))
    # SIGUSR1 (unblocked) interrupts whatever the main thread sleeps in
    signal.signal(signal.SIGUSR1, poke)
    signal.pthread_sigmask(signal.SIG_BLOCK, _TERM_SIGNALS)

    def emergency(sig, why):
        with _print_lock:
            sys.stdout.write('# %s: killing daemons, lazy unmounts, exit %d\n' % (why, 128 + sig))
            sys.stdout.flush()
            cleanup_all(emergency=True)
            os._exit(128 + sig)

    def watch():
        sig = signal.sigwait(_TERM_SIGNALS)
        got['sig'] = sig
        signal.pthread_kill(main_id, signal.SIGUSR1)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            # a second signal: no more patience
            again = signal.sigtimedwait(_TERM_SIGNALS, max(deadline - time.monotonic(), 0.01))
            if again is not None:
                emergency(again.si_signo, 'second signal %d' % again.si_signo)
        emergency(sig, 'signal %d and still not done after %.0f s' % (sig, grace))
    threading.Thread(target=watch, daemon=True, name='hfstest-signals').start()


def _unblock_signals():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _TERM_SIGNALS)


def add_common_args(parser):
    parser.add_argument('-k', dest='patterns', action='append', default=[],
                        help='run only tests whose name contains this (repeatable)')
    parser.add_argument('-x', '--exitfirst', action='store_true',
                        help='stop after the first failure')
    parser.add_argument('--list', action='store_true', help='list the tests and exit')
    parser.add_argument('--shim', action='store_true',
                        help='run every test process under the preload shim (HOLDFS_TEST_SHIM=1)')
    return parser


def select_cases(cases, patterns):
    if not patterns:
        return cases
    return [c for c in cases if any(p in c.name for p in patterns)]


def run_tests(cases, args, header=None):
    """Filter, run, print, and exit the process with the right status.
    In shim mode the tests run in a re-executed child (shim_supervise());
    header is printed by whichever process runs them."""
    cases = select_cases(cases, getattr(args, 'patterns', []))
    if getattr(args, 'list', False):
        for c in cases:
            print(c.name)
        sys.exit(0)
    if cases and (getattr(args, 'shim', False) or os.environ.get('HOLDFS_TEST_SHIM') == '1'):
        if not in_shim_mode():
            sys.exit(shim_supervise())
        cases = [Case('shim/preloaded', check_preloaded)] + cases
    if header:
        print(header)
    os.umask(0o022)
    install_signal_handlers()
    runner = Runner(exitfirst=getattr(args, 'exitfirst', False))
    if not cases:
        print('FAIL selection: no test matched %s' % getattr(args, 'patterns', []))
        print('0 passed, 1 failed, 0 skipped')
        sys.exit(1)
    code = runner.run_all(cases)
    sys.stdout.flush()
    sys.exit(code)


def default_parser(description):
    return add_common_args(argparse.ArgumentParser(description=description))


# ---------------------------------------------------------------------------
# shim mode (the module docstring says what it is) and the data path's
# counters

DP_STATS_FILE = 'dpstats.jsonl'
# struct holdfs_dp_stats (include/holdfs/holdfs.h): the counters summed
DP_COUNTERS = ('files', 'reads', 'writes', 'appends', 'syncs', 'seeks', 'read_bytes',
               'write_bytes', 'leases', 'reservations', 'eio', 'kernel')
# enum holdfs_dp_reason, for a kernel_why given as an array
DP_REASONS = ('first_call', 'hole', 'no_lease', 'revoked', 'slot_busy', 'no_slot', 'flags',
              'changed', 'not_allowed', 'other')


def shim_supervise():
    """Run this runner again, as a child, with every test process under the
    preload shim; when it has exited, check the counters its processes
    appended (shim/datapath-stats) and print the last line for both.
    Returns the exit status."""
    runner = Runner()
    if not os.path.exists(preload_lib()):
        runner.failed += 1
        runner.out('FAIL shim/setup: preload shim not built (%s)' % preload_lib())
        runner.out(runner.summary())
        return 1
    d = make_tmpdir('hfstest-shim-')
    stats = os.path.join(d, DP_STATS_FILE)
    # children that setuid to a test user append their counters too
    os.close(os.open(stats, os.O_CREAT | os.O_WRONLY, 0o666))
    os.chmod(stats, 0o666)
    # EAGER: lease from a file's first call, so the suites' small
    # one-shot files are served by the data path, not passed on
    env = shim_env({'HOLDFS_LOG': os.environ.get('HOLDFS_LOG', '0'),
                    'HOLDFS_DATAPATH_EAGER': '1',
                    'HOLDFS_DATAPATH_STATS': stats, SHIM_INNER: d,
                    SHIM_SAVED_ASAN: os.environ.get('ASAN_OPTIONS', '')})
    argv = [sys.executable] + list(getattr(sys, 'orig_argv', [sys.executable] + sys.argv))[1:]
    print('# shim mode: %s with LD_PRELOAD=%s HOLDFS_DATAPATH_STATS=%s'
          % (' '.join(argv), env['LD_PRELOAD'], stats))
    sys.stdout.flush()
    child = subprocess.Popen(argv, env=env, preexec_fn=_pdeathsig_fn())

    signalled = []

    def forward(sig, frame):
        # ^C and meson's timeout signal the whole process group, the child
        # included: give it the grace its own handler takes first
        signalled.append(sig)
        t = threading.Timer(10.0, lambda: child.poll() is None and child.send_signal(sig))
        t.daemon = True
        t.start()
    for sig in _TERM_SIGNALS:
        signal.signal(sig, forward)
    rc = child.wait()
    try:
        with open(os.path.join(d, 'summary-%d.json' % child.pid)) as f:
            runner.passed, runner.failed, runner.skipped = json.load(f)
    except (OSError, ValueError):
        runner.failed += 1
        runner.out('FAIL shim/run: the runner under the shim exited with %s without a summary'
                   % _rc_desc(rc))
    if rc != 0 and not runner.failed:
        runner.failed += 1
        runner.out('FAIL shim/run: every test passed but the runner under the shim exited with %s '
                   '(at exit: the shim\'s exit handler?)' % _rc_desc(rc))
    runner.run_one(Case('shim/datapath-stats', _shim_stats_case, (stats,)))
    _safe_rmtree(d)
    if signalled:
        runner.failed += 1
        runner.out('FAIL shim/run: interrupted by signal %d' % signalled[0])
    runner.out(runner.summary())
    return 128 + signalled[0] if signalled else 1 if runner.failed else 0


def _shim_stats_case(stats):
    if check_dp_stats(stats, 'the tests under the shim') is None:
        raise TestSkip('no data-path counters to check (libholdfs has no holdfs_dp_stats yet)')


def check_preloaded():
    """Shim mode's first case: the shim is mapped in this runner and in a
    program it starts."""
    check(maps_preload(), 'shim mode: %s is not mapped in the test process (LD_PRELOAD=%s)'
          % (preload_lib(), os.environ.get('LD_PRELOAD')))
    r = run(['cat', '/proc/self/maps'], check_rc=True)
    check(os.path.realpath(preload_lib()) in r.stdout,
          'shim mode: a program the tests start (cat) does not map the shim')
    env = tool_env()
    check(env is not None and 'LD_PRELOAD' not in env,
          'shim mode: holdfs\'s own programs would inherit LD_PRELOAD')


def dp_stats_exported():
    """Does this build's libholdfs export holdfs_dp_stats (the counters)?"""
    lib = os.path.join(build_dir(), 'client', 'libholdfs.so')
    r = run(['nm', '-D', '--defined-only', lib])
    if r.returncode != 0:
        fail('nm -D %s: exit %d: %s' % (lib, r.returncode, r.stderr.strip()))
    return any(ln.split()[-1].split('@')[0] == 'holdfs_dp_stats'
               for ln in r.stdout.splitlines() if ln.strip())


def sum_dp_stats(lines):
    """Sum the JSON lines of HOLDFS_DATAPATH_STATS: ({counter: total},
    {reason: total}).  kernel_why may be an object (by reason name) or
    an array (in enum order)."""
    tot = dict.fromkeys(DP_COUNTERS, 0)
    why = {}
    seen = set()
    for n, ln in enumerate(lines, 1):
        try:
            rec = json.loads(ln)
        except ValueError as e:
            fail('line %d of the data-path counters is not JSON (%s): %r' % (n, e, ln[:200]))
        check(isinstance(rec, dict), 'line %d of the data-path counters is not an object: %r'
              % (n, ln[:200]))
        seen.update(rec)
        for k in DP_COUNTERS:
            if isinstance(rec.get(k), int):
                tot[k] += rec[k]
        kw = rec.get('kernel_why') or {}
        items = kw.items() if isinstance(kw, dict) else (
            (DP_REASONS[i] if i < len(DP_REASONS) else str(i), v) for i, v in enumerate(kw))
        for k, v in items:
            if isinstance(v, int):
                why[k] = why.get(k, 0) + v
    check('reads' in seen and 'writes' in seen,
          'the data-path counters have no "reads"/"writes" fields (format of struct '
          'holdfs_dp_stats expected); fields seen: %s' % sorted(seen))
    return tot, why


def check_dp_stats(path, what):
    """Prove that what ran under the shim: path (HOLDFS_DATAPATH_STATS)
    must hold a line of counters, and with HOLDFS_TEST_REQUIRE_DIRECT=1
    some read or write must have been served directly.  Returns the
    summed counters.  A build whose libholdfs has no counters yet (no
    holdfs_dp_stats) and no line: a loud note and None, unless
    REQUIRE_DIRECT."""
    try:
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
    except FileNotFoundError:
        lines = []
    require_direct = os.environ.get('HOLDFS_TEST_REQUIRE_DIRECT') == '1'
    if not lines:
        exported = dp_stats_exported()
        if not require_direct and not exported:
            why = ('%s: NO PROOF that it ran through the data path: no counters in %s, and this '
                   "build's libholdfs does not export holdfs_dp_stats (counters not implemented yet)"
                   % (what, path))
            note('#' * 72 + '\nSKIP ' + why + '\n' + '#' * 72)
            return None
        fail('%s left no line of data-path counters in %s: %s' % (what, path, (
            'the preload shim was not loaded, or it did not write HOLDFS_DATAPATH_STATS at exit'
            if exported else 'HOLDFS_TEST_REQUIRE_DIRECT=1, and this libholdfs does not export '
            'holdfs_dp_stats (no counters)')))
    tot, why = sum_dp_stats(lines)
    note('data path, %s: %d processes: %s; kernel by reason: %s'
         % (what, len(lines), ', '.join('%s %d' % kv for kv in tot.items()),
            ', '.join('%s %d' % kv for kv in sorted(why.items()) if kv[1]) or 'none'))
    if require_direct:
        check(tot['reads'] + tot['writes'] > 0,
              '%s: HOLDFS_TEST_REQUIRE_DIRECT=1 but no read or write was served by the data path '
              '(%d calls went to the kernel: %s)' % (what, tot['kernel'], why))
    return tot


# ---------------------------------------------------------------------------
# a test program driven one line at a time


class LineClient:
    """A test program that reads one command per line on stdin and
    answers each with one line on stdout (dax_client, dp_client): cmd(),
    stderr() for failure messages, close() (asks it to quit, kills it
    past quit_wait seconds), usable as a context manager."""

    name = 'client'
    quit_wait = 10

    def __init__(self, argv, env, user=None):
        """user: a TestUser to run it as (the caller gives argv[0] as a
        copy that user can reach, user.exe())."""
        def as_user():
            os.setgroups(user.groups)
            os.setgid(user.gid)
            os.setuid(user.uid)
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, env=env,
                                  preexec_fn=as_user if user else None)

    def cmd(self, line, timeout=20):
        """Send line; its answer, stripped.  Fails on silence past timeout
        (scaled by HOLDFS_TIMEOUT_MULTIPLIER) and on death."""
        self.p.stdin.write((line + '\n').encode())
        self.p.stdin.flush()
        r, _, _ = select.select([self.p.stdout], [], [], timeout * TIMEOUT_MULTIPLIER)
        if not r:
            fail('%s did not answer %r within %ss' % (self.name, line, timeout))
        ans = self.p.stdout.readline().decode().strip()
        if not ans:
            fail('%s died on %r (%s); stderr: %s'
                 % (self.name, line, self.p.wait(), self.stderr()))
        return ans

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors='replace')[-2000:]

    def quit(self):
        """Ask it to quit and wait (killed past quit_wait); its stderr
        (what it said at exit included)."""
        self.close(keep_stderr=True)
        out = self.stderr()
        self.err.close()
        return out

    def close(self, keep_stderr=False):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b'quit\n')
                self.p.stdin.flush()
            except OSError:
                pass
            try:
                self.p.wait(self.quit_wait)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if not keep_stderr:
            self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------------------
# small file helpers shared by the suites


def write_all(fd, data):
    """write(2) until every byte is written: on FUSE a write may return
    short with no error (the daemon died between two of its requests);
    the next call then reports the error."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_file(path, data, mode=0o644, fsync=False):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def pattern(seed, n):
    """n deterministic pseudo-random bytes for seed: no two seeds or offsets
    alike, so misplaced or stale blocks are caught.  pattern(s, k) is a
    prefix of pattern(s, n) for k <= n."""
    import random
    r = random.Random('hfstest:' + repr(seed))
    return r.randbytes((n + 3) // 4 * 4)[:n]


def is_root():
    return os.geteuid() == 0


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    return _libc


def stat_mode_str(m):
    return '%s %o' % (stat.filemode(m), m)
