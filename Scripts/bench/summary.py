#!/usr/bin/env python3
"""The last word of Scripts/bench.sh: how fast, against what.

Reads the JSON files the run wrote (envelope, log, transport, node, attachment, scale, nats; flash-trace
where perf could trace) and prints one table: each node figure, the IIAS/NATS ratio
where NATS JetStream has the same case (1 KiB, 1 and 64 in flight), and IIAS against its
own limit measured in the same run:

  crypto limit (bulk)  = cores / CPU seconds of the libsodium primitives on the path of one
                         notification (iias-bench, oneRecipientPath)
  latency floor (1 in flight) = 3 x one write+fdatasync (sender log, recipient log, the
                         receipt at the sender; iias-log-bench, p50 of the faster of a
                         write at the end of a file and one over zeros) + that crypto, done in
                         turn + 2 x a mutual-TLS round trip on loopback (iias-transport-bench, p50)

Writes the same to DIR/summary.json. Figures only, never pass/fail.
  Scripts/bench/summary.py [DIR]      # DIR defaults to .build/bench
"""
import json
import os
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else ".build/bench"


def load(name):
    """A result file of this run, or None when its step did not run (e.g. no NATS)."""
    try:
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


envelope, log, transport = load("envelope.json"), load("log.json"), load("transport.json")
node, nats, scale = load("node.json"), load("nats.json"), load("scale.json")
trace = load("flash-trace.json")
if not (envelope and log and transport and node):
    sys.exit("summary: envelope.json, log.json, transport.json and node.json are needed in " + folder)

path = envelope["oneRecipientPath"]
cores = path["cores"]


def crypto_microseconds(recipients, steps=path["steps"]):
    """CPU µs of the primitives for one notification to `recipients` centers: by default the
    naive path (a sealed box per recipient), the issue's "crypto limit"."""
    return sum(s["microseconds"] * (recipients if s["perRecipient"] else 1) for s in steps)


# What the node's path really costs: envelope version 2 wraps content keys under an epoch
# key, so the sealed box and its opening are an AEAD each. The latency floor counts this
# (the crypto on the path), which makes the floor lower and the flash target stricter.
amortized_steps = path.get("amortizedSteps", path["steps"])


def receipts_per_signature(recipients):
    """Deliveries per signed receipt in the run's busiest case to `recipients` centers (one
    request a notification): a recipient answers what one fdatasync made durable with one
    receipt batch."""
    busiest = max((c for c in node["cases"] if c["recipients"] == recipients and not c.get("batched")),
                  key=lambda c: c["inflight"], default=None)
    return max(1.0, (busiest or {}).get("receiptsPerEntry") or 1.0)


def batched_steps(recipients):
    """The node's path with the receipt's signature and its check shared by a batch."""
    share = receipts_per_signature(recipients)
    return [dict(s, microseconds=s["microseconds"] / share) if "delivery receipt" in s["what"] else s for s in amortized_steps]


fsync_us = log["rawSyncP50Microseconds"]
rtt_us = transport["roundTripMicroseconds"]["p50"]
# One in flight, a receipt answers one notification: the floor counts its whole signature.
floor_us = 3 * fsync_us + crypto_microseconds(1, amortized_steps) + 2 * rtt_us
limits = {
    "cores": cores,
    "cryptoMicroseconds": {"1": crypto_microseconds(1), "3": crypto_microseconds(3)},
    "cryptoLimitPerSecond": {"1": cores * 1e6 / crypto_microseconds(1), "3": cores * 1e6 / crypto_microseconds(3)},
    "receiptsPerSignature": {"1": receipts_per_signature(1), "3": receipts_per_signature(3)},
    "amortizedCryptoMicroseconds": {"1": crypto_microseconds(1, batched_steps(1)), "3": crypto_microseconds(3, batched_steps(3))},
    "amortizedCryptoLimitPerSecond": {"1": cores * 1e6 / crypto_microseconds(1, batched_steps(1)),
                                      "3": cores * 1e6 / crypto_microseconds(3, batched_steps(3))},
    "fdatasyncP50Microseconds": fsync_us,
    "tlsRoundTripP50Microseconds": rtt_us,
    "latencyFloorMicroseconds": floor_us,
    "steps": path["steps"],
    "certificateCheckPerSubmitMicroseconds": path.get("certificateCheckMicroseconds"),
}

