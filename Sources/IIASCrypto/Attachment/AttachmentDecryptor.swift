import Foundation

/// Checks and opens an attachment's ciphertext against its ``AttachmentSeal``: either
/// the whole ciphertext as it streams by, or any one chunk on its own (a resumed
/// transfer, a chunk as it arrives). Every chunk is authenticated before its plaintext
/// is handed out; a chunk out of place, repeated, dropped, cut or added is refused
/// with an ``AttachmentError`` that names it. See <doc:AttachmentFormat>.
public struct AttachmentDecryptor: Sendable {
    public let seal: AttachmentSeal
    private let cipher: AttachmentCipher
    /// The chunk hashes, when a stored list was given (already checked against the root).
    private let chunkHashes: [[UInt8]]?

    /// - Parameters:
    ///   - seal: the seal from the verified notification.
    ///   - chunkHashes: optionally, the leaf hash of every ciphertext chunk (a list kept
    ///     beside the ciphertext): checked against the seal's root once, then each chunk
    ///     is checked against its entry before it is decrypted.
    public init(seal: AttachmentSeal, chunkHashes: [[UInt8]]? = nil) throws(AttachmentError) {
        if let chunkHashes {
            guard chunkHashes.count == seal.chunkCount else {
                throw .invalidSeal("the list has \(chunkHashes.count) chunk hashes; the seal has \(seal.chunkCount) chunks")
            }
            guard constantTimeEqual(MerkleTreeHash.root(leafHashes: chunkHashes), seal.root) else {
                throw .commitmentMismatch
            }
        }
        self.seal = seal
        self.chunkHashes = chunkHashes
        cipher = AttachmentCipher(fileKey: seal.fileKey, nonce: seal.nonce)
    }

    /// Checks and decrypts chunk `index` alone.
    /// - Parameters:
    ///   - ciphertext: the chunk's bytes, exactly ``AttachmentSeal/ciphertextRange(ofChunk:)``.
    ///   - inclusionProof: when given, the chunk must be in the committed tree at `index`
    ///     by this RFC 9162 proof; else it is checked against the stored list if there
    ///     is one. The AEAD check under the key always applies.
    public func openChunk(_ index: Int, ciphertext: some ContiguousBytesView,
                          inclusionProof: [[UInt8]]? = nil) throws(AttachmentError) -> [UInt8] {
        let expected = try seal.ciphertextRange(ofChunk: index).count
        let opened = ciphertext.withBytes { chunk in
            Result { () throws(AttachmentError) -> [UInt8] in
                guard chunk.count == expected else {
                    throw .chunkLengthMismatch(index: index, length: chunk.count, expected: expected)
                }
                if let inclusionProof, !seal.isCommitted(chunk: chunk, index: index, proof: inclusionProof) {
                    throw .chunkNotCommitted(index: index)
                }
                _ = try checkAgainstList(chunk, index: index)
                var plaintext = [UInt8](repeating: 0, count: expected - AttachmentSeal.tagByteCount)
                let authentic = plaintext.withUnsafeMutableBytes {
                    cipher.open(chunk, index: index, isLast: index == seal.chunkCount - 1, into: $0)
                }
                guard authentic else { throw .chunkNotAuthentic(index: index) }
                return plaintext
            }
        }
        return try opened.get()
    }

    /// Reads the whole ciphertext from `input` (from its current offset), checks every
    /// chunk and hands its plaintext to `sink` in order, then checks the Merkle root, the
    /// size and the SHA-256. Plaintext already handed out is authentic chunk by chunk,
    /// but the file is complete and the one committed to only when this returns: write
    /// it somewhere temporary and keep it only then.
    public func decrypt(reading input: FileHandle, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = input.fileDescriptor
        let total = seal.ciphertextSize
        let buffers = ChunkBuffers(chunkSize: seal.chunkSize)
        defer { buffers.release() }
        var received = try FileDescriptorIO.fill(fd, UnsafeMutableRawBufferPointer(rebasing: buffers.ciphertext[0..<AttachmentSeal.nonceByteCount]))
        guard received == AttachmentSeal.nonceByteCount else { throw AttachmentError.truncated(received: received, expected: total) }
        guard buffers.ciphertext.prefix(AttachmentSeal.nonceByteCount).elementsEqual(seal.nonce) else {
            throw AttachmentError.nonceMismatch
        }
        let digest = SHA256Stream()
        var frontier = MerkleFrontier()
        for index in 0..<seal.chunkCount {
            let length = try seal.ciphertextRange(ofChunk: index).count
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffers.ciphertext[0..<length])
            let got = try FileDescriptorIO.fill(fd, chunk)
            received += got
            guard got == length else { throw AttachmentError.truncated(received: received, expected: total) }
            let leafHash = try checkAgainstList(UnsafeRawBufferPointer(chunk), index: index)
            let plaintext = UnsafeMutableRawBufferPointer(rebasing: buffers.plaintext[0..<(length - AttachmentSeal.tagByteCount)])
            try open(UnsafeRawBufferPointer(chunk), index: index, into: plaintext)
            frontier.append(leafHash: leafHash)
            digest.update(UnsafeRawBufferPointer(plaintext))
            try sink(UnsafeRawBufferPointer(plaintext))
        }
        let extra = try FileDescriptorIO.fill(fd, UnsafeMutableRawBufferPointer(rebasing: buffers.lookahead[0..<1]))
        guard extra == 0 else { throw AttachmentError.trailingBytes(expected: total) }
        guard constantTimeEqual(frontier.rootHash, seal.root) else { throw AttachmentError.commitmentMismatch }
        guard constantTimeEqual(digest.finish(), seal.plaintextSHA256) else { throw AttachmentError.digestMismatch }
    }

    /// The chunk's leaf hash, after comparing it with the stored list's entry if there is one.
    private func checkAgainstList(_ chunk: UnsafeRawBufferPointer, index: Int) throws(AttachmentError) -> [UInt8] {
        let leafHash = AttachmentSeal.chunkHash(chunk)
        if let chunkHashes, !constantTimeEqual(leafHash, chunkHashes[index]) {
            throw .chunkNotCommitted(index: index)
        }
        return leafHash
    }

    private func open(_ chunk: UnsafeRawBufferPointer, index: Int, into out: UnsafeMutableRawBufferPointer) throws(AttachmentError) {
        guard cipher.open(chunk, index: index, isLast: index == seal.chunkCount - 1, into: out) else {
            throw .chunkNotAuthentic(index: index)
        }
    }
}
