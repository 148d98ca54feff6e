import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Ack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Acknowledge a received notification: logged here and sent, signed, to its sender.",
        discussion: InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let item = try await target.call(socket) { client, id, sender in try await client.acknowledge(id, from: sender) }
        if json { return Terminal.printEncodable(item) }
        print("acknowledged \(Terminal.bold(item.id.uuidString.lowercased())) from \(item.sender); the sender is told")
    }
}
