import Foundation
import IIASCrypto

/// A C2SP signed note (https://c2sp.org/signed-note): a body of text lines, a blank line,
/// then one line per signature, "— NAME BASE64(key hash || signature)". Parsed here once
/// for every reader of a note — a checkpoint file, a tree head entry, a proof bundle, a
/// witness's cosignatures — so that no two places disagree on what a note is.
public struct SignedNote: Sendable, Equatable {
    /// One signature line: the log's own signature or a witness's cosignature alike.
    public struct Signature: Sendable, Equatable {
        public var name: String
        /// The first 4 bytes of the blob: which key signed (see `Checkpoint.keyHash`,
        /// `Cosignature.keyID`).
        public var keyHash: [UInt8]
        /// The rest of the blob (a cosignature's is its timestamp, then the signature).
        public var signature: [UInt8]

        public init(name: String, keyHash: [UInt8], signature: [UInt8]) {
            self.name = name
            self.keyHash = keyHash
            self.signature = signature
        }

        /// Reads one line, "— NAME BASE64", without its newline.
        public init(line: Substring) throws(CheckpointError) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "\u{2014}", !parts[1].isEmpty else { throw .malformed("bad signature line") }
            guard let blob = Data(base64Encoded: String(parts[2])), blob.count > 4 else { throw .malformed("bad signature blob for \(parts[1])") }
            self.init(name: String(parts[1]), keyHash: Array(blob.prefix(4)), signature: Array(blob.dropFirst(4)))
        }

        /// The line as a note carries it, newline included.
        public var line: String { "\u{2014} \(name) \(Data(keyHash + signature).base64EncodedString())\n" }
    }

    /// The signed text, with its final newline.
    public let body: String
    public let signatures: [Signature]

    /// The largest note read.
    public static let maximumBytes = 64 * 1024

    public init(body: String, signatures: [Signature]) {
        self.body = body
        self.signatures = signatures
    }

    public init(parsing text: String) throws(CheckpointError) {
        guard text.utf8.count <= Self.maximumBytes else { throw .malformed("note larger than 64 KiB") }
        guard let split = text.range(of: "\n\n") else { throw .malformed("no blank line between body and signatures") }
        body = String(text[..<split.lowerBound]) + "\n"
        signatures = try Self.signatures(parsing: text[split.upperBound...])
        guard !signatures.isEmpty else { throw .malformed("no signature lines") }
    }

    /// Signature lines alone, one per line (what a witness answers: lines to add to a note).
    public static func signatures(parsing lines: Substring) throws(CheckpointError) -> [Signature] {
        var signatures: [Signature] = []
        for line in lines.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            signatures.append(try Signature(line: line))
        }
        return signatures
    }

    /// The note as text: body, blank line, one line per signature.
    public var text: String { body + "\n" + signatures.map(\.line).joined() }

    /// The same note with more signature lines (a witness's cosignatures) after its own.
    public func adding(_ more: [Signature]) -> SignedNote { SignedNote(body: body, signatures: signatures + more) }

    /// The body read as a checkpoint (what IIAS's tree heads sign).
    public func checkpoint() throws(CheckpointError) -> Checkpoint { try Checkpoint(body: body) }
}
