import Foundation
import IIASAPI
import IIASModel

/// What `iias read` and `iias outbox` show of attachments: where each stands at this
/// node, and with `--save` the files themselves.
enum AttachmentViews {
    /// One line per attachment of a received notification (complete, receiving n%,
    /// failed: why); with `directory`, the complete ones saved there.
    static func show(_ result: ReadResult, saveInto directory: String?, _ client: LocalAPIClient) async throws {
        let attachments = result.notification.attachments.filter { $0.encryption != nil }
        guard !attachments.isEmpty else { return }
        print(Terminal.bold("attachments"))
        var failures = 0
        for attachment in attachments {
            let reception = try await OperatorExit.run { try await AttachmentTransfer.reception(of: attachment, from: result.item.sender, client) }
            let state = reception?.shown ?? "not announced to this node"
            print("  \(Terminal.safe(attachment.name))  \(attachment.bytes) bytes  \(state)")
            guard let directory, reception?.state == "complete" else {
                if directory != nil { failures += 1 }
                continue
            }
            do {
                let path = try await AttachmentTransfer.save(attachment, from: result.item.sender, into: directory, client)
                print("    saved to \(path) (commitment and SHA-256 checked)")
            } catch {
                failures += 1
                Terminal.note("    not saved: \(error)")
            }
        }
        if failures > 0 {
            throw CLIFailure.invalid("\(failures) of \(attachments.count) attachments not saved", hint: "an incomplete one can be saved once it is complete")
        }
    }

    /// Per attachment of our notification `id`, per recipient: waiting, transferring n%,
    /// delivered or refused: why.
    static func showOutgoing(_ id: UUID, _ client: LocalAPIClient) async throws {
        let deliveries: [AttachmentDelivery] = try await OperatorExit.run { try await client.call(.GET, "/v1/attachments?envelope=\(id.uuidString.lowercased())") }
        guard !deliveries.isEmpty else { return }
        print(Terminal.bold("attachments"))
        for (n, delivery) in deliveries.enumerated() {
            let states = delivery.recipients.map { "\($0.center): \($0.state)" }.joined(separator: ", ")
            print("  #\(n + 1) \(delivery.root.prefix(12))…  \(delivery.bytes) bytes  \(states)")
        }
    }
}
