import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Reply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reply to a received notification (to its sender, marked in reply to it).",
        discussion: """
        Category and subject default to the original's ("Re: …");
        give --summary at least.

        The reply carries at least the original's handling: its TLP label or a
        stronger one, all its handling codes and restrictions, its classification
        (the node raises a weaker draft). To send weaker handling, say so with
        --weaken-handling and the new --tlp; it is shown before sending and the
        log records that you weakened it.

        Example:
          iias reply 3f2a --summary "Vehicle sighted at the Red Bridge crossing at 04:10."
          iias reply AZ/3f2a --summary "…"    (when two centers used the id)
          iias reply 3f2a --weaken-handling --tlp TLP:AMBER --summary "…"
          iias reply 3f2a --delayed "awaiting the prosecutor's consent" --response-deadline 2d

        --delayed sends a notice, not the answer: a reply that carries when the answer
        is now expected (--response-deadline) and why (its subject). The requester's
        `iias requests` shows it; the request stays open with its own deadline.


        """ + InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var fields: NotificationFields
    @Option(help: ArgumentHelp("Not the answer yet: why it is delayed (needs --response-deadline, when it will come).", valueName: "reason"))
    var delayed: String?
    @Flag(help: "Send the handling given here even where it is weaker than the original's (logged).")
    var weakenHandling = false
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if weakenHandling, fields.tlp == nil {
            throw CLIFailure.usage("--weaken-handling needs the new label", hint: "add --tlp (and --handling for the codes to keep)")
        }
        if delayed != nil, fields.responseDeadline == nil {
            throw CLIFailure.usage("--delayed needs --response-deadline: when the answer will come", hint: "e.g. --response-deadline 2d or 2026-12-08")
        }
        if delayed == nil, fields.responseDeadline != nil {
            throw CLIFailure.usage("a reply with --response-deadline is a delay notice", hint: "add --delayed \"REASON\", or leave out --response-deadline")
        }
    }

    func run() async throws {
        let client = socket.client
        let submission = try await OperatorExit.run {
            let (id, named) = try await target.resolve(client)
            let original = try await client.read(id, from: named)
            var document = try fields.startingDocument()
            try fields.applyFlags(to: &document)
            try await NotificationIDInput.expand(&document, client)
            try confirmHandling(against: original.notification.handling)
            document["kind"] = "reply"
            if document["category"] == nil { document["category"] = original.notification.category.rawValue }
            if let delayed {
                let reason = delayed.trimmingCharacters(in: .whitespacesAndNewlines)
                if document["subject"] == nil { document["subject"] = String(("Delayed: " + reason).prefix(200)) }
                if document["summary"] == nil { document["summary"] = reason }
            }
            if document["subject"] == nil { document["subject"] = String(("Re: " + original.notification.subject).prefix(200)) }
            if fields.priority == nil { document["priority"] = original.notification.priority.rawValue }
            return try await client.reply(to: id, from: original.item.sender, document, weakenHandling: weakenHandling)
        }
        if json { return Terminal.printEncodable(submission) }
        print("replied \(Terminal.bold(submission.id.uuidString.lowercased())) to \(submission.recipients.map(\.rawValue).joined(separator: ", "))")
    }

    /// Refuses a weaker --tlp given without --weaken-handling (the node would raise it, not
    /// what was asked); with it, shows what is given up and, on a terminal, asks first.
    private func confirmHandling(against original: Handling) throws {
        // Read as applyFlags read them (any case, `red` for TLP:RED), which already refused a wrong one.
        let codes = (try? FieldInput.handlingCodes(fields.handlingCodes.joined(separator: ","))) ?? []
        guard let text = fields.tlp, let tlp = try? FieldInput.tlp(text) else { return }
        let asked = Handling(tlp: tlp, codes: codes, restrictions: fields.restrictions, classification: fields.classification)
        guard asked.isWeaker(than: original) else { return }
        guard weakenHandling else {
            guard tlp.strength < original.tlp.strength else { return }
            throw CLIFailure.usage("the original is \(original.marking); a reply keeps at least its handling, so --tlp \(text) would not be sent",
                                   hint: "leave out --tlp to inherit it, or add --weaken-handling to send \(text) (the log records it)")
        }
        Terminal.note(Terminal.bold("handling weakened: \(original.marking) → \(asked.marking)") + " (recorded in the log with your user)")
        guard isatty(STDIN_FILENO) == 1 else { return }
        FileHandle.standardError.write(Data("Send with the weaker handling? [y/N] ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "y" else {
            throw CLIFailure.usage("not sent", hint: "leave out --weaken-handling to reply with the original's handling")
        }
    }
}
