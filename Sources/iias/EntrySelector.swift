import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

/// One entry of a log, by index or by the envelope it holds (`log proof`, `log export`).
struct EntrySelector: ParsableArguments {
    @Option(help: "The entry's index (0-based).")
    var index: UInt64?

    @Option(help: ArgumentHelp("The envelope id (UUID) of the entry, instead of --index.", valueName: "uuid"))
    var id: String?

    @Option(help: ArgumentHelp("With --id: the envelope's sender, when two centers used the same id.", valueName: "center"))
    var from: String?

    func validate() throws {
        guard (index == nil) != (id == nil) else { throw ValidationError("give exactly one of --index and --id") }
        if let id, UUID(uuidString: id) == nil { throw ValidationError("--id \(Terminal.safe(id)) is not a UUID") }
        if let from {
            guard id != nil else { throw ValidationError("--from goes with --id") }
            guard CenterID(from) != nil else { throw ValidationError("--from \(Terminal.safe(from)) is not a center id (e.g. AZ)") }
        }
    }

    /// The entry's index; for --id, the first sent/received/receipt entry holding that
    /// envelope (a notification is identified by sender and id: when two senders used the
    /// id, --from names the one meant). The log is a container and keeps no index by
    /// envelope id, so this reads the entries once.
    func resolve(in log: LogStore) throws -> UInt64 {
        if let index {
            guard index < log.count else { throw CLIFailure.usage("index \(index) is beyond the log: it holds \(Plural.count(log.count, "entry", plural: "entries")) (0…\(log.count == 0 ? 0 : log.count - 1))") }
            return index
        }
        let envelopeID = UUID(uuidString: id!)!, sender = from.flatMap { CenterID($0) }
        var found: [CenterID: UInt64] = [:]
        let entries = log.entries()
        for entry in entries where [.sent, .received, .receipt].contains(entry.type) {
            guard let envelope = try? Envelope(parsing: entry.payload), envelope.id == envelopeID,
                  sender.map({ $0 == envelope.header.sender }) ?? true, found[envelope.header.sender] == nil else { continue }
            found[envelope.header.sender] = entry.index
        }
        if let error = entries.error { throw CLIFailure.invalid("log damaged: \(error)") }
        let shown = envelopeID.uuidString.lowercased()
        guard !found.isEmpty else {
            throw CLIFailure.usage("no envelope \(shown)\(sender.map { " from \($0)" } ?? "") in the log")
        }
        guard found.count == 1, let only = found.values.first else {
            let candidates = found.keys.sorted().map { "\($0)/\(shown) (entry \(found[$0]!))" }.joined(separator: ", ")
            throw CLIFailure.usage("\(found.count) centers sent an envelope with id \(shown): \(candidates)", hint: "name one with --from CENTER")
        }
        return only
    }
}
