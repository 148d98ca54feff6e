import Foundation
import IIASModel

/// The one human view of a notification, for `iias read` (decrypted by the node) and
/// `iias open` (decrypted here, offline): what decides how an operator may act comes
/// first — priority, kind, handling with the meaning of each marking, evaluation,
/// deadline — then what it says, then what it is about (entities, one table per type),
/// its files and its links. Every field of the model is shown; text that came from
/// another center goes through `Terminal.safe`.
struct NotificationRendering {
    let notification: FormalNotification
    /// Rows about this copy rather than the notification (received, state; the envelope's
    /// hash): shown after the notification's own header rows.
    var context: [(String, String)] = []
    /// Lines said before anything else: that the thread cancelled or updated it
    /// (`Render.threadMark`), so that no one acts on it as it reads.
    var banner: [String] = []
    /// What "time left" is measured from.
    var now = Date()

    func print() {
        let n = notification
        for line in banner { Swift.print(line) }
        if !banner.isEmpty { Swift.print("") }
        Swift.print([Render.priority(n.priority), Render.kind(n.kind), Render.tlp(n.handling.tlp),
                     n.handling.codes.map(\.rawValue).joined(separator: " "), n.category.rawValue]
            .filter { !$0.isEmpty }.joined(separator: "  "))
        Swift.print(Terminal.bold(Terminal.safe(n.subject)))
        Swift.print("")
        Terminal.printFields(header, width: Terminal.width)
        if !context.isEmpty {
            // Aligned on their own: the notification's rows read alike in `read` and `open`.
            Swift.print("")
            Terminal.printFields(context, width: Terminal.width)
        }
        paragraph("Summary", n.summary)
        if let action = n.requestedAction { paragraph("Requested action", action) }
        EntityTables(entities: n.entities).print()
        attachments()
        links()
    }

    /// Handling, evaluation, deadlines and addressing, one labelled row each (a marking's
    /// meaning on a row of its own under it).
    private var header: [(String, String)] {
        let n = notification
        var rows: [(String, String)] = [("handling", Render.tlp(n.handling.tlp) + ": " + n.handling.tlp.meaning)]
        for code in n.handling.codes { rows.append(("", "\(code.rawValue): \(code.meaning)")) }
        if let restrictions = n.handling.restrictions { rows.append(("restrictions", Terminal.safe(restrictions))) }
        if let classification = n.handling.classification { rows.append(("classification", Terminal.safe(classification))) }
        rows.append(("evaluation", n.evaluation.map(\.meaning) ?? "none given"))
        if let deadline = n.responseDeadline { rows.append(("answer by", "\(Render.time(deadline)) (\(Render.timeLeft(until: deadline, now: now)))")) }
        if let validUntil = n.validUntil { rows.append(("valid until", Render.time(validUntil))) }
        rows += [("from", n.sender.rawValue), ("to", n.recipients.map(\.rawValue).joined(separator: ", ")),
                 ("created", Render.time(n.created)), ("id", n.id.uuidString.lowercased())]
        return rows
    }

    /// A titled block of free text, wrapped to the terminal's width.
    private func paragraph(_ title: String, _ text: String) {
        Swift.print("")
        Swift.print(Terminal.bold(title))
        for line in Terminal.wrap(Terminal.safe(text), indent: 2) { Swift.print(line) }
    }

    private func attachments() {
        guard !notification.attachments.isEmpty else { return }
        Swift.print("")
        Swift.print(Terminal.bold("Attachments (\(notification.attachments.count))"))
        Terminal.printTable(["NAME", "MEDIA TYPE", "BYTES", "SHA-256"], notification.attachments.map { a in
            [Terminal.safe(a.name), a.mediaType, String(a.bytes), a.sha256]
        })
    }

    private func links() {
        var rows: [(String, String)] = []
        if let reply = notification.inReplyTo { rows.append(("in reply to", reply.uuidString.lowercased())) }
        for (number, reference) in notification.references.enumerated() {
            rows.append((number == 0 ? "references" : "", reference.uuidString.lowercased()))
        }
        guard !rows.isEmpty else { return }
        Swift.print("")
        Swift.print(Terminal.bold("Links"))
        Terminal.printFields(rows)
    }
}

/// A notification's entities as one table per type, in the order of
/// `Entity.EntityType` (persons first), each row in the notification's own order.
struct EntityTables {
    let entities: [Entity]

    func print() {
        table("Persons", ["ID", "NAME", "ALIASES", "BORN", "NATIONALITY", "GENDER", "IDENTIFIERS"]) { entity in
            guard case .person(let p) = entity else { return nil }
            return [p.id, p.name, Self.list(p.aliases), p.dateOfBirth?.rawValue, p.nationality?.rawValue, p.gender?.rawValue,
                    // The last column: one identifier a line, under each other.
                    p.identifiers.isEmpty ? nil : p.identifiers.map { "\($0.scheme) \($0.value)" }.joined(separator: "\n")]
        }
        table("Organizations", ["ID", "NAME", "ALIASES", "COUNTRY"]) { entity in
            guard case .organization(let o) = entity else { return nil }
            return [o.id, o.name, Self.list(o.aliases), o.country?.rawValue]
        }
        table("Vehicles", ["ID", "KIND", "REGISTRATION", "VIN", "MAKE", "MODEL", "COLOUR", "FLAG"]) { entity in
            guard case .vehicle(let v) = entity else { return nil }
            return [v.id, v.kind.rawValue, v.registration, v.vin, v.make, v.model, v.color, v.flagCountry?.rawValue]
        }
        table("Documents", ["ID", "TYPE", "NUMBER", "ISSUED BY", "EXPIRES", "HOLDER"]) { entity in
            guard case .document(let d) = entity else { return nil }
            return [d.id, d.documentType.rawValue, d.number, d.issuingCountry.rawValue, d.expires?.rawValue, d.holder.map(holder)]
        }
        table("Locations", ["ID", "NAME", "COUNTRY", "COORDINATES"]) { entity in
            guard case .location(let l) = entity else { return nil }
            return [l.id, l.place.name, l.place.country?.rawValue, l.place.coordinates.map(Self.coordinates)]
        }
        table("Routes", ["ID", "MODE", "POINTS"]) { entity in
            guard case .route(let r) = entity else { return nil }
            return [r.id, r.mode?.rawValue, r.points.map(Self.place).joined(separator: " → ")]
        }
    }

    /// One titled table of the entities `row` describes (nil: not of this type); empty
    /// cells show "-".
    private func table(_ title: String, _ headers: [String], _ row: (Entity) -> [String?]?) {
        let rows = entities.compactMap(row).map { $0.map { Terminal.safe($0 ?? "-") } }
        guard !rows.isEmpty else { return }
        Swift.print("")
        Swift.print(Terminal.bold("\(title) (\(rows.count))"))
        Terminal.printTable(headers, rows, width: Terminal.width)
    }

    /// A document's holder with the person's name when the notification has it.
    private func holder(_ id: String) -> String {
        for case .person(let p) in entities where p.id == id { return "\(id) (\(p.name))" }
        return id
    }

    private static func list(_ items: [String]) -> String? { items.isEmpty ? nil : items.joined(separator: "; ") }

    static func coordinates(_ c: Coordinates) -> String { "\(c.latitude), \(c.longitude)" }

    static func place(_ p: Place) -> String {
        var text = [p.name, p.country.map { p.name == nil ? $0.rawValue : "(\($0.rawValue))" }].compactMap { $0 }.joined(separator: " ")
        if let c = p.coordinates { text += text.isEmpty ? coordinates(c) : " [\(coordinates(c))]" }
        return text
    }
}
