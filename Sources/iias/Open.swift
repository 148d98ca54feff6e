import ArgumentParser
import Foundation
import IIASCrypto
import IIASModel

struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify an envelope's sender, then decrypt it as one of its recipients.",
        discussion: """
        The sender's signature and certificate are checked first; nothing is decrypted
        from a sender that does not verify.

        Example:
          iias open alert.iias --key-dir PKI/centers/GE
          iias open alert.iias --key-dir PKI/centers/GE --json | jq .subject
        """
    )

    @Argument(help: ArgumentHelp("The envelope file.", valueName: "file"))
    var file: String

    @Option(name: .customLong("as"), help: ArgumentHelp("The recipient center to open as (default: the center of --key-dir).", valueName: "id"))
    var recipient: String?

    @OptionGroup var keys: KeyOptions
    @OptionGroup var trust: TrustOptions

    @Flag(help: "Print the notification as JSON.")
    var json = false

    func run() async throws {
        let centerKeys = try keys.load()
        if let recipient, recipient != centerKeys.center.rawValue {
            throw CLIFailure.usage("--as \(recipient) but the key folder belongs to \(centerKeys.center)",
                                   hint: "pass the key folder of \(recipient)")
        }
        let verifier = EnvelopeVerifier(trust: try trust.trustAnchor(fallbackDirectory: keys.keyDir),
                                        certificates: try trust.certificateDirectory(fallbackDirectory: keys.keyDir))
        let bytes = try readUserFile(file, limit: Envelope.maximumEnvelopeBytes, what: "envelope")
        let envelope = try parseEnvelope(bytes, path: file)
        let notification: FormalNotification
        do {
            notification = try verifier.verify(envelope).open(as: centerKeys.center, with: centerKeys.encryptionKey)
        } catch {
            throw CLIFailure.invalid("\(file): \(error.description)")
        }
        if json {
            FileHandle.standardOutput.write(notification.encoded())
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            NotificationView(notification: notification, envelope: envelope).print()
        }
    }
}

/// The human view of a notification: what an operator needs first (priority,
/// handling, subject) at the top, then the body and the entities.
struct NotificationView {
    let notification: FormalNotification
    let envelope: Envelope?

    func print() {
        // Render from the canonical JSON so that every field the model knows is shown.
        let object = (try? JSONSerialization.jsonObject(with: notification.encoded())) as? [String: Any] ?? [:]
        let priority = (object["priority"] as? String ?? "").uppercased()
        let banner = priority == "FLASH" ? Terminal.red(Terminal.bold(priority)) : Terminal.bold(priority)
        let handling = object["handling"] as? [String: Any] ?? [:]
        var marking = handling["tlp"] as? String ?? ""
        if let codes = handling["codes"] as? [String], !codes.isEmpty { marking += "  " + codes.joined(separator: " ") }
        Swift.print("\(banner)  \(Terminal.yellow(marking))  \(object["category"] as? String ?? "")")
        Swift.print(Terminal.bold(Terminal.safe(object["subject"] as? String ?? "")))
        var rows: [(String, String)] = [
            ("id", object["id"] as? String ?? ""),
            ("kind", object["kind"] as? String ?? ""),
            ("from", object["sender"] as? String ?? ""),
            ("to", (object["recipients"] as? [String] ?? []).joined(separator: ", ")),
            ("created", object["created"] as? String ?? ""),
        ]
        if let restrictions = handling["restrictions"] as? String { rows.append(("restrictions", Terminal.safe(restrictions))) }
        if let evaluation = object["evaluation"] as? [String: Any] {
            rows.append(("evaluation", "\(evaluation["sourceReliability"] ?? "")\(evaluation["informationAccuracy"] ?? "")"))
        }
        for key in ["validUntil", "responseDeadline", "inReplyTo"] {
            if let value = object[key] as? String { rows.append((key, value)) }
        }
        if let references = object["references"] as? [String], !references.isEmpty {
            rows.append(("references", references.joined(separator: ", ")))
        }
        if let envelope { rows.append(("envelope sha256", envelope.sha256.hexString)) }
        Terminal.printFields(rows)
        Swift.print("")
        Swift.print(Terminal.safe(object["summary"] as? String ?? ""))
        if let action = object["requestedAction"] as? String {
            Swift.print("")
            Swift.print(Terminal.bold("Requested action: ") + Terminal.safe(action))
        }
        if let entities = object["entities"] as? [[String: Any]], !entities.isEmpty {
            Swift.print("")
            Swift.print(Terminal.bold("Entities (\(entities.count))"))
            for entity in entities {
                let type = entity["type"] as? String ?? "?"
                let fields = entity.keys.filter { $0 != "type" }.sorted().map { key in
                    "\(key)=\(Terminal.safe(Self.flat(entity[key] as Any)))"
                }
                Swift.print("  \(Terminal.bold(type.padding(toLength: 12, withPad: " ", startingAt: 0))) \(fields.joined(separator: "  "))")
            }
        }
        if let attachments = object["attachments"] as? [[String: Any]], !attachments.isEmpty {
            Swift.print("")
            Swift.print(Terminal.bold("Attachments (\(attachments.count))"))
            for a in attachments {
                Swift.print("  \(Terminal.safe(a["name"] as? String ?? ""))  \(a["mediaType"] ?? "")  \(a["bytes"] ?? "") bytes  sha256 \(a["sha256"] ?? "")")
            }
        }
    }

    private static func flat(_ value: Any) -> String {
        switch value {
        case let s as String: return s
        case let a as [Any]: return "[" + a.map(flat).joined(separator: ", ") + "]"
        case let o as [String: Any]: return "{" + o.keys.sorted().map { "\($0): \(flat(o[$0]!))" }.joined(separator: ", ") + "}"
        default: return "\(value)"
        }
    }
}
