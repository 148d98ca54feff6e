import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What a node, as a recipient, knows of the proofs it owes its senders: the cosignatures
/// gathered for its recent checkpoints, the newest checkpoint that met the witness quorum,
/// and per sender the log size up to which that sender has acknowledged its proofs. The
/// last two are durable (`DATA/proofs/quorum.json`, `DATA/proofs/sent-through.json`, the
/// latter written at most once a second), so a restart resumes where the senders left off,
/// or a second before, and a sender never misses a proof.
struct ReceiptProofState: Sendable {
    /// A checkpoint of ours and the peers whose cosignature of it we verified and kept.
    struct Gathered: Sendable {
        var note: SignedNote
        var witnesses: Set<CenterID>
    }

    /// The newest checkpoint of ours with a quorum of cosignatures, and when it got it.
    struct Quorum: Codable, Sendable {
        var note: String
        var reachedAt: Date
    }

    /// Checkpoints whose cosignatures are still being gathered (newest last).
    var gathered: [Gathered] = []
    /// How many checkpoints are gathered for at once: a witness answers the newest
    /// offer, so older ones never complete.
    static let gatheredLimit = 8
    var loaded = false
    var quorum: Quorum? {
        didSet {
            quorumNote = quorum.flatMap { try? SignedNote(parsing: $0.note) }
            quorumCheckpoint = try? quorumNote?.checkpoint()
        }
    }
    /// `quorum`'s note and checkpoint, read once when it is set (each batch of proofs and
    /// each `iias status` need them).
    private(set) var quorumNote: SignedNote?
    private(set) var quorumCheckpoint: Checkpoint?
    /// Sender → our log size up to which it acknowledged our proofs.
    var sentThrough: [String: UInt64] = [:]
    /// `sentThrough` changed since it was last written. It is written at most once a second
    /// and at stop, not once an acknowledgement: what a crash loses is at most a second of
    /// acknowledgements, whose proofs go again and the sender counts as kept already.
    var sentThroughUnsaved = false
    var sentThroughSavedAt: ContinuousClock.Instant?
    /// Sender → the `through` of the batch on the wire to it.
    var inFlight: [CenterID: UInt64] = [:]
    /// Entries read from the log per batch at most (a sender offline for long is served
    /// in steps, one batch per acknowledgement).
    static let scanLimit: UInt64 = 4096
    /// Sender → each proofs file opened (`DATA/proofs/CENTER.proofs`).
    var files: [CenterID: ProofsFile] = [:]
    /// Sender → its notifications we logged since we started, in log order, so that a
    /// batch is built without reading the log back.
    var owed: [CenterID: [Owed]] = [:]
    /// The log size from which every notification logged is in `owed` (set when the
    /// node first logs one or loads this state, whichever comes first).
    var trackingFrom: UInt64?
    /// Sender → a log size below which its `owed` lost entries (the oldest are dropped
    /// past the limit); batches read the log below it and below `trackingFrom`.
    var owedFrom: [CenterID: UInt64] = [:]
    /// Notifications held per sender at most (about 80 bytes each).
    static let owedLimit = 1 << 16

    /// A notification logged from a sender: what its proof needs but the log's hashes.
    struct Owed: Sendable {
        var index: UInt64
        var timeMilliseconds: Int64
        var envelopeID: UUID
        var sha256: [UInt8]
    }

    /// Notes a notification logged at `index` from `sender`.
    mutating func owe(_ owed: Owed, by sender: CenterID) {
        if trackingFrom == nil { trackingFrom = owed.index }
        self.owed[sender, default: []].append(owed)
        if self.owed[sender]!.count > Self.owedLimit, let dropped = self.owed[sender]?.removeFirst() {
            owedFrom[sender] = max(owedFrom[sender] ?? 0, dropped.index + 1)
        }
    }

    /// `sender` holds our proofs up to `through`: what is below it is owed no more.
    mutating func settled(_ sender: CenterID, through: UInt64) {
        owed[sender]?.removeAll { $0.index < through }
    }

