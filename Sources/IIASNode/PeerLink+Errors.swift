import Foundation
import IIASAPI
import NIOCore
import NIOPosix

extension PeerLink {
    /// What went wrong with a connection attempt, in words an administrator reads in
    /// `iias peers` (NIO's own descriptions name its internals, not the peer).
    static func describe(_ error: any Error, address: String) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return describe(failure.error, address: address) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve \(error.host): check the peer's address" }
            return "cannot connect to \(address)"
        case let error as IOError:
            return "cannot connect to \(address): \(String(cString: strerror(error.errnoCode)).lowercased())"
        case ChannelError.connectTimeout(let amount):
            return "no answer from \(address) within \(amount.nanoseconds / 1_000_000_000) s"
        case let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed || error == .eof:
            return "the connection to \(address) closed"
        default:
            return String(String(describing: error).prefix(200))
        }
    }
}
