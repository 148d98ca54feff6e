import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

final class CertificateTests: XCTestCase {
    let pki = TestPKI.shared

    func cert(_ center: String, _ purpose: String, foreign: Bool = false) throws -> Certificate {
        let dir = foreign ? pki.foreignCenterDirectory(center) : pki.centerDirectory(center)
        return try Certificate(pemFile: "\(dir)/\(purpose).crt")
    }

    func testAValidCenterVerifiesForEachPurposeAndNamesItsCenter() throws {
        for purpose in KeyPurpose.allCases {
            let certificate = try cert("AZ", purpose.rawValue)
            XCTAssertEqual(try Samples.trust.verify(certificate, for: purpose).rawValue, "AZ")
            XCTAssertEqual(certificate.centerID?.rawValue, "AZ")
        }
    }

    func testACertificateFromAnotherCAIsRefused() throws {
        let foreign = try cert("AZ", "signing", foreign: true)
        XCTAssertEqual(foreign.centerID?.rawValue, "AZ", "it claims to be AZ")
        assertRefused(foreign, .signing, mentioning: "not issued by this root CA")
    }

    func testAnExpiredCertificateIsRefused() throws {
        assertRefused(try cert("EX", "signing"), .signing, mentioning: "expired")
    }

    func testValidityIsJudgedAtTheGivenTime() throws {
        // A certificate valid today is refused at a time after its notAfter and before its
        // notBefore: the `at:` time, not the wall clock, is what decides.
        let certificate = try cert("AZ", "signing")
        let trust = try TrustAnchor(caFile: pki.caFile)
        XCTAssertEqual(try trust.verify(certificate, for: .signing).rawValue, "AZ")
        for (time, word) in [(certificate.notAfter.addingTimeInterval(86_400), "expired"),
                             (certificate.notBefore.addingTimeInterval(-86_400), "not yet valid")] {
            XCTAssertThrowsError(try trust.verify(certificate, for: .signing, at: time)) { error in
                XCTAssertTrue("\(error)".contains(word), "expected '\(word)' in: \(error)")
            }
        }
    }

    func testARevokedCertificateIsRefused() throws {
        assertRefused(try cert("RV", "signing"), .signing, mentioning: "revoked")
        assertRefused(try cert("RV", "encryption"), .encryption, mentioning: "revoked")
        // Without the CRL the same certificate passes: revocation is what refused it.
        let withoutCRL = try TrustAnchor(caFile: pki.caFile)
        XCTAssertNoThrow(try withoutCRL.verify(try cert("RV", "signing"), for: .signing))
    }

    func testTheWrongKeyUsageIsRefused() throws {
        // A TLS certificate (Ed25519, digitalSignature only) may not sign envelopes.
        assertRefused(try cert("AZ", "tls"), .signing, mentioning: "wrong key usage")
        // A signing certificate may not be sealed to.
        assertRefused(try cert("AZ", "signing"), .encryption, mentioning: "X25519")
        // An encryption certificate may not serve TLS.
        assertRefused(try cert("AZ", "encryption"), .tls, mentioning: "Ed25519 or P-256")
    }

    func testTheRootItselfIsNotACenter() throws {
        let root = try Certificate(pemFile: pki.caFile)
        XCTAssertTrue(root.isCA)
        assertRefused(root, .signing, mentioning: "CA certificate")
    }

    func testAWrongCenterIsRefused() throws {
        XCTAssertThrowsError(try Samples.trust.verify(try cert("GE", "signing"), for: .signing, of: CenterID("AZ")!)) { error in
            XCTAssertTrue("\(error)".contains("belongs to center GE, not AZ"), "\(error)")
        }
    }

    func testAnEnvelopeFromARevokedSenderIsRefused() throws {
        let envelope = try Samples.sealed(from: "RV", to: ["GE"])
        XCTAssertThrowsError(try Samples.verifier.verify(envelope)) { error in
            guard case EnvelopeError.untrustedSender(let why) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(why.contains("revoked"), why)
        }
    }

