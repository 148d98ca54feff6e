import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

extension Audit {
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
