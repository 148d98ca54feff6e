#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#   Scripts/test.sh                 # all tests
#   Scripts/test.sh --filter Envelope   # extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/setup.sh
printf '\033[1m==>\033[0m %s\n' "building and running the tests" >&2
swift build --build-tests
swift test --skip-build "$@"
