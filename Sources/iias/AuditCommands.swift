import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check envelopes as an auditor: who signed what, for whom, when.",
        discussion: """
        An auditor needs no private key: the root CA, the CRL and the centers' certificates
        are enough. `export-signed` writes the exact signed bytes so that openssl alone
        can check a signature, without trusting this program.
        """,
        subcommands: [Verify.self, ExportSigned.self, CheckProof.self]
    )
}

extension Audit {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify an envelope's signature and its sender's certificate chain.",
            discussion: """
            Example:
              iias audit verify alert.iias --ca PKI/ca.crt --crl PKI/crl.pem --certs PKI/centers

            Exit codes: 0 valid, 1 invalid (the reason is printed), 2 usage or I/O error.
            """
        )

        @Argument(help: ArgumentHelp("The envelope file.", valueName: "file"))
        var file: String

        @OptionGroup var trust: TrustOptions

        @Flag(help: "Check the sender's certificate as of the envelope's creation time instead of now (for old envelopes).")
        var atSigningTime = false

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            guard trust.ca != nil else { throw CLIFailure.usage("an audit needs the root CA", hint: "pass --ca PKI/ca.crt") }
            guard trust.certs != nil else { throw CLIFailure.usage("an audit needs the centers' certificates", hint: "pass --certs PKI/centers") }
            let verifier = EnvelopeVerifier(trust: try trust.trustAnchor(), certificates: try trust.certificateDirectory())
            let bytes = try readUserFile(file, limit: Envelope.maximumEnvelopeBytes, what: "envelope")
            let envelope: Envelope
            let verified: VerifiedEnvelope
            do {
                envelope = try Envelope(parsing: bytes)
                verified = try verifier.verify(envelope, atSigningTime: atSigningTime)
            } catch {
                if json {
                    Terminal.printJSON(["valid": false, "file": file, "error": error.description])
                } else {
                    print(Terminal.red("INVALID") + "  \(file)")
                    print("  \(error.description)")
                }
                throw ExitCode(CLIFailure.invalidCode)
            }
            report(verified)
        }

        private func report(_ verified: VerifiedEnvelope) {
            let envelope = verified.envelope
            let header = envelope.header
            let signer = verified.senderCertificate
            var result: [String: Any] = [
                "valid": true,
                "file": file,
                "id": header.id.uuidString.lowercased(),
                "kind": header.kind.rawValue,
                "version": Int(envelope.version),
                "sender": header.sender.rawValue,
                "recipients": header.recipients.map(\.rawValue),
                "created": ISO8601DateFormatter.iias.string(from: header.created),
                "sha256": envelope.sha256.hexString,
                "bytes": envelope.bytes.count,
                "signer": [
                    "subject": signer.subject,
                    "serial": signer.serialNumber,
                    "sha256Fingerprint": signer.fingerprint.hexString,
                    "notAfter": ISO8601DateFormatter.iias.string(from: signer.notAfter),
                ],
            ]
            if let ephemeral = header.ephemeral { result["ephemeralKey"] = ephemeral.hexString }
            if let receipt = header.receipt { result["receipt"] = Self.describe(receipt) }
            if let batch = header.receiptBatch { result["receipts"] = batch.map(Self.describe) }
            if json {
                Terminal.printJSON(result)
                return
            }
            print(Terminal.green("VALID") + "  \(file)")
            var rows: [(String, String)] = [
                ("kind", header.kind.rawValue),
                ("version", header.ephemeral.map { "\(envelope.version), keys wrapped under ephemeral \($0.hexString.prefix(16))…" }
                    ?? "\(envelope.version), sealed boxes"),
                ("envelope id", header.id.uuidString.lowercased()),
                ("sender", Terminal.bold(header.sender.rawValue)),
                ("recipients", header.recipients.map(\.rawValue).joined(separator: ", ")),
                ("created", ISO8601DateFormatter.iias.string(from: header.created)),
                ("sha256", envelope.sha256.hexString),
                ("signed by", "\(signer.subject) (serial \(signer.serialNumber))"),
                ("cert sha256", signer.fingerprint.hexString),
            ]
            if let receipt = header.receipt {
                rows.append(("receipt for", receipt.envelopeID.uuidString.lowercased()))
                rows.append(("outcome", receipt.outcome.rawValue + (receipt.reason.map { " (\($0.rawValue))" } ?? "")))
                if let index = receipt.logIndex { rows.append(("log index", String(index))) }
            }
            if let batch = header.receiptBatch {
                rows.append(("receipts", "\(Plural.count(batch.count, "envelope")) delivered (one signature)"))
                for receipt in batch {
                    rows.append(("", "\(receipt.envelopeID.uuidString.lowercased()) at log index \(receipt.logIndex.map(String.init) ?? "?")"))
                }
            }
            Terminal.printFields(rows)
        }

        /// One receipt as `--json` shows it.
        static func describe(_ receipt: Receipt) -> [String: Any] {
            var r: [String: Any] = [
                "envelope": receipt.envelopeID.uuidString.lowercased(),
                "envelopeSHA256": receipt.envelopeSHA256.hexString,
                "outcome": receipt.outcome.rawValue,
            ]
            if let index = receipt.logIndex { r["logIndex"] = index }
            if let reason = receipt.reason { r["reason"] = reason.rawValue }
            if let detail = receipt.detail { r["detail"] = detail }
            return r
        }
    }

    struct ExportSigned: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-signed",
            abstract: "Write an envelope's signed bytes and signature, for checking with openssl alone.",
            discussion: """
            Writes FILE.signed (the context string "IIAS-envelope-v1\\0" followed by every byte
            before the signature) and FILE.sig (the 64-byte Ed25519 signature). Then:

              openssl pkeyutl -verify -rawin -certin -inkey PKI/centers/AZ/signing.crt \\
                  -in FILE.signed -sigfile FILE.sig
            """
        )

        @Argument(help: ArgumentHelp("The envelope file.", valueName: "file"))
        var file: String

        @Option(help: ArgumentHelp("Folder to write into (default: next to the envelope).", valueName: "dir"))
        var outDir: String?

        @Flag(help: "Print the written paths as JSON.")
        var json = false

        func run() async throws {
            let bytes = try readUserFile(file, limit: Envelope.maximumEnvelopeBytes, what: "envelope")
            let envelope = try parseEnvelope(bytes, path: file)
            let base = outDir.map { ($0 as NSString).appendingPathComponent((file as NSString).lastPathComponent) } ?? file
            let signedPath = base + ".signed"
            let signaturePath = base + ".sig"
            try writeUserFile(signedPath, envelope.signedMessage)
            try writeUserFile(signaturePath, Array(envelope.signature))
            if json {
                Terminal.printJSON(["signed": signedPath, "signature": signaturePath,
                                    "sender": envelope.header.sender.rawValue])
                return
            }
            print("wrote \(signedPath) (\(envelope.signedMessage.count) bytes) and \(signaturePath) (64 bytes)")
            print("verify with the sender's (\(envelope.header.sender)) signing certificate:")
            print("  openssl pkeyutl -verify -rawin -certin -inkey <centers/\(envelope.header.sender)/signing.crt> -in \(signedPath) -sigfile \(signaturePath)")
        }
    }
}

extension ISO8601DateFormatter {
    /// RFC 3339 with milliseconds, UTC: the form every IIAS output uses.
    nonisolated(unsafe) static let iias: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}

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
