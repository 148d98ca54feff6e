import Foundation
import IIASAPI
import IIASCrypto
import IIASModel

/// A ledger saved as bytes, so that a node with a long log starts in a second instead of
/// parsing every envelope again. It is a cache, never a source of truth: it records how
/// many entries it folded and the log's Merkle root at that size, and is used only when
/// the log's root at that size is the same (otherwise the log is folded from the start).
///
/// Format (integers little-endian): `"IIASLDG2"`, entries folded u64, root (32 bytes),
/// SHA-256 of the body (32 bytes), body. The body holds the ledger's fields one after
/// another, each array as a u64 count and its elements field by field (no padding, so
/// nothing but the fields reaches the disk). Plaintext never enters it: the records hold
/// log indexes, states and times, every one of them read from the log.
///
/// Version 1 (`"IIASLDG1"`, same layout) came from ledgers that also kept the links' wire
/// progress: a delivery still waiting may hold the time it was last written to a
/// connection instead of the time it was logged. It is still read; the node then takes
/// those times from the log again (`restoreLoggedTimes`).
extension Ledger {
    static let snapshotMagic = Array("IIASLDG2".utf8)
    static let snapshotMagicVersion1 = Array("IIASLDG1".utf8)

    /// Why a snapshot was not used.
    public enum SnapshotError: Error, CustomStringConvertible {
        case malformed(String)
        case otherLog(String)

        public var description: String {
            switch self {
            case .malformed(let why): "the ledger snapshot is unreadable (\(why))"
            case .otherLog(let why): "the ledger snapshot does not belong to this log (\(why))"
            }
        }
    }

    /// Whether every entry below `folded` was applied (what a snapshot must cover):
    /// entries appended together may be folded out of order for a moment.
    public var isContiguous: Bool { applied == folded }

    /// The snapshot's bytes; `root` is the log's Merkle root at `folded` entries.
    public func snapshot(root: [UInt8]) -> [UInt8] {
        var body = SnapshotWriter()
        body.string(center.rawValue)
        body.strings(centers.values)
        body.strings(users.values)
        body.array(outgoingIDs) { $0.uuid($1) }
        body.array(outgoingRecords) { w, r in
            w.u64(r.index); w.u64(r.summaryIndex); w.i64(r.createdMilliseconds); w.u32(r.firstDelivery)
            w.u16(r.deliveryCount); w.u16(r.submittedBy); w.u8(r.isAcknowledgement ? 1 : 0)
        }
        body.array(deliveries) { w, r in
            w.u64(r.receiptIndex); w.u64(r.recipientLogIndex); w.i64(r.updatedMilliseconds); w.u16(r.center); w.u8(r.state); w.u8(r.reason)
        }
        body.array(incomingIDs) { $0.uuid($1) }
        body.array(incomingRecords) { w, r in
            w.u64(r.index); w.i64(r.receivedMilliseconds); w.i64(r.acknowledgedMilliseconds); w.u16(r.sender)
            w.u16(r.acknowledgedBy); w.u8((r.isAcknowledgement ? 1 : 0) | (r.read ? 2 : 0))
        }
        body.array(pendingSubmits.sorted { $0.key.uuidString < $1.key.uuidString }) { w, item in
            w.uuid(item.key); w.u64(item.value.index); w.u16(item.value.user)
        }
        body.array(Array(skipped.prefix(100))) { w, item in w.u64(item.index); w.string(item.reason) }
        var out = SnapshotWriter()
        out.bytes.append(contentsOf: Self.snapshotMagic)
        out.u64(folded)
        out.bytes.append(contentsOf: root)
        out.bytes.append(contentsOf: SHA256.hash(body.bytes))
        out.bytes.append(contentsOf: body.bytes)
        return out.bytes
    }

