# shellcheck shell=bash
# pki.sh show: the root, the CRL and every certificate of the centers, current and
# rotated, with the days each has left.
# Sourced by Scripts/pki.sh; not run on its own.

cmd_show() {
    local dir="" id=""
    while (($#)); do
        case $1 in
        -h | --help) help_show; exit 0 ;;
        -*) usage_error show "unknown option '$1'" ;;
        *) take_dir_id show "$1"; shift ;;
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
        local next hours=""
        next=$(openssl crl -in "$PKI/crl.pem" -noout -nextupdate -dateopt iso_8601 2>/dev/null | cut -d= -f2 || true)
        [[ -z $next ]] || hours=$((($(epoch_of "$next") - $(date -u +%s)) / 3600))
        printf 'CRL:   nextUpdate %s%s%s\n' "$next" "${hours:+ ($hours hours left)}" \
            "$([[ -n $next && $next < $now ]] && echo '  (STALE: run pki.sh crl)')"
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


    # shellcheck disable=SC2059
    printf "$SHOW_FMT" CENTER PURPOSE SET KEY SERIAL NOT_BEFORE NOT_AFTER DAYS STATUS
    local c p h
    for c in "${ids[@]}"; do
        for p in "${PURPOSES[@]}"; do show_cert "$c" "$p" current "$PKI/centers/$c/$p.crt" "$index" "$now"; done
        for h in "$PKI/centers/$c"/history/*/; do
            [[ -d $h ]] || continue
            h=${h%/}
            for p in "${PURPOSES[@]}"; do
                [[ -f $h/$p.crt ]] && show_cert "$c" "$p" "history/${h##*/}" "$h/$p.crt" "$index" "$now"
            done
        done
    done
}

SHOW_FMT='%-12s %-10s %-26s %-7s %-40s %-20s %-20s %5s  %s\n'

# One row of the table.   show_cert CENTER PURPOSE SET CRT INDEX NOW
show_cert() {
    local c=$1 p=$2 set=$3 crt=$4 index=$5 now=$6 s alg nb na status row
    if [[ ! -f $crt ]]; then
        # shellcheck disable=SC2059
        printf "$SHOW_FMT" "$c" "$p" "$set" - - - - - "missing"
        return
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
            status="revoked $(revocation_text "${row#*$'\t'}")"
        fi
    fi
    # shellcheck disable=SC2059
    printf "$SHOW_FMT" "$c" "$p" "$set" "$alg" "$s" "$nb" "$na" "$(days_left "$na")" "$status"
}

# The CA database's revocation field (YYMMDDHHMMSSZ[,reason[,YYYYMMDDHHMMSSZ]]) as
# "2026-12-06 keyCompromise, invalid since 2026-12-01 00:00:00Z".
revocation_text() {
    local when reason="" since="" out
    IFS=, read -r when reason since <<<"$1"
    case $reason in   # 'openssl ca' stores a reason with a time under its own name
    keyTime) reason=keyCompromise ;;
    CAkeyTime) reason=CACompromise ;;
    esac
    out="20${when:0:2}-${when:2:2}-${when:4:2}"
    [[ -z $reason ]] || out="$out $reason"
    [[ -z $since ]] || out="$out, invalid since ${since:0:4}-${since:4:2}-${since:6:2} ${since:8:2}:${since:10:2}:${since:12:2}Z"
    echo "$out"
}
