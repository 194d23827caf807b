#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang and run each for a while.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [FUZZER...]
#
# SECONDS per fuzzer (default 60); FUZZER names (default: every fuzzer
# built: fuzz_fsck, fuzz_mount, and fuzz_proto when present).  The build
# goes to build-fuzz/ (CC=clang, ASan + UBSan, every object compiled with
# -fsanitize=fuzzer-no-link so libFuzzer sees the coverage of lib/ and
# fsck/, not just of the harness).  The seed corpora are generated into
# tests/fuzz/corpus/<name>/ (patch lists, a few bytes each); what the run
# adds to the corpus stays in build-fuzz/corpus/<name>/.
#
# A crash leaves crash-* files in build-fuzz/artifacts/<name>/ and makes
# the script exit non-zero.  To keep it as a regression:
#   cp build-fuzz/artifacts/fuzz_fsck/crash-* tests/fuzz/regressions/fsck/
# the unit suite replays that directory (fuzz-fsck-replay), with any
# compiler.
#
# HOLDFS_FUZZ_JOBS: how many harnesses run at once (default: the number
# of cores).
set -euo pipefail

secs=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/build-fuzz
say() { echo "run-fuzz: $*" >&2; }

command -v clang >/dev/null || { say "clang not found (apt-get install clang)"; exit 1; }
if [ ! -f "$dir/meson-private/coredata.dat" ]; then
	say "configuring $dir"
	CC=clang meson setup "$dir" "$root" \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link -Dbuildtype=debugoptimized >/dev/null
fi
all=(fuzz_fsck fuzz_mount fuzz_proto)
targets=()
for f in "${all[@]}"; do
	case $f in
	fuzz_proto) t=tests/fuzz/fuzz_proto ;;
	*) t=tests/fsck/$f ;;
	esac
	targets+=("$t")
done
say "building"
ninja -C "$dir" tests/fsck/gen_seeds >/dev/null
built=()
for t in "${targets[@]}"; do
	ninja -C "$dir" "$t" >/dev/null 2>&1 && built+=("$t") || say "not built: $t"
done
"$dir/tests/fsck/gen_seeds" "$root/tests/fuzz/corpus/fsck" "$root/tests/fuzz/corpus/mount"

want=("$@")
# The harnesses run side by side, as many at once as there are cores
# (HOLDFS_FUZZ_JOBS): each is one single-threaded process, so each still
# gets a whole core for its SECONDS, and the run takes SECONDS per
# round instead of per harness.
jobs=${HOLDFS_FUZZ_JOBS:-$(nproc)}
case $jobs in ''|*[!0-9]*|0) say "HOLDFS_FUZZ_JOBS must be a positive number"; exit 2 ;; esac
fuzz_one() {
	local t=$1 name seeds corpus art rc=0
	name=$(basename "$t")
	case $name in
	fuzz_proto) seeds=$root/tests/fuzz/corpus_proto ;;
	*) seeds=$root/tests/fuzz/corpus/${name#fuzz_} ;;
	esac
	corpus=$dir/corpus/$name
	art=$dir/artifacts/$name
	mkdir -p "$corpus" "$art"
	say "$name: ${secs}s (seeds: $seeds)"
	"$dir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$corpus" "$seeds" 2>"$dir/$name.log" || rc=$?
	if [ $rc -ne 0 ]; then
		say "$name: FAILED; see $dir/$name.log and $art/"
	fi
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov: " \
		"$dir/$name.log" | tail -3 | sed "s/^/run-fuzz: $name: /" >&2 || true
	return $rc
}
pids=()
for t in "${built[@]}"; do
	name=$(basename "$t")
	if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		sleep 0.5
	done
	fuzz_one "$t" &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
exit $status
