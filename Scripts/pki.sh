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
PURPOSES=(signing encryption tls witness)
REASONS=(unspecified keyCompromise CACompromise affiliationChanged superseded cessationOfOperation)

QUIET=0
WORK=""          # scratch directory for one run (CSRs, throwaway keys); removed on exit
CLEANUP=()       # more paths to remove if the run fails

# The commands live in sourced files beside this one (each under 500 lines).
# shellcheck source=/dev/null
for lib in common help ca issue rotate revoke show policy; do source "$SCRIPT_DIR/lib-pki-$lib.sh"; done
unset lib

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
    (($#)) || usage_error "" "missing command: init-ca, issue, rotate, revoke, crl, show or policy"
    local cmd=$1
    shift
    case $cmd in
    -h | --help | help) help_main ;;
    init-ca) cmd_init_ca "$@" ;;
    issue) cmd_issue "$@" ;;
    rotate) cmd_rotate "$@" ;;
    revoke) cmd_revoke "$@" ;;
    crl) cmd_crl "$@" ;;
    show) cmd_show "$@" ;;
    policy) cmd_policy "$@" ;;
    *) usage_error "" "unknown command '$cmd': use init-ca, issue, rotate, revoke, crl, show or policy" ;;
    esac
}

main "$@"
