#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A volume over several devices (docs/format.md "Several devices"):
mkfs.holdfs REGION DEVICE..., holdfs REGION MNT -o device=PATH,
fsck.holdfs REGION DEVICE..., holdfsctl devices.

Members here are region files; the placement rule is checked through
`holdfsctl devices --json PATH` (a file's blocks on each device).

    HOLDFS_BUILD=build python3 tests/integration/test_multidev.py
"""
import hashlib
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfstest as H  # noqa: E402
from hfstest import check, check_eq  # noqa: E402

MiB = 1 << 20


class Volume:
    """A HoldFS whose region is the first of n member files."""

    def __init__(self, n=2, size='64M', mkfs_extra=()):
        self.fs = H.HoldFS(format=False, mount=False)
        self.members = [os.path.join(self.fs.region_dir, 'member%d.img' % i)
                        for i in range(1, n)]
        self.mkfs = H.run([H.mkfs_bin(), '--size', size] + list(mkfs_extra)
                          + [self.fs.region] + self.members, timeout=120)
        if self.mkfs.returncode != 0:
            self.fs.close()
            H.fail('mkfs.holdfs of %d devices failed (exit %d): %s'
                   % (n, self.mkfs.returncode, self.mkfs.stderr.strip()))

    def mount_opts(self, members=None):
        return H.DEFAULT_MOUNT_OPTS + tuple(
            'device=%s' % m for m in (self.members if members is None else members))

    def mount(self, members=None):
        self.fs.mount(opts=self.mount_opts(members))

    def fsck(self, *extra):
        return H.run([H.binary('fsck.holdfs'), '-n', '-f'] + list(extra)
                     + [self.fs.region] + self.members, timeout=300)

    def fsck_clean(self, what):
        r = self.fsck()
        check(r.returncode == 0, 'fsck.holdfs -n -f of the volume %s: exit %d: %s %s'
              % (what, r.returncode, r.stdout.strip()[-1500:], r.stderr.strip()[-500:]))

    def devices(self, path):
        r = H.run([H.binary('holdfsctl'), 'devices', '--json', path], timeout=30)
        check(r.returncode == 0, 'holdfsctl devices %s: exit %d: %s'
              % (path, r.returncode, r.stderr.strip()))
        return json.loads(r.stdout)['devices']

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fs.close()
        return False


def blocks_by_device(vol, path):
    return [d['file_blocks'] for d in vol.devices(path)]


def write_random(path, size):
    data = os.urandom(size)
    H.write_file(path, data)
    return hashlib.sha256(data).hexdigest()


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_mkfs_lists_devices_and_what_a_loss_costs():
    """mkfs prints every device, and says what losing one costs (with the
    mirror: only the files on it) and how to mount without the first."""
    with Volume(3) as vol:
        out = vol.mkfs.stdout
        check('devices      3' in out, 'mkfs summary names 3 devices:\n' + out)
        for m in vol.members:
            check(m in out, 'mkfs summary names %s:\n%s' % (m, out))
        check('losing any' in out and '-o degraded' in out,
              'mkfs says the volume survives losing any one device, and how:\n' + out)
        vol.fsck_clean('right after mkfs')


def test_files_stay_on_one_device_and_use_all():
    """New files go to the emptiest device, each file's data on one
    device; both devices end up used; data and placement survive a
    remount; fsck (given every device) is clean."""
    with Volume(2) as vol:
        vol.mount()
        sums = {}
        for i in range(6):
            p = vol.fs.path('f%d' % i)
            sums[p] = write_random(p, 3 * MiB + 4096 * i)
        used = set()
        for p in sums:
            counts = blocks_by_device(vol, p)
            on = [i for i, c in enumerate(counts) if c]
            check_eq(len(on), 1, '%s: devices holding its blocks %s' % (p, counts))
            used.add(on[0])
        check_eq(sorted(used), [0, 1], 'devices the six files went to')
        placed = {p: blocks_by_device(vol, p) for p in sums}
        vol.fs.unmount()
        vol.mount()
        for p, s in sums.items():
            check_eq(sha(p), s, '%s after a remount' % p)
            check_eq(blocks_by_device(vol, p), placed[p], '%s placement after a remount' % p)
        vol.fs.unmount()
        vol.fsck_clean('after writing six files over two devices')


def test_metadata_stays_on_the_first_device():
    """Directory blocks go to device 0 whatever is full or empty."""
    with Volume(2) as vol:
        vol.mount()
        d = vol.fs.path('dir')
        os.mkdir(d)
        for i in range(300):   # several directory blocks
            H.write_file(os.path.join(d, 'n%03d' % i), b'')
        counts = blocks_by_device(vol, d)
        check(counts[0] > 1 and counts[1] == 0,
              'directory blocks on devices %s (all must be on device 0)' % counts)
        vol.fs.unmount()
        vol.fsck_clean('after a directory of 300 entries')


def test_a_file_spills_over_only_when_its_device_is_full():
    """A file bigger than the free space of its device still gets written
    (space wins over isolation), and reads back."""
    with Volume(2, size='32M') as vol:
        vol.mount()
        p = vol.fs.path('big')
        s = write_random(p, 40 * MiB)
        counts = blocks_by_device(vol, p)
        check(counts[0] and counts[1], 'a 40 MiB file over two 32 MiB devices '
              'lies on both: %s' % counts)
        check_eq(sha(p), s, 'the spilled file reads back')
        vol.fs.unmount()
        vol.fsck_clean('after a file spilled over')


def test_members_found_by_header_in_any_order_and_after_a_path_change():
    """Members are recognised by their headers: any order, and a member
    whose path changed is found under its new one."""
    with Volume(3) as vol:
        vol.mount(members=list(reversed(vol.members)))
        s = write_random(vol.fs.path('a'), 2 * MiB)
        vol.fs.unmount()
        moved = vol.members[0] + '.moved'
        os.rename(vol.members[0], moved)
        vol.members[0] = moved
        vol.mount()
        check_eq(sha(vol.fs.path('a')), s, 'data after a member moved')
        vol.fs.unmount()


def test_mount_names_what_is_wrong():
    """No member given, a member given as the first device, a device of
    another volume, the same member twice, device= on a single-device
    holdfs: each refused with a message that says so."""
    with Volume(2) as vol, Volume(2) as other:
        def refused(region, members, want):
            r = H.run([H.holdfs_bin(), region, vol.fs.mnt, '-f', '-o',
                       ','.join(H.DEFAULT_MOUNT_OPTS + tuple('device=' + m for m in members))],
                      timeout=60)
            check(r.returncode != 0 and not H.is_mounted(vol.fs.mnt),
                  'mount of %s with %s must be refused' % (region, members))
            check(want in r.stderr, 'message for %s %s: want %r in %r'
                  % (region, members, want, r.stderr.strip()))
        refused(vol.fs.region, [], 'is missing')
        refused(vol.members[0], [vol.fs.region], 'not its first')
        refused(vol.fs.region, [other.members[0]], 'another holdfs volume')
        refused(vol.fs.region, [vol.members[0], vol.members[0]], 'given twice')
        with H.HoldFS(mount=False) as single:
            refused(single.region, [vol.members[0]], 'a holdfs of one device')
        r = H.run([H.binary('fsck.holdfs'), '-n', vol.fs.region], timeout=60)
        check(r.returncode != 0 and 'is missing' in r.stderr,
              'fsck without the other device: %d %r' % (r.returncode, r.stderr))


def test_device_table_damage_is_repaired_from_its_copy():
    """The device table lives in both superblock blocks: a damaged primary
    is restored from the backup by fsck -y, and the volume mounts."""
    with Volume(2) as vol:
        with open(vol.fs.region, 'r+b') as f:
            f.seek(512 + 40)
            f.write(b'\xff' * 8)
        r = vol.fsck()
        check(r.returncode == 4 and 'P0_DEVTAB_PRIMARY' in r.stdout,
              'fsck -n finds the damaged table: %d %s' % (r.returncode, r.stdout))
        r = H.run([H.binary('fsck.holdfs'), '-y', vol.fs.region] + vol.members, timeout=300)
        check(r.returncode in (0, 1), 'fsck -y repairs it: %d %s %s'
              % (r.returncode, r.stdout, r.stderr))
        vol.fsck_clean('after the repair')
        vol.mount()
        write_random(vol.fs.path('x'), MiB)
        vol.fs.unmount()


def test_dax_leases_are_refused_and_io_still_works():
    """Until leases carry the device, a DAX client's HELLO is refused on
    a volume of several devices; a program under the preload shim still
    reads and writes through FUSE."""
    lib = H.preload_lib()
    H.require(os.path.exists(lib), 'preload shim not built (%s)' % lib)
    with Volume(2) as vol:
        vol.mount()
        p = vol.fs.path('f')
        s = write_random(p, 2 * MiB)
        r = H.run(['sh', '-c', 'cat "$1" | sha256sum && cp "$1" "$1.copy"', 'sh', p],
                  timeout=60)
        r2 = H.subprocess.run(['sh', '-c', 'sha256sum < "$1"; cp "$1" "$1.shim"', 'sh', p],
                              env=H.shim_env({'HOLDFS_LOG': '1'}), capture_output=True,
                              text=True, timeout=60)
        check(r2.returncode == 0 and s in r2.stdout,
              'under the shim: exit %d, %r %r' % (r2.returncode, r2.stdout, r2.stderr[-800:]))
        check_eq(sha(p + '.shim'), s, 'a copy made under the shim')
        check(r.returncode == 0, 'plain cat and cp work')
        vol.fs.unmount()


def _mirror_geometry(vol):
    """(s_meta_end, mirror offset inside device 1's file) from device 0."""
    import struct
    with open(vol.fs.region, 'rb') as f:
        blk = f.read(4096)
    meta_end = struct.unpack_from('<Q', blk, 336)[0]
    mirror_dev, = struct.unpack_from('<I', blk, 512 + 12)
    mirror_off, = struct.unpack_from('<Q', blk, 512 + 24)
    d_base, = struct.unpack_from('<Q', blk, 512 + 32 + 64 * mirror_dev + 16)
    return meta_end, mirror_dev, mirror_off - d_base


def _mirror_diff(vol):
    meta_end, dev, off = _mirror_geometry(vol)
    check_eq(dev, 1, 'the mirror is on device 1')
    with open(vol.fs.region, 'rb') as a, open(vol.members[0], 'rb') as b:
        pa = a.read(meta_end)
        b.seek(off)
        pb = b.read(meta_end)
    return [i for i in range(0, meta_end, 4096) if pa[i:i + 4096] != pb[i:i + 4096]]


def test_the_mirror_is_device_0s_metadata_byte_for_byte():
    """After directories, files, xattrs, renames, unlinks and a remount,
    the mirror on device 1 holds exactly device 0's metadata (its areas
    and the metadata zone), and fsck (which compares them) is clean."""
    with Volume(2) as vol:
        vol.mount()
        d = vol.fs.path('d')
        os.makedirs(os.path.join(d, 'sub'))
        for i in range(300):
            H.write_file(os.path.join(d, 'n%03d' % i), b'%d' % i)
        os.setxattr(os.path.join(d, 'n001'), 'user.big', b'v' * 20000)
        for i in range(0, 300, 3):
            os.rename(os.path.join(d, 'n%03d' % i), os.path.join(d, 'sub', 'm%03d' % i))
        for i in range(1, 300, 3):
            os.unlink(os.path.join(d, 'n%03d' % i))
        write_random(vol.fs.path('data'), 3 * MiB)
        vol.fs.unmount()
        vol.mount()
        vol.fs.unmount()
        diff = _mirror_diff(vol)
        check_eq(diff, [], 'blocks where the mirror differs from device 0')
        vol.fsck_clean('with the mirror compared')


def test_a_reused_device_makes_a_clean_volume():
    """Devices with old bytes everywhere (used before): the mirror is a
    copy of device 0's metadata zone as mkfs leaves it, so fsck (which
    compares every block of it) is clean right after mkfs and after use."""
    fs = H.HoldFS(format=False, mount=False)
    try:
        member = os.path.join(fs.region_dir, 'member1.img')
        junk = os.urandom(MiB)
        for path in (fs.region, member):
            with open(path, 'wb') as f:
                for _ in range(64):
                    f.write(junk)
            os.chmod(path, 0o600)
        r = H.run([H.mkfs_bin(), fs.region, member], timeout=120)
        check(r.returncode == 0, 'mkfs over old bytes: %d %s' % (r.returncode, r.stderr))
        r = H.run([H.binary('fsck.holdfs'), '-n', '-f', fs.region, member], timeout=300)
        check(r.returncode == 0, 'fsck right after mkfs over old bytes: %d %s'
              % (r.returncode, r.stdout[-1500:]))
        fs.mount(opts=H.DEFAULT_MOUNT_OPTS + ('device=%s' % member,))
        os.mkdir(fs.path('d'))
        for i in range(50):
            H.write_file(os.path.join(fs.path('d'), 'f%d' % i), b'x' * 100)
        fs.unmount()
        r = H.run([H.binary('fsck.holdfs'), '-n', '-f', fs.region, member], timeout=300)
        check(r.returncode == 0, 'fsck after use: %d %s' % (r.returncode, r.stdout[-1500:]))
    finally:
        fs.close()


def test_fsck_rewrites_a_stale_mirror():
    """A block of the mirror that differs from device 0 (a crash between
    the two copies, bad media): fsck -n reports P5_MIRROR_STALE, fsck -y
    rewrites it from device 0, then all is clean."""
    with Volume(2) as vol:
        vol.mount()
        os.mkdir(vol.fs.path('d'))
        vol.fs.unmount()
        meta_end, _, off = _mirror_geometry(vol)
        with open(vol.members[0], 'r+b') as f:
            f.seek(off + 0x15000 + 100)
            f.write(b'stale!!!')
        r = vol.fsck()
        check(r.returncode == 4 and 'P5_MIRROR_STALE' in r.stdout,
              'fsck -n: %d %s' % (r.returncode, r.stdout[-600:]))
        r = H.run([H.binary('fsck.holdfs'), '-y', '-f', vol.fs.region] + vol.members,
                  timeout=300)
        check(r.returncode == 1, 'fsck -y fixed it: %d %s' % (r.returncode, r.stdout[-600:]))
        check_eq(_mirror_diff(vol), [], 'mirror after fsck -y')
        vol.fsck_clean('after the mirror was rewritten')


def test_a_damaged_inode_on_device_0_is_taken_from_the_mirror():
    """Device 0's copy of a file's inode damaged (the mirror's intact):
    fsck -n --json reports P0_MIRROR_REPAIR and changes nothing; the
    mount takes the mirror's copy (the file reads back), the health log
    says so, and fsck is clean after."""
    import struct
    with Volume(2) as vol:
        vol.mount()
        want = write_random(vol.fs.path('f'), 300 * 1024)
        ino = os.stat(vol.fs.path('f')).st_ino
        vol.fs.unmount()
        with open(vol.fs.region, 'rb') as f:
            itable_off, = struct.unpack_from('<Q', f.read(512), 176)
        slot = itable_off + ino * 256
        with open(vol.fs.region, 'r+b') as f:
            f.seek(slot + 24)  # i_size
            b = f.read(1)
            f.seek(slot + 24)
            f.write(bytes([b[0] ^ 0x40]))
        before = sha(vol.fs.region)
        r = vol.fsck('--json')
        check(r.returncode == 4, 'fsck -n --json: exit %d: %s' % (r.returncode, r.stderr))
        codes = [p['code'] for p in json.loads(r.stdout)['problems']]
        check('P0_MIRROR_REPAIR' in codes, 'fsck -n --json problems: %s' % codes)
        check_eq(sha(vol.fs.region), before, 'device 0 after fsck -n')
        vol.mount()
        check_eq(sha(vol.fs.path('f')), want, 'the file after the mount took the mirror\'s inode')
        r = H.run([H.binary('holdfsctl'), 'health', vol.fs.mnt], timeout=30)
        check('inode slot' in r.stdout and "mirror's taken" in r.stdout,
              'health log: %s' % r.stdout[-1500:])
        vol.fs.unmount()
        vol.fsck_clean('after the mount repaired device 0 from the mirror')


def test_both_superblocks_of_device_0_bad_the_mirror_has_it():
    """Both superblocks of device 0 destroyed: fsck.holdfs given the other
    device finds the volume through the mirror, -n reports
    P0_MIRROR_REPAIR, -y restores them; and a mount does the same."""
    import struct
    with Volume(2) as vol:
        vol.mount()
        want = write_random(vol.fs.path('f'), 200 * 1024)
        vol.fs.unmount()
        with open(vol.fs.region, 'rb') as f:
            backup_off, = struct.unpack_from('<Q', f.read(512), 208)
        image = open(vol.fs.region, 'rb').read()

        def destroy():
            with open(vol.fs.region, 'r+b') as f:
                for off in (0, backup_off):
                    f.seek(off)
                    f.write(b'\0' * 8)  # the magic
        destroy()
        r = vol.fsck()
        check(r.returncode == 4 and 'P0_MIRROR_REPAIR' in r.stdout,
              'fsck -n: %d %s %s' % (r.returncode, r.stdout[-800:], r.stderr))
        r = H.run([H.binary('fsck.holdfs'), '-y', '-f', vol.fs.region] + vol.members,
                  timeout=300)
        check(r.returncode == 1, 'fsck -y: %d %s %s' % (r.returncode, r.stdout[-800:], r.stderr))
        vol.fsck_clean('after fsck -y restored the superblocks')
        with open(vol.fs.region, 'r+b') as f:
            f.write(image)
        destroy()
        vol.mount()
        check_eq(sha(vol.fs.path('f')), want, 'the file, mounted through the mirror')
        vol.fs.unmount()
        vol.fsck_clean('after the mount restored the superblocks')


def test_losing_the_first_device_serves_it_from_its_mirror():
    """Device 0 (the metadata) gone while unmounted: the device holding
    its mirror mounts the volume with -o degraded (and only with it), the
    namespace, the xattrs and the files on the surviving device are all
    there byte for byte, the files that had data on device 0 read EIO,
    new files and directories work, fsck of the mirror is clean, and the
    next mount needs no -o degraded."""
    with Volume(2) as vol:
        vol.mount()
        files = _spread_files(vol)
        d = vol.fs.path('dir')
        os.mkdir(d)
        os.setxattr(d, 'user.k', b'v' * 100)
        vol.fs.unmount()
        os.unlink(vol.fs.region)             # device 0 gone for good
        mirror = vol.members[0]
        r = H.run([H.holdfs_bin(), mirror, vol.fs.mnt, '-f', '-o',
                   ','.join(H.DEFAULT_MOUNT_OPTS)], timeout=60)
        check(r.returncode != 0 and '-o degraded' in r.stderr,
              'the mirror refuses to mount without -o degraded: %d %r'
              % (r.returncode, r.stderr))
        vol.fs.region, vol.members = mirror, []
        vol.fs.mount(opts=H.DEFAULT_MOUNT_OPTS + ('degraded',))
        check('serving its metadata from its mirror' in vol.fs.daemon_log(),
              'the daemon says so: ' + vol.fs.daemon_log()[-600:])
        _check_after_loss(vol, files, 0, 'served from the mirror')
        check_eq(os.getxattr(d, 'user.k'), b'v' * 100, 'an xattr from the mirror')
        check_eq(sorted(os.listdir(vol.fs.mnt)), sorted(['dir'] + [os.path.basename(p)
                                                            for p in files]),
                 'the root listing')
        st = _status(vol)
        check_eq(st['state'], 'degraded', 'status')
        check_eq([x['state'] for x in st['devices']], ['lost', 'active'], 'device states')
        s = write_random(vol.fs.path('dir', 'new'), 2 * MiB)
        os.mkdir(vol.fs.path('dir', 'sub'))
        vol.fs.unmount()
        r = vol.fsck()
        check(r.returncode == 0, 'fsck -n -f of the mirror: %d %s %s'
              % (r.returncode, r.stdout[-800:], r.stderr[-300:]))
        vol.fs.mount()                       # recorded lost: no option now
        check_eq(sha(vol.fs.path('dir', 'new')), s, 'a file written from the mirror')
        _check_after_loss(vol, files, 0, 'mounted again')
        vol.fs.unmount()


def test_no_mirror_says_device_0_is_a_single_point_of_failure():
    with Volume(2, mkfs_extra=('--no-mirror',)) as vol:
        check('device 0 only' in vol.mkfs.stdout, 'mkfs --no-mirror says so:\n'
              + vol.mkfs.stdout)
        _, dev, _ = _mirror_geometry(vol)
        check_eq(dev, 0, 'no mirror device in the table')
        vol.mount()
        write_random(vol.fs.path('x'), MiB)
        vol.fs.unmount()
        vol.fsck_clean('a volume without a mirror')


def _spread_files(vol, n=8, size=2 * MiB):
    """n files; returns {path: (sha, device)}."""
    out = {}
    for i in range(n):
        p = vol.fs.path('f%d' % i)
        s = write_random(p, size)
        counts = blocks_by_device(vol, p)
        out[p] = (s, [d for d, c in enumerate(counts) if c])
    check(any(d == [1] for _, d in out.values()) and any(d == [0] for _, d in out.values()),
          'files on both devices: %s' % [d for _, d in out.values()])
    return out


def _reads_eio(path):
    try:
        with open(path, 'rb') as f:
            f.read()
    except OSError as e:
        return e.errno == H.errno.EIO
    return False


def _wait_lost(vol, dev, timeout=15.0):
    deadline = H.time.monotonic() + timeout
    while H.time.monotonic() < deadline:
        if vol.devices(vol.fs.mnt)[dev]['state'] == 'lost':
            return
        H.time.sleep(0.05)
    H.fail('device %d not reported lost within %.0f s; daemon log: %s'
           % (dev, timeout, vol.fs.daemon_log()[-1500:]))


def _check_after_loss(vol, files, lost_dev, what):
    for p, (s, devs) in files.items():
        if lost_dev in devs:
            check(_reads_eio(p), '%s: %s (on device %d) reads EIO' % (what, p, lost_dev))
        else:
            check_eq(sha(p), s, '%s: %s (not on device %d) byte for byte' % (what, p, lost_dev))


def _status(vol):
    r = H.run([H.binary('holdfsctl'), 'status', '--json', vol.fs.mnt], timeout=30)
    check(r.returncode == 0, 'holdfsctl status: %s' % r.stderr)
    return json.loads(r.stdout)


def _losing_a_device(how):
    """A device file truncated (or unlinked) while mounted: the files with
    data on it read EIO, every other file reads back byte for byte, writes
    go on (to the other device), the volume reports itself degraded, and
    after an unmount it mounts again without that device and fsck is
    clean."""
    with Volume(2) as vol:
        vol.mount()
        files = _spread_files(vol)
        if how == 'truncate':
            os.truncate(vol.members[0], MiB)
        else:
            os.unlink(vol.members[0])
        _wait_lost(vol, 1)
        _check_after_loss(vol, files, 1, 'after the loss')
        p = vol.fs.path('after')
        s = write_random(p, 3 * MiB)
        check_eq(blocks_by_device(vol, p)[1], 0, 'a new file avoids the lost device')
        st = _status(vol)
        check_eq(st['state'], 'degraded', 'holdfsctl status state')
        check_eq([d['state'] for d in st['devices']], ['active', 'lost'], 'device states')
        r = H.run([H.binary('holdfsctl'), 'retire', '--device', '0', vol.fs.mnt], timeout=30)
        check(r.returncode != 0 and 'active' in r.stderr,
              'retiring an active device is refused: %d %r' % (r.returncode, r.stderr))
        r = H.run([H.binary('holdfsctl'), 'retire', '--device', '1', vol.fs.mnt], timeout=30)
        check(r.returncode == 0, 'retire of the lost device: %d %r' % (r.returncode, r.stderr))
        check_eq([d['state'] for d in _status(vol)['devices']], ['active', 'retired'],
                 'device states once the lost device is retired')
        vol.fs.unmount()
        vol.members = []   # lost for good: not asked for any more
        r = vol.fsck()
        check(r.returncode == 0, 'fsck -n -f without the lost device: %d %s %s'
              % (r.returncode, r.stdout[-1200:], r.stderr[-400:]))
        vol.mount()
        _check_after_loss(vol, files, 1, 'after a remount')
        check_eq(sha(p), s, 'the file written after the loss')
        st = _status(vol)
        check_eq(st['devices'][1]['state'], 'retired', 'retired after a remount')
        check_eq(st['state'], 'ok', 'a volume whose lost device was retired is not degraded')
        vol.fs.unmount()


def test_losing_a_device_file_truncated():
    _losing_a_device('truncate')


def test_losing_a_device_file_unlinked():
    _losing_a_device('unlink')


def test_losing_a_device_under_a_writer_allocating_there():
    """A device lost while a writer keeps growing a file on it (found by
    the qemu rig's two-NVDIMM scenario): the writes that hit the lost
    device fail with EIO and are undone, the volume is degraded, not shut
    down, and the files on the other device stay intact."""
    import threading
    with Volume(2, size='256M') as vol:
        vol.mount()
        files = _spread_files(vol, n=6)
        grow = [p for p, (_, d) in files.items() if d == [1]][0]
        stop = threading.Event()
        errors = []

        def writer():
            off = os.path.getsize(grow)
            while not stop.is_set():
                try:
                    fd = os.open(grow, os.O_WRONLY)
                    try:
                        os.pwrite(fd, os.urandom(1 << 20), off)
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    off += 1 << 20
                except OSError as e:
                    errors.append(e.errno)
                    H.time.sleep(0.01)
        t = threading.Thread(target=writer)
        t.start()
        try:
            H.time.sleep(0.3)
            os.truncate(vol.members[0], 0)
            _wait_lost(vol, 1)
            H.time.sleep(0.3)
        finally:
            stop.set()
            t.join(30)
        check_eq(_status(vol)['state'], 'degraded', 'state after the loss under a writer')
        check(errors and set(errors) <= {H.errno.EIO}, 'the writer saw EIO only: %r'
              % sorted(set(errors)))
        files.pop(grow)
        _check_after_loss(vol, files, 1, 'after the loss under a writer')
        write_random(vol.fs.path('after'), MiB)
        vol.fs.unmount()
        vol.members = []
        vol.fsck_clean('after a loss under a writer')


def test_mount_without_a_device_needs_degraded():
    """A device gone while unmounted: the mount is refused and says how to
    go on; with -o degraded it mounts, the device's files read EIO, the
    rest is intact, and the device is recorded lost for later mounts."""
    with Volume(2) as vol:
        vol.mount()
        files = _spread_files(vol)
        vol.fs.unmount()
        os.unlink(vol.members[0])
        r = H.run([H.holdfs_bin(), vol.fs.region, vol.fs.mnt, '-f', '-o',
                   ','.join(H.DEFAULT_MOUNT_OPTS)], timeout=60)
        check(r.returncode != 0 and '-o degraded' in r.stderr,
              'mount without the device refused, naming -o degraded: %d %r'
              % (r.returncode, r.stderr))
        vol.members = []
        vol.fs.mount(opts=H.DEFAULT_MOUNT_OPTS + ('degraded',))
        check('mounted degraded' in vol.fs.daemon_log(), 'the daemon says it mounted degraded: '
              + vol.fs.daemon_log()[-800:])
        _check_after_loss(vol, files, 1, 'mounted degraded')
        check_eq(_status(vol)['state'], 'degraded', 'status after a degraded mount')
        vol.fs.unmount()
        vol.mount()   # no -o degraded needed any more
        _check_after_loss(vol, files, 1, 'mounted again')
        vol.fs.unmount()
        vol.fsck_clean('after a degraded mount')


def test_a_range_drill_over_a_device():
    """The operator's range drill over a whole device: the same outcome
    as losing it (files there EIO, the rest intact), the device stays
    active in the table (a drill is not a loss of the device)."""
    with Volume(2) as vol:
        vol.mount()
        files = _spread_files(vol)
        dev1 = vol.devices(vol.fs.mnt)[1]
        r = H.run([H.binary('holdfsctl'), 'inject', '--range', '%d,%d' % (
            1 << 30, dev1['size']), vol.fs.mnt], timeout=60)
        check(r.returncode == 0, 'holdfsctl inject --range over device 1: %d %s %s'
              % (r.returncode, r.stdout, r.stderr))
        _check_after_loss(vol, files, 1, 'after the drill')
        vol.fs.unmount()
        vol.fsck_clean('after a range drill over a device')


def main():
    args = H.default_parser(__doc__.splitlines()[0]).parse_args()
    H.require_root()
    if not shutil.which('sha256sum'):
        H.cannot_run('sha256sum not installed')
    H.run_tests(H.collect(globals()), args)


if __name__ == '__main__':
    main()
