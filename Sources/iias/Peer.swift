import ArgumentParser
import Foundation
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

/// `iias peer …`: check a peer node's TLS and session from the command line.
struct Peer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a peer node: mutual TLS 1.3, HELLO, PING round trip.",
        subcommands: [Check.self, Listen.self]
    )

    /// The TLS identity and trust options both subcommands share.
    struct TLSOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Our center's key folder holding tls.crt and tls.key, e.g. PKI/centers/AZ.", valueName: "dir"))
        var keyDir: String

        @Option(name: .long, help: ArgumentHelp("The interstate root CA certificate (PEM).", valueName: "ca.crt"))
        var ca: String

        @Option(name: .long, help: ArgumentHelp("The CA's revocation list (PEM).", valueName: "crl.pem"))
        var crl: String?

        /// Our TLS context, the trust anchor, and our own center id (from our TLS certificate).
        func load() throws -> (OpenSSLContext, TrustAnchor, String) {
            let certificateFile = (keyDir as NSString).appendingPathComponent("tls.crt")
            let keyFile = (keyDir as NSString).appendingPathComponent("tls.key")
            let trust: TrustAnchor
            do { trust = try TrustAnchor(caFile: ca, crlFile: crl) } catch {
                throw CLIFailure.usage(error.description, hint: "check --ca and --crl point at the files Scripts/pki.sh wrote")
            }
            let ownID: String
            do {
                ownID = try trust.verify(try Certificate(pemFile: certificateFile), for: .tls).rawValue
            } catch {
                throw CLIFailure.usage("our TLS certificate \(certificateFile) is not usable: \(error)", hint: "pass --key-dir PKI/centers/<ID>")
            }
            do {
                let context = try OpenSSLContext(certificateFile: certificateFile, privateKeyFile: keyFile, caFile: ca, crlFile: crl)
                return (context, trust, ownID)
            } catch {
                throw CLIFailure.usage("cannot load our TLS key: \(error)", hint: "pass --key-dir PKI/centers/<ID>")
            }
        }
    }
}
