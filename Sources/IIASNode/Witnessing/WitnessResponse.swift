import Foundation
import IIASLog
import IIASTransport

/// The body of a WITNESS_RESPONSE: a witness's answer to one add-checkpoint request, with
/// the status C2SP tlog-witness gives it over HTTP, carried over the peer link instead.
///
/// Text: "STATUS\n" then the body — for 200 the cosignature line(s) ("— NAME BASE64\n"),
/// for 409 the size the witness holds ("SIZE\n"), otherwise one line saying why.
struct WitnessResponse: Sendable, Equatable {
    var status: Int
    var body: String

    /// Status a node without a witness key answers with: it keeps no state to cosign from.
    static let notAWitness = 501
    /// A note, a few cosignature lines or a reason fit in this many bytes.
    static let maximumBytes = Int(FrameType.maximumWitnessResponseLength) - 1

    init(status: Int, body: String) {
        self.status = status
        self.body = body
    }

    /// 200 with the witness's cosignature line.
    init(cosignature: Cosignature) { self.init(status: 200, body: cosignature.line) }

    /// A refusal: the specification's status and the reason on one line.
    init(refusal: WitnessRefusal) { self.init(status: refusal.statusCode, reason: refusal.description) }

    init(status: Int, reason: String) {
        self.init(status: status, body: String(reason.prefix(512).map { $0.isNewline ? " " : $0 }) + "\n")
    }

    /// 409: the size of the tree the witness last cosigned for this log.
    init(conflict storedSize: UInt64) { self.init(status: 409, body: "\(storedSize)\n") }

    var bytes: [UInt8] { Array("\(status)\n\(body)".utf8) }

    /// Reads a response body; nil when it is not one.
    init?(bytes: [UInt8]) {
        guard bytes.count <= Self.maximumBytes, let text = String(validating: bytes, as: UTF8.self),
              let newline = text.firstIndex(of: "\n"), let status = Int(text[..<newline]), (100...599).contains(status) else { return nil }
        self.init(status: status, body: String(text[text.index(after: newline)...]))
    }

    /// A 409's size, nil for any other answer or a body that is not "SIZE\n".
    var conflictSize: UInt64? {
        guard status == 409, body.hasSuffix("\n"), let size = UInt64(body.dropLast()), String(size) == body.dropLast() else { return nil }
        return size
    }

    /// A 200's cosignature lines, nil for any other answer or lines that are not signatures.
    var cosignatureLines: [SignedNote.Signature]? {
        guard status == 200, !body.isEmpty, let lines = try? SignedNote.signatures(parsing: Substring(body)) else { return nil }
        return lines
    }

    /// The reason of a refusal, as one line.
    var reason: String { body.trimmingCharacters(in: .whitespacesAndNewlines) }
}
