/// One unit of the IIAS peer protocol, sent inside mutual TLS 1.3.
///
/// Why: peers exchange envelopes, receipts and tree heads over one long-lived
/// connection; a length-prefixed frame lets each side bound what it reads before
/// allocating, and a typed enum makes every frame either fully understood or refused.
/// The wire format is specified in the DocC article "The frame protocol".
public enum Frame: Sendable, Equatable {
    /// First frame each side sends after the TLS handshake.
    case hello(Hello)
    /// A sealed envelope (opaque bytes, see IIASCrypto's Envelope).
    case envelope([UInt8])
    /// A signed receipt for an envelope.
    case receipt([UInt8])
    /// A signed tree head of the sender's log.
    case treeHead([UInt8])
    /// Keep-alive request; the body is echoed in the PONG.
    case ping([UInt8])
    /// Keep-alive answer carrying the PING's body.
    case pong([UInt8])
    /// The sender refuses something and will close the connection.
    case error(code: UInt16, reason: String)
    /// Attachment transfer (CHUNK, CHUNK_ACK, ATTACHMENT_END): bodies the node parses.
    case attachment(FrameType, [UInt8])
    /// A C2SP tlog-witness add-checkpoint body: cosign this checkpoint of my log.
    case witnessRequest([UInt8])
    /// The witness's answer to the oldest unanswered WITNESS_REQUEST: a status line, then its body.
    case witnessResponse([UInt8])
    /// A recipient's C2SP tlog-proof bundles for envelopes it received from us (IIASNode's `ReceiptProofBatch`).
    case receiptProof([UInt8])
    /// The sender kept the RECEIPT_PROOF up to the log size this body names.
    case receiptProofAck([UInt8])
    /// History checks between peers (0x24-0x27: co-recipient digests, envelope copies,
    /// checkpoint gossip, cosigned checkpoints): bodies the node parses.
    case history(FrameType, [UInt8])

    /// The one-byte type on the wire.
    public var type: FrameType {
        switch self {
        case .hello: .hello
        case .envelope: .envelope
        case .receipt: .receipt
        case .treeHead: .treeHead
        case .ping: .ping
        case .pong: .pong
        case .error: .error
        case .attachment(let type, _): type
        case .witnessRequest: .witnessRequest
        case .witnessResponse: .witnessResponse
        case .receiptProof: .receiptProof
        case .receiptProofAck: .receiptProofAck
        case .history(let type, _): type
        }
    }
}

/// Frame types on the wire (one byte after the length).
public enum FrameType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case envelope = 0x02
    case receipt = 0x03
    case treeHead = 0x04
    case ping = 0x05
    case pong = 0x06
    case error = 0x07
    /// One ciphertext chunk of an attachment, with its inclusion proof.
    case chunk = 0x10
    /// The recipient's count of chunks it holds durably.
    case chunkAck = 0x11
    /// The recipient's final word on an attachment: complete or refused.
    case attachmentEnd = 0x12
    case witnessRequest = 0x20
    case witnessResponse = 0x21
    case receiptProof = 0x22
    case receiptProofAck = 0x23
    /// The (sender, id, SHA-256) of envelopes the sender logged that name the receiver as co-recipient.
    case seenEnvelopes = 0x24
    /// A request for, or the answer with, the bytes of one logged envelope.
    case envelopeCopy = 0x25
    /// The newest cosigned checkpoints the sender holds of other centers' logs.
    case checkpointGossip = 0x26
    /// What the sender holds of the receiver's log or its own: a cosigned checkpoint, none, or a refill request.
    case logState = 0x27
}

/// The HELLO body: who the sender claims to be (checked against its certificate).
public struct Hello: Sendable, Equatable {
    /// The sender's center id, e.g. "AZ"; must equal the id in its TLS certificate.
    public var centerID: String
    /// The frame protocol version the sender speaks.
    public var protocolVersion: UInt16
    /// Free text naming the sender's software, for diagnostics only.
    public var softwareVersion: String

    public init(centerID: String, protocolVersion: UInt16 = Hello.currentProtocolVersion, softwareVersion: String) {
        self.centerID = centerID
        self.protocolVersion = protocolVersion
        self.softwareVersion = softwareVersion
    }

    /// The protocol version this code speaks.
    public static let currentProtocolVersion: UInt16 = 1
    /// Longest center id accepted in a HELLO.
    public static let maxCenterIDLength = 64
    /// Longest software version accepted in a HELLO.
    public static let maxSoftwareVersionLength = 255
}
