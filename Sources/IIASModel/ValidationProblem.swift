/// One thing wrong with a notification, located so that an operator (or the program
/// that produced the document) can fix it without guessing.
public struct ValidationProblem: Sendable, Hashable, CustomStringConvertible {
    /// A JSON Pointer (RFC 6901) to the offending value, e.g. `/entities/2/dateOfBirth`;
    /// `""` means the document as a whole (not JSON, too large, not an object).
    public let path: String
    /// What is wrong, in words, e.g. "must be 1 to 200 characters (found 0)".
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? "(document): \(message)" : "\(path): \(message)" }
}

/// Thrown when a notification is refused; carries every problem found, not just the first,
/// so that one round trip is enough to fix a document.
public struct NotificationInvalid: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [ValidationProblem]

    public init(problems: [ValidationProblem]) { self.problems = problems }

    /// The paths of all problems, handy in tests and scripts.
    public var paths: [String] { problems.map(\.path) }

    public var description: String {
        let noun = problems.count == 1 ? "problem" : "problems"
        return "invalid notification (\(problems.count) \(noun)):\n"
            + problems.map { "  \($0.description)" }.joined(separator: "\n")
    }
}
