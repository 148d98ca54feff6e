import Foundation
import IIASModel

/// The event stream's two most frequent lines, delivery changes and heartbeats, written and
/// read with the model's own JSON writer and parser instead of `Codable`: a busy sender
/// emits several delivery lines per notification, and Foundation's generic encoder and
/// decoder cost more per line than the rest of the stream. The bytes are the ones
/// `APIJSON.encoder()` writes (sorted keys, the same escapes, dates with milliseconds,
/// upper-case UUIDs, absent optionals left out), so readers cannot tell which side wrote
/// a line. Every other line, and every line either side does not recognise exactly,
/// goes through `Codable`.
extension EventLine {
    /// The line's JSON, or nil when it is not a delivery or heartbeat line this writer
    /// can lay out exactly (the caller then encodes it with `Codable`).
    package func fastJSON() -> [UInt8]? {
        let value: JSONValue
        switch type {
        case "heartbeat" where item == nil && id == nil && recipient == nil && peer == nil:
            value = .object(["type": .string(type)])
        case "delivery" where item == nil && peer == nil:
            guard let id, let recipient = recipient?.jsonValue else { return nil }
            value = .object(["type": .string(type), "id": .string(id.uuidString), "recipient": recipient])
        default:
            return nil
        }
        return JSONWriter.bytes(value)
    }

    /// A delivery or heartbeat line read without `Codable`; nil for anything else,
    /// including every line `Codable` would refuse, so the caller falls back to it and
    /// gets its verdict.
    package init?(fastParsing line: some Collection<UInt8>) {
        guard let parsed = try? JSONParser.parse(Array(line)), parsed.duplicateKeys.isEmpty,
              case .object(let members) = parsed.value, case .string(let type)? = members["type"] else { return nil }
        switch type {
        case "heartbeat" where members.count == 1:
            self.init(heartbeat: ())
        case "delivery" where members.count == 3:
            guard case .string(let text)? = members["id"], let id = UUID(uuidString: text),
                  let recipient = members["recipient"].flatMap(RecipientDelivery.init(jsonValue:)) else { return nil }
            self.init(.delivery(id: id, recipient: recipient))
        default:
            return nil
        }
    }
}

extension RecipientDelivery {
    /// The members `Codable` writes, as a JSON tree; nil if a log index does not fit the
    /// parser's 64-bit signed integers.
    var jsonValue: JSONValue? {
        func index(_ value: UInt64?) -> JSONValue?? {
            guard let value else { return .some(nil) }
            return Int64(exactly: value).map { .integer($0) }
        }
        guard let recipientLogIndex = index(recipientLogIndex), let receiptLogIndex = index(receiptLogIndex) else { return nil }
        return .members([
            "center": .string(center.rawValue), "state": .string(state.rawValue), "attempts": .integer(Int64(attempts)),
            "nextAttempt": nextAttempt.map { .string(Timestamp.formatWithMilliseconds($0)) },
            "recipientLogIndex": recipientLogIndex, "receiptLogIndex": receiptLogIndex,
            "reason": reason.map { .string($0) }, "detail": detail.map { .string($0) },
            "updated": updated.map { .string(Timestamp.formatWithMilliseconds($0)) },
        ])
    }

    /// The inverse of `jsonValue`; nil at the first member that is unknown, missing or not
    /// exactly what `Codable` would accept.
    init?(jsonValue: JSONValue) {
        guard case .object(let members) = jsonValue else { return nil }
        var center: CenterID?, state: DeliveryState?, attempts: Int?
        var delivery = (nextAttempt: Date?.none, recipientLogIndex: UInt64?.none, receiptLogIndex: UInt64?.none,
                        reason: String?.none, detail: String?.none, updated: Date?.none)
        for (key, value) in members {
            // `null` is what `Codable` reads as absent for the optional members.
            if case .null = value, !["center", "state", "attempts"].contains(key) { continue }
            switch (key, value) {
            case ("center", .string(let text)): center = CenterID(rawValue: text)
            case ("state", .string(let text)): state = DeliveryState(rawValue: text)
            case ("attempts", .integer(let n)): attempts = Int(exactly: n)
            case ("nextAttempt", .string(let text)): guard let date = Timestamp.parse(text) else { return nil }; delivery.nextAttempt = date
            case ("updated", .string(let text)): guard let date = Timestamp.parse(text) else { return nil }; delivery.updated = date
            case ("recipientLogIndex", .integer(let n)): guard let i = UInt64(exactly: n) else { return nil }; delivery.recipientLogIndex = i
            case ("receiptLogIndex", .integer(let n)): guard let i = UInt64(exactly: n) else { return nil }; delivery.receiptLogIndex = i
            case ("reason", .string(let text)): delivery.reason = text
            case ("detail", .string(let text)): delivery.detail = text
            default: return nil
            }
        }
        guard let center, let state, let attempts else { return nil }
        self.init(center: center, state: state, attempts: attempts, nextAttempt: delivery.nextAttempt,
                  recipientLogIndex: delivery.recipientLogIndex, receiptLogIndex: delivery.receiptLogIndex,
                  reason: delivery.reason, detail: delivery.detail, updated: delivery.updated)
    }
}

extension Submission {
    /// The answer to a submission — one per notification sent — as `APIJSON.encoder()`
    /// writes it (sorted keys, upper-case UUID), by the model's writer; nil if the log
    /// index does not fit the parser's 64-bit signed integers (`Codable` then writes it).
    package func fastJSON() -> [UInt8]? {
        guard let logIndex = Int64(exactly: logIndex) else { return nil }
        return JSONWriter.bytes(.object([
            "id": .string(id.uuidString), "logIndex": .integer(logIndex), "recipients": .array(recipients.map { .string($0.rawValue) }),
        ]))
    }

    /// A submission's answer read without `Codable`; nil for anything else, so the caller
    /// falls back to `Codable` and gets its verdict.
    package init?(fastParsing body: [UInt8]) {
        guard let parsed = try? JSONParser.parse(body), parsed.duplicateKeys.isEmpty, case .object(let members) = parsed.value,
              members.count == 3, case .string(let text)? = members["id"], let id = UUID(uuidString: text),
              case .integer(let logIndex)? = members["logIndex"], let index = UInt64(exactly: logIndex),
              case .array(let list)? = members["recipients"] else { return nil }
        var recipients: [CenterID] = []
        for item in list {
            guard case .string(let name) = item, let center = CenterID(rawValue: name) else { return nil }
            recipients.append(center)
        }
        self.init(id: id, logIndex: index, recipients: recipients)
    }
}
