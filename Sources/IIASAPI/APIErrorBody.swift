import Foundation

/// The JSON body of every error: what went wrong, each problem located, what to do.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Problem: Codable, Sendable, Equatable {
        public var path: String
        public var message: String

        public init(path: String, message: String) { (self.path, self.message) = (path, message) }
    }
    public var error: String
    public var problems: [Problem]?
    public var hint: String?

    public init(error: String, problems: [Problem]?, hint: String?) { (self.error, self.problems, self.hint) = (error, problems, hint) }
}
