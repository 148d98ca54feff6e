import Foundation
@testable import IIASNode
import XCTest

/// When a link's attachment chunks may go (`ChunkTurns`): never ahead of a waiting
/// envelope, except for the turn they are owed after a number of envelopes or a time, so
/// that a steady stream of envelopes cannot hold an attachment back for ever.
final class ChunkTurnsTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_764_000_000)

    func testChunksGoWheneverNoEnvelopeWaits() {
        var turns = ChunkTurns(envelopesPerTurn: 4, maxWait: 0.1, quietAfterEnvelopes: 0)
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: false, now: start))
        turns.wrote(envelopes: 0, chunks: 8, envelopesWaiting: false, now: start)
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: false, now: start))
    }

    func testAWaitingEnvelopeHoldsChunksBackUntilTheirTurn() {
        var turns = ChunkTurns(envelopesPerTurn: 4, maxWait: 0.1, quietAfterEnvelopes: 0)
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start), "an envelope waits: chunks wait")
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.05)), "not yet their time")
    }

    func testChunksGetATurnAfterEnoughEnvelopes() {
        var turns = ChunkTurns(envelopesPerTurn: 4, maxWait: 10, quietAfterEnvelopes: 0)
        turns.wrote(envelopes: 3, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start))
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: true, now: start), "4 envelopes written: the chunks' turn")
        turns.wrote(envelopes: 2, chunks: 8, envelopesWaiting: true, now: start)
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start), "the turn taken: envelopes first again")
    }

    func testChunksGetATurnOnceEnvelopesHeldThemBackLongEnough() {
        var turns = ChunkTurns(envelopesPerTurn: 1000, maxWait: 0.1, quietAfterEnvelopes: 0)
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.099)))
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.1)))
        turns.wrote(envelopes: 0, chunks: 8, envelopesWaiting: true, now: start.addingTimeInterval(0.1))
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.15)), "the clock starts again at the turn")
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.2)))
    }

    func testTheWaitCountsFromWhenEnvelopesBeganToHoldChunksBack() {
        var turns = ChunkTurns(envelopesPerTurn: 1000, maxWait: 0.1, quietAfterEnvelopes: 0)
        turns.wrote(envelopes: 0, chunks: 8, envelopesWaiting: false, now: start)
        // A flash notification an hour later: no turn is owed for the idle hour.
        let later = start.addingTimeInterval(3600)
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: later)
        XCTAssertEqual(0, turns.chunksAllowed(envelopesWaiting: true, now: later.addingTimeInterval(0.01)))
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: true, now: later.addingTimeInterval(0.1)))
    }

    func testUnderASteadyStreamChunksGoAtLeastEveryTurn() {
        // 1000 writes of one envelope each, 10 ms apart, an envelope always waiting.
        var turns = ChunkTurns(envelopesPerTurn: 64, maxWait: 0.1)
        var chunkWrites: [Int] = []
        for step in 0..<1000 {
            let now = start.addingTimeInterval(Double(step) * 0.01)
            let chunks = turns.chunksAllowed(envelopesWaiting: true, now: now) > 0 ? 8 : 0
            if chunks > 0 { chunkWrites.append(step) }
            turns.wrote(envelopes: 1, chunks: chunks, envelopesWaiting: true, now: now)
        }
        XCTAssertGreaterThanOrEqual(chunkWrites.count, 90, "about one turn per 100 ms over 10 s")
        XCTAssertLessThanOrEqual(chunkWrites.count, 101, "and no more: envelopes keep the rest")
        XCTAssertTrue(zip(chunkWrites, chunkWrites.dropFirst()).allSatisfy { $1 - $0 <= 11 }, "no gap over the turn's time")
    }

    func testBadSettingsAreClampedToAtLeastOneEnvelope() {
        var turns = ChunkTurns(envelopesPerTurn: 0, maxWait: 10, trickle: 0)
        XCTAssertEqual(turns.envelopesPerTurn, 1)
        XCTAssertEqual(turns.trickle, 1, "a trickle of nothing would stop attachments after every envelope")
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: true, now: start))
    }

    func testAfterAnEnvelopeChunksGoOnlyInTheirTurnsATrickleUntilQuietAgain() {
        var turns = ChunkTurns(envelopesPerTurn: 64, maxWait: 0.1, quietAfterEnvelopes: 0.5, trickle: 1)
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start), .max, "no envelope yet: a whole window")
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        turns.wrote(envelopes: 0, chunks: 0, envelopesWaiting: false, now: start.addingTimeInterval(0.005))   // its receipt
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start.addingTimeInterval(0.005)), 0, "just after a flash notification: none")
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start.addingTimeInterval(0.1)), 1, "their turn: one chunk")
        turns.wrote(envelopes: 0, chunks: 1, envelopesWaiting: false, now: start.addingTimeInterval(0.1))
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start.addingTimeInterval(0.15)), 0)
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start.addingTimeInterval(0.2)), 1)
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: true, now: start.addingTimeInterval(0.2)), .max, "a waiting envelope's turn is a window")
        XCTAssertEqual(turns.chunksAllowed(envelopesWaiting: false, now: start.addingTimeInterval(0.5)), .max, "quiet again: a whole window")
    }

    func testAChunkIsWrittenOnlyOnceThePreviousWriteCompleted() {
        var turns = ChunkTurns(envelopesPerTurn: 4, maxWait: 0.1, quietAfterEnvelopes: 0)
        XCTAssertEqual(1, turns.chunksToWrite(envelopesWaiting: false, now: start), "an idle link writes one chunk, not a window")
        turns.wrote(envelopes: 0, chunks: 1, envelopesWaiting: false, now: start)
        XCTAssertEqual(0, turns.chunksToWrite(envelopesWaiting: false, now: start), "its write has not completed: nothing more is queued")
        XCTAssertEqual(.max, turns.chunksAllowed(envelopesWaiting: false, now: start), "the turn would allow more; the channel does not")
        turns.chunksWritten(1)
        XCTAssertEqual(1, turns.chunksToWrite(envelopesWaiting: false, now: start), "completed: the next one")
        turns.chunksWritten(5)
        XCTAssertEqual(0, turns.queued, "a completion never reported twice goes below zero")
    }

    func testTheQueueRoomNeverOverridesAnEnvelopesTurn() {
        var turns = ChunkTurns(envelopesPerTurn: 4, maxWait: 0.1, quietAfterEnvelopes: 0, maxQueued: 2)
        turns.wrote(envelopes: 1, chunks: 0, envelopesWaiting: true, now: start)
        XCTAssertEqual(0, turns.chunksToWrite(envelopesWaiting: true, now: start), "room in the channel, but an envelope waits")
        XCTAssertEqual(2, turns.chunksToWrite(envelopesWaiting: true, now: start.addingTimeInterval(0.2)), "their turn: at most the room")
        turns.wrote(envelopes: 0, chunks: 2, envelopesWaiting: true, now: start.addingTimeInterval(0.2))
        turns.chunksWritten(2)
        XCTAssertEqual(0, turns.chunksToWrite(envelopesWaiting: true, now: start.addingTimeInterval(0.25)), "written, but the turn is spent")
        XCTAssertEqual(1, ChunkTurns(maxQueued: 0).maxQueued, "at least one chunk can ever be queued")
    }
}
