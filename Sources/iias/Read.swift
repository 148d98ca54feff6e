import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one received notification, decrypted by the node (the read is logged with your user).",
        discussion: InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: ArgumentHelp("Save the complete attachments into this directory, opened and checked, never over a file.", valueName: "dir"))
    var save: String?

    func validate() throws {
        guard !(json && save != nil) else {
            throw CLIFailure.usage("--save reports each file it saves; it does not mix with --json", hint: "read with --json, then save without it")
        }
    }

    func run() async throws {
        let result = try await target.call(socket) { client, id, sender in try await client.read(id, from: sender) }
        if json { return Terminal.printEncodable(result) }
        NotificationRendering(notification: result.notification,
                              context: [("received", Render.time(result.item.received)), ("state", Render.state(result.item))],
                              banner: (result.item.thread.map { [Render.threadMark($0) + "  (iias thread \(Render.shortID(result.item.id)))"] } ?? [])
                                  + (result.item.threadPending == true ? [Render.threadsPendingLine] : [])).print()
        try await AttachmentViews.show(result, saveInto: save, socket.client)
    }
}
