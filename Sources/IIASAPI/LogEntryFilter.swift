import Foundation
import IIASLog

/// Which log entries an auditor asks for, offline (`iias log entries`) or through the
/// API (`GET /v1/log/entries`): one filter, so both answer the same question alike.
public struct LogEntryFilter: Sendable, Equatable {
    /// An entry type, an action or a view (`LogEntrySummary.typeNames`).
    public var type: String?
    /// Entries logged at or after this time.
    public var since: Date?
    /// Operator actions by this user.
    public var user: String?

    /// A `type` that names nothing the log holds: the message says what is allowed.
    public struct UnknownType: Error, CustomStringConvertible {
        public let type: String
        public var description: String { "unknown type \(type.prefix(40)); one of \(LogEntrySummary.typeNames.joined(separator: ", "))" }
    }

    public init(type: String? = nil, since: Date? = nil, user: String? = nil) throws(UnknownType) {
        if let type, !LogEntrySummary.typeNames.contains(type) { throw UnknownType(type: type) }
        self.type = type
        self.since = since
        self.user = user
    }

    /// What the entry's record alone decides (its time and type), before its payload is
    /// decoded: a year of reads need not be parsed to be skipped.
    public func mayAdmit(_ entry: LogEntry) -> Bool {
        if let since, entry.time < since { return false }
        return user == nil || entry.type == .operatorAction
    }

    public func admits(_ summary: LogEntrySummary) -> Bool {
        if let since, summary.time < since { return false }
        if let user, summary.user != user { return false }
        if let type, !summary.hasType(type) { return false }
        return true
    }
}
