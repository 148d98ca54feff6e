#!/usr/bin/env python3
"""Where one notification's time goes at one in flight, from the kernel's own record.

Reads `perf script -F tid,time,event,trace` of sched_switch, sched_wakeup and fdatasync
enter/exit (Scripts/bench/flash-trace.sh records them while iias-node-bench sends one
notification at a time) and a map of thread id -> "PROCESS THREAD" names, then prints,
per notification: the time of a cycle, the fdatasyncs, the CPU each process used, and
the hand-overs between threads (one thread waking another) with how long a woken thread
waited for a core. Figures only.
  flash-trace.py PERF_SCRIPT_TEXT THREAD_MAP [--json FILE]
"""
import json
import re
import statistics
import sys

script, thread_map = sys.argv[1], sys.argv[2]
json_path = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None

names = {}
for number, line in enumerate(open(thread_map), 1):
    fields = line.split(None, 2)
    if len(fields) < 3 or not fields[0].isdigit():
        sys.exit(f"flash-trace: {thread_map} line {number} is not 'TID PROCESS THREAD': {line.strip()[:80]!r}")
    names[int(fields[0])] = (fields[1], fields[2].strip())

line_re = re.compile(r"\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
switch_re = re.compile(r"prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=.* next_pid=(\d+)")
wakeup_re = re.compile(r"pid=(\d+)")

running_since = {}          # tid -> time it was switched in
cpu = {}                    # process -> CPU seconds
switches = {}               # process -> times one of its threads left a core
woken_at = {}               # tid -> (time, waker tid) of a pending wakeup by one of ours
handovers = []              # (waker process, wakee process, seconds until the wakee ran)
fsync_enter = {}            # tid -> time
fsyncs = {}                 # process -> [durations]
first = last = None
for line in open(script):
    match = line_re.match(line)
    if not match:
        continue
    tid, time, event, trace = int(match.group(1)), float(match.group(2)), match.group(3).split(":")[-1], match.group(4)
    first = time if first is None else first
    last = time
    if event == "sched_switch":
        fields = switch_re.search(trace)
        if not fields:
            continue
        previous, following = int(fields.group(1)), int(fields.group(3))
        if previous in names and previous in running_since:
            process = names[previous][0]
            cpu[process] = cpu.get(process, 0.0) + time - running_since.pop(previous)
            switches[process] = switches.get(process, 0) + 1
        if following in names:
            running_since[following] = time
            if following in woken_at:
                at, waker = woken_at.pop(following)
                handovers.append((names[waker][0], names[following][0], time - at))
    elif event == "sched_wakeup":
        fields = wakeup_re.search(trace)
        if fields and int(fields.group(1)) in names and tid in names and tid != int(fields.group(1)):
            woken_at[int(fields.group(1))] = (time, tid)
    elif event == "sys_enter_fdatasync" and tid in names:
        fsync_enter[tid] = time
    elif event == "sys_exit_fdatasync" and tid in fsync_enter:
        fsyncs.setdefault(names[tid][0], []).append(time - fsync_enter.pop(tid))

processes = sorted({process for process, _ in names.values()})
nodes = [p for p in processes if p in fsyncs]
if len(nodes) < 2 or first is None:
    sys.exit("flash-trace: the record has no fdatasync of two nodes; was the bench running?")
# One in flight, one recipient: the recipient logs each notification once (one fdatasync
# each), the sender twice (the submission, then the receipt).
recipient = min(nodes, key=lambda p: len(fsyncs[p]))
notifications = len(fsyncs[recipient])
span = last - first
per = lambda seconds: seconds / notifications * 1e6


def hop_summary(rows):
    waits = sorted(w for _, _, w in rows)
    return {
        "perNotification": len(rows) / notifications,
        "waitP50Microseconds": statistics.median(waits) * 1e6 if waits else 0.0,
        "waitP90Microseconds": waits[int(len(waits) * 0.9)] * 1e6 if waits else 0.0,
    }


within = [h for h in handovers if h[0] == h[1]]
across = [h for h in handovers if h[0] != h[1]]
result = {
    "notifications": notifications,
    "cycleMicroseconds": per(span),
    "fdatasync": {p: {"perNotification": len(fsyncs[p]) / notifications, "microsecondsPerNotification": per(sum(fsyncs[p])),
                      "p50Microseconds": statistics.median(fsyncs[p]) * 1e6} for p in nodes},
    "cpuMicrosecondsPerNotification": {p: per(cpu.get(p, 0.0)) for p in processes},
    "switchesPerNotification": {p: switches.get(p, 0) / notifications for p in processes},
    "handOversWithinAProcess": hop_summary(within),
    "handOversBetweenProcesses": hop_summary(across),
}

print(f"  {notifications} notifications in {span:.2f} s: one every {result['cycleMicroseconds']:.0f} µs")
for p in nodes:
    f = result["fdatasync"][p]
    print(f"  {p:<8} fdatasync {f['perNotification']:.1f} a notification, {f['microsecondsPerNotification']:.0f} µs in all (p50 {f['p50Microseconds']:.0f} µs each)")
for p in processes:
    if per(cpu.get(p, 0.0)) >= 1:
        print(f"  {p:<8} on a core {result['cpuMicrosecondsPerNotification'][p]:.0f} µs a notification, "
              f"leaving it {result['switchesPerNotification'][p]:.1f} times")
for label, key in (("within a process (event loop <-> worker)", "handOversWithinAProcess"),
                   ("between processes (a socket)", "handOversBetweenProcesses")):
    h = result[key]
    print(f"  hand-overs {label}: {h['perNotification']:.1f} a notification, the woken thread ran after "
          f"p50 {h['waitP50Microseconds']:.0f} µs, p90 {h['waitP90Microseconds']:.0f} µs")
if json_path:
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
