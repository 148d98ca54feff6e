import Glibc
import IIASAPI
import NIOCore

/// Linux's `struct ucred` (which Glibc's Swift module hides behind _GNU_SOURCE): what
/// SO_PEERCRED reports about the process at the other end of a Unix socket.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = UInt32.max
    var gid: UInt32 = UInt32.max
}

extension PeerCredentials {
    /// What the kernel recorded about the process at the other end of `channel` when it
    /// connected; nil when the channel cannot say (not a socket, or the call failed).
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .map { (peer: PeerCredentials) -> PeerCredentials? in peer.uid == UInt32.max ? nil : peer }
            .recover { _ in nil }
    }
}
