#!/usr/bin/env bash
# Soak: two nodes on 127.0.0.1 under a steady moderate load for MINUTES; every minute the
# nodes' RSS, open descriptors and that minute's p99 submit latency. Exit 1 if memory or
# descriptors grow (RSS more than 20% + 8 MiB over the first minute, descriptors at all).
#   Scripts/soak.sh MINUTES [RATE]      # RATE notifications/s, default 50
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: Scripts/soak.sh MINUTES [RATE]}
rate=${2:-50}
Scripts/setup.sh
for product in iias iias-chaos iias-fault-proxy; do swift build -c release --product "$product" 2>&1 | tail -n 1; done
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d "${TMPDIR:-/tmp}/iias-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
Scripts/pki.sh -q init-ca "$work/pki"
for c in AZ GE; do Scripts/pki.sh -q issue "$work/pki" "$c"; done
"$bin/iias-chaos" --pki "$work/pki" --iias "$bin/iias" --proxy "$bin/iias-fault-proxy" --scenario soak --minutes "$minutes" --rate "$rate"
