import ArgumentParser
import Foundation
import IIASAPI
import IIASCrypto
import IIASModel

/// `iias attachments ID`: everything the node knows of one notification's attachments, so
/// an operator can see at a glance what arrived, what is still moving and why one failed,
/// and where its ciphertext lies, without saving anything.
struct Attachments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the attachments of a received or sent notification: what each is and where it stands.",
        discussion: """
            Examples:
              iias attachments 3f2a              a received notification's attachments
              iias attachments AZ/3f2a           the same, naming the sender
              iias attachments 77c1 --json       one we sent: per recipient, as JSON

            For a received notification, per attachment: name, media type, size,
            SHA-256 of the file, chunk size and count, the Merkle root the sender
            signed, the state here (complete, receiving n%, failed: why) and the
            stored ciphertext's path. Showing a received notification's attachments
            reads it (the read is logged with your user, as `iias read` does).
            For a notification this center sent: per attachment its root, size,
            chunking, stored path, and per recipient waiting, transferring n%,
            delivered or refused: why. A complete attachment is checked against its
            root each time it is shown; one damaged on disk shows failed and is
            fetched again from its sender. Save the files with `iias read ID --save DIR`.


            """ + InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        if target.from == nil, !target.id.contains("/"), let sent = try await OperatorExit.run({ try await sentID(client) }) {
            return try await showSent(sent, client)
        }
        let result = try await target.call(socket) { client, id, sender in try await client.read(id, from: sender) }
        var rows: [[String: Any]] = []
        for (position, attachment) in result.notification.attachments.enumerated() {
            var row: [String: Any] = ["position": position, "name": attachment.name, "mediaType": attachment.mediaType,
                                      "bytes": attachment.bytes, "sha256": attachment.sha256]
            if let seal = attachment.encryption {
                row["chunkSize"] = seal.chunkSize
                row["chunkCount"] = seal.chunkCount
                row["root"] = seal.root
                let reception = try await OperatorExit.run { try await AttachmentTransfer.reception(of: attachment, from: result.item.sender, client) }
                row["state"] = reception?.shown ?? "not announced to this node"
                row["path"] = reception?.storedPath
            } else {
                row["state"] = "described only (no ciphertext travels)"
            }
            rows.append(row)
        }
        if json {
            return Terminal.printJSON(["id": result.item.id.uuidString.lowercased(), "sender": result.item.sender.rawValue,
                                       "direction": "received", "attachments": rows])
        }
        print("\(result.item.sender.rawValue)/\(result.item.id.uuidString.lowercased())  received  \(rows.count) attachment\(rows.count == 1 ? "" : "s")")
        for row in rows { Self.printRow(row) }
    }

    /// Our own notification this id names, if any (a prefix fitting none of ours is not an error).
    private func sentID(_ client: LocalAPIClient) async throws -> UUID? {
        if let full = UUID(uuidString: target.id) {
            return try await client.outbox().contains { $0.id == full } ? full : nil
        }
        let matches = try await client.outbox().filter { $0.id.uuidString.lowercased().hasPrefix(target.id.lowercased()) }
        return matches.count == 1 && target.id.count >= 4 ? matches[0].id : nil
    }

    private func showSent(_ id: UUID, _ client: LocalAPIClient) async throws {
        let deliveries: [AttachmentDelivery] = try await OperatorExit.run {
            try await client.call(.GET, "/v1/attachments?envelope=\(id.uuidString.lowercased())")
        }
        let rows: [[String: Any]] = deliveries.map { delivery in
            ["root": delivery.root, "bytes": delivery.bytes, "chunkSize": delivery.chunkSize ?? 0, "chunkCount": delivery.chunkCount ?? 0,
             "path": delivery.storedPath ?? "", "recipients": Dictionary(uniqueKeysWithValues: delivery.recipients.map { ($0.center, $0.state) })]
        }
        if json { return Terminal.printJSON(["id": id.uuidString.lowercased(), "direction": "sent", "attachments": rows]) }
        print("\(id.uuidString.lowercased())  sent  \(rows.count) attachment\(rows.count == 1 ? "" : "s")")
        for row in rows { Self.printRow(row) }
    }

    private static func printRow(_ row: [String: Any]) {
        if let name = row["name"] as? String { print("  " + Terminal.bold(Terminal.safe(name))) } else { print("  " + Terminal.bold("attachment")) }
        let order = ["mediaType", "bytes", "sha256", "chunkSize", "chunkCount", "root", "state", "path"]
        for key in order { if let value = row[key] { print("    \(key.padding(toLength: 11, withPad: " ", startingAt: 0)) \(value)") } }
        if let recipients = row["recipients"] as? [String: String] {
            for (center, state) in recipients.sorted(by: { $0.key < $1.key }) { print("    \(center): \(state)") }
        }
    }
}
