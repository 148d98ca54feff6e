import Foundation
@testable import IIASAPI
@testable import IIASNode
import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

/// The client's reader of `GET /v1/events`: lines split anywhere across reads, heartbeats,
/// garbage and an error answer, fed to it on an embedded channel.
final class EventLineReaderTests: XCTestCase {
    /// Everything the reader yields for one answer, and how the stream ended; the channel
    /// runs synchronously, so both streams are finished when the parts are fed.
    private func feed(status: HTTPResponseStatus, _ chunks: [String], end: Bool = true) async throws -> (events: [EventLine], failure: (any Error)?) {
        let (stream, events) = AsyncThrowingStream.makeStream(of: EventLine.self)
        let (answeredStream, answered) = AsyncStream.makeStream(of: Void.self)
        let channel = EmbeddedChannel(handler: EventLineReader(events: events, answered: answered))
        try channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: status)))
        for chunk in chunks { try channel.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: chunk))) }
        if end { try channel.writeInbound(HTTPClientResponsePart.end(nil)) }
        _ = try channel.finish(acceptAlreadyClosed: true)
        var received: [EventLine] = []
        var failure: (any Error)?
        do { for try await event in stream { received.append(event) } } catch { failure = error }
        for await _ in answeredStream {}   // the reader also ends the wait for the answer's head
        return (received, failure)
    }

    func testLinesSplitAcrossReadsHeartbeatsAndGarbage() async throws {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e"
        let delivery = #"{"id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"delivered"},"type":"delivery"}"#
        let (events, failure) = try await feed(status: .ok, [
            String(delivery.prefix(20)), String(delivery.dropFirst(20)) + "\n",   // one line in two reads
            #"{"type":"heartbeat"}"# + "\n",                                      // dropped
            "not json at all\n", "{\"type\":\n",                                 // garbage lines are skipped
            delivery + "\n" + #"{"type":"peer","peer":{"center":"UA","address":"127.0.0.1:1","state":"connected","queued":0}}"# + "\n",
            "{\"type\":\"delivery\"",                                            // cut off by the end: never yielded
        ])
        XCTAssertNil(failure)
        XCTAssertEqual(events.map(\.type), ["delivery", "delivery", "peer"])
        XCTAssertEqual(events.first?.id, UUID(uuidString: id))
        XCTAssertEqual(events.first?.recipient?.state, .delivered)
    }

    func testAnErrorAnswerFailsTheStreamWithTheNodesWords() async throws {
        let body = #"{"error":"root is an auditor: status, peers, outbox and tree head only"}"#
        let (events, failure) = try await feed(status: .forbidden, [String(body.prefix(10)), String(body.dropFirst(10))])
        XCTAssertTrue(events.isEmpty)
        guard case .refused(let status, let error)? = failure as? LocalAPIClient.Failure else { return XCTFail("expected a refusal, got \(String(describing: failure))") }
        XCTAssertEqual(status, 403)
        XCTAssertTrue(error.error.contains("auditor"))
    }

    func testAConnectionThatClosesMidStreamEndsIt() async throws {
        let (events, failure) = try await feed(status: .ok, [#"{"type":"heartbeat"}"# + "\n", "{\"type\":\"deliv"], end: false)
        XCTAssertTrue(events.isEmpty)
        XCTAssertNil(failure, "a closed connection ends the stream; it is not an answer from the node")
    }
}
