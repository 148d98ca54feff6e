import Foundation
import IIASModel

/// The first entry of a new log epoch: the epoch, its origin, and the last checkpoint of the
/// previous epoch that a witness cosigned (its signed note with the cosignature). An auditor
/// reads from it where the previous history ends and why the origin changed.
///
/// Logged as an `operatorAction` entry, like a cosignature record: it changes no state.
struct LogEpochRecord: Sendable, Equatable {
    static let action = "log-epoch"

    var epoch: Int
    var origin: String
    var previous: String

    func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "epoch": .integer(Int64(epoch)), "origin": .string(origin), "previous": .string(previous),
        ]))
    }

    /// Reads what `encoded()` wrote; nil for anything else.
    init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              object.count == 4, case .string(Self.action)? = object["action"], case .integer(let epoch)? = object["epoch"],
              case .string(let origin)? = object["origin"], case .string(let previous)? = object["previous"] else { return nil }
        self.init(epoch: Int(epoch), origin: origin, previous: previous)
    }

    init(epoch: Int, origin: String, previous: String) {
        self.epoch = epoch
        self.origin = origin
        self.previous = previous
    }
}
