import Foundation
import IIASModel

/// What one `cosign` log entry says: this node, as a witness, cosigned a checkpoint of a
/// peer's log (which log, which size and root, at what time). An auditor lists them with
/// `iias log entries --type cosign`; the cosignature itself went back to the log.
///
/// Logged as an `operatorAction` entry, like a `Consultation`: it changes no state, and
/// older parsers of operator actions, which refuse unknown keys, pass it over.
public struct CosignatureRecord: Sendable, Equatable {
    /// The `action` value that tells this record from the other operator actions.
    public static let action = "cosign"

    /// The center whose log was cosigned.
    public var log: CenterID
    public var treeSize: UInt64
    /// Base64 of the checkpoint's root hash.
    public var rootHash: String
    /// The cosignature's timestamp, POSIX seconds.
    public var cosignedAt: UInt64

    public init(log: CenterID, treeSize: UInt64, rootHash: String, cosignedAt: UInt64) {
        self.log = log
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.cosignedAt = cosignedAt
    }

    /// JSON with sorted keys through the model's writer, like `OperatorAction.encoded()`.
    public func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "log": .string(log.rawValue), "treeSize": .integer(Int64(clamping: treeSize)),
            "rootHash": .string(rootHash), "cosignedAt": .integer(Int64(clamping: cosignedAt)),
        ]))
    }

    /// Reads what `encoded()` wrote; nil for anything else.
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              object.count == 5, case .string(Self.action)? = object["action"],
              case .string(let logText)? = object["log"], let log = CenterID(rawValue: logText),
              case .integer(let size)? = object["treeSize"], let treeSize = UInt64(exactly: size),
              case .string(let rootHash)? = object["rootHash"],
              case .integer(let time)? = object["cosignedAt"], let cosignedAt = UInt64(exactly: time) else { return nil }
        self.init(log: log, treeSize: treeSize, rootHash: rootHash, cosignedAt: cosignedAt)
    }

    /// How `iias log entries` names the checkpoint: "AZ size 12 root BASE64".
    public var checkpointText: String { "\(log.rawValue) size \(treeSize) root \(rootHash)" }
}
