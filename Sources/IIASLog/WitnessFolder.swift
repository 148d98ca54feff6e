import Foundation
import IIASCrypto

/// What witnessing leaves on disk under a node's data directory, in one place: the node
/// writes these files and `iias log checkpoint` and auditors read them, so both sides
/// share one layout.
///
/// - `witness/logs/CENTER.json`: as a witness, the latest checkpoint of CENTER's log this
///   node cosigned, with the time (``WitnessState``); replaced before each answer.
/// - `witness/cosigned-by/CENTER.note`: as a log, the latest checkpoint of ours CENTER
///   cosigned: our signed note with CENTER's cosignature line.
/// - `evidence/*.json`: split-view evidence (``SplitViewEvidence``), never overwritten.
///
/// Every write goes through ``DurableFile`` (temporary file, fsync, rename, fsync of the folder).
public struct WitnessFolder: Sendable {
    public let dataDirectory: String

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// The folder of the node whose log directory is `logDirectory` (`DATA/log`).
    public init(logDirectory: String) { self.init(dataDirectory: (logDirectory as NSString).deletingLastPathComponent) }

    /// Largest file read back: a note is at most 64 KiB, a state or evidence file two of them in JSON.
    public static let maximumFileBytes = 256 << 10

    var statesDirectory: String { dataDirectory + "/witness/logs" }
    var cosignedDirectory: String { dataDirectory + "/witness/cosigned-by" }
    public var evidenceDirectory: String { dataDirectory + "/evidence" }

    private struct StoredState: Codable {
        var note: String
        var cosignedAt: UInt64
    }

    // MARK: - As a witness

    /// The state last cosigned for `center`'s log, nil when there is none yet.
    public func state(ofLog center: String) throws -> WitnessState? {
        guard let bytes = try DurableFile.read(statesDirectory + "/\(center).json", limit: Self.maximumFileBytes) else { return nil }
        let stored = try JSONDecoder().decode(StoredState.self, from: Data(bytes))
        return try WitnessState(note: SignedNote(parsing: stored.note), cosignedAt: stored.cosignedAt)
    }

    /// Replaces the state of `center`'s log; durable when this returns.
    public func save(_ state: WitnessState, ofLog center: String) throws {
        try Self.makeDirectory(statesDirectory)
        let bytes = try JSONEncoder().encode(StoredState(note: state.note.text, cosignedAt: state.cosignedAt))
        try DurableFile.write(Array(bytes), to: statesDirectory + "/\(center).json")
    }

    /// Keeps split-view evidence under a name drawn from its origin, size and notes; a file
    /// already there is left as it is (the same evidence found again). Returns its path.
    public func save(_ evidence: SplitViewEvidence) throws -> String { try keep(evidence).path }

    /// Keeps split-view evidence like ``save(_:)``; `new` is false when the same evidence
    /// was kept before (found again: no new alarm is due).
    public func keep(_ evidence: SplitViewEvidence) throws -> (path: String, new: Bool) {
        try Self.makeDirectory(evidenceDirectory)
        let checkpoint = try evidence.received.checkpoint()
        let origin = String(checkpoint.origin.map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let digest = Array(SHA256.hash(Array((evidence.stored.text + evidence.received.text).utf8)).prefix(8)).hexString
        let path = evidenceDirectory + "/\(origin)-\(checkpoint.treeSize)-\(digest).json"
        if FileManager.default.fileExists(atPath: path) { return (path, false) }
        try DurableFile.write(evidence.fileBytes, to: path)
        return (path, true)
    }

    /// The evidence files kept, oldest name first.
    public func evidenceFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: evidenceDirectory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { evidenceDirectory + "/" + $0 }
    }

    // MARK: - As a log

    /// Our latest checkpoint `center` cosigned, with its cosignature line; nil when none.
    public func cosigned(by center: String) -> SignedNote? {
        guard let bytes = try? DurableFile.read(cosignedDirectory + "/\(center).note", limit: Self.maximumFileBytes) else { return nil }
        return try? SignedNote(parsing: String(decoding: bytes ?? [], as: UTF8.self))
    }

    /// Replaces what `center` last cosigned; durable when this returns.
    public func saveCosigned(_ note: SignedNote, by center: String) throws {
        try Self.makeDirectory(cosignedDirectory)
        try DurableFile.write(Array(note.text.utf8), to: cosignedDirectory + "/\(center).note")
    }

    /// The centers that cosigned a checkpoint of ours, by name of their file.
    public func cosigners() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cosignedDirectory)) ?? []
        return names.filter { $0.hasSuffix(".note") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// `note` with every cosignature collected for its exact body: each cosigner's line
    /// from its latest cosigned copy, when that copy is of this very checkpoint.
    public func collected(for note: SignedNote) -> SignedNote {
        var lines: [SignedNote.Signature] = []
        for center in cosigners() {
            guard let copy = cosigned(by: center), copy.body == note.body else { continue }
            lines += copy.signatures.filter { line in !note.signatures.contains(line) && !lines.contains(line) }
        }
        return note.adding(lines)
    }

    static func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
