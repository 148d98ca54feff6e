#!/usr/bin/env bash
# The main job, end to end on one machine: a root CA and the four GUAM centers
# (AZ, GE, UA, MD); AZ seals a flash terrorism notification to the other three; GE
# opens it; an auditor verifies it twice — with `iias audit verify` and with openssl
# alone. Exits 0 only if every step held.
#
#   Scripts/demo.sh                      # uses a fresh temporary folder
#   IIAS_DEMO_DIR=/tmp/iias Scripts/demo.sh   # keeps keys and files there
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

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
work="$demo_dir/work"

step "0. Install what is missing and build"
Scripts/setup.sh
swift build --product iias 2>&1 | tail -n 1
iias="$(swift build --show-bin-path)/iias"
[ -x "$iias" ] || fail "the build produced no iias executable"

step "1. The interstate root CA (Ed25519) in $pki"
if [ -e "$pki/ca.crt" ]; then
    echo "reusing the CA already in $pki"
else
    run Scripts/pki.sh init-ca "$pki"
fi

step "2. Keys and certificates for the four GUAM national centers"
for center in AZ GE UA MD; do
    if [ -d "$pki/centers/$center" ]; then echo "reusing $center"; else run Scripts/pki.sh -q issue "$pki" "$center"; fi
done
run Scripts/pki.sh show "$pki"

step "3. AZ composes a flash terrorism notification to GE, UA and MD, signs and encrypts it"
mkdir -p "$work"
run "$iias" compose --from AZ --to GE,UA,MD \
    --category terrorism --priority flash --tlp TLP:AMBER --handling H2 --evaluation B2 \
    --subject "Planned attack on the Baku-Tbilisi-Ceyhan pipeline" \
    --summary "Reliable source reports a group preparing an explosive attack on a pumping station of the BTC pipeline within 72 hours." \
    --requested-action "Raise protection of BTC installations; report sightings of the vehicle described." \
    --seal --key-dir "$pki/centers/AZ" --crl "$pki/crl.pem" --out "$work/alert.iias"

step "4. GE opens it: the sender is verified first, then the body is decrypted"
run "$iias" open "$work/alert.iias" --key-dir "$pki/centers/GE" --crl "$pki/crl.pem"

step "5. A center it was not addressed to cannot read it"
if Scripts/pki.sh -q issue "$pki" TJ 2>/dev/null || [ -d "$pki/centers/TJ" ]; then
    if "$iias" open "$work/alert.iias" --key-dir "$pki/centers/TJ" --crl "$pki/crl.pem" 2>"$work/tj.err"; then
        fail "TJ opened an envelope not addressed to it"
    fi
    printf '%sTJ refused:%s %s\n' "$green" "$reset" "$(head -n 1 "$work/tj.err")"
fi

step "6. Auditor, with this program: signature, sender certificate chain and CRL"
run "$iias" audit verify "$work/alert.iias" --ca "$pki/ca.crt" --crl "$pki/crl.pem" --certs "$pki/centers"

step "7. Auditor, with openssl alone: the sender's certificate, then the signature"
run "$iias" audit export-signed "$work/alert.iias"
run openssl verify -CAfile "$pki/ca.crt" -crl_check -CRLfile "$pki/crl.pem" "$pki/centers/AZ/signing.crt"
run openssl pkeyutl -verify -rawin -certin -inkey "$pki/centers/AZ/signing.crt" \
    -in "$work/alert.iias.signed" -sigfile "$work/alert.iias.sig"

step "8. A tampered copy is refused"
cp "$work/alert.iias" "$work/tampered.iias"
printf 'X' | dd of="$work/tampered.iias" bs=1 seek=600 conv=notrunc status=none
if "$iias" audit verify "$work/tampered.iias" --ca "$pki/ca.crt" --crl "$pki/crl.pem" --certs "$pki/centers"; then
    fail "a tampered envelope verified"
fi

printf '\n%sdemo complete: every step held.%s Files are in %s\n' "$green$bold" "$reset" "$demo_dir"
