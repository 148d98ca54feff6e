import CSodium

/// SHA-256 (FIPS 180-4), through libsodium. Used for envelope fingerprints in
/// receipts, attachment hashes and the log's Merkle tree (RFC 6962 uses SHA-256).
public enum SHA256 {
    public static let byteCount = 32

    public static func hash(_ data: some ContiguousBytesView) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: byteCount)
        data.withBytes { input in
            _ = crypto_hash_sha256(&out, input.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(input.count))
        }
        return out
    }

    /// Hashes the concatenation of several parts without copying them together.
    public static func hash(parts: [any ContiguousBytesView]) -> [UInt8] {
        Sodium.ready()
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        for part in parts {
            part.withBytes { p in
                _ = crypto_hash_sha256_update(&state, p.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(p.count))
            }
        }
        var out = [UInt8](repeating: 0, count: byteCount)
        crypto_hash_sha256_final(&state, &out)
        return out
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, the form used in JSON outputs and receipts.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses lower- or upper-case hexadecimal; nil on odd length or a non-hex digit.
    public init?(hexString: some StringProtocol) {
        let utf8 = Array(hexString.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }
}
