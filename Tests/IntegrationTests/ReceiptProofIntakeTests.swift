import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A real node as a sender, its recipient GE played by hand: RECEIPT_PROOF bundles that do
/// not verify (no quorum, GE's own witness only, another envelope) are acknowledged but
/// never kept and are logged; a body that does not parse is not acknowledged; a good bundle
/// is kept byte for byte, and sent again it changes nothing.
final class ReceiptProofIntakeTests: XCTestCase {
    /// GE's log of one entry, AZ's `envelope` received at index 0, its checkpoint signed by
    /// GE and cosigned by the witnesses of `cosigners`: a tlog-proof bundle.
    private func bundle(for envelope: [UInt8], cosigners: [String]) throws -> TlogProof {
        let entry = LogEntry(index: 0, timeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), type: .received, payload: envelope)
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "GE"), treeSize: 1, rootHash: Merkle.hashLeaf(entry.encoded()))
        let ge = try CenterKeys(directory: TestPKI.shared.centerDirectory("GE"))
        var note = try SignedNote(parsing: checkpoint.signedNote(key: ge.signingKey))
        for center in cosigners {
            let key = try XCTUnwrap(try CenterKeys(directory: TestPKI.shared.centerDirectory(center)).witnessKey)
            note = note.adding([Cosignature.sign(body: note.body, name: Cosignature.name(center: center), key: key,
                                                 timestamp: UInt64(Date().timeIntervalSince1970)).noteSignature])
        }
        return TlogProof(extra: EntryLeaf(entry: entry).extra, index: 0, proof: [], checkpoint: note)
    }

    /// A RECEIPT_PROOF body of one item (the layout of FrameProtocol.md): the bundle's
    /// checkpoint once, then the item's id, digest, extra line and proof hashes.
    private func batch(through: UInt64, id: UUID, sha256: [UInt8], bundle: TlogProof) -> [UInt8] {
        func be(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        let note = Array(bundle.checkpoint.text.utf8)
        return be(through, 8) + be(UInt64(note.count), 4) + note + be(1, 2) + withUnsafeBytes(of: id.uuid) { Array($0) } + sha256
            + (bundle.extra ?? []) + [UInt8(bundle.proof.count)] + bundle.proof.flatMap { $0 }
    }

    private func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }

    private func nextAck(_ frames: inout AsyncStream<Frame>.Iterator) async -> [UInt8]? {
        while let frame = await frames.next() { if case .receiptProofAck(let body) = frame { return body } }
        return nil
    }

    func testOnlyABundleThatVerifiesIsKeptAndOnce() async throws {
        let (server, port, sessions) = try await TestPeer.listen(as: "GE", expecting: "AZ")
        defer { server.close(promise: nil) }
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": ["GE"]])
        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["witness": ["quorum": 1]], addresses: ["GE": "127.0.0.1:\(port)"])
        try cluster.start("AZ")
        defer { cluster.stopAll() }
        var connections = sessions.makeAsyncIterator()
        guard let (_, stream) = await connections.next() else { throw TestFailure("AZ did not connect") }
        var outbound = stream.makeAsyncIterator()
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Proven by hand"))
        var envelope: [UInt8] = []
        while let frame = await outbound.next() { if case .envelope(let bytes) = frame { envelope = bytes; break } }
        XCTAssertFalse(envelope.isEmpty, "AZ sent its envelope to GE")
        let sha256 = SHA256.hash(envelope)
        let kept = cluster.folder.appendingPathComponent("data-AZ/proofs/GE.proofs").path

        // GE's own connection to AZ, on which it sends its proofs.
        let (channel, geFrames) = try await TestPeer.connect(as: "GE", port: cluster.ports["AZ"]!, expecting: "AZ")
        var frames = geFrames
        defer { channel.close(promise: nil) }
        let refused: [(String, [UInt8], TlogProof)] = [
            ("no cosignature", sha256, try bundle(for: envelope, cosigners: [])),
            ("GE's own witness only", sha256, try bundle(for: envelope, cosigners: ["GE"])),
            ("another envelope", SHA256.hash(Array("other".utf8)), try bundle(for: Array("other".utf8), cosigners: ["UA"])),
            ("the digest of another envelope", SHA256.hash(Array("other".utf8)), try bundle(for: envelope, cosigners: ["UA"])),
        ]
        for (through, (why, digest, bundle)) in refused.enumerated() {
            try await channel.writeAndFlush(Frame.receiptProof(batch(through: UInt64(through + 1), id: sent.id, sha256: digest, bundle: bundle)))
            let ack = await nextAck(&frames)
            XCTAssertEqual(ack, (0..<8).map { $0 == 7 ? UInt8(through + 1) : 0 }, why)
            XCTAssertEqual(size(kept), 0, "nothing kept: \(why)")
        }
        try await eventually("AZ logged the refusals") { cluster.errorOutput("AZ").contains("a receipt proof does not verify") }

        let good = try bundle(for: envelope, cosigners: ["UA", "GE"])
        var keptSize = 0
        for time in 0..<2 {
            try await channel.writeAndFlush(Frame.receiptProof(batch(through: 9, id: sent.id, sha256: sha256, bundle: good)))
            let ack = await nextAck(&frames)
            XCTAssertNotNil(ack)
            XCTAssertGreaterThan(size(kept), 0, "kept")
            if time == 0 { keptSize = size(kept) } else { XCTAssertEqual(size(kept), keptSize, "sent again, nothing is added") }
        }
        // The bundle AZ kept is what `iias outbox ID --proof GE` gives.
        let written = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["outbox", sent.id.uuidString, "--proof", "GE", "--socket", cluster.socketPath("AZ")], timeout: 60)
        XCTAssertEqual(written.stdout, good.text, "the bundle byte for byte")
        let absent = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["outbox", UUID().uuidString, "--proof", "GE", "--socket", cluster.socketPath("AZ")], timeout: 60)
        XCTAssertEqual(absent.status, 1, "an unknown notification")

        // A body that does not parse (a length past its end) gets no acknowledgement; the link stays.
        try await channel.writeAndFlush(Frame.receiptProof(Array(batch(through: 10, id: sent.id, sha256: sha256, bundle: good).dropLast())))
        try await channel.writeAndFlush(Frame.receiptProof(batch(through: 11, id: sent.id, sha256: sha256, bundle: good)))
        let ack = await nextAck(&frames)
        XCTAssertEqual(ack?.last, 11, "the next batch is answered; the broken one was not")
    }
}