# A case is (recipients, in flight, batched): each case with more in flight also runs with
# submissions in batches (POST /v1/notifications/batch, every slot a read freed at once).
cases = {(c["recipients"], c["inflight"], bool(c.get("batched"))): c for c in node["cases"]}
natsCase = {1: (nats or {}).get("oneInFlight"), 64: (nats or {}).get("sixtyFourInFlight")}
rows = []


def add(name, unit, iias, nats_value=None, limit=None, kind=None, target=None, limit_name=None):
    """One row. kind "rate": IIAS/limit (a fraction, higher is better);
    kind "latency": IIAS/floor (a multiple, lower is better)."""
    row = {"case": name, "unit": unit, "iias": iias, "nats": nats_value,
           "iiasOverNats": iias / nats_value if nats_value else None,
           "limit": limit, "limitName": limit_name, "kind": kind, "target": target,
           "iiasOverLimit": iias / limit if limit else None}
    rows.append(row)


for (recipients, inflight, batched), c in sorted(cases.items()):
    label = f"{recipients} recipient{'s' if recipients > 1 else ''}, {inflight} in flight" + (", batched" if batched else "")
    anchor = natsCase.get(inflight) if recipients == 1 else None
    if recipients == 1 and inflight == 1:
        rate_limit, rate_target, rate_name = 1e6 / floor_us, None, "1/floor"
    elif inflight > 1:
        rate_limit, rate_target = limits["cryptoLimitPerSecond"].get(str(recipients)), "≥ 0.70" if recipients == 1 else None
        rate_name = "crypto limit"
    else:
        rate_limit, rate_target, rate_name = None, None, None
    add(label, "notifications/s", c["perSecond"], anchor and anchor["rate"], rate_limit, "rate", rate_target, rate_name)
    if inflight > 1:
        add(f"{label}, against the node's own crypto", "notifications/s", c["perSecond"], None,
            limits["amortizedCryptoLimitPerSecond"].get(str(recipients)), "rate", None, "amortized crypto limit")
    floor_ms = floor_us / 1000 if recipients == 1 and inflight == 1 else None
    # p999 where NATS has the same case; the 3-recipient cases show p50 and p99.
    for p, target in (("p50", "≤ 1.5x"), ("p99", "≤ 3x"), ("p999", None))[:3 if recipients == 1 else 2]:
        add(f"{label}, {p}", "ms", c[f"{p}Milliseconds"], anchor and anchor[f"{p}_us"] / 1000,
            floor_ms, "latency", target if floor_ms else None, "floor")

catch = node.get("catchUp")
if catch:
    add(f"catch-up, {catch['count']} waiting", "s", catch["seconds"], None, catch["predictedSeconds"], "latency", "≤ 1.5x",
        "N / bulk rate")

consult = node.get("consultations")
if consult:
    add(f"bulk while GE's inbox is listed {consult['listingsPerSecond']:.0f}/s (each listing a signed consult entry)",
        "notifications/s", consult["listedPerSecond"], None, consult["alonePerSecond"] * 0.95, "rate", "≥ 1x",
        "95% of bulk alone, same run")

comeback = node.get("reconnect")
if comeback:
    add(f"a peer back after an outage: ready to first receipt, p50 of {comeback['restarts']}", "ms", comeback["p50Milliseconds"],
        None, 50 + rtt_us / 1000, "latency", "≤ 1x", "50 ms + TLS round trip")

