import Foundation
import IIASCrypto
import IIASModel

extension FuzzTarget {
    /// The seal of the `three-chunks` vector of AttachmentFormat.md (file key 00…1f,
    /// nonce a0…af, 1 KiB chunks, 2,560 bytes), as a notification carries it.
    static let attachmentSeal: AttachmentSeal = {
        let attachment = Attachment(
            name: "three-chunks", mediaType: "application/octet-stream",
            sha256: "d94b2e8c7fd1532d5fb141427242c19be2cf30c665fcff37fc052a43d5efe03a", bytes: 2560,
            encryption: AttachmentEncryption(
                fileKey: Data((0..<32).map { UInt8($0) }).base64EncodedString(),
                nonce: Data((0xA0..<0xB0).map { UInt8($0) }).base64EncodedString(),
                chunkSize: 1024, chunkCount: 3, ciphertextBytes: 2624,
                root: "a08dd979432ac49a714a171137d01f5d5c312289dd62772dcc74a9ca400147ee"))
        guard let seal = try? AttachmentSeal(attachment) else { preconditionFailure("the vector's seal is refused") }
        return seal
    }()

    /// The vector's chunk hashes: the only chunks that may ever open.
    static let attachmentChunkHashes = [
        "b378b8261b09faf994803bdd20101e578e39f2826b83432e9499c5009726950d",
        "9bca59d943e36331dd7498c50dd6827887e8e1ce1cee11dd1befd55ada4d884d",
        "7ca7fad50f9f1df8eb8d331c56957b628624d568ea47f58ceed33fdd2ec8fb0d",
    ]

    /// One chunk of a known attachment from outside — the first byte picks the index (0 to
    /// 3; 3 does not exist), the rest is the chunk: it opens only if it is the very chunk
    /// committed at that index, and then to the vector's plaintext ((31 i + 7) mod 256).
    static func attachment(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let index = Int(first % 4), chunk = Array(bytes.dropFirst())
        guard let decryptor = try? AttachmentDecryptor(seal: attachmentSeal),
              let plaintext = try? decryptor.openChunk(index, ciphertext: chunk) else { return }
        precondition(AttachmentSeal.chunkHash(chunk).hexString == attachmentChunkHashes[index], "a chunk not committed opened")
        let start = index * attachmentSeal.chunkSize
        precondition(plaintext == (start..<(start + plaintext.count)).map { UInt8((31 * $0 + 7) % 256) }, "chunk opened to other bytes")
    }
}
