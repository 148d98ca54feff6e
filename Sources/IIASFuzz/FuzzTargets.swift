import Foundation
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport

/// What the fuzzers feed arbitrary bytes to: every parser that takes bytes from outside
/// (a peer, a file, an API client). Each must refuse garbage with an error, never crash,
/// and where a parse succeeds, a property must hold (a round trip, bounds). A violated
/// property stops the process (`precondition`), which libFuzzer reports as a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case frame, envelope, notification, record, attachment

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .frame: Self.frame(bytes)
        case .envelope: Self.envelope(bytes)
        case .notification: Self.notification(bytes)
        case .record: Self.record(bytes)
        case .attachment: Self.attachment(bytes)
        }
    }

    /// The frame codec over a stream: decode frames one after another as a peer's bytes
    /// arrive; every decoded frame re-encodes to exactly the bytes it consumed.
    static func frame(_ bytes: [UInt8]) {
        let codec = FrameCodec(maximumLength: 1 << 16)
        var rest = bytes[...]
        while !rest.isEmpty {
            guard let decoded = try? codec.decode(Array(rest)) else { return }
            guard let (frame, consumed) = Optional(decoded) else { return }
            precondition(consumed > 0 && consumed <= rest.count, "frame decode consumed \(consumed) of \(rest.count)")
            if let encoded = try? codec.encode(frame) {
                precondition(encoded == Array(rest.prefix(consumed)), "frame does not round-trip")
            }
            rest = rest.dropFirst(consumed)
        }
    }

    /// The envelope parser: a parsed envelope lies within its bytes, parses again to the
    /// same header, and its canonical header is the bytes that were signed; the one-pass
    /// header reader never accepts what the general reader refuses, nor reads it otherwise.
    static func envelope(_ bytes: [UInt8]) {
        if let fast = EnvelopeHeader.readCanonical(bytes[...]) {
            precondition((try? EnvelopeHeader(parsingAnyForm: bytes[...])) == fast, "the header readers disagree")
        }
        guard let envelope = try? Envelope(parsing: bytes) else { return }
        precondition((try? EnvelopeHeader(parsingAnyForm: envelope.headerBytes)) == envelope.header, "the header readers disagree")
        precondition(envelope.bytes == bytes, "envelope keeps its exact bytes")
        precondition(envelope.headerBytes.count + envelope.body.count + Envelope.signatureByteCount <= bytes.count, "ranges outside the bytes")
        precondition(Array(envelope.headerBytes) == envelope.header.canonicalBytes, "header is not canonical")
        guard let again = try? Envelope(parsing: envelope.bytes) else { preconditionFailure("envelope does not parse twice") }
        precondition(again.header == envelope.header, "envelope parses differently twice")
        _ = envelope.signedMessage
    }

    /// The notification parser and validator: a parsed notification is valid and
    /// round-trips through its own encoding.
    static func notification(_ bytes: [UInt8]) {
        guard let notification = try? FormalNotification.parse(bytes) else { return }
        precondition(notification.validate().isEmpty, "a parsed notification does not validate")
        guard let again = try? FormalNotification.parse(notification.encoded()) else { preconditionFailure("encoding does not parse") }
        precondition(again == notification, "notification does not round-trip")
    }

    /// The log record reader: a decoded record never claims more bytes than given and
    /// re-encodes to exactly those bytes; an attachment record read from an operator
    /// action's payload stays within the format's bounds and round-trips.
    static func record(_ bytes: [UInt8]) {
        guard let (entry, size) = try? Record.decode(bytes[...], maximumEntrySize: 1 << 16) else { return }
        precondition(size <= bytes.count, "record claims \(size) of \(bytes.count) bytes")
        precondition(Record.encode(entry) == Array(bytes.prefix(size)), "record does not round-trip")
        guard entry.type == .operatorAction, let stored = AttachmentLogRecord(json: entry.payload) else { return }
        precondition(stored.chunkCount >= 1 && stored.range(ofChunk: stored.chunkCount - 1).upperBound == stored.ciphertextBytes, "chunks do not cover the ciphertext")
        precondition(AttachmentLogRecord(json: stored.encoded()) == stored, "attachment record does not round-trip")
    }

    /// Valid inputs to start from (written by `iias-fuzz --seeds DIR`), so the fuzzers
    /// begin inside the formats instead of at their first check.
    public static func seeds() throws -> [FuzzTarget: [[UInt8]]] {
        let codec = FrameCodec()
        let frames: [Frame] = [.hello(Hello(centerID: "AZ", softwareVersion: "iias/0.5.0")), .envelope(Array("IIAS".utf8) + [1, 0, 0, 0, 2]),
                               .receipt([1, 2, 3]), .treeHead(Array("iias:center:AZ/log\n1\n".utf8)), .ping([7]), .pong([7]),
                               .error(code: 4, reason: "idle timeout")]
        let records = [LogEntry(index: 0, timeMilliseconds: 1_764_000_000_000, type: .received, payload: Array("IIAS".utf8) + [1, 0, 0, 0, 0]),
                       LogEntry(index: 7, timeMilliseconds: 1_764_000_000_001, type: .operatorAction, payload: Array("{\"action\":\"read\"}".utf8)),
                       LogEntry(index: 8, timeMilliseconds: 1_764_000_000_002, type: .operatorAction,
                                payload: AttachmentLogRecord(direction: .received, sender: CenterID(rawValue: "AZ")!, envelope: UUID(), index: 0,
                                                             ciphertextBytes: 65_600, chunkSize: 65_536, root: String(repeating: "ab", count: 32)).encoded())]
        let key = SigningPrivateKey.generate()
        let receipt = Envelope.receipt(answering: UUID(), sha256: [UInt8](repeating: 1, count: 32), to: CenterID(rawValue: "AZ")!,
                                       from: CenterID(rawValue: "GE")!, signer: key, outcome: .delivered, logIndex: 3)
        let refusal = Envelope.receipt(answering: UUID(), sha256: [UInt8](repeating: 2, count: 32), to: CenterID(rawValue: "AZ")!,
                                       from: CenterID(rawValue: "GE")!, signer: key, outcome: .refused, reason: .clockSkew, detail: "skew")
        let batch = Envelope.receiptBatch((0..<3).map { Receipt(envelopeID: UUID(), envelopeSHA256: [UInt8](repeating: UInt8($0), count: 32),
                                                                outcome: .delivered, logIndex: UInt64($0)) },
                                          to: CenterID(rawValue: "AZ")!, from: CenterID(rawValue: "GE")!, signer: key)
        return [
            .frame: try frames.map { try codec.encode($0) } + [try frames.flatMap { try codec.encode($0) }],
            .record: records.map { Record.encode($0) },
            // Headers alone too, for the two header readers to be compared on.
            .envelope: [receipt.bytes, refusal.bytes, batch.bytes, Array(receipt.headerBytes), Array(refusal.headerBytes), Array(batch.headerBytes)],
            .notification: [],
            .attachment: [],  // Tests/FuzzCorpus/attachment: the vector's chunks, written from its JSON
        ]
    }
}