witness = node.get("witnessing")
if witness:
    label = f"3 recipients, {witness['inflight']} in flight, a tree head a second"
    add(f"witnessing on: CPU of the four nodes per notification ({label})", "µs", witness["on"]["cpuMicroseconds"], None,
        witness["off"]["cpuMicroseconds"], "latency", None, "witnessing off, same run")
    add(f"witnessing on ({label})", "notifications/s", witness["on"]["perSecond"], None, witness["off"]["perSecond"], "rate", None,
        "witnessing off, same run")
    for p in ("p50", "p99"):
        add(f"a tree head to its quorum of cosignatures, {p} of {witness['quorumSamples']}", "ms", witness["quorumMilliseconds"][p])
    add("proofs of delivery checked (tlog-proof against a tlog-policy, one core)", "proofs/s", witness["checkProofPerSecond"])

attachment = load("attachment.json")
if attachment:
    size = f"{attachment['mebibytes'] / 1024:g} GiB" if attachment["mebibytes"] >= 1024 else f"{attachment['mebibytes']} MiB"
    slowest = min(v for v in attachment["limitMiBPerSecond"].values() if v)
    add(f"{size} AZ → GE: encrypted, sent, made durable and acknowledged", "MiB/s", attachment["mebibytesPerSecond"], None, slowest,
        "rate", "≥ 0.50", attachment["slowestLimit"])
    for center, who in (("AZ", "sender"), ("GE", "recipient")):
        rss = attachment["rssMiB"].get(center)
        if rss:
            add(f"{size} AZ → GE: peak RSS of the {who} ({center})", "MiB", rss["peak"], None, rss["idle"] + 64, "latency", "≤ 1x",
                "idle + 64 MiB")
    flash = attachment["flashMilliseconds"]
    add(f"flash AZ → GE during the {size} transfer, p50 of {flash['count']}", "ms", flash["duringP50"], None, flash["idleP50"],
        "latency", None, "idle p50")
    add(f"flash AZ → GE during the {size} transfer, p99 of {flash['count']}", "ms", flash["duringP99"], None, flash["idleP50"],
        "latency", "≤ 3x", "idle p50")

if scale:
    n = f"{scale['entries']:,}"
    snap, whole = scale["fromSnapshot"], scale["fullFold"]
    add(f"node RSS with {n} log entries", "MiB", max(snap["rssAfterListingMiB"], whole["rssAfterListingMiB"]), None, 150,
        "latency", "≤ 1x", "budget")
    add(f"node start-up on {n} entries (ledger snapshot)", "s", snap["seconds"], None, 2, "latency", "≤ 1x", "budget")
    add(f"node start-up on {n} entries (no snapshot: whole fold)", "s", whole["seconds"])
    if "requestsMilliseconds" in snap:
        add(f"iias inbox, first 50-item page after a start on {n} entries", "ms", snap["inboxMilliseconds"][0], None, 100,
            "latency", "≤ 1x", "budget")
        add(f"iias requests after a start on {n} entries", "ms", snap["requestsMilliseconds"], None, 100, "latency", "≤ 1x", "budget")
        add(f"reading {n} entries for threads and requests (first start, no saved desk index)", "s", whole["deskCatchUpSeconds"])
    add(f"iias log verify of {n} entries", "entries/s", scale["auditEntriesPerSecond"], None,
        scale["rawVerifyPerSecond"] * scale["cores"], "rate", "≥ 0.80", "Ed25519 verify x cores")
    if scale.get("allCoresVerifyPerSecond"):
        add(f"iias log verify of {n} entries (against all cores verifying at once)", "entries/s",
            scale["auditEntriesPerSecond"], None, scale["allCoresVerifyPerSecond"], "rate", None, "Ed25519 verify on all cores at once")

iias_does = ("Ed25519 signature, end-to-end encryption (content key wrapped to the recipient's X25519 key under "
             "the sender's ephemeral key of the minute + XChaCha20-Poly1305), "
             "fdatasync at sender and recipient, signed receipt (one signature per batch of what arrived together) "
             "verified and logged at the sender")
nats_does = ("TLS to the server, file storage without per-message fsync, publish ack; "
             "no signature, no end-to-end encryption, no second party")


def number(value, unit):
    if value is None:
        return "—"
    if unit in ("notifications/s", "entries/s"):
        return f"{value:,.0f}/s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "MiB/s":
        return f"{value:,.0f} MiB/s"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:.1f} s"


