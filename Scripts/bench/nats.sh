#!/usr/bin/env bash
# The anchor of Scripts/bench.sh: NATS JetStream on this machine, TLS on, file storage,
# the same 1 KiB payloads, with 1 and with 64 publishes awaiting their acknowledgement.
# Installs nats-server and libnats-dev (Debian) if missing, starts its own server on a
# free loopback port, stops only that server. Writes .build/bench/nats.json.
#   Scripts/bench/nats.sh [COUNT_SYNC] [COUNT_ASYNC]
set -euo pipefail
cd "$(dirname "$0")/../.."
count_sync=${1:-5000}
count_async=${2:-50000}

missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
pkg-config --exists libnats 2>/dev/null || missing+=(libnats-dev)
if [ ${#missing[@]} -gt 0 ]; then
    printf '\033[1m==>\033[0m installing %s with apt (benchmark anchor only)\n' "${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p .build/bench
gcc -O2 -o .build/bench/nats-bench Scripts/bench/nats-bench.c $(pkg-config --cflags --libs libnats)

work=$(mktemp -d "${TMPDIR:-/tmp}/iias-nats.XXXXXX")
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A throwaway P-256 CA and a server certificate for 127.0.0.1 (NATS's own TLS, not IIAS's PKI).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.crt" \
    -subj "/CN=nats bench CA" -days 1 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/server.key" -out "$work/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/server.crt" -days 1 -extfile "$work/san.ext" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nats.conf" <<CONF
listen: 127.0.0.1:$port
jetstream { store_dir: "$work/store" }
tls { cert_file: "$work/server.crt", key_file: "$work/server.key" }
CONF
nats-server -c "$work/nats.conf" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "Server is ready" "$work/server.log" && break; sleep 0.05; done
grep -q "Server is ready" "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }

url="tls://127.0.0.1:$port"
one=$(.build/bench/nats-bench "$url" "$work/ca.crt" "$count_sync" 1 1024)
many=$(.build/bench/nats-bench "$url" "$work/ca.crt" "$count_async" 64 1024)
version=$(nats-server --version | awk '{print $2}')
python3 - "$one" "$many" "$version" <<'PY'
import json, sys
one, many, version = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"  NATS JetStream {version} (TLS, file storage, libnats C client), 1 KiB:")
for r in (one, many):
    print(f"    {r['inflight']:3d} in flight: {r['rate']:9.0f} msg/s   ack latency p50 {r['p50_us']:7.1f} µs  p99 {r['p99_us']:7.1f} µs  p999 {r['p999_us']:7.1f} µs   ({r['count']} messages)")
print("    per message: TLS to the server, stored in a file, acknowledged; no signature, no end-to-end")
print("    encryption, no fsync per message (nats-server 2.9 syncs its files on an interval, default 2 min)")
json.dump({"natsServer": version, "oneInFlight": one, "sixtyFourInFlight": many},
          open(".build/bench/nats.json", "w"), indent=2, sort_keys=True)
PY
