/// Encodes and decodes frames: `length u32 BE` (covers type + body) · `type u8` · `body`.
///
/// Why a separate value: the NIO handlers and the tests share one parser whose size
/// check happens on the 5-byte header, before a single body byte is buffered.
public struct FrameCodec: Sendable {
    /// Bytes of the header: 4 length + 1 type.
    public static let headerLength = 5
    /// Default maximum of `length` (type + body): 16 MiB.
    public static let defaultMaximumLength: UInt32 = 16 << 20

    /// Largest `length` accepted or sent.
    public let maximumLength: UInt32

    public init(maximumLength: UInt32 = FrameCodec.defaultMaximumLength) {
        precondition(maximumLength >= 1, "a frame holds at least its type byte")
        self.maximumLength = maximumLength
    }

    /// Result of looking at the start of a buffer.
    public enum Header: Sendable, Equatable {
        /// Fewer than 5 bytes so far.
        case needMoreHeader
        /// A valid header; the whole frame takes `frameLength` bytes including the header.
        case frame(type: UInt8, frameLength: Int)
    }

    /// Checks the header only. Throws on oversize or empty frames before anything is reserved.
    public func peekHeader<C: Collection>(_ bytes: C) throws -> Header where C.Element == UInt8 {
        guard bytes.count >= Self.headerLength else { return .needMoreHeader }
        var index = bytes.startIndex
        var length: UInt32 = 0
        for _ in 0..<4 {
            length = length << 8 | UInt32(bytes[index])
            index = bytes.index(after: index)
        }
        guard length > 0 else { throw FrameError.emptyFrame }
        guard length <= maximumLength else { throw FrameError.oversize(announced: length, maximum: maximumLength) }
        if let limit = FrameType(rawValue: bytes[index])?.maximumLength, length > limit { throw FrameError.oversize(announced: length, maximum: limit) }
        return .frame(type: bytes[index], frameLength: 4 + Int(length))
    }

    /// Decodes one frame from the start of `bytes`; returns nil when more bytes are needed,
    /// else the frame and the number of bytes it took.
    public func decode(_ bytes: [UInt8]) throws -> (frame: Frame, consumed: Int)? {
        guard case .frame(let typeByte, let frameLength) = try peekHeader(bytes) else { return nil }
        guard bytes.count >= frameLength else { return nil }
        let body = Array(bytes[Self.headerLength..<frameLength])
        return (try Self.frame(type: typeByte, body: body), frameLength)
    }

    /// Builds a frame from its type byte and body.
    public static func frame(type typeByte: UInt8, body: [UInt8]) throws -> Frame {
        guard let type = FrameType(rawValue: typeByte) else { throw FrameError.unknownType(typeByte) }
        switch type {
        case .hello: return .hello(try parseHello(body))
        case .envelope: return .envelope(body)
        case .receipt: return .receipt(body)
        case .treeHead: return .treeHead(body)
        case .ping: return .ping(body)
        case .pong: return .pong(body)
        case .chunk, .chunkAck, .attachmentEnd: return .attachment(type, body)
        case .witnessRequest: return .witnessRequest(body)
        case .witnessResponse: return .witnessResponse(body)
        case .receiptProof: return .receiptProof(body)
        case .receiptProofAck: return .receiptProofAck(body)
        case .seenEnvelopes, .envelopeCopy, .checkpointGossip, .logState: return .history(type, body)
        case .error:
            guard body.count >= 2 else { throw FrameError.malformedError }
            let code = UInt16(body[0]) << 8 | UInt16(body[1])
            guard let reason = String(validating: body[2...], as: UTF8.self) else { throw FrameError.malformedError }
            return .error(code: code, reason: reason)
        }
    }

    /// Encodes a frame with its header; throws if it exceeds `maximumLength`.
    public func encode(_ frame: Frame) throws -> [UInt8] {
        let body = Self.body(of: frame)
        let length = body.count + 1
        guard length <= Int(maximumLength), length <= Int(frame.type.maximumLength ?? maximumLength) else { throw FrameError.frameTooLargeToSend(length) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + length)
        out.append(contentsOf: [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
        out.append(frame.type.rawValue)
        out.append(contentsOf: body)
        return out
    }

    /// The body bytes of a frame (no header).
    public static func body(of frame: Frame) -> [UInt8] {
        switch frame {
        case .hello(let hello):
            var out: [UInt8] = [UInt8(hello.protocolVersion >> 8), UInt8(hello.protocolVersion & 0xFF)]
            let id = Array(hello.centerID.utf8), software = Array(hello.softwareVersion.utf8)
            out.append(UInt8(clamping: id.count)); out.append(contentsOf: id.prefix(255))
            out.append(UInt8(clamping: software.count)); out.append(contentsOf: software.prefix(255))
            return out
        case .envelope(let b), .receipt(let b), .treeHead(let b), .ping(let b), .pong(let b), .attachment(_, let b), .witnessRequest(let b), .witnessResponse(let b),
             .receiptProof(let b), .receiptProofAck(let b), .history(_, let b):
            return b
        case .error(let code, let reason):
            return [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
        }
    }

    /// HELLO body: version u16 BE · idLen u8 · id (ASCII A–Z, 0–9) · swLen u8 · software (UTF-8); nothing after.
    static func parseHello(_ body: [UInt8]) throws -> Hello {
        guard body.count >= 4 else { throw FrameError.malformedHello("shorter than 4 bytes") }
        let version = UInt16(body[0]) << 8 | UInt16(body[1])
        let idLength = Int(body[2])
        guard idLength >= 1, idLength <= Hello.maxCenterIDLength else { throw FrameError.malformedHello("center id length \(idLength)") }
        guard body.count >= 3 + idLength + 1 else { throw FrameError.malformedHello("truncated center id") }
        let idBytes = body[3..<(3 + idLength)]
        guard idBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }) else {
            throw FrameError.malformedHello("center id is not A-Z/0-9")
        }
        let swLength = Int(body[3 + idLength])
        let swStart = 4 + idLength
        guard body.count == swStart + swLength else { throw FrameError.malformedHello("software version length mismatch") }
        guard let software = String(validating: body[swStart...], as: UTF8.self) else {
            throw FrameError.malformedHello("software version is not UTF-8")
        }
        return Hello(centerID: String(decoding: idBytes, as: UTF8.self), protocolVersion: version, softwareVersion: software)
    }
}
