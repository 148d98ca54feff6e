import CSodium
import Foundation

/// Encrypts one file into the attachment format while it streams, so a file of any
/// allowed size costs the same memory: two plaintext chunks and one ciphertext chunk.
/// It draws a fresh file key and nonce, and returns the ``AttachmentSeal`` that the
/// notification will carry. See <doc:AttachmentFormat>.
public struct AttachmentEncryptor: Sendable {
    /// Plaintext bytes per chunk.
    public let chunkSize: Int

    /// - Parameter chunkSize: a power of two from 1 KiB to 1 MiB; age's 64 KiB by default.
    public init(chunkSize: Int = AttachmentSeal.defaultChunkSize) throws(AttachmentError) {
        try AttachmentSeal.checkChunkSize(chunkSize)
        self.chunkSize = chunkSize
    }

    /// Reads `input` from its current offset to its end and hands the ciphertext to
    /// `sink` in order: first the 16-byte nonce, then each chunk (at most
    /// `chunkSize + 16` bytes). The pieces are valid only during the call.
    public func encrypt(reading input: FileHandle,
                        to sink: (UnsafeRawBufferPointer) throws -> Void) throws -> AttachmentSeal {
        let fileKey = SecretBytes(count: AttachmentSeal.fileKeyByteCount) { randombytes_buf($0.baseAddress!, $0.count) }
        return try encrypt(reading: input.fileDescriptor, fileKey: fileKey,
                           nonce: Sodium.randomBytes(AttachmentSeal.nonceByteCount), to: sink)
    }

    /// The encryption itself, with the key and nonce given (test vectors fix them).
    func encrypt(reading fd: Int32, fileKey: SecretBytes, nonce: [UInt8],
                 to sink: (UnsafeRawBufferPointer) throws -> Void) throws -> AttachmentSeal {
        let cipher = AttachmentCipher(fileKey: fileKey, nonce: nonce)
        let digest = SHA256Stream()
        var frontier = MerkleFrontier()
        try nonce.withUnsafeBytes(sink)

        let buffers = ChunkBuffers(chunkSize: chunkSize)
        defer { buffers.release() }
        var current = buffers.plaintext, next = buffers.lookahead
        var currentCount = try FileDescriptorIO.fill(fd, current)
        var total = currentCount
        var index = 0
        while true {
            // A chunk is the last when the input ends in it or right after it: read ahead.
            var nextCount = 0
            if currentCount == chunkSize {
                nextCount = try FileDescriptorIO.fill(fd, next)
            }
            total += nextCount
            guard total <= AttachmentSeal.maximumPlaintextSize else {
                throw AttachmentError.tooLarge(size: total, limit: AttachmentSeal.maximumPlaintextSize)
            }
            let isLast = nextCount == 0
            let plaintext = UnsafeRawBufferPointer(rebasing: current[0..<currentCount])
            let sealed = UnsafeMutableRawBufferPointer(rebasing: buffers.ciphertext[0..<(currentCount + AttachmentSeal.tagByteCount)])
            digest.update(plaintext)
            cipher.seal(plaintext, index: index, isLast: isLast, into: sealed)
            frontier.append(leafHash: AttachmentSeal.chunkHash(UnsafeRawBufferPointer(sealed)))
            try sink(UnsafeRawBufferPointer(sealed))
            if isLast { break }
            swap(&current, &next)
            currentCount = nextCount
            index += 1
        }
        return try AttachmentSeal(fileKey: fileKey, nonce: nonce, chunkSize: chunkSize, plaintextSize: total,
                                  plaintextSHA256: digest.finish(), root: frontier.rootHash)
    }
}

/// The three buffers a streaming pass needs, allocated once; plaintext is wiped on release.
struct ChunkBuffers {
    let plaintext: UnsafeMutableRawBufferPointer
    let lookahead: UnsafeMutableRawBufferPointer
    let ciphertext: UnsafeMutableRawBufferPointer

    init(chunkSize: Int) {
        plaintext = .allocate(byteCount: chunkSize, alignment: 16)
        lookahead = .allocate(byteCount: chunkSize, alignment: 16)
        ciphertext = .allocate(byteCount: chunkSize + AttachmentSeal.tagByteCount, alignment: 16)
    }

    func release() {
        for buffer in [plaintext, lookahead, ciphertext] {
            sodium_memzero(buffer.baseAddress!, buffer.count)
            buffer.deallocate()
        }
    }
}
