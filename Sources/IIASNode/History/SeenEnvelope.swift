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

    /// Reads one line (without its newline); nil when it is not one.
    init?(line: Substring) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, let sender = CenterID(String(fields[0])), let id = UUID(uuidString: String(fields[1])),
              fields[2].count == 64, let digest = [UInt8](hexString: fields[2]) else { return nil }
        self.init(key: EnvelopeKey(sender: sender, id: id), sha256: digest)
    }

    /// The frame body of `items` (at most ``maximumPerFrame``).
    static func body(_ items: some Collection<SeenEnvelope>) -> [UInt8] {
        Array(items.prefix(maximumPerFrame).map(\.line).joined().utf8)
    }

    /// Reads a frame body; nil when any line is not a SEEN line or there are too many.
    static func parse(_ body: [UInt8]) -> [SeenEnvelope]? {
        guard let text = String(validating: body, as: UTF8.self), text.hasSuffix("\n") else { return nil }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count <= maximumPerFrame else { return nil }
        var items: [SeenEnvelope] = []
        for line in lines {
            guard let item = SeenEnvelope(line: line) else { return nil }
            items.append(item)
        }
        return items
    }
}