    func testAnEnvelopeFromAnUnknownCenterIsRefused() throws {
        let envelope = try Samples.sealed(from: "GE", to: ["AZ"])
        let empty = try makeTemporaryDirectory("no-certs")
        let verifier = EnvelopeVerifier(trust: Samples.trust, certificates: try CertificateDirectory(empty.path))
        XCTAssertThrowsError(try verifier.verify(envelope)) { error in
            guard case EnvelopeError.unknownSender(let id) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(id.rawValue, "GE")
        }
    }

    func testGarbageCertificateAndKeyFilesAreRefusedClearly() throws {
        let dir = try makeTemporaryDirectory("garbage")
        let path = dir.appendingPathComponent("x.crt").path
        FileManager.default.createFile(atPath: path, contents: Data("-----BEGIN CERTIFICATE-----\nAAAA\n".utf8))
        XCTAssertThrowsError(try Certificate(pemFile: path)) { XCTAssertTrue("\($0)".contains("not a PEM certificate"), "\($0)") }
        XCTAssertThrowsError(try Certificate(pemFile: dir.appendingPathComponent("missing.crt").path)) {
            XCTAssertTrue("\($0)".contains("cannot read"), "\($0)")
        }
        let key = dir.appendingPathComponent("x.key").path
        FileManager.default.createFile(atPath: key, contents: Data("garbage".utf8), attributes: [.posixPermissions: 0o600])
        XCTAssertThrowsError(try PrivateKeyFile.loadSigningKey(key)) { XCTAssertTrue("\($0)".contains("not a PKCS#8"), "\($0)") }
    }

    func testAKeyReadableByOthersIsRefused() throws {
        let dir = try makeTemporaryDirectory("perm")
        let copy = dir.appendingPathComponent("signing.key").path
        try FileManager.default.copyItem(atPath: "\(pki.centerDirectory("AZ"))/signing.key", toPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy)
        XCTAssertThrowsError(try PrivateKeyFile.loadSigningKey(copy)) { error in
            XCTAssertTrue("\(error)".contains("chmod 600"), "\(error)")
        }
    }

    func testAKeyOfTheWrongTypeIsRefused() throws {
        XCTAssertThrowsError(try PrivateKeyFile.loadSigningKey("\(pki.centerDirectory("AZ"))/encryption.key")) { error in
            XCTAssertTrue("\(error)".contains("not an Ed25519 signing key"), "\(error)")
        }
    }

    func testPassphraseProtectedKeysNeedTheRightPassphrase() throws {
        let dir = try makeTemporaryDirectory("pass")
        let passFile = dir.appendingPathComponent("pass").path
        try Data("correct horse battery staple\n".utf8).write(to: URL(fileURLWithPath: passFile))
        try TestPKI.pki("init-ca", dir.appendingPathComponent("pki").path)
        try TestPKI.pki("issue", dir.appendingPathComponent("pki").path, "GE", "--passphrase-file", passFile)
        let keyDir = dir.appendingPathComponent("pki/centers/GE").path
        XCTAssertThrowsError(try CenterKeys(directory: keyDir)) { XCTAssertTrue("\($0)".contains("passphrase-protected"), "\($0)") }
        XCTAssertThrowsError(try CenterKeys(directory: keyDir, passphrase: Array("wrong".utf8))) {
            XCTAssertTrue("\($0)".contains("wrong passphrase"), "\($0)")
        }
        let keys = try CenterKeys(directory: keyDir, passphrase: Array("correct horse battery staple".utf8))
        XCTAssertEqual(keys.center.rawValue, "GE")
    }

    private func assertRefused(_ certificate: Certificate, _ purpose: KeyPurpose, mentioning text: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Samples.trust.verify(certificate, for: purpose), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "expected '\(text)' in: \(error)", file: file, line: line)
        }
    }
}
