# shellcheck shell=bash
# pki.sh init-ca: creating the root CA.
# Sourced by Scripts/pki.sh; not run on its own.

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
