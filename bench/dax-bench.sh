#!/usr/bin/env bash
# holdfs DAX benchmark (issue 4): libholdfs direct access against a direct
# libpmem2 mapping of a file of the same kind, in one run on the same
# machine.  A benchmark, not a test: nothing asserts the numbers.  See
# bench/README.md, "DAX benchmark".
#
#   bench/dax-bench.sh [--json]
#
#   --json          print the result table as JSON instead of text
#
# Environment (defaults in brackets):
#   BENCH_SECS      seconds per bandwidth measurement (3 each side per row) [0.5]
#   BENCH_DIR       tmpfs directory for the region, scratch file, mount [/dev/shm]
#   BENCH_REGION_SIZE  holdfs region size [2G]
#   BENCH_REVOKE_MS the daemon's revoke_ms (-o revoke_ms=N) [its default, 250]
#   BENCH_ROWS      row groups to run, comma-separated: revoke,bw,append,lease [all]
#   HOLDFS_BUILD    meson build directory with the holdfs binaries [build]
#   PMEM2_FORCE_GRANULARITY  passed through to holdfs and daxbench (libpmem2)
#
# Needs root (DAX leases are root-only by default).  The daemon runs in the
# foreground as a child; it is unmounted and waited for on any exit.
set -euo pipefail

usage() {
	sed -n '2,19s/^# \{0,1\}//p' "$0"
}

root=$(cd "$(dirname "$0")/.." && pwd)
json=0
while [ $# -gt 0 ]; do
	case "$1" in
	--json) json=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "dax-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

say() { echo "dax-bench: $*" >&2; }
die() { echo "dax-bench: error: $*" >&2; exit 1; }

secs=${BENCH_SECS:-0.5}
bench_dir=${BENCH_DIR:-/dev/shm}
build=${HOLDFS_BUILD:-$root/build}
region_size=${BENCH_REGION_SIZE:-2G}

