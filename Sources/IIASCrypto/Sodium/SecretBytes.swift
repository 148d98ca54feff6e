import CSodium

/// Secret key material in libsodium's guarded memory: locked out of swap, fenced by
/// guard pages, and wiped when the last reference goes. Key bytes never live in a
/// Swift `Array`, which the runtime may copy and free without clearing.
public final class SecretBytes: @unchecked Sendable {
    // Immutable after init; libsodium owns the allocation. Safe to share across threads
    // because nothing writes to it after construction.
    private let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Allocates `count` zeroed secret bytes and lets `fill` write them.
    init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ready()
        precondition(count > 0)
        guard let p = sodium_malloc(count) else {
            fatalError("sodium_malloc(\(count)) failed: out of locked memory")
        }
        sodium_memzero(p, count)
        pointer = p
        self.count = count
        do {
            try fill(UnsafeMutableRawBufferPointer(start: p, count: count))
        } catch {
            sodium_free(p)
            throw error
        }
    }

    /// Copies `source` in; the caller remains responsible for wiping `source`.
    convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count) { $0.copyMemory(from: source) }
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    deinit {
        sodium_free(pointer)  // sodium_free wipes before releasing
    }
}

/// Runs `body` with `count` zeroed bytes for a secret that lives only for this call (a
/// content key) and wipes them before returning. Guarded memory (`SecretBytes`) costs an
/// mmap, an mlock and two mprotects per allocation, about 30 µs here, more than the
/// X25519 operation that unwraps such a key; keys that outlive one call (a center's
/// private keys) stay in `SecretBytes`.
func withEphemeralSecret<R>(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    try withUnsafeTemporaryAllocation(byteCount: count, alignment: 16) { buffer in
        sodium_memzero(buffer.baseAddress!, count)
        defer { sodium_memzero(buffer.baseAddress!, count) }
        return try body(buffer)
    }
}

/// Wipes a Swift array that briefly held secret bytes.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
}
