#!/usr/bin/env bash
# Several devices in one volume (issue 16): what they cost and how fast a
# lost device is contained.  A benchmark, not a test: nothing asserts the
# numbers.
#
#   bench/multidev-bench.sh [--json]            (root, /dev/fuse)
#
# 1. metadata rate: bench/metabench (create, stat, unlink of N empty files,
#    one thread) on a volume of one device and on a volume of two devices
#    of the same total size, in the same run, REPEAT times alternating; the
#    ratio two/one per run and its spread.  Target (issue 16): >= 0.8.
#    Today the metadata is on device 0 alone (not mirrored), so this shows
#    what assembling the devices costs, not yet what mirroring will.
# 2. loss of a device: a two-device volume holding FILES small files, half
#    on each device (placement alternates by free space); the device file
#    of device 1 is truncated; measured: the daemon's phases for the range
#    failure (`holdfsctl status --json` "phases": revoke, mark lost +
#    invalidate), and the wall time from the truncate until `holdfsctl
#    devices` says "lost" (inotify-driven detection + handling + the poll
#    of this script, 5 ms).  With FILES and 4 * FILES, so the growth with
#    the number of affected files shows.  Target (issue 16): every
#    affected lease revoked within 10 ms, flat in the unaffected files
#    (DAX leases are refused on such volumes for now: the revoke phase is
#    what that will cost, the rest is marking the files' data lost).
#
# Environment: BENCH_FILES (default 2000), BENCH_REPEAT (3), BENCH_DIR
# (region files; default /dev/shm), HOLDFS_BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
json=0
[ "${1:-}" = --json ] && json=1
build=$(realpath "${HOLDFS_BUILD:-build}")
files=${BENCH_FILES:-2000}
repeat=${BENCH_REPEAT:-3}
base=${BENCH_DIR:-/dev/shm}
mkfs=$build/mkfs/mkfs.holdfs
holdfs=$build/fs/holdfs
ctl=$build/ctl/holdfsctl
for b in "$mkfs" "$holdfs" "$ctl"; do
	[ -x "$b" ] || { echo "multidev-bench: $b not built (meson setup build && ninja -C build)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "multidev-bench: needs root (FUSE mounts with allow_other)" >&2; exit 2; }
work=$(mktemp -d "$base/holdfs-mdbench.XXXXXX")
mnt=$(mktemp -d /tmp/holdfs-mdbench-mnt.XXXXXX)
cleanup() {
	mountpoint -q "$mnt" && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$work" "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
gcc -O2 -pthread -o "$work/metabench" bench/metabench.c
say() { [ $json = 1 ] || echo "$@"; }

mount_vol() { # REGION [DEVICE...]
	local r=$1; shift
	local o=allow_other
	for d in "$@"; do o="$o,device=$d"; done
	"$holdfs" "$r" "$mnt" -o "$o"
}
umount_vol() {
	local i
	fusermount3 -u "$mnt"
	for i in $(seq 200); do pgrep -f "holdfs $work" >/dev/null || return 0; sleep 0.02; done
}

# --- 1. metadata rate --------------------------------------------------
rate() { # JSON KEY
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
declare -a r1 r2
for i in $(seq "$repeat"); do
	for shape in one two; do
		rm -f "$work"/*.img
		if [ $shape = one ]; then
			"$mkfs" -q --size 1G "$work/a.img"
			mount_vol "$work/a.img"
		else
			"$mkfs" -q --size 512M "$work/a.img" "$work/b.img"
			mount_vol "$work/a.img" "$work/b.img"
		fi
		out=$("$work/metabench" "$mnt" "$files")
		umount_vol
		if [ $shape = one ]; then r1+=("$out"); else r2+=("$out"); fi
	done
done
say "== metadata rate, $files files, $repeat runs (ops/s; ratio two devices / one)"
summary=$(python3 - "$repeat" "${r1[@]}" "${r2[@]}" <<'EOF'
import json, sys
n = int(sys.argv[1])
one = [json.loads(x) for x in sys.argv[2:2 + n]]
two = [json.loads(x) for x in sys.argv[2 + n:2 + 2 * n]]
rows = {}
for k in ('create', 'stat', 'unlink'):
    ratios = [t[k] / o[k] for o, t in zip(one, two)]
    rows[k] = {'one': [round(o[k]) for o in one], 'two': [round(t[k]) for t in two],
               'ratio': [round(r, 3) for r in ratios],
               'ratio_min': round(min(ratios), 3), 'ratio_max': round(max(ratios), 3)}
print(json.dumps(rows))
EOF
)
[ $json = 1 ] || python3 - "$summary" <<'EOF'
import json, sys
for k, v in json.loads(sys.argv[1]).items():
    print('  %-7s one %-24s two %-24s ratio %s (min %.2f, max %.2f)'
          % (k, v['one'], v['two'], v['ratio'], v['ratio_min'], v['ratio_max']))
EOF

# --- 2. loss of a device -----------------------------------------------
loss() { # NFILES
	local n=$1 t0 t1 st
	rm -f "$work"/*.img
	"$mkfs" -q --size 2G -N $((n * 4 + 1000)) "$work/a.img" "$work/b.img"
	mount_vol "$work/a.img" "$work/b.img"
	python3 - "$mnt" "$n" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
buf = b'x' * 8192
for i in range(n):
    with open(os.path.join(d, 'f%06d' % i), 'wb') as f:
        f.write(buf)
EOF
	t0=$(date +%s%N)
	truncate -s 1M "$work/b.img"
	for _ in $(seq 4000); do
		"$ctl" devices --json "$mnt" | grep -q '"lost"' && break
		sleep 0.005
	done
	t1=$(date +%s%N)
	st=$("$ctl" status --json "$mnt")
	umount_vol
	python3 - "$st" "$n" "$(( (t1 - t0) / 1000 ))" <<'EOF'
import json, sys
st, n, us = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ph = {p['phase']: p['ms'] for p in st.get('phases', [])}
lost = sum(1 for a in st.get('affected', []))
print(json.dumps({'files': n, 'affected_files': lost, 'phases_ms': ph,
                  'truncate_to_lost_ms': us / 1000}))
EOF
}
l1=$(loss "$files")
l4=$(loss $((files * 4)))
say "== loss of device 1 (half of the files on it)"
[ $json = 1 ] || python3 - "$l1" "$l4" <<'EOF'
import json, sys
for x in sys.argv[1:]:
    r = json.loads(x)
    print('  %6d files (%d affected): %s; truncate -> devices says lost: %.1f ms'
          % (r['files'], r['affected_files'],
             ', '.join('%s %.3f ms' % kv for kv in r['phases_ms'].items()),
             r['truncate_to_lost_ms']))
EOF
[ $json = 0 ] || python3 -c 'import json,sys; print(json.dumps({"metadata": json.loads(sys.argv[1]), "loss": [json.loads(sys.argv[2]), json.loads(sys.argv[3])]}))' "$summary" "$l1" "$l4"
