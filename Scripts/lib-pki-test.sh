#!/usr/bin/env bash
# Self-test of Scripts/pki.sh with openssl alone, in a temporary directory.
#   Scripts/lib-pki-test.sh            run, print one line per check, exit 1 on any failure
#   Scripts/lib-pki-test.sh --keep     keep the temporary PKI and print its path
set -euo pipefail

PKI_SH="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/pki.sh"
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
T=$(mktemp -d "${TMPDIR:-/tmp}/iias-pki-test.XXXXXX")
((KEEP)) || trap 'rm -rf -- "$T"' EXIT
D="$T/pki"
FAILS=0

pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; FAILS=$((FAILS + 1)); }
check() { # check NAME COMMAND...  (command must succeed)
    local name=$1
    shift
    if "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/     /' "$T/out"; fi
}
check_out() { # check_out NAME EXPECTED_SUBSTRING COMMAND...  (output must contain it)
    local name=$1 want=$2
    shift 2
    "$@" >"$T/out" 2>&1 || true
    if grep -qF -- "$want" "$T/out"; then pass "$name"; else fail "$name (wanted: $want)"; sed 's/^/     /' "$T/out"; fi
}
check_rc() { # check_rc NAME RC COMMAND...
    local name=$1 want=$2 rc=0
    shift 2
    "$@" >"$T/out" 2>&1 || rc=$?
    if [[ $rc == "$want" ]]; then pass "$name"; else fail "$name (exit $rc, wanted $want)"; sed 's/^/     /' "$T/out"; fi
}
mode() { stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1"; }
check_mode() { # check_mode FILE MODE
    local m
    m=$(mode "$1")
    if [[ $m == "$2" ]]; then pass "mode $2 ${1#"$T"/}"; else fail "mode of ${1#"$T"/} is $m, wanted $2"; fi
}
verify() { openssl verify -CAfile "$D/ca.crt" -crl_check -CRLfile "$D/crl.pem" "$@"; }

printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"

cd /   # pki.sh must not depend on the working directory
check "init-ca" "$PKI_SH" -q init-ca "$D"
check_rc "init-ca refuses an existing CA" 1 "$PKI_SH" -q init-ca "$D"
check "issue AZ" "$PKI_SH" -q issue "$D" AZ
check "issue GE --passphrase-file" "$PKI_SH" -q issue "$D" GE --passphrase-file "$T/pass"
check "issue UA-SBU --tls-key p256" "$PKI_SH" -q issue "$D" UA-SBU --tls-key p256
check "issue MD expired" "$PKI_SH" -q issue "$D" MD --not-before 20200101000000Z --not-after 20210101000000Z
check_rc "issue refuses existing center" 1 "$PKI_SH" -q issue "$D" AZ
check_rc "bad center id is a usage error" 2 "$PKI_SH" -q issue "$D" az
check_rc "--not-before alone is a usage error" 2 "$PKI_SH" -q issue "$D" XX --not-before 20200101000000Z
check_rc "unknown option is a usage error" 2 "$PKI_SH" -q issue "$D" XX --frob

for c in AZ GE UA-SBU; do
    for p in signing encryption tls witness; do
        check "verify $c/$p" verify "$D/centers/$c/$p.crt"
        check_out "$c/$p subject" "subject=O = IIAS, OU = $p, CN = $c" openssl x509 -in "$D/centers/$c/$p.crt" -noout -subject
        check_out "$c/$p SAN" "URI:iias:center:$c" openssl x509 -in "$D/centers/$c/$p.crt" -noout -ext subjectAltName
        check_out "$c/$p CA:FALSE" "CA:FALSE" openssl x509 -in "$D/centers/$c/$p.crt" -noout -ext basicConstraints
        check_mode "$D/centers/$c/$p.key" 600
    done
    check_mode "$D/centers/$c" 700
    check_out "$c signing keyUsage" "Digital Signature, Non Repudiation" openssl x509 -in "$D/centers/$c/signing.crt" -noout -ext keyUsage
    check_out "$c encryption keyUsage" "Key Agreement" openssl x509 -in "$D/centers/$c/encryption.crt" -noout -ext keyUsage
    check_out "$c encryption key X25519" "X25519" openssl x509 -in "$D/centers/$c/encryption.crt" -noout -text
    check_out "$c tls EKU" "TLS Web Server Authentication, TLS Web Client Authentication" openssl x509 -in "$D/centers/$c/tls.crt" -noout -ext extendedKeyUsage
    check_out "$c witness key Ed25519" "ED25519" openssl x509 -in "$D/centers/$c/witness.crt" -noout -text
    # digitalSignature alone: neither the signing key's nonRepudiation nor the TLS key's EKU.
    check_out "$c witness keyUsage" "Digital Signature" openssl x509 -in "$D/centers/$c/witness.crt" -noout -ext keyUsage
    check_rc "$c witness keyUsage is digitalSignature only" 1 grep -q "Non Repudiation" <(openssl x509 -in "$D/centers/$c/witness.crt" -noout -ext keyUsage)
    check_rc "$c witness has no extendedKeyUsage" 1 grep -q "Web" <(openssl x509 -in "$D/centers/$c/witness.crt" -noout -text)
    check_rc "$c witness key is not the signing key" 1 cmp -s <(openssl x509 -in "$D/centers/$c/witness.crt" -noout -pubkey) \
        <(openssl x509 -in "$D/centers/$c/signing.crt" -noout -pubkey)
done
check_out "UA-SBU tls key is P-256" "NIST CURVE: P-256" openssl x509 -in "$D/centers/UA-SBU/tls.crt" -noout -text
check_mode "$D/ca/ca.key" 600
check_mode "$D/ca" 700
check_mode "$D/ca.crt" 644
check_mode "$D/crl.pem" 644

check "AZ key readable" openssl pkey -in "$D/centers/AZ/signing.key" -noout
check_out "GE key is encrypted" "BEGIN ENCRYPTED PRIVATE KEY" head -1 "$D/centers/GE/signing.key"
check "GE key readable with -passin file:" openssl pkey -in "$D/centers/GE/signing.key" -noout -passin "file:$T/pass"
printf 'an envelope' >"$T/msg"
check "Ed25519 sign" openssl pkeyutl -sign -rawin -inkey "$D/centers/AZ/signing.key" -in "$T/msg" -out "$T/sig"
check_out "Ed25519 verify with the certificate" "Signature Verified Successfully" \
    openssl pkeyutl -verify -rawin -certin -inkey "$D/centers/AZ/signing.crt" -in "$T/msg" -sigfile "$T/sig"
openssl x509 -in "$D/centers/GE/encryption.crt" -noout -pubkey >"$T/ge.pub"
openssl x509 -in "$D/centers/AZ/encryption.crt" -noout -pubkey >"$T/az.pub"
openssl pkeyutl -derive -inkey "$D/centers/AZ/encryption.key" -peerkey "$T/ge.pub" -out "$T/k1"
openssl pkeyutl -derive -inkey "$D/centers/GE/encryption.key" -passin "file:$T/pass" -peerkey "$T/az.pub" -out "$T/k2"
check "X25519 agreement AZ<->GE" cmp "$T/k1" "$T/k2"

# rotate: new keys in place, the previous ones dated under history/, not revoked.
old_serial=$(openssl x509 -in "$D/centers/AZ/signing.crt" -noout -serial)
old_enc=$(openssl x509 -in "$D/centers/AZ/encryption.crt" -noout -serial)
check "rotate AZ --keys signing,tls" "$PKI_SH" -q rotate "$D" AZ --keys signing,tls
hist=$(ls -d "$D"/centers/AZ/history/*/ 2>/dev/null | head -1)
hist=${hist%/}
check_out "history folder is dated" "history/20" echo "$hist"
check_out "history keeps the old signing certificate" "$old_serial" openssl x509 -in "$hist/signing.crt" -noout -serial
check "history keeps the old signing key" test -f "$hist/signing.key"
check_mode "$hist/signing.key" 600
check_rc "encryption was not rotated" 1 test -e "$hist/encryption.crt"
check_out "encryption certificate unchanged" "$old_enc" openssl x509 -in "$D/centers/AZ/encryption.crt" -noout -serial
check_rc "new signing certificate has a new serial" 1 grep -qF "$old_serial" <(openssl x509 -in "$D/centers/AZ/signing.crt" -noout -serial)
check "new signing certificate verifies" verify "$D/centers/AZ/signing.crt"
check "rotated certificate is not revoked" verify "$hist/signing.crt"
check "rotate AZ again (all keys)" "$PKI_SH" -q rotate "$D" AZ
check_out "two history folders" "2" sh -c "ls -d '$D'/centers/AZ/history/*/ | wc -l"
check_out "show lists history" "history/" "$PKI_SH" show "$D" AZ
check_out "show has days left" "DAYS" "$PKI_SH" show "$D" AZ
check_rc "rotate of an unknown center exits 2" 2 "$PKI_SH" -q rotate "$D" QQ
check_out "rotate of an unknown center says why" "unknown to the CA" "$PKI_SH" -q rotate "$D" QQ
check_rc "rotate --keys with a bad name is a usage error" 2 "$PKI_SH" -q rotate "$D" AZ --keys signing,mail
check_out "rotate keeps protected keys protected" "passphrase-protected" "$PKI_SH" -q rotate "$D" GE --keys tls
check "rotate GE with its passphrase" "$PKI_SH" -q rotate "$D" GE --keys tls --passphrase-file "$T/pass"
check_out "GE's new tls key is encrypted" "BEGIN ENCRYPTED PRIVATE KEY" head -1 "$D/centers/GE/tls.key"
check_out "GE's witness key is encrypted" "BEGIN ENCRYPTED PRIVATE KEY" head -1 "$D/centers/GE/witness.key"

# The witness key rotates on its own; a center issued before witness keys existed
# (no witness.key/.crt) gets its first one from rotate and still shows the rest.
old_witness=$(openssl x509 -in "$D/centers/UA-SBU/witness.crt" -noout -serial)
check "rotate UA-SBU --keys witness" "$PKI_SH" -q rotate "$D" UA-SBU --keys witness
check_rc "UA-SBU has a new witness certificate" 1 grep -qF "$old_witness" <(openssl x509 -in "$D/centers/UA-SBU/witness.crt" -noout -serial)
check_out "the old witness certificate is in history" "$old_witness" sh -c "openssl x509 -noout -serial -in \"\$(ls -d '$D'/centers/UA-SBU/history/*/witness.crt | tail -1)\""
check "new UA-SBU witness verifies" verify "$D/centers/UA-SBU/witness.crt"
check_mode "$D/centers/UA-SBU/witness.key" 600
check "issue OW" "$PKI_SH" -q issue "$D" OW
rm -f -- "$D/centers/OW/witness.key" "$D/centers/OW/witness.crt"
check "show: an older center's witness is missing" sh -c "'$PKI_SH' show '$D' OW | grep -E '^OW +witness +current .* missing\$'"
check "rotate OW --keys witness adds one" "$PKI_SH" -q rotate "$D" OW --keys witness
check "OW's first witness certificate verifies" verify "$D/centers/OW/witness.crt"
check_out "OW/witness subject" "subject=O = IIAS, OU = witness, CN = OW" openssl x509 -in "$D/centers/OW/witness.crt" -noout -subject
check_out "OW/witness SAN" "URI:iias:center:OW" openssl x509 -in "$D/centers/OW/witness.crt" -noout -ext subjectAltName
check_mode "$D/centers/OW/witness.key" 600
check_rc "adding a witness key makes no history" 1 test -e "$D/centers/OW/history"
check "show lists OW's witness key as valid" sh -c "'$PKI_SH' show '$D' OW | grep -E '^OW +witness +current .* valid\$'"

# Short validity for tests of early warnings.
# Nine and a half days ahead: the whole days left read 9 whether show runs in the
# same second as issue or minutes later.
soon=$(date -u -d '+9 days 12 hours' +%Y%m%d%H%M%SZ)
check "issue SN --not-after in 9.5 days" "$PKI_SH" -q issue "$D" SN --not-after "$soon"
check_out "SN shows 9 days left" " 9  valid" "$PKI_SH" show "$D" SN
check_rc "--not-after in the past alone is a usage error" 2 "$PKI_SH" -q issue "$D" SP --not-after 20200101000000Z
check "crl --hours 5" "$PKI_SH" -q crl "$D" --hours 5
check "show gives the CRL's hours left" sh -c "'$PKI_SH' show '$D' SN | grep -E '\\((4|5) hours left\\)'"
check "crl dated in the past" "$PKI_SH" -q crl "$D" --next-update 20200102000000Z --last-update 20200101000000Z
check_out "expired CRL refused by openssl" "CRL has expired" verify "$D/centers/SN/signing.crt"
check "crl --days 30 again" "$PKI_SH" -q crl "$D" --days 30

check_out "expired certificate" "certificate has expired" verify "$D/centers/MD/signing.crt"
check_out "expired X25519 certificate" "certificate has expired" verify "$D/centers/MD/encryption.crt"
check "revoke GE" "$PKI_SH" -q revoke "$D" GE --reason keyCompromise
for p in signing encryption tls witness; do
    check_out "GE/$p revoked" "certificate revoked" verify "$D/centers/GE/$p.crt"
done
check "AZ still fine" verify "$D/centers/AZ/signing.crt"
check_out "CRL signed by the root" "verify OK" openssl crl -in "$D/crl.pem" -CAfile "$D/ca.crt" -noout
check "reissue AZ --force" "$PKI_SH" -q issue "$D" AZ --force
check_out "reissue keeps AZ's history" "2" sh -c "ls -d '$D'/centers/AZ/history/*/ | wc -l"
check "new AZ verifies" verify "$D/centers/AZ/signing.crt"
check_out "show lists the revocation" "keyCompromise" "$PKI_SH" show "$D" GE

# revoke with the standard reason codes and, for a compromise, the invalidity date.
crl_text() { openssl crl -in "$D/crl.pem" -noout -text; }
check_rc "--invalid-since needs key-compromise" 2 "$PKI_SH" -q revoke "$D" SN --reason superseded --invalid-since 20261201000000Z
check_rc "--invalid-since in the future is refused" 2 "$PKI_SH" -q revoke "$D" SN --reason key-compromise --invalid-since 29990101000000Z
check_rc "unknown reason is a usage error" 2 "$PKI_SH" -q revoke "$D" SN --reason stolen
check "issue KC" "$PKI_SH" -q issue "$D" KC
kc=$(openssl x509 -in "$D/centers/KC/signing.crt" -noout -serial | cut -d= -f2)
check "revoke KC signing, key-compromise since a date" "$PKI_SH" -q revoke "$D" KC --keys signing --reason key-compromise --invalid-since 20261101093000Z
check_out "CRL names KC's serial" "Serial Number: $kc" crl_text
check_out "CRL has the reason code" "Key Compromise" crl_text
check_out "CRL has the invalidity date" "Nov  1 09:30:00 2026 GMT" crl_text
check_out "KC signing revoked" "certificate revoked" verify "$D/centers/KC/signing.crt"
check "KC tls (not in --keys) still valid" verify "$D/centers/KC/tls.crt"
check_out "show: reason and invalidity" "keyCompromise, invalid since 2026-11-01 09:30:00Z" "$PKI_SH" show "$D" KC
check "revoke KC tls superseded" "$PKI_SH" -q revoke "$D" KC --keys tls --reason superseded
check_out "CRL has Superseded" "Superseded" crl_text
check "revoke SN cessation-of-operation" "$PKI_SH" -q revoke "$D" SN --reason cessation-of-operation
check_out "CRL has Cessation Of Operation" "Cessation Of Operation" crl_text
# --serial: the current signing key of a rotated center only; its rotated one stays valid.
check "issue RS" "$PKI_SH" -q issue "$D" RS
check "rotate RS --keys signing" "$PKI_SH" -q rotate "$D" RS --keys signing
rs_old=$(ls -d "$D"/centers/RS/history/*/ | head -1)
rs_now=$(openssl x509 -in "$D/centers/RS/signing.crt" -noout -serial | cut -d= -f2)
check_rc "--serial of another center is a usage error" 2 "$PKI_SH" -q revoke "$D" RS --serial "$kc"
check_rc "--serial that is not hex is a usage error" 2 "$PKI_SH" -q revoke "$D" RS --serial zz-top
check "revoke RS --serial (lower case)" "$PKI_SH" -q revoke "$D" RS --serial "${rs_now,,}" --reason key-compromise
check_out "RS current signing revoked" "certificate revoked" verify "$D/centers/RS/signing.crt"
check "RS rotated signing still valid" verify "${rs_old}signing.crt"
check "RS tls still valid" verify "$D/centers/RS/tls.crt"
check "crl --days 7" "$PKI_SH" -q crl "$D" --days 7

if ((KEEP)); then echo "PKI kept in $D"; fi
if ((FAILS)); then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all checks passed"
