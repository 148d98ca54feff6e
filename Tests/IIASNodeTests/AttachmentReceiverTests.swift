import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import IIASTransport
import Logging
import XCTest

/// The attachment frames and the recipient's checks, on real files: bodies round-trip
/// and garbage is refused, proofs from the chunk tree are RFC 9162's, and a recipient
/// writes only the next chunk whose proof holds, rejects a bad one without writing it
/// (the caller closes with ERROR 6 and the sender resends), keeps what it acknowledged
/// across a restart, and finds damage on its disk to re-fetch from the first bad chunk.
final class AttachmentReceiverTests: TemporaryDirectoryTestCase {
    private let sender = CenterID(rawValue: "AZ")!

    /// A file of `size` bytes encrypted in 1 KiB chunks: its seal and ciphertext chunks.
    private func encrypted(size: Int) throws -> (AttachmentSeal, nonce: [UInt8], chunks: [[UInt8]]) {
        let plain = work + "/plain-\(size)"
        FileManager.default.createFile(atPath: plain, contents: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        var pieces: [[UInt8]] = []
        let seal = try AttachmentEncryptor(chunkSize: 1024).encrypt(reading: XCTUnwrap(FileHandle(forReadingAtPath: plain))) { pieces.append(Array($0)) }
        return (seal, pieces[0], Array(pieces.dropFirst()))
    }

    private func chunkFrame(_ seal: AttachmentSeal, _ chunks: [[UInt8]], _ index: Int, bytes: [UInt8]? = nil) -> (FrameType, [UInt8]) {
        let proof = ChunkTree(leafHashes: chunks.map { AttachmentSeal.chunkHash($0) }).proof(index)
        let frame = AttachmentFrame.chunk(root: seal.root, index: index, proof: proof, bytes: bytes ?? chunks[index]).frame
        return (frame.type, FrameCodec.body(of: frame))
    }

    private func receiver() throws -> AttachmentReceiver {
        AttachmentReceiver(directory: try AttachmentDirectory(dataDirectory: work), limit: 1 << 20, logger: Logger(label: "test"))
    }

    private func announce(_ seal: AttachmentSeal, nonce: [UInt8], to receiver: AttachmentReceiver) {
        receiver.expect([AnnouncedAttachment(root: seal.root.hexString, nonce: Data(nonce).base64EncodedString(), chunkSize: seal.chunkSize,
                                             plaintextBytes: seal.plaintextSize)], envelope: UUID(), from: sender)
    }

    private func answers(_ result: ChunkAnswers) throws -> [AttachmentFrame] {
        try result.frames.map { try AttachmentFrame.parse($0.type, FrameCodec.body(of: $0)) }
    }

    func testFramesRoundTripThroughTheCodec() throws {
        let root = [UInt8](repeating: 0xAB, count: 32)
        let frames: [AttachmentFrame] = [
            .chunk(root: root, index: 70_000, proof: [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)], bytes: [UInt8](repeating: 9, count: 40)),
            .ack(root: root, held: 3), .end(root: root, complete: false, reason: "chunk 4 is not the one"), .end(root: root, complete: true, reason: ""),
        ]
        let codec = FrameCodec(maximumLength: 1 << 20)
        for frame in frames {
            let decoded = try XCTUnwrap(try codec.decode(try codec.encode(frame.frame))).frame
            guard case .attachment(let type, let body) = decoded else { return XCTFail("not an attachment frame: \(decoded)") }
            XCTAssertEqual(try AttachmentFrame.parse(type, body), frame)
        }
        XCTAssertEqual(try codec.encode(AttachmentFrame.ack(root: root, held: 3).frame).prefix(6), [0, 0, 0, 0x25, 0x11, 0xAB])
    }

    func testGarbageBodiesAreRefused() {
        let root = [UInt8](repeating: 1, count: 32)
        let garbage: [(FrameType, [UInt8])] = [
            (.chunk, [1, 2, 3]), (.chunk, root + [0, 0, 0, 1, 33]), (.chunk, root + [0, 0, 0, 1, 2] + [UInt8](repeating: 0, count: 40)),
            (.chunk, root + [0, 0, 0, 1, 0, 1, 2]), (.chunkAck, root + [0, 0, 1]), (.chunkAck, root + [0, 0, 0, 1, 0]),
            (.attachmentEnd, root + [2]), (.attachmentEnd, root + [1, 0xFF]), (.ping, root),
        ]
        for (type, body) in garbage {
            XCTAssertThrowsError(try AttachmentFrame.parse(type, body), "\(type) \(body.count) bytes")
        }
    }

