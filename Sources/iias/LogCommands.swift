import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog

/// `iias log …`: auditor commands over a log directory (read-only).
struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and verify an append-only log.",
        subcommands: [Verify.self, Proof.self, Consistency.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every record of a log (headers, CRC32C, index order) and print its Merkle root.",
            discussion: """
            Example:
              iias log verify node/log

            Opens the log read-only: a torn tail is reported, never cut.
            Exit codes: 0 valid, 1 damaged (segment and offset printed), 2 usage (missing dir, not a log).
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let size = log.count
            let root = try log.merkleTree.rootHash(treeSize: size)
            if json {
                var object: [String: Any] = ["valid": log.truncatedTail == nil, "treeSize": size, "rootHash": root.hexString]
                if let t = log.truncatedTail { object["tornTail"] = ["segment": t.segment, "offset": t.offset, "bytes": t.bytes] }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("entries: \(size)\nroot:    \(root.hexString)")
            }
            if let t = log.truncatedTail {
                throw CLIFailure.invalid("torn tail: \(t.bytes) bytes at \(t.segment) offset \(t.offset)")
            }
        }
    }
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
              iias audit check-proof proof.json --cert PKI/centers/AZ/signing.crt

            The tree head is signed with the center's signing key as a C2SP tlog-checkpoint
            note. Exit codes: 0 printed, 1 damaged log, 2 usage (missing dir, index out of range).
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @Option(help: "The entry's index (0-based).")
        var index: UInt64

        @Option(help: "The size of the tree to prove against (default: the whole log).")
        var treeSize: UInt64?

        @OptionGroup var keys: KeyOptions

        func run() async throws {
            let center = try keys.load()
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            do {
                try printProof(LogProof.inclusion(in: log, index: index, treeSize: treeSize ?? log.count,
                                                  signer: center.center.rawValue, key: center.signingKey))
            } catch let error as LogProofError {
                throw CLIFailure.usage(error.description, hint: "the log holds \(log.count) entries")
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
                                                    signer: center.center.rawValue, key: center.signingKey))
            } catch let error as LogProofError {
                throw CLIFailure.usage(error.description, hint: "the log holds \(log.count) entries")
            }
        }
    }
}
