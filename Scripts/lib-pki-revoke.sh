# shellcheck shell=bash
# pki.sh revoke and crl: revocation in the CA database and the re-signed CRL.
# Sourced by Scripts/pki.sh; not run on its own.

# ---------------------------------------------------------------------------
# revoke

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

