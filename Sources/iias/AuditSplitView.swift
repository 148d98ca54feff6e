import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

extension Audit {
    /// `iias audit split-view`: checks a witness's split-view evidence offline, trusting
    /// only the CA and the log's signing certificates — not the witness that found it.
    struct SplitView: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "split-view",
            abstract: "Verify split-view evidence: two checkpoints one log signed that cannot both be true.",
            discussion: """
            Example:
              iias audit split-view DATA/evidence/iias-center-AZ-log-12-….json --ca PKI/ca.crt --certs PKI/centers

            A witness keeps such a file when a peer's log shows it a tree that contradicts
            one it cosigned. Both notes must be checkpoints of the same origin
            (iias:center:ID/log), each signed by a signing key of that center whose
            certificate the CA issued, and either of one size with different roots (that
            settles it) or of two sizes with the consistency proof the log gave not showing
            the smaller tree a prefix of the larger (a log that forked cannot make one that
            verifies; one that did not can refute the file with
            `iias log consistency DATA/log --from M --to N`).
            Exit codes: 0 the evidence holds, 1 it does not (altered, forged, not a
            contradiction), 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The evidence file (JSON).", valueName: "file")) var file: String
        @OptionGroup var trust: TrustOptions

        func run() async throws {
            guard let bytes = FileManager.default.contents(atPath: file) else { throw CLIFailure.usage("cannot read \(file)") }
            guard trust.ca != nil, trust.certs != nil else {
                throw CLIFailure.usage("checking evidence needs the root CA and the centers' certificates", hint: "pass --ca PKI/ca.crt --certs PKI/centers")
            }
            let anchor = try trust.trustAnchor(), certificates = try trust.certificateDirectory()
            do {
                let evidence = try SplitViewEvidence(file: Array(bytes))
                let origin = evidence.origin ?? ""
                let prefix = "iias:center:", suffix = "/log"
                guard origin.hasPrefix(prefix), origin.hasSuffix(suffix),
                      let center = CenterID(String(origin.dropFirst(prefix.count).dropLast(suffix.count))) else {
                    throw CLIFailure.invalid("the origin \(origin.prefix(80)) is not a center's log")
                }
                // Issued by the CA for that center's signing, whatever happened to it since:
                // a key revoked later does not unsign what it signed.
                let keys = certificates.certificates(of: center, for: .signing).compactMap { certificate -> SigningPublicKey? in
                    guard (try? anchor.verifyIssued(certificate, for: .signing, of: center)) != nil else { return nil }
                    return try? certificate.signingPublicKey()
                }
                guard !keys.isEmpty else { throw CLIFailure.invalid("no signing certificate of \(center) issued by the CA in --certs") }
                let (stored, received, kind) = try evidence.verify(logKeys: keys)
                let roots = "\(Data(stored.rootHash).base64EncodedString()) and \(Data(received.rootHash).base64EncodedString())"
                switch kind {
                case .sameSize:
                    print("split view of \(origin) at size \(stored.treeSize): roots \(roots), both signed by \(center)'s log key")
                case .notConsistent:
                    print("split view of \(origin): sizes \(stored.treeSize) and \(received.treeSize) (roots \(roots)), both signed by "
                          + "\(center)'s log key, and the consistency proof \(center) gave between them does not verify")
                }
            } catch let error as SplitViewError {
                throw CLIFailure.invalid(error.description)
            }
        }
    }
}
