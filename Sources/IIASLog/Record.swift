import Foundation
/// The type of a log entry.
public enum EntryType: UInt8, Sendable, CaseIterable {
    case sent = 1, received = 2, receipt = 3, treeHead = 4, operatorAction = 5
}

/// One log entry: index u64 BE | time ms i64 BE | type u8 | payload (envelope bytes).
/// The Merkle leaf is the encoded entry (RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || entry)).
public struct LogEntry: Equatable, Sendable {
    public var index: UInt64
    public var timeMilliseconds: Int64
    public var type: EntryType
    public var payload: [UInt8]

    /// When the log recorded the entry.
    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }

    public init(index: UInt64, timeMilliseconds: Int64, type: EntryType, payload: [UInt8]) {
        self.index = index
        self.timeMilliseconds = timeMilliseconds
        self.type = type
        self.payload = payload
    }

    static let fixedSize = 17

    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.fixedSize + payload.count)
        Record.appendBE(index, to: &out)
        Record.appendBE(UInt64(bitPattern: timeMilliseconds), to: &out)
        out.append(type.rawValue)
        out.append(contentsOf: payload)
        return out
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(LogError) {
        guard bytes.count >= Self.fixedSize else { throw .malformedEntry("\(bytes.count) bytes, need \(Self.fixedSize)") }
        let s = bytes.startIndex
        guard let type = EntryType(rawValue: bytes[s + 16]) else { throw .malformedEntry("unknown type \(bytes[s + 16])") }
        self.index = Record.readBE(bytes, at: s)
        self.timeMilliseconds = Int64(bitPattern: Record.readBE(bytes, at: s + 8))
        self.type = type
        self.payload = Array(bytes[(s + Self.fixedSize)...])
    }
}

/// A framed record: u32 BE length | u32 BE CRC32C(entry) | entry.
public enum Record {
    public static let headerSize = 8

    public static func encode(_ entry: LogEntry) -> [UInt8] { encode(encodedEntry: entry.encoded()) }

    /// Appends `entry` framed as a record to `buffer` without intermediate copies;
    /// returns the range of the encoded entry (what the Merkle leaf hashes).
    @discardableResult
    public static func append(_ entry: LogEntry, to buffer: inout [UInt8]) -> Range<Int> {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerSize))
        appendBE(entry.index, to: &buffer)
        appendBE(UInt64(bitPattern: entry.timeMilliseconds), to: &buffer)
        buffer.append(entry.type.rawValue)
        buffer.append(contentsOf: entry.payload)
        let body = (start + headerSize)..<buffer.count
        let crc = buffer[body].withUnsafeBytes { CRC32C.checksum($0) }
        let length = UInt32(body.count)
        for i in 0..<4 {
            buffer[start + i] = UInt8(truncatingIfNeeded: length >> (24 - 8 * i))
            buffer[start + 4 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i))
        }
        return body
    }

    /// Frames an already encoded entry (the writer hashes the same bytes for the Merkle leaf).
    public static func encode(encodedEntry body: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(headerSize + body.count)
        appendBE32(UInt32(body.count), to: &out)
        appendBE32(CRC32C.checksum(body), to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Decodes the record at the start of `bytes`; the length is checked
    /// against `maximumEntrySize` before anything is copied.
    public static func decode(_ bytes: ArraySlice<UInt8>, maximumEntrySize: Int) throws(LogError) -> (entry: LogEntry, size: Int) {
        guard bytes.count >= headerSize else { throw .truncated(needed: headerSize, available: bytes.count) }
        let s = bytes.startIndex
        let length = Int(readBE32(bytes, at: s))
        guard length <= maximumEntrySize else { throw .recordTooLarge(length: length, maximum: maximumEntrySize) }
        guard bytes.count - headerSize >= length else { throw .truncated(needed: headerSize + length, available: bytes.count) }
        let stored = readBE32(bytes, at: s + 4)
        let body = bytes[(s + headerSize)..<(s + headerSize + length)]
        let computed = body.withUnsafeBytes { CRC32C.checksum($0) }
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        return (try LogEntry(decoding: body), headerSize + length)
    }

    static func appendBE(_ v: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    static func appendBE32(_ v: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    static func readBE(_ b: ArraySlice<UInt8>, at i: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(b[i + k]) }
        return v
    }

    static func readBE32(_ b: ArraySlice<UInt8>, at i: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(b[i + k]) }
        return v
    }
}
