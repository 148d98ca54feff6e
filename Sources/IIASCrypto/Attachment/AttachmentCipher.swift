import CSodium

/// The chunk cipher of the attachment format: age's STREAM (C2SP agead) with a chosen
/// chunk size. The payload key is HKDF-SHA-256(ikm = file key, salt = nonce,
/// info = "payload"); chunk i is ChaCha20-Poly1305 under it with the 12-byte nonce
/// `i` (11 bytes, big-endian) || `0x01` for the last chunk, `0x00` for every other.
struct AttachmentCipher: Sendable {
    private let payloadKey: SecretBytes

    init(fileKey: SecretBytes, nonce: [UInt8]) {
        precondition(nonce.count == AttachmentSeal.nonceByteCount)
        payloadKey = SecretBytes(count: ChaCha20Poly1305.keyByteCount) { out in
            fileKey.withUnsafeBytes { ikm in
                nonce.withUnsafeBytes { salt in
                    HKDFSHA256.derive(inputKey: ikm, salt: salt, info: Array("payload".utf8), into: out)
                }
            }
        }
    }

    func seal(_ plaintext: UnsafeRawBufferPointer, index: Int, isLast: Bool, into out: UnsafeMutableRawBufferPointer) {
        Self.withChunkNonce(index: index, isLast: isLast) { nonce in
            payloadKey.withUnsafeBytes { key in ChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, into: out) }
        }
    }

    func open(_ ciphertext: UnsafeRawBufferPointer, index: Int, isLast: Bool, into out: UnsafeMutableRawBufferPointer) -> Bool {
        Self.withChunkNonce(index: index, isLast: isLast) { nonce in
            payloadKey.withUnsafeBytes { key in ChaCha20Poly1305.open(ciphertext, key: key, nonce: nonce, into: out) }
        }
    }

    /// The 12-byte STREAM nonce: an 11-byte big-endian counter, then the last-chunk flag.
    static func withChunkNonce<R>(index: Int, isLast: Bool, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var nonce = [UInt8](repeating: 0, count: ChaCha20Poly1305.nonceByteCount)
        var counter = UInt64(index)
        for position in stride(from: 10, through: 3, by: -1) {
            nonce[position] = UInt8(truncatingIfNeeded: counter)
            counter >>= 8
        }
        nonce[11] = isLast ? 0x01 : 0x00
        return nonce.withUnsafeBytes(body)
    }
}
