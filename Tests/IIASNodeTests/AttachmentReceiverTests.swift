import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import IIASTransport
import Logging
import XCTest

/// The attachment frames and the recipient's checks, on real files: bodies round-trip
/// and garbage is refused, proofs from the chunk tree are RFC 9162's, and a recipient
/// writes only the next chunk whose proof holds, refuses a bad one for good, and keeps
/// what it acknowledged across a restart.
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

    private func answers(_ frames: [Frame]) throws -> [AttachmentFrame] {
        try frames.map { try AttachmentFrame.parse($0.type, FrameCodec.body(of: $0)) }
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
        XCTAssertTrue(restarted.verifyStored(try XCTUnwrap(restarted.record(sender: "AZ", root: seal.root.hexString))))
    }

    func testABadChunkFailsTheAttachmentForGood() throws {
        let (seal, nonce, chunks) = try encrypted(size: 3000)
        let receiver = try receiver()
        announce(seal, nonce: nonce, to: receiver)
        var altered = chunks[0]
        altered[5] ^= 1
        let refused = try answers(try receiver.receive([chunkFrame(seal, chunks, 0, bytes: altered)], from: sender))
        XCTAssertEqual(refused, [.end(root: seal.root, complete: false, reason: "chunk 0 is not the one the notification committed to")])
        XCTAssertEqual(receiver.record(sender: "AZ", root: seal.root.hexString)?.state, .failed)
        XCTAssertEqual(try answers(try receiver.receive([chunkFrame(seal, chunks, 0)], from: sender)), refused, "the good chunk after it changes nothing")
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

    func testAnAttachmentFrameOtherThanChunkFromTheSenderIsABadFrame() throws {
        let receiver = try receiver()
        let ack = AttachmentFrame.ack(root: [UInt8](repeating: 0, count: 32), held: 1).frame
        XCTAssertThrowsError(try receiver.receive([(ack.type, FrameCodec.body(of: ack))], from: sender))
    }
}
