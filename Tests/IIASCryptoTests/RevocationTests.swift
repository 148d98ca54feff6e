import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

/// RFC 5280 semantics of the CRL, against CRLs made by `Scripts/pki.sh` (openssl): a CRL
/// issued after a time is the evidence about that time, a revocation counts from its date
/// on, and a CRL that is not the CA's is refused whole.
final class RevocationTests: XCTestCase {

    /// Waits (on the clock, with a deadline) until `date` has passed by more than a second:
    /// certificate and CRL times are whole seconds.
    private func waitUntilPast(_ date: Date) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date().timeIntervalSince(date) <= 1.2 {
            guard Date() < deadline else { throw TestFailure("the clock did not pass \(date)") }
            usleep(50_000)
        }
    }

    func testATimeBeforeTheCRLWasIssuedVerifiesAgainstIt() throws {
        let pki = try TestPKI.shared.privateCopy("revocation-pki")
        let certificate = try Certificate(pemFile: pki.centerDirectory("AZ") + "/signing.crt")
        try waitUntilPast(certificate.notBefore)
        try TestPKI.pki("crl", pki.root)
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let crl = try XCTUnwrap(trust.revocationList)
        let before = crl.thisUpdate.addingTimeInterval(-1)
        XCTAssertGreaterThan(before, certificate.notBefore)
        XCTAssertEqual(try trust.verify(certificate, for: .signing, at: before).rawValue, "AZ",
                       "a CRL issued later speaks about an earlier time (OpenSSL alone says 'CRL is not yet valid')")
        XCTAssertNoThrow(try trust.verify(certificate, for: .signing, at: Date()))
        // Past the CRL's nextUpdate it says nothing: refused, not assumed.
        if let next = crl.nextUpdate {
            XCTAssertThrowsError(try trust.verify(certificate, for: .signing, at: next.addingTimeInterval(60))) { error in
                XCTAssertTrue("\(error)".contains("says nothing about"), "\(error)")
            }
        }
    }

    func testARevocationCountsFromItsDateOnNeverBefore() throws {
        let pki = try TestPKI.shared.privateCopy("revocation-pki")
        try TestPKI.pki("issue", pki.root, "RT")
        let certificate = try Certificate(pemFile: pki.centerDirectory("RT") + "/signing.crt")
        try waitUntilPast(certificate.notBefore)
        try TestPKI.pki("revoke", pki.root, "RT")
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let revocation = try XCTUnwrap(trust.revocationList?.revocations[certificate.serialNumber], "RT is listed")
        XCTAssertGreaterThanOrEqual(revocation.effective, certificate.notBefore.addingTimeInterval(1))
        let before = revocation.effective.addingTimeInterval(-1)
        XCTAssertEqual(try trust.verify(certificate, for: .signing, at: before).rawValue, "RT", "good before its revocation")
        for time in [revocation.effective, Date()] {
            XCTAssertThrowsError(try trust.verify(certificate, for: .signing, at: time)) { error in
                XCTAssertTrue("\(error)".contains("revoked"), "\(error)")
            }
        }
        // What was verified when it was logged is only checked for its issuer when read back.
        XCTAssertNoThrow(try trust.verifyIssued(certificate, for: .signing, of: CenterID(rawValue: "RT")!))
        let foreign = try Certificate(pemFile: TestPKI.shared.foreignCenterDirectory("AZ") + "/signing.crt")
        XCTAssertThrowsError(try trust.verifyIssued(foreign, for: .signing, of: CenterID(rawValue: "AZ")!), "another CA's AZ is not ours")
    }

    func testACRLThatIsNotTheCAsIsRefusedWhole() throws {
        let pki = TestPKI.shared
        // Another CA's CRL.
        XCTAssertThrowsError(try TrustAnchor(caFile: pki.caFile, crlFile: pki.foreignRoot.appendingPathComponent("crl.pem").path)) { error in
            XCTAssertTrue("\(error)".contains("not a CRL signed by the root CA"), "\(error)")
        }
        let folder = try makeTemporaryDirectory("bad-crl")
        // The CA's CRL with one byte of its signature flipped.
        let pem = try String(contentsOfFile: pki.crlFile, encoding: .utf8)
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var der = try XCTUnwrap(Data(base64Encoded: base64))
        der[der.count - 3] ^= 0x01
        let broken = "-----BEGIN X509 CRL-----\n" + der.base64EncodedString(options: .lineLength64Characters) + "\n-----END X509 CRL-----\n"
        let brokenFile = folder.appendingPathComponent("broken.pem")
        try broken.write(to: brokenFile, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrustAnchor(caFile: pki.caFile, crlFile: brokenFile.path)) { error in
            XCTAssertTrue("\(error)".contains("not a CRL signed by the root CA"), "\(error)")
        }
        // Garbage, truncation, and a certificate where a CRL belongs.
        let cases = ["garbage.pem": "not a CRL at all\n", "truncated.pem": String(pem.prefix(pem.count / 2)),
                     "certificate.pem": try String(contentsOfFile: pki.caFile, encoding: .utf8)]
        for (name, text) in cases {
            let file = folder.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try TrustAnchor(caFile: pki.caFile, crlFile: file.path), name) { error in
                XCTAssertTrue("\(error)".contains("is not a PEM CRL"), "\(name): \(error)")
            }
        }
    }
}

/// The certificates folder as a whole: one key, one purpose, one center.
final class CertificateFolderTests: XCTestCase {
    /// The CA (by mistake or compromise) certified AZ's signing key a second time, for
    /// another center: the folder is refused naming both files, since either certificate
    /// could otherwise speak for the other's envelopes.
    func testOneKeyCertifiedForTwoCentersIsRefused() throws {
        let pki = TestPKI.shared
        let folder = try makeTemporaryDirectory("duplicate-key")
        let certs = folder.appendingPathComponent("centers")
        try FileManager.default.copyItem(atPath: pki.centersDirectory, toPath: certs.path)
        XCTAssertNoThrow(try CertificateDirectory(certs.path), "the folder as pki.sh made it loads")
        let work = folder.path
        let script = """
        set -e
        openssl x509 -in '\(pki.centerDirectory("AZ"))/signing.crt' -pubkey -noout > '\(work)/pub.pem'
        openssl req -new -key '\(pki.centerDirectory("GE"))/signing.key' -subj '/O=IIAS/OU=signing/CN=XX' -out '\(work)/req.csr'
        printf '[e]\\nbasicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:iias:center:XX\\n' > '\(work)/ext.cnf'
        mkdir -p '\(certs.path)/XX'
        openssl x509 -req -in '\(work)/req.csr' -CA '\(pki.caFile)' -CAkey '\(pki.root.path)/ca/ca.key' -force_pubkey '\(work)/pub.pem' \
            -extfile '\(work)/ext.cnf' -extensions e -days 30 -out '\(certs.path)/XX/signing.crt'
        """
        let made = try ProcessRunner.run("/bin/bash", ["-c", script], timeout: 60)
        XCTAssertEqual(made.status, 0, made.stderr)
        let twin = try Certificate(pemFile: certs.path + "/XX/signing.crt")
        XCTAssertEqual(twin.publicKeyIdentity, try Certificate(pemFile: pki.centerDirectory("AZ") + "/signing.crt").publicKeyIdentity)
        XCTAssertThrowsError(try CertificateDirectory(certs.path)) { error in
            XCTAssertTrue("\(error)".contains("certifies the same public key"), "\(error)")
        }
    }
}
