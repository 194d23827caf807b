#!/usr/bin/env bash
# holdfs benchmark: the same jobs on holdfs and on baselines, side by side,
# in one run on this machine.  A benchmark, not a test: nothing asserts the
# numbers.  See bench/README.md.
#
#   bench/run-bench.sh [--targets LIST] [--json]
#
#   --targets LIST  comma-separated subset of:
#                   holdfs,holdfs_shim,passthrough,tmpfs,memcpy (default: all),
#                   and holdfs_uring (holdfs mounted -o io_uring, with the
#                   fuse module's enable_uring set for the run; not in
#                   the default set)
#   --json          print the result table as JSON instead of text
#
# Environment (defaults in brackets):
#   BENCH_SIZE      fio file size [256M]
#   BENCH_RUNTIME   seconds per fio job and per memcpy load [10]
#   BENCH_FILES     files per metabench phase [10000]
#   BENCH_REPEAT    rounds of every measurement; cells are medians [1]
#   BENCH_APPENDS   timed 4 KiB append+fsync iterations [20000]
#   BENCH_APPEND_WARMUP  untimed ones before them [2000]
#   BENCH_SMALL_FILES    4 KiB files of the small-file row [2000]
#   BENCH_SMALL_PASSES   timed open+read+close passes over them [5]
#   BENCH_DIR       tmpfs directory for regions, sources and mounts [/dev/shm]
#   BENCH_REGION_SIZE  holdfs region size [max(1G, 4 x BENCH_SIZE)]
#   BENCH_RESULTS   keep the raw fio/metabench/lat outputs in this directory
#   BENCH_PT_XATTR  1: passthrough_ll with -o xattr, as holdfs has [0]
#   BENCH_PT_PERMS  1: passthrough_ll with -o default_permissions, as holdfs [0]
#   HOLDFS_BUILD    meson build directory with the holdfs binaries [build]
#   PMEM2_FORCE_GRANULARITY  passed through to holdfs, rawcopy and lat
#
# Needs root as far as mounting FUSE does on this machine, and for DAX
# leases (the holdfs+shim column's data path).  Every mount, daemon and
# measuring process it starts is taken down on exit, Ctrl-C or failure.
set -euo pipefail

usage() {
	sed -n '2,29s/^# \{0,1\}//p' "$0"
}

root=$(cd "$(dirname "$0")/.." && pwd)
all_targets=(holdfs holdfs_uring holdfs_shim passthrough tmpfs memcpy)
default_targets=(holdfs holdfs_shim passthrough tmpfs memcpy)
targets_arg=$(IFS=,; echo "${default_targets[*]}")
json=0
while [ $# -gt 0 ]; do
	case "$1" in
	--targets) targets_arg=${2:?--targets needs a list}; shift ;;
	--targets=*) targets_arg=${1#--targets=} ;;
	--json) json=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

say() { echo "run-bench: $*" >&2; }
die() { echo "run-bench: error: $*" >&2; exit 1; }

# Targets in canonical order, whatever order they were given in.
declare -A want=()
IFS=, read -r -a given <<<"$targets_arg"
for t in "${given[@]}"; do
	case "$t" in
	holdfs | holdfs_uring | holdfs_shim | passthrough | tmpfs | memcpy) want[$t]=1 ;;
	holdfs+shim) want[holdfs_shim]=1 ;;
	passthrough_ll) want[passthrough]=1 ;;
	*) die "unknown target '$t' (known: ${all_targets[*]})" ;;
	esac
done
targets=()
for t in "${all_targets[@]}"; do
	[ -n "${want[$t]:-}" ] && targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || die "no targets"
has() { [ -n "${want[$1]:-}" ]; }

