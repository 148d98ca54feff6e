import Foundation
import IIASAPI
import IIASModel

/// The configuration file as a document, before any value is read: valid JSON (or the
/// line and column where it stops being JSON), an object, each key written once, and no
/// key the node does not know — a misspelt key (`"peer"` for `"peers"`) is an error that
/// names the nearest known one, not a setting silently ignored.
extension NodeConfiguration {
    /// Every key the node reads, dotted for nested objects. `Values` asserts each read
    /// against it, so a key read but not listed here fails the tests.
    public static let knownKeys: [String] = [
        "center", "keys", "keyPassphraseFile", "keyPassphraseCredential", "ca", "crl", "certificates", "listen", "peers", "data",
        "api.socket", "api.group", "api.users", "metrics.listen",
        "limits.maxFrameBytes", "limits.queueDepth", "limits.window", "limits.maxAttachmentBytes", "limits.attachmentSpareBytes", "limits.sentAttachmentRetentionDays", "limits.retryInitialSeconds", "limits.retryMaxSeconds",
        "limits.clockSkewSeconds", "limits.maxRequestBytes", "limits.maxEventBacklogBytes", "limits.logPreallocationBytes",
        "limits.maxPeerConnections", "limits.maxPeerConnectionsPerAddress", "limits.maxAPIConnections",
        "limits.maxAPIConnectionsPerUser", "limits.apiRequestSeconds",
        "treeHeadIntervalSeconds", "certificateRescanSeconds", "envelopeVersion",
        "requests.deadlineHours.flash", "requests.deadlineHours.urgent", "requests.deadlineHours.routine", "requests.checkSeconds",
        "witness.enabled", "witness.quorum", "witness.proofWaitSeconds",
    ]

    /// Checks the file's bytes as a document (see the extension's comment).
    static func checkDocument(_ bytes: [UInt8], file: String) throws(Problem) {
        let parsed: JSONParser.Result
        do { parsed = try JSONParser.parse(bytes) } catch {
            let place = error.offset.map { offset in
                let (line, column) = Self.lineAndColumn(of: offset, in: bytes)
                return " at line \(line), column \(column)"
            } ?? ""
            let what = error.message.replacingOccurrences(of: "not valid JSON: ", with: "")
            throw Problem(key: "(file)", message: "\(file) is not valid JSON\(place): \(what) (fix the file; `iias node run --help` shows an example)")
        }
        guard case .object(let document) = parsed.value else {
            throw Problem(key: "(file)", message: "\(file) must hold one JSON object ({ \"center\": …, … }), found \(parsed.value.typeName)")
        }
        if let duplicate = parsed.duplicateKeys.first {
            let key = duplicate.split(separator: "/").joined(separator: ".")
            throw Problem(key: key, message: "written more than once (keep one)")
        }
        try checkKeys(document, prefix: "")
    }

    private static func checkKeys(_ object: [String: JSONValue], prefix: String) throws(Problem) {
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let key = prefix + name
            let isSection = knownKeys.contains { $0.hasPrefix(key + ".") }
            if isSection {
                guard case .object(let inner) = value else {
                    throw Problem(key: key, message: "expected an object ({ … }), found \(value.typeName)")
                }
                try checkKeys(inner, prefix: key + ".")
            } else if !knownKeys.contains(key) {
                let hint = nearestKey(to: key).map { "; did you mean \"\($0)\"?" } ?? "; `iias node run --help` lists every key"
                throw Problem(key: key, message: "unknown key\(hint)")
            }
        }
    }

    /// The known key closest to `key` by edit distance, if it is close enough to be a
    /// slip (at most a third of its length, and never more than 3 edits).
    static func nearestKey(to key: String) -> String? {
        let candidates = knownKeys + Set(knownKeys.compactMap { $0.split(separator: ".").first.map(String.init) }).sorted()
        let scored = candidates.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= min(3, max(1, key.count / 3)) ? best.0 : nil
    }

    /// Levenshtein distance (insertions, deletions, substitutions), over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// 1-based line and column (in characters of that line) of byte `offset`.
    static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        let before = bytes.prefix(offset)
        let line = before.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let start = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return (line, String(decoding: bytes[start..<min(offset, bytes.count)], as: UTF8.self).count + 1)
    }
}
