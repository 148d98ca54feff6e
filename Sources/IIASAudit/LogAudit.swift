import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// A whole log checked as an auditor checks it, without the node and without keys: every
/// record (header, CRC32C, index order — checked as the log opens read-only), the
/// RFC 9162 tree over all of them, and, given a verifier, every signed tree head and every
/// envelope's signature with its signer's certificate at the entry's log time. A library,
/// so that `iias log verify`, a test or another auditor's tool run the same checks and
/// show progress their own way.
public struct LogAudit: Sendable {
    /// Entries in the log: the size of the tree.
    public var treeSize: UInt64
    /// The RFC 9162 root hash over every entry.
    public var rootHash: [UInt8]
    /// What the signature checks found; nil when no verifier was given (structure only).
    public var signatures: SignatureSummary?
    /// A torn last record the read-only open found and left in place.
    public var tornTail: (segment: String, offset: Int, bytes: Int)?

    /// No torn tail, and no entry failed its check.
    public var isValid: Bool { tornTail == nil && (signatures?.problems.isEmpty ?? true) }

    /// Audits an open log (open it read-only: a torn tail is then reported, never cut).
    /// - Parameters:
    ///   - log: the log; its records were checked when it opened.
    ///   - verifier: the CA, CRL and certificates to check signatures with; nil checks the
    ///     structure only.
    ///   - progress: hears (entries checked, entries in all) as the signature checks go,
    ///     from any thread; nil for none.
    /// - Throws: when the tree cannot be computed from the records (a record unreadable).
    public static func run(_ log: LogStore, verifier: EnvelopeVerifier?,
                           progress: (@Sendable (_ checked: UInt64, _ total: UInt64) -> Void)? = nil) throws -> LogAudit {
        let size = log.count
        let tree = try log.merkleTree()
        let root = try tree.rootHash(treeSize: size)
        let signatures = verifier.map { checkSignatures(log, tree: tree, verifier: $0, progress: progress) }
        return LogAudit(treeSize: size, rootHash: root, signatures: signatures, tornTail: log.truncatedTail)
    }

    /// Opens the log in `directory` read-only, audits it and closes it.
    /// - Throws: `LogStoreError` when the log is damaged before its tail (the error names
    ///   the segment and offset), or when the tree cannot be computed.
    public static func run(directory: String, verifier: EnvelopeVerifier?,
                           progress: (@Sendable (_ checked: UInt64, _ total: UInt64) -> Void)? = nil) throws -> LogAudit {
        let log = try LogStore(directory: directory, readOnly: true)
        defer { log.close() }
        return try run(log, verifier: verifier, progress: progress)
    }
}
