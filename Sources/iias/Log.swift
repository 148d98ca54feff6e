import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

/// `iias log …`: auditor commands over a log directory (read-only).
struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and verify an append-only log.",
        subcommands: [Verify.self, Entries.self, Proof.self, Consistency.self, Export.self, CheckpointCommand.self]
    )
}

/// Opens a log directory read-only for an auditor command: exit 2 when it is not a log,
/// exit 1 when it is damaged.
func openLogReadOnly(_ dir: String) throws -> LogStore {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIFailure.usage("\(dir) is not a directory", hint: "pass the node's log folder, e.g. DATA/log")
    }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    guard names.contains(where: { $0.hasSuffix(".seg") }) else {
        throw CLIFailure.usage("\(dir) is not a log (no .seg segment files)")
    }
    do {
        return try LogStore(directory: dir, readOnly: true)
    } catch let error as LogStoreError {
        throw CLIFailure.invalid("log damaged: \(error.description)")
    }
}
