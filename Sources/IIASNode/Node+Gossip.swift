import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport

// Gossip of third parties' checkpoints (CHECKPOINT_GOSSIP, 0x26): each node tells its
// peers the newest checkpoint it cosigned of every other peer's log. A witness holding
// another tree of the same log at the same size keeps split-view evidence; for a gossiped
// checkpoint of another size it asks the log for the consistency proof between the two
// (LOG_STATE `consistency`) and keeps the two notes and the proof as evidence when the
// proof does not verify: a log that forked cannot make one that does.
extension Node {
    /// Seconds between two rounds of gossip when nothing changed.
    static let gossipIntervalSeconds = 30

    /// Seconds at least between two rounds of gossip when our witness state changed.
    static let gossipMinimumSeconds = 5

    /// The states we cosigned of `peer`'s log, one per epoch, the first epoch first.
    func witnessStates(of peer: CenterID) async -> [WitnessState] {
        var held: [WitnessState] = []
        while let state = await witnessDesk.held(Self.witnessStateName(peer, epoch: held.count + 1)) { held.append(state) }
        return held
    }

    /// Our cosigned notes of `peer`'s log, one per epoch (the first first), each with our
    /// cosignature, signed once per state.
    func cosignedNotes(of peer: CenterID, key: SigningPrivateKey) async -> [SignedNote] {
        var notes: [SignedNote] = []
        for state in await witnessStates(of: peer) {
            let cacheKey = "\(state.checkpoint.origin) \(state.checkpoint.treeSize) \(state.cosignedAt)"
            if let known = history.ownCosigned[cacheKey] {
                notes.append(known)
                continue
            }
            let note = state.note.adding([state.cosignature(name: Cosignature.name(center: center.rawValue), key: key).noteSignature])
            if history.ownCosigned.count > 4 * max(1, configuration.peers.count) { history.ownCosigned = [:] }
            history.ownCosigned[cacheKey] = note
            notes.append(note)
        }
        return notes
    }

    /// Sends every peer whose link is up the checkpoints we cosigned of the other peers' logs.
    func gossipCheckpoints() async {
        guard let witnessKey = crypto.keys.witnessKey else { return }
        var held: [(CenterID, SignedNote)] = []
        for peer in configuration.peers.map(\.center) {
            if let note = await cosignedNotes(of: peer, key: witnessKey).last { held.append((peer, note)) }
        }
        for peer in peers.keys {
            let notes = held.filter { $0.0 != peer }.map(\.1)
            if !notes.isEmpty { _ = await sendHistory(.history(.checkpointGossip, CheckpointGossip.body(notes)), to: peer) }
        }
    }

    /// `peer` gossips checkpoints it cosigned: each verified (the log's signature, `peer`'s
    /// cosignature) and compared with our own state of that log.
    func gossipArrived(_ body: [UInt8], from peer: CenterID) async {
        guard let notes = CheckpointGossip.parse(body) else {
            logger.warning("a CHECKPOINT_GOSSIP frame that does not parse; ignored", metadata: ["peer": "\(peer)", "bytes": "\(body.count)"])
            return
        }
        for note in notes {
            // The same note again from the same peer (its state did not change): settled already.
            let seenKey = "\(peer.rawValue) \(note.body)"
            guard history.gossipSeen.insert(seenKey).inserted else { continue }
            if history.gossipSeen.count > HistoryExchange.gossipLimit * 64 { history.gossipSeen = [seenKey] }
            guard let checkpoint = try? note.checkpoint(), let (logCenter, epoch) = Checkpoint.logOrigin(checkpoint.origin),
                  let log = CenterID(logCenter), log != center, log != peer, configuration.peers.contains(where: { $0.center == log }) else { continue }
            let logKeys = crypto.certificates.certificates(of: log, for: .signing).compactMap { try? $0.signingPublicKey() }
            guard logKeys.contains(where: { Checkpoint.signatureCheck(of: note, name: checkpoint.origin, publicKey: $0) == true }),
                  (try? checkCosignature(note, by: peer)) != nil else {
                logger.warning("a gossiped checkpoint whose signatures do not verify", metadata: ["peer": "\(peer)", "origin": "\(checkpoint.origin.prefix(80))"])
                continue
            }
            history.keepGossiped(note, size: checkpoint.treeSize, for: Self.witnessStateName(log, epoch: epoch))
            await compareGossip(of: log, epoch: epoch)
        }
    }

