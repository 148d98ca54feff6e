import Foundation
import IIASModel

/// The unit that travels between centers and is kept in every log: a clear, signed
/// header; a body encrypted to the recipients; an Ed25519 signature over both.
///
///     "IIAS" | version u8 | header_len u32 BE | header (canonical JSON) |
///     body_len u32 BE | body (XChaCha20-Poly1305) | signature (64 bytes)
///
/// The signature is Ed25519 over `"IIAS-envelope-v1\0" || every byte before it`, so an
/// auditor can check it with the sender's certificate and `openssl pkeyutl -verify
/// -rawin`, without the body key and without this program. Parsing an `Envelope`
/// checks structure and bounds only; `EnvelopeVerifier` checks who signed it.
public struct Envelope: Sendable {
    public static let magic: [UInt8] = Array("IIAS".utf8)
    /// The layout version, byte 4 (signed like every byte before the signature):
    /// 1 carries each content key in a sealed box; 2 wraps it under the sender's
    /// ephemeral key of the epoch, named in the header (`KeyWrap`); 3 also names the key
    /// that signs it (`EnvelopeHeader.signer`), with its content keys as `ephemeral`
    /// says. A notification is sealed as version 3; receipts name their signer (3) when
    /// they answer a version 3 envelope, whose sender's build reads them, else stay 1.
    public static let currentVersion: UInt8 = 3
    public static let supportedVersions: ClosedRange<UInt8> = 1...3
    /// Domain separation for the signature, so that no other IIAS signature (receipts
    /// use the same layout; tree heads use signed notes) can be replayed as an envelope.
    /// The same for both versions: the version byte it covers tells the layouts apart.
    public static let signatureContext: [UInt8] = Array("IIAS-envelope-v1\0".utf8)
    public static let signatureByteCount = 64

    /// Fixed bounds, checked on the length fields before anything is allocated.
    public static let maximumHeaderBytes = 64 * 1024
    public static let maximumBodyBytes = 8 * 1024 * 1024
    public static let maximumRecipients = 64
    public static let maximumEnvelopeBytes = fixedOverhead + maximumHeaderBytes + maximumBodyBytes
    /// magic + version + two length fields + signature.
    static let fixedOverhead = 4 + 1 + 4 + 4 + signatureByteCount
    static let contentKeyByteCount = XChaCha20Poly1305.keyByteCount
    static let sealedKeyByteCount = contentKeyByteCount + EncryptionPublicKey.sealOverhead

    /// The size of each `keys` member: a sealed box (version 1, no ephemeral key) or a
    /// wrapped key (version 2).
    static func contentKeyFieldByteCount(ephemeral: [UInt8]?) -> Int {
        ephemeral == nil ? sealedKeyByteCount : KeyWrap.wrappedByteCount
    }

    /// The layout version of these bytes (`currentVersion`).
    public var version: UInt8 { bytes[4] }

    /// The one version a header can be sent in: 3 when it names its signer, else 2 when
    /// it names an ephemeral key, else 1.
    static func version(of header: EnvelopeHeader) -> UInt8 { header.signer != nil ? 3 : header.ephemeral == nil ? 1 : 2 }

    /// The exact bytes, as signed, sent and logged.
    public let bytes: [UInt8]
    public let header: EnvelopeHeader
    let headerRange: Range<Int>
    let bodyRange: Range<Int>

    public var id: UUID { header.id }
    public var headerBytes: ArraySlice<UInt8> { bytes[headerRange] }
    public var body: ArraySlice<UInt8> { bytes[bodyRange] }
    public var signature: ArraySlice<UInt8> { bytes[(bytes.count - Self.signatureByteCount)...] }
    /// The message the signature covers: the context string, then every byte before the signature.
    public var signedMessage: [UInt8] { Self.signatureContext + bytes[..<(bytes.count - Self.signatureByteCount)] }
    /// SHA-256 of the whole envelope: what receipts name and auditors compare.
    public var sha256: [UInt8] { SHA256.hash(bytes) }

    /// Parses the layout and the header; no signature or certificate is checked yet.
    public init(parsing bytes: [UInt8]) throws(EnvelopeError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count >= 5 else {
            if !Self.magic.starts(with: bytes) { throw .badMagic }
            throw .truncated(needed: Self.fixedOverhead, actual: bytes.count)
        }
        guard bytes.starts(with: Self.magic) else { throw .badMagic }
        guard Self.supportedVersions.contains(bytes[4]) else { throw .unsupportedVersion(bytes[4]) }
        var cursor = 5
        func length(_ part: String, limit: Int) throws(EnvelopeError) -> Int {
            guard bytes.count >= cursor + 4 else { throw .truncated(needed: cursor + 4, actual: bytes.count) }
            let n = Int(bytes[cursor]) << 24 | Int(bytes[cursor + 1]) << 16 | Int(bytes[cursor + 2]) << 8 | Int(bytes[cursor + 3])
            guard n <= limit else { throw .tooLarge(part: part, size: n, limit: limit) }
            cursor += 4
            guard bytes.count >= cursor + n else { throw .truncated(needed: cursor + n, actual: bytes.count) }
            defer { cursor += n }
            return n
        }
        let headerCount = try length("header", limit: Self.maximumHeaderBytes)
        let headerRange = (cursor - headerCount)..<cursor
        let bodyCount = try length("body", limit: Self.maximumBodyBytes)
        let bodyRange = (cursor - bodyCount)..<cursor
        let end = cursor + Self.signatureByteCount
        guard bytes.count >= end else { throw .truncated(needed: end, actual: bytes.count) }
        guard bytes.count == end else { throw .trailingBytes(bytes.count - end) }
        header = try EnvelopeHeader(parsing: bytes[headerRange])
        guard bytes[4] == Self.version(of: header) else {
            throw .malformedHeader("version \(bytes[4]) does not fit the header: a version 3 envelope names its signer, "
                + "a version 2 envelope an ephemeral key and no signer, a version 1 envelope neither")
        }
        switch header.kind {
        case .notification:
            guard bodyCount >= XChaCha20Poly1305.tagByteCount else {
                throw .truncated(needed: XChaCha20Poly1305.tagByteCount, actual: bodyCount)
            }
        case .receipt:
            guard bodyCount == 0 else { throw .malformedHeader("a receipt has an empty body") }
        }
        self.bytes = bytes
        self.headerRange = headerRange
        self.bodyRange = bodyRange
    }

    /// Lays out header and body and signs them.
    init(header: EnvelopeHeader, headerBytes: [UInt8], body: [UInt8], signer: SigningPrivateKey) {
        var out: [UInt8] = []
        out.reserveCapacity(Self.fixedOverhead + headerBytes.count + body.count)
        out.append(contentsOf: Self.magic)
        out.append(Self.version(of: header))
        Self.appendLength(headerBytes.count, to: &out)
        out.append(contentsOf: headerBytes)
        Self.appendLength(body.count, to: &out)
        out.append(contentsOf: body)
        let signature = signer.signature(for: Self.signatureContext + out)
        self.headerRange = 9..<(9 + headerBytes.count)
        self.bodyRange = (headerRange.upperBound + 4)..<(headerRange.upperBound + 4 + body.count)
        out.append(contentsOf: signature)
        self.bytes = out
        self.header = header
    }

    private static func appendLength(_ n: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
    }

    /// True when the signature verifies with `key`. Says nothing about whether `key`
    /// belongs to the header's sender; `EnvelopeVerifier` checks that.
    public func isSignatureValid(with key: SigningPublicKey) -> Bool {
        key.isValidSignature(signature, for: signedMessage)
    }
}
