import Foundation
import IIASCrypto
import IIASTestSupport
import XCTest

/// An auditor need not trust this program: the `openssl` CLI, given only the signed
/// bytes and the sender's certificate, reaches the same verdict.
final class OpenSSLInteropTests: XCTestCase {
    func testOpenSSLVerifiesTheEnvelopeSignature() throws {
        let envelope = try Samples.sealed()
        let dir = try makeTemporaryDirectory("openssl")
        let signed = dir.appendingPathComponent("e.signed").path
        let signature = dir.appendingPathComponent("e.sig").path
        try Data(envelope.signedMessage).write(to: URL(fileURLWithPath: signed))
        try Data(envelope.signature).write(to: URL(fileURLWithPath: signature))
        let cert = "\(TestPKI.shared.centerDirectory("AZ"))/signing.crt"

        let good = try openssl(["pkeyutl", "-verify", "-rawin", "-certin", "-inkey", cert, "-in", signed, "-sigfile", signature])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.contains("Signature Verified Successfully"), good.stdout)

        // The same check with another center's certificate fails.
        let otherCert = "\(TestPKI.shared.centerDirectory("GE"))/signing.crt"
        let wrongSigner = try openssl(["pkeyutl", "-verify", "-rawin", "-certin", "-inkey", otherCert, "-in", signed, "-sigfile", signature])
        XCTAssertNotEqual(wrongSigner.status, 0)

        // One flipped byte in the signed data fails too.
        var tampered = envelope.signedMessage
        tampered[tampered.count / 2] ^= 0x20
        try Data(tampered).write(to: URL(fileURLWithPath: signed))
        let bad = try openssl(["pkeyutl", "-verify", "-rawin", "-certin", "-inkey", cert, "-in", signed, "-sigfile", signature])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stdout.contains("Signature Verification Failure"), bad.stdout)
    }

    func testOpenSSLAcceptsTheCertificatesThisCodeAccepts() throws {
        let pki = TestPKI.shared
        for (center, expectOK) in [("AZ", true), ("RV", false), ("EX", false)] {
            let result = try openssl(["verify", "-CAfile", pki.caFile, "-crl_check", "-CRLfile", pki.crlFile,
                                      "\(pki.centerDirectory(center))/signing.crt"])
            let ours = (try? Samples.trust.verify(try Certificate(pemFile: "\(pki.centerDirectory(center))/signing.crt"), for: .signing)) != nil
            XCTAssertEqual(result.status == 0, expectOK, "openssl on \(center): \(result.stdout)\(result.stderr)")
            XCTAssertEqual(ours, expectOK, "IIAS on \(center)")
        }
    }

    private func openssl(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run("/usr/bin/env", ["openssl"] + arguments, timeout: 30)
    }
}
