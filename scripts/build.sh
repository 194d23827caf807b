#!/usr/bin/env bash
# Configure (or reconfigure) and build holdfs with meson + ninja.
#
#   scripts/build.sh              plain build in build/
#   scripts/build.sh --sanitize   ASan + UBSan build in build-asan/
#
# Extra arguments after `--` go to `meson setup` (e.g. -- -Dbuildtype=debug).
set -euo pipefail

usage() {
	sed -n '2,7s/^# \{0,1\}//p' "$0"
}

sanitize=0
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) sanitize=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "build.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ $sanitize -eq 1 ]; then
	dir=build-asan
	opts=("-Db_sanitize=address,undefined" -Db_lundef=false)
else
	dir=build
	opts=()
fi
opts+=("${extra[@]}")

for tool in meson ninja; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build.sh: error: $tool not found; run scripts/setup-deps.sh first" >&2
		exit 1
	fi
done

# A directory that meson configured before is reconfigured in place (so
# options given now take effect); anything else gets a fresh setup.
if [ -f "$dir/meson-private/coredata.dat" ]; then
	echo "build.sh: reconfiguring $dir/"
	meson setup --reconfigure "$dir" "${opts[@]}"
else
	echo "build.sh: configuring $dir/"
	meson setup "$dir" "${opts[@]}"
fi

jobs=$(nproc)
echo "build.sh: building $dir/ with $jobs jobs"
ninja -C "$dir" -j "$jobs"
echo "build.sh: $dir/ is up to date"
