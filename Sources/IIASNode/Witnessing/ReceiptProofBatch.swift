import Foundation
import IIASLog

/// The body of a RECEIPT_PROOF frame (0x22): a recipient's proofs that envelopes of the
/// sender are in its log, each a C2SP tlog-proof bundle ending in a checkpoint its
/// witnesses cosigned. It completes a receipt: the receipt is the recipient's word, the
/// bundle is evidence any holder of the policy checks.
///
/// through u64 BE | count u16 BE | count × (envelope id 16 | SHA-256 32 | length u32 BE | bundle)
///
/// `through`: the recipient's log size up to which this batch covers the sender's
/// envelopes; the sender echoes it in a RECEIPT_PROOF_ACK (0x23, 8 bytes) once it has
/// kept them, and the recipient sends on from there.
struct ReceiptProofBatch: Sendable, Equatable {
    struct Item: Sendable, Equatable {
        var envelopeID: UUID
        var sha256: [UInt8]
        /// The bundle's text (c2sp.org/tlog-proof@v1).
        var bundle: [UInt8]
    }

    var through: UInt64
    var items: [Item]

    /// Items in one frame at most.
    static let maximumItems = 256
    /// A batch is closed once its body passes this many bytes (the frame limit is twice it).
    static let targetBytes = 1 << 20

    var bytes: [UInt8] {
        var out = bigEndian(through, 8) + bigEndian(UInt64(items.count), 2)
        for item in items {
            out += withUnsafeBytes(of: item.envelopeID.uuid) { Array($0) } + item.sha256 + bigEndian(UInt64(item.bundle.count), 4) + item.bundle
        }
        return out
    }

    /// Reads a body; every count and length is checked against its bound before anything
    /// of that size is allocated.
    init?(bytes: [UInt8]) {
        var reader = Reader(bytes: bytes[...])
        guard let through = reader.number(8), let count = reader.number(2), count <= Self.maximumItems else { return nil }
        var items: [Item] = []
        for _ in 0..<count {
            guard let id = reader.take(16), let sha = reader.take(32), let length = reader.number(4),
                  length <= TlogProof.maximumBytes, let bundle = reader.take(Int(length)) else { return nil }
            let uuid = id.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
            items.append(Item(envelopeID: UUID(uuid: uuid), sha256: Array(sha), bundle: Array(bundle)))
        }
        guard reader.bytes.isEmpty else { return nil }
        self.init(through: through, items: items)
    }

    init(through: UInt64, items: [Item]) {
        self.through = through
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

    private struct Reader {
        var bytes: ArraySlice<UInt8>
        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard bytes.count >= count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return bytes.prefix(count)
        }
        mutating func number(_ width: Int) -> UInt64? { take(width)?.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }
}

private func bigEndian(_ value: UInt64, _ width: Int) -> [UInt8] {
    (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}
