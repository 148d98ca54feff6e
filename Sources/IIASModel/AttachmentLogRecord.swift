import Foundation

/// What one `attachment` log entry says: a node holds the ciphertext of an attachment,
/// committed to by `root`. The root sits inside the encrypted notification, so without
/// this entry an auditor holding no key could not check the stored files; with it,
/// `iias log verify` hashes every stored attachment against its logged root.
///
/// Logged as an `operatorAction` entry, like a cosignature record: it changes no state,
/// and older parsers of operator actions, which refuse unknown keys, pass it over. The
/// sender logs one when it stores its ciphertext (`direction` `sent`), each recipient
/// when it holds the whole attachment (`received`).
public struct AttachmentLogRecord: Sendable, Equatable {
    /// The `action` value that tells this record from the other operator actions.
    public static let action = "attachment"

    /// Which copy the entry speaks of: the one a node sent from or the one it received;
    /// `released`: the sender removed its copy after every recipient ended and the
    /// retention passed (`limits.sentAttachmentRetentionDays`), so it is no longer held.
    public enum Direction: String, Sendable { case sent, received, released }

    public var direction: Direction
    /// The center that sent the notification carrying the attachment.
    public var sender: CenterID
    public var envelope: UUID
    /// The attachment's position in the notification's `attachments`, from 0.
    public var index: Int
    public var ciphertextBytes: Int
    public var chunkSize: Int
    /// The Merkle root over the ciphertext chunks, 64 lower-case hex digits.
    public var root: String

    public init(direction: Direction, sender: CenterID, envelope: UUID, index: Int, ciphertextBytes: Int, chunkSize: Int, root: String) {
        self.direction = direction
        self.sender = sender
        self.envelope = envelope
        self.index = index
        self.ciphertextBytes = ciphertextBytes
        self.chunkSize = chunkSize
        self.root = root
    }

    /// Where the node keeps this copy, relative to DATA/attachments.
    public var storedPath: String { direction != .received ? "out/\(root).ct" : "in/\(sender.rawValue)-\(root).ct" }

    /// JSON with sorted keys through the model's writer, like `OperatorAction.encoded()`.
    public func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "direction": .string(direction.rawValue), "sender": .string(sender.rawValue),
            "envelope": .string(envelope.uuidString.lowercased()), "index": .integer(Int64(index)),
            "ciphertextBytes": .integer(Int64(ciphertextBytes)), "chunkSize": .integer(Int64(chunkSize)), "root": .string(root),
        ]))
    }

    /// Reads what `encoded()` wrote; nil for anything else (any other shape, a size out
    /// of range, a chunk size the format does not allow, a root that is not 64 hex digits).
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              object.count == 8, case .string(Self.action)? = object["action"],
              case .string(let directionText)? = object["direction"], let direction = Direction(rawValue: directionText),
              case .string(let senderText)? = object["sender"], let sender = CenterID(rawValue: senderText),
              case .string(let envelopeText)? = object["envelope"], let envelope = UUID(uuidString: envelopeText),
              case .integer(let index)? = object["index"], (0...Int64(Int32.max)).contains(index),
              case .integer(let size)? = object["ciphertextBytes"], (32...Int64(1) << 40).contains(size),
              case .integer(let chunk)? = object["chunkSize"], (1024...1_048_576).contains(chunk), chunk & (chunk - 1) == 0,
              case .string(let root)? = object["root"], root.utf8.count == 64, root.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        self.init(direction: direction, sender: sender, envelope: envelope, index: Int(index), ciphertextBytes: Int(size), chunkSize: Int(chunk), root: root)
    }

    /// Number of chunks a ciphertext of `ciphertextBytes` holds at `chunkSize` (every chunk
    /// but the last is `chunkSize + 16` bytes; the last 16 to `chunkSize + 16`).
    public var chunkCount: Int { max(1, (ciphertextBytes - 16 + chunkSize + 15) / (chunkSize + 16)) }

    /// Where chunk `i` lies in the ciphertext (after the 16-byte nonce).
    public func range(ofChunk i: Int) -> Range<Int> {
        let start = 16 + i * (chunkSize + 16)
        return start..<min(start + chunkSize + 16, ciphertextBytes)
    }
}
