import Foundation
import IIASModel

extension AttachmentSeal {
    /// The seal an attachment of a verified notification carries.
    /// - Throws: ``AttachmentError/invalidSeal(_:)`` when the attachment has no
    ///   `encryption` (it describes a file but carries no key) or a field is malformed.
    public init(_ attachment: Attachment) throws(AttachmentError) {
        guard let encryption = attachment.encryption else {
            throw .invalidSeal("attachment \"\(attachment.name)\" carries no file key")
        }
        guard var key = Data(base64Encoded: encryption.fileKey).map(Array.init), key.count == Self.fileKeyByteCount else {
            throw .invalidSeal("fileKey is not base64 of 32 bytes")
        }
        defer { wipe(&key) }
        guard let nonce = Data(base64Encoded: encryption.nonce).map(Array.init),
              let digest = [UInt8](hexString: attachment.sha256), let root = [UInt8](hexString: encryption.root) else {
            throw .invalidSeal("nonce, sha256 or root is malformed")
        }
        let fileKey = key.withUnsafeBytes { SecretBytes(copying: $0) }
        try self.init(fileKey: fileKey, nonce: nonce, chunkSize: encryption.chunkSize, plaintextSize: attachment.bytes,
                      plaintextSHA256: digest, root: root)
        guard encryption.chunkCount == chunkCount, encryption.ciphertextBytes == ciphertextSize else {
            throw .invalidSeal("chunkCount or ciphertextBytes disagrees with the size and chunk size")
        }
    }

    /// The notification's description of this file, with the seal as its `encryption`.
    public func attachment(name: String, mediaType: String) -> Attachment {
        let fileKeyText = fileKey.withUnsafeBytes { Data($0).base64EncodedString() }
        let encryption = AttachmentEncryption(fileKey: fileKeyText, nonce: Data(nonce).base64EncodedString(),
                                              chunkSize: chunkSize, chunkCount: chunkCount,
                                              ciphertextBytes: ciphertextSize, root: root.hexString)
        return Attachment(name: name, mediaType: mediaType, sha256: plaintextSHA256.hexString, bytes: plaintextSize,
                          encryption: encryption)
    }
}
