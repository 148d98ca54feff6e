import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Metrics

// A node restored from an older copy of its data, and a witness whose stored state was
// rolled back: LOG_STATE frames (0x27) carry what one side cosigned of the other's log.
// A log behind what its witnesses cosigned begins a new epoch (a successor origin) and has
// its peers resend what their receipts show it had logged; see BackupAndRestore.
extension Node {
    /// The epoch our log signs tree heads in (1 until a restore was found).
    func currentEpoch() -> Int {
        if let known = history.epoch { return known }
        let epoch = LogEpochFile.read(dataDirectory: configuration.dataDirectory)?.epoch ?? 1
        history.epoch = epoch
        return epoch
    }

    /// False while the data directory carries the restore marker and not every peer has told
    /// us what it cosigned of our log: no tree head is signed meanwhile.
    func treeHeadsAllowed() -> Bool {
        !FileManager.default.fileExists(atPath: LogEpochFile.markerPath(dataDirectory: configuration.dataDirectory))
    }

    /// The name a witness keeps `peer`'s log state under, per epoch: "AZ", then "AZ.epoch-2".
    static func witnessStateName(_ peer: CenterID, epoch: Int) -> String { epoch <= 1 ? peer.rawValue : "\(peer.rawValue).epoch-\(epoch)" }

    /// Starts the history checks: notes the log's size as it starts, then flushes digests every second.
    func startHistory() -> Task<Void, Never> {
        history.sizeAtStart = log.count
        if !treeHeadsAllowed() {
            logger.warning("started from a restored copy: no tree head is signed until every peer has told what it cosigned of our log",
                           metadata: ["entries": "\(log.count)"])
        }
        return Task { [weak self] in await self?.historyLoop() }
    }

    /// Our link to `status.center` came up: we tell it, as its witness, the checkpoint of its
    /// log we last cosigned in each of its epochs (or none), so that a restored log learns
    /// of each; after a restore, we ask it to refill.
    func historyLinkChanged(_ status: PeerStatus) async {
        historyFramesRefused(status)
        guard status.state == .connected else { return }
        let peer = status.center
        history.gossipDue = true
        await askAgain(peer)
        // Without a witness key we hold nothing of its log: "none", so that its restore marker can go.
        var held: [SignedNote] = []
        if let key = crypto.keys.witnessKey { held = await cosignedNotes(of: peer, key: key) }
        for message in held.isEmpty ? [LogStateMessage.none] : held.map(LogStateMessage.cosigned) {
            guard await sendHistory(.history(.logState, message.bytes), to: peer) else { break }
        }
        if var restored = LogEpochFile.read(dataDirectory: configuration.dataDirectory), !restored.refilled.contains(peer.rawValue),
           await sendHistory(.history(.logState, LogStateMessage.refill(fromIndex: restored.restoredSize).bytes), to: peer) {
            restored.refilled.append(peer.rawValue)
            try? restored.write(dataDirectory: configuration.dataDirectory)
        }
    }

    func logStateArrived(_ body: [UInt8], from peer: CenterID) async {
        switch LogStateMessage(bytes: body) {
        case .cosigned(let note)?:
            let origin = (try? note.checkpoint().origin).flatMap(Checkpoint.logOrigin)
            if origin?.center == center.rawValue { await ownLogReported(note, by: peer) }
            else if origin?.center == peer.rawValue { await ownCosignatureShown(note, by: peer) }
            else { logger.notice("a LOG_STATE note of a third log; ignored", metadata: ["peer": "\(peer)"]) }
        case .none?:
            witnessHeard(peer)
        case .refill(let size)?:
            let now = Self.uptimeSeconds()
            if let last = history.refillsServed[peer], last.fromIndex <= size, now < last.at + HistoryExchange.refillSeconds {
                logger.warning("a peer asks again for a refill it was served; ignored for now", metadata: ["peer": "\(peer)", "fromIndex": "\(size)"])
                return
            }
            history.refillsServed[peer] = (size, now)
            let lost = ledger.receipted(by: peer, atOrAfter: size)
            logger.notice("a peer restored from an older copy asks for what it had logged; resending", metadata: ["peer": "\(peer)", "fromIndex": "\(size)", "envelopes": "\(lost.count)"])
            peers[peer]?.enqueue(lost)
        case .consistencyAsked(let question)?:
            await consistencyAsked(question, by: peer)
        case .consistencyProof(let question, let proof)?:
            await consistencyProofArrived(question, proof: proof, from: peer)
        case nil:
            logger.warning("a LOG_STATE frame that does not parse; ignored", metadata: ["peer": "\(peer)", "bytes": "\(body.count)"])
        }
    }

