/// One thing wrong with a notification, located so that an operator (or the program
/// that produced the document) can fix it without guessing.
public struct ValidationProblem: Sendable, Hashable, CustomStringConvertible {
    /// A JSON Pointer (RFC 6901) to the offending value, e.g. `/entities/2/dateOfBirth`;
    /// `""` means the document as a whole (not JSON, too large, not an object).
    public let path: String
    /// What is wrong, in words, e.g. "must be 1 to 200 characters (found 0)".
    public let message: String
    /// The offending value as written (quoted), when the message would show it: kept
    /// apart so that what leaves the operator's own screen — a refusal on the wire, the
    /// node's journal, the sender's log — names the field and the rule, never content.
    public let found: String?

    public init(path: String, message: String, found: String? = nil) {
        self.path = path
        self.message = message
        self.found = found
    }

    public var description: String { place + message + (found.map { ", found \($0)" } ?? "") }

    /// The problem without the offending value.
    public var redactedDescription: String { place + message }

    private var place: String { path.isEmpty ? "(document): " : "\(path): " }
}

/// Thrown when a notification is refused; carries every problem found, not just the first,
/// so that one round trip is enough to fix a document.
public struct NotificationInvalid: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [ValidationProblem]

    public init(problems: [ValidationProblem]) { self.problems = problems }

    /// The paths of all problems, handy in tests and scripts.
    public var paths: [String] { problems.map(\.path) }

    public var description: String { render(problems.map(\.description)) }

    /// Field paths and rules only, no values: for refusals and operational logs.
    public var redactedDescription: String { render(problems.map(\.redactedDescription)) }

    private func render(_ lines: [String]) -> String {
        let noun = problems.count == 1 ? "problem" : "problems"
        return "invalid notification (\(problems.count) \(noun)):\n" + lines.map { "  \($0)" }.joined(separator: "\n")
    }
}
