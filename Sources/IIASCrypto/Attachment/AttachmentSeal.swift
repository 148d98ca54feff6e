/// Everything needed to fetch, check and open one encrypted attachment: the file key,
/// the chunking, the plaintext's size and SHA-256, and the Merkle root that commits to
/// the ciphertext. It travels inside the signed, encrypted notification (as an
/// attachment's `encryption`), so the sender's signature covers the commitment and only
/// the recipients learn the key. See <doc:AttachmentFormat>.
public struct AttachmentSeal: Sendable {
    /// The file key: 32 random bytes, fresh for every attachment.
    public let fileKey: SecretBytes
    /// The 16 random bytes that begin the ciphertext and salt the payload key.
    public let nonce: [UInt8]
    /// Plaintext bytes per chunk; every chunk but the last holds exactly this many.
    public let chunkSize: Int
    /// The file's size in bytes.
    public let plaintextSize: Int
    /// SHA-256 of the file's bytes.
    public let plaintextSHA256: [UInt8]
    /// The RFC 9162 Merkle root over the ciphertext chunks (each chunk with its tag).
    public let root: [UInt8]

    public static let fileKeyByteCount = 32
    public static let nonceByteCount = 16
    public static let tagByteCount = 16
    /// 64 KiB: age's chunk size, so a ciphertext at this size is an age payload.
    public static let defaultChunkSize = 65_536
    /// A power of two in this range.
    public static let chunkSizeRange = 1024...1_048_576
    /// 64 GiB; with 1 KiB chunks at most 2^26 chunks, so a list of chunk hashes stays under 2 GiB.
    public static let maximumPlaintextSize = 1 << 36

    /// Checks every field against the others; throws naming the first that is wrong.
    public init(fileKey: SecretBytes, nonce: [UInt8], chunkSize: Int, plaintextSize: Int,
                plaintextSHA256: [UInt8], root: [UInt8]) throws(AttachmentError) {
        try Self.checkChunkSize(chunkSize)
        guard fileKey.count == Self.fileKeyByteCount else { throw .invalidSeal("the file key must be 32 bytes") }
        guard nonce.count == Self.nonceByteCount else { throw .invalidSeal("the nonce must be 16 bytes") }
        guard plaintextSize >= 0 else { throw .invalidSeal("the size is negative") }
        guard plaintextSize <= Self.maximumPlaintextSize else {
            throw .tooLarge(size: plaintextSize, limit: Self.maximumPlaintextSize)
        }
        guard plaintextSHA256.count == SHA256.byteCount else { throw .invalidSeal("the SHA-256 must be 32 bytes") }
        guard root.count == SHA256.byteCount else { throw .invalidSeal("the root must be 32 bytes") }
        self.fileKey = fileKey
        self.nonce = nonce
        self.chunkSize = chunkSize
        self.plaintextSize = plaintextSize
        self.plaintextSHA256 = plaintextSHA256
        self.root = root
    }

    static func checkChunkSize(_ chunkSize: Int) throws(AttachmentError) {
        guard chunkSizeRange.contains(chunkSize), chunkSize & (chunkSize - 1) == 0 else {
            throw .chunkSizeOutOfRange(chunkSize)
        }
    }

    /// One chunk for an empty file (an empty last chunk), else the size divided by the
    /// chunk size rounded up: a last chunk is never empty unless the file is.
    public var chunkCount: Int { max(1, (plaintextSize + chunkSize - 1) / chunkSize) }

    /// The nonce, every chunk, and a 16-byte tag per chunk.
    public var ciphertextSize: Int { Self.nonceByteCount + plaintextSize + Self.tagByteCount * chunkCount }

    /// Plaintext bytes in chunk `index` (which must exist).
    public func plaintextLength(ofChunk index: Int) -> Int {
        index == chunkCount - 1 ? plaintextSize - chunkSize * (chunkCount - 1) : chunkSize
    }

    /// Where chunk `index` lies in the ciphertext: resume a transfer or open one chunk
    /// by reading just these bytes.
    public func ciphertextRange(ofChunk index: Int) throws(AttachmentError) -> Range<Int> {
        try checkIndex(index)
        let start = Self.nonceByteCount + index * (chunkSize + Self.tagByteCount)
        return start..<(start + plaintextLength(ofChunk: index) + Self.tagByteCount)
    }

    func checkIndex(_ index: Int) throws(AttachmentError) {
        guard index >= 0, index < chunkCount else { throw .chunkIndexOutOfRange(index: index, chunkCount: chunkCount) }
    }

    /// The Merkle leaf hash of one ciphertext chunk: SHA-256(0x00 || chunk).
    public static func chunkHash(_ ciphertextChunk: some ContiguousBytesView) -> [UInt8] {
        MerkleTreeHash.leaf(ciphertextChunk)
    }

    /// Whether `ciphertextChunk` is chunk `index` of the committed ciphertext, by an
    /// RFC 9162 inclusion proof against ``root``: a check that needs no key, so a node
    /// that only stores or forwards ciphertext can refuse a bad chunk on arrival.
    public func isCommitted(chunk ciphertextChunk: some ContiguousBytesView, index: Int, proof: [[UInt8]]) -> Bool {
        guard index >= 0, index < chunkCount else { return false }
        return MerkleTreeHash.verifyInclusion(leafIndex: UInt64(index), treeSize: UInt64(chunkCount),
                                              leafHash: Self.chunkHash(ciphertextChunk), proof: proof, root: root)
    }
}
