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
        subcommands: [Verify.self, ExportSigned.self, CheckProof.self, SplitView.self, Attachments.self, Equivocation.self]
    )
}
