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

    /// Fresh random secret bytes (content keys).
    static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { randombytes_buf($0.baseAddress!, $0.count) }
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

/// Wipes a Swift array that briefly held secret bytes.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
}
