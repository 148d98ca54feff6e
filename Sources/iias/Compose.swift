import ArgumentParser
import Foundation
import IIASCrypto
import IIASModel

struct Compose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and validate a formalized notification; with --seal, sign and encrypt it.",
        discussion: """
        Fields come from flags, from a JSON document (--file), or both (flags win).
        On a terminal, missing required fields are asked for, each answer checked
        as it is typed. id, created and version are filled in when absent. Every problem is reported
        with the path of the field that holds it.

        Examples:
          iias compose --from AZ --to GE,UA,MD --category terrorism --priority flash \\
              --tlp TLP:AMBER --handling H2 --subject "Planned attack on pipeline" \\
              --summary "..." --out alert.json

          iias compose --file alert.json --seal --key-dir PKI/centers/AZ --out alert.iias

        With --seal the sender is the center of --key-dir; recipients' encryption
        certificates come from --certs (default: the key folder's parent) and are
        verified against --ca (default: ca.crt in the key folder). --to all addresses
        every center found there.
        """
    )

    @Option(help: "Sending center id (default with --seal: the center of --key-dir).")
    var from: String?

    @OptionGroup var fields: NotificationFields

    @Flag(help: "Sign and encrypt the notification into an envelope (needs --key-dir and --out).")
    var seal = false

    @OptionGroup var keys: KeyOptions
    @OptionGroup var trust: TrustOptions

    @Option(help: ArgumentHelp("Where to write the notification JSON (or, with --seal, the envelope).", valueName: "file"))
    var out: String?

    @Flag(help: "Print the result as JSON (the notification, or a summary of the sealed envelope).")
    var json = false

    func validate() throws {
        if seal && out == nil {
            throw ValidationError("--seal writes a binary envelope and needs --out FILE")
        }
    }

    func run() async throws {
        var document = try fields.startingDocument()
        let centerKeys = seal ? try keys.load() : nil
        let trustAnchor = seal ? try trust.trustAnchor(fallbackDirectory: keys.keyDir) : nil
        let directory = (seal || fields.recipients.contains("all")) ? try trust.certificateDirectory(fallbackDirectory: keys.keyDir) : nil

        if let from { document["sender"] = from } else if document["sender"] == nil, let centerKeys {
            document["sender"] = centerKeys.center.rawValue
        }
        if let centerKeys, let sender = document["sender"] as? String, sender != centerKeys.center.rawValue {
            throw CLIFailure.usage("the sender is \(sender) but the key folder belongs to \(centerKeys.center)",
                                   hint: "use --key-dir of the sending center, or drop --from")
        }
        let recipients = fields.recipients
        if !recipients.isEmpty { document["recipients"] = recipients }
        let given = document
        try fields.applyFlags(to: &document)
        if NotificationPrompts.available { try NotificationPrompts().askMissing(&document, given: given, flags: fields) }
        if let named = document["recipients"] as? [String], named.contains("all") {
            let sender = document["sender"] as? String
            let known = try directory ?? trust.certificateDirectory(fallbackDirectory: keys.keyDir)
            document["recipients"] = known.centers.map(\.rawValue).filter { $0 != sender }
        }

        let notification = try NotificationFields.validated(document)
        if seal, let out, let centerKeys, let trustAnchor, let directory {
            try sealAndWrite(notification, to: out, keys: centerKeys, trust: trustAnchor, directory: directory)
        } else {
            let bytes = [UInt8](notification.encoded())
            if let out {
                try writeUserFile(out, bytes + [0x0A], mode: 0o600)
                if !json { Terminal.note("valid notification \(notification.id.uuidString.lowercased()) written to \(out)") }
            } else {
                FileHandle.standardOutput.write(Data(bytes + [0x0A]))
            }
        }
    }

}

extension NotificationFields {
    /// The document as a notification, or every problem with the path of its field.
    static func validated(_ document: [String: Any]) throws -> FormalNotification {
        let bytes: Data
        do {
            bytes = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        } catch {
            throw CLIFailure.invalid("the notification cannot be encoded as JSON")
        }
        do {
            return try FormalNotification.parse(bytes)
        } catch {
            let lines = error.problems.map { "  \($0.path.isEmpty ? "(document)" : $0.path): \($0.message)" }
            throw CLIFailure.invalid("the notification is not valid (\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s")):\n" + lines.joined(separator: "\n"),
                                     hint: "fix the fields named above; `iias compose --help` lists the flags")
        }
    }

}

