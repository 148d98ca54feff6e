# shellcheck shell=bash
# pki.sh revoke and crl: revocation in the CA database and the re-signed CRL.
# Sourced by Scripts/pki.sh; not run on its own.

# ---------------------------------------------------------------------------
# revoke

cmd_revoke() {
    local dir="" id="" reason="" since="" crl_days=$DEFAULT_CRL_DAYS serials=()
    KEYS=("${PURPOSES[@]}")
    while (($#)); do
        case $1 in
        -h | --help) help_revoke; exit 0 ;;
        --reason)
            (($# >= 2)) || usage_error revoke "--reason needs one of: ${REASONS[*]}"
            reason=$(canonical_reason "$2")
            [[ -n $reason ]] || usage_error revoke "unknown --reason '$2'; use one of: ${REASONS[*]} (or key-compromise, superseded, cessation-of-operation)"
            shift 2 ;;
        --invalid-since)
            (($# >= 2)) || usage_error revoke "--invalid-since needs a UTC time like 20261201000000Z"
            [[ $2 =~ $TIME_RE ]] || usage_error revoke "bad --invalid-since '$2': use UTC YYYYMMDDHHMMSSZ, e.g. 20261201000000Z"
            since=$2; shift 2 ;;
        --keys) (($# >= 2)) || usage_error revoke "--keys needs a list such as signing,tls"; parse_keys revoke "$2"; shift 2 ;;
        --serial)
            (($# >= 2)) || usage_error revoke "--serial needs a certificate serial in hex (see: $PROG show DIR CENTER_ID)"
            [[ $2 =~ ^[0-9A-Fa-f]{1,64}$ ]] || usage_error revoke "bad --serial '$2': give the hex serial $PROG show prints"
            serials+=("${2^^}"); shift 2 ;;
        --crl-days) (($# >= 2)) || usage_error revoke "--crl-days needs a value"; check_days revoke --crl-days "$2"; crl_days=$2; shift 2 ;;
        -*) usage_error revoke "unknown option '$1'" ;;
        *) take_dir_id revoke "$1"; shift ;;
        esac
    done
    need_dir_id revoke
    if [[ -n $since ]]; then
        [[ $reason == keyCompromise ]] || usage_error revoke "--invalid-since goes with --reason key-compromise only (it is the CRL's invalidityDate)"
        [[ $since < $(date -u +%Y%m%d%H%M%SZ) ]] || usage_error revoke "--invalid-since $since is in the future; give the time the key is known or suspected to have been compromised"
    elif [[ $reason == keyCompromise ]]; then
        since=$(date -u +%Y%m%d%H%M%SZ)   # no earlier time known: from now on
    fi
    need_openssl
    open_ca revoke "$dir"
    make_work
    lock_ca

    local rows type s purpose rev n=0 already=0 skipped=0 serial
    rows=$(index_rows "$id")
    [[ -n $rows ]] || die "the CA in $PKI has never issued a certificate for center $id (see: $PROG show '$dir')"
    # --serial picks certificates one by one (e.g. the current key only, not the rotated
    # ones before it): each must be one of this center's.
    for serial in "${serials[@]}"; do
        cut -f2 <<<"$rows" | tr 'a-f' 'A-F' | grep -qx -- "$serial" ||
            usage_error revoke "serial $serial is not a certificate of center $id (see: $PROG show '$dir' $id)"
    done
    while IFS=$'\t' read -r type s purpose rev; do
        if ((${#serials[@]})) && [[ " ${serials[*]} " != *" ${s^^} "* ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        if [[ " ${KEYS[*]} " != *" $purpose "* ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        if [[ $type == R ]]; then
            already=$((already + 1))
            continue
        fi
        revoke_serial "$s" "$reason" "$since"
        say "  revoked $id $purpose certificate, serial $s${reason:+ ($reason${since:+, invalid since $since})}"
        n=$((n + 1))
    done <<<"$rows"
    if ((n == 0)); then
        say "All $already certificate(s) of $id (${KEYS[*]}) were already revoked; re-signing the CRL."
    else
        say "Revoked $n certificate(s) of center $id."
    fi
    write_crl --days "$crl_days"
    say "Next: distribute $PKI/crl.pem to every node."
}

# ---------------------------------------------------------------------------
# crl

cmd_crl() {
    local dir="" when=(--days "$DEFAULT_CRL_DAYS") last="" set=0
    while (($#)); do
        case $1 in
        -h | --help) help_crl; exit 0 ;;
        --days | --hours)
            (($# >= 2)) || usage_error crl "$1 needs a value"; check_days crl "$1" "$2"
            when=("$1" "$2"); set=$((set + 1)); shift 2 ;;
        --next-update | --last-update)
            (($# >= 2)) || usage_error crl "$1 needs a UTC time like 20270101000000Z"
            [[ $2 =~ $TIME_RE ]] || usage_error crl "bad $1 '$2': use UTC YYYYMMDDHHMMSSZ, e.g. 20270101000000Z"
            if [[ $1 == --last-update ]]; then last=$2; else when=(--next-update "$2"); set=$((set + 1)); fi
            shift 2 ;;
        -*) usage_error crl "unknown option '$1'" ;;
        *) [[ -z $dir ]] || usage_error crl "unexpected argument '$1' (only DIR is taken)"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || usage_error crl "missing DIR, e.g. $PROG crl /srv/iias-pki --days 30"
    ((set <= 1)) || usage_error crl "give one of --days, --hours or --next-update"
    if [[ -n $last ]]; then
        [[ ${when[0]} == --next-update ]] || usage_error crl "--last-update goes with --next-update only"
        [[ $last < ${when[1]} ]] || usage_error crl "--next-update must be later than --last-update"
        when+=(--last-update "$last")
    fi
    need_openssl
    open_ca crl "$dir"
    make_work
    lock_ca
    write_crl "${when[@]}"
}