    /// `witness` told us what it holds of our log: the restore marker goes once every peer did.
    private func witnessHeard(_ witness: CenterID) {
        history.witnessesHeard.insert(witness)
        let marker = LogEpochFile.markerPath(dataDirectory: configuration.dataDirectory)
        guard FileManager.default.fileExists(atPath: marker), Set(configuration.peers.map(\.center)).isSubset(of: history.witnessesHeard) else { return }
        try? FileManager.default.removeItem(atPath: marker)
        logger.notice("every witness agrees with our log; signing tree heads again")
    }

    /// `witness` shows the newest checkpoint of our log it cosigned. Signed by our key and
    /// cosigned by it, in our current epoch: if our log does not hold that tree (smaller, or
    /// another root at that size), we were restored from an older copy.
    private func ownLogReported(_ note: SignedNote, by witness: CenterID) async {
        guard let checkpoint = try? note.checkpoint(), let (_, epoch) = Checkpoint.logOrigin(checkpoint.origin) else { return }
        let ownKeys = crypto.certificates.certificates(of: center, for: .signing).compactMap { try? $0.signingPublicKey() } + [crypto.keys.signingKey.publicKey]
        guard ownKeys.contains(where: { Checkpoint.signatureCheck(of: note, name: checkpoint.origin, publicKey: $0) == true }),
              (try? checkCosignature(note, by: witness)) != nil else {
            logger.warning("a witness showed a checkpoint of our log that our key or its own does not verify", metadata: ["witness": "\(witness)"])
            return
        }
        let current = currentEpoch()
        if epoch < current {   // an earlier epoch's: settled already, but what we signed of it since the copy is shown
            await discloseForkedHead(to: witness, holding: checkpoint)
            return witnessHeard(witness)
        }
        if epoch == current {
            let ours = checkpoint.treeSize <= log.count ? try? log.merkleTree().rootHash(treeSize: checkpoint.treeSize) : nil
            if ours == checkpoint.rootHash { return witnessHeard(witness) }
        }
        // Behind the witness in this epoch, or a later epoch than ours (restored from before it began).
        await beginEpoch(max(epoch, current) + 1, after: note, checkpoint: checkpoint, shownBy: witness)
        await discloseForkedHead(to: witness, holding: checkpoint)
    }

    /// Our log is behind what `witness` cosigned: never sign that origin again. The next
    /// epoch's first entry names the checkpoint shown; peers are asked to refill.
    private func beginEpoch(_ next: Int, after note: SignedNote, checkpoint: Checkpoint, shownBy witness: CenterID) async {
        let restoredSize = history.sizeAtStart
        let detail = "our log holds \(log.count) entries but \(witness) cosigned \(checkpoint.origin) at size \(checkpoint.treeSize)"
            + (checkpoint.treeSize <= log.count ? " with another root" : "") + ": restored from an older copy; epoch \(next) begins"
        var file = LogEpochFile(epoch: next, restoredSize: restoredSize, previous: note.text, shownBy: witness.rawValue, refilled: [])
        file.startIndex = log.count   // where the epoch's first entry goes: what the old origin signed lies before
        do {
            try file.write(dataDirectory: configuration.dataDirectory)
            history.epoch = next
            _ = try await append(.operatorAction, LogEpochRecord(epoch: next, origin: Checkpoint.origin(center: center.rawValue, epoch: next), previous: note.text).encoded())
        } catch {
            logger.error("cannot begin a new log epoch; no tree head is signed", metadata: ["error": "\(error)"])
            return
        }
        try? FileManager.default.removeItem(atPath: LogEpochFile.markerPath(dataDirectory: configuration.dataDirectory))
        raise(HistoryAlarm(kind: .logRestored, center: center, detail: detail), metric: "iias_log_restored_total")
        await appendTreeHeadIfGrown()
        for peer in peers.keys where await sendHistory(.history(.logState, LogStateMessage.refill(fromIndex: restoredSize).bytes), to: peer) {
            file.refilled.append(peer.rawValue)
        }
        try? file.write(dataDirectory: configuration.dataDirectory)
    }

