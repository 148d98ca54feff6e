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
        let client = socket.client
        let item = try await OperatorExit.run {
            let (id, sender) = try await target.resolve(client)
            return try await client.acknowledge(id, from: sender)
        }
        if json { return Terminal.printEncodable(item) }
        print("acknowledged \(Terminal.bold(item.id.uuidString.lowercased())) from \(item.sender); the sender is told")
    }
}
