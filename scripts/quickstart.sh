#!/usr/bin/env bash
# holdfs quick start: install dependencies, build, format a file-backed
# region, mount it and show its three uses: files written and read back,
# an unmodified program mapping a file through the preload shim (a DAX
# lease), and a range-failure drill on scratch files.  Leaves it mounted.
#
#   scripts/quickstart.sh       (as root; anyone else: it re-runs itself with sudo)
#
# Environment (defaults in brackets):
#   HOLDFS_REGION   region file [/var/tmp/holdfs/region.img]; created
#                   (sparse) and formatted if it does not exist, reused if
#                   it does
#   HOLDFS_SIZE     size of a new region [1G]
#   HOLDFS_MNT      mount point [/mnt/holdfs]
#   HOLDFS_DEMO_MB  size of the random demo file in MiB [64]
set -euo pipefail

usage() {
	sed -n '2,16s/^# \{0,1\}//p' "$0"
}
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") ;;
*) echo "quickstart: unknown argument: $1" >&2; usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/as-root.sh
. "$root/scripts/as-root.sh"
as_root quickstart "$@"
region=${HOLDFS_REGION:-/var/tmp/holdfs/region.img}
size=${HOLDFS_SIZE:-1G}
mnt=${HOLDFS_MNT:-/mnt/holdfs}
demo_mb=${HOLDFS_DEMO_MB:-64}
holdfs=$root/build/fs/holdfs
mkfs=$root/build/mkfs/mkfs.holdfs
holdfsctl=$root/build/ctl/holdfsctl
shim=$root/build/client/libholdfs-preload.so

step() { printf '\n==> %s\n' "$*"; }
die() { echo "quickstart: error: $*" >&2; exit 1; }
show() { printf '$ %s\n' "$*"; "$@"; }


fstype_at() {
	awk -v m="$1" '$2 == m { t = $3 } END { if (t) print t; else exit 1 }' \
		/proc/mounts
}

# Wait up to 10 s for MNT to be (un)mounted: wait_mount MNT yes|no
wait_mount() {
	local i
	for ((i = 0; i < 100; i++)); do
		if fstype_at "$1" >/dev/null; then
			[ "$2" = yes ] && return 0
		else
			[ "$2" = no ] && return 0
		fi
		sleep 0.1
	done
	return 1
}

# PIDs of holdfs daemons serving mount point $1.
daemons_of() {
	local pid args a
	for pid in $(pgrep -x holdfs || true); do
		mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || continue
		for a in "${args[@]}"; do
			if [ "$a" = "$1" ]; then
				echo "$pid"
				break
			fi
		done
	done
}

mount_holdfs() {
	show "$holdfs" "$region" "$mnt" ||
		die "holdfs could not mount $region on $mnt (see its message" \
			"above); if $region is not a holdfs region, remove it or" \
			"format it with: $mkfs -f $region"
	wait_mount "$mnt" yes || die "$mnt did not appear in /proc/mounts"
}

unmount_holdfs() {
	local pids pid i
	pids=$(daemons_of "$mnt")
	show fusermount3 -u "$mnt"
	wait_mount "$mnt" no || die "$mnt is still mounted"
	# One owner per region: the old daemon must be gone before a new one.
	for pid in $pids; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && die "holdfs daemon $pid did not exit"
	done
	return 0
}

show_it() {
	step "The mounted filesystem"
	show ls -l "$mnt"
	[ ! -d "$demo_dir" ] || show ls -l "$demo_dir"
	show df -h "$mnt"
	show grep -Fw "$mnt" /proc/mounts
}

# The program of the DAX demo: stock python3, nothing holdfs in it.  Its
# MAP_SHARED mapping becomes a lease only because the shim is preloaded.
mapper_py='
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 1 << 20)          # MAP_SHARED, read and write
msg = b"stored through a DAX mapping by python3 %d\n" % os.getpid()
m[:len(msg)] = msg                  # plain stores into the mapping
m.flush()                           # msync: durable when it returns
print(os.getpid(), flush=True)      # ready; hold the mapping until told
sys.stdin.readline()
'

