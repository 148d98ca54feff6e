import Foundation
import IIASLog

/// The body of a RECEIPT_PROOF frame (0x22): a recipient's proofs that envelopes of the
/// sender are in its log, all ending in one checkpoint its witnesses cosigned. The
/// checkpoint travels once per frame and each envelope adds only what differs between
/// their C2SP tlog-proof bundles, so the sender checks the checkpoint's signatures once and
/// each entry with a few SHA-256; any one bundle is rebuilt byte for byte from the parts.
///
/// through u64 BE | note length u32 BE | checkpoint note | count u16 BE |
/// count × (envelope id 16 | SHA-256 32 | extra 49 | hash count u8 | hash count × 32)
///
/// `through`: the recipient's log size up to which this batch covers the sender's
/// envelopes; the sender echoes it in a RECEIPT_PROOF_ACK (0x23, 8 bytes) once it has
/// kept them, and the recipient sends on from there. `extra` is the bundle's extra line
/// (``EntryLeaf``), whose first 8 bytes are the entry's index.
struct ReceiptProofBatch: Sendable, Equatable {
    struct Item: Sendable, Equatable {
        var envelopeID: UUID
        var sha256: [UInt8]
        /// The bundle's extra line: the entry's index, time, type and leaf hash.
        var extra: [UInt8]
        /// The inclusion proof, leaf's sibling first.
        var proof: [[UInt8]]

        /// The entry's index in the recipient's log (the extra line's first field).
        var index: UInt64 { extra.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }

        /// This entry's C2SP tlog-proof bundle under `checkpoint`.
        func bundle(checkpoint: SignedNote) -> TlogProof {
            TlogProof(extra: extra, index: index, proof: proof, checkpoint: checkpoint)
        }
    }

    var through: UInt64
    /// The checkpoint note, cosignatures included, as the recipient's witnesses signed it.
    var checkpoint: [UInt8]
    var items: [Item]

    /// Items in one frame at most.
    static let maximumItems = 256
    /// Bytes of one item without its proof hashes.
    static let itemFixedBytes = 16 + 32 + EntryLeaf.byteCount + 1

    var bytes: [UInt8] {
        var out = bigEndian(through, 8) + bigEndian(UInt64(checkpoint.count), 4) + checkpoint + bigEndian(UInt64(items.count), 2)
        out.reserveCapacity(out.count + items.reduce(0) { $0 + Self.itemFixedBytes + 32 * $1.proof.count })
        for item in items {
            out += withUnsafeBytes(of: item.envelopeID.uuid) { Array($0) } + item.sha256 + item.extra
            out.append(UInt8(item.proof.count))
            for hash in item.proof { out += hash }
        }
        return out
    }

    /// Reads a body; every count and length is checked against its bound before anything
    /// of that size is allocated.
    init?(bytes: [UInt8]) {
        var reader = Reader(bytes: bytes[...])
        guard let through = reader.number(8), let noteLength = reader.number(4), noteLength <= SignedNote.maximumBytes,
              let note = reader.take(Int(noteLength)), let count = reader.number(2), count <= Self.maximumItems,
              reader.bytes.count >= Int(count) * Self.itemFixedBytes else { return nil }
        var items: [Item] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let id = reader.take(16), let sha = reader.take(32), let extra = reader.take(EntryLeaf.byteCount),
                  let hashCount = reader.number(1), hashCount <= TlogProof.maximumProofHashes,
                  let hashes = reader.take(Int(hashCount) * 32) else { return nil }
            let uuid = id.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
            let proof = stride(from: hashes.startIndex, to: hashes.endIndex, by: 32).map { Array(hashes[$0..<($0 + 32)]) }
            items.append(Item(envelopeID: UUID(uuid: uuid), sha256: Array(sha), extra: Array(extra), proof: proof))
        }
        guard reader.bytes.isEmpty else { return nil }
        self.init(through: through, checkpoint: Array(note), items: items)
    }

    init(through: UInt64, checkpoint: [UInt8], items: [Item]) {
        self.through = through
        self.checkpoint = checkpoint
        self.items = items
    }

    /// The RECEIPT_PROOF_ACK body: the batch's `through`.
    static func acknowledgement(_ through: UInt64) -> [UInt8] { bigEndian(through, 8) }

    /// Reads a RECEIPT_PROOF_ACK body.
    static func acknowledged(_ bytes: [UInt8]) -> UInt64? {
        var reader = Reader(bytes: bytes[...])
        guard let through = reader.number(8), reader.bytes.isEmpty else { return nil }
        return through
    }
}

/// Reads big-endian fields off the front of a byte slice; nil when too few are left.
struct ByteReader {
    var bytes: ArraySlice<UInt8>
    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, bytes.count >= count else { return nil }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }
    mutating func number(_ width: Int) -> UInt64? { take(width)?.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
}

private typealias Reader = ByteReader

/// `value` as `width` big-endian bytes.
func bigEndian(_ value: UInt64, _ width: Int) -> [UInt8] {
    (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}
