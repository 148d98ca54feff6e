import Foundation

/// UUIDs as the formats spell them (lower case, 8-4-4-4-12), and fresh ones, without
/// Foundation's costs on Linux: `UUID()` opens, reads and closes /dev/urandom for every
/// id, `uuidString` goes through printf and `UUID(uuidString:)` through sscanf; each
/// notification, receipt and event pays for several.
extension UUID {
    /// A random (version 4, RFC 9562) UUID from the system's CSPRNG (getrandom).
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | 0x40   // version 4
            raw[8] = raw[8] & 0x3F | 0x80   // variant 10
            return UUID(uuid: raw.load(as: uuid_t.self))
        }
    }

    /// The canonical, lower-case spelling a notification and an envelope header use.
    package var canonicalString: String { spelled(with: Self.hexDigits) }

    /// Foundation's `uuidString` spelling (upper case), which the local API's JSON has
    /// always used, without its printf: a sender writes several per notification.
    package var upperCaseString: String { spelled(with: Self.upperCaseHexDigits) }

    private func spelled(with digits: [UInt8]) -> String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                var at = 0
                for (i, byte) in raw.enumerated() {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[at] = 0x2D; at += 1 }
                    out[at] = digits[Int(byte >> 4)]
                    out[at + 1] = digits[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }

    /// Exactly the canonical spelling: 36 characters, lower-case hex, dashes at 8, 13,
    /// 18 and 23; nil for anything else (upper case, braces, missing dashes).
    package init?(canonical text: String) { self.init(text, upperCase: false) }

    /// What `UUID(uuidString:)` reads — the same layout, hex digits of either case —
    /// without its sscanf.
    package init?(eitherCase text: String) { self.init(text, upperCase: true) }

    private init?(_ text: String, upperCase: Bool) {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var utf8 = text.utf8.makeIterator()
            var count = 0, written = 0, high: UInt8?
            while let c = utf8.next() {
                defer { count += 1 }
                guard count < 36 else { return false }
                if count == 8 || count == 13 || count == 18 || count == 23 {
                    guard c == 0x2D else { return false }
                    continue
                }
                let nibble: UInt8
                switch c {
                case 0x30...0x39: nibble = c - 0x30
                case 0x61...0x66: nibble = c - 0x61 + 10
                case 0x41...0x46 where upperCase: nibble = c - 0x41 + 10
                default: return false
                }
                if let h = high { out[written] = h << 4 | nibble; written += 1; high = nil } else { high = nibble }
            }
            return count == 36
        }
        guard parsed else { return nil }
        self.init(uuid: bytes)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upperCaseHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}
