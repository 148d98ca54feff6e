import Foundation
import IIASAPI
import IIASCrypto
import IIASModel

/// One line of a SEEN_ENVELOPES frame (0x24): a notification the sending node logged,
/// named by (sender, id) and the SHA-256 of its bytes. Co-recipients compare these with
/// what they logged, so a sender cannot seal two contents under one id unseen.
///
/// Body: UTF-8 lines `SENDER ID SHA256-HEX\n`, at most ``maximumPerFrame`` lines.
struct SeenEnvelope: Sendable, Hashable {
    var key: EnvelopeKey
    var sha256: [UInt8]

    /// Lines in one frame (about 100 bytes each).
    static let maximumPerFrame = 512

    var line: String { "\(key.sender.rawValue) \(key.id.uuidString.lowercased()) \(sha256.hexString)\n" }

    init(key: EnvelopeKey, sha256: [UInt8]) {
        self.key = key
        self.sha256 = sha256
    }

    /// Reads one line (without its newline) from its bytes, field by field at their fixed
    /// places from the end (a line is read per co-recipient per notification); nil when it
    /// is not one.
    init?(line: ArraySlice<UInt8>) {
        let space = UInt8(ascii: " "), idLength = 36, hexLength = 64
        let hexStart = line.endIndex - hexLength, idStart = hexStart - 1 - idLength
        guard line.count > idLength + hexLength + 2, line[hexStart - 1] == space, line[idStart - 1] == space,
              let sender = CenterID(String(decoding: line[line.startIndex..<(idStart - 1)], as: UTF8.self)),
              let id = UUID(uuidString: String(decoding: line[idStart..<(hexStart - 1)], as: UTF8.self)),
              let digest = Self.digest(hex: line[hexStart...]) else { return nil }
        self.init(key: EnvelopeKey(sender: sender, id: id), sha256: digest)
    }

    /// 64 hex digits (either case) as 32 bytes.
    private static func digest(hex: ArraySlice<UInt8>) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var bytes = [UInt8](repeating: 0, count: hex.count / 2)
        for (n, at) in stride(from: hex.startIndex, to: hex.endIndex, by: 2).enumerated() {
            guard let high = nibble(hex[at]), let low = nibble(hex[at + 1]) else { return nil }
            bytes[n] = high << 4 | low
        }
        return bytes
    }

    /// The frame body of `items` (at most ``maximumPerFrame``).
    static func body(_ items: some Collection<SeenEnvelope>) -> [UInt8] {
        Array(items.prefix(maximumPerFrame).map(\.line).joined().utf8)
    }

    /// Reads a frame body; nil when any line is not a SEEN line or there are too many.
    static func parse(_ body: [UInt8]) -> [SeenEnvelope]? {
        guard body.last == UInt8(ascii: "\n") else { return nil }
        var items: [SeenEnvelope] = []
        var start = body.startIndex
        while start < body.endIndex {
            guard items.count < maximumPerFrame, let end = body[start...].firstIndex(of: UInt8(ascii: "\n")),
                  let item = SeenEnvelope(line: body[start..<end]) else { return nil }
            items.append(item)
            start = end + 1
        }
        return items
    }
}
