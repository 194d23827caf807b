#!/usr/bin/env bash
# fsck.holdfs benchmark: check time against the number of files, and
# against the region size for a fixed number of files.  A benchmark, not a
# test: nothing asserts the numbers.
#
#   bench/fsck-bench.sh [--quick]
#
#   --quick   10k and 100k files only, and 1 GiB vs 16 GiB (no 1M row)
#
# Environment (defaults in brackets):
#   BENCH_DIR      where the sparse region files go [/dev/shm]
#   HOLDFS_BUILD   meson build directory with fsck.holdfs and lib/ [build]
#   BENCH_RUNS     fsck runs per row, the best one is kept [3]
#
# Regions are populated by bench/fsck-gen.c through the lib API (no FUSE):
# N empty files, 1000 per directory.  fsck runs as `fsck.holdfs -n -f
# --json` on a region file in BENCH_DIR (on /dev/shm: tmpfs, so page
# cache; libpmem2 picks page granularity, irrelevant to a read-only
# check).  Every row passes the same inode-table size (-N) where rows
# are compared, since mkfs's default inode count grows with the region.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${HOLDFS_BUILD:-$root/build}
dir=${BENCH_DIR:-/dev/shm}
runs=${BENCH_RUNS:-3}
quick=0
[ "${1:-}" = "--quick" ] && quick=1
say() { echo "fsck-bench: $*" >&2; }

fsck=$build/fsck/fsck.holdfs
core=$build/lib/libholdfs-core.a
[ -x "$fsck" ] && [ -f "$core" ] || { say "build first (scripts/build.sh)"; exit 1; }
work=$(mktemp -d "$dir/fsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "compiling fsck-gen"
gcc -O2 -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-I"$root/include" -I"$root/lib/include" -o "$work/fsck-gen" \
	"$root/bench/fsck-gen.c" "$core" \
	$(pkg-config --libs libpmem2 libsysfs) -lisal -lpthread

# row FILES SIZE INODES: populate, fsck RUNS times, print the best
row() {
	local files=$1 size=$2 inodes=$3 img=$work/region best= pass=
	say "$files files, region $(numfmt --to=iec "$size"), $inodes inode slots"
	"$work/fsck-gen" -f "$files" -s "$size" -N "$inodes" "$img"
	for _ in $(seq "$runs"); do
		local t0 t1 ms
		t0=$(date +%s%N)
		"$fsck" -n -f --json "$img" >"$work/report.json"
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then
			best=$ms
			pass=$(python3 -c 'import json,sys
r=json.load(open(sys.argv[1])); t=r["timings_ms"]
print("%d/%d/%d/%d" % (round(t["pass1"]), round(t["pass1b"]),
      round(t["pass2"]), round(t["pass3"]+t["pass4"]+t["pass5"])))' \
				"$work/report.json")
		fi
	done
	local used
	used=$(du -k "$img" | cut -f1)
	printf "%10s %9s %10s %9s %12s %10.0f  %s\n" "$files" \
		"$(numfmt --to=iec "$size")" "$inodes" "$(numfmt --to=iec $((used * 1024)))" \
		"$best" "$(echo "$files * 1000 / ($best + 0.001)" | bc -l)" "$pass"
	rm -f "$img"
}

header() {
	echo
	echo "$1"
	printf "%10s %9s %10s %9s %12s %10s  %s\n" files region "inode slots" \
		"on disk" "fsck ms" "files/s" "pass1/1b/2/3-5 ms"
}

G=$((1 << 30))
header "fsck time by file count (fsck.holdfs -n -f, best of $runs)"
row 10000 $G 20000
row 100000 $G 110000
[ $quick -eq 1 ] || row 1000000 $((4 * G)) 1010000

header "same file count, bigger region (same inode table): cost follows metadata"
row 100000 $G 110000
if [ $quick -eq 1 ]; then
	row 100000 $((16 * G)) 110000
else
	row 100000 $((64 * G)) 110000
fi
