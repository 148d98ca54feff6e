import Foundation
import IIASCrypto

/// What an IIAS tlog-proof bundle carries in its `extra` line, so that a verifier can
/// rebuild the Merkle leaf of a log entry from the envelope alone: the entry's fixed fields
/// and the leaf hash they give with the payload.
///
/// extra = index u64 BE ‖ time ms i64 BE ‖ type u8 ‖ leaf hash (32 bytes), 49 bytes, where
/// leaf hash = SHA-256(0x00 ‖ index ‖ time ‖ type ‖ payload) (RFC 9162 §2.1.1 over
/// ``LogEntry/encoded()``). Holding the envelope bytes, a verifier recomputes the leaf hash
/// and needs no trust in the extra line (tlog-proof: extra data is not authenticated); without
/// them, the bundle proves only that some entry with that leaf hash is in the log.
public struct EntryLeaf: Sendable, Equatable {
    public var index: UInt64
    public var timeMilliseconds: Int64
    public var type: EntryType
    public var leafHash: [UInt8]

    /// The extra line's size in bytes.
    public static let byteCount = LogEntry.fixedSize + SHA256.byteCount

    /// The fields as the log holds them, the leaf hash read from its stored hashes (no
    /// need to read the entry back).
    public init(index: UInt64, timeMilliseconds: Int64, type: EntryType, leafHash: [UInt8]) {
        self.index = index
        self.timeMilliseconds = timeMilliseconds
        self.type = type
        self.leafHash = leafHash
    }

    public init(entry: LogEntry) {
        index = entry.index
        timeMilliseconds = entry.timeMilliseconds
        type = entry.type
        leafHash = Merkle.hashLeaf(entry.encoded())
    }

    /// Reads the 49 bytes of an extra line (nothing verified but their framing).
    public init(extra: [UInt8]) throws(LogProofError) {
        guard extra.count == Self.byteCount else { throw .malformed("the extra line is \(extra.count) bytes, an IIAS entry leaf is \(Self.byteCount)") }
        let fields = extra.prefix(LogEntry.fixedSize)
        do {
            let entry = try LogEntry(decoding: fields)
            index = entry.index
            timeMilliseconds = entry.timeMilliseconds
            type = entry.type
        } catch {
            throw .malformed("the extra line's entry fields: \(error)")
        }
        leafHash = Array(extra.suffix(SHA256.byteCount))
    }

    /// The bytes of the extra line.
    public var extra: [UInt8] { LogEntry(index: index, timeMilliseconds: timeMilliseconds, type: type, payload: []).encoded() + leafHash }

    /// The leaf hash of the entry these fields make with `payload` (the envelope bytes).
    public func leafHash(payload: [UInt8]) -> [UInt8] {
        Merkle.hashLeaf(LogEntry(index: index, timeMilliseconds: timeMilliseconds, type: type, payload: payload).encoded())
    }

    /// When the log recorded the entry, by its own clock.
    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }
}

extension TlogProof {
    /// The IIAS leaf in the bundle's extra line, checked against the bundle: same index, and,
    /// given the envelope bytes, the leaf hash they make. Returns the leaf hash to prove.
    public func entryLeaf(payload: [UInt8]?, expectedType: EntryType? = nil) throws(LogProofError) -> EntryLeaf {
        guard let extra else { throw .malformed("no extra line: an IIAS bundle names its entry's fields there") }
        let leaf = try EntryLeaf(extra: extra)
        guard leaf.index == index else { throw .invalid("the extra line names entry \(leaf.index), the bundle index \(index)") }
        if let expectedType, leaf.type != expectedType { throw .invalid("entry \(index) is of type \(leaf.type), not \(expectedType)") }
        if let payload, leaf.leafHash(payload: payload) != leaf.leafHash {
            throw .invalid("the envelope is not the payload of entry \(index): its leaf hash differs")
        }
        return leaf
    }
}
