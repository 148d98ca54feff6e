import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a notification through the local node: signed, encrypted and delivered with receipts.",
        discussion: """
        The same fields as `iias compose` (flags, --file, or both). On a
        terminal, missing required fields are asked for. The node signs with
        the center's key, logs the notification before queuing it, and
        delivers it to each recipient until a signed receipt comes back.
        --to all sends to every configured peer.

        Example:
          iias send --to all --category terrorism --priority flash --tlp TLP:AMBER \\
              --subject "Planned attack on pipeline" --summary "..."

        An update, cancellation or reply inherits the strongest handling of the
        notifications it names (the node raises a weaker one); --weaken-handling
        sends it as given, and the log records that you weakened it.

        Files: --attach FILE (repeatable; in a --file draft, an attachment
        {"path": "map.pdf"}) streams each file to the node, which encrypts it
        once and sends it to each recipient after the notification;
        `iias outbox ID` follows each attachment per recipient.

        Many at once (an import, a feed): --batch reads whole drafts, one JSON
        object a line, and the node logs them together with one sync — all of
        them, or none when one is wrong (the error names it: /2/subject):
          iias send --batch drafts.ndjson

        """ + OperatorExit.discussion
    )

    @OptionGroup var fields: NotificationFields
    @OptionGroup var socket: SocketOptions

    @Flag(help: "An update, cancellation or reply goes with the handling given here even where it is weaker than what it names (logged).")
    var weakenHandling = false

    @Option(help: ArgumentHelp("Send up to 256 whole drafts from a file, one JSON object a line ('-' for standard input), as one batch.", valueName: "file"))
    var batch: String?

    @Flag(help: "Print the node's answer as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Attach a file (repeatable): streamed to the node, encrypted once, sent after the notification.", valueName: "file"))
    var attach: [String] = []

    func validate() throws {
        guard batch == nil || (fields.isUnset && !weakenHandling) else {
            throw CLIFailure.usage("--batch takes every notification whole from its file", hint: "leave out the field options and --weaken-handling, or send them one at a time")
        }
    }

    func run() async throws {
        if let batch { return try await send(batch: batch) }
        var document = try fields.startingDocument()
        let recipients = fields.recipients
        if !recipients.isEmpty { document["recipients"] = recipients == ["all"] ? ["all"] : recipients }
        let given = document
        try fields.applyFlags(to: &document)  // a mistyped flag stops us before the first question
        if NotificationPrompts.available { try NotificationPrompts().askMissing(&document, given: given, flags: fields) }
        let client = socket.client
        if weakenHandling {
            Terminal.note(Terminal.bold("--weaken-handling: ") + "this goes with the handling given here even if what it names is marked more strictly; the log records it")
        }
        let submission = try await OperatorExit.run {
            try await NotificationIDInput.expand(&document, client)
            try await AttachmentTransfer.uploadAll(&document, attach: attach, client)
            return try await client.submit(document, weakenHandling: weakenHandling)
        }
        if json {
            Terminal.printEncodable(submission)
        } else {
            print("sent \(Terminal.bold(submission.id.uuidString.lowercased())) to \(submission.recipients.map(\.rawValue).joined(separator: ", "))"
                  + Terminal.dim("  (log index \(submission.logIndex); `iias outbox \(Render.shortID(submission.id))` follows delivery)"))
        }
    }

    private func send(batch path: String) async throws {
        // The node's request limit (limits.maxRequestBytes) can be set up to 64 MiB; it says what it takes.
        let bytes = try readUserFile(path, limit: 64 << 20, what: "batch")
        guard !LocalAPIClient.batchDrafts(bytes).isEmpty else { throw CLIFailure.invalid("\(path) holds no drafts", hint: "one JSON notification a line") }
        // The file's lines as they are, blank ones too: the node's line numbers are the file's.
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let client = socket.client
        let submissions = try await OperatorExit.run { try await client.submit(batch: lines) }
        if json { return Terminal.printEncodable(submissions) }
        for submission in submissions {
            print("sent \(Terminal.bold(submission.id.uuidString.lowercased())) to \(submission.recipients.map(\.rawValue).joined(separator: ", "))"
                  + Terminal.dim("  (log index \(submission.logIndex))"))
        }
        Terminal.note(Terminal.dim("\(Plural.count(submissions.count, "notification")) logged together; `iias outbox` follows delivery"))
    }
}
