import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Metrics

/// What a node, as a log, knows of its witnesses: the latest checkpoint each peer
/// cosigned (as kept in the ``WitnessFolder``) and the one request on each link that
/// awaits its answer (a link answers its requests in order, one at a time here).
struct WitnessOffers: Sendable {
    struct Offer: Sendable {
        var note: SignedNote
        /// A 409 was already answered by offering again from the size the peer holds.
        var retried: Bool
        /// A tree head of our previous epoch shown as evidence after a restore, not for a cosignature.
        var disclosure = false
    }

    var pending: [CenterID: Offer] = [:]
    /// After a restore: a tree head of our previous epoch to show a witness as evidence,
    /// sent once the request pending to it is answered, kept until the witness answers it.
    var disclosures: [CenterID: AddCheckpointRequest] = [:]
    /// Peers whose node refused a WITNESS_REQUEST as an unknown frame (a version before
    /// witnessing): not asked again until this node restarts, so that their links stay up.
    var speaksNoWitnessFrames: Set<CenterID> = []
    /// Our latest checkpoint each peer cosigned, with its cosignature (nil: none yet);
    /// read from the folder on first use.
    var cosigned: [CenterID: SignedNote?] = [:]
    /// Our newest tree head's note text and its body, read once per tree head.
    var head: (checkpoint: String, body: String?)?
}

// The node as a log: after signing a tree head it asks every connected peer to cosign it.
extension Node {
    /// Offers the newest tree head to every peer whose link is up.
    func offerTreeHead() async {
        _ = witnessedStatus()
        for peer in peers.keys { await offerTreeHead(to: peer) }
    }

