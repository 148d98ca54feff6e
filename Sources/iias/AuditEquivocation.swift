import ArgumentParser
import Foundation
import IIASCrypto
import IIASModel

extension Audit {
    /// `iias audit equivocation`: checks a co-recipient's equivocation evidence offline,
    /// trusting only the CA and the sender's signing certificates — not the node that found it.
    struct Equivocation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify equivocation evidence: two envelopes one sender signed under one id with different bytes.",
            discussion: """
            Example:
              iias audit equivocation DATA/evidence/equivocation/AZ-3f2a….json --ca PKI/ca.crt --certs PKI/centers

            A node keeps such a file when a co-recipient of a notification logged other
            bytes under the same (sender, id). The file proves it when both envelopes name
            one sender and one id, differ, and each carries a valid signature by a signing
            key the CA issued to that sender (no content key is needed).
            Exit codes: 0 the evidence holds, 1 it does not (altered, forged, not a
            contradiction), 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The evidence file (JSON).", valueName: "file")) var file: String
        @OptionGroup var trust: TrustOptions

        func run() async throws {
            guard trust.ca != nil, trust.certs != nil else {
                throw CLIFailure.usage("equivocation evidence is checked against the root CA and the sender's certificates",
                                       hint: "pass --ca PKI/ca.crt --certs PKI/centers")
            }
            guard let contents = FileManager.default.contents(atPath: file) else { throw CLIFailure.usage("cannot read \(file)") }
            let verifier = EnvelopeVerifier(trust: try trust.trustAnchor(), certificates: try trust.certificateDirectory())
            do {
                let evidence = try EquivocationEvidence(file: Array(contents))
                let (sender, id) = try evidence.verify(with: verifier)
                print("equivocation by \(sender): envelope \(id.uuidString.lowercased()) signed twice with different bytes "
                      + "(SHA-256 \(SHA256.hash(evidence.first).hexString.prefix(16))… and \(SHA256.hash(evidence.second).hexString.prefix(16))…)")
            } catch {
                throw CLIFailure.invalid(error.description)
            }
        }
    }
}
