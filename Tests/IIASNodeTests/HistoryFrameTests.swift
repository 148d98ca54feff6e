import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
@testable import IIASNode
import XCTest

/// The bodies of the history frames (0x24, 0x26, 0x27) and the epoch record: what is
/// written reads back, and anything else is refused whole.
final class HistoryFrameTests: XCTestCase {
    private func note(size: UInt64, origin: String = Checkpoint.origin(center: "AZ")) -> SignedNote {
        let checkpoint = Checkpoint(origin: origin, treeSize: size, rootHash: Array(repeating: 7, count: 32))
        return try! SignedNote(parsing: checkpoint.signedNote(key: SigningPrivateKey.generate()))
    }

    func testSeenLinesReadBackAndMalformedBodiesAreRefused() throws {
        let items = (0..<3).map { number in
            SeenEnvelope(key: EnvelopeKey(sender: CenterID("AZ")!, id: UUID()), sha256: Array(repeating: UInt8(number), count: 32))
        }
        XCTAssertEqual(SeenEnvelope.parse(SeenEnvelope.body(items)), items)
        let good = items[0].line
        for bad in ["", "AZ \(items[0].key.id) 00\n", "az \(items[0].key.id) \(String(repeating: "0", count: 64))\n",
                    "AZ not-a-uuid \(String(repeating: "0", count: 64))\n", String(good.dropLast()), good + "extra\n",
                    "AZ  \(items[0].key.id) \(String(repeating: "0", count: 64))\n"] {
            XCTAssertNil(SeenEnvelope.parse(Array(bad.utf8)), bad)
        }
        XCTAssertNil(SeenEnvelope.parse(Array(String(repeating: good, count: SeenEnvelope.maximumPerFrame + 1).utf8)), "too many lines")
        XCTAssertEqual(SeenEnvelope.body(Array(repeating: items[0], count: SeenEnvelope.maximumPerFrame + 5)).count,
                       good.utf8.count * SeenEnvelope.maximumPerFrame, "a frame carries at most its maximum")
    }

    func testLogStateMessagesReadBackAndOthersAreRefused() {
        for message in [LogStateMessage.cosigned(note(size: 9)), .none, .refill(fromIndex: 41)] {
            XCTAssertEqual(LogStateMessage(bytes: message.bytes), message)
        }
        for bad in ["", "none", "none\nx", "refill 01\n", "refill -1\n", "refill 5\nmore", "cosigned\nnot a note", "other\n"] {
            XCTAssertNil(LogStateMessage(bytes: Array(bad.utf8)), bad)
        }
        XCTAssertNil(LogStateMessage(bytes: Array(repeating: 0x41, count: LogStateMessage.maximumBytes + 1)))
    }

    func testConsistencyQuestionsAndProofsReadBackAndMalformedOnesAreRefused() {
        let question = ConsistencyQuestion(origin: Checkpoint.origin(center: "AZ", epoch: 2), from: 9, to: 11)
        let proof = (0..<5).map { Array(repeating: UInt8($0), count: 32) }
        for message in [LogStateMessage.consistencyAsked(question), .consistencyProof(question, proof: proof), .consistencyProof(question, proof: [])] {
            XCTAssertEqual(LogStateMessage(bytes: message.bytes), message)
        }
        let hash = Data(repeating: 7, count: 32).base64EncodedString()
        let origin = "iias:center:AZ/log"
        for bad in ["consistency 9 11\n", "consistency 9 11\n\(origin)", "consistency 11 9\n\(origin)\n", "consistency 0 9\n\(origin)\n",
                    "consistency 9 9\n\(origin)\n", "consistency 09 11\n\(origin)\n", "consistency 9 11 12\n\(origin)\n", "consistency 9\n\(origin)\n",
                    "consistency 9 11\nexample.org/log\n", "consistency 9 11\n\(origin)\n\(hash)\n", "proof 9 11\n\(origin)\nnot base64\n",
                    "proof 9 11\n\(origin)\nAAAA\n", "proof 9 11\n\(origin)\n\(hash)", "proof 9 11\n\(origin)\n\n\(hash)\n",
                    "proof 9 11\n\(origin)\n" + String(repeating: hash + "\n", count: 64)] {
            XCTAssertNil(LogStateMessage(bytes: Array(bad.utf8)), bad)
        }
        XCTAssertNotNil(LogStateMessage(bytes: Array(("proof 9 11\n\(origin)\n" + String(repeating: hash + "\n", count: 63)).utf8)), "63 hashes")
    }

    func testGossipReadsBackAndTruncatedOrOversizeBodiesAreRefused() {
        let notes = [note(size: 3), note(size: 5, origin: Checkpoint.origin(center: "UA", epoch: 2))]
        let body = CheckpointGossip.body(notes)
        XCTAssertEqual(CheckpointGossip.parse(body), notes)
        XCTAssertEqual(CheckpointGossip.parse([]), [])
        XCTAssertNil(CheckpointGossip.parse(Array(body.dropLast())), "truncated")
        XCTAssertNil(CheckpointGossip.parse(Array("99999999\nx".utf8)), "a length beyond a note's bound")
        XCTAssertNil(CheckpointGossip.parse(Array("5\nhello".utf8)), "not a checkpoint")
        XCTAssertEqual(CheckpointGossip.parse(CheckpointGossip.body(Array(repeating: notes[0], count: 70)))?.count, CheckpointGossip.maximumNotes)
    }

    func testEpochOriginsNameTheirCenterAndEpoch() {
        XCTAssertEqual(Checkpoint.origin(center: "GE", epoch: 1), "iias:center:GE/log")
        XCTAssertEqual(Checkpoint.origin(center: "GE", epoch: 3), "iias:center:GE/log/epoch-3")
        XCTAssertTrue(Checkpoint.logOrigin("iias:center:UA-SBU/log/epoch-2").map { $0 == ("UA-SBU", 2) } ?? false)
        XCTAssertTrue(Checkpoint.logOrigin("iias:center:GE/log").map { $0 == ("GE", 1) } ?? false)
        for bad in ["iias:center:GE/log/epoch-1", "iias:center:GE/log/epoch-02", "iias:center:GE/log/epoch-", "iias:center:GE/witness",
                    "example.org/log", "iias:center:GE/log/", "iias:center:GE"] {
            XCTAssertNil(Checkpoint.logOrigin(bad), bad)
        }
        let record = LogEpochRecord(epoch: 2, origin: "iias:center:GE/log/epoch-2", previous: note(size: 4).text)
        XCTAssertEqual(LogEpochRecord(json: record.encoded()), record)
        XCTAssertNil(LogEpochRecord(json: Array(#"{"action":"log-epoch","epoch":2}"#.utf8)))
    }
}
