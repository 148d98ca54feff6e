import ArgumentParser
import Foundation
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

extension Peer {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect to a peer, verify it, exchange HELLO and time a PING.",
            discussion: """
            Example:
              iias peer check ge.example:7443 --key-dir PKI/centers/AZ --ca PKI/ca.crt --crl PKI/crl.pem --expect GE

            Exit codes: 0 the peer is reachable and verified, 1 refused (the reason is printed), 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The peer's address.", valueName: "host:port"))
        var address: String

        @OptionGroup var tls: TLSOptions

        @Option(name: .long, help: ArgumentHelp("Refuse any peer but this center.", valueName: "center"))
        var expect: String?

        @Option(name: .long, help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
        var timeout: Int = 10

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            _ = try hostAndPort()
            guard (1...600).contains(timeout) else { throw CLIFailure.usage("--timeout must be 1…600 seconds") }
        }

        /// The address as host and port; anything but HOST:PORT is a usage error.
        func hostAndPort() throws -> (host: String, port: Int) {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (1...65535).contains(port), colon != address.startIndex else {
                throw CLIFailure.usage("\(address) is not HOST:PORT", hint: "e.g. 127.0.0.1:7443")
            }
            return (String(address[..<colon]), port)
        }

        func run() async throws {
            let (host, port) = try hostAndPort()
            let (context, trust, ownID) = try tls.load()
            let group = MultiThreadedEventLoopGroup.singleton
            let loop = group.next()
            let result = loop.makePromise(of: CheckResult.self)
            let probe = Probe(result: result)
            let allowed: Set<String>? = expect.map { [$0] }
            let session = PeerSession.Configuration(centerID: ownID, softwareVersion: "iias/\(IIAS.configuration.version)")
            let channel: Channel
            do {
                channel = try await ClientBootstrap(group: loop)
                    .connectTimeout(.seconds(Int64(timeout)))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers([
                                TLSHandler(context: context, isServer: false, trust: trust, allowedPeers: allowed,
                                           handshakeTimeout: .seconds(Int64(timeout))),
                                ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                                PeerSession(configuration: session), probe,
                            ])
                        }
                    }
                    .connect(host: host, port: port).get()
            } catch {
                throw CLIFailure.invalid("cannot connect to \(address): \(error)")
            }
            let deadline = loop.scheduleTask(in: .seconds(Int64(timeout))) { result.fail(ProbeFailure("no answer within \(timeout) s")) }
            defer { deadline.cancel(); channel.close(promise: nil) }
            let outcome: CheckResult
            do { outcome = try await result.futureResult.get() } catch {
                throw CLIFailure.invalid("\(address) refused: \(error)")
            }
            let days = Int(outcome.identity.certificateExpiry.timeIntervalSinceNow / 86_400)
            let rtt = String(format: "%.3f", outcome.roundTrip * 1000)
            if json {
                Terminal.printJSON([
                    "peer": outcome.identity.centerID, "subject": outcome.identity.subject, "daysToExpiry": days,
                    "tlsVersion": outcome.version, "cipher": outcome.cipher, "pingMilliseconds": rtt,
                    "software": outcome.hello.softwareVersion, "protocolVersion": Int(outcome.hello.protocolVersion),
                ] as [String: Any])
            } else {
                Terminal.printFields([
                    ("peer", outcome.identity.centerID), ("subject", outcome.identity.subject),
                    ("expires in", "\(days) days"), ("tls", "\(outcome.version) \(outcome.cipher)"),
                    ("ping", "\(rtt) ms"), ("software", Terminal.safe(outcome.hello.softwareVersion)),
                ])
            }
        }
    }
}

/// What `peer check` learned.
struct CheckResult {
    var identity: PeerIdentity
    var hello: Hello
    var version: String
    var cipher: String
    var roundTrip: TimeInterval
}

/// Why `peer check` failed after connecting (printed as the reason).
struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// After the session is up, sends one PING and times its PONG.
final class Probe: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    let result: EventLoopPromise<CheckResult>
    var version = "", cipher = ""
    var partial: CheckResult?
    var sentAt = DispatchTime.now()
    let nonce: [UInt8] = (0..<8).map { _ in UInt8.random(in: 0...255) }

    init(result: EventLoopPromise<CheckResult>) { self.result = result }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(_, let version, let cipher)? = event as? TLSEvent {
            self.version = version; self.cipher = cipher
        } else if case .established(let hello, let identity)? = event as? PeerSession.Event {
            partial = CheckResult(identity: identity, hello: hello, version: version, cipher: cipher, roundTrip: 0)
            sentAt = .now()
            context.writeAndFlush(wrapOutboundOut(.ping(nonce)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .pong(let body) where body == nonce:
            guard var outcome = partial else { return }
            outcome.roundTrip = Double(DispatchTime.now().uptimeNanoseconds - sentAt.uptimeNanoseconds) / 1e9
            result.succeed(outcome)
        case .error(let code, let reason):
            result.fail(ProbeFailure("ERROR \(code): \(Terminal.safe(reason))"))
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        result.fail(ProbeFailure("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        result.fail(ProbeFailure("the peer closed the connection"))
    }
}
