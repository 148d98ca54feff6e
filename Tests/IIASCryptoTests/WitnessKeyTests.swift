import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

/// The witness key: its own certificate purpose (one key, one purpose), found in a
/// certificate folder under that purpose, loaded with a center's keys when present and
/// optional for folders issued before it existed.
final class WitnessKeyTests: XCTestCase {
    let pki = TestPKI.shared

    private func cert(_ center: String, _ purpose: String) throws -> Certificate {
        try Certificate(pemFile: "\(pki.centerDirectory(center))/\(purpose).crt")
    }

    private func assertRefused(_ certificate: Certificate, _ purpose: KeyPurpose, mentioning text: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Samples.trust.verify(certificate, for: purpose), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "expected '\(text)' in: \(error)", file: file, line: line)
        }
    }

    func testTheWitnessCertificateServesWitnessingAndNothingElse() throws {
        let witness = try cert("AZ", "witness")
        XCTAssertEqual(try Samples.trust.verify(witness, for: .witness).rawValue, "AZ")
        XCTAssertTrue(witness.subject.contains("witness"), witness.subject)
        assertRefused(witness, .signing, mentioning: "digitalSignature and nonRepudiation")
        assertRefused(witness, .tls, mentioning: "serverAuth and clientAuth")
        // Neither the signing key (nonRepudiation) nor the TLS key (extendedKeyUsage) may witness.
        assertRefused(try cert("AZ", "signing"), .witness, mentioning: "digitalSignature alone")
        assertRefused(try cert("AZ", "tls"), .witness, mentioning: "digitalSignature alone")
        assertRefused(try cert("AZ", "encryption"), .witness, mentioning: "Ed25519")
        assertRefused(try cert("RV", "witness"), .witness, mentioning: "revoked")
    }

    func testACertificateFolderFilesTheWitnessCertificateUnderItsPurpose() throws {
        let folder = try CertificateDirectory(pki.centersDirectory)
        let az = try XCTUnwrap(CenterID("AZ"))
        XCTAssertEqual(folder.certificate(of: az, for: .witness)?.fingerprint, try cert("AZ", "witness").fingerprint)
        XCTAssertEqual(folder.certificate(of: az, for: .signing)?.fingerprint, try cert("AZ", "signing").fingerprint)
        XCTAssertEqual(folder.certificates(of: az, for: .signing).count, 1, "the witness certificate is not taken for a signing one")
    }

    func testCenterKeysLoadTheWitnessPairWhenPresent() throws {
        let keys = try CenterKeys(directory: pki.centerDirectory("AZ"))
        let key = try XCTUnwrap(keys.witnessKey)
        XCTAssertEqual(try keys.witnessCertificate?.signingPublicKey(), key.publicKey)
        XCTAssertNotEqual(key.publicKey, keys.signingKey.publicKey)
        XCTAssertNoThrow(try keys.verify(with: Samples.trust))
        XCTAssertTrue(CenterKeys.hasWitnessKey(in: pki.centerDirectory("AZ")))
    }

    /// A copy of AZ's key folder with its witness files changed by `change`.
    private func azFolder(_ label: String, _ change: (URL) throws -> Void) throws -> String {
        let folder = try makeTemporaryDirectory(label).appendingPathComponent("AZ")
        try FileManager.default.copyItem(atPath: pki.centerDirectory("AZ"), toPath: folder.path)
        try change(folder)
        return folder.path
    }

    func testAFolderWithoutAWitnessKeyStillLoads() throws {
        let older = try azFolder("no-witness") { folder in
            for name in ["witness.key", "witness.crt"] { try FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        }
        let keys = try CenterKeys(directory: older)
        XCTAssertNil(keys.witnessKey)
        XCTAssertNil(keys.witnessCertificate)
        XCTAssertFalse(CenterKeys.hasWitnessKey(in: older))
        XCTAssertNoThrow(try keys.verify(with: Samples.trust))
    }

    func testHalfAWitnessPairOrAnotherCentersIsRefused() throws {
        let keyOnly = try azFolder("witness-key-only") { try FileManager.default.removeItem(at: $0.appendingPathComponent("witness.crt")) }
        XCTAssertThrowsError(try CenterKeys(directory: keyOnly)) { XCTAssertTrue("\($0)".contains("has no partner"), "\($0)") }
        let certificateOnly = try azFolder("witness-crt-only") { try FileManager.default.removeItem(at: $0.appendingPathComponent("witness.key")) }
        XCTAssertThrowsError(try CenterKeys(directory: certificateOnly)) { XCTAssertTrue("\($0)".contains("witness.key"), "\($0)") }
        let wrongKey = try azFolder("witness-wrong-key") { folder in
            try FileManager.default.removeItem(at: folder.appendingPathComponent("witness.key"))
            try FileManager.default.copyItem(atPath: "\(self.pki.centerDirectory("UA"))/witness.key", toPath: folder.appendingPathComponent("witness.key").path)
        }
        XCTAssertThrowsError(try CenterKeys(directory: wrongKey)) { XCTAssertTrue("\($0)".contains("does not match"), "\($0)") }
        let otherCenter = try azFolder("witness-other-center") { folder in
            for name in ["witness.key", "witness.crt"] {
                try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
                try FileManager.default.copyItem(atPath: "\(self.pki.centerDirectory("UA"))/\(name)", toPath: folder.appendingPathComponent(name).path)
            }
        }
        XCTAssertThrowsError(try CenterKeys(directory: otherCenter)) { XCTAssertTrue("\($0)".contains("another center"), "\($0)") }
        let readable = try azFolder("witness-readable") { chmod($0.appendingPathComponent("witness.key").path, 0o644) }
        XCTAssertThrowsError(try CenterKeys(directory: readable)) { XCTAssertTrue("\($0)".contains("readable by others"), "\($0)") }
    }
}
