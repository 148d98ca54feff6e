import IIASTransport
import NIOCore
import NIOEmbedded
import XCTest

final class FrameHandlerTests: XCTestCase {
    func channel(maximum: UInt32 = 1 << 16) throws -> EmbeddedChannel {
        let codec = FrameCodec(maximumLength: maximum)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder(codec: codec)))
        return channel
    }

    func testFramesSplitAcrossReadsDecodeInOrderAndEncodeBack() throws {
        let channel = try channel()
        let frames: [Frame] = [.ping([1]), .envelope(Array(repeating: 7, count: 5000)), .hello(Hello(centerID: "GE", softwareVersion: "t"))]
        let bytes = try frames.flatMap { try FrameCodec(maximumLength: 1 << 16).encode($0) }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 333, bytes.count)
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
            offset = end
        }
        for frame in frames { XCTAssertEqual(try channel.readInbound(as: Frame.self), frame) }
        XCTAssertNil(try channel.readInbound(as: Frame.self))
        try channel.writeOutbound(Frame.pong([1]))
        var out = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(out.readBytes(length: out.readableBytes), [0, 0, 0, 2, 6, 1])
        XCTAssertNoThrow(try channel.finish())
    }

    func testA4GiBHeaderIsRefusedBeforeAnyBodyArrives() throws {
        let channel = try channel()
        XCTAssertThrowsError(try channel.writeInbound(channel.allocator.buffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 2]))) {
            XCTAssertEqual($0 as? FrameError, .oversize(announced: 0xFFFF_FFFF, maximum: 1 << 16))
        }
        _ = try? channel.finish()
    }

    func testUnknownTypeIsATypedError() throws {
        let channel = try channel()
        XCTAssertThrowsError(try channel.writeInbound(channel.allocator.buffer(bytes: [0, 0, 0, 1, 0x99]))) {
            XCTAssertEqual($0 as? FrameError, .unknownType(0x99))
        }
        _ = try? channel.finish()
    }

    func testABadFrameGetsAnErrorFrameAndTheConnectionIsClosed() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        try channel.pipeline.syncOperations.addHandler(FrameErrorHandler())
        XCTAssertThrowsError(try channel.writeInbound(channel.allocator.buffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 2])))
        var out = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        let bytes = out.readBytes(length: out.readableBytes) ?? []
        guard case .error(let code, let reason)? = try FrameCodec().decode(bytes)?.frame else { return XCTFail("\(bytes)") }
        XCTAssertEqual(code, FrameErrorHandler.badFrameCode)
        XCTAssertTrue(reason.contains("oversize"), reason)
        XCTAssertFalse(channel.isActive)
    }
}
