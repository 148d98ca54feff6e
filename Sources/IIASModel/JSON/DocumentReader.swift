/// Walks a `JSONValue`, turning it into typed values while collecting every problem
/// with its path.
///
/// Each `read…` function reports what is wrong at its path and returns `nil`; callers
/// keep going, so one pass finds all problems. A type is built only from a value that
/// produced no problem (`problemCount` did not change while reading it).
final class DocumentReader {
    private(set) var problems: [ValidationProblem] = []

    var problemCount: Int { problems.count }

    func report(_ path: String, _ message: String, found: String? = nil) {
        problems.append(ValidationProblem(path: path, message: message, found: found))
    }

    // MARK: Objects

    /// The members of an object whose keys are all in `allowed`; unknown keys are
    /// problems, since a field the reader does not know is a field it would silently drop.
    func object(_ value: JSONValue, at path: String, allowed: Set<String>) -> ObjectReader? {
        guard case .object(let members) = value else {
            report(path, "expected an object, found \(value.typeName)")
            return nil
        }
        if members.keys.contains(where: { !allowed.contains($0) }) {
            for key in members.keys.sorted() where !allowed.contains(key) {
                report(JSONPointer.appending(path, key), "unknown field (allowed here: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        return ObjectReader(members: members, path: path, reader: self)
    }

    // MARK: Scalars

    enum Characters {
        /// Any text, line breaks included (summaries, free-text instructions).
        case any
        /// A single line shown to people: no control characters (Unicode category Cc).
        case plain
    }

    func text(_ value: JSONValue, at path: String, length: ClosedRange<Int>, characters: Characters = .plain) -> String? {
        guard case .string(let text) = value else {
            report(path, "expected a string, found \(value.typeName)")
            return nil
        }
        // Counted in Unicode scalars, as JSON Schema's maxLength counts code points.
        let (count, hasControl) = Self.scalarsAndControl(text)
        var ok = true
        if !length.contains(count) {
            report(path, "must be \(length.lowerBound) to \(length.upperBound) characters (found \(count))")
            ok = false
        }
        if characters == .plain, hasControl {
            report(path, "must not contain control characters")
            ok = false
        }
        return ok ? text : nil
    }

    /// The Unicode scalars in `text`, and whether one is a control character (category
    /// Cc: U+0000–U+001F, U+007F–U+009F), in one pass over its UTF-8 bytes: every text
    /// field of every notification sent or received goes through here, and walking the
    /// scalar view twice cost more than the rest of the check.
    static func scalarsAndControl(_ text: String) -> (scalars: Int, control: Bool) {
        let counted = text.utf8.withContiguousStorageIfAvailable { bytes in
            var scalars = 0, control = false, previous: UInt8 = 0, at = 0
            func scan(_ byte: UInt8) {
                // Every byte but a continuation (10xxxxxx) starts a scalar.
                if byte & 0xC0 != 0x80 { scalars += 1 }
                // C0 and DEL are single bytes; C1 (U+0080–U+009F) is C2 80 to C2 9F.
                if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte <= 0x9F && byte >= 0x80) { control = true }
                previous = byte
            }
            // Eight bytes at a time while they are printable ASCII (most of a text): none
            // with the high bit, none below 0x20, none 0x7F (the usual "has a byte less
            // than" and "has a zero byte" word tests; a word that fails goes byte by byte).
            if let base = UnsafeRawPointer(bytes.baseAddress) {
                let ones: UInt64 = 0x0101_0101_0101_0101, high = ones &* 0x80
                while at + 8 <= bytes.count {
                    let word = base.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                    let delete = word ^ (ones &* 0x7F)
                    let notPlain = (word & high) | ((word &- ones &* 0x20) & ~word & high) | ((delete &- ones) & ~delete & high)
                    if notPlain == 0 {
                        scalars += 8
                        previous = 0
                    } else {
                        for offset in 0..<8 { scan(bytes[at + offset]) }
                    }
                    at += 8
                }
            }
            while at < bytes.count { scan(bytes[at]); at += 1 }
            return (scalars, control)
        }
        return counted ?? (text.unicodeScalars.count, text.unicodeScalars.contains(where: \.isControl))
    }

    /// A string that must satisfy `isValid`; `expected` says what it should look like.
    func token(_ value: JSONValue, at path: String, expected: String, _ isValid: (String) -> Bool) -> String? {
        guard case .string(let text) = value else {
            report(path, "expected \(expected), found \(value.typeName)")
            return nil
        }
        guard isValid(text) else {
            report(path, "expected \(expected)", found: quoted(text))
            return nil
        }
        return text
    }

    func choice<E: RawRepresentable & CaseIterable>(_ value: JSONValue, at path: String, _: E.Type) -> E? where E.RawValue == String {
        // Spelled out only for a problem: a valid document should not pay for its messages.
        func names() -> String { E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
        guard case .string(let text) = value else {
            report(path, "expected one of \(names()), found \(value.typeName)")
            return nil
        }
        guard let result = E(rawValue: text) else {
            report(path, "expected one of \(names())", found: quoted(text))
            return nil
        }
        return result
    }

    func integer(_ value: JSONValue, at path: String, range: ClosedRange<Int>) -> Int? {
        guard let number = value.integerValue else {
            if let n = value.numberValue, n.rounded(.towardZero) == n {
                report(path, "must be between \(range.lowerBound) and \(range.upperBound) (found \(n))")
            } else {
                report(path, "expected an integer, found \(value.numberValue != nil ? "a fraction" : value.typeName)")
            }
            return nil
        }
        guard range.contains(number) else {
            report(path, "must be between \(range.lowerBound) and \(range.upperBound) (found \(number))")
            return nil
        }
        return number
    }

    func number(_ value: JSONValue, at path: String, range: ClosedRange<Double>) -> Double? {
        guard let number = value.numberValue else {
            report(path, "expected a number, found \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            report(path, "must be between \(range.lowerBound) and \(range.upperBound) (found \(number))")
            return nil
        }
        return number
    }

    // MARK: Arrays

    /// The elements of an array of `count` items, each read by `element`; with
    /// `unique`, repeated string items are problems at the repeat's index.
    func array<T>(
        _ value: JSONValue, at path: String, count: ClosedRange<Int>, unique: Bool = false,
        _ element: (JSONValue, String) -> T?
    ) -> [T]? {
        guard case .array(let items) = value else {
            report(path, "expected an array, found \(value.typeName)")
            return nil
        }
        let before = problemCount
        if !count.contains(items.count) {
            report(path, count.lowerBound == count.upperBound
                ? "must have exactly \(count.lowerBound) items (found \(items.count))"
                : "must have \(count.lowerBound) to \(count.upperBound) items (found \(items.count))")
        }
        var result: [T] = []
        var seen: [[UInt8]: Int] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = JSONPointer.appending(path, index)
            if unique, case .string(let text) = item {
                // Compared byte for byte (not by canonical equivalence), as JSON Schema does.
                let key = Array(text.utf8)
                if let first = seen[key] {
                    report(itemPath, "duplicate of item \(first)")
                    continue
                }
                seen[key] = index
            }
            if let typed = element(item, itemPath) { result.append(typed) }
        }
        return problemCount == before ? result : nil
    }

    func quoted(_ text: String) -> String {
        let shown = text.unicodeScalars.count > 60 ? String(text.unicodeScalars.prefix(60)) + "…" : text
        return "\"" + shown.unicodeScalars.map { $0.isControl ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
    }
}

/// The members of one JSON object, read by name.
struct ObjectReader {
    let members: [String: JSONValue]
    let path: String
    let reader: DocumentReader

    func has(_ key: String) -> Bool { members[key] != nil }

    /// Reads a member that must be present; reports it missing otherwise.
    func required<T>(_ key: String, _ read: (JSONValue, String) -> T?) -> T? {
        let memberPath = JSONPointer.appending(path, key)
        guard let value = members[key] else {
            reader.report(memberPath, "required field is missing")
            return nil
        }
        return read(value, memberPath)
    }

    /// Reads a member that may be absent (`null` is not absence: it is a type error).
    func optional<T>(_ key: String, _ read: (JSONValue, String) -> T?) -> T? {
        guard let value = members[key] else { return nil }
        return read(value, JSONPointer.appending(path, key))
    }
}

extension Unicode.Scalar {
    /// Unicode general category Cc: C0 controls, DEL and C1 controls.
    var isControl: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}
