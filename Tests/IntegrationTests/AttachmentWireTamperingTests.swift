import Foundation
import IIASAPI
@testable import IIASCrypto
import IIASModel
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A hand-made peer holding AZ's keys sends GE's real node a signed notification with an
/// attachment, then chunks tampered every way a wire or a sender can: each is caught
/// before it is written (ERROR 6 and a close for a chunk that is not the committed one,
/// a CHUNK_ACK naming the chunk needed for a gap, a duplicate or a reordering, ERROR 1
/// for a sender's claim to have ended), the node serves on, and the correct chunks then
/// complete a file identical to the one sealed. A sender that lies with the last-chunk
/// flag inside the ciphertext it commits to gets that ciphertext stored as committed, but
/// it never opens: the recipient's keys refuse it at the lying chunk.
final class AttachmentWireTamperingTests: XCTestCase {
    private var work: URL!
    override func setUpWithError() throws { work = try makeTemporaryDirectory("tamper") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// A 3000-byte file sealed in 1 KiB chunks (three: 1040, 1040 and 968 bytes on the wire).
    private struct Sealed {
        var plaintext: [UInt8]
        var seal: AttachmentSeal
        var chunks: [[UInt8]]
        var leaves: [[UInt8]] { chunks.map { AttachmentSeal.chunkHash($0) } }
    }

    private func sealed() throws -> Sealed {
        let plaintext = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let path = work.appendingPathComponent("plain").path
        FileManager.default.createFile(atPath: path, contents: Data(plaintext))
        var pieces: [[UInt8]] = []
        let seal = try AttachmentEncryptor(chunkSize: 1024).encrypt(reading: XCTUnwrap(FileHandle(forReadingAtPath: path))) { pieces.append(Array($0)) }
        return Sealed(plaintext: plaintext, seal: seal, chunks: Array(pieces.dropFirst()))
    }

    /// AZ's notification to GE carrying `file`, sealed with AZ's signing key.
    private func envelope(carrying file: Sealed) throws -> Envelope {
        let document: [String: Any] = [
            "version": 1, "id": UUID().uuidString.lowercased(), "sender": "AZ", "recipients": ["GE"],
            "created": "2026-11-24T12:00:00Z", "kind": "notification", "category": "extremism", "priority": "urgent",
            "handling": ["tlp": "TLP:AMBER"], "subject": "Tampering", "summary": "A file follows.", "entities": [],
        ]
        var notification = try FormalNotification.parse(try JSONSerialization.data(withJSONObject: document))
        notification.attachments = [file.seal.attachment(name: "exhibit.bin", mediaType: "application/octet-stream")]
        let keys = try CenterKeys(directory: TestPKI.shared.centerDirectory("AZ"))
        let ge = try Certificate(pemFile: "\(TestPKI.shared.centerDirectory("GE"))/encryption.crt").encryptionPublicKey()
        return try Envelope.seal(notification, signer: keys.signingKey, recipientKeys: [CenterID(rawValue: "GE")!: ge])
    }

    /// A CHUNK frame as FrameProtocol.md lays it out: root, index, proof, chunk.
    private func chunk(_ file: Sealed, _ index: Int, bytes: [UInt8]? = nil, proof: [[UInt8]]? = nil) -> Frame {
        let path = proof ?? MerkleTreeHash.inclusionProof(leafIndex: index, leafHashes: file.leaves)
        let be32 = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: index >> $0) }
        return .attachment(.chunk, file.seal.root + be32 + [UInt8(path.count)] + path.flatMap { $0 } + (bytes ?? file.chunks[index]))
    }

    /// The node's next answer that is not HELLO.
    private func answer(_ frames: inout AsyncStream<Frame>.Iterator) async -> Frame? {
        var next = await frames.next()
        while case .hello? = next { next = await frames.next() }
        return next
    }

    private func held(_ frame: Frame?, _ file: Sealed) -> Int? {
        guard case .attachment(.chunkAck, let body)? = frame, body.count == 36, Array(body.prefix(32)) == file.seal.root else { return nil }
        return body.suffix(4).reduce(0) { $0 << 8 | Int($1) }
    }

    private func state(_ cluster: NodeCluster, _ file: Sealed) async throws -> (state: String, held: Int) {
        let (status, body) = try await cluster.client("GE").raw(.GET, "/v1/attachments/\(file.seal.root.hexString)?sender=AZ")
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        guard status == 200, let state = object?["state"] as? String, let held = object?["held"] as? Int else { throw TestFailure("HTTP \(status)") }
        return (state, held)
    }

    func testEveryTamperedChunkIsCaughtAndACorrectResendCompletesIdentical() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ"]])
        try cluster.start("GE")
        defer { cluster.stopAll() }
        let port = try XCTUnwrap(cluster.ports["GE"])
        let file = try sealed()
        let envelope = try envelope(carrying: file)
        var (channel, frames) = try await TestPeer.connect(as: "AZ", port: port)
        try await channel.writeAndFlush(Frame.envelope(envelope.bytes)).get()
        guard case .receipt? = await answer(&frames) else { return XCTFail("no receipt for the notification") }

        try await channel.writeAndFlush(chunk(file, 0)).get()
        var acked = held(await answer(&frames), file)
        XCTAssertEqual(acked, 1, "the good first chunk is held")

        var flippedChunk = file.chunks[1]
        flippedChunk[100] ^= 0x01
        var flippedProof = MerkleTreeHash.inclusionProof(leafIndex: 1, leafHashes: file.leaves)
        flippedProof[0][7] ^= 0x01
        let rejected: [(String, Frame, String)] = [
            ("a byte of the ciphertext flipped", chunk(file, 1, bytes: flippedChunk), "is not the one the notification committed to"),
            ("a byte of the proof flipped", chunk(file, 1, proof: flippedProof), "is not the one the notification committed to"),
            ("the chunk cut short", chunk(file, 1, bytes: Array(file.chunks[1].prefix(1000))), "is 1000 bytes, not 1040"),
            ("the chunk extended", chunk(file, 1, bytes: file.chunks[1] + [0]), "is 1041 bytes, not 1040"),
        ]
        for (what, frame, why) in rejected {
            try await channel.writeAndFlush(frame).get()
            var reply = await answer(&frames)
            if let acked = held(reply, file) {  // what is durable is acknowledged first
                XCTAssertEqual(acked, 1, what)
                reply = await answer(&frames)
            }
            guard case .error(let code, let reason)? = reply else { return XCTFail("\(what): no ERROR but \(String(describing: reply))") }
            XCTAssertEqual(code, 6, what)
            XCTAssertTrue(reason.contains(why) && reason.contains("resend from the last acknowledged chunk"), "\(what): \(reason)")
            while await frames.next() != nil {}  // the node closes that connection
            let now = try await state(cluster, file)
            XCTAssertEqual(now.state, "receiving", what)
            XCTAssertEqual(now.held, 1, "\(what): nothing written as good")
            (channel, frames) = try await TestPeer.connect(as: "AZ", port: port)
        }

        try await channel.writeAndFlush(chunk(file, 2)).get()
        acked = held(await answer(&frames), file)
        XCTAssertEqual(acked, 1, "a gap: chunk 2 before 1 is skipped, the ACK asks for 1")
        try await channel.writeAndFlush(chunk(file, 0)).get()
        acked = held(await answer(&frames), file)
        XCTAssertEqual(acked, 1, "a duplicate of chunk 0 changes nothing")
        try await channel.writeAndFlush(chunk(file, 3, bytes: file.chunks[2])).get()
        acked = held(await answer(&frames), file)
        XCTAssertEqual(acked, 1, "a chunk past the last is never taken")
        channel.write(chunk(file, 2), promise: nil)
        try await channel.writeAndFlush(chunk(file, 1)).get()
        var acknowledged = held(await answer(&frames), file)
        if acknowledged == 1 { acknowledged = held(await answer(&frames), file) }  // the two may be read as two batches
        XCTAssertEqual(acknowledged, 2, "reordered: 2 then 1 leaves 1 written and asks for 2")

        // The sender claims the end early: a recipient takes only CHUNKs, so that is a bad frame.
        try await channel.writeAndFlush(Frame.attachment(.attachmentEnd, file.seal.root + [0])).get()
        guard case .error(1, _)? = await answer(&frames) else { return XCTFail("a sender's ATTACHMENT_END is not refused") }
        while await frames.next() != nil {}
        let claimed = try await state(cluster, file)
        XCTAssertEqual(claimed.state, "receiving", "never complete on a claim")
        let early = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["read", envelope.header.id.uuidString.lowercased(), "--save", work.path,
                                                                           "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(early.status, 1, "nothing to save before the end: " + early.stdout)
        XCTAssertTrue(early.stdout.contains("receiving 66%"), early.stdout)

        (channel, frames) = try await TestPeer.connect(as: "AZ", port: port)
        try await channel.writeAndFlush(chunk(file, 2)).get()
        guard case .attachment(.attachmentEnd, let end)? = await answer(&frames) else { return XCTFail("no ATTACHMENT_END") }
        XCTAssertEqual(Array(end), file.seal.root + [0], "complete")
        try await channel.writeAndFlush(chunk(file, 3, bytes: file.chunks[2])).get()
        guard case .attachment(.attachmentEnd, let again)? = await answer(&frames) else { return XCTFail("no answer past the end") }
        XCTAssertEqual(Array(again), file.seal.root + [0], "extended past the end: still complete, nothing added")
        try await channel.close()

        let saveDirectory = work.appendingPathComponent("saved").path
        try FileManager.default.createDirectory(atPath: saveDirectory, withIntermediateDirectories: true)
        let saved = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["read", "AZ/" + envelope.header.id.uuidString.lowercased(), "--save", saveDirectory,
                                                                           "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(saved.status, 0, saved.stdout + saved.stderr)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: saveDirectory + "/exhibit.bin"))), file.plaintext, "identical bytes")
        let stored = cluster.logDirectory("GE") + "/../attachments/in/AZ-\(file.seal.root.hexString).ct"
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int, file.seal.ciphertextSize)
        let shown = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["attachments", "AZ/" + envelope.header.id.uuidString.lowercased(),
                                                                            "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        for line in ["exhibit.bin", "application/octet-stream", "3000", SHA256.hash(file.plaintext).hexString, "1024", file.seal.root.hexString, "complete", String(stored.suffix(40))] {
            XCTAssertTrue(shown.stdout.contains(line), "iias attachments shows \(line):\n\(shown.stdout)")
        }
        let unknown = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["attachments", UUID().uuidString.lowercased(), "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(unknown.status, 1, "an id no notification has is refused: " + unknown.stdout + unknown.stderr)
        let help = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["attachments", "--help"], timeout: 60)
        XCTAssertTrue(help.stdout.contains("Examples:") && help.stdout.contains("iias read ID --save DIR"), help.stdout)
        let status = try await cluster.client("GE").status()
        XCTAssertGreaterThan(status.logEntries, 0, "the node served on throughout")
    }

    /// 2048 bytes in two 1 KiB chunks whose first is sealed as the last (the flag lies),
    /// committed to by the seal as they are.
    private func sealedWithALyingFlag() throws -> Sealed {
        let plaintext = (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let fileKey = Sodium.randomBytes(32).withUnsafeBytes { SecretBytes(copying: $0) }
        let nonce = Sodium.randomBytes(16)
        let cipher = AttachmentCipher(fileKey: fileKey, nonce: nonce)
        let chunks = (0..<2).map { index in
            var out = [UInt8](repeating: 0, count: 1024 + 16)
            plaintext[(index * 1024)..<(index * 1024 + 1024)].withUnsafeBytes { plain in
                out.withUnsafeMutableBytes { cipher.seal(plain, index: index, isLast: true, into: $0) }
            }
            return out
        }
        let seal = try AttachmentSeal(fileKey: fileKey, nonce: nonce, chunkSize: 1024, plaintextSize: 2048, plaintextSHA256: SHA256.hash(plaintext),
                                      root: MerkleTreeHash.root(leafHashes: chunks.map { AttachmentSeal.chunkHash($0) }))
        return Sealed(plaintext: plaintext, seal: seal, chunks: chunks)
    }

    func testALyingLastChunkFlagIsStoredAsCommittedButNeverOpens() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ"]])
        try cluster.start("GE")
        defer { cluster.stopAll() }
        let file = try sealedWithALyingFlag()
        let envelope = try envelope(carrying: file)
        var (channel, frames) = try await TestPeer.connect(as: "AZ", port: try XCTUnwrap(cluster.ports["GE"]))
        try await channel.writeAndFlush(Frame.envelope(envelope.bytes)).get()
        guard case .receipt? = await answer(&frames) else { return XCTFail("no receipt") }
        channel.write(chunk(file, 0), promise: nil)
        try await channel.writeAndFlush(chunk(file, 1)).get()
        var reply = await answer(&frames)
        if held(reply, file) == 1 { reply = await answer(&frames) }
        guard case .attachment(.attachmentEnd, let end)? = reply else { return XCTFail("no ATTACHMENT_END: \(String(describing: reply))") }
        XCTAssertEqual(Array(end), file.seal.root + [0], "the keyless node holds exactly what was committed")
        try await channel.close()

        let saveDirectory = work.appendingPathComponent("saved").path
        try FileManager.default.createDirectory(atPath: saveDirectory, withIntermediateDirectories: true)
        let saved = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["read", envelope.header.id.uuidString.lowercased(), "--save", saveDirectory,
                                                                           "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(saved.status, 1, saved.stdout + saved.stderr)
        XCTAssertTrue(saved.stderr.contains("not saved") && saved.stderr.contains("chunk 0"), saved.stdout + saved.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: saveDirectory).filter { !$0.hasPrefix(".") }, [], "nothing saved")
        let audited = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "attachments", cluster.logDirectory("GE"),
                                                                             "--key-dir", TestPKI.shared.centerDirectory("GE"), "--crl", TestPKI.shared.crlFile], timeout: 60)
        XCTAssertEqual(audited.status, 1, audited.stdout + audited.stderr)
        XCTAssertTrue(audited.stdout.contains("exhibit.bin: does not open to the sealed file"), audited.stdout)
    }
}
