import Glibc
import NIOCore

/// Linux's `struct ucred` (which Glibc's Swift module hides behind _GNU_SOURCE): what
/// SO_PEERCRED reports about the process at the other end of a Unix socket.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = UInt32.max
    var gid: UInt32 = UInt32.max
}