    /// Our state of `log` in `epoch` changed or gossip about it came: a gossiped checkpoint of
    /// the same size with another root is a split view; for one of another size the log is
    /// asked to prove the two consistent (one question at a time per log).
    func compareGossip(of log: CenterID, epoch: Int) async {
        let name = Self.witnessStateName(log, epoch: epoch)
        guard let ours = await witnessDesk.held(name) else { return }
        if let theirs = history.gossiped(for: name, size: ours.checkpoint.treeSize) {
            history.forgetGossiped(for: name, size: ours.checkpoint.treeSize)
            if let received = try? theirs.checkpoint(), received.rootHash != ours.checkpoint.rootHash {
                keepGossipEvidence(SplitViewEvidence(stored: ours.note, received: theirs), of: log)
            }
        }
        // A later epoch of that log is witnessed already: the earlier one is settled.
        if await witnessDesk.held(Self.witnessStateName(log, epoch: epoch + 1)) != nil { return }
        let now = Self.uptimeSeconds()
        if let asked = history.consistencyAsked[name], now < asked.at + HistoryExchange.questionSeconds { return }
        guard let (size, _) = history.gossiped(for: name, otherThan: ours.checkpoint.treeSize) else { return }
        let question = ConsistencyQuestion(origin: ours.checkpoint.origin, from: min(size, ours.checkpoint.treeSize), to: max(size, ours.checkpoint.treeSize))
        guard question.from > 0 else { return history.forgetGossiped(for: name, size: size) }   // the empty tree is a prefix of any
        let since = history.consistencyAsked[name].flatMap { $0.question == question ? $0.since : nil }
        let sent = await ask(question, about: name, of: log, waitingSince: since)
        logger.debug("a gossiped checkpoint of another size: asking the log for the consistency proof",
                     metadata: ["log": "\(log)", "from": "\(question.from)", "to": "\(question.to)", "sent": "\(sent)"])
    }

    /// Sends `question` to `log`, noted before it goes (the answer may come while we await
    /// the send). The wait for an answer counts from the first time it reached the log
    /// (`since`); one that reached no link is marked to go again when the link is up.
    private func ask(_ question: ConsistencyQuestion, about name: String, of log: CenterID, waitingSince since: UInt64?) async -> Bool {
        let now = Self.uptimeSeconds()
        history.consistencyAsked[name] = (question, now, since ?? now)
        let sent = await sendHistory(.history(.logState, LogStateMessage.consistencyAsked(question).bytes), to: log)
        if !sent, history.consistencyAsked[name]?.question == question { history.consistencyAsked[name] = (question, 0, since) }
        return sent
    }

    /// Our link to `log` came up: the questions that did not reach it go now.
    func askAgain(_ log: CenterID) async {
        for (name, asked) in history.consistencyAsked where asked.at == 0 && Checkpoint.logOrigin(asked.question.origin)?.center == log.rawValue {
            guard await ask(asked.question, about: name, of: log, waitingSince: asked.since) else { return }
        }
    }

    /// As a log: a witness asks for the consistency proof between two sizes of our log.
    /// Answered for the current epoch's origin only, and not while a restored copy waits to
    /// hear from its witnesses: after a restore our tree beyond the copy is not the one an
    /// earlier epoch's checkpoints describe, and a proof from it would accuse two true ones.
    func consistencyAsked(_ question: ConsistencyQuestion, by witness: CenterID) async {
        guard question.origin == Checkpoint.origin(center: center.rawValue, epoch: currentEpoch()), question.to <= log.count, treeHeadsAllowed(),
              let proof = try? log.merkleTree().consistencyProof(from: question.from, to: question.to) else {
            logger.notice("a witness asked for a consistency proof our log cannot give", metadata: [
                "witness": "\(witness)", "origin": "\(question.origin.prefix(80))", "from": "\(question.from)", "to": "\(question.to)", "size": "\(log.count)"])
            return
        }
        _ = await sendHistory(.history(.logState, LogStateMessage.consistencyProof(question, proof: proof).bytes), to: witness)
    }

