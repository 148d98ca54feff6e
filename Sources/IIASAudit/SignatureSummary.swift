import Foundation
import IIASCrypto
import IIASModel

/// What a log's signature check found: counts, and which certificate signed what — so an
/// auditor sees that history signed with a rotated key verified with that key, and which
/// signers the CA revoked after the entries they signed (those entries pass: a revocation
/// speaks from its date on).
public struct SignatureSummary: Sendable {
    /// Tree heads whose signature, origin, size and root checked out.
    public internal(set) var treeHeads = 0
    /// Envelopes whose signature checked out with their sender's certificate at their log time.
    public internal(set) var envelopes = 0
    /// The largest tree a checked tree head signed.
    public internal(set) var newestTreeHeadSize: UInt64?
    /// Entries that failed their check, lowest index first (the first `problemsKept`), and how many in all.
    public private(set) var problems: [Problem] = []
    public private(set) var problemCount = 0
    public static let problemsKept = 1_000
    /// By certificate fingerprint.
    private var signers: [[UInt8]: Signer] = [:]

    /// One entry that failed its check: its index in the log, and why.
    public struct Problem: Sendable, Equatable {
        public var index: UInt64
        public var why: String
    }

    /// One signing certificate and the entries it signed.
    public struct Signer: Sendable {
        public var center: CenterID
        public var certificate: Certificate
        public var entries = 0
        public var first: Date
        public var last: Date
        /// The CA revoked this certificate with effect after every entry it signed here.
        public var revokedLater: RevocationList.Revocation?
    }

    mutating func noteSigner(_ certificate: Certificate, of center: CenterID, at time: Date, trust: TrustAnchor) {
        if signers[certificate.fingerprint] == nil {
            signers[certificate.fingerprint] = Signer(center: center, certificate: certificate, first: time, last: time,
                                                      revokedLater: trust.revocationList?.revocations[certificate.serialNumber])
        }
        signers[certificate.fingerprint]!.entries += 1
        signers[certificate.fingerprint]!.first = min(signers[certificate.fingerprint]!.first, time)
        signers[certificate.fingerprint]!.last = max(signers[certificate.fingerprint]!.last, time)
    }

    mutating func note(problem why: String, at index: UInt64) {
        problemCount += 1
        if problems.count < Self.problemsKept { problems.append(Problem(index: index, why: why)) }
    }

    mutating func merge(_ other: SignatureSummary) {
        problemCount += other.problemCount
        problems = Array((problems + other.problems).sorted { $0.index < $1.index }.prefix(Self.problemsKept))
        for (key, signer) in other.signers {
            guard var mine = signers[key] else { signers[key] = signer; continue }
            mine.entries += signer.entries
            mine.first = min(mine.first, signer.first)
            mine.last = max(mine.last, signer.last)
            signers[key] = mine
        }
    }

    /// One per signing certificate, by center and then first use.
    public var signersInOrder: [Signer] {
        signers.values.sorted { ($0.center.rawValue, $0.first) < ($1.center.rawValue, $1.first) }
    }
}
