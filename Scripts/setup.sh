#!/usr/bin/env bash
# Installs what IIAS needs on a fresh Debian/Ubuntu machine, and only what is missing:
# libsodium and OpenSSL development files, the openssl CLI, pkg-config, libfaketime (the
# fault harness's clock-skew scenario), Python's jsonschema with rfc3339-validator
# (the independent validator the schema-agreement test runs) and Python's cryptography
# (the independent attachment decryptor).
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

# Installs Python packages with pip (or, where pip may not touch the system Python, the
# distribution's packages) unless `python3 -c "import MODULES"` already succeeds.
#   python_modules "MODULES" "PIP PACKAGES" "APT PACKAGES" "WHY"
python_modules() {
    local modules=$1 pip_packages=$2 apt_packages=$3 why=$4
    python3 -c "import $modules" >/dev/null 2>&1 && return 0
    say "installing Python $pip_packages ($why)"
    # shellcheck disable=SC2086  # the package lists are meant to split
    python3 -m pip install --quiet $pip_packages 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages $pip_packages 2>/dev/null \
        || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
             $sudo apt-get install -y -qq $apt_packages >/dev/null; }
    python3 -c "import $modules" \
        || { echo "error: could not install Python $pip_packages; install them and retry" >&2; exit 1; }
}

# jsonschema checks "format": "date-time" only when rfc3339-validator is importable.
python_modules "jsonschema, rfc3339_validator" "jsonschema rfc3339-validator" \
    "python3-jsonschema python3-rfc3339-validator" "for the schema-agreement test"
# cryptography's ChaCha20-Poly1305 and HKDF run the independent attachment decryptor.
python_modules "cryptography" "cryptography" "python3-cryptography" "for the attachment-format test"
