import ArgumentParser
import Foundation
import IIASLog
import IIASModel
import IIASNode

extension Log {
    /// `iias log entries`: what a log holds, entry by entry, for an auditor who must answer
    /// "who consulted this notification, when" without keys and without `strings`.
    struct Entries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the entries of a log: envelope headers and operator actions (who read or listed what, when).",
            discussion: """
            Examples:
              iias log entries DATA/log --user alice
              iias log entries DATA/log --type read --since 2026-12-06T00:00:00Z
              iias log entries DATA/log --type consult --json

            Opens the log read-only and decrypts nothing: envelopes show their signed clear
            header (kind, sender, recipients, created, version, signer key, receipts'
            outcomes); operator actions show who (user, uid, role), what (submit, read,
            acknowledge, consult: a listing or an event subscription) and which
            notifications (SENDER/ID) or which query.
            --type takes an entry type (sent, received, receipt, treeHead, operatorAction),
            an action (submit, read, acknowledge, consult) or a view (inbox, outbox,
            outboxItem, events). --since takes an RFC 3339 time and compares the entry's log
            time. --json prints one JSON object a line.
            Exit codes: 0 listed (even none), 1 damaged log, 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @Option(help: ArgumentHelp("Only entries of this type, action or view.", valueName: "type"))
        var type: String?

        @Option(help: ArgumentHelp("Only entries logged at or after this time (RFC 3339).", valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Only operator actions by this user.", valueName: "name"))
        var user: String?

        @Flag(help: "Print one JSON object a line.")
        var json = false

        func run() async throws {
            let filter = try EntryFilter(type: type, since: since, user: user)
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let encoder = APIJSON.encoder()
            for entry in log.entries() {
                // Cheap checks first: a year of reads need not be decoded to skip it.
                if let since = filter.since, entry.time < since { continue }
                if filter.user != nil, entry.type != .operatorAction { continue }
                let summary = LogEntrySummary(entry)
                guard filter.admits(summary) else { continue }
                if json {
                    print(String(decoding: try encoder.encode(summary), as: UTF8.self))
                } else {
                    print(Self.line(summary))
                }
            }
            if let t = log.truncatedTail { throw CLIFailure.invalid("torn tail: \(t.bytes) bytes at \(t.segment) offset \(t.offset)") }
        }

        /// One entry on one line: index, log time, type, then what it says.
        static func line(_ entry: LogEntrySummary) -> String {
            var parts = ["#\(entry.index)", Timestamp.formatWithMilliseconds(entry.time), entry.type]
            if let action = entry.action { parts.append(action + (entry.view.map { " \($0)" } ?? "")) }
            if let user = entry.user { parts.append("by \(user) (uid \(entry.uid ?? 0)\(entry.role.map { ", \($0)" } ?? ""))") }
            if let query = entry.query, !query.isEmpty { parts.append("query \(query)") }
            if let count = entry.count { parts.append("\(count) shown") }
            if let kind = entry.kind, let sender = entry.sender {
                parts.append("\(kind) v\(entry.version ?? 0) \(entry.id?.uuidString ?? "?") \(sender) → \((entry.recipients ?? []).joined(separator: ","))")
                if let created = entry.created { parts.append("created \(Timestamp.formatWithMilliseconds(created))") }
                if let signer = entry.signer { parts.append("signer \(signer.prefix(16))…") }
            }
            for receipt in entry.receipts ?? [] { parts.append("\(receipt.outcome) \(receipt.envelope.uuidString)" + (receipt.reason.map { " (\($0))" } ?? "")) }
            if let named = entry.notifications, !named.isEmpty { parts.append(named.joined(separator: " ")) }
            if let problem = entry.problem { parts.append(Terminal.red("UNREADABLE") + " " + problem) }
            return parts.joined(separator: "  ")
        }
    }

    /// The filters of `iias log entries`, checked before the log is opened.
    struct EntryFilter {
        var type: String?
        var since: Date?
        var user: String?

        init(type: String?, since: String?, user: String?) throws {
            if let type, !LogEntrySummary.typeNames.contains(type) {
                throw CLIFailure.usage("--type: unknown \(type.prefix(40))", hint: "one of \(LogEntrySummary.typeNames.joined(separator: ", "))")
            }
            self.type = type
            self.since = try since.map(Self.time)
            self.user = user
        }

        /// The one place `--since` is read: RFC 3339 only, for now.
        static func time(_ text: String) throws -> Date {
            guard let date = Timestamp.parse(text) else {
                throw CLIFailure.usage("--since: \(text.prefix(40)) is not an RFC 3339 time", hint: "e.g. 2026-12-06T05:00:00Z")
            }
            return date
        }

        func admits(_ entry: LogEntrySummary) -> Bool {
            if let since, entry.time < since { return false }
            if let user, entry.user != user { return false }
            if let type, !entry.hasType(type) { return false }
            return true
        }
    }
}
