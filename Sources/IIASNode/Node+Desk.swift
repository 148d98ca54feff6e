import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import Logging

/// Keeping the desk index (`DeskIndex`) level with the ledger without decrypting the log
/// on the actor: received notifications bring their listing fields with them (decrypted
/// off the actor when they were checked), our own summaries open in a microsecond, and
/// anything else — the entries after the saved copy, or a whole log — is read by one
/// background reader, a batch at a time, off the actor.
extension Node {
    /// Sent entries read on the actor when the reader has no more than this many to catch
    /// up (an outbox summary opens in microseconds); beyond it they wait for the reader.
    static let deskSentOnActor = 64
    /// Entries the reader decrypts per trip off the actor.
    static let deskReaderBatch = 512

    /// Whether every notification in the ledger is in the desk index.
    var deskIsCurrent: Bool { desk.covers(ledger) }

    /// How far the desk index is, for a view that has to say it is not there yet.
    var deskProgress: String {
        let done = desk.incomingSeen + desk.outgoingSeen, all = ledger.incomingIDs.count + ledger.outgoingIDs.count
        return "\(done) of \(all) notifications read (\(all == 0 ? 100 : done * 100 / all)%)"
    }

    /// Takes in, in log order, every entry whose fields are at hand; starts the reader for
    /// the rest.
    func advanceDesk() {
        while desk.incomingSeen < ledger.incomingIDs.count {
            let incoming = ledger.incomingView(at: desk.incomingSeen)
            if incoming.isAcknowledgement {
                desk.add(incoming: incoming, nil)
            } else if let fields = deskReceived.removeValue(forKey: incoming.index) {
                desk.add(incoming: incoming, fields)
            } else {
                break
            }
        }
        let readHere = ledger.outgoingIDs.count - desk.outgoingSeen <= Self.deskSentOnActor
        while desk.outgoingSeen < ledger.outgoingIDs.count {
            let outgoing = ledger.outgoingView(at: desk.outgoingSeen)
            if let fields = deskSent.removeValue(forKey: outgoing.id) {
                desk.add(outgoing: outgoing, fields, center: center)
            } else if readHere || outgoing.isAcknowledgement {
                desk.add(outgoing: outgoing, outgoing.isAcknowledgement ? nil : outboxSummary(outgoing), center: center)
            } else {
                break
            }
        }
        if !deskIsCurrent, deskReader == nil, !stopping {
            deskReader = Task { [weak self] in await self?.readDeskBacklog() }
        }
    }

    /// A received notification's fields, known when it was checked, for `advanceDesk`.
    func deskTakes(_ fields: InboxSummary, at logIndex: UInt64) {
        deskReceived.updateValue(fields, forKey: logIndex)
    }

    /// The reader: decrypts, off the actor, the next entries no one brought fields for,
    /// until the index is level with the ledger.
    private func readDeskBacklog() async {
        defer { deskReader = nil }
        var reported = false, trips = 0
        while !stopping, !Task.isCancelled {
            trips += 1
            // A long first read is saved as it goes, so that a crash does not start it again.
            if trips % 100 == 0 { await saveDeskIndex() }
            advanceDesk()
            if deskIsCurrent { break }
            if !reported {
                logger.info("reading the log for threads and requests", metadata: ["progress": "\(deskProgress)"])
                reported = true
            }
            let (received, sent) = deskBacklog()
            if received.isEmpty, sent.isEmpty { break }
            let log = self.log, crypto = self.crypto
            // On every core: threads and requests wait for it (the receive path does the same).
            let read = (await concurrentMap(received) { ($0.index, Self.readFields(of: $0, log: log, crypto: crypto)) },
                        await concurrentMap(sent) { ($0.id, Self.outboxSummary($0, log: log, crypto: crypto)) })
            // Stopping: the log may have closed under the read, so nothing read now is kept.
            if stopping || Task.isCancelled { break }
            // A notification that does not open is kept as nil fields: taken in as naming nothing.
            for (index, fields) in read.0 { deskReceived.updateValue(fields, forKey: index) }
            for (id, fields) in read.1 { deskSent.updateValue(fields, forKey: id) }
        }
        if reported, deskIsCurrent { logger.info("threads and requests are up to date", metadata: ["progress": "\(deskProgress)"]) }
    }

