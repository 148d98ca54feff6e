import Foundation

/// Readers for the value types that recur across the notification.
extension DocumentReader {
    func uuid(_ value: JSONValue, at path: String) -> UUID? {
        let text = token(value, at: path, expected: "a lower-case UUID (8-4-4-4-12 hex digits)", Self.isCanonicalUUID)
        return text.flatMap(UUID.init(canonical:))
    }

    func timestamp(_ value: JSONValue, at path: String) -> Date? {
        let text = token(value, at: path, expected: "an RFC 3339 timestamp such as 2025-03-01T09:30:00Z") { Timestamp.parse($0) != nil }
        return text.flatMap(Timestamp.parse)
    }

    func calendarDate(_ value: JSONValue, at path: String) -> CalendarDate? {
        token(value, at: path, expected: "a date YYYY-MM-DD") { CalendarDate(rawValue: $0) != nil }.flatMap(CalendarDate.init(rawValue:))
    }

    func country(_ value: JSONValue, at path: String) -> CountryCode? {
        token(value, at: path, expected: "an ISO 3166-1 alpha-2 country code such as UA") { CountryCode(rawValue: $0) != nil }
            .flatMap(CountryCode.init(rawValue:))
    }

    func center(_ value: JSONValue, at path: String) -> CenterID? {
        token(value, at: path, expected: "a center id such as AZ or UA-SBU", CenterID.isValid).flatMap(CenterID.init(rawValue:))
    }

    /// A document-local name, `[a-z0-9-]{1,40}`, by which entities refer to each other.
    func localID(_ value: JSONValue, at path: String) -> String? {
        token(value, at: path, expected: "a local id of 1 to 40 characters a-z, 0-9, -", Self.isLocalID)
    }

    static func isLocalID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return (1...40).contains(bytes.count) && bytes.allSatisfy { b in
            (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2D
        }
    }

    /// Lower-case 8-4-4-4-12: the one spelling, so ids compare as strings everywhere.
    static func isCanonicalUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard b == 0x2D else { return false }
            } else {
                guard (0x30...0x39).contains(b) || (0x61...0x66).contains(b) else { return false }
            }
        }
        return true
    }
}
