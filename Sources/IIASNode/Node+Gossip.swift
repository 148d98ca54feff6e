import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport

// Gossip of third parties' checkpoints (CHECKPOINT_GOSSIP, 0x26): each node tells its
// peers the newest checkpoint it cosigned of every other peer's log. A witness holding
// another tree of the same log at the same size keeps split-view evidence; a gossiped
// checkpoint of another size waits until this witness's own state reaches that size.
extension Node {
    /// Seconds between two rounds of gossip when nothing changed.
    static let gossipIntervalSeconds = 30

    /// The newest state we cosigned of `peer`'s log (its highest epoch), nil when none.
    func newestWitnessState(of peer: CenterID) -> WitnessState? {
        var held: WitnessState?
        var epoch = 1
        while let state = try? witnessFolder.state(ofLog: Self.witnessStateName(peer, epoch: epoch)) {
            held = state
            epoch += 1
        }
        return held
    }

    /// Sends every peer whose link is up the checkpoints we cosigned of the other peers' logs.
    func gossipCheckpoints() async {
        guard let witnessKey = crypto.keys.witnessKey else { return }
        let name = Cosignature.name(center: center.rawValue)
        let held = configuration.peers.compactMap { peer in newestWitnessState(of: peer.center).map { (peer.center, $0) } }
        for peer in peers.keys {
            let notes = held.filter { $0.0 != peer }.map { $0.1.note.adding([$0.1.cosignature(name: name, key: witnessKey).noteSignature]) }
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
            guard let checkpoint = try? note.checkpoint(), let (logCenter, epoch) = Checkpoint.logOrigin(checkpoint.origin),
                  let log = CenterID(logCenter), log != center, log != peer, configuration.peers.contains(where: { $0.center == log }) else { continue }
            let logKeys = crypto.certificates.certificates(of: log, for: .signing).compactMap { try? $0.signingPublicKey() }
            guard logKeys.contains(where: { Checkpoint.signatureCheck(of: note, name: checkpoint.origin, publicKey: $0) == true }),
                  (try? checkCosignature(note, by: peer)) != nil else {
                logger.warning("a gossiped checkpoint whose signatures do not verify", metadata: ["peer": "\(peer)", "origin": "\(checkpoint.origin.prefix(80))"])
                continue
            }
            history.keepGossiped(note, size: checkpoint.treeSize, for: Self.witnessStateName(log, epoch: epoch))
            compareGossip(of: log, epoch: epoch)
        }
    }

    /// Our state of `log` in `epoch` changed or gossip about it came: any gossiped checkpoint
    /// of the same size with another root is a split view; the others keep waiting.
    func compareGossip(of log: CenterID, epoch: Int) {
        let name = Self.witnessStateName(log, epoch: epoch)
        guard let ours = try? witnessFolder.state(ofLog: name) else { return }
        guard let theirs = history.gossiped(for: name, size: ours.checkpoint.treeSize) else {
            if history.hasGossiped(for: name, above: ours.checkpoint.treeSize) {
                logger.info("a gossiped checkpoint of another size waits until our state of that log reaches it", metadata: ["log": "\(log)"])
            }
            return
        }
        history.forgetGossiped(for: name, upTo: ours.checkpoint.treeSize)
        guard let received = try? theirs.checkpoint(), received.rootHash != ours.checkpoint.rootHash else { return }
        let evidence = SplitViewEvidence(stored: ours.note, received: theirs)
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
    func witnessStateChanged(of log: CenterID, epoch: Int) {
        compareGossip(of: log, epoch: epoch)
        history.gossipDue = true
    }
}
