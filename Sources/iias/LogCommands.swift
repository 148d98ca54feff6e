import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog

/// `iias log …`: auditor commands over a log directory (read-only).
struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and verify an append-only log.",
        subcommands: [Verify.self]
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
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIFailure.usage("\(dir) is not a directory")
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            guard names.contains(where: { $0.hasSuffix(".seg") }) else {
                throw CLIFailure.usage("\(dir) is not a log (no .seg segment files)")
            }
            let log: LogStore
            do {
                log = try LogStore(directory: dir, readOnly: true)
            } catch let error as LogStoreError {
                throw CLIFailure.invalid("log damaged: \(error.description)")
            }
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
