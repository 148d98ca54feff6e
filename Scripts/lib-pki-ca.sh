# shellcheck shell=bash
# pki.sh init-ca and show: creating the root CA and listing the centers' certificates.
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

