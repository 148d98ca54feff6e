import Foundation
import IIASModel

/// What a local user may do, from the node's allow-list; the OS user comes from
/// SO_PEERCRED on the Unix socket, never from anything the client says.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Composes, sends, reads, replies and acknowledges.
    case `operator`
    /// Reads state, tree heads and delivery status; cannot send, read content or acknowledge.
    case auditor
}

/// The OS user acting on the local socket, recorded in the log with every action.
public struct LocalUser: Sendable, Codable, Equatable {
    public var user: String
    public var uid: UInt32
    public var role: Role

    public init(user: String, uid: UInt32, role: Role) {
        self.user = user
        self.uid = uid
        self.role = role
    }
}
