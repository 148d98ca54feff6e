import Foundation

extension Notification {
    static let fields: Set<String> = [
        "version", "id", "sender", "recipients", "created", "kind", "category", "priority", "handling",
        "evaluation", "subject", "summary", "entities", "requestedAction", "references", "inReplyTo",
        "validUntil", "responseDeadline", "attachments",
    ]

    /// Reads and checks a whole document, reporting every problem to `reader`; returns
    /// the notification only if there was none.
    static func read(_ value: JSONValue, _ reader: DocumentReader) -> Notification? {
        let before = reader.problemCount
        guard case .object = value else {
            reader.report("", "expected a JSON object, found \(value.typeName)")
            return nil
        }
        guard let object = reader.object(value, at: "", allowed: fields) else { return nil }

        let version = object.required("version") { v, p -> Int? in
            guard let n = reader.integer(v, at: p, range: Int.min...Int.max) else { return nil }
            guard n == currentVersion else {
                reader.report(p, "unsupported version \(n); this reader knows version \(currentVersion)")
                return nil
            }
            return n
        }
        let id = object.required("id") { reader.uuid($0, at: $1) }
        let sender = object.required("sender") { reader.center($0, at: $1) }
        let recipients = object.required("recipients") { v, p in
            reader.array(v, at: p, count: 1...64, unique: true) { reader.center($0, at: $1) }
        }
        let created = object.required("created") { reader.timestamp($0, at: $1) }
        let kind = object.required("kind") { reader.choice($0, at: $1, Kind.self) }
        let category = object.required("category") { reader.choice($0, at: $1, Category.self) }
        let priority = object.required("priority") { reader.choice($0, at: $1, Priority.self) }
        let handling = object.required("handling") { Handling.read($0, at: $1, reader) }
        let evaluation = object.optional("evaluation") { Evaluation.read($0, at: $1, reader) }
        let subject = object.required("subject") { reader.text($0, at: $1, length: 1...200) }
        let summary = object.required("summary") { reader.text($0, at: $1, length: 1...20_000, characters: .any) }
        let entities = object.optional("entities") { v, p in
            reader.array(v, at: p, count: 0...500) { Entity.read($0, at: $1, reader) }
        }
        let requestedAction = object.optional("requestedAction") { reader.text($0, at: $1, length: 1...2000, characters: .any) }
        let references = object.optional("references") { v, p in
            reader.array(v, at: p, count: 0...64, unique: true) { reader.uuid($0, at: $1) }
        }
        let inReplyTo = object.optional("inReplyTo") { reader.uuid($0, at: $1) }
        let validUntil = object.optional("validUntil") { reader.timestamp($0, at: $1) }
        let responseDeadline = object.optional("responseDeadline") { reader.timestamp($0, at: $1) }
        let attachments = object.optional("attachments") { v, p in
            reader.array(v, at: p, count: 0...32) { Attachment.read($0, at: $1, reader) }
        }

        // Rules across fields. Each runs only when the fields it needs were readable,
        // so one mistake is reported once, where it is.
        if let kind {
            switch kind {
            case .update, .cancellation:
                if !object.has("references") || references?.isEmpty == true {
                    reader.report("/references", "required when kind is \(kind.rawValue): name the notification(s) it changes")
                }
            case .reply where !object.has("inReplyTo"):
                reader.report("/inReplyTo", "required when kind is reply: name the notification it answers")
            case .request where !object.has("responseDeadline"):
                reader.report("/responseDeadline", "required when kind is request")
            default:
                break
            }
        }
        if let sender, let recipients, let index = recipients.firstIndex(of: sender) {
            reader.report("/recipients/\(index)", "the sender (\(sender)) cannot be a recipient")
        }
        if let created {
            if let validUntil, validUntil <= created {
                reader.report("/validUntil", "must be later than created")
            }
            if let responseDeadline, responseDeadline <= created {
                reader.report("/responseDeadline", "must be later than created")
            }
        }
        if let id {
            if let references, let index = references.firstIndex(of: id) {
                reader.report("/references/\(index)", "a notification cannot reference itself")
            }
            if inReplyTo == id {
                reader.report("/inReplyTo", "a notification cannot reply to itself")
            }
        }
        if let entities { checkEntityLinks(entities, reader) }

        guard reader.problemCount == before, let version, let id, let sender, let recipients, let created, let kind,
              let category, let priority, let handling, let subject, let summary
        else { return nil }
        return Notification(
            version: version, id: id, sender: sender, recipients: recipients, created: created, kind: kind,
            category: category, priority: priority, handling: handling, evaluation: evaluation, subject: subject,
            summary: summary, entities: entities ?? [], requestedAction: requestedAction, references: references ?? [],
            inReplyTo: inReplyTo, validUntil: validUntil, responseDeadline: responseDeadline, attachments: attachments ?? [])
    }

    /// Entity ids are unique, and a document's holder names a person in this notification.
    private static func checkEntityLinks(_ entities: [Entity], _ reader: DocumentReader) {
        var firstIndex: [String: Int] = [:]
        for (index, entity) in entities.enumerated() {
            if let first = firstIndex[entity.id] {
                reader.report("/entities/\(index)/id", "duplicate id (also at /entities/\(first))", found: reader.quoted(entity.id))
            } else {
                firstIndex[entity.id] = index
            }
        }
        for (index, entity) in entities.enumerated() {
            guard case .document(let document) = entity, let holder = document.holder else { continue }
            guard let target = firstIndex[holder] else {
                reader.report("/entities/\(index)/holder", "no entity has this id", found: reader.quoted(holder))
                continue
            }
            if entities[target].type != .person {
                reader.report("/entities/\(index)/holder", "names a \(entities[target].type.rawValue), not a person", found: reader.quoted(holder))
            }
        }
    }
}
