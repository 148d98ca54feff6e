#!/usr/bin/env bash
# Benchmarks (release build): figures and ratios, never pass/fail, ending in one table
# (Scripts/bench/summary.py): each node figure against NATS JetStream and against its own
# limit (crypto limit, latency floor) measured in the same run.
#   Scripts/bench.sh [--seconds N]     # N seconds per measured case (default 2)
# Environment: IIAS_BENCH_NODE_COUNT (notifications one at a time, default 5000) and
# IIAS_BENCH_BULK_COUNT (with 64 in flight, default 20000), the same counts for NATS,
# IIAS_BENCH_CATCHUP (backlog of the catch-up case, default 20000; e.g. 100000),
# IIAS_BENCH_SCALE_ENTRIES (log size for start-up, memory and audit, default 1000000),
# IIAS_BENCH_ATTACHMENT_MIB (the large attachment's size, default 1024),
# IIAS_BENCH_DEADLINE_SECONDS (the measuring steps' deadline after the first build, default
# 960: a step past its budget or the deadline is stopped, and the run goes on without it),
# IIAS_SCRATCH_PATH (build folder, default .build).
# Writes the figures as JSON to .build/bench/: envelope, log, transport, node, attachment, flash-trace
# (where perf can trace), scale, nats, summary.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
seconds=2
[ "${1:-}" = "--seconds" ] && seconds=${2:-2}

scratch=${IIAS_SCRATCH_PATH:-.build}
# The same counts for IIAS and for NATS: one at a time, and with 64 in flight.
node_count=${IIAS_BENCH_NODE_COUNT:-5000}
bulk_count=${IIAS_BENCH_BULK_COUNT:-20000}
deadline_seconds=${IIAS_BENCH_DEADLINE_SECONDS:-960}
[[ "$deadline_seconds" =~ ^[1-9][0-9]{0,5}$ ]] ||
    { echo "bench.sh: IIAS_BENCH_DEADLINE_SECONDS must be a whole number of seconds (e.g. 960), not '$deadline_seconds'" >&2; exit 2; }
build() { swift build -c release --scratch-path "$scratch" "$@"; }
started=$SECONDS
# What else ran: the machine's CPU time (and the hypervisor's steal) over the run, less
# this script's own processes (their times, reaped), goes to the summary.
machine_cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
read -r busy_start steal_start < <(machine_cpu)
load_start=$(cut -d' ' -f1 /proc/loadavg)

printf '\033[1m==>\033[0m building release\n' >&2
build --product iias-bench 2>&1 | tail -n 1
bin=$(build --show-bin-path)

