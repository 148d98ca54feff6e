import Foundation
import IIASCrypto

/// A signed tree head in the C2SP tlog-checkpoint format (https://c2sp.org/tlog-checkpoint),
/// carried in a C2SP signed note (https://c2sp.org/signed-note) with an Ed25519 signature.
/// Body: "ORIGIN\nSIZE\nBASE64(ROOT)\n". Time is not in the checkpoint: it is kept in the
/// log entry of type `treeHead` that records the checkpoint (its entry time field).
public struct Checkpoint: Equatable, Sendable {
    public var origin: String
    public var treeSize: UInt64
    public var rootHash: [UInt8]

    public init(origin: String, treeSize: UInt64, rootHash: [UInt8]) {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
    }

    /// The origin line of a center's log, e.g. "iias:center:AZ/log".
    public static func origin(center: String) -> String { "iias:center:\(center)/log" }

    /// The origin of `center`'s log in `epoch`: the first is ``origin(center:)``; each restore
    /// from an older copy starts the next, "iias:center:AZ/log/epoch-2", whose first entry
    /// names the last checkpoint witnesses cosigned in the one before (see BackupAndRestore).
    public static func origin(center: String, epoch: Int) -> String {
        epoch <= 1 ? origin(center: center) : origin(center: center) + "/epoch-\(epoch)"
    }

    /// The center and epoch a center's log origin names; nil for any other origin.
    public static func logOrigin(_ origin: String) -> (center: String, epoch: Int)? {
        let prefix = "iias:center:"
        guard origin.hasPrefix(prefix) else { return nil }
        let rest = origin.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let center = String(rest[..<slash]), tail = rest[slash...]
        if tail == "/log" { return (center, 1) }
        guard tail.hasPrefix("/log/epoch-"), let epoch = Int(tail.dropFirst("/log/epoch-".count)), epoch >= 2,
              tail == "/log/epoch-\(epoch)" else { return nil }
        return (center, epoch)
    }

    /// The note body the signature covers.
    public var body: String { "\(origin)\n\(treeSize)\n\(Data(rootHash).base64EncodedString())\n" }

    /// Parses a checkpoint body (extension lines after the root are allowed and ignored).
    public init(body: String) throws(CheckpointError) {
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard body.hasSuffix("\n"), lines.count >= 4, !lines[0].isEmpty else { throw .malformed("checkpoint body needs origin, size, root") }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else { throw .malformed("tree size is not a decimal number") }
        guard let root = Data(base64Encoded: String(lines[2])), root.count == SHA256.byteCount else {
            throw .malformed("root hash is not base64 of 32 bytes")
        }
        origin = String(lines[0])
        treeSize = size
        rootHash = Array(root)
    }

    /// The signed-note key hash: SHA-256(NAME || 0x0A || 0x01 || pubkey)[0..<4] (0x01 = Ed25519).
    public static func keyHash(name: String, publicKey: SigningPublicKey) -> [UInt8] {
        Array(SHA256.hash(parts: [Array(name.utf8), [0x0A, 0x01], publicKey.rawRepresentation]).prefix(4))
    }

    /// The signed note: body, blank line, "— NAME BASE64(keyhash || signature)".
    public func signedNote(name: String, key: SigningPrivateKey) -> String {
        let signature = SignedNote.Signature(name: name, keyHash: Self.keyHash(name: name, publicKey: key.publicKey),
                                             signature: key.signature(for: Array(body.utf8)))
        return SignedNote(body: body, signatures: [signature]).text
    }

    /// The signed note under the log's key name, which is its origin (C2SP tlog-checkpoint:
    /// a witness looks the log's key up by the origin line, so the two must agree).
    public func signedNote(key: SigningPrivateKey) -> String { signedNote(name: origin, key: key) }

    /// Opens a tree head of `center`'s log: the origin must be that log's (of any epoch), and the
    /// signature is looked for under the origin's name, then under the bare center id
    /// that tree heads were signed under before (those notes keep verifying).
    public static func verify(note text: String, logOf center: String, publicKey: SigningPublicKey) throws(CheckpointError) -> Checkpoint {
        let claimed = (try? SignedNote(parsing: text).checkpoint().origin).flatMap { logOrigin($0)?.center == center ? $0 : nil }
        let origin = claimed ?? origin(center: center)
        let checkpoint: Checkpoint
        do throws(CheckpointError) {
            checkpoint = try verify(note: text, name: origin, publicKey: publicKey)
        } catch .noSignature {
            checkpoint = try verify(note: text, name: center, publicKey: publicKey)
        }
        guard checkpoint.origin == origin else { throw .malformed("origin \(checkpoint.origin) is not \(center)'s log \(origin)") }
        return checkpoint
    }

    /// Opens a signed note: requires a valid signature by `name` with `publicKey`; other
    /// signature lines (other keys, witnesses) are ignored.
    public static func verify(note text: String, name: String, publicKey: SigningPublicKey) throws(CheckpointError) -> Checkpoint {
        let note = try SignedNote(parsing: text)
        switch signatureCheck(of: note, name: name, publicKey: publicKey) {
        case true?: return try note.checkpoint()
        case false?: throw .badSignature(name)
        case nil: throw note.signatures.contains { $0.name == name } ? .badSignature(name) : .noSignature(name)
        }
    }

    /// Whether `note`'s lines by `name` with `publicKey`'s key hash verify: nil when there is
    /// none, false when any of them fails (signed-note: such a note is not to be trusted).
    public static func signatureCheck(of note: SignedNote, name: String, publicKey: SigningPublicKey) -> Bool? {
        let wanted = keyHash(name: name, publicKey: publicKey)
        let lines = note.signatures.filter { $0.name == name && $0.keyHash == wanted }
        guard !lines.isEmpty else { return nil }
        let body = Array(note.body.utf8)
        return lines.allSatisfy { $0.signature.count == SigningPrivateKey.signatureByteCount && publicKey.isValidSignature($0.signature, for: body) }
    }
}

/// Why a signed checkpoint note was refused.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The text is not a checkpoint signed note.
    case malformed(String)
    /// No signature line from the expected signer name.
    case noSignature(String)
    /// A signature from that name exists but does not verify with the given key.
    case badSignature(String)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed checkpoint note: \(why)"
        case let .noSignature(name): "no signature by \(name)"
        case let .badSignature(name): "signature by \(name) does not verify"
        }
    }
}
