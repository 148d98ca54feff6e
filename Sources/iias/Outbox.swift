import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Notifications this center sent and where each stands with each recipient.",
        discussion: "Without ID: the newest first (\(ListingOptions.defaultLimit) in a table; --limit N, --all), through $PAGER on a terminal. With ID (or a unique prefix of at least 4 characters): one notification, per recipient. With ID --proof CENTER: the recipient's proof of delivery, a C2SP tlog-proof bundle that `iias audit check-proof FILE --policy POLICY` verifies offline.\n\n" + OperatorExit.discussion
    )

    @Argument(help: "A notification id (or a unique prefix of at least 4 characters).") var id: String?
    @OptionGroup var listing: ListingOptions
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var receiptProof: ReceiptProofOptions

    func run() async throws {
        let client = socket.client
        if try await receiptProof.write(id: id, client) { return }
        if let id {
            let item = try await OperatorExit.run {
                try await client.delivery(of: try await NotificationIDInput.sent(id, client))
            }
            if json { return Terminal.printEncodable(item) }
            print(Terminal.bold(Terminal.safe(item.subject)) + "  " + Render.priority(item.priority) + "  " + item.id.uuidString.lowercased())
            Terminal.printTable(["RECIPIENT", "STATE", "ATTEMPTS", "THEIR INDEX", "UPDATED", "DETAIL"], item.recipients.map { r in
                [r.center.rawValue, Render.delivery(r), String(r.attempts), r.recipientLogIndex.map(String.init) ?? "-",
                 r.updated.map(Render.time) ?? "-", Terminal.safe(r.detail ?? "")]
            })
            try await AttachmentViews.showOutgoing(item.id, client)
            return
        }
        let items = try await OperatorExit.run { try await client.outbox(limit: listing.nodeLimit(json: json)) }
        if json { return Terminal.printEncodable(items) }
        guard !items.isEmpty else { return print(Terminal.dim("nothing sent yet")) }
        let (shown, moreLine) = listing.cut(items, noun: "notification")
        let pager = Pager.start(json: json)
        defer { pager?.finish() }
        Terminal.printTable(["ID", "CREATED", "PRIORITY", "TLP", "KIND", "CATEGORY", "DELIVERY", "SUBJECT"], shown.map { item in
            let done = item.recipients.filter { $0.state == .delivered || $0.state == .acknowledged }.count
            let refused = item.recipients.filter { $0.state == .refused }.count
            let delivery = "\(done)/\(item.recipients.count)" + (refused > 0 ? Terminal.red(" \(refused) refused") : "")
            return [Render.shortID(item.id), Render.time(item.created), Render.priority(item.priority), item.tlp.map(Render.tlp) ?? "-",
                    item.kind.map(Render.kind) ?? "-", item.category.rawValue, delivery, Terminal.safe(item.subject)]
        })
        if let moreLine { print(Terminal.dim(moreLine)) }
    }
}
