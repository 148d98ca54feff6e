import CSodium

/// One-time libsodium initialisation. Every entry point that uses libsodium calls
/// `Sodium.ready()` first; `sodium_init` is idempotent and thread-safe, so the cost
/// after the first call is one atomic load inside libsodium.
enum Sodium {
    static func ready() {
        // sodium_init returns 0 on first success, 1 when already initialised, -1 on failure.
        if sodium_init() < 0 {
            fatalError("libsodium failed to initialise (no usable random source?)")
        }
    }

    /// Fills a new array with `count` bytes from the operating system's CSPRNG.
    static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }
}

/// Compares two byte strings in time that depends only on their lengths, so that a
/// mismatch position never leaks through timing (hashes, MACs, key ids).
public func constantTimeEqual(_ a: some ContiguousBytesView, _ b: some ContiguousBytesView) -> Bool {
    a.withBytes { pa in
        b.withBytes { pb in
            guard pa.count == pb.count else { return false }
            if pa.count == 0 { return true }
            return sodium_memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0
        }
    }
}

/// Anything whose bytes can be read in place: arrays, slices, `Data`.
public protocol ContiguousBytesView {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytesView where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: ContiguousBytesView where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension UnsafeRawBufferPointer: ContiguousBytesView {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}
