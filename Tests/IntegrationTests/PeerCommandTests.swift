import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// Thread-safe collected output of a background process.
private final class Output: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.lock(); data.append(more); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// `iias peer listen` and `iias peer check` as two real processes over 127.0.0.1.
final class PeerCommandTests: XCTestCase {
    private let pki = TestPKI.shared

    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    private func trust(_ center: String) -> [String] {
        ["--key-dir", pki.centerDirectory(center), "--ca", pki.caFile, "--crl", pki.crlFile]
    }

    /// Starts `iias peer listen` as GE on a free port; returns the process and its port.
    private func startListener() throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RepositoryPaths.iiasExecutable)
        process.arguments = ["peer", "listen", "--port", "0"] + trust("GE")
        let pipe = Pipe(), output = Output()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, process.isRunning, !output.text.contains("\n") {
            Thread.sleep(forTimeInterval: 0.01)  // polling the pipe, bounded by the deadline
        }
        let line = output.text
        guard let range = line.range(of: #"127\.0\.0\.1:(\d+) as GE"#, options: .regularExpression),
              let port = Int(line[range].split(separator: ":")[1].split(separator: " ")[0]) else {
            process.terminate()
            struct ListenerDidNotStart: Error { let output: String }
            throw ListenerDidNotStart(output: line)
        }
        return (process, port)
    }

    func testCheckVerifiesTheListenerAndRefusesWrongPeersWithReasons() throws {
        let (listener, port) = try startListener()
        defer { listener.terminate(); listener.waitUntilExit() }
        let address = "127.0.0.1:\(port)"

        let ok = try iias(["peer", "check", address, "--expect", "GE", "--json"] + trust("AZ"))
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["peer"] as? String, "GE")
        XCTAssertEqual(object["tlsVersion"] as? String, "TLSv1.3")
        XCTAssertEqual(object["protocolVersion"] as? Int, 1)
        XCTAssertEqual(object["subject"] as? String, "CN=GE,OU=tls,O=IIAS")
        XCTAssertGreaterThan(object["daysToExpiry"] as? Int ?? 0, 0)
        XCTAssertNotNil(Double(object["pingMilliseconds"] as? String ?? ""))

        let text = try iias(["peer", "check", address] + trust("UA"))
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("TLSv1.3"), text.stdout)

        // Another center than expected: refused with the reason.
        let wrong = try iias(["peer", "check", address, "--expect", "MD"] + trust("AZ"))
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("GE"), wrong.stderr)

        // A revoked client: the listener refuses it; check exits 1.
        let revoked = try iias(["peer", "check", address, "--ca", pki.caFile, "--key-dir", pki.centerDirectory("RV")])
        XCTAssertEqual(revoked.status, 1, revoked.stderr)
        XCTAssertTrue(revoked.stderr.contains("refused"), revoked.stderr)

        // Usage errors: exit 2.
        XCTAssertEqual(try iias(["peer", "check", "no-port"] + trust("AZ")).status, 2)
        XCTAssertEqual(try iias(["peer", "check", address, "--key-dir", "/nonexistent", "--ca", pki.caFile]).status, 2)

        // The listener survived all of it.
        XCTAssertTrue(listener.isRunning)
        XCTAssertEqual(try iias(["peer", "check", address, "--expect", "GE"] + trust("AZ")).status, 0)
    }

    func testTenThousandRandomSizeFramesBothWaysByteExactThroughTheListenerProcess() throws {
        let (listener, port) = try startListener()
        defer { listener.terminate(); listener.waitUntilExit() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let dir = pki.centerDirectory("AZ")
        let context = try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key", caFile: pki.caFile, crlFile: pki.crlFile)
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        var generator = SystemRandomNumberGenerator()
        // Random sizes 0…2048 cut at random offsets from 1 MiB of random bytes (fast to make in a debug build).
        let pool = (0..<131_072).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
        let frames: [Frame] = (0..<10_000).map { _ in
            let size = Int.random(in: 0...2048, using: &generator), start = Int.random(in: 0...(pool.count - size), using: &generator)
            return .envelope(Array(pool[start..<start + size]))
        }
        let loop = group.next()
        let established = loop.makePromise(of: Void.self), done = loop.makePromise(of: [Frame].self)
        let collector = EchoCollector(expected: frames.count, established: established, done: done)
        let client = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .seconds(10)),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                        PeerSession(configuration: .init(centerID: "AZ", softwareVersion: "test")), collector,
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        defer { try? client.close().wait() }
        let timeout = loop.scheduleTask(in: .seconds(60)) {
            established.fail(ChannelError.connectTimeout(.seconds(60))); done.fail(ChannelError.connectTimeout(.seconds(60)))
        }
        defer { timeout.cancel() }
        try established.futureResult.wait()
        for frame in frames { client.write(frame, promise: nil) }
        client.flush()
        let echoed = try done.futureResult.wait()
        XCTAssertEqual(echoed.count, frames.count)
        XCTAssertTrue(echoed == frames, "echoed frames differ from the sent ones")
    }
}

/// Collects echoed frames after the session is up.
private final class EchoCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    let expected: Int
    let established: EventLoopPromise<Void>
    let done: EventLoopPromise<[Frame]>
    var frames: [Frame] = []
    init(expected: Int, established: EventLoopPromise<Void>, done: EventLoopPromise<[Frame]>) {
        self.expected = expected; self.established = established; self.done = done
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PeerSession.Event { established.succeed(()) }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(unwrapInboundIn(data))
        if frames.count == expected { done.succeed(frames) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { established.fail(error); done.fail(error) }
    func channelInactive(context: ChannelHandlerContext) {
        established.fail(ChannelError.ioOnClosedChannel); done.fail(ChannelError.ioOnClosedChannel)
    }
}