extension Compose {
    private func sealAndWrite(_ notification: FormalNotification, to out: String, keys: CenterKeys, trust: TrustAnchor,
                              directory: CertificateDirectory) throws {
        do {
            try keys.verify(with: trust)
        } catch {
            throw CLIFailure.usage("your own certificate does not verify: \(error.description)")
        }
        let recipientKeys: [CenterID: EncryptionPublicKey]
        do {
            recipientKeys = try directory.encryptionKeys(for: notification.recipients, trust: trust)
        } catch {
            throw CLIFailure.usage("cannot seal to the recipients: \(error.description)",
                                   hint: "add their certificates to --certs, or check the CRL")
        }
        let envelope: Envelope
        do {
            envelope = try Envelope.seal(notification, signer: keys.signingKey, recipientKeys: recipientKeys)
        } catch {
            throw CLIFailure.invalid(error.description)
        }
        try writeUserFile(out, envelope.bytes)
        let summary: [String: Any] = [
            "id": envelope.id.uuidString.lowercased(),
            "sender": envelope.header.sender.rawValue,
            "recipients": envelope.header.recipients.map(\.rawValue),
            "bytes": envelope.bytes.count,
            "sha256": envelope.sha256.hexString,
            "file": out,
        ]
        if json {
            Terminal.printJSON(summary)
        } else {
            print("sealed \(Terminal.bold(envelope.id.uuidString.lowercased())) from \(envelope.header.sender) to "
                  + envelope.header.recipients.map(\.rawValue).joined(separator: ", "))
            print("  \(out): \(envelope.bytes.count) bytes, sha256 \(envelope.sha256.hexString)")
        }
    }
}

