# shellcheck shell=bash
# pki.sh policy: a C2SP tlog-policy file (https://c2sp.org/tlog-policy) naming every
# center's log key and witness key and a quorum, for `iias audit check-proof --policy`
# and any other C2SP verifier. Sourced by Scripts/pki.sh; not run on its own.

help_policy() {
    cat <<EOF
Usage: $PROG policy DIR [--quorum K] [--log CENTER_ID] [--epochs N] [--out FILE]

Writes a C2SP tlog-policy file: for each center in DIR/centers/, a "log" line
with its signing key as a vkey named after its log's origin (iias:center:ID/log)
and a "witness" line with its witness key (iias:center:ID/witness), then a
group of all witnesses with threshold K and the quorum. Only the centers'
current certificates are listed (rotated keys are in their history folders).

  --quorum K        cosignatures a checkpoint needs; default: a majority of a
                    center's peers (2 of 3 peers in a network of 4 centers)
  --log CENTER_ID   one log only, without its own witness: a policy for any C2SP
                    verifier (IIAS's own check never counts a center's witness
                    key for its own log, so one policy serves every log there)
  --epochs N        also list each log's key under the origins of its epochs 2 … N
                    (iias:center:ID/log/epoch-2, …): a center restored from an older
                    copy signs its later checkpoints, and their proofs, under those
  --out FILE        where to write (default: DIR/policy.txt; - for standard output)

Example: $PROG policy /srv/iias-pki --quorum 2 --out policy.txt
EOF
}

# vkey NAME TYPE_HEX CERT: NAME+hex(key ID)+base64(type || Ed25519 public key), where
# key ID = SHA-256(NAME || 0x0A || type || public key)[0..<4] (C2SP signed-note).
vkey() {
    local raw="$WORK/raw" blob="$WORK/blob" id
    openssl x509 -in "$3" -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 32 >"$raw"
    { from_hex "$2"; cat "$raw"; } >"$blob"
    id=$({ printf '%s\n' "$1"; cat "$blob"; } | openssl dgst -sha256 -binary | head -c 4 | to_hex)
    printf '%s+%s+%s' "$1" "$id" "$(openssl base64 -A <"$blob")"
}

cmd_policy() {
    local dir="" quorum="" only="" out="" epochs=1
    while (($#)); do
        case $1 in
        -h | --help) help_policy; exit 0 ;;
        --quorum) (($# > 1)) || usage_error policy "--quorum needs a number"; quorum=$2; shift 2 ;;
        --log) (($# > 1)) || usage_error policy "--log needs a center id"; only=$2; shift 2 ;;
        --out) (($# > 1)) || usage_error policy "--out needs a file"; out=$2; shift 2 ;;
        --epochs)
            (($# > 1)) || usage_error policy "--epochs needs a number"
            [[ $2 =~ ^[1-9][0-9]?$ ]] || usage_error policy "--epochs must be a whole number from 1 to 99"
            epochs=$2; shift 2 ;;
        -*) usage_error policy "unknown option '$1'" ;;
        *) [[ -z $dir ]] || usage_error policy "unexpected argument '$1'"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error policy "missing DIR, e.g. $PROG policy /srv/iias-pki"
    [[ -z $only ]] || check_center_id policy "$only"
    [[ -z $quorum || $quorum =~ ^[1-9][0-9]*$ ]] || usage_error policy "--quorum must be a whole number from 1"
    need_openssl
    [[ -d $dir/centers ]] || die "'$dir' holds no centers ($dir/centers missing)"
    PKI=$(abs_dir "$dir")
    local ids=() d
    for d in "$PKI"/centers/*/; do
        d=${d%/}; d=${d##*/}
        [[ $d =~ $CENTER_ID_RE && -f $PKI/centers/$d/signing.crt ]] && ids+=("$d")
    done
    ((${#ids[@]} > 0)) || die "no centers issued in $PKI/centers"
    [[ -z $only || -f $PKI/centers/$only/signing.crt ]] || die "no center $only in $PKI/centers"
    [[ -n $quorum ]] || quorum=$(((${#ids[@]} - 1) / 2 + 1))
    make_work
    local text="# C2SP tlog-policy of the IIAS centers in $PKI, $(date -u +%Y-%m-%dT%H:%M:%SZ)"$'\n' names=() id
    local epoch origin
    for id in "${ids[@]}"; do
        [[ -n $only && $id != "$only" ]] && continue
        for ((epoch = 1; epoch <= epochs; epoch++)); do
            origin="iias:center:$id/log"
            ((epoch == 1)) || origin+="/epoch-$epoch"
            text+="log $(vkey "$origin" 01 "$PKI/centers/$id/signing.crt")"$'\n'
        done
    done
    for id in "${ids[@]}"; do
        [[ $id != "$only" && -f $PKI/centers/$id/witness.crt ]] || continue
        text+="witness $id $(vkey "iias:center:$id/witness" 04 "$PKI/centers/$id/witness.crt")"$'\n'
        names+=("$id")
    done
    ((${#names[@]} >= quorum)) || die "a quorum of $quorum needs as many witness keys; $PKI has ${#names[@]} (pki.sh rotate DIR ID --keys witness gives a center its first)"
    text+="group witnesses $quorum ${names[*]}"$'\n'"quorum witnesses"$'\n'
    [[ -n $out ]] || out="$PKI/policy.txt"
    if [[ $out == - ]]; then
        printf '%s' "$text"
    else
        printf '%s' "$text" >"$out"
        chmod 644 "$out"
        say "wrote $out: ${#names[@]} witnesses, quorum $quorum"
    fi
}
