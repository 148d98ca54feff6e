import Foundation
import IIASModel

/// The first entry of a new log epoch: the epoch, its origin, and the last checkpoint of the
/// previous epoch that a witness cosigned (its signed note with the cosignature). An auditor
/// reads from it where the previous history ends and why the origin changed.
///
/// Logged as an `operatorAction` entry, like a cosignature record: it changes no state.
public struct LogEpochRecord: Sendable, Equatable {
    public static let action = "log-epoch"

    public var epoch: Int
    /// The epoch's origin, e.g. "iias:center:GE/log/epoch-2".
    public var origin: String
    /// The previous epoch's last cosigned checkpoint: its signed note with the cosignature.
    public var previous: String

    public func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "epoch": .integer(Int64(epoch)), "origin": .string(origin), "previous": .string(previous),
        ]))
    }

    /// Reads what `encoded()` wrote; nil for anything else.
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              object.count == 4, case .string(Self.action)? = object["action"], case .integer(let epoch)? = object["epoch"],
              case .string(let origin)? = object["origin"], case .string(let previous)? = object["previous"] else { return nil }
        self.init(epoch: Int(epoch), origin: origin, previous: previous)
    }

    /// How `iias log entries` names it: "iias:center:GE/log/epoch-2 after iias:center:GE/log size 12".
    public var checkpointText: String {
        let lines = previous.split(separator: "\n", maxSplits: 2)
        return lines.count >= 2 ? "\(origin) after \(lines[0]) size \(lines[1])" : origin
    }

    public init(epoch: Int, origin: String, previous: String) {
        self.epoch = epoch
        self.origin = origin
        self.previous = previous
    }
}
