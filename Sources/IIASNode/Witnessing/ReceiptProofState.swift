import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IIASCrypto
import IIASLog
import IIASModel

/// What a node, as a recipient, knows of the proofs it owes its senders: the cosignatures
/// gathered for its recent checkpoints, the newest checkpoint that met the witness quorum,
/// and per sender the log size up to which that sender has acknowledged its proofs. The
/// last two are durable (`DATA/proofs/quorum.json`, `DATA/proofs/sent-through.json`), so a
/// restart resumes where the senders left off and a sender never misses a proof.
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
    var quorum: Quorum?
    /// Sender → our log size up to which it acknowledged our proofs.
    var sentThrough: [String: UInt64] = [:]
    /// Sender → the `through` of the batch on the wire to it.
    var inFlight: [CenterID: UInt64] = [:]
    /// Entries read from the log per batch at most (a sender offline for long is served
    /// in steps, one batch per acknowledgement).
    static let scanLimit: UInt64 = 4096

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

    var quorumCheckpoint: Checkpoint? { quorum.flatMap { try? SignedNote(parsing: $0.note).checkpoint() } }
}

/// Where receipt proofs live under the data directory.
struct ReceiptProofFiles: Sendable {
    let directory: String

    init(dataDirectory: String) { directory = dataDirectory + "/proofs" }

    var quorumFile: String { directory + "/quorum.json" }
    var sentThroughFile: String { directory + "/sent-through.json" }

    /// `DATA/proofs/CENTER/ID.tlog-proof`: the bundle CENTER sent for our envelope ID.
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

    /// Keeps verified bundles, each `(bytes, center, id)`; for each, false when one is
    /// kept already (the first stays). Durable when this returns, at the price of one
    /// filesystem sync for the whole batch rather than two per file: each file is written
    /// under a temporary name and renamed, then syncfs(2) flushes them and the renames.
    /// A file a crash left empty before that sync is written again (the batch was not
    /// acknowledged, so the recipient sends it again).
    func keep(_ bundles: [(bytes: [UInt8], center: CenterID, id: UUID)]) throws -> [Bool] {
        var written: [Bool] = []
        for (bytes, center, id) in bundles {
            let path = bundle(from: center, envelope: id)
            if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0 {
                written.append(false)
                continue
            }
            try makeDirectory(directory + "/\(center.rawValue)")
            guard FileManager.default.createFile(atPath: path + ".tmp", contents: Data(bytes), attributes: [.posixPermissions: 0o600]),
                  rename(path + ".tmp", path) == 0 else { throw LogStoreError.io("write \(path)", errno: errno) }
            written.append(true)
        }
        if written.contains(true) { try Self.syncFileSystem(of: directory) }
        return written
    }

    /// syncfs(2) on the filesystem holding `path` (Glibc's Swift module does not export it).
    private static func syncFileSystem(of path: String) throws {
        typealias SyncFS = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else { throw LogStoreError.io("syncfs missing", errno: ENOSYS) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LogStoreError.io("open \(path)", errno: errno) }
        defer { close(fd) }
        guard unsafeBitCast(symbol, to: SyncFS.self)(fd) == 0 else { throw LogStoreError.io("syncfs \(path)", errno: errno) }
    }

    func read(from center: CenterID, envelope id: UUID) -> [UInt8]? {
        (try? DurableFile.read(bundle(from: center, envelope: id), limit: TlogProof.maximumBytes)) ?? nil
    }

    private func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
