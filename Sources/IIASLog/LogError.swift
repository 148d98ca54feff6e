/// Why a log record, proof or tree could not be used.
public enum LogError: Error, Equatable, CustomStringConvertible {
    /// The record's declared length exceeds the configured maximum; nothing was allocated.
    case recordTooLarge(length: Int, maximum: Int)
    /// Fewer bytes than the record header or its declared length.
    case truncated(needed: Int, available: Int)
    /// The stored CRC32C does not match the entry bytes.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// The entry is shorter than its fixed fields or has an unknown type.
    case malformedEntry(String)
    /// A proof was requested for indices outside the tree.
    case indexOutOfRange(index: UInt64, treeSize: UInt64)

    public var description: String {
        switch self {
        case let .recordTooLarge(length, maximum): "record length \(length) exceeds maximum \(maximum)"
        case let .truncated(needed, available): "truncated record: needed \(needed) bytes, \(available) available"
        case let .checksumMismatch(stored, computed):
            "CRC32C mismatch: stored \(String(stored, radix: 16)), computed \(String(computed, radix: 16))"
        case let .malformedEntry(why): "malformed entry: \(why)"
        case let .indexOutOfRange(index, treeSize): "index \(index) out of range for tree size \(treeSize)"
        }
    }
}
