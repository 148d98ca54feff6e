import Foundation
import IIASModel

/// The fields of a notification with a closed set of values, as an operator types them.
///
/// Tables print FLASH and TLP:RED; an operator who types what they see must not be
/// refused, so case does not matter and `red` means `TLP:RED`. Flags and prompts take
/// their values here, so both accept the same spellings and every refusal lists what
/// is accepted — before anything is sent, never from the node at the end.
enum FieldInput {
    /// A value that is not one of those accepted; `accepted` lists them.
    struct Problem: Error {
        var message: String
        var accepted: String

        /// The problem with the option that carried the value, as a usage error (exit 2):
        /// for options that steer a command, such as a listing's filters.
        func usage(option: String) -> CLIFailure {
            CLIFailure.usage("--\(option) \(message)", hint: "accepted: \(accepted)")
        }

        /// The problem with a field of the notification given by `option`: invalid data
        /// (exit 1), named by its path as the notification's own checks name it.
        func invalid(field path: String, option: String) -> CLIFailure {
            CLIFailure.invalid("\(path): \(message) (from --\(option))", hint: "accepted: \(accepted)")
        }
    }

    static func category(_ text: String) throws(Problem) -> IIASModel.Category {
        try choice(text, "category", Category.self)
    }

    static func priority(_ text: String) throws(Problem) -> Priority {
        try choice(text, "priority", Priority.self)
    }

    static func kind(_ text: String) throws(Problem) -> Kind {
        try choice(text, "kind", Kind.self)
    }

    /// A TLP 2.0 label, with or without its `TLP:` prefix (`red`, `tlp:amber+strict`).
    static func tlp(_ text: String) throws(Problem) -> TLP {
        let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
        let label = upper.hasPrefix("TLP:") ? upper : "TLP:" + upper
        guard let value = TLP(rawValue: label) else {
            throw Problem(message: "\(shown(text)) is not a TLP label", accepted: accepted(TLP.self) + " (the TLP: prefix may be left out)")
        }
        return value
    }

    /// Handling codes, comma- or space-separated (`h2,h3`); an empty answer is none.
    static func handlingCodes(_ text: String) throws(Problem) -> [HandlingCode] {
        var codes: [HandlingCode] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
            guard let code = HandlingCode(rawValue: part.uppercased()) else {
                throw Problem(message: "\(shown(String(part))) is not a handling code",
                              accepted: "H0 (law-enforcement use only), H1 (not for court use without permission), "
                                  + "H2 (no onward sharing without permission), H3 (other restrictions)")
            }
            if !codes.contains(code) { codes.append(code) }
        }
        return codes
    }

    /// Source reliability and information accuracy (`b2`, `B2`).
    static func evaluation(_ text: String) throws(Problem) -> (reliability: String, accuracy: Int) {
        let chars = Array(text.trimmingCharacters(in: .whitespaces).uppercased())
        guard chars.count == 2, SourceReliability(rawValue: String(chars[0])) != nil, let accuracy = Int(String(chars[1])),
              (1...4).contains(accuracy) else {
            throw Problem(message: "\(shown(text)) is not an evaluation",
                          accepted: "a letter and a digit, e.g. B2: source reliability A, B, C or X; information accuracy 1 to 4")
        }
        return (String(chars[0]), accuracy)
    }

    /// A time in any form `DateInput` takes, written as RFC 3339 for the document.
    static func time(_ text: String, direction: DateInput.Direction, now: Date = Date()) throws(Problem) -> Date {
        do throws(DateInput.Problem) { return try DateInput.parse(text, now: now, direction: direction) } catch {
            throw Problem(message: error.message, accepted: DateInput.acceptedForms)
        }
    }

    /// The text as it may be echoed back: cut, and safe for a terminal.
    static func shown(_ text: String) -> String { "'" + Terminal.safe(String(text.prefix(40))) + "'" }

    static func accepted<T: CaseIterable & RawRepresentable>(_ type: T.Type) -> String where T.RawValue == String {
        T.allCases.map(\.rawValue).joined(separator: ", ")
    }

    private static func choice<T: CaseIterable & RawRepresentable>(_ text: String, _ what: String, _ type: T.Type) throws(Problem) -> T
    where T.RawValue == String {
        let typed = text.trimmingCharacters(in: .whitespaces)
        guard let value = T.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(typed) == .orderedSame }) else {
            throw Problem(message: "\(shown(text)) is not a \(what)", accepted: accepted(type) + " (in any case)")
        }
        return value
    }
}
