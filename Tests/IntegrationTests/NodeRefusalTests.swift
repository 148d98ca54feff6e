import Foundation
import IIASCrypto
import IIASModel
import IIASNode
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// A hostile or mistaken peer talking to a real node process over mutual TLS: every
/// envelope gets a signed answer (receipt or refusal naming its reason), nothing wrong is
/// logged, a replay gets the same receipt and no second inbox entry.
final class NodeRefusalTests: XCTestCase {
    /// Frames from the node, in order.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = Frame
        let frames: AsyncStream<Frame>
        let continuation: AsyncStream<Frame>.Continuation
        let established: EventLoopPromise<Void>
        init(established: EventLoopPromise<Void>) {
            (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
            self.established = established
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is PeerSession.Event { established.succeed(()) }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) {
            established.fail(ChannelError.ioOnClosedChannel)
            continuation.finish()
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            established.fail(error)
            context.close(promise: nil)
        }
    }

    /// Connects to `port` as `center` (its TLS key) and completes HELLO.
    private func connect(as center: String, port: Int) async throws -> (Channel, AsyncStream<Frame>.Iterator) {
        let dir = TestPKI.shared.centerDirectory(center)
        let context = try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                         caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let trust = try TrustAnchor(caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let established = loop.makePromise(of: Void.self)
        let collector = Collector(established: established)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context, isServer: false, trust: trust, allowedPeers: ["GE"]),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                        PeerSession(configuration: .init(centerID: center, softwareVersion: "test")), collector,
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timeout = loop.scheduleTask(in: .seconds(20)) { established.fail(ChannelError.connectTimeout(.seconds(20))) }
        try await established.futureResult.get()
        timeout.cancel()
        return (channel, collector.frames.makeAsyncIterator())
    }

    private func notification(from sender: String, to recipients: [String], subject: String) throws -> FormalNotification {
        let document: [String: Any] = [
            "version": 1, "id": UUID().uuidString.lowercased(), "sender": sender, "recipients": recipients,
            "created": "2026-11-24T12:00:00Z", "kind": "notification", "category": "extremism", "priority": "urgent",
            "handling": ["tlp": "TLP:AMBER"], "subject": subject, "summary": "Refusal test.", "entities": [],
        ]
        return try FormalNotification.parse(try JSONSerialization.data(withJSONObject: document))
    }

    private func seal(from sender: String, to recipients: [String], created: Date = Date()) throws -> Envelope {
        let keys = try CenterKeys(directory: TestPKI.shared.centerDirectory(sender))
        var recipientKeys: [CenterID: EncryptionPublicKey] = [:]
        for recipient in recipients {
            let certificate = try Certificate(pemFile: "\(TestPKI.shared.centerDirectory(recipient))/encryption.crt")
            recipientKeys[CenterID(rawValue: recipient)!] = try certificate.encryptionPublicKey()
        }
        return try Envelope.seal(try notification(from: sender, to: recipients, subject: "from \(sender)"), signer: keys.signingKey,
                                 recipientKeys: recipientKeys, created: created)
    }

    /// Sends one ENVELOPE frame and returns the node's answer as a parsed receipt envelope.
    private func exchange(_ bytes: [UInt8], on channel: Channel, _ frames: inout AsyncStream<Frame>.Iterator) async throws -> (Envelope, [UInt8]) {
        try await channel.writeAndFlush(Frame.envelope(bytes)).get()
        while let frame = await frames.next() {
            if case .receipt(let answer) = frame { return (try Envelope(parsing: answer), answer) }
        }
        throw TestFailure("the node closed the connection instead of answering")
    }

    func testEveryWrongEnvelopeGetsASignedRefusalAndAReplayTheSameReceipt() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ", "UA"]])
        try cluster.start("GE")
        var (channel, frames) = try await connect(as: "AZ", port: cluster.ports["GE"]!)
        defer { channel.close(promise: nil) }
        let geSigning = try Certificate(pemFile: "\(TestPKI.shared.centerDirectory("GE"))/signing.crt").signingPublicKey()

        func refusal(_ bytes: [UInt8]) async throws -> Receipt {
            let (answer, _) = try await exchange(bytes, on: channel, &frames)
            XCTAssertTrue(answer.isSignatureValid(with: geSigning), "answers are signed by GE")
            return try XCTUnwrap(answer.header.receipt)
        }

        let elsewhere = try await refusal(try seal(from: "AZ", to: ["UA"]).bytes)
        XCTAssertEqual(elsewhere.outcome, .refused)
        XCTAssertEqual(elsewhere.reason, .notARecipient)

        let mismatch = try await refusal(try seal(from: "UA", to: ["GE"]).bytes)
        XCTAssertEqual(mismatch.reason, .senderMismatch, "UA's envelope over AZ's connection")

        let skewed = try await refusal(try seal(from: "AZ", to: ["GE"], created: Date().addingTimeInterval(-86_400)).bytes)
        XCTAssertEqual(skewed.reason, .clockSkew)

        let garbage = try await refusal(Array("IIAS this is not an envelope".utf8))
        XCTAssertEqual(garbage.reason, .invalid)

        var tampered = try seal(from: "AZ", to: ["GE"]).bytes
        tampered[tampered.count - 70] ^= 0x01
        let altered = try await refusal(tampered)
        XCTAssertEqual(altered.outcome, .refused)
        XCTAssertTrue([.badSignature, .invalid].contains(altered.reason), "\(String(describing: altered.reason))")

        let good = try seal(from: "AZ", to: ["GE"])
        let (first, firstBytes) = try await exchange(good.bytes, on: channel, &frames)
        XCTAssertEqual(first.header.receipt?.outcome, .delivered)
        XCTAssertEqual(first.header.receipt?.envelopeSHA256, good.sha256)
        let (_, replayBytes) = try await exchange(good.bytes, on: channel, &frames)
        XCTAssertEqual(replayBytes, firstBytes, "a replay gets the very same signed receipt")

        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(inbox.map(\.id), [good.id], "only the good envelope is in the inbox, once")
        // The node logged exactly that one envelope (no refusal, no replay).
        let status = try await cluster.client("GE").status()
        XCTAssertEqual(status.logEntries, 1)
    }

    func testAnUnknownCenterCannotConnect() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ"]])
        try cluster.start("GE")
        do {
            _ = try await connect(as: "TJ", port: cluster.ports["GE"]!)
            XCTFail("TJ, not a configured peer, completed a session")
        } catch {
            // Refused during the TLS handshake (GE allows only AZ).
        }
        let (channel, _) = try await connect(as: "AZ", port: cluster.ports["GE"]!)
        channel.close(promise: nil)
        let entries = try await cluster.client("GE").status().logEntries
        XCTAssertEqual(entries, 0)
    }
}
