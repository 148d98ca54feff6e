import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import Metrics

// The node as a witness of its peers' logs: C2SP tlog-witness add-checkpoint requests
// arrive in WITNESS_REQUEST frames and are answered in WITNESS_RESPONSE frames.
extension Node {
    /// The node's witness files (its states, the cosignatures it got, split-view evidence).
    var witnessFolder: WitnessFolder { WitnessFolder(dataDirectory: configuration.dataDirectory) }

    /// Answers `peer`'s add-checkpoint request: a cosignature of its log's checkpoint with
    /// our witness key once the new state is durable, the size we hold (409), or the
    /// specification's refusal. A peer submits only its own log's checkpoints (403 for
    /// another center's log, 404 for an origin no center has).
    func witnessRequestArrived(_ body: [UInt8], from peer: CenterID) async -> WitnessResponse {
        let crypto = self.crypto
        guard let witnessKey = crypto.keys.witnessKey, configuration.witness.enabled else {
            return WitnessResponse(status: WitnessResponse.notAWitness, reason: "\(center) has no witness key: it cosigns nothing")
        }
        let request: AddCheckpointRequest
        do throws(WitnessRefusal) {
            guard let text = String(validating: body, as: UTF8.self) else { throw .malformedRequest("the body is not UTF-8") }
            request = try AddCheckpointRequest(parsing: text)
        } catch {
            return refused(error, from: peer)
        }
        let origin = request.checkpoint.origin
        guard let epoch = Checkpoint.logOrigin(origin).flatMap({ $0.center == peer.rawValue ? $0.epoch : nil }) else {
            guard crypto.certificates.centers.contains(where: { $0.rawValue == Checkpoint.logOrigin(origin)?.center }) else {
                return refused(.unknownOrigin(origin), from: peer)
            }
            return refused(403, "\(peer) may submit only its own log's checkpoints, not those of \(origin)", from: peer)
        }
        let now = Date()
        let logKeys = crypto.certificates.certificates(of: peer, for: .signing).compactMap { certificate -> SigningPublicKey? in
            guard (try? crypto.trust.verify(certificate, for: .signing, of: peer, at: now)) != nil else { return nil }
            return try? certificate.signingPublicKey()
        }
        let outcome: WitnessDesk.Outcome
        do {
            outcome = try await witnessDesk.decide(request, logOf: Self.witnessStateName(peer, epoch: epoch), logKeys: logKeys,
                                                   now: UInt64(max(0, now.timeIntervalSince1970.rounded(.down))))
        } catch {
            logger.error("the witness cannot read or keep its state", metadata: ["log": "\(peer)", "error": "\(error)"])
            return WitnessResponse(status: 500, reason: "the witness cannot keep its state now; retry later")
        }
        switch outcome {
        case .cosigned(let state):
            await recordCosigning(state, of: peer)
            await witnessStateChanged(of: peer, epoch: epoch)
            return WitnessResponse(cosignature: state.cosignature(name: Cosignature.name(center: center.rawValue), key: witnessKey))
        case .splitView(let evidence, let path, let new):
            if new { splitViewFound(evidence, of: peer, path: path) } else {
                logger.notice("the same split-view evidence offered again; kept once", metadata: ["log": "\(peer)", "evidence": "\(path)"])
            }
            return WitnessResponse(status: 422, reason: "split view: this size was cosigned with another root; the evidence is kept")
        case .answered(.conflict(let storedSize)):
            return WitnessResponse(conflict: storedSize)
        case .answered(.refuse(let refusal)):
            return refused(refusal, from: peer)
        case .answered:
            return WitnessResponse(status: 500, reason: "no answer")
        }
    }

    /// For `iias status`: who cosigned our newest tree head.
    func cosignersOfTreeHead() -> [CenterID] {
        // Each peer's latest cosigned copy is held in memory as it is kept (no file read a status).
        let body = lastTreeHead.flatMap(noteBody(of:))
        let centers = body.map { body in configuration.peers.map(\.center).filter { latestCosigned(by: $0)?.body == body } } ?? []
        return centers.sorted()
    }

    private func refused(_ refusal: WitnessRefusal, from peer: CenterID) -> WitnessResponse {
        refused(refusal.statusCode, refusal.description, from: peer)
    }

    private func refused(_ status: Int, _ reason: String, from peer: CenterID) -> WitnessResponse {
        logger.notice("refused to cosign", metadata: ["log": "\(peer)", "status": "\(status)", "reason": "\(reason.prefix(200))"])
        Metrics.Counter(label: "iias_witness_refusals_total", dimensions: [("status", "\(status)")]).increment()
        return WitnessResponse(status: status, reason: reason)
    }

    /// Logs that we cosigned (an entry auditors list). Such a record alone does not count
    /// as growth for the next tree head: two nodes witnessing each other would otherwise
    /// sign a tree head for every cosignature of the other's, for ever.
    private func recordCosigning(_ state: WitnessState, of peer: CenterID) async {
        let record = CosignatureRecord(log: peer, treeSize: state.checkpoint.treeSize,
                                       rootHash: Data(state.checkpoint.rootHash).base64EncodedString(), cosignedAt: state.cosignedAt)
        let atTreeHead = log.count == treeHeadSize
        do {
            _ = try await append(.operatorAction, record.encoded())
            if atTreeHead, log.count == treeHeadSize + 1 { treeHeadSize += 1 }
        } catch {
            logger.error("cannot log a cosignature", metadata: ["log": "\(peer)", "treeSize": "\(state.checkpoint.treeSize)", "error": "\(error)"])
        }
        Metrics.Counter(label: "iias_cosignatures_signed_total", dimensions: [("log", peer.rawValue)]).increment()
    }

    /// A peer's log signed two trees that cannot both be true: the evidence is on disk; tell the operators.
    func splitViewFound(_ evidence: SplitViewEvidence, of peer: CenterID, path: String) {
        let size = (try? evidence.received.checkpoint().treeSize).map(String.init) ?? "?"
        let what = evidence.proof == nil ? "two different trees of one size" : "a tree it cannot prove grew from one cosigned"
        logger.error("split view: a peer's log signed \(what); not cosigned",
                     metadata: ["log": "\(peer)", "treeSize": "\(size)", "evidence": "\(path)"])
        Metrics.Counter(label: "iias_split_view_total", dimensions: [("log", peer.rawValue)]).increment()
        emit(.splitView(SplitViewReport(log: peer, treeSize: UInt64(size) ?? 0, evidence: path)))
    }
}
