import NIOCore

/// Turns bytes into ``Frame``s for a NIO pipeline, refusing oversize frames from the header alone.
///
/// Why: the codec's size check must run before NIO accumulates a body; this decoder asks
/// ``FrameCodec/peekHeader(_:)`` on the first 5 readable bytes and only then waits for the rest.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame
    let codec: FrameCodec

    public init(codec: FrameCodec = FrameCodec()) { self.codec = codec }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, FrameCodec.headerLength)),
              case .frame(let type, let frameLength) = try codec.peekHeader(header),
              buffer.readableBytes >= frameLength else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: FrameCodec.headerLength)
        let body = buffer.readBytes(length: frameLength - FrameCodec.headerLength) ?? []
        context.fireChannelRead(wrapInboundOut(try FrameCodec.frame(type: type, body: body)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes ``Frame``s as bytes (header + body), refusing frames over the maximum.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame
    let codec: FrameCodec

    public init(codec: FrameCodec = FrameCodec()) { self.codec = codec }

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeBytes(try codec.encode(data))
    }
}

/// Answers a refused frame with an ERROR frame, then closes that connection only.
///
/// Why: a hostile or broken peer must learn why it was dropped, and must never keep a
/// half-parsed connection open. Place it after the frame decoder and encoder.
public final class FrameErrorHandler: ChannelInboundHandler {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundOut = Frame

    /// ERROR code sent for a malformed, unknown or oversize frame.
    public static let badFrameCode: UInt16 = 1

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let frameError = error as? FrameError {
            let reply = Frame.error(code: Self.badFrameCode, reason: "bad frame: \(frameError)")
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
        context.fireErrorCaught(error)
    }
}
