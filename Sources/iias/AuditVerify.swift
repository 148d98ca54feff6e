import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

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

        func validate() throws {
            guard trust.ca != nil else { throw CLIFailure.usage("an audit needs the root CA", hint: "pass --ca PKI/ca.crt") }
            guard trust.certs != nil else { throw CLIFailure.usage("an audit needs the centers' certificates", hint: "pass --certs PKI/centers") }
        }

        func run() async throws {
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
}