map_demo() {
	local f=$demo_dir/mapped.bin pid leases
	step "An unmodified program maps a file through the preload shim (DAX)"
	echo "python3's own mmap module, run with LD_PRELOAD=$shim:"
	echo "its shared mapping of $f becomes a DAX lease, and its stores go"
	echo "straight into the region, with no FUSE request in between."
	show truncate -s 1M "$f"
	printf '$ LD_PRELOAD=%s python3 -c <map 1 MiB, store, msync, wait>\n' "$shim"
	coproc MAPPER { LD_PRELOAD=$shim exec python3 -c "$mapper_py" "$f"; }
	read -r -t 20 pid <&"${MAPPER[0]}" || die "the mapping program did not start"
	echo "python3 (pid $pid) holds the mapping; the daemon lists its lease:"
	leases=$(show "$holdfsctl" leases "$mnt") || die "holdfsctl leases failed"
	echo "$leases"
	echo >&"${MAPPER[1]}"
	wait "$MAPPER_PID" || die "the mapping program failed"
	awk -v p="$pid" '$2 == p { found = 1 } END { exit !found }' <<<"$leases" ||
		die "no lease of pid $pid: the shim did not map $f directly"
	echo "python3 exited (its lease released); read(2) through FUSE sees its stores:"
	show head -n 1 "$f"
}

drill_demo() {
	step "A range-failure drill on scratch files of the mount"
	echo "holdfsctl drill creates $mnt/holdfs-drill.PID, maps its files from"
	echo "4 client processes while 2 others write, fails one 4 KiB block of"
	echo "a scratch file (a simulated media error), checks that exactly the"
	echo "lease over it is revoked and everything else keeps working, then"
	echo "unmounts, runs fsck, mounts again and removes its directory.  Your"
	echo "files are not touched; the failed block stays on the bad-extent"
	echo "list, never to be allocated again."
	show "$holdfsctl" drill --kind range "$mnt" || die "the drill failed"
	wait_mount "$mnt" yes || die "$mnt is not mounted after the drill"
	show "$holdfsctl" status "$mnt"
	(cd "$demo_dir" && show sha256sum -c big.bin.sha256) ||
		die "big.bin differs after the drill"
}

demo_dir=$mnt/demo
current=$(fstype_at "$mnt" || true)
if [ -n "$current" ]; then
	[ "$current" = fuse.holdfs ] ||
		die "$mnt is already mounted, as $current, not holdfs;" \
			"set HOLDFS_MNT to another directory"
	step "holdfs is already mounted on $mnt; showing it"
	show_it
	if [ -f "$demo_dir/big.bin.sha256" ]; then
		(cd "$demo_dir" && show sha256sum -c big.bin.sha256)
	fi
	exit 0
fi

step "Installing dependencies"
"$root/scripts/setup-deps.sh"

step "Building"
"$root/scripts/build.sh"
for b in "$holdfs" "$mkfs" "$holdfsctl" "$shim"; do
	[ -x "$b" ] || die "$b was not built"
done

if [ -e "$region" ]; then
	step "Reusing the region $region (remove it to start afresh)"
else
	step "Formatting a new $size region file $region (sparse)"
	mkdir -p "$(dirname "$region")"
	if ! show "$mkfs" --size "$size" -L quickstart "$region"; then
		rm -f "$region"
		die "mkfs.holdfs failed"
	fi
fi
show ls -lsh "$region"

step "Mounting $region on $mnt"
mkdir -p "$mnt"
mount_holdfs

step "Writing a few files"
rm -rf "$demo_dir"
show mkdir -p "$demo_dir/notes"
echo "hello from holdfs" >"$demo_dir/hello.txt"
echo "wrote $demo_dir/hello.txt"
date -u >"$demo_dir/notes/created"
echo "wrote $demo_dir/notes/created"
show cat "$demo_dir/hello.txt"
echo "writing ${demo_mb} MiB from /dev/urandom to $demo_dir/big.bin;" \
	"the checksum is taken of the bytes as they are written"
sum=$(head -c "$((demo_mb << 20))" /dev/urandom | tee "$demo_dir/big.bin" |
	sha256sum | cut -d' ' -f1)
echo "$sum  big.bin" >"$demo_dir/big.bin.sha256"
show sync "$demo_dir/big.bin"

step "Unmounting and mounting again, then reading big.bin back"
unmount_holdfs
mount_holdfs
(cd "$demo_dir" && show sha256sum -c big.bin.sha256) ||
	die "big.bin read back differs from what was written"

map_demo
drill_demo
show_it

cat <<EOF

holdfs is LEFT MOUNTED on $mnt on purpose, so you can try it:
    ls -l $mnt; cp some-file $mnt/
    LD_PRELOAD=$shim HOLDFS_LOG=1 your-program   (DAX access)
    $holdfsctl status $mnt     (health; also: leases, holders, drill)

Unmount:  fusermount3 -u $mnt      (or: umount $mnt)
Remount:  $holdfs $region $mnt
Run this script again to see the mount (it reuses the region file).
EOF
