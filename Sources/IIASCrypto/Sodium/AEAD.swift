import CSodium

/// XChaCha20-Poly1305 (IETF construction): the body cipher. Its 192-bit nonce is
/// safe to draw at random for every envelope, so no nonce state is ever kept.
enum XChaCha20Poly1305 {
    static let keyByteCount = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    static let nonceByteCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    static let tagByteCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)

    static func seal(_ plaintext: some ContiguousBytesView, key: UnsafeRawBufferPointer, nonce: [UInt8],
                     associatedData: some ContiguousBytesView) -> [UInt8] {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount)
        Sodium.ready()
        return plaintext.withBytes { m in
            associatedData.withBytes { ad in
                var out = [UInt8](repeating: 0, count: m.count + tagByteCount)
                var outCount: UInt64 = 0
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    &out, &outCount,
                    m.bindMemory(to: UInt8.self).baseAddress, UInt64(m.count),
                    ad.bindMemory(to: UInt8.self).baseAddress, UInt64(ad.count),
                    nil, nonce, key.bindMemory(to: UInt8.self).baseAddress!)
                return out
            }
        }
    }

    /// Nil when the ciphertext, nonce, key or associated data do not match.
    static func open(_ ciphertext: some ContiguousBytesView, key: UnsafeRawBufferPointer, nonce: some ContiguousBytesView,
                     associatedData: some ContiguousBytesView) -> [UInt8]? {
        ciphertext.withBytes { c -> [UInt8]? in
            guard c.count >= tagByteCount else { return nil }
            var out = [UInt8](repeating: 0, count: c.count - tagByteCount)
            let opened = out.withUnsafeMutableBytes { open(c, key: key, nonce: nonce, associatedData: associatedData, into: $0) }
            return opened ? out : nil
        }
    }

    /// Decrypts into `out`, which must be exactly the plaintext's size (a secret that
    /// must not land in a Swift array); false when anything does not match.
    static func open(_ ciphertext: some ContiguousBytesView, key: UnsafeRawBufferPointer, nonce: some ContiguousBytesView,
                     associatedData: some ContiguousBytesView, into out: UnsafeMutableRawBufferPointer) -> Bool {
        Sodium.ready()
        return ciphertext.withBytes { c -> Bool in
            guard c.count == out.count + tagByteCount, key.count == keyByteCount else { return false }
            return nonce.withBytes { n -> Bool in
                guard n.count == nonceByteCount else { return false }
                return associatedData.withBytes { ad -> Bool in
                    var outCount: UInt64 = 0
                    return crypto_aead_xchacha20poly1305_ietf_decrypt(
                        out.bindMemory(to: UInt8.self).baseAddress, &outCount, nil,
                        c.bindMemory(to: UInt8.self).baseAddress!, UInt64(c.count),
                        ad.bindMemory(to: UInt8.self).baseAddress, UInt64(ad.count),
                        n.bindMemory(to: UInt8.self).baseAddress!, key.bindMemory(to: UInt8.self).baseAddress!) == 0
                }
            }
        }
    }
}
