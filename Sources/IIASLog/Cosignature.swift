import Foundation
import IIASCrypto

/// A witness's cosignature of a checkpoint, C2SP tlog-cosignature with Ed25519
/// (https://c2sp.org/tlog-cosignature, "cosignature/v1"): the witness's statement that,
/// as of `timestamp`, the largest tree it has seen consistent for the checkpoint's origin
/// has this root. A center's peers cosign its checkpoints with their witness keys so that
/// a log cannot show one history to one center and another to the rest.
///
/// In a note it is a signature line "— NAME BASE64(key ID ‖ timestamp ‖ signature)":
/// key ID = SHA-256(NAME ‖ 0x0A ‖ 0x04 ‖ public key)[0..<4], timestamp = 8 bytes
/// big-endian POSIX seconds, signature = Ed25519 over
/// "cosignature/v1\ntime SECONDS\n" followed by the whole checkpoint body.
public struct Cosignature: Sendable, Equatable {
    public var name: String
    public var keyID: [UInt8]
    /// POSIX seconds at which the witness signed.
    public var timestamp: UInt64
    /// The Ed25519 signature (64 bytes).
    public var signature: [UInt8]

    /// Key ID, timestamp, signature: the blob's size in a signature line.
    public static let blobByteCount = 4 + 8 + SigningPrivateKey.signatureByteCount
    /// The largest timestamp the format allows (2^63 − 1).
    public static let maximumTimestamp = UInt64(Int64.max)

    public init(name: String, keyID: [UInt8], timestamp: UInt64, signature: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.timestamp = timestamp
        self.signature = signature
    }

    /// A center's witness key name, e.g. "iias:center:GE/witness".
    public static func name(center: String) -> String { "iias:center:\(center)/witness" }

    /// SHA-256(NAME ‖ 0x0A ‖ 0x04 ‖ Ed25519 public key)[0..<4] (0x04: Ed25519 cosignature/v1).
    public static func keyID(name: String, publicKey: SigningPublicKey) -> [UInt8] {
        Array(SHA256.hash(parts: [Array(name.utf8), [0x0A, 0x04], publicKey.rawRepresentation]).prefix(4))
    }

    /// What the witness signs: "cosignature/v1\ntime SECONDS\n" then the checkpoint body.
    public static func message(body: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(body)".utf8)
    }

    /// Cosigns a checkpoint note body at `timestamp` (POSIX seconds, at most 2^63 − 1).
    public static func sign(body: String, name: String, key: SigningPrivateKey, timestamp: UInt64) -> Cosignature {
        precondition(timestamp <= maximumTimestamp, "a cosignature timestamp is at most 2^63 - 1")
        return Cosignature(name: name, keyID: keyID(name: name, publicKey: key.publicKey), timestamp: timestamp,
                           signature: key.signature(for: message(body: body, timestamp: timestamp)))
    }

    /// Reads a note signature line as a cosignature (its framing only: nothing verified).
    public init(_ line: SignedNote.Signature) throws(CosignatureError) {
        guard line.keyHash.count == 4, line.signature.count == Self.blobByteCount - 4 else {
            throw .malformed("\(line.name): a cosignature is \(Self.blobByteCount) bytes, this one \(line.keyHash.count + line.signature.count)")
        }
        let timestamp = line.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard timestamp <= Self.maximumTimestamp else { throw .malformed("\(line.name): timestamp above 2^63 - 1") }
        self.init(name: line.name, keyID: line.keyHash, timestamp: timestamp, signature: Array(line.signature.dropFirst(8)))
    }

    /// The note signature line this cosignature is.
    public var noteSignature: SignedNote.Signature {
        let time = (0..<8).reversed().map { UInt8(truncatingIfNeeded: timestamp >> (8 * UInt64($0))) }
        return SignedNote.Signature(name: name, keyHash: keyID, signature: time + signature)
    }

    /// "— NAME BASE64(key ID ‖ timestamp ‖ signature)\n".
    public var line: String { noteSignature.line }

    /// Whether this is a valid cosignature of `body` by `publicKey` under its name.
    public func isValid(for body: String, publicKey: SigningPublicKey) -> Bool {
        keyID == Self.keyID(name: name, publicKey: publicKey) && timestamp <= Self.maximumTimestamp
            && publicKey.isValidSignature(signature, for: Self.message(body: body, timestamp: timestamp))
    }

    /// What a verifier accepts beyond the signature.
    public struct VerifyOptions: Sendable {
        /// The verifier's clock.
        public var now: Date
        /// A timestamp more than this many seconds after `now` is refused; nil accepts any.
        public var maximumFutureSeconds: UInt64?

        public init(now: Date = Date(), maximumFutureSeconds: UInt64? = nil) {
            self.now = now
            self.maximumFutureSeconds = maximumFutureSeconds
        }
    }

    /// The valid cosignature by `name` with `publicKey` in `note`. Lines under other names,
    /// and under this name with another key ID (another key of the same witness), are
    /// passed over; a matching line that does not verify is refused, as signed-note asks.
    public static func verify(note: SignedNote, name: String, publicKey: SigningPublicKey,
                              options: VerifyOptions = VerifyOptions()) throws(CosignatureError) -> Cosignature {
        let wanted = keyID(name: name, publicKey: publicKey)
        for line in note.signatures where line.name == name && line.keyHash == wanted {
            let cosignature = try Cosignature(line)
            guard cosignature.isValid(for: note.body, publicKey: publicKey) else { throw .badSignature(name) }
            let now = UInt64(max(0, options.now.timeIntervalSince1970.rounded(.down)))
            if let slack = options.maximumFutureSeconds, cosignature.timestamp > now, cosignature.timestamp - now > slack {
                throw .fromTheFuture(name: name, timestamp: cosignature.timestamp, now: now)
            }
            return cosignature
        }
        throw .noCosignature(name)
    }

    /// Every line of `note` framed as a cosignature (unverified): who claims to have witnessed it.
    public static func all(in note: SignedNote) -> [Cosignature] {
        note.signatures.compactMap { try? Cosignature($0) }
    }
}

/// Why a cosignature was refused.
public enum CosignatureError: Error, Equatable, CustomStringConvertible {
    /// A signature line that is not a cosignature/v1 (size, timestamp range).
    case malformed(String)
    /// No line under that name with that key's ID.
    case noCosignature(String)
    /// The line names that key but its signature does not verify.
    case badSignature(String)
    /// Signed later than the verifier's clock allows.
    case fromTheFuture(name: String, timestamp: UInt64, now: UInt64)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed cosignature: \(why)"
        case let .noCosignature(name): "no cosignature by \(name)"
        case let .badSignature(name): "cosignature by \(name) does not verify"
        case let .fromTheFuture(name, timestamp, now): "cosignature by \(name) is dated \(timestamp), \(timestamp - now) s after now (\(now))"
        }
    }
}
