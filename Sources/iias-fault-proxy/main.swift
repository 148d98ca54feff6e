// A TCP proxy under a test's control, for the fault scenarios (Scripts/chaos.sh and the
// integration tests): it sits between two nodes on 127.0.0.1 and, on a command read from
// standard input, passes traffic, delays it, blackholes it (connections stay open, bytes
// vanish), drops it (every connection is reset and new ones are refused) or corrupts it
// (flips one byte in every N forwarded, either way), then heals.
//
//   iias-fault-proxy --listen 127.0.0.1:0 --target 127.0.0.1:7443
//   prints "listening 127.0.0.1:PORT", then reads one command per line:
//     pass | delay MS | blackhole | drop | flip N | status | quit
//   and answers each with "ok MODE connections=N bytes=N flipped=N" (or "error …").
import Foundation
import NIOCore
import NIOPosix

/// What the proxy does with traffic right now.
enum Mode: Equatable, CustomStringConvertible {
    case pass, delay(milliseconds: Int64), blackhole, drop
    /// Forwards, inverting the low bit of every `every`-th byte counted over all connections.
    case flip(every: Int)

    var description: String {
        switch self {
        case .pass: "pass"
        case .delay(let ms): "delay \(ms)"
        case .blackhole: "blackhole"
        case .drop: "drop"
        case .flip(let every): "flip \(every)"
        }
    }

    init?(command: String) {
        let words = command.split(separator: " ")
        switch (words.first, words.count) {
        case ("pass", 1): self = .pass
        case ("blackhole", 1): self = .blackhole
        case ("drop", 1): self = .drop
        case ("delay", 2):
            guard let ms = Int64(words[1]), ms >= 0, ms <= 600_000 else { return nil }
            self = .delay(milliseconds: ms)
        case ("flip", 2):
            guard let every = Int(words[1]), every >= 1 else { return nil }
            self = .flip(every: every)
        default: return nil
        }
    }
}

/// The shared switch every connection consults; changed only by the command loop.
final class Control: @unchecked Sendable {
    private let lock = NSLock()
    private var _mode: Mode = .pass
    private var channels: [ObjectIdentifier: Channel] = [:]
    private var _bytes = 0
    private var sinceFlip = 0
    private var _flipped = 0

    var mode: Mode { lock.withLock { _mode } }
    var connections: Int { lock.withLock { channels.count } }
    var bytes: Int { lock.withLock { _bytes } }
    var flipped: Int { lock.withLock { _flipped } }

    /// Inverts the low bit of each byte of `buffer` that ends a run of `every` bytes.
    func corrupt(_ buffer: inout ByteBuffer, every: Int) {
        lock.withLock {
            var at = every - 1 - sinceFlip
            while at < buffer.readableBytes {
                let index = buffer.readerIndex + at
                buffer.setInteger(buffer.getInteger(at: index, as: UInt8.self)! ^ 0x01, at: index)
                _flipped += 1
                at += every
            }
            sinceFlip = (sinceFlip + buffer.readableBytes) % every
        }
    }

    func count(_ n: Int) { lock.withLock { _bytes += n } }
    func register(_ channel: Channel) { lock.withLock { channels[ObjectIdentifier(channel)] = channel } }
    func unregister(_ channel: Channel) { lock.withLock { _ = channels.removeValue(forKey: ObjectIdentifier(channel)) } }

    /// Sets the mode; `drop` also resets every open connection (SO_LINGER 0 → RST).
    func set(_ mode: Mode) {
        let open: [Channel] = lock.withLock {
            _mode = mode
            sinceFlip = 0
            return mode == .drop ? Array(channels.values) : []
        }
        for channel in open {
            guard let options = channel as? SocketOptionProvider else { channel.close(promise: nil); continue }
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Forwards what one side reads to its partner, as the mode says.
final class Relay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let control: Control
    var partner: Channel?

    init(control: Control) { self.control = control }

    func channelActive(context: ChannelHandlerContext) {
        control.register(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        control.unregister(context.channel)
        partner?.close(promise: nil)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let partner else { return }
        switch control.mode {
        case .pass:
            control.count(buffer.readableBytes)
            partner.writeAndFlush(buffer, promise: nil)
        case .delay(let ms):
            control.count(buffer.readableBytes)
            // Delayed in order: tasks scheduled on one loop with equal delays run in order.
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) { partner.writeAndFlush(buffer, promise: nil) }
        case .flip(let every):
            control.count(buffer.readableBytes)
            var corrupted = buffer
            control.corrupt(&corrupted, every: every)
            partner.writeAndFlush(corrupted, promise: nil)
        case .blackhole:
            break
        case .drop:
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

func parseAddress(_ text: String, option: String) -> SocketAddress {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
          (0...65535).contains(port), let address = try? SocketAddress(ipAddress: String(text[..<colon]), port: port)
    else {
        FileHandle.standardError.write(Data("iias-fault-proxy: \(option) wants IP:PORT, found \"\(text)\"\n".utf8))
        exit(2)
    }
    return address
}

var listenText = "127.0.0.1:0", targetText: String?
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    switch flag {
    case "--listen": listenText = arguments.popFirst() ?? ""
    case "--target": targetText = arguments.popFirst()
    default:
        FileHandle.standardError.write(Data("usage: iias-fault-proxy --listen IP:PORT --target IP:PORT\n".utf8))
        exit(2)
    }
}
guard let targetText else {
    FileHandle.standardError.write(Data("usage: iias-fault-proxy --listen IP:PORT --target IP:PORT\n".utf8))
    exit(2)
}
let listenAddress = parseAddress(listenText, option: "--listen")
let targetAddress = parseAddress(targetText, option: "--target")

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let control = Control()
let server = try ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { inbound in
        if control.mode == .drop { return inbound.close() }
        // The accepted connection is registered (and read) only once this future completes,
        // so nothing arrives before both relays know their partner.
        let inboundRelay = Relay(control: control), outboundRelay = Relay(control: control)
        return inbound.pipeline.addHandler(inboundRelay).flatMap {
            ClientBootstrap(group: inbound.eventLoop)
                .connectTimeout(.seconds(5))
                .channelInitializer { $0.pipeline.addHandler(outboundRelay) }
                .connect(to: targetAddress)
        }.map { outbound in
            inboundRelay.partner = outbound
            outboundRelay.partner = inbound
        }.flatMapError { _ in inbound.close() }
    }
    .bind(to: listenAddress).wait()

/// One line to the controlling process, unbuffered.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

say("listening 127.0.0.1:\(server.localAddress?.port ?? 0)")
while let line = readLine() {
    let command = line.trimmingCharacters(in: .whitespaces)
    if command == "quit" { break }
    if command != "status" {
        guard let mode = Mode(command: command) else {
            say("error unknown command \"\(command.prefix(40))\" (pass | delay MS | blackhole | drop | flip N | status | quit)")
            continue
        }
        control.set(mode)
    }
    say("ok \(control.mode) connections=\(control.connections) bytes=\(control.bytes) flipped=\(control.flipped)")
}
try? server.close().wait()
try? group.syncShutdownGracefully()