    /// As a log: `peer` answered 409 with a size below the checkpoint of ours it cosigned and
    /// we keep. It is shown that cosignature (its state was rolled back); the size to retry
    /// from is returned, nil to retry from `heldSize`.
    func showCosignature(to peer: CenterID, heldSize: UInt64, offered: SignedNote) async -> UInt64? {
        guard let kept = witnessFolder.cosigned(by: peer.rawValue), let keptCheckpoint = try? kept.checkpoint(),
              keptCheckpoint.origin == (try? offered.checkpoint().origin), keptCheckpoint.treeSize > heldSize,
              await sendHistory(.history(.logState, LogStateMessage.cosigned(kept).bytes), to: peer) else { return nil }
        logger.warning("a witness holds less of our log than it cosigned; showing it its cosignature",
                       metadata: ["witness": "\(peer)", "held": "\(heldSize)", "cosigned": "\(keptCheckpoint.treeSize)"])
        return keptCheckpoint.treeSize
    }

    /// As a witness: `log` shows a checkpoint of its log with our cosignature. If our state
    /// holds a smaller tree, it was rolled back: it becomes that checkpoint again, and the
    /// operators are told, before anything else is cosigned.
    private func ownCosignatureShown(_ note: SignedNote, by peer: CenterID) async {
        guard let witnessKey = crypto.keys.witnessKey, let checkpoint = try? note.checkpoint(),
              let (_, epoch) = Checkpoint.logOrigin(checkpoint.origin),
              let ours = try? Cosignature.verify(note: note, name: Cosignature.name(center: center.rawValue), publicKey: witnessKey.publicKey,
                                                 options: .init(maximumFutureSeconds: UInt64(limits.clockSkewSeconds))) else {
            logger.warning("a log showed a cosignature of ours that does not verify", metadata: ["log": "\(peer)"])
            return
        }
        let logKeys = crypto.certificates.certificates(of: peer, for: .signing).compactMap { try? $0.signingPublicKey() }
        guard logKeys.contains(where: { Checkpoint.signatureCheck(of: note, name: checkpoint.origin, publicKey: $0) == true }),
              let state = try? WitnessState(note: SignedNote(body: note.body, signatures: note.signatures.filter { $0.name == checkpoint.origin }),
                                            cosignedAt: ours.timestamp) else { return }
        let name = Self.witnessStateName(peer, epoch: epoch)
        guard let held = try? await witnessDesk.adopt(state, ofLog: name) ?? nil else { return }
        let detail = "our witness state of \(checkpoint.origin) held size \(held) but we had cosigned size "
            + "\(checkpoint.treeSize): restored from an older copy; the state is that cosigned checkpoint again"
        let alarm = HistoryAlarm(kind: .witnessRolledBack, center: peer, detail: detail)
        history.alarms.append(alarm)
        raise(alarm, metric: "iias_witness_rollback_total")
    }

    /// For `iias status`: the restore found, while its epoch is the newest.
    func restoreAlarms() -> [HistoryAlarm] {
        guard let restored = LogEpochFile.read(dataDirectory: configuration.dataDirectory) else {
            guard !treeHeadsAllowed() else { return [] }
            // The marker's time tells one restore from the next (the alarm's key is drawn from the detail).
            let marker = LogEpochFile.markerPath(dataDirectory: configuration.dataDirectory)
            let marked = (try? FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date).map { " (marked \($0.formatted(.iso8601)))" } ?? ""
            return [HistoryAlarm(kind: .logRestored, center: center,
                                 detail: "started from a restored copy\(marked): no tree head is signed until every witness has told what it holds of our log",
                                 evidence: marker)]
        }
        return [HistoryAlarm(kind: .logRestored, center: center,
                             detail: "restored from an older copy of \(restored.restoredSize) entries; \(restored.shownBy) had cosigned more; the log is in epoch \(restored.epoch)",
                             evidence: LogEpochFile.path(dataDirectory: configuration.dataDirectory))]
    }
}
