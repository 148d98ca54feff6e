import ArgumentParser
import Foundation
import IIASAPI
import IIASLog
import IIASModel

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
            notifications (SENDER/ID) or which query; cosign records name the peer's
            checkpoint this node cosigned as its witness.
            --type takes an entry type (sent, received, receipt, treeHead, operatorAction),
            an action (submit, read, acknowledge, consult, cosign) or a view (inbox, outbox,
            outboxItem, events). --since takes an RFC 3339 time and compares the entry's log
            time. --json prints one JSON object a line.
            Exit codes: 0 listed (even none), 1 damaged log, 2 usage.
            """
        )

        // One line each: the filters read as one list, as --help prints them.
        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir")) var dir: String
        @Option(help: ArgumentHelp("Only entries of this type, action or view.", valueName: "type")) var type: String?
        @Option(help: ArgumentHelp("Only entries logged at or after this time (RFC 3339).", valueName: "time")) var since: String?
        @Option(help: ArgumentHelp("Only operator actions by this user.", valueName: "name")) var user: String?
        @Flag(help: "Print one JSON object a line.") var json = false

        func validate() throws { _ = try filter() }

        /// The options as a filter; an unknown --type or a --since that is no time is a usage error.
        func filter() throws -> LogEntryFilter {
            do { return try LogEntryFilter(type: type, since: try since.map(Self.time), user: user) } catch let problem as LogEntryFilter.UnknownType {
                throw CLIFailure.usage("--type: \(problem)")
            }
        }

        func run() async throws {
            let filter = try filter()
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let encoder = APIJSON.encoder()
            for entry in log.entries() {
                // Cheap checks first: a year of reads need not be decoded to skip it.
                guard filter.mayAdmit(entry) else { continue }
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

        /// `--since`, read in one place: RFC 3339 only, for now.
        static func time(_ text: String) throws -> Date {
            guard let date = Timestamp.parse(text) else {
                throw CLIFailure.usage("--since: \(text.prefix(40)) is not an RFC 3339 time", hint: "e.g. 2026-12-06T05:00:00Z")
            }
            return date
        }

        /// One entry on one line: index, log time, type, then what it says.
        static func line(_ entry: LogEntrySummary) -> String {
            var parts = ["#\(entry.index)", Timestamp.formatWithMilliseconds(entry.time), entry.type]
            if let action = entry.action { parts.append(action + (entry.view.map { " \($0)" } ?? "")) }
            if let user = entry.user { parts.append("by \(user) (uid \(entry.uid ?? 0)\(entry.role.map { ", \($0)" } ?? ""))") }
            if entry.weakenedHandling == true { parts.append("weakened handling") }
            if let query = entry.query, !query.isEmpty { parts.append("query \(query)") }
            if let count = entry.count { parts.append("\(count) shown") }
            if let kind = entry.kind, let sender = entry.sender {
                parts.append("\(kind) v\(entry.version ?? 0) \(entry.id?.uuidString ?? "?") \(sender) → \((entry.recipients ?? []).joined(separator: ","))")
                if let created = entry.created { parts.append("created \(Timestamp.formatWithMilliseconds(created))") }
                if let signer = entry.signer { parts.append("signer \(signer.prefix(16))…") }
            }
            for receipt in entry.receipts ?? [] { parts.append("\(receipt.outcome) \(receipt.envelope.uuidString)" + (receipt.reason.map { " (\($0))" } ?? "")) }
            if let named = entry.notifications, !named.isEmpty { parts.append(named.joined(separator: " ")) }
            if let checkpoint = entry.checkpoint { parts.append("checkpoint \(checkpoint)") }
            if let problem = entry.problem { parts.append(Terminal.red("UNREADABLE") + " " + problem) }
            return parts.joined(separator: "  ")
        }
    }
}
