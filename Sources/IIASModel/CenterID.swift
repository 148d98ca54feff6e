/// A national center's identity in the exchange, as it appears in certificates
/// (`iias:center:ID`), envelopes and notifications: two upper-case letters (the
/// state, ISO 3166-1 alpha-2) optionally followed by `-` and a unit code, e.g. `AZ`,
/// `GE`, `UA-SBU`. Parsing is strict so that one center never has two spellings.
public struct CenterID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts exactly `[A-Z]{2}(-[A-Z0-9]{1,16})?`; returns nil for anything else.
    public init?(rawValue: String) {
        guard CenterID.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init?(_ text: String) { self.init(rawValue: text) }

    public var description: String { rawValue }

    public static func < (lhs: CenterID, rhs: CenterID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The grammar, checked byte by byte (no regex engine, no locale).
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 2 || (bytes.count >= 4 && bytes.count <= 19) else { return false }
        func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard isUpper(bytes[0]), isUpper(bytes[1]) else { return false }
        if bytes.count == 2 { return true }
        guard bytes[2] == 0x2D else { return false }
        return bytes[3...].allSatisfy { isUpper($0) || isDigit($0) }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = CenterID(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a center id (expected e.g. AZ or UA-SBU): \(text.prefix(40))")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
