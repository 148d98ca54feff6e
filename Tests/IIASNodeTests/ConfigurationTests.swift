import Foundation
import IIASTestSupport
@testable import IIASNode
import XCTest

/// Every class of configuration mistake stops start-up with the key at fault named.
final class ConfigurationTests: XCTestCase {
    private func write(_ object: [String: Any]) throws -> String {
        let folder = try makeTemporaryDirectory("config")
        let file = folder.appendingPathComponent("node.json")
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        return file.path
    }

    private var valid: [String: Any] {
        ["center": "AZ", "keys": TestPKI.shared.centerDirectory("AZ"), "ca": TestPKI.shared.caFile, "crl": TestPKI.shared.crlFile,
         "certificates": TestPKI.shared.centersDirectory, "listen": "127.0.0.1:7443", "peers": ["GE=127.0.0.1:7444", "UA=[::1]:7445"],
         "data": "data", "api": ["socket": "/tmp/iias-test.sock", "users": ["alice=operator", "bob=auditor"]]]
    }

    func testValidConfigurationLoadsWithDefaultsAndRelativePaths() async throws {
        let file = try write(valid)
        let configuration = try await NodeConfiguration.load(file: file, environment: [:])
        XCTAssertEqual(configuration.center.rawValue, "AZ")
        XCTAssertEqual(configuration.peers.map(\.center.rawValue), ["GE", "UA"])
        XCTAssertEqual(configuration.peers[1].address.host, "::1")
        XCTAssertEqual(configuration.users, ["alice": .operator, "bob": .auditor])
        XCTAssertEqual(configuration.dataDirectory, ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("data"))
        XCTAssertEqual(configuration.limits.window, 64)
        XCTAssertEqual(configuration.limits.maxEventBacklogBytes, 8 << 20)
        XCTAssertEqual(configuration.limits.logPreallocationBytes, 1 << 20)
        XCTAssertEqual([configuration.limits.maxPeerConnections, configuration.limits.maxPeerConnectionsPerAddress,
                        configuration.limits.maxAPIConnections], [256, 16, 256])
        XCTAssertNil(configuration.metrics)
        XCTAssertEqual(configuration.envelopeVersion, 2, "version 2 unless a peer needs version 1")
        XCTAssertNoThrow(try configuration.checkKeysAndCertificates())
    }

    func testEnvironmentOverridesTheFile() async throws {
        let file = try write(valid)
        let configuration = try await NodeConfiguration.load(file: file, environment: [
            "IIAS_LISTEN": "127.0.0.1:9000", "IIAS_PEERS": "MD=127.0.0.1:9001", "IIAS_LIMITS_WINDOW": "8", "OTHER": "x",
        ])
        XCTAssertEqual(configuration.listen.port, 9000)
        XCTAssertEqual(configuration.peers.map(\.center.rawValue), ["MD"])
        XCTAssertEqual(configuration.limits.window, 8)
        let rolling = try await NodeConfiguration.load(file: file, environment: ["IIAS_ENVELOPE_VERSION": "1"])
        XCTAssertEqual(rolling.envelopeVersion, 1)
        XCTAssertEqual(NodeConfiguration.environmentName(of: "limits.maxFrameBytes"), "IIAS_LIMITS_MAX_FRAME_BYTES")
    }

    func testEachMistakeNamesItsKey() async throws {
        let cases: [(String, Any?, String)] = [
            ("center", nil, "center"), ("center", "Azerbaijan", "center"), ("keys", "/nonexistent", "keys"),
            ("ca", "/nonexistent/ca.crt", "ca"), ("listen", "7443", "listen"), ("peers", ["GE"], "peers[0]"),
            ("peers", ["GE=host"], "peers[0]"), ("peers", ["GE=a:1", "GE=b:2"], "peers[1]"), ("peers", ["AZ=a:1"], "peers[0]"),
            ("api", ["socket": "/tmp/x.sock", "users": ["alice=admin"]], "api.users[0]"),
            ("api", ["users": []], "api.socket"),
            ("metrics", ["listen": "0.0.0.0:9464"], "metrics.listen"),
            ("limits", ["window": 0], "limits.window"), ("limits", ["maxFrameBytes": "big"], "limits.maxFrameBytes"),
            ("limits", ["maxEventBacklogBytes": 100], "limits.maxEventBacklogBytes"),
            ("limits", ["logPreallocationBytes": -1], "limits.logPreallocationBytes"),
            ("limits", ["maxPeerConnections": 0], "limits.maxPeerConnections"),
            ("limits", ["maxPeerConnections": 8, "maxPeerConnectionsPerAddress": 9], "limits.maxPeerConnectionsPerAddress"),
            ("limits", ["maxAPIConnections": 0], "limits.maxAPIConnections"),
            ("limits", ["maxAPIConnections": 8, "maxAPIConnectionsPerUser": 9], "limits.maxAPIConnectionsPerUser"),
            ("limits", ["apiRequestSeconds": 0], "limits.apiRequestSeconds"),
            ("envelopeVersion", 3, "envelopeVersion"), ("envelopeVersion", 0, "envelopeVersion"),
            ("envelopeVersion", "two", "envelopeVersion"),
        ]
        for (key, value, named) in cases {
            var object = valid
            object[key] = value
            let file = try write(object)
            do {
                _ = try await NodeConfiguration.load(file: file, environment: [:])
                XCTFail("\(key)=\(String(describing: value)) was accepted")
            } catch {
                XCTAssertEqual(error.key, named, "\(key)=\(String(describing: value)): \(error)")
                XCTAssertFalse(error.message.isEmpty)
            }
        }
    }

    func testUnreadableOrMalformedFile() async throws {
        do { _ = try await NodeConfiguration.load(file: "/nonexistent/node.json", environment: [:]); XCTFail() } catch {
            XCTAssertTrue(error.message.contains("does not exist"), error.message)
        }
        let folder = try makeTemporaryDirectory("config")
        let file = folder.appendingPathComponent("node.json").path
        try Data("{\"center\": ".utf8).write(to: URL(fileURLWithPath: file))
        do { _ = try await NodeConfiguration.load(file: file, environment: [:]); XCTFail() } catch {
            XCTAssertEqual(error.key, "(file)")
        }
    }

    func testKeyReadableByOthersIsRefused() async throws {
        let folder = try makeTemporaryDirectory("keys")
        for name in ["signing", "encryption", "tls"] {
            for ext in ["key", "crt"] {
                try FileManager.default.copyItem(atPath: "\(TestPKI.shared.centerDirectory("AZ"))/\(name).\(ext)", toPath: folder.appendingPathComponent("\(name).\(ext)").path)
            }
        }
        chmod(folder.appendingPathComponent("tls.key").path, 0o644)
        var object = valid
        object["keys"] = folder.path
        let configuration = try await NodeConfiguration.load(file: try write(object), environment: [:])
        XCTAssertThrowsError(try configuration.checkKeyPermissions()) { error in
            let problem = error as? NodeConfiguration.Problem
            XCTAssertEqual(problem?.key, "keys")
            XCTAssertTrue(problem?.message.contains("chmod 600") == true, "\(error)")
        }
    }
}
