import Foundation
import IIASAPI
import NIOCore

/// A listener the node could not open, named by the configuration key that chose its
/// address, so that `iias node run` can say which setting to change (and exit 2) instead
/// of "bind(descriptor:ptr:bytes:): Address already in use".
public struct ListenFailure: Error, CustomStringConvertible, Sendable, Equatable {
    /// The configuration key: `listen`, `metrics.listen` or `api.socket`.
    public let key: String
    public let address: String
    /// What the system said, in words.
    public let reason: String
    /// errno when the system gave one (EADDRINUSE, EACCES, …).
    public let code: Int32?

    public var description: String { "\(key): \(message)" }

    /// The failure and what to do, without the key.
    public var message: String {
        let advice = switch code {
        case EADDRINUSE: "another process listens there (another node? `ss -ltnp` shows which): stop it, or give \(key) another address"
        case EACCES: "this user may not listen there (ports below 1024 need privileges): give \(key) another address"
        case EADDRNOTAVAIL: "no interface of this machine has that address: give \(key) one of its addresses"
        default: "check \(key)"
        }
        return "cannot listen on \(address): \(reason); \(advice)"
    }

    /// Runs `bind`, turning its failure into a `ListenFailure` for `key` and `address`.
    static func binding<T>(_ key: String, _ address: String, isolation: isolated (any _Concurrency.Actor)? = #isolation,
                           _ bind: () async throws -> T) async throws(ListenFailure) -> T {
        do { return try await bind() } catch let failure as ListenFailure {
            throw failure
        } catch let error as IOError {
            throw ListenFailure(key: key, address: address, reason: String(cString: strerror(error.errnoCode)), code: error.errnoCode)
        } catch {
            throw ListenFailure(key: key, address: address, reason: "\(error)", code: nil)
        }
    }
}
