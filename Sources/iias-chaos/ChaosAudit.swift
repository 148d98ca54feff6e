import Foundation
import IIASAPI
import IIASModel
import IIASTestSupport

// The harness's ledger of what was accepted and its audit after each scenario.

/// One scenario's outcome, as the table in Scripts/bench/README.md shows it.
struct Outcome: Codable {
    var scenario: String
    /// Faults made, notifications tried, accepted by the API, delivered, and what went wrong.
    var faults, sent, accepted, delivered, lost, duplicated, outOfOrder: Int
    var logsVerified: Bool
    var seconds: Double
    /// Files sent during the scenario and how they ended (kill9 only).
    var attachments: AttachmentTally?
}

func say(_ text: String) { ToolOutput.line(text, to: .standardError) }

/// Waits until `condition` holds, polling; false after `timeout`.
func waitUntil(_ timeout: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

/// What was accepted (the API answered 201): id → (sender, recipient, sender's log index).
actor Ledger {
    var accepted: [UUID: (sender: String, recipient: String, index: UInt64)] = [:]
    var sent = 0
    func attempt() { sent += 1 }
    func accept(_ submission: Submission, from sender: String) {
        accepted[submission.id] = (sender, submission.recipients[0].rawValue, submission.logIndex)
    }
}

/// Checks every accepted notification is in its recipient's inbox exactly once, in the
/// sender's order, with its receipt logged at the sender; then every log verifies.
func audit(_ cluster: LocalCluster, _ ledger: Ledger, scenario: String, faults: Int, started: Date) async -> Outcome {
    let accepted = await ledger.accepted
    let sent = await ledger.sent
    let settled = await waitUntil(180) {
        for center in cluster.centers {
            guard let outbox = try? await LocalAPIClient(socketPath: cluster.socketPath(center)).outbox(limit: nil) else { return false }
            if outbox.contains(where: { $0.recipients.contains { $0.state == .queued || $0.state == .sent } }) { return false }
        }
        return true
    }
    if !settled {
        say("  not every receipt arrived within 180 s")
        // What is still open, and what each node said about it: the audit's account of a failure.
        for center in cluster.centers {
            let client = LocalAPIClient(socketPath: cluster.socketPath(center))
            let open = ((try? await client.outbox(limit: nil)) ?? []).filter { $0.recipients.contains { $0.state == .queued || $0.state == .sent } }
            for item in open.prefix(5) {
                say("  \(center) still waits for \(item.id): " + item.recipients.map { "\($0.center) \($0.state.rawValue) attempts \($0.attempts)" }.joined(separator: ", "))
            }
            for peer in (try? await client.peers()) ?? [] {
                say("  \(center) → \(peer.center): \(peer.state) queued \(peer.queued)\(peer.lastError.map { ", last error: \($0)" } ?? "")")
            }
            for line in cluster.errorOutput(center).split(separator: "\n").suffix(8) { say("    \(center): \(line.prefix(300))") }
        }
    }
    var delivered = 0, lost = 0, duplicated = 0, outOfOrder = 0
    for center in cluster.centers {
        let inbox = (try? await LocalAPIClient(socketPath: cluster.socketPath(center)).inbox()) ?? []
        let ids = inbox.map(\.id)
        duplicated += ids.count - Set(ids).count
        let expected = accepted.filter { $0.value.recipient == center }
        let present = Set(ids)
        delivered += expected.keys.filter { present.contains($0) }.count
        lost += expected.keys.filter { !present.contains($0) }.count
        for sender in cluster.centers where sender != center {
            let arrived = inbox.filter { $0.sender.rawValue == sender && accepted[$0.id] != nil }.sorted { $0.logIndex < $1.logIndex }
            let senderOrder = arrived.map { accepted[$0.id]!.index }
            outOfOrder += zip(senderOrder, senderOrder.dropFirst()).filter { $0 > $1 }.count
        }
    }
    cluster.stopAll()
    var verified = true
    for center in cluster.centers {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: iias)
        process.arguments = ["log", "verify", cluster.logDirectory(center), "--ca", pki.caFile, "--certs", pki.centersDirectory, "--crl", pki.crlFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { verified = false; say("  log of \(center) does not verify") }
    }
    return Outcome(scenario: scenario, faults: faults, sent: sent, accepted: accepted.count, delivered: delivered, lost: lost,
                   duplicated: duplicated, outOfOrder: outOfOrder, logsVerified: verified, seconds: Date().timeIntervalSince(started))
}

/// Submits through `center` until `count` were accepted, retrying while its node is down.
func load(_ cluster: LocalCluster, from center: String, to recipients: [String], count: Int, ledger: Ledger) async {
    let client = LocalAPIClient(socketPath: cluster.socketPath(center), timeout: .seconds(10))
    var done = 0
    while done < count {
        await ledger.attempt()
        let recipient = recipients.randomElement()!
        do {
            let submission = try await client.submit(json: LocalCluster.draftJSON(to: [recipient], subject: "\(center)-\(done)", summaryBytes: 600))
            await ledger.accept(submission, from: center)
            done += 1
        } catch {
            try? await Task.sleep(for: .milliseconds(50))   // the node is down (killed) or restarting
        }
    }
}