    func testChunkTreeProofsAreRFC9162s() {
        for size in 1...40 {
            let leaves = (0..<size).map { SHA256.hash([UInt8(size), UInt8($0)]) }
            let tree = ChunkTree(leafHashes: leaves)
            XCTAssertEqual(tree.root, MerkleTreeHash.root(leafHashes: leaves), "size \(size)")
            for index in 0..<size {
                XCTAssertEqual(tree.proof(index), MerkleTreeHash.inclusionProof(leafIndex: index, leafHashes: leaves), "size \(size) index \(index)")
            }
        }
    }

    func testChunksAreWrittenInOrderAndTheWholeOpens() throws {
        let (seal, nonce, chunks) = try encrypted(size: 5000)
        let receiver = try receiver()
        announce(seal, nonce: nonce, to: receiver)
        // Chunk 1 before chunk 0 is skipped: the answer says 0 are held.
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 1)], from: sender)), [.ack(root: seal.root, held: 0)])
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 0), chunkFrame(seal, chunks, 1)], from: sender)),
                       [.ack(root: seal.root, held: 2)])
        // A restart keeps what was acknowledged.
        let restarted = try self.receiver()
        XCTAssertEqual(restarted.record(sender: "AZ", root: seal.root.hexString)?.held, 2)
        XCTAssertEqual(try answers(try restarted.receive((2..<chunks.count).map { chunkFrame(seal, chunks, $0) }, from: sender)),
                       [.end(root: seal.root, complete: true, reason: "")])
        let stored = try XCTUnwrap(FileHandle(forReadingAtPath: restarted.ciphertextPath("AZ-" + seal.root.hexString)))
        var plaintext: [UInt8] = []
        try AttachmentDecryptor(seal: seal).decrypt(reading: stored) { plaintext += Array($0) }
        XCTAssertEqual(plaintext, (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        XCTAssertNil(restarted.firstDamage(try XCTUnwrap(restarted.record(sender: "AZ", root: seal.root.hexString))))
    }

    func testEveryTamperedChunkIsRejectedUnwrittenAndACorrectResendCompletes() throws {
        let (seal, nonce, chunks) = try encrypted(size: 3000)
        let receiver = try receiver()
        announce(seal, nonce: nonce, to: receiver)
        let key = "AZ-" + seal.root.hexString
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 0)], from: sender)), [.ack(root: seal.root, held: 1)])
        var flipped = chunks[1]
        flipped[5] ^= 1
        let proof = ChunkTree(leafHashes: chunks.map { AttachmentSeal.chunkHash($0) }).proof(1)
        var badProof = proof
        badProof[0][0] ^= 1
        let proofFlipped = AttachmentFrame.chunk(root: seal.root, index: 1, proof: badProof, bytes: chunks[1]).frame
        let tampered: [(String, (FrameType, [UInt8]), String)] = [
            ("a byte of the ciphertext", chunkFrame(seal, chunks, 1, bytes: flipped), "not the one the notification committed to"),
            ("a byte of the proof", (proofFlipped.type, FrameCodec.body(of: proofFlipped)), "not the one the notification committed to"),
            ("cut short", chunkFrame(seal, chunks, 1, bytes: Array(chunks[1].dropLast(7))), "is 1033 bytes, not 1040"),
            ("extended", chunkFrame(seal, chunks, 1, bytes: chunks[1] + [0]), "is 1041 bytes, not 1040"),
        ]
        for (what, frame, why) in tampered {
            // The chunk after it in the same batch is not read either: the sender resends from the ACK.
            let result = try receiver.receive([frame, chunkFrame(seal, chunks, 2)], from: sender)
            XCTAssertTrue(result.rejected?.contains(why) == true, "\(what): \(String(describing: result.rejected))")
            XCTAssertEqual(try answers(result), [.ack(root: seal.root, held: 1)], what)
            XCTAssertEqual(receiver.record(sender: "AZ", root: seal.root.hexString)?.state, .receiving, what)
            let size = (try FileManager.default.attributesOfItem(atPath: receiver.ciphertextPath(key))[.size] as? Int) ?? -1
            XCTAssertEqual(size, 16 + 1040, "\(what): nothing written past the good chunk")
        }
        // Gap, duplicate, reorder: skipped, and the ACK names the chunk needed.
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 2)], from: sender)), [.ack(root: seal.root, held: 1)], "gap")
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 0)], from: sender)), [.ack(root: seal.root, held: 1)], "duplicate")
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 2), chunkFrame(seal, chunks, 1)], from: sender)),
                       [.ack(root: seal.root, held: 2)], "reordered: 2 skipped, 1 taken")
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 2)], from: sender)), [.end(root: seal.root, complete: true, reason: "")])
        let extra = AttachmentFrame.chunk(root: seal.root, index: 3, proof: [], bytes: chunks[2]).frame
        let past = try receiver.receive([(extra.type, FrameCodec.body(of: extra))], from: sender)
        XCTAssertEqual(try answers(past), [.end(root: seal.root, complete: true, reason: "")], "a chunk past the last changes nothing")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: receiver.ciphertextPath(key))), Data(nonce + chunks.flatMap { $0 }))
    }

    func testDamageOnDiskIsFoundAtItsFirstChunkAndReFetchedFromThere() throws {
        let (seal, nonce, chunks) = try encrypted(size: 5000)  // five chunks
        let whole = nonce + chunks.flatMap { $0 }
        let damages: [(String, (inout [UInt8]) -> Void, Int, String)] = [
            ("first chunk flipped", { $0[20] ^= 1 }, 0, "chunk 0 of the stored ciphertext is altered"),
            ("middle chunk flipped", { $0[16 + 2 * 1040 + 9] ^= 1 }, 2, "chunk 2 of the stored ciphertext is altered"),
            ("last chunk flipped", { $0[$0.count - 1] ^= 1 }, 4, "chunk 4 of the stored ciphertext is altered"),
            ("truncated", { $0.removeLast(500) }, 4, "truncated"),
            ("chunks 1 and 3 swapped", { bytes in
                let one = Array(bytes[(16 + 1040)..<(16 + 2080)]), three = Array(bytes[(16 + 3 * 1040)..<(16 + 4 * 1040)])
                bytes.replaceSubrange((16 + 1040)..<(16 + 2080), with: three)
                bytes.replaceSubrange((16 + 3 * 1040)..<(16 + 4 * 1040), with: one)
            }, 1, "chunk 1 of the stored ciphertext is altered"),
        ]
        for (what, damage, firstBad, why) in damages {
            try? FileManager.default.removeItem(atPath: work + "/attachments")
            let receiver = try receiver()
            announce(seal, nonce: nonce, to: receiver)
            _ = try receiver.receive((0..<chunks.count).map { chunkFrame(seal, chunks, $0) }, from: sender)
            let record = try XCTUnwrap(receiver.record(sender: "AZ", root: seal.root.hexString))
            XCTAssertEqual(record.state, .complete, what)
            var bytes = whole
            damage(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: receiver.ciphertextPath(record.key)))
            let reason = try XCTUnwrap(receiver.repairIfDamaged(record), what)
            XCTAssertTrue(reason.contains(why) && reason.contains("re-fetching from chunk \(firstBad)"), "\(what): \(reason)")
            let after = try XCTUnwrap(receiver.record(sender: "AZ", root: seal.root.hexString))
            XCTAssertEqual(after.state, .receiving, what)
            XCTAssertEqual(after.held, firstBad, what)
            let pending = receiver.refetches.withLock { $0[sender] ?? [] }
            XCTAssertEqual(try pending.map { try AttachmentFrame.parse($0.type, FrameCodec.body(of: $0)) }, [.ack(root: seal.root, held: firstBad)], what)
            // The sender's resend from there completes it, byte for byte.
            let resent = try receiver.receive((firstBad..<chunks.count).map { chunkFrame(seal, chunks, $0) }, from: sender)
            XCTAssertEqual(try answers(resent), [.end(root: seal.root, complete: true, reason: "")], what)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: receiver.ciphertextPath(record.key))), Data(whole), what)
        }
        let receiver = try receiver()
        let record = try XCTUnwrap(receiver.record(sender: "AZ", root: seal.root.hexString))
        try Data(whole + [1, 2, 3]).write(to: URL(fileURLWithPath: receiver.ciphertextPath(record.key)))
        XCTAssertEqual(receiver.firstDamage(record)?.why, "the stored ciphertext has 3 bytes past its end")
        _ = receiver.repairIfDamaged(record)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: receiver.ciphertextPath(record.key))), Data(whole), "the bytes past the end are cut")
        XCTAssertEqual(receiver.record(sender: "AZ", root: seal.root.hexString)?.state, .complete)
    }

    func testAShortDiskMakesTheAttachmentWaitKeepingWhatIsDurable() throws {
        let (seal, nonce, chunks) = try encrypted(size: 3000)
        let directory = try AttachmentDirectory(dataDirectory: work)
        let roomy = AttachmentReceiver(directory: directory, limit: 1 << 20, spare: 0, logger: Logger(label: "test"))
        announce(seal, nonce: nonce, to: roomy)
        XCTAssertEqual(try answers(try roomy.receive([chunkFrame(seal, chunks, 0)], from: sender)), [.ack(root: seal.root, held: 1)])
        // The same disk, with more kept spare than it has free (a real statvfs of it).
        let free = try XCTUnwrap(AttachmentDirectory.freeBytes(directory.incoming))
        let short = AttachmentReceiver(directory: directory, limit: 1 << 20, spare: free + (1 << 30), logger: Logger(label: "test"))
        XCTAssertEqual(try answers(try short.receive([chunkFrame(seal, chunks, 1), chunkFrame(seal, chunks, 2)], from: sender)),
                       [.ack(root: seal.root, held: 1)], "nothing more written; the ACK says what is held")
        let waiting = try XCTUnwrap(short.record(sender: "AZ", root: seal.root.hexString))
        XCTAssertEqual(waiting.state, .waitingForSpace)
        XCTAssertTrue(waiting.reason?.hasPrefix("waiting for space: ") == true && waiting.reason?.contains("limits.attachmentSpareBytes") == true,
                      waiting.reason ?? "")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: short.ciphertextPath(waiting.key)))[.size] as? Int, 16 + 1040, "chunk 0 kept")
        // After a restart with room, the next chunk that comes fits and the transfer goes on.
        let later = AttachmentReceiver(directory: directory, limit: 1 << 20, spare: 0, logger: Logger(label: "test"))
        XCTAssertEqual(later.record(sender: "AZ", root: seal.root.hexString)?.state, .waitingForSpace, "the state is durable")
        XCTAssertEqual(try answers(try later.receive([chunkFrame(seal, chunks, 1), chunkFrame(seal, chunks, 2)], from: sender)),
                       [.end(root: seal.root, complete: true, reason: "")])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: later.ciphertextPath(waiting.key))), Data(nonce + chunks.flatMap { $0 }))
    }

    func testAnUnannouncedOrOversizedAttachmentIsRefusedBeforeAnyChunkIsWritten() throws {
        let (seal, nonce, chunks) = try encrypted(size: 3000)
        let receiver = try receiver()
        let unknown = try answers(try receiver.receive([chunkFrame(seal, chunks, 0)], from: sender))
        guard case .end(_, false, let reason)? = unknown.first else { return XCTFail("\(unknown)") }
        XCTAssertTrue(reason.contains("no notification from AZ"), reason)
        let small = AttachmentReceiver(directory: try AttachmentDirectory(dataDirectory: work), limit: 2048, logger: Logger(label: "test"))
        announce(seal, nonce: nonce, to: small)
        let over = try answers(try small.receive([chunkFrame(seal, chunks, 0)], from: sender))
        XCTAssertEqual(over, [.end(root: seal.root, complete: false, reason: "3000 bytes is over this node's limits.maxAttachmentBytes (2048 bytes)")])
        XCTAssertFalse(FileManager.default.fileExists(atPath: small.ciphertextPath("AZ-" + seal.root.hexString)))
    }

    func testASendersRefusalFailsAReFetchAndLeavesACompleteCopyAlone() throws {
        let (seal, nonce, chunks) = try encrypted(size: 3000)
        let receiver = try receiver()
        announce(seal, nonce: nonce, to: receiver)
        let refusal = AttachmentFrame.end(root: seal.root, complete: false, reason: AttachmentCenter.releasedReason).frame
        _ = try receiver.receive(chunks.indices.map { chunkFrame(seal, chunks, $0) }, from: sender)
        XCTAssertTrue(try receiver.receive([(refusal.type, FrameCodec.body(of: refusal))], from: sender).frames.isEmpty)
        XCTAssertEqual(receiver.record(sender: "AZ", root: seal.root.hexString)?.state, .complete, "a complete copy stays complete")

        let record = try XCTUnwrap(receiver.record(sender: "AZ", root: seal.root.hexString))
        try Data(nonce + chunks[0]).write(to: URL(fileURLWithPath: receiver.ciphertextPath(record.key)))  // cut after chunk 0
        XCTAssertNotNil(receiver.repairIfDamaged(record))
        _ = try receiver.receive([(refusal.type, FrameCodec.body(of: refusal))], from: sender)
        let refused = try XCTUnwrap(receiver.record(sender: "AZ", root: seal.root.hexString))
        XCTAssertEqual(refused.state, .failed)
        XCTAssertEqual(refused.reason, "the sender no longer holds it")
        XCTAssertEqual(try self.receiver().record(sender: "AZ", root: seal.root.hexString)?.state, .failed, "durable across a restart")
    }

    func testAnAttachmentFrameOtherThanChunkFromTheSenderIsABadFrame() throws {
        let receiver = try receiver()
        let ack = AttachmentFrame.ack(root: [UInt8](repeating: 0, count: 32), held: 1).frame
        XCTAssertThrowsError(try receiver.receive([(ack.type, FrameCodec.body(of: ack))], from: sender))
        let claim = AttachmentFrame.end(root: [UInt8](repeating: 0, count: 32), complete: true, reason: "").frame
        XCTAssertThrowsError(try receiver.receive([(claim.type, FrameCodec.body(of: claim))], from: sender), "a claim of completion is bad")
    }
}