size_arg=${BENCH_SIZE:-256M}
runtime=${BENCH_RUNTIME:-10}
nfiles=${BENCH_FILES:-10000}
rounds=${BENCH_REPEAT:-1}
appends=${BENCH_APPENDS:-20000}
append_warm=${BENCH_APPEND_WARMUP:-2000}
small_files=${BENCH_SMALL_FILES:-2000}
small_passes=${BENCH_SMALL_PASSES:-5}
bench_dir=${BENCH_DIR:-/dev/shm}
build=${HOLDFS_BUILD:-$root/build}

for tool in fio python3 gcc pkg-config fusermount3 numfmt; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found; run scripts/setup-deps.sh first"
done
size=$(numfmt --from=iec "$size_arg") || die "bad BENCH_SIZE: $size_arg"
[ "$size" -ge $((1 << 20)) ] || die "BENCH_SIZE must be at least 1M"
[[ "$runtime" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_RUNTIME: $runtime"
[[ "$nfiles" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_FILES: $nfiles"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_REPEAT: $rounds"
[[ "$appends" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_APPENDS: $appends"
[[ "$append_warm" =~ ^[0-9]+$ ]] || die "bad BENCH_APPEND_WARMUP: $append_warm"
[[ "$small_files" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_SMALL_FILES: $small_files"
[[ "$small_passes" =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_SMALL_PASSES: $small_passes"
[ "$(stat -f -c %T "$bench_dir" 2>/dev/null)" = tmpfs ] ||
	die "BENCH_DIR=$bench_dir is not a tmpfs directory"

if has holdfs || has holdfs_shim || has holdfs_uring; then
	holdfs_bin=$build/fs/holdfs
	mkfs_bin=$build/mkfs/mkfs.holdfs
	preload=$build/client/libholdfs-preload.so
	need=("$holdfs_bin" "$mkfs_bin")
	has holdfs_shim && need+=("$preload")
	for b in "${need[@]}"; do
		[ -e "$b" ] || die "holdfs targets: $b not built; run" \
			"scripts/build.sh (or HOLDFS_BUILD=DIR), or leave holdfs out:" \
			"--targets passthrough,tmpfs,memcpy"
	done
fi

# ---- scratch space and teardown -------------------------------------------
work=$(mktemp -d "$bench_dir/holdfs-bench.XXXXXX")
bin=$(mktemp -d "${TMPDIR:-/tmp}/holdfs-bench-bin.XXXXXX")
res=$bin/results
mkdir -p "$res"
mounts=()
pids=()
child=

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

# Wait up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

cleanup() {
	local rc=$? i m p grace
	trap - EXIT INT TERM
	# The measuring child first (it may hold files open on a mount),
	# with a deadline: a process stuck on a mount is killed.
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait_gone "$child" 50 || kill -KILL "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	# pids[i] serves mounts[i]: unmounting ends a daemon; one that never
	# mounted (or outlives its unmount by 10 s) is terminated.
	for i in "${!pids[@]}"; do
		m=${mounts[$i]} p=${pids[$i]} grace=0
		if is_mounted "$m"; then
			grace=100
			fusermount3 -u "$m" 2>/dev/null ||
				{ sleep 1; fusermount3 -u "$m" 2>/dev/null; } ||
				{ say "lazy unmount of busy $m"; fusermount3 -uz "$m"; } ||
				true
		fi
		if ! wait_gone "$p" "$grace"; then
			[ "$grace" -eq 0 ] ||
				say "daemon $p still running 10 s after unmount; stopping it"
			kill -TERM "$p" 2>/dev/null || true
			wait_gone "$p" 30 || kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${BENCH_RESULTS:-}" ]; then
		mkdir -p "$BENCH_RESULTS" && cp -r "$res"/. "$BENCH_RESULTS"/ &&
			say "raw results kept in $BENCH_RESULTS"
	fi
	rm -rf "$work" "$bin"
	if [ -n "${uring_param_saved:-}" ]; then
		echo "$uring_param_saved" >"$uring_param" 2>/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a measuring command as a waited-for child: a signal to this script
# then interrupts the wait at once (a foreground child that catches SIGINT
# itself, like fio, would keep bash from running its trap), and cleanup
# stops the child before unmounting what it has open.
run_child() {
	local rc=0
	"$@" &
	child=$!
	wait "$child" || rc=$?
	child=
	return "$rc"
}

# start_fuse MNT LOG CMD...: run a FUSE daemon in the foreground (-f is in
# CMD) as our child and wait, with a deadline, until MNT is mounted.
start_fuse() {
	local mnt=$1 log=$2 pid i
	shift 2
	mkdir -p "$mnt"
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	mounts+=("$mnt")
	for ((i = 0; i < 100; i++)); do
		is_mounted "$mnt" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			say "$1 exited before mounting $mnt; its output:"
			sed 's/^/    /' "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	say "$1 did not mount $mnt within 10 s; its output:"
	sed 's/^/    /' "$log" >&2
	return 1
}

declare -A dir=() mode=()
failed_jobs=()

cflags=(-O2 -Wall -Wextra -I"$root/bench")
gcc "${cflags[@]}" -pthread -o "$bin/metabench" "$root/bench/metabench.c"
for p in rawcopy lat; do
	# shellcheck disable=SC2046 # pkg-config output is a list of words
	gcc "${cflags[@]}" -std=c17 -o "$bin/$p" "$root/bench/$p.c" \
		$(pkg-config --cflags --libs libpmem2)
done

# The store granularity libpmem2 picks for a file in BENCH_DIR under this
# environment: what the holdfs region mapping gets too.
granularity=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["granularity"])' \
	< <("$bin/rawcopy" "$work/probe.img" $((1 << 20)) 0)) || granularity=unknown
gran_note="libpmem2 store granularity $granularity (PMEM2_FORCE_GRANULARITY=${PMEM2_FORCE_GRANULARITY:-unset})"

# ---- targets ---------------------------------------------------------------
# mount_holdfs T: format a region for target T and mount it at dir[T].
# holdfs and holdfs_shim get one each, set up the same way, so neither
# column sees the other's files, leases or cached pages.
mount_holdfs() {
	local t=$1
	shift
	say "$t: mkfs of a ${region_mib} MiB region in $work"
	"$mkfs_bin" --size "${region_mib}M" -L bench "$work/region-$t.img" \
		>"$bin/mkfs-$t.log" 2>&1 || {
		sed 's/^/    /' "$bin/mkfs-$t.log" >&2
		die "$t target: mkfs.holdfs failed (output above)"
	}
	start_fuse "$work/mnt-$t" "$bin/$t.log" \
		"$holdfs_bin" "$work/region-$t.img" "$work/mnt-$t" -f "$@" ||
		die "$t target: could not mount holdfs (output above)"
	dir[$t]=$work/mnt-$t
}

if has holdfs || has holdfs_shim || has holdfs_uring; then
	region_size=${BENCH_REGION_SIZE:-}
	if [ -z "$region_size" ]; then
		region_size=$((4 * size))
		[ "$region_size" -ge $((1 << 30)) ] || region_size=$((1 << 30))
	else
		region_size=$(numfmt --from=iec "$region_size")
	fi
	region_mib=$((region_size >> 20))
	holdfs_mode="region file on $bench_dir (tmpfs: DRAM standing in for pmem), ${region_mib} MiB; $gran_note; mounted with no -o options"
fi
if has holdfs; then
	mount_holdfs holdfs
	mode[holdfs]=$holdfs_mode
fi
if has holdfs_uring; then
	# FUSE over io_uring needs the fuse module's consent; put the
	# parameter back on exit (cleanup)
	uring_param=/sys/module/fuse/parameters/enable_uring
	[ -w "$uring_param" ] ||
		die "holdfs_uring target: $uring_param missing or not writable (kernel 6.14+ and root needed)"
	uring_param_saved=$(cat "$uring_param")
	echo Y >"$uring_param"
	mount_holdfs holdfs_uring -o io_uring
	grep -q "FUSE over io_uring" "$bin/holdfs_uring.log" ||
		die "holdfs_uring target: the daemon did not start its io_uring queues (log: $(cat "$bin/holdfs_uring.log"))"
	mode[holdfs_uring]="its own region and mount, set up as holdfs's, mounted -o io_uring (io_uring_depth default)"
fi
if has holdfs_shim; then
	mount_holdfs holdfs_shim
	if [ "$(id -u)" = 0 ]; then
		shim_who="run as root (DAX leases allowed)"
	else
		shim_who="not run as root: the daemon refuses DAX leases (no -o dax_group), so the data path sends every call to the kernel"
	fi
	mode[holdfs_shim]="its own region and mount, set up as holdfs's; every measured program runs with LD_PRELOAD=$preload and HOLDFS_DATAPATH_STATS=<a file per job>; HOLDFS_DATAPATH=${HOLDFS_DATAPATH:-unset}; $shim_who"
fi

if has passthrough; then
	ex=/usr/share/doc/libfuse3-dev/examples
	for f in passthrough_ll.c passthrough_helpers.h; do
		if [ -f "$ex/$f" ]; then
			cp "$ex/$f" "$bin/$f"
		elif [ -f "$ex/$f.gz" ]; then
			zcat "$ex/$f.gz" >"$bin/$f"
		else
			die "passthrough target: $ex/$f(.gz) not found;" \
				"is libfuse3-dev installed?"
		fi
	done
	# shellcheck disable=SC2046 # pkg-config output is a list of words
	gcc -O2 -o "$bin/passthrough_ll" "$bin/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) ||
		die "passthrough target: could not build passthrough_ll"
	mkdir -p "$work/pt-src"
	# BENCH_PT_XATTR=1 gives passthrough_ll xattr support, as holdfs has:
	# without it the kernel learns at the first getxattr that the
	# filesystem has none and stops asking, while with xattrs it asks for
	# security.capability before every write (FUSE clears SB_NOSEC), one
	# extra round trip per write(2).  bench/README.md explains.
	pt_opts="source=$work/pt-src"
	pt_xattr="no xattr (getxattr answers ENOSYS: no security.capability round trip per write)"
	if [ "${BENCH_PT_XATTR:-0}" = 1 ]; then
		pt_opts="$pt_opts,xattr"
		pt_xattr="-o xattr (xattr support, as holdfs; it pays a security.capability getxattr per write, which holdfs avoids with FUSE_HANDLE_KILLPRIV_V2)"
	fi
	# BENCH_PT_PERMS=1 makes the kernel check permissions for
	# passthrough_ll as it does for holdfs (default_permissions): after
	# every change to a directory the kernel then asks for the
	# directory's attributes (GETATTR) before the next lookup in it, a
	# round trip holdfs pays on every create and unlink.  Without it
	# passthrough_ll checks nothing (it runs as root and any caller may
	# do anything), which is the libfuse example's default.
	pt_perms="no permission checks (no default_permissions)"
	if [ "${BENCH_PT_PERMS:-0}" = 1 ]; then
		pt_opts="$pt_opts,default_permissions"
		pt_perms="-o default_permissions (the kernel checks permissions, as for holdfs)"
	fi
	start_fuse "$work/mnt-pt" "$bin/passthrough_ll.log" \
		"$bin/passthrough_ll" -f -o "$pt_opts" "$work/mnt-pt" ||
		die "passthrough target: could not mount passthrough_ll"
	dir[passthrough]=$work/mnt-pt
	mode[passthrough]="libfuse $(pkg-config --modversion fuse3) example over a directory on $bench_dir; options -o $pt_opts: cache=auto (entry/attr timeout 1 s, page cache dropped on open), no writeback cache, $pt_xattr, $pt_perms, no flock, multi-threaded loop"
fi

if has tmpfs; then
	mkdir -p "$work/tmpfs"
	dir[tmpfs]=$work/tmpfs
	mode[tmpfs]="directory on $bench_dir (kernel tmpfs, no FUSE)"
fi

if has memcpy; then
	mode[memcpy]="memcpy into/out of a libpmem2 mapping of a file on $bench_dir, pmem2_memcpy (with persist) for writes; on the append rows the same store+persist of 4 KiB at an advancing offset (bench/lat raw); $gran_note; no metadata or small-file rows"
fi

# ---- jobs ------------------------------------------------------------------
# job name -> "rw bs"; seqwrite first so it creates the file the rest reuse.
jobs=(seqwrite seqread randread randwrite)
declare -A job_spec=(
	[seqwrite]="write 1M" [seqread]="read 1M"
	[randread]="randread 4k" [randwrite]="randwrite 4k"
)
fs_targets=()
for t in "${targets[@]}"; do
	[ "$t" = memcpy ] || fs_targets+=("$t")
done

# measure T OUT NAME CMD...: run CMD as the measuring child for target T
# (stdout to OUT.json, stderr to OUT.err); for holdfs_shim under the
# preload shim, its data path counters appended to OUT.dpstats.  Records
# a failure as T:NAME (with the round when there are several).
measure() {
	local t=$1 out=$2 name=$3 rc=0
	shift 3
	if [ "$t" = holdfs_shim ]; then
		run_child env LD_PRELOAD="$preload" \
			HOLDFS_DATAPATH_STATS="$out.dpstats" "$@" \
			>"$out.json" 2>"$out.err" || rc=$?
	else
		run_child "$@" >"$out.json" 2>"$out.err" || rc=$?
	fi
	[ "$rc" -eq 0 ] && return 0
	say "$t: $name FAILED (exit $rc):"
	sed 's/^/    /' "$out.err" >&2
	if [ "$rounds" -gt 1 ]; then
		failed_jobs+=("$t:$name@r$round")
	else
		failed_jobs+=("$t:$name")
	fi
}

# fio runs its job as a thread of its own process (--thread): with the
# default, a forked job process ends with _exit(), and at-exit work such
# as the shim's HOLDFS_DATAPATH_STATS output would be lost.  And it
# writes its buffer as it is (--scramble_buffers=0): by default fio
# rewrites a few bytes in every 512-byte block of the buffer before each
# write, to defeat deduplicating devices, which costs 5-10% of a 1 MiB
# write at memory speed in every column and nothing in the memcpy
# ceiling (rawcopy) the data rows are measured against.
run_fio() {
	local t=$1 job=$2 rw bs
	read -r rw bs <<<"${job_spec[$job]}"
	say "$t: fio $job ($rw, bs=$bs, ${runtime}s)"
	measure "$t" "$rd/$t/$job" "fio $job" \
		fio --name="$job" --directory="${dir[$t]}" --filename=bench.dat \
		--size="$size" --rw="$rw" --bs="$bs" --ioengine=psync \
		--iodepth=1 --numjobs=1 --direct=0 --invalidate=1 \
		--fallocate=none --time_based --runtime="$runtime" --thread \
		--scramble_buffers=0 --output-format=json
}

for ((round = 1; round <= rounds; round++)); do
	rd=$res/r$round
	# Each round starts with another target: on a noisy machine, a
	# column is then not always the one measured right after another.
	order=()
	if [ ${#fs_targets[@]} -gt 0 ]; then
		k=$(((round - 1) % ${#fs_targets[@]}))
		order=("${fs_targets[@]:k}" "${fs_targets[@]:0:k}")
	fi
	for t in "${targets[@]}"; do
		mkdir -p "$rd/$t"
	done
	[ "$rounds" -eq 1 ] || say "round $round of $rounds"

	for job in "${jobs[@]}"; do
		for t in "${order[@]}"; do
			run_fio "$t" "$job"
		done
	done

	for t in "${order[@]}"; do
		rm -f "${dir[$t]}/bench.dat"
		say "$t: metabench, $nfiles files"
		measure "$t" "$rd/$t/meta" metabench "$bin/metabench" "${dir[$t]}" "$nfiles"
	done

	for t in "${order[@]}"; do
		say "$t: $appends appends of 4 KiB + fsync ($append_warm untimed first)"
		rm -f "${dir[$t]}/lat-append.dat"
		measure "$t" "$rd/$t/append" "append+fsync" \
			"$bin/lat" append "${dir[$t]}/lat-append.dat" "$appends" "$append_warm"
		say "$t: open+read 4 KiB+close of $small_files small files, $small_passes passes"
		measure "$t" "$rd/$t/small" "small files" \
			"$bin/lat" small "${dir[$t]}" "$small_files" "$small_passes"
	done

	if has memcpy; then
		say "memcpy: 4 loads of ${runtime}s on a $size_arg mapping"
		measure memcpy "$rd/memcpy/raw" rawcopy \
			"$bin/rawcopy" "$work/raw.img" "$size" "$runtime"
		say "memcpy: $appends stores + persists of 4 KiB at an advancing offset"
		measure memcpy "$rd/memcpy/append" "store+persist" \
			"$bin/lat" raw "$work/lat-raw.img" "$appends" "$append_warm"
	fi
done

# ---- report ----------------------------------------------------------------
export INFO_TARGETS="${targets[*]}" INFO_FAILED="${failed_jobs[*]}"
export INFO_SIZE="$size_arg" INFO_RUNTIME="$runtime" INFO_FILES="$nfiles"
export INFO_GRAN="$granularity" INFO_REPEAT="$rounds"
export INFO_APPENDS="$appends" INFO_APPEND_WARM="$append_warm"
export INFO_SMALL="$small_files" INFO_SMALL_PASSES="$small_passes"
for t in "${targets[@]}"; do
	export "INFO_MODE_$t=${mode[$t]}"
done
python3 - "$res/info.json" <<'EOF'
import json, os, platform, subprocess, sys, time
env = os.environ
cpu = "unknown"
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f
                   if l.startswith("model name"))
except (OSError, StopIteration):
    pass
targets = env["INFO_TARGETS"].split()
info = {
    "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    "host": platform.node(),
    "kernel": platform.release(),
    "cpu": cpu,
    "cpus": os.cpu_count(),
    "fio": subprocess.run(["fio", "--version"], capture_output=True,
                          text=True).stdout.strip(),
    "file_size": env["INFO_SIZE"],
    "runtime_s": int(env["INFO_RUNTIME"]),
    "io": "buffered (direct=0), psync, iodepth 1, 1 job as a thread "
          "(--thread), time_based; page cache dropped at job start "
          "(invalidate=1)",
    "meta_files": int(env["INFO_FILES"]),
    "latency": f"append+fsync: {env['INFO_APPENDS']} timed 4 KiB "
               f"iterations after {env['INFO_APPEND_WARM']} untimed; "
               f"small files: {env['INFO_SMALL']} files of 4 KiB, "
               f"{env['INFO_SMALL_PASSES']} timed passes after 1 untimed",
    "repeat": int(env["INFO_REPEAT"]),
    "pmem2_force_granularity": env.get("PMEM2_FORCE_GRANULARITY"),
    "pmem2_store_granularity": env["INFO_GRAN"],
    "targets": targets,
    "mode": {t: env["INFO_MODE_" + t] for t in targets},
    "failed_jobs": env["INFO_FAILED"].split(),
}
with open(sys.argv[1], "w") as f:
    json.dump(info, f, indent=2)
EOF

if [ $json -eq 1 ]; then
	python3 "$root/bench/report.py" "$res" --json
else
	python3 "$root/bench/report.py" "$res"
fi

if [ ${#failed_jobs[@]} -gt 0 ]; then
	die "${#failed_jobs[@]} job(s) failed: ${failed_jobs[*]}"
fi
