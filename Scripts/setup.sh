#!/usr/bin/env bash
# Installs what IIAS needs on a fresh Debian/Ubuntu machine, and only what is missing:
# libsodium and OpenSSL development files, the openssl CLI, pkg-config, libfaketime (the
# fault harness's clock-skew scenario), and Python's jsonschema with rfc3339-validator
# (the independent validator the schema-agreement test runs).
# Swift itself is not installed here: see the top of README.md (Swift 6 must be on PATH).
set -euo pipefail

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

if ! command -v swift >/dev/null 2>&1; then
    echo "error: swift is not on PATH. Install Swift 6 (https://www.swift.org/install) and retry." >&2
    exit 2
fi

missing=()
pkg-config --exists libsodium 2>/dev/null || missing+=(libsodium-dev)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
# libfaketime skews a node's clock in the fault harness's clock-skew scenario.
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing+=(faketime)

if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# jsonschema checks "format": "date-time" only when rfc3339-validator is importable.
if ! python3 -c 'import jsonschema, rfc3339_validator' >/dev/null 2>&1; then
    say "installing Python jsonschema and rfc3339-validator (for the schema-agreement test)"
    python3 -m pip install --quiet jsonschema rfc3339-validator 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages jsonschema rfc3339-validator 2>/dev/null \
        || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
             $sudo apt-get install -y -qq python3-jsonschema python3-rfc3339-validator >/dev/null; }
    python3 -c 'import jsonschema, rfc3339_validator' \
        || { echo "error: could not install Python jsonschema + rfc3339-validator; install them and retry" >&2; exit 1; }
fi
