# shellcheck shell=bash
# pki.sh issue: key generation, certification (X25519 included) and the issue command.
# Sourced by Scripts/pki.sh; not run on its own.

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
    if [[ -n $NOT_AFTER ]]; then
        args+=(-enddate "$NOT_AFTER")
        [[ -z $NOT_BEFORE ]] || args+=(-startdate "$NOT_BEFORE")
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

# Options that issue and rotate share: validity, passphrase, TLS key algorithm.
# Sets DAYS, NOT_BEFORE, NOT_AFTER, PASSFILE or TLS_KEY from ARG VALUE;
# returns 1 if ARG is not one of them.   key_option CMD ARG [VALUE]
key_option() {
    local cmd=$1
    case $2 in
    --days) (($# >= 3)) || usage_error "$cmd" "--days needs a value"; check_days "$cmd" --days "$3"; DAYS=$3; DAYS_SET=1 ;;
    --not-before) (($# >= 3)) || usage_error "$cmd" "--not-before needs a value like 20200101000000Z"; NOT_BEFORE=$3 ;;
    --not-after) (($# >= 3)) || usage_error "$cmd" "--not-after needs a value like 20210101000000Z"; NOT_AFTER=$3 ;;
    --passphrase-file) (($# >= 3)) || usage_error "$cmd" "--passphrase-file needs a file name"; PASSFILE=$3 ;;
    --tls-key) (($# >= 3)) || usage_error "$cmd" "--tls-key needs ed25519 or p256"; TLS_KEY=$3 ;;
    *) return 1 ;;
    esac
}

key_options_reset() { DAYS=$DEFAULT_CERT_DAYS DAYS_SET=0 NOT_BEFORE="" NOT_AFTER="" PASSFILE="" TLS_KEY=""; }

# Checks what key_option collected.  check_key_options CMD
check_key_options() {
    local cmd=$1 t now
    case ${TLS_KEY:-ed25519} in
    ed25519 | p256) ;;
    *) usage_error "$cmd" "--tls-key must be ed25519 or p256, got '$TLS_KEY'" ;;
    esac
    if [[ -n $NOT_BEFORE || -n $NOT_AFTER ]]; then
        [[ -n $NOT_AFTER ]] || usage_error "$cmd" "--not-before needs --not-after too (UTC, YYYYMMDDHHMMSSZ)"
        ((DAYS_SET == 0)) || usage_error "$cmd" "--days cannot be combined with --not-before/--not-after"
        for t in $NOT_BEFORE $NOT_AFTER; do
            [[ $t =~ $TIME_RE ]] || usage_error "$cmd" "bad date '$t': use UTC YYYYMMDDHHMMSSZ, e.g. 20200101000000Z"
        done
        if [[ -n $NOT_BEFORE ]]; then
            [[ $NOT_BEFORE < $NOT_AFTER ]] || usage_error "$cmd" "--not-after ($NOT_AFTER) must be later than --not-before ($NOT_BEFORE)"
        else
            now=$(date -u +%Y%m%d%H%M%SZ)
            [[ $now < $NOT_AFTER ]] || usage_error "$cmd" "--not-after ($NOT_AFTER) is not in the future; for a certificate that is already expired give --not-before too"
        fi
    fi
    if [[ -n $PASSFILE ]]; then
        [[ -f $PASSFILE && -r $PASSFILE ]] || usage_error "$cmd" "cannot read the passphrase file '$PASSFILE'"
        local first
        IFS= read -r first <"$PASSFILE" || true
        [[ -n ${first%$'\r'} ]] || usage_error "$cmd" "the first line of '$PASSFILE' is empty; put the passphrase on it"
        ((${#first} >= 4)) || usage_error "$cmd" "the passphrase in '$PASSFILE' is too short (OpenSSL needs at least 4 characters)"
        PASSFILE=$(cd -- "$(dirname -- "$PASSFILE")" && pwd)/$(basename -- "$PASSFILE")
    fi
}

validity_text() {
    if [[ -n $NOT_BEFORE ]]; then echo "$NOT_BEFORE .. $NOT_AFTER"
    elif [[ -n $NOT_AFTER ]]; then echo "now .. $NOT_AFTER"
    else echo "$DAYS days"; fi
}

# Makes PURPOSE's key pair and certificate for ID in STAGE and records its serial in
# SERIAL[PURPOSE].   issue_purpose STAGE ID PURPOSE TLS_ALG
issue_purpose() {
    local stage=$1 id=$2 p=$3 key_alg subj key_pub crt_pub passin=()
    [[ -n $PASSFILE ]] && passin=(-passin "file:$PASSFILE")
    subj="/O=IIAS/OU=$p/CN=$id"
    case $p in
    signing | witness) key_alg=ed25519 ;;
    encryption) key_alg=x25519 ;;
    tls) key_alg=$4 ;;
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
    SERIAL[$p]=$(openssl x509 -in "$stage/$p.crt" -noout -serial | cut -d= -f2)
    # The database copy must be the final certificate (revocation reads it).
    [[ -f $PKI/ca/newcerts/${SERIAL[$p]}.pem ]] || die "openssl ca did not store newcerts/${SERIAL[$p]}.pem"
    cp -- "$stage/$p.crt" "$PKI/ca/newcerts/${SERIAL[$p]}.pem"
    # Key and certificate must belong together.
    key_pub=$(openssl pkey -in "$stage/$p.key" -pubout "${passin[@]+"${passin[@]}"}" </dev/null)
    crt_pub=$(openssl x509 -in "$stage/$p.crt" -noout -pubkey)
    [[ $key_pub == "$crt_pub" ]] || die "$p key and certificate do not match"
    local vargs=(verify -CAfile "$PKI/ca.crt")
    [[ -n $NOT_BEFORE ]] && vargs+=(-no_check_time)
    ossl "verifying the $p certificate" "${vargs[@]}" "$stage/$p.crt"
}

# Warns when the certificate outlives the root.   warn_past_root ID CERT
warn_past_root() {
    local ca_end crt_end
    ca_end=$(openssl x509 -in "$PKI/ca.crt" -noout -enddate -dateopt iso_8601 | cut -d= -f2)
    crt_end=$(openssl x509 -in "$2" -noout -enddate -dateopt iso_8601 | cut -d= -f2)
    [[ $crt_end > $ca_end ]] && warn "the certificates of $1 run until $crt_end but the root expires $ca_end; verification fails after that"
    return 0
}

say_private_keys() {
    if [[ -n $PASSFILE ]]; then
        say "  private keys: PKCS#8, AES-256-CBC encrypted with the passphrase from $PASSFILE (0600)"
    else
        say "  private keys: PKCS#8, unencrypted (0600)"
    fi
}

cmd_issue() {
    local dir="" id="" force=0
    key_options_reset
    while (($#)); do
        case $1 in
        -h | --help) help_issue; exit 0 ;;
        --force) force=1; shift ;;
        -*) key_option issue "$@" || usage_error issue "unknown option '$1'"; shift 2 ;;
        *) take_dir_id issue "$1"; shift ;;
        esac
    done
    need_dir_id issue
    check_key_options issue
    local tls_key=${TLS_KEY:-ed25519}
    need_openssl
    open_ca issue "$dir"
    export IIAS_CENTER_ID="$id"
    make_work
    lock_ca

    local centers="$PKI/centers" dest="$PKI/centers/$id"
    mkdir -p -- "$centers"
    if [[ -e $dest ]] && ((force == 0)); then
        die "center $id already exists in $dest: refusing to overwrite it. Use '$PROG rotate' for new keys beside the old, --force to replace it (its old certificates get revoked), or '$PROG revoke' first."
    fi

    local stage
    stage=$(mktemp -d "$centers/.$id.new.XXXXXX")
    chmod 700 "$stage"
    CLEANUP+=("$stage")

    declare -gA SERIAL=()
    local p
    for p in "${PURPOSES[@]}"; do issue_purpose "$stage" "$id" "$p" "$tls_key"; done
    cp -- "$PKI/ca.crt" "$stage/ca.crt"
    chmod 644 "$stage/ca.crt"
    warn_past_root "$id" "$stage/signing.crt"

    # --force: retire the previous certificates of this center.
    local superseded=0 type s purpose rev rows
    if ((force == 1)); then
        rows=$(index_rows "$id")
        while IFS=$'\t' read -r type s purpose rev; do
            [[ $type == V ]] || continue
            [[ " ${SERIAL[*]} " == *" $s "* ]] && continue
            revoke_serial "$s" superseded ""
            superseded=$((superseded + 1))
        done <<<"$rows"
    fi

    if [[ -e $dest ]]; then
        local old
        old=$(mktemp -d "$centers/.$id.old.XXXXXX")
        mv -- "$dest" "$old/$id"
        mv -- "$stage" "$dest"
        # A rotated center's history stays with it.
        [[ ! -d $old/$id/history ]] || mv -- "$old/$id/history" "$dest/history"
        rm -rf -- "$old"
    else
        mv -- "$stage" "$dest"
    fi
    CLEANUP=()
    chmod 700 "$dest"

    say "Issued center $id in $dest (validity $(validity_text)):"
    local tls_name=Ed25519
    [[ $tls_key == p256 ]] && tls_name=P-256
    say "  signing.key/.crt     Ed25519  serial ${SERIAL[signing]}"
    say "  encryption.key/.crt  X25519   serial ${SERIAL[encryption]}"
    say "$(printf '  tls.key/.crt         %-8s serial %s' "$tls_name" "${SERIAL[tls]}")"
    say "  witness.key/.crt     Ed25519  serial ${SERIAL[witness]}"
    say "  ca.crt               copy of the root"
    say_private_keys
    if ((superseded > 0)); then
        say "Revoked $superseded previous certificate(s) of $id (superseded)."
        write_crl --days "$DEFAULT_CRL_DAYS"
    fi
    say "Next: copy $dest/ to center $id over a secure channel."
}
