import CSodium

/// HKDF with HMAC-SHA-256 (RFC 5869), on libsodium's HMAC: derives an attachment's
/// payload key from its file key and nonce exactly as age does (libsodium 1.0.18, the
/// version distributions ship, has HMAC-SHA-256 but not yet HKDF).
enum HKDFSHA256 {
    static let hashByteCount = Int(crypto_auth_hmacsha256_BYTES)

    /// HKDF-Extract then HKDF-Expand into `out` (at most 255 × 32 bytes).
    static func derive(inputKey: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, info: [UInt8],
                       into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count <= 255 * hashByteCount)
        Sodium.ready()
        withEphemeralSecret(count: hashByteCount) { prk in
            // Extract: PRK = HMAC-Hash(salt, IKM).
            hmac(key: salt, parts: [inputKey], into: prk)
            // Expand: T(i) = HMAC-Hash(PRK, T(i-1) || info || i); OKM = first L bytes of T(1) || T(2) || …
            withEphemeralSecret(count: hashByteCount) { block in
                var written = 0
                var counter: UInt8 = 1
                while written < out.count {
                    let previous = UnsafeRawBufferPointer(start: block.baseAddress, count: counter == 1 ? 0 : hashByteCount)
                    withUnsafeBytes(of: counter) { counterByte in
                        info.withUnsafeBytes { infoBytes in
                            hmac(key: UnsafeRawBufferPointer(prk), parts: [previous, infoBytes, counterByte], into: block)
                        }
                    }
                    let take = min(hashByteCount, out.count - written)
                    (out.baseAddress! + written).copyMemory(from: block.baseAddress!, byteCount: take)
                    written += take
                    counter &+= 1
                }
            }
        }
    }

    private static func hmac(key: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer],
                             into out: UnsafeMutableRawBufferPointer) {
        var state = crypto_auth_hmacsha256_state()
        defer { withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress!, $0.count) } }
        var empty: UInt8 = 0  // libsodium wants a pointer even for an empty key
        withUnsafePointer(to: &empty) { emptyKey in
            _ = crypto_auth_hmacsha256_init(&state, key.bindMemory(to: UInt8.self).baseAddress ?? emptyKey, key.count)
        }
        for part in parts where part.count > 0 {
            _ = crypto_auth_hmacsha256_update(&state, part.bindMemory(to: UInt8.self).baseAddress!, UInt64(part.count))
        }
        _ = crypto_auth_hmacsha256_final(&state, out.bindMemory(to: UInt8.self).baseAddress!)
    }
}
