import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import IIASTransport
import Logging
import XCTest

/// The sending side on real files: an upload refuses what does not fit or does not
/// follow, a transfer waits for its notification's answer, probes first on every
/// session, keeps at most a window of chunks unacknowledged, goes on from what the
/// recipient says it holds, and records the recipient's final word.
final class AttachmentSenderTests: TemporaryDirectoryTestCase {
    private let ge = CenterID(rawValue: "GE")!

    private func center(limit: Int = 4 << 20) throws -> AttachmentCenter {
        try AttachmentCenter(dataDirectory: work, limit: limit, chunkWindow: 8, logger: Logger(label: "test"))
    }

    /// The indexes of chunk frames, after checking each one's proof against `root`.
    private func indexes(_ frames: [Frame], root: [UInt8], chunkCount: Int) throws -> [Int] {
        try frames.map { frame in
            guard case .chunk(let frameRoot, let index, let proof, let bytes) = try AttachmentFrame.parse(frame.type, FrameCodec.body(of: frame)) else {
                throw TestFailure("not a chunk")
            }
            XCTAssertEqual(frameRoot, root)
            XCTAssertTrue(MerkleTreeHash.verifyInclusion(leafIndex: UInt64(index), treeSize: UInt64(chunkCount),
                                                         leafHash: AttachmentSeal.chunkHash(bytes), proof: proof, root: root), "chunk \(index)")
            return index
        }
    }

    struct TestFailure: Error { var text: String; init(_ text: String) { self.text = text } }

