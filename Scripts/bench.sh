#!/usr/bin/env bash
# Benchmarks (release build): figures and ratios, never pass/fail.
#   Scripts/bench.sh [--seconds N]     # N seconds per measured case (default 2)
# Writes the figures as JSON to .build/bench/results.json as well.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
seconds=2
[ "${1:-}" = "--seconds" ] && seconds=${2:-2}

printf '\033[1m==>\033[0m building release\n' >&2
swift build -c release --product iias-bench 2>&1 | tail -n 1
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d "${TMPDIR:-/tmp}/iias-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
Scripts/pki.sh -q init-ca "$work/pki"
for c in AZ GE UA MD; do Scripts/pki.sh -q issue "$work/pki" "$c"; done

mkdir -p .build/bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "libsodium $(pkg-config --modversion libsodium), $(openssl version)"
echo
"$bin/iias-bench" --pki "$work/pki" --seconds "$seconds" --json .build/bench/envelope.json

printf '\n\033[1m==>\033[0m log (IIASLog)\n' >&2
swift build -c release --product iias-log-bench 2>&1 | tail -n 1
"$bin/iias-log-bench" --dir .build/bench --json .build/bench/log.json