/// The content of a notification as flags, shared by `compose`, `send` and `reply`:
/// one set of names, one way from flags to a document.
struct NotificationFields: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A notification JSON document to start from ('-' for standard input; see Sources/IIASModel/Resources/notification.schema.json).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Recipient center ids, comma-separated or repeated; 'all' for every known center.", valueName: "ids"))
    var to: [String] = []

    @Option(help: "notification, request, reply, update or cancellation, in any case (default: notification).")
    var kind: String?

    @Option(help: "In any case: terrorism, terrorism-financing, extremism, separatism, illegal-armed-group, organized-crime, drug-trafficking, illegal-migration, human-trafficking, weapons-wmd, cybercrime, money-laundering, corruption, other.")
    var category: String?

    @Option(help: "flash, urgent or routine, in any case (default: routine).")
    var priority: String?

    @Option(help: "TLP 2.0 label: TLP:RED, TLP:AMBER+STRICT, TLP:AMBER, TLP:GREEN, TLP:CLEAR; any case, prefix optional (red) (default: TLP:AMBER).")
    var tlp: String?

    @Option(name: .customLong("handling"), help: ArgumentHelp("Handling codes H0 (law-enforcement use only), H1 (not for court use without permission), H2 (no onward sharing without permission), H3 (other restrictions: give --restrictions).", valueName: "code"))
    var handlingCodes: [String] = []

    @Option(help: "Free-text restrictions that go with handling code H3.")
    var restrictions: String?

    @Option(help: "A classification marking, if your center uses one.")
    var classification: String?

    @Option(help: ArgumentHelp("Source reliability and information accuracy, e.g. B2 (A/B/C/X and 1-4).", valueName: "XN"))
    var evaluation: String?

    @Option(help: "One-line subject (at most 200 characters).")
    var subject: String?

    @Option(help: "The summary text.")
    var summary: String?

    @Option(help: ArgumentHelp("Read the summary from a file ('-' for standard input).", valueName: "file"))
    var summaryFile: String?

    @Option(help: "What the recipients are asked to do.")
    var requestedAction: String?

    @Option(name: .customLong("reference"), help: ArgumentHelp("Id of a notification this one updates or cancels (repeatable); send and reply also take a unique prefix of 4 or more characters.", valueName: "id"))
    var references: [String] = []

    @Option(help: ArgumentHelp("Id of the notification this one replies to; send also takes a unique prefix of 4 or more characters.", valueName: "id"))
    var inReplyTo: String?

    @Option(help: ArgumentHelp("Until when the information holds: RFC 3339, a day (2026-12-31) or a span ahead (30d).", valueName: "time"))
    var validUntil: String?

    @Option(help: ArgumentHelp("When a request needs its answer: RFC 3339, a day (2026-12-08) or a span ahead (8h, 3d).", valueName: "time"))
    var responseDeadline: String?

    /// No field given at all (what `send --batch` needs: each notification comes whole from its file).
    var isUnset: Bool {
        [file, kind, category, priority, tlp, restrictions, classification, evaluation, subject, summary, summaryFile,
         requestedAction, inReplyTo, validUntil, responseDeadline].allSatisfy { $0 == nil }
            && to.isEmpty && handlingCodes.isEmpty && references.isEmpty
    }

    /// Recipients from --to, split on commas, in upper case as center ids are written
    /// ("all" kept as is for the caller to expand).
    var recipients: [String] {
        to.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
            .map { $0.lowercased() == "all" ? "all" : $0.uppercased() }
    }

    func startingDocument() throws -> [String: Any] {
        guard let file else { return [:] }
        let bytes = try readUserFile(file, limit: FormalNotification.maximumEncodedSize, what: "notification")
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw CLIFailure.invalid("\(file) is not a JSON object", hint: "see Sources/IIASModel/Resources/notification.schema.json")
        }
        return object
    }

    /// Writes the flags into `document`, filling what a notification needs. Values with a
    /// closed set are taken in any case and refused here, naming what is accepted, so a
    /// mistyped flag stops the command before any prompt or any contact with the node.
    func applyFlags(to document: inout [String: Any]) throws {
        func checked<T>(_ field: String, _ option: String, _ value: String?, _ parse: (String) throws(FieldInput.Problem) -> T) throws -> T? {
            guard let value else { return nil }
            do throws(FieldInput.Problem) { return try parse(value) } catch { throw error.invalid(field: field, option: option) }
        }
        if document["version"] == nil { document["version"] = FormalNotification.currentVersion }
        if document["id"] == nil { document["id"] = UUID().uuidString.lowercased() }
        if document["created"] == nil { document["created"] = ISO8601DateFormatter.iias.string(from: Date()) }
        document["kind"] = try checked("/kind", "kind", kind, FieldInput.kind)?.rawValue ?? document["kind"] ?? "notification"
        document["priority"] = try checked("/priority", "priority", priority, FieldInput.priority)?.rawValue ?? document["priority"] ?? "routine"
        if let category = try checked("/category", "category", category, FieldInput.category) { document["category"] = category.rawValue }
        var handling = document["handling"] as? [String: Any] ?? [:]
        handling["tlp"] = try checked("/handling/tlp", "tlp", tlp, FieldInput.tlp)?.rawValue ?? handling["tlp"] ?? "TLP:AMBER"
        let codes = try checked("/handling/codes", "handling", handlingCodes.isEmpty ? nil : handlingCodes.joined(separator: ","), FieldInput.handlingCodes) ?? []
        if !codes.isEmpty { handling["codes"] = codes.map(\.rawValue) }
        if let restrictions { handling["restrictions"] = restrictions }
        if let classification { handling["classification"] = classification }
        document["handling"] = handling
        if let evaluation = try checked("/evaluation", "evaluation", evaluation, FieldInput.evaluation) {
            document["evaluation"] = ["sourceReliability": evaluation.reliability, "informationAccuracy": evaluation.accuracy]
        }
        if let subject { document["subject"] = subject }
        if let summary { document["summary"] = summary }
        if let summaryFile {
            let bytes = try readUserFile(summaryFile, limit: FormalNotification.maximumEncodedSize, what: "summary")
            document["summary"] = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let requestedAction { document["requestedAction"] = requestedAction }
        if !references.isEmpty { document["references"] = references }
        if let inReplyTo { document["inReplyTo"] = inReplyTo }
        let future = { (text: String) throws(FieldInput.Problem) in Timestamp.format(try FieldInput.time(text, direction: .future)) }
        if let validUntil = try checked("/validUntil", "valid-until", validUntil, future) { document["validUntil"] = validUntil }
        if let responseDeadline = try checked("/responseDeadline", "response-deadline", responseDeadline, future) { document["responseDeadline"] = responseDeadline }
        if document["entities"] == nil { document["entities"] = [Any]() }
    }

}
