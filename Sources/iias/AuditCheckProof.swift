import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

extension Audit {
    struct CheckProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a log proof offline: the tree head's signature, then the inclusion or consistency proof.",
            discussion: """
            Example:
              iias audit check-proof proof.json --cert PKI/centers/AZ/signing.crt

            Needs no access to the log. Check the certificate itself with `iias audit verify`
            or openssl against the CA. Exit codes: 0 valid, 1 does not verify, 2 usage or malformed file.
            """
        )

        @Argument(help: ArgumentHelp("The proof JSON from `iias log proof` or `iias log consistency`.", valueName: "proof.json"))
        var file: String

        @Option(help: ArgumentHelp("The signing certificate of the center whose log it is.", valueName: "signing.crt"))
        var cert: String

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
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
