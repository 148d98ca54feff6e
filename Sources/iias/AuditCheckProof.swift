import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

extension Audit {
    struct CheckProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a proof offline: a C2SP tlog-proof bundle against a policy, or a JSON log proof against a certificate.",
            discussion: """
            Examples:
              iias audit check-proof ID.tlog-proof --policy policy.txt \\
                  --envelope ID.envelope
              iias audit check-proof ID.tlog-proof --policy policy.txt \\
                  --envelope ID.envelope --ca PKI/ca.crt --crl PKI/crl.pem --certs PKI/centers
              iias audit check-proof proof.json --cert PKI/centers/AZ/signing.crt

            A tlog-proof bundle (`iias outbox ID --proof CENTER`) is checked as
            C2SP tlog-proof asks: the checkpoint signed by a log the policy lists
            for its origin, cosignatures by the policy's witnesses meeting its
            quorum (a center's own witness key never counts for its own log),
            and the inclusion proof. With --envelope, the envelope's bytes must
            make the proven entry; without it, only the leaf hash the bundle
            names is proven. `Scripts/pki.sh policy DIR` writes a policy.

            The cosignatures' times bound when the entry existed: it was logged
            no later than the time by which witnesses meeting the quorum had
            all cosigned, by their own clocks, whatever the log's clock says. With --envelope, --ca, --crl and --certs
            the sender's signature is judged at that time: its certificate must
            have been valid and not revoked then (a key revoked for compromise
            counts from its invalidity date), so a notification signed before a
            key was compromised stays proven, and one the witnesses saw only
            after fails.

            Needs no access to the log. Check a certificate itself with
            `iias audit verify` or openssl against the CA.
            Exit codes: 0 valid, 1 does not verify, 2 usage or malformed file.
            """
        )

        @Argument(help: ArgumentHelp("A tlog-proof bundle (with --policy), or the proof JSON from `iias log proof` or `iias log consistency` (with --cert).", valueName: "FILE"))
        var file: String

        @Option(help: ArgumentHelp("For a proof JSON: the signing certificate of the center whose log it is.", valueName: "signing.crt"))
        var cert: String?

        @OptionGroup var tlog: TlogProofCheck

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            if tlog.policy != nil { return try tlog.check(file, json: json) }
            guard let cert else {
                throw CLIFailure.usage("name what the proof is checked against", hint: "--policy POLICY for a tlog-proof bundle, --cert signing.crt for a proof JSON")
            }
            let bytes = try readUserFile(file, limit: LogProof.maximumSize, what: "proof")
            let proof: LogProof
            do {
                proof = try JSONDecoder().decode(LogProof.self, from: Data(bytes))
            } catch {
                throw CLIFailure.usage("\(file) is not a proof document (malformed JSON or missing fields)",
                                       hint: "make one with `iias log proof` or `iias log consistency`")
            }
            let key: SigningPublicKey
            do {
                let certificate = try Certificate(pemFile: cert)
                key = try certificate.signingPublicKey()
            } catch {
                throw CLIFailure.usage("cannot use \(cert) as a signing certificate: \(error)")
            }
            let head: Checkpoint
            do {
                head = try proof.verify(publicKey: key)
            } catch let error as LogProofError {
                if case .malformed = error { throw CLIFailure.usage(error.description) }
                throw CLIFailure.invalid(error.description)
            } catch let error as CheckpointError {
                throw CLIFailure.invalid("tree head: \(error.description)")
            }
            let what = proof.kind == .inclusion
                ? "entry \(proof.leafIndex ?? 0) is in \(proof.signer)'s log of \(head.treeSize) entries"
                : "\(proof.signer)'s log of \(head.treeSize) entries extends its earlier tree unchanged"
            if json {
                let object: [String: Any] = ["valid": true, "kind": proof.kind.rawValue, "signer": proof.signer,
                                             "treeSize": head.treeSize, "rootHash": head.rootHash.hexString]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print("valid: \(what)\nroot:  \(head.rootHash.hexString)")
            }
        }
    }
}
