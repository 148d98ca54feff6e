import Foundation
import IIASAPI
import IIASModel

/// The listing fields of a notification this node sent (sealed to itself in the log).
public struct OutboxSummary: Codable, Sendable, Equatable {
    public var category: Category
    public var priority: Priority
    public var subject: String
    /// Nil in summaries written before they were recorded (the outbox then shows "-").
    public var kind: Kind?
    public var tlp: TLP?
    /// The rest of the handling (with `tlp`), so that an update or cancellation of this
    /// notification inherits it (`Node.inheritHandling`).
    public var codes: [HandlingCode]?
    public var restrictions: String?
    public var classification: String?
    /// When the operator weakened the handling of what this answers: the marking given up
    /// (`Handling.marking`). Kept here, encrypted, since a marking says something about content.
    public var handlingWeakenedFrom: String?
    /// What it names (`references`, `inReplyTo`), so that threads link our own
    /// notifications too; nil in summaries written before they were recorded.
    public var references: [UUID]?
    /// A request's deadline, and what a reply answers, so that `iias requests` can tell
    /// open requests and answered ones apart. Nil in summaries written before they were
    /// recorded (older builds' decoders skip the keys they do not know).
    public var responseDeadline: Date?
    public var inReplyTo: UUID?

    /// The handling it was sent with; nil in summaries written before it was recorded.
    public var handling: Handling? {
        tlp.map { Handling(tlp: $0, codes: codes ?? [], restrictions: restrictions, classification: classification) }
    }

    public init(category: Category, priority: Priority, subject: String, kind: Kind? = nil, handling: Handling? = nil, handlingWeakenedFrom: String? = nil,
                references: [UUID] = [], responseDeadline: Date? = nil, inReplyTo: UUID? = nil) {
        self.references = references.isEmpty ? nil : references
        self.responseDeadline = responseDeadline
        self.inReplyTo = inReplyTo
        self.tlp = handling?.tlp
        self.codes = handling.map(\.codes).flatMap { $0.isEmpty ? nil : $0 }
        self.restrictions = handling?.restrictions
        self.classification = handling?.classification
        self.handlingWeakenedFrom = handlingWeakenedFrom
        self.category = category
        self.priority = priority
        self.subject = subject
        self.kind = kind
    }

    /// The JSON `Decodable` reads back, written by the model's writer (one per submission, on the hot path).
    public var json: [UInt8] {
        var members: [String: JSONValue] = ["category": .string(category.rawValue), "priority": .string(priority.rawValue), "subject": .string(subject)]
        if let kind { members["kind"] = .string(kind.rawValue) }
        if let tlp { members["tlp"] = .string(tlp.rawValue) }
        if let codes { members["codes"] = .array(codes.map { .string($0.rawValue) }) }
        if let restrictions { members["restrictions"] = .string(restrictions) }
        if let classification { members["classification"] = .string(classification) }
        if let handlingWeakenedFrom { members["handlingWeakenedFrom"] = .string(handlingWeakenedFrom) }
        if let references { members["references"] = .array(references.map { .string($0.canonicalString) }) }
        if let responseDeadline { members["responseDeadline"] = .string(Timestamp.formatWithMilliseconds(responseDeadline)) }
        if let inReplyTo { members["inReplyTo"] = .string(inReplyTo.canonicalString) }
        return JSONWriter.bytes(.object(members))
    }

    /// What an encrypted summary is bound to: the envelope it summarizes (so that it
    /// cannot be moved to another submission's entry), under a label of its own.
    public static func associatedData(for envelope: UUID) -> [UInt8] {
        Array("IIAS-outbox-summary\0".utf8) + withUnsafeBytes(of: envelope.uuid) { Array($0) }
    }
}
