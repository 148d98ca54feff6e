import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

/// `iias status`: the local node at a glance, with what runs out soon (certificates,
/// the CRL) first in line, since either stops the exchange when it does.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The local node at a glance.", discussion: OperatorExit.discussion)
    @OptionGroup var query: QueryOptions
    @Flag(help: "Exit 4 when the node holds a history alarm not yet acknowledged (split view, equivocation, restore, witness rollback; see `iias alarms`).")
    var checkHistory = false

    /// The exit code of `--check-history` when an alarm is held.
    static let historyAlarmExit: Int32 = 4

    func run() async throws {
        let client = query.socket.client
        let status = try await OperatorExit.run { try await client.status() }
        if query.json {
            Terminal.printEncodable(status)
            return try checkAlarms(status)
        }
        var fields = [
            ("center", status.center.rawValue), ("version", status.version), ("up since", Render.time(status.started)),
            ("log entries", String(status.logEntries)),
            ("inbox", "\(status.inbox) (\(status.unread) unread)"), ("outbox pending", String(status.outboxPending)),
            ("peers", "\(status.peersConnected)/\(status.peersConfigured) connected"),
            ("tree head", status.treeHead.map { "size \($0.treeSize), root \($0.rootHash)" } ?? "none yet"),
        ]
        if let expiry = status.expiry {
            let own = expiry.certificates.filter(\.own).map { "\($0.purpose) \(ExpiryText.days($0.daysLeft))" }
            fields.append(("certificates", own.joined(separator: ", ")))
            if let peer = expiry.certificates.filter({ !$0.own }).min(by: { $0.notAfter < $1.notAfter }) {
                fields.append(("peers' first", "\(peer.center) \(peer.purpose) \(ExpiryText.days(peer.daysLeft))"))
            }
            fields.append(("crl", expiry.crlNextUpdate.map { "nextUpdate \(Render.time($0)) (\(ExpiryText.hours(expiry.crlHoursLeft ?? 0)))" } ?? "none"))
        }
        if let cosigners = status.cosignedBy, status.treeHead != nil {
            fields.append(("witnesses", cosigners.isEmpty ? "no peer cosigned the tree head yet"
                           : "\(cosigners.map(\.rawValue).joined(separator: ", ")) cosigned the tree head"))
        }
        if let witnessed = status.witnessed { fields.append(("witnessed", Render.witnessed(witnessed))) }
        for alarm in Self.alarms(of: status) {
            fields.append((alarm.kind.label, Render.alarm(alarm)))
        }
        if let pending = status.deskPending, pending > 0 {
            fields.append(("threads", "reading the log, \(Plural.count(pending, "notification")) left (threads and requests wait for it)"))
        }
        Terminal.printFields(fields)
        for warning in status.expiry?.warnings ?? [] {
            print((warning.contains("EXPIRED") ? Terminal.red("warning: ") : Terminal.yellow("warning: ")) + warning)
        }
        try checkAlarms(status)
    }

    private func checkAlarms(_ status: NodeStatus) throws {
        if checkHistory, Self.alarms(of: status).contains(where: { $0.acknowledged == nil }) { throw ExitCode(Status.historyAlarmExit) }
    }

    /// The status's alarms; a node from before split views were alarms lists them apart.
    static func alarms(of status: NodeStatus) -> [HistoryAlarm] {
        let alarms = status.historyAlarms ?? []
        guard !alarms.contains(where: { $0.kind == .splitView }) else { return alarms }
        return (status.splitViews ?? []).map { HistoryAlarm(kind: .splitView, center: status.center, detail: "a peer's log signed two checkpoints that cannot both be true", evidence: $0) } + alarms
    }
}

/// `iias peers`: each configured peer's link, queue and the days its first
/// certificate has left, highlighted under `ExpiryReport.certificateWarningDays`.
struct Peers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The configured peer centers and their links.", discussion: OperatorExit.discussion)
    @OptionGroup var query: QueryOptions

    func run() async throws {
        let peers = try await query.fetch { try await $0.peers() }
        guard let peers else { return }
        Terminal.printTable(["CENTER", "ADDRESS", "STATE", "QUEUED", "CERT DAYS", "FIRST TO EXPIRE", "LAST ERROR"], peers.map { peer in
            let next = peer.nextAttempt.map { ", next try \(Render.time($0))" } ?? ""
            let state = peer.state == .connected ? Terminal.green(peer.state.rawValue) : Terminal.yellow(peer.state.rawValue + next)
            let first = peer.earliestCertificate.map { "\($0.purpose) \(Render.time($0.notAfter))" } ?? "-"
            return [peer.center.rawValue, peer.address, state, String(peer.queued), peer.daysLeft.map(ExpiryText.days) ?? "-", first,
                    Terminal.safe(peer.lastError ?? "")]
        })
    }
}

/// The socket and `--json` of the commands that show one answer of the node.
struct QueryOptions: ParsableArguments {
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    /// Asks the node; with `--json` prints the answer and returns nil, else returns it.
    func fetch<T: Encodable & Sendable>(_ ask: @Sendable (LocalAPIClient) async throws -> T) async throws -> T? {
        let client = socket.client
        let answer = try await OperatorExit.run { try await ask(client) }
        if json { Terminal.printEncodable(answer); return nil }
        return answer
    }
}

/// Days and hours left, highlighted on a terminal: yellow within the warning time,
/// red once past ("expired" is spelled out, so it shows without colour too).
enum ExpiryText {
    static func days(_ days: Int) -> String {
        if days < 0 { return Terminal.bold(Terminal.red("expired")) }
        let text = "\(days) d"
        return days < ExpiryReport.certificateWarningDays ? Terminal.yellow(text) : text
    }

    static func hours(_ hours: Int) -> String {
        if hours < 0 { return Terminal.bold(Terminal.red("expired")) }
        let text = "\(hours) h"
        return hours < ExpiryReport.crlWarningDays * 24 ? Terminal.yellow(text) : text
    }
}