    /// The ledger a snapshot holds, and the root it was bound to (for the caller to
    /// compare with the log's). Sizes are checked against the bytes before anything is
    /// allocated.
    public init(snapshot bytes: [UInt8], center: CenterID) throws(SnapshotError) {
        let headerSize = Self.snapshotMagic.count + 8 + 32 + 32
        let magic = Array(bytes.prefix(Self.snapshotMagic.count))
        guard bytes.count >= headerSize, magic == Self.snapshotMagic || magic == Self.snapshotMagicVersion1 else {
            throw .malformed("not a snapshot of this version")
        }
        var header = SnapshotReader(bytes[Self.snapshotMagic.count..<headerSize])
        let body = bytes[headerSize...]
        do {
            let folded = try header.u64()
            let root = try header.take(32)
            let digest = try header.take(32)
            guard constantTimeEqual(SHA256.hash(body), Array(digest)) else { throw SnapshotError.malformed("its checksum does not match") }
            var r = SnapshotReader(body)
            guard try r.string() == center.rawValue else { throw SnapshotError.otherLog("it is another center's") }
            self.init(center: center)
            centers = Names(try r.strings())
            users = Names(try r.strings())
            outgoingIDs = try r.array(elementSize: 16) { try $0.uuid() }
            outgoingRecords = try r.array(elementSize: 33) { r in
                OutgoingRecord(index: try r.u64(), summaryIndex: try r.u64(), createdMilliseconds: try r.i64(), firstDelivery: try r.u32(),
                               deliveryCount: try r.u16(), submittedBy: try r.u16(), isAcknowledgement: try r.u8() == 1)
            }
            deliveries = try r.array(elementSize: 28) { r in
                DeliveryRecord(receiptIndex: try r.u64(), recipientLogIndex: try r.u64(), updatedMilliseconds: try r.i64(),
                               center: try r.u16(), state: try r.u8(), reason: try r.u8())
            }
            incomingIDs = try r.array(elementSize: 16) { try $0.uuid() }
            incomingRecords = try r.array(elementSize: 29) { r in
                let record = IncomingRecord(index: try r.u64(), receivedMilliseconds: try r.i64(), acknowledgedMilliseconds: try r.i64(),
                                            sender: try r.u16(), acknowledgedBy: try r.u16(), isAcknowledgement: false)
                let flags = try r.u8()
                return IncomingRecord(index: record.index, receivedMilliseconds: record.receivedMilliseconds,
                                      acknowledgedMilliseconds: record.acknowledgedMilliseconds, sender: record.sender,
                                      acknowledgedBy: record.acknowledgedBy, isAcknowledgement: flags & 1 != 0, read: flags & 2 != 0)
            }
            for (id, index, user) in try r.array(elementSize: 26, { r in (try r.uuid(), try r.u64(), try r.u16()) }) {
                pendingSubmits[id] = (index, user)
            }
            skipped = try r.array(elementSize: 10) { r in (try r.u64(), try r.string()) }
            guard r.isAtEnd else { throw SnapshotError.malformed("bytes after the last field") }
            // Every number a record holds must point inside the ledger.
            let deliveryCount = deliveries.count, centerCount = centers.values.count, userCount = users.values.count
            let stateCount = DeliveryState.allCases.count, reasonCount = Receipt.RefusalReason.allCases.count
            guard outgoingRecords.count == outgoingIDs.count, incomingRecords.count == incomingIDs.count,
                  outgoingRecords.allSatisfy({ Int($0.firstDelivery) + Int($0.deliveryCount) <= deliveryCount
                      && ($0.submittedBy == Names.none || Int($0.submittedBy) < userCount) && $0.index < folded }),
                  deliveries.allSatisfy({ Int($0.center) < centerCount && Int($0.state) < stateCount && Int($0.reason) <= reasonCount }),
                  incomingRecords.allSatisfy({ Int($0.sender) < centerCount && $0.index < folded
                      && ($0.acknowledgedBy == Names.none || Int($0.acknowledgedBy) < userCount) }) else {
                throw SnapshotError.malformed("a record points outside the ledger")
            }
            // Incoming envelopes are keyed on (sender, id): one id from two senders is two envelopes.
            let records = incomingRecords
            guard let outgoing = UUIDPositions(unique: outgoingIDs),
                  let incoming = UUIDPositions(unique: incomingIDs, same: { records[$0].sender == records[$1].sender }) else {
                throw SnapshotError.malformed("an envelope id occurs twice")
            }
            outgoingPositions = outgoing
            incomingPositions = incoming
            self.folded = folded
            self.applied = folded
            self.snapshotRoot = Array(root)
            self.snapshotTimesNeedLog = magic == Self.snapshotMagicVersion1
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }
}

extension Ledger {
    /// Sets the time of every delivery still waiting to the time the log gives its
    /// envelope's entry (`loggedTime`, milliseconds by log index), as a fold from the
    /// start would: what a version 1 snapshot may hold otherwise.
    mutating func restoreLoggedTimes(_ loggedTime: (UInt64) throws -> Int64) rethrows {
        for position in outgoingRecords.indices {
            let waiting = deliveryRange(outgoingRecords[position]).filter { Self.isPending(deliveries[$0].state) }
            guard !waiting.isEmpty else { continue }
            let time = try loggedTime(outgoingRecords[position].index)
            for delivery in waiting { deliveries[delivery].updatedMilliseconds = time }
        }
        snapshotTimesNeedLog = false
    }
}

/// Appends little-endian fields to a byte buffer.
struct SnapshotWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func uuid(_ id: UUID) { withUnsafeBytes(of: id.uuid) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u32(UInt32(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
    mutating func strings(_ list: [String]) { array(list) { $0.string($1) } }
    mutating func array<T>(_ items: [T], _ write: (inout SnapshotWriter, T) -> Void) {
        u64(UInt64(items.count))
        for item in items { write(&self, item) }
    }
}

/// Reads what `SnapshotWriter` wrote; every length is checked against the bytes left.
struct SnapshotReader {
    struct Truncated: Error, CustomStringConvertible { var description: String { "it ends early" } }
    private var bytes: ArraySlice<UInt8>
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    var isAtEnd: Bool { bytes.isEmpty }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count >= n else { throw Truncated() }
        defer { bytes = bytes.dropFirst(n) }
        return bytes.prefix(n)
    }
    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let raw = try take(MemoryLayout<T>.size)
        return raw.reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }
    mutating func u8() throws -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws -> UInt64 { try integer(UInt64.self) }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    mutating func uuid() throws -> UUID {
        let raw = Array(try take(16))
        return UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                           raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]))
    }
    mutating func string() throws -> String {
        let length = Int(try u32())
        guard let text = String(validating: try take(length), as: UTF8.self) else { throw Truncated() }
        return text
    }
    mutating func strings() throws -> [String] { try array(elementSize: 4) { try $0.string() } }
    /// `elementSize`: the fewest bytes one element takes, to refuse a count the bytes cannot hold.
    mutating func array<T>(elementSize: Int, _ read: (inout SnapshotReader) throws -> T) throws -> [T] {
        let count = try u64()
        guard count <= UInt64(bytes.count / max(elementSize, 1)) else { throw Truncated() }
        var items: [T] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count { items.append(try read(&self)) }
        return items
    }
}
