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
    /// can lay out exactly (the caller then encodes it with `Codable`). Written member by
    /// member in sorted order, without a tree between: a sender writes two such lines per
    /// notification.
    package func fastJSON() -> [UInt8]? {
        switch type {
        case "heartbeat" where item == nil && id == nil && recipient == nil && peer == nil:
            return Array(#"{"type":"heartbeat"}"#.utf8)
        case "delivery" where item == nil && peer == nil:
            guard let id, let recipient else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(320)
            out += #"{"id":""#.utf8
            out += id.upperCaseString.utf8
            out += #"","recipient":"#.utf8
            guard recipient.writeJSON(to: &out) else { return nil }
            out += #","type":"delivery"}"#.utf8
            return out
        default:
            return nil
        }
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
            guard case .string(let text)? = members["id"], let id = UUID(eitherCase: text),
                  let recipient = members["recipient"].flatMap(RecipientDelivery.init(jsonValue:)) else { return nil }
            self.init(.delivery(id: id, recipient: recipient))
        default:
            return nil
        }
    }
}

extension RecipientDelivery {
    /// Appends the object `Codable` writes (sorted keys, absent optionals left out);
    /// false, with `out` to be dropped, if a log index does not fit the parser's 64-bit
    /// signed integers.
    func writeJSON(to out: inout [UInt8]) -> Bool {
        let limit = UInt64(Int64.max)
        guard (recipientLogIndex ?? 0) <= limit, (receiptLogIndex ?? 0) <= limit else { return false }
        var first = true
        func key(_ name: String) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            JSONWriter.write(string: name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        func text(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONWriter.write(string: value, to: &out)
        }
        func number(_ name: String, _ value: UInt64?) {
            guard let value else { return }
            key(name)
            out += String(value).utf8
        }
        // In the order of the keys' UTF-16 code units, as the encoder sorts them.
        key("attempts")
        out += String(attempts).utf8
        text("center", center.rawValue)
        text("detail", detail)
        text("nextAttempt", nextAttempt.map(Timestamp.formatWithMilliseconds))
        text("reason", reason)
        number("receiptLogIndex", receiptLogIndex)
        number("recipientLogIndex", recipientLogIndex)
        text("state", state.rawValue)
        text("updated", updated.map(Timestamp.formatWithMilliseconds))
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// The inverse of `writeJSON`, from the parser's tree; nil at the first member that is unknown, missing or not
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
        guard logIndex <= UInt64(Int64.max) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(96 + 8 * recipients.count)
        out += #"{"id":""#.utf8
        out += id.upperCaseString.utf8
        out += #"","logIndex":"#.utf8
        out += String(logIndex).utf8
        out += #","recipients":["#.utf8
        for (n, recipient) in recipients.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.write(string: recipient.rawValue, to: &out)
        }
        out += "]}".utf8
        return out
    }

    /// A submission's answer read without `Codable`; nil for anything else, so the caller
    /// falls back to `Codable` and gets its verdict.
    package init?(fastParsing body: [UInt8]) {
        guard let parsed = try? JSONParser.parse(body), parsed.duplicateKeys.isEmpty, case .object(let members) = parsed.value,
              members.count == 3, case .string(let text)? = members["id"], let id = UUID(eitherCase: text),
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
