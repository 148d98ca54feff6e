import ArgumentParser
import Foundation
import Synchronization
import IIASCrypto
import IIASLog
import IIASModel

/// `iias log …`: auditor commands over a log directory (read-only).
struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and verify an append-only log.",
        subcommands: [Verify.self, Entries.self, Proof.self, Consistency.self, Export.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every record of a log (headers, CRC32C, index order) and print its Merkle root.",
            discussion: """
            Examples:
              iias log verify node/log
              iias log verify node/log --ca PKI/ca.crt --crl PKI/crl.pem --certs PKI/centers --json

            Opens the log read-only: a torn tail is reported, never cut.
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

        func run() async throws {
            var verifier: EnvelopeVerifier?
            if trust.ca != nil || trust.certs != nil || trust.crl != nil {
                guard trust.ca != nil, trust.certs != nil else {
                    throw CLIFailure.usage("signature checks need both --ca and --certs", hint: "pass --ca PKI/ca.crt --certs PKI/centers")
                }
                verifier = EnvelopeVerifier(trust: try trust.trustAnchor(), certificates: try trust.certificateDirectory())
            }
            let log = try openLogReadOnly(dir)
            defer { log.close() }
            let size = log.count
            let tree = try log.merkleTree()
            let root = try tree.rootHash(treeSize: size)
            var signatures: SignatureSummary?
            if let verifier { signatures = try checkSignatures(log, tree: tree, verifier: verifier) }
            func place(_ index: UInt64) -> String { log.location(of: index).map { " (\($0.segment) offset \($0.offset))" } ?? "" }
            let problems = signatures?.problems ?? []
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
            }
            if let signatures, let first = problems.first {
                throw CLIFailure.invalid("\(signatures.problemCount) \(signatures.problemCount == 1 ? "entry fails its check" : "entries fail their checks"); "
                    + "the first: entry \(first.index)\(place(first.index)): \(first.why)")
            }
            if let t = log.truncatedTail {
                throw CLIFailure.invalid("torn tail: \(t.bytes) bytes at \(t.segment) offset \(t.offset)")
            }
        }
    }
}


/// Checks every tree head and envelope entry, on every core (chunks of consecutive
/// entries). An entry that fails its check (a signature, a revocation in force at its
/// time) is noted and the check goes on, so an auditor sees every such entry, each with
/// its reason; records that cannot be read end their chunk. The caller reports the
/// problems (exit 1), each naming the entry's index, segment and offset.
func checkSignatures(_ log: LogStore, tree: any MerkleHashSource, verifier: EnvelopeVerifier) throws -> SignatureSummary {
    let count = log.count
    let chunk: UInt64 = 1024
    let chunks = Int((count + chunk - 1) / chunk)
    let progress = Terminal.stderrIsTTY
    let shared = Mutex<(parts: [Int: SignatureSummary], checked: UInt64)>(([:], 0))
    DispatchQueue.concurrentPerform(iterations: chunks) { part in
        var summary = SignatureSummary()
        let start = UInt64(part) * chunk
        let entries = log.entries(from: start, to: min(count, start + chunk))
        var index = start
        for entry in entries {
            do { try checkEntry(entry, tree: tree, verifier: verifier, summary: &summary) } catch {
                summary.note(problem: (error as? EntryProblem)?.why ?? "\(error)", at: index)
            }
            index += 1
        }
        if let error = entries.error { summary.note(problem: "unreadable: \(error)", at: index) }
        let checked = shared.withLock { state in
            state.parts[part] = summary
            state.checked += min(count, start + chunk) - start
            return state.checked
        }
        if progress && (part % 16 == 0 || checked == count) {
            FileHandle.standardError.write(Data("\r\(Terminal.dim("checking signatures")) \(checked)/\(count)".utf8))
        }
    }
    if progress && count > 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    var total = SignatureSummary()
    let parts = shared.withLock { $0.parts }
    for part in 0..<chunks {
        guard let summary = parts[part] else { continue }
        total.treeHeads += summary.treeHeads
        total.envelopes += summary.envelopes
        total.newestTreeHeadSize = summary.newestTreeHeadSize ?? total.newestTreeHeadSize
        total.merge(summary)
    }
    return total
}

/// Why one entry failed its check.
struct EntryProblem: Error { var why: String }

/// One entry's check: a tree head's signature, origin, size and root; an envelope's
/// signature and its sender's certificate at the time the log recorded it (the entry's
/// time, which the log's signed tree heads cover), with RFC 5280 semantics: a CRL issued
/// later is the evidence about that time, and a revocation counts from its date on.
private func checkEntry(_ entry: LogEntry, tree: any MerkleHashSource, verifier: EnvelopeVerifier,
                        summary: inout SignatureSummary) throws(EntryProblem) {
    func problem(_ why: String) -> EntryProblem { EntryProblem(why: why) }
    let index = entry.index
    switch entry.type {
    case .treeHead:
        let note = String(decoding: entry.payload, as: UTF8.self)
        let body: Checkpoint
        do { body = try SignedNote(parsing: note).checkpoint() } catch { throw problem("tree head: \(error)") }
        let prefix = "iias:center:", suffix = "/log"
        guard body.origin.hasPrefix(prefix), body.origin.hasSuffix(suffix),
              let center = CenterID(String(body.origin.dropFirst(prefix.count).dropLast(suffix.count))) else {
            throw problem("tree head origin \(Terminal.safe(body.origin)) is not a center's log")
        }
        let candidates = verifier.certificates.certificates(of: center, for: .signing)
        guard !candidates.isEmpty else {
            throw problem("tree head: no signing certificate of \(center) in --certs")
        }
        // The certificate whose key signed the note (current or from the center's history).
        var signed: Checkpoint?, signer: Certificate?, lastError: (any Error)?
        for certificate in candidates {
            do {
                signed = try Checkpoint.verify(note: note, logOf: center.rawValue, publicKey: certificate.signingPublicKey())
                signer = certificate
                break
            } catch { lastError = error }
        }
        guard let signed, let signer else {
            throw problem("tree head: \(candidates.count == 1 ? "\(lastError.map { "\($0)" } ?? "")" : "the note verifies with none of the \(candidates.count) signing certificates of \(center)")")
        }
        do { try verifier.trust.verify(signer, for: .signing, of: center, at: entry.time) } catch { throw problem("tree head: \(error)") }
        summary.noteSigner(signer, of: center, at: entry.time, trust: verifier.trust)
        guard signed.treeSize == index else {
            throw problem("tree head size \(signed.treeSize) is not its own index")
        }
        guard (try? tree.rootHash(treeSize: signed.treeSize)) == signed.rootHash else {
            throw problem("tree head root does not match the recomputed root at size \(signed.treeSize)")
        }
        summary.treeHeads += 1
        summary.newestTreeHeadSize = max(summary.newestTreeHeadSize ?? 0, signed.treeSize)
    case .sent, .received, .receipt:
        do {
            let envelope = try Envelope(parsing: entry.payload)
            let verified = try verifier.verify(envelope, at: entry.time)
            summary.noteSigner(verified.senderCertificate, of: envelope.header.sender, at: entry.time, trust: verifier.trust)
        } catch { throw problem("\(entry.type) entry (judged at its log time \(Timestamp.formatWithMilliseconds(entry.time))): \(error)") }
        summary.envelopes += 1
    case .operatorAction:
        break
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
                                                  signer: center.center.rawValue, key: center.signingKey))
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
                                                    signer: center.center.rawValue, key: center.signingKey))
            } catch let error as LogProofError {
                throw CLIFailure.usage(error.description, hint: "the log holds \(Plural.count(log.count, "entry", plural: "entries"))")
            }
        }
    }
}

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