def against_limit(row):
    if row["iiasOverLimit"] is None:
        return "—"
    target = f" (target {row['target']})" if row["target"] else ""
    if row["kind"] == "rate":
        per = " MiB/s" if row["unit"] == "MiB/s" else "/s"
        return f"{row['iiasOverLimit']:.2f} of {row['limitName']} {row['limit']:,.0f}{per}{target}"
    unit = row["unit"] if row["unit"] in ("s", "MiB") else "ms"
    return f"{row['iiasOverLimit']:.2f}x {row['limitName']} {row['limit']:.2f} {unit}{target}"


print()
print("Summary: IIAS nodes (4 processes on loopback) against NATS JetStream and against their own limits")
print(f"  IIAS per notification: {iias_does}.")
print(f"  NATS per message:      {nats_does}.")
print(f"  limits, same run, {cores} cores: crypto {crypto_microseconds(1):.0f} µs CPU per notification to one recipient"
      f" → {limits['cryptoLimitPerSecond']['1']:,.0f}/s ({limits['cryptoLimitPerSecond']['3']:,.0f}/s to three),"
      f" a sealed box per recipient;")
print(f"    the node's path (envelope version 2, X25519 once a minute; receipts signed in batches,"
      f" {limits['receiptsPerSignature']['1']:.1f} per signature in the bulk case, {limits['receiptsPerSignature']['3']:.1f} to three):"
      f" {limits['amortizedCryptoMicroseconds']['1']:.0f} µs"
      f" → {limits['amortizedCryptoLimitPerSecond']['1']:,.0f}/s ({limits['amortizedCryptoLimitPerSecond']['3']:,.0f}/s to three);")
appending_us, zeros_us = log.get("rawAppendingSyncP50Microseconds"), log.get("rawOverZerosSyncP50Microseconds")
if appending_us and zeros_us:
    print(f"    1 KiB write + fdatasync, p50: {appending_us:.0f} µs at the end of a file, {zeros_us:.0f} µs over zeros"
          f" (the log writes over zeros it wrote ahead); the floor counts the faster")
print(f"    1-in-flight floor {floor_us / 1000:.2f} ms = 3 x fdatasync {fsync_us:.0f} µs + crypto {crypto_microseconds(1, amortized_steps):.0f} µs"
      f" + 2 x TLS round trip {rtt_us:.0f} µs")
if limits["certificateCheckPerSubmitMicroseconds"]:
    print(f"    (not in the limit: the sender checks a recipient's certificate chain + CRL, {limits['certificateCheckPerSubmitMicroseconds']:.0f} µs,"
          f" once a minute per recipient, not per submit)")
header = ("case", "IIAS", "NATS", "IIAS/NATS", "IIAS against its limit")
table = [header] + [(r["case"], number(r["iias"], r["unit"]), number(r["nats"], r["unit"]),
                     f"{r['iiasOverNats']:.3g}x" if r["iiasOverNats"] else "—", against_limit(r)) for r in rows]
widths = [max(len(line[i]) for line in table) for i in range(len(header))]
for i, line in enumerate(table):
    print("  " + "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) if k < 4 else cell
                           for k, (cell, w) in enumerate(zip(line, widths))))
    if i == 0:
        print("  " + "  ".join("-" * w for w in widths))
if not nats:
    print("  (no nats.json: the NATS step did not run)")
# Where the two cores went in each case with more in flight: what bounds the rate.
for (recipients, inflight, batched), c in sorted(cases.items()):
    cpu = c.get("cpuMicroseconds")
    if inflight == 1 or not cpu:
        continue
    total = cpu["sender"] + cpu["recipients"] + cpu["client"]
    busy = c["perSecond"] * total / (cores * 1e6)
    crypto = crypto_microseconds(recipients, batched_steps(recipients))
    print(f"  {recipients} recipient{'s' if recipients > 1 else ''}, {inflight} in flight{', batched' if batched else ''}:"
          f" CPU per notification sender {cpu['sender']:.0f} µs"
          f" + recipient{'s' if recipients > 1 else ''} {cpu['recipients']:.0f} µs + client {cpu['client']:.0f} µs = {total:.0f} µs"
          f" (the node's crypto {crypto:.0f} µs of it); the cores were {busy:.0%} busy"
          + (f"; {c['batched']:.1f} notifications a request" if batched else ""))
    c["cpuBusyFraction"] = busy
