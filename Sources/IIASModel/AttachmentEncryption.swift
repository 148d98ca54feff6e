import Foundation

/// How an attachment's bytes are encrypted and committed to (IIASCrypto's attachment
/// format): what a recipient needs to fetch, check and open them. It holds the file key,
/// so it travels only inside the signed, encrypted notification body; an attachment
/// without it is described but carries no way to open its bytes (older notifications).
public struct AttachmentEncryption: Sendable, Hashable {
    /// Base64 (standard, padded, canonical) of the 32-byte file key.
    public var fileKey: String
    /// Base64 (standard, padded, canonical) of the 16-byte nonce that starts the ciphertext.
    public var nonce: String
    /// Plaintext bytes per chunk: a power of two from 1 KiB to 1 MiB.
    public var chunkSize: Int
    /// Number of chunks: one for an empty file, else the size divided by `chunkSize`, rounded up.
    public var chunkCount: Int
    /// Size of the ciphertext object: 16 + the file's size + 16 per chunk.
    public var ciphertextBytes: Int
    /// 64 lower-case hex digits: the RFC 9162 Merkle root over the ciphertext chunks.
    public var root: String

    /// The chunk sizes the format allows.
    public static let chunkSizes = (10...20).map { 1 << $0 }

    public init(fileKey: String, nonce: String, chunkSize: Int, chunkCount: Int, ciphertextBytes: Int, root: String) {
        (self.fileKey, self.nonce, self.root) = (fileKey, nonce, root)
        (self.chunkSize, self.chunkCount, self.ciphertextBytes) = (chunkSize, chunkCount, ciphertextBytes)
    }

    /// The chunk count a file of `size` bytes has at `chunkSize` (an empty file is one empty chunk).
    public static func chunkCount(size: Int, chunkSize: Int) -> Int {
        max(1, (size + chunkSize - 1) / chunkSize)
    }

    /// The ciphertext size of a file of `size` bytes at `chunkSize`: nonce, chunks, a tag per chunk.
    public static func ciphertextBytes(size: Int, chunkSize: Int) -> Int {
        16 + size + 16 * chunkCount(size: size, chunkSize: chunkSize)
    }
}

extension AttachmentEncryption {
    static let members: Set<String> = ["fileKey", "nonce", "chunkSize", "chunkCount", "ciphertextBytes", "root"]

    /// Reads the member for an attachment of `size` bytes (nil when the size was refused).
    static func read(_ value: JSONValue, at path: String, size: Int?, _ reader: DocumentReader) -> AttachmentEncryption? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: members) else { return nil }
        let fileKey = object.required("fileKey") {
            reader.token($0, at: $1, expected: "base64 of 32 bytes") { isCanonicalBase64($0, byteCount: 32) }
        }
        let nonce = object.required("nonce") {
            reader.token($0, at: $1, expected: "base64 of 16 bytes") { isCanonicalBase64($0, byteCount: 16) }
        }
        let chunkSize = object.required("chunkSize") { v, p -> Int? in
            guard let n = reader.integer(v, at: p, range: chunkSizes.first!...chunkSizes.last!) else { return nil }
            guard chunkSizes.contains(n) else { reader.report(p, "must be a power of two (found \(n))"); return nil }
            return n
        }
        let chunkCount = object.required("chunkCount") { reader.integer($0, at: $1, range: 1...Attachment.maximumSize) }
        let ciphertextBytes = object.required("ciphertextBytes") {
            reader.integer($0, at: $1, range: 32...(2 * Attachment.maximumSize))
        }
        let root = object.required("root") { reader.token($0, at: $1, expected: "64 lower-case hex digits", Attachment.isSHA256) }
        guard reader.problemCount == before, let fileKey, let nonce, let chunkSize, let chunkCount, let ciphertextBytes,
              let root, let size else { return nil }
        let expectedCount = Self.chunkCount(size: size, chunkSize: chunkSize)
        guard chunkCount == expectedCount else {
            reader.report(JSONPointer.appending(path, "chunkCount"), "must be \(expectedCount) for \(size) bytes in chunks of \(chunkSize) (found \(chunkCount))")
            return nil
        }
        let expectedBytes = Self.ciphertextBytes(size: size, chunkSize: chunkSize)
        guard ciphertextBytes == expectedBytes else {
            reader.report(JSONPointer.appending(path, "ciphertextBytes"), "must be \(expectedBytes) for \(size) bytes in \(chunkCount) chunks (found \(ciphertextBytes))")
            return nil
        }
        return AttachmentEncryption(fileKey: fileKey, nonce: nonce, chunkSize: chunkSize, chunkCount: chunkCount,
                                    ciphertextBytes: ciphertextBytes, root: root)
    }

    /// Standard padded base64 of exactly `byteCount` bytes in its one canonical form
    /// (unused trailing bits zero), so one key has one spelling.
    static func isCanonicalBase64(_ text: String, byteCount: Int) -> Bool {
        guard let data = Data(base64Encoded: text), data.count == byteCount else { return false }
        return data.base64EncodedString() == text
    }

    var json: JSONValue {
        .members([
            "fileKey": .string(fileKey),
            "nonce": .string(nonce),
            "chunkSize": .integer(Int64(chunkSize)),
            "chunkCount": .integer(Int64(chunkCount)),
            "ciphertextBytes": .integer(Int64(ciphertextBytes)),
            "root": .string(root),
        ])
    }
}
