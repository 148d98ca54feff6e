#!/usr/bin/env bash
# The fault harness: real nodes on 127.0.0.1 under faults, then an audit of every log
# proving that nothing the API accepted was lost, doubled or reordered.
#   Scripts/chaos.sh                       # kill9 (10,000 notifications, 20 SIGKILLs) and partition
#   Scripts/chaos.sh kill9 2000 10         # one scenario, smaller
# Scenarios: kill9, partition, diskfull (needs root: tmpfs mounts), clockskew (libfaketime,
# which Scripts/setup.sh installs), all.
# Prints a Markdown table (the one in Scripts/bench/README.md) and writes .build/chaos/results.json. Exit 0 only
# if nothing was lost, doubled or reordered and every log verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-all}
notifications=${2:-10000}
kills=${3:-20}

Scripts/setup.sh
printf '\033[1m==>\033[0m building (release)\n' >&2
for product in iias iias-chaos iias-fault-proxy; do swift build -c release --product "$product" 2>&1 | tail -n 1; done
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d "${TMPDIR:-/tmp}/iias-chaos.XXXXXX")
trap 'rm -rf "$work"' EXIT
Scripts/pki.sh -q init-ca "$work/pki"
for c in AZ GE UA MD; do Scripts/pki.sh -q issue "$work/pki" "$c"; done
mkdir -p .build/chaos
"$bin/iias-chaos" --pki "$work/pki" --iias "$bin/iias" --proxy "$bin/iias-fault-proxy" \
    --scenario "$scenario" --notifications "$notifications" --kills "$kills" --json .build/chaos/results.json
