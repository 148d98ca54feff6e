import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
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
        let limits: [String: Any] = ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0, "queueDepth": 1_000_000, "clockSkewSeconds": 2]
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ", "UA"]], extra: ["limits": limits])
        try cluster.start("GE")
        var (channel, frames) = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!)
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

        let future = try await refusal(try seal(from: "AZ", to: ["GE"], created: Date().addingTimeInterval(60)).bytes)
        XCTAssertEqual(future.reason, .clockSkew, "created further ahead than the bound (2 s)")

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

        // Queued for a day at its sender (far beyond the bound): delivered, and a resend
        // gets the receipt signed the first time, not a refusal.
        let old = try seal(from: "AZ", to: ["GE"], created: Date().addingTimeInterval(-86_400))
        let (oldReceipt, oldBytes) = try await exchange(old.bytes, on: channel, &frames)
        XCTAssertEqual(oldReceipt.header.receipt?.outcome, .delivered, "an old created is no reason to refuse")
        let (_, oldReplay) = try await exchange(old.bytes, on: channel, &frames)
        XCTAssertEqual(oldReplay, oldBytes, "the same receipt again, never a contradicting one")

        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(Set(inbox.map(\.id)), [good.id, old.id], "only the good envelopes are in the inbox, once each")
        // The node logged exactly those two envelopes (no refusal, no replay), and the
        // inbox listing above (every consultation is logged).
        let status = try await cluster.client("GE").status()
        XCTAssertEqual(status.logEntries, 3)
    }

    func testAnUnknownCenterCannotConnect() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ"]])
        try cluster.start("GE")
        do {
            _ = try await TestPeer.connect(as: "TJ", port: cluster.ports["GE"]!)
            XCTFail("TJ, not a configured peer, completed a session")
        } catch {
            // Refused during the TLS handshake (GE allows only AZ).
        }
        let (channel, _) = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!)
        channel.close(promise: nil)
        let entries = try await cluster.client("GE").status().logEntries
        XCTAssertEqual(entries, 0)
    }

    /// Listens on `port` as `center` for the node's own connection (the node dials its
    /// peer); the channel once HELLO is done, and the frames the node sends on it.
    private func listen(as center: String, port: Int, for peer: String) async throws -> (Channel, AsyncStream<(Channel, Frame)>) {
        let dir = TestPKI.shared.centerDirectory(center)
        let context = try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                         caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let trust = try TrustAnchor(caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let (frames, continuation) = AsyncStream.makeStream(of: (Channel, Frame).self)
        final class Forward: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = Frame
            let continuation: AsyncStream<(Channel, Frame)>.Continuation
            init(_ continuation: AsyncStream<(Channel, Frame)>.Continuation) { self.continuation = continuation }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield((context.channel, unwrapInboundIn(data))) }
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context, isServer: true, trust: trust, allowedPeers: [peer]),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                        PeerSession(configuration: .init(centerID: center, softwareVersion: "test")), Forward(continuation),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return (server, frames)
    }

    /// The first `count` envelopes the node sends on its connection, by id, and that connection.
    private func envelopes(_ count: Int, from frames: AsyncStream<(Channel, Frame)>) async throws -> (Channel, [UUID: Envelope]) {
        var sent: [UUID: Envelope] = [:]
        var connection: Channel?
        for await (channel, frame) in frames {
            guard case .envelope(let bytes) = frame else { continue }
            let envelope = try Envelope(parsing: bytes)
            sent[envelope.id] = envelope
            connection = channel
            if sent.count == count { break }
        }
        return (try XCTUnwrap(connection, "the node sent fewer than \(count) envelopes"), sent)
    }

    /// A recipient whose build cannot parse an envelope (say, a version it does not read)
    /// refuses it under the null id, naming only the SHA-256 of the bytes. The sender
    /// matches that refusal to the envelope in flight with that digest — it is refused,
    /// with the recipient's reason and detail, instead of waiting and being resent for
    /// ever — and after a restart the fold matches it the same way. A refusal under the
    /// null id with a digest of nothing we sent settles nothing and is not logged.
    func testARefusalUnderTheNullIDIsMatchedByItsDigestLiveAndAfterARestart() async throws {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": ["GE"]])
        let (server, frames) = try await listen(as: "GE", port: cluster.ports["GE"]!, for: "AZ")
        defer { server.close(promise: nil) }
        try cluster.start("AZ")
        let unreadable = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Sealed in a version GE cannot read")).id
        let readable = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Delivered")).id
        let (channel, sent) = try await envelopes(2, from: frames)
        let ge = try CenterKeys(directory: TestPKI.shared.centerDirectory("GE"))
        let null = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        func refusal(of sha256: [UInt8]) -> [UInt8] {
            Envelope.receipt(answering: null, sha256: sha256, to: CenterID(rawValue: "AZ")!, from: ge.center, signer: ge.signingKey,
                             outcome: .refused, reason: .invalid, detail: "malformed header: unsupported envelope version 2").bytes
        }
        try await channel.writeAndFlush(Frame.receipt(refusal(of: [UInt8](repeating: 0x5A, count: 32)))).get()
        try await channel.writeAndFlush(Frame.receipt(refusal(of: sent[unreadable]!.sha256))).get()
        let delivered = Envelope.receipt(for: sent[readable]!, from: ge.center, signer: ge.signingKey, outcome: .delivered, logIndex: 0)
        try await channel.writeAndFlush(Frame.receipt(delivered.bytes)).get()

        func delivery(_ id: UUID) async throws -> RecipientDelivery {
            let recipients = try await cluster.client("AZ").delivery(of: id).recipients
            return try XCTUnwrap(recipients.first)
        }
        try await eventually("the readable one delivered") { try await delivery(readable).state == .delivered }
        let live = try await delivery(unreadable)
        XCTAssertEqual(live.state, .refused, "matched by digest while in flight")
        XCTAssertEqual(live.reason, "invalid")
        XCTAssertEqual(live.detail, "malformed header: unsupported envelope version 2")
        cluster.stopAll()

        let log = try LogStore(directory: cluster.logDirectory("AZ"), readOnly: true)
        let receiptEntries = try (0..<log.count).filter { try log.entry(at: $0).type == .receipt }.count
        XCTAssertEqual(receiptEntries, 2, "the refusal naming nothing we sent is not logged")

        // Without the snapshot written at stop, the restart folds the whole log.
        let snapshot = URL(fileURLWithPath: cluster.logDirectory("AZ")).deletingLastPathComponent().appendingPathComponent("ledger.snapshot")
        try FileManager.default.removeItem(at: snapshot)
        try cluster.start("AZ")
        let folded = try await delivery(unreadable)
        XCTAssertEqual(folded.state, .refused, "the fold matches the logged refusal the same way")
        XCTAssertEqual(folded.receiptLogIndex, live.receiptLogIndex)
        let outbox = try await cluster.client("AZ").status()
        XCTAssertEqual(outbox.outboxPending, 0, "nothing left to resend")
    }

    /// The sender's side of receipt batches, against a recipient that answers with batches
    /// it crafts: a batch in which one receipt names other bytes than were sent settles
    /// nothing and is not logged; a batch naming an envelope never sent settles the rest;
    /// each delivery keeps the recipient's log index; the log verifies and a restart's
    /// fold gives the same states.
    func testASenderLogsABatchOnlyIfEveryReceiptNamesTheBytesItSent() async throws {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": ["GE"]])
        let (server, frames) = try await listen(as: "GE", port: cluster.ports["GE"]!, for: "AZ")
        defer { server.close(promise: nil) }
        try cluster.start("AZ")
        var submitted: [UUID] = []
        for n in 0..<3 {
            submitted.append(try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Batch \(n)")).id)
        }
        let (channel, sent) = try await envelopes(submitted.count, from: frames)
        XCTAssertEqual(Set(sent.keys), Set(submitted))
        let ge = try CenterKeys(directory: TestPKI.shared.centerDirectory("GE"))
        func receipt(_ id: UUID, index: UInt64, sha256: [UInt8]? = nil) -> Receipt {
            Receipt(envelopeID: id, envelopeSHA256: sha256 ?? sent[id]!.sha256, outcome: .delivered, logIndex: index)
        }
        func answer(_ receipts: [Receipt]) async throws {
            let batch = Envelope.receiptBatch(receipts, to: CenterID(rawValue: "AZ")!, from: ge.center, signer: ge.signingKey)
            try await channel.writeAndFlush(Frame.receipt(batch.bytes)).get()
        }
        let (first, second, third) = (submitted[0], submitted[1], submitted[2])
        try await answer([receipt(first, index: 10), receipt(second, index: 11, sha256: [UInt8](repeating: 0xEE, count: 32))])
        try await answer([receipt(third, index: 12), receipt(UUID(), index: 13, sha256: sent[third]!.sha256)])
        func state(_ id: UUID) async throws -> RecipientDelivery {
            let recipients = try await cluster.client("AZ").delivery(of: id).recipients
            return try XCTUnwrap(recipients.first)
        }
        try await eventually("the third delivered") { try await state(third).state == .delivered }
        // Frames are handled in order: the first batch was dropped before the second was read.
        for id in [first, second] {
            let pending = try await state(id).state
            XCTAssertNotEqual(pending, .delivered, "a batch with one wrong digest settles nothing")
        }
        try await answer([receipt(first, index: 10), receipt(second, index: 11)])
        try await eventually("all three delivered") {
            for id in submitted where try await state(id).state != .delivered { return false }
            return true
        }
        let indexes = try await submitted.asyncMap { try await state($0).recipientLogIndex }
        XCTAssertEqual(indexes, [10, 11, 12])
        cluster.stopAll()

        let log = try LogStore(directory: cluster.logDirectory("AZ"), readOnly: true)
        let receiptEntries = try (0..<log.count).filter { try log.entry(at: $0).type == .receipt }.count
        XCTAssertEqual(receiptEntries, 2, "the dropped batch is not in the log")
        let verify = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory("AZ")], timeout: 120)
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)

        try cluster.start("AZ")
        let folded = try await submitted.asyncMap { try await state($0) }
        XCTAssertEqual(folded.map(\.state), [.delivered, .delivered, .delivered], "the fold settles every receipt of a logged batch")
        XCTAssertEqual(folded.map(\.recipientLogIndex), [10, 11, 12])
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
