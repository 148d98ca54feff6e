import Foundation
import IIASCrypto

/// A C2SP signed note (https://c2sp.org/signed-note): a body of text lines, a blank line,
/// then one line per signature, "— NAME BASE64(key hash || signature)". Parsed here once
/// for every reader of a note — a checkpoint file, a tree head entry, a proof bundle —
/// so that no two places disagree on what a note is.
public struct SignedNote: Sendable, Equatable {
    /// One signature line.
    public struct Signature: Sendable, Equatable {
        public var name: String
        /// The first 4 bytes of the blob: which key signed (see `Checkpoint.keyHash`).
        public var keyHash: [UInt8]
        /// The rest of the blob.
        public var signature: [UInt8]
    }

    /// The signed text, with its final newline.
    public let body: String
    public let signatures: [Signature]

    /// The largest note read.
    public static let maximumBytes = 64 * 1024

    public init(parsing text: String) throws(CheckpointError) {
        guard text.utf8.count <= Self.maximumBytes else { throw .malformed("note larger than 64 KiB") }
        guard let split = text.range(of: "\n\n") else { throw .malformed("no blank line between body and signatures") }
        body = String(text[..<split.lowerBound]) + "\n"
        var signatures: [Signature] = []
        for line in text[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "\u{2014}", !parts[1].isEmpty else { throw .malformed("bad signature line") }
            guard let blob = Data(base64Encoded: String(parts[2])), blob.count > 4 else { throw .malformed("bad signature blob for \(parts[1])") }
            signatures.append(Signature(name: String(parts[1]), keyHash: Array(blob.prefix(4)), signature: Array(blob.dropFirst(4))))
        }
        guard !signatures.isEmpty else { throw .malformed("no signature lines") }
        self.signatures = signatures
    }

    /// The body read as a checkpoint (what IIAS's tree heads sign).
    public func checkpoint() throws(CheckpointError) -> Checkpoint { try Checkpoint(body: body) }
}
