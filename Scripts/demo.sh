#!/usr/bin/env bash
# The main job, end to end on one machine: a root CA and the four GUAM centers (AZ, GE,
# UA, MD), four nodes on 127.0.0.1 in a full mesh; AZ sends a flash terrorism
# notification to all; GE reads it in its inbox; AZ shows the three signed receipts; an
# auditor verifies all four logs and the envelope's signature with openssl alone. Exits 0
# only if every step held.
#
#   Scripts/demo.sh                              # a fresh folder, nodes stopped at the end
#   IIAS_DEMO_DIR=/tmp/iias Scripts/demo.sh      # keys, configurations, data kept there
#   IIAS_DEMO_KEEP=1 Scripts/demo.sh             # leaves the four nodes running
set -euo pipefail
cd "$(dirname "$0")/.."

bold=""; dim=""; green=""; red=""; reset=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\033[1m'; dim=$'\033[2m'; green=$'\033[32m'; red=$'\033[31m'; reset=$'\033[0m'
fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; "$@"; }
fail() { printf '%sdemo failed: %s%s\n' "$red" "$*" "$reset" >&2; exit 1; }

demo_dir=${IIAS_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/iias-demo.XXXXXX")}
mkdir -p "$demo_dir"
demo_dir=$(cd "$demo_dir" && pwd)
pki="$demo_dir/pki"
centers=(AZ GE UA MD)
pids=()

stop_nodes() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
cleanup() { [ "${IIAS_DEMO_KEEP:-0}" = 1 ] || stop_nodes; }
trap cleanup EXIT

step "0. Install what is missing and build"
Scripts/setup.sh
swift build --product iias 2>&1 | tail -n 1
iias="$(swift build --show-bin-path)/iias"
[ -x "$iias" ] || fail "the build produced no iias executable"

step "1. The interstate root CA and the four GUAM centers' keys, in $pki"
[ -e "$pki/ca.crt" ] && echo "reusing the CA in $pki" || run Scripts/pki.sh -q init-ca "$pki"
for center in "${centers[@]}"; do
    [ -d "$pki/centers/$center" ] && echo "reusing $center" || run Scripts/pki.sh -q issue "$pki" "$center"
done

step "2. A configuration per center: a full mesh on 127.0.0.1"
# Below the kernel's ephemeral range, so no node's outgoing connection can take a port
# another node is about to listen on.
free_port() {
    python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(10000, max(10001, low))
    try:
        socket.socket().bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
else:
    raise SystemExit(f"demo: no free port in 10000-{low - 1} on 127.0.0.1")
PY
}
declare -A port
for center in "${centers[@]}"; do port[$center]=$(free_port); done
user=$(id -un)
for center in "${centers[@]}"; do
    peers=""
    for other in "${centers[@]}"; do
        [ "$other" = "$center" ] && continue
        peers+="${peers:+, }\"$other=127.0.0.1:${port[$other]}\""
    done
    mkdir -p "$demo_dir/$center"
    cat > "$demo_dir/$center/node.json" <<JSON
{
  "center": "$center",
  "keys": "../pki/centers/$center",
  "ca": "../pki/ca.crt",
  "crl": "../pki/crl.pem",
  "certificates": "../pki/centers",
  "listen": "127.0.0.1:${port[$center]}",
  "peers": [$peers],
  "data": "data",
  "api": { "socket": "$demo_dir/$center/iias.sock", "users": ["$user=operator"] },
  "limits": { "retryInitialSeconds": 0.2, "retryMaxSeconds": 5 },
  "treeHeadIntervalSeconds": 5
}
JSON
    run "$iias" node check-config "$demo_dir/$center/node.json" >/dev/null
done
echo "configurations: $demo_dir/{AZ,GE,UA,MD}/node.json"

step "3. Four nodes, each a real process"
for center in "${centers[@]}"; do
    "$iias" node run --config "$demo_dir/$center/node.json" >"$demo_dir/$center/node.out" 2>"$demo_dir/$center/node.log" &
    pids+=($!)
done
for center in "${centers[@]}"; do
    for _ in $(seq 1 200); do grep -q '^ready' "$demo_dir/$center/node.out" 2>/dev/null && break; sleep 0.05; done
    grep -q '^ready' "$demo_dir/$center/node.out" || { cat "$demo_dir/$center/node.log" >&2; fail "$center did not start"; }
    echo "$center: $(head -n 1 "$demo_dir/$center/node.out")"
done
sock() { echo "$demo_dir/$1/iias.sock"; }
for _ in $(seq 1 200); do
    connected=$("$iias" status --socket "$(sock AZ)" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["peersConnected"])')
    [ "$connected" = 3 ] && break; sleep 0.05
done
run "$iias" peers --socket "$(sock AZ)"

step "4. An operator at AZ sends a flash terrorism notification to all"
printf '%s$ iias send --to all --category terrorism --priority flash …%s\n' "$dim" "$reset"
"$iias" send --socket "$(sock AZ)" --to all --json \
    --category terrorism --priority flash --tlp TLP:AMBER --handling H2 --evaluation B2 \
    --subject "Planned attack on the Baku-Tbilisi-Ceyhan pipeline" \
    --summary "Reliable source reports a group preparing an explosive attack on a pumping station of the BTC pipeline within 72 hours." \
    --requested-action "Raise protection of BTC installations; report sightings of the vehicle described." > "$demo_dir/sent.json"
cat "$demo_dir/sent.json"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"].lower())' "$demo_dir/sent.json")

step "5. It arrives in GE's inbox, and the GE operator reads it"
for _ in $(seq 1 200); do "$iias" inbox --socket "$(sock GE)" --json | grep -qi "$id" && break; sleep 0.05; done
run "$iias" inbox --socket "$(sock GE)"
"$iias" inbox --socket "$(sock GE)" --json | grep -qi "$id" || fail "the notification did not reach GE"
run "$iias" read --socket "$(sock GE)" "$id"
for center in UA MD; do
    "$iias" inbox --socket "$(sock "$center")" --json | grep -qi "$id" || fail "the notification did not reach $center"
done

step "6. AZ holds three signed receipts"
for _ in $(seq 1 200); do
    delivered=$("$iias" outbox --socket "$(sock AZ)" "$id" --json | python3 -c 'import json,sys; print(sum(r["state"] in ("delivered","acknowledged") for r in json.load(sys.stdin)["recipients"]))')
    [ "$delivered" = 3 ] && break; sleep 0.05
done
run "$iias" outbox --socket "$(sock AZ)" "$id"
[ "$delivered" = 3 ] || fail "only $delivered of 3 receipts reached AZ"

step "7. GE acknowledges; AZ sees it"
run "$iias" ack --socket "$(sock GE)" "$id"
for _ in $(seq 1 200); do
    "$iias" outbox --socket "$(sock AZ)" "$id" --json | grep -q '"acknowledged"' && break; sleep 0.05
done
"$iias" outbox --socket "$(sock AZ)" "$id" --json | grep -q '"acknowledged"' || fail "the acknowledgement did not reach AZ"
echo "${green}GE's acknowledgement is logged at AZ${reset}"

if [ "${IIAS_DEMO_KEEP:-0}" = 1 ]; then
    printf '\n%sThe four nodes keep running.%s Talk to them with, e.g.:\n' "$bold" "$reset"
    for center in "${centers[@]}"; do echo "  $iias status --socket $(sock "$center")"; done
    echo "  curl --unix-socket $(sock GE) http://localhost/v1/inbox"
    echo "Stop them with:  kill ${pids[*]}"
    exit 0
fi

step "8. Stop the nodes (SIGTERM: drain, final signed tree head, close the log)"
stop_nodes
echo "stopped"

step "9. Auditor: every log verifies (records, Merkle root, tree heads, every signature)"
for center in "${centers[@]}"; do
    run "$iias" log verify "$demo_dir/$center/data/log" --ca "$pki/ca.crt" --crl "$pki/crl.pem" --certs "$pki/centers"
done

step "10. Auditor, with openssl alone: GE's logged copy of the envelope was signed by AZ"
run "$iias" log export "$demo_dir/GE/data/log" --id "$id" --out "$demo_dir/envelope.iias"
run "$iias" audit export-signed "$demo_dir/envelope.iias"
run openssl verify -CAfile "$pki/ca.crt" -crl_check -CRLfile "$pki/crl.pem" "$pki/centers/AZ/signing.crt"
run openssl pkeyutl -verify -rawin -certin -inkey "$pki/centers/AZ/signing.crt" \
    -in "$demo_dir/envelope.iias.signed" -sigfile "$demo_dir/envelope.iias.sig"

printf '\n%sdemo complete: every step held.%s Files are in %s\n' "$green$bold" "$reset" "$demo_dir"
