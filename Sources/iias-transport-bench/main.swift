import Foundation
import Histogram
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

// Measures the transport on loopback in one process (server and client on separate
// event loops): full mutual-TLS 1.3 handshakes per second, and one connection's
// throughput of 1 KiB ENVELOPE frames and its bulk rate in 64 KiB frames, and its round-trip time (1 KiB PING, PONG back). Scripts/bench.sh prints OpenSSL's own figures
// beside these (openssl s_time, openssl speed) and the ratios.
// Usage: iias-transport-bench --pki DIR [--seconds N] [--frames N] [--round-trips N] [--json FILE]

var pkiPath: String?
var jsonPath: String?
var secondsPerCase = 2.0
var frameCount = 200_000
var roundTripCount = 5_000
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--pki": pkiPath = arguments.popFirst()
    case "--json": jsonPath = arguments.popFirst()
    case "--seconds": secondsPerCase = Double(arguments.popFirst() ?? "") ?? secondsPerCase
    case "--frames": frameCount = Int(arguments.popFirst() ?? "") ?? frameCount
    case "--round-trips": roundTripCount = Int(arguments.popFirst() ?? "") ?? roundTripCount
    default:
        FileHandle.standardError.write(Data("usage: iias-transport-bench --pki DIR [--seconds N] [--frames N] [--round-trips N] [--json FILE]\n".utf8))
        exit(2)
    }
}
guard let pkiPath else {
    FileHandle.standardError.write(Data("iias-transport-bench: --pki DIR is required (a PKI made by Scripts/pki.sh with AZ and GE)\n".utf8))
    exit(2)
}

/// Counts frames; a PING ends a run and is answered with a PONG carrying the count
/// (u64 BE), so the client knows every frame arrived, decrypted and decoded.
final class FrameSink: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    var received: UInt64 = 0
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .ping = unwrapInboundIn(data) {
            let count = (0..<8).reversed().map { UInt8(truncatingIfNeeded: received >> ($0 * 8)) }
            context.writeAndFlush(wrapOutboundOut(.pong(count)), promise: nil)
            received = 0
        } else {
            received += 1
        }
    }
}

/// Completes `handshake` when the peer is verified, and `pong` when a PONG arrives.
final class ClientProbe: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    let handshake: EventLoopPromise<String>
    var pong: EventLoopPromise<UInt64>?
    init(handshake: EventLoopPromise<String>) { self.handshake = handshake }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(_, let version, let cipher)? = event as? TLSEvent { handshake.succeed("\(version) \(cipher)") }
        context.fireUserInboundEventTriggered(event)
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .pong(let count) = unwrapInboundIn(data) { pong?.succeed(count.reduce(0) { $0 << 8 | UInt64($1) }) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        handshake.fail(error); pong?.fail(error); context.close(promise: nil)
    }
}

func context(_ center: String) throws -> OpenSSLContext {
    let dir = "\(pkiPath)/centers/\(center)"
    return try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                              caFile: "\(pkiPath)/ca.crt", crlFile: "\(pkiPath)/crl.pem")
}

let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let trust = try TrustAnchor(caFile: "\(pkiPath)/ca.crt", crlFile: "\(pkiPath)/crl.pem")
let serverTLS = try context("GE"), clientTLS = try context("AZ")
let server = try ServerBootstrap(group: serverGroup)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers([
                TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"]),
                ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), FrameSink(),
            ])
        }
    }
    .bind(host: "127.0.0.1", port: 0).wait()

func connect() throws -> (Channel, ClientProbe) {
    let loop = clientGroup.next()
    let probe = ClientProbe(handshake: loop.makePromise(of: String.self))
    let channel = try ClientBootstrap(group: loop)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    TLSHandler(context: clientTLS, isServer: false, trust: trust, allowedPeers: ["GE"]),
                    ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), probe,
                ])
            }
        }
        .connect(to: server.localAddress!).wait()
    return (channel, probe)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

// Full handshakes: connect, mutual TLS 1.3 with chain + CRL checks on both sides, close.
var negotiated = ""
var handshakes = 0
let handshakeStart = now()
while now() - handshakeStart < secondsPerCase {
    let (channel, probe) = try connect()
    negotiated = try probe.handshake.futureResult.wait()
    try channel.close().wait()
    handshakes += 1
}
let handshakeRate = Double(handshakes) / (now() - handshakeStart)

/// Seconds to write `count` ENVELOPE frames of `payload` on `channel`, in batches of about
/// 256 KiB that respect writability, until the server decoded every one (its PONG).
func timeFrames(_ payload: [UInt8], count: Int, on channel: Channel, probe: ClientProbe) throws -> Double {
    let frame = Frame.envelope(payload)
    let start = now()
    let batch = max(1, (256 << 10) / max(1, payload.count))
    var sent = 0
    while sent < count {
        let n = min(batch, count - sent)
        for _ in 0..<n - 1 { channel.write(frame, promise: nil) }
        try channel.writeAndFlush(frame).wait()  // waits until this batch left the process
        sent += n
    }
    let pong = channel.eventLoop.makePromise(of: UInt64.self)
    try channel.eventLoop.submit { probe.pong = pong }.wait()
    try channel.writeAndFlush(Frame.ping([])).wait()
    let counted = try pong.futureResult.wait()  // the server decoded every frame before the PING
    guard counted == UInt64(count) else {
        FileHandle.standardError.write(Data("iias-transport-bench: the server counted \(counted) of \(count) frames\n".utf8))
        exit(1)
    }
    return now() - start
}

