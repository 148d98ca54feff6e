#!/usr/bin/env bash
# IIAS PKI: the interstate root CA and the centers' key pairs and certificates.
# OpenSSL 3.0 command line only. See Certs/README.md and `pki.sh --help`.
set -euo pipefail
umask 077

PROG=pki.sh
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CERTS_DIR=$(cd -- "$SCRIPT_DIR/../Certs" 2>/dev/null && pwd) || CERTS_DIR="$SCRIPT_DIR/../Certs"
CA_CNF="$CERTS_DIR/ca.cnf"
CENTER_CNF="$CERTS_DIR/center.cnf"

DEFAULT_CA_DAYS=3650
DEFAULT_CERT_DAYS=825
DEFAULT_CRL_DAYS=30
DEFAULT_CA_NAME="IIAS Interstate Root CA"
CENTER_ID_RE='^[A-Z]{2}(-[A-Z0-9]{1,16})?$'
PURPOSES=(signing encryption tls)
REASONS=(unspecified keyCompromise CACompromise affiliationChanged superseded cessationOfOperation)

QUIET=0
WORK=""          # scratch directory for one run (CSRs, throwaway keys); removed on exit
CLEANUP=()       # more paths to remove if the run fails

# ---------------------------------------------------------------------------
# Output helpers

