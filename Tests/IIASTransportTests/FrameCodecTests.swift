import IIASTransport
import XCTest

final class FrameCodecTests: XCTestCase {
    let codec = FrameCodec(maximumLength: 1 << 20)

    func sampleFrames() -> [Frame] {
        [
            .hello(Hello(centerID: "AZ", softwareVersion: "iias 0.1 — test")),
            .envelope(Array(0..<255)), .receipt([1, 2, 3]), .treeHead([]),
            .ping([9, 9]), .pong([9, 9]), .error(code: 7, reason: "bad frame ✗"),
            .witnessRequest(Array("old 0\n\n".utf8)), .witnessResponse(Array("409\n5\n".utf8)),
        ]
    }

    func testEveryFrameTypeRoundTripsAndConcatenatedFramesSplitAtBoundaries() throws {
        var stream: [UInt8] = []
        for frame in sampleFrames() { stream += try codec.encode(frame) }
        var decoded: [Frame] = []
        var rest = stream
        while let (frame, consumed) = try codec.decode(rest) {
            decoded.append(frame)
            rest.removeFirst(consumed)
        }
        XCTAssertEqual(decoded, sampleFrames())
        XCTAssertTrue(rest.isEmpty)
    }

    func testRandomSizedFramesFedByteByByteAreByteExact() throws {
        var generator = SystemRandomNumberGenerator()
        var frames: [Frame] = []
        for _ in 0..<200 {
            let count = Int.random(in: 0...4096, using: &generator)
            frames.append(.envelope((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        }
        let stream = try frames.flatMap { try codec.encode($0) }
        var buffer: [UInt8] = [], decoded: [Frame] = []
        var offset = 0
        while offset < stream.count {
            let chunk = Int.random(in: 1...700, using: &generator)
            buffer += stream[offset..<min(offset + chunk, stream.count)]
            offset += chunk
            while let (frame, consumed) = try codec.decode(buffer) {
                decoded.append(frame)
                buffer.removeFirst(consumed)
            }
        }
        XCTAssertEqual(decoded, frames)
        XCTAssertTrue(buffer.isEmpty)
    }

    func testHeaderAnnouncing4GiBIsRefusedFromTheHeaderAlone() {
        let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, FrameType.envelope.rawValue]
        XCTAssertThrowsError(try codec.peekHeader(header)) {
            XCTAssertEqual($0 as? FrameError, .oversize(announced: 0xFFFF_FFFF, maximum: 1 << 20))
        }
        XCTAssertThrowsError(try codec.decode(header))
        XCTAssertEqual(try codec.peekHeader(header.prefix(4)), .needMoreHeader)
    }

    func testLengthJustAtAndOverTheMaximum() throws {
        let small = FrameCodec(maximumLength: 10)
        XCTAssertNoThrow(try small.encode(.envelope(Array(repeating: 1, count: 9))))
        XCTAssertThrowsError(try small.encode(.envelope(Array(repeating: 1, count: 10)))) {
            XCTAssertEqual($0 as? FrameError, .frameTooLargeToSend(11))
        }
        XCTAssertThrowsError(try small.decode([0, 0, 0, 11, 2] + Array(repeating: 0, count: 10))) {
            XCTAssertEqual($0 as? FrameError, .oversize(announced: 11, maximum: 10))
        }
    }

    func testEmptyAndUnknownTypesAreRefused() {
        XCTAssertThrowsError(try codec.decode([0, 0, 0, 0, 1])) { XCTAssertEqual($0 as? FrameError, .emptyFrame) }
        XCTAssertThrowsError(try codec.decode([0, 0, 0, 1, 0x42])) { XCTAssertEqual($0 as? FrameError, .unknownType(0x42)) }
        XCTAssertThrowsError(try codec.decode([0, 0, 0, 1, 0x00])) { XCTAssertEqual($0 as? FrameError, .unknownType(0)) }
    }

    func testTruncatedFrameWaitsForMoreBytes() throws {
        let full = try codec.encode(.envelope([1, 2, 3, 4]))
        for cut in 0..<full.count { XCTAssertNil(try codec.decode(Array(full.prefix(cut)))) }
        XCTAssertEqual(try codec.decode(full)?.frame, .envelope([1, 2, 3, 4]))
    }

    func testMalformedHellosAreRefused() {
        func hello(_ body: [UInt8]) throws -> Frame { try FrameCodec.frame(type: FrameType.hello.rawValue, body: body) }
        let bad: [[UInt8]] = [
            [], [0, 1, 0], [0, 1, 0, 0],                        // too short / empty id
            [0, 1, 2, 0x41],                                    // truncated id
            [0, 1, 2, 0x61, 0x7A, 0],                           // lowercase id
            [0, 1, 2, 0x41, 0x5A, 3, 0x61],                     // software truncated
            [0, 1, 2, 0x41, 0x5A, 0, 0xFF],                     // trailing byte
            [0, 1, 2, 0x41, 0x5A, 1, 0xFF],                     // software not UTF-8
            [0, 1, 65] + Array(repeating: 0x41, count: 65) + [0], // id too long
        ]
        for body in bad {
            XCTAssertThrowsError(try hello(body), "\(body)") {
                guard case .malformedHello = $0 as? FrameError else { return XCTFail("\($0)") }
            }
        }
        XCTAssertEqual(try hello([0, 1, 2, 0x41, 0x5A, 0]), .hello(Hello(centerID: "AZ", protocolVersion: 1, softwareVersion: "")))
    }

    func testMalformedErrorBodiesAreRefused() {
        XCTAssertThrowsError(try FrameCodec.frame(type: FrameType.error.rawValue, body: [0])) { XCTAssertEqual($0 as? FrameError, .malformedError) }
        XCTAssertThrowsError(try FrameCodec.frame(type: FrameType.error.rawValue, body: [0, 1, 0xC3])) { XCTAssertEqual($0 as? FrameError, .malformedError) }
    }

    func testGarbageNeverCrashesTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? codec.decode(garbage)
        }
        // Reaching here is the assertion: every garbage input either decoded, waited or threw.
        XCTAssertEqual(try codec.decode(try codec.encode(.ping([1])))?.frame, .ping([1]))
    }
}
