import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

extension Audit {
    /// `iias audit attachments DATA/log --key-dir KEYS`: the recipient's own check of its
    /// stored attachments down to the plaintext, beside `iias log verify`'s keyless one.
    struct Attachments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attachments",
            abstract: "With a recipient's keys, open every stored attachment and check it against its seal and its logged root.",
            discussion: """
            Examples:
              iias audit attachments node/log --key-dir PKI/centers/GE
              iias audit attachments node/log --key-dir PKI/centers/GE --json

            For every notification the log received that these keys open (its sender's
            signature checked first), each sealed attachment must have an `attachment`
            log record whose root is the seal's, and the stored ciphertext under
            DIR/../attachments must decrypt to a file whose SHA-256 is the seal's. The
            plaintext is never written. Without keys, `iias log verify DIR` checks the
            stored ciphertext against the logged roots alone.
            Exit codes: 0 all open and match, 1 a problem (each listed), 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The log directory (DATA/log).", valueName: "dir"))
        var dir: String
        @Flag(help: "Print the result as JSON.")
        var json = false
        /// The recipient's keys open the notifications; the trust options check their senders.
        @OptionGroup var keys: KeyOptions
        @OptionGroup var trust: TrustOptions

        func run() async throws {
            let centerKeys = try keys.load()
            let verifier = try trust.envelopeVerifier(fallbackDirectory: keys.keyDir)
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let audit = StoredAttachmentAudit.run(log, attachmentsDirectory: Log.Verify.attachmentsDirectory(besideLog: dir), keys: centerKeys, verifier: verifier)
            if json {
                Terminal.printJSON(["valid": audit.problems.isEmpty, "attachments": Log.Verify.json(audit)])
            } else {
                print("attachments opened: \(audit.checked) (as \(centerKeys.center), SHA-256 and root against each seal)")
                for problem in audit.problems { print(Terminal.red("FAILS") + " entry \(problem.index) \(problem.file): \(problem.why)") }
            }
            if let first = audit.problems.first {
                throw CLIFailure.invalid("\(audit.problems.count) of \(audit.checked) attachments fail; the first: \(first.why)")
            }
        }
    }
}