    /// The next entries, from each list's cursor, that have no fields yet.
    private func deskBacklog() -> (received: [Ledger.Incoming], sent: [Ledger.Outgoing]) {
        var received: [Ledger.Incoming] = [], sent: [Ledger.Outgoing] = []
        var position = desk.incomingSeen
        while position < ledger.incomingIDs.count, received.count < Self.deskReaderBatch {
            let incoming = ledger.incomingView(at: position)
            if !incoming.isAcknowledgement, deskReceived[incoming.index] == nil { received.append(incoming) }
            position += 1
        }
        position = desk.outgoingSeen
        while position < ledger.outgoingIDs.count, sent.count < Self.deskReaderBatch {
            let outgoing = ledger.outgoingView(at: position)
            if !outgoing.isAcknowledgement, deskSent[outgoing.id] == nil { sent.append(outgoing) }
            position += 1
        }
        return (received, sent)
    }

    /// A logged notification's fields, or nil when it does not open (it then names nothing).
    private nonisolated static func readFields(of incoming: Ledger.Incoming, log: LogStore, crypto: NodeCrypto) -> InboxSummary? {
        (try? openStored(incoming, log: log, crypto: crypto)).map { InboxSummary($0.notification, created: $0.created) }
    }

    // MARK: - The saved copy

    static func deskIndexPath(_ configuration: NodeConfiguration) -> String {
        (configuration.dataDirectory as NSString).appendingPathComponent(DeskIndex.fileName)
    }

    /// The saved desk index when it was taken over this log and opens under our key; else
    /// an empty one (the reader reads the log). Why a copy was not used is logged.
    static func loadDeskIndex(configuration: NodeConfiguration, log: LogStore, ledger: Ledger, key: SelfSealingKey, logger: Logger) -> DeskIndex {
        let path = deskIndexPath(configuration)
        guard let bytes = try? DurableFile.read(path, limit: DeskIndex.maxFileBytes) else { return DeskIndex() }
        guard let folded = DeskIndex.folded(ofSealed: bytes), folded <= log.count,
              let root = try? log.merkleTree().rootHash(treeSize: folded),
              let index = DeskIndex.opened(bytes, folded: folded, root: root, key: key),
              index.incomingSeen <= ledger.incomingIDs.count, index.outgoingSeen <= ledger.outgoingIDs.count else {
            logger.notice("reading the log for threads and requests instead of the saved desk index",
                          metadata: ["file": "\(path)", "reason": "it was taken over another log or sealed under another key"])
            return DeskIndex()
        }
        return index
    }

    /// Writes the desk index beside the ledger snapshot, bound to the log's root over the
    /// entries the ledger has folded (its positions come from them). A failure is logged.
    func saveDeskIndex() async {
        advanceDesk()
        let cover = DeskCover(incoming: desk.incomingSeen, outgoing: desk.outgoingSeen, folded: ledger.folded)
        guard ledger.isContiguous, cover != deskSaved else { return }
        let copy = desk, folded = ledger.folded, path = Self.deskIndexPath(configuration), log = self.log, key = crypto.deskIndexKey
        let written: Result<Void, any Error> = await Task.detached(priority: .utility) {
            Result {
                let root = try log.merkleTree().rootHash(treeSize: folded)
                try DurableFile.write(try copy.sealed(folded: folded, root: root, key: key), to: path)
            }
        }.value
        switch written {
        case .success: deskSaved = cover
        case .failure(let error): logger.warning("cannot write the desk index", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    /// What a saved copy of the desk index covered, so that an unchanged one is not written again.
    struct DeskCover: Equatable {
        var incoming: Int, outgoing: Int, folded: UInt64
    }
}