    /// The log size from which `owed` holds all of `sender`'s notifications (nil: none).
    func tracked(_ sender: CenterID) -> UInt64? {
        trackingFrom.map { max($0, owedFrom[sender] ?? 0) }
    }

    /// Adds `peer`'s verified cosignature line(s) of `note`; returns the note with every
    /// cosignature gathered for its body once `threshold` distinct peers cosigned it.
    mutating func add(_ note: SignedNote, by peer: CenterID, threshold: Int) -> SignedNote? {
        let position: Int
        if let found = gathered.firstIndex(where: { $0.note.body == note.body }) {
            position = found
        } else {
            gathered.append(Gathered(note: SignedNote(body: note.body, signatures: []), witnesses: []))
            if gathered.count > Self.gatheredLimit { gathered.removeFirst() }
            position = gathered.count - 1
        }
        let fresh = note.signatures.filter { !gathered[position].note.signatures.contains($0) }
        gathered[position].note = gathered[position].note.adding(fresh)
        gathered[position].witnesses.insert(peer)
        guard gathered[position].witnesses.count >= threshold else { return nil }
        return gathered[position].note
    }
}

/// Where receipt proofs live under the data directory.
struct ReceiptProofFiles: Sendable {
    let directory: String

    init(dataDirectory: String) { directory = dataDirectory + "/proofs" }

    var quorumFile: String { directory + "/quorum.json" }
    var sentThroughFile: String { directory + "/sent-through.json" }

    /// `DATA/proofs/CENTER/ID.tlog-proof`: where a node from before the proofs files kept
    /// the bundle CENTER sent for our envelope ID (read still, never written).
    func bundle(from center: CenterID, envelope id: UUID) -> String {
        directory + "/\(center.rawValue)/\(id.uuidString.lowercased()).tlog-proof"
    }

    func load(into state: inout ReceiptProofState) {
        state.loaded = true
        if let bytes = try? DurableFile.read(quorumFile, limit: 1 << 20) {
            state.quorum = try? JSONDecoder().decode(ReceiptProofState.Quorum.self, from: Data(bytes))
        }
        if let bytes = try? DurableFile.read(sentThroughFile, limit: 1 << 20) {
            state.sentThrough = (try? JSONDecoder().decode([String: UInt64].self, from: Data(bytes))) ?? [:]
        }
    }

    func save(_ quorum: ReceiptProofState.Quorum) throws {
        try makeDirectory(directory)
        try DurableFile.write(Array(try JSONEncoder().encode(quorum)), to: quorumFile)
    }

    func save(sentThrough: [String: UInt64]) throws {
        try makeDirectory(directory)
        try DurableFile.write(Array(try JSONEncoder().encode(sentThrough)), to: sentThroughFile)
    }

    /// `DATA/proofs/CENTER.proofs`: every proof CENTER sent us (``ProofsFile``).
    func proofsFile(of center: CenterID) -> String { directory + "/\(center.rawValue).proofs" }

    /// Opens `center`'s proofs file, creating the directory first.
    func open(_ center: CenterID) throws -> ProofsFile {
        try makeDirectory(directory)
        return try ProofsFile(path: proofsFile(of: center))
    }

    /// A bundle kept as its own file by a node from before the proofs files, still read.
    func legacyBundle(from center: CenterID, envelope id: UUID) -> [UInt8]? {
        (try? DurableFile.read(bundle(from: center, envelope: id), limit: TlogProof.maximumBytes)) ?? nil
    }

    /// Whether a node from before the proofs files kept bundles from `center` at all.
    func hasLegacyFolder(of center: CenterID) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory + "/\(center.rawValue)", isDirectory: &isFolder) && isFolder.boolValue
    }

    /// Whether a node from before the proofs files kept a bundle of `id` from `center`.
    func hasLegacyBundle(from center: CenterID, envelope id: UUID) -> Bool {
        FileManager.default.fileExists(atPath: bundle(from: center, envelope: id))
    }

    private func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
