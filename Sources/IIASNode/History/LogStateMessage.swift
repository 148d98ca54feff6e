import Foundation
import IIASLog

/// The body of a LOG_STATE frame (0x27): what the sender holds of the receiver's log, or
/// of its own log as the receiver cosigned it. A node restored from an older copy of its
/// data learns from it that its witnesses hold more of its log than it does; a witness
/// whose stored state was rolled back is shown the cosignature it made.
///
/// UTF-8 text, the first line saying which:
/// - `cosigned\n` then a signed checkpoint note carrying the log's signature and one
///   witness cosignature;
/// - `none\n`: the sender, as a witness, holds no checkpoint of the receiver's log;
/// - `refill SIZE\n`: the sender's log lost what it had logged at index SIZE and beyond:
///   resend the envelopes whose receipts name such an index.
/// - `consistency FROM TO\nORIGIN\n`: the sender, a witness comparing a checkpoint another
///   witness gossiped with its own of another size, asks the receiver's log for the
///   consistency proof from size FROM to size TO of that origin (0 < FROM < TO).
/// - `proof FROM TO\nORIGIN\n` then one base64 hash a line (at most 63): the log's answer.
enum LogStateMessage: Sendable, Equatable {
    case cosigned(SignedNote)
    case none
    case refill(fromIndex: UInt64)
    case consistencyAsked(ConsistencyQuestion)
    case consistencyProof(ConsistencyQuestion, proof: [[UInt8]])

    /// A note and its header line fit in this many bytes.
    static let maximumBytes = 80 << 10

    var bytes: [UInt8] {
        switch self {
        case .cosigned(let note): Array(("cosigned\n" + note.text).utf8)
        case .none: Array("none\n".utf8)
        case .refill(let size): Array("refill \(size)\n".utf8)
        case .consistencyAsked(let question): Array("consistency \(question.from) \(question.to)\n\(question.origin)\n".utf8)
        case .consistencyProof(let question, let proof):
            Array(("proof \(question.from) \(question.to)\n\(question.origin)\n" + proof.map { Data($0).base64EncodedString() + "\n" }.joined()).utf8)
        }
    }

    /// Reads a body; nil when it is not one.
    init?(bytes: [UInt8]) {
        guard bytes.count <= Self.maximumBytes, let text = String(validating: bytes, as: UTF8.self),
              let newline = text.firstIndex(of: "\n") else { return nil }
        let first = text[..<newline], rest = text[text.index(after: newline)...]
        switch first {
        case "cosigned":
            guard let note = try? SignedNote(parsing: String(rest)), (try? note.checkpoint()) != nil else { return nil }
            self = .cosigned(note)
        case "none" where rest.isEmpty:
            self = .none
        case _ where first.hasPrefix("consistency ") || first.hasPrefix("proof "):
            guard let parsed = Self.consistency(first, rest) else { return nil }
            self = parsed
        default:
            guard first.hasPrefix("refill "), rest.isEmpty, let size = UInt64(first.dropFirst(7)), "refill \(size)" == first else { return nil }
            self = .refill(fromIndex: size)
        }
    }
}

extension LogStateMessage {
    /// Reads `consistency FROM TO` or `proof FROM TO`, the origin line and, for a proof, its hashes.
    private static func consistency(_ first: Substring, _ rest: Substring) -> LogStateMessage? {
        let words = first.split(separator: " ", omittingEmptySubsequences: false)
        var lines = rest.split(separator: "\n", omittingEmptySubsequences: false)
        guard words.count == 3, let from = UInt64(words[1]), let to = UInt64(words[2]), "\(words[0]) \(from) \(to)" == first,
              0 < from, from < to, lines.last == "", lines.count >= 2 else { return nil }
        lines.removeLast()
        let origin = String(lines.removeFirst())
        guard Checkpoint.logOrigin(origin) != nil else { return nil }
        let question = ConsistencyQuestion(origin: origin, from: from, to: to)
        if words[0] == "consistency" { return lines.isEmpty ? .consistencyAsked(question) : nil }
        guard lines.count <= AddCheckpointRequest.maximumProofLines else { return nil }
        var proof: [[UInt8]] = []
        for line in lines {
            guard let hash = Data(base64Encoded: String(line)), hash.count == 32 else { return nil }
            proof.append(Array(hash))
        }
        return .consistencyProof(question, proof: proof)
    }
}

/// A witness's question to a log: is its tree of size `from` a prefix of its tree of size
/// `to`, under `origin`? (One side is the witness's own state, the other a gossiped checkpoint.)
struct ConsistencyQuestion: Sendable, Equatable, Hashable {
    var origin: String
    var from: UInt64
    var to: UInt64
}

/// The epoch a node's log signs its tree heads in, kept in `DATA/witness/epoch.json` once a
/// restore began the second: the epoch, the log's size when the restore was found (what
/// the peers refill from), and the last checkpoint of the previous epoch a witness cosigned.
struct LogEpochFile: Codable, Sendable, Equatable {
    var epoch: Int
    var restoredSize: UInt64
    /// The previous epoch's newest cosigned checkpoint (a signed note with the cosignature).
    var previous: String
    /// The witness that showed it.
    var shownBy: String
    /// The peers asked to refill (once each, whenever their link is first up).
    var refilled: [String]
    /// The witnesses shown a tree head of the previous epoch our log signed after the restore
    /// that contradicts what they cosigned (``Node/discloseForkedHead(to:holding:)``), once each.
    var disclosedTo: [String]? = nil
    /// The index of the epoch's first entry (nil in files written before it was kept): the
    /// tree heads of the previous origin signed since the restore lie before it.
    var startIndex: UInt64? = nil

    static func path(dataDirectory: String) -> String { dataDirectory + "/witness/epoch.json" }
    /// The marker a backup carries (`DATA/restored`): a node started from it signs no tree head
    /// until its witnesses told it what they cosigned of its log.
    static func markerPath(dataDirectory: String) -> String { dataDirectory + "/restored" }

    static func read(dataDirectory: String) -> LogEpochFile? {
        guard let bytes = try? DurableFile.read(path(dataDirectory: dataDirectory), limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(LogEpochFile.self, from: Data(bytes))
    }

    func write(dataDirectory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(atPath: dataDirectory + "/witness", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try DurableFile.write(Array(try encoder.encode(self)), to: Self.path(dataDirectory: dataDirectory))
    }
}
