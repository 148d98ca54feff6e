import Foundation
import IIASTestSupport
@testable import IIASAPI
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
        XCTAssertEqual(configuration.limits.sentAttachmentRetentionDays, 30)
        XCTAssertEqual([configuration.limits.maxPeerConnections, configuration.limits.maxPeerConnectionsPerAddress,
                        configuration.limits.maxAPIConnections], [256, 16, 256])
        XCTAssertNil(configuration.metrics)
        XCTAssertEqual(configuration.envelopeVersion, 3, "version 3 unless a peer needs an older one")
        XCTAssertEqual(configuration.witness.quorum, 2, "a majority of two peers")
        XCTAssertTrue(configuration.witness.enabled)
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
            ("limits", ["sentAttachmentRetentionDays": -1], "limits.sentAttachmentRetentionDays"),
            ("limits", ["sentAttachmentRetentionDays": 1.5], "limits.sentAttachmentRetentionDays"),
            ("envelopeVersion", 4, "envelopeVersion"), ("envelopeVersion", 0, "envelopeVersion"),
            ("envelopeVersion", "two", "envelopeVersion"),
            ("witness", ["quorum": 3], "witness.quorum"), ("witness", ["quorum": 0], "witness.quorum"), ("witness", ["enabled": "yes"], "witness.enabled"),
            ("witness", ["proofWaitSeconds": 0], "witness.proofWaitSeconds"), ("witness", ["proofWaitSeconds": "soon"], "witness.proofWaitSeconds"),
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

    private func problem(loading file: String) async -> NodeConfiguration.Problem? {
        do { _ = try await NodeConfiguration.load(file: file, environment: [:]); return nil } catch { return error }
    }

    func testAnUnknownKeyIsAnErrorNamingTheNearestKnownOne() async throws {
        let cases: [(String, Any, String, String?)] = [
            ("peer", ["GE=127.0.0.1:7444"], "peer", "peers"), ("crls", "x", "crls", "crl"), ("envelopeVersoin", 2, "envelopeVersoin", "envelopeVersion"),
            ("api", ["socket": "/tmp/x.sock", "user": ["alice=operator"]], "api.user", "api.users"),
            ("limits", ["windw": 8], "limits.windw", "limits.window"), ("metrics", ["listne": "127.0.0.1:9464"], "metrics.listne", "metrics.listen"),
            ("colour", "blue", "colour", nil), ("witness", ["quorom": 2], "witness.quorom", "witness.quorum"),
        ]
        for (key, value, named, nearest) in cases {
            var object = valid
            object[key] = value
            let found = await problem(loading: try write(object))
            XCTAssertEqual(found?.key, named, "\(key): \(String(describing: found))")
            if let nearest {
                XCTAssertTrue(found?.message.contains("did you mean \"\(nearest)\"") == true, "\(String(describing: found))")
            } else {
                XCTAssertEqual(found?.message.contains("did you mean"), false, "\(String(describing: found))")
            }
        }
        var object = valid
        object["api"] = "/tmp/x.sock"
        let section = await problem(loading: try write(object))
        XCTAssertEqual(section?.key, "api")
        XCTAssertTrue(section?.message.contains("expected an object") == true)
        XCTAssertEqual(NodeConfiguration.editDistance("peer", "peers"), 1)
        XCTAssertEqual(NodeConfiguration.editDistance("", "abc"), 3)
        XCTAssertEqual(NodeConfiguration.editDistance("kitten", "sitting"), 3)
    }

    func testGarbageJSONIsPlacedByLineAndColumn() async throws {
        let folder = try makeTemporaryDirectory("config")
        let file = folder.appendingPathComponent("node.json").path
        for (text, place) in [("{\n  \"center\": \"AZ\",\n  \"keys\" \"x\"\n}\n", "at line 3, column 10"), ("{\"center\": \"AZ\",\n", "at line 2, column 1"),
                              ("[1, 2]", "must hold one JSON object")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            let found = await problem(loading: file)
            XCTAssertEqual(found?.key, "(file)")
            XCTAssertTrue(found?.message.contains(place) == true, "\(place) not in \(String(describing: found))")
            XCTAssertEqual(found?.message.contains("NSCocoaErrorDomain"), false)
        }
        try Data("{\"center\": \"AZ\", \"center\": \"GE\"}".utf8).write(to: URL(fileURLWithPath: file))
        let twice = await problem(loading: file)
        XCTAssertEqual(twice?.key, "center")
        XCTAssertTrue(twice?.message.contains("more than once") == true, "\(String(describing: twice))")
    }

    func testACRLIsRequiredUnlessNoneIsWrittenDeliberately() async throws {
        var object = valid
        object["crl"] = nil
        let missing = await problem(loading: try write(object))
        XCTAssertEqual(missing?.key, "crl")
        XCTAssertTrue(missing?.message.contains("\"crl\": \"none\"") == true, "\(String(describing: missing))")
        object["crl"] = "none"
        let off = try await NodeConfiguration.load(file: try write(object), environment: [:])
        XCTAssertNil(off.crlFile)
        object["crl"] = "/nonexistent/crl.pem"
        let absent = await problem(loading: try write(object))
        XCTAssertEqual(absent?.key, "crl")
    }

    func testTheMachineIsCheckedForWhatRunNeeds() async throws {
        let folder = try makeTemporaryDirectory("preflight")
        let port = try LocalCluster.freePort()
        func check(_ change: (inout [String: Any]) -> Void) async throws -> NodeConfiguration.Problem? {
            var object = valid
            object["api"] = ["socket": folder.appendingPathComponent("api.sock").path, "users": ["alice=operator"]]
            object["listen"] = "127.0.0.1:\(port)"
            change(&object)
            let configuration = try await NodeConfiguration.load(file: try write(object), environment: [:])
            do { try configuration.checkEnvironment(probePorts: true); return nil } catch { return error }
        }
        let fine = try await check { _ in }
        XCTAssertNil(fine, "a configuration the machine can run")
        let group = try await check { $0["api"] = ["socket": folder.appendingPathComponent("api.sock").path, "group": "no-such-group-iias", "users": []] }
        XCTAssertEqual(group?.key, "api.group")
        let noFolder = try await check { $0["api"] = ["socket": folder.appendingPathComponent("missing/api.sock").path, "users": []] }
        XCTAssertEqual(noFolder?.key, "api.socket")
        XCTAssertTrue(noFolder?.message.contains("does not exist") == true, "\(String(describing: noFolder))")
        let same = try await check { $0["metrics"] = ["listen": "127.0.0.1:\(port)"] }
        XCTAssertEqual(same?.key, "metrics.listen")
        XCTAssertTrue(same?.message.contains("also the peer port") == true, "\(String(describing: same))")
        XCTAssertTrue(NodeConfiguration.overlap(NodeConfiguration.Address("0.0.0.0:7443")!, NodeConfiguration.Address("127.0.0.1:7443")!))
        XCTAssertFalse(NodeConfiguration.overlap(NodeConfiguration.Address("127.0.0.1:7443")!, NodeConfiguration.Address("127.0.0.1:9464")!))

        let holder = try XCTUnwrap(LoopbackTCP.listen(port: port), "hold the port")
        defer { close(holder) }
        let busy = try await check { _ in }
        XCTAssertEqual(busy?.key, "listen")
        XCTAssertTrue(busy?.message.contains("127.0.0.1:\(port)") == true && busy?.message.contains("in use") == true, "\(String(describing: busy))")
    }
}
