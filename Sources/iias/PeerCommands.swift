import ArgumentParser
import Foundation
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

/// `iias peer …`: check a peer node's TLS and session from the command line.
struct Peer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a peer node: mutual TLS 1.3, HELLO, PING round trip.",
        subcommands: [Check.self, Listen.self]
    )

    /// The TLS identity and trust options both subcommands share.
    struct TLSOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Our center's key folder holding tls.crt and tls.key, e.g. PKI/centers/AZ.", valueName: "dir"))
        var keyDir: String

        @Option(name: .long, help: ArgumentHelp("The interstate root CA certificate (PEM).", valueName: "ca.crt"))
        var ca: String

        @Option(name: .long, help: ArgumentHelp("The CA's revocation list (PEM).", valueName: "crl.pem"))
        var crl: String?

        /// Our TLS context, the trust anchor, and our own center id (from our TLS certificate).
        func load() throws -> (OpenSSLContext, TrustAnchor, String) {
            let certificateFile = (keyDir as NSString).appendingPathComponent("tls.crt")
            let keyFile = (keyDir as NSString).appendingPathComponent("tls.key")
            let trust: TrustAnchor
            do { trust = try TrustAnchor(caFile: ca, crlFile: crl) } catch {
                throw CLIFailure.usage(error.description, hint: "check --ca and --crl point at the files Scripts/pki.sh wrote")
            }
            let ownID: String
            do {
                ownID = try trust.verify(try Certificate(pemFile: certificateFile), for: .tls).rawValue
            } catch {
                throw CLIFailure.usage("our TLS certificate \(certificateFile) is not usable: \(error)", hint: "pass --key-dir PKI/centers/<ID>")
            }
            do {
                let context = try OpenSSLContext(certificateFile: certificateFile, privateKeyFile: keyFile, caFile: ca, crlFile: crl)
                return (context, trust, ownID)
            } catch {
                throw CLIFailure.usage("cannot load our TLS key: \(error)", hint: "pass --key-dir PKI/centers/<ID>")
            }
        }
    }

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

        func run() async throws {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (1...65535).contains(port), colon != address.startIndex else {
                throw CLIFailure.usage("\(address) is not HOST:PORT", hint: "e.g. 127.0.0.1:7443")
            }
            guard (1...600).contains(timeout) else { throw CLIFailure.usage("--timeout must be 1…600 seconds") }
            let host = String(address[..<colon])
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

    struct Listen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve peer sessions for tests: answers HELLO and PING, echoes ENVELOPE frames.",
            shouldDisplay: false
        )

        @Option(name: .long, help: ArgumentHelp("TCP port (0: any free port, printed).", valueName: "port"))
        var port: Int

        @Option(name: .long, help: ArgumentHelp("Address to bind.", valueName: "host"))
        var host = "127.0.0.1"

        @OptionGroup var tls: TLSOptions

        func run() async throws {
            guard (0...65535).contains(port) else { throw CLIFailure.usage("--port must be 0…65535") }
            let (context, trust, ownID) = try tls.load()
            let group = MultiThreadedEventLoopGroup.singleton
            let session = PeerSession.Configuration(centerID: ownID, softwareVersion: "iias/\(IIAS.configuration.version)")
            let server: Channel
            do {
                server = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers([
                                TLSHandler(context: context, isServer: true, trust: trust, allowedPeers: nil, handshakeTimeout: .seconds(10)),
                                ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), FrameErrorHandler(),
                                IdleStateHandler(readTimeout: .seconds(30)), PeerSession(configuration: session), EchoEnvelopes(),
                            ])
                        }
                    }
                    .bind(host: host, port: port).get()
            } catch {
                throw CLIFailure.usage("cannot listen on \(host):\(port): \(error)")
            }
            // Unbuffered, so a test or script reading the pipe sees the port at once.
            FileHandle.standardOutput.write(Data("listening on \(host):\(server.localAddress?.port ?? port) as \(ownID)\n".utf8))
            try await server.closeFuture.get()
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

/// `peer listen`'s service: sends every ENVELOPE frame back.
final class EchoEnvelopes: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .envelope = unwrapInboundIn(data) { context.writeAndFlush(data, promise: nil) }
    }
}