    /// Offers the newest tree head to `peer` with a consistency proof from the size it last
    /// cosigned (or `heldSize`, the size it said it holds), unless a request is already on
    /// the wire to it or it cosigned this very checkpoint.
    func offerTreeHead(to peer: CenterID, from heldSize: UInt64? = nil) async {
        guard !stopping, configuration.witness.enabled, let head = lastTreeHead, let link = peers[peer], let note = try? SignedNote(parsing: head.checkpoint) else { return }
        guard heldSize != nil || witnessOffers.pending[peer] == nil, !witnessOffers.speaksNoWitnessFrames.contains(peer) else { return }
        let cosigned = latestCosigned(by: peer).flatMap { (try? $0.checkpoint().origin) == (try? note.checkpoint().origin) ? $0 : nil }
        if heldSize == nil, cosigned?.body == note.body { return }
        let oldSize = heldSize ?? (try? cosigned?.checkpoint().treeSize) ?? 0
        guard oldSize <= head.treeSize else {
            logger.warning("a witness holds a larger tree of our log than we signed", metadata: ["peer": "\(peer)", "size": "\(oldSize)"])
            return
        }
        let request: AddCheckpointRequest
        do {
            let proof = oldSize == 0 ? [] : try log.merkleTree().consistencyProof(from: oldSize, to: head.treeSize)
            request = try AddCheckpointRequest(oldSize: oldSize, proof: proof, note: note)
        } catch {
            logger.error("cannot build a witness request", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return
        }
        witnessOffers.pending[peer] = WitnessOffers.Offer(note: note, retried: heldSize != nil)
        if !(await link.sendWitnessRequest(Array(request.text.utf8))) { witnessOffers.pending[peer] = nil }
    }

    /// A link connected (offer it our newest tree head) or went down (its request is lost).
    func witnessLinkChanged(_ status: PeerStatus) async {
        await receiptProofLinkChanged(status.center, connected: status.state == .connected)
        if status.state == .connected {
            await offerTreeHead(to: status.center)
            await sendDisclosure(to: status.center)
        } else if witnessOffers.pending.removeValue(forKey: status.center) != nil,
                  status.lastError?.contains("unknownType(\(FrameType.witnessRequest.rawValue))") == true {
            witnessOffers.speaksNoWitnessFrames.insert(status.center)
            logger.notice("the peer's node does not know witness requests (an earlier version): it is not asked to cosign until we restart",
                          metadata: ["peer": "\(status.center)"])
        }
    }

    /// `peer`'s WITNESS_RESPONSE to our pending request: a cosignature is verified with
    /// its witness certificate and kept; a 409 is retried once from the size it holds.
    func witnessAnswered(_ body: [UInt8], from peer: CenterID) async {
        guard let offer = witnessOffers.pending.removeValue(forKey: peer) else {
            logger.notice("a witness answered a request we did not make", metadata: ["peer": "\(peer)"])
            return
        }
        await witnessAnswered(body, to: offer, from: peer)
        await sendDisclosure(to: peer)
    }

    private func witnessAnswered(_ body: [UInt8], to offer: WitnessOffers.Offer, from peer: CenterID) async {
        guard let response = WitnessResponse(bytes: body) else {
            logger.warning("a witness answer is not a WITNESS_RESPONSE body", metadata: ["peer": "\(peer)"])
            return
        }
        if offer.disclosure { return disclosureAnswered(by: peer, status: response.status) }
        if let heldSize = response.conflictSize, !offer.retried {
            await offerTreeHead(to: peer, from: await showCosignature(to: peer, heldSize: heldSize, offered: offer.note) ?? heldSize)
            return
        }
        guard let lines = response.cosignatureLines else {
            logger.notice("a witness did not cosign", metadata: ["peer": "\(peer)", "status": "\(response.status)",
                                                                "reason": "\(response.reason.prefix(200))"])
            return
        }
        do {
            let cosignature = try checkCosignature(offer.note.adding(lines), by: peer)
            let kept = offer.note.adding([cosignature.noteSignature])
            try await witnessDesk.keepCosigned(kept, by: peer.rawValue)
            witnessOffers.cosigned[peer] = .some(kept)
            await cosignatureKept(kept, by: peer)
            Metrics.Counter(label: "iias_cosignatures_received_total", dimensions: [("witness", peer.rawValue)]).increment()
            logger.info("checkpoint cosigned", metadata: ["witness": "\(peer)", "treeSize": "\((try? offer.note.checkpoint().treeSize) ?? 0)"])
        } catch {
            logger.warning("a witness's cosignature was not kept", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
        // A tree head signed while this request was out goes now (not the same one again:
        // a witness answering badly would be asked for ever).
        if let head = lastTreeHead, (try? SignedNote(parsing: head.checkpoint))?.body != offer.note.body { await offerTreeHead(to: peer) }
    }

    /// The cosignature by `peer`'s witness key in `note`, checked against each of its
    /// trusted witness certificates; its time may be at most the clock skew ahead of ours.
    func checkCosignature(_ note: SignedNote, by peer: CenterID) throws -> Cosignature {
        let crypto = self.crypto
        let certificates = crypto.certificates.certificates(of: peer, for: .witness)
        guard !certificates.isEmpty else { throw CosignatureError.noCosignature("\(peer): no witness certificate in the certificate folder") }
        let options = Cosignature.VerifyOptions(maximumFutureSeconds: UInt64(limits.clockSkewSeconds))
        var lastError: any Error = CosignatureError.noCosignature(Cosignature.name(center: peer.rawValue))
        for certificate in certificates {
            do {
                try crypto.trust.verify(certificate, for: .witness, of: peer)
                return try Cosignature.verify(note: note, name: Cosignature.name(center: peer.rawValue),
                                              publicKey: try certificate.signingPublicKey(), options: options)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The body of `head`'s note (nil: it does not read), parsed once per tree head.
    func noteBody(of head: TreeHead) -> String? {
        if let known = witnessOffers.head, known.checkpoint == head.checkpoint { return known.body }
        let body = (try? SignedNote(parsing: head.checkpoint))?.body
        witnessOffers.head = (head.checkpoint, body)
        return body
    }

    /// Our latest checkpoint `peer` cosigned, with its cosignature (read from the folder once).
    func latestCosigned(by peer: CenterID) -> SignedNote? {
        if let known = witnessOffers.cosigned[peer] { return known }
        let read = witnessFolder.cosigned(by: peer.rawValue)
        witnessOffers.cosigned[peer] = .some(read)
        return read
    }
}