for tool in python3 gcc pkg-config fusermount3 numfmt; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found; run scripts/setup-deps.sh first"
done
[[ "$secs" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad BENCH_SECS: $secs"
region_bytes=$(numfmt --from=iec "$region_size") || die "bad BENCH_REGION_SIZE"
[ "$region_bytes" -ge $((2 << 30)) ] || die "BENCH_REGION_SIZE must be at least 2G"
[ "$(stat -f -c %T "$bench_dir" 2>/dev/null)" = tmpfs ] ||
	die "BENCH_DIR=$bench_dir is not a tmpfs directory"
holdfs_bin=$build/fs/holdfs
mkfs_bin=$build/mkfs/mkfs.holdfs
lib=$build/client/libholdfs.so
for b in "$holdfs_bin" "$mkfs_bin" "$lib"; do
	[ -e "$b" ] || die "$b not built; run scripts/build.sh (or HOLDFS_BUILD=DIR)"
done
[ "$(id -u)" = 0 ] || die "DAX leases need root (or a dax_group mount); run with sudo"

# ---- scratch space and teardown -------------------------------------------
work=$(mktemp -d "$bench_dir/holdfs-daxbench.XXXXXX")
bin=$(mktemp -d "${TMPDIR:-/tmp}/holdfs-daxbench-bin.XXXXXX")
mnt=$work/mnt
daemon=
child=

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

cleanup() {
	local rc=$? grace=0
	trap - EXIT INT TERM
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	if is_mounted "$mnt"; then
		grace=100
		fusermount3 -u "$mnt" 2>/dev/null ||
			{ sleep 1; fusermount3 -u "$mnt" 2>/dev/null; } ||
			{ say "lazy unmount of busy $mnt"; fusermount3 -uz "$mnt"; } ||
			true
	fi
	if [ -n "$daemon" ]; then
		if ! wait_gone "$daemon" "$grace"; then
			[ "$grace" -eq 0 ] ||
				say "daemon $daemon still running 10 s after unmount; stopping it"
			kill -TERM "$daemon" 2>/dev/null || true
			wait_gone "$daemon" 30 || kill -KILL "$daemon" 2>/dev/null || true
		fi
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$work" "$bin"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build daxbench against the built library -----------------------------
# shellcheck disable=SC2046 # pkg-config output is a list of words
gcc -std=c17 -O2 -Wall -Wextra -Werror -I"$root/include" \
	-o "$bin/daxbench" "$root/bench/daxbench.c" \
	-L"$(dirname "$lib")" -lholdfs -Wl,-rpath,"$(cd "$(dirname "$lib")" && pwd)" \
	$(pkg-config --cflags --libs libpmem2) -lpthread ||
	die "could not build bench/daxbench.c"

# ---- holdfs ----------------------------------------------------------------
region_mib=$((region_bytes >> 20))
say "mkfs of a ${region_mib} MiB region (4 KiB blocks) in $work"
"$mkfs_bin" --size "${region_mib}M" -b 4K -L daxbench "$work/region.img" \
	>"$bin/mkfs.log" 2>&1 || {
	sed 's/^/    /' "$bin/mkfs.log" >&2
	die "mkfs.holdfs failed (output above)"
}
mkdir -p "$mnt"
mount_opts=()
revoke_note="revoke_ms default (250)"
if [ -n "${BENCH_REVOKE_MS:-}" ]; then
	mount_opts=(-o "revoke_ms=$BENCH_REVOKE_MS")
	revoke_note="-o revoke_ms=$BENCH_REVOKE_MS"
fi
"$holdfs_bin" "$work/region.img" "$mnt" -f "${mount_opts[@]}" </dev/null >"$bin/holdfs.log" 2>&1 &
daemon=$!
for ((i = 0; i < 100; i++)); do
	is_mounted "$mnt" && break
	kill -0 "$daemon" 2>/dev/null || {
		sed 's/^/    /' "$bin/holdfs.log" >&2
		die "holdfs exited before mounting (output above)"
	}
	sleep 0.1
done
is_mounted "$mnt" || die "holdfs did not mount $mnt within 10 s"

# ---- run -------------------------------------------------------------------
# The baseline file sits next to the region image: same tmpfs, so libpmem2
# gives its mapping the same granularity the region's mapping gets.
rc=0
"$bin/daxbench" "$mnt" "$work/scratch.img" "$work/shm-1g.img" "$secs" \
	>"$bin/out.json" &
child=$!
wait "$child" || rc=$?
child=
if [ "$rc" -ne 0 ]; then
	say "holdfs daemon log (last 20 lines):"
	tail -n 20 "$bin/holdfs.log" | sed 's/^/    /' >&2
	die "daxbench failed (exit $rc)"
fi

MODE_NPROC=$(nproc)
export MODE_DIR="$bench_dir" MODE_REGION="$region_mib" JSON="$json" \
	MODE_FORCE="${PMEM2_FORCE_GRANULARITY:-unset}" MODE_NPROC \
	MODE_REVOKE="$revoke_note"
python3 - "$bin/out.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
mode = (f"region file on {os.environ['MODE_DIR']} (tmpfs: DRAM standing in for pmem), "
        f"{os.environ['MODE_REGION']} MiB, 4 KiB blocks, {os.environ['MODE_REVOKE']}; libpmem2 store granularity "
        f"{d['granularity']} (PMEM2_FORCE_GRANULARITY={os.environ['MODE_FORCE']}); "
        f"baseline of bw/append rows: libpmem2 mapping of a scratch file in the same "
        f"directory; {os.environ['MODE_NPROC']} CPUs")
if os.environ["JSON"] == "1":
    d["mode"] = mode
    json.dump(d, sys.stdout, indent=1)
    print()
    sys.exit(0)
print("mode:", mode)
fmt = "{:<28} {:>12} {:>12} {:>7}  {:<8} {}"
print(fmt.format("row", "holdfs", "baseline", "ratio", "target", "unit"))
for r in d["rows"]:
    t = r["target"]
    tgt = "-" if t is None else (">= " if r["better"] == "higher" else "<= ") + f"{t:g}"
    miss = ""
    if t is not None:
        ok = r["ratio"] >= t if r["better"] == "higher" else r["ratio"] <= t
        miss = "" if ok else "  MISSED"
    if r["holdfs"] < 0:
        print(fmt.format(r["row"], "FAILED", f"{r['baseline']:.1f}", "-", tgt,
                         r["unit"]) + "  " + r["note"])
        continue
    print(fmt.format(r["row"], f"{r['holdfs']:.1f}", f"{r['baseline']:.1f}",
                     f"{r['ratio']:.3f}", tgt, r["unit"]) + miss)
print("ratio = holdfs / baseline; bw rows: higher is better; all others: lower is better")
PY
