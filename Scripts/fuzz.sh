#!/usr/bin/env bash
# Fuzzes the parsers that take outside bytes, with libFuzzer and AddressSanitizer.
#   Scripts/fuzz.sh TARGET SECONDS     TARGET: frame, envelope, notification, record, attachment, or all
#   Scripts/fuzz.sh all 60             # the CI smoke run: one minute each
# Seeds: Tests/FuzzCorpus/TARGET (committed). New inputs go to .build-fuzz/corpus/TARGET
# (not committed). A crash or a violated property stops the run: the input is saved as
# .build-fuzz/crash-*, the script exits 1, and the input belongs in Tests/FuzzCorpus as a
# regression (`iias-fuzz TARGET FILE` replays it in a normal build; FuzzRegressionTests
# replays every committed corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Scripts/fuzz.sh TARGET SECONDS (TARGET: frame, envelope, notification, record, attachment, all)}
seconds=${2:?usage: Scripts/fuzz.sh TARGET SECONDS}
case "$target" in
    all) targets=(frame envelope notification record attachment) ;;
    frame|envelope|notification|record|attachment) targets=("$target") ;;
    *) echo "error: unknown target $target (frame, envelope, notification, record, attachment, all)" >&2; exit 2 ;;
esac

Scripts/setup.sh
printf '\033[1m==>\033[0m building the fuzzer (libFuzzer + AddressSanitizer, scratch .build-fuzz)\n' >&2
start=$(date +%s)
swift build --scratch-path .build-fuzz --product iias-fuzz \
    -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | tail -n 1
echo "fuzz build: $(( $(date +%s) - start )) s" >&2
fuzzer=.build-fuzz/debug/iias-fuzz

status=0
printf '%-14s %12s %10s %10s %8s\n' target executions "exec/s" "new units" crashes
for t in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$t
    mkdir -p "$corpus"
    log=.build-fuzz/$t.log
    if IIAS_FUZZ_TARGET=$t "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=.build-fuzz/crash-$t- \
        -rss_limit_mb=4096 -max_len=65536 "$corpus" "Tests/FuzzCorpus/$t" >"$log" 2>&1; then crashes=0; else crashes=1; status=1; fi
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
    added=$(awk '/stat::new_units_added/ {print $2}' "$log")
    printf '%-14s %12s %10s %10s %8s\n' "$t" "${runs:-?}" "${rate:-?}" "${added:-?}" "$crashes"
    if [ "$crashes" != 0 ]; then
        grep -E "ERROR|Fatal error|precondition|SUMMARY" "$log" | head -n 5 >&2
        ls .build-fuzz/crash-"$t"-* 2>/dev/null | head -n 3 >&2
    fi
done
exit $status