say() { [[ $QUIET == 1 ]] || printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { # usage_error COMMAND MESSAGE
    printf '%s: %s\n' "$PROG" "$2" >&2
    if [[ -n $1 ]]; then
        printf "Run '%s %s --help' for the options.\n" "$PROG" "$1" >&2
    else
        printf "Run '%s --help' for the commands.\n" "$PROG" >&2
    fi
    exit 2
}

on_exit() {
    local rc=$?
    [[ -n $WORK && -d $WORK ]] && rm -rf -- "$WORK"
    if [[ $rc != 0 ]]; then
        local p
        for p in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do rm -rf -- "$p"; done
    fi
    return "$rc"
}
trap on_exit EXIT

# ---------------------------------------------------------------------------
# Help texts

help_main() {
    cat <<EOF
$PROG - the IIAS interstate PKI (root CA, center keys and certificates, CRL)

Usage:
  $PROG [-q] init-ca DIR [--days N] [--name NAME]
  $PROG [-q] issue   DIR CENTER_ID [--days N | --not-before T --not-after T]
                     [--passphrase-file FILE] [--tls-key ed25519|p256] [--force]
  $PROG [-q] revoke  DIR CENTER_ID [--reason REASON] [--crl-days N]
  $PROG [-q] crl     DIR [--days N]
  $PROG      show    DIR [CENTER_ID]

Commands:
  init-ca   create the Ed25519 root CA in DIR (DIR/ca.crt, DIR/crl.pem, DIR/ca/)
  issue     create a center's signing (Ed25519), encryption (X25519) and TLS
            (Ed25519 or P-256) key pairs, certified by the CA, in DIR/centers/ID/
  revoke    revoke every certificate of a center and write a fresh DIR/crl.pem
  crl       re-sign DIR/crl.pem (do this before its nextUpdate passes)
  show      table of centers: purpose, serial, expiry, revoked or not

Options for every command:
  -q, --quiet   print nothing but errors
  -h, --help    this text; '$PROG COMMAND --help' explains one command

Example:
  $PROG init-ca /srv/iias-pki
  $PROG issue /srv/iias-pki AZ --passphrase-file /root/az.pass
  openssl verify -CAfile /srv/iias-pki/ca.crt -crl_check \\
      -CRLfile /srv/iias-pki/crl.pem /srv/iias-pki/centers/AZ/signing.crt

Layout of DIR, the openssl profiles used (Certs/ca.cnf, Certs/center.cnf) and how
an auditor checks a certificate with openssl alone: Certs/README.md.
Exit status: 0 success, 1 failure or refusal, 2 wrong usage.
EOF
}

help_init_ca() {
    cat <<EOF
Usage: $PROG init-ca DIR [--days N] [--name NAME] [-q]

Creates the interstate root CA (Ed25519) in DIR (created if missing):
  DIR/ca.crt        root certificate, subject /O=IIAS/CN=NAME (public)
  DIR/crl.pem       empty CRL signed by the CA (public)
  DIR/ca/ca.key     CA private key (0600, DIR/ca is 0700) - keep it offline
  DIR/ca/index.txt, serial, crlnumber, newcerts/   the 'openssl ca' database
  DIR/centers/      where 'issue' puts the centers' bundles

Options:
  --days N      validity of the root certificate in days (default $DEFAULT_CA_DAYS)
  --name NAME   common name of the root (default "$DEFAULT_CA_NAME")

Refuses (exit 1) if DIR/ca.crt or DIR/ca/ca.key already exists: a root is never
replaced in place. Next step: $PROG issue DIR CENTER_ID
EOF
}

help_issue() {
    cat <<EOF
Usage: $PROG issue DIR CENTER_ID [options]

Issues a center's three key pairs and certificates, each certified by the CA in DIR:
  DIR/centers/ID/signing.key     signing.crt     Ed25519, keyUsage digitalSignature,nonRepudiation
  DIR/centers/ID/encryption.key  encryption.crt  X25519,  keyUsage keyAgreement
  DIR/centers/ID/tls.key         tls.crt         Ed25519 or P-256, keyUsage digitalSignature,
                                                 extendedKeyUsage serverAuth,clientAuth
  DIR/centers/ID/ca.crt          copy of the root certificate
Subject /O=IIAS/OU=<signing|encryption|tls>/CN=ID, subjectAltName URI:iias:center:ID,
random serial. Private keys are PKCS#8 PEM (0600), the directory is 0700.

CENTER_ID: two capital letters, optionally '-' and 1-16 capitals/digits
           (AZ, GE, UA-SBU).

Options:
  --days N                  validity in days from now (default $DEFAULT_CERT_DAYS)
  --not-before YYYYMMDDHHMMSSZ --not-after YYYYMMDDHHMMSSZ
                            explicit validity (UTC, give both; not with --days),
                            e.g. an already expired bundle for tests:
                            --not-before 20200101000000Z --not-after 20210101000000Z
  --passphrase-file FILE    encrypt the private keys (PKCS#8, AES-256-CBC, PBKDF2)
                            with the first line of FILE; the passphrase never
                            appears on a command line
  --tls-key ed25519|p256    algorithm of the TLS key (default ed25519)
  --force                   replace an existing bundle of this center; the old
                            certificates still valid in the CA database are
                            revoked (reason superseded) and the CRL is re-signed
  -q, --quiet               print nothing but errors

Refuses (exit 1) if DIR/centers/ID exists and --force is not given.
Next step: copy DIR/centers/ID/ to the center's node over a secure channel.
EOF
}

help_revoke() {
    cat <<EOF
Usage: $PROG revoke DIR CENTER_ID [--reason REASON] [--crl-days N] [-q]

Marks every certificate of CENTER_ID that is still valid in the CA database as
revoked and writes a fresh DIR/crl.pem. Distribute the new crl.pem to all nodes.

Options:
  --reason REASON   one of: ${REASONS[*]}
                    (default: no reason code in the CRL)
  --crl-days N      nextUpdate of the new CRL, days from now (default $DEFAULT_CRL_DAYS)

Revoking a center whose certificates are all revoked already only re-signs the CRL.
To give the center new keys afterwards: $PROG issue DIR CENTER_ID --force
EOF
}

help_crl() {
    cat <<EOF
Usage: $PROG crl DIR [--days N] [-q]

Re-signs DIR/crl.pem from the CA database. A CRL carries a nextUpdate time; after
it, verifiers treat the CRL as expired, so run this (e.g. from cron) well before.

Options:
  --days N   nextUpdate, days from now (default $DEFAULT_CRL_DAYS)
EOF
}

help_show() {
    cat <<EOF
Usage: $PROG show DIR [CENTER_ID]

Prints the root, the CRL's nextUpdate and a table of the centers' current
certificates (from DIR/centers/*/): center, purpose, key type, serial, notAfter
(UTC) and status (valid, revoked, expired, not-yet-valid), status taken from
the CA database.
EOF
}

# ---------------------------------------------------------------------------
# Checks and small helpers

need_openssl() {
    command -v openssl >/dev/null 2>&1 || die "openssl not found in PATH (install OpenSSL 3.0 or newer)"
    local v
    v=$(openssl version 2>/dev/null || true)
    [[ $v =~ ^OpenSSL\ ([0-9]+)\. ]] || die "cannot tell the OpenSSL version ('$v'); OpenSSL 3.0 or newer is needed"
    ((BASH_REMATCH[1] >= 3)) || die "'$v' is too old; OpenSSL 3.0 or newer is needed"
    [[ -r $CA_CNF && -r $CENTER_CNF ]] ||
        die "openssl profiles not found next to the script ($CA_CNF, $CENTER_CNF)"
}

# Runs openssl; on failure shows what it said and stops.
ossl() { # ossl WHAT ARGS...
    local what=$1
    shift
    local log="$WORK/openssl.log"
    if ! openssl "$@" >"$log" 2>&1 </dev/null; then
        printf '%s: error: %s failed; openssl said:\n' "$PROG" "$what" >&2
        sed 's/^/  /' "$log" >&2
        exit 1
    fi
}

make_work() { WORK=$(mktemp -d "${TMPDIR:-/tmp}/iias-pki.XXXXXX"); }

check_days() { # check_days CMD OPTION VALUE
    [[ $3 =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "$1" "$2 needs a positive number of days, got '$3'"
}

check_center_id() { # check_center_id CMD ID
    [[ $2 =~ $CENTER_ID_RE ]] ||
        usage_error "$1" "invalid CENTER_ID '$2': use two capital letters, optionally followed by '-' and 1-16 capital letters or digits (e.g. AZ, GE, UA-SBU)"
}

# Absolute path of an existing directory.
abs_dir() { (cd -- "$1" && pwd); }

# DIR must hold an initialised CA.
open_ca() { # open_ca CMD DIR  -> sets PKI
    [[ -d $2 ]] || die "no PKI directory '$2'; create one with: $PROG init-ca '$2'"
    PKI=$(abs_dir "$2")
    [[ -f $PKI/ca.crt && -f $PKI/ca/ca.key && -f $PKI/ca/index.txt ]] ||
        die "'$2' holds no IIAS CA (ca.crt, ca/ca.key, ca/index.txt); create one with: $PROG init-ca '$2'"
    [[ -r $PKI/ca/ca.key ]] || die "cannot read the CA key $PKI/ca/ca.key (run as the CA operator)"
    export IIAS_PKI_DIR="$PKI"
    export IIAS_CA_NAME="${IIAS_CA_NAME:-$DEFAULT_CA_NAME}"
    export IIAS_CENTER_ID="${IIAS_CENTER_ID:-XX}"
}

# One operator at a time per CA database.
lock_ca() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$PKI/ca/.lock"
        flock -w 60 9 || die "another $PROG run holds $PKI/ca/.lock"
    fi
}

# Hex <-> binary with od/printf only.
to_hex() { od -An -v -tx1 | tr -d ' \n'; }
from_hex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }

count_of() { # count_of HAYSTACK NEEDLE
    local rest=$1 n=0
    while [[ $rest == *"$2"* ]]; do
        rest=${rest#*"$2"}
        n=$((n + 1))
    done
    echo "$n"
}

# index.txt rows of a center: TYPE<TAB>SERIAL<TAB>PURPOSE<TAB>REVOCATION
index_rows() { # index_rows CENTER_ID
    awk -F '\t' -v id="$1" '
        { n = split($6, p, "/") }
        n == 4 && p[2] == "O=IIAS" && p[4] == "CN=" id && p[3] ~ /^OU=/ {
            print $1 "\t" $4 "\t" substr(p[3], 4) "\t" $3
        }' "$PKI/ca/index.txt"
}

write_crl() { # write_crl DAYS
    ossl "signing the CRL" ca -batch -config "$CA_CNF" -gencrl -crldays "$1" -out "$WORK/crl.pem"
    chmod 644 "$WORK/crl.pem"
    mv -f -- "$WORK/crl.pem" "$PKI/crl.pem"
    say "  crl.pem       re-signed, nextUpdate in $1 days ($PKI/crl.pem)"
}

revoke_serial() { # revoke_serial SERIAL REASON(or empty)
    local file="$PKI/ca/newcerts/$1.pem"
    [[ -f $file ]] || die "the CA database lists serial $1 but $file is missing; cannot revoke it"
    local args=(ca -batch -config "$CA_CNF" -revoke "$file")
    [[ -n $2 ]] && args+=(-crl_reason "$2")
    ossl "revoking serial $1" "${args[@]}"
}

# ---------------------------------------------------------------------------
# init-ca

cmd_init_ca() {
    local dir="" days=$DEFAULT_CA_DAYS name=$DEFAULT_CA_NAME
    while (($#)); do
        case $1 in
        -h | --help) help_init_ca; exit 0 ;;
        --days) (($# >= 2)) || usage_error init-ca "--days needs a value"; check_days init-ca --days "$2"; days=$2; shift 2 ;;
        --name) (($# >= 2)) || usage_error init-ca "--name needs a value"; name=$2; shift 2 ;;
        -*) usage_error init-ca "unknown option '$1'" ;;
        *) [[ -z $dir ]] || usage_error init-ca "unexpected argument '$1' (only DIR is taken)"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error init-ca "missing DIR: where to create the CA, e.g. $PROG init-ca /srv/iias-pki"
    [[ -n $name && ${#name} -le 64 ]] || usage_error init-ca "--name must be 1 to 64 characters"
    [[ $name != *[[:cntrl:]]* ]] || usage_error init-ca "--name must not contain control characters"
    need_openssl

    [[ ! -e $dir/ca.crt ]] || die "$dir/ca.crt already exists: refusing to replace a root CA. Use a new directory, or issue with: $PROG issue '$dir' CENTER_ID"
    [[ ! -e $dir/ca/ca.key ]] || die "$dir/ca/ca.key already exists (half-made CA?): refusing to touch it. Remove $dir/ca yourself if it is garbage."
    [[ ! -e $dir/ca ]] || die "$dir/ca already exists: refusing to mix a new CA into it. Use a new directory."
    if [[ ! -d $dir ]]; then
        mkdir -p -- "$dir"
        chmod 755 -- "$dir"
    fi
    PKI=$(abs_dir "$dir")
    make_work

    # Build in a staging directory inside DIR, then move into place (ca.crt last).
    local stage
    stage=$(mktemp -d "$PKI/.init-ca.XXXXXX")
    CLEANUP+=("$stage")
    export IIAS_PKI_DIR="$stage" IIAS_CA_NAME="$name" IIAS_CENTER_ID=XX
    mkdir -m 700 "$stage/ca" "$stage/ca/newcerts"
    mkdir -m 755 "$stage/centers"
    : >"$stage/ca/index.txt"
    echo "unique_subject = no" >"$stage/ca/index.txt.attr"
    openssl rand -hex 16 | tr a-f A-F >"$stage/ca/serial" # unused: ca.cnf sets rand_serial
    echo 01 >"$stage/ca/crlnumber"

    ossl "generating the CA key" genpkey -algorithm ed25519 -out "$stage/ca/ca.key"
    chmod 600 "$stage/ca/ca.key"
    ossl "self-signing the root certificate" req -x509 -new -config "$CA_CNF" -extensions root_ext \
        -key "$stage/ca/ca.key" -days "$days" -out "$stage/ca.crt"
    chmod 644 "$stage/ca.crt"
    ossl "signing the first CRL" ca -batch -config "$CA_CNF" -gencrl -crldays "$DEFAULT_CRL_DAYS" \
        -out "$stage/crl.pem"
    chmod 644 "$stage/crl.pem"

    [[ -e $PKI/centers ]] || mv -- "$stage/centers" "$PKI/centers"
    mv -- "$stage/ca" "$PKI/ca"
    CLEANUP+=("$PKI/ca")
    mv -- "$stage/crl.pem" "$PKI/crl.pem"
    mv -- "$stage/ca.crt" "$PKI/ca.crt"
    rm -rf -- "$stage"
    CLEANUP=()

    local fp
    fp=$(openssl x509 -in "$PKI/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2)
    say "Created root CA '$name' (Ed25519, $days days) in $PKI"
    say "  ca.crt        root certificate - give it to every node and auditor"
    say "                SHA-256 fingerprint $fp"
    say "  crl.pem       empty CRL, nextUpdate in $DEFAULT_CRL_DAYS days"
    say "  ca/ca.key     CA private key (0600) - keep it offline, back it up"
    say "  ca/           openssl ca database (index.txt, serial, crlnumber, newcerts/)"
    say "Next: $PROG issue '$dir' CENTER_ID"
}

# ---------------------------------------------------------------------------
# issue

# Generates a PKCS#8 PEM private key.  gen_key ALG OUT
gen_key() {
    local args=(genpkey -out "$2")
    case $1 in
    ed25519) args+=(-algorithm ed25519) ;;
    x25519) args+=(-algorithm x25519) ;;
    p256) args+=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve) ;;
    esac
    [[ -n $PASSFILE ]] && args+=(-aes-256-cbc -pass "file:$PASSFILE")
    ossl "generating a $1 key" "${args[@]}"
    chmod 600 "$2"
}

# Certificate request for KEY with SUBJECT.  make_csr KEY SUBJECT OUT [PASSFILE]
make_csr() {
    local args=(req -new -config "$CENTER_CNF" -key "$1" -subj "$2" -out "$3")
    [[ -n ${4:-} ]] && args+=(-passin "file:$4")
    ossl "making a certificate request" "${args[@]}"
}

# The CA signs CSR with the profile EXT (and enters it in its database).  ca_sign CSR EXT OUT
ca_sign() {
    local args=(ca -batch -config "$CA_CNF" -extfile "$CENTER_CNF" -extensions "$2" -notext -in "$1" -out "$3")
    if [[ -n $NOT_BEFORE ]]; then
        args+=(-startdate "$NOT_BEFORE" -enddate "$NOT_AFTER")
    else
        args+=(-days "$DAYS")
    fi
    ossl "certifying the ${2%_ext} key" "${args[@]}"
}

# An X25519 key cannot sign its own request, and OpenSSL 3.0 has no way to put a
# foreign public key into a certificate made by 'openssl ca' ('x509 -force_pubkey'
# exists but cannot set notBefore/notAfter, and 'x509 -preserve_dates' refuses a
# non-self-signed input).  So 'openssl ca' certifies a throwaway Ed25519 key with
# everything else final (serial, subject, dates, extensions, database entry), and
# this function swaps in the X25519 key: the two SubjectPublicKeyInfo encodings and
# the SHA-1 key identifiers have the same length, so the TBSCertificate keeps its
# layout, and the CA (Ed25519) re-signs it.  The result is checked with openssl.
#   swap_to_x25519 TMP_CERT X25519_PUB_PEM OUT_CERT
swap_to_x25519() {
    local tmp=$1 pub=$2 out=$3
    local der old_spki new_spki old_raw new_raw old_ski new_ski hashed
    der=$(openssl x509 -in "$tmp" -outform DER | to_hex)
    old_spki=$(openssl x509 -in "$tmp" -noout -pubkey | openssl pkey -pubin -outform DER | to_hex)
    new_spki=$(openssl pkey -pubin -in "$pub" -outform DER | to_hex)
    [[ $old_spki =~ ^302a300506032b6570032100([0-9a-f]{64})$ ]] || die "unexpected Ed25519 SubjectPublicKeyInfo in the temporary certificate"
    old_raw=${BASH_REMATCH[1]}
    [[ $new_spki =~ ^302a300506032b656e032100([0-9a-f]{64})$ ]] || die "unexpected X25519 SubjectPublicKeyInfo"
    new_raw=${BASH_REMATCH[1]}
    old_ski=$(openssl x509 -in "$tmp" -noout -ext subjectKeyIdentifier | sed -n '2p' | tr -d ' :\n' | tr A-F a-f)
    hashed=$(from_hex "$old_raw" | openssl dgst -sha1 -binary | to_hex)
    [[ $old_ski == "$hashed" ]] || die "subjectKeyIdentifier of the temporary certificate is not SHA-1 of its key"
    new_ski=$(from_hex "$new_raw" | openssl dgst -sha1 -binary | to_hex)

    [[ $(count_of "$der" "$old_spki") == 1 ]] || die "cannot locate the public key in the temporary certificate"
    [[ $(count_of "$der" "04160414$old_ski") == 1 ]] || die "cannot locate the key identifier in the temporary certificate"
    der=${der/"$old_spki"/"$new_spki"}
    der=${der/"04160414$old_ski"/"04160414$new_ski"}

    # Certificate ::= SEQUENCE { tbs, AlgorithmIdentifier(Ed25519), BIT STRING(64-byte signature) }
    [[ $der =~ ^3082([0-9a-f]{4})3082([0-9a-f]{4}) ]] || die "unexpected DER layout of the temporary certificate"
    local outer_len=$((16#${BASH_REMATCH[1]})) tbs_len=$((16#${BASH_REMATCH[2]} + 4))
    ((${#der} == 2 * (4 + outer_len) && outer_len == tbs_len + 7 + 67)) || die "unexpected certificate length"
    local tbs=${der:8:2*tbs_len} tail=${der:8+2*tbs_len}
    [[ $tail =~ ^300506032b6570034100[0-9a-f]{128}$ ]] || die "the CA signature is not Ed25519"
    from_hex "$tbs" >"$WORK/tbs.der"
    ossl "re-signing the encryption certificate" pkeyutl -sign -rawin -inkey "$PKI/ca/ca.key" \
        -in "$WORK/tbs.der" -out "$WORK/tbs.sig"
    local sig
    sig=$(to_hex <"$WORK/tbs.sig")
    [[ ${#sig} == 128 ]] || die "unexpected Ed25519 signature length"
    from_hex "${der:0:8}${tbs}300506032b6570034100${sig}" >"$WORK/x25519.der"
    ossl "encoding the encryption certificate" x509 -inform DER -in "$WORK/x25519.der" -out "$out"

    # Check the result with openssl itself.
    [[ $(openssl x509 -in "$out" -noout -pubkey | openssl pkey -pubin -outform DER | to_hex) == "$new_spki" ]] ||
        die "encryption certificate does not carry the X25519 key"
    [[ $(openssl x509 -in "$out" -noout -serial) == "$(openssl x509 -in "$tmp" -noout -serial)" ]] ||
        die "encryption certificate serial changed"
    [[ $(openssl x509 -in "$out" -noout -ext subjectKeyIdentifier | sed -n '2p' | tr -d ' :\n' | tr A-F a-f) == "$new_ski" ]] ||
        die "encryption certificate key identifier is wrong"
    ossl "checking the encryption certificate signature" verify -no_check_time -CAfile "$PKI/ca.crt" "$out"
}

cmd_issue() {
    local dir="" id="" force=0 tls_key=ed25519 days_set=0
    DAYS=$DEFAULT_CERT_DAYS NOT_BEFORE="" NOT_AFTER="" PASSFILE=""
    while (($#)); do
        case $1 in
        -h | --help) help_issue; exit 0 ;;
        --days) (($# >= 2)) || usage_error issue "--days needs a value"; check_days issue --days "$2"; DAYS=$2; days_set=1; shift 2 ;;
        --not-before) (($# >= 2)) || usage_error issue "--not-before needs a value like 20200101000000Z"; NOT_BEFORE=$2; shift 2 ;;
        --not-after) (($# >= 2)) || usage_error issue "--not-after needs a value like 20210101000000Z"; NOT_AFTER=$2; shift 2 ;;
        --passphrase-file) (($# >= 2)) || usage_error issue "--passphrase-file needs a file name"; PASSFILE=$2; shift 2 ;;
        --tls-key) (($# >= 2)) || usage_error issue "--tls-key needs ed25519 or p256"; tls_key=$2; shift 2 ;;
        --force) force=1; shift ;;
        -*) usage_error issue "unknown option '$1'" ;;
        *)
            if [[ -z $dir ]]; then dir=$1
            elif [[ -z $id ]]; then id=$1
            else usage_error issue "unexpected argument '$1' (DIR and CENTER_ID are taken)"; fi
            shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error issue "missing DIR and CENTER_ID, e.g. $PROG issue /srv/iias-pki AZ"
    [[ -n $id ]] || usage_error issue "missing CENTER_ID after DIR, e.g. $PROG issue '$dir' AZ"
    check_center_id issue "$id"
    case $tls_key in
    ed25519 | p256) ;;
    *) usage_error issue "--tls-key must be ed25519 or p256, got '$tls_key'" ;;
    esac
    if [[ -n $NOT_BEFORE || -n $NOT_AFTER ]]; then
        [[ -n $NOT_BEFORE && -n $NOT_AFTER ]] || usage_error issue "give both --not-before and --not-after (UTC, YYYYMMDDHHMMSSZ)"
        ((days_set == 0)) || usage_error issue "--days cannot be combined with --not-before/--not-after"
        local t
        for t in "$NOT_BEFORE" "$NOT_AFTER"; do
            [[ $t =~ ^[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]Z$ ]] ||
                usage_error issue "bad date '$t': use UTC YYYYMMDDHHMMSSZ, e.g. 20200101000000Z"
        done
        [[ $NOT_BEFORE < $NOT_AFTER ]] || usage_error issue "--not-after ($NOT_AFTER) must be later than --not-before ($NOT_BEFORE)"
    fi
    if [[ -n $PASSFILE ]]; then
        [[ -f $PASSFILE && -r $PASSFILE ]] || usage_error issue "cannot read the passphrase file '$PASSFILE'"
        local first
        IFS= read -r first <"$PASSFILE" || true
        [[ -n ${first%$'\r'} ]] || usage_error issue "the first line of '$PASSFILE' is empty; put the passphrase on it"
        ((${#first} >= 4)) || usage_error issue "the passphrase in '$PASSFILE' is too short (OpenSSL needs at least 4 characters)"
        PASSFILE=$(cd -- "$(dirname -- "$PASSFILE")" && pwd)/$(basename -- "$PASSFILE")
    fi
    need_openssl
    open_ca issue "$dir"
    export IIAS_CENTER_ID="$id"
    make_work
    lock_ca

    local centers="$PKI/centers" dest="$PKI/centers/$id"
    mkdir -p -- "$centers"
    if [[ -e $dest ]] && ((force == 0)); then
        die "center $id already exists in $dest: refusing to overwrite it. Use --force to replace it (its old certificates get revoked), or '$PROG revoke' first."
    fi

    local stage
    stage=$(mktemp -d "$centers/.$id.new.XXXXXX")
    chmod 700 "$stage"
    CLEANUP+=("$stage")

    local -A serial
    local p key_alg subj key_pub crt_pub passin=()
    [[ -n $PASSFILE ]] && passin=(-passin "file:$PASSFILE")
    for p in "${PURPOSES[@]}"; do
        subj="/O=IIAS/OU=$p/CN=$id"
        case $p in
        signing) key_alg=ed25519 ;;
        encryption) key_alg=x25519 ;;
        tls) key_alg=$tls_key ;;
        esac
        gen_key "$key_alg" "$stage/$p.key"
        if [[ $p == encryption ]]; then
            ossl "generating a throwaway key" genpkey -algorithm ed25519 -out "$WORK/throwaway.key"
            make_csr "$WORK/throwaway.key" "$subj" "$WORK/$p.csr"
            ca_sign "$WORK/$p.csr" "${p}_ext" "$WORK/$p.tmp.crt"
            ossl "reading the encryption public key" pkey -in "$stage/$p.key" -pubout -out "$WORK/$p.pub" \
                "${passin[@]+"${passin[@]}"}"
            swap_to_x25519 "$WORK/$p.tmp.crt" "$WORK/$p.pub" "$stage/$p.crt"
            rm -f -- "$WORK/throwaway.key"
        else
            make_csr "$stage/$p.key" "$subj" "$WORK/$p.csr" "$PASSFILE"
            ca_sign "$WORK/$p.csr" "${p}_ext" "$stage/$p.crt"
        fi
        chmod 644 "$stage/$p.crt"
        serial[$p]=$(openssl x509 -in "$stage/$p.crt" -noout -serial | cut -d= -f2)
        # The database copy must be the final certificate (revocation reads it).
        [[ -f $PKI/ca/newcerts/${serial[$p]}.pem ]] || die "openssl ca did not store newcerts/${serial[$p]}.pem"
        cp -- "$stage/$p.crt" "$PKI/ca/newcerts/${serial[$p]}.pem"
        # Key and certificate must belong together.
        key_pub=$(openssl pkey -in "$stage/$p.key" -pubout "${passin[@]+"${passin[@]}"}" </dev/null)
        crt_pub=$(openssl x509 -in "$stage/$p.crt" -noout -pubkey)
        [[ $key_pub == "$crt_pub" ]] || die "$p key and certificate do not match"
        local vargs=(verify -CAfile "$PKI/ca.crt")
        [[ -n $NOT_BEFORE ]] && vargs+=(-no_check_time)
        ossl "verifying the $p certificate" "${vargs[@]}" "$stage/$p.crt"
    done
    cp -- "$PKI/ca.crt" "$stage/ca.crt"
    chmod 644 "$stage/ca.crt"
    local ca_end crt_end
    ca_end=$(openssl x509 -in "$PKI/ca.crt" -noout -enddate -dateopt iso_8601 | cut -d= -f2)
    crt_end=$(openssl x509 -in "$stage/signing.crt" -noout -enddate -dateopt iso_8601 | cut -d= -f2)
    [[ $crt_end > $ca_end ]] && warn "the certificates of $id run until $crt_end but the root expires $ca_end; verification fails after that"

    # --force: retire the previous certificates of this center.
    local superseded=0 type s purpose rev rows
    if ((force == 1)); then
        rows=$(index_rows "$id")
        while IFS=$'\t' read -r type s purpose rev; do
            [[ $type == V ]] || continue
            [[ $s == "${serial[signing]}" || $s == "${serial[encryption]}" || $s == "${serial[tls]}" ]] && continue
            revoke_serial "$s" superseded
            superseded=$((superseded + 1))
        done <<<"$rows"
    fi

    if [[ -e $dest ]]; then
        local old
        old=$(mktemp -d "$centers/.$id.old.XXXXXX")
        mv -- "$dest" "$old/$id"
        mv -- "$stage" "$dest"
        rm -rf -- "$old"
    else
        mv -- "$stage" "$dest"
    fi
    CLEANUP=()
    chmod 700 "$dest"

    local validity="$DAYS days"
    [[ -n $NOT_BEFORE ]] && validity="$NOT_BEFORE .. $NOT_AFTER"
    say "Issued center $id in $dest (validity $validity):"
    local tls_name=Ed25519
    [[ $tls_key == p256 ]] && tls_name=P-256
    say "  signing.key/.crt     Ed25519  serial ${serial[signing]}"
    say "  encryption.key/.crt  X25519   serial ${serial[encryption]}"
    say "$(printf '  tls.key/.crt         %-8s serial %s' "$tls_name" "${serial[tls]}")"
    say "  ca.crt               copy of the root"
    if [[ -n $PASSFILE ]]; then
        say "  private keys: PKCS#8, AES-256-CBC encrypted with the passphrase from $PASSFILE (0600)"
    else
        say "  private keys: PKCS#8, unencrypted (0600)"
    fi
    if ((superseded > 0)); then
        say "Revoked $superseded previous certificate(s) of $id (superseded)."
        write_crl "$DEFAULT_CRL_DAYS"
    fi
    say "Next: copy $dest/ to center $id over a secure channel."
}

# ---------------------------------------------------------------------------
# revoke

canonical_reason() { # prints the canonical spelling or nothing
    local r
    for r in "${REASONS[@]}"; do
        if [[ ${r,,} == "${1,,}" ]]; then
            echo "$r"
            return
        fi
    done
}

cmd_revoke() {
    local dir="" id="" reason="" crl_days=$DEFAULT_CRL_DAYS
    while (($#)); do
        case $1 in
        -h | --help) help_revoke; exit 0 ;;
        --reason)
            (($# >= 2)) || usage_error revoke "--reason needs one of: ${REASONS[*]}"
            reason=$(canonical_reason "$2")
            [[ -n $reason ]] || usage_error revoke "unknown --reason '$2'; use one of: ${REASONS[*]}"
            shift 2 ;;
        --crl-days) (($# >= 2)) || usage_error revoke "--crl-days needs a value"; check_days revoke --crl-days "$2"; crl_days=$2; shift 2 ;;
        -*) usage_error revoke "unknown option '$1'" ;;
        *)
            if [[ -z $dir ]]; then dir=$1
            elif [[ -z $id ]]; then id=$1
            else usage_error revoke "unexpected argument '$1' (DIR and CENTER_ID are taken)"; fi
            shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error revoke "missing DIR and CENTER_ID, e.g. $PROG revoke /srv/iias-pki GE --reason keyCompromise"
    [[ -n $id ]] || usage_error revoke "missing CENTER_ID after DIR"
    check_center_id revoke "$id"
    need_openssl
    open_ca revoke "$dir"
    make_work
    lock_ca

    local rows type s purpose rev n=0 already=0
    rows=$(index_rows "$id")
    [[ -n $rows ]] || die "the CA in $PKI has never issued a certificate for center $id (see: $PROG show '$dir')"
    while IFS=$'\t' read -r type s purpose rev; do
        if [[ $type == R ]]; then
            already=$((already + 1))
            continue
        fi
        revoke_serial "$s" "$reason"
        say "  revoked $id $purpose certificate, serial $s${reason:+ ($reason)}"
        n=$((n + 1))
    done <<<"$rows"
    if ((n == 0)); then
        say "All $already certificate(s) of $id were already revoked; re-signing the CRL."
    else
        say "Revoked $n certificate(s) of center $id."
    fi
    write_crl "$crl_days"
    say "Next: distribute $PKI/crl.pem to every node."
}

# ---------------------------------------------------------------------------
# crl

cmd_crl() {
    local dir="" days=$DEFAULT_CRL_DAYS
    while (($#)); do
        case $1 in
        -h | --help) help_crl; exit 0 ;;
        --days) (($# >= 2)) || usage_error crl "--days needs a value"; check_days crl --days "$2"; days=$2; shift 2 ;;
        -*) usage_error crl "unknown option '$1'" ;;
        *) [[ -z $dir ]] || usage_error crl "unexpected argument '$1' (only DIR is taken)"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error crl "missing DIR, e.g. $PROG crl /srv/iias-pki --days 30"
    need_openssl
    open_ca crl "$dir"
    make_work
    lock_ca
    write_crl "$days"
}

# ---------------------------------------------------------------------------
# show

cmd_show() {
    local dir="" id=""
    while (($#)); do
        case $1 in
        -h | --help) help_show; exit 0 ;;
        -*) usage_error show "unknown option '$1'" ;;
        *)
            if [[ -z $dir ]]; then dir=$1
            elif [[ -z $id ]]; then id=$1
            else usage_error show "unexpected argument '$1' (DIR and CENTER_ID are taken)"; fi
            shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error show "missing DIR, e.g. $PROG show /srv/iias-pki"
    [[ -z $id ]] || check_center_id show "$id"
    need_openssl
    [[ -d $dir ]] || die "no PKI directory '$dir'"
    PKI=$(abs_dir "$dir")
    [[ -f $PKI/ca.crt ]] || die "'$dir' holds no IIAS CA ($dir/ca.crt missing)"
    local index="$PKI/ca/index.txt"
    [[ -r $index ]] || index=""   # an auditor's copy may lack the CA database

    local now
    now=$(date -u '+%Y-%m-%d %H:%M:%SZ')
    printf 'Root:  %s, notAfter %s\n' \
        "$(openssl x509 -in "$PKI/ca.crt" -noout -subject -nameopt oneline | sed 's/^subject=//')" \
        "$(openssl x509 -in "$PKI/ca.crt" -noout -enddate -dateopt iso_8601 | cut -d= -f2)"
    if [[ -f $PKI/crl.pem ]]; then
        local next
        next=$(openssl crl -in "$PKI/crl.pem" -noout -nextupdate -dateopt iso_8601 2>/dev/null | cut -d= -f2 || true)
        printf 'CRL:   nextUpdate %s%s\n' "$next" "$([[ -n $next && $next < $now ]] && echo '  (STALE: run pki.sh crl)')"
    else
        printf 'CRL:   missing (run: %s crl %s)\n' "$PROG" "$dir"
    fi
    [[ -n $index ]] || printf '(no CA database readable: status shows validity dates only)\n'
    printf '\n'

    local ids=()
    if [[ -n $id ]]; then
        [[ -d $PKI/centers/$id ]] || die "no center $id in $PKI/centers"
        ids=("$id")
    elif [[ -d $PKI/centers ]]; then
        local d
        for d in "$PKI"/centers/*/; do
            [[ -d $d ]] || continue
            d=${d%/}
            d=${d##*/}
            [[ $d =~ $CENTER_ID_RE ]] && ids+=("$d")
        done
    fi
    if ((${#ids[@]} == 0)); then
        echo "No centers issued yet."
        return 0
    fi

    local fmt='%-20s %-11s %-8s %-42s %-21s %s\n'
    # shellcheck disable=SC2059
    printf "$fmt" CENTER PURPOSE KEY SERIAL NOT_AFTER STATUS
    local c p crt s alg nb na status row
    for c in "${ids[@]}"; do
        for p in "${PURPOSES[@]}"; do
            crt="$PKI/centers/$c/$p.crt"
            if [[ ! -f $crt ]]; then
                # shellcheck disable=SC2059
                printf "$fmt" "$c" "$p" - - - "missing"
                continue
            fi
            s=$(openssl x509 -in "$crt" -noout -serial | cut -d= -f2)
            alg=$(openssl x509 -in "$crt" -noout -text | sed -n 's/^ *Public Key Algorithm: *//p' | head -1)
            case $alg in
            ED25519) alg=Ed25519 ;;
            X25519) alg=X25519 ;;
            id-ecPublicKey) alg=P-256 ;;
            esac
            nb=$(openssl x509 -in "$crt" -noout -startdate -dateopt iso_8601 | cut -d= -f2)
            na=$(openssl x509 -in "$crt" -noout -enddate -dateopt iso_8601 | cut -d= -f2)
            status=valid
            if [[ $na < $now ]]; then
                status=expired
            elif [[ $now < $nb ]]; then
                status=not-yet-valid
            fi
            if [[ -n $index ]]; then
                row=$(awk -F '\t' -v s="$s" '$4 == s { print $1 "\t" $3 }' "$index" | tail -1)
                if [[ -z $row ]]; then
                    status="$status, NOT IN CA DATABASE"
                elif [[ $row == R* ]]; then
                    # revocation field: YYMMDDHHMMSSZ[,reason]
                    local r=${row#*$'\t'}
                    local when=${r%%,*} why=""
                    [[ $r == *,* ]] && why=", ${r#*,}"
                    status="revoked 20${when:0:2}-${when:2:2}-${when:4:2}$why"
                fi
            fi
            # shellcheck disable=SC2059
            printf "$fmt" "$c" "$p" "$alg" "$s" "$na" "$status"
        done
    done
}

# ---------------------------------------------------------------------------
# main

main() {
    local args=() a
    for a in "$@"; do
        case $a in
        -q | --quiet) QUIET=1 ;;
        --*=*) args+=("${a%%=*}" "${a#*=}") ;;
        *) args+=("$a") ;;
        esac
    done
    set -- "${args[@]+"${args[@]}"}"
    (($#)) || usage_error "" "missing command: init-ca, issue, revoke, crl or show"
    local cmd=$1
    shift
    case $cmd in
    -h | --help | help) help_main ;;
    init-ca) cmd_init_ca "$@" ;;
    issue) cmd_issue "$@" ;;
    revoke) cmd_revoke "$@" ;;
    crl) cmd_crl "$@" ;;
    show) cmd_show "$@" ;;
    *) usage_error "" "unknown command '$cmd': use init-ca, issue, revoke, crl or show" ;;
    esac
}

main "$@"
