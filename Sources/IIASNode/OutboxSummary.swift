import Foundation
import IIASModel

/// The listing fields of a notification this node sent (sealed to itself in the log).
public struct OutboxSummary: Codable, Sendable, Equatable {
    public var category: Category
    public var priority: Priority
    public var subject: String

    /// The JSON `Decodable` reads back, written by the model's writer (one per submission, on the hot path).
    public var json: [UInt8] {
        JSONWriter.bytes(.object(["category": .string(category.rawValue), "priority": .string(priority.rawValue), "subject": .string(subject)]))
    }

    /// What an encrypted summary is bound to: the envelope it summarizes (so that it
    /// cannot be moved to another submission's entry), under a label of its own.
    public static func associatedData(for envelope: UUID) -> [UInt8] {
        Array("IIAS-outbox-summary\0".utf8) + withUnsafeBytes(of: envelope.uuid) { Array($0) }
    }
}