# Each measuring step runs under a budget, and all of them under one deadline (16 minutes
# after the first build): a step that overruns is stopped — SIGTERM, on which the
# harnesses stop the nodes they started — and the summary goes without it, so the run
# ends in bounded time whatever hangs.
deadline=$((SECONDS + deadline_seconds))
budget() {
    local seconds=$1 name=$2 status=0
    shift 2
    local left=$((deadline - SECONDS))
    [ "$left" -lt "$seconds" ] && seconds=$left
    if [ "$seconds" -le 0 ]; then
        echo "  ($name skipped: the run's deadline has passed)"
        return 0
    fi
    timeout --kill-after=20 "$seconds" "$@" || status=$?
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "  ($name took more than its ${seconds} s and was stopped)"
        return 0
    fi
    return "$status"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/iias-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
Scripts/pki.sh -q init-ca "$work/pki"
for c in AZ GE UA MD; do Scripts/pki.sh -q issue "$work/pki" "$c"; done

mkdir -p .build/bench
rm -f .build/bench/*.json   # the summary reads this run's files only
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "libsodium $(pkg-config --modversion libsodium), $(openssl version)"
echo
budget 120 "the envelope benchmark" "$bin/iias-bench" --pki "$work/pki" --seconds "$seconds" --json .build/bench/envelope.json

printf '\n\033[1m==>\033[0m log (IIASLog)\n' >&2
build --product iias-log-bench 2>&1 | tail -n 1
# In the temporary folder, where the nodes below keep their data: the same disk's fdatasync.
budget 180 "the log benchmark" "$bin/iias-log-bench" --dir "$work" --json .build/bench/log.json

printf '\n\033[1m==>\033[0m transport (IIASTransport) beside OpenSSL'"'"'s own tools\n' >&2
build --product iias-transport-bench 2>&1 | tail -n 1
budget 120 "the transport benchmark" "$bin/iias-transport-bench" --pki "$work/pki" --seconds "$seconds" --json .build/bench/transport.json | tee "$work/transport.txt"

# OpenSSL's own loopback handshakes: s_server and s_time with the same certificates
# (GE serves, AZ is the client, TLS 1.3, client certificate required).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ge="$work/pki/centers/GE" az="$work/pki/centers/AZ"
openssl s_server -quiet -accept "127.0.0.1:$port" -tls1_3 -cert "$ge/tls.crt" -key "$ge/tls.key" \
    -CAfile "$work/pki/ca.crt" -Verify 1 -www >/dev/null 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
st=$(openssl s_time -connect "127.0.0.1:$port" -new -time "$seconds" -cert "$az/tls.crt" -key "$az/tls.key" \
    -CAfile "$work/pki/ca.crt" 2>/dev/null | awk '/connections in .* real seconds/ {print $1 / $4; exit}')
kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true   # reaped: its CPU counts as the bench's own

# OpenSSL's bulk cipher rate for the negotiated suite (TLS_AES_256_GCM_SHA384), 1 KiB blocks, one core.
speed=$(openssl speed -evp aes-256-gcm -bytes 1024 -seconds "$seconds" 2>/dev/null | awk '/^AES-256-GCM/ {sub(/k$/, "", $2); print $2 * 1000 / 1e6; exit}')

if [ -f .build/bench/transport.json ]; then   # not when the transport step was stopped
ours_hs=$(python3 -c 'import json; print(json.load(open(".build/bench/transport.json"))["handshakesPerSecond"])')
ours_mb=$(python3 -c 'import json; print(json.load(open(".build/bench/transport.json"))["megabytesPerSecond"])')
python3 - "$ours_hs" "${st:-0}" "$ours_mb" "${speed:-0}" <<'PY'
import sys, json
hs, st, mb, speed = map(float, sys.argv[1:])
ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
print(f"  openssl s_time -new (same certs, TLS 1.3)          {st:10.0f} /s          IIAS/openssl {ratio(hs, st)}")
print(f"  openssl speed aes-256-gcm, 1 KiB, one core         {speed:10.1f} MB/s        IIAS/openssl {ratio(mb, speed)}")
print("  (openssl speed only encrypts; IIAS encrypts, sends, receives, decrypts and decodes)")
data = json.load(open(".build/bench/transport.json"))
data.update({"opensslHandshakesPerSecond": st, "opensslAes256GcmMegabytesPerSecond": speed})
json.dump(data, open(".build/bench/transport.json", "w"), indent=2, sort_keys=True)
PY
fi

printf '\n\033[1m==>\033[0m nodes end to end (IIASNode): four node processes on loopback\n' >&2
build --product iias 2>&1 | tail -n 1
build --product iias-node-bench 2>&1 | tail -n 1
budget 360 "the node benchmark" "$bin/iias-node-bench" --pki "$work/pki" --iias "$bin/iias" --count "$node_count" --bulk-count "$bulk_count" \
    --catchup "${IIAS_BENCH_CATCHUP:-20000}" --restarts 20 --witnessing "$node_count" --json .build/bench/node.json

# One 1 GiB attachment AZ → GE against the slowest raw limit of the same run (the cipher on
# one core, the disk's durable write, one TLS connection's bulk rate from the transport step).
printf '\n\033[1m==>\033[0m one large attachment end to end (IIASNode)\n' >&2
build --product iias-attachment-bench 2>&1 | tail -n 1
tls_bulk=$(python3 -c 'import json; print(json.load(open(".build/bench/transport.json"))["bulkMiBPerSecond"])' 2>/dev/null || true)
budget 240 "the attachment benchmark" "$bin/iias-attachment-bench" --pki "$work/pki" --iias "$bin/iias" \
    --mib "${IIAS_BENCH_ATTACHMENT_MIB:-1024}" ${tls_bulk:+--tls-mib-per-second "$tls_bulk"} --json .build/bench/attachment.json

# Where the 1-in-flight time goes (perf's record of switches, wake-ups and fdatasyncs):
# only where perf and the scheduler's tracepoints are there; the summary says so otherwise.
printf '\n\033[1m==>\033[0m one notification at a time, traced\n' >&2
budget 120 "the flash trace" Scripts/bench/flash-trace.sh 3 || echo "  (no flash trace: it needs perf and root; the summary goes without it)"

printf '\n\033[1m==>\033[0m a node and an auditor on a long log\n' >&2
build --product iias-scale-bench 2>&1 | tail -n 1
budget 600 "the long-log benchmark" "$bin/iias-scale-bench" --pki "$work/pki" --iias "$bin/iias" --entries "${IIAS_BENCH_SCALE_ENTRIES:-1000000}" --json .build/bench/scale.json

printf '\n\033[1m==>\033[0m anchor: NATS JetStream on the same machine\n' >&2
budget 120 "NATS JetStream" Scripts/bench/nats.sh "$node_count" "$bulk_count" || echo "  (the NATS step failed; the summary goes without it)"

read -r busy_end steal_end < <(machine_cpu)
times > "$work/times"   # a builtin, in this shell: a pipe's subshell would see no children
own_seconds=$(tail -n 1 "$work/times" | awk '{ total = 0; for (i = 1; i <= NF; i++) { split($i, t, "m"); total += t[1] * 60 + t[2] } print total }')
IIAS_BENCH_MACHINE_BUSY_SECONDS=$(( (busy_end - busy_start) / $(getconf CLK_TCK) )) \
IIAS_BENCH_STEAL_SECONDS=$(( (steal_end - steal_start) / $(getconf CLK_TCK) )) \
IIAS_BENCH_OWN_SECONDS=$own_seconds IIAS_BENCH_WALL_SECONDS=$((SECONDS - started)) IIAS_BENCH_LOAD_BEFORE=$load_start \
    python3 Scripts/bench/summary.py .build/bench
echo "  bench.sh took $((SECONDS - started)) s; the table is also in .build/bench/summary.json"
