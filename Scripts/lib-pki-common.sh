# shellcheck shell=bash
# pki.sh: output, clean-up, checks and the CA database helpers shared by every command.
# Sourced by Scripts/pki.sh; not run on its own.

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

# The positional DIR and CENTER_ID of a command, into the caller's locals dir and id
# (bash locals are visible to the functions a function calls).  take_dir_id CMD ARG
take_dir_id() {
    if [[ -z $dir ]]; then dir=$2
    elif [[ -z $id ]]; then id=$2
    else usage_error "$1" "unexpected argument '$2' (DIR and CENTER_ID are taken)"; fi
}

# Both positional arguments must be there, and the id well-formed.  need_dir_id CMD
need_dir_id() {
    [[ -n $dir ]] || usage_error "$1" "missing DIR and CENTER_ID, e.g. $PROG $1 /srv/iias-pki AZ"
    [[ -n $id ]] || usage_error "$1" "missing CENTER_ID after DIR, e.g. $PROG $1 '$dir' AZ"
    check_center_id "$1" "$id"
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

# Signs DIR/crl.pem from the CA database.  write_crl --days N | --hours N |
#   --next-update TIME [--last-update TIME]   (TIME: UTC YYYYMMDDHHMMSSZ)
write_crl() {
    local args=(ca -batch -config "$CA_CNF" -gencrl -out "$WORK/crl.pem") when
    case $1 in
    --days) args+=(-crldays "$2"); when="in $2 days" ;;
    --hours) args+=(-crlhours "$2"); when="in $2 hours" ;;
    --next-update)
        args+=(-crl_nextupdate "$2"); when="at $2"
        [[ -z ${4:-} ]] || args+=(-crl_lastupdate "$4") ;;
    esac
    ossl "signing the CRL" "${args[@]}"
    chmod 644 "$WORK/crl.pem"
    mv -f -- "$WORK/crl.pem" "$PKI/crl.pem"
    say "  crl.pem       re-signed, nextUpdate $when ($PKI/crl.pem)"
}

# Marks one certificate revoked in the CA database, with a reason (or none) and,
# for keyCompromise, the time from which the key is to be distrusted (the CRL's
# invalidityDate).   revoke_serial SERIAL REASON INVALID_SINCE
revoke_serial() {
    local file="$PKI/ca/newcerts/$1.pem"
    [[ -f $file ]] || die "the CA database lists serial $1 but $file is missing; cannot revoke it"
    local args=(ca -batch -config "$CA_CNF" -revoke "$file")
    if [[ $2 == keyCompromise && -n $3 ]]; then
        args+=(-crl_compromise "$3")
    elif [[ -n $2 ]]; then
        args+=(-crl_reason "$2")
    fi
    ossl "revoking serial $1" "${args[@]}"
}

# The canonical spelling of a CRL reason, or nothing. Accepts any case and the
# dashed forms (key-compromise, cessation-of-operation).
canonical_reason() {
    local r want=${1//-/}
    for r in "${REASONS[@]}"; do
        if [[ ${r,,} == "${want,,}" ]]; then
            echo "$r"
            return
        fi
    done
}

# A UTC time as openssl's ca takes it: YYYYMMDDHHMMSSZ.
TIME_RE='^[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]Z$'

# Seconds since the epoch of an openssl ISO date ("2026-12-06 05:12:00Z").
epoch_of() { date -u -d "${1%Z}" +%s; }

# Whole days from now until an openssl ISO date (negative once past).
days_left() { echo $((($(epoch_of "$1") - $(date -u +%s)) / 86400)); }

# The purposes named by --keys (comma-separated, each once) into KEYS.
#   parse_keys CMD LIST
parse_keys() {
    local cmd=$1 k p ok
    KEYS=()
    [[ -n $2 ]] || usage_error "$cmd" "--keys needs a list such as signing,encryption,tls,witness"
    IFS=, read -r -a list <<<"$2"
    for k in "${list[@]}"; do
        ok=0
        for p in "${PURPOSES[@]}"; do [[ $k == "$p" ]] && ok=1; done
        ((ok)) || usage_error "$cmd" "unknown key '$k' in --keys: use signing, encryption, tls and/or witness, comma-separated"
        [[ " ${KEYS[*]-} " != *" $k "* ]] || usage_error "$cmd" "--keys names '$k' twice"
        KEYS+=("$k")
    done
}
