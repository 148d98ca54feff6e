import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

/// Prints a proof as JSON (stable key order) for `iias audit check-proof`.
func printProof(_ proof: LogProof) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(proof), as: UTF8.self))
}

extension Log {
    struct Proof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an inclusion proof of one entry, with the signed tree head it is checked against.",
            discussion: """
            Example:
              iias log proof DATA/log --index 41 --key-dir PKI/centers/AZ > proof.json
              iias log proof DATA/log --id 0b7e…-uuid --key-dir PKI/centers/AZ > proof.json
              iias audit check-proof proof.json --cert PKI/centers/AZ/signing.crt

            The tree head is signed with the center's signing key as a C2SP tlog-checkpoint
            note. Give the entry by --index or by envelope --id (the first sent/received/receipt
            entry holding that envelope). Exit codes: 0 printed, 1 damaged log, 2 usage
            (missing dir, index out of range, unknown id, neither or both of --index and --id).
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @OptionGroup var entry: EntrySelector

        @Option(help: "The size of the tree to prove against (default: the whole log).")
        var treeSize: UInt64?

        @OptionGroup var keys: KeyOptions

        func run() async throws {
            let center = try keys.load()
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let index = try entry.resolve(in: log)
            do {
                try printProof(LogProof.inclusion(in: log, index: index, treeSize: treeSize ?? log.count,
                                                  signer: center.center.rawValue, key: center.signingKey, epoch: logEpoch(ofLogDirectory: dir)))
            } catch let error as LogProofError {
                throw CLIFailure.usage(error.description, hint: "the log holds \(Plural.count(log.count, "entry", plural: "entries"))")
            }
        }
    }

    struct Consistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a consistency proof: the tree of size FROM is a prefix of the tree of size TO.",
            discussion: """
            Example:
              iias log consistency DATA/log --from 1000 --to 2000 --key-dir PKI/centers/AZ > c.json
              iias audit check-proof c.json --cert PKI/centers/AZ/signing.crt

            Both tree heads are signed. Exit codes: 0 printed, 1 damaged log, 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @Option(help: "The earlier tree size.")
        var from: UInt64

        @Option(help: "The later tree size (default: the whole log).")
        var to: UInt64?

        @OptionGroup var keys: KeyOptions

        func run() async throws {
            let center = try keys.load()
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            do {
                try printProof(LogProof.consistency(in: log, from: from, to: to ?? log.count,
                                                    signer: center.center.rawValue, key: center.signingKey, epoch: logEpoch(ofLogDirectory: dir)))
            } catch let error as LogProofError {
                throw CLIFailure.usage(error.description, hint: "the log holds \(Plural.count(log.count, "entry", plural: "entries"))")
            }
        }
    }
}