    /// As a witness: `log` answered our question. Verified between our state and the gossiped
    /// checkpoint; a proof that does not verify makes evidence.
    func consistencyProofArrived(_ question: ConsistencyQuestion, proof: [[UInt8]], from log: CenterID) async {
        guard let (logCenter, epoch) = Checkpoint.logOrigin(question.origin), logCenter == log.rawValue,
              history.consistencyAsked[Self.witnessStateName(log, epoch: epoch)]?.question == question else {
            logger.notice("a consistency proof we did not ask for; ignored", metadata: ["peer": "\(log)"])
            return
        }
        let name = Self.witnessStateName(log, epoch: epoch)
        history.consistencyAsked[name] = nil
        history.alarms.removeAll { $0.key == Self.unprovenKey(name) }
        if let ours = await witnessDesk.held(name), [question.from, question.to].contains(ours.checkpoint.treeSize) {
            let otherSize = ours.checkpoint.treeSize == question.from ? question.to : question.from
            if let theirs = history.gossiped(for: name, size: otherSize), let gossiped = try? theirs.checkpoint() {
                history.forgetGossiped(for: name, size: otherSize)
                let (small, large) = otherSize < ours.checkpoint.treeSize ? (gossiped, ours.checkpoint) : (ours.checkpoint, gossiped)
                if Merkle.verifyConsistency(firstSize: small.treeSize, secondSize: large.treeSize, firstRoot: small.rootHash,
                                            secondRoot: large.rootHash, proof: proof) {
                    logger.debug("a gossiped checkpoint of another size is consistent with ours", metadata: ["log": "\(log)", "size": "\(otherSize)"])
                } else {
                    keepGossipEvidence(SplitViewEvidence(stored: ours.note, received: theirs, proof: proof), of: log)
                }
            }
        }
        await compareGossip(of: log, epoch: epoch)
    }

    /// Every second: a question a log left unanswered past `witness.proofWaitSeconds` raises an
    /// alarm, once; the alarm goes when the log answers.
    func checkUnansweredQuestions() {
        let now = Self.uptimeSeconds(), wait = UInt64(configuration.witness.proofWaitSeconds)
        for (name, asked) in history.consistencyAsked {
            guard let since = asked.since, now >= since + wait, !history.alarms.contains(where: { $0.key == Self.unprovenKey(name) }),
                  let (center, _) = Checkpoint.logOrigin(asked.question.origin), let log = CenterID(center) else { continue }
            var alarm = HistoryAlarm(kind: .unproven, center: log, detail: "\(log) has not answered for \(now - since) s whether its checkpoints of sizes "
                                     + "\(asked.question.from) and \(asked.question.to) (\(asked.question.origin), one cosigned by us, one by another witness) are one history")
            alarm.key = Self.unprovenKey(name)
            history.alarms.append(alarm)
            raise(alarm, metric: "iias_unproven_total")
        }
    }

    /// The key of the alarm an unanswered question about the log state `name` raises.
    static func unprovenKey(_ name: String) -> String { HistoryAlarm.Kind.unproven.rawValue + "/" + name }

    static func uptimeSeconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000_000 }

    /// Keeps evidence found through gossip and, the first time, raises the alarm.
    private func keepGossipEvidence(_ evidence: SplitViewEvidence, of log: CenterID) {
        do {
            let (path, new) = try witnessFolder.keep(evidence)
            if new { splitViewFound(evidence, of: log, path: path) }
        } catch {
            logger.error("cannot keep split-view evidence found by gossip", metadata: ["log": "\(log)", "error": "\(error)"])
        }
    }
}

extension Node {
    /// We cosigned a new checkpoint of `log`: compare it with what peers gossiped, and gossip it.
    func witnessStateChanged(of log: CenterID, epoch: Int) async {
        await compareGossip(of: log, epoch: epoch)
        history.gossipDue = true
    }
}
