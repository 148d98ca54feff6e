import ArgumentParser
import Foundation
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

extension Peer {
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

        func validate() throws {
            guard (0...65535).contains(port) else { throw CLIFailure.usage("--port must be 0…65535") }
        }

        func run() async throws {
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

/// `peer listen`'s service: sends every ENVELOPE frame back.
final class EchoEnvelopes: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .envelope = unwrapInboundIn(data) { context.writeAndFlush(data, promise: nil) }
    }
}
