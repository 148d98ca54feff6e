@testable import IIASAPI
@testable import IIASNode
import IIASTransport
import NIOCore
import NIOEmbedded
import XCTest

/// The frame inbox's backpressure: reads are held back while `limit` frames wait for the
/// consumer, resumed by the consumer's `consumed` through one hop to the loop, and a
/// consumer that keeps up costs the loop no hop at all.
final class FrameInboxTests: XCTestCase {
    /// Counts the reads that reach the head of the pipeline (the socket, on a real channel).
    private final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    func testReadsWaitForTheConsumerAndResumeWhenItCatchesUp() async throws {
        let inbox = FrameInbox(limit: 3)
        let counter = ReadCounter()
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([counter, inbox.makeReader()])

        // Below the limit: a read goes through, and a consumer that keeps up needs no hop.
        try channel.writeInbound(Frame.envelope([1]))
        channel.read()
        XCTAssertEqual(counter.reads, 1)
        let first = await inbox.next()
        XCTAssertEqual(first?.count, 1)
        inbox.consumed(1, on: loop)
        loop.run()
        XCTAssertEqual(counter.reads, 1, "nothing was held back: no read from the consumer")

        // At the limit: the read is held back until the consumer has handled them.
        for byte in [2, 3, 4] as [UInt8] { try channel.writeInbound(Frame.envelope([byte]))}
        channel.read()
        XCTAssertEqual(counter.reads, 1, "three frames wait: the read is held back")
        let batch = await inbox.next()
        XCTAssertEqual(batch?.count, 3, "everything that arrived, in one batch")
        guard case .frame(.envelope(let bytes))? = batch?.last else { return XCTFail("\(String(describing: batch))") }
        XCTAssertEqual(bytes, [4], "in arrival order")
        inbox.consumed(1, on: loop)
        loop.run()
        XCTAssertEqual(counter.reads, 2, "below the limit again: the held read goes out")
        inbox.consumed(2, on: loop)
        loop.run()
        XCTAssertEqual(counter.reads, 2, "not paused any more: no second read")

        // The connection ends: the consumer gets nil once the buffer is empty.
        _ = try channel.finish()
        let end = await inbox.next()
        XCTAssertNil(end)
    }
}
