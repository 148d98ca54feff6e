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
