import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

extension Log {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one logged envelope's exact bytes to a file, for `iias audit` or openssl.",
            discussion: """
            Example (then verify the sender's signature with openssl alone):
              iias log export DATA/log --id 0b7e…-uuid --out alert.iias
              iias audit export-signed alert.iias
              openssl pkeyutl -verify -rawin -certin -inkey AZ/signing.crt -in alert.iias.signed -sigfile alert.iias.sig

            Exit codes: 0 written, 1 damaged log, 2 usage (missing dir, unknown entry).
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @OptionGroup var entry: EntrySelector

        @Option(help: ArgumentHelp("Where to write the envelope.", valueName: "file"))
        var out: String

        func run() async throws {
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let index = try entry.resolve(in: log)
            let logged: LogEntry
            do { logged = try log.entry(at: index) } catch {
                throw CLIFailure.invalid("entry \(index) cannot be read: \(error)")
            }
            guard logged.type != .treeHead, logged.type != .operatorAction else {
                throw CLIFailure.usage("entry \(index) is a \(logged.type) entry, not an envelope")
            }
            try writeUserFile(out, logged.payload, mode: 0o644)
            Terminal.note("entry \(index) (\(logged.type)): \(logged.payload.count) bytes written to \(out)")
        }
    }
}
