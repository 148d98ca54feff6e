/// The generic JSON tree that strict parsing produces and validation walks.
///
/// Validation runs on this tree rather than on `Codable` so that every problem,
/// type errors included, can be reported with its path instead of stopping at the first.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// How a problem message names what was found ("expected a string, found an array").
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The value as an integer under JSON Schema's rule: any number with a zero fraction.
    var integerValue: Int? {
        switch self {
        case .integer(let i): return Int(exactly: i)
        case .double(let d): return d.rounded(.towardZero) == d ? Int(exactly: d) : nil
        default: return nil
        }
    }

    var numberValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}

extension JSONValue {
    /// An object from optional members: `nil` members and empty arrays are left out, so
    /// each document has exactly one encoding.
    package static func members(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        var result: [String: JSONValue] = [:]
        for (key, value) in pairs {
            guard let value else { continue }
            if case .array(let items) = value, items.isEmpty { continue }
            result[key] = value
        }
        return .object(result)
    }
}

/// Lets the `Codable` conformances reuse the strict reader: whatever a `Decoder`
/// holds is first turned into a `JSONValue`, then validated like parsed bytes.
extension JSONValue: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    package init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var object: [String: JSONValue] = [:]
            for key in container.allKeys {
                object[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(object)
        } else if var container = try? decoder.unkeyedContainer() {
            var array: [JSONValue] = []
            while !container.isAtEnd { array.append(try container.decode(JSONValue.self)) }
            self = .array(array)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let b = try? container.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? container.decode(Int64.self) {
                self = .integer(i)
            } else if let d = try? container.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }

    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .integer(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: Key.self)
            for key in members.keys.sorted() { try c.encode(members[key]!, forKey: Key(stringValue: key)) }
        }
    }
}