// One connection, 1 KiB frames; then bulk, 64 KiB frames (an attachment's chunk size), 512 MiB.
let (channel, probe) = try connect()
_ = try probe.handshake.futureResult.wait()
let payload = [UInt8](repeating: 0x5A, count: 1024)
let elapsed = try timeFrames(payload, count: frameCount, on: channel, probe: probe)
let bulkFrames = 8192
let bulkMiBPerSecond = Double(bulkFrames) / 16 / (try timeFrames([UInt8](repeating: 0x5A, count: 1 << 16), count: bulkFrames, on: channel, probe: probe))

// Round trips on the same established connection, one at a time: a 1 KiB PING out, the
// PONG back (decrypted, decoded, answered by the server's handler) — the loopback share
// of a node's one-in-flight latency floor (Scripts/bench/summary.py).
let ping = Frame.ping(payload)
var roundTrips = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
for i in 0..<(roundTripCount + 200) {
    let answered = channel.eventLoop.makePromise(of: UInt64.self)
    let t0 = DispatchTime.now().uptimeNanoseconds
    try channel.eventLoop.flatSubmit { probe.pong = answered; return channel.writeAndFlush(ping) }.wait()
    _ = try answered.futureResult.wait()
    if i >= 200 { _ = roundTrips.record((DispatchTime.now().uptimeNanoseconds - t0) / 1000) }  // after 200 warm-up
}
try channel.close().wait()
let framesPerSecond = Double(frameCount) / elapsed
let megabytesPerSecond = Double(frameCount * (payload.count + 5)) / elapsed / 1e6

// The ceiling of this design: OpenSSL's record layer alone, both ends in one thread,
// the same 1 KiB frames through the same memory-BIO engine, no sockets and no NIO.
@MainActor func engineThroughput() throws -> Double {
    let client = try TLSConnection(context: clientTLS, isServer: false)
    let server = try TLSConnection(context: serverTLS, isServer: true)
    var clientDone = false, serverDone = false
    for _ in 0..<20 where !(clientDone && serverDone) {
        clientDone = try client.handshake() == .done
        server.receive(client.takeOutbound())
        serverDone = try server.handshake() == .done
        client.receive(server.takeOutbound())
    }
    let encoded: [UInt8] = [0, 0, 4, 1, 2] + payload  // the ENVELOPE frame as it goes on the wire
    let start = now()
    var bytes = 0
    for _ in 0..<frameCount {
        try client.write(encoded)
        server.receive(client.takeOutbound())
        while true {
            let plain = try server.read()
            if plain.isEmpty { break }
            bytes += plain.count
        }
    }
    guard bytes == frameCount * encoded.count else {
        FileHandle.standardError.write(Data("iias-transport-bench: the engine delivered \(bytes) bytes\n".utf8))
        exit(1)
    }
    return Double(bytes) / (now() - start) / 1e6
}
let engineMegabytesPerSecond = try engineThroughput()

print(String(format: "transport (%@, Ed25519 certificates, chain + CRL checked on both sides)", negotiated))
print(String(format: "  full handshakes (connect, mutual TLS 1.3, close)   %10.0f /s", handshakeRate))
print(String(format: "  one connection, 1 KiB frames                       %10.0f frames/s  %8.1f MB/s", framesPerSecond, megabytesPerSecond))
print(String(format: "  one connection, bulk: 64 KiB frames, 512 MiB         %10.0f MiB/s", bulkMiBPerSecond))
print(String(format: "  round trip, 1 KiB PING → PONG, one at a time        p50 %6.1f µs  p99 %6.1f µs  p999 %6.1f µs  (%d)",
             Double(roundTrips.valueAtPercentile(50)), Double(roundTrips.valueAtPercentile(99)),
             Double(roundTrips.valueAtPercentile(99.9)), roundTripCount))
print(String(format: "  OpenSSL record layer alone, same frames, 1 thread  %10.0f frames/s  %8.1f MB/s   IIAS/engine %.2fx",
             engineMegabytesPerSecond * 1e6 / 1029, engineMegabytesPerSecond, megabytesPerSecond / engineMegabytesPerSecond))

if let jsonPath {
    let object: [String: Any] = [
        "cipher": negotiated, "handshakesPerSecond": handshakeRate,
        "framesPerSecond": framesPerSecond, "megabytesPerSecond": megabytesPerSecond, "frames": frameCount,
        "bulkMiBPerSecond": bulkMiBPerSecond,
        "opensslRecordLayerMegabytesPerSecond": engineMegabytesPerSecond,
        "roundTripMicroseconds": ["p50": roundTrips.valueAtPercentile(50), "p99": roundTrips.valueAtPercentile(99),
                                  "p999": roundTrips.valueAtPercentile(99.9), "count": roundTripCount] as [String: Any],
    ]
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        .write(to: URL(fileURLWithPath: jsonPath))
}
try server.close().wait()
try clientGroup.syncShutdownGracefully()
try serverGroup.syncShutdownGracefully()
