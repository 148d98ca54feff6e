import ArgumentParser
import Foundation
import IIASCrypto
import IIASModel

struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify an envelope's sender, then decrypt it as one of its recipients.",
        discussion: """
        The sender's signature and certificate are checked first; nothing is decrypted
        from a sender that does not verify.

        Example:
          iias open alert.iias --key-dir PKI/centers/GE
          iias open alert.iias --key-dir PKI/centers/GE --json | jq .subject
        """
    )

    @Argument(help: ArgumentHelp("The envelope file.", valueName: "file"))
    var file: String

    @Option(name: .customLong("as"), help: ArgumentHelp("The recipient center to open as (default: the center of --key-dir).", valueName: "id"))
    var recipient: String?

    @OptionGroup var keys: KeyOptions
    @OptionGroup var trust: TrustOptions

    @Flag(help: "Print the notification as JSON.")
    var json = false

    func run() async throws {
        let centerKeys = try keys.load()
        if let recipient, recipient != centerKeys.center.rawValue {
            throw CLIFailure.usage("--as \(recipient) but the key folder belongs to \(centerKeys.center)",
                                   hint: "pass the key folder of \(recipient)")
        }
        let verifier = try trust.envelopeVerifier(fallbackDirectory: keys.keyDir)
        let bytes = try readUserFile(file, limit: Envelope.maximumEnvelopeBytes, what: "envelope")
        let envelope = try parseEnvelope(bytes, path: file)
        let notification: FormalNotification
        do {
            notification = try verifier.verify(envelope).open(as: centerKeys.center, with: centerKeys.encryptionKey)
        } catch {
            throw CLIFailure.invalid("\(file): \(error.description)")
        }
        if json {
            FileHandle.standardOutput.write(notification.encoded())
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            NotificationRendering(notification: notification, context: [("envelope sha256", envelope.sha256.hexString)]).print()
        }
    }
}
