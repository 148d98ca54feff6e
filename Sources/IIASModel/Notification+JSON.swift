import Foundation

extension Notification {
    /// The JSON tree that `encoded()` writes and `validate()` checks.
    var json: JSONValue {
        .members([
            "version": .integer(Int64(version)),
            "id": .string(id.canonicalString),
            "sender": .string(sender.rawValue),
            "recipients": .array(recipients.map { .string($0.rawValue) }),
            "created": .string(Timestamp.format(created)),
            "kind": .string(kind.rawValue),
            "category": .string(category.rawValue),
            "priority": .string(priority.rawValue),
            "handling": handling.json,
            "evaluation": evaluation?.json,
            "subject": .string(subject),
            "summary": .string(summary),
            "entities": .array(entities.map(\.json)),
            "requestedAction": requestedAction.map(JSONValue.string),
            "references": .array(references.map { .string($0.canonicalString) }),
            "inReplyTo": inReplyTo.map { .string($0.canonicalString) },
            "validUntil": validUntil.map { .string(Timestamp.format($0)) },
            "responseDeadline": responseDeadline.map { .string(Timestamp.format($0)) },
            "attachments": .array(attachments.map(\.json)),
        ])
    }
}