# What bounds the 1-in-flight latency, from the kernel's record (Scripts/bench/flash-trace.sh).
if trace:
    cpu, fsyncs = trace["cpuMicrosecondsPerNotification"], trace["fdatasync"]
    on_path = sum(cpu.values()) + sum(f["microsecondsPerNotification"] for f in fsyncs.values())
    bulk = cases.get((1, 64, False), {}).get("cpuMicroseconds") or {}
    sender = max(fsyncs, key=lambda p: fsyncs[p]["perNotification"])
    recipient = min(fsyncs, key=lambda p: fsyncs[p]["perNotification"])
    print(f"  1 recipient, 1 in flight, traced: a notification every {trace['cycleMicroseconds']:.0f} µs;"
          f" CPU sender {cpu[sender]:.0f} µs" + (f" (bulk {bulk['sender']:.0f})" if bulk else "")
          + f", recipient {cpu[recipient]:.0f} µs" + (f" (bulk {bulk['recipients']:.0f})" if bulk else "")
          + f", client {cpu.get('client', 0):.0f} µs; fdatasync {sum(f['microsecondsPerNotification'] for f in fsyncs.values()):.0f} µs;"
          f" together {on_path / trace['cycleMicroseconds']:.0%} of the cycle (the rest: waiting for a core)")
    in_node = sorted(f["p50Microseconds"] for f in fsyncs.values())
    print(f"    an fdatasync in the nodes took {in_node[0]:.0f}–{in_node[-1]:.0f} µs p50 against {fsync_us:.0f} µs alone"
          f" (the floor's): the same call costs more among the nodes' other threads")
else:
    print("  (no flash-trace.json: perf could not trace here, so the 1-in-flight split is not shown)")
# Other work during the run: the machine's busy CPU time less the bench's own processes
# (bench.sh passes both; run alone, the summary says only what it can).
load1 = os.getloadavg()[0]
env = os.environ
others = None
if all(k in env for k in ("IIAS_BENCH_MACHINE_BUSY_SECONDS", "IIAS_BENCH_OWN_SECONDS", "IIAS_BENCH_WALL_SECONDS")):
    wall = max(1.0, float(env["IIAS_BENCH_WALL_SECONDS"]))
    others = max(0.0, float(env["IIAS_BENCH_MACHINE_BUSY_SECONDS"]) - float(env["IIAS_BENCH_OWN_SECONDS"])) / (wall * cores)
    steal = float(env.get("IIAS_BENCH_STEAL_SECONDS", "0")) / (wall * cores)
    print(f"  other work during the run: {others:.0%} of the machine's CPU beside the bench's own processes"
          f" (load average {env.get('IIAS_BENCH_LOAD_BEFORE', '?')} before it started); the hypervisor took {steal:.1%}"
          + (" — treat the figures as provisional" if others > 0.10 or steal > 0.05 else ""))
else:
    print(f"  load average at the end: {load1:.1f} on {cores} cores (the bench's own processes count in it)")

with open(os.path.join(folder, "summary.json"), "w") as f:
    json.dump({"iiasPerNotification": iias_does, "natsPerMessage": nats_does, "limits": limits, "rows": rows,
               "cpuPerNotification": {f"{r}x{i}{' batched' if b else ''}": dict(c.get("cpuMicroseconds") or {}, busy=c.get("cpuBusyFraction"))
                                      for (r, i, b), c in sorted(cases.items()) if c.get("cpuMicroseconds")},
               "natsServer": (nats or {}).get("natsServer"), "loadAverage": load1, "otherWorkFraction": others, "flashTrace": trace},
              f, indent=2, sort_keys=True, ensure_ascii=False)
