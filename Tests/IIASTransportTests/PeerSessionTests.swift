import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// Records every frame and session event; `waiter` completes when `predicate` first holds.
final class Recorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    var frames: [Frame] = []
    var established: PeerSession.Event?
    var waiter: (predicate: (Recorder) -> Bool, promise: EventLoopPromise<Void>)?
    func check() {
        if let waiter, waiter.predicate(self) { self.waiter = nil; waiter.promise.succeed(()) }
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? PeerSession.Event { established = event; check() }
        context.fireUserInboundEventTriggered(event)
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(unwrapInboundIn(data)); check()
    }
}

/// PeerSession over real sockets on 127.0.0.1: HELLO rules, PING/PONG, flood limit, idle close.
final class PeerSessionTests: XCTestCase {
    let pki = TestPKI.shared
    var group: MultiThreadedEventLoopGroup!
    var trust: TrustAnchor!

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
    }

    override func tearDown() { try? group.syncShutdownGracefully() }

    func tls(_ center: String) throws -> OpenSSLContext { try pki.tlsContext(center) }

    /// A GE server running PeerSession then echoing frames.
    func startServer(keepAlive: TimeAmount = .seconds(30), idleTimeout: TimeAmount = .seconds(60), maxPings: Int = 20) throws -> Channel {
        let serverTLS = try tls("GE"), trust = trust!
        let configuration = PeerSession.Configuration(centerID: "GE", softwareVersion: "test", idleTimeout: idleTimeout, maxPingsPerSecond: maxPings)
        return try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"], handshakeTimeout: .seconds(5)),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), FrameErrorHandler(),
                        IdleStateHandler(readTimeout: keepAlive), PeerSession(configuration: configuration), EchoFrames(),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    /// An AZ client; with `session` it runs PeerSession itself, else it speaks raw frames.
    func connect(_ server: Channel, recorder: Recorder, session: Bool) throws -> Channel {
        let clientTLS = try tls("AZ"), trust = trust!
        return try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandlers([
                        TLSHandler(context: clientTLS, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .seconds(5)),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                    ])
                    if session { try sync.addHandler(PeerSession(configuration: .init(centerID: "AZ", softwareVersion: "test"))) }
                    try sync.addHandler(recorder)
                }
            }
            .connect(to: server.localAddress!).wait()
    }

    /// Waits (bounded) until `predicate` holds on the recorder's event loop.
    func wait(_ channel: Channel, _ recorder: Recorder, _ what: String, _ predicate: @escaping (Recorder) -> Bool) throws {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        try channel.eventLoop.submit { recorder.waiter = (predicate, promise); recorder.check() }.wait()
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { promise.fail(ChannelError.connectTimeout(.seconds(10))) }
        defer { timeout.cancel() }
        XCTAssertNoThrow(try promise.futureResult.wait(), "timed out waiting for \(what)")
    }

    /// Waits (bounded) until the server closed `channel`; false if the test's own deadline closed it.
    func closedByPeer(_ channel: Channel) throws -> Bool {
        let byTest = Flag()
        let task = channel.eventLoop.scheduleTask(in: .seconds(10)) { byTest.set(); channel.close(promise: nil) }
        try channel.closeFuture.wait()
        task.cancel()
        return !byTest.value
    }

    func testSessionsExchangeHelloThenPingPongAndEnvelopes() throws {
        let server = try startServer()
        defer { try? server.close().wait() }
        let recorder = Recorder()
        let client = try connect(server, recorder: recorder, session: true)
        defer { try? client.close().wait() }
        try wait(client, recorder, "HELLO") { $0.established != nil }
        let event = try client.eventLoop.submit { recorder.established }.wait()
        guard case .established(let hello, let identity)? = event else { return XCTFail("no session") }
        XCTAssertEqual(hello.centerID, "GE")
        XCTAssertEqual(hello.protocolVersion, 1)
        XCTAssertEqual(hello.softwareVersion, "test")
        XCTAssertEqual(identity.centerID, "GE")

        client.write(Frame.ping([1, 2, 3]), promise: nil)
        client.writeAndFlush(Frame.envelope([9, 8, 7]), promise: nil)
        try wait(client, recorder, "PONG and echo") { $0.frames.count >= 2 }
        XCTAssertEqual(try client.eventLoop.submit { recorder.frames }.wait(), [.pong([1, 2, 3]), .envelope([9, 8, 7])])
    }

    func refusal(firstFrames: [Frame]) throws -> [Frame] {
        let server = try startServer()
        defer { try? server.close().wait() }
        let recorder = Recorder()
        let client = try connect(server, recorder: recorder, session: false)
        for frame in firstFrames { client.write(frame, promise: nil) }
        client.flush()
        XCTAssertTrue(try closedByPeer(client), "server left the session open after \(firstFrames)")
        return try client.eventLoop.submit { recorder.frames }.wait()
    }

    func testWrongHelloIsAnsweredWithErrorAndClose() throws {
        let cases: [(Frame, String)] = [
            (.ping([1]), "HELLO expected first"),
            (.envelope([1]), "HELLO expected first"),
            (.hello(Hello(centerID: "UA", softwareVersion: "liar")), "is not the certificate's AZ"),
            (.hello(Hello(centerID: "AZ", protocolVersion: 2, softwareVersion: "future")), "protocol version 2"),
        ]
        for (first, reason) in cases {
            let frames = try refusal(firstFrames: [first])
            guard case .hello(let hello)? = frames.first, case .error(let code, let text)? = frames.last else { XCTFail("\(frames)"); continue }
            XCTAssertEqual(hello.centerID, "GE")
            XCTAssertEqual(code, PeerSession.helloRefusedCode)
            XCTAssertTrue(text.contains(reason), text)
        }
        // A second HELLO after a good one is refused too.
        let frames = try refusal(firstFrames: [.hello(Hello(centerID: "AZ", softwareVersion: "t")), .hello(Hello(centerID: "AZ", softwareVersion: "t"))])
        XCTAssertEqual(frames.last, .error(code: PeerSession.helloRefusedCode, reason: "second HELLO"))
    }

    func testPingFloodGetsErrorAndClose() throws {
        let server = try startServer(maxPings: 10)
        defer { try? server.close().wait() }
        let recorder = Recorder()
        let client = try connect(server, recorder: recorder, session: false)
        client.write(Frame.hello(Hello(centerID: "AZ", softwareVersion: "flood")), promise: nil)
        for index in 0..<50 { client.write(Frame.ping([UInt8(index)]), promise: nil) }
        client.flush()
        XCTAssertTrue(try closedByPeer(client), "a PING flood was not closed")
        let frames = try client.eventLoop.submit { recorder.frames }.wait()
        let pongs = frames.filter { if case .pong = $0 { true } else { false } }
        XCTAssertEqual(pongs, (0..<10).map { .pong([UInt8($0)]) })
        XCTAssertEqual(frames.last, .error(code: PeerSession.pingFloodCode, reason: "more than 10 PINGs per second"))
        // The listener still serves a good peer.
        let good = Recorder()
        let other = try connect(server, recorder: good, session: true)
        defer { try? other.close().wait() }
        try wait(other, good, "HELLO after a flood") { $0.established != nil }
    }

    func testSilentPeerGetsKeepAlivePingsThenIdleClose() throws {
        let server = try startServer(keepAlive: .milliseconds(100), idleTimeout: .milliseconds(450))
        defer { try? server.close().wait() }
        let recorder = Recorder()
        let client = try connect(server, recorder: recorder, session: false)
        client.writeAndFlush(Frame.hello(Hello(centerID: "AZ", softwareVersion: "silent")), promise: nil)
        XCTAssertTrue(try closedByPeer(client), "an idle session was not closed")
        let frames = try client.eventLoop.submit { recorder.frames }.wait()
        XCTAssertTrue(frames.contains(.ping([])), "no keep-alive PING before the idle close: \(frames)")
        XCTAssertEqual(frames.last, .error(code: PeerSession.idleTimeoutCode, reason: "idle timeout"))
    }
}
