import COpenSSL
import Foundation

/// What a long-lived process that holds private keys does to itself before it loads
/// them: no core dumps (a dump is a copy of every key in memory, written to a disk
/// and often shipped to a crash collector), no ptrace by the user's other processes,
/// and an OpenSSL secure heap, so that the keys OpenSSL holds itself (the TLS key)
/// live in locked pages excluded from dumps, as libsodium's `SecretBytes` do.
public enum ProcessHardening {
    /// What `apply()` achieved, for one start-up log line.
    public struct Report: Sendable, CustomStringConvertible {
        public let notDumpable: Bool
        public let coreLimitZero: Bool
        public let secureHeapBytes: Int

        public var description: String {
            "core dumps \(notDumpable && coreLimitZero ? "disabled" : "NOT fully disabled (dumpable=\(!notDumpable), core limit zero=\(coreLimitZero))"); "
                + (secureHeapBytes > 0 ? "OpenSSL secure heap \(secureHeapBytes / 1024) KiB" : "OpenSSL secure heap unavailable")
        }
    }

    /// Size of OpenSSL's secure heap: a power of two, room for many keys of 32–64 bytes.
    public static let secureHeapBytes = 64 * 1024

    /// Disables core dumps of this process (PR_SET_DUMPABLE 0 and RLIMIT_CORE 0) and
    /// starts OpenSSL's secure heap. Call once, first thing, before any key is read.
    @discardableResult
    public static func apply() -> Report {
        let notDumpable = iias_set_not_dumpable() == 0
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        let coreLimitZero = setrlimit(Int32(RLIMIT_CORE.rawValue), &none) == 0
        return Report(notDumpable: notDumpable, coreLimitZero: coreLimitZero, secureHeapBytes: startSecureHeap())
    }

    /// Starts OpenSSL's secure heap (locked, excluded from dumps) once; returns its size,
    /// or 0 if the system refused it (then OpenSSL keeps keys on its ordinary heap).
    @discardableResult
    public static func startSecureHeap() -> Int {
        if CRYPTO_secure_malloc_initialized() == 1 { return secureHeapBytes }
        return CRYPTO_secure_malloc_init(secureHeapBytes, 32) != 0 ? secureHeapBytes : 0
    }

    /// Bytes of OpenSSL's secure heap in use: grows when OpenSSL holds a private key there.
    public static var secureHeapBytesInUse: Int { Int(CRYPTO_secure_used()) }
}
