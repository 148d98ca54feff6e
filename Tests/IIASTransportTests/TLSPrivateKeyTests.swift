import Foundation
import IIASCrypto
import IIASTestSupport
@testable import IIASTransport
import XCTest

/// The TLS private key is read like the center's other keys: passphrase-protected
/// files open with the passphrase, a wrong one is refused naming the file, and OpenSSL
/// keeps the key in its secure heap (locked, out of core dumps), not in ordinary heap.
final class TLSPrivateKeyTests: XCTestCase {
    private static let passphrase = "tangent-orchid-5519-veil"

    /// A PKI whose center GE has passphrase-protected keys (made once for this class).
    private static let pki: URL = {
        do {
            let dir = try makeTemporaryDirectory("tls-pass")
            let passFile = dir.appendingPathComponent("pass").path
            _ = FileManager.default.createFile(atPath: passFile, contents: Data((passphrase + "\n").utf8), attributes: [.posixPermissions: 0o600])
            try TestPKI.pki("init-ca", dir.appendingPathComponent("pki").path)
            try TestPKI.pki("issue", dir.appendingPathComponent("pki").path, "GE", "--passphrase-file", passFile)
            return dir.appendingPathComponent("pki")
        } catch { fatalError("cannot make the test PKI: \(error)") }
    }()

    private func context(passphrase: String?) throws -> OpenSSLContext {
        let dir = Self.pki.appendingPathComponent("centers/GE").path
        return try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                  caFile: Self.pki.appendingPathComponent("ca.crt").path, crlFile: Self.pki.appendingPathComponent("crl.pem").path,
                                  privateKeyPassphrase: passphrase.map { Array($0.utf8) })
    }

    func testAProtectedTLSKeyLoadsIntoTheSecureHeap() throws {
        XCTAssertGreaterThan(ProcessHardening.startSecureHeap(), 0, "the secure heap could not start (RLIMIT_MEMLOCK?)")
        let before = ProcessHardening.secureHeapBytesInUse
        let context = try self.context(passphrase: Self.passphrase)
        XCTAssertGreaterThan(ProcessHardening.secureHeapBytesInUse, before, "the TLS key is not in OpenSSL's secure heap")
        withExtendedLifetime(context) {}
    }

    func testAWrongOrMissingPassphraseNamesTheKeyFileOnly() throws {
        for given in ["not the passphrase", nil] {
            XCTAssertThrowsError(try context(passphrase: given)) { error in
                guard case TLSError.privateKey(let why) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains("centers/GE/tls.key"), why)
                XCTAssertTrue(why.contains(given == nil ? "passphrase-protected" : "wrong passphrase"), why)
                XCTAssertFalse(why.contains(Self.passphrase) || why.contains("not the passphrase"), why)
            }
        }
    }

    func testATLSKeyReadableByOthersIsRefused() throws {
        let dir = try makeTemporaryDirectory("tls-mode")
        let key = dir.appendingPathComponent("tls.key").path
        try FileManager.default.copyItem(atPath: Self.pki.appendingPathComponent("centers/GE/tls.key").path, toPath: key)
        chmod(key, 0o644)
        XCTAssertThrowsError(try OpenSSLContext(certificateFile: Self.pki.appendingPathComponent("centers/GE/tls.crt").path, privateKeyFile: key,
                                                caFile: Self.pki.appendingPathComponent("ca.crt").path, crlFile: nil,
                                                privateKeyPassphrase: Array(Self.passphrase.utf8))) { error in
            XCTAssertTrue("\(error)".contains("chmod 600"), "\(error)")
        }
    }
}