    func testUploadsRefuseWhatDoesNotFitOrFollow() throws {
        let center = try center(limit: 1000)
        XCTAssertThrowsError(try center.beginUpload(bytes: 1001)) { XCTAssertTrue("\($0)".contains("limits.maxAttachmentBytes is 1000 bytes"), "\($0)") }
        let id = try center.beginUpload(bytes: 10)
        let upload = try XCTUnwrap(center.upload(id))
        try upload.append([1, 2, 3], at: 0)
        XCTAssertThrowsError(try upload.append([4], at: 2), "a piece that overlaps")
        XCTAssertThrowsError(try upload.append([UInt8](repeating: 0, count: 8), at: 3), "more than announced")
        XCTAssertThrowsError(try center.finishUpload(id), "3 of 10 bytes")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work + "/attachments/out"), [], "nothing left behind")
        let open = try (0..<AttachmentCenter.maxOpenUploads).map { _ in try center.beginUpload(bytes: 1) }
        XCTAssertThrowsError(try center.beginUpload(bytes: 1)) { XCTAssertTrue("\($0)".contains("16 uploads are in progress"), "\($0)") }
        for id in open { try XCTUnwrap(center.upload(id)).append([0], at: 0); _ = try center.finishUpload(id) }
    }

    func testATransferProbesKeepsAWindowAndGoesOnFromWhatTheRecipientHolds() throws {
        let center = try center()
        let chunkCount = 20
        let id = try center.beginUpload(bytes: chunkCount * AttachmentSeal.defaultChunkSize)
        let upload = try XCTUnwrap(center.upload(id))
        for n in 0..<chunkCount { try upload.append([UInt8](repeating: UInt8(n), count: AttachmentSeal.defaultChunkSize), at: n * AttachmentSeal.defaultChunkSize) }
        let seal = try center.finishUpload(id).seal
        let envelope = UUID()
        center.submitted(roots: [seal.root.hexString], envelope: envelope, recipients: [ge])
        let sender = center.sender(for: ge)
        XCTAssertEqual(sender.framesToSend(), [], "nothing before the notification is answered")

        sender.envelopesAnswered([envelope])
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: chunkCount), [0], "a probe first")
        XCTAssertEqual(sender.framesToSend(), [], "one probe at a time")
        sender.received(.ack(root: seal.root, held: 1))
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: chunkCount), Array(1...8), "then a window")
        sender.received(.ack(root: seal.root, held: 5))
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: chunkCount), Array(9...12), "the window slides")
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.first?.state, "transferring 25%")

        sender.sessionStarted()
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: chunkCount), [5], "a new session probes from what was acknowledged")
        sender.received(.ack(root: seal.root, held: 13))
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: chunkCount), Array(13...19), "and goes on from what the recipient holds")

        sender.received(.end(root: seal.root, complete: true, reason: ""))
        XCTAssertEqual(sender.framesToSend(), [])
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered"])
        // A restart finds the record: nothing more to send to GE.
        let restarted = try self.center()
        restarted.resume { _, _ in true }
        XCTAssertEqual(restarted.sender(for: ge).framesToSend(), [])
        XCTAssertEqual(restarted.outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered"])
    }

    func testARefusalIsRecordedWithItsReasonAndARestartResumesWhatWaits() throws {
        let center = try center()
        let id = try center.beginUpload(bytes: 3)
        try XCTUnwrap(center.upload(id)).append([7, 8, 9], at: 0)
        let seal = try center.finishUpload(id).seal
        let envelope = UUID(), ua = CenterID(rawValue: "UA")!
        center.submitted(roots: [seal.root.hexString], envelope: envelope, recipients: [ge, ua])
        center.sender(for: ua).received(.end(root: seal.root, complete: false, reason: "not enough space"))
        let states = center.outgoingStates(of: envelope).first?.recipients.map { "\($0.center) \($0.state)" }
        XCTAssertEqual(states, ["GE waiting", "UA refused: not enough space"])
        let restarted = try self.center()
        restarted.resume { id, peer in id == envelope && peer == self.ge }
        XCTAssertEqual(try indexes(restarted.sender(for: ge).framesToSend(), root: seal.root, chunkCount: 1), [0], "GE's transfer is due again")
        XCTAssertEqual(restarted.sender(for: ua).framesToSend(), [])
    }

    func testARecipientsReRequestResendsItAndADamagedCopyIsNeverSent() throws {
        let center = try center()
        let size = AttachmentSeal.defaultChunkSize
        let id = try center.beginUpload(bytes: 4 * size)
        let upload = try XCTUnwrap(center.upload(id))
        for n in 0..<4 { try upload.append([UInt8](repeating: UInt8(n + 1), count: size), at: n * size) }
        let seal = try center.finishUpload(id).seal
        let envelope = UUID()
        center.submitted(roots: [seal.root.hexString], envelope: envelope, recipients: [ge])
        let sender = center.sender(for: ge)
        sender.envelopesAnswered([envelope])
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: 4), [0])
        sender.received(.ack(root: seal.root, held: 1))
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: 4), [1, 2, 3])
        sender.received(.end(root: seal.root, complete: true, reason: ""))
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered"])

        // GE found its copy damaged from chunk 2 and asks again: the transfer starts over from a probe.
        sender.received(.ack(root: seal.root, held: 2))
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.map(\.state), ["waiting"])
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: 4), [0], "a probe")
        sender.received(.ack(root: seal.root, held: 2))
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: 4), [2, 3], "from the chunk GE asked for")

        // Our own copy altered in chunk 3: chunk 2 still goes, chunk 3 never does.
        let stored = work + "/attachments/out/" + seal.root.hexString + ".ct"
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: stored))
        try handle.seek(toOffset: UInt64(16 + 3 * (size + 16) + 5))
        handle.write(Data([0xEE]))
        try handle.close()
        sender.sessionStarted()
        XCTAssertEqual(try indexes(sender.framesToSend(), root: seal.root, chunkCount: 4), [2])
        sender.received(.ack(root: seal.root, held: 3))
        XCTAssertEqual(sender.framesToSend(), [], "the altered chunk is not sent")
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.map(\.state),
                       ["refused: not sent: this node's copy is damaged (chunk 3 is altered)"])
        sender.received(.ack(root: seal.root, held: 9))
        XCTAssertEqual(sender.framesToSend(), [], "a request for chunks past the end is ignored")
    }
}
