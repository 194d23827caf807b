#!/bin/sh
# Full crash-consistency run (docs/crash-testing.md).
#
#   tests/crash/run-full.sh [BUILD_DIR] [REPORT]
#
# Every workload, many seeds, larger subsets, crashed recoveries; the
# target is well over 10,000 distinct crash states checked with zero
# failures.  Environment: CRASH_SEEDS (default 10) seeds for the quick
# workloads.  Exit status 0 when every state passed, 1 otherwise.
set -eu

build=${1:-build}
report=${2:-crash-full-report.txt}
seeds=${CRASH_SEEDS:-10}
exe=$build/tests/crash/crashcheck

if [ ! -x "$exe" ]; then
	echo "run-full.sh: $exe not found; build first (meson compile -C $build)" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

run() { # name, crashcheck arguments...
	name=$1
	shift
	echo "== $name: crashcheck $*"
	# (inside the pipe to tee: a subshell, so the verdict goes to a file)
	"$exe" --report "$tmp/$name.txt" "$@" >/dev/null || : >"$tmp/failed"
	cat "$tmp/$name.txt"
	echo
}

{
	echo "holdfs crash-consistency full run, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "build: $build"
	echo
	# the quick workloads: many seeds, subsets up to 10 units, 64 samples
	# beyond, 60 crashed recoveries per run
	run quick --workload all --quick --seed 1 --seeds "$seeds" \
		--subset-limit 10 --samples 64 --recovery 60
	# data-path slots: ten more seeds (the quick run above covers 1 to
	# CRASH_SEEDS), every state
	run dslot --workload dslot --seed 101 --seeds 10 --subset-limit 10 \
		--samples 64 --recovery 60
	# mirrored metadata (--mirror: recovered from both copies and from
	# the mirror alone): the quick workloads, seeds 1 to 3, at most 4000
	# states per run (each checked twice): ~98000 states, ~70 s
	run mirror --mirror --workload all --quick --seed 1 --seeds 3 \
		--subset-limit 10 --samples 64 --max-states 4000
	# the full-only workloads: one seed each, capped (their checks walk
	# thousands of entries or megabytes of data)
	run fill --workload fill --seed 1 --max-states 12000 --recovery 20
	run manyclose --workload manyclose --seed 1 --max-states 20000
	run bigdir-large --workload bigdir-large --seed 1 --max-states 15000 \
		--recovery 10
	echo "== summary"
	awk '$1 == "TOTAL" { g += $5; d += $6; c += $8; f += $9 }
	     /^recovery crashes:/ { rc += $8; rf += $10 }
	     END { printf "crash states generated: %d, distinct: %d, checked: %d, failed: %d\n", g, d, c, f
		   printf "crashed-recovery states checked: %d, failed: %d\n", rc, rf }' \
		"$tmp"/*.txt
} | tee "$report"

echo "report: $report"
[ ! -e "$tmp/failed" ]
