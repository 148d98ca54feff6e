import ArgumentParser
import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel

extension Log {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every record of a log (headers, CRC32C, index order) and print its Merkle root.",
            discussion: """
            Examples:
              iias log verify node/log
              iias log verify node/log --ca PKI/ca.crt --crl PKI/crl.pem --certs PKI/centers --json

            Opens the log read-only: a torn tail is reported, never cut.
            Every attachment the log records as stored (its `attachment` entries) is checked
            without keys: the file under DIR/../attachments must hash to the logged Merkle
            root; a missing, truncated, extended or altered file is a problem.
            With --ca and --certs it also checks signatures: every tree head entry must be a
            checkpoint signed by its center (certificate chained to the CA) whose root equals
            the recomputed root at its size, and every sent/received/receipt entry must be an
            envelope whose signature verifies with its sender's certificate at signing time.
            Exit codes: 0 valid, 1 damaged or a bad signature (index, segment and offset
            printed), 2 usage (missing dir, not a log, unreadable CA or certificates).
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir"))
        var dir: String

        @Flag(help: "Print the result as JSON.")
        var json = false

        @OptionGroup var trust: TrustOptions

        func validate() throws {
            if trust.ca != nil || trust.certs != nil || trust.crl != nil {
                guard trust.ca != nil, trust.certs != nil else {
                    throw CLIFailure.usage("signature checks need both --ca and --certs", hint: "pass --ca PKI/ca.crt --certs PKI/centers")
                }
            }
        }

        func run() async throws {
            var verifier: EnvelopeVerifier?
            if trust.ca != nil || trust.certs != nil || trust.crl != nil {
                verifier = EnvelopeVerifier(trust: try trust.trustAnchor(), certificates: try trust.certificateDirectory())
            }
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let showProgress = Terminal.stderrIsTTY
            let progress: @Sendable (UInt64, UInt64) -> Void = { checked, count in
                FileHandle.standardError.write(Data("\r\(Terminal.dim("checking signatures")) \(checked)/\(count)".utf8))
            }
            let audit = try LogAudit.run(log, verifier: verifier, progress: showProgress ? progress : nil)
            if showProgress && verifier != nil && audit.treeSize > 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let size = audit.treeSize, root = audit.rootHash, signatures = audit.signatures
            func place(_ index: UInt64) -> String { log.location(of: index).map { " (\($0.segment) offset \($0.offset))" } ?? "" }
            let problems = signatures?.problems ?? []
            let stored = Self.storedAttachments(log, dir: dir)
            if json {
                var object: [String: Any] = ["valid": log.truncatedTail == nil && problems.isEmpty, "treeSize": size, "entries": size,
                                             "rootHash": root.hexString]
                if let signatures {
                    object["treeHeadsChecked"] = signatures.treeHeads
                    object["envelopesChecked"] = signatures.envelopes
                    object["newestTreeHeadSize"] = signatures.newestTreeHeadSize.map { $0 as Any } ?? NSNull()
                    object["judgedAt"] = "each entry's log time"
                    object["signers"] = signatures.signerRows.map(\.json)
                    object["problemCount"] = signatures.problemCount
                    object["problems"] = problems.map { problem -> [String: Any] in
                        var item: [String: Any] = ["index": problem.index, "why": problem.why]
                        if let location = log.location(of: problem.index) { item["segment"] = location.segment; item["offset"] = location.offset }
                        return item
                    }
                }
                if let t = log.truncatedTail { object["tornTail"] = ["segment": t.segment, "offset": t.offset, "bytes": t.bytes] }
                if let stored { object["attachments"] = Self.json(stored); if !stored.problems.isEmpty { object["valid"] = false } }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("entries: \(size)\nroot:    \(root.hexString)")
                if let signatures {
                    print("tree heads checked: \(signatures.treeHeads)\nenvelopes checked:  \(signatures.envelopes)")
                    print("newest tree head:   " + (signatures.newestTreeHeadSize.map { "size \($0)" } ?? "none"))
                    print("judged at:          each entry's log time, against the CRL given")
                    for row in signatures.signerRows { print(row.text) }
                    for problem in problems.prefix(100) { print(Terminal.red("FAILS") + " entry \(problem.index)\(place(problem.index)): \(problem.why)") }
                    if signatures.problemCount > 100 { print("… and \(signatures.problemCount - 100) more (--json lists \(SignatureSummary.problemsKept))") }
                }
                if let stored { Self.printText(stored) }
            }
            if let signatures, let first = problems.first {
                throw CLIFailure.invalid("\(signatures.problemCount) \(signatures.problemCount == 1 ? "entry fails its check" : "entries fail their checks"); "
                    + "the first: entry \(first.index)\(place(first.index)): \(first.why)")
            }
            if let first = stored?.problems.first {
                throw CLIFailure.invalid("\(stored?.problems.count ?? 0) stored attachments fail their logged roots; the first: \(first.file): \(first.why)")
            }
            if let t = log.truncatedTail {
                throw CLIFailure.invalid("torn tail: \(t.bytes) bytes at \(t.segment) offset \(t.offset)")
            }
        }
    }
}
