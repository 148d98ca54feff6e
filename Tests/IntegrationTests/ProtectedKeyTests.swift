import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Nodes whose private keys are passphrase-protected (`pki.sh issue --passphrase-file`):
/// the passphrase comes from a systemd credential or a file the configuration names,
/// never shows in any output, and a wrong one stops start-up with exit 2 naming the key.
final class ProtectedKeyTests: XCTestCase {
    private static let passphrase = "lantern-quorum-8842-sable"
    private static let credentialName = "iias-key-passphrase"

    /// A PKI whose AZ and GE have encrypted keys, and a passphrase file (0600).
    private struct ProtectedPKI {
        let layout: PKILayout
        let folder: URL
        var passphraseFile: String { folder.appendingPathComponent("pass").path }

        init() throws {
            folder = try makeTemporaryDirectory("protected")
            layout = PKILayout(root: folder.appendingPathComponent("pki").path)
            _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("pass").path,
                                           contents: Data((passphrase + "\n").utf8), attributes: [.posixPermissions: 0o600])
            try TestPKI.pki("init-ca", layout.root)
            for center in ["AZ", "GE"] { try TestPKI.pki("issue", layout.root, center, "--passphrase-file", passphraseFile) }
        }

        /// A systemd-style credentials folder holding `content` under the credential's name.
        func credentials(_ content: String, mode: Int = 0o400) throws -> String {
            let dir = try makeTemporaryDirectory("credentials")
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(credentialName).path,
                                           contents: Data(content.utf8), attributes: [.posixPermissions: mode])
            return dir.path
        }
    }

    /// `iias node run` to its end (a refusal), with its whole output.
    private func runNode(_ cluster: LocalCluster, _ center: String, environment: [String: String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "run", "--config", cluster.configURL(center).path],
                              environment: environment, timeout: 60)
    }

    func testNodesStartWithProtectedKeysFromACredentialAndExchange() async throws {
        let pki = try ProtectedPKI()
        let credentials = try pki.credentials(Self.passphrase + "\n")
        let cluster = try LocalCluster(["AZ", "GE"], pki: pki.layout, executable: RepositoryPaths.iiasExecutable,
                                       extra: ["keyPassphraseCredential": Self.credentialName])
        for center in ["AZ", "GE"] { try cluster.start(center, logLevel: "trace", environment: ["CREDENTIALS_DIRECTORY": credentials]) }
        // Signing, encryption and the (encrypted) TLS key all work: a notification crosses.
        let sent = try await cluster.client("AZ").submit(LocalCluster.draft(to: ["GE"], subject: "protected keys"))
        try await eventually("delivered to GE") { try await cluster.client("AZ").delivery(of: sent.id).recipients[0].state == .delivered }
        let read = try await cluster.client("GE").read(sent.id)
        XCTAssertEqual(read.notification.subject, "protected keys")
        // The process made itself non-dumpable before reading a key, and core files are off.
        let pid = try XCTUnwrap(cluster.pid("AZ"))
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let core = try XCTUnwrap(limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") })
        XCTAssertEqual(core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2), ["0", "0"], String(core))
        let output = cluster.errorOutput("AZ") + cluster.errorOutput("GE")
        XCTAssertTrue(output.contains("core dumps disabled"), output.prefix(1500).description)
        XCTAssertTrue(output.contains("OpenSSL secure heap"), output.prefix(1500).description)
        cluster.stopAll()
        XCTAssertFalse((cluster.errorOutput("AZ") + cluster.errorOutput("GE")).contains(Self.passphrase), "the passphrase is in a log line")
    }

    func testAWrongPassphraseStopsStartUpWithExit2NamingTheKeyFile() throws {
        let pki = try ProtectedPKI()
        let cluster = try LocalCluster(["AZ"], pki: pki.layout, executable: RepositoryPaths.iiasExecutable, peers: ["AZ": []],
                                       extra: ["keyPassphraseCredential": Self.credentialName])
        let wrong = "sable-quorum-0000-lantern"
        let result = try runNode(cluster, "AZ", environment: ["CREDENTIALS_DIRECTORY": try pki.credentials(wrong)])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("wrong passphrase for \(pki.layout.centerDirectory("AZ"))/signing.key"), result.stderr)
        for text in [wrong, Self.passphrase] {
            XCTAssertFalse(result.stdout.contains(text) || result.stderr.contains(text), "a passphrase is in the output")
        }
        XCTAssertFalse(result.stdout.contains("ready"), result.stdout)
    }

    func testThePassphraseFileIsCheckedLikeTheKeys() throws {
        let pki = try ProtectedPKI()
        let cluster = try LocalCluster(["AZ"], pki: pki.layout, executable: RepositoryPaths.iiasExecutable, peers: ["AZ": []],
                                       extra: ["keyPassphraseFile": pki.passphraseFile])
        // A file others can read is refused, with the fix.
        chmod(pki.passphraseFile, 0o644)
        var result = try runNode(cluster, "AZ", environment: [:])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("keyPassphraseFile") && result.stderr.contains("chmod 600 \(pki.passphraseFile)"), result.stderr)
        // 0600: check-config opens every key with it.
        chmod(pki.passphraseFile, 0o600)
        result = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "check-config", cluster.configURL("AZ").path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains(Self.passphrase) || result.stderr.contains(Self.passphrase))
        // Without any passphrase the node says which key needs one and how to give it.
        try cluster.writeConfiguration("AZ", pki: pki.layout, peers: [], users: ["\(LocalCluster.currentUser)=operator"])
        result = try runNode(cluster, "AZ", environment: [:])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("signing.key is passphrase-protected"), result.stderr)
    }

    func testACredentialOutsideSystemdOrABadNameIsAClearConfigurationError() throws {
        let pki = try ProtectedPKI()
        let cluster = try LocalCluster(["AZ"], pki: pki.layout, executable: RepositoryPaths.iiasExecutable, peers: ["AZ": []],
                                       extra: ["keyPassphraseCredential": Self.credentialName])
        let process = try ProcessRunner.run("/usr/bin/env", ["-u", "CREDENTIALS_DIRECTORY", RepositoryPaths.iiasExecutable,
                                                             "node", "run", "--config", cluster.configURL("AZ").path])
        XCTAssertEqual(process.status, 2, process.stderr)
        XCTAssertTrue(process.stderr.contains("$CREDENTIALS_DIRECTORY is not set") && process.stderr.contains("LoadCredential="), process.stderr)
        for (extra, message) in [(["keyPassphraseCredential": "../etc/passwd"], "is not a credential name"),
                                 (["keyPassphraseCredential": "x", "keyPassphraseFile": pki.passphraseFile], "not both")] {
            try cluster.writeConfiguration("AZ", pki: pki.layout, peers: [], users: ["\(LocalCluster.currentUser)=operator"], extra: extra)
            let result = try runNode(cluster, "AZ", environment: [:])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
        }
    }
}
