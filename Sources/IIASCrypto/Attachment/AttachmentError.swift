/// Why an attachment was refused or could not be processed. Each case names the check
/// that failed and, for a chunk, its index, so a receiver can ask for that chunk again
/// or report which part of a file was altered.
public enum AttachmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The chunk size is not a power of two from 1 KiB to 1 MiB.
    case chunkSizeOutOfRange(Int)
    /// The file is larger than the format allows (found while encrypting, or claimed by a seal).
    case tooLarge(size: Int, limit: Int)
    /// A seal field has the wrong length or disagrees with the others; names the field.
    case invalidSeal(String)
    /// The ciphertext does not begin with the seal's 16-byte nonce: another attachment's
    /// ciphertext, or an altered one.
    case nonceMismatch
    /// The ciphertext ended after `received` bytes; the seal says it has `expected`.
    case truncated(received: Int, expected: Int)
    /// Bytes follow the last chunk; the seal says the ciphertext has `expected` bytes.
    case trailingBytes(expected: Int)
    /// No chunk `index` exists in an attachment of `chunkCount` chunks.
    case chunkIndexOutOfRange(index: Int, chunkCount: Int)
    /// Chunk `index` has `length` bytes where its position calls for `expected`.
    case chunkLengthMismatch(index: Int, length: Int, expected: Int)
    /// Chunk `index` is not the chunk the commitment names at that position: altered,
    /// moved, duplicated, or from another attachment (checked before decrypting).
    case chunkNotCommitted(index: Int)
    /// Chunk `index` does not decrypt under the file key as chunk `index` (with its
    /// last-chunk flag): altered, moved, duplicated, cut, or the wrong key.
    case chunkNotAuthentic(index: Int)
    /// Every chunk decrypted, but the Merkle root over them is not the seal's.
    case commitmentMismatch
    /// Every chunk decrypted, but the plaintext's SHA-256 is not the seal's.
    case digestMismatch
    /// Reading the input or writing the output failed.
    case io(String)

    public var description: String {
        switch self {
        case .chunkSizeOutOfRange(let size):
            return "chunk size \(size) is not a power of two from 1024 to 1048576"
        case .tooLarge(let size, let limit):
            return "the file is \(size) bytes or more; attachments are at most \(limit) bytes"
        case .invalidSeal(let why):
            return "attachment seal refused: \(why)"
        case .nonceMismatch:
            return "the ciphertext does not start with the seal's nonce: it belongs to another attachment or was altered"
        case .truncated(let received, let expected):
            return "the ciphertext ends after \(received) of \(expected) bytes: fetch the rest again"
        case .trailingBytes(let expected):
            return "bytes follow the last chunk (the ciphertext has \(expected) bytes): refused as altered"
        case .chunkIndexOutOfRange(let index, let count):
            return "chunk \(index) does not exist: the attachment has \(count) chunks"
        case .chunkLengthMismatch(let index, let length, let expected):
            return "chunk \(index) has \(length) bytes; at its position it must have \(expected)"
        case .chunkNotCommitted(let index):
            return "chunk \(index) is not the one the sender committed to (altered, moved or duplicated): fetch it again"
        case .chunkNotAuthentic(let index):
            return "chunk \(index) does not decrypt as chunk \(index) (altered, moved, duplicated, cut short, or the wrong key)"
        case .commitmentMismatch:
            return "the chunks' Merkle root is not the seal's: the ciphertext is not the one the sender committed to"
        case .digestMismatch:
            return "the decrypted file's SHA-256 is not the seal's"
        case .io(let why):
            return why
        }
    }
}
