# shellcheck shell=bash
# pki.sh rotate: a center's planned key change. New keys and certificates take the
# current place; the previous ones move, dated, into DIR/centers/ID/history/ and stay
# valid (a planned rotation is not a compromise, so nothing is revoked).
# Sourced by Scripts/pki.sh; not run on its own.

# The TLS key algorithm of a current certificate (ed25519 or p256).
tls_alg_of() {
    if openssl x509 -in "$1" -noout -text 2>/dev/null | grep -q 'id-ecPublicKey'; then echo p256; else echo ed25519; fi
}

# A fresh history folder name for now: 2026-12-06T051200Z (-2, -3… if taken).
history_slot() { # history_slot CENTER_DIR
    local base n=1 slot
    base=$(date -u +%Y-%m-%dT%H%M%SZ)
    slot=$base
    while [[ -e $1/history/$slot ]]; do
        n=$((n + 1))
        slot="$base-$n"
    done
    echo "$slot"
}

cmd_rotate() {
    local dir="" id=""
    key_options_reset
    KEYS=("${PURPOSES[@]}")
    while (($#)); do
        case $1 in
        -h | --help) help_rotate; exit 0 ;;
        --keys) (($# >= 2)) || usage_error rotate "--keys needs a list such as signing,encryption,tls"; parse_keys rotate "$2"; shift 2 ;;
        -*) key_option rotate "$@" || usage_error rotate "unknown option '$1'"; shift 2 ;;
        *) take_dir_id rotate "$1"; shift ;;
        esac
    done
    need_dir_id rotate
    check_key_options rotate
    need_openssl
    open_ca rotate "$dir"
    local dest="$PKI/centers/$id"
    if [[ ! -d $dest ]]; then
        printf '%s: error: cannot rotate center %s: it is unknown to the CA in %s (no %s). Issue it first: %s issue %s %s\n' \
            "$PROG" "$id" "$PKI" "$dest" "$PROG" "$dir" "$id" >&2
        exit 2
    fi
    local p added=()
    for p in "${KEYS[@]}"; do
        # A center issued before witness keys existed gets its first one here.
        if [[ $p == witness && ! -e $dest/witness.crt && ! -e $dest/witness.key ]]; then
            added+=(witness)
            continue
        fi
        [[ -f $dest/$p.crt && -f $dest/$p.key ]] ||
            die "center $id has no current $p key and certificate in $dest; re-issue it with: $PROG issue '$dir' $id --force"
        if [[ -z $PASSFILE ]] && grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$dest/$p.key"; then
            die "the current $p key of $id is passphrase-protected; give --passphrase-file so that the new keys are protected too"
        fi
    done
    local tls_key=${TLS_KEY:-$(tls_alg_of "$dest/tls.crt")}
    export IIAS_CENTER_ID="$id"
    make_work
    lock_ca

    local stage
    stage=$(mktemp -d "$PKI/centers/.$id.rotate.XXXXXX")
    chmod 700 "$stage"
    CLEANUP+=("$stage")
    declare -gA SERIAL=()
    for p in "${KEYS[@]}"; do issue_purpose "$stage" "$id" "$p" "$tls_key"; done
    warn_past_root "$id" "$stage/${KEYS[0]}.crt"

    # Everything new is made and checked: now the previous files move aside.
    local slot hist
    slot=$(history_slot "$dest")
    hist="$dest/history/$slot"
    mkdir -p -m 700 -- "$dest/history"
    mkdir -m 700 -- "$hist"
    for p in "${KEYS[@]}"; do
        [[ " ${added[*]-} " == *" $p "* ]] || mv -- "$dest/$p.key" "$dest/$p.crt" "$hist/"
        mv -- "$stage/$p.key" "$stage/$p.crt" "$dest/"
    done
    # Only added keys: nothing was replaced, so no history folder.
    if rmdir -- "$hist" 2>/dev/null; then rmdir -- "$dest/history" 2>/dev/null || true; fi
    cp -- "$PKI/ca.crt" "$dest/ca.crt"
    chmod 644 "$dest/ca.crt"
    rm -rf -- "$stage"
    CLEANUP=()

    say "Rotated center $id in $dest (validity $(validity_text)):"
    for p in "${KEYS[@]}"; do
        if [[ " ${added[*]-} " == *" $p "* ]]; then
            say "$(printf '  %-11s new serial %s (first %s key of %s)' "$p" "${SERIAL[$p]}" "$p" "$id")"
        else
            say "$(printf '  %-11s new serial %s' "$p" "${SERIAL[$p]}")"
        fi
    done
    [[ ! -d $hist ]] || say "  previous keys and certificates: $hist (still valid, not revoked)"
    say_private_keys
    say "Next: copy $dest/ to center $id over a secure channel and SIGHUP its node; give the new"
    say "certificates to the peers' certificate folders and to the auditors (keep the old ones)."
}
