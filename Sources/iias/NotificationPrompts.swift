import Foundation
import IIASModel

/// The questions `iias send` asks at a terminal for what the flags and the file left out.
///
/// Each answer is checked as soon as it is typed, with the same rules as the flags
/// (`FieldInput`): a wrong one is asked again with the accepted values listed, so an
/// operator never types a whole notification only to have the node refuse it at the
/// end. Questions go to standard error, so standard output stays the command's answer.
/// End of input (Ctrl-D) stops the command with nothing sent.
struct NotificationPrompts {
    /// Reads one answer; nil at end of input.
    var readAnswer: () -> String? = { readLine(strippingNewline: true) }
    var write: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }

    /// Whether a person can answer: standard input is a terminal.
    static var available: Bool { isatty(STDIN_FILENO) == 1 }

    /// Asks until an answer is accepted. An empty answer takes `defaultAnswer` when there
    /// is one, and is asked again when the field is required.
    func ask<T>(_ question: String, choices: String? = nil, defaultAnswer: String? = nil, field: String, option: String,
                _ accept: (String) throws(FieldInput.Problem) -> T) throws -> T {
        let prompt = question + (choices.map { " (\($0))" } ?? "") + (defaultAnswer.map { " [\($0)]" } ?? "") + ": "
        while true {
            write(prompt)
            guard let line = readAnswer() else {
                write("\n")
                throw CLIFailure.usage("no answer for \(field); nothing was sent", hint: "answer each question, or give --\(option)")
            }
            var answer = line.trimmingCharacters(in: .whitespaces)
            if answer.isEmpty {
                guard let defaultAnswer else {
                    write("  \(field) is required\n")
                    continue
                }
                answer = defaultAnswer
            }
            do throws(FieldInput.Problem) { return try accept(answer) } catch {
                write("  \(error.message); accepted: \(error.accepted)\n")
            }
        }
    }

    /// Fills what `document` (after `NotificationFields.applyFlags`) lacks. Priority, TLP and
    /// handling codes have defaults there; they are offered again only when neither a flag
    /// nor the file (`given`, the document before the flags) chose them. Nothing is asked
    /// when every required field is there: a command typed whole at a terminal runs as typed.
    func askMissing(_ document: inout [String: Any], given: [String: Any], flags: NotificationFields) throws {
        guard ["recipients", "category", "subject", "summary"].contains(where: { document[$0] == nil }) else { return }
        if document["recipients"] == nil {
            document["recipients"] = try ask("To", choices: "center ids, comma-separated, or all", field: "recipients", option: "to",
                                             Self.recipients)
        }
        if document["category"] == nil {
            document["category"] = try ask("Category", choices: FieldInput.accepted(IIASModel.Category.self), field: "category",
                                           option: "category", FieldInput.category).rawValue
        }
        if given["priority"] == nil, flags.priority == nil {
            document["priority"] = try ask("Priority", choices: "flash, urgent, routine", defaultAnswer: "routine", field: "priority",
                                           option: "priority", FieldInput.priority).rawValue
        }
        var handling = document["handling"] as? [String: Any] ?? [:]
        if (given["handling"] as? [String: Any])?["tlp"] == nil, flags.tlp == nil {
            handling["tlp"] = try ask("TLP", choices: "red, amber+strict, amber, green, clear", defaultAnswer: "TLP:AMBER", field: "TLP",
                                      option: "tlp", FieldInput.tlp).rawValue
        }
        if (given["handling"] as? [String: Any])?["codes"] == nil, flags.handlingCodes.isEmpty {
            let codes = try ask("Handling codes", choices: "H0, H1, H2, H3, comma-separated", defaultAnswer: "none", field: "handling codes",
                                option: "handling") { (text: String) throws(FieldInput.Problem) in
                text.lowercased() == "none" ? [] : try FieldInput.handlingCodes(text)
            }
            if !codes.isEmpty { handling["codes"] = codes.map(\.rawValue) }
        }
        // H3 means nothing without the restrictions it announces; the node would refuse it at the end.
        if (handling["codes"] as? [String])?.contains(HandlingCode.h3.rawValue) == true, handling["restrictions"] == nil {
            handling["restrictions"] = try ask("Restrictions that go with H3", field: "restrictions", option: "restrictions") {
                (text: String) throws(FieldInput.Problem) in try Self.line(text, upTo: 1000, what: "restrictions")
            }
        }
        document["handling"] = handling
        if document["kind"] as? String == Kind.request.rawValue, document["responseDeadline"] == nil {
            let deadline = try ask("Response deadline", choices: "a day YYYY-MM-DD, a span ahead such as 8h or 3d, RFC 3339, or none for the node's default by priority (flash 8h, urgent 3d, routine 7d)",
                                   defaultAnswer: "none",
                                   field: "response deadline", option: "response-deadline") { (text: String) throws(FieldInput.Problem) in
                text.lowercased() == "none" ? nil : try FieldInput.time(text, direction: .future)
            }
            if let deadline { document["responseDeadline"] = Timestamp.format(deadline) }
        }
        if document["subject"] == nil {
            document["subject"] = try ask("Subject (one line)", field: "subject", option: "subject") { (text: String) throws(FieldInput.Problem) in
                try Self.line(text, upTo: 200, what: "subject")
            }
        }
        if document["summary"] == nil {
            document["summary"] = try ask("Summary", field: "summary", option: "summary") { (text: String) throws(FieldInput.Problem) in text }
        }
    }

    /// A free-text answer within the length the notification allows for its field,
    /// counted as the notification's checks count it (Unicode scalars).
    static func line(_ text: String, upTo limit: Int, what: String) throws(FieldInput.Problem) -> String {
        let count = text.unicodeScalars.count
        guard count <= limit else {
            throw FieldInput.Problem(message: "the \(what) is \(count) characters long", accepted: "at most \(limit) characters")
        }
        return text
    }

    /// Center ids as typed (any case), or `all`; each checked for the form of a center id.
    static func recipients(_ text: String) throws(FieldInput.Problem) -> [String] {
        let ids = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty }
        if ids == ["ALL"] { return ["all"] }
        for id in ids where CenterID(rawValue: id) == nil {
            throw FieldInput.Problem(message: "\(FieldInput.shown(id)) is not a center id",
                                     accepted: "center ids such as AZ, GE, UA-SBU (two letters, optionally -UNIT), comma-separated, or all")
        }
        return ids
    }
}
