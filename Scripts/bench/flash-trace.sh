#!/usr/bin/env bash
# Where a flash notification's time goes: two nodes and iias-node-bench sending one
# notification at a time (release build), while `perf` records for a few seconds every
# context switch, wake-up and fdatasync of their threads; Scripts/bench/flash-trace.py
# then prints, per notification, the cycle, the fdatasyncs, each process's CPU and the
# hand-overs between threads with how long a woken thread waited for a core.
#   Scripts/bench/flash-trace.sh [SECONDS]      # default 3; needs perf and root (tracepoints)
# Writes .build/bench/flash-trace.json. Figures only, never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}
command -v perf >/dev/null || { echo "flash-trace: needs perf (Debian: apt-get install linux-perf)" >&2; exit 2; }
[ -d /sys/kernel/tracing/events/sched ] || [ -d /sys/kernel/debug/tracing/events/sched ] ||
    { echo "flash-trace: perf cannot see the scheduler's tracepoints here (run as root, or lower kernel.perf_event_paranoid)" >&2; exit 2; }

scratch=${IIAS_SCRATCH_PATH:-.build}
swift build -c release --scratch-path "$scratch" --product iias 2>&1 | tail -n 1
swift build -c release --scratch-path "$scratch" --product iias-node-bench 2>&1 | tail -n 1
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

work=$(mktemp -d "${TMPDIR:-/tmp}/iias-flash-trace.XXXXXX")
bench_pid=
cleanup() {
    # SIGTERM: the bench kills the nodes it started before it ends.
    if [ -n "$bench_pid" ]; then kill "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
Scripts/pki.sh -q init-ca "$work/pki"
for c in AZ GE UA MD; do Scripts/pki.sh -q issue "$work/pki" "$c"; done

# Enough notifications to outlast the record; the bench is stopped when it is done.
"$bin/iias-node-bench" --pki "$work/pki" --iias "$bin/iias" --count 1000000 --bulk-count 1 --inflight 1 \
    >"$work/bench.txt" 2>&1 &
bench_pid=$!

# The bench's two nodes, once both run and the load is under way (thousands of writes).
nodes() { pgrep -P "$bench_pid" -f "node run" || true; }
writes() { local total=0 pid; for pid in $(nodes); do total=$((total + $(awk '/^syscw/ {print $2}' "/proc/$pid/io" 2>/dev/null || echo 0))); done; echo $total; }
for _ in $(seq 1 600); do
    [ "$(nodes | wc -l)" -ge 2 ] && [ "$(writes)" -ge 5000 ] && break
    kill -0 "$bench_pid" 2>/dev/null || { cat "$work/bench.txt" >&2; exit 1; }
    sleep 0.1
done
[ "$(nodes | wc -l)" -ge 2 ] || { echo "flash-trace: the bench's nodes did not start" >&2; exit 1; }

# Thread id -> "PROCESS THREAD": a node by its center (its configuration's name), the bench as "client".
for pid in $bench_pid $(nodes); do
    name=client
    config=$(tr '\0' ' ' <"/proc/$pid/cmdline" | grep -o '[A-Z][A-Z]*\.json' | head -n 1 || true)
    [ -n "$config" ] && name=${config%.json}
    for task in /proc/"$pid"/task/*; do echo "$(basename "$task") $name $(cat "$task/comm")"; done
done >"$work/threads.txt"

perf record -q -a -o "$work/perf.data" -e sched:sched_switch -e sched:sched_wakeup \
    -e syscalls:sys_enter_fdatasync -e syscalls:sys_exit_fdatasync -- sleep "$seconds" 2>/dev/null
perf script -i "$work/perf.data" -F tid,time,event,trace >"$work/perf.txt" 2>/dev/null
mkdir -p .build/bench
echo "one notification at a time, AZ -> GE, $(nproc) cores, $seconds s recorded:"
Scripts/bench/flash-trace.py "$work/perf.txt" "$work/threads.txt" --json .build/bench/flash-trace.json
