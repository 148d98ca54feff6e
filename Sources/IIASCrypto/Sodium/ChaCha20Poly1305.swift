import CSodium

/// ChaCha20-Poly1305 of RFC 8439 (libsodium's "IETF" variant, 96-bit nonce): the chunk
/// cipher of attachments, as age's STREAM uses it. Its nonce is too short to draw at
/// random, so every caller derives it from a counter under a key used for one file only.
enum ChaCha20Poly1305 {
    static let keyByteCount = Int(crypto_aead_chacha20poly1305_ietf_KEYBYTES)
    static let nonceByteCount = Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
    static let tagByteCount = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)

    /// Encrypts `plaintext` into `out` (exactly `plaintext.count + tagByteCount` bytes),
    /// without associated data.
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                     nonce: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount)
        precondition(out.count == plaintext.count + tagByteCount)
        Sodium.ready()
        var outCount: UInt64 = 0
        _ = crypto_aead_chacha20poly1305_ietf_encrypt(
            out.bindMemory(to: UInt8.self).baseAddress!, &outCount,
            plaintext.bindMemory(to: UInt8.self).baseAddress, UInt64(plaintext.count),
            nil, 0, nil,
            nonce.bindMemory(to: UInt8.self).baseAddress!, key.bindMemory(to: UInt8.self).baseAddress!)
    }

    /// Decrypts `ciphertext` into `out` (exactly `ciphertext.count - tagByteCount` bytes);
    /// false when the tag does not verify under this key and nonce.
    static func open(_ ciphertext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                     nonce: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount)
        guard ciphertext.count >= tagByteCount, out.count == ciphertext.count - tagByteCount else { return false }
        Sodium.ready()
        var outCount: UInt64 = 0
        // libsodium wants a non-null output pointer even for an empty plaintext.
        var scratch: UInt8 = 0
        return withUnsafeMutablePointer(to: &scratch) { scratchPointer in
            let target = out.bindMemory(to: UInt8.self).baseAddress ?? scratchPointer
            return crypto_aead_chacha20poly1305_ietf_decrypt(
                target, &outCount, nil,
                ciphertext.bindMemory(to: UInt8.self).baseAddress!, UInt64(ciphertext.count),
                nil, 0,
                nonce.bindMemory(to: UInt8.self).baseAddress!, key.bindMemory(to: UInt8.self).baseAddress!) == 0
        }
    }
}
